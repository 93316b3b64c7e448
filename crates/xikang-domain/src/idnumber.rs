//! 居民身份证号码 (GB 11643-1999): 6-digit area code, 8-digit birth date, 3-digit sequence
//! (odd for men), and a MOD 11-2 check character (`0`–`9` or `X`). Parsed once at the edge;
//! inside the system people are found by a keyed hash of the number, never the number.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use std::fmt;

const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const CHECK: [u8; 11] = *b"10X98765432";

/// A valid 18-character resident ID number. `Debug` and `Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct IdNumber(String);

/// Why a string is not a valid ID number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdNumberError {
    #[error("an ID number has 18 characters, this one has {0}")]
    Length(usize),
    #[error("an ID number is 17 digits followed by a digit or X")]
    Characters,
    #[error("the birth date in the ID number is not a real date")]
    BirthDate,
    #[error("the check character of the ID number is wrong (MOD 11-2)")]
    CheckDigit,
}

impl IdNumberError {
    /// Stable error code for APIs.
    pub fn code(&self) -> &'static str {
        match self {
            IdNumberError::CheckDigit => "invalid_id_check_digit",
            IdNumberError::BirthDate => "invalid_id_birth_date",
            IdNumberError::Length(_) | IdNumberError::Characters => "invalid_id_number",
        }
    }
}

/// The MOD 11-2 check character for the first 17 digits.
pub fn check_char(first17: &[u8; 17]) -> u8 {
    let sum: u32 = first17
        .iter()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    CHECK[(sum % 11) as usize]
}

impl IdNumber {
    /// Parses and checks an ID number; a lower-case `x` is accepted and normalised.
    pub fn parse(s: &str) -> Result<IdNumber, IdNumberError> {
        let s = s.trim();
        let n = s.chars().count();
        if n != 18 {
            return Err(IdNumberError::Length(n));
        }
        let upper = s.to_ascii_uppercase();
        let b = upper.as_bytes();
        let digits_ok =
            b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X');
        if !digits_ok {
            return Err(IdNumberError::Characters);
        }
        let num = |r: std::ops::Range<usize>| -> i32 {
            b[r].iter().fold(0, |a, d| a * 10 + i32::from(d - b'0'))
        };
        let (y, m, d) = (num(6..10), num(10..12), num(12..14));
        let date_ok = (1900..=2100).contains(&y)
            && i8::try_from(m).is_ok()
            && i8::try_from(d).is_ok()
            && jiff::civil::Date::new(y as i16, m as i8, d as i8).is_ok();
        if !date_ok {
            return Err(IdNumberError::BirthDate);
        }
        let mut first = [0u8; 17];
        first.copy_from_slice(&b[..17]);
        if check_char(&first) != b[17] {
            return Err(IdNumberError::CheckDigit);
        }
        Ok(IdNumber(upper))
    }

    /// Builds a valid number from area code, birth date and sequence (for the synthetic
    /// city). Returns `None` if the parts are out of range.
    pub fn compose(area: u32, year: i16, month: i8, day: i8, seq: u16) -> Option<IdNumber> {
        if area > 999_999 || seq > 999 {
            return None;
        }
        let first = format!("{area:06}{year:04}{month:02}{day:02}{seq:03}");
        let mut arr = [0u8; 17];
        arr.copy_from_slice(first.as_bytes().get(..17)?);
        let full = format!("{first}{}", check_char(&arr) as char);
        IdNumber::parse(&full).ok()
    }

    /// The full number. Handle with care: never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Masked for display: first 4 and last 4 characters, e.g. `3202**********1234`.
    pub fn masked(&self) -> String {
        format!("{}**********{}", &self.0[..4], &self.0[14..])
    }

    /// The keyed hash by which people are looked up (HMAC-SHA256, first 16 bytes), so the
    /// number itself need not be indexed.
    pub fn keyed_hash(&self, key: &[u8]) -> [u8; 16] {
        keyed_hash(key, self.0.as_bytes())
    }
}

/// HMAC-SHA256 of `data` under `key`, truncated to 16 bytes.
pub fn keyed_hash(key: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap_or_else(|_| unreachable!());
    mac.update(data);
    let full = mac.finalize().into_bytes();
    let mut out = [0u8; 16];
    out.copy_from_slice(&full[..16]);
    out
}

impl fmt::Debug for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdNumber({})", self.masked())
    }
}

impl fmt::Display for IdNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl TryFrom<String> for IdNumber {
    type Error = IdNumberError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        IdNumber::parse(&s)
    }
}

impl From<IdNumber> for String {
    fn from(i: IdNumber) -> String {
        i.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_valid_number_parses_and_masks() {
        let id = IdNumber::compose(320213, 1985, 3, 7, 123).unwrap();
        assert_eq!(id.expose().len(), 18);
        assert!(id.expose().starts_with("32021319850307123"));
        assert_eq!(id.masked(), format!("3202**********{}", &id.expose()[14..]));
        assert!(!format!("{id:?}").contains("19850307"));
    }

    #[test]
    fn the_published_example_has_check_character_x() {
        // The worked example of GB 11643: 11010519491231002X.
        assert!(IdNumber::parse("11010519491231002X").is_ok());
        assert!(IdNumber::parse("11010519491231002x").is_ok());
        assert_eq!(
            IdNumber::parse("110105194912310021"),
            Err(IdNumberError::CheckDigit)
        );
    }

    #[test]
    fn bad_numbers_are_refused_with_the_reason() {
        assert_eq!(IdNumber::parse("1234"), Err(IdNumberError::Length(4)));
        assert_eq!(
            IdNumber::parse("11010519491231002Y"),
            Err(IdNumberError::Characters)
        );
        // 2021-02-29 does not exist; fix the check char so only the date is wrong.
        let mut first = *b"32021320210229123";
        let c = check_char(&first);
        let s = format!("{}{}", std::str::from_utf8(&first).unwrap(), c as char);
        assert_eq!(IdNumber::parse(&s), Err(IdNumberError::BirthDate));
        first[10] = b'1';
        first[11] = b'3';
        let c = check_char(&first);
        let s = format!("{}{}", std::str::from_utf8(&first).unwrap(), c as char);
        assert_eq!(IdNumber::parse(&s), Err(IdNumberError::BirthDate));
    }

    #[test]
    fn keyed_hash_depends_on_the_key() {
        let id = IdNumber::compose(320213, 1990, 1, 1, 1).unwrap();
        assert_ne!(id.keyed_hash(b"a"), id.keyed_hash(b"b"));
        assert_eq!(id.keyed_hash(b"a"), id.keyed_hash(b"a"));
    }

    proptest! {
        #[test]
        fn changing_any_one_digit_is_caught(pos in 0usize..17, delta in 1u8..10) {
            let id = IdNumber::compose(320213, 1990, 6, 15, 42).unwrap();
            let mut b = id.expose().as_bytes().to_vec();
            b[pos] = b'0' + (b[pos] - b'0' + delta) % 10;
            let s = String::from_utf8(b).unwrap();
            prop_assert!(IdNumber::parse(&s).is_err());
        }
    }
}
