//! `xikang trace`: a case's contact list with evidence, or a cluster's graph, from the
//! command line (the same computation the server runs, over the store's check-ins).

use anyhow::{Context, Result, anyhow, bail};
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use xikang_domain::policy::Policy;
use xikang_domain::{CaseId, Timestamp};
use xikang_server::state::{AppState, read};
use xikang_server::trace::wire::EvidenceOut;
use xikang_server::trace::{all_clusters, contact_rows, trace_case};
use xikang_server::{ServerConfig, now};

#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    #[command(flatten)]
    store: crate::cli::StoreArgs,
    /// The case to trace (C1, …).
    #[arg(long, conflicts_with = "cluster")]
    case: Option<String>,
    /// The cluster to show (K1, …); `--dot` for Graphviz.
    #[arg(long)]
    cluster: Option<String>,
    /// With --cluster: write Graphviz DOT.
    #[arg(long, requires = "cluster")]
    dot: bool,
    /// Print JSON for scripts.
    #[arg(long)]
    json: bool,
    /// A policy file to trace under instead of the shipped default.
    #[arg(long, env = "XIKANG_POLICY")]
    policy: Option<PathBuf>,
}

pub fn run(args: &TraceArgs) -> Result<ExitCode> {
    if args.case.is_none() && args.cluster.is_none() {
        bail!("give --case ID or --cluster ID");
    }
    let store = args.store.open()?;
    let text = match &args.policy {
        Some(f) => {
            std::fs::read_to_string(f).with_context(|| format!("reading {}", f.display()))?
        }
        None => xikang_domain::policy::DEFAULT_POLICY_TOML.to_owned(),
    };
    let policy = Policy::parse(&text).map_err(|e| anyhow!("policy file: {e}"))?;
    let sha = xikang_server::state::policy_sha256(&text);
    let state = Arc::new(
        AppState::load(store.clone(), ServerConfig::default(), policy, &sha, now())
            .context("loading state from the store")?,
    );
    state.projection.tracing.load(store.as_ref())?;
    let index = state
        .projection
        .tracing
        .snapshot()
        .map_err(|_| anyhow!("the tracing index did not load"))?;
    let now = now();
    if let Some(id) = &args.cluster {
        let all = all_clusters(&state, &index, now);
        let (_, k) = all
            .iter()
            .find(|(k, _)| k == id)
            .ok_or_else(|| anyhow!("no cluster {id} (clusters: {})", names(&all)))?;
        if args.dot {
            print!("{}", xikang_trace::to_dot(k));
        } else if args.json {
            let cases: Vec<String> = k.cases.iter().map(ToString::to_string).collect();
            let venues: Vec<String> = k.venues.iter().map(ToString::to_string).collect();
            println!(
                "{}",
                serde_json::json!({"id": id, "cases": cases, "venues": venues, "edges": k.edges.len()})
            );
        } else {
            println!(
                "{id}: {} cases ({}), {} venues, {} links",
                k.cases.len(),
                k.cases
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join(" "),
                k.venues.len(),
                k.edges.len()
            );
        }
        return Ok(ExitCode::SUCCESS);
    }
    let id = args.case.as_deref().unwrap_or_default();
    let case_id = CaseId::parse(id).ok_or_else(|| anyhow!("a case id looks like C1"))?;
    let case = read(&state.projection.cases)
        .get(&case_id)
        .cloned()
        .ok_or_else(|| anyhow!("no case {id}"))?;
    let policy = state.policy();
    // Companions come from the location pings, as in the server.
    state
        .projection
        .tracing
        .pings
        .load(store.as_ref(), policy.tracing().companion_cell_metres)?;
    let traced = trace_case(&state, &index, &policy, &case, now)
        .map_err(|e| anyhow!("tracing {id}: {e:?}"))?;
    let rows = contact_rows(&state, &case, &traced);
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "case": id,
                "policy_version": policy.version(),
                "window": {"start": traced.close.window.start.to_rfc3339(), "end": traced.close.window.end.to_rfc3339()},
                "items": rows,
            })
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{id} ({}), exposure window {} – {}, policy {}: {} contacts",
        case.person,
        traced.close.window.start.to_shanghai_rfc3339(),
        traced.close.window.end.to_shanghai_rfc3339(),
        policy.version(),
        rows.len()
    );
    println!(
        "{:<9} {:<9} {:<11} {:<24} {:>7}  {:<25} evidence",
        "person", "kind", "status", "rules", "minutes", "first exposure"
    );
    for r in &rows {
        let venues: Vec<String> = r
            .evidence
            .iter()
            .filter_map(|e| match e {
                EvidenceOut::Companion(c) => Some(format!("cell {}", c.cell)),
                _ => e.venue_name().map(String::from),
            })
            .collect();
        println!(
            "{:<9} {:<9} {:<11} {:<24} {:>7}  {:<25} {}",
            r.person,
            format!("{:?}", r.kind).to_lowercase(),
            format!("{:?}", r.status).to_lowercase(),
            r.rules.join(","),
            r.overlap_minutes,
            shanghai(&r.first_exposure),
            venues.join("; ")
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn names(all: &[(String, xikang_trace::Cluster)]) -> String {
    if all.is_empty() {
        "none".into()
    } else {
        all.iter()
            .map(|(k, _)| k.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// An RFC 3339 time from a contact row (UTC, as the API answers) as Asia/Shanghai time, the
/// command line's convention for people; empty or unreadable text is printed as it is.
fn shanghai(rfc: &str) -> String {
    Timestamp::parse_rfc3339(rfc).map_or_else(|_| rfc.to_owned(), Timestamp::to_shanghai_rfc3339)
}
