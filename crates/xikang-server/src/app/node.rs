//! Several nodes on one database (docs/nodes.md): what a node is (its id and role), how
//! it follows the others (the committed authority log, woken by the store's listener and
//! read in sequence order; the check-in feed for the tracing index; the node feed for the
//! ping index, the lab index, cached token lookups and the policy versions), how a reader waits
//! for a write made on another node (the sequence token), and the lease that lets exactly
//! one node run the sweeps.
//!
//! A single node (no node id: the SQLite default) runs the same code: it sweeps without a
//! lease (there is nobody to share with), has no listener and no feed, and every token it
//! hands out it has already reached.

use crate::state::AppState;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;
use xikang_domain::EventSeq;
use xikang_store::{Change, NoteKind, StoreError};

/// What a node serves. Unknown role names are refused at start (`NodeRole::parse`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NodeRole {
    /// Everything (the single-node default).
    #[default]
    All,
    /// Codes, scans and the rest of the API from the projection; no check-in index, so
    /// tracing requests are refused with `tracing_elsewhere` (a load balancer sends them
    /// to a tracing node). Scales out: its memory is the residents' facts only.
    Front,
    /// Everything, and it holds the check-in index (as `All`; the name says where tracing
    /// requests go).
    Tracing,
}

impl NodeRole {
    /// The role named `s`; `None` for anything else (refused, never guessed).
    pub fn parse(s: &str) -> Option<NodeRole> {
        match s {
            "all" => Some(NodeRole::All),
            "front" => Some(NodeRole::Front),
            "tracing" => Some(NodeRole::Tracing),
            _ => None,
        }
    }

    /// Its name.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeRole::All => "all",
            NodeRole::Front => "front",
            NodeRole::Tracing => "tracing",
        }
    }

    /// Whether a node of this role holds the check-in index.
    pub fn holds_index(self) -> bool {
        match self {
            NodeRole::All | NodeRole::Tracing => true,
            NodeRole::Front => false,
        }
    }
}

/// A node's settings.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    /// Its name among the nodes, unique (`--node-id`); `None`: the only node.
    pub id: Option<String>,
    pub role: NodeRole,
    /// How long the sweep lease lasts unrenewed: when its holder dies, another node takes
    /// it at most this long after the last renewal (renewed every third of it).
    pub lease_ttl_secs: i64,
    /// How long a read carrying a sequence token waits for this node to reach it before
    /// answering 503 `stale_node`.
    pub read_wait: Duration,
    /// How often the node reads the log and the feed when no notification came (the
    /// staleness bound when notifications are lost, e.g. across a reconnect).
    pub poll: Duration,
}

impl Default for NodeConfig {
    fn default() -> Self {
        NodeConfig {
            id: None,
            role: NodeRole::All,
            lease_ttl_secs: 15,
            read_wait: Duration::from_secs(2),
            poll: Duration::from_millis(500),
        }
    }
}

impl NodeConfig {
    /// The holder name in leases: the node id, or `local`.
    pub fn holder(&self) -> &str {
        self.id.as_deref().unwrap_or("local")
    }
}

/// The lease the sweeps (and the other periodic writers: mandated tests, retention) run
/// under.
pub const SWEEP_LEASE: &str = "sweeps";

/// A node's running state.
#[derive(Debug, Default)]
pub struct NodeState {
    /// Whether this node held the sweep lease at its last renewal.
    sweeps: AtomicBool,
    /// The last check-in feed batch this node's index has.
    feed_after: AtomicU64,
    /// The last note of each kind of the node feed this node has followed.
    pings_after: AtomicU64,
    lab_after: AtomicU64,
    tokens_after: AtomicU64,
    policies_after: AtomicU64,
    register_after: AtomicU64,
    /// One follower per kind at a time (the follower's loop and a reader waiting on a
    /// token may both catch up): a page is applied once.
    following: [tokio::sync::Mutex<()>; 5],
    /// Woken by the listener thread when another node appended.
    wake: tokio::sync::Notify,
    /// The projection reached a new sequence number (readers waiting on a token).
    advanced: tokio::sync::Notify,
    /// The log carried a key rotation or revocation (another node's, or `xikang key`'s):
    /// the follower reads the store's keys again ([`AppState::reload_keys`]).
    keys_stale: AtomicBool,
}

