//! Properties of the generated city and its days: determinism, valid and unique personal
//! data, consistent geography, plausible routines and test results.

use crate::city::{City, CityConfig, Role, VENUE_CATEGORIES, generate_city};
use crate::routine::{DAY_END, Stop};
use crate::screening::ROUTINE_SCREENING_BASIS;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;
use xikang_domain::event::EventBody;
use xikang_domain::idnumber::IdNumber;
use xikang_domain::time::HOUR;
use xikang_domain::{AreaCode, CivilDay, ScanDirection, TestOutcome};

const DISTRICT_CODES: [&str; 7] = [
    "320213", "320205", "320206", "320211", "320214", "320281", "320282",
];

fn config(people: u32, seed: u64) -> CityConfig {
    CityConfig {
        people,
        days: 7,
        seed,
        // A Friday, so a week of days covers both weekdays and a weekend.
        first_day: CivilDay::parse("2022-07-01").unwrap(),
    }
}

/// One mid-sized city shared by the read-only tests (building it is the slow part).
fn shared() -> &'static (CityConfig, City) {
    static CITY: OnceLock<(CityConfig, City)> = OnceLock::new();
    CITY.get_or_init(|| {
        let cfg = config(30_000, 7);
        let city = generate_city(&cfg);
        (cfg, city)
    })
}

#[test]
fn the_same_seed_gives_the_same_people_and_the_same_day_zero_checkins() {
    let cfg = config(3_000, 11);
    let a = generate_city(&cfg);
    let b = generate_city(&cfg);
    assert_eq!(a.people, b.people);
    assert_eq!(a.venues, b.venues);
    assert_eq!(a.workplaces, b.workplaces);
    let day_a = a.checkins_for_day(&cfg, 0);
    assert!(!day_a.is_empty());
    assert_eq!(day_a, b.checkins_for_day(&cfg, 0));
}

#[test]
fn a_different_seed_gives_different_people_and_checkins() {
    let a_cfg = config(3_000, 11);
    let b_cfg = config(3_000, 12);
    let a = generate_city(&a_cfg);
    let b = generate_city(&b_cfg);
    assert_eq!(a.people_count(), b.people_count());
    let names_a: Vec<&str> = a.people.iter().map(|p| p.name.as_str()).collect();
    let names_b: Vec<&str> = b.people.iter().map(|p| p.name.as_str()).collect();
    assert_ne!(names_a, names_b);
    assert_ne!(a.checkins_for_day(&a_cfg, 0), b.checkins_for_day(&b_cfg, 0));
}

#[test]
fn the_city_does_not_depend_on_the_number_of_days() {
    let short = config(2_000, 5);
    let long = CityConfig {
        days: 30,
        ..short.clone()
    };
    let a = generate_city(&short);
    let b = generate_city(&long);
    assert_eq!(a.people, b.people);
    assert_eq!(a.venues, b.venues);
    assert_eq!(a.checkins_for_day(&short, 2), b.checkins_for_day(&long, 2));
}

#[test]
fn days_can_be_generated_in_any_order_and_differ_from_each_other() {
    let (cfg, city) = shared();
    let day3_first = city.checkins_for_day(cfg, 3);
    let day0 = city.checkins_for_day(cfg, 0);
    assert_eq!(day3_first, city.checkins_for_day(cfg, 3));
    assert_ne!(day0.len(), 0);
    let shifted: Vec<_> = day0
        .iter()
        .map(|c| (c.person, c.venue, c.at.0 + 3 * 86_400))
        .collect();
    let day3: Vec<_> = day3_first
        .iter()
        .map(|c| (c.person, c.venue, c.at.0))
        .collect();
    assert_ne!(shifted, day3);
}

#[test]
fn the_requested_number_of_people_is_generated_with_dense_ids() {
    let (cfg, city) = shared();
    assert_eq!(city.people_count(), cfg.people as usize);
    for (i, p) in city.people.iter().enumerate() {
        assert_eq!(p.id.0 as usize, i);
    }
    for (i, v) in city.venues.iter().enumerate() {
        assert_eq!(v.id.0 as usize, i);
    }
    for (i, w) in city.workplaces.iter().enumerate() {
        assert_eq!(w.id.0 as usize, i);
    }
}

