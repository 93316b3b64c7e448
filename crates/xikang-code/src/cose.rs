//! COSE_Sign1 (RFC 9052 §4.2) with EdDSA (alg -8): the envelope around the claims, as in the
//! EU Digital COVID Certificate. The key id sits in the protected header so that it is
//! signed too. Built and read by hand for speed, but checked against `coset` in the tests.
//!
//! The signature covers the `Sig_structure`
//! `["Signature1", protected, h'' (external aad), payload]`; the token carries
//! `18([protected, {} (unprotected), payload, signature])`. Both contain `protected` and
//! `payload` at the same offsets once the 12-byte `Sig_structure` prefix lines up with the
//! 2-byte envelope prefix, so issuing writes the `Sig_structure` once, signs it and turns it
//! into the envelope in place by changing three bytes.

use crate::cbor::{self, CborError, Reader};

/// COSE header label `alg`.
const HEADER_ALG: i64 = 1;
/// COSE header label `crit`: headers the recipient must understand.
const HEADER_CRIT: i64 = 2;
/// COSE header label `kid`.
const HEADER_KID: i64 = 4;
/// COSE algorithm EdDSA.
pub(crate) const ALG_EDDSA: i64 = -8;
/// CBOR tag for COSE_Sign1.
const TAG_SIGN1: u64 = 18;
/// Length of a key id.
pub(crate) const KID_LEN: usize = 8;
/// Length of an Ed25519 signature.
pub(crate) const SIG_LEN: usize = 64;

/// `84 6A "Signature1"`: array(4), text(10).
const SIG_STRUCTURE_PREFIX: [u8; 12] = *b"\x84\x6ASignature1";
/// `D2 84`: tag(18), array(4).
const SIGN1_PREFIX: [u8; 2] = [0xD2, 0x84];

/// The serialized protected header `{1: -8, 4: h'kid'}` (13 bytes).
pub(crate) fn protected_header(kid: &[u8; KID_LEN]) -> [u8; 13] {
    let mut h = [0u8; 13];
    h[..5].copy_from_slice(&[0xA2, 0x01, 0x27, 0x04, 0x48]);
    h[5..].copy_from_slice(kid);
    h
}

/// A `Sig_structure` under construction; [`ToBeSigned::into_sign1`] turns it into the
/// envelope after signing.
#[derive(Debug)]
pub(crate) struct ToBeSigned {
    buf: Vec<u8>,
    aad_at: usize,
}

impl ToBeSigned {
    /// Starts a `Sig_structure` for `protected`; `payload_len` is the exact length that
    /// `write_payload` will append (it sizes the byte-string head and the allocation).
    pub(crate) fn new(
        protected: &[u8],
        payload_len: usize,
        write_payload: impl FnOnce(&mut Vec<u8>),
    ) -> ToBeSigned {
        let capacity = SIG_STRUCTURE_PREFIX.len()
            + cbor::str_len(protected.len())
            + 1
            + cbor::str_len(payload_len)
            + 2
            + SIG_LEN;
        let mut buf = Vec::with_capacity(capacity);
        buf.extend_from_slice(&SIG_STRUCTURE_PREFIX);
        cbor::put_head(&mut buf, cbor::BYTES, protected.len() as u64);
        buf.extend_from_slice(protected);
        let aad_at = buf.len();
        buf.push(0x40); // external_aad: empty byte string
        cbor::put_head(&mut buf, cbor::BYTES, payload_len as u64);
        let start = buf.len();
        write_payload(&mut buf);
        debug_assert_eq!(buf.len() - start, payload_len, "payload length mismatch");
        ToBeSigned { buf, aad_at }
    }

    /// The bytes to sign.
    pub(crate) fn message(&self) -> &[u8] {
        &self.buf
    }

    /// Turns the `Sig_structure` into the COSE_Sign1 in place, given the signature over
    /// [`ToBeSigned::message`], and returns the envelope's bytes.
    pub(crate) fn sign1(&mut self, signature: &[u8; SIG_LEN]) -> &[u8] {
        let start = SIG_STRUCTURE_PREFIX.len() - SIGN1_PREFIX.len();
        self.buf[start..start + 2].copy_from_slice(&SIGN1_PREFIX);
        self.buf[self.aad_at] = 0xA0; // the external aad's place holds the unprotected map {}
        self.buf.extend_from_slice(&[0x58, 0x40]);
        self.buf.extend_from_slice(signature);
        &self.buf[start..]
    }
}

/// The parts of a COSE_Sign1 that verification needs, borrowed from the decoded token.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Sign1<'a> {
    pub(crate) protected: &'a [u8],
    pub(crate) kid: &'a [u8],
    pub(crate) payload: &'a [u8],
    pub(crate) signature: &'a [u8; SIG_LEN],
}

