//! Phone numbers and masking of personal data for display.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A mainland mobile number: 11 digits starting with 1. `Debug`/`Display` show it masked.
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct PhoneNumber(String);

/// A string that is not an 11-digit mobile number.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a phone number is 11 digits starting with 1")]
pub struct PhoneError;

impl PhoneNumber {
    /// Parses an 11-digit mobile number.
    pub fn parse(s: &str) -> Result<PhoneNumber, PhoneError> {
        let s = s.trim();
        if s.len() == 11 && s.starts_with('1') && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(PhoneNumber(s.to_owned()))
        } else {
            Err(PhoneError)
        }
    }

    /// The full number. Never log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// Masked, e.g. `138****5678`.
    pub fn masked(&self) -> String {
        format!("{}****{}", &self.0[..3], &self.0[7..])
    }
}

impl fmt::Debug for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PhoneNumber({})", self.masked())
    }
}

impl fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.masked())
    }
}

impl TryFrom<String> for PhoneNumber {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        PhoneNumber::parse(&s)
    }
}

impl From<PhoneNumber> for String {
    fn from(p: PhoneNumber) -> String {
        p.0
    }
}

/// A name masked for display: the family name (first character) and `*` for the rest.
pub fn mask_name(name: &str) -> String {
    let mut chars = name.chars();
    match chars.next() {
        Some(first) => {
            let rest = chars.count().max(1);
            format!("{first}{}", "*".repeat(rest))
        }
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phone_masks_the_middle_four() {
        let p = PhoneNumber::parse("13812345678").unwrap();
        assert_eq!(p.masked(), "138****5678");
        assert!(PhoneNumber::parse("23812345678").is_err());
        assert!(PhoneNumber::parse("1381234567").is_err());
    }

    #[test]
    fn name_keeps_only_the_family_name() {
        assert_eq!(mask_name("王小明"), "王**");
        assert_eq!(mask_name("李"), "李*");
    }
}
