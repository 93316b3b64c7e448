//! The server's state: the store, the active policy and keys, and the in-memory projection
//! of the authority log (one compact slot per resident) that code display and scans read
//! without touching the database.

use crate::app::Projection;
use crate::app::projection::{PersonSlot, Venues};
use crate::cache::BoundedCache;
use crate::cities::keys::KeyRing;
use crate::error::{ItemError, item_err};
use crate::scan::ScanWriter;
use std::collections::HashMap;
use std::hash::BuildHasher;
use std::sync::{Arc, RwLock, RwLockReadGuard};
use xikang_code::note::{NoteSigner, NoteVerifier, SignatureType};
use xikang_code::{CodeClaims, Presented, PseudonymKey};
use xikang_domain::event::{EventBody, NewEvent};
use xikang_domain::facts::PersonFacts;
use xikang_domain::policy::{Evaluation, Policy};
use xikang_domain::testing::VaccinationStatus;
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, EventSeq, HouseholdId, PersonId, Timestamp, WorkplaceId};
use xikang_store::{Store, StoreError};
use xikang_trace::Population;

/// Settings keys under which the server keeps its secrets in the store.
pub(crate) const ID_HASH_KEY: &str = "id_hash_key";
const PSEUDONYM_KEY: &str = "pseudonym_key";
/// The Ed25519 secret that signs the authority log's checkpoints.
const LOG_KEY: &str = "log_key";

/// Secrets shared by every process that writes to one store: the key of the ID-number hash
/// (the generator needs it to insert people) and the key of subject pseudonyms.
#[derive(Clone)]
pub struct Secrets {
    pub id_hash_key: Vec<u8>,
    pub pseudonym_key: Vec<u8>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets { .. }")
    }
}

pub(crate) fn setting_or_create(store: &dyn Store, key: &str) -> Result<Vec<u8>, StoreError> {
    if let Some(v) = store.setting(key)? {
        return Ok(v);
    }
    let mut bytes = vec![0u8; 32];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    store.put_setting(key, &bytes)?;
    // Re-read: if another process created it first, theirs wins only if put_setting did not
    // overwrite; either way everyone uses what is stored now.
    Ok(store.setting(key)?.unwrap_or(bytes))
}

