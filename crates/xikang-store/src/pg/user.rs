//! [`UserStore`] for PostgreSQL.

use super::PgStore;
use crate::error::Result;
use crate::user::{Session, USER_COLUMNS, User, UserRow, UserStore, changed_one};
use postgres::Row;
use xikang_domain::Timestamp;

fn user_row(r: &Row) -> Result<UserRow> {
    Ok(UserRow {
        name: r.try_get(0)?,
        password_hash: r.try_get(1)?,
        role: r.try_get(2)?,
        area: r.try_get(3)?,
        venue: r.try_get(4)?,
        person: r.try_get(5)?,
        id_lookup: r.try_get(6)?,
        disabled: r.try_get(7)?,
        created_at: r.try_get(8)?,
        enterprise: r.try_get(9)?,
    })
}

impl UserStore for PgStore {
    fn insert_user(&self, u: &User) -> Result<()> {
        self.write()?.client.execute(
            &format!(
                "insert into users ({USER_COLUMNS}) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
            ),
            &[
                &u.name,
                &u.password_hash,
                &u.role,
                &u.area.as_str(),
                &u.venue.map(|v| i64::from(v.get())),
                &u.person.map(|p| i64::from(p.get())),
                &u.id_lookup,
                &u.disabled,
                &u.created_at.0,
                &u.enterprise,
            ],
        )?;
        Ok(())
    }

    fn user(&self, name: &str) -> Result<Option<User>> {
        let row = self.read()?.query_opt(
            &format!("select {USER_COLUMNS} from users where name = $1"),
            &[&name],
        )?;
        row.map(|r| user_row(&r).and_then(UserRow::into_user))
            .transpose()
    }

    fn users(&self) -> Result<Vec<User>> {
        let rows = self.read()?.query(
            &format!("select {USER_COLUMNS} from users order by name"),
            &[],
        )?;
        rows.iter()
            .map(|r| user_row(r).and_then(UserRow::into_user))
            .collect()
    }

    fn set_password_hash(&self, name: &str, password_hash: &str) -> Result<()> {
        let n = self.write()?.client.execute(
            "update users set password_hash = $2 where name = $1",
            &[&name, &password_hash],
        )?;
        changed_one(n)
    }

    fn set_user_disabled(&self, name: &str, disabled: bool) -> Result<()> {
        let mut w = self.write()?;
        let mut tx = w.client.transaction()?;
        let n = tx.execute(
            "update users set disabled = $2 where name = $1",
            &[&name, &disabled],
        )?;
        if disabled {
            tx.execute("delete from sessions where user_name = $1", &[&name])?;
        }
        tx.commit()?;
        changed_one(n)
    }

    fn insert_session(&self, sha: [u8; 32], s: &Session) -> Result<()> {
        self.write()?.client.execute(
            "insert into sessions (session_sha256, user_name, created_at, expires_at) values ($1, $2, $3, $4)",
            &[&&sha[..], &s.user, &s.created_at.0, &s.expires_at.0],
        )?;
        Ok(())
    }

    fn session(&self, sha: &[u8; 32], now: Timestamp) -> Result<Option<Session>> {
        let row = self.read()?.query_opt(
            "select user_name, created_at, expires_at from sessions
             where session_sha256 = $1 and expires_at > $2",
            &[&&sha[..], &now.0],
        )?;
        row.map(|r| {
            Ok(Session {
                user: r.try_get(0)?,
                created_at: Timestamp(r.try_get(1)?),
                expires_at: Timestamp(r.try_get(2)?),
            })
        })
        .transpose()
    }

    fn delete_session(&self, sha: &[u8; 32]) -> Result<()> {
        self.write()?.client.execute(
            "delete from sessions where session_sha256 = $1",
            &[&&sha[..]],
        )?;
        Ok(())
    }

    fn delete_expired_sessions(&self, now: Timestamp) -> Result<u64> {
        let n = self
            .write()?
            .client
            .execute("delete from sessions where expires_at <= $1", &[&now.0])?;
        Ok(n)
    }
}
