//! Self-service claim (申领) and proxy codes (代领), docs/claim.md.
//!
//! A resident proves who they are with ID number, name and phone, matched against the
//! register: `POST /claim/start` sends a one-time code to the phone on record through the
//! configured [`crate::message::MessageSender`] and answers the same neutral response
//! whether or not anyone matched (a claim that matched nobody is stored alike, with a code
//! nobody was sent); `POST /claim/finish` with the code issues the resident's token, as
//! `POST /tokens` would. Codes are 6 digits, kept only as a keyed hash, expire after
//! [`CODE_TTL_SECS`] on the server's clock, and die after [`MAX_ATTEMPTS`] wrong tries;
//! starts are limited per ID number and per phone (in the store, so every process counts
//! them) and per client address (in memory).
//!
//! A guardian who holds their own resident token claims codes for dependants without a
//! phone (`POST /claim/proxy`: ID number, name, relation), at most [`MAX_DEPENDANTS`] at a
//! time; each grant is an authority event, and an admin revokes one with another. The
//! grants and the identity cards of [`crate::card`] are folded from the log into
//! [`Credentials`].

use crate::app::{Actor, Role, authorise};
use crate::auth::{new_token, token_digest, token_expiry};
use crate::error::AppError;
use crate::extract::{Id, JsonIn};
use crate::state::{AppState, read};
use crate::web::session::ClientAddr;
use crate::wire::ItemsOut;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use xikang_domain::event::{EventBody, NewEvent, StoredEvent};
use xikang_domain::idnumber::{IdNumber, keyed_hash};
use xikang_domain::mask::PhoneNumber;
use xikang_domain::register::Registered;
use xikang_domain::{EventSeq, PersonId, Timestamp};
use xikang_store::{ApiToken, ClaimState, StoredClaim};

/// How long a one-time code is valid (seconds): the default of
/// [`crate::ServerConfig::claim_code_ttl_secs`].
pub const CODE_TTL_SECS: i64 = 300;
/// Wrong codes a claim survives; the next one kills it (`claim_attempts_exhausted`).
pub const MAX_ATTEMPTS: u32 = 5;
/// The window of the start limits (seconds).
pub const LIMIT_WINDOW_SECS: i64 = 3_600;
/// Claims started per ID number, and per phone, within [`LIMIT_WINDOW_SECS`].
pub const MAX_STARTS_PER_SUBJECT: u32 = 3;
/// Claims started per client address within [`LIMIT_WINDOW_SECS`] (a household, or an
/// office behind one NAT, claims for several people).
pub const MAX_STARTS_PER_ADDRESS: u32 = 20;
/// Dependants one guardian may hold codes for at a time (policy: a household's children and
/// elderly; more goes through the community's grid worker and a printed card).
pub const MAX_DEPENDANTS: usize = 5;
/// Failed proxy claims (details matching nobody) a guardian may make within
/// [`LIMIT_WINDOW_SECS`]: the proxy answer says whether a person matched, so it is bounded.
pub const MAX_PROXY_FAILURES: u32 = 5;

/// The neutral answer to a start, whatever the register said.
pub const START_MESSAGE: &str = "if the details match the register, a code was sent to the phone on record; it is valid for a few minutes";

/// An identity card as the server keeps it (folded from `card_issued` / `card_revoked`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// The sequence number of its issue event: the card's number.
    pub id: EventSeq,
    pub person: PersonId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    pub issued_by: String,
    pub revoked_at: Option<Timestamp>,
}

/// A guardian's hold on a dependant's code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Proxy {
    /// The sequence number of its grant event.
    pub id: EventSeq,
    pub guardian: PersonId,
    pub person: PersonId,
    pub relation: String,
    pub granted_at: Timestamp,
    pub revoked_at: Option<Timestamp>,
}

/// Cards and guardians' holds, folded from the log.
#[derive(Debug, Default)]
pub struct Credentials {
    pub cards: BTreeMap<EventSeq, Card>,
    pub proxies: BTreeMap<EventSeq, Proxy>,
}

