//! The command line: `serve`, `demo`, `gen`, `verify`, `audit` (`audit_cli`), `token create`,
//! `token list`, `token revoke`, `user create`, `policy check`, `bench`.

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use xikang_domain::policy::Policy;
use xikang_domain::time::DAY;
use xikang_domain::{AreaCode, CivilDay, PersonId, Timestamp, TokenId, VenueId};
use xikang_server::app::Role;
use xikang_server::auth::token_digest;
use xikang_server::edge::EdgeConfig;
use xikang_server::limit::Rate;
use xikang_server::state::AppState;
use xikang_server::web;
use xikang_server::{ServerConfig, now};
use xikang_sim::CityConfig;
use xikang_store::{ApiToken, Store, Target};

mod serve;
use serve::{Bound, effective, serve};

#[derive(Debug, Parser)]
#[command(
    name = "xikang",
    version,
    about = "锡康 xikang: outbreak control for a city — health codes, scans, tracing"
)]
struct Cli {
    /// Configuration file (TOML; keys are `serve`'s flags with `_` for `-`): the layer under
    /// the environment and the flags. Default: `xikang.toml` in the current directory, if
    /// it exists. See `xikang config example`.
    #[arg(long, global = true, env = "XIKANG_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

/// Where the data lives: a SQLite data directory (default) or a PostgreSQL URL.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Data directory for the embedded SQLite store.
    #[arg(long, default_value = "xikang-data", env = "XIKANG_DATA")]
    pub data: PathBuf,
    /// PostgreSQL URL (postgres://…); overrides --data.
    #[arg(long, env = "XIKANG_DATABASE_URL")]
    pub database_url: Option<String>,
}

impl StoreArgs {
    /// Opens the store that must already exist (`serve`): a data directory without one is
    /// refused rather than served as an empty city, unless `create` is asked for.
    pub fn open_existing(&self, create: bool) -> Result<Arc<dyn Store>> {
        let target = Target::from_args(Some(&self.data), self.database_url.as_deref());
        if !create && !xikang_store::exists(&target) {
            bail!(
                "no xikang store in {}: check --data, or pass --create to start an empty one (`xikang gen` and `xikang demo` create a city)",
                self.data.display()
            );
        }
        self.open()
    }

    /// Opens the store (applying migrations), creating it if there is none.
    pub fn open(&self) -> Result<Arc<dyn Store>> {
        let target = Target::from_args(Some(&self.data), self.database_url.as_deref());
        let store = xikang_store::open(&target).with_context(|| match &self.database_url {
            Some(_) => "opening the PostgreSQL store".to_owned(),
            None => format!("opening the data directory {}", self.data.display()),
        })?;
        Ok(Arc::from(store))
    }
}