#[test]
fn every_id_number_is_valid_unique_and_encodes_the_home_district_and_a_plausible_birth() {
    let (cfg, city) = shared();
    let (first_year, _, _) = crate::calendar::ymd(cfg.first_day);
    let mut seen = HashSet::new();
    for p in &city.people {
        let raw = p.id_number.expose();
        let parsed = IdNumber::parse(raw).expect("generated ID numbers parse");
        assert_eq!(&parsed, &p.id_number);
        assert!(seen.insert(raw.to_owned()), "duplicate ID number");
        assert_eq!(
            &raw[..6],
            &p.area.as_str()[..6],
            "ID area is the home district"
        );
        let year: i32 = raw[6..10].parse().unwrap();
        assert!(
            (first_year - 100..=first_year).contains(&year),
            "birth year {year}"
        );
    }
}

#[test]
fn id_numbers_stay_unique_when_many_people_share_a_birth_day() {
    // 500 men born on one day exhaust that day's odd sequences: the next must move a day.
    let mut counters = vec![[0u16; 2]; 10];
    let mut seen = HashSet::new();
    for _ in 0..1_200 {
        let (day, seq) = crate::city::take_sequence(&mut counters, 5, true);
        assert!(seq % 2 == 1 && seq <= 999);
        assert!(seen.insert((day, seq)));
    }
    for _ in 0..600 {
        let (day, seq) = crate::city::take_sequence(&mut counters, 5, false);
        assert!(seq % 2 == 0 && (2..=998).contains(&seq));
        assert!(seen.insert((day, seq)));
    }
}

#[test]
fn households_have_one_to_five_consecutive_members_sharing_a_home_cell() {
    let (_, city) = shared();
    let mut sizes: HashMap<u32, usize> = HashMap::new();
    let mut cells: HashMap<u32, u32> = HashMap::new();
    let mut last = None;
    for p in &city.people {
        let h = p.household.0;
        *sizes.entry(h).or_default() += 1;
        let cell = *cells.entry(h).or_insert(p.home_cell.0);
        assert_eq!(cell, p.home_cell.0, "household members share a home cell");
        if let Some(prev) = last {
            assert!(h == prev || h == prev + 1, "households are consecutive");
        }
        last = Some(h);
        assert!(city.household_members(p.id).contains(&p.id.0));
    }
    assert_eq!(sizes.len() as u32, city.households);
    assert!(sizes.values().all(|&n| (1..=5).contains(&n)));
    for size in 1..=5 {
        assert!(
            sizes.values().any(|&n| n == size),
            "some households have {size} members"
        );
    }
    let mean = city.people_count() as f64 / f64::from(city.households);
    assert!((2.2..3.2).contains(&mean), "mean household size {mean}");
}

#[test]
fn household_member_ranges_match_the_household_ids() {
    let (_, city) = shared();
    for p in city.people.iter().step_by(97) {
        let members = city.household_members(p.id);
        for m in members.clone() {
            assert_eq!(city.people[m as usize].household, p.household);
        }
        if let Some(before) = members.start.checked_sub(1) {
            assert_ne!(city.people[before as usize].household, p.household);
        }
        if let Some(after) = city.people.get(members.end as usize) {
            assert_ne!(after.household, p.household);
        }
    }
}

#[test]
fn every_person_lives_in_a_community_of_one_of_the_seven_districts() {
    let (_, city) = shared();
    let wuxi = AreaCode::parse(crate::WUXI).unwrap();
    let mut communities: HashMap<&AreaCode, HashSet<u32>> = HashMap::new();
    assert_eq!(city.districts.len(), 7);
    for d in &city.districts {
        assert!(DISTRICT_CODES.contains(&d.code.as_str()));
        assert!(wuxi.contains(&d.code));
        for s in &d.streets {
            assert_eq!(s.code.as_str().len(), 9);
            assert!(d.code.contains(&s.code));
            for c in &s.communities {
                assert_eq!(c.code.as_str().len(), 12);
                assert!(s.code.contains(&c.code));
                assert!(!c.cells.is_empty());
                communities.insert(&c.code, c.cells.iter().map(|g| g.0).collect());
            }
        }
    }
    for p in &city.people {
        assert!(DISTRICT_CODES.contains(&&p.area.as_str()[..6]));
        let cells = communities.get(&p.area).expect("home community exists");
        assert!(
            cells.contains(&p.home_cell.0),
            "home cell lies in the home community"
        );
        assert_eq!(city.cells[p.home_cell.0 as usize].community, p.area);
    }
}

