//! Peers: other cities' instances whose signed trust lists this one fetches and keeps
//! (docs/cities.md). A peer is added with its root key (`xikang peer add NAME URL
//! --trust-anchor FILE`, or `POST /api/v1/peers`), a logged decision; its list is fetched
//! on a schedule ([`refresh_loop`]) or at once (`POST /api/v1/peers/{name}/refresh`).
//!
//! A fetched list is used only whole and only once it verifies against the pinned root:
//! a refused list (tampered, unsigned, for another jurisdiction, older than the one held)
//! changes nothing, and the last good copy stays in use, as it does while the peer is
//! down. The last good copy is kept in the store's settings, so a restart starts with it.

use crate::app::{Actor, Role, authorise};
use crate::cities::PeerRecord;
use crate::cities::http;
use crate::cities::rules::RulesDocument;
use crate::error::AppError;
use crate::extract::JsonIn;
use crate::state::{AppState, read, write};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use xikang_code::{SignedListError, TrustAnchor, TrustDocument, Verifier};
use xikang_domain::Timestamp;
use xikang_domain::event::{EventBody, NewEvent};

/// Default seconds between two fetches of every peer's list.
pub const DEFAULT_REFRESH_SECS: u64 = 300;

/// A peer's list as last accepted.
#[derive(Debug)]
pub struct PeerList {
    pub doc: TrustDocument,
    /// Its keys minus the revoked ones, parsed once.
    pub verifier: Verifier,
}

/// What this server knows of one peer's list.
#[derive(Debug, Default, Clone)]
pub struct PeerState {
    pub list: Option<Arc<PeerList>>,
    /// When the list in use was fetched.
    pub fetched_at: Option<Timestamp>,
    /// The last attempt that failed, and why (a stable code).
    pub last_error: Option<(Timestamp, &'static str)>,
    /// The peer's risk areas and entry rules as last accepted ([`crate::cities::rules`]),
    /// when they were fetched, and the last failure to fetch them.
    pub rules: Option<Arc<RulesDocument>>,
    pub rules_fetched_at: Option<Timestamp>,
    pub rules_error: Option<(Timestamp, &'static str)>,
}

/// The peers' lists, by peer name.
#[derive(Debug, Default)]
pub struct PeerLists {
    by_name: RwLock<HashMap<String, PeerState>>,
}

impl PeerLists {
    /// What is known of a peer's list.
    pub fn get(&self, name: &str) -> PeerState {
        read(&self.by_name).get(name).cloned().unwrap_or_default()
    }

    fn update(&self, name: &str, f: impl FnOnce(&mut PeerState)) {
        f(write(&self.by_name).entry(name.to_owned()).or_default());
    }
}

fn settings_key(name: &str) -> String {
    format!("peer_list:{name}")
}

fn rules_key(name: &str) -> String {
    format!("peer_rules:{name}")
}

/// Checks a rules document like a list: the anchor's signature, then not older than the
/// copy held.
fn accept_rules(
    bytes: &[u8],
    peer: &PeerRecord,
    held: Option<&RulesDocument>,
) -> Result<RulesDocument, &'static str> {
    let doc = RulesDocument::open(bytes, &peer.anchor).map_err(|e| e.code())?;
    if held.is_some_and(|h| doc.issued() < h.issued()) {
        return Err("trust_list_stale");
    }
    Ok(doc)
}

/// Checks bytes against the peer's anchor, and against the copy held: an older list than
/// the one in use is refused (`trust_list_stale`), so a replayed old list cannot bring back
/// a revoked pass.
fn accept(
    bytes: &[u8],
    peer: &PeerRecord,
    held: Option<&PeerList>,
) -> Result<PeerList, &'static str> {
    let doc = TrustDocument::open(bytes, &peer.anchor).map_err(|e| e.code())?;
    if held.is_some_and(|h| doc.issued() < h.doc.issued()) {
        return Err("trust_list_stale");
    }
    let verifier = doc
        .trust_list()
        .verifier()
        .map_err(|_| SignedListError::Malformed(String::new()).code())?;
    Ok(PeerList { doc, verifier })
}

