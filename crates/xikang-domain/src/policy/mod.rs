//! The policy engine: versioned, effective-dated rules (TOML, see `policies/README.md`)
//! that turn a person's facts into a colour, with the evidence, a zh-CN and English
//! explanation and the way back to green.
//!
//! The Rust side knows only the fact kinds ([`crate::facts::FactTag`]) and a few generic
//! exits (the fact ends, N days pass, N negative tests); which facts colour whom, in which
//! colour, for how long and with which words is all in the policy file. Loading another file
//! changes colours without a release.

mod eval;
mod parse;

pub use eval::{
    EntryDecision, Evaluation, FiredRule, GreenStep, Shown, check_entry, check_shown, evaluate,
};
pub use parse::PolicyError;

use crate::event::{
    CaseKind, ContactKind, QuarantineKind, QuarantineReason, RiskLevel, SentinelKind, ZoneLevel,
};
use crate::facts::{FactKind, FactTag};
use crate::model::{Colour, VenueCategory};
use crate::testing::VaccinationLevel;
use crate::time::Timestamp;
use std::collections::BTreeMap;

/// The default policy shipped with xikang (PROTOCOL.md §1, 第九版 and Wuxi Sep 2022).
pub const DEFAULT_POLICY_TOML: &str = include_str!("../../policies/default.toml");
/// The 二十条 (11 Nov 2022) edition: no secondary contacts, 5+3, high/low zones only.
pub const ERSHITIAO_POLICY_TOML: &str = include_str!("../../policies/ershitiao-2022-11.toml");

/// A parsed, validated policy.
#[derive(Debug, Clone, PartialEq)]
pub struct Policy {
    version: String,
    effective_from: Timestamp,
    title_zh: String,
    title_en: String,
    retention_days: u32,
    code_ttl_secs: u32,
    parameters: BTreeMap<String, u32>,
    venue_default: VenueSpec,
    venues: BTreeMap<VenueCategory, VenueSpec>,
    rules: Vec<Rule>,
    tracing: TracingPolicy,
    duties: crate::duties::DutyRules,
    board: crate::board::BoardRules,
}

/// The contact-tracing rules of a policy (`[tracing]`, PROTOCOL.md §2): who counts as a close
/// contact, a secondary contact or a companion, and how far back source tracing looks. Every
/// number is a parameter; a file without the section gets [`TracingPolicy::default`], which
/// is what the shipped default policy writes out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TracingPolicy {
    /// Exposure runs from this many days before onset (or sampling, for an asymptomatic
    /// infection) until the case is isolated.
    pub exposure_window_days: u32,
    /// Cumulative overlap at one venue, in minutes, that makes a close contact.
    pub close_contact_minutes: u32,
    /// Whether a case's household members are close contacts.
    pub household: bool,
    /// Whether a case's colleagues or schoolmates are close contacts (on days the case worked).
    pub workplace: bool,
    /// Whether secondary contacts (次密接) are identified at all (the 二十条 stopped it).
    pub secondary_contacts: bool,
    /// Source tracing looks this many days back from onset.
    pub incubation_days: u32,
    /// Side of a companion grid cell, in metres.
    pub companion_cell_metres: u32,
    /// A companion shares a cell with the case for more than this many minutes …
    pub companion_minutes: u32,
    /// … and either of them spent more than this many hours in that cell …
    pub companion_cell_hours: u32,
    /// … in the last this many days.
    pub companion_cell_days: u32,
    /// A location ping places a person in its cell until the next ping, but for at most this
    /// many minutes (a phone that stops reporting is not assumed to stay put).
    pub companion_ping_gap_minutes: u32,
}

impl Default for TracingPolicy {
    /// PROTOCOL.md §2 (第九版 and Chengdu's companion rule); see `policies/README.md` for why
    /// 15 minutes.
    fn default() -> TracingPolicy {
        TracingPolicy {
            exposure_window_days: 4,
            close_contact_minutes: 15,
            household: true,
            workplace: true,
            secondary_contacts: true,
            incubation_days: 14,
            companion_cell_metres: 800,
            companion_minutes: 10,
            companion_cell_hours: 30,
            companion_cell_days: 14,
            companion_ping_gap_minutes: 30,
        }
    }
}

