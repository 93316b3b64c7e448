//! Building the city: areas (districts → streets → communities → grid cells), households and
//! people, schools and workplaces, venues, and each person's compact routine (favourite
//! venues, usual hours). Deterministic for `(people, seed, first_day)`; the number of
//! simulated days plays no part.

use crate::atlas::{
    self, AIRPORT_DISTRICT, AIRPORT_NAME, CELL_LAT_DEG, CELL_LON_DEG, DISTRICTS, DistrictSpec,
};
use crate::calendar::ymd;
use crate::names;
use crate::rng::{Purpose, Rng, apportion};
use serde::Serialize;
use std::collections::HashMap;
use std::fmt;
use xikang_domain::idnumber::IdNumber;
use xikang_domain::{
    AreaCode, CivilDay, GridCell, HouseholdId, Person, PersonId, PlaceCode, Venue, VenueCategory,
    VenueId, Workplace, WorkplaceId,
};

mod household;
mod work;

pub(crate) use household::take_sequence;
use household::{compose_household, household_size, phone_for, role_for};

/// The GB/T 2260 code of Wuxi, the city every generated area lies in.
pub const WUXI: &str = "320200";

/// People per grid cell the generator aims at (≈ 350 households of 2.6 people).
const PEOPLE_PER_CELL: u64 = 900;
/// People per community the generator aims at.
const PEOPLE_PER_COMMUNITY: u64 = 4_000;
/// Marks "no venue" in the compact routine tables.
pub(crate) const NONE: u32 = u32::MAX;

/// What to generate.
#[derive(Debug, Clone)]
pub struct CityConfig {
    /// Residents.
    pub people: u32,
    /// Simulated days (only check-ins and test results depend on it).
    pub days: u32,
    pub seed: u64,
    /// The first simulated Asia/Shanghai day; ages are counted from it.
    pub first_day: CivilDay,
}

impl CityConfig {
    /// The Asia/Shanghai day of simulated day `day_index` (0-based).
    pub fn day(&self, day_index: u32) -> CivilDay {
        CivilDay(self.first_day.0.saturating_add(day_index as i32))
    }
}

/// A county-level division (区 / 县级市).
#[derive(Debug, Clone, Serialize)]
pub struct District {
    /// GB/T 2260, 6 digits.
    pub code: AreaCode,
    /// 梁溪区 …
    pub name: &'static str,
    pub streets: Vec<Street>,
}

/// A street (街道) or town (镇).
#[derive(Debug, Clone, Serialize)]
pub struct Street {
    /// 9 digits: district code and a 3-digit number.
    pub code: AreaCode,
    pub name: String,
    pub communities: Vec<Community>,
}

/// A community (社区) or village (村).
#[derive(Debug, Clone, Serialize)]
pub struct Community {
    /// 12 digits: street code and a 3-digit number.
    pub code: AreaCode,
    pub name: String,
    /// Its grid cells (网格), each with one grid worker.
    pub cells: Vec<GridCell>,
}

/// Where a grid cell is. Cells are about 800 m × 800 m squares laid out around their
/// district's centre, so that the same ids serve as administrative grid and as the
/// companion (时空伴随) cell.
#[derive(Debug, Clone, Serialize)]
pub struct CellSite {
    pub cell: GridCell,
    /// Community (12 digits) the cell belongs to.
    pub community: AreaCode,
    /// Centre, WGS-84.
    pub lat: f64,
    pub lon: f64,
}

/// What a resident does on an ordinary day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    /// Under 3: goes out with the family.
    Infant,
    /// 3–17: kindergarten, primary or middle school.
    Pupil,
    /// 18–21 at a college.
    Student,
    /// Works at a workplace (or teaches at a school).
    Worker,
    /// Working age, no workplace.
    Homemaker,
    /// Retired: market in the morning, park in the afternoon.
    Retired,
}

/// Bits of [`Routine::flags`].
pub(crate) const LUNCH_OUT: u8 = 1;
pub(crate) const GYM_GOER: u8 = 2;
pub(crate) const WEEKEND_SHIFT: u8 = 4;

