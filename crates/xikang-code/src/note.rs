//! Signed notes (C2SP `signed-note`), log checkpoints (C2SP `tlog-checkpoint`) and witness
//! cosignatures (C2SP `tlog-cosignature`, the Ed25519 `cosignature/v1` type): the formats
//! that anchor the authority log's head outside the database.
//!
//! A note is a text ending in a newline, a blank line, then signature lines
//! `— <key name> <base64(key id ‖ signature)>`. The key id is the first four bytes of
//! `SHA-256(name ‖ 0x0A ‖ type ‖ public key)`; type `0x01` signs the text itself (the log),
//! type `0x04` signs `cosignature/v1\ntime <t>\n` followed by the text, with the timestamp
//! carried in the signature (a witness). A verifier key travels as a *vkey*:
//! `<name>+<key id as 8 hex digits>+<base64(type ‖ public key)>`.
//!
//! A verifier ignores signatures by keys it does not know and rejects a note whose
//! signature by its key does not verify, as the specification requires.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::Signer as _;
use sha2::{Digest, Sha256};
use std::fmt;

/// The most signatures a note may carry (the specification asks for at least 16).
pub const MAX_SIGNATURES: usize = 64;
/// The longest note accepted.
pub const MAX_NOTE_BYTES: usize = 64 * 1024;

/// The signature algorithms used here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignatureType {
    /// Ed25519 over the note text (type `0x01`): the log's own signature.
    Ed25519,
    /// Timestamped Ed25519 witness cosignature (type `0x04`, `cosignature/v1`).
    CosignatureV1,
}

impl SignatureType {
    /// The type byte hashed into key ids and vkeys.
    pub fn byte(self) -> u8 {
        match self {
            SignatureType::Ed25519 => 0x01,
            SignatureType::CosignatureV1 => 0x04,
        }
    }

    fn from_byte(b: u8) -> Option<SignatureType> {
        match b {
            0x01 => Some(SignatureType::Ed25519),
            0x04 => Some(SignatureType::CosignatureV1),
            _ => None,
        }
    }

    /// Bytes after the key id: a signature, preceded by the timestamp for cosignatures.
    fn signature_len(self) -> usize {
        match self {
            SignatureType::Ed25519 => 64,
            SignatureType::CosignatureV1 => 8 + 64,
        }
    }
}

/// Why a note, key or checkpoint was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("malformed note: {0}")]
    Malformed(String),
    #[error("invalid key name {0:?}: it must be non-empty, without spaces or '+'")]
    KeyName(String),
    #[error("malformed verifier key: {0}")]
    Vkey(String),
    #[error("the note carries no signature by {name}")]
    NotSigned { name: String },
    #[error("the signature by {name} does not verify: the note was altered or forged")]
    BadSignature { name: String },
    #[error("malformed checkpoint: {0}")]
    Checkpoint(String),
}

/// Whether `name` may name a key: non-empty, no Unicode space, no `+`, no control character.
pub fn valid_key_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c.is_whitespace() || c == '+' || c.is_control())
}

/// The key id: `SHA-256(name ‖ 0x0A ‖ type ‖ public key)[:4]`.
pub fn key_id(name: &str, kind: SignatureType, public_key: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', kind.byte()]);
    h.update(public_key);
    let d = h.finalize();
    [d[0], d[1], d[2], d[3]]
}

/// What a cosignature signs: the header, the time line, then the checkpoint text.
fn cosigned_message(text: &str, time: u64) -> Vec<u8> {
    format!("cosignature/v1\ntime {time}\n{text}").into_bytes()
}

/// A signing key with its name and type. `Debug` never shows the secret.
#[derive(Clone)]
pub struct NoteSigner {
    name: String,
    kind: SignatureType,
    key: ed25519_dalek::SigningKey,
    id: [u8; 4],
}

impl fmt::Debug for NoteSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NoteSigner")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