#[derive(Debug, Clone, Args)]
struct ServeArgs {
    #[command(flatten)]
    store: StoreArgs,
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080", env = "XIKANG_LISTEN")]
    listen: String,
    /// A policy file to use instead of the shipped default.
    #[arg(long, env = "XIKANG_POLICY")]
    policy: Option<PathBuf>,
    /// Ensure this admin token exists (for scripts); otherwise one is created and printed.
    #[arg(long, env = "XIKANG_ADMIN_TOKEN")]
    admin_token: Option<String>,
    /// Jurisdiction code that issues codes (GB/T 2260).
    #[arg(long, default_value = "320200")]
    jurisdiction: String,
    /// Password of the web user `admin` (created or reset). Without it, `admin` is created
    /// with a random password, printed once, if it does not exist yet.
    #[arg(long, env = "XIKANG_ADMIN_PASSWORD")]
    admin_password: Option<String>,
    /// Browsers reach the server over TLS (through its reverse proxy): session cookies are
    /// marked `Secure`. The per-address login throttle then needs the proxy's address to be
    /// the client's, see docs/web.md.
    #[arg(long, env = "XIKANG_BEHIND_TLS")]
    behind_tls: bool,
    /// The authority log's name in its signed checkpoints (a schema-less URL such as
    /// `xikang.wuxi.example/authority-log`). Witnesses pin it: keep it stable. Default:
    /// `xikang.local/<jurisdiction>/authority-log`.
    #[arg(long, env = "XIKANG_LOG_ORIGIN")]
    log_origin: Option<String>,
    /// How long after a code expired a venue device may still upload a scan of it queued
    /// offline, in seconds (docs/decisions.md, "Scans queued offline").
    #[arg(long, env = "XIKANG_SCAN_UPLOAD_GRACE_SECS",
          default_value_t = xikang_server::state::DEFAULT_SCAN_UPLOAD_GRACE_SECS,
          value_parser = clap::value_parser!(i64).range(0..=86_400))]
    scan_upload_grace_secs: i64,
    /// A file whose first line is the bearer token that may read `GET /metrics` from any
    /// address. Without it, only loopback clients may, and nobody with --behind-tls
    /// (docs/metrics.md).
    #[arg(long, env = "XIKANG_METRICS_TOKEN_FILE")]
    metrics_token_file: Option<PathBuf>,
    /// Seconds between fetches of the peer cities' signed trust lists (0: only when an
    /// admin asks, `POST /api/v1/peers/{name}/refresh`). docs/cities.md.
    #[arg(long, env = "XIKANG_PEER_REFRESH_SECS",
          default_value_t = xikang_server::cities::peers::DEFAULT_REFRESH_SECS)]
    peer_refresh_secs: u64,
    /// Seconds between delivery attempts of 协查 requests and answers queued while a peer
    /// is unreachable (docs/cities.md).
    #[arg(long, env = "XIKANG_ASSIST_RETRY_SECS",
          default_value_t = xikang_server::cities::assist::DEFAULT_RETRY_SECS)]
    assist_retry_secs: u64,
    /// Seconds between two reads of the store's signing keys, so that a running server
    /// takes a rotation or revocation made by `xikang key` (0: only at start and through
    /// the API). docs/cities.md.
    #[arg(long, env = "XIKANG_KEY_RELOAD_SECS",
          default_value_t = xikang_server::cities::keys::DEFAULT_RELOAD_SECS)]
    key_reload_secs: u64,
    /// This node's name among several serving one PostgreSQL database (docs/nodes.md):
    /// unique per process. Without it the process is the only node.
    #[arg(long, env = "XIKANG_NODE_ID", value_parser = parse_node_id)]
    node_id: Option<String>,
    /// What this node serves: `all` (default), `front` (codes and scans; no check-in
    /// index, tracing refused with `tracing_elsewhere`) or `tracing` (docs/nodes.md).
    #[arg(long, env = "XIKANG_NODE_ROLE", default_value = "all", value_parser = parse_role)]
    role: xikang_server::app::node::NodeRole,
    #[command(flatten)]
    edge: EdgeArgs,
    /// Create an empty store when the data directory has none (without it, `serve` refuses
    /// a directory without a store: a mistyped `--data` must not start an empty city).
    #[arg(long)]
    create: bool,
    /// Run as a drill (应急演练): on a simulated clock that reads --drill-start until an
    /// admin moves it (`POST /api/v1/drill/clock`), on a store marked as a drill's (a new
    /// one is marked; production data are refused, and a drill's store is refused without
    /// this flag). See docs/drills.md.
    #[arg(long, env = "XIKANG_DRILL")]
    drill: bool,
    /// The drill clock's first reading, RFC 3339 (e.g. 2020-01-20T08:00:00+08:00); default:
    /// the real time at start.
    #[arg(long, env = "XIKANG_DRILL_START", requires = "drill")]
    drill_start: Option<String>,
}

