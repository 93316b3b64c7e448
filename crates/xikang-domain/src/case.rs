//! A case's course (病例全流程), as a pure rule: where a case stands ([`Stage`]), the steps
//! officials take ([`Step`]), which step is allowed from where and by whom ([`next`]), and
//! the event each allowed step becomes. The server gathers the case's course from the log
//! (folded with [`Course::apply`]), asks [`next`], and commits the event with the duty rows
//! it goes with (a transfer task, the post-discharge monitoring order).
//!
//! The course Wuxi ran: a suspected case (a tracer's report or a positive single tube) is
//! screened by the district CDC (初筛) and re-checked by the city CDC (复核) — two different
//! officials, both recorded — and becomes confirmed, asymptomatic or excluded; it is moved
//! to a designated hospital (闭环转运); it is discharged (治愈出院) into the policy's home
//! health monitoring; when that monitoring order is released the case is closed. A case may
//! be reclassified (asymptomatic ↔ confirmed) while under treatment, and a death is
//! recorded. Each step carries the time it happened, which may be earlier than the time it
//! was recorded, but never earlier than the step before it.

use crate::authority::{ApprovalRefused, second_official};
use crate::event::{CaseKind, EventBody};
use crate::ids::{CaseId, PersonId, SiteId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Registered as suspected; nobody has screened it yet.
    Suspected,
    /// The district CDC screened it; the city CDC's re-check is due.
    Screened,
    /// Confirmed or asymptomatic (the kind says which), under treatment or observation.
    Confirmed,
    /// Discharged into home health monitoring.
    Discharged,
    /// The monitoring after discharge ended: the course is over.
    Closed,
    /// The re-check excluded it: it was never a case.
    Excluded,
    /// The person died.
    Died,
}

impl Stage {
    /// The stage's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Suspected => "suspected",
            Stage::Screened => "screened",
            Stage::Confirmed => "confirmed",
            Stage::Discharged => "discharged",
            Stage::Closed => "closed",
            Stage::Excluded => "excluded",
            Stage::Died => "died",
        }
    }

    /// Whether the case is still open (a person has at most one open case).
    pub fn is_open(self) -> bool {
        matches!(self, Stage::Suspected | Stage::Screened | Stage::Confirmed)
    }
}

/// What a screen or a re-check found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Confirmed,
    Asymptomatic,
    /// Not a case (排除).
    Excluded,
}

impl Verdict {
    /// The kind a case takes on this verdict (`None`: excluded).
    pub fn kind(self) -> Option<CaseKind> {
        match self {
            Verdict::Confirmed => Some(CaseKind::Confirmed),
            Verdict::Asymptomatic => Some(CaseKind::Asymptomatic),
            Verdict::Excluded => None,
        }
    }
}

/// One case's course so far, folded from its events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Course {
    pub case: CaseId,
    pub person: PersonId,
    pub kind: CaseKind,
    pub stage: Stage,
    /// When the last step happened (for a new case: its onset, sampling or registration,
    /// whichever is earliest): no later step may be dated before it.
    pub last_step_at: Timestamp,
    /// The district screen: its verdict, the official (`role:name`) and when.
    pub screened: Option<(Verdict, String, Timestamp)>,
    /// The city re-check: its verdict, the official and when.
    pub rechecked: Option<(Verdict, String, Timestamp)>,
    /// The designated hospital it was moved to, and when.
    pub hospital: Option<(SiteId, Timestamp)>,
    pub discharged_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    pub died_at: Option<Timestamp>,
}

impl Course {
    /// A case as registered: suspected cases wait for the two-stage confirmation; a case
    /// reported already confirmed or asymptomatic (confirmed by another jurisdiction's CDC,
    /// or in a log written before the confirmation steps existed) starts confirmed.
    pub fn registered(
        case: CaseId,
        person: PersonId,
        kind: CaseKind,
        earliest: Timestamp,
    ) -> Course {
        Course {
            case,
            person,
            kind,
            stage: match kind {
                CaseKind::Suspected => Stage::Suspected,
                CaseKind::Confirmed | CaseKind::Asymptomatic => Stage::Confirmed,
            },
            last_step_at: earliest,
            screened: None,
            rechecked: None,
            hospital: None,
            discharged_at: None,
            closed_at: None,
            died_at: None,
        }
    }

