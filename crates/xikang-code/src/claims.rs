//! The claims a health code carries and their CWT (RFC 8392) encoding. Only what a venue
//! needs to decide: who issued it, a pseudonym for the holder, the colour, when the holder
//! last tested negative, and a short validity. No name, no ID number, no place.

use crate::cbor::{self, CborError, Reader};
use xikang_domain::{Colour, Timestamp};

/// CWT claim key `iss` (RFC 8392): the issuing jurisdiction, e.g. `320200`.
pub const CLAIM_ISS: i64 = 1;
/// CWT claim key `sub`: the holder's pseudonym.
pub const CLAIM_SUB: i64 = 2;
/// CWT claim key `exp`: seconds since the epoch at which the token stops being accepted.
pub const CLAIM_EXP: i64 = 4;
/// CWT claim key `iat`: seconds since the epoch at which the token was issued.
pub const CLAIM_IAT: i64 = 6;
/// Private claim (RFC 8392 reserves keys below -65536 for private use): the colour, as
/// [`Colour::code`] (0 green, 1 yellow, 2 red).
pub const CLAIM_COLOUR: i64 = -65_537;
/// Private claim: seconds since the epoch of the sampling time of the holder's last negative
/// test; absent when there is none.
pub const CLAIM_LAST_NEGATIVE: i64 = -65_538;

/// How long a code stays valid by default: long enough to walk from the phone to the
/// scanner, short enough that a screenshot is soon useless.
pub const DEFAULT_TTL_SECS: i64 = 300;

/// What a signed health code says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CodeClaims {
    /// Issuing jurisdiction (GB/T 2260 code such as `320200`); must match the signing key's.
    pub issuer: String,
    /// The holder's pseudonym (see [`crate::pseudonym()`]), never a name or ID number.
    pub subject: String,
    /// The colour at issue time.
    pub colour: Colour,
    /// Sampling time of the last negative test, if any.
    pub last_negative: Option<Timestamp>,
    /// When the token was issued.
    pub issued_at: Timestamp,
    /// When the token stops being accepted.
    pub expires_at: Timestamp,
}

/// Starts a CWT claims map of `pairs` entries with the four registered claims every token
/// of ours carries (iss, sub, exp, iat: keys 1, 2, 4, 6, in deterministic order); the
/// caller appends its own claims, whose keys are all greater.
#[inline]
pub(crate) fn put_registered(
    buf: &mut Vec<u8>,
    pairs: u64,
    issuer: &str,
    subject: &str,
    expires_at: Timestamp,
    issued_at: Timestamp,
) {
    cbor::put_head(buf, cbor::MAP, pairs);
    cbor::put_int(buf, CLAIM_ISS);
    cbor::put_text(buf, issuer);
    cbor::put_int(buf, CLAIM_SUB);
    cbor::put_text(buf, subject);
    cbor::put_int(buf, CLAIM_EXP);
    cbor::put_int(buf, expires_at.secs());
    cbor::put_int(buf, CLAIM_IAT);
    cbor::put_int(buf, issued_at.secs());
}

impl CodeClaims {
    /// Claims that expire [`DEFAULT_TTL_SECS`] after `issued_at`.
    pub fn with_default_expiry(
        issuer: &str,
        subject: &str,
        colour: Colour,
        last_negative: Option<Timestamp>,
        issued_at: Timestamp,
    ) -> CodeClaims {
        CodeClaims {
            issuer: issuer.to_owned(),
            subject: subject.to_owned(),
            colour,
            last_negative,
            issued_at,
            expires_at: issued_at.plus(DEFAULT_TTL_SECS),
        }
    }

    /// Exact length of [`CodeClaims::encode_into`]'s output.
    pub(crate) fn encoded_len(&self) -> usize {
        let pairs = 1 // map head (at most 6 pairs)
            + 1 + cbor::str_len(self.issuer.len())
            + 1 + cbor::str_len(self.subject.len())
            + 1 + cbor::int_len(self.expires_at.secs())
            + 1 + cbor::int_len(self.issued_at.secs())
            + cbor::int_len(CLAIM_COLOUR) + 1;
        match self.last_negative {
            Some(t) => pairs + cbor::int_len(CLAIM_LAST_NEGATIVE) + cbor::int_len(t.secs()),
            None => pairs,
        }
    }

    /// Appends the CWT claims map, keys in deterministic order (RFC 8949 §4.2.1).
    pub(crate) fn encode_into(&self, buf: &mut Vec<u8>) {
        let pairs = if self.last_negative.is_some() { 6 } else { 5 };
        put_registered(
            buf,
            pairs,
            &self.issuer,
            &self.subject,
            self.expires_at,
            self.issued_at,
        );
        cbor::put_int(buf, CLAIM_COLOUR);
        cbor::put_int(buf, i64::from(self.colour.code()));
        if let Some(t) = self.last_negative {
            cbor::put_int(buf, CLAIM_LAST_NEGATIVE);
            cbor::put_int(buf, t.secs());
        }
    }

