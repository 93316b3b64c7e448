//! 协查 requests between cities (docs/cities.md). A tracer here asks a peer city for
//! help with a case — "case C stayed at these places in your city at these times" —
//! with `POST /api/v1/assist-requests`; the request carries only what the peer needs (the
//! case's id here, places and times there: no name, no phone, no ID number), is signed by
//! this city's root key and queued. [`deliver_pending`] posts it to the peer's inbox
//! (`POST /api/v1/assist-requests/inbox`) at once and again every `assist_retry_secs`
//! until the peer takes it, so a peer that is down gets it when it is back. The peer
//! checks the signature against the root it pinned for us (an unknown signer is refused,
//! `assist_unknown_peer`), its tracers see the request as a task
//! (`GET /api/v1/assist-requests?direction=in`), act, and answer with the outcome
//! (`POST /api/v1/assist-requests/{id}/answer`), which travels back the same way. Both
//! logs record each step (`assist_sent`, `assist_received`, `assist_answered`,
//! `assist_answer_received`, `assist_delivered`); both lists show the SLA: hours to the
//! first answer against the policy's `assist_sla_hours` (24 when it does not say).
//!
//! A request of the "people" kind names close contacts of the case who are registered in
//! the peer city: each by what the peer's register can resolve (an ID number, or the
//! peer's own pseudonym read from a code of theirs), which travels only inside the signed
//! message. Neither log holds it: each person is logged by a keyed hash of it
//! ([`person_ref`]), and the identifiers wait for delivery in the store's settings, erased
//! once the peer took them. The peer resolves each person in its register and, in the
//! same commit as the request, puts every one found on its tracers' follow-up list; its
//! answer says, by reference, what was done about each.

use crate::app::{Actor, Role, authorise};
use crate::cities::{PeerRecord, http};
use crate::error::AppError;
use crate::extract::{Id, JsonIn, parse_id};
use crate::state::{AppState, read};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::sync::Arc;
use xikang_code::{SignedListError, open_json, sign_json, signer_kid};
use xikang_domain::event::{
    AssistOutcome, AssistPerson, AssistPlace, EventBody, NewEvent, StoredEvent,
};
use xikang_domain::time::HOUR;
use xikang_domain::{CaseId, EventSeq, Timestamp};

mod people;
use people::{
    Identifiers, identifiers_key, named_people, people_rows, person_outcomes, resolve_people,
};
pub use people::{NamedPerson, PersonIn, PersonRowOut, person_ref};

/// Who sends, reads and answers 协查 requests.
pub const TRACERS: &[Role] = &[Role::Tracer, Role::Admin];
/// Default seconds between two delivery attempts of what is queued.
pub const DEFAULT_RETRY_SECS: u64 = 60;
/// At most this many places in one request.
pub const MAX_PLACES: usize = 50;
/// At most this many people in one request.
pub const MAX_PEOPLE: usize = 200;
/// What may be said of one person in an answer.
pub const PERSON_OUTCOMES: &[&str] = &[
    "not_registered",
    "found",
    "notified",
    "tested",
    "designated",
    "quarantined",
    "not_reachable",
];

/// An answer, on either side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub outcome: String,
    pub traced: u32,
    pub answered_at: Timestamp,
    pub people: Vec<AssistOutcome>,
}

/// A request this city sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub id: EventSeq,
    pub peer: String,
    pub case: CaseId,
    pub places: Vec<AssistPlace>,
    pub people: Vec<AssistPerson>,
    pub sent_at: Timestamp,
    pub delivered_at: Option<Timestamp>,
    pub answer: Option<Answer>,
}

/// A request a peer sent here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incoming {
    pub id: EventSeq,
    pub peer: String,
    pub remote: u64,
    pub case: String,
    pub places: Vec<AssistPlace>,
    pub people: Vec<AssistPerson>,
    pub received_at: Timestamp,
    pub answer: Option<Answer>,
    /// The `assist_answered` event, and when it reached the peer.
    pub answer_event: Option<EventSeq>,
    pub answer_delivered_at: Option<Timestamp>,
}

