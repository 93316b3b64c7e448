//! The printable identity card (`XKC1:`) for people without a phone: the same COSE_Sign1
//! envelope and key as a health code, but its claims say only who the holder is (their
//! pseudonym), which card it is, and a long validity. It carries **no colour**: a venue
//! device resolves it online to today's colour, and the issuer can revoke it by its number.
//! An offline verifier that meets one refuses it as a code
//! ([`crate::VerifyError::CardNotCode`]) rather than show a colour (docs/claim.md).

use crate::base45;
use crate::cbor::{self, CborError, Reader};
use crate::claims::{
    CLAIM_COLOUR, CLAIM_EXP, CLAIM_IAT, CLAIM_ISS, CLAIM_SUB, put_registered, set,
};
use crate::cose::ToBeSigned;
use crate::key::SigningKey;
use xikang_domain::Timestamp;

/// What every identity card starts with; the `1` is the format version.
pub const CARD_PREFIX: &str = "XKC1:";
/// Private claim: the card's number (its issue in the issuer's log), by which it is revoked.
pub const CLAIM_CARD: i64 = -65_539;

/// What a signed identity card says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct CardClaims {
    /// Issuing jurisdiction; must match the signing key's.
    pub issuer: String,
    /// The holder's pseudonym (as in a health code), never a name or ID number.
    pub subject: String,
    /// The card's number: the issuer revokes a card by it.
    pub card: u64,
    pub issued_at: Timestamp,
    /// Long-lived (a year by default): a card is replaced when lost, revoked when misused.
    pub expires_at: Timestamp,
}

impl CardClaims {
    fn encoded_len(&self) -> usize {
        1 + 1
            + cbor::str_len(self.issuer.len())
            + 1
            + cbor::str_len(self.subject.len())
            + 1
            + cbor::int_len(self.expires_at.secs())
            + 1
            + cbor::int_len(self.issued_at.secs())
            + cbor::int_len(CLAIM_CARD)
            + cbor::int_len(i64::try_from(self.card).unwrap_or(i64::MAX))
    }

    /// The CWT claims map, keys in deterministic order (RFC 8949 §4.2.1).
    fn encode_into(&self, buf: &mut Vec<u8>) {
        put_registered(
            buf,
            5,
            &self.issuer,
            &self.subject,
            self.expires_at,
            self.issued_at,
        );
        cbor::put_int(buf, CLAIM_CARD);
        cbor::put_int(buf, i64::try_from(self.card).unwrap_or(i64::MAX));
    }

    /// Reads a card's claims; a colour claim refuses it (a card never carries one), as do a
    /// missing or repeated claim.
    pub(crate) fn decode(bytes: &[u8]) -> Result<CardClaims, String> {
        let mut card = None;
        let common = decode_credential(bytes, "the card's claims", |key, r| {
            if key != CLAIM_CARD {
                return Ok(false);
            }
            let n = u64::try_from(r.int().map_err(|e| e.describe("the card number"))?)
                .map_err(|_| "a card number is not negative".to_owned())?;
            set(&mut card, n, "card")?;
            Ok(true)
        })?;
        Ok(CardClaims {
            issuer: common.issuer.to_owned(),
            subject: common.subject.to_owned(),
            card: card.ok_or_else(|| missing("card"))?,
            issued_at: common.issued_at,
            expires_at: common.expires_at,
        })
    }
}

/// The claims every credential without a colour has (a card, a pass).
pub(crate) struct Common<'a> {
    pub(crate) issuer: &'a str,
    pub(crate) subject: &'a str,
    pub(crate) issued_at: Timestamp,
    pub(crate) expires_at: Timestamp,
}

pub(crate) fn missing(name: &str) -> String {
    format!("claim {name} is missing")
}