/// One person's compact routine state: 72 bytes, so a million people need 72 MB.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Routine {
    pub role: Role,
    pub flags: u8,
    /// Usual time of leaving home, in 5-minute steps after 06:00.
    pub leave_slot: u8,
    /// Usual commute, in 5-minute steps.
    pub commute_slot: u8,
    /// Position in the household (0 = the first member, whose favourites a family outing uses).
    pub member: u8,
    pub household_size: u8,
    pub district: u8,
    pub household: u32,
    /// Venue ids (raw), [`NONE`] when absent.
    pub gate: u32,
    pub work: u32,
    pub lunch: [u32; 3],
    pub eat: [u32; 2],
    pub shop: [u32; 2],
    pub market: u32,
    pub gym: u32,
    pub cinema: u32,
    pub pharmacy: u32,
    pub hospital: u32,
    pub scenic: u32,
}

/// Venues a district has few of, that anyone living there may use.
#[derive(Debug, Clone, Default)]
pub(crate) struct Hubs {
    pub train: u32,
    pub coach: u32,
    pub hotels: Vec<u32>,
}

/// The synthetic city: areas, residents, workplaces, venues and the routines that turn into
/// check-ins day by day ([`City::checkins_for_day`]).
pub struct City {
    pub districts: Vec<District>,
    pub people: Vec<Person>,
    pub workplaces: Vec<Workplace>,
    pub venues: Vec<Venue>,
    /// Households, numbered densely from 0; members of one household are consecutive people.
    pub households: u32,
    /// Every grid cell, indexed by its id.
    pub cells: Vec<CellSite>,
    pub(crate) routines: Vec<Routine>,
    pub(crate) hubs: Vec<Hubs>,
    pub(crate) airport: u32,
}

// Hand-written so that formatting a city (in a log line, a panic message) never prints a
// resident's name or ID number.
impl fmt::Debug for City {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("City")
            .field("districts", &self.districts.len())
            .field("people", &self.people.len())
            .field("households", &self.households)
            .field("workplaces", &self.workplaces.len())
            .field("venues", &self.venues.len())
            .field("cells", &self.cells.len())
            .finish()
    }
}

impl City {
    /// Number of residents.
    pub fn people_count(&self) -> usize {
        self.people.len()
    }

    /// Number of venues.
    pub fn venue_count(&self) -> usize {
        self.venues.len()
    }

    /// A resident's role.
    pub fn role(&self, person: PersonId) -> Option<Role> {
        self.routines.get(person.0 as usize).map(|r| r.role)
    }

    /// The venue (office or school) where a workplace's people scan in.
    pub fn workplace_venue(&self, workplace: WorkplaceId) -> Option<VenueId> {
        self.workplaces.get(workplace.0 as usize)?.venue
    }

    /// The residential venue (community gate) of a resident's home cell.
    pub fn home_gate(&self, person: PersonId) -> Option<VenueId> {
        self.routines
            .get(person.0 as usize)
            .and_then(|r| (r.gate != NONE).then_some(VenueId(r.gate)))
    }

    /// The members of a household, as a range of person ids.
    pub fn household_members(&self, person: PersonId) -> std::ops::Range<u32> {
        match self.routines.get(person.0 as usize) {
            Some(r) => {
                let first = person.0 - u32::from(r.member);
                first..first + u32::from(r.household_size)
            }
            None => person.0..person.0,
        }
    }

    /// The district (index into [`City::districts`]) a resident lives in.
    pub fn home_district(&self, person: PersonId) -> Option<usize> {
        self.routines
            .get(person.0 as usize)
            .map(|r| usize::from(r.district))
    }
}

/// One grid cell while the city is being built.
#[derive(Debug, Clone, Copy)]
struct CellDraft {
    district: u8,
    street: u16,
    community: u16,
    /// Position inside its community (for "3号小区").
    ordinal: u16,
    people: u32,
}

/// A household member before names and numbers are drawn.
#[derive(Debug, Clone, Copy)]
struct Member {
    age: u8,
    male: bool,
    /// Carries the household's family name (head, children, the head's parent).
    paternal: bool,
}

