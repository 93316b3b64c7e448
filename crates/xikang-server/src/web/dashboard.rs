//! The command dashboard (指挥部): today's figures and a fortnight's trends as SVG charts,
//! refreshed in place by a small script of our own every 15 s. Its data are computed at
//! most once per [`FIGURES_TTL`] however many dashboards are open (the cache below), on a
//! blocking thread, and stale figures are served while fresh ones are computed, so open
//! dashboards neither wait nor compete with scans.
//!
//! The figures include the maps of grid cells by zone level and by recent cases
//! ([`super::map`]) and the district ranking ([`super::ranking`]), so neither is computed
//! per request.
//!
//! The bulletin accumulator follows the authority log: each call reads only the events
//! appended since the last one.

use super::map::{DistrictArea, MapCell, MapKind};
use super::ranking::DistrictRow;
use super::session::WebUser;
use super::svg::{bar_chart, data_table};
use super::{Lang, error_page, esc, html, layout, msg};
use crate::app::Role;
use crate::error::AppError;
use crate::state::{AppState, read};
use axum::Extension;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};
use xikang_domain::bulletin::{Accumulator, Bulletin};
use xikang_domain::testing::Round;
use xikang_domain::{AreaCode, CivilDay, Colour, EventSeq, GridCell};

/// How long computed figures are served before they are computed again.
pub const FIGURES_TTL: Duration = Duration::from_secs(10);

/// A case is imported when its person arrived from elsewhere this many days before.
pub const IMPORTED_WINDOW_DAYS: u32 = xikang_domain::bulletin::IMPORTED_WINDOW_DAYS;

/// Days shown in the trend charts.
const TREND_DAYS: i32 = 14;

/// Cases registered this many days back colour the case map.
pub const RECENT_CASE_DAYS: i64 = 14;

const VIEWERS: &[Role] = &[Role::Admin, Role::Tracer];

/// The figures of the dashboard.
#[derive(Debug, Clone, Serialize)]
pub struct Figures {
    pub computed_at: String,
    pub today: Bulletin,
    /// Oldest first.
    pub days: Vec<String>,
    pub new_cases: Vec<u64>,
    pub new_close_contacts: Vec<u64>,
    pub under_observation: Vec<u64>,
    pub scans: Vec<u64>,
    pub residents: u64,
    pub green: u64,
    pub yellow: u64,
    pub red: u64,
    /// Open cases per district code.
    pub open_cases_by_district: BTreeMap<String, u64>,
    /// District names by code (those the store knows).
    pub district_names: BTreeMap<String, String>,
    /// Grid cells per zone level of the strictest active zone covering them.
    pub cells_by_zone_level: BTreeMap<String, u64>,
    /// Cases registered in the last [`RECENT_CASE_DAYS`] days, per district code.
    pub recent_cases_by_district: BTreeMap<String, u64>,
    /// The 红黑榜, worst first, city-wide (pages filter by jurisdiction).
    pub ranking: Vec<DistrictRow>,
    /// The screening round the ranking's coverage is of.
    pub round: Option<Round>,
    /// Today's impossible moves city-wide, with each person's home area (`None` while the
    /// tracing index loads). Not in `data.json`: pages show a viewer their own area's.
    #[serde(skip)]
    pub impossible_moves: Option<Vec<(AreaCode, crate::anomaly::AnomalyOut)>>,
    /// The two maps drawn in each language: `[zh, en]` × `[zones, cases]`.
    #[serde(skip)]
    pub maps: [[String; 2]; 2],
    /// Residents per district code.
    pub residents_by_district: BTreeMap<String, u64>,
    /// Red codes per district code.
    pub red_by_district: BTreeMap<String, u64>,
    /// The district choropleth and its data table, `[zh, en]` (empty shapes without stored
    /// outlines).
    #[serde(skip)]
    pub district_map: [String; 2],
}

/// The log follower and the cached figures.
#[derive(Debug)]
pub struct FigureCache {
    follow: Mutex<(EventSeq, Accumulator)>,
    cached: Mutex<Option<(Instant, Arc<Figures>)>>,
    /// Held while the first figures are computed, so concurrent first requests wait for
    /// one computation instead of each starting their own.
    first: tokio::sync::Mutex<()>,
    refreshing: AtomicBool,
}