/// SHA-256 (hex) of a policy file's bytes, as recorded when it is activated.
pub fn policy_sha256(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Loads the store's secrets, creating them on first use.
pub fn load_or_create_secrets(store: &dyn Store) -> Result<Secrets, StoreError> {
    Ok(Secrets {
        id_hash_key: setting_or_create(store, ID_HASH_KEY)?,
        pseudonym_key: setting_or_create(store, PSEUDONYM_KEY)?,
    })
}

/// The signer of the authority log's checkpoints: a dedicated Ed25519 key kept in the
/// store's settings (created on first use), named by the log's origin. Not a code-signing
/// key: those rotate yearly and belong to a jurisdiction, while witnesses pin this one.
pub fn load_or_create_log_signer(
    store: &dyn Store,
    origin: &str,
) -> Result<NoteSigner, StoreError> {
    let secret: [u8; 32] = setting_or_create(store, LOG_KEY)?
        .try_into()
        .map_err(|_| StoreError::Corrupt("the log key is not 32 bytes".into()))?;
    NoteSigner::new(SignatureType::Ed25519, origin, secret)
        .map_err(|e| StoreError::Corrupt(format!("log origin: {e}")))
}

/// The verifier of the checkpoints this store's log key signs under `origin`, if the store
/// has a log key (for `xikang audit verify` when no key is given).
pub fn stored_log_verifier(
    store: &dyn Store,
    origin: &str,
) -> Result<Option<NoteVerifier>, StoreError> {
    let Some(secret) = store.setting(LOG_KEY)? else {
        return Ok(None);
    };
    let secret: [u8; 32] = secret
        .try_into()
        .map_err(|_| StoreError::Corrupt("the log key is not 32 bytes".into()))?;
    NoteSigner::new(SignatureType::Ed25519, origin, secret)
        .map(|s| Some(s.verifier()))
        .map_err(|e| StoreError::Corrupt(format!("log origin: {e}")))
}

/// A signed code, cached so that an unchanged code is not re-signed (nor its answer
/// re-serialized) on every display: it is re-used while the evaluation is unchanged and more
/// than half of its lifetime remains.
#[derive(Debug, Clone)]
pub struct IssuedCode {
    pub token: Arc<str>,
    pub claims: CodeClaims,
    /// The evaluation the code was issued for.
    pub eval: Evaluation,
    /// The vaccination status shown with it (not in the signed token, whose format is
    /// fixed: verifiers read the colour; the status travels in the answer, as 门铃码 showed it).
    pub vaccination: VaccinationStatus,
    /// The JSON answer of `GET /people/{id}/code`, serialized once.
    pub json: axum::body::Bytes,
    /// The key ring that signed it: reused only while that ring is in force.
    pub generation: u64,
}

/// The default of [`ServerConfig::scan_upload_grace_secs`]: 15 minutes, so a scan queued
/// while its code was valid may be uploaded up to the code's lifetime plus 15 minutes later.
pub const DEFAULT_SCAN_UPLOAD_GRACE_SECS: i64 = 900;

/// Server settings that do not come from the store.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Issuer of codes: the city's GB/T 2260 code.
    pub jurisdiction: String,
    /// At most this many scans in one batch.
    pub max_batch: usize,
    /// Concurrent requests admitted on the priority lane (scans, codes, trust). Large: a
    /// scan spends its time waiting for the group commit, whose groups grow with it, and a
    /// request that waits for a permit instead costs a second wake-up and a timer (at
    /// 2,000 connections, 128 permits cost a third more CPU per scan than 2,048;
    /// `docs/benchmarks.md`, "Trust: overload"). Memory is bounded before the lane: bodies
    /// are read, within their limit, before a request asks for a permit.
    pub priority_permits: usize,
    /// Concurrent requests admitted for everything else.
    pub other_permits: usize,
    /// The active policy file's text (the admin's policy diff compares it with the shipped
    /// editions); `None` when the server was given a parsed policy only.
    pub policy_text: Option<Arc<str>>,
    /// The server is reached over TLS (through its proxy): session cookies get `Secure`.
    pub behind_tls: bool,
    /// Read deadlines, rate limits and the wait for a lane (see [`crate::edge`]).
    pub edge: crate::edge::EdgeConfig,
    /// How long after a code expired a scan of it, queued offline by a venue device, may
    /// still be uploaded (seconds; see `xikang_code::Presented` and docs/decisions.md).
    pub scan_upload_grace_secs: i64,
    /// The authority log's name in its checkpoints (C2SP origin, also the log key's name);
    /// `None`: `xikang.local/<jurisdiction>/authority-log`. Witnesses pin it: keep it stable.
    pub log_origin: Option<String>,
    /// Seconds between fetches of the peers' signed lists (0: only on demand).
    pub peer_refresh_secs: u64,
    /// Seconds between delivery attempts of queued 协查 messages (0: only when sent).
    pub assist_retry_secs: u64,
    /// Seconds between two reads of the store's signing keys (a rotation or revocation
    /// made by `xikang key` or another node; 0: never by itself).
    pub key_reload_secs: u64,
    /// Who may read `GET /metrics` (docs/metrics.md).
    pub metrics_access: crate::metrics::MetricsAccess,
    /// Where one-time claim codes go (docs/claim.md): `xikang serve` appends them to
    /// `DATA/outbox.log` ([`crate::message::FileOutbox`]); `None` sends nothing (claims
    /// still answer alike, and the failure is logged without personal data).
    pub messages: Option<Arc<dyn crate::message::MessageSender>>,
    /// How long a claim's one-time code is valid (seconds).
    pub claim_code_ttl_secs: i64,
    /// This node among several on one database (docs/nodes.md); the default is the only
    /// node.
    pub node: crate::app::node::NodeConfig,
    /// Where inspection photos are kept, content-addressed (`DATA/photos` under `xikang
    /// serve`); `None` refuses uploads (`503 photos_unavailable`).
    pub photo_dir: Option<std::path::PathBuf>,
}

impl ServerConfig {
    /// The authority log's origin line: the `log_origin` field, or its default.
    pub fn log_origin(&self) -> String {
        self.log_origin
            .clone()
            .unwrap_or_else(|| format!("xikang.local/{}/authority-log", self.jurisdiction))
    }
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            jurisdiction: "320200".into(),
            max_batch: 1000,
            priority_permits: 2048,
            other_permits: 32,
            policy_text: None,
            behind_tls: false,
            edge: crate::edge::EdgeConfig::default(),
            scan_upload_grace_secs: DEFAULT_SCAN_UPLOAD_GRACE_SECS,
            log_origin: None,
            peer_refresh_secs: crate::cities::peers::DEFAULT_REFRESH_SECS,
            assist_retry_secs: crate::cities::assist::DEFAULT_RETRY_SECS,
            key_reload_secs: crate::cities::keys::DEFAULT_RELOAD_SECS,
            metrics_access: crate::metrics::MetricsAccess::Loopback,
            messages: None,
            claim_code_ttl_secs: crate::claim::CODE_TTL_SECS,
            node: crate::app::node::NodeConfig::default(),
            photo_dir: None,
        }
    }
}