impl NoteSigner {
    /// The signer named `name` with this 32-byte Ed25519 secret.
    pub fn new(kind: SignatureType, name: &str, secret: [u8; 32]) -> Result<NoteSigner, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        let key = ed25519_dalek::SigningKey::from_bytes(&secret);
        let id = key_id(name, kind, key.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            kind,
            key,
            id,
        })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The verifier key (vkey) others configure to check this signer's notes.
    pub fn vkey(&self) -> String {
        self.verifier().to_string()
    }

    /// The verifier of this signer's signatures.
    pub fn verifier(&self) -> NoteVerifier {
        NoteVerifier {
            name: self.name.clone(),
            kind: self.kind,
            id: self.id,
            key: self.key.verifying_key(),
        }
    }

    /// Signs a note text; `time` (POSIX seconds) is signed by cosignatures only.
    pub fn sign(&self, text: &str, time: u64) -> Result<NoteSignature, NoteError> {
        check_text(text)?;
        let bytes = match self.kind {
            SignatureType::Ed25519 => self.key.sign(text.as_bytes()).to_bytes().to_vec(),
            SignatureType::CosignatureV1 => {
                if time > i64::MAX as u64 {
                    return Err(NoteError::Malformed("timestamp beyond 2^63 - 1".into()));
                }
                let sig = self.key.sign(&cosigned_message(text, time));
                let mut b = time.to_be_bytes().to_vec();
                b.extend_from_slice(&sig.to_bytes());
                b
            }
        };
        Ok(NoteSignature {
            name: self.name.clone(),
            key_id: self.id,
            bytes,
        })
    }

    /// A whole signed note: the text and this signer's signature.
    pub fn sign_note(&self, text: &str, time: u64) -> Result<Note, NoteError> {
        let sig = self.sign(text, time)?;
        Ok(Note {
            text: text.to_owned(),
            signatures: vec![sig],
        })
    }
}

/// A public key that checks one signer's signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    name: String,
    kind: SignatureType,
    id: [u8; 4],
    key: ed25519_dalek::VerifyingKey,
}

impl NoteVerifier {
    /// The verifier for `public_key` under `name`.
    pub fn new(
        kind: SignatureType,
        name: &str,
        public_key: &[u8; 32],
    ) -> Result<NoteVerifier, NoteError> {
        if !valid_key_name(name) {
            return Err(NoteError::KeyName(name.to_owned()));
        }
        let key = ed25519_dalek::VerifyingKey::from_bytes(public_key)
            .map_err(|_| NoteError::Vkey("not an Ed25519 public key".into()))?;
        Ok(NoteVerifier {
            name: name.to_owned(),
            kind,
            id: key_id(name, kind, public_key),
            key,
        })
    }

    /// Parses a vkey `<name>+<hex key id>+<base64(type ‖ key)>`; the key id must match.
    pub fn parse(vkey: &str) -> Result<NoteVerifier, NoteError> {
        let vkey = vkey.trim();
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::Vkey("expected name+keyid+key".into()));
        };
        let raw = B64
            .decode(key)
            .map_err(|e| NoteError::Vkey(format!("key is not base64 ({e})")))?;
        let (&kind, public) = raw
            .split_first()
            .ok_or_else(|| NoteError::Vkey("empty key".into()))?;
        let kind = SignatureType::from_byte(kind)
            .ok_or_else(|| NoteError::Vkey(format!("unsupported signature type {kind:#04x}")))?;
        let public: [u8; 32] = public
            .try_into()
            .map_err(|_| NoteError::Vkey("an Ed25519 key is 32 bytes".into()))?;
        let v = NoteVerifier::new(kind, name, &public)?;
        if id.len() != 8 || hex::encode(v.id) != id.to_ascii_lowercase() {
            return Err(NoteError::Vkey("the key id does not match the key".into()));
        }
        Ok(v)
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature type.
    pub fn kind(&self) -> SignatureType {
        self.kind
    }

    /// The 32-byte public key.
    pub fn public_key(&self) -> [u8; 32] {
        self.key.to_bytes()
    }

    /// Checks this key's signature on `note`. Signatures by other keys are ignored; there
    /// must be one by this key and it must verify. Answers the cosignature's time (0 for a
    /// plain Ed25519 signature).
    pub fn verify(&self, note: &Note) -> Result<u64, NoteError> {
        let mine = note
            .signatures
            .iter()
            .find(|s| s.name == self.name && s.key_id == self.id)
            .ok_or_else(|| NoteError::NotSigned {
                name: self.name.clone(),
            })?;
        let bad = || NoteError::BadSignature {
            name: self.name.clone(),
        };
        if mine.bytes.len() != self.kind.signature_len() {
            return Err(bad());
        }
        let (time, message, sig) = match self.kind {
            SignatureType::Ed25519 => (0, note.text.as_bytes().to_vec(), &mine.bytes[..]),
            SignatureType::CosignatureV1 => {
                let (t, sig) = mine.bytes.split_at(8);
                let mut be = [0u8; 8];
                be.copy_from_slice(t);
                let time = u64::from_be_bytes(be);
                (time, cosigned_message(&note.text, time), sig)
            }
        };
        let sig = ed25519_dalek::Signature::from_slice(sig).map_err(|_| bad())?;
        self.key.verify_strict(&message, &sig).map_err(|_| bad())?;
        Ok(time)
    }
}

