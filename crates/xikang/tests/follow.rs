//! The projection follows the committed log: a second process on the same store (another
//! node, later) reaches the same colours by reading the log in sequence order.

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failure should fail the test at once"
)]

mod common;

use common::*;
use xikang_domain::event::{CaseKind, EventBody, NewEvent};
use xikang_domain::policy::Policy;
use xikang_domain::{CaseId, Colour, PersonId};
use xikang_server::ServerConfig;
use xikang_server::state::AppState;

fn second_process(app: &TestApp) -> AppState {
    AppState::load(
        app.store.clone(),
        ServerConfig::default(),
        Policy::default_policy(),
        &xikang_server::state::policy_sha256(xikang_domain::policy::DEFAULT_POLICY_TOML),
        xikang_server::now(),
    )
    .unwrap()
}

fn colour(state: &AppState, p: PersonId) -> Colour {
    state.evaluate(p, xikang_server::now()).unwrap().0.colour
}

fn event(body: EventBody) -> NewEvent {
    NewEvent {
        at: xikang_server::now(),
        actor: "tracer:test".into(),
        basis: "test".into(),
        body,
    }
}

fn appeal(person: PersonId) -> EventBody {
    EventBody::AppealFiled {
        person,
        reason: "test".into(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_process_on_the_same_store_follows_the_log_to_the_same_colours() {
    let app = spawn_app().await;
    let other = second_process(&app);
    let p = (0..PEOPLE)
        .map(PersonId)
        .find(|p| colour(&other, *p) == Colour::Green)
        .expect("a green resident");

    // One process registers a confirmed case; the other sees it once it follows the log.
    app.state
        .record(vec![event(EventBody::CaseRegistered {
            case: CaseId(1),
            person: p,
            case_kind: CaseKind::Confirmed,
            onset: None,
            sampled_at: Some(xikang_server::now()),
            isolated_at: None,
        })])
        .await
        .unwrap();
    assert_eq!(colour(&app.state, p), Colour::Red);
    assert_eq!(colour(&other, p), Colour::Green, "not followed yet");
    assert_eq!(other.follow_log().await.unwrap(), 1);
    assert_eq!(colour(&other, p), Colour::Red);
    assert!(other.projection.case(CaseId(1)).is_some());
    assert_eq!(
        other.follow_log().await.unwrap(),
        0,
        "nothing is applied twice"
    );

    // When the other process commits without following first, it applies what the first
    // appended before its own event: its projection has both, in log order.
    let (a, b) = (PersonId(p.0 ^ 1), PersonId(p.0 ^ 2));
    app.state.record(vec![event(appeal(a))]).await.unwrap();
    let mine = other.record(vec![event(appeal(b))]).await.unwrap();
    let appealed: Vec<PersonId> = xikang_server::state::read(&other.projection.appeals)
        .values()
        .map(|x| x.person)
        .collect();
    assert_eq!(appealed, [a, b]);
    assert_eq!(other.projection.applied(), mine[0].seq);
    // And the first process, following in turn, holds the same appeals.
    assert_eq!(app.state.follow_log().await.unwrap(), 1);
    let theirs: Vec<PersonId> = xikang_server::state::read(&app.state.projection.appeals)
        .values()
        .map(|x| x.person)
        .collect();
    assert_eq!(theirs, appealed);
}
