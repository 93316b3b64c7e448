//! Two cities (长三角联防联控, docs/cities.md): this city's keys over time and the signed
//! trust list it publishes ([`keys`]), the peers whose lists it fetches and keeps
//! ([`peers`]), 协查 requests between the cities' tracers ([`assist`]), the entry check that verifies another city's code offline and applies this
//! city's rules ([`entry`]), and commuter passes (出入证, [`passes`]).
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

pub use keys::{Cities, revoked_keys};
pub use records::{Pass, PassStatus, PeerRecord, Records};
