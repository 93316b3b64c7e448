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
        lang.t(
            "四早时限（超时计入红黑榜）",
            "四早 timers (breaches count in the ranking)"
        ),
        super::thead(&[
            lang.t("环节", "Step"),
            lang.t("时限（时:分）", "Target (h:mm)"),
            lang.t("用时（时:分）", "Taken (h:mm)"),
            lang.t("状态", "Status"),
        ])
    );
    for st in steps {
        let name = match st.step {
            "detection" => lang.t("发病→发现", "Onset → detection"),
            "report" => lang.t("发现→报告", "Detection → report"),
            "contacts_listed" => lang.t("报告→密接排查", "Report → contacts listed"),
            _ => lang.t("排查→密接隔离", "Listed → contacts quarantined"),
        };
        let status = match (st.elapsed_secs, st.done, st.breached) {
            (None, _, _) => lang.t("未开始", "not started"),
            (_, _, true) => lang.t("超时", "breached"),
            (_, true, false) => lang.t("按时完成", "on time"),
            (_, false, false) => lang.t("计时中", "running"),
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