/// Reads a credential's claims map: `iss`, `sub`, `iat`, `exp` here, each other key given
/// to `other` (which reads its value and says `true`, or says `false` to skip it). A colour
/// claim refuses the credential, as do a missing or repeated claim and trailing bytes.
pub(crate) fn decode_credential<'a>(
    bytes: &'a [u8],
    what: &str,
    mut other: impl FnMut(i64, &mut Reader<'a>) -> Result<bool, String>,
) -> Result<Common<'a>, String> {
    let err = |e: CborError| e.describe(what);
    let mut r = Reader::new(bytes);
    let (mut issuer, mut subject, mut iat, mut exp) = (None, None, None, None);
    for _ in 0..r.map().map_err(err)? {
        match r.int_key().map_err(err)? {
            Some(CLAIM_ISS) => set(&mut issuer, r.text().map_err(err)?, "iss")?,
            Some(CLAIM_SUB) => set(&mut subject, r.text().map_err(err)?, "sub")?,
            Some(CLAIM_EXP) => set(&mut exp, Timestamp(r.int().map_err(err)?), "exp")?,
            Some(CLAIM_IAT) => set(&mut iat, Timestamp(r.int().map_err(err)?), "iat")?,
            Some(CLAIM_COLOUR) => return Err(format!("{what}: no colour may be claimed")),
            Some(key) if other(key, &mut r)? => {}
            _ => r.skip().map_err(err)?,
        }
    }
    if !r.at_end() {
        return Err("trailing bytes after the claims".to_owned());
    }
    Ok(Common {
        issuer: issuer.ok_or_else(|| missing("iss"))?,
        subject: subject.ok_or_else(|| missing("sub"))?,
        issued_at: iat.ok_or_else(|| missing("iat"))?,
        expires_at: exp.ok_or_else(|| missing("exp"))?,
    })
}

impl crate::trust::Credential for CardClaims {
    const PREFIX: &'static str = CARD_PREFIX;

    fn decode(bytes: &[u8]) -> Result<Self, String> {
        CardClaims::decode(bytes)
    }

    fn validity(&self) -> (&str, Timestamp, Timestamp) {
        (&self.issuer, self.issued_at, self.expires_at)
    }
}

impl SigningKey {
    /// An identity card for `claims`: `XKC1:` and the Base45 form of a COSE_Sign1 under this
    /// key. Deterministic: the same claims give the same text (a reprint is the same card).
    pub fn issue_card(&self, claims: &CardClaims) -> String {
        self.issue_prefixed(CARD_PREFIX, claims.encoded_len(), |buf| {
            claims.encode_into(buf)
        })
    }

    /// `prefix` and the Base45 form of a COSE_Sign1 under this key around the payload that
    /// `write` appends (exactly `len` bytes).
    pub(crate) fn issue_prefixed(
        &self,
        prefix: &str,
        len: usize,
        write: impl FnOnce(&mut Vec<u8>),
    ) -> String {
        let mut tbs = ToBeSigned::new(self.protected(), len, write);
        let signature = self.sign_message(tbs.message());
        let bytes = tbs.sign1(&signature);
        let mut token = String::with_capacity(prefix.len() + base45::encoded_len(bytes.len()));
        token.push_str(prefix);
        base45::encode_into(bytes, &mut token);
        token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{TrustList, VerifyError};

    fn key() -> SigningKey {
        SigningKey::from_secret([7; 32], "320200", Timestamp(0), Timestamp(4_000_000_000))
    }

    fn claims() -> CardClaims {
        CardClaims {
            issuer: "320200".into(),
            subject: "0123456789".into(),
            card: 4242,
            issued_at: Timestamp(1_700_000_000),
            expires_at: Timestamp(1_700_000_000 + 366 * 86_400),
        }
    }

    #[test]
    fn a_card_verifies_as_a_card_and_never_as_a_health_code() {
        let k = key();
        let card = k.issue_card(&claims());
        assert!(card.starts_with(CARD_PREFIX));
        assert_eq!(card, k.issue_card(&claims()), "a reprint is the same card");
        let v = TrustList {
            entries: vec![k.trust_entry()],
        }
        .verifier()
        .unwrap();
        let now = Timestamp(1_700_000_100);
        assert_eq!(v.verify_card(&card, Some("320200"), now), Ok(claims()));
        // An offline health-code verifier refuses it: no colour to show.
        assert_eq!(v.verify(&card, None, now), Err(VerifyError::CardNotCode));
        assert_eq!(VerifyError::CardNotCode.code(), "token_is_card");
        // A health code is no card.
        let code = k.issue(&crate::CodeClaims::with_default_expiry(
            "320200",
            "0123456789",
            xikang_domain::Colour::Green,
            None,
            now,
        ));
        assert!(matches!(
            v.verify_card(&code, None, now),
            Err(VerifyError::Malformed(_))
        ));
        // Expired, and tampered.
        assert!(matches!(
            v.verify_card(&card, None, Timestamp(1_800_000_000)),
            Err(VerifyError::Expired { .. })
        ));
        let mut bad = card.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
        let bad = String::from_utf8(bad).unwrap();
        assert!(v.verify_card(&bad, None, now).is_err());
        // The QR a card prints stays small enough for a printed page.
        assert!(crate::qr_version(&card).unwrap() <= 8);
    }
}
