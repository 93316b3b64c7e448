//! Evaluation: facts + policy + `now` → colour, the rules that fired with their evidence,
//! the explanation, and the way back to green; and the entry check at a venue. Pure, and
//! cheap for the common case: a person with only test results costs a test-age computation.

use super::{Exit, NegativesExit, Policy, Rule};
use crate::facts::{EndKind, Fact, FactTag, NegativeTest, PersonFacts};
use crate::ids::EventSeq;
use crate::model::{Colour, VenueCategory};
use crate::testing::VaccinationStatus;
use crate::time::{DAY, HOUR, SHANGHAI_OFFSET_SECS, Timestamp};
use serde::Serialize;
use std::borrow::Cow;

const GREEN_ZH: &str = "绿码：未发现需要管控的情形。";
const GREEN_EN: &str = "Green: no rule applies.";

/// The result of evaluating one person's facts under one policy at one instant.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub colour: Colour,
    /// Every rule that fired, worst first (then in the policy's order).
    pub fired: Vec<FiredRule>,
    pub explanation_zh: Cow<'static, str>,
    pub explanation_en: Cow<'static, str>,
    /// What it takes to turn green, one step per fired rule and per step that follows it.
    pub to_green: Vec<GreenStep>,
    /// `None` when green already, or when it depends on an official (hold, discharge, zone
    /// lifting) or on a date nobody knows yet.
    pub earliest_green: Option<Timestamp>,
    pub policy_version: String,
    pub last_negative: Option<Timestamp>,
    /// 核酸天数: Asia/Shanghai calendar days since the last negative sampling (0 = today).
    pub test_age_days: Option<u32>,
}

/// A rule that fired, with the event that triggered it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FiredRule {
    pub rule: String,
    pub colour: Colour,
    /// The authority-log event that is the evidence (for a step that follows another
    /// rule, the event that ended the fact: the discharge, the end of the order).
    pub event: EventSeq,
    /// Since when the rule applies.
    pub since: Timestamp,
    /// When it stops applying if nothing else happens (an order's planned end, a hold's
    /// expiry, N days); `None` when that depends on tests or on an official.
    pub until: Option<Timestamp>,
    pub zh: String,
    pub en: String,
}

/// One step on the way back to green.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct GreenStep {
    /// The rule this step leaves.
    pub rule: String,
    pub zh: String,
    pub en: String,
    /// The rule whose end starts this step (`then`), or `None` for a rule firing now.
    pub follows: Option<String>,
    /// What must end first, when the rule waits for its fact to end: `discharge`,
    /// `order_end`, `zone_lifted`, `official_clearance`, `contact_release`,
    /// `official_decision`.
    pub awaits: Option<&'static str>,
    /// The rule's day count runs out at this time.
    pub wait_until: Option<Timestamp>,
    /// Negative tests still needed (sampled from now on, apart as the rule requires).
    pub negative_tests_needed: u32,
    /// The earliest this step can be over; `None` when it depends on an official or an
    /// unknown date.
    pub earliest: Option<Timestamp>,
}

/// The entry decision at a venue.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EntryDecision {
    pub allow: bool,
    /// Stable code: `ok`, `colour_red`, `colour_yellow`, `vaccination_required`,
    /// `test_too_old`, `no_test`.
    pub reason: &'static str,
    /// Whole hours since the last negative sampling.
    pub hours_since_negative: Option<u32>,
}

