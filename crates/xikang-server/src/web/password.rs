//! Password hashing with argon2id. Production cost follows the OWASP minimum (19 MiB, two
//! passes); tests create users with [`Cost::CheapForTests`] so a login costs microseconds.
//! The cost is stored in each hash, so verifying needs no setting.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use std::sync::OnceLock;

/// How expensive a new hash is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cost {
    /// m = 19 MiB, t = 2, p = 1.
    Standard,
    /// m = 8 KiB, t = 1: only for tests.
    CheapForTests,
}

/// Shortest accepted password.
pub const MIN_LENGTH: usize = 10;

fn hasher(cost: Cost) -> Argon2<'static> {
    let params = match cost {
        Cost::Standard => Params::new(19 * 1024, 2, 1, None),
        Cost::CheapForTests => Params::new(8, 1, 1, None),
    }
    .unwrap_or_default();
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// A PHC string for `password` with a fresh random salt.
pub fn hash(password: &str, cost: Cost) -> Result<String, String> {
    let mut salt = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| e.to_string())?;
    hasher(cost)
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Whether `password` matches the stored PHC string (false for a malformed one).
pub fn verify(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Verifies against a fixed hash: a login for an unknown user costs what a known one does,
/// so response times do not tell which names exist.
pub fn verify_dummy(password: &str) {
    static DUMMY: OnceLock<String> = OnceLock::new();
    let phc = DUMMY.get_or_init(|| hash("not a password", Cost::Standard).unwrap_or_default());
    let _ = verify(password, phc);
}

/// A random password to print once (demo admin, `xikang user create` without one).
pub fn generate() -> String {
    let mut bytes = [0u8; 12];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hash_verifies_its_password_only() {
        let h = hash("correct horse", Cost::CheapForTests).unwrap_or_default();
        assert!(h.starts_with("$argon2id$v=19$m=8,t=1,p=1$"), "{h}");
        assert!(verify("correct horse", &h));
        assert!(!verify("correct horsE", &h));
        assert!(!verify("correct horse", "not a phc string"));
    }

    #[test]
    fn standard_cost_is_the_owasp_minimum_and_salts_differ() {
        let a = hash("pw-pw-pw-pw", Cost::Standard).unwrap_or_default();
        let b = hash("pw-pw-pw-pw", Cost::Standard).unwrap_or_default();
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("pw-pw-pw-pw", &a) && verify("pw-pw-pw-pw", &b));
    }
}
