//! The synthetic Wuxi-like city xikang is demonstrated and benchmarked on: seven districts
//! with their GB/T 2260 codes, streets, communities, grid cells, households, workplaces,
//! schools and venues ([`generate_city`]), each resident's daily stops and the check-ins they
//! produce ([`City::checkins_for_day`]), the location pings of a share of them
//! ([`City::checkins_and_pings_for_day`]), and routine-screening test results
//! ([`City::test_results`]).
//!
//! Pure generation: no I/O, no clock. Everything is deterministic for the seed; the city does
//! not depend on the number of days, and each day is generated on its own (stream it, never
//! hold all days in memory).

mod atlas;
mod calendar;
mod city;
pub mod contacts;
pub mod epidemic;
mod grid;
mod names;
mod outline;
mod ping;
mod rng;
mod routine;
mod screening;

pub use city::{
    CellSite, City, CityConfig, Community, District, Role, Street, VENUE_CATEGORIES, WUXI,
    generate_city,
};
pub use grid::{GridRow, grid_rows, worker_of};
pub use outline::{DistrictOutline, district_outlines};
pub use ping::{DEFAULT_PING_SHARE_PERMILLE, PingPlan};
pub use routine::{DAY_END, Stop};
pub use screening::{ROUTINE_SCREENING_BASIS, ROUTINE_SCREENING_DAILY_SHARE};

#[cfg(test)]
mod tests;
