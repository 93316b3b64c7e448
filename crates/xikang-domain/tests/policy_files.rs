//! Policy files as officials write them: a different file changes colours without code
//! changes, and a broken file is refused with a message that names the line.

use xikang_domain::event::{EventBody, SentinelKind};
use xikang_domain::facts::PersonFacts;
use xikang_domain::policy::{Policy, PolicyError, evaluate};
use xikang_domain::{Colour, EventSeq, PersonId, Timestamp, VenueCategory};

const MINIMAL: &str = r#"version = "test-1"
effective_from = 2022-01-01T00:00:00+08:00
title_zh = "测试"
title_en = "test"
retention_days = 14
code_ttl_secs = 60

[parameters]
sentinel_days = 2

[venue_defaults]
dwell_minutes = 45
admit = "green"

[[rule]]
id = "sentinel_red"
colour = "red"
when = [{ fact = "sentinel" }]
until = { days = "sentinel_days" }
zh = "哨点报告"
en = "sentinel report"
to_green_zh = "两天后转绿"
to_green_en = "green after two days"
"#;

/// The 1-based line of the first line containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
}

fn refused(text: &str) -> PolicyError {
    match Policy::parse(text) {
        Ok(p) => panic!("accepted an invalid policy {}", p.version()),
        Err(e) => e,
    }
}

fn assert_at_line(e: &PolicyError, line: usize, words: &str) {
    assert_eq!(e.line(), line, "{e}");
    let shown = e.to_string();
    assert!(
        shown.starts_with(&format!("policy file line {line}, column ")),
        "{shown}"
    );
    assert!(shown.contains(words), "{shown} does not mention {words:?}");
}

#[test]
fn a_different_policy_file_changes_colours_without_code_changes() {
    let custom = Policy::parse(MINIMAL).unwrap();
    let default = Policy::default_policy();
    let at = Timestamp::parse_rfc3339("2022-07-01T10:00:00+08:00").unwrap();
    let mut facts = PersonFacts::default();
    let seq = EventSeq(5);
    facts.apply(
        seq,
        at,
        &EventBody::SentinelReported {
            person: PersonId(1),
            sentinel_kind: SentinelKind::FeverClinic,
            at,
        },
    );

    let under_default = evaluate(&default, &facts, at.plus(3600));
    let under_custom = evaluate(&custom, &facts, at.plus(3600));
    assert_eq!(under_default.colour, Colour::Yellow);
    assert_eq!(under_custom.colour, Colour::Red);
    assert_eq!(under_custom.fired[0].rule, "sentinel_red");
    assert_eq!(under_custom.fired[0].event, seq);
    assert_eq!(under_custom.policy_version, "test-1");
    assert_eq!(under_custom.earliest_green, Some(at.plus(2 * 86_400)));
    assert_eq!(
        evaluate(&custom, &facts, at.plus(2 * 86_400)).colour,
        Colour::Green
    );

    assert_eq!(custom.retention_days(), 14);
    assert_eq!(custom.code_ttl_secs(), 60);
    assert_eq!(custom.parameter("sentinel_days"), Some(2));
    assert_eq!(
        custom.dwell_minutes(&VenueCategory::parse("cinema").unwrap()),
        45
    );
    assert_eq!(
        custom.effective_from(),
        Timestamp::parse_rfc3339("2022-01-01T00:00:00+08:00").unwrap()
    );
}

#[test]
fn a_toml_syntax_error_is_refused_with_its_line() {
    let text = MINIMAL.replace("retention_days = 14", "retention_days = = 14");
    let e = refused(&text);
    assert_eq!(e.code(), "policy_syntax");
    assert_at_line(&e, line_of(&text, "retention_days"), "syntax");
}

