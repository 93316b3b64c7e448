//! Row types shared by both backends: the raw column values as read from either database,
//! and their conversion into domain types. Keeping the parsing here means SQLite and
//! PostgreSQL cannot drift apart in how they interpret a stored value.

use crate::error::{Result, StoreError};
use crate::{PersonBrief, StoredKey};
use xikang_domain::event::{ChainError, ChainVerifier, EventBody, StoredEvent, chain_hash};
use xikang_domain::idnumber::IdNumber;
use xikang_domain::mask::PhoneNumber;
use xikang_domain::{
    AreaCode, CheckIn, CivilDay, EventSeq, GridCell, HouseholdId, Person, PersonId, PlaceCode,
    ScanDirection, Timestamp, Venue, VenueCategory, VenueId, Workplace, WorkplaceId,
};

/// A stored integer as a `u32` id.
pub(crate) fn u32_of(v: i64, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{what} out of range: {v}")))
}

/// A stored blob as a fixed-size array.
pub(crate) fn array_of<const N: usize>(v: &[u8], what: &str) -> Result<[u8; N]> {
    <[u8; N]>::try_from(v)
        .map_err(|_| StoreError::Corrupt(format!("{what} has {} bytes, expected {N}", v.len())))
}

/// An optional stored venue id and person id (a token's or a web user's subject).
pub(crate) fn subject_of(
    venue: Option<i64>,
    person: Option<i64>,
) -> Result<(Option<VenueId>, Option<PersonId>)> {
    Ok((
        venue
            .map(|v| u32_of(v, "venue id"))
            .transpose()?
            .map(VenueId),
        person
            .map(|v| u32_of(v, "person id"))
            .transpose()?
            .map(PersonId),
    ))
}

pub(crate) fn area_of(s: &str) -> Result<AreaCode> {
    AreaCode::parse(s).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// The stored code of a scan direction.
pub(crate) fn dir_code(d: ScanDirection) -> i16 {
    match d {
        ScanDirection::Entry => 0,
        ScanDirection::Exit => 1,
    }
}

fn dir_of(code: i64) -> Result<ScanDirection> {
    match code {
        0 => Ok(ScanDirection::Entry),
        1 => Ok(ScanDirection::Exit),
        other => Err(StoreError::Corrupt(format!("scan direction code {other}"))),
    }
}

/// One check-in from its stored columns.
pub(crate) fn checkin_of(venue: i64, at: i64, person: i64, dir: i64) -> Result<CheckIn> {
    Ok(CheckIn {
        person: PersonId(u32_of(person, "person id")?),
        venue: VenueId(u32_of(venue, "venue id")?),
        at: Timestamp(at),
        direction: dir_of(dir)?,
    })
}

/// A family of day-partitioned tables: `{prefix}_YYYYMMDD`, one per Asia/Shanghai day,
/// listed in the registry table `{registry} (day, row_count)`.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DayTables {
    pub prefix: &'static str,
    pub registry: &'static str,
}

/// Check-ins: `checkins_YYYYMMDD`, registry `checkin_days`.
pub(crate) const CHECKINS: DayTables = DayTables {
    prefix: "checkins",
    registry: "checkin_days",
};

impl DayTables {
    /// The name of a day's table, e.g. `checkins_20220701`. Only ever built from a
    /// `CivilDay`, so it is safe to splice into SQL.
    pub(crate) fn table(self, day: CivilDay) -> Result<String> {
        day_table(self.prefix, day)
    }
}

/// The name of a day's check-in table, e.g. `checkins_20220701`.
pub(crate) fn checkin_table(day: CivilDay) -> Result<String> {
    CHECKINS.table(day)
}

fn day_table(prefix: &str, day: CivilDay) -> Result<String> {
    let compact = day.compact();
    if compact.len() == 8 && compact.bytes().all(|b| b.is_ascii_digit()) {
        Ok(format!("{prefix}_{compact}"))
    } else {
        Err(StoreError::Corrupt(format!(
            "day {} has no partition name",
            day.0
        )))
    }
}

