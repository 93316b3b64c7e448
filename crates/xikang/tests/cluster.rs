//! No single point of failure (docs/nodes.md, issue 19): etcd and two PostgreSQL instances
//! under Patroni with a synchronous standby, on loopback ports 25001–25021 in a temporary
//! directory, and two `xikang serve` processes on a multi-host URL
//! (`target_session_attrs=read-write`), under scan load through both. `kill -9` of one
//! xikang node: the other keeps serving. `kill -9` of the PostgreSQL leader (Patroni and
//! postmaster): the standby is promoted and both nodes write again within 30 s. No
//! acknowledged scan is lost, and `xikang audit verify` passes on the new leader. The test
//! starts and tears down everything itself.
//!
//! Runs when `XIKANG_REQUIRE_PATRONI=1` (CI; then missing tools fail it) or when `patroni`
//! and `etcd` are installed; needs root (Patroni runs as the `postgres` user).

#![expect(
    clippy::unwrap_used,
    reason = "test helpers: a failure should fail the test at once"
)]

mod common;

use common::*;
use std::io::{Read, Write};
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const ETCD: u16 = 25001;
const ETCD_PEER: u16 = 25002;
const PG: [u16; 2] = [25010, 25011];
const REST: [u16; 2] = [25020, 25021];
const ADMIN: &str = "xk_cluster_admin_token";