#[test]
fn an_unknown_colour_is_refused_with_its_line() {
    let text = MINIMAL.replace(r#"colour = "red""#, r#"colour = "purple""#);
    let e = refused(&text);
    assert_eq!(e.code(), "policy_invalid");
    assert_at_line(&e, line_of(&text, "purple"), "unknown colour `purple`");
    assert_eq!(e.column(), 10);
}

#[test]
fn a_duplicate_rule_id_is_refused_with_both_lines() {
    let second = MINIMAL.split("[[rule]]").nth(1).unwrap();
    let text = format!("{MINIMAL}\n[[rule]]{second}");
    let e = refused(&text);
    let first = line_of(&text, "id = \"sentinel_red\"");
    let dup = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("id = \"sentinel_red\""))
        .nth(1)
        .unwrap()
        .0
        + 1;
    assert!(dup > first);
    assert_at_line(
        &e,
        dup,
        &format!("duplicate rule id `sentinel_red` (first defined on line {first})"),
    );
}

#[test]
fn a_missing_field_is_refused_at_its_table() {
    let text = MINIMAL.replace("colour = \"red\"\n", "");
    let e = refused(&text);
    assert_at_line(&e, line_of(&text, "[[rule]]"), "missing field `colour`");
}

#[test]
fn semantic_mistakes_are_refused_with_their_lines() {
    let cases: [(&str, &str, &str, &str); 10] = [
        (
            r#"fact = "sentinel""#,
            r#"fact = "sentinal""#,
            "sentinal",
            "unknown fact kind `sentinal`",
        ),
        (
            r#"days = "sentinel_days""#,
            "days = -2",
            "days = -2",
            "must not be negative",
        ),
        (
            r#"days = "sentinel_days""#,
            r#"days = "sentinel_dayz""#,
            "sentinel_dayz",
            "unknown parameter `sentinel_dayz`",
        ),
        (
            "sentinel_days = 2",
            "sentinel_days = -2",
            "sentinel_days = -2",
            "from 0 to",
        ),
        (
            r#"{ fact = "sentinel" }"#,
            r#"{ fact = "sentinel", risk = ["high"] }"#,
            "risk",
            "`risk` does not apply to `sentinel` facts",
        ),
        (
            r#"until = { days = "sentinel_days" }"#,
            "until = { fact_ends = true }",
            "fact_ends",
            "has no end of its own",
        ),
        (
            r#"colour = "red""#,
            r#"colour = "green""#,
            r#"colour = "green""#,
            "must give yellow or red",
        ),
        (
            "dwell_minutes = 45",
            "dwell_minutes = 45\nadmitt = \"green\"",
            "admitt",
            "unknown field `admitt`",
        ),
        (
            r#"title_en = "test""#,
            r#"title_en = "  ""#,
            "title_en",
            "must not be empty",
        ),
        (
            r#"until = { days = "sentinel_days" }"#,
            "until = { negatives = 3, apart_hours = 48, within_days = 2 }",
            "within_days",
            "cannot fit within 2 days",
        ),
    ];
    for (from, to, marker, words) in cases {
        let text = MINIMAL.replace(from, to);
        assert_ne!(text, MINIMAL, "{from:?} not found");
        let e = refused(&text);
        assert_eq!(e.code(), "policy_invalid", "{e}");
        assert_at_line(&e, line_of(&text, marker), words);
    }
}

#[test]
fn a_then_loop_is_refused() {
    let text = MINIMAL.replace(
        "until = { days = \"sentinel_days\" }",
        "until = { days = \"sentinel_days\" }\nthen = \"sentinel_red\"",
    );
    let e = refused(&text);
    assert_at_line(
        &e,
        line_of(&text, "then ="),
        "loop back to rule `sentinel_red`",
    );
}

#[test]
fn an_unknown_then_target_is_refused() {
    let text = MINIMAL.replace(
        "until = { days = \"sentinel_days\" }",
        "until = { days = 2 }\nthen = \"nowhere\"",
    );
    let e = refused(&text);
    assert_at_line(&e, line_of(&text, "nowhere"), "unknown rule `nowhere`");
}

#[test]
fn an_effective_date_without_offset_is_refused() {
    let text = MINIMAL.replace("2022-01-01T00:00:00+08:00", "2022-01-01T00:00:00");
    let e = refused(&text);
    assert_at_line(&e, 2, "with an offset");
}