/// Evaluates a person's facts under a policy at `now`. Pure.
pub fn evaluate(policy: &Policy, facts: &PersonFacts, now: Timestamp) -> Evaluation {
    let last_negative = facts.last_negative();
    let test_age_days = last_negative
        .map(|t| u32::try_from(now.shanghai_day().0 - t.shanghai_day().0).unwrap_or(0));
    let mut eval = Evaluation {
        colour: Colour::Green,
        fired: Vec::new(),
        explanation_zh: Cow::Borrowed(GREEN_ZH),
        explanation_en: Cow::Borrowed(GREEN_EN),
        to_green: Vec::new(),
        earliest_green: None,
        policy_version: policy.version.clone(),
        last_negative,
        test_age_days,
    };
    if facts.is_plain() {
        return eval;
    }

    let negatives = facts.negatives();
    let ctx = Ctx {
        policy,
        negs: negatives.as_slice(),
        now,
    };
    let mut hits: Vec<Hit> = Vec::new();
    for fact in facts.facts() {
        if fact.start > now {
            continue;
        }
        let ended = fact.ended_by(now);
        // What a rule that waits for a release sees: only an end some event recorded.
        let recorded = fact.end.filter(|e| e.at <= now);
        for (ri, rule) in policy.rules.iter().enumerate() {
            let Some(m) = rule.when.iter().find(|m| m.matches(&fact.kind)) else {
                continue;
            };
            let exit = m.until.unwrap_or(rule.until);
            let ended = if exit.released { recorded } else { ended };
            // Superseded or withdrawn: the fact no longer stands, and nothing follows it.
            if ended.is_some_and(|e| e.how != EndKind::Ended) {
                continue;
            }
            let then_evidence = ended.map_or(fact.seq, |e| e.seq);
            let status = ctx.window(&exit, fact.start, Some(fact));
            ctx.follow(ri, fact.start, fact.seq, then_evidence, status, &mut hits);
        }
    }
    if hits.is_empty() {
        return eval;
    }

    let earliest_green = hits
        .iter()
        .map(|h| h.chain_earliest)
        .try_fold(Timestamp(i64::MIN), |acc, t| t.map(|t| acc.max(t)));
    hits.sort_by(|a, b| {
        b.fired
            .colour
            .cmp(&a.fired.colour)
            .then(a.rule.cmp(&b.rule))
            .then(a.fired.event.cmp(&b.fired.event))
    });
    hits.dedup_by(|a, b| a.rule == b.rule && a.fired.event == b.fired.event);

    eval.colour = hits[0].fired.colour;
    eval.earliest_green = earliest_green;
    eval.explanation_zh = Cow::Owned(explain_zh(eval.colour, &hits, earliest_green));
    eval.explanation_en = Cow::Owned(explain_en(eval.colour, &hits, earliest_green));
    for h in hits {
        eval.fired.push(h.fired);
        eval.to_green.extend(h.steps);
    }
    eval
}

/// Entry check at a venue: the colour against the category's threshold, then its
/// vaccination requirement (if the policy sets one), then its test requirement. Pure.
pub fn check_entry(
    policy: &Policy,
    eval: &Evaluation,
    category: &VenueCategory,
    last_sample: Option<Timestamp>,
    vaccination: VaccinationStatus,
    now: Timestamp,
) -> EntryDecision {
    let shown = Shown {
        colour: eval.colour,
        last_negative: eval.last_negative,
        last_sample,
        vaccination,
    };
    check_shown(policy, &shown, category, now)
}

/// What a person shows at a door: their colour and test dates (from this city's own
/// evaluation, or read from another city's signed code) and their vaccination.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Shown {
    pub colour: Colour,
    pub last_negative: Option<Timestamp>,
    /// The last sampling, negative or not yet resulted (a sampling receipt).
    pub last_sample: Option<Timestamp>,
    pub vaccination: VaccinationStatus,
}

/// [`check_entry`] on what is shown: the same rules for this city's residents and for a
/// code another city signed (docs/cities.md). Pure.
pub fn check_shown(
    policy: &Policy,
    shown: &Shown,
    category: &VenueCategory,
    now: Timestamp,
) -> EntryDecision {
    let Shown {
        colour,
        last_negative,
        last_sample,
        vaccination,
    } = *shown;
    let hours_since_negative =
        last_negative.map(|t| u32::try_from((now.0 - t.0).max(0) / HOUR).unwrap_or(u32::MAX));
    let decide = |allow, reason| EntryDecision {
        allow,
        reason,
        hours_since_negative,
    };
    if colour > policy.admits(category) {
        return match colour {
            Colour::Red => decide(false, "colour_red"),
            _ => decide(false, "colour_yellow"),
        };
    }
    if policy
        .vaccination_required(category)
        .is_some_and(|level| !level.met_by(vaccination))
    {
        return decide(false, "vaccination_required");
    }
    let Some(req) = policy.venue_requirement(category) else {
        return decide(true, "ok");
    };
    let recent = |t: Timestamp, hours: u32| now.0 - t.0 <= i64::from(hours) * HOUR;
    if last_negative.is_some_and(|t| recent(t, req.max_test_age_hours)) {
        return decide(true, "ok");
    }
    let receipt_ok = req
        .sampling_receipt_hours
        .zip(last_sample)
        .is_some_and(|(h, s)| recent(s, h));
    if receipt_ok {
        return decide(true, "ok");
    }
    if last_negative.is_some() {
        decide(false, "test_too_old")
    } else {
        decide(false, "no_test")
    }
}

