//! Authorisation in one place: every command and query names the object it touches (a
//! person, a case, an area, a person's duties), and the functions here check the actor's
//! role *and* area against that object's area before anything else happens.
//!
//! A [`Scoped`] value is the proof: only this module makes one, so a command that takes a
//! `Scoped<PersonId>`, `Scoped<CaseRecord>`, `Scoped<OrderRecord>` or `Scoped<Appeal>`
//! cannot be reached without the check having been made. Commands whose objects are named
//! inside a batch or body check each right after parsing; the role × area matrix test
//! (`crates/xikang/tests/authorisation.rs`) calls every operation to prove it. New objects
//! get their check here, next to the others, not in a handler.

use crate::app::{Actor, Role};
use crate::error::{AppError, ItemError, item_err};
use crate::state::AppState;
use xikang_domain::{AreaCode, CaseId, EventSeq, GridCell, OrderId, PersonId, SiteId, VenueId};
use xikang_store::OrderRecord;

/// An object the actor was found allowed to touch. Made only by this module.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scoped<T>(T);

impl<T> Scoped<T> {
    /// The object.
    pub fn get(&self) -> &T {
        &self.0
    }

    /// The object, by value.
    pub fn into_inner(self) -> T {
        self.0
    }
}

/// Reading through the proof: a `Scoped<CaseRecord>` reads as the case.
impl<T> std::ops::Deref for Scoped<T> {
    type Target = T;

    fn deref(&self) -> &T {
        &self.0
    }
}

impl<T: Copy> Scoped<T> {
    /// The object, copied (ids).
    pub fn id(&self) -> T {
        self.0
    }
}

/// Whether `actor` may see a person who lives in `area`: staff inside their jurisdiction,
/// a resident only themselves; venue devices, site managers and carriers nobody.
fn may_see(actor: &Actor, person: PersonId, area: &AreaCode) -> bool {
    match actor.role {
        Role::Resident => actor.person == Some(person),
        Role::Admin | Role::Tracer | Role::GridWorker | Role::Lab => actor.covers(area),
        Role::VenueDevice | Role::SiteManager | Role::Carrier | Role::Enterprise => false,
    }
}

/// A person the actor may see (their record, code, results, vaccination): 404 for an
/// unknown person, 403 outside the actor's reach.
pub fn person(
    state: &AppState,
    actor: &Actor,
    person: PersonId,
) -> Result<Scoped<PersonId>, AppError> {
    let area = state
        .projection
        .person_area(person)
        .ok_or_else(|| AppError::not_found("unknown_person", format!("no person {person}")))?;
    if may_see(actor, person, &area) || guards(state, actor, person) {
        Ok(Scoped(person))
    } else {
        Err(AppError::Forbidden(
            "this person is outside your jurisdiction",
        ))
    }
}

/// A resident guardian holding the person's code (代领, docs/claim.md): they see the
/// dependant as the dependant would.
fn guards(state: &AppState, actor: &Actor, person: PersonId) -> bool {
    actor.role == Role::Resident
        && actor
            .person
            .is_some_and(|g| crate::state::read(&state.projection.credentials).guards(g, person))
}

/// An identity card whose holder the actor may see (docs/claim.md): 404 for an unknown card.
pub fn card(
    state: &AppState,
    actor: &Actor,
    card: EventSeq,
) -> Result<Scoped<crate::claim::Card>, AppError> {
    let c = crate::state::read(&state.projection.credentials)
        .cards
        .get(&card)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_card", format!("no card {card}")))?;
    person(state, actor, c.person)?;
    Ok(Scoped(c))
}

/// A guardian's hold on a dependant's code, for an actor who may see the dependant: 404 for
/// an unknown grant.
pub fn proxy(
    state: &AppState,
    actor: &Actor,
    grant: EventSeq,
) -> Result<Scoped<crate::claim::Proxy>, AppError> {
    let p = crate::state::read(&state.projection.credentials)
        .proxies
        .get(&grant)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_grant", format!("no grant {grant}")))?;
    person(state, actor, p.person)?;
    Ok(Scoped(p))
}