impl Sign1<'_> {
    /// Length of the `Sig_structure`.
    pub(crate) fn sig_structure_len(&self) -> usize {
        SIG_STRUCTURE_PREFIX.len()
            + cbor::str_len(self.protected.len())
            + 1
            + cbor::str_len(self.payload.len())
    }

    /// Writes the `Sig_structure` into the start of `out` (at least
    /// [`Sign1::sig_structure_len`] long) and returns its length.
    pub(crate) fn write_sig_structure(&self, out: &mut [u8]) -> usize {
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            out[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        let mut h = [0u8; 9];
        put(&SIG_STRUCTURE_PREFIX);
        let n = cbor::head(cbor::BYTES, self.protected.len() as u64, &mut h);
        put(&h[..n]);
        put(self.protected);
        put(&[0x40]);
        let n = cbor::head(cbor::BYTES, self.payload.len() as u64, &mut h);
        put(&h[..n]);
        put(self.payload);
        at
    }
}

/// Reads a COSE_Sign1 (tagged or not). Requires alg EdDSA in the protected header and a
/// key id in either header; refuses `crit` (no critical header is understood here).
pub(crate) fn parse(bytes: &[u8]) -> Result<Sign1<'_>, String> {
    let err = |e: CborError| e.describe("the COSE_Sign1 envelope");
    let mut r = Reader::new(bytes);
    if r.peek().map(|b| b >> 5) == Some(cbor::TAG) {
        let (_, tag) = r.head().map_err(err)?;
        if tag != TAG_SIGN1 {
            return Err(format!("not a COSE_Sign1: CBOR tag {tag}"));
        }
    }
    if r.array().map_err(err)? != 4 {
        return Err("not a COSE_Sign1: expected an array of 4".to_owned());
    }
    let protected = r.bytes().map_err(err)?;
    let mut alg = None;
    let mut kid = None;
    if !protected.is_empty() {
        read_header(&mut Reader::new(protected), &mut alg, &mut kid, true)?;
    }
    read_header(&mut r, &mut alg, &mut kid, false)?;
    let payload = r
        .bytes()
        .map_err(|_| "not a COSE_Sign1: the payload is not an attached byte string".to_owned())?;
    let signature = r.bytes().map_err(err)?;
    if !r.at_end() {
        return Err("trailing bytes after the COSE_Sign1".to_owned());
    }
    match alg {
        Some(ALG_EDDSA) => {}
        Some(_) => return Err("unsupported signature algorithm (only EdDSA)".to_owned()),
        None => return Err("no signature algorithm in the protected header".to_owned()),
    }
    let kid = kid.ok_or_else(|| "no key id in the COSE headers".to_owned())?;
    let signature = <&[u8; SIG_LEN]>::try_from(signature)
        .map_err(|_| "an Ed25519 signature is 64 bytes".to_owned())?;
    Ok(Sign1 {
        protected,
        kid,
        payload,
        signature,
    })
}

