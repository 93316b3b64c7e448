//! How many close contacts a case has in the synthetic city, by layer: the check on the
//! city's contact structure that `docs/drills.md` reports (issue 16).
//!
//! The rules are tracing's (PROTOCOL.md §2, `docs/tracing.md`), applied to where people
//! really were (the day plans) rather than to their scans: household members; the class or
//! team, if the case was at their room in the window; and anyone else who was at one venue
//! with the case for at least that venue's close-contact overlap in total (the policy's rule
//! for the venue's category; none at categories where co-presence makes no close contact,
//! and residential gates excluded: presence there is a passage). Each contact is counted
//! once, in the first of household, class or team, venue.

use crate::city::{City, CityConfig, NONE};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use xikang_domain::PersonId;

/// One day's stops grouped by venue: offsets by venue id, then (person, arrive, leave).
type VenueStops = (Vec<u32>, Vec<(u32, u32, u32)>);

/// Close contacts of one case, by layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CaseContacts {
    pub household: u32,
    /// Class mates and teachers, for a pupil, student or teacher.
    pub class: u32,
    /// Team mates, for a worker at a firm.
    pub team: u32,
    pub venue: u32,
}

impl CaseContacts {
    pub fn total(&self) -> u32 {
        self.household + self.class + self.team + self.venue
    }
}

/// Median, 90th percentile and mean of one count over the sampled cases.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub median: u32,
    pub p90: u32,
    pub max: u32,
    pub mean: f64,
}

impl Spread {
    fn of(mut xs: Vec<u32>) -> Spread {
        if xs.is_empty() {
            return Spread::default();
        }
        xs.sort_unstable();
        let at = |q: f64| xs[((xs.len() - 1) as f64 * q).round() as usize];
        Spread {
            median: at(0.5),
            p90: at(0.9),
            max: xs[xs.len() - 1],
            mean: xs.iter().map(|&x| f64::from(x)).sum::<f64>() / xs.len() as f64,
        }
    }
}

/// The distribution of close contacts per case.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ContactProfile {
    pub cases: u32,
    pub window_days: u32,
    pub total: Spread,
    pub household: Spread,
    pub class: Spread,
    pub team: Spread,
    pub venue: Spread,
    /// Only cases who are pupils, students or teachers (class) / workers at firms (team).
    pub class_members_total: Spread,
    pub team_members_total: Spread,
    /// Venue contacts by the category of the venue where they met the rule (a contact met
    /// at two categories counts in both).
    pub venue_by_category: BTreeMap<String, Spread>,
}

