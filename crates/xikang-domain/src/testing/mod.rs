//! Testing and vaccination (核酸与疫苗) as the domain sees them: tube barcodes and the one
//! state each tube is in, sampling sites, screening rounds with their pool sizes per zone
//! level, lab outcomes (and the lab CSV line format), age bands and vaccination status.
//! Pure: the server keeps the live index, the store keeps the rows.

use crate::event::ZoneLevel;
use crate::idnumber::IdNumber;
use crate::model::{AreaCode, GridCell};
use crate::policy::Policy;
use crate::time::{CivilDay, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt;

mod consequences;
pub use consequences::{Consequences, TubeResult, consequences};

macro_rules! lab_id {
    ($(#[$doc:meta])* $name:ident, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub u32);

        impl $name {
            /// Parses `PREFIX123` (or the bare number).
            pub fn parse(s: &str) -> Option<$name> {
                <$name as crate::ids::TypedId>::parse(s)
            }
        }

        impl crate::ids::TypedId for $name {
            const PREFIX: &'static str = $prefix;
            const INVALID: &'static str = concat!("invalid_", $what, "_id");
            fn parse(s: &str) -> Option<$name> {
                crate::ids::id_digits(s, $prefix)?.parse().ok().map($name)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }
    };
}

lab_id!(
    /// A sampling site (采样点).
    SiteId, "S", "site");
lab_id!(
    /// A screening round (全员核酸).
    RoundId, "R", "round");
lab_id!(
    /// A transport batch (a courier's handover from sites to a lab).
    BatchId, "B", "batch");
lab_id!(
    /// A tube, as the store numbers it (people see the barcode).
    TubeId, "T", "tube");

/// A tube's printed barcode: 4–32 upper-case letters, digits and `-`. A lab that types
/// barcodes by hand is the failure this type cannot prevent; it makes them visible instead
/// (an unknown barcode is refused per line, never guessed).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct TubeBarcode(String);

impl TubeBarcode {
    /// Parses a barcode (surrounding blanks are trimmed; lower case is not accepted).
    pub fn parse(s: &str) -> Result<TubeBarcode, LabError> {
        let s = s.trim();
        let ok = (4..=32).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'-');
        if ok {
            Ok(TubeBarcode(s.to_owned()))
        } else {
            Err(LabError::InvalidBarcode(s.chars().take(40).collect()))
        }
    }

    /// The barcode as printed.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TubeBarcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TubeBarcode {
    type Error = LabError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        TubeBarcode::parse(&s)
    }
}

impl From<TubeBarcode> for String {
    fn from(b: TubeBarcode) -> String {
        b.0
    }
}

/// The one state a tube is in. A tube only moves forward through these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TubeState {
    /// At the site, taking swabs.
    Open,
    /// Full, or closed by the sampler; waiting for the courier.
    Sealed,
    /// Handed to a courier in a batch.
    InTransport,
    /// Received by the lab.
    Received,
    /// A positive or negative result is posted.
    Resulted,
    /// The lab could not give a result (leaked, mislabelled, failed run): members re-swab.
    Invalid,
}

impl TubeState {
    /// Every state, in order.
    pub const ALL: [TubeState; 6] = [
        TubeState::Open,
        TubeState::Sealed,
        TubeState::InTransport,
        TubeState::Received,
        TubeState::Resulted,
        TubeState::Invalid,
    ];

    /// The stored code (0–5).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`TubeState::code`].
    pub fn from_code(c: u8) -> Option<TubeState> {
        TubeState::ALL.get(usize::from(c)).copied()
    }

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            TubeState::Open => "open",
            TubeState::Sealed => "sealed",
            TubeState::InTransport => "in_transport",
            TubeState::Received => "received",
            TubeState::Resulted => "resulted",
            TubeState::Invalid => "invalid",
        }
    }
}

/// What a lab reports for a tube.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "lowercase")]
pub enum LabOutcome {
    Negative,
    Positive,
    Invalid,
}

impl LabOutcome {
    /// The stored code (0–2).
    pub fn code(self) -> u8 {
        self as u8
    }

    /// Inverse of [`LabOutcome::code`].
    pub fn from_code(c: u8) -> Option<LabOutcome> {
        [
            LabOutcome::Negative,
            LabOutcome::Positive,
            LabOutcome::Invalid,
        ]
        .get(usize::from(c))
        .copied()
    }

