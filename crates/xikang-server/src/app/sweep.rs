//! The sweep: the work nobody asks for but the rules require, every ten minutes (and on
//! `POST /duties/sweep`). It is here, above the features, because it crosses them: missed
//! daily reports become grid tasks (duties); missed test days (duties' schedules) are
//! recorded as missed mandated tests (lab); screening rounds past their deadline close and
//! their unsampled residents become tasks (lab); zone changes whose conditions hold are
//! proposed for an official to approve (duties); an approved policy version whose instant
//! passed is logged as activated (policies). No feature calls another for this.

use crate::duties::{self, SweepOut};
use crate::error::AppError;
use crate::state::AppState;
use std::sync::Arc;
use xikang_domain::Timestamp;

/// Runs the sweep every ten minutes until the process ends.
pub async fn every_ten_minutes(state: Arc<AppState>) {
    let mut every = tokio::time::interval(std::time::Duration::from_secs(600));
    loop {
        every.tick().await;
        if !state.node.holds_sweeps() {
            // Another node holds the sweep lease (docs/nodes.md) and writes what the sweep
            // decides. The silent-venue report is this node's own reading of its tracing
            // index (nothing is written): every node with the index keeps it, so any of them
            // answers `GET /venues/silent` with a report as fresh as the holder's.
            if let Err(e) = crate::board::venues::sweep_silent(&state, crate::now()).await {
                tracing::warn!(error = ?e, "silent-venue pass failed; will retry");
            }
            continue;
        }
        if let Err(e) = run(&state, crate::now()).await {
            tracing::warn!(error = ?e, "duty sweep failed; will retry");
        }
    }
}

/// One pass of the sweep at `now`, timed for the metrics.
pub async fn run(state: &AppState, now: Timestamp) -> Result<SweepOut, AppError> {
    let started = std::time::Instant::now();
    let result = pass(state, now).await;
    state
        .metrics
        .sweep
        .observe(started.elapsed().as_micros() as u64);
    if result.is_err() {
        state
            .metrics
            .sweep_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    result
}

async fn pass(state: &AppState, now: Timestamp) -> Result<SweepOut, AppError> {
    // An approved policy version whose instant passed is logged first: what follows runs
    // under it.
    crate::policies::record_due(state, now).await?;
    let missed = duties::sweep_missed_reports(state, now).await?;
    let days = duties::missed_test_days(state, now).await?;
    let tests = crate::lab::record_missed_tests(state, days, "system:test_schedules", now).await?;
    let rounds = crate::lab::close_due_rounds(state, now).await?;
    let proposals = duties::propose_zone_changes(state, now).await?;
    let escalated = crate::board::messages::escalate_overdue(state, now).await?;
    let silent = crate::board::venues::sweep_silent(state, now).await?;
    let items = crate::board::responsibility::escalate_overdue(state, now).await?;
    if missed + proposals > 0 || tests + rounds + escalated + items > 0 {
        tracing::info!(
            report_tasks = missed,
            missed_tests = tests,
            rounds_closed = rounds,
            proposals,
            messages_escalated = escalated,
            silent_venues = silent,
            items_escalated = items,
            "duty sweep"
        );
    }
    Ok(SweepOut {
        missed_report_tasks: missed,
        missed_scheduled_tests: tests,
        rounds_closed: rounds,
        zone_proposals: proposals,
        messages_escalated: escalated,
        silent_venues: silent,
        items_escalated: items,
    })
}