impl Default for FigureCache {
    fn default() -> Self {
        FigureCache {
            follow: Mutex::new((EventSeq(0), Accumulator::new(IMPORTED_WINDOW_DAYS))),
            cached: Mutex::new(None),
            first: tokio::sync::Mutex::new(()),
            refreshing: AtomicBool::new(false),
        }
    }
}

impl FigureCache {
    /// Reads the events appended since the last call into the accumulator, then runs `f`.
    fn with_log<R>(
        &self,
        state: &AppState,
        f: impl FnOnce(&Accumulator) -> R,
    ) -> Result<R, AppError> {
        let mut g = self.follow.lock().unwrap_or_else(PoisonError::into_inner);
        loop {
            let batch = state.store.events_after(g.0, 10_000)?;
            let Some(last) = batch.last() else { break };
            g.0 = last.seq;
            for e in &batch {
                g.1.add(e);
            }
        }
        Ok(f(&g.1))
    }

    /// The bulletin of one day (always fresh: it reads the log's tail).
    pub async fn bulletin(
        self: &Arc<Self>,
        state: &Arc<AppState>,
        day: CivilDay,
    ) -> Result<Bulletin, AppError> {
        let (me, s) = (self.clone(), state.clone());
        tokio::task::spawn_blocking(move || me.with_log(&s, |acc| acc.bulletin(day))).await?
    }

    fn current(&self) -> Option<(Instant, Arc<Figures>)> {
        self.cached
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }

    fn store(&self, f: Arc<Figures>) {
        *self.cached.lock().unwrap_or_else(PoisonError::into_inner) = Some((Instant::now(), f));
    }

    /// The dashboard figures, computed at most once per [`FIGURES_TTL`]. Stale figures are
    /// answered at once while one background task computes fresh ones, so no request waits
    /// for a computation except the very first.
    pub async fn figures(
        self: &Arc<Self>,
        state: &Arc<AppState>,
    ) -> Result<Arc<Figures>, AppError> {
        match self.current() {
            Some((at, f)) if at.elapsed() < FIGURES_TTL => Ok(f),
            Some((_, f)) => {
                if !self.refreshing.swap(true, Ordering::AcqRel) {
                    let (me, s) = (self.clone(), state.clone());
                    tokio::task::spawn_blocking(move || {
                        match compute(&me, &s) {
                            Ok(fresh) => me.store(Arc::new(fresh)),
                            Err(e) => {
                                tracing::warn!(error = ?e, "dashboard figures failed; serving the previous ones")
                            }
                        }
                        me.refreshing.store(false, Ordering::Release);
                    });
                }
                Ok(f)
            }
            None => {
                let _first = self.first.lock().await;
                if let Some((_, f)) = self.current() {
                    return Ok(f);
                }
                let (me, s) = (self.clone(), state.clone());
                let fresh = Arc::new(tokio::task::spawn_blocking(move || compute(&me, &s)).await??);
                self.store(fresh.clone());
                Ok(fresh)
            }
        }
    }
}

