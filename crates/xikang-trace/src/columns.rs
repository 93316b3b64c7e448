//! The storage both indexes share: rows `(a, b, second, flag)` — (person, venue, time,
//! direction) for check-ins, (person, cell, time) for pings — partitioned by Asia/Shanghai
//! day, each day a few immutable sorted segments plus a small unsorted tail.
//!
//! A segment holds every row twice, sorted by `(a, time)` and by `(b, time)`, each copy a
//! packed `u64` (`second_of_day << 1 | flag` in the high half, the other id in the low half)
//! behind sparse CSR offsets (distinct keys and their start offsets). That is 16 bytes per
//! row plus 8 bytes per distinct key and segment; at 5–6 check-ins per person and day the
//! keys add about 1.5 bytes per row. Segments are shared (`Arc`), so a clone of the whole
//! index is cheap and a reader never blocks a writer.
//!
//! Invariant: inside a day, the segments and the tail are pairwise disjoint and hold no
//! duplicate, so [`Columns::len`] is the number of distinct rows.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use xikang_domain::time::{DAY, SHANGHAI_OFFSET_SECS};

/// One row, with the time as `second_of_day << 1 | flag` (`td`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Row {
    pub(crate) a: u32,
    pub(crate) b: u32,
    pub(crate) td: u32,
}

/// The Asia/Shanghai day number of an instant and the second inside that day.
pub(crate) fn split_time(at: i64) -> (i32, u32) {
    let local = at.saturating_add(SHANGHAI_OFFSET_SECS);
    // Days since 1970 fit an i32 for ±5 million years; an absurd instant is clamped to a
    // day no check-in can have (monotonic, so a range stays a range). Seconds of day < 86 400.
    let day = local
        .div_euclid(DAY)
        .clamp(i64::from(i32::MIN), i64::from(i32::MAX)) as i32;
    (day, local.rem_euclid(DAY) as u32)
}

/// The instant a day starts.
pub(crate) fn day_start(day: i32) -> i64 {
    i64::from(day) * DAY - SHANGHAI_OFFSET_SECS
}

fn pack(td: u32, other: u32) -> u64 {
    (u64::from(td) << 32) | u64::from(other)
}

/// A tail this large is sealed into a segment. Small enough that a copy-on-write of the
/// tail (when a snapshot holds it) is cheap, large enough that live scans seal rarely.
const TAIL_MAX: usize = 8_192;
/// A day with more segments than this has its newest ones merged regardless of size
/// (segments over [`MERGE_CAP`] aside).
const MAX_SEGMENTS: usize = 12;
/// Live appends never merge two segments into one of more rows than this: a merge sorts
/// its rows again, and a server appending scans must not spend seconds of a core on one
/// (a day of 5 M scans then holds a few segments of about this size, plus the small ones).
const MERGE_CAP: usize = 1 << 20;

/// Rows sorted by one key, with sparse CSR offsets.
#[derive(Debug, Default)]
struct Side {
    keys: Box<[u32]>,
    /// `offs[i]..offs[i + 1]` are the rows of `keys[i]`; one more entry than `keys`.
    offs: Box<[u32]>,
    rows: Box<[u64]>,
}

impl Side {
    /// Builds the side of `rows` keyed by `key`, dropping duplicates. A counting sort on
    /// the key when keys are dense enough, a comparison sort otherwise (small live segments
    /// over a large id range).
    fn build(rows: &[Row], key: impl Fn(&Row) -> u32, packed: impl Fn(&Row) -> u64) -> Side {
        let Some(min) = rows.iter().map(&key).min() else {
            return Side::default();
        };
        let max = rows.iter().map(&key).max().unwrap_or(min);
        let range = (max - min) as usize + 1;
        let mut keys = Vec::new();
        let mut offs = vec![0u32];
        let mut out: Vec<u64> = Vec::with_capacity(rows.len());
        if range <= 4 * rows.len() + 1_024 {
            let mut start = vec![0u32; range + 1];
            for r in rows {
                start[(key(r) - min) as usize + 1] += 1;
            }
            for i in 1..start.len() {
                start[i] += start[i - 1];
            }
            let mut scattered = vec![0u64; rows.len()];
            let mut cursor = start.clone();
            for r in rows {
                let slot = &mut cursor[(key(r) - min) as usize];
                scattered[*slot as usize] = packed(r);
                *slot += 1;
            }
            for k in 0..range {
                let slice = &mut scattered[start[k] as usize..start[k + 1] as usize];
                if slice.is_empty() {
                    continue;
                }
                slice.sort_unstable();
                let before = out.len();
                for &p in slice.iter() {
                    if out.len() == before || out.last() != Some(&p) {
                        out.push(p);
                    }
                }
                keys.push(min + k as u32);
                offs.push(out.len() as u32);
            }
        } else {
            let mut pairs: Vec<(u32, u64)> = rows.iter().map(|r| (key(r), packed(r))).collect();
            pairs.sort_unstable();
            pairs.dedup();
            for (k, p) in pairs {
                if keys.last() != Some(&k) {
                    if !keys.is_empty() {
                        offs.push(out.len() as u32);
                    }
                    keys.push(k);
                }
                out.push(p);
            }
            offs.push(out.len() as u32);
        }
        Side {
            keys: keys.into_boxed_slice(),
            offs: offs.into_boxed_slice(),
            rows: out.into_boxed_slice(),
        }
    }

