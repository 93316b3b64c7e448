//! Location pings and time-space companions (时空伴随, PROTOCOL.md §2): people who shared a
//! grid cell with a case for more than N minutes, where either of them spent more than H
//! hours in that cell over the last D days.
//!
//! A ping places a person in its cell from its time until their next ping (in any cell), but
//! for at most the policy's `companion_ping_gap_minutes`. Cells are ids the caller computed
//! with [`companion_cell`] for the policy's `companion_cell_metres` (or any other grid: the
//! synthetic city's grid cells are already about 800 m).

use crate::columns::{Columns, Row, split_time};
use crate::contact::Case;
use crate::presence::{Interval, clip, overlap};
use std::collections::BTreeMap;
use xikang_domain::policy::TracingPolicy;
use xikang_domain::time::DAY;
use xikang_domain::{CivilDay, GridCell, PersonId, Timestamp};

/// A phone's position report: who, when, in which grid cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Ping {
    pub person: PersonId,
    pub at: Timestamp,
    pub cell: GridCell,
}

/// Location pings by person and by cell, with the same layout and memory care as
/// [`crate::TraceIndex`] (≤ 24 bytes a ping); `Clone` is a cheap snapshot.
#[derive(Debug, Clone, Default)]
pub struct PingIndex {
    columns: Columns,
}

impl PingIndex {
    /// An empty index.
    pub fn new() -> PingIndex {
        PingIndex::default()
    }

    /// Adds pings in any order; duplicates are kept once.
    pub fn append(&mut self, pings: &[Ping]) {
        self.columns.append(pings.iter().map(|p| {
            let (day, sec) = split_time(p.at.0);
            (
                day,
                Row {
                    a: p.person.0,
                    b: p.cell.0,
                    td: sec << 1,
                },
            )
        }));
    }

    /// Forgets every ping of an Asia/Shanghai day before `day`.
    pub fn drop_days_before(&mut self, day: CivilDay) {
        self.columns.drop_days_before(day.0);
    }

    /// A read-only view later appends do not change.
    pub fn snapshot(&self) -> PingIndex {
        self.clone()
    }

    /// Distinct pings held.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether no ping is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held.
    pub fn heap_bytes(&self) -> usize {
        self.columns.heap_bytes()
    }

    /// `person`'s time in each cell from pings in `[from, to]` (plus what is needed to end
    /// them), merged and sorted, keyed by cell.
    fn cells_of(
        &self,
        person: u32,
        from: i64,
        to: i64,
        gap: i64,
    ) -> BTreeMap<u32, Vec<(i64, i64)>> {
        let mut pings: Vec<(i64, u32)> = Vec::new();
        self.columns.visit_a(
            person,
            from.saturating_sub(gap),
            to.saturating_add(gap),
            |cell, at, _| pings.push((at, cell)),
        );
        pings.sort_unstable();
        pings.dedup();
        let mut out: BTreeMap<u32, Vec<(i64, i64)>> = BTreeMap::new();
        for (i, &(at, cell)) in pings.iter().enumerate() {
            let next = pings.get(i + 1).map_or(at + gap, |n| n.0);
            let end = next.min(at + gap);
            if end > at {
                out.entry(cell).or_default().push((at, end));
            }
        }
        for v in out.values_mut() {
            merge(v);
        }
        out
    }
}

fn merge(v: &mut Vec<(i64, i64)>) {
    v.sort_unstable();
    let mut w = 0;
    for r in 0..v.len() {
        if w > 0 && v[r].0 <= v[w - 1].1 {
            v[w - 1].1 = v[w - 1].1.max(v[r].1);
        } else {
            v[w] = v[r];
            w += 1;
        }
    }
    v.truncate(w);
}

fn total(v: &[(i64, i64)]) -> i64 {
    v.iter().map(|iv| iv.1 - iv.0).sum()
}

/// One cell a companion shared with the case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompanionCell {
    pub cell: GridCell,
    /// Seconds both were in the cell inside the case's exposure window.
    pub overlap_secs: i64,
    /// Seconds the case and the companion spent in the cell over the last
    /// `companion_cell_days` before the window's end.
    pub case_secs_in_cell: i64,
    pub companion_secs_in_cell: i64,
    pub first: Timestamp,
    pub last: Timestamp,
    /// The case's and the companion's time in the cell inside the exposure window (the
    /// evidence a tracer reads).
    pub case_presence: Vec<Interval>,
    pub companion_presence: Vec<Interval>,
}

