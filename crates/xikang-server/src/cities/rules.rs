//! What a city publishes beside its keys for its peers' residents and officials
//! (docs/cities.md): its **risk areas** (中高风险地区: the communities its zones cover and
//! the areas of its own jurisdiction on its origin risk list) and the **entry rules** its
//! venues apply, by category. Signed by the root key like the trust list
//! (`GET /api/v1/trust/rules`, COSE_Sign1 over JSON); a peer fetches it with the trust list
//! on the same schedule, takes it only whole and verified, keeps the last good copy (in
//! the store's settings too) and shows it (`GET /api/v1/peer-rules`, for everyone;
//! `GET /api/v1/peers/{name}`, for admins).
//!
//! What a peer's rules are used for here: an arrival registered from an area a peer lists
//! as a risk area comes under **this** city's regime for that risk (the stricter of our own
//! list and the peer's: [`peer_risk`]). A peer's entry rules are information for our
//! residents travelling there; they never decide at our doors, where our own policy does.

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use xikang_code::{SignedListError, TrustAnchor, open_json, sign_json};
use xikang_domain::event::{RiskLevel, ZoneLevel};
use xikang_domain::policy::Policy;
use xikang_domain::{AreaCode, Colour, GridCell, Timestamp};

/// A risk area a city publishes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RiskArea {
    /// GB/T 2260 code of the area (6, 9 or 12 digits), inside the publishing city.
    pub code: String,
    pub name: String,
    pub risk: RiskLevel,
}

/// The rule at a venue category's door.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EntryRule {
    /// The category (`supermarket`, …), or `*` for every category not listed.
    pub category: String,
    /// The worst colour admitted.
    pub admit: Colour,
    /// A negative test at most this many hours old, if required.
    pub max_test_age_hours: Option<u32>,
    /// Or a sampling receipt at most this many hours old.
    pub sampling_receipt_hours: Option<u32>,
    /// Whether a vaccination is required at the door.
    pub vaccination_required: bool,
}

/// The signed rules document's contents.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RulesDocument {
    pub jurisdiction: String,
    /// When it was signed, RFC 3339: a peer keeps the newest it has seen.
    pub issued_at: String,
    /// The policy version the entry rules come from.
    pub policy: String,
    pub risk_areas: Vec<RiskArea>,
    pub entry_rules: Vec<EntryRule>,
}

impl RulesDocument {
    /// When it was signed (0 when unreadable: never newer than a held copy).
    pub fn issued(&self) -> Timestamp {
        Timestamp::parse_rfc3339(&self.issued_at).unwrap_or(Timestamp(0))
    }

    /// Checks a signed rules document against the peer's anchor: its root's signature,
    /// its jurisdiction, and every risk area inside that jurisdiction.
    pub fn open(bytes: &[u8], anchor: &TrustAnchor) -> Result<RulesDocument, SignedListError> {
        let doc: RulesDocument = open_json(bytes, anchor)?;
        let city = AreaCode::parse(&anchor.jurisdiction)
            .map_err(|_| SignedListError::WrongJurisdiction)?;
        let foreign = doc.jurisdiction != anchor.jurisdiction
            || doc.risk_areas.iter().any(|a| !inside(&a.code, &city));
        if foreign {
            return Err(SignedListError::WrongJurisdiction);
        }
        Ok(doc)
    }

    /// The risk this document gives an origin: that of the areas containing it (the
    /// strictest when several do), `None` when none does.
    pub fn risk_of(&self, origin: &str) -> Option<RiskLevel> {
        self.risk_areas
            .iter()
            .filter(|a| AreaCode::parse(&a.code).is_ok_and(|area| inside(origin, &area)))
            .map(|a| a.risk)
            .min_by_key(|r| rank(*r))
    }
}

/// Whether `code` lies in `area` (or is it).
fn inside(code: &str, area: &AreaCode) -> bool {
    AreaCode::parse(code).is_ok() && code.starts_with(area.prefix())
}

/// Strictest first.
fn rank(r: RiskLevel) -> u8 {
    match r {
        RiskLevel::High => 0,
        RiskLevel::Medium => 1,
        RiskLevel::Low => 2,
    }
}

/// The stricter of two risks.
pub fn stricter(a: RiskLevel, b: RiskLevel) -> RiskLevel {
    if rank(a) <= rank(b) { a } else { b }
}

fn zone_risk(level: ZoneLevel) -> RiskLevel {
    match level {
        ZoneLevel::Sealed | ZoneLevel::High => RiskLevel::High,
        ZoneLevel::Controlled | ZoneLevel::Medium => RiskLevel::Medium,
        ZoneLevel::Precaution | ZoneLevel::Low => RiskLevel::Low,
    }
}

