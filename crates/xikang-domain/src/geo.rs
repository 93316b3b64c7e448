//! Positions on the earth as location pings carry them (WGS-84, integer micro-degrees) and
//! the companion grid (时空伴随, PROTOCOL.md §2): square cells of the policy's
//! `companion_cell_metres` a side that [`companion_cell`] maps a position to.

use crate::model::GridCell;
use serde::{Deserialize, Serialize};
use std::fmt;

/// Micro-degrees in a degree.
const MICRO: f64 = 1_000_000.0;
/// Metres per degree along a meridian (the equatorial figure, as `xikang-trace`'s grid on
/// the main line uses, so both give the same cells). A cell is a few hundred metres; the
/// constant's error against the real meridian arc (< 0.5 %) is far below what a phone's
/// position is worth.
const METRES_PER_DEGREE: f64 = 111_320.0;

/// A WGS-84 position in integer micro-degrees (about 0.11 m of latitude): exact in both
/// databases and in JSON, unlike floats. Built only by [`Position::new`], so the rest of
/// the code only ever sees latitudes in ±90° and longitudes in ±180°.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "(i32, i32)", into = "(i32, i32)")]
pub struct Position {
    lat_e6: i32,
    lon_e6: i32,
}

impl Position {
    /// A position from micro-degrees of latitude and longitude.
    pub fn new(lat_e6: i32, lon_e6: i32) -> Result<Position, PositionError> {
        if (-90_000_000..=90_000_000).contains(&lat_e6)
            && (-180_000_000..=180_000_000).contains(&lon_e6)
        {
            Ok(Position { lat_e6, lon_e6 })
        } else {
            Err(PositionError { lat_e6, lon_e6 })
        }
    }

    /// A position from degrees, rounded to the micro-degree.
    pub fn from_degrees(lat: f64, lon: f64) -> Result<Position, PositionError> {
        let micro = |d: f64| {
            let m = (d * MICRO).round();
            // Out of range (or NaN) becomes a value `new` refuses.
            if m.is_finite() && m.abs() <= 200_000_000.0 {
                m as i32
            } else {
                i32::MAX
            }
        };
        Position::new(micro(lat), micro(lon))
    }

    /// Latitude in micro-degrees.
    pub fn lat_e6(self) -> i32 {
        self.lat_e6
    }

    /// Longitude in micro-degrees.
    pub fn lon_e6(self) -> i32 {
        self.lon_e6
    }
}

impl TryFrom<(i32, i32)> for Position {
    type Error = PositionError;
    fn try_from((lat, lon): (i32, i32)) -> Result<Self, Self::Error> {
        Position::new(lat, lon)
    }
}

impl From<Position> for (i32, i32) {
    fn from(p: Position) -> (i32, i32) {
        (p.lat_e6, p.lon_e6)
    }
}

/// A latitude outside ±90° or a longitude outside ±180° (in micro-degrees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a position: latitude must be within ±90° and longitude within ±180°")]
pub struct PositionError {
    pub lat_e6: i32,
    pub lon_e6: i32,
}

impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:.6},{:.6}",
            f64::from(self.lat_e6) / MICRO,
            f64::from(self.lon_e6) / MICRO
        )
    }
}