#[test]
fn grid_cells_are_globally_unique_and_each_belongs_to_one_community() {
    let (_, city) = shared();
    let mut seen = HashSet::new();
    for d in &city.districts {
        for s in &d.streets {
            for c in &s.communities {
                for g in &c.cells {
                    assert!(seen.insert(g.0), "cell listed twice");
                    assert_eq!(city.cells[g.0 as usize].cell, *g);
                    assert_eq!(city.cells[g.0 as usize].community, c.code);
                }
            }
        }
    }
    assert_eq!(seen.len(), city.cells.len());
}

#[test]
fn district_populations_follow_the_census_shares() {
    let (cfg, city) = shared();
    let count = |code: &str| {
        city.people
            .iter()
            .filter(|p| p.area.as_str().starts_with(code))
            .count()
    };
    let n = f64::from(cfg.people);
    // 江阴 1.78 M and 梁溪 1.0 M of 7.16 M.
    assert!((count("320281") as f64 / n - 1780.0 / 7160.0).abs() < 0.005);
    assert!((count("320213") as f64 / n - 1000.0 / 7160.0).abs() < 0.005);
}

#[test]
fn venues_are_valid_and_besides_work_rooms_about_one_per_120_to_200_people() {
    let cfg = config(100_000, 3);
    let city = generate_city(&cfg);
    // Each class and each team has its room (an office or school venue), and only they.
    let rooms = city
        .venues
        .iter()
        .filter(|v| matches!(v.category.as_str(), "office" | "school"))
        .count();
    assert_eq!(rooms, city.workplaces.len());
    let per_venue = city.people_count() as f64 / (city.venue_count() - rooms) as f64;
    assert!(
        (120.0..=200.0).contains(&per_venue),
        "one venue per {per_venue:.0} people"
    );
    let mut codes = HashSet::new();
    let mut categories = HashSet::new();
    for v in &city.venues {
        let code = v.place_code.as_str();
        assert_eq!(code.len(), 14);
        assert_eq!(&code[6..7], "V");
        assert_eq!(
            &code[..6],
            &v.area.as_str()[..6],
            "place code names the venue's district"
        );
        assert!(codes.insert(code.to_owned()), "duplicate place code");
        assert!(VENUE_CATEGORIES.contains(&v.category.as_str()));
        categories.insert(v.category.as_str());
        assert_eq!(city.cells[v.cell.0 as usize].community, v.area);
        assert!((30.9..32.3).contains(&v.lat) && (119.3..120.9).contains(&v.lon));
    }
    assert_eq!(
        categories.len(),
        VENUE_CATEGORIES.len(),
        "every category is present"
    );
    let airports = city
        .venues
        .iter()
        .filter(|v| v.category.as_str() == "airport")
        .count();
    assert_eq!(airports, 1);
}

#[test]
fn children_go_to_a_school_in_their_own_street_and_most_adults_work() {
    let (_, city) = shared();
    let mut workers = 0;
    let mut adults = 0;
    for p in &city.people {
        let role = city.role(p.id).unwrap();
        match role {
            Role::Pupil => {
                let w = &city.workplaces[p.workplace.expect("pupils have a school").0 as usize];
                assert!(w.is_school);
                assert_eq!(&w.area.as_str()[..9], &p.area.as_str()[..9]);
            }
            Role::Infant | Role::Retired | Role::Homemaker => assert!(p.workplace.is_none()),
            Role::Student | Role::Worker => assert!(p.workplace.is_some()),
        }
        let year: i32 = p.id_number.expose()[6..10].parse().unwrap();
        if (1963..=2000).contains(&year) {
            adults += 1;
            if role == Role::Worker {
                workers += 1;
            }
        }
    }
    let share = f64::from(workers) / f64::from(adults);
    assert!((0.7..0.95).contains(&share), "{share}");
}

