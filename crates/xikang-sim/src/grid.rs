//! The administrative grid of the synthetic city as rows to store: every grid cell with its
//! community, a name and its grid worker (one per cell, named `gw<cell>`, the user name a
//! grid worker's API token carries).

use crate::city::City;
use std::collections::HashMap;
use xikang_domain::{AreaCode, GridCell};

/// One grid cell of the generated grid.
#[derive(Debug, Clone, PartialEq)]
pub struct GridRow {
    pub cell: GridCell,
    pub community: AreaCode,
    /// `<community>第<n>网格`.
    pub name: String,
    pub lat: f64,
    pub lon: f64,
    /// The grid worker's user name.
    pub worker: String,
}

/// The user name of a cell's generated grid worker.
pub fn worker_of(cell: GridCell) -> String {
    format!("gw{}", cell.0)
}

/// Every grid cell of the city, in cell order.
pub fn grid_rows(city: &City) -> Vec<GridRow> {
    let mut names: HashMap<&AreaCode, (&str, usize)> = HashMap::new();
    for d in &city.districts {
        for s in &d.streets {
            for c in &s.communities {
                names.insert(&c.code, (c.name.as_str(), 0));
            }
        }
    }
    city.cells
        .iter()
        .map(|site| {
            let n = names.get_mut(&site.community).map_or_else(
                || ("网格".to_owned(), 1),
                |(name, k)| {
                    *k += 1;
                    ((*name).to_owned(), *k)
                },
            );
            GridRow {
                cell: site.cell,
                community: site.community.clone(),
                name: format!("{}第{}网格", n.0, n.1),
                lat: site.lat,
                lon: site.lon,
                worker: worker_of(site.cell),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CityConfig, generate_city};
    use xikang_domain::CivilDay;

    #[test]
    fn every_cell_of_the_city_has_one_row_with_its_community_and_worker() {
        let city = generate_city(&CityConfig {
            people: 5_000,
            days: 1,
            seed: 3,
            first_day: CivilDay(19_000),
        });
        let rows = grid_rows(&city);
        assert_eq!(rows.len(), city.cells.len());
        for (k, r) in rows.iter().enumerate() {
            assert_eq!(r.cell, GridCell(k as u32));
            assert_eq!(r.community.as_str().len(), 12);
            assert_eq!(r.worker, format!("gw{k}"));
            assert!(r.name.contains("网格"));
        }
        // Every resident's home cell is in the grid.
        assert!(
            city.people
                .iter()
                .all(|p| (p.home_cell.0 as usize) < rows.len())
        );
    }
}