/// The HTTP edge's deadlines and limits (defaults in `xikang_server::edge::EdgeConfig`).
#[derive(Debug, Clone, Args)]
pub struct EdgeArgs {
    /// Seconds a client has to send a request's headers (also the keep-alive idle limit)
    /// [default: 30].
    #[arg(long, env = "XIKANG_HEADER_TIMEOUT_SECS")]
    header_timeout_secs: Option<u64>,
    /// Seconds a client has to send a request's body after its headers [default: 10].
    #[arg(long, env = "XIKANG_BODY_TIMEOUT_SECS")]
    body_timeout_secs: Option<u64>,
    /// Milliseconds a request may wait for a slot when its lane is full [default: 1000].
    #[arg(long, env = "XIKANG_QUEUE_WAIT_MS")]
    queue_wait_ms: Option<u64>,
    /// Requests per second per bearer token, as RATE or RATE:BURST; 0 = unlimited
    /// [default: 1000:2000].
    #[arg(long, env = "XIKANG_TOKEN_RATE", value_parser = parse_rate)]
    token_rate: Option<Rate>,
    /// Requests per second per client address without a bearer token [default: 200:1000].
    #[arg(long, env = "XIKANG_ADDRESS_RATE", value_parser = parse_rate)]
    address_rate: Option<Rate>,
    /// Uncached bearer tokens looked up per second per client address [default: 50:200].
    #[arg(long, env = "XIKANG_LOOKUP_RATE", value_parser = parse_rate)]
    lookup_rate: Option<Rate>,
}

impl EdgeArgs {
    /// The edge settings: the defaults with what was given.
    pub fn config(&self) -> EdgeConfig {
        let d = EdgeConfig::default();
        let secs = std::time::Duration::from_secs;
        EdgeConfig {
            header_timeout: self.header_timeout_secs.map_or(d.header_timeout, secs),
            body_timeout: self.body_timeout_secs.map_or(d.body_timeout, secs),
            queue_wait: self
                .queue_wait_ms
                .map_or(d.queue_wait, std::time::Duration::from_millis),
            token_rate: self.token_rate.unwrap_or(d.token_rate),
            address_rate: self.address_rate.unwrap_or(d.address_rate),
            lookup_rate: self.lookup_rate.unwrap_or(d.lookup_rate),
            ..d
        }
    }
}

/// `RATE` (burst = rate) or `RATE:BURST`, requests per second; `0` is unlimited.
fn parse_rate(s: &str) -> Result<Rate, String> {
    let num = |v: &str| {
        v.trim()
            .parse::<u32>()
            .map_err(|_| format!("{v:?} is not a whole number"))
    };
    let (rate, burst) = match s.split_once(':') {
        Some((r, b)) => (num(r)?, num(b)?),
        None => (num(s)?, num(s)?),
    };
    if rate > 0 && burst == 0 {
        return Err("a burst is at least 1".into());
    }
    Ok(Rate::new(rate, burst))
}

#[derive(Debug, Clone, Args)]
struct CityArgs {
    /// Residents to generate.
    #[arg(long, default_value_t = 20_000)]
    people: u32,
    /// Days of check-ins, ending today.
    #[arg(long, default_value_t = 14)]
    days: u32,
    /// Seed: the same seed gives the same city.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// First simulated day (YYYY-MM-DD); default so that the last day is today.
    #[arg(long)]
    first_day: Option<String>,
    /// Residents whose phones send location pings (for companions), per thousand.
    #[arg(long, default_value_t = xikang_sim::DEFAULT_PING_SHARE_PERMILLE)]
    ping_permille: u32,
}

impl CityArgs {
    fn config(&self) -> Result<CityConfig> {
        let first_day = match &self.first_day {
            Some(d) => CivilDay::parse(d).map_err(|e| anyhow::anyhow!("{e}"))?,
            None => CivilDay(now().shanghai_day().0 - self.days.saturating_sub(1) as i32),
        };
        if self.people == 0 || self.days == 0 {
            bail!("--people and --days must be at least 1");
        }
        Ok(CityConfig {
            people: self.people,
            days: self.days,
            seed: self.seed,
            first_day,
        })
    }

