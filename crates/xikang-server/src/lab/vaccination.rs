//! Vaccination: doses recorded, each person's status, coverage by area and age band, and
//! outreach tasks for the elderly without a full course.

use super::index::*;
use super::*;

/// Records doses; each item on its own (unknown person, invalid fields, dose recorded twice).
pub async fn record_doses(
    state: &AppState,
    items: Vec<Result<Dose, ItemError>>,
    now: Timestamp,
) -> Result<Vec<Result<(), ItemError>>, AppError> {
    let _op = state.projection.lab.begin(state).await;
    let mut out = Vec::with_capacity(items.len());
    let mut w = LabWrite::default();
    {
        let lab = state.projection.lab.lock();
        let doses = read(&state.projection.lab.doses);
        let mut seen = std::collections::HashSet::new();
        let mut answered: Vec<String> = Vec::new();
        for d in items {
            let r = (|| {
                let d = d?;
                d.validate()
                    .map_err(|e| item_err(e.code(), e.to_string()))?;
                if !state.projection.person_exists(d.person) {
                    return Err(item_err(
                        "unknown_person",
                        format!("no person {}", d.person),
                    ));
                }
                let recorded = doses
                    .get(d.person.0 as usize)
                    .is_some_and(|b| b & dose_bit(d.dose) != 0);
                if recorded || !seen.insert((d.person, d.dose)) {
                    return Err(item_err(
                        "dose_recorded",
                        format!("dose {} of {} is already recorded", d.dose, d.person),
                    ));
                }
                // A full course answers the person's outreach task, on the lab's list and
                // on the grid worker's.
                if d.dose >= xikang_domain::testing::FULL_COURSE_DOSES {
                    for t in lab.open_tasks.get(&d.person).into_iter().flatten() {
                        if t.kind == TaskKind::VaccinationOutreach {
                            w.tasks.push(LabTask {
                                done_at: Some(now),
                                ..t.clone()
                            });
                            answered.push(outreach_task_key(t.id));
                        }
                    }
                }
                w.doses.push(d);
                Ok(())
            })();
            out.push(r);
        }
        if !answered.is_empty() {
            w.duties.push(xikang_store::DutyOp::CompleteByKey {
                keys: answered,
                at: now,
                by: "system:vaccination".into(),
                note: "the full course is recorded".into(),
            });
        }
    }
    if !w.doses.is_empty() {
        commit(state, w).await?;
    }
    Ok(out)
}

/// A person's vaccination status, from memory (no store read, no wait for the lab's lock):
/// the code display and venue scans show it.
pub fn vaccination_status(state: &AppState, person: PersonId) -> VaccinationStatus {
    VaccinationStatus {
        doses: highest_dose(
            read(&state.projection.lab.doses)
                .get(person.0 as usize)
                .copied()
                .unwrap_or(0),
        ),
    }
}

/// The boundary ages between the coverage bands (3, 12, 18, 60, 80).
pub(super) const BAND_BOUNDARIES: usize = AgeBand::ALL.len() - 1;

/// The age band of a packed birth date on one day, without computing ages. The packed
/// birth (`year << 9 | month << 5 | day`) orders like the date, so "aged at least A on
/// (ty, tm, td)" is "born on or before (ty - A, tm, td)": the band is the number of band
/// boundaries a birth lies on or before (`AgeBand::ALL` is ordered by age), counted without
/// a branch.
#[derive(Debug)]
pub(super) struct BandsOn {
    /// Packed latest birth date for each boundary age, youngest boundary first.
    pub(super) cutoffs: [u32; BAND_BOUNDARIES],
}

impl BandsOn {
    fn new(ty: i32, tm: u8, td: u8) -> BandsOn {
        let mut cutoffs = [0u32; BAND_BOUNDARIES];
        let boundaries = (1..=150).filter(|&a| AgeBand::of_age(a) != AgeBand::of_age(a - 1));
        for (c, a) in cutoffs.iter_mut().zip(boundaries) {
            *c = pack_birth(((ty - a) as i16, tm, td));
        }
        BandsOn { cutoffs }
    }

    /// The index into `AgeBand::ALL`.
    #[inline]
    fn index(&self, born: u32) -> usize {
        self.cutoffs.iter().map(|&c| usize::from(born <= c)).sum()
    }
}

/// Highest dose numbers counted apart (0-8).
pub(super) const DOSE_SLOTS: usize = 9;