fn compute(cache: &FigureCache, state: &AppState) -> Result<Figures, AppError> {
    let started = Instant::now();
    let now = crate::now();
    let today = now.shanghai_day();
    let days: Vec<CivilDay> = (0..TREND_DAYS)
        .rev()
        .map(|i| CivilDay(today.0 - i))
        .collect();
    let bulletins: Vec<Bulletin> =
        cache.with_log(state, |acc| days.iter().map(|d| acc.bulletin(*d)).collect())?;
    let scans_by_day: BTreeMap<CivilDay, u64> = state.store.checkin_days()?.into_iter().collect();
    // Colour counts: one evaluation per resident under the active policy.
    let policy = state.policy();
    let (mut green, mut yellow, mut red, mut residents) = (0, 0, 0, 0);
    // Residents and red codes per community index, then per district (the choropleth).
    let mut by_community: Vec<(u64, u64)> = Vec::new();
    {
        let people = read(&state.projection.people);
        for slot in people.iter().filter(|s| s.community != u32::MAX) {
            residents += 1;
            let ix = slot.community as usize;
            if by_community.len() <= ix {
                by_community.resize(ix + 1, (0, 0));
            }
            by_community[ix].0 += 1;
            match xikang_domain::policy::evaluate(&policy, &slot.facts, now).colour {
                Colour::Green => green += 1,
                Colour::Yellow => yellow += 1,
                Colour::Red => {
                    red += 1;
                    by_community[ix].1 += 1;
                }
            }
        }
    }
    let mut residents_by_district: BTreeMap<String, u64> = BTreeMap::new();
    let mut red_by_district: BTreeMap<String, u64> = BTreeMap::new();
    for (ix, (n, r)) in by_community.iter().enumerate() {
        if let Some(a) = state.projection.communities.get(ix as u32) {
            *residents_by_district
                .entry(a.district().to_string())
                .or_insert(0) += n;
            *red_by_district.entry(a.district().to_string()).or_insert(0) += r;
        }
    }
    let mut open_cases_by_district = BTreeMap::new();
    for c in read(&state.projection.cases)
        .values()
        .filter(|c| c.is_open())
    {
        if let Some(a) = state.projection.person_area(c.person) {
            *open_cases_by_district
                .entry(a.district().to_string())
                .or_insert(0) += 1;
        }
    }
    let names: BTreeMap<AreaCode, String> = state.store.area_names()?.into_iter().collect();
    let cells = state.store.grid_cells()?;
    let (ranking, round) = super::ranking::compute(state, &cells, &names, now)?;
    let map_cells = map_cells(state, &cells, now)?;
    let mut cells_by_zone_level = BTreeMap::new();
    let mut recent_cases_by_district: BTreeMap<String, u64> = BTreeMap::new();
    for c in &map_cells {
        let level = c.zone.map_or("none".to_owned(), |z| {
            xikang_domain::duties::variant_name(&z)
        });
        *cells_by_zone_level.entry(level).or_insert(0) += 1;
        if c.cases > 0 {
            *recent_cases_by_district
                .entry(c.district.clone())
                .or_insert(0) += u64::from(c.cases);
        }
    }
    let maps = [Lang::Zh, Lang::En].map(|l| {
        [MapKind::Zones, MapKind::Cases].map(|k| super::map::draw(l, k, &map_cells, &names))
    });
    let areas: Vec<DistrictArea> = state
        .store
        .district_outlines()?
        .into_iter()
        .filter_map(|(code, text)| {
            let polygon = serde_json::from_str(&text)
                .ok()
                .and_then(|v| xikang_domain::duties::Polygon::from_geojson(&v).ok());
            if polygon.is_none() {
                tracing::warn!(
                    district = code.as_str(),
                    "a stored district outline is not a valid polygon; not drawn"
                );
            }
            let c = code.as_str().to_owned();
            Some(DistrictArea {
                name: names.get(&code).cloned().unwrap_or_else(|| c.clone()),
                ring: polygon?.ring().to_vec(),
                residents: residents_by_district.get(&c).copied().unwrap_or(0),
                red: red_by_district.get(&c).copied().unwrap_or(0),
                open_cases: open_cases_by_district.get(&c).copied().unwrap_or(0),
                code: c,
            })
        })
        .collect();
    let district_map = [Lang::Zh, Lang::En].map(|l| {
        format!(
            "{}{}",
            super::map::draw_districts(l, &areas),
            super::map::districts_table(l, &areas)
        )
    });
    let district_names = names
        .into_iter()
        .filter(|(a, _)| a.as_str().len() == 6)
        .map(|(a, n)| (a.as_str().to_owned(), n))
        .collect();
    tracing::info!(
        ms = started.elapsed().as_millis(),
        residents,
        cells = map_cells.len(),
        "dashboard figures computed"
    );
    Ok(Figures {
        computed_at: now.to_rfc3339(),
        today: bulletins.last().cloned().unwrap_or_default(),
        days: days.iter().map(|d| d.compact()).collect(),
        new_cases: bulletins
            .iter()
            .map(|b| b.new_confirmed.total() + b.new_asymptomatic.total())
            .collect(),
        new_close_contacts: bulletins.iter().map(|b| b.new_close_contacts).collect(),
        under_observation: bulletins
            .iter()
            .map(|b| b.close_contacts_under_observation)
            .collect(),
        scans: days
            .iter()
            .map(|d| scans_by_day.get(d).copied().unwrap_or(0))
            .collect(),
        residents,
        green,
        yellow,
        red,
        open_cases_by_district,
        district_names,
        cells_by_zone_level,
        recent_cases_by_district,
        ranking,
        round,
        impossible_moves: crate::anomaly::flagged_today(state, today),
        maps,
        residents_by_district,
        red_by_district,
        district_map,
    })
}