    /// Parses the English names and the Chinese words labs print (阴性 / 阳性 / 无效).
    pub fn parse(s: &str) -> Option<LabOutcome> {
        match s.trim().to_ascii_lowercase().as_str() {
            "negative" | "neg" | "阴性" => Some(LabOutcome::Negative),
            "positive" | "pos" | "阳性" => Some(LabOutcome::Positive),
            "invalid" | "无效" => Some(LabOutcome::Invalid),
            _ => None,
        }
    }
}

/// A sampling site (采样点): where tubes are opened and people are swabbed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SamplingSite {
    pub id: SiteId,
    pub name: String,
    /// Community or street the site is in: samplers act inside their jurisdiction.
    pub area: AreaCode,
    /// The grid cell the site stands in; its zone level sets the pool size.
    pub cell: GridCell,
}

/// Pool sizes for each zone level (PROTOCOL.md §5): sealed single tube, controlled 10-in-1,
/// elsewhere 20-in-1 by default; the policy's parameters set them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct PoolSizes {
    pub sealed: u8,
    pub controlled: u8,
    pub other: u8,
}

/// The largest pool any policy may ask for: pooling pooled tubes again (30:1, 50:1) is not
/// validated (PROTOCOL.md §5).
pub const MAX_POOL: u8 = 20;

impl PoolSizes {
    /// The policy's sizes: parameters `pool_size_sealed`, `pool_size_controlled`,
    /// `pool_size_precaution`, capped at [`MAX_POOL`]. A policy without them gets 1/10/20.
    pub fn from_policy(p: &Policy) -> PoolSizes {
        let get = |name: &str, default: u8| {
            p.parameter(name)
                .map_or(default, |v| v.clamp(1, u32::from(MAX_POOL)) as u8)
        };
        PoolSizes {
            sealed: get("pool_size_sealed", 1),
            controlled: get("pool_size_controlled", 10),
            other: get("pool_size_precaution", MAX_POOL),
        }
    }

    /// Whether every size is between 1 and [`MAX_POOL`].
    pub fn is_valid(&self) -> bool {
        [self.sealed, self.controlled, self.other]
            .iter()
            .all(|s| (1..=MAX_POOL).contains(s))
    }

    /// The largest tube allowed where the strictest zone covering the site has `level`.
    pub fn limit(&self, level: Option<ZoneLevel>) -> u8 {
        match level {
            Some(ZoneLevel::Sealed | ZoneLevel::High) => self.sealed,
            Some(ZoneLevel::Controlled | ZoneLevel::Medium) => self.controlled,
            Some(ZoneLevel::Precaution | ZoneLevel::Low) | None => self.other,
        }
    }
}

/// A screening round (全员核酸): an area, optionally narrowed to grid cells, a deadline and
/// the pool sizes per zone level.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Round {
    pub id: RoundId,
    pub name: String,
    pub area: AreaCode,
    /// Empty = every cell of the area.
    pub cells: Vec<GridCell>,
    pub starts_at: Timestamp,
    pub deadline: Timestamp,
    pub pools: PoolSizes,
    /// When missed tests were recorded for residents not sampled by the deadline.
    pub closed_at: Option<Timestamp>,
}

impl Round {
    /// Whether a resident of `area` living in `cell` is expected in this round.
    pub fn covers(&self, area: &AreaCode, cell: GridCell) -> bool {
        self.area.contains(area) && (self.cells.is_empty() || self.cells.contains(&cell))
    }
}

/// A tube as stored: barcode, where and when it was opened, its capacity, and the time of
/// each state it reached.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Tube {
    pub id: TubeId,
    pub barcode: TubeBarcode,
    pub site: SiteId,
    pub round: Option<RoundId>,
    /// How many swabs it may hold (1 = single tube).
    pub capacity: u8,
    pub state: TubeState,
    pub opened_at: Timestamp,
    pub sealed_at: Option<Timestamp>,
    pub batch: Option<BatchId>,
    pub shipped_at: Option<Timestamp>,
    pub received_at: Option<Timestamp>,
    pub resulted_at: Option<Timestamp>,
    pub outcome: Option<LabOutcome>,
    /// Cycle threshold, when the lab reports one (positive means Ct < 35 in the 二十条).
    pub ct: Option<f32>,
    /// The lab that posted the result.
    pub lab: Option<String>,
}