impl AppState {
    /// Loads every peer's last good list from the store (checked again against its
    /// anchor: a copy that no longer verifies is dropped).
    pub fn load_peer_lists(&self) -> Result<(), xikang_store::StoreError> {
        let peers: Vec<PeerRecord> = read(&self.projection.cities)
            .peers
            .values()
            .cloned()
            .collect();
        for peer in peers {
            if let Some(bytes) = self.store.setting(&settings_key(&peer.name))?
                && let Ok(list) = accept(&bytes, &peer, None)
            {
                self.cities.lists.update(&peer.name, |s| {
                    s.list = Some(Arc::new(list));
                });
            }
            if let Some(bytes) = self.store.setting(&rules_key(&peer.name))?
                && let Ok(rules) = accept_rules(&bytes, &peer, None)
            {
                self.cities.lists.update(&peer.name, |s| {
                    s.rules = Some(Arc::new(rules));
                });
            }
        }
        Ok(())
    }

    /// Fetches one peer's signed list, then its signed rules; each, if it verifies, is put
    /// in use and in the store. On any failure the copy in use is unchanged and the
    /// failure's code kept; the list's failure is the answer.
    pub async fn refresh_peer(&self, peer: &PeerRecord) -> Result<PeerState, AppError> {
        let list = self.refresh_list(peer).await;
        self.refresh_rules(peer).await;
        list
    }

    /// Fetches one peer's rules (risk areas, entry rules): taken whole and verified, or
    /// the last good copy stays and the failure's code is kept.
    async fn refresh_rules(&self, peer: &PeerRecord) {
        let now = crate::now();
        let fetched = http::request(&peer.url, "GET", "/api/v1/trust/rules", None).await;
        let outcome = match fetched {
            Ok(a) if a.status == 200 => {
                let held = self.cities.lists.get(&peer.name).rules;
                accept_rules(&a.body, peer, held.as_deref()).map(|doc| (doc, a.body))
            }
            _ => Err("peer_unreachable"),
        };
        match outcome {
            Ok((doc, bytes)) => {
                let store = self.store.clone();
                let key = rules_key(&peer.name);
                let kept =
                    tokio::task::spawn_blocking(move || store.put_setting(&key, &bytes)).await;
                if !matches!(kept, Ok(Ok(()))) {
                    tracing::warn!(peer = %peer.name, "a peer's rules were not kept in the store");
                }
                self.cities.lists.update(&peer.name, |s| {
                    s.rules = Some(Arc::new(doc));
                    s.rules_fetched_at = Some(now);
                    s.rules_error = None;
                });
            }
            Err(code) => {
                tracing::warn!(peer = %peer.name, code, "peer rules refused or unreachable");
                self.cities
                    .lists
                    .update(&peer.name, |s| s.rules_error = Some((now, code)));
            }
        }
    }

    async fn refresh_list(&self, peer: &PeerRecord) -> Result<PeerState, AppError> {
        let now = crate::now();
        let fetched = http::request(&peer.url, "GET", "/api/v1/trust/signed", None).await;
        let outcome = match fetched {
            Err(e) => {
                tracing::warn!(peer = %peer.name, error = %e, "peer list fetch failed");
                Err(("peer_unreachable", true))
            }
            Ok(a) if a.status != 200 => Err(("peer_unreachable", true)),
            Ok(a) => {
                let held = self.cities.lists.get(&peer.name).list;
                accept(&a.body, peer, held.as_deref())
                    .map(|list| (list, a.body))
                    .map_err(|code| (code, false))
            }
        };
        match outcome {
            Ok((list, bytes)) => {
                let store = self.store.clone();
                let key = settings_key(&peer.name);
                tokio::task::spawn_blocking(move || store.put_setting(&key, &bytes)).await??;
                self.cities.lists.update(&peer.name, |s| {
                    s.list = Some(Arc::new(list));
                    s.fetched_at = Some(now);
                    s.last_error = None;
                });
                Ok(self.cities.lists.get(&peer.name))
            }
            Err((code, unreachable)) => {
                tracing::warn!(peer = %peer.name, code, "peer list refused or unreachable");
                self.cities
                    .lists
                    .update(&peer.name, |s| s.last_error = Some((now, code)));
                let message = "the peer's list was not taken; the last good copy stays in use";
                Err(if unreachable {
                    AppError::Unavailable {
                        code,
                        message: message.into(),
                    }
                } else {
                    AppError::Unprocessable {
                        code,
                        message: message.into(),
                        details: None,
                    }
                })
            }
        }
    }
}

