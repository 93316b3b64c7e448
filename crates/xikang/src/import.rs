//! Sending a table file to a running server in parts: `xikang people import`, `xikang tests
//! import` and `xikang vaccinations import`. The file (CSV with or without a byte-order
//! mark, RFC 4180 quoting, or XLSX) is read by the server's own reader
//! (`xikang_server::table`), streamed, and re-written as CSV in chunks that fit the server's
//! body limit, each with the file's header; refusals come back by their place in the chunk
//! and are reported with their line number in the file.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::BufReader;
use std::path::Path;
use xikang_server::remote::Remote;
use xikang_server::table::{Row, TableError, TableFormat, csv_rows, xlsx_rows};

/// A part is sent once its CSV may take this many bytes (counted from above): the server
/// takes bodies up to 1 MiB, which leaves room for the line that crossed it.
const MAX_PART_BYTES: usize = 900_000;

/// At least the bytes `fields` take as a CSV record: each field quoted, with its quotes
/// doubled and its separator, and the line's CR LF.
fn csv_bytes(fields: &[String]) -> usize {
    fields
        .iter()
        .map(|f| f.len() + f.matches('"').count() + 3)
        .sum::<usize>()
        + 2
}

/// A refused line: its number in the file, the stable code and the message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub line: usize,
    pub code: String,
    pub message: String,
}

