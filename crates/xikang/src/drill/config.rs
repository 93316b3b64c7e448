//! The responders' capacities and the command centre's rules of a drill: a TOML file
//! (`crates/xikang/drill.toml` is the default, documented in docs/drills.md). Unknown keys and
//! out-of-range numbers are refused.

use anyhow::{Result, bail};
use serde::{Deserialize, Serialize};

/// The default responders (`crates/xikang/drill.toml`).
pub const DEFAULT_RESPONDERS_TOML: &str = include_str!("../../drill.toml");

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Responders {
    pub tracers: Tracers,
    pub labs: Labs,
    pub quarantine: Quarantine,
    pub grid: Grid,
    pub command: Command,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Tracers {
    pub cases_per_day: u32,
    pub hours_to_list: u32,
    pub hours_to_notify: u32,
    pub venue_contacts_per_case: u32,
    pub secondary_per_case: u32,
    /// Rows per page when a tracer reads a contact list (at most the server's 10,000).
    #[serde(default = "largest_page")]
    pub page_size: u32,
}

fn largest_page() -> u32 {
    10_000
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Labs {
    pub tubes_per_day: u64,
    pub turnaround_hours: u32,
    pub round_pool: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Quarantine {
    pub sites: u32,
    pub beds_per_site: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Grid {
    pub tasks_per_worker_per_day: u32,
}

#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    pub seal_after_cases: u32,
    pub seal_window_days: u32,
    pub round_after_cases: u32,
    pub round_every_days: u32,
    pub round_coverage: f64,
    /// The level a sealed cell's zone is drawn at: `sealed` (封控区, the three-zone model) or
    /// `high` (高风险区, 第九版 and 二十条); the policy's lifting rule for that level applies.
    #[serde(default = "sealed")]
    pub seal_level: String,
}

fn sealed() -> String {
    "sealed".into()
}

impl Responders {
    /// Parses and checks a responders file.
    pub fn parse(text: &str) -> Result<Responders> {
        let r: Responders = toml::from_str(text)?;
        let t = &r.tracers;
        if t.cases_per_day == 0 {
            bail!("tracers.cases_per_day must be at least 1");
        }
        if !(1..=10_000).contains(&t.page_size) {
            bail!("tracers.page_size must be 1-10000 (the server's largest page)");
        }
        // The results, the lists and the orders happen within the day's work (08:00 to the
        // command centre's evening meeting at 18:00).
        if r.labs.turnaround_hours + t.hours_to_list + t.hours_to_notify > 10 {
            bail!(
                "labs.turnaround_hours + tracers.hours_to_list + tracers.hours_to_notify must be at most 10 (the day's work is 08:00-18:00)"
            );
        }
        if r.labs.tubes_per_day == 0 || !(1..=20).contains(&r.labs.round_pool) {
            bail!("labs.tubes_per_day must be at least 1 and labs.round_pool 1-20");
        }
        if r.quarantine.sites == 0 || r.quarantine.sites > 50 {
            bail!("quarantine.sites must be 1-50");
        }
        let c = &r.command;
        if !(0.0..=1.0).contains(&c.round_coverage) || c.round_every_days == 0 {
            bail!("command.round_coverage must be 0-1 and command.round_every_days at least 1");
        }
        if c.seal_window_days == 0 {
            bail!("command.seal_window_days must be at least 1");
        }
        if !matches!(c.seal_level.as_str(), "sealed" | "high") {
            bail!("command.seal_level must be sealed or high");
        }
        Ok(r)
    }

    /// The shipped default.
    pub fn default_file() -> Responders {
        Responders::parse(DEFAULT_RESPONDERS_TOML).expect("the shipped responders file parses")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_parses_and_bad_files_are_refused() {
        let d = Responders::default_file();
        assert_eq!(d.tracers.cases_per_day, 60);
        let unknown = DEFAULT_RESPONDERS_TOML.replace("[grid]", "[grid]\nspeed = 3");
        assert!(Responders::parse(&unknown).is_err());
        let slow = DEFAULT_RESPONDERS_TOML.replace("hours_to_list = 4", "hours_to_list = 40");
        assert!(Responders::parse(&slow).is_err());
        let none = DEFAULT_RESPONDERS_TOML.replace("cases_per_day = 60", "cases_per_day = 0");
        assert!(Responders::parse(&none).is_err());
    }
}
