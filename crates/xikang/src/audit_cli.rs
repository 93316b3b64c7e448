//! `xikang audit`: checks of the authority log from outside the server.
//!
//! - `verify` walks the hash chain; with `--checkpoint FILE` it also recomputes the RFC 6962
//!   root of the first N events and compares it with a signed checkpoint, so a log cut
//!   short (the newest events deleted) or rewritten since is caught, which the chain alone
//!   cannot see: a chain with its tail removed is still a valid chain.
//! - `witness` follows a server's checkpoints: each new one must be signed by the pinned
//!   log key and proven consistent with the last one it kept; it then cosigns it (C2SP
//!   `tlog-cosignature`) and keeps it. A log that shrank or forked raises an alarm and is
//!   never cosigned.

use crate::cli::StoreArgs;
use anyhow::{Context, Result, bail};
use clap::{Args, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use xikang_code::note::{
    Checkpoint, Note, NoteSigner, NoteVerifier, SignatureType, decode_hash, encode_hash,
};
use xikang_domain::EventSeq;
use xikang_domain::merkle::{RootBuilder, leaf_hash, verify_consistency};
use xikang_server::remote::Remote;
use xikang_server::wire::ConsistencyOut;
use xikang_store::Store;

/// Exit code of `audit verify` when the hash chain is broken.
pub const EXIT_BROKEN: u8 = 2;
/// Exit code when the log is shorter than, or diverges from, a checkpoint; and of a
/// witness that saw the log shrink or fork.
pub const EXIT_INCONSISTENT: u8 = 3;

/// The `audit` subcommands.
#[derive(Debug, Subcommand)]
pub enum AuditCmd {
    /// Walk the hash chain and name the first broken link; with --checkpoint, also check
    /// that the log still holds the checkpointed events, unchanged.
    Verify {
        #[command(flatten)]
        store: StoreArgs,
        /// A signed checkpoint (as served at /api/v1/audit/checkpoint, or kept by a witness).
        #[arg(long)]
        checkpoint: Option<PathBuf>,
        /// The log's verifier key (vkey, as served at /api/v1/audit/key). Default: the log
        /// key in the store.
        #[arg(long)]
        key: Option<String>,
    },
    /// Follow a server's checkpoints, check each against the last one kept, cosign it.
    Witness(WitnessArgs),
}

/// `xikang audit witness`.
#[derive(Debug, Clone, Args)]
pub struct WitnessArgs {
    /// The server (https://host, or http://host:port beside it).
    #[arg(long)]
    pub url: String,
    /// Where the witness keeps its key, the pinned log key and the last cosigned checkpoint.
    #[arg(long)]
    pub state: PathBuf,
    /// Seconds between two checks.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// Check once and exit: 0 cosigned, 3 alarm (shrank, forked, inconsistent), 1 error.
    #[arg(long)]
    pub once: bool,
    /// The log's verifier key to pin. Without it the key the server serves on first
    /// contact is pinned (trust on first use).
    #[arg(long)]
    pub log_key: Option<String>,
    /// This witness's name in its cosignatures.
    #[arg(long, default_value = "witness.xikang.local")]
    pub name: String,
}

/// Runs an `audit` subcommand.
pub fn run(cmd: AuditCmd) -> Result<ExitCode> {
    match cmd {
        AuditCmd::Verify {
            store,
            checkpoint,
            key,
        } => verify(&store, checkpoint.as_deref(), key.as_deref()),
        AuditCmd::Witness(args) => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .context("starting the runtime")?;
            rt.block_on(witness(&args))
        }
    }
}

fn verify(store: &StoreArgs, checkpoint: Option<&Path>, key: Option<&str>) -> Result<ExitCode> {
    let store = store.open()?;
    let anchor = checkpoint
        .map(|path| read_checkpoint(store.as_ref(), path, key))
        .transpose()?;
    let r = store.verify_chain()?;
    if let Some(e) = r.first_error {
        println!("authority log BROKEN after {} good events: {e}", r.verified);
        return Ok(ExitCode::from(EXIT_BROKEN));
    }
    println!(
        "authority log OK: {} events, head {}",
        r.verified,
        hex::encode(&r.head[..8])
    );
    let Some(cp) = anchor else {
        return Ok(ExitCode::SUCCESS);
    };
    if r.verified < cp.size {
        println!(
            "authority log SHORTER than the checkpoint: the checkpoint of {} covers {} events, \
             the log holds {}: events {}..{} were deleted",
            cp.origin,
            cp.size,
            r.verified,
            r.verified + 1,
            cp.size
        );
        return Ok(ExitCode::from(EXIT_INCONSISTENT));
    }
    let root = root_of_first(store.as_ref(), cp.size)?;
    if root != cp.root {
        println!(
            "authority log DIVERGES from the checkpoint: the root of its first {} events is {}, \
             the checkpoint of {} says {}: an event was altered, removed or replaced",
            cp.size,
            encode_hash(&root),
            cp.origin,
            encode_hash(&cp.root)
        );
        return Ok(ExitCode::from(EXIT_INCONSISTENT));
    }
    println!(
        "checkpoint OK: the first {} events match the checkpoint of {} (the log holds {})",
        cp.size, cp.origin, r.verified
    );
    Ok(ExitCode::SUCCESS)
}