/// Fetches every peer's list every `secs` seconds.
pub async fn refresh_loop(state: Arc<AppState>, secs: u64) {
    if secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
    loop {
        tick.tick().await;
        let peers: Vec<PeerRecord> = read(&state.projection.cities)
            .peers
            .values()
            .cloned()
            .collect();
        for peer in peers {
            // A failure is recorded in the peer's state and logged; the next tick retries.
            let _ = state.refresh_peer(&peer).await;
        }
    }
}

/// `POST /api/v1/peers`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeerIn {
    pub name: String,
    pub url: String,
    /// The peer's root key, as its `GET /api/v1/trust/anchor` or `xikang key anchor` gives it.
    #[schema(value_type = Object)]
    pub anchor: TrustAnchor,
}

/// A peer and its list's state.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PeerOut {
    pub name: String,
    pub url: String,
    pub jurisdiction: String,
    pub anchor_kid: String,
    pub added_at: String,
    /// The list in use: when it was signed and fetched, how many keys and revocations.
    pub list_issued_at: Option<String>,
    pub fetched_at: Option<String>,
    pub keys: usize,
    pub revocations: usize,
    /// The last failed fetch: its code and when.
    pub last_error: Option<String>,
    pub last_error_at: Option<String>,
    /// The peer's rules in use: when signed and fetched, how many risk areas, and the last
    /// failure to fetch them.
    pub rules_issued_at: Option<String>,
    pub rules_fetched_at: Option<String>,
    pub risk_areas: usize,
    pub rules_error: Option<String>,
}

fn peer_out(state: &AppState, p: &PeerRecord) -> PeerOut {
    let s = state.cities.lists.get(&p.name);
    PeerOut {
        name: p.name.clone(),
        url: p.url.clone(),
        jurisdiction: p.anchor.jurisdiction.clone(),
        anchor_kid: p.anchor.kid.clone(),
        added_at: p.added_at.to_rfc3339(),
        list_issued_at: s.list.as_ref().map(|l| l.doc.issued_at.clone()),
        fetched_at: s.fetched_at.map(Timestamp::to_rfc3339),
        keys: s.list.as_ref().map_or(0, |l| l.doc.keys.len()),
        revocations: s.list.as_ref().map_or(0, |l| l.doc.revoked.len()),
        last_error: s.last_error.map(|e| e.1.to_owned()),
        last_error_at: s.last_error.map(|e| e.0.to_rfc3339()),
        rules_issued_at: s.rules.as_ref().map(|r| r.issued_at.clone()),
        rules_fetched_at: s.rules_fetched_at.map(Timestamp::to_rfc3339),
        risk_areas: s.rules.as_ref().map_or(0, |r| r.risk_areas.len()),
        rules_error: s.rules_error.map(|e| e.1.to_owned()),
    }
}

/// Peers are the city's: only a city-level admin reads or changes them.
pub fn peer_admin(state: &AppState, caller: &Actor, what: &'static str) -> Result<(), AppError> {
    caller.require(&[Role::Admin], what)?;
    authorise::whole_city(
        state,
        caller,
        "peers are the city's, kept to a city-level admin",
    )
}

/// A peer's name: 1 to 40 of `a-z0-9-`.
fn valid_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// Checks a peer's definition; the event that records it.
pub fn peer_event(input: &PeerIn, own_jurisdiction: &str) -> Result<EventBody, AppError> {
    if !valid_name(&input.name) {
        return Err(AppError::bad(
            "invalid_peer_name",
            "a peer's name is 1 to 40 of a-z, 0-9 and -",
        ));
    }
    if http::parse_base(&input.url).is_none() {
        return Err(AppError::bad(
            "invalid_peer_url",
            "a peer's URL is http://host:port (reach TLS peers through a proxy)",
        ));
    }
    let anchor = TrustAnchor::from_json(&serde_json::to_string(&input.anchor).unwrap_or_default())
        .map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    if anchor.jurisdiction == own_jurisdiction
        || xikang_domain::AreaCode::parse(&anchor.jurisdiction).is_err()
    {
        return Err(AppError::bad(
            "invalid_peer_jurisdiction",
            "a peer is another city: a six-digit jurisdiction other than this one",
        ));
    }
    Ok(EventBody::PeerAdded {
        name: input.name.clone(),
        url: input.url.trim_end_matches('/').to_owned(),
        jurisdiction: anchor.jurisdiction,
        anchor_kid: anchor.kid,
        anchor_public_key: anchor.public_key,
    })
}