/// Both directions, folded from the log.
#[derive(Debug, Default)]
pub struct Assists {
    pub out: BTreeMap<EventSeq, Outgoing>,
    pub inbox: BTreeMap<EventSeq, Incoming>,
}

impl Assists {
    /// Folds one 协查 event; says whether it was one.
    pub fn apply(&mut self, e: &StoredEvent) -> bool {
        match &e.body {
            EventBody::AssistSent {
                peer,
                case,
                places,
                people,
            } => {
                self.out.insert(
                    e.seq,
                    Outgoing {
                        id: e.seq,
                        peer: peer.clone(),
                        case: *case,
                        places: places.clone(),
                        people: people.clone(),
                        sent_at: e.at,
                        delivered_at: None,
                        answer: None,
                    },
                );
            }
            EventBody::AssistReceived {
                peer,
                remote,
                case,
                places,
                people,
                ..
            } => {
                self.inbox.insert(
                    e.seq,
                    Incoming {
                        id: e.seq,
                        peer: peer.clone(),
                        remote: *remote,
                        case: case.clone(),
                        places: places.clone(),
                        people: people.clone(),
                        received_at: e.at,
                        answer: None,
                        answer_event: None,
                        answer_delivered_at: None,
                    },
                );
            }
            EventBody::AssistAnswered {
                request,
                outcome,
                traced,
                people,
            } => {
                if let Some(i) = self.inbox.get_mut(request) {
                    i.answer.get_or_insert(Answer {
                        outcome: outcome.clone(),
                        traced: *traced,
                        answered_at: e.at,
                        people: people.clone(),
                    });
                    i.answer_event.get_or_insert(e.seq);
                }
            }
            EventBody::AssistAnswerReceived {
                request,
                outcome,
                traced,
                answered_at,
                people,
            } => {
                if let Some(o) = self.out.get_mut(request) {
                    o.answer.get_or_insert(Answer {
                        outcome: outcome.clone(),
                        traced: *traced,
                        answered_at: *answered_at,
                        people: people.clone(),
                    });
                }
            }
            EventBody::AssistDelivered { message } => {
                if let Some(o) = self.out.get_mut(message) {
                    o.delivered_at.get_or_insert(e.at);
                } else if let Some(i) = self
                    .inbox
                    .values_mut()
                    .find(|i| i.answer_event == Some(*message))
                {
                    i.answer_delivered_at.get_or_insert(e.at);
                }
            }
            _ => return false,
        }
        true
    }
}

/// What travels between the cities, signed by the sender's root key.
#[derive(Debug, Clone, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "message", rename_all = "snake_case", deny_unknown_fields)]
pub enum Message {
    Request {
        from: String,
        to: String,
        /// The request's number at the sender.
        id: u64,
        case: String,
        places: Vec<AssistPlace>,
        sent_at: Timestamp,
        /// The "people" kind: who, by what the receiver's register resolves.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<NamedPerson>,
    },
    Answer {
        from: String,
        to: String,
        /// The request's number at the requester.
        request: u64,
        outcome: String,
        traced: u32,
        answered_at: Timestamp,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        people: Vec<AssistOutcome>,
    },
}

/// The signed message as posted: the COSE_Sign1 bytes in hex.
#[derive(Debug, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Signed {
    pub signed: String,
}

fn peer_named(state: &AppState, name: &str) -> Option<PeerRecord> {
    read(&state.projection.cities).peers.get(name).cloned()
}