#[test]
fn teams_have_five_to_twenty_people_and_classes_at_most_fifty_pupils_and_a_teacher() {
    let (_, city) = shared();
    let mut size = vec![0usize; city.workplaces.len()];
    let mut pupils = vec![0usize; city.workplaces.len()];
    for p in &city.people {
        if let Some(w) = p.workplace {
            size[w.0 as usize] += 1;
            if city.role(p.id) != Some(Role::Worker) {
                pupils[w.0 as usize] += 1;
            }
        }
    }
    let (mut teams, mut team_people, mut small) = (0, 0, 0);
    let (mut classes, mut class_pupils) = (0, 0);
    for w in &city.workplaces {
        let (n, k) = (size[w.id.0 as usize], pupils[w.id.0 as usize]);
        assert!(n > 0, "{} is empty", w.id);
        if w.is_school {
            assert!(k <= 50, "{k} pupils in {}", w.name);
            assert!(n > k, "{} has no teacher", w.name);
            classes += 1;
            class_pupils += k;
        } else {
            assert!(n <= 20, "{n} people in {}", w.name);
            teams += 1;
            team_people += n;
            if n < 5 {
                small += 1;
            }
        }
    }
    // Only the last firm of a district may be smaller than five.
    assert!(small <= 7, "{small} teams under five");
    let team_mean = team_people as f64 / f64::from(teams);
    assert!(
        (8.0..=16.0).contains(&team_mean),
        "teams average {team_mean:.1}"
    );
    // Small towns teach several ages together rather than make tiny classes; in a city of
    // 30,000 many a street still has fewer than 25 children of a school level.
    let class_mean = class_pupils as f64 / f64::from(classes);
    assert!(
        (15.0..=50.0).contains(&class_mean),
        "classes average {class_mean:.1}"
    );
}

#[test]
fn most_adults_have_phones_and_young_children_none_and_numbers_are_unique() {
    let (_, city) = shared();
    let mut seen = HashSet::new();
    let (mut adults, mut with_phone) = (0, 0);
    for p in &city.people {
        let year: i32 = p.id_number.expose()[6..10].parse().unwrap();
        if let Some(phone) = &p.phone {
            let s = phone.expose();
            assert_eq!(s.len(), 11);
            assert!(["13", "15", "18"].contains(&&s[..2]));
            assert!(seen.insert(s.to_owned()), "duplicate phone");
            assert!(year <= 2011, "a child under 11 has no phone");
        }
        if (1950..=2000).contains(&year) {
            adults += 1;
            with_phone += i32::from(p.phone.is_some());
        }
    }
    assert!(f64::from(with_phone) / f64::from(adults) > 0.9);
}

#[test]
fn a_week_averages_four_to_seven_and_a_half_checkins_per_person_per_day() {
    let (cfg, city) = shared();
    let mut total = 0usize;
    for day in 0..7 {
        let n = city.checkins_for_day(cfg, day).len();
        let per_person = n as f64 / city.people_count() as f64;
        assert!((3.0..9.0).contains(&per_person), "day {day}: {per_person}");
        total += n;
    }
    let mean = total as f64 / 7.0 / city.people_count() as f64;
    assert!((4.0..=7.5).contains(&mean), "mean {mean}");
}

#[test]
fn checkins_fall_inside_their_shanghai_day_between_six_and_twenty_three_and_are_sorted() {
    let (cfg, city) = shared();
    for day in [0, 1, 3] {
        let checkins = city.checkins_for_day(cfg, day);
        let start = cfg.day(day).start().0;
        assert!(
            checkins.windows(2).all(|w| w[0].at <= w[1].at),
            "sorted by time"
        );
        for c in &checkins {
            assert_eq!(c.at.shanghai_day(), cfg.day(day));
            let local = c.at.0 - start;
            assert!(
                (6 * HOUR..23 * HOUR).contains(&local),
                "at {local} s after midnight"
            );
        }
    }
}