/// Residents counted per (output row, age band, highest dose) over `range` of person ids;
/// `row_of` gives a person's output row (`None`: not counted). Four interleaved tables, so
/// that neighbours who land in the same counter do not wait on each other's increment.
pub(super) fn count_residents(
    births: &[u32],
    doses: &[u8],
    range: std::ops::Range<usize>,
    bands_on: &BandsOn,
    rows: usize,
    row_of: impl Fn(usize) -> Option<usize>,
) -> Vec<u32> {
    const WAYS: usize = 4;
    let slots = rows * AgeBand::ALL.len() * DOSE_SLOTS;
    let mut counts = vec![0u32; slots * WAYS];
    for i in range {
        let born = births.get(i).copied().unwrap_or(0);
        if born == 0 {
            continue;
        }
        let Some(row) = row_of(i) else {
            continue;
        };
        let dose = usize::from(highest_dose(doses.get(i).copied().unwrap_or(0)));
        let ix = (row * AgeBand::ALL.len() + bands_on.index(born)) * DOSE_SLOTS + dose;
        if let Some(c) = counts.get_mut((i % WAYS) * slots + ix) {
            *c += 1;
        }
    }
    let (first, rest) = counts.split_at_mut(slots);
    for way in rest.chunks_exact(slots) {
        for (a, b) in first.iter_mut().zip(way) {
            *a += b;
        }
    }
    counts.truncate(slots);
    counts
}

/// Coverage per district and age band, for residents of communities inside `area`, on `day`.
/// One pass over every resident (10 M in a city), split over the cores: for a district or a
/// wider area it reads only the lab's packed per-person arrays (birth, district, doses: 7
/// bytes a resident); a narrower area also reads each person's community.
pub fn vaccination_coverage(
    state: &AppState,
    area: &AreaCode,
    day: CivilDay,
) -> Vec<(AreaCode, AgeBand, Coverage)> {
    let lab = state.projection.lab.lock();
    let dose_bits = read(&state.projection.lab.doses);
    let (ty, tm, td) = xikang_domain::testing::civil_of(day);
    let bands_on = BandsOn::new(ty, tm, td);
    let rows = lab.districts.len();
    let n = lab.births.len();
    let cores = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    let parts = if n < 100_000 { 1 } else { cores };
    let per = n.div_ceil(parts).max(1);
    let spread = |count: &(dyn Fn(std::ops::Range<usize>) -> Vec<u32> + Sync)| {
        if parts == 1 {
            return vec![count(0..n)];
        }
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..n)
                .step_by(per)
                .map(|from| scope.spawn(move || count(from..(from + per).min(n))))
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().ok())
                .collect::<Vec<_>>()
        })
    };
    let parts = if area.contains(&area.district()) {
        let inside: Vec<bool> = lab.districts.iter().map(|d| area.contains(d)).collect();
        let district = &lab.district_of_person;
        spread(&|range| {
            count_residents(&lab.births, &dose_bits, range, &bands_on, rows, |i| {
                let d = usize::from(*district.get(i)?);
                inside.get(d).copied().unwrap_or(false).then_some(d)
            })
        })
    } else {
        let people = read(&state.projection.people);
        let covered: Vec<Option<usize>> = state
            .projection
            .communities
            .all()
            .iter()
            .enumerate()
            .map(|(i, c)| {
                area.contains(c)
                    .then(|| lab.district_of_community.get(i).map(|d| usize::from(*d)))
                    .flatten()
            })
            .collect();
        spread(&|range| {
            count_residents(&lab.births, &dose_bits, range, &bands_on, rows, |i| {
                let slot = people.get(i)?;
                covered.get(slot.community as usize).copied().flatten()
            })
        })
    };
    let bands = AgeBand::ALL.len();
    let mut table = vec![Coverage::default(); rows * bands];
    for part in parts {
        for (ix, count) in part.into_iter().enumerate() {
            if count > 0 {
                let doses = (ix % DOSE_SLOTS) as u8;
                table[ix / DOSE_SLOTS].add_many(VaccinationStatus { doses }, u64::from(count));
            }
        }
    }
    let mut out = Vec::new();
    for (di, district) in lab.districts.iter().enumerate() {
        for (bi, band) in AgeBand::ALL.iter().enumerate() {
            let c = table[di * bands + bi];
            if c.people > 0 {
                out.push((district.clone(), *band, c));
            }
        }
    }
    out
}

