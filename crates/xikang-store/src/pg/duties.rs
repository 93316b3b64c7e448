//! PostgreSQL's side of the duty store: a client or transaction as [`Sql`], write
//! transactions on the writer connection, the log locked like `append_events` does, and the
//! bulk task insert as `insert … select * from unnest(…)`.

use super::PgStore;
use crate::duties::{DutyBackend, DutyOp, NewTask, Sql, TASK_INSERT_COLUMNS, TaskColumns, Val};
use crate::error::{Result, StoreError};
use postgres::GenericClient;
use postgres::types::{ToSql, Type};
use xikang_domain::event::{NewEvent, StoredEvent};

/// Rows per bulk task insert (bounds one message).
const BULK_TASKS: usize = 20_000;

fn boxed(v: &Val) -> Box<dyn ToSql + Sync> {
    match v {
        Val::I(x) => Box::new(*x),
        Val::F(x) => Box::new(*x),
        Val::T(s) => Box::new(s.clone()),
        Val::B(b) => Box::new(b.clone()),
        Val::NullI => Box::new(None::<i64>),
        Val::NullT => Box::new(None::<String>),
    }
}

struct PgSql<'a, C: GenericClient>(&'a mut C);

impl<C: GenericClient> Sql for PgSql<'_, C> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let owned: Vec<Box<dyn ToSql + Sync>> = params.iter().map(boxed).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        Ok(self.0.execute(sql, &refs)?)
    }

    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        let owned: Vec<Box<dyn ToSql + Sync>> = params.iter().map(boxed).collect();
        let refs: Vec<&(dyn ToSql + Sync)> = owned.iter().map(|b| b.as_ref()).collect();
        let rows = self.0.query(sql, &refs)?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            let mut row = Vec::with_capacity(r.len());
            for (k, col) in r.columns().iter().enumerate() {
                let ty = col.type_();
                let v = if *ty == Type::INT8 {
                    r.try_get::<_, Option<i64>>(k)?.map_or(Val::NullI, Val::I)
                } else if *ty == Type::INT4 {
                    r.try_get::<_, Option<i32>>(k)?
                        .map_or(Val::NullI, |v| Val::I(i64::from(v)))
                } else if *ty == Type::FLOAT8 {
                    r.try_get::<_, Option<f64>>(k)?.map_or(Val::NullI, Val::F)
                } else if *ty == Type::BYTEA {
                    r.try_get::<_, Option<Vec<u8>>>(k)?
                        .map_or(Val::NullT, Val::B)
                } else if *ty == Type::TEXT || *ty == Type::VARCHAR {
                    r.try_get::<_, Option<String>>(k)?
                        .map_or(Val::NullT, Val::T)
                } else {
                    return Err(StoreError::Corrupt(format!(
                        "unexpected column type {ty} in a duty query"
                    )));
                };
                row.push(v);
            }
            out.push(row);
        }
        Ok(out)
    }

    fn append_events(&mut self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        // Only called inside `with_tx`; `append_events_in` locks the log until we commit.
        super::append_events_in(self.0, events)
    }

    fn insert_tasks(&mut self, first: i64, tasks: &[NewTask]) -> Result<u64> {
        let mut n = 0;
        let mut next = first;
        for chunk in tasks.chunks(BULK_TASKS) {
            let c = TaskColumns::of(next, chunk);
            next += chunk.len() as i64;
            n += self.0.execute(
                &format!(
                    "insert into grid_tasks ({TASK_INSERT_COLUMNS})
                     select * from unnest($1::bigint[], $2::bigint[], $3::text[], $4::bigint[],
                                          $5::bigint[], $6::text[], $7::bigint[], $8::bigint[],
                                          $9::text[])
                     on conflict (dedupe) do nothing"
                ),
                &[
                    &c.ids,
                    &c.cells,
                    &c.kinds,
                    &c.persons,
                    &c.households,
                    &c.details,
                    &c.created,
                    &c.due,
                    &c.dedupe,
                ],
            )?;
        }
        Ok(n)
    }
}

impl DutyBackend for PgStore {
    fn with_read<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R> {
        let mut conn = self.read()?;
        f(&mut PgSql(&mut conn.client))
    }

    fn with_tx<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        let out = f(&mut PgSql(&mut tx))?;
        tx.commit()?;
        Ok(out)
    }
}

/// Applies duty row changes inside another writer's transaction (the lab's writes that
/// create or close grid tasks with their results).
pub(crate) fn apply_in(tx: &mut postgres::Transaction<'_>, ops: &[DutyOp]) -> Result<()> {
    crate::duties::apply_ops(&mut PgSql(tx), ops)
}
