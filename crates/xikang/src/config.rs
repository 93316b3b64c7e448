//! The configuration file: the bottom layer of `xikang.toml` → environment (`XIKANG_…`) →
//! flags. Its keys are the `serve` flags' names with `_` for `-` (`listen`,
//! `database_url`, `token_rate`, …) plus `log` and `log_format`; `deploy/xikang.toml` is
//! the annotated example (`xikang config example` prints it).
//!
//! How the layers meet: the command line is parsed once (clap reads the flags and the
//! environment); every file key that the command takes and that neither a flag nor a
//! variable set is then appended as a flag, and the line parsed again. So the file can only
//! fill gaps, and a key means exactly what its flag means (same parser, same checks). A key
//! no `serve` flag has is an error naming it (a typo must not silently fall back to a
//! default), and so is a value that is not a string, a number or a boolean.

use anyhow::{Context, Result, bail};
use clap::parser::ValueSource;
use clap::{ArgMatches, Command};
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// The annotated example, as shipped in `deploy/`.
pub const EXAMPLE: &str = include_str!("../../../deploy/xikang.toml");

/// The file read when neither `--config` nor `XIKANG_CONFIG` names one (if it exists).
pub const DEFAULT_FILE: &str = "xikang.toml";

/// Log settings from the file; the environment (`XIKANG_LOG`, `XIKANG_LOG_FORMAT`) wins.
#[derive(Debug, Clone, Default)]
pub struct FileLog {
    pub filter: Option<String>,
    pub format: Option<String>,
}

/// What the file contributed: its path and log settings.
#[derive(Debug, Clone, Default)]
pub struct Layered {
    pub file: Option<PathBuf>,
    pub log: FileLog,
}

/// The flags to append to the command line for the file's settings that neither a flag nor
/// the environment set, given the command line's definition (`command`), its first parse
/// (`first`), the file named by `--config` / `XIKANG_CONFIG` (else [`DEFAULT_FILE`] if it
/// exists) and the subcommand whose flags are the file's vocabulary (`serve`).
pub fn layer(
    command: &Command,
    first: &ArgMatches,
    config: Option<PathBuf>,
    serve: &str,
) -> Result<(Vec<OsString>, Layered)> {
    let path = match config {
        Some(p) => Some(p),
        None => Some(PathBuf::from(DEFAULT_FILE)).filter(|p| p.is_file()),
    };
    let Some(path) = path else {
        return Ok((Vec::new(), Layered::default()));
    };
    let table = read(&path)?;
    let vocabulary = command
        .find_subcommand(serve)
        .context("the serve command is missing")?;
    let mut log = FileLog::default();
    let mut settings = Vec::new();
    for (key, value) in &table {
        let text = match value {
            toml::Value::String(s) => s.clone(),
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            _ => bail!(
                "{}: `{key}` must be a string, a number or true/false",
                path.display()
            ),
        };
        match key.as_str() {
            "log" => log.filter = Some(text),
            "log_format" => log.format = Some(text),
            _ if vocabulary
                .get_arguments()
                .any(|a| a.get_id() == key.as_str()) =>
            {
                settings.push((key.as_str(), text));
            }
            _ => bail!(
                "{}: unknown setting `{key}` (the keys are `xikang serve`'s flags with `_` for `-`, plus `log` and `log_format`; see `xikang config example`)",
                path.display()
            ),
        }
    }
    // The subcommand that will run (the deepest one) and its definition.
    let (mut cmd, mut m) = (command, first);
    while let Some((name, sub)) = m.subcommand() {
        let Some(c) = cmd.find_subcommand(name) else {
            break;
        };
        (cmd, m) = (c, sub);
    }
    let mut extra: Vec<OsString> = Vec::new();
    for (key, text) in settings {
        let Some(arg) = cmd.get_arguments().find(|a| a.get_id() == key) else {
            continue; // a serve setting this command does not take
        };
        if matches!(
            m.value_source(key),
            Some(ValueSource::CommandLine | ValueSource::EnvVariable)
        ) {
            continue; // set by a flag or the environment: they win
        }
        let Some(long) = arg.get_long() else { continue };
        if arg.get_action().takes_values() {
            extra.push(format!("--{long}={text}").into());
        } else {
            match text.as_str() {
                "true" => extra.push(format!("--{long}").into()),
                "false" => {}
                _ => bail!("{}: `{key}` must be true or false", path.display()),
            }
        }
    }
    Ok((
        extra,
        Layered {
            file: Some(path),
            log,
        },
    ))
}

fn read(path: &Path) -> Result<toml::Table> {
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("reading the configuration file {}", path.display()))?;
    text.parse::<toml::Table>()
        .with_context(|| format!("parsing {}", path.display()))
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_shipped_example_parses_as_toml() {
        let t: toml::Table = super::EXAMPLE.parse().expect("deploy/xikang.toml is TOML");
        assert!(t.contains_key("listen"), "the example sets the address");
    }
}