/// Venue kinds the generator places.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Cat {
    Supermarket,
    Restaurant,
    Market,
    Office,
    School,
    Hospital,
    Pharmacy,
    Cinema,
    Gym,
    Hotel,
    ScenicSpot,
    TrainStation,
    CoachStation,
    Airport,
    Residential,
}

impl Cat {
    /// The category name used in policy files.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Cat::Supermarket => "supermarket",
            Cat::Restaurant => "restaurant",
            Cat::Market => "market",
            Cat::Office => "office",
            Cat::School => "school",
            Cat::Hospital => "hospital",
            Cat::Pharmacy => "pharmacy",
            Cat::Cinema => "cinema",
            Cat::Gym => "gym",
            Cat::Hotel => "hotel",
            Cat::ScenicSpot => "scenic_spot",
            Cat::TrainStation => "train_station",
            Cat::CoachStation => "coach_station",
            Cat::Airport => "airport",
            Cat::Residential => "residential",
        }
    }
}

/// Every venue category the generator uses, as policy files spell them.
pub const VENUE_CATEGORIES: [&str; 15] = [
    "supermarket",
    "restaurant",
    "market",
    "office",
    "school",
    "hospital",
    "pharmacy",
    "cinema",
    "gym",
    "hotel",
    "scenic_spot",
    "train_station",
    "coach_station",
    "airport",
    "residential",
];

/// Commercial venues per district: (kind, people per venue, minimum per district).
const COMMERCIAL: [(Cat, u64, u64); 8] = [
    (Cat::Restaurant, 330, 2),
    (Cat::Supermarket, 2_000, 1),
    (Cat::Market, 5_000, 1),
    (Cat::Pharmacy, 2_500, 1),
    (Cat::Hospital, 25_000, 1),
    (Cat::Gym, 5_000, 1),
    (Cat::Cinema, 20_000, 1),
    (Cat::Hotel, 6_000, 1),
];

/// Kinds that routines pick "near" a place, in the order of [`Near`]'s table.
const NEAR_KINDS: [Cat; 9] = [
    Cat::Restaurant,
    Cat::Supermarket,
    Cat::Market,
    Cat::Pharmacy,
    Cat::Hospital,
    Cat::Gym,
    Cat::Cinema,
    Cat::Hotel,
    Cat::ScenicSpot,
];

/// Venues of one kind in one district, sorted by cell, so "near cell c" is a window around
/// c's position (cells are numbered along a serpentine path, so close numbers are close).
#[derive(Debug, Clone, Default)]
struct Near {
    cells: Vec<u32>,
    venues: Vec<u32>,
}

impl Near {
    fn pick(&self, rng: &mut Rng, cell: u32, spread: usize) -> Option<u32> {
        let n = self.venues.len();
        if n == 0 {
            return None;
        }
        let pos = self.cells.partition_point(|&c| c < cell);
        let lo = pos.saturating_sub(spread).min(n - 1);
        let hi = (pos + spread).clamp(lo + 1, n);
        let i = lo + rng.below((hi - lo) as u32) as usize;
        self.venues.get(i).copied()
    }
}

/// Builds the city for `cfg`. The same `(people, seed, first_day)` always gives the same city.
pub fn generate_city(cfg: &CityConfig) -> City {
    let mut b = Builder::new(cfg);
    b.areas();
    b.people();
    b.schools();
    b.work();
    b.venues();
    b.routines();
    b.finish()
}

struct Builder<'a> {
    cfg: &'a CityConfig,
    districts: Vec<District>,
    cells: Vec<CellDraft>,
    sites: Vec<CellSite>,
    /// Cells of district d: `district_cells[d]..district_cells[d + 1]`.
    district_cells: Vec<u32>,
    /// People of cell c: `cell_people[c]..cell_people[c + 1]`.
    cell_people: Vec<u32>,
    people: Vec<Person>,
    ages: Vec<u8>,
    roles: Vec<Role>,
    members: Vec<(u8, u8)>,
    households: u32,
    workplaces: Vec<Workplace>,
    /// District of each workplace.
    workplace_district: Vec<u8>,
    venues: Vec<Venue>,
    venue_counter: Vec<u32>,
    workplace_venue: Vec<VenueId>,
    gates: Vec<u32>,
    near: Vec<[Near; NEAR_KINDS.len()]>,
    hubs: Vec<Hubs>,
    airport: u32,
    routines: Vec<Routine>,
}