impl Credentials {
    /// Folds one credential event.
    pub fn apply(&mut self, e: &StoredEvent) {
        match &e.body {
            EventBody::CardIssued { person, expires_at } => {
                self.cards.insert(
                    e.seq,
                    Card {
                        id: e.seq,
                        person: *person,
                        issued_at: e.at,
                        expires_at: *expires_at,
                        issued_by: e.actor.clone(),
                        revoked_at: None,
                    },
                );
            }
            EventBody::CardRevoked { card, .. } => {
                if let Some(c) = self.cards.get_mut(card) {
                    c.revoked_at.get_or_insert(e.at);
                }
            }
            EventBody::ProxyGranted {
                person,
                guardian,
                relation,
            } => {
                self.proxies.insert(
                    e.seq,
                    Proxy {
                        id: e.seq,
                        guardian: *guardian,
                        person: *person,
                        relation: relation.clone(),
                        granted_at: e.at,
                        revoked_at: None,
                    },
                );
            }
            EventBody::ProxyRevoked { grant, .. } => {
                if let Some(p) = self.proxies.get_mut(grant) {
                    p.revoked_at.get_or_insert(e.at);
                }
            }
            _ => {}
        }
    }

    /// The guardian's dependants, by grant (active grants only).
    pub fn dependants_of(&self, guardian: PersonId) -> Vec<Proxy> {
        self.proxies
            .values()
            .filter(|p| p.guardian == guardian && p.revoked_at.is_none())
            .cloned()
            .collect()
    }

    /// Whether `guardian` holds `person`'s code now.
    pub fn guards(&self, guardian: PersonId, person: PersonId) -> bool {
        self.proxies
            .values()
            .any(|p| p.guardian == guardian && p.person == person && p.revoked_at.is_none())
    }
}

/// In-memory counters on the server's clock: claim starts per client address, failed proxy
/// claims per guardian. Per process, forgotten at restart, bounded.
#[derive(Debug, Default)]
pub struct ClaimLimits {
    addresses: Mutex<HashMap<IpAddr, (u32, Timestamp)>>,
    proxy_failures: Mutex<HashMap<PersonId, (u32, Timestamp)>>,
    /// One guardian's grant decided and committed at a time (the dependants limit).
    proxy_lock: tokio::sync::Mutex<()>,
}

/// Counts one use of `key` at `now`; whether it stays within `max` per window
/// ([`LIMIT_WINDOW_SECS`]). Also the message board's per-address limit.
pub(crate) fn count<K: std::hash::Hash + Eq>(
    m: &Mutex<HashMap<K, (u32, Timestamp)>>,
    key: K,
    max: u32,
    now: Timestamp,
    add: bool,
) -> bool {
    let mut m = m.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
    if m.len() > 100_000 {
        m.retain(|_, (_, since)| now.0 - since.0 < LIMIT_WINDOW_SECS);
    }
    let e = m.entry(key).or_insert((0, now));
    if now.0 - e.1.0 >= LIMIT_WINDOW_SECS {
        *e = (0, now);
    }
    if e.0 >= max {
        return false;
    }
    if add {
        e.0 += 1;
    }
    true
}

fn rate_limited(what: &str) -> AppError {
    AppError::Conflict {
        code: "claim_rate_limited",
        message: format!("too many claims {what}; try again in an hour"),
    }
}

/// `POST /claim/start`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimStartIn {
    pub id_number: String,
    pub name: String,
    pub phone: String,
}

/// The answer to a start: the same for a match and for no match.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClaimStartOut {
    /// The claim to finish (`C<n>-<secret>`): only its holder can finish it.
    pub claim_id: String,
    pub expires_at: String,
    pub message: &'static str,
}

/// `POST /claim/finish`.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ClaimFinishIn {
    pub claim_id: String,
    pub code: String,
}

/// The resident's token, as `POST /tokens` answers it, and whose it is.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ClaimFinishOut {
    pub expires_at: String,
    pub id: String,
    pub person: String,
    pub role: &'static str,
    pub token: String,
}

fn hash_of(state: &AppState, label: &str, data: &[u8]) -> [u8; 16] {
    let mut v = Vec::with_capacity(label.len() + 1 + data.len());
    v.extend_from_slice(label.as_bytes());
    v.push(0);
    v.extend_from_slice(data);
    keyed_hash(&state.secrets.id_hash_key, &v)
}

fn code_hash(state: &AppState, c: &StoredClaim, code: &str) -> [u8; 16] {
    let mut v = Vec::with_capacity(48);
    v.extend_from_slice(&c.id_hash);
    v.extend_from_slice(&c.created_at.0.to_be_bytes());
    v.extend_from_slice(code.as_bytes());
    hash_of(state, "claim-code", &v)
}