/// One colour rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    id: String,
    colour: Colour,
    when: Vec<Matcher>,
    until: Exit,
    /// Index into the policy's rules of the rule that follows this one's natural end.
    then: Option<usize>,
    zh: String,
    en: String,
    to_green_zh: String,
    to_green_en: String,
}

/// Which facts a rule applies to: one fact kind, optionally narrowed by its details. Each
/// filter is a bit set over the detail enum's variants (all bits set = any).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Matcher {
    pub(crate) tag: FactTag,
    pub(crate) case_kind: u16,
    pub(crate) contact_kind: u16,
    pub(crate) quarantine_kind: u16,
    pub(crate) reason: u16,
    pub(crate) zone_level: u16,
    pub(crate) risk: u16,
    pub(crate) sentinel_kind: u16,
    /// Overrides the rule's exit for facts matched by this entry.
    pub(crate) until: Option<Exit>,
}

/// Any value passes a filter with every bit set.
pub(crate) const ANY: u16 = u16::MAX;

fn has(mask: u16, variant: impl VariantBit) -> bool {
    mask & variant.bit() != 0
}

impl Matcher {
    pub(crate) fn matches(&self, kind: &FactKind) -> bool {
        if kind.tag() != self.tag {
            return false;
        }
        match *kind {
            FactKind::Case { case_kind, .. } => has(self.case_kind, case_kind),
            FactKind::Contact { contact_kind, .. } => has(self.contact_kind, contact_kind),
            FactKind::Quarantine {
                quarantine_kind,
                reason,
                ..
            } => has(self.quarantine_kind, quarantine_kind) && has(self.reason, reason),
            FactKind::Zone { level, .. } => has(self.zone_level, level),
            FactKind::Arrival { risk } => has(self.risk, risk),
            FactKind::Sentinel { sentinel_kind } => has(self.sentinel_kind, sentinel_kind),
            FactKind::PoolPositive
            | FactKind::PositiveTest
            | FactKind::MissedTest
            | FactKind::Hold => true,
        }
    }
}

/// When a rule stops applying: every listed condition must hold (a conjunction).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Exit {
    /// The fact has ended naturally (a point fact ends the moment it happens; in a `then`
    /// step the fact has already ended).
    pub(crate) fact_ends: bool,
    /// The fact ends only by an event that ends it (an order's release, a discharge, a
    /// zone's lifting), never because its planned end passed: a close contact whose
    /// order reached its planned end stays under it until an official releases (or, with
    /// a test missing, extends) it. Implies `fact_ends`.
    pub(crate) released: bool,
    /// This many days have passed since the rule began applying.
    pub(crate) days: Option<u32>,
    /// Enough negative tests sampled since the rule began applying.
    pub(crate) negatives: Option<NegativesExit>,
}

/// "N negative tests at least H hours apart, all within D days, sampled after the fact".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NegativesExit {
    pub(crate) count: u32,
    pub(crate) apart_secs: i64,
    pub(crate) within_secs: Option<i64>,
    pub(crate) single_tube: bool,
}

/// A venue category's settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct VenueSpec {
    pub(crate) dwell_minutes: u32,
    pub(crate) admit: Colour,
    pub(crate) max_test_age_hours: Option<u32>,
    pub(crate) sampling_receipt_hours: Option<u32>,
    /// The vaccination a person must show to enter (`require_vaccination`); none by default.
    pub(crate) vaccination: Option<VaccinationLevel>,
    /// Whether co-presence at a venue of this category makes close contacts at all
    /// (`close_contacts`, true by default): a wet market's hall is shared by hundreds whom
    /// scans cannot tell apart from the stall-holder the case talked to.
    pub(crate) close_contacts: bool,
    /// Minutes of overlap here that make a close contact (`close_contact_minutes`); `None`
    /// = the `[tracing]` section's `close_contact_minutes`.
    pub(crate) close_contact_minutes: Option<u32>,
}

/// A venue category's entry requirement beyond the colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct VenueRequirement {
    /// A negative test sampled at most this many hours ago.
    pub max_test_age_hours: u32,
    /// Or, where set (Wuxi, Sep 2022), a sampling receipt at most this many hours old.
    pub sampling_receipt_hours: Option<u32>,
    /// The worst colour admitted (green at most venues).
    pub admit: Colour,
}

impl Policy {
    /// Parses and validates a policy file. Errors name the line and column.
    pub fn parse(toml_text: &str) -> Result<Policy, PolicyError> {
        parse::parse(toml_text)
    }