/// What is queued: requests not yet taken by their peer (with the settings key of their
/// people's identifiers, if any), answers not yet taken back.
fn pending(state: &AppState) -> Vec<(EventSeq, String, Message, Option<String>)> {
    let own = state.config.jurisdiction.clone();
    let records = read(&state.projection.cities);
    let to = |peer: &str| {
        records
            .peers
            .get(peer)
            .map(|p| p.anchor.jurisdiction.clone())
    };
    let mut out = Vec::new();
    for o in records
        .assists
        .out
        .values()
        .filter(|o| o.delivered_at.is_none())
    {
        if let Some(to) = to(&o.peer) {
            let message = Message::Request {
                from: own.clone(),
                to,
                id: o.id.0,
                case: o.case.to_string(),
                places: o.places.clone(),
                sent_at: o.sent_at,
                people: Vec::new(),
            };
            let identifiers = (!o.people.is_empty()).then(|| identifiers_key(&o.people));
            out.push((o.id, o.peer.clone(), message, identifiers));
        }
    }
    for i in records.assists.inbox.values() {
        let (Some(a), Some(event), None) = (&i.answer, i.answer_event, i.answer_delivered_at)
        else {
            continue;
        };
        if let Some(to) = to(&i.peer) {
            let message = Message::Answer {
                from: own.clone(),
                to,
                request: i.remote,
                outcome: a.outcome.clone(),
                traced: a.traced,
                answered_at: a.answered_at,
                people: a.people.clone(),
            };
            out.push((event, i.peer.clone(), message, None));
        }
    }
    out
}

/// Posts every queued request and answer to its peer; each one the peer takes is logged
/// as delivered. One delivery round at a time.
pub async fn deliver_pending(state: &AppState) {
    let _one = state.cities.delivery.lock().await;
    for (event, peer, mut message, identifiers) in pending(state) {
        let Some(peer) = peer_named(state, &peer) else {
            continue;
        };
        if let (Some(key), Message::Request { people, .. }) = (&identifiers, &mut message) {
            let store = state.store.clone();
            let k = key.clone();
            let kept = tokio::task::spawn_blocking(move || store.setting(&k)).await;
            let found: Option<Identifiers> = match kept {
                Ok(Ok(Some(bytes))) if !bytes.is_empty() => serde_json::from_slice(&bytes).ok(),
                _ => None,
            };
            let Some(found) = found else {
                tracing::warn!(message = %event, "协查 request's people are not kept: not sent");
                continue;
            };
            *people = found;
        }
        let signed = Signed {
            signed: hex::encode(sign_json(&state.cities.root, &message)),
        };
        let body = serde_json::to_vec(&signed).unwrap_or_default();
        let taken = matches!(
            http::request(&peer.url, "POST", "/api/v1/assist-requests/inbox", Some(&body)).await,
            Ok(a) if a.status == 200 || a.status == 201
        );
        if !taken {
            tracing::warn!(peer = %peer.name, message = %event, "协查 message queued: the peer did not take it");
            continue;
        }
        let logged = state
            .record(vec![NewEvent {
                at: crate::now(),
                actor: "system:assist".into(),
                basis: format!("delivered to peer {}", peer.name),
                body: EventBody::AssistDelivered { message: event },
            }])
            .await;
        if let Err(e) = logged {
            tracing::warn!(error = %e, "a delivery was not logged; it will be sent again");
            continue;
        }
        // Delivered: the identifiers are no longer needed here (the log keeps their hash).
        if let Some(key) = identifiers {
            let store = state.store.clone();
            let erased = tokio::task::spawn_blocking(move || store.put_setting(&key, b"")).await;
            if !matches!(erased, Ok(Ok(()))) {
                tracing::warn!(message = %event, "delivered 协查 identifiers were not erased");
            }
        }
    }
}

/// Delivers what is queued every `secs` seconds.
pub async fn retry_loop(state: Arc<AppState>, secs: u64) {
    if secs == 0 {
        return;
    }
    let mut tick = tokio::time::interval(std::time::Duration::from_secs(secs));
    loop {
        tick.tick().await;
        deliver_pending(&state).await;
    }
}

/// `POST /api/v1/assist-requests`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssistIn {
    /// The peer city's name here.
    pub peer: String,
    /// The case (`C…`) whose places these are.
    pub case: String,
    /// "Case C stayed at these places in your city at these times".
    #[serde(default)]
    pub places: Vec<AssistPlace>,
    /// "These people registered in your city are close contacts of our case".
    #[serde(default)]
    pub people: Vec<PersonIn>,
}

