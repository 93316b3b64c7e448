//! Households and the people in them: sizes as the 2020 census has them, members of
//! consistent ages, each person's role (pupil, worker, retired…), the sequence numbers of
//! their ID numbers and a phone for most adults.

use super::{Member, Role};
use crate::rng::Rng;
use xikang_domain::mask::PhoneNumber;

/// Household sizes 1–5, roughly the 2020 census shares (average ≈ 2.6).
pub(super) fn household_size(rng: &mut Rng) -> usize {
    rng.weighted(&[25, 30, 21, 13, 11]) + 1
}

/// Members of a household of `size`: a couple with children, grandparents, a single person…
/// Ages are consistent (parents 24–34 years older than their children).
pub(super) fn compose_household(rng: &mut Rng, size: usize) -> ([Member; 5], usize) {
    let mut out = [Member {
        age: 0,
        male: false,
        paternal: true,
    }; 5];
    let mut len = 0;
    let mut push = |age: u32, male: bool, paternal: bool| {
        if len < 5 {
            out[len] = Member {
                age: age.min(99) as u8,
                male,
                paternal,
            };
            len += 1;
        }
    };
    let adult_age = |rng: &mut Rng| match rng.weighted(&[45, 20, 35]) {
        0 => rng.range(20, 39),
        1 => rng.range(40, 59),
        _ => rng.range(60, 92),
    };
    let head_male = rng.chance(0.5);
    match size {
        1 => push(adult_age(rng), head_male, true),
        2 if rng.chance(0.65) => {
            let a = if rng.chance(0.4) {
                rng.range(22, 35)
            } else {
                rng.range(50, 88)
            };
            push(a, head_male, true);
            push(
                (a + rng.range(0, 6)).saturating_sub(3).max(20),
                !head_male,
                false,
            );
        }
        2 => {
            let child = rng.range(0, 30);
            push(child + rng.range(24, 36), head_male, true);
            push(child, rng.chance(0.5), true);
        }
        3 if rng.chance(0.7) => {
            let child = rng.range(0, 24);
            let a = child + rng.range(24, 34);
            couple(&mut push, rng, a);
            push(child, rng.chance(0.5), true);
        }
        3 => {
            let a = rng.range(30, 55);
            couple(&mut push, rng, a);
            push(a + rng.range(24, 32), rng.chance(0.45), true);
        }
        4 if rng.chance(0.5) => {
            let younger = rng.range(0, 16);
            let older = younger + rng.range(1, 6);
            let a = older + rng.range(24, 34);
            couple(&mut push, rng, a);
            push(older, rng.chance(0.5), true);
            push(younger, rng.chance(0.5), true);
        }
        4 => {
            let child = rng.range(0, 18);
            let a = child + rng.range(24, 34);
            couple(&mut push, rng, a);
            push(child, rng.chance(0.5), true);
            push(a + rng.range(24, 32), rng.chance(0.45), true);
        }
        _ if rng.chance(0.7) => {
            let child = rng.range(0, 16);
            let a = child + rng.range(24, 34);
            couple(&mut push, rng, a);
            push(child, rng.chance(0.5), true);
            let g = a + rng.range(24, 32);
            push(g, true, true);
            push(g.saturating_sub(2), false, false);
        }
        _ => {
            let younger = rng.range(0, 14);
            let older = younger + rng.range(1, 6);
            let a = older + rng.range(24, 34);
            couple(&mut push, rng, a);
            push(older, rng.chance(0.5), true);
            push(younger, rng.chance(0.5), true);
            push(a + rng.range(24, 32), rng.chance(0.45), true);
        }
    }
    (out, len)
}

/// A married couple: the husband carries the household's family name, the wife keeps hers.
fn couple(push: &mut impl FnMut(u32, bool, bool), rng: &mut Rng, husband_age: u32) {
    push(husband_age, true, true);
    push(
        (husband_age + rng.range(0, 5)).saturating_sub(3).max(20),
        false,
        false,
    );
}

pub(super) fn role_for(rng: &mut Rng, age: u8) -> Role {
    match age {
        0..=2 => Role::Infant,
        3..=17 => Role::Pupil,
        18..=21 if rng.chance(0.45) => Role::Student,
        18..=59 if rng.chance(0.86) => Role::Worker,
        18..=59 => Role::Homemaker,
        60..=64 if rng.chance(0.15) => Role::Worker,
        _ => Role::Retired,
    }
}

/// The next free ID-number sequence for a birth day and sex (odd for men, even for women),
/// moving to a neighbouring birth day when all 500 of that day are taken, so that two
/// residents can never share a number.
pub(crate) fn take_sequence(counters: &mut [[u16; 2]], index: usize, male: bool) -> (usize, u16) {
    let sex = usize::from(male);
    let cap = if male { 500 } else { 499 };
    for step in 0..counters.len() {
        // 0, +1, -1, +2, -2 …
        let offset = (step as isize + 1) / 2 * if step % 2 == 0 { -1 } else { 1 };
        let Some(i) = index
            .checked_add_signed(offset)
            .filter(|&i| i < counters.len())
        else {
            continue;
        };
        let c = &mut counters[i][sex];
        if *c < cap {
            let seq = if male { *c * 2 + 1 } else { *c * 2 + 2 };
            *c += 1;
            return (i, seq);
        }
    }
    unreachable!("more residents than ID numbers in a district")
}

/// Most adults have a mobile number, some teenagers, no children. Numbers are made unique by
/// deriving the last eight digits from the person's index with a bijection of 0..10^8.
pub(super) fn phone_for(rng: &mut Rng, age: u8, person: u32, seed: u64) -> Option<PhoneNumber> {
    let has = match age {
        0..=11 => false,
        12..=17 => rng.chance(0.6),
        18..=74 => rng.chance(0.97),
        _ => rng.chance(0.75),
    };
    if !has {
        return None;
    }
    const PREFIXES: [u16; 26] = [
        130, 131, 132, 133, 134, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155, 156, 157, 158,
        159, 180, 181, 182, 183, 187, 188, 189,
    ];
    let prefix = PREFIXES[rng.below(PREFIXES.len() as u32) as usize];
    // 48_271 is coprime to 10^8, so person ↦ suffix is one-to-one below 10^8 people.
    let suffix = (u64::from(person) * 48_271 + seed % 100_000_000) % 100_000_000;
    PhoneNumber::parse(&format!("{prefix}{suffix:08}")).ok()
}
