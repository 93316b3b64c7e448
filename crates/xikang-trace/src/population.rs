//! What tracing needs to know about people and venues besides the scans: who lives
//! together, who works together (and at which venue they scan in), and how long people stay
//! at each venue when they do not scan out.

use xikang_domain::policy::Policy;
use xikang_domain::{HouseholdId, Person, PersonId, Venue, VenueCategory, VenueId, WorkplaceId};

const NONE: u32 = u32::MAX;
/// In the close-contact table: the venue rule takes the tracing policy's
/// `close_contact_minutes` here (0 is never a category's own rule: that is at least a minute).
const INHERIT: u32 = 0;
/// In the close-contact table: co-presence here makes no close contact.
const NEVER: u32 = u32::MAX;

/// Households and workplaces with their members (CSR: one offsets array, one members
/// array), each workplace's venue, and each venue's dwell time. About 30 bytes a person.
#[derive(Debug, Clone)]
pub struct Population {
    household_of: Vec<u32>,
    household_offs: Vec<u32>,
    household_members: Vec<u32>,
    workplace_of: Vec<u32>,
    workplace_offs: Vec<u32>,
    workplace_members: Vec<u32>,
    workplace_venue: Vec<u32>,
    venue_dwell: Vec<u32>,
    default_dwell: u32,
    /// Per venue, the overlap in seconds that makes a close contact there ([`INHERIT`],
    /// [`NEVER`] or seconds); venues beyond the table get `default_close`.
    venue_close: Vec<u32>,
    default_close: u32,
}

/// Input that cannot describe a population.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PopulationError {
    /// People must be listed by id, densely from 0.
    #[error("person at position {position} has id {id}: people must be listed densely by id")]
    NotDense { position: usize, id: PersonId },
    /// The per-person lists differ in length.
    #[error("{households} households but {workplaces} workplaces given for the people")]
    LengthMismatch {
        households: usize,
        workplaces: usize,
    },
    /// A household or workplace id far beyond the number of people.
    #[error("{what} id {id} is out of range (ids must be dense, below {limit})")]
    IdOutOfRange {
        what: &'static str,
        id: u32,
        limit: u64,
    },
}

/// Groups `of[p]` (`NONE` = no group) into CSR.
fn csr(of: &[u32], what: &'static str) -> Result<(Vec<u32>, Vec<u32>), PopulationError> {
    let limit = of.len() as u64 * 4 + 1_024;
    let groups = match of.iter().filter(|&&g| g != NONE).max() {
        Some(&m) if u64::from(m) >= limit => {
            return Err(PopulationError::IdOutOfRange { what, id: m, limit });
        }
        Some(&m) => m as usize + 1,
        None => 0,
    };
    let mut offs = vec![0u32; groups + 1];
    for &g in of.iter().filter(|&&g| g != NONE) {
        offs[g as usize + 1] += 1;
    }
    for i in 1..offs.len() {
        offs[i] += offs[i - 1];
    }
    let mut cursor = offs.clone();
    let mut members = vec![0u32; offs[groups] as usize];
    for (p, &g) in of.iter().enumerate() {
        if g != NONE {
            let slot = &mut cursor[g as usize];
            members[*slot as usize] = p as u32;
            *slot += 1;
        }
    }
    Ok((offs, members))
}

impl Population {
    /// Builds a population. `households[p]` and `workplaces[p]` belong to person `p`;
    /// `workplace_venues[w]` is where workplace `w`'s people scan in (if it has such a venue);
    /// `venue_dwell_secs[v]` is how long presence at venue `v` lasts after a scan without an
    /// exit scan, and venues beyond that table get `default_dwell_secs`.
    pub fn new(
        households: &[HouseholdId],
        workplaces: &[Option<WorkplaceId>],
        workplace_venues: &[Option<VenueId>],
        venue_dwell_secs: Vec<u32>,
        default_dwell_secs: u32,
    ) -> Result<Population, PopulationError> {
        if households.len() != workplaces.len() {
            return Err(PopulationError::LengthMismatch {
                households: households.len(),
                workplaces: workplaces.len(),
            });
        }
        let household_of: Vec<u32> = households.iter().map(|h| h.0).collect();
        let workplace_of: Vec<u32> = workplaces.iter().map(|w| w.map_or(NONE, |w| w.0)).collect();
        let (household_offs, household_members) = csr(&household_of, "household")?;
        let (workplace_offs, workplace_members) = csr(&workplace_of, "workplace")?;
        Ok(Population {
            household_of,
            household_offs,
            household_members,
            workplace_of,
            workplace_offs,
            workplace_members,
            workplace_venue: workplace_venues
                .iter()
                .map(|v| v.map_or(NONE, |v| v.0))
                .collect(),
            venue_dwell: venue_dwell_secs,
            default_dwell: default_dwell_secs,
            venue_close: Vec::new(),
            default_close: INHERIT,
        })
    }