    fn slice(&self, key: u32) -> &[u64] {
        match self.keys.binary_search(&key) {
            Ok(i) => &self.rows[self.offs[i] as usize..self.offs[i + 1] as usize],
            Err(_) => &[],
        }
    }

    /// Rows of `key` with `lo <= td <= hi`.
    fn range(&self, key: u32, lo: u32, hi: u32) -> &[u64] {
        let s = self.slice(key);
        let from = s.partition_point(|&p| ((p >> 32) as u32) < lo);
        let to = s.partition_point(|&p| ((p >> 32) as u32) <= hi);
        &s[from..to.max(from)]
    }

    fn bytes(&self) -> usize {
        self.keys.len() * 4 + self.offs.len() * 4 + self.rows.len() * 8
    }

    /// Every row, keyed `(key, packed)`.
    fn each(&self, mut f: impl FnMut(u32, u64)) {
        for (i, &k) in self.keys.iter().enumerate() {
            for &p in &self.rows[self.offs[i] as usize..self.offs[i + 1] as usize] {
                f(k, p);
            }
        }
    }
}

/// An immutable sorted run of one day's rows.
#[derive(Debug)]
struct Segment {
    by_a: Side,
    by_b: Side,
}

impl Segment {
    fn build(rows: &[Row]) -> Segment {
        let side_a = || Side::build(rows, |r| r.a, |r| pack(r.td, r.b));
        let side_b = || Side::build(rows, |r| r.b, |r| pack(r.td, r.a));
        // The two sorts are independent: on a large run, one per core.
        if rows.len() >= 200_000 {
            std::thread::scope(|s| {
                let a = s.spawn(side_a);
                let by_b = side_b();
                let by_a = match a.join() {
                    Ok(side) => side,
                    Err(panic) => std::panic::resume_unwind(panic),
                };
                Segment { by_a, by_b }
            })
        } else {
            Segment {
                by_a: side_a(),
                by_b: side_b(),
            }
        }
    }

    fn len(&self) -> usize {
        self.by_a.rows.len()
    }

    fn contains(&self, r: &Row) -> bool {
        self.by_a.slice(r.a).binary_search(&pack(r.td, r.b)).is_ok()
    }

    fn rows(&self, out: &mut Vec<Row>) {
        self.by_a.each(|a, p| {
            out.push(Row {
                a,
                b: p as u32,
                td: (p >> 32) as u32,
            })
        });
    }
}

/// Rows not yet sealed into a segment, reachable by either key.
#[derive(Debug, Clone, Default)]
struct Tail {
    by_a: HashMap<u32, Vec<u64>>,
    by_b: HashMap<u32, Vec<u64>>,
    len: usize,
}

impl Tail {
    /// Adds a row unless the tail has it already.
    fn insert(&mut self, r: Row) -> bool {
        let of_a = self.by_a.entry(r.a).or_default();
        let p = pack(r.td, r.b);
        if of_a.contains(&p) {
            return false;
        }
        of_a.push(p);
        self.by_b.entry(r.b).or_default().push(pack(r.td, r.a));
        self.len += 1;
        true
    }

    fn rows(&self, out: &mut Vec<Row>) {
        for (&a, ps) in &self.by_a {
            for &p in ps {
                out.push(Row {
                    a,
                    b: p as u32,
                    td: (p >> 32) as u32,
                });
            }
        }
    }

    fn bytes(&self) -> usize {
        // Hash-table slot (key, Vec header, control byte) plus the Vec's buffer.
        let map = |m: &HashMap<u32, Vec<u64>>| {
            m.capacity() * (4 + 24 + 1) + m.values().map(|v| v.capacity() * 8).sum::<usize>()
        };
        map(&self.by_a) + map(&self.by_b)
    }
}