    /// Reads a CWT claims map. Keys may come in any order; unknown claims are skipped (a
    /// later issuer may add some); a repeated or missing required claim is an error.
    pub(crate) fn decode(bytes: &[u8]) -> Result<CodeClaims, String> {
        let what = "the claims";
        let err = |e: CborError| e.describe(what);
        let mut r = Reader::new(bytes);
        let mut issuer = None;
        let mut subject = None;
        let mut colour = None;
        let mut last_negative = None;
        let mut issued_at = None;
        let mut expires_at = None;
        for _ in 0..r.map().map_err(err)? {
            match r.int_key().map_err(err)? {
                Some(CLAIM_ISS) => set(&mut issuer, r.text().map_err(err)?, "iss")?,
                Some(CLAIM_SUB) => set(&mut subject, r.text().map_err(err)?, "sub")?,
                Some(CLAIM_EXP) => set(&mut expires_at, Timestamp(r.int().map_err(err)?), "exp")?,
                Some(CLAIM_IAT) => set(&mut issued_at, Timestamp(r.int().map_err(err)?), "iat")?,
                Some(CLAIM_COLOUR) => {
                    let c = u8::try_from(r.int().map_err(err)?)
                        .ok()
                        .and_then(Colour::from_code)
                        .ok_or_else(|| "unknown colour code".to_owned())?;
                    set(&mut colour, c, "colour")?;
                }
                Some(CLAIM_LAST_NEGATIVE) => {
                    set(
                        &mut last_negative,
                        Timestamp(r.int().map_err(err)?),
                        "last negative",
                    )?;
                }
                _ => r.skip().map_err(err)?,
            }
        }
        if !r.at_end() {
            return Err("trailing bytes after the claims".to_owned());
        }
        let missing = |name: &str| format!("claim {name} is missing");
        Ok(CodeClaims {
            issuer: issuer.ok_or_else(|| missing("iss"))?.to_owned(),
            subject: subject.ok_or_else(|| missing("sub"))?.to_owned(),
            colour: colour.ok_or_else(|| missing("colour"))?,
            last_negative,
            issued_at: issued_at.ok_or_else(|| missing("iat"))?,
            expires_at: expires_at.ok_or_else(|| missing("exp"))?,
        })
    }
}

/// Fills a claim's slot, refusing a claim that appears twice.
pub(crate) fn set<T>(slot: &mut Option<T>, v: T, name: &str) -> Result<(), String> {
    match slot.replace(v) {
        None => Ok(()),
        Some(_) => Err(format!("claim {name} appears twice")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ciborium::Value;

    fn sample(last_negative: Option<Timestamp>) -> CodeClaims {
        CodeClaims::with_default_expiry(
            "320200",
            "7K2M9QH4XA",
            Colour::Yellow,
            last_negative,
            Timestamp(1_656_640_800),
        )
    }

    #[test]
    fn claims_round_trip_with_and_without_a_negative_test() {
        for neg in [None, Some(Timestamp(1_656_590_000))] {
            let c = sample(neg);
            let mut buf = Vec::new();
            c.encode_into(&mut buf);
            assert_eq!(buf.len(), c.encoded_len());
            assert_eq!(CodeClaims::decode(&buf).unwrap(), c);
        }
    }

    #[test]
    fn encoding_is_the_cwt_map_a_generic_cbor_reader_sees() {
        let c = sample(Some(Timestamp(1_656_590_000)));
        let mut buf = Vec::new();
        c.encode_into(&mut buf);
        let v: Value = ciborium::from_reader(&buf[..]).unwrap();
        let expected = Value::Map(vec![
            (Value::from(1), Value::Text("320200".into())),
            (Value::from(2), Value::Text("7K2M9QH4XA".into())),
            (Value::from(4), Value::from(1_656_641_100)),
            (Value::from(6), Value::from(1_656_640_800)),
            (Value::from(-65_537), Value::from(1)),
            (Value::from(-65_538), Value::from(1_656_590_000)),
        ]);
        assert_eq!(v, expected);
    }

    #[test]
    fn decoding_accepts_any_key_order_and_skips_unknown_claims() {
        let map = Value::Map(vec![
            (Value::from(7), Value::Bytes(vec![1, 2, 3])), // cti, not used
            (Value::from(6), Value::from(100)),
            (Value::Text("note".into()), Value::Array(vec![Value::Null])),
            (Value::from(-65_537), Value::from(2)),
            (Value::from(2), Value::Text("S".into())),
            (Value::from(4), Value::from(400)),
            (Value::from(1), Value::Text("320200".into())),
        ]);
        let mut buf = Vec::new();
        ciborium::into_writer(&map, &mut buf).unwrap();
        let c = CodeClaims::decode(&buf).unwrap();
        assert_eq!(c.colour, Colour::Red);
        assert_eq!(c.last_negative, None);
        assert_eq!(
            (c.issued_at, c.expires_at),
            (Timestamp(100), Timestamp(400))
        );
    }

    #[test]
    fn decoding_refuses_missing_repeated_and_ill_typed_claims() {
        let base = |extra: Vec<(Value, Value)>| {
            let mut pairs = vec![
                (Value::from(1), Value::Text("320200".into())),
                (Value::from(2), Value::Text("S".into())),
                (Value::from(4), Value::from(400)),
                (Value::from(6), Value::from(100)),
            ];
            pairs.extend(extra);
            let mut buf = Vec::new();
            ciborium::into_writer(&Value::Map(pairs), &mut buf).unwrap();
            CodeClaims::decode(&buf)
        };
        assert!(base(vec![]).unwrap_err().contains("colour is missing"));
        let colour = (Value::from(-65_537), Value::from(0));
        assert!(base(vec![colour.clone()]).is_ok());
        assert!(
            base(vec![colour.clone(), colour.clone()])
                .unwrap_err()
                .contains("twice")
        );
        let bad_colour = (Value::from(-65_537), Value::from(3));
        assert!(base(vec![bad_colour]).unwrap_err().contains("colour"));
        let text_time = (Value::from(-65_538), Value::Text("yesterday".into()));
        assert!(
            base(vec![colour, text_time])
                .unwrap_err()
                .contains("expected an integer")
        );
    }
}
