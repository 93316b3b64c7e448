//! Reading a policy file: TOML into span-carrying raw structs, then validation into a
//! [`Policy`]. Every error, from a TOML syntax error to a `then` that loops, names the line
//! and column it refers to, because the people who edit policy files are officials with a
//! text editor, not programmers with a debugger.

use super::{
    ANY, Exit, Matcher, NegativesExit, Policy, Rule, TracingPolicy, VariantBit, VenueSpec,
};
use crate::facts::FactTag;
use crate::model::{Colour, VenueCategory};
use crate::testing::VaccinationLevel;
use crate::time::{DAY, HOUR, Timestamp};
use serde::Deserialize;
use serde::de::{self, DeserializeOwned, IntoDeserializer};
use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::ops::Range;
use toml::Spanned;

/// Why a policy file was refused. `Display` starts with the line and column.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// The file is not valid TOML.
    #[error("policy file line {line}, column {column}: TOML syntax error: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// The file is valid TOML but not a valid policy.
    #[error("policy file line {line}, column {column}: {message}")]
    Invalid {
        line: usize,
        column: usize,
        message: String,
    },
}

impl PolicyError {
    /// Stable error code for the API envelope.
    pub fn code(&self) -> &'static str {
        match self {
            PolicyError::Syntax { .. } => "policy_syntax",
            PolicyError::Invalid { .. } => "policy_invalid",
        }
    }

    /// The line (from 1) the problem is on.
    pub fn line(&self) -> usize {
        match self {
            PolicyError::Syntax { line, .. } | PolicyError::Invalid { line, .. } => *line,
        }
    }

    /// The column (from 1, in characters) the problem starts at.
    pub fn column(&self) -> usize {
        match self {
            PolicyError::Syntax { column, .. } | PolicyError::Invalid { column, .. } => *column,
        }
    }

    /// What is wrong, without the position.
    pub fn message(&self) -> &str {
        match self {
            PolicyError::Syntax { message, .. } | PolicyError::Invalid { message, .. } => message,
        }
    }
}

/// Upper bounds that refuse absurd values (a unit mix-up, a stray digit) without limiting
/// any policy a city has used.
const MAX_DAYS: u32 = 3650;
const MAX_HOURS: u32 = 24 * 3650;
/// A person with facts keeps their last 8 negatives, so no exit can ask for more.
const MAX_NEGATIVES: u32 = 8;
const MAX_DWELL_MINUTES: u32 = 7 * 24 * 60;
const MAX_PARAMETER: i64 = 1_000_000;
/// Tracing looks back over check-ins, which are kept for weeks, not years.
const MAX_TRACE_DAYS: u32 = 60;