impl Tube {
    /// A tube just opened: nothing sealed, shipped, received or resulted yet.
    pub fn opened(
        id: TubeId,
        barcode: TubeBarcode,
        site: SiteId,
        round: Option<RoundId>,
        capacity: u8,
        at: Timestamp,
    ) -> Tube {
        Tube {
            id,
            barcode,
            site,
            round,
            capacity,
            state: TubeState::Open,
            opened_at: at,
            sealed_at: None,
            batch: None,
            shipped_at: None,
            received_at: None,
            resulted_at: None,
            outcome: None,
            ct: None,
            lab: None,
        }
    }

    /// Turnaround in seconds: sampled (opened) → received, received → resulted.
    pub fn turnaround(&self) -> (Option<i64>, Option<i64>) {
        let to_lab = self.received_at.map(|r| r.0 - self.opened_at.0);
        let in_lab = match (self.received_at, self.resulted_at) {
            (Some(r), Some(d)) => Some(d.0 - r.0),
            _ => None,
        };
        (to_lab, in_lab)
    }
}

/// One swab in one tube: the binding of a person to a tube, made by scanning their code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sample {
    pub tube: TubeId,
    pub person: crate::PersonId,
    pub round: Option<RoundId>,
    pub sampled_at: Timestamp,
}

/// A transport batch: a courier's handover of sealed tubes to a lab.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Batch {
    pub id: BatchId,
    pub courier: String,
    pub lab: String,
    pub handed_at: Timestamp,
    pub received_at: Option<Timestamp>,
    pub tubes: u32,
}

/// What a grid worker or sampler must do for one person after a tube's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// A member of a positive pool: swab again, single tube.
    SingleTubeRetest,
    /// A member of an invalid tube: swab again.
    Resample,
    /// A resident aged 60+ without a full vaccination course: visit and offer it.
    VaccinationOutreach,
}

impl TaskKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::SingleTubeRetest => "single_tube_retest",
            TaskKind::Resample => "resample",
            TaskKind::VaccinationOutreach => "vaccination_outreach",
        }
    }

    /// Inverse of [`TaskKind::as_str`].
    pub fn parse(s: &str) -> Option<TaskKind> {
        [
            TaskKind::SingleTubeRetest,
            TaskKind::Resample,
            TaskKind::VaccinationOutreach,
        ]
        .into_iter()
        .find(|k| k.as_str() == s)
    }
}

/// A task for one person, open until done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabTask {
    pub id: u64,
    pub person: crate::PersonId,
    pub kind: TaskKind,
    /// The tube that caused it (none for outreach).
    pub tube: Option<TubeId>,
    pub created_at: Timestamp,
    pub done_at: Option<Timestamp>,
}

/// One line of a lab's result file: `barcode,outcome[,ct[,resulted_at]]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ResultLine {
    pub barcode: TubeBarcode,
    pub outcome: LabOutcome,
    pub ct: Option<f32>,
    pub resulted_at: Option<Timestamp>,
}

/// Why a line, a request item or a record was refused: a stable code and a message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LabError {
    #[error("not a tube barcode (4-32 upper-case letters, digits, '-'): {0:?}")]
    InvalidBarcode(String),
    #[error("not an outcome (negative, positive, invalid): {0:?}")]
    InvalidOutcome(String),
    #[error("not a Ct value (0-50): {0:?}")]
    InvalidCt(String),
    #[error("{0}")]
    InvalidTime(String),
    #[error("expected 2 to 4 comma-separated fields, got {0}")]
    WrongFieldCount(usize),
    #[error("not a vaccine name (1-40 letters, digits, spaces, '-'): {0:?}")]
    InvalidVaccine(String),
    #[error("dose number must be 1 to 5, got {0:?}")]
    InvalidDose(String),
}

impl LabError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            LabError::InvalidBarcode(_) => "invalid_barcode",
            LabError::InvalidOutcome(_) => "invalid_outcome",
            LabError::InvalidCt(_) => "invalid_ct",
            LabError::InvalidTime(_) => "invalid_time",
            LabError::WrongFieldCount(_) => "invalid_line",
            LabError::InvalidVaccine(_) => "invalid_vaccine",
            LabError::InvalidDose(_) => "invalid_dose",
        }
    }
}

