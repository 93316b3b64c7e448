//! Presence: turning one person's scans at one place into time intervals, and measuring how
//! two sets of intervals overlap.
//!
//! A person is at a venue from an entry scan until their next exit scan there, if that exit
//! comes within [`MAX_STAY`] and before another entry there; otherwise until the entry plus
//! the venue's dwell time. An exit scan no entry claims means presence from the dwell time
//! before it until it.
//!
//! A venue whose category has a dwell time of 0 gives no presence at all, not even between
//! an entry and an exit scan: such scans record passing a gate (the shipped policies use 0
//! for residential compounds, where an evening entry and the next morning's exit would
//! otherwise put a whole compound "at the gate" together overnight). People who live
//! together are found by the household rule instead.

use crate::index::Scan;
use xikang_domain::Timestamp;

/// An exit scan more than this long after an entry is not taken as the end of that visit
/// (a forgotten exit scan, then a scan out days later).
pub const MAX_STAY: i64 = 24 * 3_600;

/// A stretch of time, `start` included, `end` excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: Timestamp,
    pub end: Timestamp,
}

impl Interval {
    pub(crate) fn of(iv: (i64, i64)) -> Interval {
        Interval {
            start: Timestamp(iv.0),
            end: Timestamp(iv.1),
        }
    }

    /// Length in seconds.
    pub fn secs(&self) -> i64 {
        self.end.0 - self.start.0
    }
}

/// Appends the presence intervals that `scans` (one person at one venue, sorted by time with
/// entries before exits in the same second) give, merged and non-empty, sorted.
pub(crate) fn presence(scans: &[Scan], dwell: i64, out: &mut Vec<(i64, i64)>) {
    if dwell <= 0 {
        return;
    }
    let first = out.len();
    let mut open: Option<i64> = None;
    for s in scans {
        if s.exit {
            match open.take() {
                Some(entry) if s.at - entry <= MAX_STAY => out.push((entry, s.at)),
                Some(entry) => {
                    out.push((entry, entry + dwell));
                    out.push((s.at - dwell, s.at));
                }
                None => out.push((s.at - dwell, s.at)),
            }
        } else {
            if let Some(entry) = open {
                out.push((entry, entry + dwell));
            }
            open = Some(s.at);
        }
    }
    if let Some(entry) = open {
        out.push((entry, entry + dwell));
    }
    normalize(out, first);
}

/// Sorts, drops empty intervals and merges overlapping or touching ones in `v[from..]`.
fn normalize(v: &mut Vec<(i64, i64)>, from: usize) {
    v[from..].sort_unstable();
    let mut w = from;
    for r in from..v.len() {
        let (s, e) = v[r];
        if e <= s {
            continue;
        }
        if w > from && s <= v[w - 1].1 {
            v[w - 1].1 = v[w - 1].1.max(e);
        } else {
            v[w] = (s, e);
            w += 1;
        }
    }
    v.truncate(w);
}

/// Cuts sorted disjoint intervals to `[lo, hi)`, dropping what falls outside.
pub(crate) fn clip(v: &mut Vec<(i64, i64)>, lo: i64, hi: i64) {
    v.retain_mut(|iv| {
        iv.0 = iv.0.max(lo);
        iv.1 = iv.1.min(hi);
        iv.0 < iv.1
    });
}

/// How two sorted, disjoint interval lists overlap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Overlap {
    pub(crate) secs: i64,
    pub(crate) first: i64,
    pub(crate) last: i64,
}

/// Total length of the intersection of `a` and `b`, and where it starts and ends.
pub(crate) fn overlap(a: &[(i64, i64)], b: &[(i64, i64)]) -> Overlap {
    let (mut i, mut j) = (0, 0);
    let mut o = Overlap::default();
    while i < a.len() && j < b.len() {
        let s = a[i].0.max(b[j].0);
        let e = a[i].1.min(b[j].1);
        if s < e {
            if o.secs == 0 {
                o.first = s;
            }
            o.secs += e - s;
            o.last = e;
        }
        if a[i].1 < b[j].1 {
            i += 1;
        } else {
            j += 1;
        }
    }
    o
}

/// The intervals of `a` that overlap some interval of `b`.
pub(crate) fn touching(a: &[(i64, i64)], b: &[(i64, i64)]) -> Vec<Interval> {
    a.iter()
        .filter(|x| b.iter().any(|y| x.0.max(y.0) < x.1.min(y.1)))
        .map(|&x| Interval::of(x))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(at: i64) -> Scan {
        Scan { at, exit: false }
    }
    fn exit(at: i64) -> Scan {
        Scan { at, exit: true }
    }
    fn run(scans: &[Scan], dwell: i64) -> Vec<(i64, i64)> {
        let mut v = Vec::new();
        presence(scans, dwell, &mut v);
        v
    }

    #[test]
    fn an_exit_scan_ends_the_visit_and_without_one_the_dwell_time_does() {
        assert_eq!(run(&[entry(100), exit(400)], 60), vec![(100, 400)]);
        assert_eq!(run(&[entry(100)], 60), vec![(100, 160)]);
        // A second entry without exit in between: the first visit lasts its dwell time.
        assert_eq!(
            run(&[entry(100), entry(1_000), exit(1_200)], 60),
            vec![(100, 160), (1_000, 1_200)]
        );
    }

    #[test]
    fn a_lone_exit_scan_means_presence_for_the_dwell_time_before_it() {
        assert_eq!(run(&[exit(1_000)], 300), vec![(700, 1_000)]);
        assert_eq!(
            run(&[entry(0), exit(100), exit(1_000)], 300),
            vec![(0, 100), (700, 1_000)]
        );
    }

    #[test]
    fn an_exit_more_than_a_day_later_does_not_close_the_visit() {
        let late = MAX_STAY + 1;
        assert_eq!(
            run(&[entry(0), exit(late)], 60),
            vec![(0, 60), (late - 60, late)]
        );
        assert_eq!(run(&[entry(0), exit(MAX_STAY)], 60), vec![(0, MAX_STAY)]);
    }

    #[test]
    fn a_venue_with_no_dwell_time_gives_no_presence_even_between_entry_and_exit() {
        assert!(run(&[entry(100)], 0).is_empty());
        assert!(run(&[exit(100)], 0).is_empty());
        assert!(run(&[entry(100), exit(200)], 0).is_empty());
        assert_eq!(run(&[entry(100), exit(200)], 1), vec![(100, 200)]);
    }

    #[test]
    fn repeated_visits_merge_where_they_overlap() {
        assert_eq!(run(&[entry(0), entry(30), exit(200)], 60), vec![(0, 200)]);
    }

    #[test]
    fn overlap_adds_up_every_shared_stretch() {
        let a = [(0, 100), (200, 300)];
        let b = [(50, 250)];
        assert_eq!(
            overlap(&a, &b),
            Overlap {
                secs: 100,
                first: 50,
                last: 250
            }
        );
        assert_eq!(overlap(&a, &[(100, 200)]).secs, 0);
        let mut c = vec![(0, 100), (150, 300)];
        clip(&mut c, 50, 200);
        assert_eq!(c, vec![(50, 100), (150, 200)]);
    }
}
