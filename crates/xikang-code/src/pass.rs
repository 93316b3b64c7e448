//! The commuter pass (出入证, `XP1:`): a signed permission for one person to cross between
//! two cities on their way to work (docs/cities.md). Same envelope and key as a health
//! code; its claims name the holder (their pseudonym, as in their code), the pass's number
//! (by which it is revoked), the route and the test age the pass requires. It carries **no
//! colour**: a checkpoint checks the pass together with the holder's current code.

use crate::card::{decode_credential, missing};
use crate::cbor::{self, CborError};
use crate::claims::{put_registered, set};
use crate::error::VerifyError;
use crate::key::SigningKey;
use crate::trust::Verifier;
use xikang_domain::Timestamp;

/// What every commuter pass starts with; the `1` is the format version.
pub const PASS_PREFIX: &str = "XP1:";
/// Private claim: the pass's number in its issuer's log.
pub const CLAIM_PASS: i64 = -65_540;
/// Private claim: the route, `HOME>WORK` jurisdiction codes (e.g. `320200>320500`).
pub const CLAIM_ROUTE: i64 = -65_541;
/// Private claim: the largest age, in hours, of the holder's last negative test.
pub const CLAIM_TEST_HOURS: i64 = -65_542;

/// What a signed commuter pass says.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PassClaims {
    /// Issuing jurisdiction (the holder's home city); must match the signing key's.
    pub issuer: String,
    /// The holder's pseudonym, the same as in their health code.
    pub subject: String,
    /// The pass's number: revoked by it.
    pub pass: u64,
    /// `HOME>WORK`.
    pub route: String,
    /// The holder's last negative test may be at most this many hours old.
    pub max_test_age_hours: u32,
    pub issued_at: Timestamp,
    pub expires_at: Timestamp,
}

impl PassClaims {
    /// The CWT claims map, keys in deterministic order (RFC 8949 §4.2.1).
    fn encode(&self) -> Vec<u8> {
        let mut buf = Vec::with_capacity(96);
        put_registered(
            &mut buf,
            7,
            &self.issuer,
            &self.subject,
            self.expires_at,
            self.issued_at,
        );
        cbor::put_int(&mut buf, CLAIM_PASS);
        cbor::put_int(&mut buf, i64::try_from(self.pass).unwrap_or(i64::MAX));
        cbor::put_int(&mut buf, CLAIM_ROUTE);
        cbor::put_text(&mut buf, &self.route);
        cbor::put_int(&mut buf, CLAIM_TEST_HOURS);
        cbor::put_int(&mut buf, i64::from(self.max_test_age_hours));
        buf
    }
}

impl crate::trust::Credential for PassClaims {
    const PREFIX: &'static str = PASS_PREFIX;

    /// Reads a pass's claims; a colour claim refuses it, as do a missing or repeated claim.
    fn decode(bytes: &[u8]) -> Result<PassClaims, String> {
        let (mut pass, mut route, mut hours) = (None, None, None);
        let common = decode_credential(bytes, "the pass's claims", |key, r| {
            let err = |e: CborError| e.describe("the pass's claims");
            match key {
                CLAIM_ROUTE => set(&mut route, r.text().map_err(err)?, "route")?,
                CLAIM_PASS => {
                    let n = u64::try_from(r.int().map_err(err)?)
                        .map_err(|_| "a pass number is not negative".to_owned())?;
                    set(&mut pass, n, "pass")?;
                }
                CLAIM_TEST_HOURS => {
                    let h = u32::try_from(r.int().map_err(err)?)
                        .map_err(|_| "a test age is a positive number of hours".to_owned())?;
                    set(&mut hours, h, "test hours")?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })?;
        Ok(PassClaims {
            issuer: common.issuer.to_owned(),
            subject: common.subject.to_owned(),
            pass: pass.ok_or_else(|| missing("pass"))?,
            route: route.ok_or_else(|| missing("route"))?.to_owned(),
            max_test_age_hours: hours.ok_or_else(|| missing("test hours"))?,
            issued_at: common.issued_at,
            expires_at: common.expires_at,
        })
    }

    fn validity(&self) -> (&str, Timestamp, Timestamp) {
        (&self.issuer, self.issued_at, self.expires_at)
    }
}

impl SigningKey {
    /// A commuter pass for `claims`: `XP1:` and the Base45 form of a COSE_Sign1 under this
    /// key. Deterministic: the same claims give the same text.
    pub fn issue_pass(&self, claims: &PassClaims) -> String {
        let payload = claims.encode();
        self.issue_prefixed(PASS_PREFIX, payload.len(), |buf| {
            buf.extend_from_slice(&payload)
        })
    }
}

impl Verifier {
    /// Verifies a commuter pass: structure, key, signature, issuer and validity, as for an
    /// identity card. The caller checks the pass against the issuer's revocation list and
    /// the holder's current code.
    pub fn verify_pass(
        &self,
        token: &str,
        expected_issuer: Option<&str>,
        now: Timestamp,
    ) -> Result<PassClaims, VerifyError> {
        self.verify_credential(token, expected_issuer, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TrustList;

    fn claims() -> PassClaims {
        PassClaims {
            issuer: "320200".into(),
            subject: "0123456789".into(),
            pass: 77,
            route: "320200>320500".into(),
            max_test_age_hours: 48,
            issued_at: Timestamp(1_700_000_000),
            expires_at: Timestamp(1_700_000_000 + 30 * 86_400),
        }
    }

    #[test]
    fn a_pass_verifies_as_a_pass_and_never_as_a_code_or_card() {
        let k = SigningKey::from_secret([7; 32], "320200", Timestamp(0), Timestamp(4_000_000_000));
        let pass = k.issue_pass(&claims());
        assert!(pass.starts_with(PASS_PREFIX));
        let v = TrustList {
            entries: vec![k.trust_entry()],
        }
        .verifier()
        .unwrap();
        let now = Timestamp(1_700_000_100);
        assert_eq!(v.verify_pass(&pass, Some("320200"), now), Ok(claims()));
        assert!(matches!(
            v.verify(&pass, None, now),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            v.verify_card(&pass, None, now),
            Err(VerifyError::Malformed(_))
        ));
        assert!(matches!(
            v.verify_pass(&pass, None, Timestamp(1_800_000_000)),
            Err(VerifyError::Expired { .. })
        ));
        assert!(matches!(
            v.verify_pass(&pass, Some("320500"), now),
            Err(VerifyError::WrongIssuer { .. })
        ));
        let mut bad = pass.clone().into_bytes();
        let i = bad.len() - 10;
        bad[i] = if bad[i] == b'0' { b'1' } else { b'0' };
        assert!(
            v.verify_pass(&String::from_utf8(bad).unwrap(), None, now)
                .is_err()
        );
    }
}
