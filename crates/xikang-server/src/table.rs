//! Tables as offices send them, read one way for every import (the resident register, lab
//! results, vaccination doses): CSV in UTF-8 with or without the byte-order mark that
//! Excel's "CSV UTF-8" writes, RFC 4180 quoting (commas, quotes and line breaks inside a
//! field), through the `csv` crate; and XLSX (the first worksheet) through `calamine`.
//! Each row keeps its line number in the file (for XLSX, the row number Excel shows), so a
//! refusal names the line the operator sees. Nothing here knows what the columns mean.

use std::io::Read;

/// The formats an import accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableFormat {
    Csv,
    Xlsx,
}

/// The content type of an XLSX file.
pub const XLSX_CONTENT_TYPE: &str =
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

impl TableFormat {
    /// The format a file's name says (`.xlsx`; anything else is read as CSV).
    pub fn of_path(path: &std::path::Path) -> TableFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("xlsx") => TableFormat::Xlsx,
            _ => TableFormat::Csv,
        }
    }
}

/// One row of a table: its line number in the file and its fields as text.
#[derive(Clone, PartialEq, Eq)]
pub struct Row {
    /// 1-based: the line a CSV record starts on, or the worksheet's row number.
    pub line: usize,
    pub fields: Vec<String>,
}

impl std::fmt::Debug for Row {
    /// Fields are personal data (names, ID numbers): only the shape is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Row")
            .field("line", &self.line)
            .field("fields", &self.fields.len())
            .finish()
    }
}

/// Why a table or one of its rows could not be read. Codes are stable; messages never
/// repeat a field's content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TableError {
    /// A row that is not UTF-8 (a file saved as GBK "CSV" rather than "CSV UTF-8"). Only
    /// that row is refused, unless it is the header.
    #[error("line {line} is not UTF-8: save the file as \"CSV UTF-8\"")]
    Encoding { line: usize },
    /// The CSV itself is broken (an I/O error, or a quote never closed).
    #[error("the CSV cannot be read near line {line}: {reason}")]
    Csv { line: usize, reason: String },
    /// Not an XLSX workbook, or one without a worksheet.
    #[error("the XLSX file cannot be read: {0}")]
    Xlsx(String),
}

impl TableError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            TableError::Encoding { .. } => "invalid_encoding",
            TableError::Csv { .. } => "invalid_csv",
            TableError::Xlsx(_) => "invalid_xlsx",
        }
    }

    /// The line a row-level error is about.
    pub fn line(&self) -> Option<usize> {
        match self {
            TableError::Encoding { line } | TableError::Csv { line, .. } => Some(*line),
            TableError::Xlsx(_) => None,
        }
    }
}

/// Streams the rows of a CSV file without holding it whole (a city's register is hundreds
/// of megabytes). Rows may have any number of fields; the caller checks the count.
pub struct CsvRows<R: Read> {
    reader: csv::Reader<R>,
    record: csv::ByteRecord,
    first: bool,
    broken: bool,
}

impl<R: Read> std::fmt::Debug for CsvRows<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CsvRows").finish_non_exhaustive()
    }
}

/// The rows of a CSV stream, in order.
pub fn csv_rows<R: Read>(input: R) -> CsvRows<R> {
    // Records end at `\n` only: with the crate's default (`\r`, `\n` or `\r\n`) the `\n` of
    // a CRLF is consumed with the next record, whose position then names the line before
    // it. The `\r` a CRLF leaves on the last field is taken off below.
    let reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .terminator(csv::Terminator::Any(b'\n'))
        .from_reader(input);
    CsvRows {
        reader,
        record: csv::ByteRecord::new(),
        first: true,
        broken: false,
    }
}

impl<R: Read> Iterator for CsvRows<R> {
    type Item = Result<Row, TableError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.broken {
            return None;
        }
        match self.reader.read_byte_record(&mut self.record) {
            Ok(false) => None,
            Ok(true) => {
                let line = self.record.position().map_or(0, |p| p.line() as usize);
                let mut fields = Vec::with_capacity(self.record.len());
                let last = self.record.len().saturating_sub(1);
                for (i, raw) in self.record.iter().enumerate() {
                    let raw = if i == last {
                        raw.strip_suffix(b"\r").unwrap_or(raw)
                    } else {
                        raw
                    };
                    // Excel's "CSV UTF-8" starts the file with a byte-order mark, which is
                    // no part of the first field.
                    let raw = if self.first && i == 0 {
                        raw.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(raw)
                    } else {
                        raw
                    };
                    match std::str::from_utf8(raw) {
                        Ok(s) => fields.push(s.to_owned()),
                        Err(_) => {
                            self.first = false;
                            return Some(Err(TableError::Encoding { line }));
                        }
                    }
                }
                self.first = false;
                Some(Ok(Row { line, fields }))
            }
            Err(e) => {
                self.broken = true;
                let line = e.position().map_or(0, |p| p.line() as usize);
                let reason = match e.kind() {
                    csv::ErrorKind::Io(io) => io.to_string(),
                    _ => "malformed CSV".to_owned(),
                };
                Some(Err(TableError::Csv { line, reason }))
            }
        }
    }
}