/// `POST /api/v1/assist-requests/{id}/answer`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(as = AssistAnswerIn)]
pub struct AnswerIn {
    /// What was done: traced, notified, ordered (no names: counts and actions).
    pub outcome: String,
    /// How many people were traced.
    #[serde(default)]
    pub traced: u32,
    /// For a "people" request: what was done about each person, by reference (one of
    /// [`PERSON_OUTCOMES`]); a person not named here is `found` if resolved here, else
    /// `not_registered`.
    #[serde(default)]
    pub people: Vec<AssistOutcome>,
}

/// A request as listed.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AssistOut {
    pub id: String,
    pub direction: &'static str,
    pub peer: String,
    pub case: String,
    /// `places` or `people` (a request may carry both: then `people`).
    pub kind: &'static str,
    pub places: Vec<AssistPlace>,
    /// The people named, by reference, with what was done about each once answered (and,
    /// for an incoming request, whom they resolved to here).
    pub people: Vec<PersonRowOut>,
    /// `queued` (not yet taken by the peer), `delivered`, `answered` (an answer exists;
    /// for an incoming request, its delivery back is `answer_delivered_at`).
    pub status: &'static str,
    pub at: String,
    pub delivered_at: Option<String>,
    pub outcome: Option<String>,
    pub traced: Option<u32>,
    pub answered_at: Option<String>,
    pub answer_delivered_at: Option<String>,
    /// Hours to the first answer so far (or until it came), and the SLA's hours.
    pub hours_to_answer: i64,
    pub sla_hours: u32,
    pub overdue: bool,
}

fn kind(people: &[AssistPerson]) -> &'static str {
    if people.is_empty() {
        "places"
    } else {
        "people"
    }
}

fn sla(state: &AppState) -> u32 {
    state.policy().parameter("assist_sla_hours").unwrap_or(24)
}

fn timing(from: Timestamp, answer: Option<&Answer>, sla: u32, now: Timestamp) -> (i64, bool) {
    let until = answer.map_or(now, |a| a.answered_at);
    let hours = (until.0 - from.0).max(0) / HOUR;
    (hours, hours >= i64::from(sla))
}

fn ts(t: Option<Timestamp>) -> Option<String> {
    t.map(Timestamp::to_rfc3339)
}

fn out_row(o: &Outgoing, sla: u32, now: Timestamp) -> AssistOut {
    let (hours_to_answer, overdue) = timing(o.sent_at, o.answer.as_ref(), sla, now);
    AssistOut {
        id: o.id.to_string(),
        direction: "out",
        peer: o.peer.clone(),
        case: o.case.to_string(),
        kind: kind(&o.people),
        places: o.places.clone(),
        people: people_rows(&o.people, o.answer.as_ref()),
        status: match (&o.answer, o.delivered_at) {
            (Some(_), _) => "answered",
            (None, Some(_)) => "delivered",
            (None, None) => "queued",
        },
        at: o.sent_at.to_rfc3339(),
        delivered_at: ts(o.delivered_at),
        outcome: o.answer.as_ref().map(|a| a.outcome.clone()),
        traced: o.answer.as_ref().map(|a| a.traced),
        answered_at: ts(o.answer.as_ref().map(|a| a.answered_at)),
        answer_delivered_at: None,
        hours_to_answer,
        sla_hours: sla,
        overdue,
    }
}

fn in_row(i: &Incoming, sla: u32, now: Timestamp) -> AssistOut {
    let (hours_to_answer, overdue) = timing(i.received_at, i.answer.as_ref(), sla, now);
    AssistOut {
        id: i.id.to_string(),
        direction: "in",
        peer: i.peer.clone(),
        case: i.case.clone(),
        kind: kind(&i.people),
        places: i.places.clone(),
        people: people_rows(&i.people, i.answer.as_ref()),
        status: if i.answer.is_some() {
            "answered"
        } else {
            "delivered"
        },
        at: i.received_at.to_rfc3339(),
        delivered_at: Some(i.received_at.to_rfc3339()),
        outcome: i.answer.as_ref().map(|a| a.outcome.clone()),
        traced: i.answer.as_ref().map(|a| a.traced),
        answered_at: ts(i.answer.as_ref().map(|a| a.answered_at)),
        answer_delivered_at: ts(i.answer_delivered_at),
        hours_to_answer,
        sla_hours: sla,
        overdue,
    }
}

