//! `xikang key …` and `xikang peer …` (docs/cities.md): the city's keys over time and its
//! peer cities, on the store directly. A running server publishes what these change from
//! its next start (restart it after a rotation, a key revocation or a peer added here;
//! `POST /api/v1/peers` adds a peer to a running server at once).

use crate::cli::StoreArgs;
use anyhow::{Context, Result, bail};
use clap::Subcommand;
use std::path::PathBuf;
use xikang_domain::event::NewEvent;
use xikang_server::cities::{keys, peers};
use xikang_server::now;

/// `xikang key`.
#[derive(Debug, Subcommand)]
pub enum KeyCmd {
    /// Make the next code-signing key, published ahead of use: the trust list shows it as
    /// `next` until it is valid; the server signs with it from its first start after that.
    Rotate {
        #[command(flatten)]
        store: StoreArgs,
        /// Jurisdiction whose codes the key signs.
        #[arg(long, default_value = "320200")]
        jurisdiction: String,
        /// Seconds from now until the key starts to sign (publish a day ahead in production).
        #[arg(long, default_value_t = 86_400)]
        ahead: i64,
        /// Days the key stays valid.
        #[arg(long, default_value_t = 366)]
        valid_days: i64,
    },
    /// Revoke a code-signing key at once (compromise): nothing it signed verifies any more.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The key id (16 hex digits).
        kid: String,
        #[arg(long, default_value = "")]
        reason: String,
    },
    /// Print the city's trust anchor (its root key) for peers to pin.
    Anchor {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long, default_value = "320200")]
        jurisdiction: String,
    },
}

/// `xikang peer`.
#[derive(Debug, Subcommand)]
pub enum PeerCmd {
    /// Add (or re-point) a peer city: its URL and the trust anchor file it gave you.
    Add {
        #[command(flatten)]
        store: StoreArgs,
        /// This city's jurisdiction (a peer must be another).
        #[arg(long, default_value = "320200")]
        jurisdiction: String,
        name: String,
        url: String,
        /// The peer's trust anchor (JSON from its `xikang key anchor`).
        #[arg(long)]
        trust_anchor: PathBuf,
    },
}

fn operator() -> String {
    format!(
        "operator:{}",
        std::env::var("USER").unwrap_or_else(|_| "cli".into())
    )
}

/// Runs a `xikang key` command.
pub fn run_key(cmd: KeyCmd) -> Result<()> {
    match cmd {
        KeyCmd::Rotate {
            store,
            jurisdiction,
            ahead,
            valid_days,
        } => {
            let store = store.open_existing(false)?;
            let r = keys::rotate(
                store.as_ref(),
                &jurisdiction,
                &operator(),
                ahead,
                valid_days,
                now(),
            )
            .context("rotating the signing key")?;
            println!(
                "next key {} valid from {} to {}",
                r.kid, r.not_before, r.not_after
            );
        }
        KeyCmd::Revoke { store, kid, reason } => {
            let store = store.open_existing(false)?;
            match keys::revoke(store.as_ref(), &kid, &operator(), &reason, now()) {
                Ok(true) => println!("key {kid} revoked"),
                Ok(false) => println!("key {kid} was already revoked"),
                Err(xikang_store::StoreError::NotFound) => bail!("no signing key {kid}"),
                Err(e) => return Err(e).context("revoking the key"),
            }
        }
        KeyCmd::Anchor {
            store,
            jurisdiction,
        } => {
            let store = store.open_existing(false)?;
            let root = keys::root_key(store.as_ref(), &jurisdiction)?;
            println!(
                "{}",
                serde_json::to_string_pretty(&xikang_code::TrustAnchor::of(&root))?
            );
        }
    }
    Ok(())
}

/// Runs a `xikang peer` command.
pub fn run_peer(cmd: PeerCmd) -> Result<()> {
    match cmd {
        PeerCmd::Add {
            store,
            jurisdiction,
            name,
            url,
            trust_anchor,
        } => {
            let text = std::fs::read_to_string(&trust_anchor)
                .with_context(|| format!("reading {}", trust_anchor.display()))?;
            let anchor = xikang_code::TrustAnchor::from_json(&text)
                .map_err(|e| anyhow::anyhow!("{}: {e}", e.code()))?;
            let input = peers::PeerIn { name, url, anchor };
            let body = peers::peer_event(&input, &jurisdiction).map_err(|e| {
                let (_, code, message) = e.summary();
                anyhow::anyhow!("{code}: {message}")
            })?;
            let store = store.open_existing(false)?;
            store.append_events(&[NewEvent {
                at: now(),
                actor: operator(),
                basis: "peer city added".into(),
                body,
            }])?;
            println!(
                "peer {} added; restart the server to fetch its list",
                input.name
            );
        }
    }
    Ok(())
}
