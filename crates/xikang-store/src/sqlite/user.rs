//! [`UserStore`] for SQLite.

use super::SqliteStore;
use crate::error::Result;
use crate::user::{Session, USER_COLUMNS, User, UserRow, UserStore, changed_one};
use rusqlite::{OptionalExtension, Row, params};
use xikang_domain::{PersonId, Timestamp, VenueId};

fn user_row(r: &Row<'_>) -> rusqlite::Result<UserRow> {
    Ok(UserRow {
        name: r.get(0)?,
        password_hash: r.get(1)?,
        role: r.get(2)?,
        area: r.get(3)?,
        venue: r.get(4)?,
        person: r.get(5)?,
        id_lookup: r.get(6)?,
        disabled: r.get(7)?,
        created_at: r.get(8)?,
        enterprise: r.get(9)?,
    })
}

impl UserStore for SqliteStore {
    fn insert_user(&self, u: &User) -> Result<()> {
        self.write().conn.execute(
            &format!(
                "insert into users ({USER_COLUMNS}) values (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"
            ),
            params![
                u.name,
                u.password_hash,
                u.role,
                u.area.as_str(),
                u.venue.map(VenueId::get),
                u.person.map(PersonId::get),
                u.id_lookup,
                u.disabled,
                u.created_at.0,
                u.enterprise
            ],
        )?;
        Ok(())
    }

    fn user(&self, name: &str) -> Result<Option<User>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(&format!("select {USER_COLUMNS} from users where name = ?1"))?
            .query_row([name], user_row)
            .optional()?;
        row.map(UserRow::into_user).transpose()
    }

    fn users(&self) -> Result<Vec<User>> {
        let conn = self.read()?;
        let mut stmt =
            conn.prepare_cached(&format!("select {USER_COLUMNS} from users order by name"))?;
        let rows = stmt.query_map([], user_row)?;
        rows.map(|r| r.map_err(Into::into).and_then(UserRow::into_user))
            .collect()
    }

    fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<()> {
        let n = self.write().conn.execute(
            "update users set password_hash = ?2 where name = ?1",
            params![name, password_hash],
        )?;
        changed_one(n as u64)
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let mut w = self.write();
        let tx = w.conn.transaction()?;
        let n = tx.execute(
            "update users set disabled = ?2 where name = ?1",
            params![name, disabled],
        )?;
        if disabled {
            tx.execute("delete from sessions where user_name = ?1", [name])?;
        }
        tx.commit()?;
        changed_one(n as u64)
    }

    fn insert_session(&self, sha: [u8; 32], s: &Session) -> Result<()> {
        self.write().conn.execute(
            "insert into sessions (session_sha256, user_name, created_at, expires_at) values (?1, ?2, ?3, ?4)",
            params![&sha[..], s.user, s.created_at.0, s.expires_at.0],
        )?;
        Ok(())
    }

    fn session(&self, sha: &[u8; 32], now: Timestamp) -> Result<Option<Session>> {
        let conn = self.read()?;
        let row = conn
            .prepare_cached(
                "select user_name, created_at, expires_at from sessions
                 where session_sha256 = ?1 and expires_at > ?2",
            )?
            .query_row(params![&sha[..], now.0], |r| {
                Ok(Session {
                    user: r.get(0)?,
                    created_at: Timestamp(r.get(1)?),
                    expires_at: Timestamp(r.get(2)?),
                })
            })
            .optional()?;
        Ok(row)
    }

    fn delete_session(&self, sha: &[u8; 32]) -> Result<()> {
        self.write()
            .conn
            .execute("delete from sessions where session_sha256 = ?1", [&sha[..]])?;
        Ok(())
    }

    fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        let n = self
            .write()
            .conn
            .execute("delete from sessions where expires_at <= ?1", [now.0])?;
        Ok(n as u64)
    }
}