/// A fired rule with what it takes to leave it.
struct Hit {
    rule: usize,
    fired: FiredRule,
    steps: Vec<GreenStep>,
    /// The earliest the rule and every step after it can be over.
    chain_earliest: Option<Timestamp>,
}

/// A rule's window at `now`.
#[derive(Debug, Default)]
struct Status {
    /// Every condition of the exit is met, the last at this time.
    over_at: Option<Timestamp>,
    until: Option<Timestamp>,
    earliest: Option<Timestamp>,
    awaits: Option<&'static str>,
    wait_until: Option<Timestamp>,
    tests_needed: u32,
}

/// One condition of an exit at `now`.
enum Cond {
    Met(Timestamp),
    Pending {
        until: Option<Timestamp>,
        earliest: Option<Timestamp>,
    },
}

struct Ctx<'a> {
    policy: &'a Policy,
    negs: &'a [NegativeTest],
    now: Timestamp,
}

impl Ctx<'_> {
    /// The window of a rule that began at `start`. `fact` is the fact it rests on, or
    /// `None` for a `then` step (whose fact has already ended).
    fn window(&self, exit: &Exit, start: Timestamp, fact: Option<&Fact>) -> Status {
        let mut status = Status::default();
        let mut conds: [Option<Cond>; 3] = [None, None, None];
        if exit.fact_ends {
            conds[0] = Some(match fact {
                Some(f) if !f.kind.tag().is_point() => match if exit.released {
                    f.end.filter(|e| e.at <= self.now)
                } else {
                    f.ended_by(self.now)
                } {
                    Some(e) => Cond::Met(e.at),
                    None => {
                        status.awaits = Some(awaits(f.kind.tag()));
                        let until = match f.kind.tag() {
                            FactTag::Quarantine | FactTag::Hold => f.planned_end,
                            _ => None,
                        };
                        // A hold ends when an official clears it; its expiry is the latest.
                        let earliest = if f.kind.tag() == FactTag::Quarantine {
                            until
                        } else {
                            None
                        };
                        Cond::Pending { until, earliest }
                    }
                },
                _ => Cond::Met(start),
            });
        }
        if let Some(days) = exit.days {
            let end = start.plus(i64::from(days) * DAY);
            conds[1] = Some(if end <= self.now {
                Cond::Met(end)
            } else {
                status.wait_until = Some(end);
                Cond::Pending {
                    until: Some(end),
                    earliest: Some(end),
                }
            });
        }
        if let Some(n) = &exit.negatives {
            let (met, earliest, needed) = negatives_status(n, start, self.negs, self.now);
            conds[2] = Some(match met {
                Some(t) => Cond::Met(t),
                None => {
                    status.tests_needed = needed;
                    Cond::Pending {
                        until: None,
                        earliest: Some(earliest),
                    }
                }
            });
        }

        let mut all_met = Some(start);
        let mut until = Some(start);
        let mut earliest = Some(start);
        for c in conds.iter().flatten() {
            match *c {
                Cond::Met(t) => {
                    all_met = all_met.map(|a| a.max(t));
                    until = until.map(|a| a.max(t));
                    earliest = earliest.map(|a| a.max(t));
                }
                Cond::Pending {
                    until: u,
                    earliest: e,
                } => {
                    all_met = None;
                    until = until.zip(u).map(|(a, b)| a.max(b));
                    earliest = earliest.zip(e).map(|(a, b)| a.max(b));
                }
            }
        }
        match all_met {
            Some(t) => status.over_at = Some(t),
            None => {
                status.until = until;
                status.earliest = earliest.map(|t| t.max(self.now));
            }
        }
        status
    }

    /// Follows a rule's window, and the `then` steps after its natural end, to the step
    /// that applies now (if any) and records it.
    fn follow(
        &self,
        rule: usize,
        start: Timestamp,
        evidence: EventSeq,
        then_evidence: EventSeq,
        status: Status,
        hits: &mut Vec<Hit>,
    ) {
        let rules = &self.policy.rules;
        let (mut rule, mut start, mut evidence, mut status) = (rule, start, evidence, status);
        // Validation refuses loops, so this walks each rule at most once.
        while let Some(end) = status.over_at {
            let Some(next) = rules[rule].then else {
                return;
            };
            rule = next;
            start = end;
            evidence = then_evidence;
            status = self.window(&rules[next].until, end, None);
        }
        let r = &rules[rule];
        let mut steps = vec![GreenStep {
            rule: r.id.clone(),
            zh: r.to_green_zh.clone(),
            en: r.to_green_en.clone(),
            follows: None,
            awaits: status.awaits,
            wait_until: status.wait_until,
            negative_tests_needed: status.tests_needed,
            earliest: status.earliest,
        }];
        let mut chain_earliest = status.earliest;
        let mut prev: &Rule = r;
        while let Some(next) = prev.then {
            let n = &rules[next];
            let est = chain_earliest.and_then(|t| {
                let s = self.window(&n.until, t, None);
                s.over_at.or(s.earliest)
            });
            steps.push(GreenStep {
                rule: n.id.clone(),
                zh: n.to_green_zh.clone(),
                en: n.to_green_en.clone(),
                follows: Some(prev.id.clone()),
                awaits: None,
                wait_until: None,
                negative_tests_needed: n.until.negatives.map_or(0, |x| x.count),
                earliest: est,
            });
            chain_earliest = est;
            prev = n;
        }
        hits.push(Hit {
            rule,
            fired: FiredRule {
                rule: r.id.clone(),
                colour: r.colour,
                event: evidence,
                since: start,
                until: status.until,
                zh: r.zh.clone(),
                en: r.en.clone(),
            },
            steps,
            chain_earliest,
        });
    }
}