impl NodeState {
    /// Marks the signing keys to be read again by the follower.
    pub fn keys_changed(&self) {
        self.keys_stale.store(true, Ordering::Release);
    }

    /// Whether this node held the sweep lease at its last renewal.
    pub fn holds_sweeps(&self) -> bool {
        self.sweeps.load(Ordering::Acquire)
    }

    fn after(&self, kind: NoteKind) -> &AtomicU64 {
        match kind {
            NoteKind::Pings => &self.pings_after,
            NoteKind::Lab => &self.lab_after,
            NoteKind::Tokens => &self.tokens_after,
            NoteKind::Policies => &self.policies_after,
            NoteKind::Register => &self.register_after,
        }
    }

    /// Where this node starts following the node feed: each kind's head, read before the
    /// state the kind keeps up to date is loaded ([`AppState::load`]), so nothing committed
    /// in between is missed (a ping or a lab write in both is kept twice: the indexes
    /// report a ping once and a lab write absorbed twice changes nothing more).
    pub fn start_notes_at(&self, store: &dyn xikang_store::Store) -> Result<(), StoreError> {
        for kind in [
            NoteKind::Pings,
            NoteKind::Lab,
            NoteKind::Tokens,
            NoteKind::Policies,
            NoteKind::Register,
        ] {
            self.after(kind)
                .store(store.note_head(kind)?, Ordering::Release);
        }
        Ok(())
    }

    /// The last lab note this node's lab index has absorbed: a lab write planned now is
    /// refused by the store if another node's came after it.
    pub fn lab_after(&self) -> u64 {
        self.lab_after.load(Ordering::Acquire)
    }
}

