//! The anchored authority log: signed checkpoints, consistency proofs, `audit verify
//! --checkpoint` against a store whose newest events were deleted or rewritten, and a
//! witness that refuses a log that shrank or forked.

#![expect(
    clippy::unwrap_used,
    reason = "API tests: a failed unwrap is a failed test"
)]

mod common;

use common::*;
use std::path::Path;
use std::process::Command;
use xikang::audit_cli::{Alarm, WitnessArgs, witness_once};
use xikang_code::note::{Checkpoint, Note, NoteError, NoteVerifier, SignatureType};
use xikang_domain::event::{EventBody, NewEvent, chain_hash};
use xikang_domain::merkle::{RootBuilder, leaf_hash};
use xikang_domain::{EventSeq, PersonId};
use xikang_server::ServerConfig;

fn xikang() -> Command {
    Command::new(env!("CARGO_BIN_EXE_xikang"))
}

/// `n` appeals, each an authority event.
fn appeals(n: u32, tag: &str) -> Vec<NewEvent> {
    (0..n)
        .map(|i| NewEvent {
            at: xikang_server::now(),
            actor: "tracer:test".into(),
            basis: "test".into(),
            body: EventBody::AppealFiled {
                person: PersonId(i),
                reason: format!("{tag} {i}"),
            },
        })
        .collect()
}

async fn text(addr: &str, path: &str) -> (u16, String) {
    let r = xikang::httpc::Conn::connect(addr)
        .await
        .unwrap()
        .get(path, None)
        .await
        .unwrap();
    (r.status, r.text())
}

/// Runs `xikang audit verify --data DIR --checkpoint FILE` off the async workers.
async fn audit_verify(dir: &Path, checkpoint: &Path) -> (Option<i32>, String) {
    let (dir, checkpoint) = (dir.to_owned(), checkpoint.to_owned());
    let out = tokio::task::spawn_blocking(move || {
        xikang()
            .args(["audit", "verify", "--data"])
            .arg(&dir)
            .arg("--checkpoint")
            .arg(&checkpoint)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let shown = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), shown)
}

