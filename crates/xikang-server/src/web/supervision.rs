//! The 四早 timers on the case page (docs/citizens.md): one row per step with its target,
//! the time it took (or has run so far) and whether it is breached.

use super::{Lang, esc};
use std::fmt::Write;
use xikang_domain::fourearly::Step;

fn hours(secs: i64) -> String {
    format!("{}:{:02}", secs / 3600, (secs % 3600) / 60)
}

/// The timers as a table.
pub fn timers_section(lang: Lang, steps: &[Step]) -> String {
    let mut s = format!(
        "<div class=\"scroll\" tabindex=\"0\" role=\"region\" aria-labelledby=\"timers-caption\"><table id=\"four-early\"><caption id=\"timers-caption\">{}</caption>{}<tbody>",
        lang.m("supervision-timers-breaches-count-in-the-ranking"),
        super::thead(&[
            lang.m("supervision-step"),
            lang.m("supervision-target-h-mm"),
            lang.m("supervision-taken-h-mm"),
            lang.m("common-status"),
        ])
    );
    for st in steps {
        let name = match st.step {
            "detection" => lang.m("supervision-onset-detection"),
            "report" => lang.m("supervision-detection-report"),
            "contacts_listed" => lang.m("supervision-report-contacts-listed"),
            _ => lang.m("supervision-listed-contacts-quarantined"),
        };
        let status = match (st.elapsed_secs, st.done, st.breached) {
            (None, _, _) => lang.m("supervision-not-started"),
            (_, _, true) => lang.m("supervision-breached"),
            (_, true, false) => lang.m("supervision-on-time"),
            (_, false, false) => lang.m("supervision-running"),
        };
        let _ = write!(
            s,
            "<tr data-step=\"{step}\" data-breached=\"{b}\"><th scope=\"row\">{name}</th><td>{t}</td><td>{e}</td><td>{status}</td></tr>",
            step = st.step,
            b = st.breached,
            t = hours(st.target_secs),
            e = st.elapsed_secs.map_or("—".to_owned(), hours),
            name = esc(name),
        );
    }
    s.push_str("</tbody></table></div>");
    s
}
