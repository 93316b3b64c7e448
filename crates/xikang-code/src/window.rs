//! When a scanned code counts: the time window of a scan queued offline.
//!
//! A venue device that scans a code while it has no network keeps the scan and uploads it
//! later with the time it was scanned (`at`). The code must have been valid **when it was
//! presented**, and the upload must reach the server soon enough that an expired code cannot
//! be replayed by writing an old time on it:
//!
//! 1. `issued_at − 60 s ≤ at ≤ expires_at + 60 s` — the code was valid when it was scanned
//!    (the 60 s absorb the device's clock against the issuer's), else
//!    [`VerifyError::NotValidAt`];
//! 2. `received ≤ expires_at + upload_grace` — the server hears of it at most `upload_grace`
//!    after the code expired, else [`VerifyError::UploadTooLate`].
//!
//! Rule 1 alone lets anyone holding an expired code (a screenshot) write a time inside its
//! old validity; rule 2 bounds how long after expiry that is possible to the grace, and rule 1
//! keeps a current code from being moved to a time before it existed. A queued scan taken
//! while the code was valid is accepted when it is uploaded no later than the grace after the
//! code's expiry: at least the grace, at most the code's lifetime plus the grace, after the
//! scan. Both are checked on every path, including a code the server has verified before
//! (its cache keeps the issue and expiry times for that).

use crate::error::VerifyError;
use xikang_domain::Timestamp;

/// How far a scan's time may lie outside the code's validity: the clock difference allowed
/// between a venue device and the issuing server.
pub const PRESENTED_AT_LEEWAY_SECS: i64 = 60;

/// A scan queued offline: when the device says the code was shown, and when the server
/// received the upload (its own clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Presented {
    /// The scan time the device reports.
    pub at: Timestamp,
    /// When the server received it.
    pub received: Timestamp,
    /// How long after the code's expiry an upload is still accepted, in seconds.
    pub upload_grace_secs: i64,
}

impl Presented {
    /// Checks a code's validity (`issued_at`, `expires_at`, from verified claims) against
    /// this presentation: rule 1, then rule 2 (see the module documentation).
    pub fn check(&self, issued_at: Timestamp, expires_at: Timestamp) -> Result<(), VerifyError> {
        let earliest = issued_at.plus(-PRESENTED_AT_LEEWAY_SECS);
        let latest = expires_at.plus(PRESENTED_AT_LEEWAY_SECS);
        if self.at < earliest || self.at > latest {
            return Err(VerifyError::NotValidAt { at: self.at });
        }
        if self.received > expires_at.plus(self.upload_grace_secs.max(0)) {
            return Err(VerifyError::UploadTooLate {
                expired_at: expires_at,
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IAT: Timestamp = Timestamp(1_700_000_000);
    const EXP: Timestamp = Timestamp(1_700_000_300);
    const GRACE: i64 = 900;

    fn check(at: i64, received: i64) -> Result<(), &'static str> {
        Presented {
            at: Timestamp(at),
            received: Timestamp(received),
            upload_grace_secs: GRACE,
        }
        .check(IAT, EXP)
        .map_err(|e| e.code())
    }

    #[test]
    fn a_scan_inside_the_validity_uploaded_at_once_or_within_the_grace_is_accepted() {
        let (iat, exp) = (IAT.0, EXP.0);
        for (at, received) in [
            (iat, iat),
            (iat + 100, iat + 100),
            (exp - 1, exp),
            // Device clock up to a minute off either way.
            (iat - 60, iat + 5),
            (exp + 60, exp + 61),
            // Queued offline, uploaded later: up to the grace after expiry.
            (iat + 10, exp + GRACE),
            (exp - 1, exp + GRACE),
        ] {
            assert_eq!(check(at, received), Ok(()), "at {at} received {received}");
        }
    }

    #[test]
    fn a_scan_time_outside_the_validity_is_refused_as_not_valid_at() {
        let (iat, exp) = (IAT.0, EXP.0);
        for (at, received) in [
            // Backdated before the code existed (a code seen live, moved back by hours).
            (iat - 61, iat + 10),
            (iat - 3 * 3600, iat + 10),
            // After its expiry, beyond the clock leeway.
            (exp + 61, exp + 61),
            (exp + 3600, exp + 3600),
        ] {
            assert_eq!(
                check(at, received),
                Err("token_not_valid_at"),
                "at {at} received {received}"
            );
        }
    }

    #[test]
    fn an_expired_code_backdated_into_its_old_validity_is_refused_after_the_grace() {
        let (iat, exp) = (IAT.0, EXP.0);
        // The replay: a time inside the old validity, sent after the code expired.
        assert_eq!(
            check(iat + 10, exp + GRACE + 1),
            Err("token_upload_too_late")
        );
        assert_eq!(check(iat + 10, exp + 86_400), Err("token_upload_too_late"));
    }

    #[test]
    fn the_verifier_checks_a_signed_offline_scan_against_the_window() {
        use crate::{CodeClaims, SigningKey, TrustList};
        use xikang_domain::Colour;
        let key =
            SigningKey::from_secret([9; 32], "320200", IAT.plus(-86_400), IAT.plus(86_400 * 30));
        let claims = CodeClaims {
            issuer: "320200".into(),
            subject: "ABCDEFGHJK".into(),
            colour: Colour::Green,
            last_negative: None,
            issued_at: IAT,
            expires_at: EXP,
        };
        let token = key.issue(&claims);
        let list: TrustList = [key.trust_entry()].into_iter().collect();
        let verifier = list.verifier().unwrap().with_own_key(&key);
        let presented = |at: Timestamp, received: Timestamp| Presented {
            at,
            received,
            upload_grace_secs: GRACE,
        };
        let code = |r: Result<CodeClaims, VerifyError>| r.map(|_| ()).map_err(|e| e.code());
        // Refused live once expired...
        assert_eq!(
            code(verifier.verify(&token, Some("320200"), EXP.plus(3600))),
            Err("token_expired")
        );
        // ...and so also with a time written inside its old validity.
        let replay = presented(IAT.plus(10), EXP.plus(3600));
        assert_eq!(
            code(verifier.verify_presented(&token, Some("320200"), replay)),
            Err("token_upload_too_late")
        );
        // A scan queued while it was valid and uploaded within the grace is accepted.
        let queued = presented(IAT.plus(10), EXP.plus(600));
        assert_eq!(
            verifier
                .verify_presented(&token, Some("320200"), queued)
                .unwrap(),
            claims
        );
        // Backdated before it existed: refused.
        let early = presented(IAT.plus(-7200), IAT.plus(5));
        assert_eq!(
            code(verifier.verify_presented(&token, Some("320200"), early)),
            Err("token_not_valid_at")
        );
        // The signature is still checked first: a changed byte is tampering, whatever the time.
        let mut bytes = token.clone().into_bytes();
        let last = bytes.len() - 2;
        bytes[last] = if bytes[last] == b'A' { b'B' } else { b'A' };
        let forged = String::from_utf8(bytes).unwrap();
        assert!(matches!(
            code(verifier.verify_presented(&forged, Some("320200"), queued)),
            Err("token_tampered" | "token_malformed")
        ));
    }

    #[test]
    fn a_negative_grace_counts_as_none() {
        let p = Presented {
            at: Timestamp(IAT.0 + 1),
            received: Timestamp(EXP.0 + 1),
            upload_grace_secs: -5_000,
        };
        assert_eq!(
            p.check(IAT, EXP).map_err(|e| e.code()),
            Err("token_upload_too_late")
        );
    }
}
