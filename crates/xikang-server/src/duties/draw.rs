//! Zones drawn by hand (issue 14): drawing is a proposal that changes nothing until a
//! second official approves it; the approval draws the zone, its `ZoneSet` event naming
//! both officials, and its tasks in one commit.

use super::zones::{ZoneOutcome, is_sealing, residents_in, sealing_tasks};
use super::*;
use xikang_domain::authority::{Act, ApprovedBasis, Authority, Evidence, authority};

/// A zone drawn by hand, as its proposal keeps it until a second official approves it (the
/// `conditions` of a [`ProposalAction::Draw`] proposal).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct ZoneDraft {
    pub cells: Vec<GridCell>,
    pub name: String,
}

/// Draws a zone over grid cells: the zone row, its `ZoneSet` event (which recolours every
/// resident through the policy) and, for a sealed or high zone, its tasks, in one commit
/// with `decide` (the approval of the proposal that drew it). `basis` is the event's basis:
/// who proposed and who approved.
#[expect(
    clippy::too_many_arguments,
    reason = "the approved draft, its approval and the time, each already validated"
)]
pub async fn draw_zone(
    state: &AppState,
    id: ZoneId,
    actor: String,
    draft: &ZoneDraft,
    level: ZoneLevel,
    now: Timestamp,
    basis: String,
    decide: Vec<DutyOp>,
) -> Result<ZoneOutcome, AppError> {
    let cells = draft.cells.clone();
    let name = draft.name.clone();
    let set: HashSet<GridCell> = cells.iter().copied().collect();
    let (tasks, households) = if is_sealing(level) {
        sealing_tasks(state, id, &cells, now).await?
    } else {
        (Vec::new(), 0)
    };
    let n_tasks = tasks.len();
    let zone = ZoneRecord {
        id,
        name: name.clone(),
        level,
        cells: cells.clone(),
        since: now,
        drawn_by: actor.clone(),
        lifted_at: None,
    };
    let event = NewEvent {
        at: now,
        actor,
        basis,
        body: EventBody::ZoneSet {
            zone: id,
            level,
            cells: cells.clone(),
            name,
        },
    };
    let mut ops = decide;
    ops.push(DutyOp::PutZone(zone));
    ops.push(DutyOp::InsertTasks(tasks));
    commit(state, ops, vec![event]).await?;
    Ok(ZoneOutcome {
        zone: id.to_string(),
        level: xikang_domain::duties::variant_name(&level),
        cells: cells.len(),
        residents: residents_in(state, &set),
        households,
        tasks: n_tasks,
    })
}

/// Proposes a zone drawn by hand: nothing changes (no zone, no colour) until a second
/// official approves the proposal ([`approve_proposal`]). The zone's id is reserved now.
pub async fn propose_draw(
    state: &AppState,
    proposer: String,
    draft: ZoneDraft,
    level: ZoneLevel,
    now: Timestamp,
) -> Result<ProposalRecord, AppError> {
    match authority(Act::DrawZone, &Evidence::default()) {
        Authority::Proposal(_) => {}
        // The domain makes every hand-drawn zone a proposal; anything else is refused.
        Authority::Cites { .. } | Authority::Refused(_) => {
            return Err(conflict(
                "evidence_required",
                "a zone drawn by hand needs a second official",
            ));
        }
    }
    let store = state.store.clone();
    let zone = ZoneId(blocking(move || store.next_duty_id("zone")).await?);
    super::zones::insert_proposal(
        state,
        zone,
        ProposalAction::Draw,
        Some(level),
        serde_json::to_string(&draft).unwrap_or_default(),
        proposer,
        now,
    )
    .await
}

/// The answer to `POST /zones`: the proposal a second official must approve (fields in
/// alphabetical order).
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DrawProposedOut {
    pub cells: usize,
    pub level: String,
    pub proposal: String,
    /// Residents whose colour the zone would change once approved.
    pub residents: usize,
    pub status: &'static str,
    /// The id the zone will have.
    pub zone: String,
}

/// The drawn zone of a [`ProposalAction::Draw`] proposal.
pub(super) fn draft_of(p: &ProposalRecord) -> Option<ZoneDraft> {
    serde_json::from_str(&p.conditions).ok()
}

/// Approves a zone drawn by hand: the zone takes effect now, its event's basis naming both
/// officials.
pub(super) async fn approve_draw(
    state: &AppState,
    proposal: &ProposalRecord,
    approver: String,
    now: Timestamp,
) -> Result<ApprovedOut, AppError> {
    let (Some(draft), Some(level)) = (draft_of(proposal), proposal.to_level) else {
        return Err(conflict(
            "proposal_unreadable",
            "the drawn zone of this proposal cannot be read; nothing was changed",
        ));
    };
    let basis = serde_json::to_string(&ApprovedBasis {
        act: "draw".into(),
        approver: approver.clone(),
        basis: None,
        proposal: proposal.id.to_string(),
        proposer: proposal.proposer.clone(),
    })
    .unwrap_or_default();
    let decide = DutyOp::DecideProposal {
        proposal: proposal.id,
        status: ProposalStatus::Approved,
        by: approver.clone(),
        at: now,
    };
    let out = draw_zone(
        state,
        proposal.zone,
        approver,
        &draft,
        level,
        now,
        basis,
        vec![decide],
    )
    .await?;
    Ok(ApprovedOut {
        approved: true,
        proposal: proposal.id.to_string(),
        residents: out.residents,
        tasks: out.tasks,
        zone: out.zone,
    })
}