impl fmt::Display for NoteVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = vec![self.kind.byte()];
        raw.extend_from_slice(self.key.as_bytes());
        write!(
            f,
            "{}+{}+{}",
            self.name,
            hex::encode(self.id),
            B64.encode(raw)
        )
    }
}

/// One signature line of a note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    /// The signer's key name.
    pub name: String,
    /// The signer's key id.
    pub key_id: [u8; 4],
    /// What follows the key id (a signature; a timestamp and a signature for cosignatures).
    pub bytes: Vec<u8>,
}

impl fmt::Display for NoteSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut raw = self.key_id.to_vec();
        raw.extend_from_slice(&self.bytes);
        write!(f, "\u{2014} {} {}", self.name, B64.encode(raw))
    }
}

/// A signed note: its text (ending in a newline) and its signatures.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Note {
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text must end in a newline".into(),
        ));
    }
    if text.chars().any(|c| c < ' ' && c != '\n') {
        return Err(NoteError::Malformed("control character in the text".into()));
    }
    Ok(())
}

impl Note {
    /// Parses a signed note: the text is everything up to the last blank line, then one or
    /// more signature lines.
    pub fn parse(note: &str) -> Result<Note, NoteError> {
        let bad = |why: &str| NoteError::Malformed(why.to_owned());
        if note.len() > MAX_NOTE_BYTES {
            return Err(bad("too long"));
        }
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(bad("control character"));
        }
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| bad("no blank line before the signatures"))?;
        let (text, sigs) = (&note[..=split], &note[split + 2..]);
        if text.len() < 2 {
            return Err(bad("empty text"));
        }
        let Some(sigs) = sigs.strip_suffix('\n') else {
            return Err(bad("the last signature line must end in a newline"));
        };
        let mut signatures = Vec::new();
        for line in sigs.split('\n') {
            if signatures.len() == MAX_SIGNATURES {
                return Err(bad("too many signatures"));
            }
            let rest = line
                .strip_prefix("\u{2014} ")
                .ok_or_else(|| bad("a signature line must start with an em dash and a space"))?;
            let (name, sig) = rest
                .split_once(' ')
                .ok_or_else(|| bad("a signature line is `— name signature`"))?;
            if !valid_key_name(name) {
                return Err(NoteError::KeyName(name.to_owned()));
            }
            let raw = B64
                .decode(sig)
                .map_err(|e| NoteError::Malformed(format!("signature is not base64 ({e})")))?;
            if raw.len() < 5 {
                return Err(bad("signature too short"));
            }
            signatures.push(NoteSignature {
                name: name.to_owned(),
                key_id: [raw[0], raw[1], raw[2], raw[3]],
                bytes: raw[4..].to_vec(),
            });
        }
        Ok(Note {
            text: text.to_owned(),
            signatures,
        })
    }
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.text)?;
        for s in &self.signatures {
            writeln!(f, "{s}")?;
        }
        Ok(())
    }
}

