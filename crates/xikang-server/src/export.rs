//! Tables for the people who phone contacts: CSV (the `csv` crate) and XLSX
//! (`rust_xlsxwriter`).
//!
//! Both formats neutralise formula injection: a text cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows it as text
//! instead of running it (OWASP "CSV injection"). Numbers are written as numbers.

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Text(String),
    Number(f64),
}

impl From<&str> for Cell {
    fn from(s: &str) -> Cell {
        Cell::Text(s.to_owned())
    }
}

impl From<String> for Cell {
    fn from(s: String) -> Cell {
        Cell::Text(s)
    }
}

impl From<u32> for Cell {
    fn from(n: u32) -> Cell {
        Cell::Number(f64::from(n))
    }
}

/// A header row and data rows.
#[derive(Debug, Clone, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<Cell>>,
}

/// The text a spreadsheet will not read as a formula.
pub fn neutralise(s: &str) -> std::borrow::Cow<'_, str> {
    if s.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{s}").into()
    } else {
        s.into()
    }
}

fn number_text(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n}")
    }
}

/// RFC 4180 CSV with CRLF line ends and a UTF-8 byte-order mark (so that spreadsheet
/// programs read the Chinese names right), written by the `csv` crate.
pub fn to_csv(t: &Table) -> String {
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::CRLF)
        .flexible(true)
        .from_writer(Vec::from("\u{feff}".as_bytes()));
    let header = t.headers.iter().map(|h| neutralise(h).into_owned());
    let rows = t.rows.iter().map(|row| {
        row.iter()
            .map(|c| match c {
                Cell::Text(s) => neutralise(s).into_owned(),
                Cell::Number(n) => number_text(*n),
            })
            .collect::<Vec<_>>()
    });
    // Writing to a Vec cannot fail, and `flexible` accepts a row shorter than the header.
    for record in std::iter::once(header.collect::<Vec<_>>()).chain(rows) {
        let _ = w.write_record(&record);
    }
    let bytes = w.into_inner().unwrap_or_default();
    String::from_utf8(bytes).unwrap_or_default()
}

/// An XLSX workbook with one sheet named `sheet`, written by `rust_xlsxwriter`. A sheet name
/// Excel would refuse (over 31 characters, or one of `[]:*?/\`) is cleaned, not refused.
pub fn to_xlsx(t: &Table, sheet: &str) -> Result<Vec<u8>, rust_xlsxwriter::XlsxError> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let ws = book.add_worksheet();
    let name: String = sheet
        .chars()
        .map(|c| if "[]:*?/\\".contains(c) { '_' } else { c })
        .take(31)
        .collect();
    ws.set_name(name.trim_matches('\''))?;
    let header = t.headers.iter().map(|h| Cell::Text(h.clone())).collect();
    for (r, row) in std::iter::once(&header).chain(&t.rows).enumerate() {
        let r = u32::try_from(r).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
        for (c, cell) in row.iter().enumerate() {
            let c =
                u16::try_from(c).map_err(|_| rust_xlsxwriter::XlsxError::RowColumnLimitError)?;
            match cell {
                Cell::Text(s) => ws.write_string(r, c, neutralise(s))?,
                Cell::Number(n) => ws.write_number(r, c, *n)?,
            };
        }
    }
    book.save_to_buffer()
}

/// The file format an export was asked for (`format=csv|xlsx`; absent = CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Csv,
    Xlsx,
}

impl Format {
    /// Parses a `format` query value; anything but `csv` or `xlsx` is refused.
    pub fn parse(s: Option<&str>) -> Result<Format, crate::error::AppError> {
        match s.map(str::trim) {
            None | Some("" | "csv") => Ok(Format::Csv),
            Some("xlsx") => Ok(Format::Xlsx),
            Some(_) => Err(crate::error::AppError::bad(
                "invalid_format",
                "format is csv or xlsx",
            )),
        }
    }

