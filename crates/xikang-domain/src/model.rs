//! The things xikang knows about: people, venues, areas, check-ins, tests. Personal data
//! (ID number, name, phone) lives only in [`Person`]; everything else refers to people by
//! [`PersonId`].

use crate::idnumber::IdNumber;
use crate::ids::{HouseholdId, PersonId, VenueId, WorkplaceId};
use crate::mask::PhoneNumber;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt;

/// A health-code colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum Colour {
    Green,
    Yellow,
    Red,
}

impl Colour {
    /// The colour's name in Chinese, as residents know it.
    pub fn zh(self) -> &'static str {
        match self {
            Colour::Green => "绿码",
            Colour::Yellow => "黄码",
            Colour::Red => "红码",
        }
    }

    /// Lower-case English name, as on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Colour::Green => "green",
            Colour::Yellow => "yellow",
            Colour::Red => "red",
        }
    }

    /// Parses `green` / `yellow` / `red`.
    pub fn parse(s: &str) -> Option<Colour> {
        match s {
            "green" => Some(Colour::Green),
            "yellow" => Some(Colour::Yellow),
            "red" => Some(Colour::Red),
            _ => None,
        }
    }

    /// One-byte wire form used inside tokens: 0 green, 1 yellow, 2 red.
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`Colour::code`].
    pub fn from_code(c: u8) -> Option<Colour> {
        match c {
            0 => Some(Colour::Green),
            1 => Some(Colour::Yellow),
            2 => Some(Colour::Red),
            _ => None,
        }
    }
}

/// An administrative area code: GB/T 2260 (6 digits: city `320200`, district `320213`),
/// extended by 3 digits for a street or town and 3 more for a community (the statistical
/// division codes). An area contains another when its significant prefix is a prefix of the
/// other's: city `320200` → `3202`, district `320213` → `320213`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct AreaCode(String);

impl AreaCode {
    /// Parses 6, 9 or 12 digits.
    pub fn parse(s: &str) -> Result<AreaCode, AreaCodeError> {
        let ok = matches!(s.len(), 6 | 9 | 12) && s.bytes().all(|b| b.is_ascii_digit());
        if ok {
            Ok(AreaCode(s.to_owned()))
        } else {
            Err(AreaCodeError(s.chars().take(40).collect()))
        }
    }

    /// The code as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The prefix that every area inside this one starts with.
    pub fn prefix(&self) -> &str {
        let s = self.0.as_str();
        if s.len() == 6 {
            if let Some(p) = s.strip_suffix("0000") {
                return p;
            }
            if let Some(p) = s.strip_suffix("00") {
                return p;
            }
        }
        s
    }

    /// Whether `other` lies inside this area (or is it).
    pub fn contains(&self, other: &AreaCode) -> bool {
        other.0.starts_with(self.prefix())
    }

    /// The county-level (district) code: the first six digits.
    pub fn district(&self) -> AreaCode {
        AreaCode(self.0[..6].to_owned())
    }
}

impl fmt::Display for AreaCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for AreaCode {
    type Error = AreaCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        AreaCode::parse(&s)
    }
}

impl From<AreaCode> for String {
    fn from(a: AreaCode) -> String {
        a.0
    }
}

/// An area code that is not 6, 9 or 12 digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an area code (6, 9 or 12 digits): {0:?}")]
pub struct AreaCodeError(pub String);

/// A grid cell (网格): the smallest administrative unit, with one grid worker. Also the
/// unit of location for companions (800 m cells in the default policy).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(transparent)]
pub struct GridCell(pub u32);

/// A venue's public place code (场所码), printed on its poster: 6–24 upper-case letters and
/// digits, e.g. `320213V0000123`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct PlaceCode(String);

impl PlaceCode {
    /// Parses a place code.
    pub fn parse(s: &str) -> Result<PlaceCode, PlaceCodeError> {
        let ok = (6..=24).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit());
        if ok {
            Ok(PlaceCode(s.to_owned()))
        } else {
            Err(PlaceCodeError(s.chars().take(40).collect()))
        }
    }

    /// The code as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PlaceCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for PlaceCode {
    type Error = PlaceCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PlaceCode::parse(&s)
    }
}

impl From<PlaceCode> for String {
    fn from(p: PlaceCode) -> String {
        p.0
    }
}

/// A place code that is not 6–24 upper-case letters and digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a place code (6-24 upper-case letters and digits): {0:?}")]
pub struct PlaceCodeError(pub String);

/// A venue category (`supermarket`, `train_station`, …). The policy file says which
/// categories require a recent negative test and how long people dwell there; the code only
/// checks the spelling (lower-case letters and underscores).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(try_from = "String", into = "String")]
pub struct VenueCategory(String);

impl VenueCategory {
    /// Parses a category name.
    pub fn parse(s: &str) -> Result<VenueCategory, CategoryError> {
        let ok =
            (1..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_');
        if ok {
            Ok(VenueCategory(s.to_owned()))
        } else {
            Err(CategoryError(s.chars().take(40).collect()))
        }
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for VenueCategory {
    type Error = CategoryError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        VenueCategory::parse(&s)
    }
}

impl From<VenueCategory> for String {
    fn from(c: VenueCategory) -> String {
        c.0
    }
}

/// A category name that is not lower-case letters and underscores.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a venue category (lower-case letters and underscores): {0:?}")]
pub struct CategoryError(pub String);

/// A resident. The only type that holds personal data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub id_number: IdNumber,
    pub name: String,
    pub phone: Option<PhoneNumber>,
    pub household: HouseholdId,
    pub workplace: Option<WorkplaceId>,
    /// Community (12 digits) the person lives in; its prefixes are street and district.
    pub area: AreaCode,
    pub home_cell: GridCell,
}

/// A workplace or school, where people spend their working day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Workplace {
    pub id: WorkplaceId,
    pub name: String,
    pub is_school: bool,
    pub area: AreaCode,
    pub cell: GridCell,
    /// The venue its people scan in at, if it has one (tracing's workplace rule uses it to
    /// tell the days a case worked).
    pub venue: Option<VenueId>,
}

/// A venue that scans codes at its door.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Venue {
    pub id: VenueId,
    pub place_code: PlaceCode,
    pub name: String,
    pub category: VenueCategory,
    /// Community (12 digits) the venue is in.
    pub area: AreaCode,
    pub cell: GridCell,
    /// WGS-84 latitude and longitude.
    pub lat: f64,
    pub lon: f64,
}

/// Whether a scan marks someone entering or leaving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum ScanDirection {
    Entry,
    Exit,
}

/// One check-in at a venue: high-volume data kept for the retention period, not an
/// authority event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CheckIn {
    pub person: PersonId,
    pub venue: VenueId,
    pub at: Timestamp,
    pub direction: ScanDirection,
}

/// A phone's position report from a carrier feed (基站 / 信令 data), the input of the
/// companion rule (时空伴随). High-volume data kept for the retention period like check-ins,
/// not an authority event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LocationPing {
    pub person: PersonId,
    pub at: Timestamp,
    pub position: crate::geo::Position,
}

/// The result of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum TestOutcome {
    Negative,
    Positive,
}
