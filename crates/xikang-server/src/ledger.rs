//! The public colour ledger (issue 14): per Shanghai day, how many people were placed under a
//! fact the policy colours red or yellow, by the basis the act cited, the district they
//! live in, and who decided it (a rule, one official, two officials). Counts only — no
//! person, no id — so it is public: `GET /api/v1/ledger/colours?date=YYYY-MM-DD`. The
//! command dashboard shows it and raises an alarm when the changes without a case link pass
//! the policy's `ledger_unlinked_alarm_per_day`.
//!
//! The counts are folded from the authority log by the projection (so a restart rebuilds
//! them): an event counts a person when it gives them a new fact (`authority::ledger_act`
//! says which events can, and how to class them); which colour that fact means is asked of
//! the policy in force when the ledger is read ([`Policy::fact_colour`]).

use crate::app::projection::lock;
use crate::error::AppError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use xikang_domain::authority::{ActorKind, BasisKind, LedgerAct};
use xikang_domain::duties::variant_name;
use xikang_domain::facts::FactKind;
use xikang_domain::policy::Policy;
use xikang_domain::{AreaCode, CivilDay, Colour};

/// One class of colour change on one day.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    district: AreaCode,
    act: LedgerAct,
    /// The fact placed, ids zeroed (what the policy is asked to colour).
    fact: FactKind,
    people: u64,
}

/// The ledger's counts, per day.
#[derive(Debug, Default)]
pub struct Ledger {
    days: Mutex<BTreeMap<CivilDay, Vec<Entry>>>,
}

impl Ledger {
    /// Counts `people` residents of `district` placed under `fact` by an act of class `act`.
    pub fn note(
        &self,
        day: CivilDay,
        district: AreaCode,
        act: LedgerAct,
        fact: FactKind,
        people: u64,
    ) {
        if people == 0 {
            return;
        }
        let mut days = lock(&self.days);
        let entries = days.entry(day).or_default();
        match entries
            .iter_mut()
            .find(|e| e.district == district && e.act == act && e.fact == fact)
        {
            Some(e) => e.people += people,
            None => entries.push(Entry {
                district,
                act,
                fact,
                people,
            }),
        }
    }

    /// The day's rows under `policy`: only facts it colours red or yellow, summed by
    /// district, basis, decider and colour, in that order.
    pub fn rows(&self, day: CivilDay, policy: &Policy) -> Vec<LedgerRow> {
        let mut sum: BTreeMap<(AreaCode, BasisKind, ActorKind, Colour), u64> = BTreeMap::new();
        if let Some(entries) = lock(&self.days).get(&day) {
            for e in entries {
                let colour = match policy.fact_colour(&e.fact) {
                    Some(c @ (Colour::Red | Colour::Yellow)) => c,
                    Some(Colour::Green) | None => continue,
                };
                *sum.entry((e.district.clone(), e.act.basis, e.act.actor, colour))
                    .or_default() += e.people;
            }
        }
        sum.into_iter()
            .map(|((district, basis, actor, colour), people)| LedgerRow {
                actor: variant_name(&actor),
                basis: variant_name(&basis),
                case_linked: basis.case_linked(),
                colour,
                district: district.to_string(),
                people,
            })
            .collect()
    }
}

/// One row of the ledger (fields in alphabetical order, as every wire type).
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct LedgerRow {
    /// `rule`, `one_official` or `two_officials`.
    pub actor: String,
    /// What the act cited: `case`, `contact_decision`, `lab_result`, `arrival`, `sentinel`,
    /// `missed_test`, `zone_rule`, `follow_on`, `manual_hold`, `manual_zone`.
    pub basis: String,
    /// Whether the basis links the colour to a case.
    pub case_linked: bool,
    pub colour: Colour,
    pub district: String,
    pub people: u64,
}

/// `GET /api/v1/ledger/colours`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LedgerOut {
    /// Whether `unlinked` is above `alarm_threshold`.
    pub alarm: bool,
    /// The policy's `ledger_unlinked_alarm_per_day`.
    pub alarm_threshold: u32,
    pub date: String,
    pub policy_version: String,
    pub rows: Vec<LedgerRow>,
    pub turned_red: u64,
    pub turned_yellow: u64,
    /// People turned red or yellow on a basis without a case link.
    pub unlinked: u64,
}

/// The ledger of one Shanghai day under the policy in force.
pub fn colours_on(state: &AppState, day: CivilDay) -> LedgerOut {
    let policy = state.policy();
    let rows = state.projection.ledger.rows(day, &policy);
    let total = |c: Colour| {
        rows.iter()
            .filter(|r| r.colour == c)
            .map(|r| r.people)
            .sum()
    };
    let unlinked = rows
        .iter()
        .filter(|r| !r.case_linked)
        .map(|r| r.people)
        .sum();
    let threshold = policy.ledger_alarm_threshold();
    LedgerOut {
        alarm: unlinked > u64::from(threshold),
        alarm_threshold: threshold,
        date: iso_date(day),
        policy_version: policy.version().to_owned(),
        turned_red: total(Colour::Red),
        turned_yellow: total(Colour::Yellow),
        unlinked,
        rows,
    }
}

/// `YYYY-MM-DD` of a Shanghai day.
pub fn iso_date(day: CivilDay) -> String {
    let noon = day.start().plus(12 * 3600).to_rfc3339();
    noon.get(..10).unwrap_or_default().to_owned()
}

/// The query of `GET /ledger/colours`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct LedgerQuery {
    /// `YYYY-MM-DD` (Shanghai); today when absent.
    #[serde(default)]
    pub date: Option<String>,
}

/// `GET /api/v1/ledger/colours?date=`: public, counts only.
pub async fn get_colours(
    State(state): State<Arc<AppState>>,
    Query(q): Query<LedgerQuery>,
) -> Result<Json<LedgerOut>, AppError> {
    let day = match q.date.as_deref() {
        None => crate::now().shanghai_day(),
        Some(s) => {
            CivilDay::parse(s.trim()).map_err(|e| AppError::bad("invalid_date", e.to_string()))?
        }
    };
    Ok(Json(colours_on(&state, day)))
}