/// What a rule waiting for its fact to end is waiting for.
fn awaits(tag: FactTag) -> &'static str {
    match tag {
        FactTag::Case => "discharge",
        FactTag::Quarantine => "order_end",
        FactTag::Zone => "zone_lifted",
        FactTag::Hold => "official_clearance",
        FactTag::Contact => "contact_release",
        FactTag::PoolPositive
        | FactTag::PositiveTest
        | FactTag::Arrival
        | FactTag::Sentinel
        | FactTag::MissedTest => "official_decision",
    }
}

/// Whether "N negatives at least H hours apart, within D days, sampled from `start`" is
/// met: `(met_at, earliest, still_needed)`. `met_at` is the sampling time of the test that
/// completed it; otherwise `earliest` is the soonest it could be completed with tests
/// sampled from `now` on, and `still_needed` how many those are.
///
/// For each possible first test, taking the earliest test that keeps the spacing is
/// optimal (it leaves the most room for the rest), so a greedy walk per first test is
/// exact. Lists hold at most 8 tests.
fn negatives_status(
    x: &NegativesExit,
    start: Timestamp,
    negs: &[NegativeTest],
    now: Timestamp,
) -> (Option<Timestamp>, Timestamp, u32) {
    let usable = |n: &&NegativeTest| {
        n.sampled_at >= start && n.sampled_at <= now && (n.single_tube || !x.single_tube)
    };
    let spread = |tests: u32| i64::from(tests.saturating_sub(1)) * x.apart_secs;
    let fits =
        |first: Timestamp, last: Timestamp| x.within_secs.is_none_or(|w| last.0 - first.0 <= w);

    let mut met: Option<Timestamp> = None;
    let fresh = now.max(start);
    let mut earliest = fresh.plus(spread(x.count));
    let mut needed = x.count;
    for (i, first) in negs.iter().enumerate().filter(|(_, n)| usable(n)) {
        let mut last = first.sampled_at;
        let mut taken = 1;
        for n in negs[i + 1..].iter().filter(usable) {
            if taken >= x.count {
                break;
            }
            if !fits(first.sampled_at, n.sampled_at) {
                break;
            }
            if n.sampled_at.0 - last.0 >= x.apart_secs {
                last = n.sampled_at;
                taken += 1;
            }
        }
        if taken >= x.count {
            met = Some(met.map_or(last, |m| m.min(last)));
            continue;
        }
        let remaining = x.count - taken;
        let done = now.max(last.plus(x.apart_secs)).plus(spread(remaining));
        // The soonest finish, and for the same finish the fewest tests: with no spacing
        // required, tests already taken finish no later than fresh ones but need fewer.
        if fits(first.sampled_at, done) && (done, remaining) < (earliest, needed) {
            earliest = done;
            needed = remaining;
        }
    }
    (met, earliest, needed)
}

