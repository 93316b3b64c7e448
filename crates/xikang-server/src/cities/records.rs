//! The part of the projection that belongs to the two-city features: peers and commuter
//! passes, folded from their authority events.

use std::collections::BTreeMap;
use xikang_code::TrustAnchor;
use xikang_domain::event::{EventBody, StoredEvent};
use xikang_domain::{EventSeq, PersonId, Timestamp};

/// A peer city, as its `peer_added` event recorded it (a later event for the same name
/// replaces it: a moved URL or a new root).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PeerRecord {
    pub name: String,
    pub url: String,
    pub anchor: TrustAnchor,
    pub added_at: Timestamp,
    pub added_by: String,
}

/// A commuter pass and its course.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pass {
    /// The number: its `pass_applied` event.
    pub id: EventSeq,
    pub person: PersonId,
    pub employer: String,
    pub work_jurisdiction: String,
    pub valid_from: Timestamp,
    pub valid_until: Timestamp,
    pub max_test_age_hours: u32,
    pub approvals_needed: u32,
    pub applied_by: String,
    pub applied_at: Timestamp,
    /// Who approved, and when, in order.
    pub approvals: Vec<(String, Timestamp)>,
    pub revoked: Option<(Timestamp, String)>,
}

/// Where a pass stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PassStatus {
    /// Waiting for approvals.
    Pending,
    Approved,
    Revoked,
    Expired,
}

impl Pass {
    /// The pass's status at `now`.
    pub fn status(&self, now: Timestamp) -> PassStatus {
        if self.revoked.is_some() {
            PassStatus::Revoked
        } else if now >= self.valid_until {
            PassStatus::Expired
        } else if (self.approvals.len() as u32) < self.approvals_needed {
            PassStatus::Pending
        } else {
            PassStatus::Approved
        }
    }

    /// When the last approval it needed was given: the signed pass's issue time.
    pub fn approved_at(&self) -> Option<Timestamp> {
        let n = usize::try_from(self.approvals_needed).ok()?;
        self.approvals.get(n.checked_sub(1)?).map(|a| a.1)
    }
}

/// Peers and passes, from the log.
#[derive(Debug, Default)]
pub struct Records {
    pub peers: BTreeMap<String, PeerRecord>,
    pub passes: BTreeMap<EventSeq, Pass>,
    /// 协查 requests sent and received ([`crate::cities::assist`]).
    pub assists: crate::cities::assist::Assists,
}

impl Records {
    /// Folds one event if it is one of ours; says whether it was.
    pub fn apply(&mut self, e: &StoredEvent) -> bool {
        match &e.body {
            EventBody::PeerAdded {
                name,
                url,
                jurisdiction,
                anchor_kid,
                anchor_public_key,
            } => {
                self.peers.insert(
                    name.clone(),
                    PeerRecord {
                        name: name.clone(),
                        url: url.clone(),
                        anchor: TrustAnchor {
                            jurisdiction: jurisdiction.clone(),
                            kid: anchor_kid.clone(),
                            public_key: anchor_public_key.clone(),
                        },
                        added_at: e.at,
                        added_by: e.actor.clone(),
                    },
                );
            }
            EventBody::PassApplied {
                person,
                employer,
                work_jurisdiction,
                valid_from,
                valid_until,
                max_test_age_hours,
                approvals_needed,
            } => {
                self.passes.insert(
                    e.seq,
                    Pass {
                        id: e.seq,
                        person: *person,
                        employer: employer.clone(),
                        work_jurisdiction: work_jurisdiction.clone(),
                        valid_from: *valid_from,
                        valid_until: *valid_until,
                        max_test_age_hours: *max_test_age_hours,
                        approvals_needed: *approvals_needed,
                        applied_by: e.actor.clone(),
                        applied_at: e.at,
                        approvals: Vec::new(),
                        revoked: None,
                    },
                );
            }
            EventBody::PassApproved { pass, .. } => {
                if let Some(p) = self.passes.get_mut(pass) {
                    p.approvals.push((e.actor.clone(), e.at));
                }
            }
            EventBody::PassRevoked { pass, reason, .. } => {
                if let Some(p) = self.passes.get_mut(pass) {
                    p.revoked.get_or_insert((e.at, reason.clone()));
                }
            }
            _ => return self.assists.apply(e),
        }
        true
    }

    /// The peer whose root signs for this jurisdiction.
    pub fn peer_for(&self, jurisdiction: &str) -> Option<&PeerRecord> {
        self.peers
            .values()
            .find(|p| p.anchor.jurisdiction == jurisdiction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(needed: u32, approvals: &[i64], revoked: bool) -> Pass {
        Pass {
            id: EventSeq(9),
            person: PersonId(1),
            employer: "e".into(),
            work_jurisdiction: "320500".into(),
            valid_from: Timestamp(0),
            valid_until: Timestamp(1000),
            max_test_age_hours: 48,
            approvals_needed: needed,
            applied_by: "admin:a".into(),
            applied_at: Timestamp(0),
            approvals: approvals
                .iter()
                .map(|&t| (format!("admin:{t}"), Timestamp(t)))
                .collect(),
            revoked: revoked.then(|| (Timestamp(50), String::new())),
        }
    }

    #[test]
    fn a_pass_is_approved_by_its_last_needed_approval_and_revocation_or_expiry_end_it() {
        let cases = [
            (pass(2, &[10], false), 20, PassStatus::Pending, None),
            (
                pass(2, &[10, 30], false),
                40,
                PassStatus::Approved,
                Some(30),
            ),
            (
                pass(1, &[10, 30], false),
                40,
                PassStatus::Approved,
                Some(10),
            ),
            (pass(2, &[10, 30], true), 40, PassStatus::Revoked, Some(30)),
            (
                pass(2, &[10, 30], false),
                1000,
                PassStatus::Expired,
                Some(30),
            ),
            (pass(0, &[], false), 40, PassStatus::Approved, None),
        ];
        for (p, now, status, approved_at) in cases {
            assert_eq!(p.status(Timestamp(now)), status, "{p:?}");
            assert_eq!(p.approved_at(), approved_at.map(Timestamp), "{p:?}");
        }
    }
}
