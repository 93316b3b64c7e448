//! Synthetic district outlines: the real boundaries of Wuxi's districts are not ours to ship,
//! so the synthetic city draws plausible ones instead — the Voronoi cell of each district's
//! centre (the mean of its grid cells), clipped to an octagon around the whole city that keeps
//! a margin from every cell. Cells of
//! one district lie around its centre, so a district's shape holds (nearly all of) its cells;
//! in a very large synthetic city the squares of neighbouring urban districts can cross these
//! borders, which a real import does not have. A city replaces them with its own
//! (`xikang districts import`).

use crate::city::City;
use xikang_domain::AreaCode;

/// Margin around the outermost cell centres, in degrees of latitude.
const MARGIN_DEG: f64 = 0.06;

/// One district's outline: its code and one ring of (longitude, latitude), not closed
/// (the last vertex is not the first again), counter-clockwise, no repeated vertex.
#[derive(Debug, Clone, PartialEq)]
pub struct DistrictOutline {
    pub code: AreaCode,
    pub ring: Vec<(f64, f64)>,
}

/// The outlines of every district that has grid cells, in district order.
pub fn district_outlines(city: &City) -> Vec<DistrictOutline> {
    // District centres: the mean of each district's cell centres.
    let mut sums: Vec<(f64, f64, f64)> = vec![(0.0, 0.0, 0.0); city.districts.len()];
    for c in &city.cells {
        if let Some(k) = city
            .districts
            .iter()
            .position(|d| c.community.as_str().starts_with(d.code.as_str()))
        {
            sums[k] = (sums[k].0 + c.lon, sums[k].1 + c.lat, sums[k].2 + 1.0);
        }
    }
    let sites: Vec<(usize, (f64, f64))> = sums
        .iter()
        .enumerate()
        .filter(|(_, s)| s.2 > 0.0)
        .map(|(k, s)| (k, (s.0 / s.2, s.1 / s.2)))
        .collect();
    let Some(first) = city.cells.first() else {
        return Vec::new();
    };
    // A local plane: x = longitude × cos(latitude), so that bisectors are perpendicular on
    // the ground and not only in degrees.
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (first.lon, first.lon, first.lat, first.lat);
    for c in &city.cells {
        min_x = min_x.min(c.lon);
        max_x = max_x.max(c.lon);
        min_y = min_y.min(c.lat);
        max_y = max_y.max(c.lat);
    }
    let shrink = ((min_y + max_y) / 2.0).to_radians().cos();
    let to_plane = |(lon, lat): (f64, f64)| (lon * shrink, lat);
    // The city's border: the box around every cell centre with the margin, its corners cut
    // by diagonals that also keep the margin from every cell (an octagon holding them all).
    let m = MARGIN_DEG;
    let (x0, x1) = (min_x * shrink - m, max_x * shrink + m);
    let (y0, y1) = (min_y - m, max_y + m);
    let mut border = vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1)];
    let plane: Vec<(f64, f64)> = city
        .cells
        .iter()
        .map(|c| to_plane((c.lon, c.lat)))
        .collect();
    let reach = m * std::f64::consts::SQRT_2;
    for n in [(1.0, 1.0), (-1.0, -1.0), (1.0, -1.0), (-1.0, 1.0)] {
        let far = plane
            .iter()
            .map(|p| n.0 * p.0 + n.1 * p.1)
            .fold(f64::MIN, f64::max);
        // Cut a corner only by half of what the box leaves beyond the cells there.
        let corner = n.0 * if n.0 > 0.0 { x1 } else { x0 } + n.1 * if n.1 > 0.0 { y1 } else { y0 };
        border = clip_half(
            &border,
            n,
            far + reach + (corner - far - reach).max(0.0) / 2.0,
        );
    }
    sites
        .iter()
        .filter_map(|(k, site)| {
            let s = to_plane(*site);
            let mut ring = border.clone();
            for (j, other) in &sites {
                if j != k {
                    ring = clip_nearer(&ring, s, to_plane(*other));
                }
            }
            let ring = tidy(
                ring.into_iter()
                    .map(|(x, y)| (round5(x / shrink), round5(y)))
                    .collect(),
            );
            (ring.len() >= 3).then(|| DistrictOutline {
                code: city.districts[*k].code.clone(),
                ring,
            })
        })
        .collect()
}

