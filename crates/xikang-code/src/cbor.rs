//! The small part of CBOR (RFC 8949) that tokens need: definite-length integers, byte and
//! text strings, arrays, maps and tags, written in the deterministic (shortest) form, and a
//! strict reader that borrows from the input. A general CBOR library would build a value
//! tree with an allocation per node; the claim set is fixed, so the token codec reads and
//! writes it field by field instead (docs/code-token.md has the measurement).

/// Major types (the top three bits of the initial byte).
pub(crate) const UINT: u8 = 0;
pub(crate) const NINT: u8 = 1;
pub(crate) const BYTES: u8 = 2;
pub(crate) const TEXT: u8 = 3;
pub(crate) const ARRAY: u8 = 4;
pub(crate) const MAP: u8 = 5;
pub(crate) const TAG: u8 = 6;
pub(crate) const SIMPLE: u8 = 7;

/// How deeply nested an item the reader skips before giving up (protects the stack).
const MAX_DEPTH: u32 = 16;

/// Number of bytes the head of an item with argument `arg` takes.
pub(crate) const fn head_len(arg: u64) -> usize {
    match arg {
        0..=23 => 1,
        24..=0xFF => 2,
        0x100..=0xFFFF => 3,
        0x1_0000..=0xFFFF_FFFF => 5,
        _ => 9,
    }
}

/// Writes the head of an item in its shortest form into `out`, returning its length.
pub(crate) fn head(major: u8, arg: u64, out: &mut [u8; 9]) -> usize {
    let m = major << 5;
    let len = head_len(arg);
    match len {
        1 => out[0] = m | arg as u8,
        2 => {
            out[0] = m | 24;
            out[1] = arg as u8;
        }
        3 => {
            out[0] = m | 25;
            out[1..3].copy_from_slice(&(arg as u16).to_be_bytes());
        }
        5 => {
            out[0] = m | 26;
            out[1..5].copy_from_slice(&(arg as u32).to_be_bytes());
        }
        _ => {
            out[0] = m | 27;
            out[1..9].copy_from_slice(&arg.to_be_bytes());
        }
    }
    len
}

/// Appends a head to `buf`.
pub(crate) fn put_head(buf: &mut Vec<u8>, major: u8, arg: u64) {
    let mut h = [0u8; 9];
    let n = head(major, arg, &mut h);
    buf.extend_from_slice(&h[..n]);
}

/// Appends a signed integer.
pub(crate) fn put_int(buf: &mut Vec<u8>, v: i64) {
    if v >= 0 {
        put_head(buf, UINT, v as u64);
    } else {
        // -1 - v without overflow: for v = i64::MIN this is i64::MAX.
        put_head(buf, NINT, !(v as u64));
    }
}

/// Appends a text string.
pub(crate) fn put_text(buf: &mut Vec<u8>, s: &str) {
    put_head(buf, TEXT, s.len() as u64);
    buf.extend_from_slice(s.as_bytes());
}

/// Length of an encoded integer.
pub(crate) const fn int_len(v: i64) -> usize {
    if v >= 0 {
        head_len(v as u64)
    } else {
        head_len(!(v as u64))
    }
}

/// Length of an encoded text or byte string of `len` bytes.
pub(crate) const fn str_len(len: usize) -> usize {
    head_len(len as u64) + len
}