/// A uniformly random 6-digit code.
fn random_code() -> String {
    loop {
        let n = rand_core::RngCore::next_u32(&mut rand_core::OsRng);
        // 4_294_000_000 is the largest multiple of 1_000_000 below 2^32: no modulo bias.
        if n < 4_294_000_000 {
            return format!("{:06}", n % 1_000_000);
        }
    }
}

fn random_secret() -> [u8; 16] {
    let mut b = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut b);
    b
}

/// Compares without an early exit.
fn same(a: &[u8; 16], b: &[u8; 16]) -> bool {
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn parse_name(s: &str) -> Result<String, AppError> {
    let n = s.trim();
    if n.is_empty() || n.chars().count() > xikang_domain::register::MAX_NAME {
        return Err(AppError::bad(
            "invalid_name",
            "the name is empty or too long",
        ));
    }
    Ok(n.to_owned())
}

/// The registered person with this ID number, if any.
async fn registered(state: &AppState, id: &IdNumber) -> Result<Option<Registered>, AppError> {
    let h = id.keyed_hash(&state.secrets.id_hash_key);
    let store = state.store.clone();
    let found = tokio::task::spawn_blocking(move || store.registered_by_hashes(&[h])).await??;
    Ok(found.into_iter().next().map(|(_, r)| r))
}

/// `POST /api/v1/claim/start` (no token).
pub async fn post_start(
    State(state): State<Arc<AppState>>,
    ClientAddr(addr): ClientAddr,
    input: JsonIn<ClaimStartIn>,
) -> Result<(StatusCode, Json<ClaimStartOut>), AppError> {
    let out = start(&state, addr, input.get()?).await?;
    Ok((StatusCode::ACCEPTED, Json(out)))
}

/// Starts a claim: checks the details' form, the limits, the register; stores the claim
/// and sends its code if the details match. The answer does not say whether they did.
pub async fn start(
    state: &AppState,
    addr: Option<IpAddr>,
    b: ClaimStartIn,
) -> Result<ClaimStartOut, AppError> {
    let id =
        IdNumber::parse(b.id_number.trim()).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let name = parse_name(&b.name)?;
    let phone = PhoneNumber::parse(b.phone.trim()).map_err(|_| {
        AppError::bad(
            "invalid_phone",
            "a phone number is 11 digits starting with 1",
        )
    })?;
    let now = crate::now();
    if let Some(a) = addr
        && !count(
            &state.claim_limits.addresses,
            a,
            MAX_STARTS_PER_ADDRESS,
            now,
            true,
        )
    {
        // The address is not logged: with the claim it could identify a person.
        tracing::warn!("claim refused: too many from one address");
        return Err(rate_limited("from this address"));
    }
    let id_hash = hash_of(state, "claim-id", id.expose().as_bytes());
    let phone_hash = hash_of(state, "claim-phone", phone.expose().as_bytes());
    let store = state.store.clone();
    let since = now.plus(-LIMIT_WINDOW_SECS);
    let recent =
        tokio::task::spawn_blocking(move || store.claims_since(&id_hash, &phone_hash, since))
            .await??;
    if recent >= MAX_STARTS_PER_SUBJECT {
        tracing::warn!("claim refused: too many starts for one subject this hour");
        return Err(rate_limited("for this ID number or phone"));
    }
    let person = registered(state, &id).await?.filter(|r| {
        r.name == name && r.phone.as_ref() == Some(&phone) && state.projection.person_exists(r.id)
    });
    let code = random_code();
    let secret = random_secret();
    let mut claim = StoredClaim {
        id: 0,
        person: person.as_ref().map(|p| p.id),
        id_hash,
        phone_hash,
        code_hash: [0; 16],
        secret_hash: hash_of(state, "claim-secret", &secret),
        created_at: now,
        expires_at: now.plus(state.config.claim_code_ttl_secs),
        attempts: 0,
        state: ClaimState::Open,
    };
    claim.code_hash = code_hash(state, &claim, &code);
    let store = state.store.clone();
    let row = claim.clone();
    let claim_id = tokio::task::spawn_blocking(move || store.insert_claim(&row)).await??;
    if person.is_some() {
        let text = format!(
            "【锡康】申领验证码 {code}，{min} 分钟内有效，勿告诉他人。xikang claim code {code}, valid {min} min; tell no one.",
            min = (state.config.claim_code_ttl_secs / 60).max(1)
        );
        match state.config.messages.clone() {
            // Sent off the request path: the answer takes as long with or without a match.
            Some(sender) => {
                tokio::task::spawn_blocking(move || {
                    if let Err(e) = sender.send(&phone, &text, now) {
                        tracing::error!(claim = claim_id, error = %e, "claim code not sent");
                    }
                });
            }
            None => tracing::error!(claim = claim_id, "no message sender: claim code not sent"),
        }
    }
    tracing::info!(claim = claim_id, "claim started");
    Ok(ClaimStartOut {
        claim_id: format!("C{claim_id}-{}", hex::encode(secret)),
        expires_at: claim.expires_at.to_rfc3339(),
        message: START_MESSAGE,
    })
}

/// `POST /api/v1/claim/finish` (no token).
pub async fn post_finish(
    State(state): State<Arc<AppState>>,
    input: JsonIn<ClaimFinishIn>,
) -> Result<(StatusCode, Json<ClaimFinishOut>), AppError> {
    let out = finish(&state, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

fn unknown_claim() -> AppError {
    AppError::not_found("unknown_claim", "no such claim")
}

/// Finishes a claim with its code: the resident's token, or why not.
pub async fn finish(state: &AppState, b: ClaimFinishIn) -> Result<ClaimFinishOut, AppError> {
    let (id, person) = check_code(state, b).await?;
    let issued = resident_token(state, person, &format!("claim:C{id}"), crate::now()).await?;
    tracing::info!(claim = id, token = %issued.id, "claim finished");
    Ok(issued)
}

/// Checks a claim's code and marks the claim finished: the claim's number and its person
/// (the web page starts a session for them, the API issues a token).
pub async fn check_code(state: &AppState, b: ClaimFinishIn) -> Result<(u64, PersonId), AppError> {
    let (id, secret) = b
        .claim_id
        .trim()
        .strip_prefix('C')
        .and_then(|s| s.split_once('-'))
        .and_then(|(n, s)| Some((n.parse::<u64>().ok()?, hex::decode(s).ok()?)))
        .ok_or_else(|| AppError::bad("invalid_claim_id", "a claim id looks like C12-…"))?;
    let code = b.code.trim();
    if code.len() != 6 || !code.bytes().all(|c| c.is_ascii_digit()) {
        return Err(AppError::bad("invalid_code", "the code is 6 digits"));
    }
    let store = state.store.clone();
    let claim = tokio::task::spawn_blocking(move || store.claim(id))
        .await??
        .filter(|c| same(&c.secret_hash, &hash_of(state, "claim-secret", &secret)))
        .ok_or_else(unknown_claim)?;
    let now = crate::now();
    match claim.state {
        ClaimState::Done => {
            return Err(AppError::Conflict {
                code: "claim_used",
                message: "this claim was finished already".into(),
            });
        }
        ClaimState::Dead => return Err(exhausted()),
        ClaimState::Open => {}
    }
    if now >= claim.expires_at {
        return Err(AppError::Conflict {
            code: "claim_expired",
            message: "the code has expired: start again".into(),
        });
    }
    let right = same(&claim.code_hash, &code_hash(state, &claim, code));
    let store = state.store.clone();
    // A code right by chance for a claim that matched nobody is still wrong.
    let Some(person) = claim.person.filter(|_| right) else {
        let attempts = claim.attempts + 1;
        let dead = attempts >= MAX_ATTEMPTS;
        let next = if dead {
            ClaimState::Dead
        } else {
            ClaimState::Open
        };
        let updated =
            tokio::task::spawn_blocking(move || store.update_claim(id, attempts, next)).await??;
        tracing::info!(claim = id, attempts, "claim code wrong");
        return Err(if dead || !updated {
            exhausted()
        } else {
            AppError::BadRequest {
                code: "claim_code_wrong",
                message: "the code is wrong".into(),
                details: Some(serde_json::json!({"attempts_left": MAX_ATTEMPTS - attempts})),
            }
        });
    };
    let attempts = claim.attempts;
    let updated =
        tokio::task::spawn_blocking(move || store.update_claim(id, attempts, ClaimState::Done))
            .await??;
    if !updated {
        return Err(AppError::Conflict {
            code: "claim_used",
            message: "this claim was finished already".into(),
        });
    }
    Ok((id, person))
}

fn exhausted() -> AppError {
    AppError::Conflict {
        code: "claim_attempts_exhausted",
        message: "too many wrong codes: this claim is dead; start again".into(),
    }
}

/// Issues a resident token for `person` over their community, with the resident's default
/// lifetime: the same kind of token `POST /tokens` issues.
pub async fn resident_token(
    state: &AppState,
    person: PersonId,
    name: &str,
    now: Timestamp,
) -> Result<ClaimFinishOut, AppError> {
    let area = state
        .projection
        .person_area(person)
        .ok_or_else(|| AppError::not_found("unknown_person", "no such person"))?;
    let expires_at = token_expiry(Role::Resident, None, now)?;
    let token = new_token();
    let row = ApiToken {
        name: name.to_owned(),
        role: Role::Resident.as_str().into(),
        area,
        venue: None,
        person: Some(person),
        id_lookup: false,
        enterprise: None,
        created_at: now,
        expires_at,
    };
    let store = state.store.clone();
    let digest = token_digest(&token);
    let id = tokio::task::spawn_blocking(move || store.put_api_token(digest, &row)).await??;
    Ok(ClaimFinishOut {
        expires_at: expires_at.to_rfc3339(),
        id: id.to_string(),
        person: person.to_string(),
        role: Role::Resident.as_str(),
        token,
    })
}

/// `POST /claim/proxy`: a guardian names a dependant.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProxyIn {
    pub id_number: String,
    pub name: String,
    /// What the dependant is to the guardian: `child`, `parent`, `grandparent`,
    /// `grandchild`, `spouse`, `other` (子女, 父母, 祖父母, 孙子女, 配偶, 其他).
    pub relation: String,
}

/// A dependant whose code a guardian holds.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DependantOut {
    /// The grant (`E…`): what an admin revokes.
    pub grant: String,
    pub person: String,
    /// The name, masked.
    pub name: String,
    pub relation: String,
    pub granted_at: String,
    pub colour: &'static str,
}

/// The relations a guardian may declare.
pub const RELATIONS: [&str; 6] = [
    "child",
    "parent",
    "grandparent",
    "grandchild",
    "spouse",
    "other",
];

fn relation_of(s: &str) -> Option<&'static str> {
    let s = s.trim();
    let zh = ["子女", "父母", "祖父母", "孙子女", "配偶", "其他"];
    RELATIONS
        .iter()
        .zip(zh)
        .find(|(en, zh)| s.eq_ignore_ascii_case(en) || s == *zh)
        .map(|(en, _)| *en)
}

