//! The one JSON writer of the `bench*` commands: `--json FILE` writes what a run printed as
//! a document that runs can be compared by over time (`docs/benchmarks.md`, "History").
//!
//! A document is `{"schema": 1, "command", "revision", "version", "cores", "unix_time",
//! "params", "results"}`. `revision` is the git commit the binary was built from (the build
//! script `crates/xikang/build.rs` records it; `"unknown"` when built outside a git checkout;
//! uncommitted changes are not flagged), `cores` the cores this process may use. `params`
//! and `results` belong to each command; a command only fills a [`Results`] and never
//! touches the file itself.

use anyhow::{Context, Result};
use clap::Args;
use serde_json::{Map, Value, json};
use std::path::{Path, PathBuf};

/// The git commit this binary was built from (see `build.rs`).
pub const REVISION: &str = env!("XIKANG_GIT_REVISION");

/// The `--json FILE` option, flattened into every `bench*` command's arguments.
#[derive(Debug, Clone, Default, Args)]
pub struct JsonOut {
    /// Also write the results as JSON to this file (with the git revision and core count).
    #[arg(long, value_name = "FILE")]
    pub json: Option<PathBuf>,
}

/// What one run found, filled as the command goes and written once at the end.
#[derive(Debug, Clone)]
pub struct Results {
    command: &'static str,
    params: Value,
    results: Map<String, Value>,
}

impl Results {
    /// A run of `command` (e.g. `"bench-trace"`) with its parameters.
    pub fn new(command: &'static str, params: Value) -> Results {
        Results {
            command,
            params,
            results: Map::new(),
        }
    }

    /// Records one figure or table under `key` (a later value replaces an earlier one).
    pub fn set(&mut self, key: &str, value: impl Into<Value>) {
        self.results.insert(key.to_owned(), value.into());
    }

    /// Appends a row to the table `key`.
    pub fn push_row(&mut self, key: &str, row: Value) {
        let slot = self
            .results
            .entry(key.to_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(rows) = slot {
            rows.push(row);
        } else {
            *slot = Value::Array(vec![row]);
        }
    }

    /// The document, as written.
    pub fn document(&self, cores: usize, unix_time: u64) -> Value {
        json!({
            "schema": 1,
            "command": self.command,
            "revision": REVISION,
            "version": env!("CARGO_PKG_VERSION"),
            "cores": cores,
            "unix_time": unix_time,
            "params": self.params,
            "results": self.results,
        })
    }

    /// Writes the document to `path` (pretty-printed, one file per run).
    pub fn write_to(&self, path: &Path) -> Result<()> {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        let unix_time = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let text = serde_json::to_string_pretty(&self.document(cores, unix_time))?;
        std::fs::write(path, text + "\n")
            .with_context(|| format!("writing the results to {}", path.display()))?;
        eprintln!("results written to {}", path.display());
        Ok(())
    }
}

impl JsonOut {
    /// Writes `results` if `--json` was given.
    pub fn write(&self, results: &Results) -> Result<()> {
        match &self.json {
            Some(path) => results.write_to(path),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_carries_the_revision_the_cores_the_params_and_the_rows() {
        let mut r = Results::new("bench-trace", json!({"cases": 10}));
        r.set("people", 200_000);
        r.push_row("systems", json!({"system": "xikang", "p50_ms": 1.5}));
        r.push_row("systems", json!({"system": "PostgreSQL", "p50_ms": 20.0}));
        let doc = r.document(2, 1_800_000_000);
        assert_eq!(doc["schema"], 1);
        assert_eq!(doc["command"], "bench-trace");
        assert_eq!(doc["revision"], REVISION);
        assert!(!REVISION.is_empty());
        assert_eq!(doc["cores"], 2);
        assert_eq!(doc["unix_time"], 1_800_000_000u64);
        assert_eq!(doc["params"]["cases"], 10);
        assert_eq!(doc["results"]["people"], 200_000);
        let rows = doc["results"]["systems"].as_array().expect("a table");
        assert_eq!(rows.len(), 2);
        assert_eq!(rows[1]["system"], "PostgreSQL");
    }

    #[test]
    fn the_file_written_reads_back_as_the_same_document() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("run.json");
        let mut r = Results::new("bench", json!({"people": 1000}));
        r.set("memory_ready_bytes_per_resident", 237.5);
        JsonOut {
            json: Some(path.clone()),
        }
        .write(&r)
        .expect("written");
        let back: Value =
            serde_json::from_slice(&std::fs::read(&path).expect("read")).expect("JSON");
        assert_eq!(back["command"], "bench");
        assert_eq!(back["results"]["memory_ready_bytes_per_resident"], 237.5);
        assert!(back["cores"].as_u64().expect("cores") >= 1);
        assert_eq!(back["revision"], REVISION);
    }

    #[test]
    fn without_the_option_nothing_is_written() {
        let r = Results::new("bench", json!({}));
        JsonOut::default().write(&r).expect("no-op");
    }
}