fn text_ok(s: &str, max: usize) -> bool {
    !s.trim().is_empty() && s.chars().count() <= max && !s.chars().any(char::is_control)
}

/// `POST /api/v1/assist-requests`: a tracer of the case's district asks a peer; logged
/// and queued, delivered at once when the peer answers.
pub async fn post_request(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<AssistIn>,
) -> Result<(StatusCode, Json<AssistOut>), AppError> {
    caller.require(TRACERS, "sending 协查 requests")?;
    let input = input.get()?;
    let case = authorise::case(&state, &caller, parse_id::<CaseId>(&input.case)?)?.into_inner();
    if peer_named(&state, &input.peer).is_none() {
        return Err(AppError::not_found("unknown_peer", "no peer of this name"));
    }
    let places_ok = input.places.len() <= MAX_PLACES
        && (!input.places.is_empty() || !input.people.is_empty())
        && input
            .places
            .iter()
            .all(|p| text_ok(&p.place, 200) && p.from <= p.to);
    if !places_ok {
        return Err(AppError::bad(
            "invalid_places",
            "1 to 50 places (or people), each named in at most 200 characters, from before to",
        ));
    }
    let (people, identifiers) = named_people(&state, &input.people)?;
    // The identifiers wait for delivery outside the log, written before the request's
    // event: a request is never logged without what it must carry.
    let key = identifiers_key(&people);
    if !identifiers.is_empty() {
        let bytes = serde_json::to_vec(&identifiers).unwrap_or_default();
        let (store, k) = (state.store.clone(), key.clone());
        tokio::task::spawn_blocking(move || store.put_setting(&k, &bytes)).await??;
    }
    let logged = state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("协查 request to peer {}", input.peer),
            body: EventBody::AssistSent {
                peer: input.peer.clone(),
                case: case.id,
                places: input.places,
                people,
            },
        }])
        .await;
    let stored = match logged {
        Ok(s) => s,
        Err(e) => {
            if !identifiers.is_empty() {
                let store = state.store.clone();
                let _ = tokio::task::spawn_blocking(move || store.put_setting(&key, b"")).await;
            }
            return Err(e.into());
        }
    };
    let id = stored
        .first()
        .map(|e| e.seq)
        .ok_or_else(|| AppError::Internal("a request's event was not stored".into()))?;
    tracing::info!(request = %id, peer = %input.peer, "协查 request queued");
    let s = state.clone();
    tokio::spawn(async move { deliver_pending(&s).await });
    let row = read(&state.projection.cities)
        .assists
        .out
        .get(&id)
        .map(|o| out_row(o, sla(&state), crate::now()))
        .ok_or_else(|| AppError::Internal("a request's event was not applied".into()))?;
    Ok((StatusCode::CREATED, Json(row)))
}

/// `GET /api/v1/assist-requests?direction=in|out`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
pub struct DirectionQuery {
    pub direction: String,
}

/// `GET /api/v1/assist-requests?direction=in|out`: requests received (every tracer's
/// tasks: they concern the city, not a district) or sent (those of the caller's cases).
pub async fn list(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Query(q): Query<DirectionQuery>,
) -> Result<Json<Vec<AssistOut>>, AppError> {
    caller.require(TRACERS, "reading 协查 requests")?;
    let (sla, now) = (sla(&state), crate::now());
    let records = read(&state.projection.cities);
    let rows = match q.direction.as_str() {
        "in" => records
            .assists
            .inbox
            .values()
            .map(|i| in_row(i, sla, now))
            .collect(),
        "out" => records
            .assists
            .out
            .values()
            .filter(|o| authorise::case(&state, &caller, o.case).is_ok())
            .map(|o| out_row(o, sla, now))
            .collect(),
        _ => {
            return Err(AppError::bad("invalid_direction", "direction is in or out"));
        }
    };
    Ok(Json(rows))
}

