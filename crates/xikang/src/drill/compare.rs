//! `xikang drill --policy A --compare-policy B`: the same seeded outbreak on the same city
//! under two policies. A process is a drill for its whole life (one clock), so each policy
//! runs in its own child process (`xikang drill` into DIR/A and DIR/B); this one reads the
//! two reports and puts them side by side (DIR/compare.json, DIR/compare.html).

use super::DrillArgs;
use super::report::{Report, Summary};
use anyhow::{Context, Result, bail};
use std::fmt::Write;
use std::path::Path;
use std::process::ExitCode;

pub fn run(args: &DrillArgs, other: &str) -> Result<ExitCode> {
    let exe = std::env::current_exe().context("finding the xikang binary")?;
    let mut reports = Vec::new();
    for (tag, policy) in [("A", args.policy.as_str()), ("B", other)] {
        let out = args.out.join(tag);
        let mut cmd = std::process::Command::new(&exe);
        cmd.arg("drill")
            .arg("--out")
            .arg(&out)
            .args(["--people", &args.people.to_string()])
            .args(["--days", &args.days.to_string()])
            .args(["--seed", &args.seed.to_string()])
            .args(["--city-seed", &args.city_seed.to_string()])
            .args(["--seeds", &args.seeds.to_string()])
            .args(["--variant", &args.variant])
            .args(["--policy", policy])
            .args(["--start", &args.start]);
        if let Some(r) = &args.responders {
            cmd.arg("--responders").arg(r);
        }
        let status = cmd.status().context("running a drill")?;
        if !status.success() {
            bail!("the drill under policy {policy} failed ({status})");
        }
        reports.push(read(&out)?);
    }
    let (a, b) = (&reports[0], &reports[1]);
    let doc = serde_json::json!({"a": {"policy": a.setup.policy, "summary": a.summary},
                                 "b": {"policy": b.setup.policy, "summary": b.summary}});
    std::fs::write(
        args.out.join("compare.json"),
        serde_json::to_vec_pretty(&doc)?,
    )?;
    std::fs::write(args.out.join("compare.html"), html(a, b))?;
    for (k, x, y) in rows(&a.summary, &b.summary) {
        println!("{k:<28} {x:>12} {y:>12}");
    }
    println!(
        "side by side in {}",
        args.out.join("compare.html").display()
    );
    Ok(ExitCode::SUCCESS)
}

/// A drill's report.json.
pub fn read(dir: &Path) -> Result<Report> {
    let f = dir.join("report.json");
    serde_json::from_slice(&std::fs::read(&f).with_context(|| format!("reading {}", f.display()))?)
        .with_context(|| f.display().to_string())
}

fn rows(a: &Summary, b: &Summary) -> Vec<(String, String, String)> {
    let (a, b) = (
        serde_json::to_value(a).unwrap_or_default(),
        serde_json::to_value(b).unwrap_or_default(),
    );
    a.as_object()
        .into_iter()
        .flatten()
        .map(|(k, v)| (k.clone(), v.to_string(), b[k].to_string()))
        .collect()
}

fn html(a: &Report, b: &Report) -> String {
    let mut s = format!(
        "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\"><title>政策对比 Policy what-if</title>\
         <h1>政策对比 Policy what-if</h1><p>The same outbreak (seed {}, {} residents, {} days): \
         <a href=\"A/report.html\">A</a> and <a href=\"B/report.html\">B</a>.</p>\
         <table><tr><th></th><th>A: {}</th><th>B: {}</th></tr>",
        a.setup.seed, a.setup.people, a.setup.days, a.setup.policy, b.setup.policy
    );
    for (k, x, y) in rows(&a.summary, &b.summary) {
        let _ = write!(s, "<tr><th>{k}</th><td>{x}</td><td>{y}</td></tr>");
    }
    s.push_str("</table></html>\n");
    s
}