/// `YYYY-MM-DD HH:MM` in Asia/Shanghai.
fn shanghai(t: Timestamp) -> String {
    let local = t.0 + SHANGHAI_OFFSET_SECS;
    let day = local.div_euclid(DAY);
    let secs = local.rem_euclid(DAY);
    let date = crate::time::CivilDay(i32::try_from(day).unwrap_or(0)).compact();
    let (y, rest) = date.split_at(4.min(date.len()));
    let (m, d) = rest.split_at(2.min(rest.len()));
    format!("{y}-{m}-{d} {:02}:{:02}", secs / HOUR, (secs % HOUR) / 60)
}

fn explain_zh(colour: Colour, hits: &[Hit], earliest: Option<Timestamp>) -> String {
    let mut s = format!("{}。原因：", colour.zh());
    for (i, h) in hits.iter().enumerate() {
        if i > 0 {
            s.push('；');
        }
        let f = &h.fired;
        s.push_str(&f.zh);
        s.push_str(&format!(
            "（依据事件 {}，自 {} 起",
            f.event,
            shanghai(f.since)
        ));
        if let Some(u) = f.until {
            s.push_str(&format!("，至 {}", shanghai(u)));
        }
        s.push('）');
    }
    s.push('。');
    match earliest {
        Some(t) => s.push_str(&format!("最早可于 {} 转为绿码。", shanghai(t))),
        None => s.push_str("转绿时间取决于官方处置或尚未确定的日期。"),
    }
    s
}

