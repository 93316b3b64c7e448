//! Typed identifiers. Each is a dense integer inside the process (people and venues index
//! in-memory tables directly) but a distinct type, so a venue id can never be passed where
//! a person id is expected.

use serde::{Deserialize, Serialize};
use std::fmt;

/// An id written as a prefix and a number (`P12`, `ZP3`), parsed once at the edge.
pub trait TypedId: Sized + Copy + fmt::Display {
    /// The prefix it is written with.
    const PREFIX: &'static str;
    /// The stable error code of a malformed one (`invalid_person_id`).
    const INVALID: &'static str;
    /// Parses `PREFIX123` or the bare number; `None` for anything else.
    fn parse(s: &str) -> Option<Self>;
}

/// The digits of `PREFIX123` or `123`: ASCII digits only (no sign, no spaces).
pub fn id_digits<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let digits = s.strip_prefix(prefix).unwrap_or(s);
    (!digits.is_empty() && digits.len() <= 20 && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(digits)
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident, $inner:ty, $prefix:literal, $what:literal) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[serde(transparent)]
        pub struct $name(pub $inner);

        impl $name {
            /// The raw integer, for storage and array indexing.
            pub fn get(self) -> $inner {
                self.0
            }

            /// Parses `PREFIX123` or the bare number.
            pub fn parse(s: &str) -> Option<$name> {
                <$name as TypedId>::parse(s)
            }
        }

        impl TypedId for $name {
            const PREFIX: &'static str = $prefix;
            const INVALID: &'static str = concat!("invalid_", $what, "_id");
            fn parse(s: &str) -> Option<$name> {
                id_digits(s, $prefix)?.parse().ok().map($name)
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
    PersonId, u32, "P", "person");
typed_id!(
    /// A venue (place) that scans codes (dense index from 0).
    VenueId, u32, "V", "venue");
typed_id!(
    /// A household: the people who live together.
    HouseholdId, u32, "H", "household");
typed_id!(
    /// A workplace or school.
    WorkplaceId, u32, "W", "workplace");
typed_id!(
    /// A confirmed or asymptomatic case.
    CaseId, u64, "C", "case");
typed_id!(
    /// The sequence number of an event in the authority log (from 1).
    EventSeq, u64, "E", "event");
typed_id!(
    /// A zone drawn by the command centre.
    ZoneId, u64, "Z", "zone");
typed_id!(
    /// A quarantine order.
    OrderId, u64, "Q", "order");
typed_id!(
    /// A venue scanning device.
    DeviceId, u64, "D", "device");
typed_id!(
    /// An API token (its row, never its secret).
    TokenId, u64, "TK", "token");
typed_id!(
    /// A quarantine site (集中隔离点, 健康驿站).
    SiteId, u64, "S", "site");
typed_id!(
    /// A grid worker's task.
    TaskId, u64, "T", "task");
typed_id!(
    /// A zone change proposed for approval.
    ProposalId, u64, "ZP", "proposal");
typed_id!(
    /// An arrival registration (入锡申报).
    ArrivalId, u64, "A", "arrival");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_parses_with_or_without_its_prefix_and_nothing_else() {
        assert_eq!(PersonId::parse("P12"), Some(PersonId(12)));
        assert_eq!(PersonId::parse("12"), Some(PersonId(12)));
        for bad in [
            "",
            "P",
            "p12",
            "P+12",
            "+12",
            "P 12",
            "P12 ",
            "P-1",
            "V12",
            "P99999999999",
        ] {
            assert_eq!(PersonId::parse(bad), None, "{bad:?}");
        }
        // Prefixes that share a letter stay apart.
        assert_eq!(ProposalId::parse("ZP3"), Some(ProposalId(3)));
        assert_eq!(ZoneId::parse("ZP3"), None);
        assert_eq!(ZoneId::parse("Z3"), Some(ZoneId(3)));
        // The printed form parses back.
        assert_eq!(CaseId::parse(&CaseId(41).to_string()), Some(CaseId(41)));
        assert_eq!(<OrderId as TypedId>::INVALID, "invalid_order_id");
        assert_eq!(TokenId::parse("TK7"), Some(TokenId(7)));
        assert_eq!(TaskId::parse("TK7"), None);
    }
}
