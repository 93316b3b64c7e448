//! The duties that follow from a case (PROTOCOL.md §3, §4, §6): quarantine regimes with
//! their test days, release checks, daily health reports, grid tasks, zone lifting
//! conditions and arrival regimes. Every number comes from the policy's `[duties]` section
//! (see `policies/README.md`); this module only knows how to read and apply them.
//!
//! Pure like the rest of the crate: `now` is an argument and nothing here does I/O.

use crate::event::{QuarantineKind, QuarantineReason, RiskLevel, ZoneLevel};
use crate::model::TestOutcome;
use crate::time::{CivilDay, DAY, HOUR, Timestamp};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// A quarantine site's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// 集中隔离点
    Centralized,
    /// 健康驿站 (health station: home-like monitoring outside the home)
    HealthStation,
    /// 定点医院: a designated hospital, where cases are moved (closed-loop transfer) for
    /// treatment; no quarantine order is issued to it.
    DesignatedHospital,
}

impl SiteKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SiteKind::Centralized => "centralized",
            SiteKind::HealthStation => "health_station",
            SiteKind::DesignatedHospital => "designated_hospital",
        }
    }

    /// Inverse of [`SiteKind::as_str`].
    pub fn parse(s: &str) -> Option<SiteKind> {
        variant(s)
    }
}

/// What a grid worker is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum TaskKind {
    /// 门铃: door-to-door screening of a sealed building or cell.
    DoorToDoorScreening,
    /// Deliveries to a sealed household (服务上门).
    Delivery,
    /// A home-isolation check on a person under an order.
    HomeIsolationCheck,
    /// A person under an order did not report temperature and symptoms today.
    HealthReportMissed,
    /// Arrange a test (sentinel report, arrival regime, fever reported).
    ArrangeTest,
    /// A scheduled test of a quarantine plan is missing: arrange the retest.
    Retest,
    /// A resident of the cell was not sampled in a screening round.
    UnsampledResident,
    /// A member of a positive pool: arrange the single-tube retest (done when its result
    /// arrives).
    ArrangeRetest,
    /// A resident aged 60+ without a full vaccination course: visit and offer a dose (done
    /// when the full course is recorded).
    VaccinationOutreach,
    /// A confirmed case: arrange its closed-loop transfer (闭环转运) to a designated
    /// hospital (done when the transfer is recorded).
    CaseTransfer,
}

impl TaskKind {
    /// Every kind, in a fixed order.
    pub const ALL: [TaskKind; 10] = [
        TaskKind::DoorToDoorScreening,
        TaskKind::Delivery,
        TaskKind::HomeIsolationCheck,
        TaskKind::HealthReportMissed,
        TaskKind::ArrangeTest,
        TaskKind::Retest,
        TaskKind::UnsampledResident,
        TaskKind::ArrangeRetest,
        TaskKind::VaccinationOutreach,
        TaskKind::CaseTransfer,
    ];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskKind::DoorToDoorScreening => "door_to_door_screening",
            TaskKind::Delivery => "delivery",
            TaskKind::HomeIsolationCheck => "home_isolation_check",
            TaskKind::HealthReportMissed => "health_report_missed",
            TaskKind::ArrangeTest => "arrange_test",
            TaskKind::Retest => "retest",
            TaskKind::UnsampledResident => "unsampled_resident",
            TaskKind::ArrangeRetest => "arrange_retest",
            TaskKind::VaccinationOutreach => "vaccination_outreach",
            TaskKind::CaseTransfer => "case_transfer",
        }
    }

    /// Inverse of [`TaskKind::as_str`].
    pub fn parse(s: &str) -> Option<TaskKind> {
        TaskKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// Parses a snake_case name of one of the domain's serde enums.
pub fn variant<T: DeserializeOwned>(s: &str) -> Option<T> {
    serde_json::from_value(serde_json::Value::String(s.to_owned())).ok()
}

/// The snake_case name of a serde enum value.
pub fn variant_name<T: Serialize>(v: &T) -> String {
    match serde_json::to_value(v) {
        Ok(serde_json::Value::String(s)) => s,
        _ => String::new(),
    }
}

/// A quarantine regime: what an order of some reason means under the policy in force.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Regime {
    /// The regime's name in the policy file (`close_contact`, `high_risk_arrival`, …).
    pub name: String,
    /// The reason an order under this regime carries.
    pub reason: QuarantineReason,
    /// The order's kind; `None` for a regime of tests only (e.g. 3天3检), which issues no order.
    pub kind: Option<QuarantineKind>,
    /// Length of the order (or of the test period) in days.
    pub days: u32,
    /// Test days, counted from 1 = the day the order starts.
    pub test_days: Vec<u32>,
    /// The follow-on order after release (e.g. +3 days home health monitoring).
    pub then_kind: Option<QuarantineKind>,
    pub then_days: u32,
    pub then_test_days: Vec<u32>,
    /// Days an order is extended by when a scheduled test is missing at the planned end.
    pub extend_days: u32,
}

