#!/usr/bin/env python3
"""An independent verifier of an xikang commuter pass (XP1:) — docs/cities.md.

Written from the format's description only, with no xikang code: cbor2 reads CBOR,
cryptography checks Ed25519. Usage:

    verify_pass.py ANCHOR.json SIGNED_LIST.cose 'XP1:...' [UNIX_SECONDS]

ANCHOR.json is the issuing city's trust anchor (`xikang key anchor`); SIGNED_LIST.cose the
bytes of its `GET /api/v1/trust/signed`. Prints the pass's claims as JSON and exits 0 when
the pass is valid; exits 2 with a reason when the list or the pass does not verify, and 3
when the pass is on the list's revocation list.
"""

import hashlib
import json
import sys
import time

import cbor2
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
CLAIM_ISS, CLAIM_SUB, CLAIM_EXP, CLAIM_IAT = 1, 2, 4, 6
CLAIM_PASS, CLAIM_ROUTE, CLAIM_TEST_HOURS = -65540, -65541, -65542


def fail(code, reason):
    print(json.dumps({"ok": False, "code": code, "reason": reason}))
    sys.exit(3 if code == "pass_revoked" else 2)


def base45_decode(text):
    """RFC 9285: groups of three characters are two bytes, a final pair one byte."""
    out = bytearray()
    values = [ALPHABET.index(c) for c in text]
    for i in range(0, len(values), 3):
        group = values[i:i + 3]
        n = sum(v * 45 ** k for k, v in enumerate(group))
        out += n.to_bytes(2 if len(group) == 3 else 1, "big")
    return bytes(out)


def open_sign1(data):
    """A COSE_Sign1 (tag 18): its protected header, payload and signature, and the
    Sig_structure its signature covers (RFC 9052 section 4.4)."""
    item = cbor2.loads(data)
    if isinstance(item, cbor2.CBORTag):
        if item.tag != 18:
            raise ValueError("not a COSE_Sign1")
        item = item.value
    protected_bytes, _unprotected, payload, signature = item
    protected = cbor2.loads(protected_bytes)
    if protected.get(1) != -8:
        raise ValueError("not EdDSA")
    tbs = cbor2.dumps(["Signature1", protected_bytes, b"", payload])
    return protected[4], payload, signature, tbs


def ed25519(public_hex):
    return Ed25519PublicKey.from_public_bytes(bytes.fromhex(public_hex))


def main():
    anchor = json.load(open(sys.argv[1]))
    signed = open(sys.argv[2], "rb").read()
    token = sys.argv[3].strip()
    now = int(sys.argv[4]) if len(sys.argv) > 4 else int(time.time())

    # 1. The list, with the pinned root key.
    root = bytes.fromhex(anchor["public_key"])
    if hashlib.sha256(root).digest()[:8].hex() != anchor["kid"]:
        fail("trust_anchor_invalid", "the anchor's kid is not its key's")
    try:
        kid, payload, signature, tbs = open_sign1(signed)
    except Exception:
        fail("trust_list_unsigned", "the list is not a COSE_Sign1")
    if kid.hex() != anchor["kid"]:
        fail("trust_list_wrong_root", "the list is signed by another key")
    try:
        ed25519(anchor["public_key"]).verify(signature, tbs)
    except InvalidSignature:
        fail("trust_list_tampered", "the list's signature does not match")
    doc = json.loads(payload)
    if doc["jurisdiction"] != anchor["jurisdiction"]:
        fail("trust_list_wrong_jurisdiction", "the list is another city's")

    # 2. The pass, with a key of the list.
    if not token.startswith("XP1:"):
        fail("pass_malformed", "not an XP1 pass")
    kid, payload, signature, tbs = open_sign1(base45_decode(token[4:]))
    keys = [k for k in doc["keys"] if k["kid"] == kid.hex()]
    if not keys or keys[0]["status"] == "revoked":
        fail("pass_unknown_key", "the pass's key is not trusted")
    key = keys[0]
    try:
        ed25519(key["public_key"]).verify(signature, tbs)
    except InvalidSignature:
        fail("pass_tampered", "the pass's signature does not match")
    claims = cbor2.loads(payload)
    if claims[CLAIM_ISS] != key["jurisdiction"]:
        fail("pass_wrong_issuer", "issued by another city than its key's")
    from datetime import datetime
    stamp = lambda s: int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp())
    if not stamp(key["not_before"]) <= claims[CLAIM_IAT] <= stamp(key["not_after"]):
        fail("pass_key_not_valid", "the key could not sign it then")
    if now >= claims[CLAIM_EXP]:
        fail("pass_expired", "the pass has expired")
    number = str(claims[CLAIM_PASS])
    if any(r["kind"] == "pass" and r["id"] == number for r in doc["revoked"]):
        fail("pass_revoked", "the pass is on the revocation list")
    print(json.dumps({
        "ok": True,
        "issuer": claims[CLAIM_ISS],
        "subject": claims[CLAIM_SUB],
        "pass": claims[CLAIM_PASS],
        "route": claims[CLAIM_ROUTE],
        "max_test_age_hours": claims[CLAIM_TEST_HOURS],
        "expires_at": claims[CLAIM_EXP],
    }))


if __name__ == "__main__":
    main()
