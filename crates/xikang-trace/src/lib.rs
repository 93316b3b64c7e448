//! Contact tracing (流调) for xikang: an in-memory, columnar index of check-ins
//! ([`TraceIndex`], ≤ 24 bytes a check-in) and of location pings ([`PingIndex`]), and the
//! tracing rules of PROTOCOL.md §2 as pure functions over an index snapshot, a
//! [`Population`] (households, workplaces, dwell times) and a policy's `[tracing]` section:
//!
//! - [`Tracer::close_contacts`] (venue co-presence, household, workplace) with evidence,
//!   and [`Tracer::close_contacts_batch`] for many cases on all cores;
//! - [`Tracer::secondary_contacts`] of those close contacts;
//! - [`companions`] (时空伴随) from location pings;
//! - [`Tracer::sources`]: who was with the case in the incubation period before onset;
//! - [`clusters`] of linked cases as graphs, and [`to_dot`] for Graphviz;
//! - [`impossible_moves`]: one person at venues too far apart for the time between scans.
//!
//! No I/O and no clock reads: the caller loads the indexes and passes `now`.

mod cluster;
mod columns;
mod contact;
mod index;
mod movement;
mod ping;
mod population;
mod presence;

pub use cluster::{Cluster, ClusterEdge, Link, clusters, to_dot};
pub use contact::{
    Case, CloseContacts, Contact, ContactRule, Evidence, SecondaryContact, SecondaryContacts,
    SharedGroup, SourceCandidate, TraceError, Tracer,
};
pub use index::TraceIndex;
pub use movement::{ImpossibleMove, MoveEnd, SpeedBound, distance_m, impossible_moves};
pub use ping::{Companion, CompanionCell, Ping, PingIndex, companions};
pub use population::{Population, PopulationError};
pub use presence::{Interval, MAX_STAY};