    /// The shipped default policy (`policies/default.toml`).
    pub fn default_policy() -> Policy {
        match Policy::parse(DEFAULT_POLICY_TOML) {
            Ok(p) => p,
            // The file is compiled in and a unit test parses it: this cannot happen in a
            // tested build, and there is no colour without a policy.
            Err(e) => panic!("the built-in default policy is invalid: {e}"),
        }
    }

    /// The version string, e.g. `xikang-default-2022.09`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// From when this policy applies.
    pub fn effective_from(&self) -> Timestamp {
        self.effective_from
    }

    /// The policy's title in Chinese.
    pub fn title_zh(&self) -> &str {
        &self.title_zh
    }

    /// The policy's title in English.
    pub fn title_en(&self) -> &str {
        &self.title_en
    }

    /// The rules, in the file's order.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// A rule by id.
    pub fn rule(&self, id: &str) -> Option<&Rule> {
        self.rules.iter().find(|r| r.id == id)
    }

    /// A named parameter from `[parameters]`.
    pub fn parameter(&self, name: &str) -> Option<u32> {
        self.parameters.get(name).copied()
    }

    /// Every named parameter.
    pub fn parameters(&self) -> impl Iterator<Item = (&str, u32)> {
        self.parameters.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// Whether any rule of this policy applies to such a fact. A projection may skip facts
    /// no rule reads (a precaution zone covering a county, general contacts) to save
    /// memory, at the price of rebuilding from the log when a policy that reads them is
    /// activated.
    pub fn reads_fact(&self, kind: &FactKind) -> bool {
        self.rules
            .iter()
            .any(|r| r.when.iter().any(|m| m.matches(kind)))
    }

    /// The worst colour a rule of this policy gives such a fact directly (`None` when no
    /// rule reads it): what the public colour ledger counts a new fact as.
    pub fn fact_colour(&self, kind: &FactKind) -> Option<Colour> {
        self.rules
            .iter()
            .filter(|r| r.when.iter().any(|m| m.matches(kind)))
            .map(|r| r.colour)
            .max()
    }

    /// The colour ledger's alarm threshold: more colour changes without a case link in one
    /// day than this (`[parameters] ledger_unlinked_alarm_per_day`) raise the dashboard's
    /// alarm. A policy without the parameter alarms at the first one (fail closed).
    pub fn ledger_alarm_threshold(&self) -> u32 {
        self.parameter("ledger_unlinked_alarm_per_day").unwrap_or(0)
    }

    fn venue(&self, category: &VenueCategory) -> &VenueSpec {
        self.venues.get(category).unwrap_or(&self.venue_default)
    }

    /// The category's test requirement; `None` = no test requirement.
    pub fn venue_requirement(&self, category: &VenueCategory) -> Option<VenueRequirement> {
        let v = self.venue(category);
        v.max_test_age_hours.map(|h| VenueRequirement {
            max_test_age_hours: h,
            sampling_receipt_hours: v.sampling_receipt_hours,
            admit: v.admit,
        })
    }

    /// The vaccination a venue of this category requires at the door (`require_vaccination`),
    /// if any. Neither shipped policy sets one.
    pub fn vaccination_required(&self, category: &VenueCategory) -> Option<VaccinationLevel> {
        self.venue(category).vaccination
    }

    /// The worst colour a venue of this category admits.
    pub fn admits(&self, category: &VenueCategory) -> Colour {
        self.venue(category).admit
    }

    /// Default dwell for presence without exit scan (used by tracing).
    pub fn dwell_minutes(&self, category: &VenueCategory) -> u32 {
        self.venue(category).dwell_minutes
    }

    /// The contact-tracing rules (`[tracing]`).
    pub fn tracing(&self) -> &TracingPolicy {
        &self.tracing
    }

    /// Seconds of presence assumed after an entry scan without exit scan at a venue of this
    /// category (the category's `dwell_minutes` × 60; categories the file does not list get
    /// `[venue_defaults]`).
    pub fn dwell_secs(&self, category: &VenueCategory) -> u32 {
        self.venue(category).dwell_minutes * 60
    }

    /// The overlap, in seconds, at one venue of this category that makes a close contact by
    /// the venue rule: the category's `close_contact_minutes` (else `[venue_defaults]`'s, else
    /// `[tracing]`'s) × 60; `None` when the category has `close_contacts = false` (co-presence
    /// there designates nobody; PROTOCOL.md §2's general contacts).
    pub fn close_contact_secs(&self, category: &VenueCategory) -> Option<u32> {
        self.close_secs_of(self.venue(category))
    }

    /// [`Policy::close_contact_secs`] for a venue whose category the policy does not list.
    pub fn default_close_contact_secs(&self) -> Option<u32> {
        self.close_secs_of(&self.venue_default)
    }

    fn close_secs_of(&self, v: &VenueSpec) -> Option<u32> {
        v.close_contacts.then(|| {
            v.close_contact_minutes
                .unwrap_or(self.tracing.close_contact_minutes)
                * 60
        })
    }

    /// Seconds of presence assumed at a venue whose category the policy does not list
    /// (`[venue_defaults]`).
    pub fn default_dwell_secs(&self) -> u32 {
        self.venue_default.dwell_minutes * 60
    }

    /// How many days check-ins are kept.
    pub fn retention_days(&self) -> u32 {
        self.retention_days
    }

    /// How long a health-code token is valid, in seconds.
    pub fn code_ttl_secs(&self) -> u32 {
        self.code_ttl_secs
    }

    /// The `[duties]` section: quarantine regimes, arrivals, zone lifting, health reports.
    pub fn duties(&self) -> &crate::duties::DutyRules {
        &self.duties
    }

    /// The message board's routing rules and deadlines (`[board]`; the documented defaults
    /// when the file has none).
    pub fn board(&self) -> &crate::board::BoardRules {
        &self.board
    }

    /// Categories known to the policy.
    pub fn categories(&self) -> impl Iterator<Item = &VenueCategory> {
        self.venues.keys()
    }
}

impl Rule {
    /// The rule's id, e.g. `close_contact_quarantine`.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The colour it gives.
    pub fn colour(&self) -> Colour {
        self.colour
    }