    /// Folds one event of this case (`actor` is the event's actor column). Events of other
    /// cases and other kinds are ignored.
    pub fn apply(&mut self, actor: &str, body: &EventBody) {
        if body_case(body) != Some(self.case) {
            return;
        }
        match *body {
            EventBody::CaseScreened { verdict, at, .. } => {
                self.screened = Some((verdict, actor.to_owned(), at));
                self.stage = Stage::Screened;
                self.step(at);
            }
            EventBody::CaseRechecked { verdict, at, .. } => {
                self.rechecked = Some((verdict, actor.to_owned(), at));
                match verdict.kind() {
                    Some(kind) => {
                        self.kind = kind;
                        self.stage = Stage::Confirmed;
                    }
                    None => self.stage = Stage::Excluded,
                }
                self.step(at);
            }
            EventBody::CaseTransferred { hospital, at, .. } => {
                self.hospital = Some((hospital, at));
                self.step(at);
            }
            EventBody::CaseReclassified { to, at, .. } => {
                self.kind = to;
                self.step(at);
            }
            EventBody::CaseDischarged { at, .. } => {
                self.discharged_at = Some(at);
                self.stage = Stage::Discharged;
                self.step(at);
            }
            EventBody::CaseClosed { at, .. } => {
                self.closed_at = Some(at);
                self.stage = Stage::Closed;
                self.step(at);
            }
            EventBody::CaseDied { at, .. } => {
                self.died_at = Some(at);
                self.stage = Stage::Died;
                self.step(at);
            }
            _ => {}
        }
    }

    fn step(&mut self, at: Timestamp) {
        self.last_step_at = self.last_step_at.max(at);
    }
}

/// The case an event of the course names.
fn body_case(body: &EventBody) -> Option<CaseId> {
    match *body {
        EventBody::CaseRegistered { case, .. }
        | EventBody::CaseScreened { case, .. }
        | EventBody::CaseRechecked { case, .. }
        | EventBody::CaseTransferred { case, .. }
        | EventBody::CaseReclassified { case, .. }
        | EventBody::CaseDischarged { case, .. }
        | EventBody::CaseClosed { case, .. }
        | EventBody::CaseDied { case, .. } => Some(case),
        _ => None,
    }
}

/// A step an official asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// The district CDC's screen (初筛).
    Screen(Verdict),
    /// The city CDC's re-check (复核), by another official than the screen's.
    Recheck(Verdict),
    /// Moved to a designated hospital (closed-loop transfer done).
    Transfer(SiteId),
    /// Confirmed ↔ asymptomatic while under treatment.
    Reclassify(CaseKind),
    /// Discharged (治愈出院) into home health monitoring.
    Discharge,
    /// The monitoring after discharge ended (its order was released).
    Close,
    /// The person died.
    Die,
}

impl Step {
    /// The step's name in messages and on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Screen(_) => "screen",
            Step::Recheck(_) => "recheck",
            Step::Transfer(_) => "transfer",
            Step::Reclassify(_) => "reclassify",
            Step::Discharge => "discharge",
            Step::Close => "close",
            Step::Die => "death",
        }
    }
}

/// Why a step is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The step does not follow from the case's stage.
    OutOfOrder(Stage),
    /// The re-check's official screened it too (two officials are needed).
    SameOfficial,
    /// The re-check was asked of something that is no official (a system actor).
    NotAnOfficial,
    /// The step is dated before the step before it.
    BeforeLastStep(Timestamp),
    /// A reclassification to the kind the case already has, or to `suspected`.
    SameKind,
    /// The case was already moved to a designated hospital.
    AlreadyTransferred,
}

impl Refusal {
    /// The stable API error code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::OutOfOrder(_) => "case_stage",
            Refusal::SameOfficial => "same_official",
            Refusal::NotAnOfficial => "not_an_official",
            Refusal::BeforeLastStep(_) => "before_last_step",
            Refusal::SameKind => "invalid_reclassification",
            Refusal::AlreadyTransferred => "already_transferred",
        }
    }

    /// What went wrong, in English.
    pub fn message(self, step: Step) -> String {
        match self {
            Refusal::OutOfOrder(stage) => format!(
                "a case that is {} cannot take the step `{}`",
                stage.as_str(),
                step.as_str()
            ),
            Refusal::SameOfficial => {
                "the city CDC's re-check must be made by another official than the district's screen"
                    .into()
            }
            Refusal::NotAnOfficial => "a re-check is made by a named official".into(),
            Refusal::BeforeLastStep(t) => format!(
                "the step cannot be dated before the case's previous step ({})",
                t.to_rfc3339()
            ),
            Refusal::SameKind => {
                "reclassify to the other kind: confirmed or asymptomatic, not the current one"
                    .into()
            }
            Refusal::AlreadyTransferred => {
                "the case is already at a designated hospital".into()
            }
        }
    }
}