fn parse_ct(s: &str) -> Result<Option<f32>, LabError> {
    let s = s.trim();
    if s.is_empty() {
        return Ok(None);
    }
    match s.parse::<f32>() {
        Ok(v) if (0.0..=50.0).contains(&v) => Ok(Some(v)),
        _ => Err(LabError::InvalidCt(s.chars().take(20).collect())),
    }
}

impl ResultLine {
    /// Parses the fields of one row of a results file (`barcode,outcome[,ct[,resulted_at]]`),
    /// as the server's table reader hands them over (CSV with RFC 4180 quoting, or XLSX).
    pub fn from_fields<S: AsRef<str>>(fields: &[S]) -> Result<ResultLine, LabError> {
        let fields: Vec<&str> = fields.iter().map(|f| f.as_ref().trim()).collect();
        if !(2..=4).contains(&fields.len()) {
            return Err(LabError::WrongFieldCount(fields.len()));
        }
        let barcode = TubeBarcode::parse(fields[0])?;
        let outcome = LabOutcome::parse(fields[1])
            .ok_or_else(|| LabError::InvalidOutcome(fields[1].chars().take(20).collect()))?;
        let ct = parse_ct(fields.get(2).copied().unwrap_or(""))?;
        let resulted_at = match fields.get(3).copied().unwrap_or("") {
            "" => None,
            t => Some(Timestamp::parse_rfc3339(t).map_err(|e| LabError::InvalidTime(e.0))?),
        };
        Ok(ResultLine {
            barcode,
            outcome,
            ct,
            resulted_at,
        })
    }

    /// Whether a row is the header (`barcode,outcome,…`), a `#` comment or blank: skipped,
    /// not an error.
    pub fn is_header_or_blank<S: AsRef<str>>(fields: &[S]) -> bool {
        let first = fields.first().map_or("", |f| f.as_ref().trim());
        (first.is_empty() && fields.iter().all(|f| f.as_ref().trim().is_empty()))
            || first.starts_with('#')
            || first.to_ascii_lowercase().starts_with("barcode")
    }
}

/// A vaccine dose as recorded by a vaccination site.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dose {
    pub person: crate::PersonId,
    /// 1, 2 (full course for the inactivated vaccines used in China), 3 = booster (加强针).
    pub dose: u8,
    pub vaccine: String,
    pub given_on: CivilDay,
    pub site: String,
}

/// Doses at which a course is complete, and the first booster.
pub const FULL_COURSE_DOSES: u8 = 2;
pub const BOOSTER_DOSE: u8 = 3;

impl Dose {
    /// Checks the free-text fields.
    pub fn validate(&self) -> Result<(), LabError> {
        let ok_text = |s: &str| {
            (1..=40).contains(&s.chars().count())
                && s.chars()
                    .all(|c| c.is_alphanumeric() || c == ' ' || c == '-' || c == '_')
        };
        if !ok_text(&self.vaccine) {
            return Err(LabError::InvalidVaccine(
                self.vaccine.chars().take(40).collect(),
            ));
        }
        if !ok_text(&self.site) {
            return Err(LabError::InvalidVaccine(
                self.site.chars().take(40).collect(),
            ));
        }
        if !(1..=5).contains(&self.dose) {
            return Err(LabError::InvalidDose(self.dose.to_string()));
        }
        Ok(())
    }
}

/// The age bands of vaccination coverage (3–11, 12–17, 18–59, 60–79, 80+); under-3s are
/// not counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub enum AgeBand {
    #[serde(rename = "0-2")]
    Under3,
    #[serde(rename = "3-11")]
    Child,
    #[serde(rename = "12-17")]
    Teen,
    #[serde(rename = "18-59")]
    Adult,
    #[serde(rename = "60-79")]
    Senior,
    #[serde(rename = "80+")]
    Elderly,
}

impl AgeBand {
    /// Every band, in order.
    pub const ALL: [AgeBand; 6] = [
        AgeBand::Under3,
        AgeBand::Child,
        AgeBand::Teen,
        AgeBand::Adult,
        AgeBand::Senior,
        AgeBand::Elderly,
    ];

    /// The band of an age in whole years.
    pub fn of_age(years: i32) -> AgeBand {
        match years {
            i32::MIN..=2 => AgeBand::Under3,
            3..=11 => AgeBand::Child,
            12..=17 => AgeBand::Teen,
            18..=59 => AgeBand::Adult,
            60..=79 => AgeBand::Senior,
            _ => AgeBand::Elderly,
        }
    }

