//! The drill's responders talk to the server over HTTP only: one keep-alive connection, the
//! tokens the city admin mints for each responder through `POST /api/v1/tokens`.

use crate::httpc::Conn;
use anyhow::{Context, Result, bail};
use serde_json::{Value, json};
use xikang_domain::Timestamp;

/// One connection to the drill server, counting what it asked for.
#[derive(Debug)]
pub struct Api {
    conn: Conn,
    pub requests: u64,
    pub code_displays: u64,
}

impl Api {
    pub async fn connect(addr: &str) -> Result<Api> {
        Ok(Api {
            conn: Conn::connect(addr)
                .await
                .context("connecting to the drill server")?,
            requests: 0,
            code_displays: 0,
        })
    }

    /// Any request: status and JSON answer (Null when not JSON).
    pub async fn call(
        &mut self,
        method: &str,
        path: &str,
        token: &str,
        body: Option<&Value>,
    ) -> Result<(u16, Value)> {
        self.requests += 1;
        let bytes = body.map(serde_json::to_vec).transpose()?;
        let r = self
            .conn
            .request(
                method,
                path,
                Some(token),
                bytes.as_ref().map(|_| "application/json"),
                bytes.as_deref().unwrap_or(b""),
            )
            .await
            .with_context(|| format!("{method} {path}"))?;
        Ok((r.status, r.json()))
    }

    pub async fn get(&mut self, token: &str, path: &str) -> Result<(u16, Value)> {
        self.call("GET", path, token, None).await
    }

    pub async fn post(&mut self, token: &str, path: &str, body: Value) -> Result<(u16, Value)> {
        self.call("POST", path, token, Some(&body)).await
    }

    /// A POST that must succeed with `want`: its answer.
    pub async fn must(&mut self, token: &str, path: &str, body: Value, want: u16) -> Result<Value> {
        let (s, v) = self.post(token, path, body).await?;
        if s != want {
            // A refused list answers every item: the first few say enough.
            let text = v.to_string();
            let cut = text
                .char_indices()
                .nth(2_000)
                .map_or(text.len(), |(i, _)| i);
            bail!("POST {path}: {s} {}", &text[..cut]);
        }
        Ok(v)
    }

    /// A POST of a list (tubes, samples, batches, lab results) whose every item must be
    /// accepted: its answer.
    pub async fn must_accept(
        &mut self,
        token: &str,
        path: &str,
        body: Value,
        want: u16,
        items: usize,
    ) -> Result<Value> {
        let v = self.must(token, path, body, want).await?;
        if v["accepted"].as_u64() != Some(items as u64) {
            let refused = v["results"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|r| !r["error"].is_null())
                .cloned()
                .unwrap_or_default();
            bail!(
                "POST {path}: {} of {items} accepted; first refused: {refused}",
                v["accepted"]
            );
        }
        Ok(v)
    }

    /// Posts `items` to `path` as `{key: [...]}`, `per_post` at a time, each post answered 200
    /// with every item accepted.
    pub async fn post_all<T: serde::Serialize>(
        &mut self,
        token: &str,
        path: &str,
        key: &str,
        items: &[T],
        per_post: usize,
    ) -> Result<()> {
        for chunk in items.chunks(per_post) {
            let mut body = serde_json::Map::new();
            body.insert(key.to_owned(), json!(chunk));
            self.must_accept(token, path, Value::Object(body), 200, chunk.len())
                .await?;
        }
        Ok(())
    }

    /// Moves the drill's clock to `to` (forward only; nothing when it is there already).
    pub async fn clock_to(&mut self, admin: &str, to: Timestamp) -> Result<()> {
        if xikang_server::now() >= to {
            return Ok(());
        }
        self.must(
            admin,
            "/api/v1/drill/clock",
            json!({"to": to.to_rfc3339()}),
            200,
        )
        .await
        .map(|_| ())
    }

    /// A token minted by `admin` through the API.
    pub async fn mint(
        &mut self,
        admin: &str,
        name: &str,
        role: &str,
        area: &str,
        expires_at: Option<Timestamp>,
    ) -> Result<String> {
        self.mint_with(admin, name, role, area, expires_at, false)
            .await
    }

    /// A token minted by `admin`, allowed to identify people by ID number when `id_lookup`
    /// (a sampling site's ID-card reader).
    pub async fn mint_with(
        &mut self,
        admin: &str,
        name: &str,
        role: &str,
        area: &str,
        expires_at: Option<Timestamp>,
        id_lookup: bool,
    ) -> Result<String> {
        let mut body = json!({"name": name, "role": role, "area": area, "id_lookup": id_lookup});
        if let Some(e) = expires_at {
            body["expires_at"] = json!(e.to_rfc3339());
        }
        let v = self.must(admin, "/api/v1/tokens", body, 201).await?;
        v["token"]
            .as_str()
            .map(str::to_owned)
            .context("a token answer without its token")
    }

    /// A person's code colour as a display shows it.
    pub async fn colour(&mut self, token: &str, person: u32) -> Result<String> {
        self.code_displays += 1;
        let (s, v) = self
            .get(token, &format!("/api/v1/people/P{person}/code"))
            .await?;
        if s != 200 {
            bail!("GET code of P{person}: {s} {v}");
        }
        Ok(v["colour"].as_str().unwrap_or("unknown").to_owned())
    }
}