/// Starts following the other nodes and keeping the sweep lease. Called by
/// [`crate::serve`] before the tracing index loads: the feed's head is read first, so the
/// index (loaded from the day tables after) misses no batch committed in between (one
/// committed in both is indexed twice and reported once).
pub async fn start(state: Arc<AppState>) -> Result<(), StoreError> {
    let node = &state.config.node;
    if let Some(id) = &node.id {
        // A node restarted at once after a crash may find its old connection not yet
        // closed by the database: a few seconds' patience, then refuse the name.
        let patience = tokio::time::Instant::now() + Duration::from_secs(5);
        loop {
            let (s, id) = (state.clone(), id.clone());
            match blocking(move || s.store.join(&id)).await {
                Ok(()) => break,
                Err(StoreError::Target(_)) if tokio::time::Instant::now() < patience => {
                    tokio::time::sleep(Duration::from_millis(250)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
    if node.role.holds_index() {
        let s = state.clone();
        let head = blocking(move || s.store.checkin_feed_head()).await?;
        state.node.feed_after.store(head, Ordering::Release);
    } else {
        state.projection.tracing.serve_front_only();
    }
    let s = state.clone();
    if let Some(listener) = blocking(move || s.store.log_listener()).await? {
        spawn_listener(state.clone(), listener);
        tokio::spawn(follow_loop(state.clone()));
    }
    if node.id.is_none() {
        // The only node: it sweeps, as before there were nodes, without a lease row.
        state.node.sweeps.store(true, Ordering::Release);
        return Ok(());
    }
    // The first renewal before serving: the first node sweeps at once.
    renew(&state).await;
    tokio::spawn(lease_loop(state));
    Ok(())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Corrupt(format!("store task failed: {e}")))?
}

/// A thread that waits on the store's listener and wakes the follower; it reconnects
/// (every half second until it can) when the connection breaks, e.g. at a failover.
fn spawn_listener(state: Arc<AppState>, first: Box<dyn xikang_store::LogListener>) {
    let spawned = std::thread::Builder::new()
        .name("log-listener".into())
        .spawn(move || {
            let mut listener = Some(first);
            loop {
                let Some(l) = listener.as_mut() else {
                    std::thread::sleep(Duration::from_millis(500));
                    listener = state.store.log_listener().ok().flatten();
                    // Whatever was announced while we were away: read it now.
                    state.node.wake.notify_one();
                    continue;
                };
                match l.wait(Duration::from_secs(1)) {
                    Ok(true) => state.node.wake.notify_one(),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::warn!(error = %e, "log listener lost its connection; reconnecting");
                        listener = None;
                    }
                }
                if Arc::strong_count(&state) == 1 {
                    return; // the server is gone
                }
            }
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start the log listener; following by polling");
    }
}

/// Applies what other nodes committed, when woken or every `poll` at the latest.
async fn follow_loop(state: Arc<AppState>) {
    loop {
        let _ = tokio::time::timeout(state.config.node.poll, state.node.wake.notified()).await;
        catch_up(&state).await;
    }
}

/// Reads the log (and the feed, on a node with the index) up to what is committed now.
pub async fn catch_up(state: &Arc<AppState>) {
    // Residents an import placed first: the import's events (moves) apply to their slots.
    if let Err(e) = follow(state, NoteKind::Register).await {
        tracing::warn!(error = %e, "following other nodes' imports failed; will retry");
    }
    match state.follow_log().await {
        Ok(n) if n > 0 => state.node.advanced.notify_waiters(),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "following the log failed; will retry"),
    }
    if state.node.keys_stale.swap(false, Ordering::AcqRel) {
        let s = state.clone();
        let now = crate::now();
        match blocking(move || s.reload_keys(now)).await {
            Ok(_) => {}
            Err(e) => {
                state.node.keys_changed();
                tracing::warn!(error = %e, "reading the signing keys again failed; will retry");
            }
        }
    }
    if state.config.node.role.holds_index()
        && let Err(e) = follow_feed(state).await
    {
        tracing::warn!(error = %e, "following the check-in feed failed; will retry");
    }
    if let Err(e) = follow_notes(state).await {
        tracing::warn!(error = %e, "following the node feed failed; will retry");
    }
}

/// Follows the node feed: revoked tokens (cached lookups forgotten, so a token revoked on
/// another node is refused here within the follower's bound, not after the cache's
/// [`crate::auth::RECHECK`]), policy rows (re-read, and a version activated or approved
/// elsewhere put in force or scheduled here), other nodes' pings (a node with the index) and
/// lab writes. The lab's notes are absorbed only under the lab's operation lock, as lab
/// commands absorb their own writes; while a lab command runs they wait for the next round
/// (or the next command's [`follow_lab`]).
async fn follow_notes(state: &Arc<AppState>) -> Result<(), StoreError> {
    follow(state, NoteKind::Tokens).await?;
    follow(state, NoteKind::Policies).await?;
    if state.config.node.role.holds_index() {
        follow(state, NoteKind::Pings).await?;
    }
    if let Some(_op) = state.projection.lab.try_op() {
        follow(state, NoteKind::Lab).await?;
    }
    Ok(())
}

/// Absorbs the other nodes' lab writes noted since this node's last. The caller holds the
/// lab's operation lock (a lab command, before it plans: what it checks against is then
/// what the store has, and its write is refused if another node's lab write comes between).
pub async fn follow_lab(state: &AppState) -> Result<(), StoreError> {
    follow(state, NoteKind::Lab).await
}

/// Applies the notes of one kind after this node's last, a page at a time. Notes of a kind
/// are applied by one task at a time (the store's feed is read and applied under the kind's
/// position, compared and set after applying).
async fn follow(state: &AppState, kind: NoteKind) -> Result<(), StoreError> {
    const PAGE: u32 = 1_000;
    let _one = state.node.following[kind as usize].lock().await;
    loop {
        let at = state.node.after(kind);
        let after = at.load(Ordering::Acquire);
        let store = state.store.clone();
        let page = blocking(move || store.notes_after(kind, after, PAGE)).await?;
        let Some(last) = page.last().map(|n| n.seq) else {
            return Ok(());
        };
        if page[0].seq != after + 1 && after > 0 {
            tracing::warn!(
                kind = kind.as_str(),
                from = after,
                to = page[0].seq,
                "node feed gap; restart the node to reload"
            );
        }
        let own = state.config.node.id.as_deref().unwrap_or("");
        let mut forget_tokens = false;
        let mut reread_policies = false;
        for n in &page {
            match &n.change {
                Change::Tokens => forget_tokens = true,
                Change::Policies => reread_policies = true,
                // A node's own pings and lab writes are in its indexes already.
                _ if n.node == own => {}
                Change::Pings(p) => state.projection.tracing.pings.append(p),
                Change::Lab(w) => state.projection.lab.absorb(state, w),
                Change::Register(r) => {
                    crate::register::place(state, r);
                    crate::register::forget_next_ids(state);
                }
            }
        }
        if forget_tokens {
            crate::auth::forget_cached_tokens(state);
        }
        if reread_policies {
            crate::policies::reread(state).await?;
        }
        at.store(last, Ordering::Release);
        if page.len() < PAGE as usize {
            return Ok(());
        }
    }
}

/// Adds the other nodes' committed check-ins to this node's index, in feed order.
async fn follow_feed(state: &Arc<AppState>) -> Result<(), StoreError> {
    const PAGE: u32 = 1_000;
    loop {
        let after = state.node.feed_after.load(Ordering::Acquire);
        let s = state.clone();
        let page = blocking(move || s.store.checkin_feed_after(after, PAGE)).await?;
        let Some(last) = page.last().map(|b| b.seq) else {
            return Ok(());
        };
        if page[0].seq != after + 1 && after > 0 {
            // Pruned before we read it (a node more than an hour behind): the day tables
            // hold those check-ins; a restart reloads them.
            tracing::warn!(
                from = after,
                to = page[0].seq,
                "check-in feed gap; restart the node to reload its index"
            );
        }
        let own = state.config.node.id.as_deref();
        {
            let mut live = crate::trace::lock(&state.projection.tracing.live);
            for b in page.iter().filter(|b| Some(b.node.as_str()) != own) {
                live.append(&b.checkins);
            }
        }
        state.node.feed_after.store(last, Ordering::Release);
        if page.len() < PAGE as usize {
            return Ok(());
        }
    }
}

/// Waits until this node's projection has applied `seq` (a write made on any node), for
/// at most the configured bound; whether it got there.
pub async fn reach(state: &Arc<AppState>, seq: EventSeq) -> bool {
    let deadline = tokio::time::Instant::now() + state.config.node.read_wait;
    loop {
        if state.projection.applied() >= seq {
            return true;
        }
        // Not there yet: read the log now rather than wait for the follower's wake-up.
        catch_up(state).await;
        if state.projection.applied() >= seq {
            return true;
        }
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if left.is_zero() {
            return false;
        }
        let step = left.min(Duration::from_millis(50));
        let _ = tokio::time::timeout(step, state.node.advanced.notified()).await;
    }
}

/// Keeps this node's name (claimed again after a lost connection), then takes or renews
/// the sweep lease; records whether this node holds it. A node that lost its name to
/// another process does not sweep.
async fn renew(state: &Arc<AppState>) {
    let s = state.clone();
    let node = &state.config.node;
    let (holder, ttl) = (node.holder().to_owned(), node.lease_ttl_secs);
    let held = blocking(move || {
        s.store.join(&holder)?;
        s.store.take_lease(SWEEP_LEASE, &holder, crate::now(), ttl)
    })
    .await;
    let held = match held {
        Ok(h) => h,
        Err(e) => {
            // Fail closed: a node that cannot reach the database does not sweep.
            tracing::warn!(error = %e, "renewing the sweep lease failed");
            false
        }
    };
    let was = state.node.sweeps.swap(held, Ordering::AcqRel);
    if was != held {
        tracing::info!(node = state.config.node.holder(), held, "sweep lease");
    }
}

/// Renews the sweep lease every third of its lifetime.
async fn lease_loop(state: Arc<AppState>) {
    let every = Duration::from_secs((state.config.node.lease_ttl_secs / 3).max(1) as u64);
    loop {
        tokio::time::sleep(every).await;
        renew(&state).await;
    }
}

/// Gives the sweep lease up (a clean shutdown: the next node need not wait for expiry).
pub async fn release(state: &Arc<AppState>) {
    if state.config.node.id.is_none() || !state.node.sweeps.swap(false, Ordering::AcqRel) {
        return;
    }
    let s = state.clone();
    let holder = state.config.node.holder().to_owned();
    if let Err(e) = blocking(move || s.store.release_lease(SWEEP_LEASE, &holder)).await {
        tracing::warn!(error = %e, "releasing the sweep lease failed; it expires by itself");
    }
}
