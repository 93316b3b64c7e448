//! Tables for the people who phone contacts: CSV and XLSX, written by hand (an XLSX file is a
//! zip of a few XML parts; stored entries need no compressor).
//!
//! Both formats neutralise formula injection: a text cell that starts with `=`, `+`, `-`,
//! `@`, a tab or a carriage return gets a leading `'`, so a spreadsheet shows it as text
//! instead of running it (OWASP "CSV injection"). Numbers are written as numbers.

use std::fmt::Write as _;

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
/// programs read the Chinese names right).
pub fn to_csv(t: &Table) -> String {
    fn field(out: &mut String, s: &str) {
        if s.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&s.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(s);
        }
    }
    let mut out = String::from("\u{feff}");
    let mut line = |cells: &mut dyn Iterator<Item = String>| {
        for (i, c) in cells.enumerate() {
            if i > 0 {
                out.push(',');
            }
            field(&mut out, &c);
        }
        out.push_str("\r\n");
    };
    line(&mut t.headers.iter().map(|h| neutralise(h).into_owned()));
    for row in &t.rows {
        line(&mut row.iter().map(|c| match c {
            Cell::Text(s) => neutralise(s).into_owned(),
            Cell::Number(n) => number_text(*n),
        }));
    }
    out
}

fn xml_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            // XML 1.0 allows tab, newline and carriage return among the control characters.
            '\t' | '\n' | '\r' => out.push(ch),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

/// The column letters of a 0-based column index (A, B, …, Z, AA, …).
fn column(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'A' + u8::try_from(i % 26).unwrap_or(0));
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8(s).unwrap_or_default()
}

fn sheet_xml(t: &Table) -> String {
    let mut x = String::from(
        r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>"#,
    );
    let header: Vec<Cell> = t.headers.iter().map(|h| Cell::Text(h.clone())).collect();
    for (r, row) in std::iter::once(&header).chain(&t.rows).enumerate() {
        let _ = write!(x, r#"<row r="{}">"#, r + 1);
        for (c, cell) in row.iter().enumerate() {
            let at = format!("{}{}", column(c), r + 1);
            match cell {
                Cell::Text(s) => {
                    let _ = write!(
                        x,
                        r#"<c r="{at}" t="inlineStr"><is><t xml:space="preserve">{}</t></is></c>"#,
                        xml_escape(&neutralise(s))
                    );
                }
                Cell::Number(n) => {
                    let _ = write!(x, r#"<c r="{at}"><v>{}</v></c>"#, number_text(*n));
                }
            }
        }
        x.push_str("</row>");
    }
    x.push_str("</sheetData></worksheet>");
    x
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

    /// The table as a download named `{stem}.csv` or `{stem}.xlsx` (sheet `sheet`).
    pub fn response(self, t: &Table, stem: &str, sheet: &str) -> axum::response::Response {
        use axum::http::header;
        use axum::response::IntoResponse;
        let (body, mime, ext) = match self {
            Format::Csv => (to_csv(t).into_bytes(), "text/csv; charset=utf-8", "csv"),
            Format::Xlsx => (
                to_xlsx(t, sheet),
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                "xlsx",
            ),
        };
        (
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
            .into_response()
    }
}

/// An XLSX workbook with one sheet named `sheet`.
pub fn to_xlsx(t: &Table, sheet: &str) -> Vec<u8> {
    let parts = [
        (
            "[Content_Types].xml",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/></Types>"#
                .to_owned(),
        ),
        (
            "_rels/.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>"#
                .to_owned(),
        ),
        (
            "xl/workbook.xml",
            format!(
                r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="{}" sheetId="1" r:id="rId1"/></sheets></workbook>"#,
                xml_escape(sheet)
            ),
        ),
        (
            "xl/_rels/workbook.xml.rels",
            r#"<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>"#
                .to_owned(),
        ),
        ("xl/worksheets/sheet1.xml", sheet_xml(t)),
    ];
    let mut zip = ZipWriter::default();
    for (name, body) in &parts {
        zip.stored(name, body.as_bytes());
    }
    zip.finish()
}

/// CRC-32 (IEEE), as zip needs it.
fn crc32(data: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut t = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 == 1 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            t[i] = c;
            i += 1;
        }
        t
    };
    let mut c = !0u32;
    for &b in data {
        c = TABLE[usize::from((c as u8) ^ b)] ^ (c >> 8);
    }
    !c
}

/// A zip archive of stored (uncompressed) entries.
#[derive(Default)]
struct ZipWriter {
    out: Vec<u8>,
    central: Vec<u8>,
    entries: u16,
}

impl ZipWriter {
    fn stored(&mut self, name: &str, data: &[u8]) {
        let offset = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        let crc = crc32(data);
        let size = u32::try_from(data.len()).unwrap_or(u32::MAX);
        let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX);
        // Version 2.0, flag bit 11 (UTF-8 names), method 0 (stored), time/date 1980-01-01.
        let common = |v: &mut Vec<u8>| {
            v.extend_from_slice(&20u16.to_le_bytes());
            v.extend_from_slice(&0x0800u16.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
            v.extend_from_slice(&0x0021u16.to_le_bytes());
            v.extend_from_slice(&crc.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&size.to_le_bytes());
            v.extend_from_slice(&name_len.to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        self.out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut self.out);
        self.out.extend_from_slice(name.as_bytes());
        self.out.extend_from_slice(data);

        self.central
            .extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        self.central.extend_from_slice(&20u16.to_le_bytes()); // made by
        common(&mut self.central);
        self.central.extend_from_slice(&[0; 6]); // comment len, disk, internal attrs
        self.central.extend_from_slice(&0u32.to_le_bytes()); // external attrs
        self.central.extend_from_slice(&offset.to_le_bytes());
        self.central.extend_from_slice(name.as_bytes());
        self.entries += 1;
    }

    fn finish(mut self) -> Vec<u8> {
        let at = u32::try_from(self.out.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(self.central.len()).unwrap_or(u32::MAX);
        self.out.extend_from_slice(&self.central);
        self.out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
        self.out.extend_from_slice(&[0; 4]); // disk numbers
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&self.entries.to_le_bytes());
        self.out.extend_from_slice(&len.to_le_bytes());
        self.out.extend_from_slice(&at.to_le_bytes());
        self.out.extend_from_slice(&0u16.to_le_bytes());
        self.out
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

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn column_letters() {
        assert_eq!(column(0), "A");
        assert_eq!(column(25), "Z");
        assert_eq!(column(26), "AA");
        assert_eq!(column(701), "ZZ");
        assert_eq!(column(702), "AAA");
    }

    /// The workbook is read back by independent readers (Python's zipfile and XML parser,
    /// and openpyxl if installed) when python3 is present; `XIKANG_REQUIRE_PYTHON=1` (CI)
    /// makes its absence a failure.
    #[test]
    fn xlsx_is_a_zip_an_independent_reader_opens() {
        let bytes = to_xlsx(&sample(), "密接");
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
sheet = ET.fromstring(z.read('xl/worksheets/sheet1.xml'))
for row in sheet.find('m:sheetData', ns):
    cells = []
    for c in row:
        t = c.find('m:is/m:t', ns)
        cells.append(t.text if t is not None else c.find('m:v', ns).text)
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