/// A person the actor may see, for pages that answer in words rather than with an
/// [`AppError`] (the token lookup page).
pub fn person_visible(state: &AppState, actor: &Actor, person: PersonId) -> bool {
    state
        .projection
        .person_area(person)
        .is_some_and(|area| may_see(actor, person, &area) || guards(state, actor, person))
}

/// An appeal against a colour whose person the actor may see: 404 for an unknown appeal.
pub fn appeal(
    state: &AppState,
    actor: &Actor,
    seq: EventSeq,
) -> Result<Scoped<crate::app::projection::Appeal>, AppError> {
    let appeal = crate::state::read(&state.projection.appeals)
        .get(&seq)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_appeal", format!("no appeal {seq}")))?;
    person(state, actor, appeal.person)?;
    Ok(Scoped(appeal))
}

/// A message of the board (docs/citizens.md): 404 for an unknown one, 403 unless the
/// actor is an admin whose area covers the message's (its department's district, or the
/// city for messages routed to the city).
pub fn message(
    state: &AppState,
    actor: &Actor,
    seq: EventSeq,
) -> Result<Scoped<crate::board::Message>, AppError> {
    let m = crate::state::read(&state.projection.board)
        .messages
        .get(&seq)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_message", format!("no message {seq}")))?;
    if actor.role == Role::Admin && actor.covers(&m.area) {
        Ok(Scoped(m))
    } else {
        Err(AppError::Forbidden(
            "this message is outside your jurisdiction",
        ))
    }
}

/// A filing to resume work (docs/citizens.md): 404 for an unknown one, 403 unless the actor
/// is an admin or grid worker whose area covers the enterprise's site, or the account of
/// the enterprise that filed it (its credit code, and the site inside the account's area).
pub fn filing(
    state: &AppState,
    actor: &Actor,
    seq: EventSeq,
) -> Result<Scoped<crate::board::Filing>, AppError> {
    let f = crate::state::read(&state.projection.board)
        .filings
        .get(&seq)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_filing", format!("no filing {seq}")))?;
    if enterprise_object(actor, &f.credit_code, &f.area) {
        Ok(Scoped(f))
    } else {
        Err(AppError::Forbidden(
            "this filing is outside your jurisdiction",
        ))
    }
}

/// Whether an object of an enterprise (its filing, its post on the supply–demand board),
/// lying in `area`, is the actor's to act on: the street's staff (admins and grid workers
/// whose area covers it) or the enterprise's own account (its credit code, inside the
/// account's area). Any other role, or an enterprise account of another enterprise: no.
pub fn enterprise_object(actor: &Actor, credit_code: &str, area: &AreaCode) -> bool {
    match actor.role {
        Role::Admin | Role::GridWorker => actor.covers(area),
        Role::Enterprise => actor.is_enterprise(credit_code) && actor.covers(area),
        Role::Tracer
        | Role::Lab
        | Role::VenueDevice
        | Role::Resident
        | Role::SiteManager
        | Role::Carrier => false,
    }
}

/// Who an enterprise's new object (a filing, a post) is for: staff may enter it for any
/// enterprise (the area is checked with the object); an enterprise's account only for
/// itself. 403 otherwise.
pub fn for_enterprise(actor: &Actor, credit_code: &str) -> Result<(), AppError> {
    match actor.role {
        Role::Admin | Role::GridWorker => Ok(()),
        Role::Enterprise if actor.is_enterprise(credit_code) => Ok(()),
        _ => Err(AppError::Forbidden(
            "an enterprise's account acts for its own enterprise only",
        )),
    }
}