fn has(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Whether to run: required by CI, or possible here.
fn enabled() -> bool {
    let required = std::env::var("XIKANG_REQUIRE_PATRONI").as_deref() == Ok("1");
    let tools = has("patroni") && has("etcd") && has("runuser");
    if required {
        assert!(
            tools,
            "XIKANG_REQUIRE_PATRONI=1 but patroni, etcd or runuser is missing"
        );
    } else if !tools {
        let _ = writeln!(std::io::stderr(), "cluster test skipped: no patroni/etcd");
    }
    tools
}

/// The HTTP status of `GET path` on a loopback port, if it answers.
fn http_status(port: u16, path: &str) -> Option<u16> {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    write!(s, "GET {path} HTTP/1.0\r\nhost: 127.0.0.1\r\n\r\n").ok()?;
    let mut head = [0u8; 12];
    s.read_exact(&mut head).ok()?;
    std::str::from_utf8(&head[9..12]).ok()?.parse().ok()
}

fn wait_for(what: &str, limit: Duration, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + limit;
    while !ok() {
        assert!(Instant::now() < deadline, "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// etcd and Patroni-managed PostgreSQL in a temporary directory; everything it started is
/// killed (by process group) and removed when it is dropped, also when the test fails.
struct Cluster {
    dir: tempfile::TempDir,
    procs: Vec<Child>,
}

impl Cluster {
    fn start() -> Cluster {
        let dir = tempfile::Builder::new()
            .prefix("xk-cluster")
            .tempdir()
            .unwrap();
        let chown = Command::new("chown")
            .args(["-R", "postgres:postgres"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(chown.success());
        let mut c = Cluster {
            dir,
            procs: Vec::new(),
        };
        let d = c.path().display().to_string();
        c.spawn_as_postgres(
            "etcd",
            &[
                "etcd",
                "--name=xk",
                &format!("--data-dir={d}/etcd"),
                &format!("--listen-client-urls=http://127.0.0.1:{ETCD}"),
                &format!("--advertise-client-urls=http://127.0.0.1:{ETCD}"),
                &format!("--listen-peer-urls=http://127.0.0.1:{ETCD_PEER}"),
                &format!("--initial-advertise-peer-urls=http://127.0.0.1:{ETCD_PEER}"),
                &format!("--initial-cluster=xk=http://127.0.0.1:{ETCD_PEER}"),
            ],
        );
        wait_for("etcd", Duration::from_secs(20), || {
            http_status(ETCD, "/health") == Some(200)
        });
        for i in 0..2 {
            let yml = c.path().join(format!("pg{i}.yml"));
            std::fs::write(&yml, patroni_config(c.path(), i)).unwrap();
            Command::new("chown")
                .arg("postgres:postgres")
                .arg(&yml)
                .status()
                .unwrap();
            c.spawn_as_postgres(&format!("patroni{i}"), &["patroni", yml.to_str().unwrap()]);
            if i == 0 {
                // The first bootstraps alone; the second then copies it.
                wait_for("the first leader", Duration::from_secs(60), || {
                    http_status(REST[0], "/primary") == Some(200)
                });
            }
        }
        wait_for("a synchronous standby", Duration::from_secs(60), || {
            (0..2).any(|i| http_status(REST[i], "/sync") == Some(200))
        });
        c
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `args` as the `postgres` user in a process group of its own (so that the
    /// group can be killed whole), with its output in `DIR/NAME.log`.
    fn spawn_as_postgres(&mut self, name: &str, args: &[&str]) {
        let log = std::fs::File::create(self.path().join(format!("{name}.log"))).unwrap();
        let child = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .process_group(0)
            .spawn()
            .unwrap();
        self.procs.push(child);
    }

    /// The instance Patroni has as leader now.
    fn leader(&self) -> Option<usize> {
        (0..2).find(|i| http_status(REST[*i], "/primary") == Some(200))
    }

    /// `kill -9` of instance `i`: its Patroni (the process group) and its postmaster.
    fn kill_instance(&mut self, i: usize) {
        let group = self.procs[1 + i].id();
        kill9(&format!("-{group}"));
        if let Some(pid) = self.postmaster(i) {
            kill9(&pid.to_string());
        }
    }

    fn postmaster(&self, i: usize) -> Option<u32> {
        let pidfile = self.path().join(format!("pg{i}/postmaster.pid"));
        std::fs::read_to_string(pidfile)
            .ok()?
            .lines()
            .next()?
            .trim()
            .parse()
            .ok()
    }

    fn url(&self) -> String {
        format!(
            "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write&connect_timeout=2",
            PG[0], PG[1]
        )
    }
}

fn kill9(target: &str) {
    let _ = Command::new("kill")
        .args(["-9", "--", target])
        .stderr(Stdio::null())
        .status();
}

impl Drop for Cluster {
    fn drop(&mut self) {
        if std::thread::panicking() {
            // What the tools said, for the failure's report.
            for name in ["etcd", "patroni0", "patroni1"] {
                let log = std::fs::read_to_string(self.path().join(format!("{name}.log")))
                    .unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                let _ = writeln!(
                    std::io::stderr(),
                    "--- {name}.log (last lines, newest first)"
                );
                for l in tail {
                    let _ = writeln!(std::io::stderr(), "{l}");
                }
            }
        }
        let postmasters: Vec<u32> = (0..2).filter_map(|i| self.postmaster(i)).collect();
        for p in &mut self.procs {
            kill9(&format!("-{}", p.id()));
            let _ = p.wait();
        }
        for pid in postmasters {
            kill9(&pid.to_string());
        }
    }
}

fn patroni_config(dir: &Path, i: usize) -> String {
    let d = dir.display();
    format!(
        r#"scope: xk
name: pg{i}
restapi:
  listen: 127.0.0.1:{rest}
  connect_address: 127.0.0.1:{rest}
etcd3:
  hosts: 127.0.0.1:{ETCD}
bootstrap:
  dcs:
    ttl: 6
    loop_wait: 1
    retry_timeout: 2
    synchronous_mode: true
    postgresql:
      use_pg_rewind: false
      parameters:
        synchronous_commit: "on"
  initdb:
    - encoding: UTF8
    - auth: trust
  pg_hba:
    - local all all trust
    - host all all 127.0.0.1/32 trust
    - host replication all 127.0.0.1/32 trust
postgresql:
  listen: 127.0.0.1:{pg}
  connect_address: 127.0.0.1:{pg}
  data_dir: {d}/pg{i}
  bin_dir: /usr/lib/postgresql/15/bin
  pgpass: {d}/pgpass{i}
  authentication:
    superuser:
      username: postgres
    replication:
      username: postgres
  basebackup:
    - checkpoint: fast
  parameters:
    unix_socket_directories: {d}
"#,
        rest = REST[i],
        pg = PG[i],
    )
}

/// A `xikang serve` process on the cluster; killed when dropped.
struct XikangNode {
    child: Child,
    addr: String,
}

impl XikangNode {
    fn start(url: &str, id: &str, data: &Path) -> XikangNode {
        let mut child = Command::new(env!("CARGO_BIN_EXE_xikang"))
            .args(["serve", "--listen", "127.0.0.1:0", "--node-id", id])
            .args(["--database-url", url, "--admin-token", ADMIN])
            .arg("--data")
            .arg(data)
            .env("XIKANG_LOG", "warn")
            .stdout(Stdio::piped())
            // Every request refused while the leader is away logs an error: kept apart.
            .stderr(std::fs::File::create(data.join(format!("{id}.log"))).unwrap())
            .spawn()
            .unwrap();
        let greeting = read_greeting(child.stdout.take().unwrap());
        let addr = greeting
            .split("serving on http://")
            .nth(1)
            .and_then(|s| s.split('/').next())
            .unwrap_or_else(|| panic!("no address in {greeting:?}"))
            .to_owned();
        XikangNode { child, addr }
    }
}

impl Drop for XikangNode {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn count(acked: &Acked) -> usize {
    acked.lock().unwrap().len()
}

/// Waits (polling, up to `limit`) until `acked` holds more than `n` scans.
async fn acks_beyond(acked: &Acked, n: usize, limit: Duration) -> bool {
    let deadline = Instant::now() + limit;
    while count(acked) <= n {
        if Instant::now() > deadline {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    true
}

#[test]
fn the_city_survives_a_killed_node_and_a_killed_database_leader() {
    if !enabled() {
        return;
    }
    let began = Instant::now();
    let mut cluster = Cluster::start();
    let url = cluster.url();
    let data = tempfile::tempdir().unwrap();
    {
        let store = xikang_store::open(&xikang_store::Target::Postgres(url.clone())).unwrap();
        xikang::load::generate_into(store.as_ref(), &city_config()).unwrap();
    }
    let store = xikang_store::open(&xikang_store::Target::Postgres(url.clone())).unwrap();
    let places = plain_places_in(store.as_ref(), 10);
    drop(store);
    let a = XikangNode::start(&url, "a", data.path());
    let b = XikangNode::start(&url, "b", data.path());
    let ready = began.elapsed();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let mut all_acked: Vec<Acked> = Vec::new();
    let mut all_tasks = Vec::new();
    rt.block_on(async {
        let (ta, acked_a) = start_scan_load(&a.addr, ADMIN, places.clone(), 1).await;
        let (tb, acked_b) = start_scan_load(&b.addr, ADMIN, places.clone(), 1).await;
        assert!(acks_beyond(&acked_a, 50, Duration::from_secs(20)).await);
        assert!(acks_beyond(&acked_b, 50, Duration::from_secs(20)).await);

        // kill -9 of node A: B keeps serving.
        drop(a);
        let at_kill = count(&acked_b);
        assert!(
            acks_beyond(&acked_b, at_kill + 50, Duration::from_secs(10)).await,
            "node B stopped serving when node A was killed"
        );
        // A comes back (as its supervisor would restart it).
        let a2 = XikangNode::start(&url, "a", data.path());
        let (ta2, acked_a2) = start_scan_load(&a2.addr, ADMIN, places.clone(), 1).await;
        assert!(acks_beyond(&acked_a2, 50, Duration::from_secs(20)).await);

        // kill -9 of the PostgreSQL leader: the synchronous standby is promoted and both
        // nodes write again.
        let leader = cluster.leader().expect("a leader");
        let (na, nb) = (count(&acked_a2), count(&acked_b));
        cluster.kill_instance(leader);
        let killed = Instant::now();
        let limit = Duration::from_secs(30);
        let again_a = acks_beyond(&acked_a2, na + 20, limit).await;
        let again_b = acks_beyond(&acked_b, nb + 20, limit).await;
        let writable = killed.elapsed();
        assert!(again_a && again_b, "a node did not write again within 30 s");
        assert_eq!(
            cluster.leader(),
            Some(1 - leader),
            "the standby was not promoted"
        );
        let _ = writeln!(
            std::io::stderr(),
            "cluster: ready in {:.1} s; both nodes writing {:.1} s after the leader was killed",
            ready.as_secs_f64(),
            writable.as_secs_f64()
        );
        for t in ta.into_iter().chain(tb).chain(ta2) {
            t.abort();
        }
        all_acked.extend([acked_a, acked_b, acked_a2]);
        all_tasks.push(a2);
        drop(b);
    });
    drop(all_tasks);
    drop(rt);

    // Every acknowledged scan is on the new leader, and its log verifies.
    let store = xikang_store::open(&xikang_store::Target::Postgres(url.clone())).unwrap();
    for acked in &all_acked {
        let acked = acked.lock().unwrap().clone();
        assert_eq!(
            lost_scans_in(store.as_ref(), &acked),
            0,
            "acknowledged scans lost"
        );
    }
    audit_verify(&["--database-url", &url]);
    drop(store);
    drop(cluster);
}