    /// The table's bytes in this format (sheet `sheet` for XLSX), their media type and the
    /// file extension.
    pub fn encode(
        self,
        t: &Table,
        sheet: &str,
    ) -> Result<(Vec<u8>, &'static str, &'static str), crate::error::AppError> {
        Ok(match self {
            Format::Csv => (to_csv(t).into_bytes(), "text/csv; charset=utf-8", "csv"),
            Format::Xlsx => (
                to_xlsx(t, sheet)
                    .map_err(|e| crate::error::AppError::Internal(format!("xlsx: {e}")))?,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
        })
    }

    /// The table as a download named `{stem}.csv` or `{stem}.xlsx` (sheet `sheet`).
    pub fn response(
        self,
        t: &Table,
        stem: &str,
        sheet: &str,
    ) -> Result<axum::response::Response, crate::error::AppError> {
        use axum::http::header;
        use axum::response::IntoResponse;
        let (body, mime, ext) = self.encode(t, sheet)?;
        Ok((
            [
                (header::CONTENT_TYPE, mime.to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"{stem}.{ext}\""),
                ),
                (header::CACHE_CONTROL, "no-store".to_owned()),
            ],
            body,
        )
            .into_response())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Table {
        Table {
            headers: vec!["姓名".into(), "note".into(), "minutes".into()],
            rows: vec![
                vec![
                    "张三".into(),
                    "=HYPERLINK(\"http://x\")".into(),
                    15u32.into(),
                ],
                vec!["李,四".into(), "-2+3".into(), 7u32.into()],
                vec!["@SUM(A1)".into(), "\tx".into(), 0u32.into()],
            ],
        }
    }

    #[test]
    fn formula_starts_are_neutralised_and_plain_text_is_not() {
        for bad in ["=1+1", "+1", "-1", "@A1", "\t=1", "\r=1"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for ok in ["张三", "1+1", "a=b", ""] {
            assert_eq!(neutralise(ok), ok);
        }
    }

    #[test]
    fn csv_quotes_and_neutralises() {
        let csv = to_csv(&sample());
        let lines: Vec<&str> = csv.trim_start_matches('\u{feff}').split("\r\n").collect();
        assert_eq!(lines[0], "姓名,note,minutes");
        assert_eq!(lines[1], "张三,\"'=HYPERLINK(\"\"http://x\"\")\",15");
        assert_eq!(lines[2], "\"李,四\",'-2+3,7");
        assert_eq!(lines[3], "'@SUM(A1),'\tx,0");
    }

    /// The workbook is read back by independent readers (Python's zipfile and XML parser,
    /// and openpyxl if installed) when python3 is present; `XIKANG_REQUIRE_PYTHON=1` (CI)
    /// makes its absence a failure.
    #[test]
    fn xlsx_is_a_zip_an_independent_reader_opens() {
        let bytes = to_xlsx(&sample(), "密接").expect("xlsx");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("contacts.xlsx");
        std::fs::write(&path, &bytes).expect("write");
        let script = r#"
import sys, zipfile, xml.etree.ElementTree as ET
z = zipfile.ZipFile(sys.argv[1])
assert z.testzip() is None
ns = {'m': 'http://schemas.openxmlformats.org/spreadsheetml/2006/main'}
wb = ET.fromstring(z.read('xl/workbook.xml'))
print(wb.find('m:sheets/m:sheet', ns).get('name'))
shared = [si.find('m:t', ns).text for si in ET.fromstring(z.read('xl/sharedStrings.xml'))]
sheet = ET.fromstring(z.read('xl/worksheets/sheet1.xml'))
for row in sheet.find('m:sheetData', ns):
    cells = []
    for c in row:
        v = c.find('m:v', ns).text
        cells.append(shared[int(v)] if c.get('t') == 's' else v)
    print('|'.join(cells))
try:
    import openpyxl
except ImportError:
    sys.exit(0)
ws = openpyxl.load_workbook(sys.argv[1]).active
assert ws.title == wb.find('m:sheets/m:sheet', ns).get('name')
assert ws['A2'].value == '张三' and ws['C2'].value == 15, (ws['A2'].value, ws['C2'].value)
assert ws['B2'].value == "'=HYPERLINK(\"http://x\")", ws['B2'].value
"#;
        let out = match std::process::Command::new("python3")
            .arg("-c")
            .arg(script)
            .arg(&path)
            .output()
        {
            Ok(out) => out,
            Err(e) => {
                assert!(
                    std::env::var_os("XIKANG_REQUIRE_PYTHON").is_none(),
                    "python3 is required: {e}"
                );
                eprintln!("python3 not found: XLSX read-back skipped");
                return;
            }
        };
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8(out.stdout).expect("utf-8");
        assert_eq!(
            text,
            "密接\n姓名|note|minutes\n张三|'=HYPERLINK(\"http://x\")|15\n李,四|'-2+3|7\n'@SUM(A1)|'\tx|0\n"
        );
    }
}