/// A post on the supply–demand board the actor may close: 404 for an unknown one, 403
/// unless [`enterprise_object`] holds for it.
pub fn exchange_post(
    state: &AppState,
    actor: &Actor,
    seq: EventSeq,
) -> Result<Scoped<crate::board::exchange::Post>, AppError> {
    let p = crate::state::read(&state.projection.board)
        .exchange
        .iter()
        .find(|p| p.id == seq)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_post", format!("no post {seq}")))?;
    if enterprise_object(actor, &p.credit_code, &p.area) {
        Ok(Scoped(p))
    } else {
        Err(AppError::Forbidden(
            "this post is outside your jurisdiction or enterprise",
        ))
    }
}

/// The holder of a commuter pass an actor applies for (docs/cities.md): staff who may see
/// the person ([`person`]); an enterprise's account for a worker named on its latest filing
/// inside its area (its own employees, `403` for anyone else), and only with that filing
/// approved (`409 filing_not_approved`): passes follow resumption.
pub fn pass_holder(
    state: &AppState,
    actor: &Actor,
    holder: PersonId,
) -> Result<Scoped<PersonId>, AppError> {
    if actor.role != Role::Enterprise {
        return person(state, actor, holder);
    }
    let Some(code) = actor.enterprise.as_ref() else {
        return Err(AppError::Forbidden(
            "an enterprise's account names its enterprise",
        ));
    };
    let board = crate::state::read(&state.projection.board);
    let latest = board
        .latest
        .get(code.as_str())
        .and_then(|f| board.filings.get(f))
        .filter(|f| actor.covers(&f.area));
    match latest {
        Some(f) if f.workers.contains(&holder) => {
            if f.status == xikang_domain::enterprise::FilingStatus::Approved {
                Ok(Scoped(holder))
            } else {
                Err(AppError::Conflict {
                    code: "filing_not_approved",
                    message: "passes are applied for once the filing to resume work is approved"
                        .into(),
                })
            }
        }
        _ => Err(AppError::Forbidden(
            "an enterprise applies for passes for the workers of its own filing",
        )),
    }
}

/// Whether an actor may read a commuter pass: staff who may see its holder; an
/// enterprise's account the passes whose employer is its credit code.
pub fn pass_visible(state: &AppState, actor: &Actor, pass: &crate::cities::Pass) -> bool {
    match actor.role {
        Role::Enterprise => actor.is_enterprise(&pass.employer),
        _ => person_visible(state, actor, pass.person),
    }
}

/// An area (a district, community or round area) wholly inside the actor's jurisdiction.
pub fn area(actor: &Actor, area: AreaCode) -> Result<Scoped<AreaCode>, AppError> {
    if actor.covers(&area) {
        Ok(Scoped(area))
    } else {
        Err(AppError::Forbidden(
            "this area is outside your jurisdiction",
        ))
    }
}

/// Who may import the resident register: an admin of the city or of a district (a street's
/// admin keeps their street's people through the district). Each line is then checked with
/// [`register_area`].
pub fn register_import(actor: &Actor) -> Result<(), AppError> {
    actor.require(&[Role::Admin], "importing the resident register")?;
    if actor.area.as_str().len() == 6 {
        Ok(())
    } else {
        Err(AppError::Forbidden(
            "the resident register is imported by a city or district admin",
        ))
    }
}

/// A register line's community (and the community the person lived in before, if any)
/// inside the importer's area: a district admin cannot place people in, or take them out
/// of, another district. Refuses the line alone (`forbidden`).
pub fn register_area(actor: &Actor, community: &AreaCode) -> Result<(), ItemError> {
    if actor.covers(community) {
        Ok(())
    } else {
        Err(item_err(
            "forbidden",
            "this address (or the person's current one) is outside your jurisdiction",
        ))
    }
}

/// A case whose person lives inside the actor's jurisdiction (tracers and admins only).
pub fn case(
    state: &AppState,
    actor: &Actor,
    id: CaseId,
) -> Result<Scoped<crate::app::projection::CaseRecord>, AppError> {
    actor.require(&[Role::Tracer, Role::Admin], "reading cases")?;
    let c = state
        .projection
        .case(id)
        .ok_or_else(|| AppError::not_found("unknown_case", format!("no case {id}")))?;
    if state
        .projection
        .person_area(c.person)
        .is_some_and(|a| actor.covers(&a))
    {
        Ok(Scoped(c))
    } else {
        Err(AppError::Forbidden(
            "this case is outside your jurisdiction",
        ))
    }
}

