//! Schools with classes and workplaces with teams.
//!
//! The places where people are close for hours are small groups: a class of 40–50 pupils
//! with its teachers, a team of 5–20 colleagues sharing a room. Each class and each team is
//! a [`Workplace`] of its own (so tracing's workplace rule lists the class or the team, not
//! the whole school or firm) with its own room venue (so venue co-presence at work is the
//! room, not the building). Schools and firms survive in the names ("梁溪中心小学三年级2班",
//! "…有限公司第三组") and in the cell their rooms share. The wider mixing is at venues:
//! lunch restaurants near work, shops, markets.
//!
//! Why rooms as venues rather than one venue per building with teams only in the workplace
//! table: with one building venue, everyone who worked there that day overlaps with the case
//! for hours, and tracing's venue rule made the whole school a close-contact list (a case in
//! the 20,000-resident demo had 1,409 close contacts). Chinese tracers listed the class or
//! the office, not the building (PROTOCOL.md §2: "same … workplace, classroom").

use super::{Builder, Role};
use crate::atlas::{self, DISTRICTS};
use crate::names;
use crate::rng::{Purpose, Rng};
use xikang_domain::{GridCell, Workplace, WorkplaceId};

/// School levels: (first age, last age, pupils per school, name).
const LEVELS: [(u8, u8, usize, &str); 3] = [
    (3, 5, 300, "幼儿园"),
    (6, 11, 1_500, "中心小学"),
    (12, 17, 1_500, "中学"),
];
const COLLEGES: [&str; 5] = ["职业技术学院", "理工学院", "商贸学院", "艺术学院", "医学院"];
const STUDENTS_PER_COLLEGE: usize = 5_000;

/// Pupils per class: (aim, most). The national norms are at most 45 in primary and 50 in
/// middle school (教育部《义务教育学校办学标准》, recalled, not verified here); kindergartens
/// 25–35 (小班 25, 中班 30, 大班 35).
pub(crate) const CLASS_AIM: usize = 44;
pub(crate) const CLASS_MAX: usize = 50;
const KINDERGARTEN_AIM: usize = 30;
const KINDERGARTEN_MAX: usize = 35;
/// Consecutive ages are taught together (复式班) until a class has at least this many pupils,
/// so that small towns in a small city do not get classes of three.
const CLASS_MIN: usize = 25;
/// Adults per class (head teacher and subject teachers): one per 15 pupils, at least one.
const PUPILS_PER_TEACHER: usize = 15;

/// Team sizes: (aim, fewest, most).
pub(crate) const TEAM_AIM: usize = 12;
pub(crate) const TEAM_MIN: usize = 5;
pub(crate) const TEAM_MAX: usize = 20;

/// How many teams a firm of `size` has: about [`TEAM_AIM`] people each, never more than
/// [`TEAM_MAX`], and no team under [`TEAM_MIN`] unless the whole firm is smaller.
pub(crate) fn team_count(size: usize) -> usize {
    let most = (size / TEAM_MIN).max(1);
    let least = size.div_ceil(TEAM_MAX).max(1);
    ((size + TEAM_AIM / 2) / TEAM_AIM).clamp(least, most)
}

/// How many classes `pupils` of one grade (or group of grades) make.
fn class_count(pupils: usize, aim: usize, max: usize) -> usize {
    let least = pupils.div_ceil(max).max(1);
    ((pupils + aim / 2) / aim).max(least)
}

/// The grade of a pupil of `age` at a school of `level` (the index into [`LEVELS`]).
fn grade_name(level: usize, age: u8) -> String {
    const KINDER: [&str; 3] = ["小班", "中班", "大班"];
    const PRIMARY: [&str; 6] = ["一年级", "二年级", "三年级", "四年级", "五年级", "六年级"];
    const MIDDLE: [&str; 6] = ["初一", "初二", "初三", "高一", "高二", "高三"];
    let (lo, list): (u8, &[&str]) = match level {
        0 => (3, &KINDER),
        1 => (6, &PRIMARY),
        _ => (12, &MIDDLE),
    };
    list.get(usize::from(age.saturating_sub(lo)))
        .or(list.last())
        .copied()
        .unwrap_or_default()
        .to_owned()
}

/// Splits `items` into `n` consecutive blocks of sizes differing by at most one.
fn blocks<T>(items: &[T], n: usize) -> impl Iterator<Item = &[T]> {
    let len = items.len();
    (0..n).map(move |k| &items[k * len / n..(k + 1) * len / n])
}