/// A token verified before: its person and its validity, which every later use of the
/// token is checked against (a live scan: unexpired now; a scan queued offline: the window
/// of [`Presented`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Verified {
    pub person: PersonId,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
    /// The key ring it was verified with: trusted only while that ring is in force (a key
    /// revoked since must refuse it).
    pub generation: u64,
}

/// Everything a request handler can reach.
pub struct AppState {
    pub store: Arc<dyn Store>,
    pub config: ServerConfig,
    pub secrets: Secrets,
    pub policy: RwLock<Arc<Policy>>,
    /// An approved policy and the instant it takes over ([`AppState::policy`] switches).
    policy_next: RwLock<Option<(Timestamp, Arc<Policy>)>>,
    /// That instant in seconds (`i64::MAX` when nothing waits): checked on every read.
    policy_due: std::sync::atomic::AtomicI64,
    /// Every stored policy version ([`crate::policies`]), as in the store.
    pub policy_versions: RwLock<Vec<xikang_store::StoredPolicy>>,
    /// Stored versions parsed for the orders issued under them, by version.
    pub(crate) policy_cache: RwLock<HashMap<String, Arc<Policy>>>,
    /// The code-signing keys in force ([`AppState::keys`]): swapped whole when the next key's
    /// time comes or the store's keys change.
    key_ring: RwLock<Arc<KeyRing>>,
    /// The ring's `due` in seconds: checked (one atomic load) before signing.
    keys_due: std::sync::atomic::AtomicI64,
    /// The ring's generation: a cached code or verified token of another is not reused.
    key_generation: std::sync::atomic::AtomicU64,
    /// Signs the authority log's checkpoints ([`crate::api::get_checkpoint`]).
    pub log_signer: NoteSigner,
    /// The root key, the key history and the peers' lists (docs/cities.md).
    pub cities: crate::cities::Cities,
    /// Subject pseudonyms, keyed once.
    pub pseudonyms: PseudonymKey,
    /// The in-memory state folded from the authority log (see [`Projection`]).
    pub projection: Projection,
    /// Bearer-token lookups by digest, each trusted for at most [`crate::auth::RECHECK`].
    pub auth_cache: crate::auth::TokenCache,
    /// Reads of personal data, on their way to the store ([`crate::app::access`]).
    pub access: crate::app::access::AccessLog,
    /// Tokens already verified: hash of the token → who and when it is valid.
    pub verified: BoundedCache<u64, Verified>,
    pub codes: BoundedCache<PersonId, Arc<IssuedCode>>,
    /// Keyed hasher for the verified-token cache (random per process).
    pub token_hasher: std::hash::RandomState,
    pub writer: ScanWriter,
    /// Serialises commits with their projection, so the projection applies events in log
    /// order (see [`crate::app::commit`]).
    pub(crate) commit_lock: tokio::sync::Mutex<()>,
    /// The resident register's import lock and id counters ([`crate::register`]).
    pub register: crate::register::RegisterState,
    pub shed: crate::shed::Shed,
    /// Limiters and probes of the HTTP edge.
    pub edge: crate::edge::Edge,
    /// Counters and histograms for `GET /metrics` ([`crate::metrics`]).
    pub metrics: Arc<crate::metrics::Metrics>,
    /// Claim starts per address and failed proxy claims per guardian ([`crate::claim`]).
    pub claim_limits: crate::claim::ClaimLimits,
    /// Following the other nodes and the sweep lease ([`crate::app::node`]).
    pub node: crate::app::node::NodeState,
    /// Message-board posts per address and the silent venues ([`crate::board`]).
    pub board: crate::board::Runtime,
}

impl std::fmt::Debug for AppState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppState")
            .field("backend", &self.store.backend())
            .finish_non_exhaustive()
    }
}

/// Reads a lock, recovering from poisoning (a panicked writer leaves valid data here: every
/// update is a single assignment).
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|p| p.into_inner())
}

/// Writes a lock, recovering from poisoning.
pub fn write<T>(l: &RwLock<T>) -> std::sync::RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|p| p.into_inner())
}