/// The inclusive range of area codes inside `area`: codes are digits only and at most 12
/// long, so `prefix ..= prefix999…` bounds them under any collation (unlike `like`, which
/// SQLite does not index by default and which is case-folding).
pub(crate) fn area_range(area: &AreaCode) -> (String, String) {
    let prefix = area.prefix().to_owned();
    let upper = format!("{prefix:9<12}");
    (prefix, upper)
}

/// A person as stored.
pub(crate) struct PersonRow {
    pub id: i64,
    pub id_number: String,
    pub name: String,
    pub phone: Option<String>,
    pub household: i64,
    pub workplace: Option<i64>,
    pub area: String,
    pub home_cell: i64,
}

impl PersonRow {
    pub(crate) fn into_person(self) -> Result<Person> {
        let id = PersonId(u32_of(self.id, "person id")?);
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("person {id}: stored {what} is invalid"));
        Ok(Person {
            id,
            id_number: IdNumber::parse(&self.id_number).map_err(|_| corrupt("ID number"))?,
            name: self.name,
            phone: match self.phone {
                Some(p) => Some(PhoneNumber::parse(&p).map_err(|_| corrupt("phone"))?),
                None => None,
            },
            household: HouseholdId(u32_of(self.household, "household id")?),
            workplace: self
                .workplace
                .map(|w| u32_of(w, "workplace id"))
                .transpose()?
                .map(WorkplaceId),
            area: area_of(&self.area)?,
            home_cell: GridCell(u32_of(self.home_cell, "grid cell")?),
        })
    }
}

/// The projection columns of a person as stored.
pub(crate) struct BriefRow<'a> {
    pub id: i64,
    pub household: i64,
    pub workplace: Option<i64>,
    pub area: &'a str,
    pub home_cell: i64,
    pub id_hash: &'a [u8],
}

impl BriefRow<'_> {
    pub(crate) fn into_brief(self) -> Result<PersonBrief> {
        Ok(PersonBrief {
            id: PersonId(u32_of(self.id, "person id")?),
            household: HouseholdId(u32_of(self.household, "household id")?),
            workplace: self
                .workplace
                .map(|w| u32_of(w, "workplace id"))
                .transpose()?
                .map(WorkplaceId),
            area: area_of(self.area)?,
            home_cell: GridCell(u32_of(self.home_cell, "grid cell")?),
            id_hash: array_of(self.id_hash, "id_hash")?,
        })
    }
}

/// A workplace as stored.
pub(crate) struct WorkplaceRow {
    pub id: i64,
    pub name: String,
    pub is_school: bool,
    pub area: String,
    pub cell: i64,
    pub venue: Option<i64>,
}

impl WorkplaceRow {
    pub(crate) fn into_workplace(self) -> Result<Workplace> {
        Ok(Workplace {
            id: WorkplaceId(u32_of(self.id, "workplace id")?),
            name: self.name,
            is_school: self.is_school,
            area: area_of(&self.area)?,
            cell: GridCell(u32_of(self.cell, "grid cell")?),
            venue: self
                .venue
                .map(|v| u32_of(v, "venue id").map(VenueId))
                .transpose()?,
        })
    }
}

/// The columns of a [`WorkplaceRow`], in its field order.
pub(crate) const WORKPLACE_COLUMNS: &str = "id, name, is_school, area, cell, venue";

/// A venue as stored.
pub(crate) struct VenueRow {
    pub id: i64,
    pub place_code: String,
    pub name: String,
    pub category: String,
    pub area: String,
    pub cell: i64,
    pub lat: f64,
    pub lon: f64,
}