/// The door rules of a policy, one per category it lists and `*` for the others.
pub fn entry_rules(policy: &Policy) -> Vec<EntryRule> {
    let rule = |category: &str, c: &xikang_domain::VenueCategory| {
        let req = policy.venue_requirement(c);
        EntryRule {
            category: category.to_owned(),
            admit: policy.admits(c),
            max_test_age_hours: req.map(|r| r.max_test_age_hours),
            sampling_receipt_hours: req.and_then(|r| r.sampling_receipt_hours),
            vaccination_required: policy.vaccination_required(c).is_some(),
        }
    };
    let mut rules: Vec<EntryRule> = policy.categories().map(|c| rule(c.as_str(), c)).collect();
    rules.sort_by(|a, b| a.category.cmp(&b.category));
    // A category the policy does not list gets its defaults: a name no policy uses
    // stands for them.
    if let Ok(other) = xikang_domain::VenueCategory::parse("other_unlisted") {
        rules.push(rule("*", &other));
    }
    rules
}

impl AppState {
    /// This city's risk areas now: the communities whose residents live in a zone (the
    /// strictest zone's risk), and the areas of this jurisdiction on the origin risk list.
    /// Blocking (reads the origin list).
    pub fn own_risk_areas(&self) -> Result<Vec<RiskArea>, xikang_store::StoreError> {
        let mut areas: BTreeMap<String, RiskArea> = BTreeMap::new();
        let zones = crate::state::read(&self.projection.zones);
        if !zones.is_empty() {
            let mut cells: HashMap<GridCell, RiskLevel> = HashMap::new();
            for (level, list) in zones.values() {
                for c in list {
                    let r = zone_risk(*level);
                    let e = cells.entry(*c).or_insert(r);
                    *e = stricter(*e, r);
                }
            }
            let mut by_community: HashMap<u32, RiskLevel> = HashMap::new();
            for slot in crate::state::read(&self.projection.people).iter() {
                if !slot.is_used() {
                    continue;
                }
                if let Some(r) = cells.get(&slot.home_cell) {
                    let e = by_community.entry(slot.community).or_insert(*r);
                    *e = stricter(*e, *r);
                }
            }
            for (ix, risk) in by_community {
                if let Some(code) = self.projection.communities.get(ix) {
                    areas.insert(
                        code.as_str().to_owned(),
                        RiskArea {
                            code: code.as_str().to_owned(),
                            name: String::new(),
                            risk,
                        },
                    );
                }
            }
        }
        let city = AreaCode::parse(&self.config.jurisdiction)
            .map_err(|e| xikang_store::StoreError::Corrupt(e.to_string()))?;
        for o in self.store.origins()? {
            if !inside(&o.code, &city) {
                continue;
            }
            let e = areas.entry(o.code.clone()).or_insert(RiskArea {
                code: o.code.clone(),
                name: o.name.clone(),
                risk: o.risk,
            });
            e.risk = stricter(e.risk, o.risk);
            if e.name.is_empty() {
                e.name = o.name;
            }
        }
        Ok(areas.into_values().collect())
    }

    /// The rules document as of `now`. Blocking.
    pub fn rules_document(
        &self,
        now: Timestamp,
    ) -> Result<RulesDocument, xikang_store::StoreError> {
        let policy = self.policy();
        Ok(RulesDocument {
            jurisdiction: self.config.jurisdiction.clone(),
            issued_at: now.to_rfc3339(),
            policy: policy.version().to_owned(),
            risk_areas: self.own_risk_areas()?,
            entry_rules: entry_rules(&policy),
        })
    }
}

/// Signs a rules document with the city's root key.
pub fn sign(state: &AppState, doc: &RulesDocument) -> Vec<u8> {
    sign_json(&state.cities.root, doc)
}

/// `GET /api/v1/trust/rules`: this city's risk areas and entry rules, signed by its root
/// key (`application/cose`). Public: peers fetch it, and both are public notices.
pub async fn get_signed(
    State(state): State<Arc<AppState>>,
) -> Result<Response, crate::error::AppError> {
    let s = state.clone();
    let doc = tokio::task::spawn_blocking(move || s.rules_document(crate::now())).await??;
    let mut r = sign(&state, &doc).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/cose; cose-type=\"cose-sign1\""),
    );
    r.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(r)
}

/// A peer's published rules, as shown here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeerRulesOut {
    pub peer: String,
    pub jurisdiction: String,
    /// When the peer signed the copy in use, and when it was fetched.
    pub issued_at: String,
    pub fetched_at: Option<String>,
    pub policy: String,
    pub risk_areas: Vec<RiskArea>,
    pub entry_rules: Vec<EntryRule>,
}