/// Every grid cell with the strictest active zone over it and its residents' recent cases.
fn map_cells(
    state: &AppState,
    cells: &[xikang_store::GridCellRecord],
    now: xikang_domain::Timestamp,
) -> Result<Vec<MapCell>, AppError> {
    let mut zone_of: std::collections::HashMap<GridCell, xikang_domain::event::ZoneLevel> =
        std::collections::HashMap::new();
    for z in state
        .store
        .zones()?
        .iter()
        .filter(|z| z.lifted_at.is_none())
    {
        for c in &z.cells {
            let e = zone_of.entry(*c).or_insert(z.level);
            if super::map::strictness(z.level) > super::map::strictness(*e) {
                *e = z.level;
            }
        }
    }
    let since = now.plus(-RECENT_CASE_DAYS * 86_400);
    let mut cases: std::collections::HashMap<GridCell, u32> = std::collections::HashMap::new();
    {
        let people = read(&state.projection.people);
        for c in read(&state.projection.cases)
            .values()
            .filter(|c| c.registered_at >= since)
        {
            if let Some(slot) = people
                .get(c.person.0 as usize)
                .filter(|s| s.community != u32::MAX)
            {
                *cases.entry(slot.home_cell).or_insert(0) += 1;
            }
        }
    }
    Ok(cells
        .iter()
        .map(|c| MapCell {
            cell: c.cell,
            district: c.community.as_str()[..6].to_owned(),
            lat: c.lat,
            lon: c.lon,
            zone: zone_of.get(&c.cell).copied(),
            cases: cases.get(&c.cell).copied().unwrap_or(0),
        })
        .collect())
}

fn short(day: &str) -> String {
    format!(
        "{}-{}",
        day.get(4..6).unwrap_or(""),
        day.get(6..8).unwrap_or("")
    )
}

