//! The tracer's workflow for one person in one case's contact list, as a pure rule: where
//! a contact stands ([`Status`]), the steps a tracer takes ([`Action`]), and which step is
//! allowed from where ([`next`]). The server gathers the facts (the current designation,
//! the data's evidence) and turns an allowed step into authority events.

use crate::event::{ContactKind, QuarantineReason};
use serde::{Deserialize, Serialize};

/// Where a contact stands in the tracer's workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Status {
    /// Computed from the data; nobody has decided yet.
    Candidate,
    /// A tracer confirmed the designation (the colour follows the policy from here).
    Confirmed,
    /// The person was told.
    Notified,
    /// A quarantine order was issued.
    Quarantined,
    /// A tracer dismissed the candidate or released the designation, with a reason.
    Dismissed,
}

impl Status {
    /// The status's name on the wire (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Candidate => "candidate",
            Status::Confirmed => "confirmed",
            Status::Notified => "notified",
            Status::Quarantined => "quarantined",
            Status::Dismissed => "dismissed",
        }
    }
}

/// A step of the contact workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Confirm,
    Notify,
    Quarantine,
    Dismiss,
}

impl Action {
    /// The action's name on the wire (as serde writes it).
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Confirm => "confirm",
            Action::Notify => "notify",
            Action::Quarantine => "quarantine",
            Action::Dismiss => "dismiss",
        }
    }
}

/// What an allowed step does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Designate the person a contact, once the data shows them as one.
    Confirm,
    /// Record that the person was told.
    Notify,
    /// Issue a quarantine order for this reason.
    Quarantine(QuarantineReason),
    /// Release the designation (or dismiss the candidate), with a reason.
    Dismiss,
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The step does not follow from where the contact stands.
    OutOfOrder,
    /// This kind of contact is not quarantined: a companion is cleared by the policy's
    /// tests (PROTOCOL.md §1), a general contact (一般接触者) is only told.
    NotQuarantined(ContactKind),
}

/// The step `action` leads to for a contact standing at `current` (status and kind of
/// their designation; `None` for a candidate nobody has decided on).
///
/// Confirm from a candidate or a dismissed one; notify a confirmed one; quarantine a
/// confirmed or notified close or secondary contact; dismiss anyone not yet quarantined
/// or dismissed.
pub fn next(current: Option<(Status, ContactKind)>, action: Action) -> Result<Step, Refusal> {
    let status = current.map_or(Status::Candidate, |(s, _)| s);
    match action {
        Action::Confirm => match status {
            Status::Candidate | Status::Dismissed => Ok(Step::Confirm),
            Status::Confirmed | Status::Notified | Status::Quarantined => Err(Refusal::OutOfOrder),
        },
        Action::Notify => match status {
            Status::Confirmed => Ok(Step::Notify),
            Status::Candidate | Status::Notified | Status::Quarantined | Status::Dismissed => {
                Err(Refusal::OutOfOrder)
            }
        },
        Action::Quarantine => match current {
            Some((Status::Confirmed | Status::Notified, kind)) => match kind {
                ContactKind::Close => Ok(Step::Quarantine(QuarantineReason::CloseContact)),
                ContactKind::Secondary => Ok(Step::Quarantine(QuarantineReason::SecondaryContact)),
                ContactKind::Companion | ContactKind::General => Err(Refusal::NotQuarantined(kind)),
            },
            _ => Err(Refusal::OutOfOrder),
        },
        Action::Dismiss => match status {
            Status::Candidate | Status::Confirmed | Status::Notified => Ok(Step::Dismiss),
            Status::Quarantined | Status::Dismissed => Err(Refusal::OutOfOrder),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Action::*;
    use ContactKind::{Close, Companion, General, Secondary};
    use Status::*;

    type Row = (Option<(Status, ContactKind)>, Action, Result<Step, Refusal>);

    /// Every status × action for a close contact, and a candidate (no designation).
    #[test]
    fn the_workflow_table() {
        let close = |s| Some((s, Close));
        let table: &[Row] = &[
            (None, Confirm, Ok(Step::Confirm)),
            (None, Notify, Err(Refusal::OutOfOrder)),
            (None, Quarantine, Err(Refusal::OutOfOrder)),
            (None, Dismiss, Ok(Step::Dismiss)),
            (close(Candidate), Quarantine, Err(Refusal::OutOfOrder)),
            (close(Confirmed), Confirm, Err(Refusal::OutOfOrder)),
            (close(Confirmed), Notify, Ok(Step::Notify)),
            (
                close(Confirmed),
                Quarantine,
                Ok(Step::Quarantine(QuarantineReason::CloseContact)),
            ),
            (close(Confirmed), Dismiss, Ok(Step::Dismiss)),
            (close(Notified), Confirm, Err(Refusal::OutOfOrder)),
            (close(Notified), Notify, Err(Refusal::OutOfOrder)),
            (
                close(Notified),
                Quarantine,
                Ok(Step::Quarantine(QuarantineReason::CloseContact)),
            ),
            (close(Notified), Dismiss, Ok(Step::Dismiss)),
            (close(Quarantined), Confirm, Err(Refusal::OutOfOrder)),
            (close(Quarantined), Notify, Err(Refusal::OutOfOrder)),
            (close(Quarantined), Quarantine, Err(Refusal::OutOfOrder)),
            (close(Quarantined), Dismiss, Err(Refusal::OutOfOrder)),
            (close(Dismissed), Confirm, Ok(Step::Confirm)),
            (close(Dismissed), Notify, Err(Refusal::OutOfOrder)),
            (close(Dismissed), Quarantine, Err(Refusal::OutOfOrder)),
            (close(Dismissed), Dismiss, Err(Refusal::OutOfOrder)),
        ];
        for (current, action, want) in table {
            assert_eq!(next(*current, *action), *want, "{current:?} {action:?}");
        }
    }

    #[test]
    fn the_kind_decides_the_quarantine_reason() {
        assert_eq!(
            next(Some((Confirmed, Secondary)), Quarantine),
            Ok(Step::Quarantine(QuarantineReason::SecondaryContact))
        );
        for s in [Confirmed, Notified] {
            for kind in [Companion, General] {
                assert_eq!(
                    next(Some((s, kind)), Quarantine),
                    Err(Refusal::NotQuarantined(kind))
                );
            }
        }
        // A companion is notified and dismissed like anyone else.
        assert_eq!(next(Some((Confirmed, Companion)), Notify), Ok(Step::Notify));
        assert_eq!(
            next(Some((Notified, Companion)), Dismiss),
            Ok(Step::Dismiss)
        );
    }
}
