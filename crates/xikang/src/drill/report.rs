//! The drill report: `DIR/report.json` (everything, deterministic for a seed: no wall-clock
//! figure in it) and `DIR/report.html` (the same with charts drawn as SVG by the server's
//! own chart code, `xikang_server::web::svg`).

use super::config::Responders;
use serde::{Deserialize, Serialize};
use std::fmt::Write;
use xikang_server::web::svg::{bar_chart, data_table};

/// One day of a drill.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DayRow {
    pub day: u32,
    pub date: String,
    pub infections: u32,
    pub infectious: u32,
    pub detections: u32,
    /// Cases the lab's positives registered today.
    pub reported: u32,
    pub close_confirmed: u32,
    pub secondary_confirmed: u32,
    /// Quarantine orders issued today.
    pub quarantined: u32,
    pub beds_used: u32,
    pub beds: u32,
    /// Quarantines refused for want of a bed, so far.
    pub bed_refusals: u64,
    /// Cases waiting for a tracer at the end of the day.
    pub tracer_backlog: u64,
    pub tubes_demand: u64,
    pub tube_backlog: u64,
    /// Grid cells under a zone the command centre drew (sealed, or stepped down and not yet
    /// lifted), and zones lifted so far.
    pub zones_sealed: u32,
    pub zones_lifted: u32,
    /// Zones stepped down so far to a level whose residents go out (high → medium).
    pub zones_stepped_down: u32,
    /// Residents the engine keeps at home at the end of the day (sealed or high-risk
    /// zones): down again when a zone is stepped down or lifted.
    pub residents_at_home: u32,
    /// Negative results the lab posted today (test days of orders, sealed zones' residents,
    /// round members; a pooled tube's result counts once per member).
    pub negatives_posted: u64,
    pub rounds: u32,
    /// Colours of the people the drill concerned (cases, ordered contacts) at 20:00.
    pub red: u32,
    pub yellow: u32,
    pub green: u32,
    /// Colours of the whole city's residents at 20:00 (`GET /api/v1/colours`).
    pub city_red: u64,
    pub city_yellow: u64,
    pub city_green: u64,
    /// Venue check-ins in the city's data for the day (its scan load).
    pub checkins: u64,
    pub code_displays: u64,
    pub requests: u64,
}

/// One screening round as its sampling sites held it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoundRow {
    /// The server's round id.
    pub round: String,
    pub day: u32,
    /// Residents swabbed and bound to the round's tubes (`POST /samples`): sampled in the
    /// round, so not logged as missed at its deadline.
    pub sampled: u64,
    pub tubes: u64,
    /// Sampling sites (one per grid cell with residents to swab).
    pub sites: u32,
}

/// One case's 四早 timers (times in RFC 3339, the drill's clock).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseTimer {
    pub case: String,
    /// Day of symptom onset (none if asymptomatic).
    pub onset_day: Option<u32>,
    pub sampled: String,
    pub reported: String,
    pub listed: Option<String>,
    pub quarantined: Option<String>,
    /// Sampling to the last contact ordered into quarantine.
    pub hours_to_quarantine: Option<f64>,
    pub close: u32,
    pub secondary: u32,
}

/// The drill's figures at a glance (what `--compare-policy` puts side by side).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub infections: u32,
    pub cases_reported: u32,
    pub close_contacts: u64,
    pub secondary_contacts: u64,
    pub people_quarantined: u64,
    pub person_days_red: u64,
    pub person_days_yellow: u64,
    /// Person-days under red and yellow among all residents (the city's colours at 20:00).
    pub city_person_days_red: u64,
    pub city_person_days_yellow: u64,
    pub zones_sealed: u32,
    pub zones_lifted: u32,
    pub zones_stepped_down: u32,
    pub negatives_posted: u64,
    pub rounds: u32,
    /// The last day a case was reported (none if none was).
    pub last_case_day: Option<u32>,
    /// Cases whose contacts were all ordered within 24 hours of sampling, of those traced.
    pub within_24h: u32,
    pub traced: u32,
    pub median_hours_to_quarantine: Option<f64>,
    pub bed_refusals: u64,
    pub tracer_backlog_days: u32,
    pub tube_backlog_days: u32,
    pub requests: u64,
    pub code_displays: u64,
}

/// Who ran what.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Setup {
    pub people: u32,
    pub days: u32,
    pub seed: u64,
    pub city_seed: u64,
    pub seeds: u32,
    pub variant: String,
    pub policy: String,
    pub start: String,
    pub responders: Responders,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub setup: Setup,
    pub summary: Summary,
    pub days: Vec<DayRow>,
    /// R_t by infection day: the mean number of people each person infected that day went
    /// on to infect (null where nobody was infected; the last days are truncated).
    pub rt: Vec<Option<f64>>,
    pub cases: Vec<CaseTimer>,
    /// The screening rounds held.
    pub rounds: Vec<RoundRow>,
}