/// `POST /api/v1/assist-requests/{id}/answer`: a tracer answers an incoming request;
/// logged and sent back (queued while the requester is unreachable). 409
/// `assist_answered` for a second answer.
pub async fn post_answer(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(id): Id<EventSeq>,
    input: JsonIn<AnswerIn>,
) -> Result<Json<AssistOut>, AppError> {
    caller.require(TRACERS, "answering 协查 requests")?;
    let input = input.get()?;
    let incoming = read(&state.projection.cities)
        .assists
        .inbox
        .get(&id)
        .cloned()
        .ok_or_else(|| {
            AppError::not_found(
                "unknown_assist_request",
                "no incoming request of this number",
            )
        })?;
    if incoming.answer.is_some() {
        return Err(AppError::Conflict {
            code: "assist_answered",
            message: "this request has been answered".into(),
        });
    }
    if !text_ok(&input.outcome, 1000) {
        return Err(AppError::bad(
            "invalid_outcome",
            "an outcome is 1 to 1,000 characters",
        ));
    }
    let people = person_outcomes(&incoming.people, &input.people)?;
    state
        .record(vec![NewEvent {
            at: crate::now(),
            actor: caller.actor(),
            basis: format!("协查 answered for peer {}", incoming.peer),
            body: EventBody::AssistAnswered {
                request: id,
                outcome: input.outcome.trim().to_owned(),
                traced: input.traced,
                people,
            },
        }])
        .await?;
    let s = state.clone();
    tokio::spawn(async move { deliver_pending(&s).await });
    let row = read(&state.projection.cities)
        .assists
        .inbox
        .get(&id)
        .map(|i| in_row(i, sla(&state), crate::now()))
        .ok_or_else(|| AppError::Internal("an answer was not applied".into()))?;
    Ok(Json(row))
}

fn refuse(code: &'static str, message: &str) -> AppError {
    AppError::Unprocessable {
        code,
        message: message.into(),
        details: None,
    }
}

/// `POST /api/v1/assist-requests/inbox`: a peer delivers a signed request or answer. No
/// bearer token: the signature by a pinned peer root is the credential. Refused: a signer
/// that is no peer (`assist_unknown_peer`), a message altered after signing
/// (`assist_tampered`) or addressed otherwise (`assist_misaddressed`); nothing is recorded
/// then. A message taken before is taken again without a second record (the sender retries
/// when it missed our answer).
pub async fn post_inbox(
    State(state): State<Arc<AppState>>,
    input: JsonIn<Signed>,
) -> Result<Json<serde_json::Value>, AppError> {
    let bytes = hex::decode(input.get()?.signed.trim())
        .map_err(|_| AppError::bad("invalid_signed", "signed is the message's hex"))?;
    let kid =
        signer_kid(&bytes).ok_or_else(|| refuse("assist_unsigned", "not a signed message"))?;
    let peer = read(&state.projection.cities)
        .peers
        .values()
        .find(|p| p.anchor.kid == kid)
        .cloned()
        .ok_or_else(|| refuse("assist_unknown_peer", "signed by no peer of this city"))?;
    let message: Message = open_json(&bytes, &peer.anchor).map_err(|e| match e {
        SignedListError::Tampered => refuse("assist_tampered", "the signature does not match"),
        _ => refuse("assist_malformed", "not a 协查 message"),
    })?;
    let own = state.config.jurisdiction.as_str();
    let addressed = |from: &str, to: &str| from == peer.anchor.jurisdiction && to == own;
    let now = crate::now();
    let mut follow_ups: Vec<NewEvent> = Vec::new();
    let body = match message {
        Message::Request {
            from,
            to,
            id,
            case,
            places,
            sent_at,
            people,
        } => {
            if !addressed(&from, &to) {
                return Err(refuse(
                    "assist_misaddressed",
                    "not from this peer to this city",
                ));
            }
            let seen = read(&state.projection.cities)
                .assists
                .inbox
                .values()
                .any(|i| i.peer == peer.name && i.remote == id);
            if seen || places.len() > MAX_PLACES {
                return Ok(Json(serde_json::json!({"taken": true, "new": false})));
            }
            let s = state.clone();
            let people = tokio::task::spawn_blocking(move || resolve_people(&s, &people))
                .await
                .map_err(|e| AppError::Internal(format!("resolving people: {e}")))??;
            // Everyone found is a task for the tracers of their district, committed with
            // the request: both or neither.
            follow_ups = people
                .iter()
                .filter_map(|p| {
                    Some(NewEvent {
                        at: now,
                        actor: format!("peer:{}", peer.name),
                        basis: format!("协查 request {id} from peer {}", peer.name),
                        body: EventBody::FollowUpFlagged {
                            person: p.person?,
                            reason: format!(
                                "协查 ({}): close contact of a case there — {}; last exposure {}",
                                peer.name,
                                p.relation,
                                p.last_exposure.to_rfc3339()
                            ),
                        },
                    })
                })
                .collect();
            EventBody::AssistReceived {
                peer: peer.name.clone(),
                remote: id,
                case,
                places,
                sent_at,
                people,
            }
        }
        Message::Answer {
            from,
            to,
            request,
            outcome,
            traced,
            answered_at,
            people,
        } => {
            if !addressed(&from, &to) {
                return Err(refuse(
                    "assist_misaddressed",
                    "not from this peer to this city",
                ));
            }
            let records = read(&state.projection.cities);
            let o = records
                .assists
                .out
                .get(&EventSeq(request))
                .filter(|o| o.peer == peer.name)
                .ok_or_else(|| {
                    AppError::not_found("unknown_assist_request", "no such request to this peer")
                })?;
            if o.answer.is_some() {
                return Ok(Json(serde_json::json!({"taken": true, "new": false})));
            }
            EventBody::AssistAnswerReceived {
                request: EventSeq(request),
                outcome,
                traced,
                answered_at,
                people,
            }
        }
    };
    let mut events = vec![NewEvent {
        at: now,
        actor: format!("peer:{}", peer.name),
        basis: "协查 message signed by the peer's root key".into(),
        body,
    }];
    events.append(&mut follow_ups);
    state.record(events).await?;
    tracing::info!(peer = %peer.name, "协查 message received");
    Ok(Json(serde_json::json!({"taken": true, "new": true})))
}

