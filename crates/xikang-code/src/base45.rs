//! Base45 (RFC 9285), the text form of a token. Its 45 characters are exactly the QR code's
//! alphanumeric set, so a token fills the QR code at 5.5 bits per character instead of 8 in
//! byte mode. Hand-rolled (it is a few lines) so that encoding writes straight after the
//! `XK1:` prefix and decoding fills a caller's stack buffer: no allocation on the scan path.

/// The Base45 alphabet: value `i` is written as `ALPHABET[i]`.
const ALPHABET: &[u8; 45] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:";

/// Value of each ASCII byte in the alphabet, or `INVALID`.
const INVALID: u8 = 0xFF;
const VALUES: [u8; 128] = {
    let mut table = [INVALID; 128];
    let mut i = 0;
    while i < ALPHABET.len() {
        table[ALPHABET[i] as usize] = i as u8;
        i += 1;
    }
    table
};

/// Number of characters that `len` bytes encode to.
pub(crate) const fn encoded_len(len: usize) -> usize {
    len / 2 * 3 + len % 2 * 2
}

/// Upper bound on the bytes that `chars` characters decode to.
pub(crate) const fn decoded_len_bound(chars: usize) -> usize {
    chars / 3 * 2 + 1
}

/// Appends the Base45 form of `bytes` to `out`.
pub(crate) fn encode_into(bytes: &[u8], out: &mut String) {
    out.reserve(encoded_len(bytes.len()));
    let mut chunks = bytes.chunks_exact(2);
    for pair in &mut chunks {
        let mut n = u32::from(pair[0]) * 256 + u32::from(pair[1]);
        for _ in 0..3 {
            out.push(char::from(ALPHABET[(n % 45) as usize]));
            n /= 45;
        }
    }
    if let [last] = chunks.remainder() {
        let n = u32::from(*last);
        out.push(char::from(ALPHABET[(n % 45) as usize]));
        out.push(char::from(ALPHABET[(n / 45) as usize]));
    }
}

/// Why a string is not Base45.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Base45Error {
    /// A character outside the alphabet (lower-case letters included).
    BadCharacter,
    /// A length of 3n + 1 characters, which no byte string encodes to.
    BadLength,
    /// A group whose value does not fit its bytes (e.g. `:::`, 90 134 > 65 535).
    Overflow,
    /// The output buffer is too small.
    TooLong,
}

impl Base45Error {
    /// Human-readable reason, used in `VerifyError::Malformed`.
    pub(crate) fn reason(self) -> &'static str {
        match self {
            Base45Error::BadCharacter => "not Base45: a character outside the alphabet",
            Base45Error::BadLength => "not Base45: impossible length",
            Base45Error::Overflow => "not Base45: a group's value is out of range",
            Base45Error::TooLong => "token too long",
        }
    }
}

fn value(c: u8) -> Result<u32, Base45Error> {
    match VALUES.get(usize::from(c)) {
        Some(&v) if v != INVALID => Ok(u32::from(v)),
        _ => Err(Base45Error::BadCharacter),
    }
}

/// Decodes `text` into the start of `out`, returning the number of bytes written.
pub(crate) fn decode_into(text: &str, out: &mut [u8]) -> Result<usize, Base45Error> {
    let text = text.as_bytes();
    if text.len() % 3 == 1 {
        return Err(Base45Error::BadLength);
    }
    if decoded_len_bound(text.len()) > out.len() + 1 {
        return Err(Base45Error::TooLong);
    }
    let mut n = 0;
    let mut chunks = text.chunks_exact(3);
    for group in &mut chunks {
        let v = value(group[0])? + value(group[1])? * 45 + value(group[2])? * 45 * 45;
        let [hi, lo] = u16::try_from(v)
            .map_err(|_| Base45Error::Overflow)?
            .to_be_bytes();
        let slot = out.get_mut(n..n + 2).ok_or(Base45Error::TooLong)?;
        slot.copy_from_slice(&[hi, lo]);
        n += 2;
    }
    if let [a, b] = chunks.remainder() {
        let v = value(*a)? + value(*b)? * 45;
        let byte = u8::try_from(v).map_err(|_| Base45Error::Overflow)?;
        *out.get_mut(n).ok_or(Base45Error::TooLong)? = byte;
        n += 1;
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(s: &str) -> Result<Vec<u8>, Base45Error> {
        let mut buf = [0u8; 64];
        decode_into(s, &mut buf).map(|n| buf[..n].to_vec())
    }

    #[test]
    fn rfc_9285_examples_encode_and_decode() {
        for (bytes, text) in [
            (&b"AB"[..], "BB8"),
            (b"Hello!!", "%69 VD92EX0"),
            (b"base-45", "UJCLQE7W581"),
            (b"ietf!", "QED8WEX0"),
            (b"", ""),
        ] {
            let mut out = String::new();
            encode_into(bytes, &mut out);
            assert_eq!(out, text);
            assert_eq!(out.len(), encoded_len(bytes.len()));
            assert_eq!(decode(text).unwrap(), bytes);
        }
    }

    #[test]
    fn agrees_with_the_base45_crate_on_every_length_up_to_40() {
        let bytes: Vec<u8> = (0u8..40)
            .map(|i| i.wrapping_mul(97).wrapping_add(13))
            .collect();
        for len in 0..bytes.len() {
            let mut ours = String::new();
            encode_into(&bytes[..len], &mut ours);
            assert_eq!(ours, base45::encode(&bytes[..len]));
            assert_eq!(decode(&ours).unwrap(), &bytes[..len]);
        }
    }

    #[test]
    fn encoded_text_never_ends_in_a_space_so_trimming_is_safe() {
        let mut out = String::new();
        for n in 0..=u16::MAX {
            out.clear();
            encode_into(&n.to_be_bytes(), &mut out);
            assert!(!out.ends_with(' '), "{n}");
        }
        for b in 0..=u8::MAX {
            out.clear();
            encode_into(&[b], &mut out);
            assert!(!out.ends_with(' '), "{b}");
        }
    }

    #[test]
    fn rejects_what_is_not_base45() {
        assert_eq!(decode("GGW"), Err(Base45Error::Overflow));
        assert_eq!(decode(":::"), Err(Base45Error::Overflow));
        assert_eq!(decode("ZZ"), Err(Base45Error::Overflow));
        assert_eq!(decode("bb8"), Err(Base45Error::BadCharacter));
        assert_eq!(decode("BB8A"), Err(Base45Error::BadLength));
        assert_eq!(decode("é0"), Err(Base45Error::BadCharacter));
        let mut tiny = [0u8; 1];
        assert_eq!(decode_into("BB8BB8", &mut tiny), Err(Base45Error::TooLong));
    }
}