/// `POST /api/v1/peers`: a city-level admin adds (or re-points) a peer; logged
/// (`peer_added`). A jurisdiction already served by another peer name is refused
/// (`peer_jurisdiction_taken`): each city has one list.
pub async fn post_peer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<PeerIn>,
) -> Result<(StatusCode, Json<PeerOut>), AppError> {
    peer_admin(&state, &caller, "adding peers")?;
    let input = input.get()?;
    let body = peer_event(&input, &state.config.jurisdiction)?;
    if let EventBody::PeerAdded { jurisdiction, .. } = &body {
        let taken = read(&state.projection.cities)
            .peer_for(jurisdiction)
            .is_some_and(|p| p.name != input.name);
        if taken {
            return Err(AppError::Conflict {
                code: "peer_jurisdiction_taken",
                message: "another peer already speaks for this jurisdiction".into(),
            });
        }
    }
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: "peer city added".into(),
            body,
        }])
        .await?;
    let peer = read(&state.projection.cities)
        .peers
        .get(&input.name)
        .cloned()
        .ok_or_else(|| AppError::Internal("a peer's event was not applied".into()))?;
    tracing::info!(peer = %peer.name, "peer added");
    Ok((StatusCode::CREATED, Json(peer_out(&state, &peer))))
}

/// `GET /api/v1/peers`: every peer and its list's state (city-level admins).
pub async fn list_peers(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<Vec<PeerOut>>, AppError> {
    peer_admin(&state, &caller, "reading peers")?;
    Ok(Json(peers_out(&state)))
}

/// `POST /api/v1/peers/{name}/refresh`: fetch a peer's list now (city-level admins). 422
/// with the list's refusal code, 503 `peer_unreachable`; either way the last good copy
/// stays in use.
pub async fn post_refresh(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(name): Path<String>,
) -> Result<Json<PeerOut>, AppError> {
    peer_admin(&state, &caller, "refreshing peers")?;
    let peer = read(&state.projection.cities)
        .peers
        .get(&name)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_peer", "no peer of this name"))?;
    state.refresh_peer(&peer).await?;
    Ok(Json(peer_out(&state, &peer)))
}

/// One peer in full: its state, the keys of its list, and its rules in use.
#[derive(Debug, Serialize)]
pub struct PeerDetailOut {
    #[serde(flatten)]
    pub peer: PeerOut,
    pub keys_listed: Vec<xikang_code::ListedKey>,
    pub rules: Option<RulesDocument>,
}

/// One peer (the admin page's), or `unknown_peer`.
pub fn peer_detail(state: &AppState, name: &str) -> Result<PeerDetailOut, AppError> {
    let peer = read(&state.projection.cities)
        .peers
        .get(name)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_peer", "no peer of this name"))?;
    let s = state.cities.lists.get(name);
    Ok(PeerDetailOut {
        peer: peer_out(state, &peer),
        keys_listed: s
            .list
            .as_ref()
            .map(|l| l.doc.keys.clone())
            .unwrap_or_default(),
        rules: s.rules.as_deref().cloned(),
    })
}

/// Every peer, as the admin page lists them.
pub fn peers_out(state: &AppState) -> Vec<PeerOut> {
    let peers: Vec<PeerRecord> = read(&state.projection.cities)
        .peers
        .values()
        .cloned()
        .collect();
    peers.iter().map(|p| peer_out(state, p)).collect()
}

/// `GET /api/v1/peers/{name}`: one peer, its list's keys and its rules in use (city-level
/// admins).
pub async fn get_peer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path(name): Path<String>,
) -> Result<Json<PeerDetailOut>, AppError> {
    peer_admin(&state, &caller, "reading peers")?;
    Ok(Json(peer_detail(&state, &name)?))
}
