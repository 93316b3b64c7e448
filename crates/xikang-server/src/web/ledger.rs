//! The colour ledger on the command dashboard (issue 14): today's people turned red or
//! yellow by basis, deciders and district, and an alarm when the changes without a case
//! link pass the policy's threshold (Zhengzhou 2022: 1,317 people turned red in days with
//! no health basis — the ledger makes such a wave visible the day it starts).

use super::{Lang, esc};
use crate::ledger::LedgerOut;
use std::fmt::Write;

/// The ledger's section of the dashboard.
pub fn section(lang: Lang, l: &LedgerOut) -> String {
    let mut h = String::new();
    let _ = write!(
        h,
        "<section id=\"colour-ledger\"><h2>{} {}</h2>",
        lang.m("ledger-colour-ledger-today"),
        esc(&l.date)
    );
    if l.alarm {
        let _ = write!(
            h,
            "<p class=\"err\" role=\"alert\" id=\"ledger-alarm\">{} {} &gt; {}</p>",
            lang.m("ledger-alarm-colour-changes-without-a-case"),
            l.unlinked,
            l.alarm_threshold
        );
    }
    let _ = write!(
        h,
        "<p>{} <strong id=\"ledger-red\">{}</strong> · {} <strong id=\"ledger-yellow\">{}</strong> · {} <strong id=\"ledger-unlinked\">{}</strong> ({} {})</p>",
        lang.m("ledger-turned-red"),
        l.turned_red,
        lang.m("ledger-turned-yellow"),
        l.turned_yellow,
        lang.m("ledger-without-a-case-link"),
        l.unlinked,
        lang.m("ledger-threshold"),
        l.alarm_threshold
    );
    if l.rows.is_empty() {
        let _ = write!(h, "<p>{}</p>", lang.m("ledger-no-colour-changes-today"));
    } else {
        let _ = write!(
            h,
            "<table>{}<tbody>",
            super::thead(&[
                lang.m("common-district"),
                lang.m("ledger-basis"),
                lang.m("ledger-decided-by"),
                lang.m("ledger-colour"),
                lang.m("ledger-people"),
            ])
        );
        for r in &l.rows {
            let _ = write!(
                h,
                "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                if r.case_linked {
                    ""
                } else {
                    " class=\"unlinked\""
                },
                esc(&r.district),
                esc(&r.basis),
                esc(&r.actor),
                r.colour.as_str(),
                r.people
            );
        }
        h.push_str("</tbody></table>");
    }
    h.push_str("</section>");
    h
}
