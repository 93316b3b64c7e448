//! The dashboard's maps (地图): every grid cell as a square around its centre, projected
//! equirectangularly (longitudes shrunk by the cosine of the mean latitude, which is exact
//! enough for one city), coloured in one map by the level of the zone covering it and in the
//! other by the cases registered recently among its residents, with each district's name at
//! the middle of its cells. Drawn once per computation of the dashboard figures (and cached
//! with them), so a request only copies a string.
//!
//! Cells of one colour are one `<path>` of many squares rather than one `<rect>` each: a
//! million-resident city has thousands of cells and the dashboard refreshes every 15 s, so
//! the map stays tens of kilobytes. The colour is never the only carrier: the legend
//! writes each class in words with its number of cells, and the SVG's description says it.
//!
//! The grid has centres only (no outlines), so the square's side is the median gap between
//! neighbouring distinct latitudes (and longitudes): exact for the synthetic city's regular
//! grid, and a readable approximation for an imported irregular one.

use super::{Lang, esc, msg};
use std::collections::BTreeMap;
use std::fmt::Write;
use xikang_domain::event::ZoneLevel;
use xikang_domain::{AreaCode, GridCell};

/// One grid cell as the map draws it.
#[derive(Debug, Clone, PartialEq)]
pub struct MapCell {
    pub cell: GridCell,
    /// District code (6 digits).
    pub district: String,
    pub lat: f64,
    pub lon: f64,
    /// The strictest active zone covering the cell.
    pub zone: Option<ZoneLevel>,
    /// Cases registered in the last [`super::dashboard::RECENT_CASE_DAYS`] days among the
    /// cell's residents.
    pub cases: u32,
}

/// How strict a zone level is: a cell in two zones shows the stricter.
pub fn strictness(level: ZoneLevel) -> u8 {
    match level {
        ZoneLevel::Sealed | ZoneLevel::High => 3,
        ZoneLevel::Controlled | ZoneLevel::Medium => 2,
        ZoneLevel::Precaution | ZoneLevel::Low => 1,
    }
}

/// The colour classes of the zone map: (key, fill, text), strictest first.
const ZONE_CLASSES: [(&str, &str, &str); 4] = [
    ("sealed", "#b3261e", msg("map-sealed-high-risk")),
    ("controlled", "#d9730d", msg("map-controlled-medium-risk")),
    ("precaution", "#e9c46a", msg("map-precaution-low-risk")),
    ("none", "#dfe7e2", msg("map-no-zone")),
];

/// The colour classes of the case map: (key, fill, text), most cases first.
const CASE_CLASSES: [(&str, &str, &str); 4] = [
    ("cases-5", "#7f1d17", msg("map-5-or-more-cases")),
    ("cases-2", "#d4493d", msg("map-2-4-cases")),
    ("cases-1", "#f2a39b", msg("map-1-case")),
    ("cases-0", "#e4e8ec", msg("map-no-case")),
];

fn zone_class(z: Option<ZoneLevel>) -> usize {
    match z {
        Some(ZoneLevel::Sealed | ZoneLevel::High) => 0,
        Some(ZoneLevel::Controlled | ZoneLevel::Medium) => 1,
        Some(ZoneLevel::Precaution | ZoneLevel::Low) => 2,
        None => 3,
    }
}

fn case_class(n: u32) -> usize {
    match n {
        5.. => 0,
        2..=4 => 1,
        1 => 2,
        0 => 3,
    }
}

/// Which map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapKind {
    Zones,
    Cases,
}

/// The median of the positive gaps between neighbouring distinct values; `None` when all
/// values are equal.
fn median_gap(mut v: Vec<f64>) -> Option<f64> {
    v.sort_by(f64::total_cmp);
    v.dedup_by(|a, b| (*a - *b).abs() < 1e-9);
    let mut gaps: Vec<f64> = v.windows(2).map(|w| w[1] - w[0]).collect();
    gaps.sort_by(f64::total_cmp);
    gaps.get(gaps.len() / 2).copied()
}