impl Regime {
    /// The planned end of an order under this regime starting at `start`.
    pub fn planned_end(&self, start: Timestamp) -> Timestamp {
        start.plus(i64::from(self.days) * DAY)
    }

    /// The Asia/Shanghai days on which tests are due, for an order (or follow-on order)
    /// starting at `start`: day 1 is the start's own day.
    pub fn test_dates(test_days: &[u32], start: Timestamp) -> Vec<(u32, CivilDay)> {
        let first = start.shanghai_day().0;
        test_days
            .iter()
            .map(|d| (*d, CivilDay(first + *d as i32 - 1)))
            .collect()
    }
}

/// When a zone level may be lifted (or stepped down).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LiftRule {
    /// Days without a new case among the zone's residents.
    pub days_without_case: u32,
    /// The last contact's exposure must be more than this many days ago.
    pub last_contact_days: Option<u32>,
    /// Every resident must have a negative test sampled within this many days.
    pub negative_round_days: Option<u32>,
    /// Step down to this level instead of lifting (第九版 high → medium → low).
    pub next_level: Option<ZoneLevel>,
}

/// The policy's `[duties]` section, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DutyRules {
    regimes: Vec<Regime>,
    arrival: BTreeMap<String, String>,
    /// A temperature at or above this (tenths of °C) is a fever.
    pub fever_tenths: u32,
    /// A person under an order who has not reported by this hour of the Shanghai day gets a
    /// missed-report task.
    pub report_by_hour: u32,
    /// Hours the community has to arrange a sentinel's test.
    pub sentinel_test_hours: u32,
    /// Default hours until a task is due.
    pub task_due_hours: u32,
    /// `open_orders = "follow"`: an order issued under an earlier policy follows this
    /// policy's regime of the same name (test days, follow-on phase, extension) once this
    /// policy is in force. The default, `"keep"`: it keeps the regime it was issued under.
    pub open_orders_follow: bool,
    lift: Vec<(ZoneLevel, LiftRule)>,
    escalate: Vec<(ZoneLevel, ZoneLevel)>,
}

impl Default for DutyRules {
    fn default() -> Self {
        DutyRules {
            regimes: Vec::new(),
            arrival: BTreeMap::new(),
            fever_tenths: 373,
            report_by_hour: 18,
            sentinel_test_hours: 48,
            task_due_hours: 24,
            open_orders_follow: false,
            lift: Vec::new(),
            escalate: Vec::new(),
        }
    }
}

impl DutyRules {
    /// Every regime, in name order.
    pub fn regimes(&self) -> &[Regime] {
        &self.regimes
    }

    /// A regime by name.
    pub fn regime(&self, name: &str) -> Option<&Regime> {
        self.regimes.iter().find(|r| r.name == name)
    }

    /// The regime for an order with this reason (the first in name order that issues an
    /// order).
    pub fn regime_for(&self, reason: QuarantineReason) -> Option<&Regime> {
        self.regimes
            .iter()
            .find(|r| r.reason == reason && r.kind.is_some())
    }

    /// The regime an arrival from an origin of this risk level follows.
    pub fn arrival_regime(&self, risk: RiskLevel) -> Option<&Regime> {
        self.arrival
            .get(&variant_name(&risk))
            .and_then(|n| self.regime(n))
    }

    /// How a zone of this level lifts, if the policy says.
    pub fn lift_rule(&self, level: ZoneLevel) -> Option<LiftRule> {
        self.lift.iter().find(|(l, _)| *l == level).map(|(_, r)| *r)
    }