/// Whether `step`, asked by `actor` (`role:name`) and dated `at`, follows from `course`:
/// the event to record, or why not. Role and area are the server's authorisation (a
/// re-check is the city's: `app::authorise::case_recheck`); this checks the order of the
/// steps, their dates and the two officials.
pub fn next(course: &Course, step: Step, actor: &str, at: Timestamp) -> Result<EventBody, Refusal> {
    use Stage::*;
    if at < course.last_step_at {
        return Err(Refusal::BeforeLastStep(course.last_step_at));
    }
    let (case, person) = (course.case, course.person);
    let out_of_order = Err(Refusal::OutOfOrder(course.stage));
    match (step, course.stage) {
        (Step::Screen(verdict), Suspected) => Ok(EventBody::CaseScreened {
            case,
            person,
            verdict,
            at,
        }),
        (Step::Recheck(verdict), Screened) => {
            let screener = course.screened.as_ref().map_or("", |s| s.1.as_str());
            second_official(screener, actor).map_err(|e| match e {
                ApprovalRefused::SameOfficial => Refusal::SameOfficial,
                ApprovalRefused::NotAnOfficial => Refusal::NotAnOfficial,
            })?;
            Ok(EventBody::CaseRechecked {
                case,
                person,
                verdict,
                screened_by: screener.to_owned(),
                at,
            })
        }
        (Step::Transfer(hospital), Suspected | Screened | Confirmed) => {
            if course.hospital.is_some() {
                return Err(Refusal::AlreadyTransferred);
            }
            Ok(EventBody::CaseTransferred {
                case,
                person,
                hospital,
                at,
            })
        }
        (Step::Reclassify(to), Confirmed) => {
            if to == course.kind || to == CaseKind::Suspected {
                return Err(Refusal::SameKind);
            }
            Ok(EventBody::CaseReclassified {
                case,
                person,
                from: course.kind,
                to,
                at,
            })
        }
        (Step::Discharge, Confirmed) => Ok(EventBody::CaseDischarged { case, person, at }),
        (Step::Close, Discharged) => Ok(EventBody::CaseClosed { case, person, at }),
        (Step::Die, Suspected | Screened | Confirmed | Discharged) => {
            Ok(EventBody::CaseDied { case, person, at })
        }
        _ => out_of_order,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SCREENER: &str = "tracer:district-cdc";
    const CITY: &str = "tracer:city-cdc";

    fn t(h: i64) -> Timestamp {
        Timestamp(1_656_633_600 + h * 3600)
    }

    fn suspected() -> Course {
        Course::registered(CaseId(1), PersonId(5), CaseKind::Suspected, t(0))
    }

    /// Takes the step and folds its event, as the server does.
    fn take(c: &mut Course, step: Step, actor: &str, at: i64) -> Result<EventBody, Refusal> {
        let e = next(c, step, actor, t(at))?;
        c.apply(actor, &e);
        Ok(e)
    }

    #[test]
    fn a_suspected_case_runs_its_whole_course_through_two_officials() {
        let mut c = suspected();
        take(&mut c, Step::Screen(Verdict::Confirmed), SCREENER, 1).unwrap();
        assert_eq!(c.stage, Stage::Screened);
        assert_eq!(
            c.kind,
            CaseKind::Suspected,
            "the screen alone confirms nothing"
        );
        let e = take(&mut c, Step::Recheck(Verdict::Confirmed), CITY, 2).unwrap();
        assert!(
            matches!(e, EventBody::CaseRechecked { ref screened_by, .. } if screened_by == SCREENER)
        );
        assert_eq!((c.stage, c.kind), (Stage::Confirmed, CaseKind::Confirmed));
        take(&mut c, Step::Transfer(SiteId(3)), CITY, 3).unwrap();
        assert_eq!(c.hospital, Some((SiteId(3), t(3))));
        take(&mut c, Step::Discharge, CITY, 200).unwrap();
        assert_eq!(c.stage, Stage::Discharged);
        assert!(!c.stage.is_open());
        take(&mut c, Step::Close, "system:release", 400).unwrap();
        assert_eq!(c.stage, Stage::Closed);
        for step in [
            Step::Discharge,
            Step::Close,
            Step::Die,
            Step::Screen(Verdict::Confirmed),
        ] {
            assert_eq!(
                next(&c, step, CITY, t(500)),
                Err(Refusal::OutOfOrder(Stage::Closed)),
                "{step:?}"
            );
        }
    }

    #[test]
    fn the_recheck_needs_another_official_and_a_screen_first() {
        let mut c = suspected();
        assert_eq!(
            next(&c, Step::Recheck(Verdict::Confirmed), CITY, t(1)),
            Err(Refusal::OutOfOrder(Stage::Suspected))
        );
        assert_eq!(
            next(&c, Step::Discharge, CITY, t(1)),
            Err(Refusal::OutOfOrder(Stage::Suspected)),
            "a suspected case is confirmed before it is discharged"
        );
        take(&mut c, Step::Screen(Verdict::Asymptomatic), SCREENER, 1).unwrap();
        assert_eq!(
            next(&c, Step::Screen(Verdict::Confirmed), CITY, t(2)),
            Err(Refusal::OutOfOrder(Stage::Screened)),
            "one screen"
        );
        assert_eq!(
            next(&c, Step::Recheck(Verdict::Asymptomatic), SCREENER, t(2)),
            Err(Refusal::SameOfficial)
        );
        assert_eq!(
            next(&c, Step::Recheck(Verdict::Asymptomatic), "system:x", t(2)),
            Err(Refusal::NotAnOfficial)
        );
        // The city's verdict is the case's, even where it differs from the screen's.
        take(&mut c, Step::Recheck(Verdict::Confirmed), CITY, 2).unwrap();
        assert_eq!(c.kind, CaseKind::Confirmed);
        assert_eq!(
            c.screened.as_ref().map(|s| s.0),
            Some(Verdict::Asymptomatic)
        );
    }

    #[test]
    fn an_excluded_case_is_over_and_steps_are_never_dated_backwards() {
        let mut c = suspected();
        assert_eq!(
            next(&c, Step::Screen(Verdict::Excluded), SCREENER, t(-1)),
            Err(Refusal::BeforeLastStep(t(0)))
        );
        take(&mut c, Step::Screen(Verdict::Excluded), SCREENER, 5).unwrap();
        assert_eq!(
            next(&c, Step::Recheck(Verdict::Excluded), CITY, t(4)),
            Err(Refusal::BeforeLastStep(t(5)))
        );
        take(&mut c, Step::Recheck(Verdict::Excluded), CITY, 6).unwrap();
        assert_eq!(c.stage, Stage::Excluded);
        assert!(!c.stage.is_open());
        assert_eq!(
            next(&c, Step::Transfer(SiteId(1)), CITY, t(7)),
            Err(Refusal::OutOfOrder(Stage::Excluded))
        );
    }

    #[test]
    fn reclassification_and_death_are_recorded_and_transfer_happens_once() {
        let mut c = Course::registered(CaseId(2), PersonId(6), CaseKind::Asymptomatic, t(0));
        assert_eq!(c.stage, Stage::Confirmed, "reported already confirmed");
        assert_eq!(
            next(&c, Step::Reclassify(CaseKind::Asymptomatic), CITY, t(1)),
            Err(Refusal::SameKind)
        );
        assert_eq!(
            next(&c, Step::Reclassify(CaseKind::Suspected), CITY, t(1)),
            Err(Refusal::SameKind)
        );
        let e = take(&mut c, Step::Reclassify(CaseKind::Confirmed), CITY, 1).unwrap();
        assert!(matches!(
            e,
            EventBody::CaseReclassified {
                from: CaseKind::Asymptomatic,
                to: CaseKind::Confirmed,
                ..
            }
        ));
        take(&mut c, Step::Transfer(SiteId(1)), CITY, 2).unwrap();
        assert_eq!(
            next(&c, Step::Transfer(SiteId(2)), CITY, t(3)),
            Err(Refusal::AlreadyTransferred)
        );
        take(&mut c, Step::Die, CITY, 4).unwrap();
        assert_eq!((c.stage, c.died_at), (Stage::Died, Some(t(4))));
        assert_eq!(
            next(&c, Step::Discharge, CITY, t(5)),
            Err(Refusal::OutOfOrder(Stage::Died))
        );
    }

    #[test]
    fn events_of_another_case_do_not_move_this_one() {
        let mut c = suspected();
        c.apply(
            CITY,
            &EventBody::CaseDied {
                case: CaseId(99),
                person: PersonId(5),
                at: t(3),
            },
        );
        assert_eq!(c.stage, Stage::Suspected);
    }
}