fn intervals(v: &[(i64, i64)]) -> Vec<Interval> {
    v.iter()
        .map(|&(start, end)| Interval {
            start: Timestamp(start),
            end: Timestamp(end),
        })
        .collect()
}

/// A time-space companion: one record per person, every qualifying cell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Companion {
    pub person: PersonId,
    pub first_exposure: Timestamp,
    pub last_exposure: Timestamp,
    /// Sorted by cell.
    pub cells: Vec<CompanionCell>,
}

/// The companions of `case` over its exposure window (`now` ends it while not isolated).
pub fn companions(
    pings: &PingIndex,
    policy: &TracingPolicy,
    case: &Case,
    now: Timestamp,
) -> Vec<Companion> {
    let window = case.exposure_window(policy.exposure_window_days, now);
    let (lo, hi) = (window.start.0, window.end.0);
    if hi <= lo {
        return Vec::new();
    }
    let gap = i64::from(policy.companion_ping_gap_minutes) * 60;
    let min_overlap = i64::from(policy.companion_minutes) * 60;
    let min_in_cell = i64::from(policy.companion_cell_hours) * 3_600;
    let since = hi.saturating_sub(i64::from(policy.companion_cell_days) * DAY);
    let earliest = lo.min(since);
    let me = case.person.0;
    let case_cells = pings.cells_of(me, earliest, hi, gap);
    let mut found: BTreeMap<u32, Vec<CompanionCell>> = BTreeMap::new();
    let mut candidates: Vec<(u32, i64)> = Vec::new();
    for (&cell, all) in &case_cells {
        let mut in_window = all.clone();
        clip(&mut in_window, lo, hi);
        let (Some(first), Some(last)) = (in_window.first(), in_window.last()) else {
            continue;
        };
        let mut recent = all.clone();
        clip(&mut recent, since, hi);
        let case_secs = total(&recent);
        // Candidates: anyone pinging in this cell while the case was there. A ping's reach
        // without looking at the person's next ping ([t, t + gap)) bounds their real
        // presence from above, so it safely filters before the exact per-person look.
        candidates.clear();
        pings
            .columns
            .visit_b(cell, first.0.saturating_sub(gap), last.1, |p, at, _| {
                candidates.push((p, at))
            });
        candidates.sort_unstable();
        candidates.dedup();
        for run in candidates.chunk_by(|x, y| x.0 == y.0) {
            let person = run[0].0;
            if person == me {
                continue;
            }
            let mut rough: Vec<(i64, i64)> = run.iter().map(|&(_, at)| (at, at + gap)).collect();
            merge(&mut rough);
            if overlap(&in_window, &rough).secs <= min_overlap {
                continue;
            }
            let theirs = pings.cells_of(person, earliest, hi, gap);
            let Some(their) = theirs.get(&cell) else {
                continue;
            };
            let o = overlap(&in_window, their);
            if o.secs <= min_overlap {
                continue;
            }
            let mut their_recent = their.clone();
            clip(&mut their_recent, since, hi);
            let their_secs = total(&their_recent);
            if case_secs > min_in_cell || their_secs > min_in_cell {
                let mut their_window = their.clone();
                clip(&mut their_window, lo, hi);
                found.entry(person).or_default().push(CompanionCell {
                    cell: GridCell(cell),
                    overlap_secs: o.secs,
                    case_secs_in_cell: case_secs,
                    companion_secs_in_cell: their_secs,
                    first: Timestamp(o.first),
                    last: Timestamp(o.last),
                    case_presence: intervals(&in_window),
                    companion_presence: intervals(&their_window),
                });
            }
        }
    }
    found
        .into_iter()
        .map(|(p, cells)| Companion {
            person: PersonId(p),
            first_exposure: cells.iter().map(|c| c.first).min().unwrap_or(Timestamp(0)),
            last_exposure: cells.iter().map(|c| c.last).max().unwrap_or(Timestamp(0)),
            cells,
        })
        .collect()
}