impl VenueRow {
    pub(crate) fn into_venue(self) -> Result<Venue> {
        Ok(Venue {
            id: VenueId(u32_of(self.id, "venue id")?),
            place_code: PlaceCode::parse(&self.place_code)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            name: self.name,
            category: VenueCategory::parse(&self.category)
                .map_err(|e| StoreError::Corrupt(e.to_string()))?,
            area: area_of(&self.area)?,
            cell: GridCell(u32_of(self.cell, "grid cell")?),
            lat: self.lat,
            lon: self.lon,
        })
    }
}

/// A signing key as stored.
pub(crate) struct KeyRow {
    pub kid: Vec<u8>,
    pub secret: Vec<u8>,
    pub jurisdiction: String,
    pub not_before: i64,
    pub not_after: i64,
}

impl KeyRow {
    pub(crate) fn into_key(self) -> Result<([u8; 8], StoredKey)> {
        Ok((
            array_of(&self.kid, "key id")?,
            StoredKey {
                secret: array_of(&self.secret, "signing key")?,
                jurisdiction: self.jurisdiction,
                not_before: Timestamp(self.not_before),
                not_after: Timestamp(self.not_after),
            },
        ))
    }
}

/// An authority event exactly as stored: the hashed columns plus the two derived ones
/// (`kind`, `person`) that exist for indexing.
pub(crate) struct EventRow {
    pub seq: i64,
    pub at: i64,
    pub actor: String,
    pub basis: String,
    pub kind: String,
    pub person: Option<i64>,
    pub body: String,
    pub prev_hash: Vec<u8>,
    pub hash: Vec<u8>,
}

/// The columns of `events`, in the order [`EventRow`] is read.
pub(crate) const EVENT_COLUMNS: &str = "seq, at, actor, basis, kind, person, body, prev_hash, hash";

impl EventRow {
    fn seq(&self) -> Result<EventSeq> {
        u64::try_from(self.seq)
            .map(EventSeq)
            .map_err(|_| StoreError::Corrupt(format!("event sequence number {}", self.seq)))
    }

    /// The stored event, for reading the log.
    pub(crate) fn into_event(self) -> Result<StoredEvent> {
        let seq = self.seq()?;
        let body: EventBody = serde_json::from_str(&self.body)
            .map_err(|e| StoreError::Corrupt(format!("event {seq}: body does not parse ({e})")))?;
        Ok(StoredEvent {
            seq,
            at: Timestamp(self.at),
            actor: self.actor,
            basis: self.basis,
            body,
            prev_hash: array_of(&self.prev_hash, "prev_hash")?,
            hash: array_of(&self.hash, "hash")?,
        })
    }

    /// Checks this row as the next link of the chain. Beyond the hash, the derived columns
    /// must agree with the body, because `events_of_person` finds events by them: a row
    /// whose `person` was changed would otherwise vanish from a person's history unnoticed.
    pub(crate) fn verify(&self, verifier: &mut ChainVerifier) -> Result<(), ChainError> {
        let seq = self.seq().map_err(|_| ChainError::Unreadable {
            seq: EventSeq(0),
            reason: format!("negative sequence number {}", self.seq),
        })?;
        // A hash column of the wrong length cannot equal any real hash: substitute a value
        // guaranteed to differ, so the verifier reports it in its usual order of checks.
        let prev: [u8; 32] = match self.prev_hash.as_slice().try_into() {
            Ok(p) => p,
            Err(_) => verifier.head().map(|b| !b),
        };
        let hash: [u8; 32] = match self.hash.as_slice().try_into() {
            Ok(h) => h,
            Err(_) => chain_hash(
                &prev,
                seq,
                Timestamp(self.at),
                &self.actor,
                &self.basis,
                &self.body,
            )
            .map(|b| !b),
        };
        verifier.check(
            seq,
            Timestamp(self.at),
            &self.actor,
            &self.basis,
            &self.body,
            &prev,
            &hash,
        )?;
        let body: EventBody =
            serde_json::from_str(&self.body).map_err(|e| ChainError::Unreadable {
                seq,
                reason: e.to_string(),
            })?;
        let person = body.person().map(|p| i64::from(p.get()));
        if body.kind() != self.kind || person != self.person {
            return Err(ChainError::Altered { seq });
        }
        Ok(())
    }
}