/// The summary of `days` and `cases`.
pub fn summarise(days: &[DayRow], cases: &[CaseTimer], quarantined: u64) -> Summary {
    let mut hours: Vec<f64> = cases.iter().filter_map(|c| c.hours_to_quarantine).collect();
    hours.sort_by(f64::total_cmp);
    let last = days.last();
    Summary {
        infections: days.iter().map(|d| d.infections).sum(),
        cases_reported: days.iter().map(|d| d.reported).sum(),
        close_contacts: days.iter().map(|d| u64::from(d.close_confirmed)).sum(),
        secondary_contacts: days.iter().map(|d| u64::from(d.secondary_confirmed)).sum(),
        people_quarantined: quarantined,
        person_days_red: days.iter().map(|d| u64::from(d.red)).sum(),
        person_days_yellow: days.iter().map(|d| u64::from(d.yellow)).sum(),
        city_person_days_red: days.iter().map(|d| d.city_red).sum(),
        city_person_days_yellow: days.iter().map(|d| d.city_yellow).sum(),
        zones_sealed: last.map_or(0, |d| d.zones_sealed),
        zones_lifted: last.map_or(0, |d| d.zones_lifted),
        zones_stepped_down: last.map_or(0, |d| d.zones_stepped_down),
        negatives_posted: days.iter().map(|d| d.negatives_posted).sum(),
        rounds: last.map_or(0, |d| d.rounds),
        last_case_day: days.iter().filter(|d| d.reported > 0).map(|d| d.day).max(),
        within_24h: hours.iter().filter(|h| **h <= 24.0).count() as u32,
        traced: hours.len() as u32,
        median_hours_to_quarantine: hours.get(hours.len() / 2).copied(),
        bed_refusals: last.map_or(0, |d| d.bed_refusals),
        tracer_backlog_days: days.iter().filter(|d| d.tracer_backlog > 0).count() as u32,
        tube_backlog_days: days.iter().filter(|d| d.tube_backlog > 0).count() as u32,
        requests: days.iter().map(|d| d.requests).sum(),
        code_displays: days.iter().map(|d| d.code_displays).sum(),
    }
}

