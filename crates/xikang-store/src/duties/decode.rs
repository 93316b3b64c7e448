//! The duty store's shared row layer: the values bound to SQL, the column lists, and the
//! decoding of rows (as [`Val`]s from either dialect) into duty records, so that SQLite and
//! PostgreSQL cannot read a stored duty differently.

use super::*;
// ---------------------------------------------------------------------------------------
// Value helpers.

pub(super) fn i(v: impl Into<i64>) -> Val {
    Val::I(v.into())
}

pub(super) fn t(v: impl Into<String>) -> Val {
    Val::T(v.into())
}

pub(super) fn oi(v: Option<i64>) -> Val {
    v.map_or(Val::NullI, Val::I)
}

pub(super) fn ot(v: Option<&str>) -> Val {
    v.map_or(Val::NullT, |s| Val::T(s.to_owned()))
}

pub(super) fn u64_i(v: u64) -> Val {
    Val::I(i64::try_from(v).unwrap_or(i64::MAX))
}

/// Reads one row's columns in order.
pub(super) struct Cols<'a> {
    row: &'a [Val],
    at: usize,
}

impl<'a> Cols<'a> {
    pub(super) fn new(row: &'a [Val]) -> Self {
        Cols { row, at: 0 }
    }

    pub(super) fn next(&mut self) -> Result<&'a Val> {
        let v = self
            .row
            .get(self.at)
            .ok_or_else(|| StoreError::Corrupt("duty row has too few columns".into()))?;
        self.at += 1;
        Ok(v)
    }

    pub(super) fn oi(&mut self) -> Result<Option<i64>> {
        match self.next()? {
            Val::I(v) => Ok(Some(*v)),
            Val::NullI | Val::NullT => Ok(None),
            other => Err(StoreError::Corrupt(format!(
                "expected an integer, got {other:?}"
            ))),
        }
    }

    pub(super) fn i(&mut self) -> Result<i64> {
        self.oi()?
            .ok_or_else(|| StoreError::Corrupt("unexpected null integer".into()))
    }

    pub(super) fn f(&mut self) -> Result<f64> {
        match self.next()? {
            Val::F(v) => Ok(*v),
            Val::I(v) => Ok(*v as f64),
            other => Err(StoreError::Corrupt(format!(
                "expected a number, got {other:?}"
            ))),
        }
    }

    pub(super) fn ot(&mut self) -> Result<Option<String>> {
        match self.next()? {
            Val::T(v) => Ok(Some(v.clone())),
            Val::NullI | Val::NullT => Ok(None),
            _ => Err(StoreError::Corrupt("expected text".into())),
        }
    }

    pub(super) fn t(&mut self) -> Result<String> {
        self.ot()?
            .ok_or_else(|| StoreError::Corrupt("unexpected null text".into()))
    }

    pub(super) fn u32(&mut self) -> Result<u32> {
        let v = self.i()?;
        u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is not a u32")))
    }

    pub(super) fn u64(&mut self) -> Result<u64> {
        let v = self.i()?;
        u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v} is not a u64")))
    }

    pub(super) fn ou64(&mut self) -> Result<Option<u64>> {
        self.oi()?
            .map(|v| u64::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v}"))))
            .transpose()
    }

    pub(super) fn ou32(&mut self) -> Result<Option<u32>> {
        self.oi()?
            .map(|v| u32::try_from(v).map_err(|_| StoreError::Corrupt(format!("{v}"))))
            .transpose()
    }

    pub(super) fn ts(&mut self) -> Result<Timestamp> {
        Ok(Timestamp(self.i()?))
    }

    pub(super) fn ots(&mut self) -> Result<Option<Timestamp>> {
        Ok(self.oi()?.map(Timestamp))
    }

    pub(super) fn en<T: serde::de::DeserializeOwned>(&mut self, what: &str) -> Result<T> {
        let s = self.t()?;
        variant(&s).ok_or_else(|| StoreError::Corrupt(format!("unknown {what} `{s}`")))
    }

    pub(super) fn area(&mut self) -> Result<AreaCode> {
        AreaCode::parse(&self.t()?).map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

pub(super) fn name<T: serde::Serialize>(v: &T) -> Val {
    Val::T(variant_name(v))
}

// ---------------------------------------------------------------------------------------
// SQL and row mapping.

pub(super) const CELL_COLUMNS: &str = "cell, community, name, lat, lon, worker";
pub(super) const SITE_COLUMNS: &str =
    "id, name, kind, area, lat, lon, capacity, occupancy, manager";
pub(super) const ORDER_COLUMNS: &str = "id, person, regime, kind, reason, site, start_at, planned_end, ended_at, status, follows, then_phase";
pub(super) const TASK_COLUMNS: &str =
    "id, cell, kind, person, household, detail, created_at, due_at, done_at, done_by, note";
pub(super) const ZONE_COLUMNS: &str = "id, name, level, cells, since, drawn_by, lifted_at";
pub(super) const PROPOSAL_COLUMNS: &str =
    "id, zone, action, to_level, proposer, conditions, proposed_at, status, decided_by, decided_at";
pub(super) const ARRIVAL_COLUMNS: &str =
    "id, person, origin, risk, regime, planned_at, arrived_at, registered_at";

pub(super) fn cell_of(r: &[Val]) -> Result<GridCellRecord> {
    let mut c = Cols::new(r);
    Ok(GridCellRecord {
        cell: GridCell(c.u32()?),
        community: c.area()?,
        name: c.t()?,
        lat: c.f()?,
        lon: c.f()?,
        worker: c.ot()?,
    })
}

pub(super) fn site_of(r: &[Val]) -> Result<SiteRecord> {
    let mut c = Cols::new(r);
    Ok(SiteRecord {
        id: SiteId(c.u64()?),
        name: c.t()?,
        kind: c.en("site kind")?,
        area: c.area()?,
        lat: c.f()?,
        lon: c.f()?,
        capacity: c.u32()?,
        occupancy: c.u32()?,
        manager: c.ot()?,
    })
}

pub(super) fn order_of(r: &[Val]) -> Result<OrderRecord> {
    let mut c = Cols::new(r);
    Ok(OrderRecord {
        id: OrderId(c.u64()?),
        person: PersonId(c.u32()?),
        regime: c.t()?,
        kind: c.en("order kind")?,
        reason: c.en("order reason")?,
        site: c.ou64()?.map(SiteId),
        start: c.ts()?,
        planned_end: c.ts()?,
        ended_at: c.ots()?,
        status: c.en("order status")?,
        follows: c.ou64()?.map(OrderId),
        then_phase: c.i()? != 0,
    })
}

pub(super) fn task_of(r: &[Val]) -> Result<TaskRecord> {
    let mut c = Cols::new(r);
    Ok(TaskRecord {
        id: TaskId(c.u64()?),
        cell: GridCell(c.u32()?),
        kind: {
            let s = c.t()?;
            TaskKind::parse(&s).ok_or_else(|| StoreError::Corrupt(format!("task kind {s}")))?
        },
        person: c.ou32()?.map(PersonId),
        household: c.ou32()?.map(HouseholdId),
        detail: c.t()?,
        created_at: c.ts()?,
        due_at: c.ts()?,
        done_at: c.ots()?,
        done_by: c.ot()?,
        note: c.ot()?,
    })
}

pub(super) fn zone_of(r: &[Val]) -> Result<ZoneRecord> {
    let mut c = Cols::new(r);
    let id = ZoneId(c.u64()?);
    let name = c.t()?;
    let level = c.en("zone level")?;
    let cells: Vec<u32> = serde_json::from_str(&c.t()?)
        .map_err(|e| StoreError::Corrupt(format!("zone {id} cells: {e}")))?;
    Ok(ZoneRecord {
        id,
        name,
        level,
        cells: cells.into_iter().map(GridCell).collect(),
        since: c.ts()?,
        drawn_by: c.t()?,
        lifted_at: c.ots()?,
    })
}

pub(super) fn proposal_of(r: &[Val]) -> Result<ProposalRecord> {
    let mut c = Cols::new(r);
    Ok(ProposalRecord {
        id: ProposalId(c.u64()?),
        zone: ZoneId(c.u64()?),
        action: c.en("proposal action")?,
        to_level: match c.ot()? {
            None => None,
            Some(s) => {
                Some(variant(&s).ok_or_else(|| StoreError::Corrupt(format!("zone level {s}")))?)
            }
        },
        proposer: c.t()?,
        conditions: c.t()?,
        proposed_at: c.ts()?,
        status: c.en("proposal status")?,
        decided_by: c.ot()?,
        decided_at: c.ots()?,
    })
}

pub(super) fn arrival_of(r: &[Val]) -> Result<ArrivalRecord> {
    let mut c = Cols::new(r);
    Ok(ArrivalRecord {
        id: ArrivalId(c.u64()?),
        person: PersonId(c.u32()?),
        origin: c.t()?,
        risk: c.en("risk level")?,
        regime: c.t()?,
        planned_at: c.ts()?,
        arrived_at: c.ots()?,
        registered_at: c.ts()?,
    })
}

pub(super) fn all<T>(rows: Vec<Vec<Val>>, f: fn(&[Val]) -> Result<T>) -> Result<Vec<T>> {
    rows.iter().map(|r| f(r)).collect()
}

pub(super) fn one<T>(rows: Vec<Vec<Val>>, f: fn(&[Val]) -> Result<T>) -> Result<Option<T>> {
    rows.first().map(|r| f(r)).transpose()
}

/// `$1, $2, …` for a list of `n` values starting at `$from`.
pub(super) fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|k| format!("${k}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The values of one task row for the bulk inserts of both dialects.
pub(crate) struct TaskColumns {
    pub ids: Vec<i64>,
    pub cells: Vec<i64>,
    pub kinds: Vec<String>,
    pub persons: Vec<Option<i64>>,
    pub households: Vec<Option<i64>>,
    pub details: Vec<String>,
    pub created: Vec<i64>,
    pub due: Vec<i64>,
    pub dedupe: Vec<Option<String>>,
}

impl TaskColumns {
    pub(crate) fn of(first: i64, tasks: &[NewTask]) -> TaskColumns {
        TaskColumns {
            ids: (0..tasks.len() as i64).map(|k| first + k).collect(),
            cells: tasks.iter().map(|t| i64::from(t.cell.0)).collect(),
            kinds: tasks.iter().map(|t| t.kind.as_str().to_owned()).collect(),
            persons: tasks
                .iter()
                .map(|t| t.person.map(|p| i64::from(p.0)))
                .collect(),
            households: tasks
                .iter()
                .map(|t| t.household.map(|h| i64::from(h.0)))
                .collect(),
            details: tasks.iter().map(|t| t.detail.clone()).collect(),
            created: tasks.iter().map(|t| t.created_at.0).collect(),
            due: tasks.iter().map(|t| t.due_at.0).collect(),
            dedupe: tasks.iter().map(|t| t.dedupe.clone()).collect(),
        }
    }
}

/// The columns a bulk task insert writes, in order.
pub(crate) const TASK_INSERT_COLUMNS: &str =
    "id, cell, kind, person, household, detail, created_at, due_at, dedupe";
