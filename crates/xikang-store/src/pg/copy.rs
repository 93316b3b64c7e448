//! Rows for a binary `COPY … from stdin`, encoded into one buffer and sent in one message.
//!
//! `postgres::binary_copy::BinaryCopyInWriter` enters the client's runtime once per row:
//! for the ten million samples and four million tube moves of a city-wide round that cost
//! the writer more than PostgreSQL spent parsing them (docs/testing.md). The format is
//! PostgreSQL's binary copy format: a signature and two zero words, then per row the field
//! count and each field as a length (-1: null) and its bytes in network order, then -1.

use crate::error::Result;
use std::io::Write;

/// One field of a row, as the binary copy format writes it. The column's type decides the
/// width: `i64` for `bigint`, `i32` for `integer`, `f32` for `real`, `&str` for `text`,
/// `&[u8]` for `bytea`.
pub(super) trait Field {
    fn put(&self, buf: &mut Vec<u8>);
}

fn sized(buf: &mut Vec<u8>, bytes: &[u8]) {
    // A field longer than 2 GiB cannot be sent; none of ours comes near it.
    let len = i32::try_from(bytes.len()).unwrap_or(i32::MAX);
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(bytes);
}

impl Field for i64 {
    fn put(&self, buf: &mut Vec<u8>) {
        sized(buf, &self.to_be_bytes());
    }
}

impl Field for i32 {
    fn put(&self, buf: &mut Vec<u8>) {
        sized(buf, &self.to_be_bytes());
    }
}

impl Field for f32 {
    fn put(&self, buf: &mut Vec<u8>) {
        sized(buf, &self.to_bits().to_be_bytes());
    }
}

impl Field for &str {
    fn put(&self, buf: &mut Vec<u8>) {
        sized(buf, self.as_bytes());
    }
}

impl Field for &[u8] {
    fn put(&self, buf: &mut Vec<u8>) {
        sized(buf, self);
    }
}

/// An `integer[]` of one dimension without nulls, as the binary format writes arrays: the
/// dimension count, a no-nulls flag, the element type (`int4`, oid 23), the length and
/// lower bound 1, then each element as a 4-byte field.
pub(super) struct Int4Array<'a>(pub(super) &'a [i32]);

impl Field for Int4Array<'_> {
    fn put(&self, buf: &mut Vec<u8>) {
        const INT4_OID: i32 = 23;
        let n = i32::try_from(self.0.len()).unwrap_or(i32::MAX);
        let len = 20 + 8 * n;
        for word in [len, 1, 0, INT4_OID, n, 1] {
            buf.extend_from_slice(&word.to_be_bytes());
        }
        for v in self.0 {
            v.put(buf);
        }
    }
}

impl<T: Field> Field for Option<T> {
    fn put(&self, buf: &mut Vec<u8>) {
        match self {
            Some(v) => v.put(buf),
            None => buf.extend_from_slice(&(-1i32).to_be_bytes()),
        }
    }
}

/// The rows of one `COPY`, encoded as they are added.
pub(super) struct CopyRows {
    buf: Vec<u8>,
}

impl CopyRows {
    /// An empty copy, room made for `rows` rows of about `row_bytes` each.
    pub(super) fn new(rows: usize, row_bytes: usize) -> CopyRows {
        let mut buf = Vec::with_capacity(19 + rows * row_bytes + 2);
        buf.extend_from_slice(b"PGCOPY\n\xff\r\n\0");
        buf.extend_from_slice(&0i32.to_be_bytes()); // flags
        buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
        CopyRows { buf }
    }

    /// Adds a row; `fields` in the order of the copy's column list.
    pub(super) fn row(&mut self, fields: &[&dyn Field]) {
        self.row_of(fields, &[]);
    }

    /// Adds a row of `head` then `tail`.
    pub(super) fn row_of(&mut self, head: &[&dyn Field], tail: &[&dyn Field]) {
        let count = i16::try_from(head.len() + tail.len()).unwrap_or(i16::MAX);
        self.buf.extend_from_slice(&count.to_be_bytes());
        for f in head.iter().chain(tail) {
            f.put(&mut self.buf);
        }
    }

    /// Runs `copy` (a `copy … from stdin with (format binary)`) with these rows.
    pub(super) fn send(
        mut self,
        client: &mut impl postgres::GenericClient,
        copy: &str,
    ) -> Result<()> {
        self.buf.extend_from_slice(&(-1i16).to_be_bytes());
        let mut w = client.copy_in(copy)?;
        w.write_all(&self.buf)?;
        w.finish()?;
        Ok(())
    }
}