/// `POST /api/v1/claim/proxy` (a resident for themselves as guardian).
pub async fn post_proxy(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    input: JsonIn<ProxyIn>,
) -> Result<(StatusCode, Json<DependantOut>), AppError> {
    let out = claim_for_dependant(&state, &caller, input.get()?).await?;
    Ok((StatusCode::CREATED, Json(out)))
}

/// A guardian claims a dependant's code: the dependant proven by ID number and name, the
/// guardian's dependants below [`MAX_DEPENDANTS`], the grant logged.
pub async fn claim_for_dependant(
    state: &AppState,
    caller: &Actor,
    b: ProxyIn,
) -> Result<DependantOut, AppError> {
    caller.require(&[Role::Resident], "claiming codes for dependants")?;
    let guardian = caller
        .person
        .ok_or(AppError::Forbidden("a guardian's token names their person"))?;
    let id =
        IdNumber::parse(b.id_number.trim()).map_err(|e| AppError::bad(e.code(), e.to_string()))?;
    let name = parse_name(&b.name)?;
    let relation = relation_of(&b.relation).ok_or_else(|| {
        AppError::bad(
            "invalid_relation",
            format!("a relation is one of {}", RELATIONS.join(", ")),
        )
    })?;
    let now = crate::now();
    if !count(
        &state.claim_limits.proxy_failures,
        guardian,
        MAX_PROXY_FAILURES,
        now,
        false,
    ) {
        return Err(rate_limited("for dependants that matched nobody"));
    }
    let found = registered(state, &id).await?.filter(|r| r.name == name);
    let Some(dependant) = found.filter(|r| state.projection.person_exists(r.id)) else {
        count(
            &state.claim_limits.proxy_failures,
            guardian,
            MAX_PROXY_FAILURES,
            now,
            true,
        );
        return Err(AppError::not_found(
            "proxy_no_match",
            "no resident with this ID number and name",
        ));
    };
    let person = dependant.id;
    if person == guardian {
        return Err(AppError::bad(
            "proxy_self",
            "a guardian holds their own code already",
        ));
    }
    let _one = state.claim_limits.proxy_lock.lock().await;
    {
        let creds = read(&state.projection.credentials);
        if creds.guards(guardian, person) {
            return Err(AppError::Conflict {
                code: "proxy_exists",
                message: "you hold this dependant's code already".into(),
            });
        }
        if creds.dependants_of(guardian).len() >= MAX_DEPENDANTS {
            return Err(AppError::Conflict {
                code: "proxy_limit",
                message: format!("a guardian holds at most {MAX_DEPENDANTS} dependants' codes"),
            });
        }
    }
    let stored = state
        .record(vec![NewEvent {
            at: now,
            actor: caller.actor(),
            basis: format!(
                "代领: the guardian proved the dependant by ID number and name ({relation})"
            ),
            body: EventBody::ProxyGranted {
                person,
                guardian,
                relation: relation.to_owned(),
            },
        }])
        .await?;
    let grant = stored.first().map_or(EventSeq(0), |e| e.seq);
    tracing::info!(grant = %grant, "dependant's code claimed by a guardian");
    Ok(dependant_out(
        state,
        &Proxy {
            id: grant,
            guardian,
            person,
            relation: relation.to_owned(),
            granted_at: now,
            revoked_at: None,
        },
        &dependant.name,
        now,
    ))
}

