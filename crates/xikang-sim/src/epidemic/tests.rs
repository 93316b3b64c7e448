use super::*;
use crate::{CityConfig, generate_city};
use std::collections::HashSet;
use std::sync::OnceLock;

fn city() -> &'static (CityConfig, City) {
    static CITY: OnceLock<(CityConfig, City)> = OnceLock::new();
    CITY.get_or_init(|| {
        let cfg = CityConfig {
            people: 20_000,
            days: 1,
            seed: 5,
            first_day: CivilDay::parse("2022-03-01").unwrap(),
        };
        let city = generate_city(&cfg);
        (cfg, city)
    })
}

fn run(variant: Variant, seed: u64, days: u32) -> Outcome {
    let (cfg, city) = city();
    simulate(city, cfg.first_day, variant, seed, 20, days)
}

#[test]
fn every_shipped_variant_file_parses_and_is_listed_under_its_own_name() {
    let mut names = HashSet::new();
    for (name, text) in VARIANT_FILES {
        let v = Variant::parse(text).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(v.name, name);
        assert!(names.insert(v.name.clone()));
        assert_eq!(Variant::builtin(name).unwrap(), v);
    }
    assert_eq!(names.len(), 3);
    assert!(Variant::builtin("alpha").is_err());
}

#[test]
fn every_shipped_variant_file_exists_in_the_variants_folder() {
    // The files on disk are the ones embedded: none is left out of VARIANT_FILES.
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/variants");
    let on_disk: HashSet<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".toml"))
        .collect();
    let embedded: HashSet<String> = VARIANT_FILES
        .iter()
        .map(|(n, _)| format!("{n}.toml"))
        .collect();
    assert_eq!(on_disk, embedded);
}

#[test]
fn a_variant_file_with_an_unknown_key_or_a_probability_above_one_is_refused() {
    let text = VARIANT_FILES[0].1;
    let extra = format!("{text}\nsurprise = 1\n");
    assert!(Variant::parse(&extra).is_err());
    let bad = text.replace("symptomatic_share = 0.7", "symptomatic_share = 1.7");
    assert_ne!(bad, text);
    let e = Variant::parse(&bad).unwrap_err();
    assert!(e.to_string().contains("symptomatic_share"), "{e}");
}

#[test]
fn the_same_seed_gives_the_same_outbreak_and_another_seed_another() {
    let v = Variant::builtin("delta").unwrap();
    let a = run(v.clone(), 1, 25);
    let b = run(v.clone(), 1, 25);
    assert_eq!(a.days, b.days);
    assert_eq!(a.cases, b.cases);
    let c = run(v, 2, 25);
    assert_ne!(a.cases, c.cases);
}

#[test]
fn an_outbreak_with_r_above_one_grows_in_every_layer_and_one_without_transmission_does_not() {
    let v = Variant::builtin("omicron_ba2").unwrap();
    let out = run(v.clone(), 3, 30);
    let total = out.days.last().unwrap().cumulative_infections;
    assert!(total > 2_000, "{total} infections from 20 seeds");
    let layers: HashSet<Layer> = out.cases.iter().map(|c| c.layer).collect();
    for l in [
        Layer::Seed,
        Layer::Household,
        Layer::School,
        Layer::Work,
        Layer::Community,
    ] {
        assert!(layers.contains(&l), "no infection in {l:?}");
    }
    let mut none = v;
    none.transmission.beta = 0.0;
    let out = run(none, 3, 30);
    assert_eq!(out.days.last().unwrap().cumulative_infections, 20);
    assert!(out.days.iter().all(|d| d.infections == 0));
}

#[test]
fn case_times_are_in_order_and_detections_follow_the_variants_rules() {
    let out = run(Variant::builtin("original").unwrap(), 4, 40);
    let mut detected = 0;
    for c in &out.cases {
        assert!(
            c.infected < c.infectious && c.infectious < c.recovered,
            "{c:?}"
        );
        if let Some(onset) = c.onset {
            assert!(c.infectious <= onset && onset < c.recovered, "{c:?}");
        }
        if let Some(d) = c.detected {
            // A result due after the last day is in the case, not in the daily counts.
            if d < 40 {
                detected += 1;
            }
            assert!(
                d > c.infected + 2,
                "positive from day 2, result a day later: {c:?}"
            );
            // 2020 had no screening rounds.
            assert_ne!(c.found, Some(Found::Screening));
        }
        assert_eq!(c.source.is_none(), c.layer == Layer::Seed);
    }
    assert!(detected > 0);
    let sum: u32 = out.days.iter().map(|d| d.detections).sum();
    assert_eq!(sum, detected);
    let onsets: u32 = out.days.iter().map(|d| d.onsets).sum();
    let with_onset = out
        .cases
        .iter()
        .filter(|c| c.onset.is_some_and(|o| o < 40))
        .count();
    assert_eq!(onsets as usize, with_onset);
}