/// Saves the server's current checkpoint to a file; answers its path and size.
async fn save_checkpoint(app: &TestApp, name: &str) -> (std::path::PathBuf, u64) {
    let (status, note) = text(&app.addr, "/api/v1/audit/checkpoint").await;
    assert_eq!(status, 200, "{note}");
    let path = app.dir.path().join(name);
    std::fs::write(&path, &note).unwrap();
    let size = Checkpoint::parse(&Note::parse(&note).unwrap().text)
        .unwrap()
        .size;
    (path, size)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_checkpoint_is_signed_by_the_published_key_and_an_edit_breaks_it() {
    let app = spawn_app().await;
    app.state.record(appeals(5, "appeal")).await.unwrap();
    let (s, vkey) = text(&app.addr, "/api/v1/audit/key").await;
    assert_eq!(s, 200);
    let key = NoteVerifier::parse(&vkey).unwrap();
    assert_eq!(key.kind(), SignatureType::Ed25519);
    let (s, served) = text(&app.addr, "/api/v1/audit/checkpoint").await;
    assert_eq!(s, 200, "{served}");
    let note = Note::parse(&served).unwrap();
    assert_eq!(key.verify(&note), Ok(0));
    let cp = Checkpoint::parse(&note.text).unwrap();
    assert_eq!(cp.origin, "xikang.local/320200/authority-log");
    assert_eq!(key.name(), cp.origin, "the key is named by the origin");

    // The head covers every event in the store, and its root is the RFC 6962 root of their
    // chain hashes, recomputed here from the store.
    let events = app.store.events_after(EventSeq(0), 100_000).unwrap();
    assert_eq!(cp.size, events.len() as u64);
    let mut root = RootBuilder::new();
    for e in &events {
        root.push(leaf_hash(&e.hash));
    }
    assert_eq!(cp.root, root.root());

    // One changed character of the text (a bigger size) and the signature fails.
    let size_line = format!("\n{}\n", cp.size);
    let edited = served.replacen(&size_line, &format!("\n{}\n", cp.size + 1), 1);
    assert_ne!(edited, served);
    assert!(matches!(
        key.verify(&Note::parse(&edited).unwrap()),
        Err(NoteError::BadSignature { .. })
    ));

    // The proofs between two sizes come from the same tree.
    let (s, v) = app
        .call(
            "GET",
            &format!("/api/v1/audit/consistency?from=2&to={}", cp.size),
            None,
            None,
        )
        .await;
    assert_eq!(s, 200, "{v}");
    assert!(!v["proof"].as_array().unwrap().is_empty());
    for bad in [
        format!("from={}&to=2", cp.size),
        format!("from=1&to={}", cp.size + 1),
        "from=1".to_owned(),
        "from=x&to=2".to_owned(),
    ] {
        let (s, v) = app
            .call(
                "GET",
                &format!("/api/v1/audit/consistency?{bad}"),
                None,
                None,
            )
            .await;
        assert_eq!(
            (s, v["error"]["code"].as_str()),
            (400, Some("invalid_range")),
            "{bad}: {v}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_the_newest_events_deleted_after_a_checkpoint() {
    let app = spawn_app().await;
    app.state.record(appeals(6, "appeal")).await.unwrap();
    let (file, size) = save_checkpoint(&app, "checkpoint.txt").await;
    let (code, shown) = audit_verify(app.dir.path(), &file).await;
    assert_eq!(code, Some(0), "{shown}");
    assert!(shown.contains("checkpoint OK"), "{shown}");

    // Growing past the checkpoint is fine: it covers a prefix.
    app.state.record(appeals(2, "later")).await.unwrap();
    let (code, shown) = audit_verify(app.dir.path(), &file).await;
    assert_eq!(code, Some(0), "{shown}");

    // Delete the newest events straight in SQLite: the chain that is left is valid...
    let cut = size - 3;
    app.store
        .execute_raw_for_tests(&format!("delete from events where seq > {cut}"))
        .unwrap();
    let chain = app.store.verify_chain().unwrap();
    assert!(chain.is_ok());
    assert_eq!(chain.verified, cut);
    // ...so only the checkpoint shows what is missing.
    let (code, shown) = audit_verify(app.dir.path(), &file).await;
    assert_eq!(code, Some(3), "{shown}");
    assert!(shown.contains("authority log OK"), "{shown}");
    assert!(shown.contains("SHORTER"), "{shown}");
    assert!(shown.contains(&format!("{}..{size}", cut + 1)), "{shown}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn audit_verify_detects_an_event_rewritten_with_its_chain_recomputed() {
    let app = spawn_app().await;
    app.state.record(appeals(6, "appeal")).await.unwrap();
    let (file, size) = save_checkpoint(&app, "checkpoint.txt").await;

    // Someone with write access to the database rewrites an old event and re-chains every
    // event after it: the hash chain verifies again.
    let events = app.store.events_after(EventSeq(0), 100_000).unwrap();
    let victim = events.len() - 4;
    let mut prev = events[victim].prev_hash;
    for (i, e) in events.iter().enumerate().skip(victim) {
        let actor = if i == victim {
            "someone else"
        } else {
            &e.actor
        };
        let hash = chain_hash(&prev, e.seq, e.at, actor, &e.basis, &e.body.to_json());
        app.store
            .execute_raw_for_tests(&format!(
                "update events set actor = '{actor}', prev_hash = x'{}', hash = x'{}' where seq = {}",
                hex(&prev),
                hex(&hash),
                e.seq.0
            ))
            .unwrap();
        prev = hash;
    }
    assert!(app.store.verify_chain().unwrap().is_ok(), "re-chained");
    assert_eq!(app.store.verify_chain().unwrap().verified, size);

    let (code, shown) = audit_verify(app.dir.path(), &file).await;
    assert_eq!(code, Some(3), "{shown}");
    assert!(shown.contains("DIVERGES"), "{shown}");

    // A checkpoint whose text was edited is refused before any comparison.
    let note = std::fs::read_to_string(&file).unwrap();
    let forged = app.dir.path().join("forged.txt");
    std::fs::write(&forged, note.replacen(&format!("\n{size}\n"), "\n1\n", 1)).unwrap();
    let (code, shown) = audit_verify(app.dir.path(), &forged).await;
    assert_eq!(code, Some(1), "{shown}");
    assert!(shown.contains("does not verify"), "{shown}");
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_cosigns_a_growing_log_and_alarms_when_it_is_rolled_back() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    let args = |url: &str| WitnessArgs {
        url: format!("http://{url}/"),
        state: dir.path().to_owned(),
        interval: 1,
        once: true,
        log_key: None,
        name: "witness.test/w1".into(),
    };
    let first = witness_once(&args(&app.addr)).await.unwrap().unwrap();
    assert_eq!(first.previous, 0);
    app.state.record(appeals(7, "appeal")).await.unwrap();
    let grown = witness_once(&args(&app.addr)).await.unwrap().unwrap();
    assert_eq!((grown.previous, grown.size), (first.size, first.size + 7));

    // The kept checkpoint carries the log's signature and the witness's cosignature.
    let kept = std::fs::read_to_string(dir.path().join("checkpoint")).unwrap();
    let note = Note::parse(&kept).unwrap();
    let log_key = std::fs::read_to_string(dir.path().join("log.vkey")).unwrap();
    assert_eq!(NoteVerifier::parse(&log_key).unwrap().verify(&note), Ok(0));
    let witness_key = std::fs::read_to_string(dir.path().join("witness.vkey")).unwrap();
    let witness_key = NoteVerifier::parse(&witness_key).unwrap();
    assert_eq!(witness_key.kind(), SignatureType::CosignatureV1);
    let signed_at = witness_key.verify(&note).unwrap();
    assert!(signed_at.abs_diff(xikang_server::now().0 as u64) < 3600);

    // The newest 4 events are deleted and the server restarted: its log shrank.
    let cut = grown.size - 4;
    app.store
        .execute_raw_for_tests(&format!("delete from events where seq > {cut}"))
        .unwrap();
    let (restarted, addr) = serve_store(app.store.clone(), ServerConfig::default()).await;
    assert_eq!(
        witness_once(&args(&addr)).await.unwrap(),
        Err(Alarm::Shrank {
            old: grown.size,
            new: cut
        })
    );
    // As a process with --once: exit code 3.
    let (state_dir, url) = (dir.path().to_owned(), format!("http://{addr}"));
    let out = tokio::task::spawn_blocking(move || {
        xikang()
            .args(["audit", "witness", "--once", "--name", "witness.test/w1"])
            .args(["--url", &url, "--state"])
            .arg(&state_dir)
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("SHRANK"));

    // Refilled past the old size with other events: a fork, refused by the proof.
    restarted.record(appeals(9, "replacement")).await.unwrap();
    assert_eq!(
        witness_once(&args(&addr)).await.unwrap(),
        Err(Alarm::Inconsistent {
            old: grown.size,
            new: cut + 9
        })
    );
    // Nothing was cosigned: the kept checkpoint is the one before the rollback.
    assert_eq!(
        std::fs::read_to_string(dir.path().join("checkpoint")).unwrap(),
        kept
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_witness_refuses_a_checkpoint_not_signed_by_the_pinned_key() {
    let app = spawn_app().await;
    let dir = tempfile::tempdir().unwrap();
    // Pinned to another log's key (the server's key under another origin).
    let other = xikang_code::note::NoteSigner::new(
        SignatureType::Ed25519,
        "xikang.local/320200/authority-log",
        [5; 32],
    )
    .unwrap();
    let args = WitnessArgs {
        url: app.addr.clone(),
        state: dir.path().to_owned(),
        interval: 1,
        once: true,
        log_key: Some(other.vkey()),
        name: "witness.test/w2".into(),
    };
    assert!(matches!(
        witness_once(&args).await.unwrap(),
        Err(Alarm::Signature(_))
    ));
    assert!(!dir.path().join("checkpoint").exists());
}
