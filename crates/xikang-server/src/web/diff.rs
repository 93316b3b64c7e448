//! A line diff of our own for comparing policy files (a few hundred lines each): the longest
//! common subsequence of lines by dynamic programming, then hunks with a few lines of
//! context. Quadratic in time and memory, which is nothing at this size; [`MAX_CELLS`]
//! refuses inputs where it would not be (a diff crate would bring Myers' algorithm, which we
//! do not need for files people write by hand).

/// One line of a diff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Line<'a> {
    /// In both; line numbers in the old and the new text (from 1).
    Same(usize, usize, &'a str),
    /// Only in the old text.
    Removed(usize, &'a str),
    /// Only in the new text.
    Added(usize, &'a str),
    /// This many unchanged lines left out between hunks.
    Skipped(usize),
}

/// The most `old lines × new lines` we compare (a 2,000-line file against another).
pub const MAX_CELLS: usize = 4_000_000;

/// Unchanged lines kept around each change.
pub const CONTEXT: usize = 3;

/// Too large to compare.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooLarge;

/// Every line of both texts in order: unchanged, removed or added (removals before
/// additions where a line was replaced).
pub fn diff<'a>(old: &'a str, new: &'a str) -> Result<Vec<Line<'a>>, TooLarge> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let (n, m) = (a.len(), b.len());
    if n.saturating_mul(m) > MAX_CELLS {
        return Err(TooLarge);
    }
    // lcs[i][j]: the longest common subsequence of a[i..] and b[j..].
    let w = m + 1;
    let mut lcs = vec![0u32; (n + 1) * w];
    for i in (0..n).rev() {
        for j in (0..m).rev() {
            lcs[i * w + j] = if a[i] == b[j] {
                lcs[(i + 1) * w + j + 1] + 1
            } else {
                lcs[(i + 1) * w + j].max(lcs[i * w + j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(n.max(m));
    while i < n || j < m {
        if i < n && j < m && a[i] == b[j] {
            out.push(Line::Same(i + 1, j + 1, a[i]));
            i += 1;
            j += 1;
        } else if i < n && (j == m || lcs[(i + 1) * w + j] >= lcs[i * w + j + 1]) {
            out.push(Line::Removed(i + 1, a[i]));
            i += 1;
        } else {
            out.push(Line::Added(j + 1, b[j]));
            j += 1;
        }
    }
    Ok(out)
}

/// The diff with unchanged runs farther than [`CONTEXT`] lines from a change replaced by
/// [`Line::Skipped`]. Identical texts give one `Skipped` (or nothing when empty).
pub fn hunks(lines: Vec<Line<'_>>) -> Vec<Line<'_>> {
    let changed: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| !matches!(l, Line::Same(..)))
        .map(|(k, _)| k)
        .collect();
    let near = |k: usize| {
        // The nearest change at or after k, and at or before k.
        let at = changed.partition_point(|&c| c < k);
        let after = changed.get(at).is_some_and(|&c| c - k <= CONTEXT);
        let before = at > 0 && k - changed[at - 1] <= CONTEXT;
        after || before
    };
    let mut out = Vec::new();
    let mut skipped = 0;
    for (k, l) in lines.into_iter().enumerate() {
        if matches!(l, Line::Same(..)) && !near(k) {
            skipped += 1;
            continue;
        }
        if skipped > 0 {
            out.push(Line::Skipped(skipped));
            skipped = 0;
        }
        out.push(l);
    }
    if skipped > 0 {
        out.push(Line::Skipped(skipped));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The old text back from the diff (unchanged and removed lines), and the new one.
    fn sides(d: &[Line<'_>]) -> (String, String) {
        let (mut a, mut b) = (String::new(), String::new());
        for l in d {
            match l {
                Line::Same(_, _, t) => {
                    a.push_str(t);
                    a.push('\n');
                    b.push_str(t);
                    b.push('\n');
                }
                Line::Removed(_, t) => {
                    a.push_str(t);
                    a.push('\n');
                }
                Line::Added(_, t) => {
                    b.push_str(t);
                    b.push('\n');
                }
                Line::Skipped(_) => {}
            }
        }
        (a, b)
    }

    #[test]
    fn a_changed_value_is_one_line_removed_and_one_added_with_numbers_of_each_side() {
        let old = "version = \"a\"\n[parameters]\ndays = 7\nhome = 3\n";
        let new = "version = \"b\"\n[parameters]\ndays = 5\nhome = 3\nextra = 1\n";
        let d = diff(old, new).unwrap();
        assert_eq!(
            d,
            vec![
                Line::Removed(1, "version = \"a\""),
                Line::Added(1, "version = \"b\""),
                Line::Same(2, 2, "[parameters]"),
                Line::Removed(3, "days = 7"),
                Line::Added(3, "days = 5"),
                Line::Same(4, 4, "home = 3"),
                Line::Added(5, "extra = 1"),
            ]
        );
    }

    #[test]
    fn the_diff_rebuilds_both_texts_and_keeps_a_longest_common_part() {
        let cases = [
            ("", ""),
            ("a\nb\nc\n", ""),
            ("", "x\ny\n"),
            ("a\nb\nc\nd\n", "b\nc\nd\ne\n"),
            ("a\nx\nb\nx\nc\n", "x\na\nx\nb\nc\n"),
        ];
        for (old, new) in cases {
            let d = diff(old, new).unwrap();
            assert_eq!(
                sides(&d),
                (old.to_owned(), new.to_owned()),
                "{old:?} → {new:?}"
            );
        }
        let same = diff("a\nb\nc\nd\n", "b\nc\nd\ne\n").unwrap();
        assert_eq!(
            same.iter().filter(|l| matches!(l, Line::Same(..))).count(),
            3
        );
    }

    #[test]
    fn far_unchanged_lines_collapse_into_a_count_and_huge_inputs_are_refused() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\n");
        let h = hunks(diff(&old, &new).unwrap());
        assert_eq!(h.first(), Some(&Line::Skipped(6)));
        assert_eq!(h.last(), Some(&Line::Skipped(7)));
        assert!(h.contains(&Line::Same(7, 7, "line 7")));
        assert!(!h.contains(&Line::Same(6, 6, "line 6")));
        assert_eq!(hunks(diff(&old, &old).unwrap()), vec![Line::Skipped(20)]);
        let big = "x\n".repeat(2_001);
        assert_eq!(diff(&big, &big), Err(TooLarge));
    }
}