/// Reads a header map; `alg` is only honoured in the protected header.
fn read_header<'a>(
    r: &mut Reader<'a>,
    alg: &mut Option<i64>,
    kid: &mut Option<&'a [u8]>,
    protected: bool,
) -> Result<(), String> {
    let err = |e: CborError| e.describe("a COSE header");
    for _ in 0..r.map().map_err(err)? {
        match r.int_key().map_err(err)? {
            Some(HEADER_ALG) if protected => *alg = Some(r.int().map_err(err)?),
            Some(HEADER_KID) => {
                let k = r.bytes().map_err(err)?;
                if kid.replace(k).is_some() {
                    return Err("key id appears twice in the COSE headers".to_owned());
                }
            }
            Some(HEADER_CRIT) => return Err("critical COSE header not understood".to_owned()),
            _ => r.skip().map_err(err)?,
        }
    }
    if protected && !r.at_end() {
        return Err("trailing bytes after the protected header".to_owned());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use coset::{CborSerializable, TaggedCborSerializable};

    const KID: [u8; KID_LEN] = *b"\x01\x23\x45\x67\x89\xAB\xCD\xEF";

    fn build(payload: &[u8]) -> (Vec<u8>, Vec<u8>) {
        let mut tbs = ToBeSigned::new(&protected_header(&KID), payload.len(), |b| {
            b.extend_from_slice(payload)
        });
        let message = tbs.message().to_vec();
        let sign1 = tbs.sign1(&[0x5A; SIG_LEN]).to_vec();
        (message, sign1)
    }

    #[test]
    fn envelope_is_a_tagged_cose_sign1_that_coset_reads() {
        let payload = b"\xA1\x01\x66320200";
        let (message, sign1) = build(payload);
        let parsed = coset::CoseSign1::from_tagged_slice(&sign1).unwrap();
        assert_eq!(
            parsed.protected.header.alg,
            Some(coset::Algorithm::Assigned(coset::iana::Algorithm::EdDSA))
        );
        assert_eq!(parsed.protected.header.key_id, KID.to_vec());
        assert!(parsed.unprotected.is_empty());
        assert_eq!(parsed.payload.as_deref(), Some(&payload[..]));
        assert_eq!(parsed.signature, vec![0x5A; SIG_LEN]);
        // What we sign is exactly what COSE says to sign.
        assert_eq!(message, parsed.tbs_data(b""));
    }

    #[test]
    fn parse_recovers_the_parts_and_rebuilds_the_signed_bytes() {
        let payload = vec![0xA0; 300]; // long enough for a two-byte length head
        let (message, sign1) = build(&payload);
        let s = parse(&sign1).unwrap();
        assert_eq!(s.kid, KID);
        assert_eq!(s.payload, &payload[..]);
        let mut out = vec![0u8; s.sig_structure_len()];
        assert_eq!(s.write_sig_structure(&mut out), out.len());
        assert_eq!(out, message);
    }

    #[test]
    fn parse_accepts_an_untagged_envelope_with_the_kid_unprotected() {
        let sign1 = coset::CoseSign1Builder::new()
            .protected(
                coset::HeaderBuilder::new()
                    .algorithm(coset::iana::Algorithm::EdDSA)
                    .build(),
            )
            .unprotected(coset::HeaderBuilder::new().key_id(KID.to_vec()).build())
            .payload(b"hi".to_vec())
            .signature(vec![1; SIG_LEN])
            .build();
        let bytes = sign1.clone().to_vec().unwrap();
        let s = parse(&bytes).unwrap();
        assert_eq!(s.kid, KID);
        assert_eq!(s.payload, b"hi");
        let mut out = vec![0u8; s.sig_structure_len()];
        s.write_sig_structure(&mut out);
        assert_eq!(out, sign1.tbs_data(b""));
    }

    #[test]
    fn parse_refuses_wrong_structures() {
        let (_, good) = build(b"\xA0");
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (good[1..].to_vec(), ""), // untagged is fine: checked below as Ok
            (vec![0xD1, 0x84], "tag 17"),
            ([&[0xD2, 0x83], &good[2..]].concat(), "array of 4"),
            ([&good[..], &[0x00]].concat(), "trailing"),
            (vec![0xA0], "an array"),
            (
                coset::CoseSign1Builder::new()
                    .protected(
                        coset::HeaderBuilder::new()
                            .algorithm(coset::iana::Algorithm::ES256)
                            .key_id(KID.to_vec())
                            .build(),
                    )
                    .payload(vec![0xA0])
                    .signature(vec![0; SIG_LEN])
                    .build()
                    .to_vec()
                    .unwrap(),
                "only EdDSA",
            ),
            (
                coset::CoseSign1Builder::new()
                    .protected(
                        coset::HeaderBuilder::new()
                            .algorithm(coset::iana::Algorithm::EdDSA)
                            .build(),
                    )
                    .payload(vec![0xA0])
                    .signature(vec![0; SIG_LEN])
                    .build()
                    .to_vec()
                    .unwrap(),
                "no key id",
            ),
            (
                coset::CoseSign1Builder::new()
                    .protected(
                        coset::HeaderBuilder::new()
                            .algorithm(coset::iana::Algorithm::EdDSA)
                            .key_id(KID.to_vec())
                            .build(),
                    )
                    .signature(vec![0; SIG_LEN])
                    .build()
                    .to_vec()
                    .unwrap(),
                "attached",
            ),
            (
                coset::CoseSign1Builder::new()
                    .protected(
                        coset::HeaderBuilder::new()
                            .algorithm(coset::iana::Algorithm::EdDSA)
                            .key_id(KID.to_vec())
                            .build(),
                    )
                    .payload(vec![0xA0])
                    .signature(vec![0; 10])
                    .build()
                    .to_vec()
                    .unwrap(),
                "64 bytes",
            ),
        ];
        for (i, (bytes, why)) in cases.iter().enumerate() {
            match parse(bytes) {
                Ok(_) => assert_eq!(i, 0, "case {i} should fail with {why}"),
                Err(e) => assert!(e.contains(why), "case {i}: {e:?} lacks {why:?}"),
            }
        }
    }
}