    /// The level a zone of `level` is proposed to become when a case is found inside.
    pub fn escalation(&self, level: ZoneLevel) -> Option<ZoneLevel> {
        self.escalate
            .iter()
            .find(|(l, _)| *l == level)
            .map(|(_, to)| *to)
    }

    /// Whether a temperature (tenths of °C) is a fever.
    pub fn is_fever(&self, tenths: u16) -> bool {
        u32::from(tenths) >= self.fever_tenths
    }

    /// Parses the `[duties]` table; `parameter` resolves names of `[parameters]`.
    /// Errors are messages without a position (the caller adds the section's line).
    pub fn from_toml(
        value: toml::Value,
        parameter: &dyn Fn(&str) -> Option<u32>,
    ) -> Result<DutyRules, String> {
        let raw: RawDuties = value
            .try_into()
            .map_err(|e: toml::de::Error| format!("[duties]: {}", e.message().trim()))?;
        let num = |n: &Option<RawNum>, what: &str, default: u32, max: u32| -> Result<u32, String> {
            let v = match n {
                None => return Ok(default),
                Some(RawNum::Literal(v)) => *v,
                Some(RawNum::Parameter(p)) => i64::from(parameter(p).ok_or_else(|| {
                    format!("[duties] `{what}` names an unknown parameter `{p}`")
                })?),
            };
            u32::try_from(v)
                .ok()
                .filter(|v| *v <= max)
                .ok_or_else(|| format!("[duties] `{what}` must be from 0 to {max} (got {v})"))
        };
        let mut out = DutyRules {
            fever_tenths: num(&raw.fever_tenths_celsius, "fever_tenths_celsius", 373, 430)?,
            report_by_hour: num(&raw.report_by_hour, "report_by_hour", 18, 24)?,
            sentinel_test_hours: num(&raw.sentinel_test_hours, "sentinel_test_hours", 48, 720)?,
            task_due_hours: num(&raw.task_due_hours, "task_due_hours", 24, 720)?,
            open_orders_follow: match raw.open_orders.as_deref() {
                None | Some("keep") => false,
                Some("follow") => true,
                Some(other) => {
                    return Err(format!(
                        "[duties] `open_orders` must be \"keep\" or \"follow\" (got {other:?})"
                    ));
                }
            },
            ..DutyRules::default()
        };
        if out.fever_tenths < 360 {
            return Err("[duties] `fever_tenths_celsius` must be at least 360 (36.0 °C)".into());
        }
        for (name, r) in &raw.regime {
            let at = |what: &str| format!("[duties.regime.{name}] {what}");
            let reason: QuarantineReason =
                variant(&r.reason).ok_or_else(|| at(&format!("unknown reason `{}`", r.reason)))?;
            let kind = |k: &Option<String>| -> Result<Option<QuarantineKind>, String> {
                match k.as_deref() {
                    None | Some("none") => Ok(None),
                    Some(s) => variant(s)
                        .map(Some)
                        .ok_or_else(|| at(&format!("unknown kind `{s}`"))),
                }
            };
            let days = num(&Some(r.days.clone()), "days", 0, 365)?;
            let then_days = num(&r.then_days, "then_days", 0, 365)?;
            let check_days = |list: &[u32], len: u32, what: &str| -> Result<Vec<u32>, String> {
                let mut v = list.to_vec();
                v.sort_unstable();
                v.dedup();
                if v.iter().any(|d| *d == 0 || *d > len.max(1)) {
                    return Err(at(&format!(
                        "`{what}` must be days from 1 to {} (the length of the period)",
                        len.max(1)
                    )));
                }
                Ok(v)
            };
            let regime = Regime {
                name: name.clone(),
                reason,
                kind: kind(&r.kind)?,
                days,
                test_days: check_days(&r.test_days, days, "test_days")?,
                then_kind: kind(&r.then_kind)?,
                then_days,
                then_test_days: check_days(&r.then_test_days, then_days, "then_test_days")?,
                extend_days: num(&r.extend_days, "extend_days", 1, 30)?,
            };
            if regime.days == 0 {
                return Err(at("`days` must be at least 1"));
            }
            if regime.then_kind.is_some() != (regime.then_days > 0) {
                return Err(at("`then_kind` and `then_days` go together"));
            }
            out.regimes.push(regime);
        }
        for (risk, regime) in &raw.arrival {
            if variant::<RiskLevel>(risk).is_none() {
                return Err(format!(
                    "[duties.arrival] unknown risk level `{risk}` (high, medium or low)"
                ));
            }
            if out.regime(regime).is_none() {
                return Err(format!(
                    "[duties.arrival] `{risk}` names an unknown regime `{regime}`"
                ));
            }
            out.arrival.insert(risk.clone(), regime.clone());
        }
        for (level, l) in &raw.lift {
            let lv: ZoneLevel = variant(level)
                .ok_or_else(|| format!("[duties.lift] unknown zone level `{level}`"))?;
            let next_level = match &l.next_level {
                None => None,
                Some(s) => Some(
                    variant(s)
                        .ok_or_else(|| format!("[duties.lift.{level}] unknown next_level `{s}`"))?,
                ),
            };
            out.lift.push((
                lv,
                LiftRule {
                    days_without_case: num(
                        &Some(l.days_without_case.clone()),
                        "days_without_case",
                        0,
                        365,
                    )?,
                    last_contact_days: l
                        .last_contact_days
                        .as_ref()
                        .map(|n| num(&Some(n.clone()), "last_contact_days", 0, 365))
                        .transpose()?,
                    negative_round_days: l
                        .negative_round_days
                        .as_ref()
                        .map(|n| num(&Some(n.clone()), "negative_round_days", 1, 365))
                        .transpose()?,
                    next_level,
                },
            ));
        }
        for (from, to) in &raw.escalate_on_case {
            let f: ZoneLevel = variant(from)
                .ok_or_else(|| format!("[duties.escalate_on_case] unknown zone level `{from}`"))?;
            let t: ZoneLevel = variant(to)
                .ok_or_else(|| format!("[duties.escalate_on_case] unknown zone level `{to}`"))?;
            out.escalate.push((f, t));
        }
        Ok(out)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDuties {
    fever_tenths_celsius: Option<RawNum>,
    report_by_hour: Option<RawNum>,
    sentinel_test_hours: Option<RawNum>,
    task_due_hours: Option<RawNum>,
    open_orders: Option<String>,
    #[serde(default)]
    arrival: BTreeMap<String, String>,
    #[serde(default)]
    regime: BTreeMap<String, RawRegime>,
    #[serde(default)]
    lift: BTreeMap<String, RawLift>,
    #[serde(default)]
    escalate_on_case: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRegime {
    reason: String,
    kind: Option<String>,
    days: RawNum,
    #[serde(default)]
    test_days: Vec<u32>,
    then_kind: Option<String>,
    then_days: Option<RawNum>,
    #[serde(default)]
    then_test_days: Vec<u32>,
    extend_days: Option<RawNum>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawLift {
    days_without_case: RawNum,
    last_contact_days: Option<RawNum>,
    negative_round_days: Option<RawNum>,
    next_level: Option<String>,
}

/// A number written literally or as the name of a `[parameters]` entry.
#[derive(Deserialize, Clone)]
#[serde(untagged)]
enum RawNum {
    Literal(i64),
    Parameter(String),
}

// ---------------------------------------------------------------------------------------
// Release of an order.

/// What the release of an order comes to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum ReleaseCheck {
    /// Before the planned end: refused.
    TooEarly { planned_end: Timestamp },
    /// Every scheduled test was negative: release.
    Release,
    /// A scheduled test is missing or not negative: extend to `new_end`.
    Extend {
        new_end: Timestamp,
        /// Test days without a negative sample that day.
        missing_days: Vec<u32>,
        /// A positive test was sampled during the order.
        positive: bool,
    },
}

/// Whether an order may be released at `now`: not before its planned end, and only when
/// every scheduled test day has a negative sample on that Shanghai day and no sample since
/// the start was positive. `samples` are (sampling time, outcome) of the person's tests.
pub fn release_check(
    regime: &Regime,
    start: Timestamp,
    planned_end: Timestamp,
    samples: &[(Timestamp, TestOutcome)],
    now: Timestamp,
) -> ReleaseCheck {
    if now < planned_end {
        return ReleaseCheck::TooEarly { planned_end };
    }
    let positive = samples
        .iter()
        .any(|(at, o)| *at >= start && *o == TestOutcome::Positive);
    let missing_days: Vec<u32> = Regime::test_dates(&regime.test_days, start)
        .into_iter()
        .filter(|(_, day)| {
            !samples.iter().any(|(at, o)| {
                *o == TestOutcome::Negative && at.shanghai_day() == *day && *at >= start
            })
        })
        .map(|(d, _)| d)
        .collect();
    if missing_days.is_empty() && !positive {
        ReleaseCheck::Release
    } else {
        ReleaseCheck::Extend {
            new_end: now.plus(i64::from(regime.extend_days) * DAY),
            missing_days,
            positive,
        }
    }
}

/// The scheduled test days (of an order, or of an arrival's test-only regime such as 3天3检)
/// that are over at `now` without any sample taken on them: (day number, due time = the end
/// of that Asia/Shanghai day). A sample of any outcome, or still without a result, counts as
/// attending (the lab's failures are not the person's); release still needs a negative.
/// `sampled` are the sampling times of the person's tests.
pub fn missed_test_days(
    test_days: &[u32],
    start: Timestamp,
    sampled: &[Timestamp],
    now: Timestamp,
) -> Vec<(u32, Timestamp)> {
    Regime::test_dates(test_days, start)
        .into_iter()
        .map(|(d, day)| (d, day, CivilDay(day.0 + 1).start()))
        .filter(|(_, day, due)| *due <= now && !sampled.iter().any(|t| t.shanghai_day() == *day))
        .map(|(d, _, due)| (d, due))
        .collect()
}

/// A temperature in °C as tenths, refused outside 34.0–43.0 °C (a typo, or a thermometer
/// that was not on a person).
pub fn temperature_tenths(celsius: f64) -> Option<u16> {
    if !celsius.is_finite() {
        return None;
    }
    let t = (celsius * 10.0).round();
    (340.0..=430.0).contains(&t).then_some(t as u16)
}

/// When a person under an order must have reported on `day`: the policy's hour that day.
pub fn report_deadline(rules: &DutyRules, day: CivilDay) -> Timestamp {
    day.start().plus(i64::from(rules.report_by_hour) * HOUR)
}

// ---------------------------------------------------------------------------------------
// Zones.

/// What is known about a zone when its lifting is considered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZoneEvidence {
    /// When the zone got its current level.
    pub since: Timestamp,
    /// The latest case registered among its residents, if any.
    pub last_case: Option<Timestamp>,
    /// The latest exposure of a contact living in the zone, if any.
    pub last_contact_exposure: Option<Timestamp>,
    /// Residents, and how many of them have a negative test within the round window with
    /// nothing sampled after it.
    pub residents: u32,
    pub residents_negative: u32,
    /// Residents with an open case (suspected, screened, or confirmed and under treatment):
    /// transferred to a designated hospital (第九版: within 2 hours), they are not in the
    /// zone, so the negative round does not wait for them. Counted in `residents`, never in
    /// `residents_negative`. A discharged case is a resident again. Residents who died are
    /// counted here too: the round cannot wait for them.
    pub residents_in_treatment: u32,
}

/// One lifting condition and whether it holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LiftCondition {
    pub name: String,
    pub holds: bool,
    pub detail: String,
}

/// The lifting conditions of `rule` for a zone with this evidence, at `now`.
pub fn lift_conditions(rule: &LiftRule, ev: &ZoneEvidence, now: Timestamp) -> Vec<LiftCondition> {
    let mut out = Vec::new();
    let quiet_since = ev.last_case.map_or(ev.since, |c| c.max(ev.since));
    let quiet_days = (now.0 - quiet_since.0).max(0) / DAY;
    out.push(LiftCondition {
        name: "days_without_case".into(),
        holds: quiet_days >= i64::from(rule.days_without_case),
        detail: format!(
            "{quiet_days} day(s) without a new case (required {})",
            rule.days_without_case
        ),
    });
    if let Some(n) = rule.last_contact_days {
        let (holds, detail) = match ev.last_contact_exposure {
            None => (true, "no contact lives in the zone".to_owned()),
            Some(t) => {
                let d = (now.0 - t.0).max(0) / DAY;
                (
                    d > i64::from(n),
                    format!("last contact exposed {d} day(s) ago (required more than {n})"),
                )
            }
        };
        out.push(LiftCondition {
            name: "last_contact_exposure".into(),
            holds,
            detail,
        });
    }
    if let Some(n) = rule.negative_round_days {
        let required = ev.residents.saturating_sub(ev.residents_in_treatment);
        let mut detail = format!(
            "{} of {required} residents tested negative within {n} day(s)",
            ev.residents_negative
        );
        if ev.residents_in_treatment > 0 {
            detail.push_str(&format!(
                "; {} in treatment or deceased not counted",
                ev.residents_in_treatment
            ));
        }
        out.push(LiftCondition {
            name: "negative_round".into(),
            holds: ev.residents_negative >= required,
            detail,
        });
    }
    out
}

/// Whether every condition holds.
pub fn all_hold(conditions: &[LiftCondition]) -> bool {
    conditions.iter().all(|c| c.holds)
}

// ---------------------------------------------------------------------------------------
// Zone polygons.

/// Most vertices a zone polygon may have (a hand-drawn zone has tens).
pub const MAX_POLYGON_VERTICES: usize = 2_000;

/// Why a polygon was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct PolygonError(pub String);

/// A simple polygon (one ring, WGS-84 longitude/latitude), validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    ring: Vec<(f64, f64)>,
}