#[test]
fn every_checkin_names_a_real_person_and_venue() {
    let (cfg, city) = shared();
    for day in [0, 1] {
        for c in city.checkins_for_day(cfg, day) {
            assert!((c.person.0 as usize) < city.people_count());
            assert!((c.venue.0 as usize) < city.venue_count());
        }
    }
}

#[test]
fn weekends_have_less_work_and_more_leisure_than_weekdays() {
    let (cfg, city) = shared();
    // 2022-07-01 is a Friday, 07-02 a Saturday.
    let share = |day: u32, cats: &[&str]| {
        let all = city.checkins_for_day(cfg, day);
        let hits = all
            .iter()
            .filter(|c| cats.contains(&city.venues[c.venue.0 as usize].category.as_str()))
            .count();
        hits as f64 / all.len() as f64
    };
    let work = ["office", "school"];
    let leisure = ["cinema", "scenic_spot", "restaurant"];
    assert!(share(0, &work) > 3.0 * share(1, &work));
    assert!(share(1, &leisure) > 1.3 * share(0, &leisure));
}

#[test]
fn exits_are_a_minority_of_scans() {
    let (cfg, city) = shared();
    let checkins = city.checkins_for_day(cfg, 0);
    let exits = checkins
        .iter()
        .filter(|c| c.direction == ScanDirection::Exit)
        .count();
    let share = exits as f64 / checkins.len() as f64;
    assert!((0.15..0.45).contains(&share), "exit share {share}");
}

#[test]
fn workplace_scans_are_at_the_persons_own_workplace() {
    let (cfg, city) = shared();
    let mut at_work = 0;
    for c in city.checkins_for_day(cfg, 0) {
        let cat = city.venues[c.venue.0 as usize].category.as_str();
        if cat == "office" || cat == "school" {
            let own = city.people[c.person.0 as usize]
                .workplace
                .and_then(|w| city.workplace_venue(w));
            assert_eq!(own, Some(c.venue));
            at_work += 1;
        }
        if cat == "residential" {
            assert_eq!(
                city.home_gate(c.person),
                Some(c.venue),
                "people scan at their own gate"
            );
        }
    }
    assert!(at_work > city.people_count() / 3);
}

#[test]
fn people_return_to_a_small_set_of_favourite_venues() {
    let (cfg, city) = shared();
    let mut venues: HashMap<u32, HashSet<u32>> = HashMap::new();
    let mut visits: HashMap<u32, usize> = HashMap::new();
    for day in 0..7 {
        for c in city.checkins_for_day(cfg, day) {
            if c.direction == ScanDirection::Entry {
                venues.entry(c.person.0).or_default().insert(c.venue.0);
                *visits.entry(c.person.0).or_default() += 1;
            }
        }
    }
    let distinct: usize = venues.values().map(HashSet::len).sum();
    let total: usize = visits.values().sum();
    // Over a week most entries are repeats of somewhere already visited.
    assert!(
        (distinct as f64) < 0.4 * total as f64,
        "{distinct} distinct of {total}"
    );
}

#[test]
fn households_that_go_out_together_on_weekends_scan_at_the_same_place_within_a_minute() {
    let (cfg, city) = shared();
    let checkins = city.checkins_for_day(cfg, 1); // Saturday
    let mut by_venue_minute: HashMap<(u32, i64), Vec<u32>> = HashMap::new();
    for c in &checkins {
        let cat = city.venues[c.venue.0 as usize].category.as_str();
        if c.direction == ScanDirection::Entry && cat != "residential" {
            by_venue_minute
                .entry((c.venue.0, c.at.0 / 60))
                .or_default()
                .push(c.household_of(city));
        }
    }
    let together = by_venue_minute
        .values()
        .filter(|hs| {
            let mut hs: Vec<u32> = hs.to_vec();
            hs.sort_unstable();
            hs.windows(2).any(|w| w[0] == w[1])
        })
        .count();
    assert!(together > 300, "only {together} family visits");
}