impl AppState {
    /// Builds the state from a store: loads people, venues and the whole authority log.
    /// Blocking; call before serving.
    pub fn load(
        store: Arc<dyn Store>,
        mut config: ServerConfig,
        policy: Policy,
        policy_sha256: &str,
        now: Timestamp,
    ) -> Result<AppState, StoreError> {
        // The configured policy text is kept only if it is the one in force.
        if config
            .policy_text
            .as_deref()
            .is_some_and(|t| self::policy_sha256(t) != policy_sha256)
        {
            config.policy_text = None;
        }
        let secrets = load_or_create_secrets(store.as_ref())?;
        let ring = KeyRing::load(store.as_ref(), &config.jurisdiction, now, 1)?;
        let log_signer = load_or_create_log_signer(store.as_ref(), &config.log_origin())?;
        let pseudonyms = PseudonymKey::new(&secrets.pseudonym_key);

        let mut slots: Vec<PersonSlot> = Vec::new();
        let mut households: Vec<HouseholdId> = Vec::new();
        let mut workplaces: Vec<Option<WorkplaceId>> = Vec::new();
        let mut communities: Vec<AreaCode> = Vec::new();
        let mut community_ix: HashMap<AreaCode, u32> = HashMap::new();
        store.for_each_person_brief(&mut |p| {
            let next = communities.len() as u32;
            let ix = *community_ix.entry(p.area.clone()).or_insert_with(|| {
                communities.push(p.area.clone());
                next
            });
            let i = p.id.0 as usize;
            if slots.len() <= i {
                slots.resize(
                    i + 1,
                    PersonSlot {
                        community: u32::MAX,
                        ..PersonSlot::default()
                    },
                );
            }
            slots[i] = PersonSlot {
                facts: PersonFacts::default(),
                community: ix,
                home_cell: p.home_cell,
            };
            if households.len() <= i {
                households.resize(i + 1, HouseholdId(u32::MAX));
                workplaces.resize(i + 1, None);
            }
            households[i] = p.household;
            workplaces[i] = p.workplace;
        })?;
        slots.shrink_to_fit();

        let list = store.all_venues()?;
        let by_code = list.iter().map(|v| (v.place_code.clone(), v.id)).collect();
        let population = {
            let mut workplace_venues = Vec::new();
            for w in store.all_workplaces()? {
                let i = w.id.0 as usize;
                if workplace_venues.len() <= i {
                    workplace_venues.resize(i + 1, None);
                }
                workplace_venues[i] = w.venue;
            }
            Population::new(&households, &workplaces, &workplace_venues, Vec::new(), 0)
                .map_err(|e| StoreError::Corrupt(format!("population: {e}")))?
                .with_venue_rules(&policy, list.iter().map(|v| (v.id, &v.category)))
        };
        let tracing = crate::trace::Tracing::new(population);
        let metrics = Arc::new(crate::metrics::Metrics::new());
        let writer = ScanWriter::start(store.clone(), tracing.live.clone(), metrics.clone());
        let projection = Projection::new(slots, communities, Venues { list, by_code }, tracing);

        let state = AppState {
            store: store.clone(),
            writer,
            projection,
            secrets,
            policy: RwLock::new(Arc::new(policy)),
            policy_next: RwLock::new(None),
            policy_due: std::sync::atomic::AtomicI64::new(i64::MAX),
            policy_versions: RwLock::new(Vec::new()),
            policy_cache: RwLock::new(HashMap::new()),
            keys_due: std::sync::atomic::AtomicI64::new(ring.due.0),
            key_generation: std::sync::atomic::AtomicU64::new(ring.generation),
            key_ring: RwLock::new(Arc::new(ring)),
            log_signer,
            cities: crate::cities::Cities::load(store.as_ref(), &config.jurisdiction)?,
            pseudonyms,
            auth_cache: crate::auth::TokenCache::new(100_000),
            access: crate::app::access::AccessLog::start(store.clone()),
            verified: BoundedCache::new(1_000_000),
            // Entries are about 1 KB: bounded to the working set of people displaying codes.
            codes: BoundedCache::new(100_000),
            token_hasher: std::hash::RandomState::new(),
            commit_lock: tokio::sync::Mutex::new(()),
            register: crate::register::RegisterState::default(),
            shed: crate::shed::Shed::new(
                config.priority_permits,
                config.other_permits,
                config.edge.queue_wait,
                config.edge.max_waiters,
            ),
            edge: crate::edge::Edge::new(&config.edge),
            metrics,
            claim_limits: crate::claim::ClaimLimits::default(),
            node: crate::app::node::NodeState::default(),
            board: crate::board::Runtime::default(),
            config,
        };
        // Other nodes' changes are followed from here on (docs/nodes.md): read before the
        // lab index and the policy versions load.
        state.node.start_notes_at(store.as_ref())?;
        let mut active: Option<(String, String)> = None;
        store.for_each_event(&mut |e| {
            if let EventBody::PolicyActivated { version, sha256 } = &e.body {
                active = Some((version.clone(), sha256.clone()));
            }
            state.projection.apply(&e);
        })?;
        state.projection.lab.load(&state)?;
        state.load_peer_lists()?;
        // Every colour names its policy version; the log says when each version took effect.
        let current = (
            state.policy().version().to_owned(),
            policy_sha256.to_owned(),
        );
        let start_text =
            crate::policies::start_text(state.config.policy_text.as_deref(), policy_sha256);
        state.load_policy_versions(&current.0, policy_sha256, start_text, now)?;
        if active.as_ref() != Some(&current) {
            // Not yet serving, so no commit can interleave: append and apply directly.
            let stored = store.append_events(&[NewEvent {
                at: now,
                actor: "system:serve".into(),
                basis: "policy file loaded at start".into(),
                body: EventBody::PolicyActivated {
                    version: current.0,
                    sha256: current.1,
                },
            }])?;
            for e in &stored {
                state.projection.apply(e);
            }
        }
        Ok(state)
    }