// ---------------------------------------------------------------------------------------
// Raw file structure, as serde reads it.

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawPolicy {
    version: Spanned<String>,
    effective_from: Spanned<RawTime>,
    title_zh: Spanned<String>,
    title_en: Spanned<String>,
    retention_days: Spanned<RawNum>,
    code_ttl_secs: Spanned<RawNum>,
    #[serde(default)]
    parameters: BTreeMap<Spanned<String>, Spanned<i64>>,
    venue_defaults: Spanned<RawVenue>,
    #[serde(default)]
    venue: BTreeMap<Spanned<String>, Spanned<RawVenue>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    tracing: Option<Spanned<RawTracing>>,
    /// Read by [`crate::duties::DutyRules::from_toml`].
    duties: Option<Spanned<toml::Value>>,
    /// The message board's routes: category → `{department, sla_hours}`.
    board: Option<Spanned<BTreeMap<Spanned<String>, Spanned<RawBoardRoute>>>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawBoardRoute {
    department: Spanned<String>,
    sla_hours: Spanned<RawNum>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTracing {
    exposure_window_days: Option<Spanned<RawNum>>,
    close_contact_minutes: Option<Spanned<RawNum>>,
    household: Option<bool>,
    workplace: Option<bool>,
    secondary_contacts: Option<bool>,
    incubation_days: Option<Spanned<RawNum>>,
    companion_cell_metres: Option<Spanned<RawNum>>,
    companion_minutes: Option<Spanned<RawNum>>,
    companion_cell_hours: Option<Spanned<RawNum>>,
    companion_cell_days: Option<Spanned<RawNum>>,
    companion_ping_gap_minutes: Option<Spanned<RawNum>>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawTime {
    Datetime(toml::value::Datetime),
    Text(String),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVenue {
    dwell_minutes: Option<Spanned<RawNum>>,
    admit: Option<Spanned<String>>,
    max_test_age_hours: Option<Spanned<RawNum>>,
    sampling_receipt_hours: Option<Spanned<RawNum>>,
    require_vaccination: Option<Spanned<String>>,
    close_contacts: Option<bool>,
    close_contact_minutes: Option<Spanned<RawNum>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    colour: Spanned<String>,
    #[serde(default)]
    when: Vec<Spanned<RawMatcher>>,
    until: Spanned<RawUntil>,
    then: Option<Spanned<String>>,
    zh: Spanned<String>,
    en: Spanned<String>,
    to_green_zh: Spanned<String>,
    to_green_en: Spanned<String>,
}

type RawList = Spanned<Vec<Spanned<String>>>;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMatcher {
    fact: Spanned<String>,
    case_kind: Option<RawList>,
    contact_kind: Option<RawList>,
    quarantine_kind: Option<RawList>,
    reason: Option<RawList>,
    zone_level: Option<RawList>,
    risk: Option<RawList>,
    sentinel_kind: Option<RawList>,
    until: Option<Spanned<RawUntil>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUntil {
    fact_ends: Option<bool>,
    released: Option<bool>,
    days: Option<Spanned<RawNum>>,
    negatives: Option<Spanned<RawNum>>,
    apart_hours: Option<Spanned<RawNum>>,
    within_days: Option<Spanned<RawNum>>,
    single_tube: Option<bool>,
}

/// A number written either literally or as the name of a `[parameters]` entry.
enum RawNum {
    Literal(i64),
    Parameter(String),
}

impl<'de> Deserialize<'de> for RawNum {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl de::Visitor<'_> for V {
            type Value = RawNum;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a whole number or the name of a parameter")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawNum, E> {
                Ok(RawNum::Literal(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawNum, E> {
                i64::try_from(v)
                    .map(RawNum::Literal)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawNum, E> {
                Ok(RawNum::Parameter(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Positions.

/// Turns byte spans into line and column for error messages.
struct Source<'a> {
    text: &'a str,
}

impl Source<'_> {
    fn position(&self, offset: usize) -> (usize, usize) {
        let mut offset = offset.min(self.text.len());
        while !self.text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &self.text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        let column = before[line_start..].chars().count() + 1;
        (line, column)
    }

    fn invalid(&self, span: Range<usize>, message: impl Into<String>) -> PolicyError {
        let (line, column) = self.position(span.start);
        PolicyError::Invalid {
            line,
            column,
            message: message.into(),
        }
    }
}

// ---------------------------------------------------------------------------------------
// Validation.

pub(super) fn parse(text: &str) -> Result<Policy, PolicyError> {
    let src = Source { text };
    let de = toml::Deserializer::parse(text).map_err(|e| {
        let (line, column) = src.position(e.span().map_or(0, |s| s.start));
        PolicyError::Syntax {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    let raw = RawPolicy::deserialize(de).map_err(|e| {
        let (line, column) = src.position(e.span().map_or(0, |s| s.start));
        PolicyError::Invalid {
            line,
            column,
            message: e.message().trim().to_owned(),
        }
    })?;
    Builder {
        src,
        parameters: BTreeMap::new(),
    }
    .build(raw)
}

struct Builder<'a> {
    src: Source<'a>,
    parameters: BTreeMap<String, u32>,
}

impl Builder<'_> {
    fn build(mut self, raw: RawPolicy) -> Result<Policy, PolicyError> {
        let version = self.version(&raw.version)?;
        let effective_from = self.time(&raw.effective_from)?;
        let title_zh = self.text(&raw.title_zh, "title_zh")?;
        let title_en = self.text(&raw.title_en, "title_en")?;

        for (name, value) in &raw.parameters {
            if !is_identifier(name.get_ref()) {
                return Err(self.src.invalid(
                    name.span(),
                    format!(
                        "parameter name `{}` must be lower-case letters, digits and underscores",
                        name.get_ref()
                    ),
                ));
            }
            let v = *value.get_ref();
            if !(0..=MAX_PARAMETER).contains(&v) {
                return Err(self.src.invalid(
                    value.span(),
                    format!(
                        "parameter `{}` must be a whole number from 0 to {MAX_PARAMETER} (got {v})",
                        name.get_ref()
                    ),
                ));
            }
            // In range 0..=1_000_000 by the check above.
            self.parameters
                .insert(name.get_ref().clone(), u32::try_from(v).unwrap_or(0));
        }

        let retention_days = self.num(&raw.retention_days, "retention_days", 1, MAX_DAYS)?;
        let code_ttl_secs = self.num(&raw.code_ttl_secs, "code_ttl_secs", 1, 86_400)?;

        let venue_default = self.venue(&raw.venue_defaults, None)?;
        let mut venues = BTreeMap::new();
        for (name, v) in &raw.venue {
            let category = VenueCategory::parse(name.get_ref())
                .map_err(|e| self.src.invalid(name.span(), e.to_string()))?;
            venues.insert(category, self.venue(v, Some(&venue_default))?);
        }

        let rules = self.rules(&raw.rule)?;
        let tracing = match &raw.tracing {
            Some(t) => self.tracing(t.get_ref())?,
            None => TracingPolicy::default(),
        };
        let duties = match raw.duties {
            None => crate::duties::DutyRules::default(),
            Some(d) => {
                let span = d.span();
                crate::duties::DutyRules::from_toml(d.into_inner(), &|n| {
                    self.parameters.get(n).copied()
                })
                .map_err(|m| self.src.invalid(span, m))?
            }
        };

        let board = match &raw.board {
            None => crate::board::BoardRules::default(),
            Some(b) => self.board(b)?,
        };

        Ok(Policy {
            version,
            effective_from,
            title_zh,
            title_en,
            retention_days,
            code_ttl_secs,
            parameters: self.parameters,
            venue_default,
            venues,
            rules,
            tracing,
            duties,
            board,
        })
    }

    fn board(
        &self,
        raw: &Spanned<BTreeMap<Spanned<String>, Spanned<RawBoardRoute>>>,
    ) -> Result<crate::board::BoardRules, PolicyError> {
        use crate::board::{BoardRules, Category, Department, MAX_SLA_HOURS};
        let mut routes = Vec::new();
        for (name, route) in raw.get_ref() {
            let category = Category::parse(name.get_ref())
                .filter(|c| c.as_str() == name.get_ref())
                .ok_or_else(|| {
                    self.src.invalid(
                        name.span(),
                        format!("[board] `{}` is not a message category", name.get_ref()),
                    )
                })?;
            let r = route.get_ref();
            let department = Department::parse(r.department.get_ref()).ok_or_else(|| {
                self.src.invalid(
                    r.department.span(),
                    format!("`{}` is not a department", r.department.get_ref()),
                )
            })?;
            let hours = self.num(&r.sla_hours, "sla_hours", 1, MAX_SLA_HOURS)?;
            routes.push((category, department, hours));
        }
        BoardRules::new(routes).map_err(|m| self.src.invalid(raw.span(), m))
    }

    fn tracing(&self, raw: &RawTracing) -> Result<TracingPolicy, PolicyError> {
        let d = TracingPolicy::default();
        let num = |v: &Option<Spanned<RawNum>>, what: &str, min: u32, max: u32, def: u32| {
            v.as_ref().map_or(Ok(def), |v| self.num(v, what, min, max))
        };
        Ok(TracingPolicy {
            exposure_window_days: num(
                &raw.exposure_window_days,
                "exposure_window_days",
                0,
                MAX_TRACE_DAYS,
                d.exposure_window_days,
            )?,
            // At least a minute: an overlap of "0 minutes" would make everyone who ever
            // touched the same second a close contact.
            close_contact_minutes: num(
                &raw.close_contact_minutes,
                "close_contact_minutes",
                1,
                MAX_DWELL_MINUTES,
                d.close_contact_minutes,
            )?,
            household: raw.household.unwrap_or(d.household),
            workplace: raw.workplace.unwrap_or(d.workplace),
            secondary_contacts: raw.secondary_contacts.unwrap_or(d.secondary_contacts),
            incubation_days: num(
                &raw.incubation_days,
                "incubation_days",
                1,
                MAX_TRACE_DAYS,
                d.incubation_days,
            )?,
            companion_cell_metres: num(
                &raw.companion_cell_metres,
                "companion_cell_metres",
                10,
                100_000,
                d.companion_cell_metres,
            )?,
            companion_minutes: num(
                &raw.companion_minutes,
                "companion_minutes",
                0,
                MAX_DWELL_MINUTES,
                d.companion_minutes,
            )?,
            companion_cell_hours: num(
                &raw.companion_cell_hours,
                "companion_cell_hours",
                0,
                MAX_TRACE_DAYS * 24,
                d.companion_cell_hours,
            )?,
            companion_cell_days: num(
                &raw.companion_cell_days,
                "companion_cell_days",
                1,
                MAX_TRACE_DAYS,
                d.companion_cell_days,
            )?,
            companion_ping_gap_minutes: num(
                &raw.companion_ping_gap_minutes,
                "companion_ping_gap_minutes",
                1,
                24 * 60,
                d.companion_ping_gap_minutes,
            )?,
        })
    }

    fn version(&self, v: &Spanned<String>) -> Result<String, PolicyError> {
        let s = v.get_ref();
        let ok = (1..=64).contains(&s.len())
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'));
        if ok {
            Ok(s.clone())
        } else {
            Err(self.src.invalid(
                v.span(),
                "version must be 1-64 letters, digits, `.`, `-` or `_`",
            ))
        }
    }

    fn time(&self, v: &Spanned<RawTime>) -> Result<Timestamp, PolicyError> {
        let text = match v.get_ref() {
            RawTime::Datetime(d) => d.to_string(),
            RawTime::Text(s) => s.clone(),
        };
        Timestamp::parse_rfc3339(&text).map_err(|_| {
            self.src.invalid(
                v.span(),
                format!("effective_from must be a date and time with an offset, e.g. 2022-09-01T00:00:00+08:00 (got `{text}`)"),
            )
        })
    }

    fn text(&self, v: &Spanned<String>, what: &str) -> Result<String, PolicyError> {
        let s = v.get_ref().trim();
        if s.is_empty() {
            return Err(self
                .src
                .invalid(v.span(), format!("`{what}` must not be empty")));
        }
        Ok(s.to_owned())
    }

    /// A number in `min..=max`, literal or from `[parameters]`.
    fn num(&self, v: &Spanned<RawNum>, what: &str, min: u32, max: u32) -> Result<u32, PolicyError> {
        let n = match v.get_ref() {
            RawNum::Literal(n) => *n,
            RawNum::Parameter(name) => match self.parameters.get(name) {
                Some(n) => i64::from(*n),
                None => {
                    return Err(self.src.invalid(
                        v.span(),
                        format!("`{what}` names an unknown parameter `{name}` (define it under [parameters])"),
                    ));
                }
            },
        };
        if n < 0 {
            return Err(self
                .src
                .invalid(v.span(), format!("`{what}` must not be negative (got {n})")));
        }
        match u32::try_from(n) {
            Ok(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(self.src.invalid(
                v.span(),
                format!("`{what}` must be from {min} to {max} (got {n})"),
            )),
        }
    }

    fn colour(&self, v: &Spanned<String>) -> Result<Colour, PolicyError> {
        Colour::parse(v.get_ref()).ok_or_else(|| {
            self.src.invalid(
                v.span(),
                format!(
                    "unknown colour `{}` (expected green, yellow or red)",
                    v.get_ref()
                ),
            )
        })
    }

    fn venue(
        &self,
        v: &Spanned<RawVenue>,
        defaults: Option<&VenueSpec>,
    ) -> Result<VenueSpec, PolicyError> {
        let raw = v.get_ref();
        let dwell_minutes = match (&raw.dwell_minutes, defaults) {
            (Some(d), _) => self.num(d, "dwell_minutes", 0, MAX_DWELL_MINUTES)?,
            (None, Some(def)) => def.dwell_minutes,
            (None, None) => {
                return Err(self
                    .src
                    .invalid(v.span(), "[venue_defaults] needs `dwell_minutes`"));
            }
        };
        let admit = match (&raw.admit, defaults) {
            (Some(c), _) => self.colour(c)?,
            (None, Some(def)) => def.admit,
            (None, None) => {
                return Err(self.src.invalid(v.span(), "[venue_defaults] needs `admit`"));
            }
        };
        let max_test_age_hours = raw
            .max_test_age_hours
            .as_ref()
            .map(|h| self.num(h, "max_test_age_hours", 1, MAX_HOURS))
            .transpose()?;
        let sampling_receipt_hours = match &raw.sampling_receipt_hours {
            Some(h) if max_test_age_hours.is_none() => {
                return Err(self.src.invalid(
                    h.span(),
                    "`sampling_receipt_hours` is an alternative to a negative test: set `max_test_age_hours` too",
                ));
            }
            Some(h) => Some(self.num(h, "sampling_receipt_hours", 1, MAX_HOURS)?),
            None => None,
        };
        let vaccination = raw
            .require_vaccination
            .as_ref()
            .map(|v| {
                VaccinationLevel::parse(v.get_ref()).ok_or_else(|| {
                    self.src.invalid(
                        v.span(),
                        format!(
                            "unknown vaccination level `{}` (expected first_dose, full_course or booster)",
                            v.get_ref()
                        ),
                    )
                })
            })
            .transpose()?;
        // Unset, a category inherits `[venue_defaults]`'s rule, which inherits `[tracing]`'s
        // minutes; at least a minute, as there. A category that gives its own minutes counts.
        if let (Some(false), Some(m)) = (raw.close_contacts, &raw.close_contact_minutes) {
            return Err(self.src.invalid(
                m.span(),
                "`close_contact_minutes` with `close_contacts = false`: co-presence here makes no close contact, so no overlap applies",
            ));
        }
        let close_contacts = raw
            .close_contacts
            .or(raw.close_contact_minutes.as_ref().map(|_| true))
            .or(defaults.map(|d| d.close_contacts))
            .unwrap_or(true);
        let close_contact_minutes = match &raw.close_contact_minutes {
            Some(m) => Some(self.num(m, "close_contact_minutes", 1, MAX_DWELL_MINUTES)?),
            None => defaults.and_then(|d| d.close_contact_minutes),
        };
        Ok(VenueSpec {
            dwell_minutes,
            admit,
            max_test_age_hours,
            sampling_receipt_hours,
            vaccination,
            close_contacts,
            close_contact_minutes,
        })
    }

    fn rules(&self, raw: &[Spanned<RawRule>]) -> Result<Vec<Rule>, PolicyError> {
        // Ids first, so that `then` can point forwards.
        let mut index: HashMap<&str, usize> = HashMap::new();
        for (i, r) in raw.iter().enumerate() {
            let id = &r.get_ref().id;
            if !is_identifier(id.get_ref()) {
                return Err(self.src.invalid(
                    id.span(),
                    format!(
                        "rule id `{}` must be lower-case letters, digits and underscores",
                        id.get_ref()
                    ),
                ));
            }
            if let Some(&first) = index.get(id.get_ref().as_str()) {
                let (line, _) = self.src.position(raw[first].get_ref().id.span().start);
                return Err(self.src.invalid(
                    id.span(),
                    format!(
                        "duplicate rule id `{}` (first defined on line {line})",
                        id.get_ref()
                    ),
                ));
            }
            index.insert(id.get_ref(), i);
        }

        let mut then: Vec<Option<usize>> = Vec::with_capacity(raw.len());
        for r in raw {
            let next = match &r.get_ref().then {
                None => None,
                Some(t) => match index.get(t.get_ref().as_str()) {
                    Some(&j) => Some(j),
                    None => {
                        return Err(self.src.invalid(
                            t.span(),
                            format!("`then` names an unknown rule `{}`", t.get_ref()),
                        ));
                    }
                },
            };
            then.push(next);
        }
        // A loop of `then` steps would keep a person coloured for ever.
        for (i, r) in raw.iter().enumerate() {
            let mut seen = vec![false; raw.len()];
            let mut at = i;
            seen[at] = true;
            while let Some(next) = then[at] {
                if seen[next] {
                    let span = r.get_ref().then.as_ref().map_or(r.span(), |t| t.span());
                    return Err(self.src.invalid(
                        span,
                        format!(
                            "`then` steps starting at rule `{}` loop back to rule `{}`",
                            r.get_ref().id.get_ref(),
                            raw[next].get_ref().id.get_ref()
                        ),
                    ));
                }
                seen[next] = true;
                at = next;
            }
        }
        let is_target: Vec<bool> = (0..raw.len()).map(|i| then.contains(&Some(i))).collect();

        let mut rules = Vec::with_capacity(raw.len());
        for (i, r) in raw.iter().enumerate() {
            let r = r.get_ref();
            let id = r.id.get_ref();
            let colour = self.colour(&r.colour)?;
            if colour == Colour::Green {
                return Err(self.src.invalid(
                    r.colour.span(),
                    format!("rule `{id}` gives green: a rule must give yellow or red (green is what remains when no rule applies)"),
                ));
            }
            let until = self.exit(&r.until)?;
            if r.when.is_empty() && !is_target[i] {
                return Err(self.src.invalid(
                    r.id.span(),
                    format!("rule `{id}` has no `when` and no rule's `then` leads to it: it can never apply"),
                ));
            }
            if is_target[i] && until.days.is_none() && until.negatives.is_none() {
                return Err(self.src.invalid(
                    r.until.span(),
                    format!("rule `{id}` follows another rule's end (`then`), so its `until` must give `days` or `negatives`"),
                ));
            }
            let mut when = Vec::with_capacity(r.when.len());
            for m in &r.when {
                when.push(self.matcher(m, &r.until, until)?);
            }
            rules.push(Rule {
                id: id.clone(),
                colour,
                when,
                until,
                then: then[i],
                zh: self.text(&r.zh, "zh")?,
                en: self.text(&r.en, "en")?,
                to_green_zh: self.text(&r.to_green_zh, "to_green_zh")?,
                to_green_en: self.text(&r.to_green_en, "to_green_en")?,
            });
        }
        Ok(rules)
    }

    fn exit(&self, v: &Spanned<RawUntil>) -> Result<Exit, PolicyError> {
        let raw = v.get_ref();
        let days = raw
            .days
            .as_ref()
            .map(|d| self.num(d, "days", 1, MAX_DAYS))
            .transpose()?;
        let negatives = match &raw.negatives {
            None => {
                if let Some(x) = raw.apart_hours.as_ref().or(raw.within_days.as_ref()) {
                    return Err(self.src.invalid(
                        x.span(),
                        "`apart_hours` and `within_days` qualify `negatives`: set `negatives` too",
                    ));
                }
                if raw.single_tube.is_some() {
                    return Err(self.src.invalid(
                        v.span(),
                        "`single_tube` qualifies `negatives`: set `negatives` too",
                    ));
                }
                None
            }
            Some(n) => {
                let count = self.num(n, "negatives", 1, MAX_NEGATIVES)?;
                let apart = raw
                    .apart_hours
                    .as_ref()
                    .map(|h| self.num(h, "apart_hours", 0, MAX_HOURS))
                    .transpose()?
                    .unwrap_or(0);
                let within = raw
                    .within_days
                    .as_ref()
                    .map(|d| self.num(d, "within_days", 1, MAX_DAYS))
                    .transpose()?;
                let apart_secs = i64::from(apart) * HOUR;
                let within_secs = within.map(|d| i64::from(d) * DAY);
                let too_tight = within_secs.is_some_and(|w| i64::from(count - 1) * apart_secs > w);
                if let (true, Some(span), Some(days)) = (too_tight, &raw.within_days, within) {
                    return Err(self.src.invalid(
                        span.span(),
                        format!("{count} tests {apart} hours apart cannot fit within {days} days"),
                    ));
                }
                Some(NegativesExit {
                    count,
                    apart_secs,
                    within_secs,
                    single_tube: raw.single_tube.unwrap_or(false),
                })
            }
        };
        let released = raw.released.unwrap_or(false);
        let exit = Exit {
            fact_ends: raw.fact_ends.unwrap_or(false) || released,
            released,
            days,
            negatives,
        };
        if !exit.fact_ends && exit.days.is_none() && exit.negatives.is_none() {
            return Err(self.src.invalid(
                v.span(),
                "`until` must give at least one of `fact_ends = true`, `released = true`, `days` or `negatives`",
            ));
        }
        Ok(exit)
    }

    fn matcher(
        &self,
        v: &Spanned<RawMatcher>,
        rule_until: &Spanned<RawUntil>,
        rule_exit: Exit,
    ) -> Result<Matcher, PolicyError> {
        let raw = v.get_ref();
        let tag = FactTag::parse(raw.fact.get_ref()).ok_or_else(|| {
            let known: Vec<&str> = FactTag::ALL.iter().map(|t| t.as_str()).collect();
            self.src.invalid(
                raw.fact.span(),
                format!(
                    "unknown fact kind `{}` (expected one of {})",
                    raw.fact.get_ref(),
                    known.join(", ")
                ),
            )
        })?;
        let (until, until_span) = match &raw.until {
            Some(u) => (Some(self.exit(u)?), u.span()),
            None => (None, rule_until.span()),
        };
        let exit = until.unwrap_or(rule_exit);
        if tag.is_point() && exit.days.is_none() && exit.negatives.is_none() {
            return Err(self.src.invalid(
                until_span,
                format!("a `{}` fact happens at one moment and has no end of its own: its `until` must give `days` or `negatives`", tag.as_str()),
            ));
        }
        let filter = |list: &Option<RawList>,
                      key: &str,
                      applies: FactTag,
                      parse: &dyn Fn(&str) -> Result<u16, String>|
         -> Result<u16, PolicyError> {
            let Some(list) = list else { return Ok(ANY) };
            if tag != applies {
                return Err(self.src.invalid(
                    list.span(),
                    format!(
                        "`{key}` does not apply to `{}` facts (only to `{}`)",
                        tag.as_str(),
                        applies.as_str()
                    ),
                ));
            }
            if list.get_ref().is_empty() {
                return Err(self.src.invalid(
                    list.span(),
                    format!("`{key}` must list at least one value (or be left out to match any)"),
                ));
            }
            let mut mask = 0;
            for item in list.get_ref() {
                mask |= parse(item.get_ref())
                    .map_err(|e| self.src.invalid(item.span(), format!("`{key}`: {e}")))?;
            }
            Ok(mask)
        };
        Ok(Matcher {
            tag,
            case_kind: filter(
                &raw.case_kind,
                "case_kind",
                FactTag::Case,
                &bit_of::<crate::event::CaseKind>,
            )?,
            contact_kind: filter(
                &raw.contact_kind,
                "contact_kind",
                FactTag::Contact,
                &bit_of::<crate::event::ContactKind>,
            )?,
            quarantine_kind: filter(
                &raw.quarantine_kind,
                "quarantine_kind",
                FactTag::Quarantine,
                &bit_of::<crate::event::QuarantineKind>,
            )?,
            reason: filter(
                &raw.reason,
                "reason",
                FactTag::Quarantine,
                &bit_of::<crate::event::QuarantineReason>,
            )?,
            zone_level: filter(
                &raw.zone_level,
                "zone_level",
                FactTag::Zone,
                &bit_of::<crate::event::ZoneLevel>,
            )?,
            risk: filter(
                &raw.risk,
                "risk",
                FactTag::Arrival,
                &bit_of::<crate::event::RiskLevel>,
            )?,
            sentinel_kind: filter(
                &raw.sentinel_kind,
                "sentinel_kind",
                FactTag::Sentinel,
                &bit_of::<crate::event::SentinelKind>,
            )?,
            until,
        })
    }
}

/// The filter bit of a detail value spelled as in the authority log (`close`, `sealed`, …).
fn bit_of<T: DeserializeOwned + VariantBit>(s: &str) -> Result<u16, String> {
    let de: de::value::StrDeserializer<'_, de::value::Error> = s.into_deserializer();
    T::deserialize(de)
        .map(VariantBit::bit)
        .map_err(|e| e.to_string())
}

fn is_identifier(s: &str) -> bool {
    (1..=64).contains(&s.len())
        && s.starts_with(|c: char| c.is_ascii_lowercase())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}