/// A case the city CDC re-checks (复核): tracers and admins whose jurisdiction is a whole
/// city containing the case's person. A district's official screens; the re-check is the
/// city's, and by another official (`xikang_domain::case::next` checks that).
pub fn case_recheck(
    state: &AppState,
    actor: &Actor,
    id: CaseId,
) -> Result<Scoped<crate::app::projection::CaseRecord>, AppError> {
    let c = case(state, actor, id)?;
    // A city's code is `DD CC 00` (prefix of four digits); a district's or street's is longer.
    if actor.area.prefix().len() == 4 {
        Ok(c)
    } else {
        Err(AppError::Forbidden(
            "the re-check of a case is the city CDC's: a city-level official",
        ))
    }
}

/// The grid cells a grid worker is assigned to.
pub async fn cells_of(state: &AppState, actor: &Actor) -> Result<Vec<GridCell>, AppError> {
    let store = state.store.clone();
    let name = actor.name.clone();
    Ok(tokio::task::spawn_blocking(move || store.cells_of_worker(&name)).await??)
}

/// The quarantine sites a site manager manages.
pub async fn sites_of(state: &AppState, actor: &Actor) -> Result<Vec<SiteId>, AppError> {
    let store = state.store.clone();
    let sites = tokio::task::spawn_blocking(move || store.sites()).await??;
    Ok(sites
        .into_iter()
        .filter(|s| s.manager.as_deref() == Some(actor.name.as_str()))
        .map(|s| s.id)
        .collect())
}

/// A person whose duties (orders, reports, tasks) the actor may act on: staff in their
/// jurisdiction, a grid worker for residents of their cells, a site manager for people at
/// their site (`site`), a resident for themselves.
pub async fn duty_person(
    state: &AppState,
    actor: &Actor,
    person: PersonId,
    site: Option<SiteId>,
) -> Result<Scoped<PersonId>, AppError> {
    let unknown = || AppError::not_found("unknown_person", format!("no person {person}"));
    let area = state.projection.person_area(person).ok_or_else(unknown)?;
    let ok = match actor.role {
        Role::Admin | Role::Tracer => actor.covers(&area),
        Role::Resident => actor.person == Some(person),
        Role::GridWorker => {
            let cell = state.projection.home_cell(person).ok_or_else(unknown)?;
            cells_of(state, actor).await?.contains(&cell)
        }
        Role::SiteManager => match site {
            Some(s) => sites_of(state, actor).await?.contains(&s),
            None => false,
        },
        Role::Lab | Role::VenueDevice | Role::Carrier | Role::Enterprise => false,
    };
    if ok {
        Ok(Scoped(person))
    } else {
        Err(AppError::Forbidden(
            "this person is outside your cells, site or jurisdiction",
        ))
    }
}

/// A quarantine order whose person the actor may act on (see [`duty_person`]): 404 for an
/// unknown order.
pub async fn order(
    state: &AppState,
    actor: &Actor,
    id: OrderId,
) -> Result<Scoped<OrderRecord>, AppError> {
    let store = state.store.clone();
    let o = tokio::task::spawn_blocking(move || store.order(id))
        .await??
        .ok_or_else(|| AppError::not_found("unknown_order", format!("no order {id}")))?;
    duty_person(state, actor, o.person, o.site).await?;
    Ok(Scoped(o))
}

/// Whether the person lives inside the actor's jurisdiction (for batch items, which are
/// refused one by one rather than with an [`AppError`]).
pub fn person_in_area(state: &AppState, actor: &Actor, person: PersonId) -> bool {
    state
        .projection
        .person_area(person)
        .is_some_and(|a| actor.covers(&a))
}