    /// The active policy. An approved version takes over on the first read at or after its
    /// `effective_from` on the server's clock ([`crate::now`]); the log records it at the
    /// approval, or at the sweep after that instant ([`crate::policies::record_due`]).
    pub fn policy(&self) -> Arc<Policy> {
        use std::sync::atomic::Ordering;
        if crate::now().0 >= self.policy_due.load(Ordering::Acquire) {
            let now = crate::now();
            let mut next = write(&self.policy_next);
            if let Some((at, p)) = next.take_if(|(at, _)| *at <= now) {
                self.apply_venue_rules(&p);
                *write(&self.policy) = p;
                self.policy_due.store(i64::MAX, Ordering::Release);
                tracing::info!(effective_from = %at.to_rfc3339(), "policy switched");
            }
        }
        read(&self.policy).clone()
    }

    /// The code-signing keys in force at `now`. Read it once per request and take the
    /// signer, verifier or lists from that one ring. When the ring is due (the next key's
    /// `not_before` reached, or the signer expired) it is built again from the keys it
    /// holds: no store read on this path.
    pub fn keys(&self, now: Timestamp) -> Arc<KeyRing> {
        use std::sync::atomic::Ordering;
        if now.0 >= self.keys_due.load(Ordering::Acquire) {
            let mut ring = write(&self.key_ring);
            if now >= ring.due {
                let generation = ring.generation + 1;
                match KeyRing::build(
                    &ring.all,
                    &ring.revoked,
                    &self.config.jurisdiction,
                    now,
                    generation,
                ) {
                    Some(next) => {
                        tracing::info!(kid = %hex::encode(next.signer.kid()), "signing key switched");
                        self.put_ring(&mut ring, next);
                    }
                    // No key is valid: keep signing with the last one until the store's
                    // keys are read again (which makes a new key), and stop checking.
                    None => {
                        tracing::warn!("no valid signing key: the store's keys are read again");
                        self.keys_due.store(i64::MAX, Ordering::Release);
                    }
                }
            }
            return ring.clone();
        }
        read(&self.key_ring).clone()
    }

    /// The generation of the ring in force.
    pub fn key_generation(&self) -> u64 {
        self.key_generation
            .load(std::sync::atomic::Ordering::Acquire)
    }

    fn put_ring(&self, slot: &mut Arc<KeyRing>, ring: KeyRing) {
        use std::sync::atomic::Ordering;
        self.keys_due.store(ring.due.0, Ordering::Release);
        self.key_generation
            .store(ring.generation, Ordering::Release);
        *slot = Arc::new(ring);
    }

