//! The resident register (实有人口): what an import reads to compare a file's lines with
//! the stored people, and the one transaction that writes an import's new households, new
//! and changed residents and its authority events. Both dialects implement
//! [`RegisterStore`]; the conformance suite runs it on both.

use crate::error::{Result, StoreError};
use crate::row::{self, u32_of};
use xikang_domain::event::{NewEvent, StoredEvent};
use xikang_domain::mask::PhoneNumber;
use xikang_domain::register::{RegisterLine, Registered, ResidentKind};
use xikang_domain::{AreaCode, CivilDay, GridCell, HouseholdId, PersonId};

/// A resident an import writes: a line of the file with the id it has (or is given), the
/// keyed hash of its ID number and the household id its household number maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegisterRow {
    pub id: PersonId,
    pub id_hash: [u8; 16],
    pub household: HouseholdId,
    pub line: RegisterLine,
}

/// One import's changes, written in one transaction.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RegisterWrite {
    /// Household numbers seen for the first time, with the ids they were given.
    pub households: Vec<(String, HouseholdId)>,
    /// New residents (ids not yet used).
    pub added: Vec<RegisterRow>,
    /// Residents whose row changes (a move, or a new name, phone, household or kind).
    pub changed: Vec<RegisterRow>,
    /// The import's authority events (the import itself, each move).
    pub events: Vec<NewEvent>,
}

impl RegisterWrite {
    /// The residents it adds or changes, as a projection places them (the other nodes
    /// follow imports with these, docs/nodes.md).
    pub fn placed(&self) -> Vec<PlacedResident> {
        self.added
            .iter()
            .chain(&self.changed)
            .map(|r| PlacedResident {
                id: r.id,
                household: r.household,
                community: r.line.community.clone(),
                cell: r.line.cell,
                born: r.line.born(),
            })
            .collect()
    }
}

/// A resident an import placed: what a projection keeps of them (where they live, their
/// household, the birth date the lab's age bands use). No name, number or address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PlacedResident {
    pub id: PersonId,
    pub household: HouseholdId,
    pub community: AreaCode,
    pub cell: GridCell,
    /// (year, month, day)
    pub born: (i16, u8, u8),
}

/// The columns a stored resident is compared by, in [`RegisteredRow`]'s order.
pub(crate) const REGISTERED_COLUMNS: &str =
    "id, name, phone, household, address, area, home_cell, kind, registered_on";

/// A stored resident's columns, decoded by [`RegisteredRow::into_registered`].
pub(crate) struct RegisteredRow {
    pub id: i64,
    pub name: String,
    pub phone: Option<String>,
    pub household: i64,
    pub address: String,
    pub area: String,
    pub home_cell: i64,
    pub kind: String,
    pub registered_on: Option<i64>,
}

impl RegisteredRow {
    pub(crate) fn into_registered(self) -> Result<Registered> {
        let id = PersonId(u32_of(self.id, "person id")?);
        let corrupt =
            |what: &str| StoreError::Corrupt(format!("person {id}: stored {what} is invalid"));
        Ok(Registered {
            id,
            name: self.name,
            phone: self
                .phone
                .map(|p| PhoneNumber::parse(&p).map_err(|_| corrupt("phone")))
                .transpose()?,
            household: HouseholdId(u32_of(self.household, "household id")?),
            address: self.address,
            community: row::area_of(&self.area)?,
            cell: GridCell(u32_of(self.home_cell, "grid cell")?),
            kind: ResidentKind::parse(&self.kind).ok_or_else(|| corrupt("kind"))?,
            registered_on: self
                .registered_on
                .map(|d| {
                    i32::try_from(d)
                        .map(CivilDay)
                        .map_err(|_| corrupt("registration day"))
                })
                .transpose()?,
        })
    }
}

/// Storage of the resident register. A supertrait of [`crate::Store`].
pub trait RegisterStore {
    /// The stored residents whose ID numbers have these keyed hashes, each with its hash;
    /// hashes nobody has are left out.
    fn registered_by_hashes(&self, hashes: &[[u8; 16]]) -> Result<Vec<([u8; 16], Registered)>>;
    /// The household ids of these register household numbers (those seen before).
    fn households_by_keys(&self, keys: &[&str]) -> Result<Vec<(String, HouseholdId)>>;
    /// The first person id and household id no one uses yet.
    fn register_next_ids(&self) -> Result<(PersonId, HouseholdId)>;
    /// Writes an import in one transaction: households, new residents, changed residents,
    /// then its events (chained like [`crate::Store::append_events`]). A person id, ID
    /// number or household number already taken fails all of it with
    /// [`StoreError::Conflict`] and changes nothing.
    fn write_register(&self, w: &RegisterWrite) -> Result<Vec<StoredEvent>>;
}