    /// The label used on the wire.
    pub fn label(self) -> &'static str {
        match self {
            AgeBand::Under3 => "0-2",
            AgeBand::Child => "3-11",
            AgeBand::Teen => "12-17",
            AgeBand::Adult => "18-59",
            AgeBand::Senior => "60-79",
            AgeBand::Elderly => "80+",
        }
    }

    /// Whether the band is 60 or older (应接尽接 outreach).
    pub fn is_60_plus(self) -> bool {
        matches!(self, AgeBand::Senior | AgeBand::Elderly)
    }
}

/// A birth date as (year, month, day), read from the ID number (GB 11643 digits 7–14).
pub fn birth_date(id: &IdNumber) -> Option<(i16, u8, u8)> {
    let s = id.expose().as_bytes();
    let num = |r: std::ops::Range<usize>| -> Option<u32> {
        std::str::from_utf8(s.get(r)?).ok()?.parse().ok()
    };
    Some((
        i16::try_from(num(6..10)?).ok()?,
        u8::try_from(num(10..12)?).ok()?,
        u8::try_from(num(12..14)?).ok()?,
    ))
}

/// Age in whole years on `day` of someone born on `born` (year, month, day).
pub fn age_on(born: (i16, u8, u8), day: CivilDay) -> i32 {
    let (y, m, d) = civil_of(day);
    let mut age = y - i32::from(born.0);
    if (m, d) < (born.1, born.2) {
        age -= 1;
    }
    age
}

/// (year, month, day) of a civil day (days since 1970-01-01), proleptic Gregorian.
pub fn civil_of(day: CivilDay) -> (i32, u8, u8) {
    // Howard Hinnant's days-to-civil algorithm.
    let z = i64::from(day.0) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u8;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u8;
    let y = (yoe + era * 400 + i64::from(m <= 2)) as i32;
    (y, m, d)
}

/// A person's vaccination status, from their doses: highest dose number counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct VaccinationStatus {
    pub doses: u8,
}

impl VaccinationStatus {
    pub fn first_dose(self) -> bool {
        self.doses >= 1
    }
    pub fn full_course(self) -> bool {
        self.doses >= FULL_COURSE_DOSES
    }
    pub fn booster(self) -> bool {
        self.doses >= BOOSTER_DOSE
    }
}

/// A vaccination level a venue category may require at the door (policy key
/// `require_vaccination`): at least a first dose, a full course or a booster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum VaccinationLevel {
    FirstDose,
    FullCourse,
    Booster,
}

impl VaccinationLevel {
    /// Every level, weakest first.
    pub const ALL: [VaccinationLevel; 3] = [
        VaccinationLevel::FirstDose,
        VaccinationLevel::FullCourse,
        VaccinationLevel::Booster,
    ];

    /// The policy file's name of the level.
    pub fn as_str(self) -> &'static str {
        match self {
            VaccinationLevel::FirstDose => "first_dose",
            VaccinationLevel::FullCourse => "full_course",
            VaccinationLevel::Booster => "booster",
        }
    }

    /// The level named `s` in a policy file.
    pub fn parse(s: &str) -> Option<VaccinationLevel> {
        Self::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// Whether a person with this status meets the level.
    pub fn met_by(self, s: VaccinationStatus) -> bool {
        match self {
            VaccinationLevel::FirstDose => s.first_dose(),
            VaccinationLevel::FullCourse => s.full_course(),
            VaccinationLevel::Booster => s.booster(),
        }
    }
}

/// Coverage of one group: people, and how many have a first dose, a full course, a booster.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Coverage {
    pub people: u64,
    pub first_dose: u64,
    pub full_course: u64,
    pub booster: u64,
}

impl Coverage {
    /// Counts `n` people with the same status.
    pub fn add_many(&mut self, s: VaccinationStatus, n: u64) {
        self.people += n;
        self.first_dose += n * u64::from(s.first_dose());
        self.full_course += n * u64::from(s.full_course());
        self.booster += n * u64::from(s.booster());
    }
}

/// Progress of a screening round in one grid cell, as published: "sampled N / results M /
/// abnormal K awaiting retest".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct CellProgress {
    pub expected: u32,
    pub sampled: u32,
    pub resulted: u32,
    pub abnormal: u32,
}

