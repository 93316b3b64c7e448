//! The duty writes, once for both dialects: each [`DutyOp`] applied inside the caller's
//! write transaction, with the refusals ([`ConflictKind`]) checked there, so a refused op
//! leaves no row and no event behind.

use super::decode::*;
use super::*;
// ---------------------------------------------------------------------------------------
// The writes.

/// Takes one place at `site`, or fails with [`ConflictKind::SiteFull`] (or `NotFound`).
fn take_place(sql: &mut dyn Sql, site: SiteId) -> Result<()> {
    let n = sql.exec(
        "update quarantine_sites set occupancy = occupancy + 1 where id = $1 and occupancy < capacity",
        &[u64_i(site.0)],
    )?;
    if n == 1 {
        return Ok(());
    }
    let exists = !sql
        .rows(
            "select id from quarantine_sites where id = $1",
            &[u64_i(site.0)],
        )?
        .is_empty();
    Err(if exists {
        StoreError::Conflict(ConflictKind::SiteFull)
    } else {
        StoreError::NotFound
    })
}

fn free_place(sql: &mut dyn Sql, site: SiteId) -> Result<()> {
    sql.exec(
        "update quarantine_sites set occupancy = occupancy - 1 where id = $1 and occupancy > 0",
        &[u64_i(site.0)],
    )?;
    Ok(())
}

fn active_order(sql: &mut dyn Sql, order: OrderId) -> Result<OrderRecord> {
    let o = one(
        sql.rows(
            &format!("select {ORDER_COLUMNS} from quarantine_orders where id = $1"),
            &[u64_i(order.0)],
        )?,
        order_of,
    )?
    .ok_or(StoreError::NotFound)?;
    if o.status != OrderStatus::Active {
        return Err(StoreError::Conflict(ConflictKind::OrderNotActive));
    }
    Ok(o)
}

/// Applies duty row changes inside the caller's write transaction: the duty store's own
/// commits, and the lab's writes that create or close grid tasks in the same transaction.
pub(crate) fn apply_ops(sql: &mut dyn Sql, ops: &[DutyOp]) -> Result<()> {
    ops.iter().try_for_each(|op| apply_op(sql, op))
}