impl Polygon {
    /// Parses a GeoJSON `Polygon` geometry (or a `Feature` holding one) with a single
    /// outer ring, read by the `geojson` crate, then checked by [`Polygon::from_geometry`].
    pub fn from_geojson(v: &serde_json::Value) -> Result<Polygon, PolygonError> {
        let parsed: geojson::GeoJson = serde_json::from_value(v.clone())
            .map_err(|e| PolygonError(format!("not a GeoJSON geometry: {e}")))?;
        match parsed {
            geojson::GeoJson::Geometry(g) => Polygon::from_geometry(&g),
            geojson::GeoJson::Feature(f) => Polygon::from_geometry(
                f.geometry
                    .as_ref()
                    .ok_or_else(|| PolygonError("a Feature needs a geometry".into()))?,
            ),
            geojson::GeoJson::FeatureCollection(_) => Err(PolygonError(
                "the geometry must be a GeoJSON Polygon".into(),
            )),
        }
    }

    /// A `Polygon` geometry with a single outer ring: at least 4 positions, closed, finite
    /// coordinates in range, no repeated vertex and no two edges crossing (a
    /// self-intersecting ring has no well-defined inside, so it is refused rather than
    /// guessed).
    pub fn from_geometry(geometry: &geojson::Geometry) -> Result<Polygon, PolygonError> {
        let err = |m: &str| PolygonError(m.to_owned());
        let geojson::GeometryValue::Polygon { coordinates: rings } = &geometry.value else {
            return Err(err("the geometry must be a GeoJSON Polygon"));
        };
        if rings.len() != 1 {
            return Err(err("a zone polygon has exactly one ring (no holes)"));
        }
        let positions = &rings[0];
        if positions.len() < 4 {
            return Err(err(
                "a ring needs at least 4 positions (3 corners and the closing one)",
            ));
        }
        if positions.len() > MAX_POLYGON_VERTICES + 1 {
            return Err(PolygonError(format!(
                "a ring may have at most {MAX_POLYGON_VERTICES} vertices"
            )));
        }
        let mut ring = Vec::with_capacity(positions.len());
        for p in positions {
            let (x, y) = match p.as_slice() {
                [x, y, ..] => (*x, *y),
                _ => return Err(err("a position is [longitude, latitude]")),
            };
            if !(x.is_finite()
                && y.is_finite()
                && (-180.0..=180.0).contains(&x)
                && (-90.0..=90.0).contains(&y))
            {
                return Err(err(
                    "a position is out of range (longitude ±180, latitude ±90)",
                ));
            }
            ring.push((x, y));
        }
        if ring.first() != ring.last() {
            return Err(err(
                "the ring is not closed: its last position must equal its first",
            ));
        }
        ring.pop();
        for a in 0..ring.len() {
            for b in a + 1..ring.len() {
                if ring[a] == ring[b] {
                    return Err(err("the ring repeats a vertex"));
                }
            }
        }
        let n = ring.len();
        for a in 0..n {
            for b in a + 1..n {
                // Adjacent edges share a vertex by construction.
                if b == a + 1 || (a == 0 && b == n - 1) {
                    continue;
                }
                if segments_cross(ring[a], ring[(a + 1) % n], ring[b], ring[(b + 1) % n]) {
                    return Err(err("the polygon intersects itself"));
                }
            }
        }
        let area2: f64 = (0..n)
            .map(|k| {
                let (p, q) = (ring[k], ring[(k + 1) % n]);
                p.0 * q.1 - q.0 * p.1
            })
            .sum();
        if area2.abs() < 1e-12 {
            return Err(err("the polygon has no area"));
        }
        Ok(Polygon { ring })
    }