/// Reads a signed checkpoint and checks the log's signature on it.
fn read_checkpoint(store: &dyn Store, path: &Path, key: Option<&str>) -> Result<Checkpoint> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let note =
        Note::parse(&text).with_context(|| format!("{} is not a signed note", path.display()))?;
    let cp = Checkpoint::parse(&note.text)?;
    let verifier = match key {
        Some(k) => NoteVerifier::parse(k).context("--key")?,
        None => xikang_server::state::stored_log_verifier(store, &cp.origin)?
            .context("the store has no log key: pass the log's key with --key")?,
    };
    if verifier.name() != cp.origin {
        bail!(
            "the key is named {:?} but the checkpoint's origin is {:?}",
            verifier.name(),
            cp.origin
        );
    }
    verifier
        .verify(&note)
        .with_context(|| format!("checkpoint {}", path.display()))?;
    Ok(cp)
}

/// The RFC 6962 root of the first `size` events, from their stored chain hashes.
fn root_of_first(store: &dyn Store, size: u64) -> Result<[u8; 32]> {
    const PAGE: u32 = 10_000;
    let mut tree = RootBuilder::new();
    while tree.len() < size {
        let page = store.events_after(EventSeq(tree.len()), PAGE)?;
        if page.is_empty() {
            bail!("the log ended at {} events while reading it", tree.len());
        }
        for e in page.iter().take((size - tree.len()) as usize) {
            tree.push(leaf_hash(&e.hash));
        }
    }
    Ok(tree.root())
}

/// Why a witness refused a checkpoint.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Alarm {
    #[error("the log SHRANK: it served {new} events after a checkpoint of {old}")]
    Shrank { old: u64, new: u64 },
    #[error("the log FORKED: another root for the same {size} events")]
    Forked { size: u64 },
    #[error(
        "the log is INCONSISTENT: its checkpoint of {new} events does not extend the one of {old}"
    )]
    Inconsistent { old: u64, new: u64 },
    #[error("the checkpoint is not signed by the pinned log key: {0}")]
    Signature(String),
}

/// What one check did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cosigned {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// The size of the checkpoint kept before (0: none).
    pub previous: u64,
}

async fn witness(args: &WitnessArgs) -> Result<ExitCode> {
    loop {
        match witness_once(args).await {
            Ok(Ok(c)) => println!(
                "cosigned {} size {} root {} (previous {})",
                c.origin,
                c.size,
                encode_hash(&c.root),
                c.previous
            ),
            Ok(Err(alarm)) => {
                eprintln!("ALARM: {alarm}; nothing cosigned, the kept checkpoint is unchanged");
                return Ok(ExitCode::from(EXIT_INCONSISTENT));
            }
            Err(e) if args.once => return Err(e),
            Err(e) => eprintln!("witness check failed (will retry): {e:#}"),
        }
        if args.once {
            return Ok(ExitCode::SUCCESS);
        }
        tokio::time::sleep(std::time::Duration::from_secs(args.interval.max(1))).await;
    }
}