/// Every row of the first worksheet of an XLSX workbook. Numbers are written as Excel
/// shows them without formatting (`7`, not `7.0`); dates as `YYYY-MM-DD`.
pub fn xlsx_rows(bytes: &[u8]) -> Result<Vec<Row>, TableError> {
    use calamine::{Data, Reader, Xlsx};
    let mut book: Xlsx<_> = Xlsx::new(std::io::Cursor::new(bytes))
        .map_err(|e| TableError::Xlsx(format!("not an XLSX workbook ({e})")))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| TableError::Xlsx("the workbook has no worksheet".into()))?
        .map_err(|e| TableError::Xlsx(format!("the first worksheet ({e})")))?;
    let first_row = range.start().map_or(0, |(r, _)| r as usize);
    let text = |d: &Data| -> String {
        match d {
            Data::Empty => String::new(),
            Data::String(s) | Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
            Data::Int(i) => i.to_string(),
            // An integral number is what the operator typed (a grid cell, a phone number
            // entered as a number); Excel stores every number as a double.
            Data::Float(f) if f.fract() == 0.0 && f.abs() < 1e15 => format!("{}", *f as i64),
            Data::Float(f) => f.to_string(),
            Data::Bool(b) => b.to_string(),
            Data::DateTime(dt) => {
                let (y, m, d, ..) = dt.to_ymd_hms_milli();
                format!("{y:04}-{m:02}-{d:02}")
            }
            Data::Error(e) => format!("#{e:?}"),
        }
    };
    Ok(range
        .rows()
        .enumerate()
        .map(|(i, cells)| Row {
            line: first_row + i + 1,
            fields: cells.iter().map(text).collect(),
        })
        .collect())
}

/// Every row of a table held in memory (a request's body), CSV or XLSX.
pub fn rows(format: TableFormat, bytes: &[u8]) -> Vec<Result<Row, TableError>> {
    match format {
        TableFormat::Csv => csv_rows(bytes).collect(),
        TableFormat::Xlsx => match xlsx_rows(bytes) {
            Ok(rows) => rows.into_iter().map(Ok).collect(),
            Err(e) => vec![Err(e)],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(bytes: &[u8]) -> Vec<(usize, Vec<String>)> {
        csv_rows(bytes)
            .map(|r| r.map(|r| (r.line, r.fields)).expect("row"))
            .collect()
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_header() {
        let rows = fields(b"\xEF\xBB\xBFid_number,name\r\n1,a\r\n");
        assert_eq!(rows[0].1, vec!["id_number", "name"]);
        assert_eq!(rows[1], (2, vec!["1".to_owned(), "a".to_owned()]));
    }

    #[test]
    fn quoted_fields_keep_commas_quotes_and_line_breaks_and_lines_count_from_the_file() {
        let rows =
            fields("a,b\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",z\nlast,1\n".as_bytes());
        assert_eq!(rows[1].1, vec!["x, y", "say \"hi\""]);
        assert_eq!(rows[2], (3, vec!["two\nlines".to_owned(), "z".to_owned()]));
        // The record after a two-line field starts on line 5.
        assert_eq!(rows[3].0, 5);
    }

    #[test]
    fn crlf_line_ends_count_lines_and_leave_no_carriage_return() {
        let rows = fields(b"a,\"b\"\r\n1,2\r\n\"x\r\ny\",3\r\n\r\nlast,4\r\n");
        assert_eq!(rows[0], (1, vec!["a".to_owned(), "b".to_owned()]));
        assert_eq!(rows[1], (2, vec!["1".to_owned(), "2".to_owned()]));
        assert_eq!(rows[2], (3, vec!["x\r\ny".to_owned(), "3".to_owned()]));
        // The blank line is a row of one empty field; callers skip it.
        assert_eq!(rows[3], (5, vec![String::new()]));
        assert_eq!(rows[4], (6, vec!["last".to_owned(), "4".to_owned()]));
    }

    #[test]
    fn a_row_that_is_not_utf8_is_refused_alone() {
        let rows: Vec<_> = csv_rows(&b"a,b\n\xD5\xC5,1\nok,2\n"[..]).collect();
        assert_eq!(rows.len(), 3);
        let e = rows[1].as_ref().expect_err("GBK");
        assert_eq!((e.code(), e.line()), ("invalid_encoding", Some(2)));
        assert!(rows[2].is_ok());
    }

    #[test]
    fn garbage_is_not_a_workbook() {
        let e = xlsx_rows(b"not a zip").expect_err("garbage");
        assert_eq!(e.code(), "invalid_xlsx");
    }

    #[test]
    fn an_xlsx_written_by_the_exporter_reads_back_with_its_row_numbers() {
        use crate::export::{Cell, Table, to_xlsx};
        let t = Table {
            headers: vec!["name".into(), "cell".into()],
            rows: vec![vec!["张三, 李".into(), Cell::Number(7.0)]],
        };
        let rows = xlsx_rows(&to_xlsx(&t, "register").expect("write")).expect("xlsx");
        assert_eq!(rows[0].fields, ["name", "cell"]);
        assert_eq!(rows[1].line, 2);
        assert_eq!(rows[1].fields, ["张三, 李", "7"]);
    }
}