/// The part of the page the script refreshes.
fn live_html(lang: Lang, viewer: &AreaCode, f: &Figures, state: &AppState) -> String {
    let labels: Vec<String> = f.days.iter().map(|d| short(d)).collect();
    let card = |id: &str, text: &'static str, v: u64| {
        format!(
            "<div class=\"card\"><span class=\"label\">{}</span><span class=\"num\" id=\"{id}\">{v}</span></div>",
            lang.m(text)
        )
    };
    let t = &f.today;
    let mut h = String::new();
    let _ = write!(
        h,
        "<div class=\"cards\">{}{}{}{}{}{}{}</div>",
        card(
            "fig-new-cases",
            msg("dashboard-new-infections-today"),
            t.new_confirmed.total() + t.new_asymptomatic.total()
        ),
        card(
            "fig-under-treatment",
            msg("dashboard-under-treatment"),
            t.under_treatment
        ),
        card(
            "fig-new-contacts",
            msg("dashboard-new-close-contacts-today"),
            t.new_close_contacts
        ),
        card(
            "fig-observation",
            msg("dashboard-under-observation"),
            t.close_contacts_under_observation
        ),
        card("fig-red", msg("common-red-codes"), f.red),
        card("fig-yellow", msg("dashboard-yellow-codes"), f.yellow),
        card("fig-green", msg("dashboard-green-codes"), f.green),
    );
    let day_head = lang.m("common-day");
    let chart = |title: &str, caption: &str, values: &[u64], fill: &str| {
        format!(
            "<figure>{}<figcaption>{}</figcaption>{}</figure>",
            bar_chart(title, &labels, values, fill),
            esc(caption),
            data_table(
                lang.m("common-data-table"),
                [day_head, title],
                &labels,
                values
            )
        )
    };
    let _ = write!(
        h,
        "<div class=\"charts\">{}{}{}</div>",
        chart(
            lang.m("dashboard-new-infections-per-day"),
            lang.m("dashboard-new-infections-per-day-confirmed-and"),
            &f.new_cases,
            "#b3261e"
        ),
        chart(
            lang.m("dashboard-close-contacts-under-observation"),
            lang.m("dashboard-close-contacts-under-observation-at"),
            &f.under_observation,
            "#8a6d00"
        ),
        chart(
            lang.m("dashboard-scans-per-day"),
            lang.m("dashboard-venue-scans-per-day"),
            &f.scans,
            "#1d5fa8"
        ),
    );
    let _ = write!(
        h,
        "<h2>{}</h2><table>{}<tbody>",
        lang.m("dashboard-open-cases-by-district"),
        super::thead(&[lang.m("common-district"), lang.m("common-cases"),]),
    );
    for (d, n) in &f.open_cases_by_district {
        let _ = write!(
            h,
            "<tr><td{}>{}</td><td>{n}</td></tr>",
            lang.zh_attr(),
            esc(f.district_names.get(d).unwrap_or(d))
        );
    }
    let l = match lang {
        Lang::Zh => 0,
        Lang::En => 1,
    };
    let _ = write!(
        h,
        "</tbody></table><h2>{}</h2>{}<h2>{}</h2><div class=\"maps\">{}{}</div><h2>{}</h2>{}",
        lang.m("dashboard-map-of-districts"),
        f.district_map[l],
        lang.m("dashboard-map-of-grid-cells"),
        f.maps[l][0],
        f.maps[l][1],
        lang.m("common-district-ranking"),
        super::ranking::table(lang, viewer, &f.ranking, f.round.as_ref()),
    );
    h.push_str(&assist_tile(
        lang,
        &crate::cities::assist::sla_summary(state, crate::now()),
    ));
    // Not cached with the figures: the ledger is a few counters, and an alarm must not
    // wait for the next computation.
    h.push_str(&super::ledger::section(
        lang,
        &crate::ledger::colours_on(state, crate::now().shanghai_day()),
    ));
    h.push_str(&super::anomalies::panel(
        lang,
        viewer,
        f.impossible_moves.as_deref(),
    ));
    let _ = write!(
        h,
        "<p><small>{} {}</small></p>",
        lang.m("common-residents"),
        f.residents,
    );
    h
}

/// The 协查 SLA tile: per direction, the requests open and overdue and the hours to the
/// first answer (mean of the answered ones), against the policy's SLA. Live, not cached:
/// a few counters.
fn assist_tile(lang: Lang, s: &crate::cities::assist::SlaSummary) -> String {
    let mut h = format!(
        r#"<h2 id="assist-sla-h">{}</h2><table id="assist-sla" aria-labelledby="assist-sla-h" data-sla="{}">{}<tbody>"#,
        lang.m("dashboard-assistance-sla"),
        s.sla_hours,
        super::thead(&[
            lang.m("dashboard-direction"),
            lang.m("dashboard-open"),
            lang.m("dashboard-overdue"),
            lang.m("common-answered"),
            lang.m("dashboard-mean-hours-to-first-answer"),
        ]),
    );
    for (d, direction, text) in [
        (&s.incoming, "Received", msg("dashboard-received")),
        (&s.outgoing, "Sent", msg("dashboard-sent")),
    ] {
        let _ = write!(
            h,
            r#"<tr data-direction="{direction}" data-open="{o}" data-overdue="{late}"><th scope="row">{l}</th><td>{o}</td><td>{late}</td><td>{a}</td><td>{m}</td></tr>"#,
            l = lang.m(text),
            o = d.open,
            late = d.overdue,
            a = d.answered,
            m = d
                .mean_hours_to_answer
                .map_or_else(|| "—".to_owned(), |m| format!("{m:.1}")),
        );
    }
    let _ = write!(
        h,
        r#"</tbody></table><p><small>{} {} h · <a href="/web/assist">{}</a></small></p>"#,
        lang.m("dashboard-sla"),
        s.sla_hours,
        lang.m("dashboard-all-requests"),
    );
    h
}