/// Every peer's last good rules, for whoever asks (residents planning a trip, venues).
pub fn peer_rules(state: &AppState) -> Vec<PeerRulesOut> {
    let peers: Vec<String> = crate::state::read(&state.projection.cities)
        .peers
        .keys()
        .cloned()
        .collect();
    peers
        .into_iter()
        .filter_map(|name| {
            let s = state.cities.lists.get(&name);
            let doc = s.rules?;
            Some(PeerRulesOut {
                peer: name,
                jurisdiction: doc.jurisdiction.clone(),
                issued_at: doc.issued_at.clone(),
                fetched_at: s.rules_fetched_at.map(Timestamp::to_rfc3339),
                policy: doc.policy.clone(),
                risk_areas: doc.risk_areas.clone(),
                entry_rules: doc.entry_rules.clone(),
            })
        })
        .collect()
}

/// `GET /api/v1/peer-rules`: the peer cities' risk areas and entry rules, as last fetched
/// and verified. Public, like the notices they are.
pub async fn list_peer_rules(State(state): State<Arc<AppState>>) -> Json<Vec<PeerRulesOut>> {
    Json(peer_rules(&state))
}

/// The risk a peer's published list gives an origin, with the peer's name: `None` when
/// the origin is in no peer's jurisdiction, or that peer lists no area containing it.
pub fn peer_risk(state: &AppState, origin: &str) -> Option<(RiskLevel, String)> {
    let peers: Vec<(String, String)> = crate::state::read(&state.projection.cities)
        .peers
        .values()
        .map(|p| (p.name.clone(), p.anchor.jurisdiction.clone()))
        .collect();
    peers.into_iter().find_map(|(name, jurisdiction)| {
        let city = AreaCode::parse(&jurisdiction).ok()?;
        if !inside(origin, &city) {
            return None;
        }
        let doc = state.cities.lists.get(&name).rules?;
        Some((doc.risk_of(origin)?, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(areas: &[(&str, RiskLevel)]) -> RulesDocument {
        RulesDocument {
            jurisdiction: "320500".into(),
            issued_at: "2026-12-07T00:00:00Z".into(),
            policy: "p".into(),
            risk_areas: areas
                .iter()
                .map(|(c, r)| RiskArea {
                    code: (*c).into(),
                    name: String::new(),
                    risk: *r,
                })
                .collect(),
            entry_rules: Vec::new(),
        }
    }

    #[test]
    fn an_origin_takes_the_strictest_risk_of_the_areas_that_contain_it() {
        let d = doc(&[
            ("320505", RiskLevel::Medium),
            ("320505001001", RiskLevel::High),
            ("320506", RiskLevel::Low),
        ]);
        let cases = [
            ("320505001001", Some(RiskLevel::High)),
            ("320505001", Some(RiskLevel::Medium)),
            ("320505", Some(RiskLevel::Medium)),
            ("320506002", Some(RiskLevel::Low)),
            ("320507", None),
            ("320500", None),
            ("not-a-code", None),
        ];
        for (origin, want) in cases {
            assert_eq!(d.risk_of(origin), want, "{origin}");
        }
    }

    #[test]
    fn a_rules_document_is_refused_unless_signed_by_the_anchor_and_inside_its_city() {
        let root = xikang_code::SigningKey::from_secret(
            [3; 32],
            "320500",
            Timestamp(0),
            Timestamp(4_000_000_000),
        );
        let anchor = TrustAnchor::of(&root);
        let good = doc(&[("320505", RiskLevel::High)]);
        let bytes = sign_json(&root, &good);
        assert_eq!(RulesDocument::open(&bytes, &anchor), Ok(good));
        let foreign = sign_json(&root, &doc(&[("320205", RiskLevel::High)]));
        assert_eq!(
            RulesDocument::open(&foreign, &anchor).unwrap_err().code(),
            "trust_list_wrong_jurisdiction"
        );
        let mut tampered = bytes.clone();
        let at = tampered.len() - 80;
        tampered[at] ^= 1;
        assert!(RulesDocument::open(&tampered, &anchor).is_err());
        let other = xikang_code::SigningKey::from_secret(
            [4; 32],
            "320500",
            Timestamp(0),
            Timestamp(4_000_000_000),
        );
        assert_eq!(
            RulesDocument::open(&sign_json(&other, &doc(&[])), &anchor)
                .unwrap_err()
                .code(),
            "trust_list_wrong_root"
        );
    }
}