trait HouseholdOf {
    fn household_of(&self, city: &City) -> u32;
}

impl HouseholdOf for xikang_domain::CheckIn {
    fn household_of(&self, city: &City) -> u32 {
        city.people[self.person.0 as usize].household.0
    }
}

#[test]
fn day_plans_are_chronological_and_consistent_with_the_checkins() {
    let (cfg, city) = shared();
    let mut scans = 0usize;
    city.day_plans(cfg, 0, |person, stops: &[Stop]| {
        for w in stops.windows(2) {
            assert!(w[0].leave <= w[1].arrive, "stops overlap for {person}");
        }
        for s in stops {
            assert!(s.arrive <= s.leave && s.leave <= DAY_END);
            scans += usize::from(s.scan_entry) + usize::from(s.scan_exit);
        }
    });
    assert_eq!(scans, city.checkins_for_day(cfg, 0).len());
}

#[test]
fn test_results_are_deterministic_negative_and_inside_the_simulated_days() {
    let (cfg, city) = shared();
    let results = city.test_results(cfg);
    assert_eq!(results, city.test_results(cfg));
    assert!(!results.is_empty());
    let first = cfg.day(0).start();
    let end = cfg.day(cfg.days).start();
    let mut tubes: HashMap<String, (u8, usize)> = HashMap::new();
    for e in &results {
        assert!(e.actor.starts_with("lab:") && e.actor.len() > 4);
        assert_eq!(e.basis, ROUTINE_SCREENING_BASIS);
        let EventBody::TestResulted {
            person,
            sampled_at,
            resulted_at,
            outcome,
            pool_size,
            tube,
        } = &e.body
        else {
            panic!("only test results");
        };
        assert!((person.0 as usize) < city.people_count());
        assert_eq!(*outcome, TestOutcome::Negative);
        assert!(*pool_size == 1 || *pool_size == 10);
        assert!(first <= *sampled_at && sampled_at < resulted_at && *resulted_at < end);
        assert_eq!(e.at, *resulted_at);
        let entry = tubes.entry(tube.clone()).or_insert((*pool_size, 0));
        assert_eq!(entry.0, *pool_size);
        entry.1 += 1;
    }
    assert!(results.windows(2).all(|w| w[0].at <= w[1].at));
    // A pooled tube holds exactly its pool size of people.
    assert!(tubes.values().all(|&(size, n)| usize::from(size) == n));
    assert!(tubes.values().any(|&(size, _)| size == 10));
    assert!(tubes.values().any(|&(size, _)| size == 1));
    let other_seed = CityConfig {
        seed: cfg.seed + 1,
        ..cfg.clone()
    };
    assert_ne!(results, city.test_results(&other_seed));
}

#[test]
fn formatting_a_city_shows_counts_but_no_personal_data() {
    let (_, city) = shared();
    let shown = format!("{city:?}");
    assert!(shown.contains("people: 30000"));
    assert!(!shown.contains(&city.people[0].name));
    assert!(!shown.contains(city.people[0].id_number.expose()));
}

#[test]
fn a_tiny_city_still_has_every_kind_of_place() {
    let cfg = config(50, 1);
    let city = generate_city(&cfg);
    assert_eq!(city.people_count(), 50);
    assert!(!city.checkins_for_day(&cfg, 0).is_empty());
    let empty = generate_city(&config(0, 1));
    assert_eq!(empty.people_count(), 0);
    assert!(empty.checkins_for_day(&cfg, 0).is_empty());
    assert!(empty.test_results(&cfg).is_empty());
}

#[test]
fn routine_state_stays_small_enough_for_millions_of_people() {
    // 1 M people × this must fit comfortably in memory (the brief allows 200 bytes).
    assert!(std::mem::size_of::<crate::city::Routine>() <= 80);
}

#[test]
fn a_city_can_be_shared_between_threads_generating_different_days() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let (cfg, city) = shared();
    shareable(city);
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| city.checkins_for_day(cfg, 4));
        let b = s.spawn(|| city.checkins_for_day(cfg, 4));
        (a.join().unwrap(), b.join().unwrap())
    });
    assert_eq!(a, b);
}

