//! Writing a synthetic city into a store, with a progress bar on a terminal.

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use std::time::Instant;
use xikang_domain::CivilDay;
use xikang_sim::{City, CityConfig, PingPlan, generate_city};
use xikang_store::Store;

/// What was generated.
#[derive(Debug, Clone, Copy)]
pub struct GenReport {
    pub people: usize,
    pub venues: usize,
    pub checkins: u64,
    /// Location pings of the residents whose phones are in the feed.
    pub pings: u64,
    pub test_results: usize,
    pub seconds: f64,
}

/// Generates the city of `cfg` into `store` (people, workplaces, venues, every day's
/// check-ins and the default share's location pings, a few test results). The store must be
/// empty of people.
pub fn generate_into(store: &dyn Store, cfg: &CityConfig) -> Result<GenReport> {
    generate_into_with(store, cfg, &PingPlan::default())
}

/// [`generate_into`] with the pings of `plan` (a share of zero stores none).
pub fn generate_into_with(
    store: &dyn Store,
    cfg: &CityConfig,
    plan: &PingPlan,
) -> Result<GenReport> {
    let started = Instant::now();
    let city = generate_city(cfg);
    store_city(store, &city, cfg, plan, true, started).map(|(r, _)| r)
}

/// Writes a generated `city` into `store` as [`generate_into_with`] does; without
/// `with_results`, no test results (a drill's store holds only what its responders post).
/// `started` is when the work began (the report's seconds count from it).
pub fn store_city(
    store: &dyn Store,
    city: &City,
    cfg: &CityConfig,
    plan: &PingPlan,
    with_results: bool,
    started: Instant,
) -> Result<(GenReport, Vec<u64>)> {
    let secrets = xikang_server::load_or_create_secrets(store).context("loading store secrets")?;
    let bar = ProgressBar::new(u64::from(cfg.days) + 2);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg:28} [{bar:30}] {pos}/{len} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_message("city: people and venues");
    let rows: Vec<_> = city
        .people
        .iter()
        .map(|p| (p.clone(), p.id_number.keyed_hash(&secrets.id_hash_key)))
        .collect();
    for chunk in rows.chunks(50_000) {
        store.insert_people(chunk).context("inserting people")?;
    }
    drop(rows);
    store
        .insert_workplaces(&city.workplaces)
        .context("inserting workplaces")?;
    store
        .insert_venues(&city.venues)
        .context("inserting venues")?;
    crate::duties::insert_grid(store, city).context("inserting the grid")?;
    bar.inc(1);
    let mut checkins = 0u64;
    let mut pings = 0u64;
    let mut by_day = Vec::with_capacity(cfg.days as usize);
    for day in 0..cfg.days {
        bar.set_message(format!(
            "check-ins: {}",
            CivilDay(cfg.first_day.0 + day as i32).compact()
        ));
        let (rows, day_pings) = city.checkins_and_pings_for_day(cfg, day, plan);
        checkins += rows.len() as u64;
        by_day.push(rows.len() as u64);
        for chunk in rows.chunks(200_000) {
            store
                .insert_checkins(chunk)
                .context("inserting check-ins")?;
        }
        drop(rows);
        pings += day_pings.len() as u64;
        for chunk in day_pings.chunks(200_000) {
            store
                .insert_pings(chunk)
                .context("inserting location pings")?;
        }
        bar.inc(1);
    }
    bar.set_message("test results");
    let results = if with_results {
        city.test_results(cfg)
    } else {
        Vec::new()
    };
    for chunk in results.chunks(20_000) {
        store
            .append_events(chunk)
            .context("recording test results")?;
    }
    bar.inc(1);
    bar.finish_and_clear();
    Ok((
        GenReport {
            people: city.people_count(),
            venues: city.venue_count(),
            checkins,
            pings,
            test_results: results.len(),
            seconds: started.elapsed().as_secs_f64(),
        },
        by_day,
    ))
}