    /// The same population with a close-contact rule per venue (the policy's
    /// `close_contacts` and `close_contact_minutes` per venue category):
    /// `close_secs[v]` is the overlap in seconds at venue `v` that makes a close contact,
    /// `None` where co-presence makes none; venues beyond the table get `default_secs`.
    /// Without it, every venue takes the tracing policy's `close_contact_minutes`.
    pub fn with_close_contact_rule(
        mut self,
        close_secs: &[Option<u32>],
        default_secs: Option<u32>,
    ) -> Population {
        let code = |s: Option<u32>| s.map_or(NEVER, |s| s.clamp(1, NEVER - 1));
        self.venue_close = close_secs.iter().map(|&s| code(s)).collect();
        self.default_close = code(default_secs);
        self
    }

    /// Builds a population from the model: people listed by id from 0, each workplace's
    /// venue (indexed by workplace id), the venues (indexed by venue id) and the policy that
    /// gives each venue category its dwell time.
    pub fn from_model(
        people: &[Person],
        workplace_venues: &[Option<VenueId>],
        venues: &[Venue],
        policy: &Policy,
    ) -> Result<Population, PopulationError> {
        if let Some((position, p)) = people
            .iter()
            .enumerate()
            .find(|(i, p)| p.id.0 as usize != *i)
        {
            return Err(PopulationError::NotDense { position, id: p.id });
        }
        let households: Vec<HouseholdId> = people.iter().map(|p| p.household).collect();
        let workplaces: Vec<Option<WorkplaceId>> = people.iter().map(|p| p.workplace).collect();
        Ok(
            Population::new(&households, &workplaces, workplace_venues, Vec::new(), 0)?
                .with_venue_rules(policy, venues.iter().map(|v| (v.id, &v.category))),
        )
    }

    /// The same population with each venue's dwell time and close-contact rule taken from
    /// `policy` by the venue's category: at start, and again when another policy comes
    /// into force, so that a new edition's venue rules apply without a restart.
    pub fn with_venue_rules<'a>(
        mut self,
        policy: &Policy,
        venues: impl IntoIterator<Item = (VenueId, &'a VenueCategory)>,
    ) -> Population {
        let default_dwell = policy.default_dwell_secs();
        let default_close = policy.default_close_contact_secs();
        let (mut dwell, mut close) = (Vec::new(), Vec::new());
        for (id, category) in venues {
            let i = id.0 as usize;
            if dwell.len() <= i {
                dwell.resize(i + 1, default_dwell);
                close.resize(i + 1, default_close);
            }
            dwell[i] = policy.dwell_secs(category);
            close[i] = policy.close_contact_secs(category);
        }
        self.venue_dwell = dwell;
        self.default_dwell = default_dwell;
        self.with_close_contact_rule(&close, default_close)
    }