/// Close contacts of `cases` sampled evenly over the residents (every n-th person), over days
/// `0..window_days` of `cfg`; `close_secs[v]` is the overlap in seconds at venue `v` that
/// makes a close contact (`None`: none there).
pub fn close_contact_profile(
    city: &City,
    cfg: &CityConfig,
    cases: u32,
    window_days: u32,
    close_secs: &[Option<u32>],
) -> (ContactProfile, Vec<CaseContacts>) {
    let n = city.people.len() as u32;
    let step = (n / cases.max(1)).max(1);
    let sample: Vec<u32> = (0..n).step_by(step as usize).take(cases as usize).collect();
    let residential: Vec<bool> = city
        .venues
        .iter()
        .map(|v| v.category.as_str() == "residential")
        .collect();
    // Stops of every day at non-residential venues, grouped by venue; and each sampled case's.
    let mut per_day: Vec<VenueStops> = Vec::new();
    let mut case_stops: HashMap<u32, Vec<(u32, u32, u32, u32)>> = HashMap::new();
    let is_case: Vec<bool> = {
        let mut v = vec![false; n as usize];
        for &p in &sample {
            v[p as usize] = true;
        }
        v
    };
    for day in 0..window_days {
        let mut flat: Vec<(u32, u32, u32, u32)> = Vec::new();
        city.day_plans(cfg, day, |person, stops| {
            for s in stops {
                if residential[s.venue.0 as usize] {
                    continue;
                }
                flat.push((s.venue.0, person.0, s.arrive, s.leave));
                if is_case[person.0 as usize] {
                    case_stops
                        .entry(person.0)
                        .or_default()
                        .push((day, s.venue.0, s.arrive, s.leave));
                }
            }
        });
        flat.sort_unstable();
        let mut offs = vec![0u32; city.venues.len() + 1];
        for &(v, ..) in &flat {
            offs[v as usize + 1] += 1;
        }
        for i in 1..offs.len() {
            offs[i] += offs[i - 1];
        }
        per_day.push((offs, flat.iter().map(|&(_, p, a, l)| (p, a, l)).collect()));
    }
    // Members of the sampled cases' classes and teams, from one pass over the residents.
    let mut groups: HashMap<u32, Vec<u32>> = sample
        .iter()
        .filter_map(|&p| city.people[p as usize].workplace)
        .map(|w| (w.0, Vec::new()))
        .collect();
    for p in &city.people {
        if let Some(list) = p.workplace.and_then(|w| groups.get_mut(&w.0)) {
            list.push(p.id.0);
        }
    }
    let categories: Vec<&str> = city.venues.iter().map(|v| v.category.as_str()).collect();
    let mut by_category: BTreeMap<&str, Vec<u32>> = BTreeMap::new();
    let mut out = Vec::with_capacity(sample.len());
    let mut overlap: HashMap<(u32, u32), u32> = HashMap::new();
    for &me in &sample {
        let person = &city.people[me as usize];
        let home = city.household_members(PersonId(me));
        let group = person.workplace;
        let room = group
            .and_then(|w| city.workplace_venue(w))
            .map_or(NONE, |v| v.0);
        let is_school = group.is_some_and(|w| city.workplaces[w.0 as usize].is_school);
        overlap.clear();
        let mut at_work = false;
        for &(day, v, a, l) in case_stops.get(&me).map_or(&[][..], |s| s) {
            at_work |= v == room;
            let (offs, stops) = &per_day[day as usize];
            for &(q, qa, ql) in &stops[offs[v as usize] as usize..offs[v as usize + 1] as usize] {
                let secs = l.min(ql).saturating_sub(a.max(qa));
                if q != me && secs > 0 {
                    *overlap.entry((q, v)).or_insert(0) += secs;
                }
            }
        }
        let mut c = CaseContacts {
            household: home.len().saturating_sub(1) as u32,
            ..CaseContacts::default()
        };
        let mut members: Vec<u32> = Vec::new();
        if at_work && let Some(w) = group {
            members = groups[&w.0].iter().copied().filter(|&q| q != me).collect();
        }
        let mut met: Vec<(u32, &str)> = overlap
            .iter()
            .filter(|&(&(_, v), &secs)| {
                close_secs
                    .get(v as usize)
                    .copied()
                    .flatten()
                    .is_some_and(|min| secs >= min)
            })
            .map(|(&(q, v), _)| (q, categories[v as usize]))
            .filter(|(q, _)| !home.contains(q) && !members.contains(q))
            .collect();
        met.sort_unstable();
        met.dedup();
        let mut per_category: BTreeMap<&str, u32> = BTreeMap::new();
        for &(_, cat) in &met {
            *per_category.entry(cat).or_default() += 1;
        }
        let cases_so_far = out.len();
        for (cat, n) in per_category {
            // Cases before this one had none here: their zeros count in the spread.
            by_category
                .entry(cat)
                .or_insert_with(|| vec![0; cases_so_far])
                .push(n);
        }
        for list in by_category.values_mut() {
            list.resize(cases_so_far + 1, 0);
        }
        let mut venue: Vec<u32> = met.into_iter().map(|(q, _)| q).collect();
        venue.sort_unstable();
        venue.dedup();
        if is_school {
            c.class = members.len() as u32;
        } else {
            c.team = members.len() as u32;
        }
        c.venue = venue.len() as u32;
        out.push(c);
    }
    let spread = |f: &dyn Fn(&CaseContacts) -> u32| Spread::of(out.iter().map(f).collect());
    let classy: Vec<u32> = sample
        .iter()
        .zip(&out)
        .filter(|(p, _)| {
            city.people[**p as usize]
                .workplace
                .is_some_and(|w| city.workplaces[w.0 as usize].is_school)
        })
        .map(|(_, c)| c.total())
        .collect();
    let teamy: Vec<u32> = sample
        .iter()
        .zip(&out)
        .filter(|(p, _)| {
            city.people[**p as usize]
                .workplace
                .is_some_and(|w| !city.workplaces[w.0 as usize].is_school)
        })
        .map(|(_, c)| c.total())
        .collect();
    let profile = ContactProfile {
        cases: out.len() as u32,
        window_days,
        total: spread(&|c| c.total()),
        household: spread(&|c| c.household),
        class: spread(&|c| c.class),
        team: spread(&|c| c.team),
        venue: spread(&|c| c.venue),
        class_members_total: Spread::of(classy),
        team_members_total: Spread::of(teamy),
        venue_by_category: by_category
            .into_iter()
            .map(|(cat, list)| (cat.to_owned(), Spread::of(list)))
            .collect(),
    };
    (profile, out)
}