/// The map's pixel width, and the most height it may take.
const WIDTH: f64 = 560.0;
const MAX_HEIGHT: f64 = 620.0;
/// Room around the cells for the names of districts at the edge.
const PAD: f64 = 28.0;

/// Draws one map. `names` gives district names by code (a district without one shows its
/// code).
pub fn draw(
    lang: Lang,
    kind: MapKind,
    cells: &[MapCell],
    names: &BTreeMap<AreaCode, String>,
) -> String {
    let (id, title, classes) = match kind {
        MapKind::Zones => (
            "map-zones",
            lang.m("map-grid-cells-by-zone-level"),
            &ZONE_CLASSES,
        ),
        MapKind::Cases => (
            "map-cases",
            lang.m("map-grid-cells-by-cases-in-the-last-14"),
            &CASE_CLASSES,
        ),
    };
    let class_of = |c: &MapCell| match kind {
        MapKind::Zones => zone_class(c.zone),
        MapKind::Cases => case_class(c.cases),
    };
    let mut counts = [0usize; 4];
    for c in cells {
        counts[class_of(c)] += 1;
    }
    let legend: Vec<String> = classes
        .iter()
        .zip(counts)
        .map(|((_, _, text), n)| lang.f("map-legend-cells", &[("class", &lang.m(text)), ("n", &n)]))
        .collect();
    let mut s = String::new();
    let dims = extent(cells);
    let (w, h) = dims.map_or((WIDTH, 80.0), |d| (d.width, d.height));
    let _ = write!(
        s,
        r#"<figure class="map"><svg class="map" id="{id}" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-labelledby="{id}-t {id}-d" xmlns="http://www.w3.org/2000/svg"><title id="{id}-t">{t}</title><desc id="{id}-d">{d}</desc>"#,
        t = esc(title),
        d = esc(&legend.join(lang.m("common-list-separator"))),
    );
    if let Some(d) = dims {
        let mut paths: [String; 4] = Default::default();
        for c in cells {
            let (x, y) = d.project(c.lat, c.lon);
            let _ = write!(
                paths[class_of(c)],
                "M{:.1} {:.1}h{:.1}v{:.1}h-{:.1}z",
                x - d.side_x / 2.0,
                y - d.side_y / 2.0,
                d.side_x,
                d.side_y,
                d.side_x
            );
        }
        for (i, (key, fill, ..)) in classes.iter().enumerate() {
            if !paths[i].is_empty() {
                let _ = write!(
                    s,
                    r##"<path class="{key}" data-cells="{}" fill="{fill}" stroke="#fff" stroke-width="0.4" d="{}"/>"##,
                    counts[i], paths[i]
                );
            }
        }
        // District names at the middle of their cells, with a white halo to stay legible
        // on any fill.
        let mut middle: BTreeMap<&str, (f64, f64, f64)> = BTreeMap::new();
        for c in cells {
            let (x, y) = d.project(c.lat, c.lon);
            let m = middle.entry(&c.district).or_insert((0.0, 0.0, 0.0));
            *m = (m.0 + x, m.1 + y, m.2 + 1.0);
        }
        for (code, (x, y, n)) in middle {
            let name = AreaCode::parse(code)
                .ok()
                .and_then(|a| names.get(&a))
                .map_or(code, String::as_str);
            let _ = write!(
                s,
                r##"<text x="{:.1}" y="{:.1}" font-size="13" text-anchor="middle" fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke" data-district="{}">{}</text>"##,
                x / n,
                y / n,
                esc(code),
                esc(name)
            );
        }
    }
    s.push_str("</svg><figcaption><ul class=\"legend\">");
    for ((key, fill, ..), text) in classes.iter().zip(&legend) {
        let _ = write!(
            s,
            "<li data-class=\"{key}\"><svg class=\"swatch\" viewBox=\"0 0 1 1\" aria-hidden=\"true\"><rect width=\"1\" height=\"1\" fill=\"{fill}\"/></svg>{}</li>",
            esc(text)
        );
    }
    s.push_str("</ul></figcaption></figure>");
    s
}