    /// The vertices (longitude, latitude), without the closing repeat of the first.
    pub fn ring(&self) -> &[(f64, f64)] {
        &self.ring
    }

    /// The polygon as a GeoJSON `Polygon` geometry (the ring closed again).
    pub fn to_geojson(&self) -> serde_json::Value {
        let mut coords: Vec<[f64; 2]> = self.ring.iter().map(|p| [p.0, p.1]).collect();
        coords.push(coords[0]);
        serde_json::json!({ "type": "Polygon", "coordinates": [coords] })
    }

    /// The centroid (longitude, latitude) of the polygon's area.
    pub fn centroid(&self) -> (f64, f64) {
        let n = self.ring.len();
        let (mut a, mut cx, mut cy) = (0.0, 0.0, 0.0);
        for k in 0..n {
            let (p, q) = (self.ring[k], self.ring[(k + 1) % n]);
            let cross = p.0 * q.1 - q.0 * p.1;
            a += cross;
            cx += (p.0 + q.0) * cross;
            cy += (p.1 + q.1) * cross;
        }
        // A validated polygon has a non-zero area.
        (cx / (3.0 * a), cy / (3.0 * a))
    }

    /// Whether a point (longitude, latitude) lies inside (even-odd rule).
    pub fn contains(&self, lon: f64, lat: f64) -> bool {
        let n = self.ring.len();
        let mut inside = false;
        let mut j = n - 1;
        for i in 0..n {
            let (xi, yi) = self.ring[i];
            let (xj, yj) = self.ring[j];
            if (yi > lat) != (yj > lat) && lon < (xj - xi) * (lat - yi) / (yj - yi) + xi {
                inside = !inside;
            }
            j = i;
        }
        inside
    }
}