/// The dedupe key of the grid task that mirrors a lab's vaccination outreach task: the
/// worker of the person's cell visits, and the full course closes both.
pub(super) fn outreach_task_key(lab_task: u64) -> String {
    format!("outreach:lab:{lab_task}")
}

/// Residents aged 60+ in `area` without a full course, grouped by grid cell; with `create`,
/// an outreach task is opened for each who has none yet, on the lab's list and on the list
/// of the grid worker of the person's cell. Returns (cell, people) pairs.
pub async fn outreach(
    state: &AppState,
    area: &AreaCode,
    day: CivilDay,
    create: bool,
    now: Timestamp,
) -> Result<Vec<(GridCell, Vec<PersonId>)>, AppError> {
    let _op = state.projection.lab.begin(state).await;
    let due_hours = state.policy().duties().task_due_hours;
    let (list, tasks, grid) = {
        let lab = state.projection.lab.lock();
        let people = read(&state.projection.people);
        let dose_bits = read(&state.projection.lab.doses);
        let (ty, tm, td) = xikang_domain::testing::civil_of(day);
        let covered: Vec<bool> = state
            .projection
            .communities
            .all()
            .iter()
            .map(|c| area.contains(c))
            .collect();
        let mut by_cell: BTreeMap<GridCell, Vec<PersonId>> = BTreeMap::new();
        let mut tasks = Vec::new();
        let mut grid = Vec::new();
        let mut next = lab.next_task.max(1);
        for (i, slot) in people.iter().enumerate() {
            if !covered
                .get(slot.community as usize)
                .copied()
                .unwrap_or(false)
            {
                continue;
            }
            let born = lab.births.get(i).copied().unwrap_or(0);
            if born == 0 {
                continue;
            }
            let (y, m, d) = unpack_birth(born);
            let mut age = ty - y;
            if (tm, td) < (m, d) {
                age -= 1;
            }
            let status = VaccinationStatus {
                doses: highest_dose(dose_bits.get(i).copied().unwrap_or(0)),
            };
            if !AgeBand::of_age(age).is_60_plus() || status.full_course() {
                continue;
            }
            let p = PersonId(i as u32);
            by_cell.entry(slot.home_cell).or_default().push(p);
            let has_task = lab
                .open_tasks
                .get(&p)
                .is_some_and(|ts| ts.iter().any(|t| t.kind == TaskKind::VaccinationOutreach));
            if create && !has_task {
                tasks.push(LabTask {
                    id: next,
                    person: p,
                    kind: TaskKind::VaccinationOutreach,
                    tube: None,
                    created_at: now,
                    done_at: None,
                });
                grid.push(xikang_store::NewTask {
                    cell: slot.home_cell,
                    kind: xikang_domain::duties::TaskKind::VaccinationOutreach,
                    person: Some(p),
                    household: None,
                    detail: format!("offer {p} a vaccination (60+, no full course)"),
                    created_at: now,
                    due_at: now.plus(i64::from(due_hours) * 3600),
                    dedupe: Some(outreach_task_key(next)),
                });
                next += 1;
            }
        }
        (by_cell.into_iter().collect::<Vec<_>>(), tasks, grid)
    };
    if !tasks.is_empty() {
        commit(
            state,
            LabWrite {
                tasks,
                duties: vec![xikang_store::DutyOp::InsertTasks(grid)],
                ..LabWrite::default()
            },
        )
        .await?;
    }
    Ok(list)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_band_by_birth_date_cutoffs_is_the_band_of_the_age_on_every_birthday_edge() {
        for &(ty, tm, td) in &[(2022, 7, 1), (2022, 1, 1), (2024, 2, 29), (2022, 12, 31)] {
            let bands_on = BandsOn::new(ty, tm, td);
            for y in (ty - 100)..=ty {
                for (m, d) in [
                    (1, 1),
                    (tm, td),
                    (tm, td.saturating_sub(1).max(1)),
                    (tm, (td + 1).min(31)),
                    (12, 31),
                    (2, 29),
                ] {
                    let (yy, mm, dd) = unpack_birth(pack_birth((y as i16, m, d)));
                    let mut age = ty - yy;
                    if (tm, td) < (mm, dd) {
                        age -= 1;
                    }
                    let expected = AgeBand::ALL
                        .iter()
                        .position(|b| *b == AgeBand::of_age(age))
                        .unwrap();
                    assert_eq!(
                        bands_on.index(pack_birth((y as i16, m, d))),
                        expected,
                        "born {y}-{m}-{d}, on {ty}-{tm}-{td}"
                    );
                }
            }
        }
    }
}