impl<'a> Builder<'a> {
    fn new(cfg: &'a CityConfig) -> Builder<'a> {
        let n = cfg.people as usize;
        Builder {
            cfg,
            districts: Vec::new(),
            cells: Vec::new(),
            sites: Vec::new(),
            district_cells: vec![0],
            cell_people: vec![0],
            people: Vec::with_capacity(n),
            ages: Vec::with_capacity(n),
            roles: Vec::with_capacity(n),
            members: Vec::with_capacity(n),
            households: 0,
            workplaces: Vec::new(),
            workplace_district: Vec::new(),
            venues: Vec::new(),
            venue_counter: vec![0; DISTRICTS.len()],
            workplace_venue: Vec::new(),
            gates: Vec::new(),
            near: Vec::new(),
            hubs: Vec::new(),
            airport: NONE,
            routines: Vec::new(),
        }
    }

    fn seed(&self) -> u64 {
        self.cfg.seed
    }

    /// Districts, streets, communities and cells, with people apportioned down to each cell.
    fn areas(&mut self) {
        let weights: Vec<u64> = DISTRICTS
            .iter()
            .map(|d| u64::from(d.population_k))
            .collect();
        let per_district = apportion(u64::from(self.cfg.people), &weights);
        for (di, spec) in DISTRICTS.iter().enumerate() {
            let mut rng = Rng::new(self.seed(), Purpose::Areas, di as u64);
            let first_cell = self.cells.len();
            let street_weights: Vec<u64> = spec
                .streets
                .iter()
                .map(|s| {
                    // Towns are smaller than urban streets.
                    let base = if atlas::is_town(s) { 500 } else { 1_000 };
                    u64::from(base + rng.below(700))
                })
                .collect();
            let per_street = apportion(per_district[di], &street_weights);
            let mut streets = Vec::with_capacity(spec.streets.len());
            for (si, sname) in spec.streets.iter().enumerate() {
                let street_code = u64::from(spec.code) * 1_000 + si as u64 + 1;
                let n_comm = per_street[si].div_ceil(PEOPLE_PER_COMMUNITY).clamp(1, 999);
                let comm_weights: Vec<u64> = (0..n_comm)
                    .map(|_| u64::from(700 + rng.below(600)))
                    .collect();
                let per_comm = apportion(per_street[si], &comm_weights);
                let word_start = rng.below(names::COMMUNITY_WORDS.len() as u32) as usize;
                let mut communities = Vec::with_capacity(n_comm as usize);
                for (ci, &cpop) in per_comm.iter().enumerate() {
                    let code = street_code * 1_000 + ci as u64 + 1;
                    let word =
                        names::COMMUNITY_WORDS[(word_start + ci) % names::COMMUNITY_WORDS.len()];
                    let lap = ci / names::COMMUNITY_WORDS.len();
                    let name = if atlas::is_town(sname) && ci > 0 {
                        format!("{word}{}村", names::ordinal(lap + 1))
                    } else {
                        let suffix = rng.pick(names::COMMUNITY_SUFFIXES).copied().unwrap_or("");
                        format!("{word}{suffix}{}社区", names::ordinal(lap + 1))
                    };
                    let n_cells = cpop.div_ceil(PEOPLE_PER_CELL).max(1);
                    let cell_weights: Vec<u64> = (0..n_cells)
                        .map(|_| u64::from(80 + rng.below(40)))
                        .collect();
                    let per_cell = apportion(cpop, &cell_weights);
                    let mut cells = Vec::with_capacity(n_cells as usize);
                    for (k, &pop) in per_cell.iter().enumerate() {
                        let id = GridCell(self.cells.len() as u32);
                        cells.push(id);
                        self.cells.push(CellDraft {
                            district: di as u8,
                            street: si as u16,
                            community: ci as u16,
                            ordinal: k as u16,
                            people: pop as u32,
                        });
                    }
                    communities.push(Community {
                        code: area(code, 12),
                        name,
                        cells,
                    });
                }
                streets.push(Street {
                    code: area(street_code, 9),
                    name: (*sname).to_owned(),
                    communities,
                });
            }
            self.district_cells.push(self.cells.len() as u32);
            self.layout_cells(spec, first_cell, &streets);
            self.districts.push(District {
                code: area(u64::from(spec.code), 6),
                name: spec.name,
                streets,
            });
        }
    }

    /// Places a district's cells on a square serpentine around its centre, in cell order,
    /// so that a street's cells form a contiguous band.
    fn layout_cells(&mut self, spec: &DistrictSpec, first: usize, streets: &[Street]) {
        let n = self.cells.len() - first;
        let side = (n as f64).sqrt().ceil().max(1.0) as usize;
        let rows = n.div_ceil(side).max(1);
        for k in 0..n {
            let row = k / side;
            let col = if row & 1 == 0 {
                k % side
            } else {
                side - 1 - k % side
            };
            let lat = spec.lat + (row as f64 - (rows - 1) as f64 / 2.0) * CELL_LAT_DEG;
            let lon = spec.lon + (col as f64 - (side - 1) as f64 / 2.0) * CELL_LON_DEG;
            let draft = self.cells[first + k];
            let community = streets[usize::from(draft.street)].communities
                [usize::from(draft.community)]
            .code
            .clone();
            self.sites.push(CellSite {
                cell: GridCell((first + k) as u32),
                community,
                lat,
                lon,
            });
        }
    }

    fn community_of(&self, cell: u32) -> &Community {
        let d = self.cells[cell as usize];
        &self.districts[usize::from(d.district)].streets[usize::from(d.street)].communities
            [usize::from(d.community)]
    }

    fn street_of(&self, cell: u32) -> &Street {
        let d = self.cells[cell as usize];
        &self.districts[usize::from(d.district)].streets[usize::from(d.street)]
    }

    /// Households and residents, cell by cell, with names, ID numbers and phones.
    fn people(&mut self) {
        // Birth-date counters per (district, day, sex) make ID numbers unique by construction.
        let oldest = self.cfg.first_day.0 - 112 * 366;
        let span = 113 * 366;
        let mut counters: Vec<Vec<[u16; 2]>> = vec![vec![[0, 0]; span]; DISTRICTS.len()];
        for di in 0..DISTRICTS.len() {
            let mut rng = Rng::new(self.seed(), Purpose::People, di as u64);
            let code = DISTRICTS[di].code;
            let cells = self.district_cells[di]..self.district_cells[di + 1];
            for cell in cells {
                let draft = self.cells[cell as usize];
                let community = self.community_of(cell).code.clone();
                let mut left = draft.people as usize;
                while left > 0 {
                    let size = household_size(&mut rng).min(left);
                    left -= size;
                    let household = HouseholdId(self.households);
                    self.households += 1;
                    let (members, len) = compose_household(&mut rng, size);
                    let family = names::family_name(&mut rng);
                    for (mi, m) in members[..len].iter().enumerate() {
                        let surname = if m.paternal {
                            family
                        } else {
                            names::family_name(&mut rng)
                        };
                        let name = names::full_name(&mut rng, surname, m.male);
                        let days_old =
                            u32::from(m.age) * 365 + u32::from(m.age) / 4 + rng.below(365);
                        let born = self.cfg.first_day.0 - days_old as i32;
                        let index = (born - oldest).clamp(0, span as i32 - 1) as usize;
                        let (born_index, seq) = take_sequence(&mut counters[di], index, m.male);
                        let (y, mo, d) = ymd(CivilDay(oldest + born_index as i32));
                        let id_number = IdNumber::compose(code, y as i16, mo as i8, d as i8, seq)
                            .unwrap_or_else(|| unreachable!("parts are in range"));
                        let pid = self.people.len() as u32;
                        let phone = phone_for(&mut rng, m.age, pid, self.cfg.seed);
                        self.people.push(Person {
                            id: PersonId(pid),
                            id_number,
                            name,
                            phone,
                            household,
                            workplace: None,
                            area: community.clone(),
                            home_cell: GridCell(cell),
                        });
                        self.ages.push(m.age);
                        self.roles.push(role_for(&mut rng, m.age));
                        self.members.push((mi as u8, len as u8));
                    }
                }
                self.cell_people.push(self.people.len() as u32);
            }
        }
    }

    fn add_venue(&mut self, name: String, cat: Cat, cell: u32, rng: &mut Rng) -> u32 {
        let draft = self.cells[cell as usize];
        let di = usize::from(draft.district);
        self.venue_counter[di] += 1;
        let code = format!("{}V{:07}", DISTRICTS[di].code, self.venue_counter[di]);
        let site = &self.sites[cell as usize];
        // Scatter inside the cell so venues of one cell do not sit on one point.
        let lat = site.lat + (rng.unit() - 0.5) * CELL_LAT_DEG;
        let lon = site.lon + (rng.unit() - 0.5) * CELL_LON_DEG;
        let id = self.venues.len() as u32;
        self.venues.push(Venue {
            id: VenueId(id),
            place_code: PlaceCode::parse(&code).unwrap_or_else(|_| unreachable!("well-formed")),
            name,
            category: VenueCategory::parse(cat.as_str())
                .unwrap_or_else(|_| unreachable!("well-formed")),
            area: site.community.clone(),
            cell: GridCell(cell),
            lat,
            lon,
        });
        id
    }

    /// Offices and schools for every workplace, a residential gate per grid cell, shops,
    /// restaurants and the rest per district, stations and the airport.
    fn venues(&mut self) {
        let mut rng = Rng::new(self.seed(), Purpose::Venues, u64::MAX);
        for w in 0..self.workplaces.len() {
            let (name, is_school, cell) = {
                let wp = &self.workplaces[w];
                (wp.name.clone(), wp.is_school, wp.cell.0)
            };
            let cat = if is_school { Cat::School } else { Cat::Office };
            let v = self.add_venue(name, cat, cell, &mut rng);
            self.workplace_venue.push(VenueId(v));
            self.workplaces[w].venue = Some(VenueId(v));
        }
        self.gates = vec![NONE; self.cells.len()];
        for cell in 0..self.cells.len() as u32 {
            let name = format!(
                "{}{}号小区",
                self.community_of(cell).name,
                self.cells[cell as usize].ordinal + 1
            );
            self.gates[cell as usize] = self.add_venue(name, Cat::Residential, cell, &mut rng);
        }
        for (di, spec) in DISTRICTS.iter().enumerate() {
            let mut rng = Rng::new(self.seed(), Purpose::Venues, di as u64);
            let (c0, c1) = (self.district_cells[di], self.district_cells[di + 1]);
            let pop = u64::from(self.cell_people[c1 as usize] - self.cell_people[c0 as usize]);
            let mut near: [Near; NEAR_KINDS.len()] = Default::default();
            let mut placed: Vec<(Cat, u32, u32)> = Vec::new();
            let mut ordinals: HashMap<(Cat, u16), usize> = HashMap::new();
            for (cat, per, min) in COMMERCIAL {
                let count = (pop / per).max(min);
                for k in 0..count {
                    let cell = c0 + rng.below(c1 - c0);
                    let street = atlas::street_short(&self.street_of(cell).name).to_owned();
                    let nth = ordinals
                        .entry((cat, self.cells[cell as usize].street))
                        .or_insert(0);
                    *nth += 1;
                    let nth = *nth;
                    let brand = |list: &[&'static str], rng: &mut Rng| {
                        rng.pick(list).copied().unwrap_or_default()
                    };
                    let name = match cat {
                        Cat::Restaurant => format!(
                            "{}记{}({street}店)",
                            names::family_name(&mut rng),
                            brand(names::RESTAURANT_KINDS, &mut rng)
                        ),
                        Cat::Supermarket => {
                            format!("{}({street}店)", brand(names::SUPERMARKETS, &mut rng))
                        }
                        Cat::Market => format!("{street}{}农贸市场", names::ordinal(nth)),
                        Cat::Pharmacy => {
                            format!("{}({street}店)", brand(names::PHARMACIES, &mut rng))
                        }
                        Cat::Hospital if k == 0 => format!("{}人民医院", spec.name),
                        Cat::Hospital => format!("{street}{}社区卫生服务中心", names::ordinal(nth)),
                        Cat::Gym => format!("{}({street}店)", brand(names::GYMS, &mut rng)),
                        Cat::Cinema => format!("{}({street}店)", brand(names::CINEMAS, &mut rng)),
                        _ => format!("{}({street}店)", brand(names::HOTELS, &mut rng)),
                    };
                    let v = self.add_venue(name, cat, cell, &mut rng);
                    placed.push((cat, cell, v));
                }
            }
            for s in spec.scenic_spots {
                let cell = c0 + rng.below(c1 - c0);
                let v = self.add_venue((*s).to_owned(), Cat::ScenicSpot, cell, &mut rng);
                placed.push((Cat::ScenicSpot, cell, v));
            }
            let mut hubs = Hubs {
                train: NONE,
                coach: NONE,
                hotels: Vec::new(),
            };
            if let Some(station) = spec.train_station {
                let cell = c0 + rng.below(c1 - c0);
                hubs.train = self.add_venue(station.to_owned(), Cat::TrainStation, cell, &mut rng);
            }
            let cell = c0 + rng.below(c1 - c0);
            hubs.coach = self.add_venue(
                spec.coach_station.to_owned(),
                Cat::CoachStation,
                cell,
                &mut rng,
            );
            if di == AIRPORT_DISTRICT {
                let cell = c0 + rng.below(c1 - c0);
                self.airport =
                    self.add_venue(AIRPORT_NAME.to_owned(), Cat::Airport, cell, &mut rng);
            }
            placed.sort_unstable_by_key(|&(_, cell, v)| (cell, v));
            for (cat, cell, v) in placed {
                if cat == Cat::Hotel {
                    hubs.hotels.push(v);
                }
                if let Some(k) = NEAR_KINDS.iter().position(|&c| c == cat) {
                    near[k].cells.push(cell);
                    near[k].venues.push(v);
                }
            }
            self.near.push(near);
            self.hubs.push(hubs);
        }
        // A district without a railway station uses the main one (无锡站).
        let main_train = self
            .hubs
            .iter()
            .map(|h| h.train)
            .find(|&t| t != NONE)
            .unwrap_or(NONE);
        for h in &mut self.hubs {
            if h.train == NONE {
                h.train = main_train;
            }
        }
    }

    fn pick_near(&self, rng: &mut Rng, cat: Cat, district: usize, cell: u32, spread: usize) -> u32 {
        let k = NEAR_KINDS.iter().position(|&c| c == cat).unwrap_or(0);
        self.near
            .get(district)
            .and_then(|n| n[k].pick(rng, cell, spread))
            .unwrap_or(NONE)
    }

    /// Each person's routine: usual hours and a handful of favourite venues near home or work,
    /// so that the same people meet again at the same places.
    fn routines(&mut self) {
        self.routines.reserve_exact(self.people.len());
        for di in 0..DISTRICTS.len() {
            let mut rng = Rng::new(self.seed(), Purpose::Favourites, di as u64);
            let (c0, c1) = (self.district_cells[di], self.district_cells[di + 1]);
            for p in self.cell_people[c0 as usize]..self.cell_people[c1 as usize] {
                let r = self.routine_for(&mut rng, p as usize, di);
                self.routines.push(r);
            }
        }
    }

    fn routine_for(&self, rng: &mut Rng, p: usize, di: usize) -> Routine {
        let person = &self.people[p];
        let role = self.roles[p];
        let age = self.ages[p];
        let home = person.home_cell.0;
        let (work, work_cell, work_district) = match person.workplace {
            Some(w) => (
                self.workplace_venue[w.0 as usize].0,
                self.workplaces[w.0 as usize].cell.0,
                usize::from(self.workplace_district[w.0 as usize]),
            ),
            None => (NONE, home, di),
        };
        let far = work_district != di;
        let mut flags = 0u8;
        if role == Role::Worker && rng.chance(0.75) {
            flags |= LUNCH_OUT;
        }
        if role == Role::Student && rng.chance(0.3) {
            flags |= LUNCH_OUT;
        }
        if rng.chance(if (18..=50).contains(&age) { 0.15 } else { 0.04 }) {
            flags |= GYM_GOER;
        }
        // Shops, restaurants and factories work weekends; schools do not.
        let at_school = person
            .workplace
            .is_some_and(|w| self.workplaces[w.0 as usize].is_school);
        if role == Role::Worker && !at_school && rng.chance(0.15) {
            flags |= WEEKEND_SHIFT;
        }
        let (leave_slot, commute_slot) = match role {
            Role::Worker if far => (rng.range(6, 24), rng.range(6, 14)),
            Role::Worker => (rng.range(6, 30), rng.range(2, 8)),
            Role::Pupil => (rng.range(9, 18), rng.range(1, 4)),
            Role::Student => (rng.range(12, 30), rng.range(2, 8)),
            _ => (rng.range(6, 30), rng.range(1, 4)),
        };
        let lunch_cell = if work == NONE { home } else { work_cell };
        let lunch = [
            self.pick_near(rng, Cat::Restaurant, work_district, lunch_cell, 4),
            self.pick_near(rng, Cat::Restaurant, work_district, lunch_cell, 4),
            self.pick_near(rng, Cat::Restaurant, work_district, lunch_cell, 4),
        ];
        let second_shop = if work == NONE || rng.chance(0.6) {
            self.pick_near(rng, Cat::Supermarket, di, home, 2)
        } else {
            self.pick_near(rng, Cat::Supermarket, work_district, work_cell, 2)
        };
        let gym = if work != NONE && rng.chance(0.5) {
            self.pick_near(rng, Cat::Gym, work_district, work_cell, 2)
        } else {
            self.pick_near(rng, Cat::Gym, di, home, 2)
        };
        let scenic_district = if rng.chance(0.2) {
            rng.below(DISTRICTS.len() as u32) as usize
        } else {
            di
        };
        let (member, household_size) = self.members[p];
        Routine {
            role,
            flags,
            leave_slot: leave_slot as u8,
            commute_slot: commute_slot as u8,
            member,
            household_size,
            district: di as u8,
            household: person.household.0,
            gate: self.gates[home as usize],
            work,
            lunch,
            eat: [
                self.pick_near(rng, Cat::Restaurant, di, home, 3),
                self.pick_near(rng, Cat::Restaurant, di, home, 6),
            ],
            shop: [
                self.pick_near(rng, Cat::Supermarket, di, home, 1),
                second_shop,
            ],
            market: self.pick_near(rng, Cat::Market, di, home, 1),
            gym,
            cinema: self.pick_near(rng, Cat::Cinema, di, home, 2),
            pharmacy: self.pick_near(rng, Cat::Pharmacy, di, home, 1),
            hospital: self.pick_near(rng, Cat::Hospital, di, home, 1),
            scenic: self.pick_near(
                rng,
                Cat::ScenicSpot,
                scenic_district,
                u32::MAX,
                usize::MAX / 2,
            ),
        }
    }

    fn finish(self) -> City {
        City {
            districts: self.districts,
            people: self.people,
            workplaces: self.workplaces,
            venues: self.venues,
            households: self.households,
            cells: self.sites,
            routines: self.routines,
            hubs: self.hubs,
            airport: self.airport,
        }
    }
}

/// An area code from its number and digit count (always well-formed here).
fn area(code: u64, digits: usize) -> AreaCode {
    AreaCode::parse(&format!("{code:0digits$}")).unwrap_or_else(|_| unreachable!("{digits} digits"))
}