/// The companion cell of `p` on a grid of `metres`-wide square cells.
///
/// The grid is projected, not a lattice of degrees: rows are bands `metres` tall counted
/// from the south pole; within a row, columns are `metres` wide measured along the row's
/// middle latitude (so a cell is square to within the row's height, unlike a degree grid
/// whose cells shrink east-west by cos(latitude), 18 % in Wuxi). It needs no city origin,
/// so every server and the synthetic city agree on it.
///
/// The id packs the row and the column modulo 65 536 each (`row << 16 | column`): two
/// positions share an id only if they share a cell, or lie at least 65 536 cells apart
/// (655 km at the policy's smallest 10 m cell, the whole earth at 800 m) — never inside one
/// city. A `metres` of 0 is treated as 1.
pub fn companion_cell(p: Position, metres: u32) -> GridCell {
    let side = f64::from(metres.max(1));
    let lat = f64::from(p.lat_e6) / MICRO;
    let lon = f64::from(p.lon_e6) / MICRO;
    let row = ((lat + 90.0) * METRES_PER_DEGREE / side).floor();
    let mid_lat = ((row + 0.5) * side / METRES_PER_DEGREE - 90.0).clamp(-90.0, 90.0);
    let col =
        ((lon + 180.0) * METRES_PER_DEGREE * mid_lat.to_radians().cos().max(1e-6) / side).floor();
    // Both are finite and non-negative here; the casts saturate, then wrap as documented.
    let row = (row as u64 % 65_536) as u32;
    let col = (col.max(0.0) as u64 % 65_536) as u32;
    GridCell((row << 16) | col)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Moves `p` by `north` and `east` metres (small distances, flat-earth approximation).
    fn moved(p: Position, north: f64, east: f64) -> Position {
        let lat = f64::from(p.lat_e6()) / MICRO;
        let lon = f64::from(p.lon_e6()) / MICRO;
        let dlat = north / METRES_PER_DEGREE;
        let dlon = east / (METRES_PER_DEGREE * lat.to_radians().cos());
        Position::from_degrees(lat + dlat, lon + dlon).expect("in range")
    }

    #[test]
    fn positions_outside_the_globe_are_refused() {
        assert!(Position::new(90_000_000, 180_000_000).is_ok());
        assert!(Position::new(-90_000_000, -180_000_000).is_ok());
        assert!(Position::new(90_000_001, 0).is_err());
        assert!(Position::new(0, -180_000_001).is_err());
        assert!(Position::from_degrees(f64::NAN, 0.0).is_err());
        assert!(Position::from_degrees(31.5, 1e12).is_err());
        let p = Position::from_degrees(31.568_123_4, 120.298_765_4).expect("Wuxi");
        assert_eq!((p.lat_e6(), p.lon_e6()), (31_568_123, 120_298_765));
        assert_eq!(p.to_string(), "31.568123,120.298765");
    }

    #[test]
    fn a_position_reads_back_from_json_only_when_valid() {
        let p = Position::new(31_500_000, 120_300_000).expect("valid");
        let json = serde_json::to_string(&p).expect("serialize");
        assert_eq!(json, "[31500000,120300000]");
        assert_eq!(serde_json::from_str::<Position>(&json).expect("parse"), p);
        assert!(serde_json::from_str::<Position>("[91000000,0]").is_err());
    }

    #[test]
    fn cells_are_squares_of_the_given_side() {
        // Walk across Wuxi in 10 m steps, north and east, and count cell changes: 8 km
        // crosses 10 cells of 800 m (or 11 when the walk starts inside one).
        let start = Position::from_degrees(31.45, 120.20).expect("Wuxi");
        for (north, east) in [(1.0, 0.0), (0.0, 1.0)] {
            let mut changes = 0;
            let mut last = companion_cell(start, 800);
            for step in 1..=800 {
                let s = f64::from(step) * 10.0;
                let c = companion_cell(moved(start, north * s, east * s), 800);
                if c != last {
                    changes += 1;
                    last = c;
                }
            }
            assert!((10..=11).contains(&changes), "{changes} cells in 8 km");
        }
    }

    #[test]
    fn nearby_points_share_a_cell_and_distant_points_do_not() {
        let p = Position::from_degrees(31.491_000, 120.311_000).expect("Wuxi");
        let c = companion_cell(p, 800);
        // Somewhere within 800 m there is a different cell, and the same cell never spans
        // more than a diagonal (1 132 m).
        assert_ne!(companion_cell(moved(p, 800.0, 0.0), 800), c);
        assert_ne!(companion_cell(moved(p, 0.0, 800.0), 800), c);
        assert_ne!(companion_cell(moved(p, 1_200.0, 1_200.0), 800), c);
        // At least one 100 m move in some direction stays in the cell (it is 800 m wide).
        let stays = [(100.0, 0.0), (-100.0, 0.0), (0.0, 100.0), (0.0, -100.0)]
            .iter()
            .filter(|(n, e)| companion_cell(moved(p, *n, *e), 800) == c)
            .count();
        assert!(stays >= 2, "{stays}");
        // A different side is a different grid.
        assert_ne!(companion_cell(p, 200), c);
    }

    #[test]
    fn the_mapping_is_a_pure_function_of_position_and_side() {
        let p = Position::new(31_568_000, 120_298_000).expect("valid");
        assert_eq!(companion_cell(p, 800), companion_cell(p, 800));
        // Pinned, so a change of the grid (which would move every stored companion) is seen.
        assert_eq!(companion_cell(p, 800), GridCell((16_916 << 16) | 35_602));
        // Extremes stay defined.
        for (lat, lon) in [(90_000_000, 180_000_000), (-90_000_000, -180_000_000)] {
            let q = Position::new(lat, lon).expect("valid");
            let _ = companion_cell(q, 10);
            let _ = companion_cell(q, 0);
        }
    }
}
