//! Shared helpers for the policy tests: one person's event history written in hours after
//! a fixed start, so that each test reads like a timeline.

use xikang_domain::event::{
    CaseKind, ContactKind, EventBody, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind,
    ZoneLevel,
};
use xikang_domain::facts::PersonFacts;
use xikang_domain::policy::{Evaluation, Policy, evaluate};
use xikang_domain::{CaseId, Colour, EventSeq, OrderId, PersonId, TestOutcome, Timestamp, ZoneId};

pub const HOUR: i64 = 3600;

/// 2022-07-01 00:00 Asia/Shanghai.
pub fn t0() -> Timestamp {
    Timestamp::parse_rfc3339("2022-07-01T00:00:00+08:00").expect("a valid time")
}

/// `h` hours after [`t0`].
pub fn h(hours: i64) -> Timestamp {
    t0().plus(hours * HOUR)
}

pub const ME: PersonId = PersonId(7);
pub const CASE: CaseId = CaseId(42);
pub const ORDER: OrderId = OrderId(9);
pub const ZONE: ZoneId = ZoneId(3);

/// One person's facts, fed event by event with increasing sequence numbers.
#[derive(Debug, Default, Clone)]
pub struct Person {
    pub facts: PersonFacts,
    next: u64,
}

impl Person {
    pub fn new() -> Person {
        Person {
            facts: PersonFacts::default(),
            next: 100,
        }
    }

    fn seq(&mut self) -> EventSeq {
        self.next += 1;
        EventSeq(self.next)
    }

    /// Applies an event recorded at `at` hours.
    pub fn event(&mut self, at: i64, body: EventBody) -> EventSeq {
        let seq = self.seq();
        self.facts.apply(seq, h(at), &body);
        seq
    }

    pub fn eval(&self, policy: &Policy, at: i64) -> Evaluation {
        evaluate(policy, &self.facts, h(at))
    }

    pub fn test(&mut self, sampled: i64, outcome: TestOutcome, pool_size: u8) -> EventSeq {
        let body = EventBody::TestResulted {
            person: ME,
            sampled_at: h(sampled),
            resulted_at: h(sampled),
            outcome,
            pool_size,
            tube: format!("T{sampled}"),
        };
        self.event(sampled, body)
    }

    /// A negative single tube sampled (and resulted) at `sampled` hours.
    pub fn negative(&mut self, sampled: i64) -> EventSeq {
        self.test(sampled, TestOutcome::Negative, 1)
    }

    /// A negative 10-in-1 pooled tube.
    pub fn pooled_negative(&mut self, sampled: i64) -> EventSeq {
        self.test(sampled, TestOutcome::Negative, 10)
    }

    pub fn positive(&mut self, sampled: i64) -> EventSeq {
        self.test(sampled, TestOutcome::Positive, 1)
    }

    pub fn pool_positive(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::PoolPositive {
                person: ME,
                sampled_at: h(at - 4),
                tube: "P1".into(),
            },
        )
    }

    pub fn case(&mut self, at: i64) -> EventSeq {
        let body = EventBody::CaseRegistered {
            case: CASE,
            person: ME,
            case_kind: CaseKind::Confirmed,
            onset: None,
            sampled_at: Some(h(at)),
            isolated_at: Some(h(at)),
        };
        self.event(at, body)
    }

    pub fn discharge(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::CaseDischarged {
                case: CASE,
                person: ME,
                at: h(at),
            },
        )
    }

    pub fn contact(&mut self, at: i64, kind: ContactKind) -> EventSeq {
        let body = EventBody::ContactDesignated {
            person: ME,
            case: CASE,
            contact_kind: kind,
            last_exposure: h(at - 24),
        };
        self.event(at, body)
    }

    pub fn release_contact(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::ContactReleased {
                person: ME,
                case: CASE,
                reason: "dismissed".into(),
            },
        )
    }

    pub fn order(
        &mut self,
        start: i64,
        end: i64,
        kind: QuarantineKind,
        reason: QuarantineReason,
    ) -> EventSeq {
        let body = EventBody::QuarantineOrdered {
            order: ORDER,
            person: ME,
            quarantine_kind: kind,
            reason,
            start: h(start),
            planned_end: h(end),
        };
        self.event(start, body)
    }

    pub fn end_order(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::QuarantineEnded {
                order: ORDER,
                person: ME,
                at: h(at),
            },
        )
    }

    pub fn arrive(&mut self, at: i64, risk: RiskLevel) -> EventSeq {
        self.event(
            at,
            EventBody::Arrived {
                person: ME,
                origin: "elsewhere".into(),
                origin_risk: risk,
                at: h(at),
            },
        )
    }

    pub fn sentinel(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::SentinelReported {
                person: ME,
                sentinel_kind: SentinelKind::Pharmacy,
                at: h(at),
            },
        )
    }

    pub fn missed(&mut self, due: i64) -> EventSeq {
        self.event(
            due,
            EventBody::TestMissed {
                person: ME,
                due_at: h(due),
            },
        )
    }

    pub fn hold(&mut self, at: i64, expires: i64) -> EventSeq {
        let body = EventBody::HoldPlaced {
            person: ME,
            proposer: "a".into(),
            approver: "b".into(),
            expires_at: h(expires),
            proposal: None,
        };
        self.event(at, body)
    }

    pub fn clear_hold(&mut self, at: i64) -> EventSeq {
        self.event(
            at,
            EventBody::HoldCleared {
                person: ME,
                by: "c".into(),
            },
        )
    }

    pub fn enter_zone(&mut self, at: i64, level: ZoneLevel) -> EventSeq {
        let seq = self.seq();
        self.facts.enter_zone(seq, ZONE, level, h(at));
        seq
    }

    pub fn leave_zone(&mut self, at: i64) -> EventSeq {
        let seq = self.seq();
        self.facts.leave_zone(seq, ZONE, h(at));
        seq
    }
}

/// The fired entry of `rule`, if it fired.
pub fn fired<'a>(e: &'a Evaluation, rule: &str) -> Option<&'a xikang_domain::policy::FiredRule> {
    e.fired.iter().find(|f| f.rule == rule)
}

pub fn assert_green(e: &Evaluation, context: &str) {
    assert_eq!(
        e.colour,
        Colour::Green,
        "{context}: expected green, fired {:?}",
        e.fired
    );
    assert!(
        e.fired.is_empty(),
        "{context}: green but fired {:?}",
        e.fired
    );
    assert!(e.to_green.is_empty(), "{context}: green but has steps");
    assert_eq!(
        e.earliest_green, None,
        "{context}: green has no earliest_green"
    );
}