impl CellProgress {
    /// The published form, e.g. `已采样 812 / 已出结果 640 / 异常待复核 10`.
    pub fn published(&self) -> String {
        format!(
            "已采样 {} / 已出结果 {} / 异常待复核 {} (sampled {} / results {} / abnormal {} awaiting retest)",
            self.sampled, self.resulted, self.abnormal, self.sampled, self.resulted, self.abnormal
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn barcodes_are_upper_case_letters_digits_and_dashes() {
        assert_eq!(
            TubeBarcode::parse(" WX-0001 ").map(|b| b.as_str().to_owned()),
            Ok("WX-0001".into())
        );
        for bad in ["wx0001", "AB", "A B C D", "X;DROP", &"9".repeat(33)] {
            assert!(TubeBarcode::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_result_line_parses_with_optional_ct_and_time() {
        let l = ResultLine::from_fields(&["WX0001", "阳性", "28.5", "2022-07-01T10:00:00+08:00"])
            .unwrap();
        assert_eq!(l.outcome, LabOutcome::Positive);
        assert_eq!(l.ct, Some(28.5));
        assert_eq!(l.resulted_at.map(|t| t.0), Some(1_656_640_800));
        let l = ResultLine::from_fields(&["WX0002", "negative"]).unwrap();
        assert_eq!(
            (l.outcome, l.ct, l.resulted_at),
            (LabOutcome::Negative, None, None)
        );
    }

    #[test]
    fn bad_result_lines_say_what_is_wrong() {
        let code = |l: &str| {
            let fields: Vec<&str> = l.split(',').collect();
            ResultLine::from_fields(&fields).unwrap_err().code()
        };
        assert_eq!(code("WX0001"), "invalid_line");
        assert_eq!(code("wx1,negative"), "invalid_barcode");
        assert_eq!(code("WX0001,maybe"), "invalid_outcome");
        assert_eq!(code("WX0001,positive,99"), "invalid_ct");
        assert_eq!(code("WX0001,positive,30,yesterday"), "invalid_time");
        assert!(ResultLine::is_header_or_blank(&[
            "barcode",
            "outcome",
            "ct",
            "resulted_at"
        ]));
        assert!(ResultLine::is_header_or_blank(&["", ""]));
        assert!(!ResultLine::is_header_or_blank(&["WX0001", "negative"]));
    }

    #[test]
    fn pool_sizes_follow_the_zone_level_and_never_exceed_twenty() {
        let p = PoolSizes {
            sealed: 1,
            controlled: 10,
            other: 20,
        };
        assert_eq!(p.limit(Some(ZoneLevel::Sealed)), 1);
        assert_eq!(p.limit(Some(ZoneLevel::Controlled)), 10);
        assert_eq!(p.limit(None), 20);
        let d = PoolSizes::from_policy(&Policy::default_policy());
        assert_eq!((d.sealed, d.controlled, d.other), (1, 10, 20));
        assert!(
            !PoolSizes {
                sealed: 1,
                controlled: 30,
                other: 20
            }
            .is_valid()
        );
    }

    #[test]
    fn age_bands_count_whole_years_on_the_day() {
        let born = (2012, 7, 2);
        let day = CivilDay::parse("2022-07-01").unwrap();
        assert_eq!(age_on(born, day), 9);
        assert_eq!(age_on(born, CivilDay(day.0 + 1)), 10);
        assert_eq!(civil_of(day), (2022, 7, 1));
        assert_eq!(AgeBand::of_age(2), AgeBand::Under3);
        assert_eq!(AgeBand::of_age(3), AgeBand::Child);
        assert_eq!(AgeBand::of_age(17), AgeBand::Teen);
        assert_eq!(AgeBand::of_age(60), AgeBand::Senior);
        assert_eq!(AgeBand::of_age(80), AgeBand::Elderly);
        let id = IdNumber::compose(320213, 1950, 3, 4, 12).unwrap();
        assert_eq!(birth_date(&id), Some((1950, 3, 4)));
    }

    #[test]
    fn a_tube_moves_through_six_states_with_stable_codes() {
        for s in TubeState::ALL {
            assert_eq!(TubeState::from_code(s.code()), Some(s));
        }
        assert_eq!(TubeState::from_code(6), None);
        assert_eq!(LabOutcome::from_code(2), Some(LabOutcome::Invalid));
    }
}