impl Builder<'_> {
    fn add_workplace(&mut self, name: String, is_school: bool, cell: u32) -> WorkplaceId {
        let id = WorkplaceId(self.workplaces.len() as u32);
        let area = self.community_of(cell).code.clone();
        self.workplaces.push(Workplace {
            id,
            name,
            is_school,
            area,
            cell: GridCell(cell),
            venue: None,
        });
        self.workplace_district
            .push(self.cells[cell as usize].district);
        id
    }

    /// Schools by street (kindergarten, primary, middle) and colleges by district; pupils go
    /// to the school of their own street, in contiguous catchments, in classes of their age.
    pub(super) fn schools(&mut self) {
        for (di, spec) in DISTRICTS.iter().enumerate() {
            let mut rng = Rng::new(self.seed(), Purpose::Schools, di as u64);
            let (c0, c1) = (self.district_cells[di], self.district_cells[di + 1]);
            // Streets are contiguous runs of cells.
            let mut start = c0;
            while start < c1 {
                let street = self.cells[start as usize].street;
                let mut end = start;
                while end < c1 && self.cells[end as usize].street == street {
                    end += 1;
                }
                let people = self.cell_people[start as usize]..self.cell_people[end as usize];
                let short = atlas::street_short(&self.street_of(start).name).to_owned();
                for (level, (lo, hi, cap, kind)) in LEVELS.into_iter().enumerate() {
                    let pupils: Vec<u32> = people
                        .clone()
                        .filter(|&p| {
                            self.roles[p as usize] == Role::Pupil
                                && (lo..=hi).contains(&self.ages[p as usize])
                        })
                        .collect();
                    let n = pupils.len().div_ceil(cap);
                    for (k, block) in blocks(&pupils, n).enumerate() {
                        let school = format!("{short}{}{kind}", names::ordinal(k + 1));
                        self.school_classes(&school, level, block);
                    }
                }
                start = end;
            }
            let students: Vec<u32> = (self.cell_people[c0 as usize]..self.cell_people[c1 as usize])
                .filter(|&p| self.roles[p as usize] == Role::Student)
                .collect();
            let prefix = format!("{}{}", spec.city_prefix, spec.short);
            let n = students.len().div_ceil(STUDENTS_PER_COLLEGE);
            for (k, block) in blocks(&students, n).enumerate() {
                let kind = COLLEGES[k % COLLEGES.len()];
                let lap = names::ordinal(k / COLLEGES.len() + 1);
                let cell = c0 + rng.below(c1 - c0);
                let classes = class_count(block.len(), CLASS_AIM, CLASS_MAX);
                for (j, class) in blocks(block, classes).enumerate() {
                    let w =
                        self.add_workplace(format!("{prefix}{lap}{kind}{}班", j + 1), true, cell);
                    for &p in class {
                        self.people[p as usize].workplace = Some(w);
                    }
                }
            }
        }
    }

    /// One school's classes: pupils grouped by age (consecutive ages together while a group is
    /// under [`CLASS_MIN`]), each group cut into classes; the classroom is in the cell where
    /// the school's middle pupil lives.
    fn school_classes(&mut self, school: &str, level: usize, pupils: &[u32]) {
        let Some(&middle) = pupils.get(pupils.len() / 2) else {
            return;
        };
        let cell = self.people[middle as usize].home_cell.0;
        let (aim, max) = if level == 0 {
            (KINDERGARTEN_AIM, KINDERGARTEN_MAX)
        } else {
            (CLASS_AIM, CLASS_MAX)
        };
        let mut by_age = pupils.to_vec();
        by_age.sort_by_key(|&p| (self.ages[p as usize], p));
        let mut from = 0;
        while from < by_age.len() {
            let first_age = self.ages[by_age[from] as usize];
            let mut to = from;
            // Whole ages only, so a grade is never split between a mixed class and its own.
            while to < by_age.len()
                && (to - from < CLASS_MIN
                    || self.ages[by_age[to] as usize] == self.ages[by_age[to - 1] as usize])
            {
                to += 1;
            }
            // A short tail joins the group before it rather than make a tiny class.
            if by_age.len() - to < CLASS_MIN {
                to = by_age.len();
            }
            let group = &by_age[from..to];
            let grade = grade_name(level, first_age);
            let n = class_count(group.len(), aim, max);
            let mut classes = Vec::with_capacity(n);
            for k in 0..n {
                classes.push(self.add_workplace(format!("{school}{grade}{}班", k + 1), true, cell));
            }
            for (class, members) in classes.iter().zip(blocks(group, n)) {
                for &p in members {
                    self.people[p as usize].workplace = Some(*class);
                }
            }
            from = to;
        }
    }

    /// Workers choose a district to work in (mostly their own), teach the classes there, and
    /// the rest are cut into firms of very unequal sizes, each made of teams.
    pub(super) fn work(&mut self) {
        let mut rng = Rng::new(self.seed(), Purpose::Work, u64::MAX);
        let mut by_district: Vec<Vec<u32>> = vec![Vec::new(); DISTRICTS.len()];
        let pull: Vec<Vec<u32>> = (0..DISTRICTS.len())
            .map(|home| {
                DISTRICTS
                    .iter()
                    .enumerate()
                    .map(|(d, s)| {
                        if d == home {
                            0
                        } else {
                            s.job_pull * s.population_k
                        }
                    })
                    .collect()
            })
            .collect();
        for p in 0..self.people.len() {
            if self.roles[p] != Role::Worker {
                continue;
            }
            let home = usize::from(self.cells[self.people[p].home_cell.0 as usize].district);
            let away = rng.below(1_000) < DISTRICTS[home].commute_out_permille;
            let d = if away {
                rng.weighted(&pull[home])
            } else {
                home
            };
            by_district[d].push(p as u32);
        }
        // Every class needs teachers.
        let mut staff_needed: Vec<Vec<(WorkplaceId, usize)>> = vec![Vec::new(); DISTRICTS.len()];
        let mut enrolled = vec![0usize; self.workplaces.len()];
        for p in &self.people {
            if let Some(w) = p.workplace {
                enrolled[w.0 as usize] += 1;
            }
        }
        for w in &self.workplaces {
            let staff = enrolled[w.id.0 as usize]
                .div_ceil(PUPILS_PER_TEACHER)
                .max(1);
            staff_needed[usize::from(self.workplace_district[w.id.0 as usize])].push((w.id, staff));
        }
        for (di, mut workers) in by_district.into_iter().enumerate() {
            let mut rng = Rng::new(self.seed(), Purpose::Work, di as u64);
            rng.shuffle(&mut workers);
            let mut next = 0usize;
            for &(w, staff) in &staff_needed[di] {
                let take = staff.min(workers.len() - next);
                for &p in &workers[next..next + take] {
                    self.people[p as usize].workplace = Some(w);
                }
                next += take;
            }
            let (c0, c1) = (self.district_cells[di], self.district_cells[di + 1]);
            let spec = &DISTRICTS[di];
            while next < workers.len() {
                let size = workplace_size(&mut rng).min(workers.len() - next);
                let cell = c0 + rng.below(c1 - c0);
                let firm = format!(
                    "{}{}{}{}",
                    spec.city_prefix,
                    rng.pick(names::COMPANY_WORDS).copied().unwrap_or("华光"),
                    rng.pick(names::INDUSTRIES).copied().unwrap_or("科技"),
                    rng.pick(names::COMPANY_SUFFIXES)
                        .copied()
                        .unwrap_or("有限公司"),
                );
                let teams = team_count(size);
                let staff = &workers[next..next + size];
                for (k, team) in blocks(staff, teams).enumerate() {
                    let name = if teams == 1 {
                        firm.clone()
                    } else {
                        format!("{firm}第{}组", k + 1)
                    };
                    let w = self.add_workplace(name, false, cell);
                    for &p in team {
                        self.people[p as usize].workplace = Some(w);
                    }
                }
                next += size;
            }
        }
    }
}

/// Firm sizes: many small firms, few large ones (mean ≈ 90).
fn workplace_size(rng: &mut Rng) -> usize {
    let size = match rng.weighted(&[50, 30, 15, 5]) {
        0 => rng.range(5, 30),
        1 => rng.range(31, 100),
        2 => rng.range(101, 300),
        _ => rng.range(301, 1_200),
    };
    size as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn teams_stay_between_five_and_twenty_people() {
        for size in 1..3_000 {
            let n = team_count(size);
            let (small, large) = (size / n, size.div_ceil(n));
            assert!(large <= TEAM_MAX, "{size} in {n} teams");
            assert!(small >= TEAM_MIN.min(size), "{size} in {n} teams");
        }
    }

    #[test]
    fn classes_stay_under_the_maximum() {
        for pupils in 1..2_000 {
            let n = class_count(pupils, CLASS_AIM, CLASS_MAX);
            assert!(pupils.div_ceil(n) <= CLASS_MAX, "{pupils} in {n}");
        }
    }
}
