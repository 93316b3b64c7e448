//! Two cities (长三角联防联控, docs/cities.md): this city's keys over time and the signed
//! trust list it publishes ([`keys`]), the peers whose lists it fetches and keeps
//! ([`peers`]), 协查 requests between the cities' tracers ([`assist`]), the entry check that verifies another city's code offline and applies this
//! city's rules ([`entry`]), commuter passes (出入证, [`passes`]), and the risk areas and
//! entry rules each city publishes for the other ([`rules`]).
//!
//! What is decided is logged: a key made or revoked, a peer added, a pass applied for,
//! approved or revoked ([`Records`] folds those events for the projection). What is only
//! operational (a peer's last good list, when it was fetched, why a fetch was refused)
//! lives in [`peers::PeerLists`] and, for restarts, in the store's settings.

pub mod assist;
pub mod entry;
pub mod http;
pub mod keys;
pub mod passes;
pub mod peers;
mod records;
pub mod rules;

pub use keys::{Cities, revoked_keys};
pub use records::{Pass, PassStatus, PeerRecord, Records};

/// The two-city operations' rows of the OpenAPI document ([`crate::openapi`]).
pub const OPERATIONS: &[crate::openapi::Operation] = &[
    (
        "get",
        "/api/v1/trust/signed",
        "The trust list signed by the city's root key: a COSE_Sign1 (application/cose) over the JSON of the keys (current, next, retiring, revoked) and the revocation list (passes, cards); docs/cities.md",
        "cities",
        false,
    ),
    (
        "get",
        "/api/v1/trust/anchor",
        "The city's root key, as peers pin it (compare with the copy given out of band)",
        "cities",
        false,
    ),
    (
        "get",
        "/api/v1/trust/rules",
        "This city's risk areas (its zones' communities, its own areas on the origin risk list) and its venues' entry rules, signed by the root key: a COSE_Sign1 (application/cose) over JSON; peers fetch it with the trust list; docs/cities.md",
        "cities",
        false,
    ),
    (
        "get",
        "/api/v1/keys",
        "The code-signing keys with their status now: current, next, retiring, revoked (city-level admins)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/keys/rotate",
        "Make the next code-signing key {ahead_secs, valid_days?} (city-level admins; logged): published as next at once, signing from its not_before without a restart",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/keys/{kid}/revoke",
        "Revoke a code-signing key {reason} (city-level admins; logged): its tokens are refused here at once, by peers from their next fetch; 404 unknown_key, 409 key_last_valid",
        "cities",
        true,
    ),
    (
        "get",
        "/api/v1/peer-rules",
        "The peer cities' risk areas and entry rules as last fetched and verified (public notices: for residents travelling there)",
        "cities",
        false,
    ),
    (
        "get",
        "/api/v1/peers/{name}",
        "One peer: its list's state and keys, and its risk areas and entry rules in use (city-level admins)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/peers",
        "Add or re-point a peer city {name, url, anchor} (city-level admins; logged): 400 trust_anchor_invalid, invalid_peer_url, invalid_peer_jurisdiction; 409 peer_jurisdiction_taken",
        "cities",
        true,
    ),
    (
        "get",
        "/api/v1/peers",
        "Every peer and its list's state: issued, fetched, keys, revocations, last error code (city-level admins)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/peers/{name}/refresh",
        "Fetch a peer's signed list now (city-level admins): 422 trust_list_tampered, trust_list_unsigned, trust_list_wrong_root, trust_list_stale…; 503 peer_unreachable; the last good copy stays in use",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/entry-checks",
        "Check a code {code, pass?, venue? | category?} by this city's rules: own codes live, a peer's offline against its signed list (online too when peer_online_check is set); {allow, reason, issuer, colour, checked, pass} (venue devices, admins)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/codes/current",
        "This city's current colour for one of its own valid codes {token} (asked by a peer's venue); 422 with the token's refusal code",
        "cities",
        false,
    ),
    (
        "post",
        "/api/v1/passes",
        "Record an employer's application for a commuter pass (出入证) {person, employer, work_jurisdiction, days, max_test_age_hours} (admins and grid workers of the holder's district; logged)",
        "cities",
        true,
    ),
    (
        "get",
        "/api/v1/passes",
        "The passes of the caller's area (?employer= for one enterprise's)",
        "cities",
        true,
    ),
    (
        "get",
        "/api/v1/passes/{id}",
        "One pass, with its signed XP1 text once approved",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/passes/{id}/approve",
        "Approve a pass (admins of the holder's district; as many distinct ones as pass_approvals, never the applicant): 409 pass_four_eyes, pass_already_approved, pass_not_pending",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/passes/{id}/revoke",
        "Revoke a pass {reason}: refused here at once, published in the signed list for peers (admins of the holder's district)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/assist-requests",
        "Send a 协查 request to a peer city {peer, case, places: [{place, from, to}], people: [{id_number | subject, relation, last_exposure}]} (tracers and admins of the case's district): minimised (the logs keep a keyed hash of each person's identifier), signed by the root key, logged, queued and retried until the peer takes it",
        "cities",
        true,
    ),
    (
        "get",
        "/api/v1/assist-requests",
        "协查 requests ?direction=in (received: every tracer's tasks) or out (sent, for the caller's cases), with status and SLA (hours to first answer against assist_sla_hours)",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/assist-requests/{id}/answer",
        "Answer an incoming 协查 request {outcome, traced, people?: [{ref, outcome}]} (tracers and admins): logged and sent back, queued while the requester is unreachable; 409 assist_answered",
        "cities",
        true,
    ),
    (
        "post",
        "/api/v1/assist-requests/inbox",
        "A peer delivers a signed 协查 request or answer {signed: hex of a COSE_Sign1 by its root key}: 422 assist_unknown_peer, assist_tampered, assist_misaddressed; nothing recorded then",
        "cities",
        false,
    ),
];