    /// Reads the store's keys and revocations again (a rotation or revocation made by
    /// the API, by `xikang key` while this server runs, or by another node) and puts the
    /// ring in force when it differs. Says whether it changed. Blocking.
    pub fn reload_keys(&self, now: Timestamp) -> Result<bool, StoreError> {
        // Read outside the lock: requests keep the ring in force meanwhile.
        let mut next = KeyRing::load(self.store.as_ref(), &self.config.jurisdiction, now, 0)?;
        let mut ring = write(&self.key_ring);
        next.generation = ring.generation + 1;
        let same = next.signer.kid() == ring.signer.kid()
            && next.revoked == ring.revoked
            && next
                .all
                .iter()
                .map(|k| k.kid())
                .eq(ring.all.iter().map(|k| k.kid()));
        if same {
            return Ok(false);
        }
        tracing::info!(kid = %hex::encode(next.signer.kid()), "signing keys read again");
        self.put_ring(&mut ring, next);
        Ok(true)
    }

    /// Puts a policy in force now (and forgets a waiting switch to the same version).
    pub(crate) fn put_policy(&self, p: Arc<Policy>) {
        let mut next = write(&self.policy_next);
        if next
            .as_ref()
            .is_some_and(|(_, n)| n.version() == p.version())
        {
            *next = None;
            self.policy_due
                .store(i64::MAX, std::sync::atomic::Ordering::Release);
        }
        self.apply_venue_rules(&p);
        *write(&self.policy) = p;
    }

    /// Gives tracing the venue rules (dwell times, close-contact rules by category) of a
    /// policy coming into force; the same policy again changes nothing.
    fn apply_venue_rules(&self, p: &Policy) {
        if read(&self.policy).version() == p.version() {
            return;
        }
        let venues = self.projection.venues.list.iter();
        self.projection
            .tracing
            .set_venue_rules(p, venues.map(|v| (v.id, &v.category)));
    }

    /// Makes `p` the policy from `at` on.
    pub(crate) fn schedule_policy(&self, at: Timestamp, p: Arc<Policy>) {
        let mut next = write(&self.policy_next);
        *next = Some((at, p));
        self.policy_due
            .store(at.0, std::sync::atomic::Ordering::Release);
    }

    /// Reads the stored policy versions at start and checks the policy file against them.
    /// Fails closed when the store's version in force was activated through the API (by two
    /// officials) and the file given at start is another text, or when the file's version
    /// name is stored with another text. Otherwise the file is in force: stored (when its
    /// text is known) and marked active, the version before it ended. An approved version
    /// still waiting is scheduled again.
    fn load_policy_versions(
        &self,
        version: &str,
        sha256: &str,
        text: Option<String>,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        let mut rows = self.store.policies()?;
        if let Some(a) = rows
            .iter()
            .find(|p| crate::policies::is_active(p) && p.approved_by.is_some())
            .filter(|a| a.sha256 != sha256)
        {
            return Err(StoreError::Target(format!(
                "the store's policy in force is {} (sha256 {}), activated through the API by {} \
                 and {}; the policy file given at start is {version} (sha256 {sha256}). Start \
                 with a file holding version {} (GET /api/v1/policies/{}), or upload and \
                 activate the new file through the API",
                a.version,
                a.sha256,
                a.proposed_by.as_deref().unwrap_or("?"),
                a.approved_by.as_deref().unwrap_or("?"),
                a.version,
                a.version
            )));
        }
        if let Some(p) = rows
            .iter()
            .find(|p| p.version == version && p.sha256 != sha256)
        {
            return Err(StoreError::Target(format!(
                "policy version {version} is stored with another text (sha256 {}); the file \
                 given at start has sha256 {sha256}: give an edited file a new version",
                p.sha256
            )));
        }
        let known = rows.iter().any(|p| p.version == version);
        if !known && let Some(text) = text {
            let row = xikang_store::StoredPolicy::uploaded(
                version,
                sha256,
                text,
                "system:serve".into(),
                now,
            );
            self.store.insert_policy(&row)?;
            rows.push(row);
        }
        let mut changed = Vec::new();
        for p in &mut rows {
            let active = crate::policies::is_active(p);
            if p.version == version && !active {
                p.active_since = Some(now);
                p.active_until = None;
                changed.push(p.clone());
            } else if p.version != version && active {
                p.active_until = Some(now);
                changed.push(p.clone());
            }
        }
        if !changed.is_empty() {
            self.store.update_policies(&changed)?;
        }
        if let Some(p) = rows
            .iter()
            .find(|p| p.approved_by.is_some() && p.active_since.is_none())
            && let (Some(at), Ok(parsed)) = (p.effective_from, Policy::parse(&p.text))
        {
            self.schedule_policy(at, Arc::new(parsed));
        }
        *write(&self.policy_versions) = rows;
        Ok(())
    }