/// A 32-byte hash in standard base64, as checkpoints and consistency proofs carry it.
pub fn encode_hash(hash: &[u8; 32]) -> String {
    B64.encode(hash)
}

/// A 32-byte hash from standard base64; `None` if it is not exactly that.
pub fn decode_hash(text: &str) -> Option<[u8; 32]> {
    B64.decode(text).ok().and_then(|h| h.try_into().ok())
}

/// A log's tree head: its origin (the log's name), its size and its RFC 6962 root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
}

impl Checkpoint {
    /// The note text: origin, size and base64 root, one per line (no extension lines).
    pub fn to_text(&self) -> String {
        format!(
            "{}\n{}\n{}\n",
            self.origin,
            self.size,
            encode_hash(&self.root)
        )
    }

    /// Parses a checkpoint's note text. Extension lines are accepted (and signed over) but
    /// carry no meaning here.
    pub fn parse(text: &str) -> Result<Checkpoint, NoteError> {
        let bad = |why: &str| NoteError::Checkpoint(why.to_owned());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text must end in a newline"))?;
        let mut lines = body.split('\n');
        let (Some(origin), Some(size), Some(root)) = (lines.next(), lines.next(), lines.next())
        else {
            return Err(bad("expected origin, size and root lines"));
        };
        if origin.is_empty() {
            return Err(bad("empty origin"));
        }
        if lines.any(str::is_empty) {
            return Err(bad("empty extension line"));
        }
        let canonical = size == "0" || (!size.starts_with('0') && !size.is_empty());
        let size: u64 = match size.bytes().all(|b| b.is_ascii_digit()) && canonical {
            true => size.parse().map_err(|_| bad("tree size out of range"))?,
            false => return Err(bad("tree size must be a decimal without leading zeroes")),
        };
        let root = decode_hash(root).ok_or_else(|| bad("root hash must be 32 bytes in base64"))?;
        Ok(Checkpoint {
            origin: origin.to_owned(),
            size,
            root,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log_signer() -> NoteSigner {
        NoteSigner::new(SignatureType::Ed25519, "xikang.test/log", [7; 32]).unwrap()
    }

    fn checkpoint() -> Checkpoint {
        Checkpoint {
            origin: "xikang.test/log".into(),
            size: 20852163,
            root: [0xAB; 32],
        }
    }

    #[test]
    fn a_checkpoint_note_has_the_c2sp_layout() {
        let text = checkpoint().to_text();
        let note = log_signer().sign_note(&text, 0).unwrap().to_string();
        let lines: Vec<&str> = note.split('\n').collect();
        assert_eq!(lines[0], "xikang.test/log");
        assert_eq!(lines[1], "20852163");
        assert_eq!(lines[2], B64.encode([0xAB; 32]));
        assert_eq!(lines[3], "");
        assert!(lines[4].starts_with("\u{2014} xikang.test/log "), "{note}");
        // key id (4) + Ed25519 signature (64), base64: 92 characters.
        assert_eq!(lines[4].split(' ').nth(2).unwrap().len(), 92);
        assert_eq!(lines[5], "");
        assert_eq!(Checkpoint::parse(&text).unwrap(), checkpoint());
    }

    #[test]
    fn the_key_id_is_the_truncated_hash_of_name_type_and_key() {
        let s = log_signer();
        let public = s.verifier().public_key();
        let mut input = b"xikang.test/log\n\x01".to_vec();
        input.extend_from_slice(&public);
        let d = Sha256::digest(&input);
        let vkey = s.vkey();
        assert!(vkey.starts_with(&format!("xikang.test/log+{}+", hex::encode(&d[..4]))));
        assert_eq!(NoteVerifier::parse(&vkey).unwrap(), s.verifier());
        // A vkey whose id does not match its key is refused.
        let forged = vkey.replacen(&hex::encode(&d[..4]), "00000000", 1);
        assert!(NoteVerifier::parse(&forged).is_err());
    }

    #[test]
    fn a_signed_note_verifies_and_any_edit_is_refused() {
        let s = log_signer();
        let text = checkpoint().to_text();
        let note = s.sign_note(&text, 0).unwrap().to_string();
        let v = NoteVerifier::parse(&s.vkey()).unwrap();
        assert_eq!(v.verify(&Note::parse(&note).unwrap()), Ok(0));
        let bigger = note.replacen("20852163", "20852164", 1);
        assert_eq!(
            v.verify(&Note::parse(&bigger).unwrap()),
            Err(NoteError::BadSignature {
                name: "xikang.test/log".into()
            })
        );
        // Another key under the same name is not this key: the note is not signed by it.
        let other = NoteSigner::new(SignatureType::Ed25519, "xikang.test/log", [8; 32]).unwrap();
        let by_other = other.sign_note(&text, 0).unwrap();
        assert!(matches!(
            v.verify(&by_other),
            Err(NoteError::NotSigned { .. })
        ));
    }

    #[test]
    fn a_cosignature_signs_the_time_and_the_checkpoint() {
        let text = checkpoint().to_text();
        let mut note = log_signer().sign_note(&text, 0).unwrap();
        let w = NoteSigner::new(SignatureType::CosignatureV1, "witness.test/w1", [9; 32]).unwrap();
        note.signatures.push(w.sign(&text, 1_679_315_147).unwrap());
        let shown = note.to_string();
        let parsed = Note::parse(&shown).unwrap();
        assert_eq!(parsed, note);
        let wv = NoteVerifier::parse(&w.vkey()).unwrap();
        assert_eq!(wv.kind(), SignatureType::CosignatureV1);
        assert_eq!(wv.verify(&parsed), Ok(1_679_315_147));
        // The log's signature still verifies beside it (other keys are ignored).
        assert_eq!(log_signer().verifier().verify(&parsed), Ok(0));
        // The signed message is `cosignature/v1`, the time line, then the text.
        let sig = &parsed.signatures[1].bytes;
        let message = format!("cosignature/v1\ntime 1679315147\n{text}");
        let ed = ed25519_dalek::Signature::from_slice(&sig[8..]).unwrap();
        let public = ed25519_dalek::VerifyingKey::from_bytes(&wv.public_key()).unwrap();
        assert!(public.verify_strict(message.as_bytes(), &ed).is_ok());
        // Another time in the signature breaks it.
        let mut moved = parsed.clone();
        moved.signatures[1].bytes[7] ^= 1;
        assert!(wv.verify(&moved).is_err());
    }

    #[test]
    fn malformed_notes_and_checkpoints_are_refused() {
        for note in [
            "no blank line\n\u{2014} a AAAAAAA=\n",
            "text\n\n- a AAAAAAAA\n",
            "text\n\n\u{2014} a\n",
            "text\n\n\u{2014} a AAAAAAAA",
            "text\r\n\n\u{2014} a AAAAAAAA\n",
            "text\n\n\u{2014} a+b AAAAAAAA\n",
        ] {
            assert!(Note::parse(note).is_err(), "{note:?}");
        }
        for text in [
            "origin\n12\n",
            "\n12\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            "o\n012\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            "o\n-1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n",
            "o\n1\nq6ur\n",
            "o\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\n\n",
            "o\n1\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=",
        ] {
            assert!(Checkpoint::parse(text).is_err(), "{text:?}");
        }
        let ok = Checkpoint::parse("o\n0\nq6urq6urq6urq6urq6urq6urq6urq6urq6urq6urq6s=\next\n");
        assert_eq!(ok.unwrap().size, 0);
        assert!(NoteSigner::new(SignatureType::Ed25519, "has space", [1; 32]).is_err());
    }
}