/// One check: fetch the checkpoint, check it against the kept one, cosign and keep it.
/// `Err` is a failure to check (network, files); `Ok(Err)` an alarm.
pub async fn witness_once(args: &WitnessArgs) -> Result<Result<Cosigned, Alarm>> {
    std::fs::create_dir_all(&args.state)
        .with_context(|| format!("creating {}", args.state.display()))?;
    let me = witness_key(&args.state, &args.name)?;
    let conn = Remote::for_cli(&args.url)?;
    let log = pinned_log_key(args, &conn).await?;
    let reply = conn.get("/api/v1/audit/checkpoint", None).await?;
    if reply.status != 200 {
        bail!("GET /api/v1/audit/checkpoint answered {}", reply.status);
    }
    let mut note = Note::parse(&reply.text()).context("the served checkpoint")?;
    if let Err(e) = log.verify(&note) {
        return Ok(Err(Alarm::Signature(e.to_string())));
    }
    let cp = Checkpoint::parse(&note.text)?;
    if cp.origin != log.name() {
        return Ok(Err(Alarm::Signature(format!(
            "origin {:?} is not the pinned log {:?}",
            cp.origin,
            log.name()
        ))));
    }
    let kept_path = args.state.join("checkpoint");
    let kept = match std::fs::read_to_string(&kept_path) {
        Ok(text) => Some(Checkpoint::parse(&Note::parse(&text)?.text)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", kept_path.display())),
    };
    let previous = kept.as_ref().map_or(0, |k| k.size);
    if let Some(old) = kept {
        if cp.size < old.size {
            return Ok(Err(Alarm::Shrank {
                old: old.size,
                new: cp.size,
            }));
        }
        if cp.size == old.size && cp.root != old.root {
            return Ok(Err(Alarm::Forked { size: cp.size }));
        }
        if cp.size > old.size && old.size > 0 {
            let path = format!("/api/v1/audit/consistency?from={}&to={}", old.size, cp.size);
            let reply = conn.get(&path, None).await?;
            if reply.status != 200 {
                bail!("GET {path} answered {}: {}", reply.status, reply.text());
            }
            let out: ConsistencyOut =
                serde_json::from_slice(&reply.body).context("the consistency proof")?;
            let proof: Vec<[u8; 32]> = out
                .proof
                .iter()
                .map(|h| decode_hash(h))
                .collect::<Option<_>>()
                .context("a proof hash is not 32 bytes of base64")?;
            if verify_consistency(old.size, cp.size, &old.root, &cp.root, &proof).is_err() {
                return Ok(Err(Alarm::Inconsistent {
                    old: old.size,
                    new: cp.size,
                }));
            }
        }
    }
    let now = u64::try_from(xikang_server::now().0).unwrap_or(0);
    note.signatures.retain(|s| s.name != me.name());
    note.signatures.push(me.sign(&note.text, now)?);
    write_atomically(&kept_path, note.to_string().as_bytes())?;
    Ok(Ok(Cosigned {
        origin: cp.origin,
        size: cp.size,
        root: cp.root,
        previous,
    }))
}

/// The witness's cosigning key: `DIR/witness.key` (32 bytes), created on first use; its
/// vkey is written beside it for the operators who trust this witness.
fn witness_key(dir: &Path, name: &str) -> Result<NoteSigner> {
    let path = dir.join("witness.key");
    let secret: [u8; 32] = match std::fs::read(&path) {
        Ok(bytes) => bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("{} is not a 32-byte key", path.display()))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let mut secret = [0u8; 32];
            rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut secret);
            write_secret(&path, &secret)?;
            secret
        }
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let signer = NoteSigner::new(SignatureType::CosignatureV1, name, secret)?;
    write_atomically(
        &dir.join("witness.vkey"),
        format!("{}\n", signer.vkey()).as_bytes(),
    )?;
    Ok(signer)
}

/// The log key this witness trusts: `DIR/log.vkey`, pinned from `--log-key` or, on first
/// contact without it, from the server.
async fn pinned_log_key(args: &WitnessArgs, conn: &Remote) -> Result<NoteVerifier> {
    let path = args.state.join("log.vkey");
    let given = args
        .log_key
        .as_deref()
        .map(NoteVerifier::parse)
        .transpose()
        .context("--log-key")?;
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            let pinned = NoteVerifier::parse(&text)
                .with_context(|| format!("the pinned key in {}", path.display()))?;
            if given.as_ref().is_some_and(|g| *g != pinned) {
                bail!(
                    "--log-key differs from the key pinned in {}: remove that file to re-pin",
                    path.display()
                );
            }
            Ok(pinned)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let key = match given {
                Some(k) => k,
                None => {
                    let reply = conn.get("/api/v1/audit/key", None).await?;
                    if reply.status != 200 {
                        bail!("GET /api/v1/audit/key answered {}", reply.status);
                    }
                    eprintln!(
                        "pinning the log key the server serves (trust on first use): {}",
                        reply.text().trim()
                    );
                    NoteVerifier::parse(&reply.text()).context("the served log key")?
                }
            };
            if key.kind() != SignatureType::Ed25519 {
                bail!("the log key must be an Ed25519 note key");
            }
            write_atomically(&path, format!("{key}\n").as_bytes())?;
            Ok(key)
        }
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// Writes a file whole or not at all (a crash leaves the old one).
fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, bytes).with_context(|| format!("writing {}", tmp.display()))?;
    std::fs::rename(&tmp, path).with_context(|| format!("replacing {}", path.display()))
}

/// Creates a secret file readable by its owner only.
fn write_secret(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options
        .open(path)
        .with_context(|| format!("creating {}", path.display()))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .with_context(|| format!("writing {}", path.display()))
}