/// The refresh interval in milliseconds: 15 s, or `?refresh=` seconds between 2 and 300
/// (the browser tests use a short one); anything else is ignored.
fn refresh_ms(q: Option<&str>) -> u64 {
    q.and_then(|s| s.parse::<u64>().ok())
        .filter(|s| (2..=300).contains(s))
        .unwrap_or(15)
        * 1000
}

/// When the figures were computed, as Shanghai wall time (ASCII, so it fits a header).
fn computed_at(f: &Figures) -> String {
    super::shanghai(
        xikang_domain::Timestamp::parse_rfc3339(&f.computed_at)
            .unwrap_or(xikang_domain::Timestamp(0)),
    )
}

/// The pause button, the status line and the figures' time, outside the refreshed part. The
/// button is hidden until `live.js` runs (without the script nothing refreshes).
fn live_controls(lang: Lang, f: &Figures) -> String {
    let (pause, resume) = (
        lang.m("dashboard-pause-auto-refresh"),
        lang.m("dashboard-resume-auto-refresh"),
    );
    format!(
        "<div class=\"live-controls\"><button type=\"button\" id=\"live-toggle\" data-paused=\"false\" data-pause=\"{pause}\" data-resume=\"{resume}\" hidden>{pause}</button> <small>{} <span id=\"computed-at\">{}</span></small> <span id=\"live-status\" role=\"status\" data-updated=\"{}\"></span></div>",
        lang.m("dashboard-computed-at"),
        esc(&computed_at(f)),
        lang.m("dashboard-figures-updated"),
    )
}

/// `GET /web/dashboard`.
pub async fn page(
    State(state): State<Arc<AppState>>,
    Extension(web): Extension<Arc<super::WebState>>,
    user: WebUser,
    Query(q): Query<BTreeMap<String, String>>,
) -> Response {
    if let Some(r) = user.forbid_unless(VIEWERS, "the dashboard") {
        return r;
    }
    let lang = user.lang;
    match web.figures.figures(&state).await {
        Ok(f) => {
            let body = format!(
                "{}<div id=\"live\" data-refresh=\"/web/dashboard/live?lang={}\" data-interval=\"{}\">{}</div><script src=\"/web/static/live.js\"></script>",
                live_controls(lang, &f),
                lang.code(),
                refresh_ms(q.get("refresh").map(String::as_str)),
                live_html(lang, &user.caller.area, &f, &state)
            );
            html(
                StatusCode::OK,
                layout(
                    lang,
                    lang.m("dashboard-command-dashboard"),
                    Some(&user),
                    "/web/dashboard",
                    &body,
                ),
            )
        }
        Err(e) => error_page(lang, Some(&user), &e),
    }
}

/// `GET /web/dashboard/live`: the refreshed fragment.
pub async fn live(
    State(state): State<Arc<AppState>>,
    Extension(web): Extension<Arc<super::WebState>>,
    user: WebUser,
) -> Response {
    if let Some(r) = user.forbid_unless(VIEWERS, "the dashboard") {
        return r;
    }
    match web.figures.figures(&state).await {
        Ok(f) => {
            let mut r = html(
                StatusCode::OK,
                live_html(user.lang, &user.caller.area, &f, &state),
            );
            if let Ok(v) = HeaderValue::from_str(&computed_at(&f)) {
                r.headers_mut().insert("x-computed-at", v);
            }
            r
        }
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}

/// `GET /web/dashboard/data.json`: the same figures as JSON (cached).
pub async fn data(
    State(state): State<Arc<AppState>>,
    Extension(web): Extension<Arc<super::WebState>>,
    user: WebUser,
) -> Response {
    if let Some(r) = user.forbid_unless(VIEWERS, "the dashboard") {
        return r;
    }
    match web.figures.figures(&state).await {
        Ok(f) => {
            let mut r = axum::Json(&*f).into_response();
            r.headers_mut().insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("private, max-age=10"),
            );
            r
        }
        Err(e) => error_page(user.lang, Some(&user), &e),
    }
}