/// One direction's 协查 figures for the dashboard.
#[derive(Debug, Default, Clone, Serialize)]
pub struct SlaDirection {
    /// Not answered yet.
    pub open: usize,
    /// Open or answered after the SLA's hours.
    pub overdue: usize,
    pub answered: usize,
    /// Mean hours from sending (or receiving) to the first answer, of the answered ones.
    pub mean_hours_to_answer: Option<f64>,
}

/// Both directions against the SLA (the command dashboard's tile).
#[derive(Debug, Clone, Serialize)]
pub struct SlaSummary {
    pub sla_hours: u32,
    pub incoming: SlaDirection,
    pub outgoing: SlaDirection,
}

fn direction<'a>(
    rows: impl Iterator<Item = (Timestamp, Option<&'a Answer>)>,
    sla: u32,
    now: Timestamp,
) -> SlaDirection {
    let mut d = SlaDirection::default();
    let mut seconds: i64 = 0;
    for (from, answer) in rows {
        let until = answer.map_or(now, |a| a.answered_at);
        let took = (until.0 - from.0).max(0);
        if took >= i64::from(sla) * HOUR {
            d.overdue += 1;
        }
        match answer {
            Some(_) => {
                d.answered += 1;
                seconds += took;
            }
            None => d.open += 1,
        }
    }
    if d.answered > 0 {
        d.mean_hours_to_answer = Some(seconds as f64 / d.answered as f64 / HOUR as f64);
    }
    d
}

/// The SLA figures now, from the projection (no store read).
pub fn sla_summary(state: &AppState, now: Timestamp) -> SlaSummary {
    let sla = sla(state);
    let records = read(&state.projection.cities);
    SlaSummary {
        sla_hours: sla,
        incoming: direction(
            records
                .assists
                .inbox
                .values()
                .map(|i| (i.received_at, i.answer.as_ref())),
            sla,
            now,
        ),
        outgoing: direction(
            records
                .assists
                .out
                .values()
                .map(|o| (o.sent_at, o.answer.as_ref())),
            sla,
            now,
        ),
    }
}