/// R_t by infection day from (infection day, source's infection day) pairs.
pub fn rt(days: u32, infected: &[(u32, Option<u32>)]) -> Vec<Option<f64>> {
    let mut by_day = vec![(0u64, 0u64); days as usize];
    for &(day, _) in infected {
        if let Some(d) = by_day.get_mut(day as usize) {
            d.0 += 1;
        }
    }
    for &(_, source_day) in infected {
        if let Some(d) = source_day.and_then(|s| by_day.get_mut(s as usize)) {
            d.1 += 1;
        }
    }
    by_day
        .into_iter()
        .map(|(n, offspring)| (n > 0).then(|| offspring as f64 / n as f64))
        .collect()
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The HTML report: the summary, then one chart (and its table) per series.
pub fn html(r: &Report) -> String {
    let labels: Vec<String> = r.days.iter().map(|d| d.date[5..].to_owned()).collect();
    let series = |f: &dyn Fn(&DayRow) -> u64| r.days.iter().map(f).collect::<Vec<u64>>();
    let mut s = String::new();
    let _ = write!(
        s,
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>演练报告 Drill report</title>\
         <style>body{{font-family:sans-serif;max-width:1100px;margin:auto}}figure{{display:inline-block;width:520px;margin:8px}}\
         table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:2px 6px}}</style>\
         <h1>演练报告 Drill report</h1><p>{} residents, {} days from {}, variant {}, policy {}, seed {}</p>",
        r.setup.people,
        r.setup.days,
        esc(&r.setup.start),
        esc(&r.setup.variant),
        esc(&r.setup.policy),
        r.setup.seed
    );
    let sum = serde_json::to_value(&r.summary).unwrap_or_default();
    s.push_str("<h2>Summary</h2><table>");
    if let Some(m) = sum.as_object() {
        for (k, v) in m {
            let _ = write!(
                s,
                "<tr><th>{}</th><td>{}</td></tr>",
                esc(k),
                esc(&v.to_string())
            );
        }
    }
    s.push_str("</table>");
    let mut chart = |title: &str, values: Vec<u64>, fill: &str| {
        let _ = write!(
            s,
            "<figure>{}{}</figure>",
            bar_chart(title, &labels, &values, fill),
            data_table(title, ["day", "value"], &labels, &values)
        );
    };
    chart(
        "Epidemic curve: infections a day",
        series(&|d| u64::from(d.infections)),
        "#b22",
    );
    chart(
        "Cases reported a day",
        series(&|d| u64::from(d.reported)),
        "#c60",
    );
    let rt: Vec<u64> =
        r.rt.iter()
            .map(|v| v.map_or(0, |x| (x * 100.0).round() as u64))
            .collect();
    chart("R_t × 100 by infection day", rt, "#639");
    chart(
        "Quarantine orders a day",
        series(&|d| u64::from(d.quarantined)),
        "#36c",
    );
    chart("Beds in use", series(&|d| u64::from(d.beds_used)), "#369");
    chart(
        "Cases waiting for a tracer",
        series(&|d| d.tracer_backlog),
        "#a33",
    );
    chart(
        "Tubes waiting for the lab",
        series(&|d| d.tube_backlog),
        "#a63",
    );
    chart(
        "Cells under a zone",
        series(&|d| u64::from(d.zones_sealed)),
        "#555",
    );
    chart(
        "Zones stepped down or lifted (so far)",
        series(&|d| u64::from(d.zones_stepped_down + d.zones_lifted)),
        "#777",
    );
    chart(
        "Residents kept at home (sealed or high-risk zones)",
        series(&|d| u64::from(d.residents_at_home)),
        "#444",
    );
    chart(
        "Negative results posted",
        series(&|d| d.negatives_posted),
        "#393",
    );
    chart(
        "Red codes (people concerned)",
        series(&|d| u64::from(d.red)),
        "#d22",
    );
    chart(
        "Yellow codes (people concerned)",
        series(&|d| u64::from(d.yellow)),
        "#db0",
    );
    chart("Red codes (whole city)", series(&|d| d.city_red), "#d22");
    chart(
        "Yellow codes (whole city)",
        series(&|d| d.city_yellow),
        "#db0",
    );
    chart(
        "Venue check-ins (scan load)",
        series(&|d| d.checkins),
        "#2a6",
    );
    chart(
        "Code displays by the drill",
        series(&|d| d.code_displays),
        "#286",
    );
    if !r.rounds.is_empty() {
        s.push_str("<h2>Screening rounds (sampling sites)</h2><table><tr><th>round</th><th>day</th><th>residents sampled</th><th>tubes</th><th>sites</th></tr>");
        for x in &r.rounds {
            let _ = write!(
                s,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&x.round),
                x.day,
                x.sampled,
                x.tubes,
                x.sites
            );
        }
        s.push_str("</table>");
    }
    s.push_str("<h2>四早: hours from sampling, per case (target 24 h)</h2><table><tr><th>case</th><th>onset day</th><th>sampled</th><th>reported</th><th>contacts listed</th><th>contacts quarantined</th><th>hours</th><th>within 24 h</th></tr>");
    for c in &r.cases {
        let h = c.hours_to_quarantine;
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.case),
            c.onset_day.map_or("—".into(), |d| d.to_string()),
            esc(&c.sampled),
            esc(&c.reported),
            esc(c.listed.as_deref().unwrap_or("—")),
            esc(c.quarantined.as_deref().unwrap_or("—")),
            h.map_or("—".into(), |h| format!("{h:.0}")),
            match h {
                Some(h) if h <= 24.0 => "yes",
                Some(_) => "NO",
                None => "—",
            }
        );
    }
    s.push_str("</table></html>\n");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rt_is_the_mean_offspring_of_each_infection_day() {
        // Day 0: two seeds; one infects two on day 2, the other none; one of those infects one
        // on day 4.
        let infected = [
            (0, None),
            (0, None),
            (2, Some(0)),
            (2, Some(0)),
            (4, Some(2)),
        ];
        assert_eq!(
            rt(5, &infected),
            vec![Some(1.0), None, Some(0.5), None, Some(0.0)]
        );
    }

    #[test]
    fn the_24_hour_target_counts_cases_traced_within_it() {
        let case = |h: Option<f64>| CaseTimer {
            case: "C1".into(),
            onset_day: None,
            sampled: String::new(),
            reported: String::new(),
            listed: None,
            quarantined: None,
            hours_to_quarantine: h,
            close: 0,
            secondary: 0,
        };
        let s = summarise(&[], &[case(Some(22.0)), case(Some(46.0)), case(None)], 0);
        assert_eq!((s.within_24h, s.traced), (1, 2));
        assert_eq!(s.median_hours_to_quarantine, Some(46.0));
        assert_eq!(s.last_case_day, None);
    }
}