/// Why bytes are not the CBOR the reader expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CborError {
    /// The input ended inside an item.
    Truncated,
    /// An item of another type than the one required here.
    Unexpected(&'static str),
    /// Indefinite lengths, reserved additional information, invalid UTF-8, too deep.
    Unsupported(&'static str),
    /// An integer outside the signed 64-bit range.
    IntegerRange,
}

impl CborError {
    /// Human-readable reason for `VerifyError::Malformed`; `what` names the structure.
    pub(crate) fn describe(self, what: &str) -> String {
        match self {
            CborError::Truncated => format!("bad CBOR in {what}: truncated"),
            CborError::Unexpected(e) => format!("bad CBOR in {what}: expected {e}"),
            CborError::Unsupported(e) => format!("bad CBOR in {what}: {e}"),
            CborError::IntegerRange => format!("bad CBOR in {what}: integer out of range"),
        }
    }
}

/// A cursor over CBOR bytes; every read borrows from the input.
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Reader { buf, pos: 0 }
    }

    /// True when every byte has been read.
    pub(crate) fn at_end(&self) -> bool {
        self.pos == self.buf.len()
    }

    /// The next byte without consuming it.
    pub(crate) fn peek(&self) -> Option<u8> {
        self.buf.get(self.pos).copied()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], CborError> {
        let end = self.pos.checked_add(n).ok_or(CborError::Truncated)?;
        let s = self.buf.get(self.pos..end).ok_or(CborError::Truncated)?;
        self.pos = end;
        Ok(s)
    }

    /// Reads an item's head: its major type and argument (a length, value or tag number).
    pub(crate) fn head(&mut self) -> Result<(u8, u64), CborError> {
        let first = self.take(1)?[0];
        let major = first >> 5;
        let info = first & 0x1F;
        let arg = match info {
            0..=23 => u64::from(info),
            24 => u64::from(self.take(1)?[0]),
            25 => {
                let b = self.take(2)?;
                u64::from(u16::from_be_bytes([b[0], b[1]]))
            }
            26 => {
                let b = self.take(4)?;
                u64::from(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            }
            27 => {
                let b = self.take(8)?;
                u64::from_be_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]])
            }
            31 => return Err(CborError::Unsupported("indefinite length")),
            _ => return Err(CborError::Unsupported("reserved additional information")),
        };
        Ok((major, arg))
    }

    fn expect(&mut self, major: u8, what: &'static str) -> Result<u64, CborError> {
        match self.head()? {
            (m, arg) if m == major => Ok(arg),
            _ => Err(CborError::Unexpected(what)),
        }
    }

    /// A length that cannot exceed what is left (each element takes at least one byte).
    fn count(&mut self, major: u8, what: &'static str) -> Result<usize, CborError> {
        let n = self.expect(major, what)?;
        usize::try_from(n)
            .ok()
            .filter(|&n| n <= self.buf.len() - self.pos)
            .ok_or(CborError::Truncated)
    }

    /// Reads an integer (major type 0 or 1) that fits in an i64.
    pub(crate) fn int(&mut self) -> Result<i64, CborError> {
        match self.head()? {
            (UINT, v) => i64::try_from(v).map_err(|_| CborError::IntegerRange),
            (NINT, v) => i64::try_from(v)
                .map(|v| -1 - v)
                .map_err(|_| CborError::IntegerRange),
            _ => Err(CborError::Unexpected("an integer")),
        }
    }

    /// Reads a byte string.
    pub(crate) fn bytes(&mut self) -> Result<&'a [u8], CborError> {
        let n = self.count(BYTES, "a byte string")?;
        self.take(n)
    }

    /// Reads a text string (valid UTF-8).
    pub(crate) fn text(&mut self) -> Result<&'a str, CborError> {
        let n = self.count(TEXT, "a text string")?;
        std::str::from_utf8(self.take(n)?).map_err(|_| CborError::Unsupported("invalid UTF-8"))
    }

    /// Reads an array head, returning the number of elements.
    pub(crate) fn array(&mut self) -> Result<usize, CborError> {
        self.count(ARRAY, "an array")
    }

    /// Reads a map head, returning the number of pairs.
    pub(crate) fn map(&mut self) -> Result<usize, CborError> {
        self.count(MAP, "a map")
    }

    /// Reads a map key that is an integer; a text key (allowed by CWT) gives `None` and is
    /// consumed, so the caller skips its value as an unknown claim.
    pub(crate) fn int_key(&mut self) -> Result<Option<i64>, CborError> {
        match self.peek().map(|b| b >> 5) {
            Some(UINT | NINT) => self.int().map(Some),
            Some(TEXT) => self.text().map(|_| None),
            Some(_) => Err(CborError::Unexpected("an integer or text map key")),
            None => Err(CborError::Truncated),
        }
    }

    /// Skips one complete item of any type.
    pub(crate) fn skip(&mut self) -> Result<(), CborError> {
        self.skip_at(0)
    }

    fn skip_at(&mut self, depth: u32) -> Result<(), CborError> {
        if depth > MAX_DEPTH {
            return Err(CborError::Unsupported("nested too deeply"));
        }
        let (major, arg) = self.head()?;
        match major {
            UINT | NINT | SIMPLE => Ok(()),
            BYTES | TEXT => {
                let n = usize::try_from(arg).map_err(|_| CborError::Truncated)?;
                self.take(n).map(|_| ())
            }
            ARRAY | MAP => {
                let items = if major == MAP {
                    arg.saturating_mul(2)
                } else {
                    arg
                };
                if items > (self.buf.len() - self.pos) as u64 {
                    return Err(CborError::Truncated);
                }
                for _ in 0..items {
                    self.skip_at(depth + 1)?;
                }
                Ok(())
            }
            _ => self.skip_at(depth + 1), // a tag: skip the tagged item
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ciborium_bytes(v: &ciborium::Value) -> Vec<u8> {
        let mut out = Vec::new();
        ciborium::into_writer(v, &mut out).unwrap();
        out
    }

    #[test]
    fn integers_are_written_in_the_shortest_form_ciborium_agrees_with() {
        for v in [
            0i64,
            23,
            24,
            255,
            256,
            65_535,
            65_536,
            1_656_640_800,
            i64::MAX,
            -1,
            -8,
            -24,
            -25,
            -65_537,
            -65_538,
            i64::MIN,
        ] {
            let mut ours = Vec::new();
            put_int(&mut ours, v);
            assert_eq!(ours.len(), int_len(v), "length of {v}");
            assert_eq!(ours, ciborium_bytes(&ciborium::Value::from(v)), "{v}");
            assert_eq!(Reader::new(&ours).int().unwrap(), v);
        }
    }

    #[test]
    fn text_round_trips_and_matches_ciborium() {
        let s = "320200 锡康".repeat(5);
        let mut ours = Vec::new();
        put_text(&mut ours, &s);
        assert_eq!(ours.len(), str_len(s.len()));
        assert_eq!(ours, ciborium_bytes(&ciborium::Value::Text(s.clone())));
        assert_eq!(Reader::new(&ours).text().unwrap(), s);
    }

    #[test]
    fn reader_refuses_truncated_indefinite_and_oversized_items() {
        assert_eq!(Reader::new(&[0x1A, 0, 0]).int(), Err(CborError::Truncated));
        assert_eq!(
            Reader::new(&[0x5F, 0x41, 0, 0xFF]).bytes(),
            Err(CborError::Unsupported("indefinite length"))
        );
        assert_eq!(
            Reader::new(&[0x59, 0xFF, 0xFF]).bytes(),
            Err(CborError::Truncated)
        );
        assert_eq!(
            Reader::new(&[0x1B, 0x80, 0, 0, 0, 0, 0, 0, 0]).int(),
            Err(CborError::IntegerRange)
        );
        assert_eq!(
            Reader::new(&[0x62, 0xFF, 0xFE]).text(),
            Err(CborError::Unsupported("invalid UTF-8"))
        );
        // An array claiming four billion elements in five bytes is refused before looping.
        assert_eq!(
            Reader::new(&[0x9A, 0xFF, 0xFF, 0xFF, 0xFF]).skip(),
            Err(CborError::Truncated)
        );
        let deep = [0x81u8; 40];
        assert_eq!(
            Reader::new(&deep).skip(),
            Err(CborError::Unsupported("nested too deeply"))
        );
    }

    #[test]
    fn skip_passes_over_nested_items_of_every_type() {
        let v = ciborium::Value::Map(vec![
            (
                ciborium::Value::from(1),
                ciborium::Value::Array(vec![
                    ciborium::Value::from(-3),
                    ciborium::Value::Bytes(vec![1, 2, 3]),
                    ciborium::Value::Tag(1, Box::new(ciborium::Value::from(5))),
                    ciborium::Value::Bool(true),
                    ciborium::Value::Float(1.5),
                ]),
            ),
            (ciborium::Value::Text("k".into()), ciborium::Value::Null),
        ]);
        let mut bytes = ciborium_bytes(&v);
        bytes.push(0x07);
        let mut r = Reader::new(&bytes);
        r.skip().unwrap();
        assert_eq!(r.int().unwrap(), 7);
        assert!(r.at_end());
    }
}