    /// The people whose scanned codes these are, as venue doors and sampling sites read
    /// them: with `cached`, a token verified before comes from the cache and the others are
    /// remembered there (a venue's door sees the same codes again); without, each is
    /// verified and none remembered (a sampling site's swab is scanned once: a round of ten
    /// million would only churn the cache). A sampling site's upload of thousands is spread
    /// over every core, off the async workers, because verification is CPU work. The result
    /// at position `i` is for `tokens[i]`: the person, or the refusal (`token_…` codes,
    /// `unknown_person`).
    pub fn identify(
        &self,
        tokens: &[&str],
        now: Timestamp,
        cached: bool,
    ) -> Vec<Result<PersonId, ItemError>> {
        let parts = cores().min(tokens.len() / 512).max(1);
        if parts == 1 {
            return self.identify_here(tokens, now, cached);
        }
        let size = tokens.len().div_ceil(parts);
        let spread = || {
            std::thread::scope(|scope| {
                let handles: Vec<_> = tokens
                    .chunks(size)
                    .map(|chunk| {
                        (
                            chunk.len(),
                            scope.spawn(move || self.identify_here(chunk, now, cached)),
                        )
                    })
                    .collect();
                let mut all = Vec::with_capacity(tokens.len());
                for (len, h) in handles {
                    all.extend(h.join().unwrap_or_else(|_| {
                        tracing::error!("a code verification thread panicked");
                        vec![
                            Err(item_err(
                                "verification_failed",
                                "the code could not be checked"
                            ));
                            len
                        ]
                    }));
                }
                all
            })
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread => {
                tokio::task::block_in_place(spread)
            }
            _ => spread(),
        }
    }

    fn identify_here(
        &self,
        tokens: &[&str],
        now: Timestamp,
        cached: bool,
    ) -> Vec<Result<PersonId, ItemError>> {
        let mut out = Vec::with_capacity(tokens.len());
        // (position, cache key) of the tokens not verified before (key 0: not cached).
        let mut misses: Vec<(usize, u64)> = Vec::new();
        for (i, t) in tokens.iter().enumerate() {
            // An identity card is checked online every time (revocation), never cached.
            if t.trim_start().starts_with(xikang_code::CARD_PREFIX) {
                out.push(self.identify_card(t, now));
                continue;
            }
            if !cached {
                out.push(Err(item_err("token_tampered", "not verified")));
                misses.push((i, 0));
                continue;
            }
            let key = self.token_hasher.hash_one(t);
            match self.verified.get(&key) {
                Some(v) if v.expires_at > now && v.generation == self.key_generation() => {
                    out.push(Ok(v.person));
                }
                _ => {
                    out.push(Err(item_err("token_tampered", "not verified")));
                    misses.push((i, key));
                }
            }
        }
        if misses.is_empty() {
            return out;
        }
        let unverified: Vec<&str> = misses.iter().map(|&(i, _)| tokens[i]).collect();
        let issuer = Some(self.config.jurisdiction.as_str());
        let ring = self.keys(now);
        let verdicts = ring.verifier.verify_batch(&unverified, issuer, now);
        for ((i, key), verdict) in misses.into_iter().zip(verdicts) {
            out[i] = verdict
                .map_err(|e| item_err(e.code(), e.to_string()))
                .and_then(|claims| {
                    if cached {
                        self.remember(key, &claims, ring.generation)
                    } else {
                        self.resident(&claims)
                    }
                });
        }
        out
    }

    /// The person whose code was scanned at `presented.at` by a device that was offline and
    /// uploaded it now: a token verified before is checked against the window from the
    /// cache (its issue time too, so a code seen live cannot be moved to before it existed),
    /// any other is verified at the scan time ([`Verifier::verify_presented`]).
    pub fn identify_presented(
        &self,
        token: &str,
        presented: Presented,
    ) -> Result<PersonId, ItemError> {
        // A card has no window of its own: checked online at the upload, revocation included.
        if token.trim_start().starts_with(xikang_code::CARD_PREFIX) {
            return self.identify_card(token, crate::now());
        }
        let key = self.token_hasher.hash_one(token);
        if let Some(v) = self
            .verified
            .get(&key)
            .filter(|v| v.generation == self.key_generation())
        {
            presented
                .check(v.issued_at, v.expires_at)
                .map_err(|e| item_err(e.code(), e.to_string()))?;
            return Ok(v.person);
        }
        let issuer = Some(self.config.jurisdiction.as_str());
        let ring = self.keys(crate::now());
        let claims = ring
            .verifier
            .verify_presented(token, issuer, presented)
            .map_err(|e| item_err(e.code(), e.to_string()))?;
        self.remember(key, &claims, ring.generation)
    }