/// One day: sealed segments (oldest first) and the tail.
#[derive(Debug, Clone, Default)]
struct Day {
    segments: Vec<Arc<Segment>>,
    tail: Arc<Tail>,
}

impl Day {
    fn in_segments(&self, r: &Row) -> bool {
        self.segments.iter().any(|s| s.contains(r))
    }

    /// Seals `rows` (plus the tail) into a new segment; returns how many rows were new.
    fn seal(&mut self, mut rows: Vec<Row>) -> usize {
        let from_tail = self.tail.len;
        self.tail.rows(&mut rows);
        self.tail = Arc::new(Tail::default());
        if !self.segments.is_empty() {
            rows.retain(|r| !self.in_segments(r));
        }
        let segment = Segment::build(&rows);
        let added = segment.len();
        if added > 0 {
            self.segments.push(Arc::new(segment));
        }
        self.compact();
        added - from_tail
    }

    /// Merges the newest segments while the newest is at least half the size of the one
    /// before it (a binary counter: O(log n) segments, each row re-sorted O(log n) times),
    /// but never into a segment of more than [`MERGE_CAP`] rows.
    fn compact(&mut self) {
        loop {
            let n = self.segments.len();
            if n < 2 {
                return;
            }
            let (older, newer) = (&self.segments[n - 2], &self.segments[n - 1]);
            if older.len() + newer.len() > MERGE_CAP {
                return;
            }
            if older.len() > 2 * newer.len() && n <= MAX_SEGMENTS {
                return;
            }
            let mut rows = Vec::with_capacity(older.len() + newer.len());
            older.rows(&mut rows);
            newer.rows(&mut rows);
            let merged = Segment::build(&rows);
            self.segments.truncate(n - 2);
            self.segments.push(Arc::new(merged));
        }
    }

    fn bytes(&self) -> usize {
        let segments: usize = self
            .segments
            .iter()
            .map(|s| s.by_a.bytes() + s.by_b.bytes() + std::mem::size_of::<Segment>() + 16)
            .sum();
        segments
            + self.segments.capacity() * 8
            + self.tail.bytes()
            + std::mem::size_of::<Tail>()
            + 16
    }
}

/// The day-partitioned row store. `Clone` shares every segment.
#[derive(Debug, Clone)]
pub(crate) struct Columns {
    days: BTreeMap<i32, Day>,
    len: usize,
    tail_max: usize,
}

impl Default for Columns {
    fn default() -> Columns {
        Columns::with_tail_limit(TAIL_MAX)
    }
}

impl Columns {
    /// An empty store whose tails are sealed at `tail_max` rows (at least 1).
    pub(crate) fn with_tail_limit(tail_max: usize) -> Columns {
        Columns {
            days: BTreeMap::new(),
            len: 0,
            tail_max: tail_max.max(1),
        }
    }

    /// Adds rows in any order; rows already present are ignored.
    pub(crate) fn append(&mut self, rows: impl IntoIterator<Item = (i32, Row)>) {
        let mut by_day: BTreeMap<i32, Vec<Row>> = BTreeMap::new();
        for (day, r) in rows {
            by_day.entry(day).or_default().push(r);
        }
        for (day, rows) in by_day {
            let d = self.days.entry(day).or_default();
            if rows.len() + d.tail.len >= self.tail_max {
                // A bulk load (a whole day at start-up) or a tail that is full: straight
                // into a sorted segment.
                self.len += d.seal(rows);
                continue;
            }
            let mut added = 0;
            for r in rows {
                if !d.in_segments(&r) && Arc::make_mut(&mut d.tail).insert(r) {
                    added += 1;
                }
            }
            self.len += added;
        }
    }

    /// Forgets every day before `day`.
    pub(crate) fn drop_days_before(&mut self, day: i32) {
        self.days = self.days.split_off(&day);
        self.len = self
            .days
            .values()
            .map(|d| d.segments.iter().map(|s| s.len()).sum::<usize>() + d.tail.len)
            .sum();
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// Bytes of heap held by the rows, offsets, tails and bookkeeping.
    pub(crate) fn heap_bytes(&self) -> usize {
        // A B-tree node holds up to 11 entries of (i32, Day); count a node per 6 days.
        let tree = self.days.len().div_ceil(6) * (11 * (4 + std::mem::size_of::<Day>()) + 96);
        tree + self.days.values().map(Day::bytes).sum::<usize>()
    }

    /// Days held, oldest first.
    pub(crate) fn days(&self) -> impl Iterator<Item = i32> + '_ {
        self.days.keys().copied()
    }