#[test]
fn screening_rounds_find_asymptomatic_infections() {
    let out = run(Variant::builtin("omicron_ba2").unwrap(), 6, 25);
    let screened = out
        .cases
        .iter()
        .filter(|c| c.found == Some(Found::Screening) && c.onset.is_none())
        .count();
    assert!(screened > 0);
}

#[test]
fn an_isolated_person_infects_nobody_and_a_closed_venue_hosts_no_infection() {
    let (cfg, city) = city();
    let v = Variant::builtin("omicron_ba2").unwrap();
    let mut e = Epidemic::new(city, cfg.first_day, v.clone(), 9);
    let seed = PersonId(1_234);
    e.infect_person(seed);
    e.isolate(seed, 0);
    for _ in 0..20 {
        e.step();
    }
    assert_eq!(e.cases().count(), 1);
    // Closing every venue leaves only households, teams and classes.
    let mut e = Epidemic::new(city, cfg.first_day, v, 9);
    for venue in 0..city.venues.len() {
        e.close_venue(VenueId(venue as u32));
    }
    e.seed_infections(20);
    for _ in 0..20 {
        e.step();
    }
    assert!(e.cases().count() > 20);
    assert!(e.cases().all(|c| c.layer != Layer::Community));
}

#[test]
fn the_doubling_time_of_a_pure_exponential_is_recovered() {
    let cum: Vec<f64> = (0..40).map(|t| 10.0 * 2f64.powf(t as f64 / 3.0)).collect();
    let d = doubling_time(&cum, 1e7).unwrap();
    assert!((d - 3.0).abs() < 1e-9, "{d}");
    assert_eq!(doubling_time(&[5.0; 30], 1e6), None);
}

#[test]
fn a_round_a_driver_orders_finds_infections_on_its_day_and_only_then() {
    // The original variant has no screening of its own: only the ordered round screens.
    let (cfg, city) = city();
    let found_by_rounds = |round: Option<u32>| {
        let mut e = Epidemic::new(
            city,
            cfg.first_day,
            Variant::builtin("original").unwrap(),
            3,
        );
        e.seed_infections(40);
        if let Some(d) = round {
            e.screen(d, 1.0);
        }
        for _ in 0..12 {
            e.step();
        }
        e.cases()
            .filter(|c| c.found == Some(Found::Screening))
            .map(|c| c.detected)
            .collect::<Vec<_>>()
    };
    assert!(found_by_rounds(None).is_empty());
    let found = found_by_rounds(Some(8));
    assert!(!found.is_empty());
    let delay = Variant::builtin("original")
        .unwrap()
        .detection
        .result_delay_days;
    assert!(found.iter().all(|d| *d == Some(8 + delay)), "{found:?}");
}

#[test]
fn people_staying_at_home_meet_only_their_households_until_they_go_out() {
    let (cfg, city) = city();
    let v = Variant::builtin("omicron_ba2").unwrap();
    let mut e = Epidemic::new(city, cfg.first_day, v.clone(), 9);
    for p in 0..city.people.len() {
        e.stay_home(PersonId(p as u32));
    }
    e.seed_infections(20);
    for _ in 0..10 {
        e.step();
    }
    let home: HashSet<u32> = e.cases().map(|c| c.person.0).collect();
    assert!(e.cases().count() > 20, "households still infect");
    assert!(
        e.cases()
            .all(|c| matches!(c.layer, Layer::Household | Layer::Seed))
    );
    // Out again: the other layers come back.
    for p in 0..city.people.len() {
        e.go_out(PersonId(p as u32));
    }
    for _ in 0..10 {
        e.step();
    }
    assert!(
        e.cases()
            .filter(|c| !home.contains(&c.person.0))
            .any(|c| !matches!(c.layer, Layer::Household | Layer::Seed))
    );
    // Whoever may test positive is infected, and a susceptible person never is.
    let infected = e.cases().next().unwrap();
    assert!(e.could_test_positive(infected.person, infected.infected + 3));
    let never = (0..city.people.len() as u32)
        .map(PersonId)
        .find(|p| !e.is_infected(*p))
        .unwrap();
    assert!(!e.could_test_positive(never, 5));
}