/// What the server said about one chunk: the counts it reports, and the refused lines by
/// their index in the chunk.
#[derive(Debug, Default)]
pub struct ChunkAnswer {
    /// Named counts (`accepted`, or `added`, `updated`, `moved`, `unchanged`).
    pub counts: Vec<(&'static str, u64)>,
    pub refused: Vec<(usize, String, String)>,
}

/// The totals of an import.
#[derive(Debug, Default)]
pub struct Summary {
    /// Named counts, summed over the chunks, in the order the server names them.
    pub counts: Vec<(&'static str, u64)>,
    pub refusals: Vec<Refusal>,
    /// Data lines read from the file.
    pub lines: u64,
}

impl Summary {
    /// A named count.
    pub fn count(&self, name: &str) -> u64 {
        self.counts
            .iter()
            .find(|(n, _)| *n == name)
            .map_or(0, |(_, c)| *c)
    }
}

/// How to send one kind of table.
#[derive(Debug, Clone, Copy)]
pub struct Upload<'a> {
    /// The API path (`/api/v1/people/import`).
    pub path: &'a str,
    /// The first non-blank row is a header to repeat in every chunk (the register finds its
    /// columns by it); otherwise every row is data (the lab's own header is skipped by the
    /// server as any header line).
    pub header: bool,
    /// Data rows per request.
    pub chunk: usize,
    /// Reads a 200 or 422 answer.
    pub answer: fn(u16, &serde_json::Value) -> Option<ChunkAnswer>,
    /// Print each refused line as it comes (a benchmark keeps them for the summary only).
    pub print: bool,
}

/// The rows of a file, streamed for CSV.
fn rows_of(file: &Path) -> Result<Box<dyn Iterator<Item = std::result::Result<Row, TableError>>>> {
    Ok(match TableFormat::of_path(file) {
        TableFormat::Csv => {
            let f =
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?;
            Box::new(csv_rows(BufReader::with_capacity(1 << 20, f)))
        }
        TableFormat::Xlsx => {
            let bytes =
                std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            Box::new(xlsx_rows(&bytes)?.into_iter().map(Ok))
        }
    })
}

/// Roughly how many lines a file has, for the progress bar (a quoted line break counts
/// too; an XLSX file is counted once read).
fn line_estimate(file: &Path) -> u64 {
    match TableFormat::of_path(file) {
        TableFormat::Csv => std::fs::read(file)
            .map(|b| b.iter().filter(|c| **c == b'\n').count() as u64)
            .unwrap_or(0),
        TableFormat::Xlsx => 0,
    }
}

fn csv_body(header: Option<&[String]>, rows: &[Row]) -> Result<Vec<u8>> {
    let mut w = csv::WriterBuilder::new()
        .flexible(true)
        .from_writer(Vec::with_capacity(rows.len() * 128));
    if let Some(h) = header {
        w.write_record(h)?;
    }
    for r in rows {
        w.write_record(&r.fields)?;
    }
    w.into_inner().map_err(|e| anyhow::anyhow!("{e}"))
}

/// Sends the file in chunks and collects what the server answered; a progress bar shows
/// the lines sent (hidden when not on a terminal).
pub async fn send(file: &Path, server: &str, token: &str, how: Upload<'_>) -> Result<Summary> {
    let rows = rows_of(file)?;
    let conn = Remote::for_cli(server)?;
    let bar = ProgressBar::new(line_estimate(file));
    bar.set_style(
        ProgressStyle::with_template("{spinner} importing [{bar:30}] {pos}/{len} lines {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut summary = Summary::default();
    let mut header: Option<Vec<String>> = None;
    let mut chunk: Vec<Row> = Vec::with_capacity(how.chunk);
    // Bytes of the chunk's fields: a part is sent before it could pass the server's body
    // limit, however long the addresses.
    let (mut bytes, mut header_bytes) = (0usize, 0usize);
    let refuse = |summary: &mut Summary, r: Refusal| {
        if how.print {
            bar.suspend(|| println!("line {}: {}: {}", r.line, r.code, r.message));
        }
        summary.refusals.push(r);
    };
    let mut rows = rows.peekable();
    while let Some(row) = rows.next() {
        match row {
            Ok(r) if r.fields.iter().all(|f| f.trim().is_empty()) => {}
            Ok(r) if how.header && header.is_none() => {
                header_bytes = csv_bytes(&r.fields);
                header = Some(r.fields);
            }
            Ok(r) => {
                summary.lines += 1;
                bytes += csv_bytes(&r.fields);
                chunk.push(r);
            }
            Err(e) => match e {
                TableError::Encoding { line } if !how.header || header.is_some() => {
                    summary.lines += 1;
                    let r = Refusal {
                        line,
                        code: e.code().to_owned(),
                        message: e.to_string(),
                    };
                    refuse(&mut summary, r);
                }
                e => bail!("{}: {e}", file.display()),
            },
        }
        let full = chunk.len() >= how.chunk || header_bytes + bytes >= MAX_PART_BYTES;
        if full || (rows.peek().is_none() && !chunk.is_empty()) {
            let body = csv_body(header.as_deref(), &chunk)?;
            let r = conn
                .request("POST", how.path, Some(token), Some("text/csv"), body)
                .await
                .context("sending a part")?;
            let v = r.json();
            let Some(answer) = (how.answer)(r.status, &v) else {
                bail!("the server refused the import ({}): {}", r.status, r.text());
            };
            for (name, n) in answer.counts {
                match summary.counts.iter_mut().find(|(k, _)| *k == name) {
                    Some((_, c)) => *c += n,
                    None => summary.counts.push((name, n)),
                }
            }
            for (index, code, message) in answer.refused {
                let line = chunk.get(index).map_or(0, |r| r.line);
                refuse(
                    &mut summary,
                    Refusal {
                        line,
                        code,
                        message,
                    },
                );
            }
            bar.set_position(chunk.last().map_or(0, |r| r.line as u64));
            chunk.clear();
            bytes = 0;
        }
    }
    bar.finish_and_clear();
    if summary.lines == 0 {
        bail!("{} holds no data lines", file.display());
    }
    Ok(summary)
}

/// The refusals of an item list (`results` of a batch answer or `refusals` of a register
/// import): `(index, code, message)`.
pub fn refused_items(items: &serde_json::Value) -> Vec<(usize, String, String)> {
    items
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| {
            let e = item.get("error")?;
            Some((
                item["index"].as_u64()? as usize,
                e["code"].as_str().unwrap_or("?").to_owned(),
                e["message"].as_str().unwrap_or("").to_owned(),
            ))
        })
        .collect()
}