/// Where the cells lie and how to project them.
#[derive(Debug, Clone, Copy)]
struct Extent {
    min_lon: f64,
    max_lat: f64,
    /// Pixels per degree of latitude; longitudes are shrunk by `shrink` first.
    scale: f64,
    shrink: f64,
    side_x: f64,
    side_y: f64,
    width: f64,
    height: f64,
}

impl Extent {
    fn project(&self, lat: f64, lon: f64) -> (f64, f64) {
        (
            PAD + (lon - self.min_lon) * self.shrink * self.scale + self.side_x / 2.0,
            PAD + (self.max_lat - lat) * self.scale + self.side_y / 2.0,
        )
    }
}

fn extent(cells: &[MapCell]) -> Option<Extent> {
    let first = cells.first()?;
    let (mut min_lat, mut max_lat, mut min_lon, mut max_lon) =
        (first.lat, first.lat, first.lon, first.lon);
    for c in cells {
        min_lat = min_lat.min(c.lat);
        max_lat = max_lat.max(c.lat);
        min_lon = min_lon.min(c.lon);
        max_lon = max_lon.max(c.lon);
    }
    let shrink = ((min_lat + max_lat) / 2.0).to_radians().cos().max(0.1);
    // A lone cell (or a single row) borrows the other axis' gap, else about 800 m.
    let gap_lat = median_gap(cells.iter().map(|c| c.lat).collect());
    let gap_lon = median_gap(cells.iter().map(|c| c.lon).collect());
    let dlat = gap_lat.or(gap_lon.map(|g| g * shrink)).unwrap_or(0.0072);
    let dlon = gap_lon.or(gap_lat.map(|g| g / shrink)).unwrap_or(0.0084);
    let span_x = (max_lon - min_lon + dlon) * shrink;
    let span_y = max_lat - min_lat + dlat;
    let scale = ((WIDTH - 2.0 * PAD) / span_x).min((MAX_HEIGHT - 2.0 * PAD) / span_y);
    // At least a pixel, so a city of many small cells still shows every one.
    let side_x = (dlon * shrink * scale).max(1.0);
    let side_y = (dlat * scale).max(1.0);
    Some(Extent {
        min_lon,
        max_lat,
        scale,
        shrink,
        side_x,
        side_y,
        width: span_x * scale + 2.0 * PAD,
        height: span_y * scale + 2.0 * PAD,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cell(
        n: u32,
        district: &str,
        lat: f64,
        lon: f64,
        zone: Option<ZoneLevel>,
        cases: u32,
    ) -> MapCell {
        MapCell {
            cell: GridCell(n),
            district: district.into(),
            lat,
            lon,
            zone,
            cases,
        }
    }

    fn grid() -> Vec<MapCell> {
        vec![
            cell(0, "320213", 31.5, 120.30, Some(ZoneLevel::Sealed), 3),
            cell(1, "320213", 31.5, 120.31, Some(ZoneLevel::Controlled), 0),
            cell(2, "320211", 31.51, 120.30, None, 1),
            cell(3, "320211", 31.51, 120.31, Some(ZoneLevel::Low), 7),
        ]
    }

    #[test]
    fn each_cell_lands_in_its_zone_class_and_the_legend_counts_them_in_words() {
        let names = BTreeMap::from([(AreaCode::parse("320213").unwrap(), "梁溪区".to_owned())]);
        let svg = draw(Lang::Zh, MapKind::Zones, &grid(), &names);
        assert!(
            svg.contains("<path class=\"sealed\" data-cells=\"1\" fill=\"#b3261e\""),
            "{svg}"
        );
        assert!(
            svg.contains("<path class=\"controlled\" data-cells=\"1\""),
            "{svg}"
        );
        assert!(
            svg.contains("<path class=\"precaution\" data-cells=\"1\""),
            "{svg}"
        );
        assert!(
            svg.contains("<path class=\"none\" data-cells=\"1\""),
            "{svg}"
        );
        assert!(svg.contains("封控区 / 高风险区 1 个网格"), "{svg}");
        // Named district by name, unnamed by code.
        assert!(
            svg.contains("data-district=\"320213\">梁溪区</text>"),
            "{svg}"
        );
        assert!(
            svg.contains("data-district=\"320211\">320211</text>"),
            "{svg}"
        );
        let cases = draw(Lang::En, MapKind::Cases, &grid(), &names);
        assert!(
            cases.contains("<path class=\"cases-5\" data-cells=\"1\""),
            "{cases}"
        );
        assert!(
            cases.contains("<path class=\"cases-2\" data-cells=\"1\""),
            "{cases}"
        );
        assert!(
            cases.contains("<path class=\"cases-1\" data-cells=\"1\""),
            "{cases}"
        );
        assert!(cases.contains("no case: 1 cells"), "{cases}");
    }

    #[test]
    fn cells_are_squares_of_the_grid_spacing_inside_the_view() {
        let d = extent(&grid()).unwrap();
        // 0.01° of latitude and 0.01° × cos(31.5°) of longitude.
        let ratio = d.side_x / d.side_y;
        assert!(
            (ratio - 31.505_f64.to_radians().cos()).abs() < 1e-3,
            "{ratio}"
        );
        for c in grid() {
            let (x, y) = d.project(c.lat, c.lon);
            assert!(x - d.side_x / 2.0 >= PAD - 1e-9 && x + d.side_x / 2.0 <= d.width - PAD + 1e-9);
            assert!(
                y - d.side_y / 2.0 >= PAD - 1e-9 && y + d.side_y / 2.0 <= d.height - PAD + 1e-9
            );
        }
        // North is up: the northern row has the smaller y.
        assert!(d.project(31.51, 120.3).1 < d.project(31.5, 120.3).1);
        assert!(d.width <= WIDTH + 1e-9 && d.height <= MAX_HEIGHT + 1e-9);
    }

    #[test]
    fn a_stricter_zone_wins_and_an_empty_city_draws_an_empty_map() {
        assert!(strictness(ZoneLevel::Sealed) > strictness(ZoneLevel::Controlled));
        assert!(strictness(ZoneLevel::High) > strictness(ZoneLevel::Low));
        let svg = draw(Lang::Zh, MapKind::Zones, &[], &BTreeMap::new());
        assert!(!svg.contains("<path"));
        assert!(svg.contains("未划定 0 个网格"));
    }
}

/// One district of the choropleth: its stored outline and its figures.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictArea {
    /// District code (6 digits).
    pub code: String,
    pub name: String,
    /// The outline's vertices (longitude, latitude).
    pub ring: Vec<(f64, f64)>,
    pub residents: u64,
    pub red: u64,
    pub open_cases: u64,
}

impl DistrictArea {
    /// Red codes per 10,000 residents (0 for a district without residents).
    pub fn red_rate(&self) -> f64 {
        if self.residents == 0 {
            0.0
        } else {
            self.red as f64 * 10_000.0 / self.residents as f64
        }
    }
}

/// Fills of the choropleth: no red code, then up to five classes light to dark.
const CHORO_ZERO: &str = "#f1f1f1";
const CHORO_FILLS: [&str; 5] = ["#fde0d9", "#fcae91", "#fb6a4a", "#de2d26", "#a50f15"];

/// The upper bounds of the choropleth's classes: round steps from [`super::svg::ticks`]
/// reaching the largest rate (so a legend reads "0–5, 5–10 …").
fn choropleth_bounds(areas: &[DistrictArea]) -> Vec<u64> {
    let max = areas.iter().map(DistrictArea::red_rate).fold(0.0, f64::max);
    let mut t = super::svg::ticks(max.ceil() as u64);
    t.remove(0);
    t.truncate(CHORO_FILLS.len());
    t
}

/// The class of a rate: 0 for none, else 1 + the first bound at or above it.
fn choropleth_class(rate: f64, bounds: &[u64]) -> usize {
    if rate <= 0.0 {
        return 0;
    }
    1 + bounds
        .iter()
        .position(|b| rate <= *b as f64)
        .unwrap_or(bounds.len().saturating_sub(1))
}

/// The district map: each stored outline as a named shape filled by red codes per 10,000
/// residents, with the district's name at its centroid, a legend of the classes in words and
/// numbers, and each shape's figures in its `<title>` (hover) — and, for assistive
/// technology, the same figures in a table (`districts_table`).
pub fn draw_districts(lang: Lang, areas: &[DistrictArea]) -> String {
    let bounds = choropleth_bounds(areas);
    let mut s = String::new();
    let title = lang.m("map-red-codes-per-10-000-residents-by");
    // Projection of the outlines' extent into WIDTH × at most MAX_HEIGHT.
    let pts = areas.iter().flat_map(|a| a.ring.iter().copied());
    let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    for (x, y) in pts {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    let ok = x0 < x1 && y0 < y1;
    let shrink = if ok {
        ((y0 + y1) / 2.0).to_radians().cos().max(0.1)
    } else {
        1.0
    };
    let scale = if ok {
        ((WIDTH - 2.0 * PAD) / ((x1 - x0) * shrink)).min((MAX_HEIGHT - 2.0 * PAD) / (y1 - y0))
    } else {
        1.0
    };
    let (w, h) = if ok {
        (
            (x1 - x0) * shrink * scale + 2.0 * PAD,
            (y1 - y0) * scale + 2.0 * PAD,
        )
    } else {
        (WIDTH, 80.0)
    };
    let project = |(x, y): (f64, f64)| (PAD + (x - x0) * shrink * scale, PAD + (y1 - y) * scale);
    let _ = write!(
        s,
        r#"<figure class="map choropleth"><svg class="map" id="map-districts" viewBox="0 0 {w:.0} {h:.0}" role="img" aria-labelledby="map-districts-t" xmlns="http://www.w3.org/2000/svg"><title id="map-districts-t">{t}</title>"#,
        t = esc(title)
    );
    let mut labels = String::new();
    for a in areas.iter().filter(|a| a.ring.len() >= 3) {
        let rate = a.red_rate();
        let class = choropleth_class(rate, &bounds);
        let fill = if class == 0 {
            CHORO_ZERO
        } else {
            CHORO_FILLS[class - 1]
        };
        let mut d = String::new();
        for (k, p) in a.ring.iter().enumerate() {
            let (x, y) = project(*p);
            let _ = write!(d, "{}{x:.1} {y:.1}", if k == 0 { "M" } else { "L" });
        }
        d.push('z');
        let hover = lang.f(
            "map-district-hover",
            &[
                ("name", &a.name),
                ("red", &a.red),
                ("rate", &format!("{rate:.1}")),
                ("cases", &a.open_cases),
                ("residents", &a.residents),
            ],
        );
        let _ = write!(
            s,
            r##"<path class="district" data-district="{code}" data-name="{name}" data-rate="{rate:.1}" data-class="{class}" fill="{fill}" stroke="#333" stroke-width="1" d="{d}"><title>{hover}</title></path>"##,
            code = esc(&a.code),
            name = esc(&a.name),
            hover = esc(&hover),
        );
        // The label at the centre of the outline's vertices' box, haloed for any fill.
        let (cx, cy) = {
            let (mut a0, mut a1, mut b0, mut b1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
            for p in &a.ring {
                let (x, y) = project(*p);
                a0 = a0.min(x);
                a1 = a1.max(x);
                b0 = b0.min(y);
                b1 = b1.max(y);
            }
            ((a0 + a1) / 2.0, (b0 + b1) / 2.0)
        };
        let _ = write!(
            labels,
            r##"<text x="{cx:.1}" y="{cy:.1}" font-size="14" text-anchor="middle" fill="#111" stroke="#fff" stroke-width="3" paint-order="stroke" aria-hidden="true">{}</text>"##,
            esc(&a.name)
        );
    }
    s.push_str(&labels);
    s.push_str("</svg><figcaption><p>");
    s.push_str(esc(title).as_str());
    s.push_str("</p><ul class=\"legend\" id=\"map-districts-legend\">");
    let mut lo = 0u64;
    let classes = std::iter::once((0usize, CHORO_ZERO, lang.m("map-no-red-code").to_owned()))
        .chain(bounds.iter().enumerate().map(|(k, b)| {
            let text = format!("{lo}–{b}");
            lo = *b;
            (k + 1, CHORO_FILLS[k], text)
        }));
    for (k, fill, text) in classes {
        let _ = write!(
            s,
            "<li data-class=\"{k}\"><svg class=\"swatch\" viewBox=\"0 0 1 1\" aria-hidden=\"true\"><rect width=\"1\" height=\"1\" fill=\"{fill}\"/></svg>{}</li>",
            esc(&text)
        );
    }
    s.push_str("</ul></figcaption></figure>");
    s
}

/// A `lang` attribute for a district name (Chinese) on a page in `lang`.
fn zh_name(lang: Lang) -> &'static str {
    lang.zh_attr()
}

/// The district map's figures as a table (the map's alternative for assistive technology).
pub fn districts_table(lang: Lang, areas: &[DistrictArea]) -> String {
    let mut s = format!(
        "<details class=\"data\"><summary>{}</summary><table id=\"districts-table\">{}<tbody>",
        lang.m("common-data-table"),
        super::thead(&[
            lang.m("common-district"),
            lang.m("common-residents"),
            lang.m("common-red-codes"),
            lang.m("map-red-per-10-000"),
            lang.m("map-open-cases"),
        ])
    );
    for a in areas {
        let _ = write!(
            s,
            "<tr data-code=\"{}\"><th scope=\"row\"{}>{}</th><td>{}</td><td>{}</td><td>{:.1}</td><td>{}</td></tr>",
            esc(&a.code),
            zh_name(lang),
            esc(&a.name),
            a.residents,
            a.red,
            a.red_rate(),
            a.open_cases
        );
    }
    s.push_str("</tbody></table></details>");
    s
}

#[cfg(test)]
mod choropleth_tests {
    use super::*;

    fn area(code: &str, name: &str, x: f64, residents: u64, red: u64) -> DistrictArea {
        DistrictArea {
            code: code.into(),
            name: name.into(),
            ring: vec![(x, 31.0), (x + 0.1, 31.0), (x + 0.1, 31.1), (x, 31.1)],
            residents,
            red,
            open_cases: 1,
        }
    }

    #[test]
    fn each_district_is_one_named_shape_filled_by_its_class_with_a_legend() {
        let areas = [
            area("320213", "梁溪区", 120.0, 10_000, 0),
            area("320211", "滨湖区", 120.1, 10_000, 4),
            area("320214", "新吴区", 120.2, 20_000, 20),
        ];
        let svg = draw_districts(Lang::Zh, &areas);
        assert_eq!(svg.matches("<path class=\"district\"").count(), 3, "{svg}");
        // Rates 0, 4, 10: bounds 5, 10 (ticks of 10 are 0, 5, 10).
        assert!(
            svg.contains(
                "data-district=\"320213\" data-name=\"梁溪区\" data-rate=\"0.0\" data-class=\"0\""
            ),
            "{svg}"
        );
        assert!(
            svg.contains(
                "data-district=\"320211\" data-name=\"滨湖区\" data-rate=\"4.0\" data-class=\"1\""
            ),
            "{svg}"
        );
        assert!(svg.contains("data-rate=\"10.0\" data-class=\"2\""), "{svg}");
        assert!(
            svg.contains(
                "<title>新吴区：红码 20 人，每万居民 10.0；在治病例 1；居民 20000</title>"
            ),
            "{svg}"
        );
        assert!(svg.contains("<li data-class=\"0\">"), "{svg}");
        assert!(
            svg.contains("</svg>0–5</li>") && svg.contains("</svg>5–10</li>"),
            "{svg}"
        );
        let table = districts_table(Lang::En, &areas);
        assert!(
            table.contains(
                "<th scope=\"row\" lang=\"zh-CN\">新吴区</th><td>20000</td><td>20</td><td>10.0</td><td>1</td>"
            ),
            "{table}"
        );
    }

    #[test]
    fn no_outlines_draw_an_empty_map_and_no_residents_no_rate() {
        let svg = draw_districts(Lang::En, &[]);
        assert!(!svg.contains("<path") && !svg.contains("NaN"), "{svg}");
        assert_eq!(area("1", "x", 0.0, 0, 0).red_rate(), 0.0);
    }
}
