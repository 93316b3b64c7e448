//! How fast the generator is: builds a city (100,000 people by default, or the first
//! argument) and generates two days of check-ins, printing check-ins per second. Not a test:
//! run it with `cargo run --release -p xikang-sim --example gen_speed [people]`.
//! Prints only counts and rates, never anything about a resident.

use std::collections::BTreeMap;
use std::time::Instant;
use xikang_domain::CivilDay;
use xikang_sim::{CityConfig, generate_city};

fn main() {
    let people = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(100_000u32);
    let days = 2;
    let cfg = CityConfig {
        people,
        days,
        seed: 42,
        first_day: CivilDay::parse("2022-07-01").unwrap_or(CivilDay(19_174)),
    };
    let t = Instant::now();
    let city = generate_city(&cfg);
    let built = t.elapsed();
    println!(
        "city: {} people, {} households, {} workplaces, {} venues (1 per {:.0} people), {} cells in {:.2?}",
        city.people_count(),
        city.households,
        city.workplaces.len(),
        city.venue_count(),
        city.people_count() as f64 / city.venue_count().max(1) as f64,
        city.cells.len(),
        built,
    );
    let mut total = 0usize;
    let mut generating = 0.0;
    for day in 0..days {
        let d = Instant::now();
        let checkins = city.checkins_for_day(&cfg, day);
        let took = d.elapsed();
        generating += took.as_secs_f64();
        let mut by_category: BTreeMap<&str, usize> = BTreeMap::new();
        for c in &checkins {
            let cat = city.venues[c.venue.0 as usize].category.as_str();
            *by_category.entry(cat).or_default() += 1;
        }
        println!(
            "day {day} ({}): {} check-ins, {:.2} per person, {:.2?} ({:.1} M/s)",
            cfg.day(day).compact(),
            checkins.len(),
            checkins.len() as f64 / f64::from(people.max(1)),
            took,
            checkins.len() as f64 / took.as_secs_f64() / 1e6,
        );
        println!("  by category: {by_category:?}");
        let mut by_role: BTreeMap<String, (usize, usize)> = BTreeMap::new();
        for p in &city.people {
            if let Some(role) = city.role(p.id) {
                by_role.entry(format!("{role:?}")).or_default().0 += 1;
            }
        }
        for c in &checkins {
            if let Some(role) = city.role(c.person) {
                by_role.entry(format!("{role:?}")).or_default().1 += 1;
            }
        }
        let per_role: Vec<String> = by_role
            .iter()
            .map(|(r, (n, k))| {
                format!(
                    "{r} {:.1}% {:.2}",
                    *n as f64 * 100.0 / f64::from(people.max(1)),
                    *k as f64 / (*n).max(1) as f64
                )
            })
            .collect();
        println!("  per person by role: {}", per_role.join(", "));
        total += checkins.len();
    }
    println!(
        "{total} check-ins generated in {generating:.2} s: {:.1} M check-ins/s (one core)",
        total as f64 / generating / 1e6
    );
    let t = Instant::now();
    let results = city.test_results(&cfg);
    println!("{} test results in {:.2?}", results.len(), t.elapsed());
}