// ---------------------------------------------------------------------------------------
// Location pings

#[test]
fn pings_come_from_about_the_configured_share_of_residents_and_are_deterministic() {
    let (cfg, city) = shared();
    let plan = crate::PingPlan::default();
    let (checkins, pings) = city.checkins_and_pings_for_day(cfg, 0, &plan);
    // One pass gives the same check-ins as the check-in generator alone.
    assert_eq!(checkins, city.checkins_for_day(cfg, 0));
    assert_eq!(pings, city.pings_for_day(cfg, 0, &plan));
    let people: HashSet<u32> = pings.iter().map(|p| p.person.0).collect();
    let share = people.len() as f64 / city.people_count() as f64;
    assert!((0.04..0.06).contains(&share), "share {share}");
    // The same phones every day; another seed picks other phones.
    let day1: HashSet<u32> = city
        .pings_for_day(cfg, 1, &plan)
        .iter()
        .map(|p| p.person.0)
        .collect();
    assert_eq!(people, day1);
    let other = config(30_000, 8);
    assert!((0..30_000).any(|p| {
        let p = xikang_domain::PersonId(p);
        city.pings(cfg, &plan, p) != city.pings(&other, &plan, p)
    }));
    // No one pings with a share of zero; everyone with a thousand per thousand.
    let none = crate::PingPlan {
        share_permille: 0,
        ..plan
    };
    assert!(city.pings_for_day(cfg, 0, &none).is_empty());
    let all = crate::PingPlan {
        share_permille: 1_000,
        ..plan
    };
    assert!((0..100).all(|p| city.pings(cfg, &all, xikang_domain::PersonId(p))));
}

#[test]
fn a_pinging_phone_reports_about_every_half_hour_while_awake() {
    let (cfg, city) = shared();
    let plan = crate::PingPlan::default();
    let pings = city.pings_for_day(cfg, 2, &plan);
    let start = cfg.day(2).start();
    let mut by_person: HashMap<u32, Vec<i64>> = HashMap::new();
    for p in &pings {
        let secs = p.at.0 - start.0;
        assert!(
            (7 * HOUR..23 * HOUR).contains(&secs),
            "ping at {secs} s of the day"
        );
        by_person.entry(p.person.0).or_default().push(p.at.0);
    }
    for times in by_person.values() {
        // 07:00–23:00 in 30-minute slots: 32 pings, in time order, 24–36 minutes apart.
        assert_eq!(times.len(), 32);
        assert!(
            times
                .windows(2)
                .all(|w| (24 * 60..=36 * 60).contains(&(w[1] - w[0])))
        );
    }
}

#[test]
fn pings_lie_near_the_venue_the_day_plan_puts_the_person_at() {
    let (cfg, city) = shared();
    let plan = crate::PingPlan::default();
    let start = cfg.day(0).start();
    let mut plans: HashMap<u32, Vec<Stop>> = HashMap::new();
    city.day_plans(cfg, 0, |p, stops| {
        if city.pings(cfg, &plan, p) {
            plans.insert(p.0, stops.to_vec());
        }
    });
    let pings = city.pings_for_day(cfg, 0, &plan);
    let mut checked = 0;
    for p in &pings {
        let t = (p.at.0 - start.0) as u32;
        let Some(stop) = plans[&p.person.0]
            .iter()
            .find(|s| s.arrive <= t && t < s.leave)
        else {
            continue;
        };
        let v = &city.venues[stop.venue.0 as usize];
        let dlat = (f64::from(p.position.lat_e6()) - v.lat * 1e6).abs();
        let dlon = (f64::from(p.position.lon_e6()) - v.lon * 1e6).abs();
        // Within the jitter (500 micro-degrees, about 55 m) of the venue.
        assert!(dlat <= 501.0 && dlon <= 501.0, "{dlat} {dlon}");
        checked += 1;
    }
    assert!(
        checked * 10 > pings.len() * 8,
        "{checked} of {}",
        pings.len()
    );
}