/// The part of a convex polygon nearer to `a` than to `b`: the side of their perpendicular
/// bisector where `a` lies.
fn clip_nearer(poly: &[(f64, f64)], a: (f64, f64), b: (f64, f64)) -> Vec<(f64, f64)> {
    let n = (b.0 - a.0, b.1 - a.1);
    let m = ((a.0 + b.0) / 2.0, (a.1 + b.1) / 2.0);
    clip_half(poly, n, n.0 * m.0 + n.1 * m.1)
}

/// The part of a convex polygon where `n · p ≤ c` (Sutherland–Hodgman against one line).
fn clip_half(poly: &[(f64, f64)], n: (f64, f64), c: f64) -> Vec<(f64, f64)> {
    let side = |p: (f64, f64)| n.0 * p.0 + n.1 * p.1 - c;
    let mut out = Vec::with_capacity(poly.len() + 1);
    for i in 0..poly.len() {
        let (p, q) = (poly[i], poly[(i + 1) % poly.len()]);
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0 && sq > 0.0) || (sp > 0.0 && sq < 0.0) {
            let t = sp / (sp - sq);
            out.push((p.0 + t * (q.0 - p.0), p.1 + t * (q.1 - p.1)));
        }
    }
    out
}

fn round5(v: f64) -> f64 {
    (v * 1e5).round() / 1e5
}

/// Drops vertices equal to the one before (rounding can make them), cyclically.
fn tidy(mut ring: Vec<(f64, f64)>) -> Vec<(f64, f64)> {
    ring.dedup();
    while ring.len() > 1 && ring.first() == ring.last() {
        ring.pop();
    }
    ring
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CityConfig, generate_city};
    use xikang_domain::CivilDay;
    use xikang_domain::duties::Polygon;

    #[test]
    fn every_district_gets_a_valid_outline_holding_its_centre_and_most_of_its_cells() {
        let city = generate_city(&CityConfig {
            people: 5_000,
            days: 1,
            seed: 3,
            first_day: CivilDay(19_000),
        });
        let outlines = district_outlines(&city);
        assert_eq!(outlines.len(), city.districts.len());
        for o in &outlines {
            let mut coords: Vec<[f64; 2]> = o.ring.iter().map(|p| [p.0, p.1]).collect();
            coords.push(coords[0]);
            let geometry = serde_json_like(&coords);
            let poly = Polygon::from_geojson(&geometry)
                .unwrap_or_else(|e| panic!("{}: {e}", o.code.as_str()));
            let cells: Vec<_> = city
                .cells
                .iter()
                .filter(|c| c.community.as_str().starts_with(o.code.as_str()))
                .collect();
            let inside = cells.iter().filter(|c| poly.contains(c.lon, c.lat)).count();
            assert!(
                inside * 10 >= cells.len() * 9,
                "{}: {inside} of {} cells inside",
                o.code.as_str(),
                cells.len()
            );
            // No other district's outline claims this district's centre.
            let (cx, cy) = poly.centroid();
            for other in outlines.iter().filter(|p| p.code != o.code) {
                let mut c: Vec<[f64; 2]> = other.ring.iter().map(|p| [p.0, p.1]).collect();
                c.push(c[0]);
                let q = Polygon::from_geojson(&serde_json_like(&c)).unwrap();
                assert!(
                    !q.contains(cx, cy),
                    "{} overlaps {}",
                    other.code.as_str(),
                    o.code.as_str()
                );
            }
        }
    }

    fn serde_json_like(coords: &[[f64; 2]]) -> serde_json::Value {
        serde_json::json!({ "type": "Polygon", "coordinates": [coords] })
    }
}