    /// Calls `f(a, rows)` once for every `a` with rows on `day`, in increasing `a`, with
    /// its rows as `(at, b, flag)` sorted by time: a merge of the day's segments (each
    /// already sorted by `a`) and its tail, holding one key's rows at a time.
    pub(crate) fn each_a_of_day(&self, day: i32, mut f: impl FnMut(u32, &[(i64, u32, bool)])) {
        let Some(d) = self.days.get(&day) else {
            return;
        };
        let start = day_start(day);
        let mut tail_keys: Vec<u32> = d.tail.by_a.keys().copied().collect();
        tail_keys.sort_unstable();
        // Per segment, the position of the next key to visit; for the tail, likewise.
        let mut cursors = vec![0usize; d.segments.len()];
        let mut tail_at = 0usize;
        let mut rows: Vec<(i64, u32, bool)> = Vec::new();
        let unpack = |p: u64| {
            let td = (p >> 32) as u32;
            (start + i64::from(td >> 1), p as u32, td & 1 == 1)
        };
        loop {
            let next_in_segments = d
                .segments
                .iter()
                .zip(&cursors)
                .filter_map(|(s, &c)| s.by_a.keys.get(c).copied())
                .min();
            let key = match (next_in_segments, tail_keys.get(tail_at).copied()) {
                (None, None) => return,
                (Some(a), None) | (None, Some(a)) => a,
                (Some(a), Some(b)) => a.min(b),
            };
            rows.clear();
            for (s, c) in d.segments.iter().zip(cursors.iter_mut()) {
                if s.by_a.keys.get(*c) == Some(&key) {
                    let range = s.by_a.offs[*c] as usize..s.by_a.offs[*c + 1] as usize;
                    rows.extend(s.by_a.rows[range].iter().map(|&p| unpack(p)));
                    *c += 1;
                }
            }
            if tail_keys.get(tail_at) == Some(&key) {
                if let Some(ps) = d.tail.by_a.get(&key) {
                    rows.extend(ps.iter().map(|&p| unpack(p)));
                }
                tail_at += 1;
            }
            rows.sort_unstable();
            f(key, &rows);
        }
    }

    /// Calls `f(b, at, flag)` for every row of `a` with `from <= at <= to`, in no
    /// particular order.
    pub(crate) fn visit_a(&self, a: u32, from: i64, to: i64, f: impl FnMut(u32, i64, bool)) {
        self.visit(a, from, to, true, f);
    }

    /// Calls `f(a, at, flag)` for every row of `b` with `from <= at <= to`.
    pub(crate) fn visit_b(&self, b: u32, from: i64, to: i64, f: impl FnMut(u32, i64, bool)) {
        self.visit(b, from, to, false, f);
    }

