//! Several nodes on one database (docs/nodes.md): the [`ClusterStore`] half of
//! [`crate::Store`]. Leases decide which node runs the work that must run once (the
//! sweeps); a listener wakes a node when another appends to the authority log; the
//! check-in feed carries each node's committed check-ins to the others' tracing indexes;
//! the node feed carries what else a node keeps in memory from writes that are not log
//! events (location pings, lab writes) and what it must forget when another node changes
//! it (revoked tokens, policy rows).
//! On SQLite there is one node: it always holds its leases, has nothing to listen to and
//! no feed.

use crate::error::Result;
use crate::lab::LabWrite;
use std::time::Duration;
use xikang_domain::{CheckIn, LocationPing, Timestamp};

/// One committed batch of check-ins in the feed, with the node that wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedBatch {
    /// Its place in the feed: batches commit in this order.
    pub seq: u64,
    pub node: String,
    pub checkins: Vec<CheckIn>,
}

/// The streams of the node feed, each numbered on its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NoteKind {
    /// Location pings stored by a node (for the other nodes' ping indexes).
    Pings,
    /// A lab write (for the other nodes' lab indexes).
    Lab,
    /// A bearer token revoked (every node forgets its cached lookups).
    Tokens,
    /// Policy rows uploaded, proposed, approved or activated (every node re-reads them).
    Policies,
    /// Residents a register import added or moved (for the other nodes' projections).
    Register,
}

impl NoteKind {
    /// Its name in the feed.
    pub fn as_str(self) -> &'static str {
        match self {
            NoteKind::Pings => "pings",
            NoteKind::Lab => "lab",
            NoteKind::Tokens => "tokens",
            NoteKind::Policies => "policies",
            NoteKind::Register => "register",
        }
    }
}

/// What a note says changed.
#[derive(Debug, Clone)]
pub enum Change {
    Pings(Vec<LocationPing>),
    /// The rows of a lab write (without its events, which the log carries, and its duty
    /// rows, which are read from the store).
    Lab(Box<LabWrite>),
    Tokens,
    Policies,
    Register(Vec<crate::register::PlacedResident>),
}

/// One committed entry of the node feed.
#[derive(Debug, Clone)]
pub struct Note {
    /// Its place in its kind's stream: notes of a kind commit in this order.
    pub seq: u64,
    /// The node that wrote it (empty for a process that never joined, e.g. the CLI).
    pub node: String,
    pub change: Change,
}

/// A connection that waits for other nodes' writes.
pub trait LogListener: Send {
    /// Waits up to `timeout` for an append to the authority log or the check-in feed;
    /// `true` if one was announced. An error means the connection broke: open another.
    fn wait(&mut self, timeout: Duration) -> Result<bool>;
}

/// What several nodes on one database need of it.
pub trait ClusterStore {
    /// Names this process and claims the name: from now on its check-in batches are also
    /// written to the feed for the other nodes. Refused (`StoreError::Target`) while another
    /// running process holds the name — on PostgreSQL a session advisory lock on a
    /// connection of its own, which the database releases when that process's connection
    /// ends, so a node restarted after `kill -9` gets its name back at once. Called again, it
    /// checks the claim's connection and claims again after a lost one (a failover). A
    /// process that never joins writes no feed (the single-node default costs nothing).
    fn join(&self, node: &str) -> Result<()>;

    /// Takes the lease `name` for `holder` until `now + ttl_secs`, or renews it if
    /// `holder` has it; `false` if another holder's lease has not expired at `now`.
    fn take_lease(&self, name: &str, holder: &str, now: Timestamp, ttl_secs: i64) -> Result<bool>;

    /// Gives the lease up if `holder` has it (a clean shutdown: the next node need not
    /// wait for the expiry).
    fn release_lease(&self, name: &str, holder: &str) -> Result<()>;

    /// Who holds the lease at `now`, if anyone.
    fn lease_holder(&self, name: &str, now: Timestamp) -> Result<Option<String>>;

    /// A new connection that waits for other nodes' appends; `None` where there are no
    /// other nodes (SQLite).
    fn log_listener(&self) -> Result<Option<Box<dyn LogListener>>>;

    /// The last sequence number in the check-in feed (0 when empty): a node loading its
    /// index from the day tables reads this first and follows the feed from there.
    fn checkin_feed_head(&self) -> Result<u64>;

    /// Up to `limit` feed batches after `after`, in order.
    fn checkin_feed_after(&self, after: u64, limit: u32) -> Result<Vec<FeedBatch>>;

    /// The last note of `kind` in the node feed (0 when none). A node reads it before
    /// loading what the kind's notes keep up to date, and follows from there. Pings and lab
    /// writes are noted by processes that joined; revoked tokens and policy rows by every
    /// process (the CLI revokes tokens too). Nothing on SQLite (one node).
    fn note_head(&self, _kind: NoteKind) -> Result<u64> {
        Ok(0)
    }

    /// Up to `limit` notes of `kind` after `after`, in order.
    fn notes_after(&self, _kind: NoteKind, _after: u64, _limit: u32) -> Result<Vec<Note>> {
        Ok(Vec::new())
    }
}
