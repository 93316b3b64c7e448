//! The subject of a token: a short pseudonym that venues see instead of the person, and
//! that the server maps back to the person without a lookup table.
//!
//! Why a keyed permutation rather than a random pseudonym or a keyed hash:
//! - **No table.** A random pseudonym or a hash needs a pseudonym → person map on the server
//!   (about 40 bytes per resident in a hash map, against a budget of 300 bytes per resident
//!   for everything). A permutation is inverted by computation: the server recovers the
//!   [`PersonId`] from the pseudonym with the same key.
//! - **Unlinkable without the key.** The permutation is a Feistel network whose round
//!   function is HMAC-SHA256 under a server secret; without the secret a pseudonym says
//!   nothing about the person id, and person ids next to each other give unrelated
//!   pseudonyms.
//! - **Not forgeable where it matters.** The pseudonym travels inside a signed token, so a
//!   venue cannot substitute another one; [`person_of_pseudonym`] also refuses nearly every
//!   string that no person id maps to (see below), which catches typing and transcription.
//! - **Stable per person.** A person's pseudonym does not change between codes. That lets a
//!   venue recognise a returning visitor, which it can anyway since it sees the person;
//!   it is accepted here in exchange for the table-free lookup. Rotating the key rotates
//!   every pseudonym at once.
//!
//! Layout: the 32-bit person id, widened to 50 bits with 18 zero bits on top, goes through
//! an 8-round balanced Feistel network on two 25-bit halves; the 50-bit result is written as
//! 10 characters of Crockford's Base32 (digits and upper-case letters without I, L, O, U),
//! which is inside the QR alphanumeric set. Decoding runs the rounds backwards and requires
//! the 18 top bits to be zero again, so a random string is accepted with probability 2^-18.
//! Eight rounds rather than the minimum four follow the format-preserving-encryption
//! practice for small domains (FF3-1 uses 8); the cost is measured in
//! `examples/token_cost.rs`.

use sha2::Sha256;
use std::fmt;
use xikang_domain::PersonId;

/// Characters of a pseudonym.
pub const PSEUDONYM_LEN: usize = 10;

const HALF_BITS: u32 = 25;
const HALF_MASK: u64 = (1 << HALF_BITS) - 1;
const ROUNDS: u8 = 8;
/// Crockford's Base32 alphabet.
const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
/// Separates these HMAC inputs from any other use of the same secret.
const DOMAIN: &[u8; 4] = b"XKP1";

/// A pseudonym key with HMAC-SHA256's two keyed states prepared, for servers that map many
/// ids: the free functions re-key on each call.
///
/// A round is HMAC-SHA256(key, round ‖ `XKP1` ‖ half as 4 bytes big-endian), its first 4
/// bytes big-endian, masked to 25 bits. The 9-byte message and the 32-byte inner digest each
/// fit one block, so a round is exactly two SHA-256 compressions from the prepared states:
/// computed here with [`sha2::compress256`] directly, without the streaming API's buffers,
/// because a sampling site's upload decodes ten thousand pseudonyms (eight rounds each). The
/// test `rounds_are_hmac_sha256` holds it to the `hmac` crate's answer.
#[derive(Clone)]
pub struct PseudonymKey {
    /// The SHA-256 state after the key XOR ipad block, and after the key XOR opad block.
    inner: [u32; 8],
    outer: [u32; 8],
}

impl fmt::Debug for PseudonymKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PseudonymKey(<redacted>)")
    }
}

/// SHA-256's initial state (FIPS 180-4 §5.3.3).
const SHA256_IV: [u32; 8] = [
    0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
];

/// `state` after compressing the one 64-byte `block`.
fn compressed(mut state: [u32; 8], block: &[u8; 64]) -> [u32; 8] {
    use sha2::digest::generic_array::GenericArray;
    sha2::compress256(
        &mut state,
        std::slice::from_ref(GenericArray::from_slice(block)),
    );
    state
}

/// A final block: `data` (under 56 bytes), the 0x80 marker, zeros, and the length in bits of
/// the whole message, one 64-byte keyed block included.
fn last_block(data: &[u8]) -> [u8; 64] {
    let mut b = [0u8; 64];
    b[..data.len()].copy_from_slice(data);
    b[data.len()] = 0x80;
    b[56..].copy_from_slice(&(((64 + data.len()) * 8) as u64).to_be_bytes());
    b
}

