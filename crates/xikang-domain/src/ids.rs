//! Typed identifiers. Each is a dense integer inside the process (people and venues index
//! in-memory tables directly) but a distinct type, so a venue id can never be passed where
//! a person id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $prefix:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw integer, for storage and array indexing.
            pub fn get(self) -> $inner {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}{}", $prefix, self.0)
            }
        }
    };
}

typed_id!(
    /// A resident known to the system (dense index from 0).
    PersonId, u32, "P");
typed_id!(
    /// A venue (place) that scans codes (dense index from 0).
    VenueId, u32, "V");
typed_id!(
    /// A household: the people who live together.
    HouseholdId, u32, "H");
typed_id!(
    /// A workplace or school.
    WorkplaceId, u32, "W");
typed_id!(
    /// A confirmed or asymptomatic case.
    CaseId, u64, "C");
typed_id!(
    /// The sequence number of an event in the authority log (from 1).
    EventSeq, u64, "E");
typed_id!(
    /// A zone drawn by the command centre.
    ZoneId, u64, "Z");
typed_id!(
    /// A quarantine order.
    OrderId, u64, "Q");
typed_id!(
    /// A venue scanning device.
    DeviceId, u64, "D");
typed_id!(
    /// A quarantine site (集中隔离点, 健康驿站).
    SiteId, u64, "S");
typed_id!(
    /// A grid worker's task.
    TaskId, u64, "T");
typed_id!(
    /// A zone change proposed for approval.
    ProposalId, u64, "ZP");
typed_id!(
    /// An arrival registration (入锡申报).
    ArrivalId, u64, "A");