    fn ping_plan(&self) -> Result<xikang_sim::PingPlan> {
        if self.ping_permille > 1_000 {
            bail!("--ping-permille is at most 1000");
        }
        Ok(xikang_sim::PingPlan {
            share_permille: self.ping_permille,
            ..xikang_sim::PingPlan::default()
        })
    }
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve an existing data directory or database.
    Serve(ServeArgs),
    /// Generate a small synthetic city (unless the data directory has one) and serve it.
    Demo {
        #[command(flatten)]
        serve: ServeArgs,
        #[command(flatten)]
        city: CityArgs,
        /// Generate the city without the outbreak the demo otherwise seeds (a drill over its
        /// days: cases, contacts, orders, a sealed cell, a round; docs/drills.md).
        #[arg(long)]
        no_outbreak: bool,
    },
    /// Generate a synthetic city into a data directory or database.
    Gen {
        #[command(flatten)]
        store: StoreArgs,
        #[command(flatten)]
        city: CityArgs,
    },
    /// Verify a health-code token offline against a trust list file.
    Verify {
        /// Trust list JSON (as served at /api/v1/trust).
        #[arg(long)]
        trust: PathBuf,
        /// Expected issuer (jurisdiction code).
        #[arg(long)]
        issuer: Option<String>,
        /// The token (XK1:…).
        token: String,
    },
    /// Audit the authority log: verify its chain (and a checkpoint), or witness a server.
    Audit {
        #[command(subcommand)]
        what: crate::audit_cli::AuditCmd,
    },
    /// The city's keys over time: rotate, revoke, print the trust anchor (docs/cities.md).
    Key {
        #[command(subcommand)]
        what: crate::cities_cli::KeyCmd,
    },
    /// Peer cities whose signed trust lists this one fetches (docs/cities.md).
    Peer {
        #[command(subcommand)]
        what: crate::cities_cli::PeerCmd,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        what: TokenCmd,
    },
    /// Manage web users.
    User {
        #[command(subcommand)]
        what: UserCmd,
    },
    /// Check a policy file.
    Policy {
        #[command(subcommand)]
        what: PolicyCmd,
    },
    /// Drop check-in and location-ping days older than the policy's retention period.
    Retention {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Run the HTTP benchmark: starts a server on a generated city and loads it.
    Bench(crate::bench::BenchArgs),
    /// Code display through one front node, then two, on one PostgreSQL (docs/nodes.md).
    BenchNodes(crate::nodes_bench::NodesBenchArgs),
    /// Simulate partitioning the stored city's check-ins by venue district (docs/scale.md).
    BenchShards(crate::shard_sim::ShardSimArgs),
    /// Print a case's contacts with evidence, or a cluster (`--dot` for Graphviz).
    Trace(crate::trace_cmd::TraceArgs),
    /// Tracing benchmark: xikang's index against PostgreSQL and DuckDB on a stored city.
    BenchTrace(crate::trace_bench::TraceBenchArgs),
    /// The epidemic engine alone on a generated city: attack rate, doubling time, run time.
    Outbreak(crate::outbreak_cli::OutbreakArgs),
    /// A drill (应急演练): an outbreak on a generated city driven through a drill server's
    /// API by responders with capacities; a report; `--compare-policy` (docs/drills.md).
    Drill(crate::drill::DrillArgs),
    /// The administrative grid (cells, communities, grid workers).
    Grid {
        #[command(subcommand)]
        what: GridCmd,
    },
    /// District outlines for the dashboard's map.
    Districts {
        #[command(subcommand)]
        what: DistrictsCmd,
    },
    /// Benchmark duties: seal and lift a zone, a grid worker's task list at scale.
    BenchDuties(crate::duties::DutyBenchArgs),
    /// Duty reference data (sites, origin risk list, sentinels) and task lists. Changes that
    /// colour people (orders, zones, arrivals, reports) go through the API, where the server
    /// records them as authority events.
    Duties {
        #[command(flatten)]
        store: StoreArgs,
        #[command(subcommand)]
        what: crate::duties::DutyCmd,
    },
    #[command(flatten)]
    Lab(crate::lab_cli::LabCommand),
    /// The resident register (实有人口): import a CSV or XLSX file through a running server.
    People {
        #[command(subcommand)]
        what: crate::register_cli::PeopleCmd,
    },
    /// Benchmark the register import: a generated file of N residents (1 % bad lines)
    /// through `xikang people import` and the server, then the same file again.
    BenchImport(crate::register_cli::BenchImportArgs),
    /// The configuration file: an annotated example, or the settings `serve` would use.
    Config {
        #[command(subcommand)]
        what: ConfigCmd,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCmd {
    /// Print the annotated example configuration file (`deploy/xikang.toml`).
    Example,
    /// Print the settings `serve` would run with after the file, the environment and these
    /// flags are layered (secrets shown as `<set>`), then exit.
    Show(Box<ServeArgs>),
}

#[derive(Debug, Subcommand)]
enum GridCmd {
    /// Import grid cells (replacing those cells) from CSV (cell,community,name,lat,lon,worker)
    /// or from a GeoJSON FeatureCollection of cell polygons (.geojson).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The CSV or GeoJSON file.
        csv: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum DistrictsCmd {
    /// Replace every district outline with those of a GeoJSON FeatureCollection: one Polygon
    /// feature per district, its 6-digit code in a property (and optionally its name).
    Import {
        #[command(flatten)]
        store: StoreArgs,
        /// The GeoJSON file.
        file: PathBuf,
        /// The property holding the district code.
        #[arg(long, default_value = "code")]
        code_property: String,
        /// The property holding the district name (stored as the area's name when present).
        #[arg(long, default_value = "name")]
        name_property: String,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCmd {
    /// Create an API token and print it (only its digest is stored).
    Create {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        name: String,
        /// admin, tracer, lab, venue_device, grid_worker, resident or carrier.
        #[arg(long)]
        role: String,
        /// Jurisdiction: area code (city, district or street).
        #[arg(long, default_value = "320200")]
        area: String,
        /// For a venue device bound to one venue.
        #[arg(long)]
        venue: Option<u32>,
        /// For a resident.
        #[arg(long)]
        person: Option<u32>,
        /// May look people up by ID number.
        #[arg(long)]
        id_lookup: bool,
        /// For an enterprise's token: its unified social credit code.
        #[arg(long)]
        enterprise: Option<String>,
        /// Expiry (RFC 3339); the role's default lifetime when absent, at most its ceiling
        /// (docs/authorisation.md).
        #[arg(long)]
        expires_at: Option<String>,
    },
    /// List tokens (ids, roles, areas, expiry, revocation; never a secret).
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token by its id (`TK3`): every server on the store refuses it within
    /// seconds.
    Revoke {
        #[command(flatten)]
        store: StoreArgs,
        /// The token's id, as `token list` or the API shows it.
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum UserCmd {
    /// Create a web user. The password is read from stdin with --password-stdin, else a
    /// random one is generated and printed once.
    Create {
        #[command(flatten)]
        store: StoreArgs,
        #[arg(long)]
        name: String,
        /// admin, tracer, lab, venue_device, grid_worker or resident.
        #[arg(long)]
        role: String,
        /// Jurisdiction: area code (city, district or street).
        #[arg(long, default_value = "320200")]
        area: String,
        /// For a venue user: the venue (V12).
        #[arg(long, default_value = "")]
        venue: String,
        /// For a resident: the person they are (P12).
        #[arg(long, default_value = "")]
        person: String,
        /// For an enterprise's account: its unified social credit code.
        #[arg(long, default_value = "")]
        enterprise: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
}

#[derive(Debug, Subcommand)]
enum PolicyCmd {
    /// Parse a policy file and print its version, or the error with its line.
    Check { file: PathBuf },
    /// Print the shipped default policy.
    Default,
}

/// Entry point: parses arguments (with the configuration file under them), runs, maps
/// errors to exit codes.
pub fn main() -> ExitCode {
    use clap::{CommandFactory, FromArgMatches};
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let command = Cli::command();
    let first = command.clone().get_matches_from(&args);
    let file = first.get_one::<PathBuf>("config").cloned();
    let (extra, layered) = match crate::config::layer(&command, &first, file, "serve") {
        Ok(l) => l,
        Err(e) => {
            eprintln!("error: {e:#}");
            return ExitCode::from(2);
        }
    };
    let matches = if extra.is_empty() {
        first
    } else {
        match command.try_get_matches_from(args.into_iter().chain(extra)) {
            Ok(m) => m,
            Err(e) => {
                if let Some(f) = &layered.file {
                    eprintln!("error: a setting in {} was refused:", f.display());
                }
                e.exit()
            }
        }
    };
    let cli = Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // A drill's server logs every request of its responders: warnings only, unless asked.
    let quiet = matches!(cli.command, Command::Drill(_));
    if let Err(e) = init_logging(&layered.log, if quiet { "warn" } else { "info" }) {
        eprintln!("error: {e:#}");
        return ExitCode::from(2);
    }
    if let Some(f) = &layered.file {
        tracing::debug!(file = %f.display(), "configuration file read");
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(1)
        }
    }
}

/// Logs on stderr: `XIKANG_LOG` (else the file's `log`, else `info`) filters;
/// `XIKANG_LOG_FORMAT` (else the file's `log_format`) is `text` (default) or `json` (one
/// object a line, for journald, Loki and friends). Colour only when stderr is a terminal
/// and `NO_COLOR` is unset: never escape codes in a file or a journal.
fn init_logging(file: &crate::config::FileLog, default: &str) -> Result<()> {
    use std::io::IsTerminal;
    let filter = std::env::var("XIKANG_LOG")
        .ok()
        .or_else(|| file.filter.clone())
        .unwrap_or_else(|| default.into());
    let filter = tracing_subscriber::EnvFilter::try_new(&filter)
        .with_context(|| format!("XIKANG_LOG / log = {filter:?}"))?;
    let format = std::env::var("XIKANG_LOG_FORMAT")
        .ok()
        .or_else(|| file.format.clone())
        .unwrap_or_else(|| "text".into());
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let _ = match format.as_str() {
        "json" => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_span_list(false)
            .try_init(),
        "text" => builder
            .with_ansi(std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none())
            .try_init(),
        other => bail!("XIKANG_LOG_FORMAT / log_format: {other:?} is neither text nor json"),
    };
    Ok(())
}

fn run(cmd: Command) -> Result<ExitCode> {
    match cmd {
        Command::Trace(args) => crate::trace_cmd::run(&args),
        Command::BenchTrace(args) => crate::trace_bench::run(&args),
        Command::Outbreak(args) => crate::outbreak_cli::run(&args),
        Command::Drill(args) => crate::drill::run(&args),
        Command::Serve(args) => {
            let bound = Bound::bind(&args.listen)?;
            serve(&args, None, bound)
        }
        Command::Demo {
            serve: mut args,
            city,
            no_outbreak,
        } => {
            // A taken address is reported before minutes of generating a city.
            let bound = Bound::bind(&args.listen)?;
            let store = args.store.open()?;
            // The demo's store is a drill's: its data can never be served as a production city.
            args.drill = true;
            if store.count_people()? == 0 {
                let cfg = city.config()?;
                eprintln!(
                    "generating a synthetic city: {} people × {} days (seed {})…",
                    cfg.people, cfg.days, cfg.seed
                );
                if no_outbreak {
                    crate::drill::demo::follow_real_time(store.as_ref())?;
                    let r =
                        crate::load::generate_into_with(store.as_ref(), &cfg, &city.ping_plan()?)?;
                    eprintln!(
                        "generated {} people, {} venues, {} check-ins, {} location pings, {} test results in {:.1} s",
                        r.people, r.venues, r.checkins, r.pings, r.test_results, r.seconds
                    );
                } else {
                    crate::drill::demo::generate_with_outbreak(
                        store.clone(),
                        &cfg,
                        &city.ping_plan()?,
                    )?;
                }
            } else {
                crate::drill::demo::follow_real_time(store.as_ref())?;
            }
            serve(&args, Some(store), bound)
        }
        Command::Config {
            what: ConfigCmd::Example,
        } => {
            print!("{}", crate::config::EXAMPLE);
            Ok(ExitCode::SUCCESS)
        }
        Command::Config {
            what: ConfigCmd::Show(args),
        } => {
            for (key, value) in effective(&args) {
                println!("{key} = {value}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Gen { store, city } => {
            let store = store.open()?;
            if store.count_people()? > 0 {
                bail!("the store already holds a city; use an empty data directory or database");
            }
            let cfg = city.config()?;
            let r = crate::load::generate_into_with(store.as_ref(), &cfg, &city.ping_plan()?)?;
            println!(
                "generated {} people, {} venues, {} check-ins, {} location pings, {} test results in {:.1} s ({:.0} check-ins/s)",
                r.people,
                r.venues,
                r.checkins,
                r.pings,
                r.test_results,
                r.seconds,
                r.checkins as f64 / r.seconds.max(1e-9)
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Verify {
            trust,
            issuer,
            token,
        } => verify(&trust, issuer.as_deref(), &token),
        Command::Audit { what } => crate::audit_cli::run(what),
        Command::Key { what } => crate::cities_cli::run_key(what).map(|()| ExitCode::SUCCESS),
        Command::Peer { what } => crate::cities_cli::run_peer(what).map(|()| ExitCode::SUCCESS),
        Command::Token {
            what:
                TokenCmd::Create {
                    store,
                    name,
                    role,
                    area,
                    venue,
                    person,
                    id_lookup,
                    enterprise,
                    expires_at,
                },
        } => {
            let store = store.open()?;
            let role = Role::parse(&role).with_context(|| format!("unknown role {role:?}"))?;
            let area = AreaCode::parse(&area)?;
            let enterprise = xikang_server::api::enterprise_of(role, enterprise.as_deref())
                .map_err(|e| anyhow::anyhow!("--enterprise: {}", e.summary().2))?;
            let now = now();
            let requested = expires_at
                .as_deref()
                .map(Timestamp::parse_rfc3339)
                .transpose()
                .context("--expires-at")?;
            let expires_at = xikang_server::auth::token_expiry(role, requested, now)
                .map_err(|e| anyhow::anyhow!("--expires-at: {}", e.summary().2))?;
            let token = xikang_server::auth::new_token();
            let row = ApiToken {
                name,
                role: role.as_str().into(),
                area,
                venue: venue.map(VenueId),
                person: person.map(PersonId),
                id_lookup,
                enterprise: enterprise.map(String::from),
                created_at: now,
                expires_at,
            };
            let id = store.put_api_token(token_digest(&token), &row)?;
            eprintln!("token {id}, expires {}", expires_at.to_shanghai_rfc3339());
            println!("{token}");
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            what: TokenCmd::List { store },
        } => {
            let store = store.open()?;
            let now = now();
            for t in store.api_tokens()? {
                let state = match (t.revoked_at, now < t.token.expires_at) {
                    (Some(_), _) => "revoked",
                    (None, false) => "expired",
                    (None, true) => "active",
                };
                println!(
                    "{}\t{}\t{}\t{}\t{}\texpires {}\t{state}",
                    t.id,
                    t.token.name,
                    t.token.role,
                    t.token.area.as_str(),
                    t.token.created_at.to_shanghai_rfc3339(),
                    t.token.expires_at.to_shanghai_rfc3339(),
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Token {
            what: TokenCmd::Revoke { store, id },
        } => {
            let store = store.open()?;
            let id = TokenId::parse(&id).with_context(|| format!("not a token id: {id:?}"))?;
            match store.revoke_api_token(id, now()) {
                Ok(()) => {
                    println!("token {id} revoked");
                    Ok(ExitCode::SUCCESS)
                }
                Err(xikang_store::StoreError::NotFound) => {
                    eprintln!("no token {id}");
                    Ok(ExitCode::from(1))
                }
                Err(e) => Err(e.into()),
            }
        }
        Command::User {
            what:
                UserCmd::Create {
                    store,
                    name,
                    role,
                    area,
                    venue,
                    person,
                    enterprise,
                    password_stdin,
                },
        } => {
            let store = store.open()?;
            let (password, generated) = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .read_line(&mut line)
                    .context("reading the password from stdin")?;
                (line.trim_end_matches(['\r', '\n']).to_owned(), false)
            } else {
                (web::password::generate(), true)
            };
            let spec = web::admin::parse_user(
                &name,
                &password,
                &role,
                &area,
                &venue,
                &person,
                &enterprise,
            )
            .map_err(|(field, _, msg)| anyhow::anyhow!("--{field}: {msg}"))?;
            let user = web::admin::user_of(&spec, &password, web::password::Cost::Standard, now())
                .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
            match store.insert_user(&user) {
                Err(xikang_store::StoreError::Conflict(
                    xikang_store::ConflictKind::Duplicate { .. },
                )) => bail!("a user named {name:?} exists"),
                r => r?,
            }
            if generated {
                println!("user {} created; password: {password}", spec.name);
            } else {
                println!("user {} created", spec.name);
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Policy {
            what: PolicyCmd::Check { file },
        } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("reading {}", file.display()))?;
            match Policy::parse(&text) {
                Ok(p) => {
                    println!(
                        "{}: policy {} effective from {}",
                        file.display(),
                        p.version(),
                        p.effective_from()
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => {
                    eprintln!("{}: {e}", file.display());
                    Ok(ExitCode::from(2))
                }
            }
        }
        Command::Policy {
            what: PolicyCmd::Default,
        } => {
            print!("{}", xikang_domain::policy::DEFAULT_POLICY_TOML);
            Ok(ExitCode::SUCCESS)
        }
        Command::Retention { store } => {
            let store = store.open()?;
            let days = i64::from(Policy::default_policy().retention_days());
            let cutoff = now().plus(-days * DAY).shanghai_day();
            let dropped = store.drop_checkin_days_before(cutoff)?;
            let pings = store.drop_ping_days_before(cutoff)?;
            println!(
                "dropped {} day(s) of check-ins and {} day(s) of location pings before {}",
                dropped.len(),
                pings.len(),
                cutoff.compact()
            );
            Ok(ExitCode::SUCCESS)
        }
        Command::Bench(args) => crate::bench::run(&args),
        Command::BenchNodes(args) => crate::nodes_bench::run(&args),
        Command::BenchShards(args) => crate::shard_sim::run(&args),
        Command::Grid {
            what: GridCmd::Import { store, csv },
        } => {
            let store = store.open()?;
            let n = crate::duties::import_grid_csv(store.as_ref(), &csv)?;
            println!("imported {n} grid cell(s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Districts {
            what:
                DistrictsCmd::Import {
                    store,
                    file,
                    code_property,
                    name_property,
                },
        } => {
            let store = store.open()?;
            let n = crate::duties::import_districts(
                store.as_ref(),
                &file,
                &code_property,
                &name_property,
            )?;
            println!("imported {n} district outline(s)");
            Ok(ExitCode::SUCCESS)
        }
        Command::Duties { store, what } => {
            let store = store.open()?;
            crate::duties::run(store.as_ref(), what)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::BenchDuties(args) => {
            crate::duties::bench(&args)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Lab(cmd) => crate::lab_cli::run(cmd),
        Command::People { what } => crate::register_cli::run(what),
        Command::BenchImport(args) => crate::register_cli::bench(&args),
    }
}

fn verify(trust: &Path, issuer: Option<&str>, token: &str) -> Result<ExitCode> {
    let text =
        std::fs::read_to_string(trust).with_context(|| format!("reading {}", trust.display()))?;
    let list = xikang_code::TrustList::from_json(&text)
        .map_err(|e| anyhow::anyhow!("invalid trust list: {e}"))?;
    match list.verify(token.trim(), issuer, now()) {
        Ok(c) => {
            println!(
                "valid: issuer {} subject {} colour {} issued {} expires {}",
                c.issuer,
                c.subject,
                c.colour.as_str(),
                c.issued_at,
                c.expires_at
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("invalid ({}): {e}", e.code());
            // Distinct exit codes let scripts tell the failures apart without parsing text.
            let code = match e {
                xikang_code::VerifyError::Malformed(_) => 10,
                xikang_code::VerifyError::Tampered => 11,
                xikang_code::VerifyError::Expired { .. } => 12,
                xikang_code::VerifyError::UnknownKey => 13,
                xikang_code::VerifyError::WrongIssuer { .. } => 14,
                _ => 15,
            };
            Ok(ExitCode::from(code))
        }
    }
}

/// A node id: 1–64 letters, digits, `-`, `_` or `.` (it is stored in leases and the feed,
/// and printed in logs).
fn parse_node_id(s: &str) -> Result<String, String> {
    let ok = (1..=64).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.to_owned())
    } else {
        Err("a node id is 1-64 letters, digits, '-', '_' or '.'".into())
    }
}

fn parse_role(s: &str) -> Result<xikang_server::app::node::NodeRole, String> {
    xikang_server::app::node::NodeRole::parse(s)
        .ok_or_else(|| format!("unknown role {s:?}: all, front or tracing"))
}
