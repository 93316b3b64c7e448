//! Location pings in the store: the [`PingStore`] trait (a supertrait of [`crate::Store`])
//! and what both dialects share. Pings are kept exactly like check-ins: one append-only
//! table `pings_YYYYMMDD` per Asia/Shanghai day, created by the store on first use with its
//! registry row in `ping_days`, read back each once, and dropped a whole day at a time by
//! retention. Positions are integer micro-degrees, so both databases store them exactly.

use crate::error::{Result, StoreError};
use crate::row::u32_of;
use xikang_domain::{CivilDay, LocationPing, PersonId, Position, Timestamp};

/// Location pings (a carrier feed, or the synthetic city), for the companion rule.
///
/// Callbacks passed to [`PingStore::for_each_ping`] run while a read is open: they must not
/// call back into the same store for writes they wait on.
pub trait PingStore {
    /// Appends pings, each to the table of its Asia/Shanghai day. Durable when the call
    /// returns. Like check-ins, a repeat of the same (person, second, position) is stored
    /// again (no unique key on the append path) and reported once by every read.
    fn insert_pings(&self, batch: &[LocationPing]) -> Result<()>;
    /// A person's pings with `from <= at <= to`, ordered by time then position, each once.
    /// Scans the day tables in range on SQLite: the server answers from its ping index.
    fn pings_of_person(
        &self,
        person: PersonId,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<LocationPing>>;
    /// The days that hold pings and how many rows each holds (repeats included), oldest
    /// first.
    fn ping_days(&self) -> Result<Vec<(CivilDay, u64)>>;
    /// Drops every day of pings strictly before `day`, whole table by whole table. Returns
    /// the days dropped, oldest first.
    fn drop_ping_days_before(&self, day: CivilDay) -> Result<Vec<CivilDay>>;
    /// Streams every stored ping in chunks, day by day (oldest first), repeats included;
    /// the order within a day is unspecified.
    fn for_each_ping(&self, f: &mut dyn FnMut(&[LocationPing])) -> Result<()>;
}

/// The name of a day's ping table, e.g. `pings_20220701`. Only ever built from a
/// `CivilDay`, so it is safe to splice into SQL.
pub(crate) fn ping_table(day: CivilDay) -> Result<String> {
    PINGS.table(day)
}

/// Pings: `pings_YYYYMMDD`, registry `ping_days`.
pub(crate) const PINGS: crate::row::DayTables = crate::row::DayTables {
    prefix: "pings",
    registry: "ping_days",
};

/// A stored row back into a ping; a value out of range is corruption, not a panic.
pub(crate) fn ping_of(person: i64, at: i64, lat: i64, lon: i64) -> Result<LocationPing> {
    let micro = |v: i64, what: &str| {
        i32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range")))
    };
    let position = Position::new(micro(lat, "latitude")?, micro(lon, "longitude")?)
        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
    Ok(LocationPing {
        person: PersonId(u32_of(person, "person id")?),
        at: Timestamp(at),
        position,
    })
}

/// The columns of a ping as stored, in table order.
pub(crate) fn ping_values(p: &LocationPing) -> [i64; 4] {
    [
        i64::from(p.person.get()),
        p.at.0,
        i64::from(p.position.lat_e6()),
        i64::from(p.position.lon_e6()),
    ]
}

/// A batch split by Asia/Shanghai day, days ascending.
pub(crate) fn by_day(batch: &[LocationPing]) -> Vec<(CivilDay, Vec<LocationPing>)> {
    let mut sorted: Vec<(CivilDay, LocationPing)> =
        batch.iter().map(|p| (p.at.shanghai_day(), *p)).collect();
    sorted.sort_by_key(|(d, _)| *d);
    let mut out: Vec<(CivilDay, Vec<LocationPing>)> = Vec::new();
    for (day, p) in sorted {
        match out.last_mut() {
            Some((d, v)) if *d == day => v.push(p),
            _ => out.push((day, vec![p])),
        }
    }
    out
}

/// Orders pings by time, then position, and keeps each once (a re-sent batch).
pub(crate) fn sort_dedup(v: &mut Vec<LocationPing>) {
    v.sort_unstable_by_key(|p| (p.at, p.position, p.person));
    v.dedup();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ping_tables_are_named_by_shanghai_day() {
        let day = CivilDay::parse("2022-07-01").expect("day");
        assert_eq!(ping_table(day).expect("name"), "pings_20220701");
    }

    #[test]
    fn a_stored_position_out_of_range_is_corruption() {
        assert!(ping_of(1, 0, 31_000_000, 120_000_000).is_ok());
        assert!(matches!(
            ping_of(1, 0, 91_000_000, 0),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            ping_of(1, 0, i64::MAX, 0),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(ping_of(-1, 0, 0, 0), Err(StoreError::Corrupt(_))));
    }
}