    /// What the rule means, in Chinese.
    pub fn zh(&self) -> &str {
        &self.zh
    }

    /// What the rule means, in English.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// How to leave it, in Chinese.
    pub fn to_green_zh(&self) -> &str {
        &self.to_green_zh
    }

    /// How to leave it, in English.
    pub fn to_green_en(&self) -> &str {
        &self.to_green_en
    }

    /// Fact kinds this rule applies to directly (empty for a rule reached only by `then`).
    pub fn fact_kinds(&self) -> impl Iterator<Item = FactTag> + '_ {
        self.when.iter().map(|m| m.tag)
    }
}

/// The policy in force at `now`: the one with the latest `effective_from` not after `now`.
pub fn active_at(policies: &[Policy], now: Timestamp) -> Option<&Policy> {
    policies
        .iter()
        .filter(|p| p.effective_from <= now)
        .max_by_key(|p| p.effective_from)
}

/// The detail enums a [`Matcher`] filters on: each variant is one bit of a filter.
pub(crate) trait VariantBit: Copy {
    fn bit(self) -> u16;
}

macro_rules! variant_bit {
    ($($t:ty),*) => {$(
        impl VariantBit for $t {
            fn bit(self) -> u16 {
                1u16 << (self as u8)
            }
        }
    )*};
}
variant_bit!(
    CaseKind,
    ContactKind,
    QuarantineKind,
    QuarantineReason,
    ZoneLevel,
    RiskLevel,
    SentinelKind
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_default_policy_parses() {
        let p = Policy::default_policy();
        assert_eq!(p.version(), "xikang-default-2022.09");
        assert_eq!(p.retention_days(), 21);
        assert_eq!(p.code_ttl_secs(), 300);
        assert!(p.rules().len() >= 16, "{} rules", p.rules().len());
    }

    #[test]
    fn the_default_policy_reads_sealed_zones_but_not_precaution_zones() {
        let p = Policy::default_policy();
        let zone = |level| FactKind::Zone {
            zone: crate::ids::ZoneId(1),
            level,
        };
        assert!(p.reads_fact(&zone(ZoneLevel::Sealed)));
        assert!(!p.reads_fact(&zone(ZoneLevel::Precaution)));
        let general = FactKind::Contact {
            case: crate::ids::CaseId(1),
            contact_kind: ContactKind::General,
        };
        assert!(!p.reads_fact(&general));
    }

    #[test]
    fn a_fact_counts_in_the_ledger_as_the_worst_colour_a_rule_gives_it() {
        let p = Policy::default_policy();
        let zone = |level| FactKind::Zone {
            zone: crate::ids::ZoneId(1),
            level,
        };
        assert_eq!(p.fact_colour(&zone(ZoneLevel::Sealed)), Some(Colour::Red));
        assert_eq!(p.fact_colour(&zone(ZoneLevel::Precaution)), None);
        assert_eq!(p.fact_colour(&FactKind::Hold), Some(Colour::Yellow));
        let case = FactKind::Case {
            case: crate::ids::CaseId(1),
            case_kind: CaseKind::Confirmed,
        };
        assert_eq!(p.fact_colour(&case), Some(Colour::Red));
        assert_eq!(p.ledger_alarm_threshold(), 20);
        let without = DEFAULT_POLICY_TOML.replace("ledger_unlinked_alarm_per_day = 20\n", "");
        assert_eq!(Policy::parse(&without).unwrap().ledger_alarm_threshold(), 0);
    }

    #[test]
    fn the_shipped_ershitiao_policy_parses() {
        let p = Policy::parse(ERSHITIAO_POLICY_TOML).unwrap();
        assert_eq!(p.version(), "xikang-ershitiao-2022.11");
        assert!(p.rule("secondary_contact_home_isolation").is_none());
        assert!(!p.tracing().secondary_contacts);
        assert_eq!(p.tracing().exposure_window_days, 4);
    }

    #[test]
    fn the_default_policy_writes_out_every_tracing_default() {
        let p = Policy::default_policy();
        assert_eq!(*p.tracing(), TracingPolicy::default());
        assert!(DEFAULT_POLICY_TOML.contains("[tracing]"));
    }

    /// The default policy with a `[board]` section of these lines.
    fn with_board(lines: &str) -> String {
        format!("{DEFAULT_POLICY_TOML}\n[board]\n{lines}")
    }

    const ALL_ROUTES: &str = "medical = { department = \"medical\", sla_hours = 2 }
supplies = { department = \"supplies\", sla_hours = 12 }
quarantine = { department = \"quarantine\", sla_hours = 24 }
testing = { department = \"testing\", sla_hours = 24 }
policy = { department = \"health\", sla_hours = 48 }
enterprise = { department = \"industry\", sla_hours = \"enterprise_hours\" }
other = { department = \"hotline\", sla_hours = 48 }
";

    #[test]
    fn the_board_routes_come_from_the_policy_or_the_documented_defaults() {
        use crate::board::{BoardRules, Category, Department};
        // The shipped files have no [board]: the documented defaults.
        assert_eq!(*Policy::default_policy().board(), BoardRules::default());
        let text = with_board(ALL_ROUTES)
            .replace("[parameters]\n", "[parameters]\nenterprise_hours = 96\n");
        let p = Policy::parse(&text).unwrap();
        assert_eq!(p.board().sla_hours(Category::Medical), 2);
        assert_eq!(p.board().sla_hours(Category::Enterprise), 96);
        assert_eq!(p.board().department(Category::Policy), Department::Health);
    }

    #[test]
    fn a_board_section_that_misses_a_category_or_names_an_unknown_one_is_refused() {
        let text = |routes: &str| {
            with_board(routes).replace("[parameters]\n", "[parameters]\nenterprise_hours = 96\n")
        };
        let missing =
            ALL_ROUTES.replace("other = { department = \"hotline\", sla_hours = 48 }\n", "");
        let e = Policy::parse(&text(&missing)).unwrap_err();
        assert!(e.message().contains("missing: other"), "{e}");
        let unknown = format!("{ALL_ROUTES}pets = {{ department = \"hotline\", sla_hours = 1 }}\n");
        let e = Policy::parse(&text(&unknown)).unwrap_err();
        assert!(e.message().contains("pets"), "{e}");
        let zero = ALL_ROUTES.replace("sla_hours = 2 }", "sla_hours = 0 }");
        assert!(Policy::parse(&text(&zero)).is_err());
        let office = ALL_ROUTES.replace("\"medical\", sla", "\"police\", sla");
        let e = Policy::parse(&text(&office)).unwrap_err();
        assert!(e.message().contains("police"), "{e}");
    }

    #[test]
    fn each_venue_category_has_its_close_contact_rule_inherited_from_the_defaults() {
        let cat = |s: &str| VenueCategory::parse(s).unwrap();
        let p = Policy::default_policy();
        // Shipped: markets designate nobody, restaurants need 90 minutes, offices take
        // [tracing]'s 15, and unlisted categories inherit [venue_defaults] (so [tracing]).
        assert_eq!(p.close_contact_secs(&cat("market")), None);
        assert_eq!(p.close_contact_secs(&cat("restaurant")), Some(90 * 60));
        assert_eq!(p.close_contact_secs(&cat("office")), Some(15 * 60));
        assert_eq!(p.close_contact_secs(&cat("karaoke")), Some(15 * 60));
        assert_eq!(p.default_close_contact_secs(), Some(15 * 60));
        // A default of "none" reaches every category that does not say otherwise.
        let text = DEFAULT_POLICY_TOML.replace(
            "[venue_defaults]\ndwell_minutes = 60\n",
            "[venue_defaults]\ndwell_minutes = 60\nclose_contacts = false\n",
        );
        let q = Policy::parse(&text).unwrap();
        assert_eq!(q.close_contact_secs(&cat("karaoke")), None);
        assert_eq!(q.close_contact_secs(&cat("office")), None);
        // A category giving its own minutes counts.
        assert_eq!(q.close_contact_secs(&cat("restaurant")), Some(90 * 60));
        // [tracing]'s minutes follow where neither the category nor the defaults set any.
        let longer =
            DEFAULT_POLICY_TOML.replace("close_contact_minutes = 15", "close_contact_minutes = 20");
        let r = Policy::parse(&longer).unwrap();
        assert_eq!(r.close_contact_secs(&cat("office")), Some(20 * 60));
        assert_eq!(r.close_contact_secs(&cat("gym")), Some(60 * 60));
        // Zero minutes is refused with its line, as in [tracing].
        let bad =
            DEFAULT_POLICY_TOML.replace("close_contact_minutes = 90", "close_contact_minutes = 0");
        let e = Policy::parse(&bad).unwrap_err();
        assert!(e.message().contains("close_contact_minutes"), "{e}");
        // Minutes where co-presence designates nobody make no sense: refused.
        let both = DEFAULT_POLICY_TOML.replace(
            "close_contact_minutes = 90",
            "close_contact_minutes = 90\nclose_contacts = false",
        );
        let e = Policy::parse(&both).unwrap_err();
        assert!(e.message().contains("close_contacts = false"), "{e}");
    }

    #[test]
    fn a_policy_without_a_tracing_section_gets_the_protocol_defaults() {
        let text = DEFAULT_POLICY_TOML.replace("[tracing]", "[tracing_removed]");
        let cut = text.find("[tracing_removed]").unwrap();
        let end = text[cut..].find("\n\n").map_or(text.len(), |e| cut + e);
        let text = format!("{}{}", &text[..cut], &text[end..]);
        let p = Policy::parse(&text).unwrap();
        assert_eq!(*p.tracing(), TracingPolicy::default());
    }

    #[test]
    fn tracing_numbers_may_name_parameters_and_are_range_checked_with_a_line() {
        let text = DEFAULT_POLICY_TOML
            .replace(
                "close_contact_minutes = 15",
                "close_contact_minutes = \"cc_minutes\"",
            )
            .replace("[parameters]\n", "[parameters]\ncc_minutes = 30\n");
        assert_eq!(
            Policy::parse(&text)
                .unwrap()
                .tracing()
                .close_contact_minutes,
            30
        );

        let bad =
            DEFAULT_POLICY_TOML.replace("close_contact_minutes = 15", "close_contact_minutes = 0");
        let e = Policy::parse(&bad).unwrap_err();
        let line = DEFAULT_POLICY_TOML
            .lines()
            .position(|l| l.starts_with("close_contact_minutes"))
            .unwrap()
            + 1;
        assert_eq!(e.line(), line, "{e}");
        assert!(e.message().contains("close_contact_minutes"), "{e}");

        let unknown =
            DEFAULT_POLICY_TOML.replace("household = true", "household = true\nfamily = true");
        let e = Policy::parse(&unknown).unwrap_err();
        assert!(e.message().contains("family"), "{e}");

        let wrong_type = DEFAULT_POLICY_TOML.replace("household = true", "household = \"yes\"");
        assert!(Policy::parse(&wrong_type).is_err());
    }
}
