//! A line diff for comparing policy files, on the `similar` crate (Myers' algorithm): the
//! whole diff, or hunks with a few lines of context.

use similar::{DiffOp, DiffTag, TextDiff};

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

/// Unchanged lines kept around each change.
pub const CONTEXT: usize = 3;

/// Every line of both texts in order: unchanged, removed or added (removals before
/// additions where a line was replaced).
pub fn diff<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let (a, b) = (
        old.lines().collect::<Vec<_>>(),
        new.lines().collect::<Vec<_>>(),
    );
    let mut out = Vec::with_capacity(a.len().max(b.len()));
    push_ops(TextDiff::from_lines(old, new).ops(), &a, &b, &mut out);
    out
}

/// The diff with unchanged runs farther than [`CONTEXT`] lines from a change replaced by
/// [`Line::Skipped`]. Identical texts give one `Skipped` (or nothing when empty).
pub fn hunks<'a>(old: &'a str, new: &'a str) -> Vec<Line<'a>> {
    let (a, b) = (
        old.lines().collect::<Vec<_>>(),
        new.lines().collect::<Vec<_>>(),
    );
    let mut out = Vec::new();
    let mut shown = 0; // old lines shown or skipped so far
    for group in TextDiff::from_lines(old, new).grouped_ops(CONTEXT) {
        let (Some(first), Some(last)) = (group.first(), group.last()) else {
            continue;
        };
        if first.old_range().start > shown {
            out.push(Line::Skipped(first.old_range().start - shown));
        }
        push_ops(&group, &a, &b, &mut out);
        shown = last.old_range().end;
    }
    if a.len() > shown {
        out.push(Line::Skipped(a.len() - shown));
    }
    out
}

fn push_ops<'a>(ops: &[DiffOp], a: &[&'a str], b: &[&'a str], out: &mut Vec<Line<'a>>) {
    for op in ops {
        let (tag, old, new) = op.as_tag_tuple();
        if tag == DiffTag::Equal {
            out.extend(old.zip(new).map(|(i, j)| Line::Same(i + 1, j + 1, a[i])));
            continue;
        }
        out.extend(old.map(|i| Line::Removed(i + 1, a[i])));
        out.extend(new.map(|j| Line::Added(j + 1, b[j])));
    }
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
        let d = diff(old, new);
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
            let d = diff(old, new);
            assert_eq!(
                sides(&d),
                (old.to_owned(), new.to_owned()),
                "{old:?} → {new:?}"
            );
        }
        let same = diff("a\nb\nc\nd\n", "b\nc\nd\ne\n");
        assert_eq!(
            same.iter().filter(|l| matches!(l, Line::Same(..))).count(),
            3
        );
    }

    #[test]
    fn far_unchanged_lines_collapse_into_a_count() {
        let old: String = (1..=20).map(|i| format!("line {i}\n")).collect();
        let new = old.replace("line 10\n", "line ten\n");
        let h = hunks(&old, &new);
        assert_eq!(h.first(), Some(&Line::Skipped(6)));
        assert_eq!(h.last(), Some(&Line::Skipped(7)));
        assert!(h.contains(&Line::Same(7, 7, "line 7")));
        assert!(!h.contains(&Line::Same(6, 6, "line 6")));
        assert_eq!(hunks(&old, &old), vec![Line::Skipped(20)]);
        assert_eq!(hunks("", ""), vec![]);
    }
}