    /// The resident a verified token names.
    fn resident(&self, claims: &CodeClaims) -> Result<PersonId, ItemError> {
        self.pseudonyms
            .person_of(&claims.subject)
            .filter(|p| self.projection.person_exists(*p))
            .ok_or_else(|| {
                item_err(
                    "unknown_person",
                    "the code's subject is not a resident here",
                )
            })
    }

    /// The resident a verified token names, remembered under `key` for its next use.
    fn remember(
        &self,
        key: u64,
        claims: &CodeClaims,
        generation: u64,
    ) -> Result<PersonId, ItemError> {
        let person = self.resident(claims)?;
        self.verified.put(
            key,
            Verified {
                person,
                issued_at: claims.issued_at,
                expires_at: claims.expires_at,
                generation,
            },
        );
        Ok(person)
    }

    /// Evaluates a person's colour now under the active policy. `None` for an unknown
    /// person.
    pub fn evaluate(
        &self,
        person: PersonId,
        now: Timestamp,
    ) -> Option<(Evaluation, Option<Timestamp>)> {
        self.projection.evaluate(&self.policy(), person, now)
    }

    /// The person's signed code: re-used while the colour, last negative test and policy are
    /// unchanged and more than half its lifetime remains; signed afresh otherwise.
    pub fn code(&self, person: PersonId, eval: &Evaluation, now: Timestamp) -> Arc<IssuedCode> {
        let vaccination = crate::lab::vaccination_status(self, person);
        if let Some(c) = self.codes.get(&person) {
            let half = (c.claims.expires_at.0 - c.claims.issued_at.0) / 2;
            let fresh = c.claims.expires_at.0 - now.0 > half && c.claims.issued_at <= now;
            // One atomic load (and, once a ring is due, the switch): a code of a ring no
            // longer in force is signed again.
            let in_force = now.0 < self.keys_due.load(std::sync::atomic::Ordering::Acquire)
                && c.generation == self.key_generation();
            if fresh && in_force && c.eval == *eval && c.vaccination == vaccination {
                return c;
            }
        }
        let ttl = i64::from(self.policy().code_ttl_secs());
        let ring = self.keys(now);
        let claims = CodeClaims {
            issuer: ring.signer.jurisdiction().to_owned(),
            subject: self.pseudonyms.pseudonym(person),
            colour: eval.colour,
            last_negative: eval.last_negative,
            issued_at: now,
            expires_at: now.plus(ttl),
        };
        let token: Arc<str> = ring.signer.issue(&claims).into();
        let bases: Vec<(EventSeq, String)> = eval
            .fired
            .iter()
            .filter_map(|r| Some((r.event, self.projection.hold_basis(r.event)?)))
            .collect();
        let json = serde_json::to_vec(&crate::wire::CodeOut::new(
            person,
            eval,
            vaccination,
            &token,
            &claims,
            &bases,
        ))
        .unwrap_or_default()
        .into();
        let issued = Arc::new(IssuedCode {
            token,
            claims,
            eval: eval.clone(),
            vaccination,
            json,
            generation: ring.generation,
        });
        self.codes.put(person, issued.clone());
        issued
    }

    /// Drops whole days of check-ins and location pings older than the policy's retention
    /// period (PIPL art. 47: delete once the purpose is met). Returns the check-in days
    /// dropped.
    pub fn enforce_retention(
        &self,
        now: Timestamp,
    ) -> Result<Vec<xikang_domain::CivilDay>, StoreError> {
        let keep = i64::from(self.policy().retention_days());
        // A day is dropped once all of it is older than the retention period.
        let cutoff = now.plus(-keep * DAY).shanghai_day();
        let dropped = self.store.drop_checkin_days_before(cutoff)?;
        crate::trace::lock(&self.projection.tracing.live).drop_days_before(cutoff);
        // Location pings follow the same retention period.
        self.store.drop_ping_days_before(cutoff)?;
        self.projection.tracing.pings.drop_days_before(cutoff);
        Ok(dropped)
    }
}

/// The cores this process may use, read once: `available_parallelism` reads the cgroup
/// files on every call (open, read, close), which cost a seventh of the server's time when
/// every single scan asked (2,000 connections, `docs/benchmarks.md`, "Trust: overload").
fn cores() -> usize {
    static CORES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *CORES
        .get_or_init(|| std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get))
}
