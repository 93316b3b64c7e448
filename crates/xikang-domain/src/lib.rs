//! xikang's pure domain: typed ids, ID numbers and masking, the things the system knows
//! about, the authority-log events, per-person facts and the policy engine that turns facts
//! into a colour. No I/O and no clock reads: every function that needs the time takes `now`.

pub mod authority;
pub mod board;
pub mod bulletin;
pub mod capacity;
pub mod case;
pub mod contact;
pub mod duties;
pub mod enterprise;
pub mod event;
pub mod facts;
pub mod fourearly;
pub mod geo;
pub mod idnumber;
pub mod ids;
pub mod mask;
pub mod merkle;
pub mod model;
pub mod policy;
pub mod register;
pub mod silent;
pub mod testing;
pub mod time;

pub use geo::{Position, PositionError, companion_cell};
pub use ids::*;
pub use model::*;
pub use time::{CivilDay, Timestamp};