fn orientation(p: (f64, f64), q: (f64, f64), r: (f64, f64)) -> f64 {
    (q.0 - p.0) * (r.1 - p.1) - (q.1 - p.1) * (r.0 - p.0)
}

fn on_segment(p: (f64, f64), q: (f64, f64), r: (f64, f64)) -> bool {
    r.0 >= p.0.min(q.0) && r.0 <= p.0.max(q.0) && r.1 >= p.1.min(q.1) && r.1 <= p.1.max(q.1)
}

/// Whether segments p1–p2 and q1–q2 touch or cross.
fn segments_cross(p1: (f64, f64), p2: (f64, f64), q1: (f64, f64), q2: (f64, f64)) -> bool {
    let d1 = orientation(q1, q2, p1);
    let d2 = orientation(q1, q2, p2);
    let d3 = orientation(p1, p2, q1);
    let d4 = orientation(p1, p2, q2);
    if ((d1 > 0.0 && d2 < 0.0) || (d1 < 0.0 && d2 > 0.0))
        && ((d3 > 0.0 && d4 < 0.0) || (d3 < 0.0 && d4 > 0.0))
    {
        return true;
    }
    (d1 == 0.0 && on_segment(q1, q2, p1))
        || (d2 == 0.0 && on_segment(q1, q2, p2))
        || (d3 == 0.0 && on_segment(p1, p2, q1))
        || (d4 == 0.0 && on_segment(p1, p2, q2))
}

#[cfg(test)]
mod tests;