fn explain_en(colour: Colour, hits: &[Hit], earliest: Option<Timestamp>) -> String {
    let name = match colour {
        Colour::Green => "Green",
        Colour::Yellow => "Yellow",
        Colour::Red => "Red",
    };
    let mut s = format!("{name} code. Because: ");
    for (i, h) in hits.iter().enumerate() {
        if i > 0 {
            s.push_str("; ");
        }
        let f = &h.fired;
        s.push_str(&f.en);
        s.push_str(&format!(" (event {}, since {}", f.event, shanghai(f.since)));
        if let Some(u) = f.until {
            s.push_str(&format!(", until {}", shanghai(u)));
        }
        s.push(')');
    }
    s.push_str(". ");
    match earliest {
        Some(t) => s.push_str(&format!(
            "Green at the earliest on {} (UTC+8).",
            shanghai(t)
        )),
        None => s.push_str(
            "When it turns green depends on an official decision or a date not yet known.",
        ),
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    fn neg(h: i64, single: bool) -> NegativeTest {
        NegativeTest {
            sampled_at: Timestamp(h * HOUR),
            single_tube: single,
        }
    }

    fn exit(count: u32, apart_h: i64, within_d: Option<i64>) -> NegativesExit {
        NegativesExit {
            count,
            apart_secs: apart_h * HOUR,
            within_secs: within_d.map(|d| d * DAY),
            single_tube: false,
        }
    }

    #[test]
    fn two_negatives_a_day_apart_within_three_days_are_met_at_the_second_sampling() {
        let negs = [neg(10, false), neg(20, false), neg(35, false)];
        let (met, _, _) = negatives_status(
            &exit(2, 24, Some(3)),
            Timestamp(0),
            &negs,
            Timestamp(100 * HOUR),
        );
        assert_eq!(met, Some(Timestamp(35 * HOUR)));
    }

    #[test]
    fn negatives_too_close_together_leave_one_more_test_a_day_after_the_first() {
        let negs = [neg(10, false), neg(20, false)];
        let now = Timestamp(21 * HOUR);
        let (met, earliest, needed) =
            negatives_status(&exit(2, 24, Some(3)), Timestamp(0), &negs, now);
        assert_eq!(met, None);
        assert_eq!(needed, 1);
        assert_eq!(earliest, Timestamp(34 * HOUR));
    }

    #[test]
    fn negatives_sampled_before_the_fact_do_not_count() {
        let negs = [neg(10, false)];
        let (met, earliest, needed) = negatives_status(
            &exit(1, 0, None),
            Timestamp(11 * HOUR),
            &negs,
            Timestamp(12 * HOUR),
        );
        assert_eq!(met, None);
        assert_eq!((earliest, needed), (Timestamp(12 * HOUR), 1));
    }

    #[test]
    fn a_span_longer_than_within_days_is_not_met() {
        let negs = [neg(0, false), neg(100, false)];
        let (met, earliest, needed) = negatives_status(
            &exit(2, 24, Some(3)),
            Timestamp(0),
            &negs,
            Timestamp(101 * HOUR),
        );
        assert_eq!(met, None);
        // Not one more test after the first (it would fall outside the 3 days), but one a
        // day after the second.
        assert_eq!((earliest, needed), (Timestamp(124 * HOUR), 1));
    }

    #[test]
    fn pooled_negatives_do_not_meet_a_single_tube_exit() {
        let mut x = exit(1, 0, None);
        x.single_tube = true;
        let (met, _, _) = negatives_status(&x, Timestamp(0), &[neg(5, false)], Timestamp(6 * HOUR));
        assert_eq!(met, None);
        let (met, _, _) = negatives_status(
            &x,
            Timestamp(0),
            &[neg(5, false), neg(6, true)],
            Timestamp(7 * HOUR),
        );
        assert_eq!(met, Some(Timestamp(6 * HOUR)));
    }

    #[test]
    fn without_tests_two_negatives_a_day_apart_are_done_a_day_from_now_at_the_earliest() {
        let (met, earliest, needed) = negatives_status(
            &exit(2, 24, Some(3)),
            Timestamp(0),
            &[],
            Timestamp(10 * HOUR),
        );
        assert_eq!(met, None);
        assert_eq!((earliest, needed), (Timestamp(34 * HOUR), 2));
    }

    #[test]
    fn one_test_does_not_count_twice_when_no_spacing_is_required() {
        let x = exit(2, 0, None);
        let now = Timestamp(6 * HOUR);
        let (met, earliest, needed) = negatives_status(&x, Timestamp(0), &[neg(5, false)], now);
        assert_eq!(met, None);
        assert_eq!((earliest, needed), (now, 1));
        let (met, _, _) = negatives_status(&x, Timestamp(0), &[neg(4, false), neg(5, false)], now);
        assert_eq!(met, Some(Timestamp(5 * HOUR)));
    }

    #[test]
    fn of_two_ways_to_finish_at_once_the_one_with_fewer_tests_is_told() {
        // Three negatives, no spacing: the tests at 4 h and 5 h leave one to take now; the
        // walk from 5 h alone, which finishes just as soon, would ask for two.
        let now = Timestamp(6 * HOUR);
        let negs = [neg(4, false), neg(5, false)];
        let (met, earliest, needed) = negatives_status(&exit(3, 0, None), Timestamp(0), &negs, now);
        assert_eq!(met, None);
        assert_eq!((earliest, needed), (now, 1));
    }

    #[test]
    fn shanghai_format_is_local_wall_time() {
        let t = Timestamp::parse_rfc3339("2022-07-01T16:30:00Z").unwrap();
        assert_eq!(shanghai(t), "2022-07-02 00:30");
    }
}