    /// The same population after the resident register placed people in households: each
    /// `(person, household)` sets that person's household, and a person past the last gets
    /// an id of their own with no workplace. The household groups are rebuilt (linear in
    /// the population); workplaces are untouched.
    pub fn with_households(
        &self,
        placed: &[(PersonId, HouseholdId)],
    ) -> Result<Population, PopulationError> {
        let mut household_of = self.household_of.clone();
        let mut workplace_of = self.workplace_of.clone();
        for &(person, household) in placed {
            let i = person.0 as usize;
            if i >= household_of.len() {
                household_of.resize(i + 1, NONE);
                workplace_of.resize(i + 1, NONE);
            }
            household_of[i] = household.0;
        }
        let (household_offs, household_members) = csr(&household_of, "household")?;
        Ok(Population {
            household_of,
            household_offs,
            household_members,
            workplace_of,
            workplace_offs: self.workplace_offs.clone(),
            workplace_members: self.workplace_members.clone(),
            workplace_venue: self.workplace_venue.clone(),
            venue_dwell: self.venue_dwell.clone(),
            default_dwell: self.default_dwell,
            venue_close: self.venue_close.clone(),
            default_close: self.default_close,
        })
    }

    /// Number of people.
    pub fn people(&self) -> usize {
        self.household_of.len()
    }

    /// Whether `person` is one of this population's people.
    pub fn contains(&self, person: PersonId) -> bool {
        (person.0 as usize) < self.people()
    }

    /// The members of `person`'s household, `person` included.
    pub fn household_members(&self, person: PersonId) -> &[u32] {
        group(
            &self.household_of,
            &self.household_offs,
            &self.household_members,
            person,
        )
    }

    /// The people of `person`'s workplace, `person` included; empty without a workplace.
    pub fn workplace_members(&self, person: PersonId) -> &[u32] {
        group(
            &self.workplace_of,
            &self.workplace_offs,
            &self.workplace_members,
            person,
        )
    }

    /// The venue where `person`'s workplace scans people in, if any.
    pub fn workplace_venue(&self, person: PersonId) -> Option<VenueId> {
        let w = *self.workplace_of.get(person.0 as usize)?;
        let v = *self.workplace_venue.get(w as usize)?;
        (v != NONE).then_some(VenueId(v))
    }

    /// Seconds of presence after a scan without exit scan at `venue`.
    pub fn dwell_secs(&self, venue: u32) -> i64 {
        i64::from(
            self.venue_dwell
                .get(venue as usize)
                .copied()
                .unwrap_or(self.default_dwell),
        )
    }

    /// The overlap in seconds at `venue` that makes a close contact by the venue rule, given
    /// the tracing policy's (`inherited`); `None` where co-presence makes none. One table
    /// lookup: tracing asks it once per venue of the case.
    pub fn close_contact_secs(&self, venue: u32, inherited: i64) -> Option<i64> {
        match self
            .venue_close
            .get(venue as usize)
            .copied()
            .unwrap_or(self.default_close)
        {
            INHERIT => Some(inherited),
            NEVER => None,
            secs => Some(i64::from(secs)),
        }
    }

    /// The longest dwell of any venue.
    pub(crate) fn max_dwell_secs(&self) -> i64 {
        i64::from(
            self.venue_dwell
                .iter()
                .copied()
                .max()
                .unwrap_or(0)
                .max(self.default_dwell),
        )
    }
}

fn group<'a>(of: &[u32], offs: &[u32], members: &'a [u32], person: PersonId) -> &'a [u32] {
    match of.get(person.0 as usize) {
        Some(&g) if g != NONE => {
            let (lo, hi) = (offs[g as usize] as usize, offs[g as usize + 1] as usize);
            &members[lo..hi]
        }
        _ => &[],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn people_placed_by_the_register_join_their_household_and_leave_the_old_one() {
        let h = |n| HouseholdId(n);
        let p = Population::new(&[h(0), h(0), h(1)], &[None, None, None], &[], vec![], 60)
            .expect("population");
        // Person 1 moves to household 1; a newcomer 4 (3 is no one) joins household 0.
        let q = p
            .with_households(&[(PersonId(1), h(1)), (PersonId(4), h(0))])
            .expect("placed");
        assert_eq!(q.people(), 5);
        assert_eq!(q.household_members(PersonId(0)), &[0, 4]);
        assert_eq!(q.household_members(PersonId(2)), &[1, 2]);
        assert!(q.household_members(PersonId(3)).is_empty());
        assert_eq!(q.workplace_venue(PersonId(4)), None);
        // The original is untouched.
        assert_eq!(p.household_members(PersonId(0)), &[0, 1]);
    }
}
