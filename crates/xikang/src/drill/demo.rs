//! The demo's outbreak (issue 16, part 7): `xikang demo` on a new data directory runs a
//! drill over the generated days — the epidemic engine on the demo city, the responders
//! acting through the API — so that the dashboard, the bulletin, the case pages and the
//! 红黑榜 have cases, contacts, orders, a sealed cell and a round from the first start. The
//! demo's store is a drill's (marked; `serve` refuses it) and its clock follows real time
//! once the outbreak has caught up with today.

use super::config::Responders;
use super::{Outbreak, drive_in_process};
use anyhow::Result;
use std::sync::Arc;
use std::time::Instant;
use xikang_domain::Timestamp;
use xikang_domain::time::HOUR;
use xikang_sim::epidemic::Variant;
use xikang_sim::{CityConfig, PingPlan, generate_city};
use xikang_store::Store;

/// The real time (the demo's clock follows it once the outbreak is seeded).
pub fn real_now() -> Timestamp {
    Timestamp(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs() as i64),
    )
}

/// Makes this process a drill that follows real time from now (a demo store served again,
/// or a demo without an outbreak), and checks the store is a drill's.
pub fn follow_real_time(store: &dyn Store) -> Result<()> {
    if !xikang_server::drill::is_drill() {
        xikang_server::drill::start_following(real_now()).map_err(anyhow::Error::msg)?;
    }
    xikang_server::drill::check_store(store, true).map_err(anyhow::Error::msg)
}

/// The command centre of the demo acts sooner than the default (a cell sealed after two
/// cases, a round after three in a day), so that a 20,000-resident city shows a zone and a
/// round within its fortnight; its tracers confirm fewer venue and secondary contacts a case
/// (each confirmation re-traces the case on the server: they are most of the demo's start).
fn demo_responders() -> Responders {
    let mut r = Responders::default_file();
    r.command.seal_after_cases = 2;
    r.command.round_after_cases = 3;
    r.tracers.venue_contacts_per_case = 4;
    r.tracers.secondary_per_case = 10;
    r
}

/// Generates the city of `cfg` into the empty `store` and runs the outbreak over its days up
/// to yesterday, then moves the clock to the real time, which it follows from then on.
/// Prints what it made.
pub fn generate_with_outbreak(
    store: Arc<dyn Store>,
    cfg: &CityConfig,
    plan: &PingPlan,
) -> Result<()> {
    let t0 = Instant::now();
    let start = cfg.first_day.start().plus(8 * HOUR);
    xikang_server::drill::start_following(start).map_err(anyhow::Error::msg)?;
    xikang_server::drill::check_store(store.as_ref(), true).map_err(anyhow::Error::msg)?;
    let city = generate_city(cfg);
    let (made, _) = crate::load::store_city(store.as_ref(), &city, cfg, plan, false, t0)?;
    eprintln!(
        "generated {} people, {} venues, {} check-ins, {} location pings in {:.1} s; an outbreak over {} days…",
        made.people,
        made.venues,
        made.checkins,
        made.pings,
        made.seconds,
        cfg.days.saturating_sub(1)
    );
    let outbreak = Outbreak {
        variant: Variant::builtin("original")?,
        seed: cfg.seed,
        seeds: 40,
        days: cfg.days.saturating_sub(1),
        start,
        catch_up: true,
    };
    let rep = drive_in_process(
        store,
        xikang_domain::policy::DEFAULT_POLICY_TOML,
        &city,
        &demo_responders(),
        &outbreak,
    )?;
    let s = &rep.summary;
    eprintln!(
        "outbreak seeded in {:.1} s: {} cases, {} contacts confirmed, {} people quarantined, {} cells sealed, {} rounds",
        t0.elapsed().as_secs_f64() - made.seconds,
        s.cases_reported,
        s.close_contacts + s.secondary_contacts,
        s.people_quarantined,
        s.zones_sealed,
        s.rounds
    );
    Ok(())
}
