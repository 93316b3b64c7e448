//! The check-in index: who was at which venue when, by person and by venue.

use crate::columns::{Columns, Row, split_time};
use xikang_domain::{CheckIn, CivilDay, PersonId, ScanDirection, Timestamp, VenueId};

/// All check-ins kept for tracing, in memory, in at most 24 bytes each (see
/// [`TraceIndex::heap_bytes`]).
///
/// Check-ins may be appended in any order (live scans, late offline uploads, a day-by-day
/// load at start-up); a check-in equal to one already held (same person, venue, second and
/// direction) is ignored. `Clone` is cheap — sealed segments are shared — so a server keeps
/// one index behind a lock for appends and hands clones ([`TraceIndex::snapshot`]) to
/// queries, which then run without the lock.
#[derive(Debug, Clone, Default)]
pub struct TraceIndex {
    columns: Columns,
}

fn direction_flag(d: ScanDirection) -> u32 {
    match d {
        ScanDirection::Entry => 0,
        ScanDirection::Exit => 1,
    }
}

fn direction_of(exit: bool) -> ScanDirection {
    if exit {
        ScanDirection::Exit
    } else {
        ScanDirection::Entry
    }
}

/// One scan as the algorithms see it: the time and whether it was an exit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Scan {
    pub(crate) at: i64,
    pub(crate) exit: bool,
}

impl TraceIndex {
    /// An empty index.
    pub fn new() -> TraceIndex {
        TraceIndex::default()
    }

    /// An empty index that seals its per-day tails at `rows` rows instead of the default
    /// 8,192: for tests that want many small segments, and for tuning.
    pub fn with_tail_limit(rows: usize) -> TraceIndex {
        TraceIndex {
            columns: Columns::with_tail_limit(rows),
        }
    }

    /// Adds check-ins, in any order. Duplicates (of each other or of check-ins already held)
    /// are kept once.
    pub fn append(&mut self, checkins: &[CheckIn]) {
        self.columns.append(checkins.iter().map(|c| {
            let (day, sec) = split_time(c.at.0);
            (
                day,
                Row {
                    a: c.person.0,
                    b: c.venue.0,
                    td: (sec << 1) | direction_flag(c.direction),
                },
            )
        }));
    }

    /// Forgets every check-in of an Asia/Shanghai day before `day` (retention).
    pub fn drop_days_before(&mut self, day: CivilDay) {
        self.columns.drop_days_before(day.0);
    }

    /// A consistent read-only view that later appends do not change; as cheap as `clone`.
    pub fn snapshot(&self) -> TraceIndex {
        self.clone()
    }

    /// Distinct check-ins held.
    pub fn len(&self) -> usize {
        self.columns.len()
    }

    /// Whether the index holds no check-in.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Heap bytes held by the index (rows, offsets, unsealed tails, bookkeeping). Divide by
    /// [`TraceIndex::len`] for bytes per check-in.
    pub fn heap_bytes(&self) -> usize {
        self.columns.heap_bytes()
    }

    /// The Asia/Shanghai days that hold check-ins, oldest first.
    pub fn days(&self) -> Vec<CivilDay> {
        self.columns.days().map(CivilDay).collect()
    }

    /// A person's check-ins with `from <= at <= to`, sorted by time (entries before exits
    /// in the same second, then by venue), each once.
    pub fn checkins_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<CheckIn> {
        let mut out = Vec::new();
        self.columns
            .visit_a(person.0, from.0, to.0, |venue, at, exit| {
                out.push(CheckIn {
                    person,
                    venue: VenueId(venue),
                    at: Timestamp(at),
                    direction: direction_of(exit),
                })
            });
        out.sort_unstable_by_key(|c| (c.at, direction_flag(c.direction), c.venue));
        out
    }

    /// A venue's check-ins with `from <= at <= to`, sorted by time (entries before exits in
    /// the same second, then by person), each once.
    pub fn checkins_at_venue(
        &self,
        venue: VenueId,
        from: Timestamp,
        to: Timestamp,
    ) -> Vec<CheckIn> {
        let mut out = Vec::new();
        self.columns
            .visit_b(venue.0, from.0, to.0, |person, at, exit| {
                out.push(CheckIn {
                    person: PersonId(person),
                    venue,
                    at: Timestamp(at),
                    direction: direction_of(exit),
                })
            });
        out.sort_unstable_by_key(|c| (c.at, direction_flag(c.direction), c.person));
        out
    }

    /// Every person's scans of one Asia/Shanghai day, person by person in increasing id,
    /// each person's as `(at, venue, exit)` sorted by time.
    pub(crate) fn each_person_of_day(
        &self,
        day: CivilDay,
        f: impl FnMut(u32, &[(i64, u32, bool)]),
    ) {
        self.columns.each_a_of_day(day.0, f);
    }

    /// A person's scans in `[from, to]`, packed for a fast sort (see [`Packed`]), sorted by
    /// (venue, time, entry before exit).
    pub(crate) fn person_scans(
        &self,
        person: u32,
        from: i64,
        to: i64,
        out: &mut Vec<u64>,
    ) -> Packed {
        let packed = Packed::new(from, to);
        out.clear();
        self.columns
            .visit_a(person, packed.from, to, |venue, at, exit| {
                out.push(packed.pack(venue, at, exit))
            });
        out.sort_unstable();
        packed
    }

    /// A venue's scans in `[from, to]`, packed, sorted by (person, time, entry before exit).
    pub(crate) fn venue_scans(&self, venue: u32, from: i64, to: i64, out: &mut Vec<u64>) -> Packed {
        let packed = Packed::new(from, to);
        out.clear();
        self.columns
            .visit_b(venue, packed.from, to, |person, at, exit| {
                out.push(packed.pack(person, at, exit))
            });
        out.sort_unstable();
        packed
    }
}

/// Scans packed into one `u64` each, so that sorting them is a sort of integers: the other
/// id in the high 32 bits, then the seconds since `from` (31 bits: 68 years) and the exit flag.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Packed {
    from: i64,
}

impl Packed {
    /// A packing for `[from, to]`; a range longer than 68 years (no index holds one) is cut
    /// at its start.
    fn new(from: i64, to: i64) -> Packed {
        Packed {
            from: from.max(to.saturating_sub(i64::from(i32::MAX))),
        }
    }

    fn pack(self, key: u32, at: i64, exit: bool) -> u64 {
        (u64::from(key) << 32) | (((at - self.from) as u64) << 1) | u64::from(exit)
    }

    /// The id a packed scan is grouped by.
    pub(crate) fn key(p: u64) -> u32 {
        (p >> 32) as u32
    }

    pub(crate) fn scan(self, p: u64) -> Scan {
        Scan {
            at: self.from + ((p & 0xFFFF_FFFF) >> 1) as i64,
            exit: p & 1 == 1,
        }
    }
}
