//! SQLite's side of the duty store: a connection as [`Sql`], write transactions taken
//! `immediate` on the writer connection (which also serializes them with authority
//! appends), and the bulk task insert as one prepared statement.

use super::SqliteStore;
use crate::duties::{DutyBackend, DutyOp, NewTask, Sql, TASK_INSERT_COLUMNS, TaskColumns, Val};
use crate::error::Result;
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use rusqlite::{Connection, TransactionBehavior, params_from_iter};
use xikang_domain::event::{NewEvent, StoredEvent};

impl rusqlite::ToSql for Val {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(match self {
            Val::I(v) => ToSqlOutput::Owned(Value::Integer(*v)),
            Val::F(v) => ToSqlOutput::Owned(Value::Real(*v)),
            Val::T(s) => ToSqlOutput::Borrowed(ValueRef::Text(s.as_bytes())),
            Val::B(b) => ToSqlOutput::Borrowed(ValueRef::Blob(b)),
            Val::NullI | Val::NullT => ToSqlOutput::Owned(Value::Null),
        })
    }
}

/// The portable `$n` placeholders as SQLite's numbered `?n`.
fn dialect(sql: &str) -> String {
    sql.replace('$', "?")
}

struct Conn<'a>(&'a Connection);

impl Sql for Conn<'_> {
    fn exec(&mut self, sql: &str, params: &[Val]) -> Result<u64> {
        let mut stmt = self.0.prepare_cached(&dialect(sql))?;
        Ok(stmt.execute(params_from_iter(params.iter()))? as u64)
    }

    fn rows(&mut self, sql: &str, params: &[Val]) -> Result<Vec<Vec<Val>>> {
        let mut stmt = self.0.prepare_cached(&dialect(sql))?;
        let n = stmt.column_count();
        let mut rows = stmt.query(params_from_iter(params.iter()))?;
        let mut out = Vec::new();
        while let Some(r) = rows.next()? {
            let mut row = Vec::with_capacity(n);
            for k in 0..n {
                row.push(match r.get_ref(k)? {
                    ValueRef::Null => Val::NullI,
                    ValueRef::Integer(v) => Val::I(v),
                    ValueRef::Real(v) => Val::F(v),
                    ValueRef::Text(t) => Val::T(String::from_utf8_lossy(t).into_owned()),
                    ValueRef::Blob(b) => Val::B(b.to_vec()),
                });
            }
            out.push(row);
        }
        Ok(out)
    }

    fn append_events(&mut self, events: &[NewEvent]) -> Result<Vec<StoredEvent>> {
        // Only called inside `with_tx`, whose `immediate` transaction holds SQLite's only
        // write lock, as `append_events_in` requires.
        super::append_events_in(self.0, events)
    }

    fn insert_tasks(&mut self, first: i64, tasks: &[NewTask]) -> Result<u64> {
        let c = TaskColumns::of(first, tasks);
        let mut stmt = self.0.prepare_cached(&format!(
            "insert into grid_tasks ({TASK_INSERT_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
             on conflict (dedupe) do nothing"
        ))?;
        let mut n = 0;
        for k in 0..tasks.len() {
            n += stmt.execute(rusqlite::params![
                c.ids[k],
                c.cells[k],
                c.kinds[k],
                c.persons[k],
                c.households[k],
                c.details[k],
                c.created[k],
                c.due[k],
                c.dedupe[k],
            ])? as u64;
        }
        Ok(n)
    }
}

impl DutyBackend for SqliteStore {
    fn with_read<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R> {
        let conn = self.read()?;
        f(&mut Conn(&conn))
    }

    fn with_tx<R>(&self, f: impl FnOnce(&mut dyn Sql) -> Result<R>) -> Result<R> {
        let mut w = self.write();
        let tx = w
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let out = f(&mut Conn(&tx))?;
        tx.commit()?;
        Ok(out)
    }
}

/// Applies duty row changes inside another writer's `immediate` transaction (the lab's
/// writes that create or close grid tasks with their results).
pub(crate) fn apply_in(tx: &Connection, ops: &[DutyOp]) -> Result<()> {
    crate::duties::apply_ops(&mut Conn(tx), ops)
}