fn apply_op(sql: &mut dyn Sql, op: &DutyOp) -> Result<()> {
    match op {
        DutyOp::InsertOrder(o) => {
            if let Some(site) = o.site {
                take_place(sql, site)?;
            }
            sql.exec(
                &format!(
                    "insert into quarantine_orders ({ORDER_COLUMNS}) values ({})",
                    placeholders(1, 12)
                ),
                &[
                    u64_i(o.id.0),
                    i(o.person.0),
                    t(&o.regime),
                    name(&o.kind),
                    name(&o.reason),
                    oi(o.site.map(|s| s.0 as i64)),
                    i(o.start.0),
                    i(o.planned_end.0),
                    oi(o.ended_at.map(|t| t.0)),
                    name(&o.status),
                    oi(o.follows.map(|f| f.0 as i64)),
                    i(i64::from(o.then_phase)),
                ],
            )?;
        }
        DutyOp::ExtendOrder { order, planned_end } => {
            active_order(sql, *order)?;
            sql.exec(
                "update quarantine_orders set planned_end = $1 where id = $2",
                &[i(planned_end.0), u64_i(order.0)],
            )?;
        }
        DutyOp::EndOrder { order, at, status } => {
            let o = active_order(sql, *order)?;
            sql.exec(
                "update quarantine_orders set ended_at = $1, status = $2 where id = $3",
                &[i(at.0), name(status), u64_i(order.0)],
            )?;
            if let Some(site) = o.site {
                free_place(sql, site)?;
            }
        }
        DutyOp::Transfer { order, to } => {
            let o = active_order(sql, *order)?;
            if o.site == Some(*to) {
                return Err(StoreError::Conflict(ConflictKind::SameSite));
            }
            take_place(sql, *to)?;
            if let Some(from) = o.site {
                free_place(sql, from)?;
            }
            sql.exec(
                "update quarantine_orders set site = $1 where id = $2",
                &[u64_i(to.0), u64_i(order.0)],
            )?;
        }
        DutyOp::InsertTasks(tasks) => {
            if tasks.is_empty() {
                return Ok(());
            }
            let first = reserve_ids(sql, "task", tasks.len() as u64)?;
            sql.insert_tasks(first, tasks)?;
        }
        DutyOp::CompleteTask { task, at, by, note } => {
            let n = sql.exec(
                "update grid_tasks set done_at = $1, done_by = $2, note = $3 where id = $4 and done_at is null",
                &[i(at.0), t(by), t(note), u64_i(task.0)],
            )?;
            if n == 0 {
                let exists = !sql
                    .rows("select id from grid_tasks where id = $1", &[u64_i(task.0)])?
                    .is_empty();
                return Err(if exists {
                    StoreError::Conflict(ConflictKind::TaskDone)
                } else {
                    StoreError::NotFound
                });
            }
        }
        DutyOp::CompleteByKey { keys, at, by, note } => {
            for k in keys {
                sql.exec(
                    "update grid_tasks set done_at = $1, done_by = $2, note = $3
                     where dedupe = $4 and done_at is null",
                    &[i(at.0), t(by), t(note), t(k)],
                )?;
            }
        }
        DutyOp::InsertReport(r) => {
            sql.exec(
                "insert into health_reports (person, day, at, temperature_tenths, symptoms, reporter)
                 values ($1, $2, $3, $4, $5, $6)",
                &[
                    i(r.person.0),
                    i(r.at.shanghai_day().0),
                    i(r.at.0),
                    i(r.temperature_tenths),
                    t(r.symptoms.join(",")),
                    t(&r.reporter),
                ],
            )?;
        }
        DutyOp::PutZone(z) => {
            let cells: Vec<u32> = z.cells.iter().map(|c| c.0).collect();
            let cells = serde_json::to_string(&cells).unwrap_or_default();
            sql.exec("delete from zones where id = $1", &[u64_i(z.id.0)])?;
            sql.exec(
                &format!(
                    "insert into zones ({ZONE_COLUMNS}) values ({})",
                    placeholders(1, 7)
                ),
                &[
                    u64_i(z.id.0),
                    t(&z.name),
                    name(&z.level),
                    t(cells),
                    i(z.since.0),
                    t(&z.drawn_by),
                    oi(z.lifted_at.map(|t| t.0)),
                ],
            )?;
        }
        DutyOp::LiftZone { zone, at } => {
            let n = sql.exec(
                "update zones set lifted_at = $1 where id = $2 and lifted_at is null",
                &[i(at.0), u64_i(zone.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::ZoneNotActive));
            }
        }
        DutyOp::InsertProposal(p) => {
            let open = sql.rows(
                "select id from zone_proposals where zone = $1 and status = 'open'",
                &[u64_i(p.zone.0)],
            )?;
            if !open.is_empty() {
                return Err(StoreError::Conflict(ConflictKind::ProposalOpen));
            }
            sql.exec(
                &format!(
                    "insert into zone_proposals ({PROPOSAL_COLUMNS}) values ({})",
                    placeholders(1, 10)
                ),
                &[
                    u64_i(p.id.0),
                    u64_i(p.zone.0),
                    name(&p.action),
                    p.to_level.as_ref().map_or(Val::NullT, name),
                    t(&p.proposer),
                    t(&p.conditions),
                    i(p.proposed_at.0),
                    name(&p.status),
                    ot(p.decided_by.as_deref()),
                    oi(p.decided_at.map(|t| t.0)),
                ],
            )?;
        }
        DutyOp::DecideProposal {
            proposal,
            status,
            by,
            at,
        } => {
            let n = sql.exec(
                "update zone_proposals set status = $1, decided_by = $2, decided_at = $3
                 where id = $4 and status = 'open'",
                &[name(status), t(by), i(at.0), u64_i(proposal.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::ProposalDecided));
            }
        }
        DutyOp::InsertArrival(a) => {
            sql.exec(
                &format!(
                    "insert into arrivals ({ARRIVAL_COLUMNS}) values ({})",
                    placeholders(1, 8)
                ),
                &[
                    u64_i(a.id.0),
                    i(a.person.0),
                    t(&a.origin),
                    name(&a.risk),
                    t(&a.regime),
                    i(a.planned_at.0),
                    oi(a.arrived_at.map(|t| t.0)),
                    i(a.registered_at.0),
                ],
            )?;
        }
        DutyOp::MarkArrived { arrival, at } => {
            let n = sql.exec(
                "update arrivals set arrived_at = $1 where id = $2 and arrived_at is null",
                &[i(at.0), u64_i(arrival.0)],
            )?;
            if n == 0 {
                return Err(StoreError::Conflict(ConflictKind::AlreadyArrived));
            }
        }
    }
    Ok(())
}

/// Reserves `n` consecutive ids of a kind; returns the first.
pub(super) fn reserve_ids(sql: &mut dyn Sql, kind: &str, n: u64) -> Result<i64> {
    let rows = sql.rows("select next_id from duty_ids where kind = $1", &[t(kind)])?;
    let first = match rows.first() {
        Some(r) => Cols::new(r).i()?,
        None => {
            sql.exec(
                "insert into duty_ids (kind, next_id) values ($1, 1)",
                &[t(kind)],
            )?;
            1
        }
    };
    sql.exec(
        "update duty_ids set next_id = $1 where kind = $2",
        &[i(first + i64::try_from(n).unwrap_or(i64::MAX)), t(kind)],
    )?;
    Ok(first)
}