fn dependant_out(state: &AppState, p: &Proxy, name: &str, now: Timestamp) -> DependantOut {
    let colour = state
        .evaluate(p.person, now)
        .map_or("unknown", |(e, _)| e.colour.as_str());
    DependantOut {
        grant: p.id.to_string(),
        person: p.person.to_string(),
        name: xikang_domain::mask::mask_name(name),
        relation: p.relation.clone(),
        granted_at: p.granted_at.to_rfc3339(),
        colour,
    }
}

/// `GET /api/v1/claim/dependants`: the caller's dependants (a resident guardian).
pub async fn get_dependants(
    State(state): State<Arc<AppState>>,
    caller: Actor,
) -> Result<Json<ItemsOut<DependantOut>>, AppError> {
    Ok(Json(dependants(&state, &caller).await?))
}

/// The dependants whose codes the caller holds, names masked.
pub async fn dependants(
    state: &AppState,
    caller: &Actor,
) -> Result<ItemsOut<DependantOut>, AppError> {
    caller.require(&[Role::Resident], "listing one's dependants")?;
    let guardian = caller
        .person
        .ok_or(AppError::Forbidden("a guardian's token names their person"))?;
    let list = read(&state.projection.credentials).dependants_of(guardian);
    let now = crate::now();
    // A guardian reading a dependant's data is a read by someone other than the person.
    state.access.record(
        caller,
        "GET /api/v1/claim/dependants",
        None,
        now,
        list.iter().map(|p| p.person),
    )?;
    let mut items = Vec::with_capacity(list.len());
    for p in list {
        let store = state.store.clone();
        let person = p.person;
        let name = tokio::task::spawn_blocking(move || store.person(person))
            .await??
            .map(|r| r.name)
            .unwrap_or_default();
        items.push(dependant_out(state, &p, &name, now));
    }
    Ok(ItemsOut { items })
}

/// `POST /api/v1/proxies/{id}/revoke`: an admin of the dependant's area ends a guardian's
/// hold (an authority event); the guardian no longer sees the dependant's code.
pub async fn post_proxy_revoke(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Id(grant): Id<EventSeq>,
) -> Result<Json<serde_json::Value>, AppError> {
    caller.require(&[Role::Admin], "revoking a guardian's hold")?;
    let proxy = authorise::proxy(&state, &caller, grant)?.into_inner();
    if proxy.revoked_at.is_none() {
        state
            .record(vec![NewEvent {
                at: crate::now(),
                actor: caller.actor(),
                basis: "a guardian's hold on a dependant's code revoked".into(),
                body: EventBody::ProxyRevoked {
                    person: proxy.person,
                    guardian: proxy.guardian,
                    grant,
                },
            }])
            .await?;
        tracing::info!(grant = %grant, "guardian's hold revoked");
    }
    Ok(Json(
        serde_json::json!({"grant": grant.to_string(), "revoked": true}),
    ))
}