    fn visit(&self, key: u32, from: i64, to: i64, by_a: bool, mut f: impl FnMut(u32, i64, bool)) {
        if from > to {
            return;
        }
        let (first_day, first_sec) = split_time(from);
        let (last_day, last_sec) = split_time(to);
        for (&day, d) in self.days.range(first_day..=last_day) {
            let lo = if day == first_day { first_sec << 1 } else { 0 };
            let hi = if day == last_day {
                (last_sec << 1) | 1
            } else {
                u32::MAX
            };
            let start = day_start(day);
            let mut emit = |p: u64| {
                let td = (p >> 32) as u32;
                f(p as u32, start + i64::from(td >> 1), td & 1 == 1);
            };
            for s in &d.segments {
                let side = if by_a { &s.by_a } else { &s.by_b };
                side.range(key, lo, hi).iter().copied().for_each(&mut emit);
            }
            let tail = if by_a { &d.tail.by_a } else { &d.tail.by_b };
            if let Some(ps) = tail.get(&key) {
                for &p in ps {
                    let td = (p >> 32) as u32;
                    if (lo..=hi).contains(&td) {
                        emit(p);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(a: u32, b: u32, sec: u32, flag: bool) -> Row {
        Row {
            a,
            b,
            td: (sec << 1) | u32::from(flag),
        }
    }

    fn collect_a(c: &Columns, a: u32) -> Vec<(u32, i64, bool)> {
        let mut v = Vec::new();
        c.visit_a(a, i64::MIN / 4, i64::MAX / 4, |b, t, f| v.push((b, t, f)));
        v.sort_unstable();
        v
    }

    #[test]
    fn both_build_paths_give_the_same_side() {
        // Dense keys take the counting sort, sparse keys the comparison sort.
        let dense: Vec<Row> = (0..5_000).map(|i| row(i % 100, i, i, false)).collect();
        let sparse: Vec<Row> = dense
            .iter()
            .map(|r| Row {
                a: r.a * 1_000_000,
                ..*r
            })
            .collect();
        let d = Side::build(&dense, |r| r.a, |r| pack(r.td, r.b));
        let s = Side::build(&sparse, |r| r.a, |r| pack(r.td, r.b));
        assert_eq!(d.rows, s.rows);
        assert_eq!(d.offs, s.offs);
        assert_eq!(d.keys.len(), 100);
        assert_eq!(s.keys[7], 7_000_000);
    }

    #[test]
    fn duplicates_are_kept_once_in_tail_segments_and_across_them() {
        let mut c = Columns::default();
        c.append([(0, row(1, 2, 100, false)), (0, row(1, 2, 100, false))]);
        assert_eq!(c.len(), 1);
        // A bulk batch that repeats the tail's row and a row twice.
        let mut bulk: Vec<(i32, Row)> = (0..TAIL_MAX as u32)
            .map(|i| (0, row(i, 3, i, false)))
            .collect();
        bulk.push((0, row(1, 2, 100, false)));
        bulk.push((0, row(5, 3, 5, false)));
        c.append(bulk);
        assert_eq!(c.len(), TAIL_MAX + 1);
        // Again, now against a sealed segment, live and bulk.
        c.append([(0, row(1, 2, 100, false))]);
        assert_eq!(c.len(), TAIL_MAX + 1);
        assert_eq!(collect_a(&c, 1).len(), 2);
    }

    #[test]
    fn many_small_seals_stay_few_segments_and_lose_nothing() {
        let mut c = Columns::with_tail_limit(256);
        let n = 200 * 256;
        for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
            c.append(
                chunk
                    .iter()
                    .map(|&i| (0, row(i % 997, i % 13, i % 86_400, i % 2 == 0))),
            );
        }
        let d = &c.days[&0];
        assert!(d.segments.len() <= MAX_SEGMENTS, "{}", d.segments.len());
        let mut all: Vec<Row> = (0..n)
            .map(|i| row(i % 997, i % 13, i % 86_400, i % 2 == 0))
            .collect();
        all.sort_unstable();
        all.dedup();
        assert_eq!(c.len(), all.len());
        let mut seen = 0;
        for a in 0..997 {
            seen += collect_a(&c, a).len();
        }
        assert_eq!(seen, all.len());
    }

    #[test]
    fn a_visit_honours_both_borders_across_days() {
        let mut c = Columns::default();
        let t0 = day_start(100) + 86_399;
        let t1 = day_start(101);
        for (i, t) in [t0, t1].into_iter().enumerate() {
            let (day, sec) = split_time(t);
            c.append([(day, row(7, i as u32, sec, false))]);
        }
        let mut got = Vec::new();
        c.visit_a(7, t0, t1, |b, t, _| got.push((b, t)));
        got.sort_unstable();
        assert_eq!(got, vec![(0, t0), (1, t1)]);
        got.clear();
        c.visit_a(7, t0 + 1, t1, |b, t, _| got.push((b, t)));
        assert_eq!(got, vec![(1, t1)]);
        got.clear();
        c.visit_b(1, t0, t1 - 1, |a, t, _| got.push((a, t)));
        assert!(got.is_empty());
    }

    #[test]
    fn a_clone_is_a_snapshot_that_later_appends_do_not_change() {
        let mut c = Columns::default();
        c.append((0..20_000u32).map(|i| (0, row(i, 1, i % 86_400, false))));
        c.append([(0, row(1, 9, 5, false))]);
        let snap = c.clone();
        c.append([(0, row(2, 9, 6, false))]);
        c.append((0..20_000u32).map(|i| (1, row(i, 1, 7, false))));
        assert_eq!(snap.len(), 20_001);
        assert_eq!(c.len(), 40_002);
        assert_eq!(collect_a(&snap, 2).len(), 1);
        assert_eq!(collect_a(&c, 2).len(), 3);
    }

    #[test]
    fn dropping_days_forgets_their_rows() {
        let mut c = Columns::default();
        c.append([(3, row(1, 1, 1, false)), (4, row(1, 1, 1, false))]);
        c.drop_days_before(4);
        assert_eq!(c.len(), 1);
        assert_eq!(c.days().collect::<Vec<_>>(), vec![4]);
    }
}
