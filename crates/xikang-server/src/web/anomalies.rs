//! The command dashboard's panel of today's impossible movement (`crate::anomaly`): how
//! many people of the viewer's jurisdiction were scanned at venues too far apart for the
//! time between the scans, and the first of those moves, each linking to the (masked)
//! person page. Rendered from the dashboard's cached figures.

use super::{Lang, esc, shanghai, thead};
use crate::anomaly::AnomalyOut;
use std::fmt::Write;
use xikang_domain::{AreaCode, Timestamp};

/// Moves listed on the panel; the count covers them all.
const SHOWN: usize = 10;

/// The panel: `moves` are today's, city-wide, each with the person's home area (`None`
/// while the tracing index loads).
pub fn panel(lang: Lang, viewer: &AreaCode, moves: Option<&[(AreaCode, AnomalyOut)]>) -> String {
    let mut h = format!(
        "<h2 id=\"anomalies\">{}</h2>",
        lang.m("anomalies-impossible-movement-today")
    );
    let Some(moves) = moves else {
        let _ = write!(
            h,
            "<p>{}</p>",
            lang.m("anomalies-the-tracing-index-is-loading-shown")
        );
        return h;
    };
    let mine: Vec<&AnomalyOut> = moves
        .iter()
        .filter(|(area, _)| viewer.contains(area))
        .map(|(_, m)| m)
        .collect();
    let _ = write!(
        h,
        "<p>{} <strong id=\"fig-anomalies\">{}</strong> {}</p>",
        lang.m("anomalies-one-person-scanned-at-two-venues-too"),
        mine.len(),
        lang.m("anomalies-moves"),
    );
    if mine.is_empty() {
        return h;
    }
    let _ = write!(
        h,
        "<table class=\"anomalies\">{}<tbody>",
        thead(&[
            lang.m("common-person"),
            lang.m("anomalies-from"),
            lang.m("anomalies-to"),
            lang.m("anomalies-seconds"),
            lang.m("anomalies-km"),
        ]),
    );
    let when = |at: &str| {
        Timestamp::parse_rfc3339(at)
            .map(shanghai)
            .unwrap_or_default()
    };
    for m in mine.iter().take(SHOWN) {
        let place = |e: &crate::anomaly::MoveEndOut| {
            format!(
                "{} <small>{}</small>",
                esc(e.venue_name.as_deref().unwrap_or(&e.venue)),
                esc(&when(&e.at))
            )
        };
        let _ = write!(
            h,
            "<tr><td><a href=\"/web/people/{p}\">{p}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            place(&m.from),
            place(&m.to),
            m.seconds,
            m.km,
            p = esc(&m.person),
        );
    }
    h.push_str("</tbody></table>");
    if mine.len() > SHOWN {
        let _ = write!(
            h,
            "<p><small>{} <code>GET /api/v1/scans/anomalies</code></small></p>",
            lang.m("anomalies-the-full-list")
        );
    }
    h
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::anomaly::MoveEndOut;
    use xikang_domain::ScanDirection;

    fn end(name: &str) -> MoveEndOut {
        MoveEndOut {
            venue: "V1".into(),
            venue_name: Some(name.into()),
            district: Some("320213".into()),
            at: "2026-12-06T02:00:00Z".into(),
            direction: ScanDirection::Entry,
        }
    }

    fn flagged(person: &str, area: &str) -> (AreaCode, AnomalyOut) {
        (
            AreaCode::parse(area).unwrap(),
            AnomalyOut {
                kind: "impossible_movement",
                person: person.into(),
                name: None,
                from: end("<b>商场</b>"),
                to: end("车站"),
                km: 30.1,
                seconds: 0,
                needed_kmh: None,
            },
        )
    }

    #[test]
    fn the_panel_shows_a_viewer_the_people_of_their_area_only_and_escapes_names() {
        let moves = [flagged("P1", "320213001001"), flagged("P2", "320211002003")];
        let district = AreaCode::parse("320213").unwrap();
        let h = panel(Lang::En, &district, Some(&moves));
        assert!(h.contains("<strong id=\"fig-anomalies\">1</strong>"), "{h}");
        assert!(h.contains("/web/people/P1\"") && !h.contains("P2"), "{h}");
        assert!(h.contains("&lt;b&gt;") && !h.contains("<b>商场"), "{h}");
        assert!(h.contains("2026-12-06 10:00"), "Shanghai time: {h}");
        let city = AreaCode::parse("320200").unwrap();
        let h = panel(Lang::Zh, &city, Some(&moves));
        assert!(h.contains("<strong id=\"fig-anomalies\">2</strong>"), "{h}");
    }

    #[test]
    fn the_panel_says_so_while_the_index_loads() {
        let city = AreaCode::parse("320200").unwrap();
        let h = panel(Lang::En, &city, None);
        assert!(h.contains("loading") && !h.contains("fig-anomalies"), "{h}");
    }
}