/// A venue inside the actor's jurisdiction: 404 for an unknown venue.
pub fn venue(state: &AppState, actor: &Actor, id: VenueId) -> Result<Scoped<VenueId>, AppError> {
    let v = state
        .projection
        .venues
        .get(id)
        .ok_or_else(|| AppError::not_found("unknown_venue", format!("no venue {id}")))?;
    if actor.covers(&v.area) {
        Ok(Scoped(id))
    } else {
        Err(AppError::Forbidden(
            "this venue is outside your jurisdiction",
        ))
    }
}

/// Fails unless every one of `cells` that is in the grid lies in the actor's jurisdiction.
pub async fn cells(state: &AppState, actor: &Actor, cells: &[GridCell]) -> Result<(), AppError> {
    let store = state.store.clone();
    let grid = tokio::task::spawn_blocking(move || store.grid_cells()).await??;
    if grid
        .iter()
        .any(|c| cells.contains(&c.cell) && !actor.covers(&c.community))
    {
        return Err(AppError::Forbidden("a cell lies outside your jurisdiction"));
    }
    Ok(())
}

/// A quarantine site inside the actor's jurisdiction, as the place a person is sent to (an
/// order's site, a transfer's destination, an arrival's site): 404 for an unknown site.
/// Checking the person alone let a district official fill another district's site.
pub async fn site(state: &AppState, actor: &Actor, id: SiteId) -> Result<Scoped<SiteId>, AppError> {
    let store = state.store.clone();
    let sites = tokio::task::spawn_blocking(move || store.sites()).await??;
    let site = sites
        .iter()
        .find(|s| s.id == id)
        .ok_or_else(|| AppError::not_found("unknown_site", "no such site"))?;
    if actor.covers(&site.area) {
        Ok(Scoped(id))
    } else {
        Err(AppError::Forbidden(
            "this quarantine site is outside your jurisdiction",
        ))
    }
}

/// What a new token stands for lies inside the token's area (which the caller has already
/// been found to cover): its venue, for a device, and its person, for a resident. A pinned
/// device scans for its venue and a resident sees their person whatever the token's area,
/// so without this a district admin could issue either for another district.
pub fn token_subject(
    state: &AppState,
    area: &AreaCode,
    venue: Option<VenueId>,
    person: Option<PersonId>,
) -> Result<(), AppError> {
    if let Some(v) = venue
        && !state
            .projection
            .venues
            .get(v)
            .is_some_and(|v| area.contains(&v.area))
    {
        return Err(AppError::Forbidden(
            "the token's venue is outside the token's area",
        ));
    }
    if let Some(p) = person
        && !state
            .projection
            .person_area(p)
            .is_some_and(|a| area.contains(&a))
    {
        return Err(AppError::Forbidden(
            "the token's person lives outside the token's area",
        ));
    }
    Ok(())
}

/// The whole authority log (its events, its chain's verification): a city-level admin only.
/// The log is one hash chain over the whole city; a district's share of it could not be
/// verified on its own (each event's hash covers the one before, whoever it was about), and
/// events such as zones and policy activations belong to no district, so it is not filtered
/// by area but kept to the admin whose area is the whole jurisdiction.
pub fn whole_log(state: &AppState, actor: &Actor) -> Result<(), AppError> {
    actor.require(&[Role::Admin], "reading the authority log")?;
    whole_city(
        state,
        actor,
        "the authority log is kept to a city-level admin",
    )
}

/// Whatever belongs to the whole city rather than a district (the authority log, policy
/// versions and their activation): the caller's area must be the whole jurisdiction.
pub fn whole_city(state: &AppState, actor: &Actor, refusal: &'static str) -> Result<(), AppError> {
    let city =
        AreaCode::parse(&state.config.jurisdiction).map_err(|_| AppError::Forbidden(refusal))?;
    if actor.covers(&city) {
        Ok(())
    } else {
        Err(AppError::Forbidden(refusal))
    }
}