/// Drives [`EventRow::verify`] over a stream of rows and builds the report.
#[derive(Default)]
pub(crate) struct ChainWalk {
    verifier: ChainVerifier,
    verified: u64,
    head: [u8; 32],
    pub(crate) first_error: Option<ChainError>,
}

impl ChainWalk {
    /// Feeds one row; returns `false` once an error was found (the walk should stop).
    pub(crate) fn feed(&mut self, row: &EventRow) -> bool {
        match row.verify(&mut self.verifier) {
            Ok(()) => {
                self.verified += 1;
                self.head = self.verifier.head();
                true
            }
            Err(e) => {
                self.first_error = Some(e);
                false
            }
        }
    }

    pub(crate) fn report(self) -> crate::ChainReport {
        crate::ChainReport {
            verified: self.verified,
            head: self.head,
            first_error: self.first_error,
        }
    }
}

/// The current time in epoch seconds, for `schema_migrations.applied_at` only.
/// Refuses a database that records a migration newer than any this build knows: running
/// old code on a newer schema could corrupt it.
pub(crate) fn refuse_newer(
    applied: impl Iterator<Item = i64>,
    known: impl Iterator<Item = i64>,
) -> Result<()> {
    let known = known.max().unwrap_or(0);
    match applied.filter(|v| *v > known).max() {
        Some(newer) => Err(StoreError::Migration(format!(
            "the database has migration {newer}, this build knows up to {known}: upgrade xikang"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Groups a batch of check-ins by day, each group in the batch's order (the order scans
/// arrived in).
pub(crate) fn by_day(batch: &[CheckIn]) -> Vec<(CivilDay, Vec<CheckIn>)> {
    let mut sorted: Vec<(CivilDay, CheckIn)> =
        batch.iter().map(|c| (c.at.shanghai_day(), *c)).collect();
    sorted.sort_by_key(|(d, _)| *d);
    let mut out: Vec<(CivilDay, Vec<CheckIn>)> = Vec::new();
    for (day, c) in sorted {
        match out.last_mut() {
            Some((d, v)) if *d == day => v.push(c),
            _ => out.push((day, vec![c])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn area_range_covers_exactly_the_areas_inside() {
        let city = AreaCode::parse("320200").unwrap();
        let (lo, hi) = area_range(&city);
        assert_eq!((lo.as_str(), hi.as_str()), ("3202", "320299999999"));
        for inside in ["320213", "320213001", "320213001002", "320299999999"] {
            assert!(lo.as_str() <= inside && inside <= hi.as_str(), "{inside}");
        }
        for outside in ["320100", "320300001", "310000"] {
            assert!(
                !(lo.as_str() <= outside && outside <= hi.as_str()),
                "{outside}"
            );
        }
    }

    #[test]
    fn checkin_tables_are_named_by_shanghai_day() {
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(checkin_table(day).unwrap(), "checkins_20220701");
    }

    #[test]
    fn a_batch_is_split_by_shanghai_day() {
        let t = Timestamp::parse_rfc3339("2022-07-01T15:59:59Z").unwrap();
        let c = |at: Timestamp, p| CheckIn {
            person: PersonId(p),
            venue: VenueId(1),
            at,
            direction: ScanDirection::Entry,
        };
        let groups = by_day(&[c(t.plus(1), 1), c(t, 2), c(t.plus(2), 3)]);
        assert_eq!(groups.len(), 2);
        assert_eq!(groups[0].1.len(), 1);
        assert_eq!(groups[1].1.len(), 2);
        assert_eq!(groups[1].0.0, groups[0].0.0 + 1);
    }
}