impl PseudonymKey {
    /// Prepares `key` (a server secret; 32 random bytes is right). As HMAC does, a key longer
    /// than a block is hashed first.
    pub fn new(key: &[u8]) -> PseudonymKey {
        use sha2::Digest;
        let mut block = [0u8; 64];
        if key.len() > 64 {
            block[..32].copy_from_slice(&Sha256::digest(key));
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let pad = |byte: u8| {
            let mut b = block;
            b.iter_mut().for_each(|x| *x ^= byte);
            compressed(SHA256_IV, &b)
        };
        PseudonymKey {
            inner: pad(0x36),
            outer: pad(0x5c),
        }
    }

    fn round(&self, round: u8, half: u64) -> u64 {
        let mut message = [0u8; 9];
        message[0] = round;
        message[1..5].copy_from_slice(DOMAIN);
        message[5..].copy_from_slice(&(half as u32).to_be_bytes());
        let inner = compressed(self.inner, &last_block(&message));
        let mut digest = [0u8; 32];
        for (d, w) in digest.chunks_exact_mut(4).zip(inner) {
            d.copy_from_slice(&w.to_be_bytes());
        }
        u64::from(compressed(self.outer, &last_block(&digest))[0]) & HALF_MASK
    }

    /// The person's pseudonym: 10 characters, stable for this key.
    pub fn pseudonym(&self, person: PersonId) -> String {
        let x = u64::from(person.get());
        let (mut left, mut right) = (x >> HALF_BITS, x & HALF_MASK);
        for r in 0..ROUNDS {
            (left, right) = (right, left ^ self.round(r, right));
        }
        let mut v = (left << HALF_BITS) | right;
        let mut out = [0u8; PSEUDONYM_LEN];
        for slot in out.iter_mut().rev() {
            *slot = ALPHABET[(v & 31) as usize];
            v >>= 5;
        }
        out.iter().map(|&b| char::from(b)).collect()
    }

    /// The person whose pseudonym `s` is, or `None` for a string that is not one.
    pub fn person_of(&self, s: &str) -> Option<PersonId> {
        if s.len() != PSEUDONYM_LEN {
            return None;
        }
        let mut v = 0u64;
        for b in s.bytes() {
            let d = ALPHABET.iter().position(|&a| a == b)?;
            v = (v << 5) | d as u64;
        }
        let (mut left, mut right) = (v >> HALF_BITS, v & HALF_MASK);
        for r in (0..ROUNDS).rev() {
            (left, right) = (right ^ self.round(r, left), left);
        }
        u32::try_from((left << HALF_BITS) | right)
            .ok()
            .map(PersonId)
    }
}

/// The person's pseudonym under `key` (see the module documentation).
pub fn pseudonym(key: &[u8], person: PersonId) -> String {
    PseudonymKey::new(key).pseudonym(person)
}

/// Inverse of [`pseudonym`]: the person, or `None` if `s` is not a pseudonym under `key`.
pub fn person_of_pseudonym(key: &[u8], s: &str) -> Option<PersonId> {
    PseudonymKey::new(key).person_of(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    const KEY: &[u8] = b"test pseudonym key, 32 bytes ok.";

    #[test]
    fn pseudonyms_map_back_to_their_person_and_never_collide() {
        let key = PseudonymKey::new(KEY);
        let mut seen = HashSet::new();
        // Dense ids from 0, as the store hands them out, and some far ones.
        let ids = (0..20_000u32).chain([u32::MAX, u32::MAX - 1, 7_460_000, 1 << 31]);
        for id in ids {
            let p = key.pseudonym(PersonId(id));
            assert_eq!(p.len(), PSEUDONYM_LEN);
            assert!(
                p.bytes()
                    .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase()),
                "{p}"
            );
            assert_eq!(key.person_of(&p), Some(PersonId(id)), "{p}");
            assert!(seen.insert(p), "collision at {id}");
        }
    }

    /// The round as the `hmac` crate computes it: what the prepared states must give.
    fn hmac_round(key: &[u8], round: u8, half: u64) -> u64 {
        use hmac::{Hmac, Mac};
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key).unwrap();
        mac.update(&[round]);
        mac.update(DOMAIN);
        mac.update(&(half as u32).to_be_bytes());
        let out = mac.finalize().into_bytes();
        u64::from(u32::from_be_bytes([out[0], out[1], out[2], out[3]])) & HALF_MASK
    }

    #[test]
    fn rounds_are_hmac_sha256() {
        // Keys shorter than, as long as, and longer than a block (hashed first).
        for key in [
            &b"k"[..],
            KEY,
            &[7u8; 64][..],
            &[9u8; 65][..],
            &[1u8; 200][..],
        ] {
            let prepared = PseudonymKey::new(key);
            for round in 0..ROUNDS {
                for half in [0, 1, 12_345, HALF_MASK - 1, HALF_MASK] {
                    assert_eq!(
                        prepared.round(round, half),
                        hmac_round(key, round, half),
                        "key of {} bytes, round {round}, half {half}",
                        key.len()
                    );
                }
            }
        }
    }

    #[test]
    fn the_free_functions_agree_with_the_prepared_key() {
        let p = pseudonym(KEY, PersonId(42));
        assert_eq!(p, PseudonymKey::new(KEY).pseudonym(PersonId(42)));
        assert_eq!(person_of_pseudonym(KEY, &p), Some(PersonId(42)));
    }

    #[test]
    fn another_key_gives_other_pseudonyms_that_do_not_decode() {
        let ours = PseudonymKey::new(KEY);
        let theirs = PseudonymKey::new(b"another key");
        let mut decoded_by_other_key = 0;
        for id in 0..1_000 {
            let p = ours.pseudonym(PersonId(id));
            assert_ne!(p, theirs.pseudonym(PersonId(id)));
            decoded_by_other_key += usize::from(theirs.person_of(&p).is_some());
        }
        // Each succeeds with probability 2^-18; a handful would mean the check is broken.
        assert!(decoded_by_other_key <= 1, "{decoded_by_other_key}");
    }

    #[test]
    fn neighbouring_ids_get_unrelated_pseudonyms() {
        let key = PseudonymKey::new(KEY);
        let a = key.pseudonym(PersonId(1000));
        let b = key.pseudonym(PersonId(1001));
        let same = a.bytes().zip(b.bytes()).filter(|(x, y)| x == y).count();
        assert!(same < 5, "{a} vs {b}");
    }

    #[test]
    fn strings_that_are_not_pseudonyms_are_refused() {
        let key = PseudonymKey::new(KEY);
        let p = key.pseudonym(PersonId(7));
        assert_eq!(key.person_of(&p.to_lowercase()), None);
        assert_eq!(key.person_of(&p[..9]), None);
        assert_eq!(key.person_of(&format!("{p}0")), None);
        assert_eq!(key.person_of("IIIIIIIIII"), None); // I is not in the alphabet
        assert_eq!(key.person_of("锡康码锡"), None);
    }

    #[test]
    fn debug_does_not_show_the_key() {
        assert_eq!(
            format!("{:?}", PseudonymKey::new(KEY)),
            "PseudonymKey(<redacted>)"
        );
    }
}
