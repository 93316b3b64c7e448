//! A variant's parameters: one TOML file per variant in `crates/xikang-sim/variants/`,
//! embedded in the binary, each number with its source in the file's comments.

use serde::Deserialize;
use std::fmt;

/// The shipped variant files, by name.
pub const VARIANT_FILES: [(&str, &str); 3] = [
    ("original", include_str!("../../variants/original.toml")),
    ("delta", include_str!("../../variants/delta.toml")),
    (
        "omicron_ba2",
        include_str!("../../variants/omicron_ba2.toml"),
    ),
];

/// A lognormal duration in days, as `[mean, standard deviation]` of the distribution itself
/// (Covasim's convention).
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(from = "[f64; 2]")]
pub struct Duration {
    pub mean: f64,
    pub sd: f64,
}

impl From<[f64; 2]> for Duration {
    fn from([mean, sd]: [f64; 2]) -> Duration {
        Duration { mean, sd }
    }
}

/// How the virus spreads.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transmission {
    /// Per contact and day.
    pub beta: f64,
    pub household: f64,
    pub school: f64,
    pub work: f64,
    pub community: f64,
    pub community_contacts: u32,
    /// Shape k of the gamma-distributed individual infectiousness (mean 1); 0 = none.
    pub dispersion: f64,
    pub asymptomatic_relative: f64,
    pub high_load_share: f64,
    pub high_load_ratio: f64,
    pub high_load_cap_days: f64,
}

/// The course of one infection.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Course {
    pub exposed_to_infectious: Duration,
    pub infectious_to_onset: Duration,
    pub asymptomatic_to_recovered: Duration,
    pub onset_to_recovered: Duration,
    pub symptomatic_share: f64,
}

/// How infections are found without any intervention by the drill's responders.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Detection {
    pub fever_clinic_share: f64,
    pub onset_to_clinic: Duration,
    pub sentinel_share: f64,
    pub onset_to_sentinel_test: Duration,
    pub screening_interval_days: u32,
    pub screening_coverage: f64,
    pub screening_first_day: u32,
    pub contact_test_delay_days: u32,
    pub positive_from_days: u32,
    pub positive_after_recovery_days: u32,
    pub sensitivity: f64,
    pub result_delay_days: u32,
}

/// One variant's parameters.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    pub name: String,
    pub label: String,
    pub transmission: Transmission,
    pub course: Course,
    pub detection: Detection,
}

/// A variant file that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VariantError(String);

impl fmt::Display for VariantError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for VariantError {}

impl Variant {
    /// Parses and checks a variant file: probabilities in [0, 1], durations positive.
    pub fn parse(text: &str) -> Result<Variant, VariantError> {
        let v: Variant = toml::from_str(text).map_err(|e| VariantError(e.to_string()))?;
        let t = &v.transmission;
        let c = &v.course;
        let d = &v.detection;
        let shares = [
            ("beta", t.beta),
            ("high_load_share", t.high_load_share),
            ("symptomatic_share", c.symptomatic_share),
            ("fever_clinic_share", d.fever_clinic_share),
            ("sentinel_share", d.sentinel_share),
            ("screening_coverage", d.screening_coverage),
            ("sensitivity", d.sensitivity),
        ];
        for (name, x) in shares {
            if !(0.0..=1.0).contains(&x) {
                return Err(VariantError(format!("{name} must lie in [0, 1], not {x}")));
            }
        }
        let factors = [
            ("household", t.household),
            ("school", t.school),
            ("work", t.work),
            ("community", t.community),
            ("dispersion", t.dispersion),
            ("asymptomatic_relative", t.asymptomatic_relative),
            ("high_load_ratio", t.high_load_ratio),
            ("high_load_cap_days", t.high_load_cap_days),
        ];
        for (name, x) in factors {
            if !(x.is_finite() && x >= 0.0) {
                return Err(VariantError(format!("{name} must be ≥ 0, not {x}")));
            }
        }
        let durations = [
            ("exposed_to_infectious", c.exposed_to_infectious),
            ("infectious_to_onset", c.infectious_to_onset),
            ("asymptomatic_to_recovered", c.asymptomatic_to_recovered),
            ("onset_to_recovered", c.onset_to_recovered),
            ("onset_to_clinic", d.onset_to_clinic),
            ("onset_to_sentinel_test", d.onset_to_sentinel_test),
        ];
        for (name, x) in durations {
            if !(x.mean.is_finite() && x.mean > 0.0 && x.sd.is_finite() && x.sd >= 0.0) {
                return Err(VariantError(format!(
                    "{name} needs a positive mean and a non-negative sd"
                )));
            }
        }
        Ok(v)
    }

    /// A shipped variant by name (`original`, `delta`, `omicron_ba2`).
    pub fn builtin(name: &str) -> Result<Variant, VariantError> {
        let (_, text) = VARIANT_FILES
            .iter()
            .find(|(n, _)| *n == name)
            .ok_or_else(|| {
                let known: Vec<&str> = VARIANT_FILES.iter().map(|(n, _)| *n).collect();
                VariantError(format!(
                    "unknown variant {name:?} (known: {})",
                    known.join(", ")
                ))
            })?;
        Variant::parse(text)
    }
}
