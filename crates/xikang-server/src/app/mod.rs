//! The application layer, between the HTTP handlers and web pages above and the store
//! below (see ARCHITECTURE.md at the root):
//!
//! - [`access`]: the access log (who read whose personal data);
//! - [`actor`]: who acts ([`Actor`], [`Role`]);
//! - [`authorise`]: the one place where an actor's role and area are checked against the
//!   object a command or query touches;
//! - [`commit`]: the one committer (write durably, then apply);
//! - [`node`]: several nodes on one database (following the others, the sweep lease);
//! - [`projection`]: the in-memory state with the only `apply`, fed from the committed log;
//! - `reactions`: what one feature's committed facts set off in another (run by the
//!   committer);
//! - [`sweep`]: the periodic work that crosses features.

pub mod access;
pub mod actor;
pub mod authorise;
pub mod commit;
pub mod node;
pub mod projection;
mod reactions;
pub mod sweep;

pub use actor::{Actor, Role};
pub use authorise::Scoped;
pub use projection::Projection;
