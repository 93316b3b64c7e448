//! `xikang outbreak`: the epidemic engine alone (no server) on a generated city — attack rate,
//! early doubling time and run time, for the comparison with Covasim (`bench/covasim/`) —
//! and `--contacts`, the distribution of close contacts per case in the city
//! (`docs/drills.md`).

use anyhow::{Context, Result};
use clap::Args;
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;
use xikang_domain::CivilDay;
use xikang_sim::epidemic::{Variant, simulate};
use xikang_sim::{CityConfig, generate_city};

#[derive(Debug, Clone, Args)]
pub struct OutbreakArgs {
    /// Residents of the generated city.
    #[arg(long, default_value_t = 100_000)]
    people: u32,
    /// Simulated days.
    #[arg(long, default_value_t = 60)]
    days: u32,
    /// original, delta or omicron_ba2 (crates/xikang-sim/variants/).
    #[arg(long, default_value = "original")]
    variant: String,
    /// A variant file to use instead of a shipped one.
    #[arg(long, conflicts_with = "variant")]
    variant_file: Option<PathBuf>,
    /// Seed of the outbreak (the city's seed is --city-seed).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(long, default_value_t = 1)]
    city_seed: u64,
    /// Infections on day 0 (Covasim's pop_infected default is 20).
    #[arg(long, default_value_t = 20)]
    seeds: u32,
    /// The first simulated day (a Monday by default).
    #[arg(long, default_value = "2020-01-20")]
    first_day: String,
    /// Write the daily series and every case's event times as JSON.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write each resident's household, class or team, as CSV (person,household,group,school),
    /// so that another model can be run on the same structure.
    #[arg(long)]
    export_structure: Option<PathBuf>,
    /// Instead of an outbreak: the close contacts per case of this many cases sampled over the
    /// residents (4-day window from --first-day), as JSON on stdout.
    #[arg(long)]
    contacts: Option<u32>,
    /// With --contacts: the policy whose venue rule counts (`close_contacts` and
    /// `close_contact_minutes` per venue category): `default`, `ershitiao` or a policy file.
    #[arg(long, default_value = "default", requires = "contacts")]
    policy: String,
    /// With --contacts: instead of the policy's rule, this many minutes at any venue (the
    /// rule before categories had their own).
    #[arg(long, requires = "contacts")]
    close_minutes: Option<u32>,
}

pub fn run(args: &OutbreakArgs) -> Result<ExitCode> {
    let first_day = CivilDay::parse(&args.first_day)
        .map_err(|e| anyhow::anyhow!("--first-day {:?}: {e}", args.first_day))?;
    let variant = match &args.variant_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading {}", path.display()))?;
            Variant::parse(&text).with_context(|| format!("{}", path.display()))?
        }
        None => Variant::builtin(&args.variant)?,
    };
    let cfg = CityConfig {
        people: args.people,
        days: args.days,
        seed: args.city_seed,
        first_day,
    };
    let t0 = Instant::now();
    let city = generate_city(&cfg);
    let city_secs = t0.elapsed().as_secs_f64();
    if let Some(cases) = args.contacts {
        let policy =
            xikang_domain::policy::Policy::parse(&crate::drill::policy_text(&args.policy)?)
                .map_err(|e| anyhow::anyhow!("policy: {e}"))?;
        let close: Vec<Option<u32>> = city
            .venues
            .iter()
            .map(|v| match args.close_minutes {
                Some(m) => Some(m * 60),
                None => policy.close_contact_secs(&v.category),
            })
            .collect();
        let (profile, _) =
            xikang_sim::contacts::close_contact_profile(&city, &cfg, cases, 4, &close);
        println!("{}", serde_json::to_string_pretty(&profile)?);
        return Ok(ExitCode::SUCCESS);
    }
    if let Some(path) = &args.export_structure {
        let mut w = BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        );
        writeln!(w, "person,household,group,school")?;
        for p in &city.people {
            let (group, school) = match p.workplace {
                Some(g) => (
                    g.0.to_string(),
                    u8::from(city.workplaces[g.0 as usize].is_school),
                ),
                None => (String::new(), 0),
            };
            writeln!(w, "{},{},{group},{school}", p.id.0, p.household.0)?;
        }
        w.flush()?;
    }
    let t1 = Instant::now();
    let out = simulate(&city, first_day, variant, args.seed, args.seeds, args.days);
    let engine_secs = t1.elapsed().as_secs_f64();
    let doubling = out.doubling_time();
    let detected = out.cases.iter().filter(|c| c.detected.is_some()).count();
    println!(
        "{} residents × {} days, variant {}, seed {}: {} infections (attack rate {:.2}%), {} detected, early doubling time {}",
        args.people,
        args.days,
        out.variant,
        args.seed,
        out.cases.len(),
        100.0 * out.attack_rate(),
        detected,
        doubling.map_or("n/a".to_owned(), |d| format!("{d:.2} days")),
    );
    println!("city generated in {city_secs:.2} s; epidemic engine {engine_secs:.2} s");
    if let Some(path) = &args.json {
        let doc = serde_json::json!({
            "people": args.people,
            "days": args.days,
            "seed": args.seed,
            "variant": out.variant,
            "attack_rate": out.attack_rate(),
            "doubling_time": doubling,
            "city_secs": city_secs,
            "engine_secs": engine_secs,
            "daily": out.days,
            "cases": out.cases,
        });
        let f =
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        serde_json::to_writer(BufWriter::new(f), &doc)?;
    }
    Ok(ExitCode::SUCCESS)
}
