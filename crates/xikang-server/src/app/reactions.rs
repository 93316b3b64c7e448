//! Reactions: what one feature's committed facts set off in another, declared in one place
//! instead of features calling each other. The committer runs them after it has applied
//! the events and released its lock, so a reaction commits through it like any command.
//!
//! - A case registered (a tracer's report, a positive single tube) inside a controlled
//!   zone proposes sealing the zone at once, not at the next sweep (duties). The case is
//!   recorded whatever happens here; a failure is logged and the sweep retries.

use crate::state::AppState;
use std::future::Future;
use std::pin::Pin;
use xikang_domain::PersonId;
use xikang_domain::event::{EventBody, StoredEvent};

/// The reactions to `events`, as one future (boxed: a reaction commits, and committing
/// reacts, so the future's type would otherwise contain itself).
pub(crate) fn to<'a>(
    state: &'a AppState,
    events: &'a [StoredEvent],
) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
    Box::pin(async move {
        let cases: Vec<PersonId> = events
            .iter()
            .filter_map(|e| match e.body {
                EventBody::CaseRegistered { person, .. } => Some(person),
                _ => None,
            })
            .collect();
        if cases.is_empty() {
            return;
        }
        if let Err(e) = crate::duties::propose_for_cases(state, &cases, crate::now()).await {
            tracing::warn!(error = ?e, "zone proposals after new cases failed; the sweep retries");
        }
    })
}
