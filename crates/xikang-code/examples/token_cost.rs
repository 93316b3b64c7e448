//! What a token costs: µs per issue, verify (single, via the trust list, in batches of 100),
//! the zlib step the EU certificate uses, the coset/ciborium codec for comparison, the
//! pseudonym and the QR images, plus the sizes behind the no-zlib decision. Times are
//! printed beside a raw Ed25519 sign and verify measured in the same run, so that the
//! ratios mean something on any machine.
//!
//! Run: `cargo run --release -p xikang-code --example token_cost`

use coset::TaggedCborSerializable;
use ed25519_dalek::{Signer as _, Verifier as _};
use std::hint::black_box;
use std::io::{Read, Write};
use std::time::Instant;
use xikang_code::{CodeClaims, PseudonymKey, SigningKey, TrustList, qr_png, qr_svg, qr_version};
use xikang_domain::{Colour, PersonId, Timestamp};

/// µs per call of `f`: the best of five rounds of `n / 5` calls, so that a burst of other
/// work on the machine does not count.
fn time<T>(n: u32, mut f: impl FnMut(u32) -> T) -> f64 {
    let per_round = (n / 5).max(1);
    for i in 0..per_round.min(100) {
        black_box(f(i));
    }
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for i in 0..per_round {
                black_box(f(i));
            }
            start.elapsed().as_secs_f64() * 1e6 / f64::from(per_round)
        })
        .fold(f64::INFINITY, f64::min)
}

/// µs by which `f` is slower than `g`: the median over 25 rounds of back-to-back runs, so
/// that the difference of two large, noisy times is still meaningful.
fn extra<T, U>(n: u32, mut f: impl FnMut(u32) -> T, mut g: impl FnMut(u32) -> U) -> f64 {
    let per_round = (n / 25).max(1);
    let mut diffs: Vec<f64> = (0..25)
        .map(|_| {
            let start = Instant::now();
            for i in 0..per_round {
                black_box(f(i));
            }
            let mid = Instant::now();
            for i in 0..per_round {
                black_box(g(i));
            }
            let (a, b) = (mid - start, mid.elapsed());
            (a.as_secs_f64() - b.as_secs_f64()) * 1e6 / f64::from(per_round)
        })
        .collect();
    diffs.sort_by(f64::total_cmp);
    diffs[diffs.len() / 2]
}

fn zlib(bytes: &[u8]) -> Vec<u8> {
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(bytes).ok();
    z.finish().unwrap_or_default()
}

fn unzlib(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::ZlibDecoder::new(bytes)
        .read_to_end(&mut out)
        .ok();
    out
}

/// The same token built with coset and ciborium, as a general-purpose stack would; `sign`
/// makes the signature (a dummy one measures the codec alone).
fn issue_with_coset(kid: &[u8; 8], c: &CodeClaims, sign: impl FnOnce(&[u8]) -> Vec<u8>) -> String {
    use ciborium::Value;
    let mut claims = vec![
        (Value::from(1), Value::Text(c.issuer.clone())),
        (Value::from(2), Value::Text(c.subject.clone())),
        (Value::from(4), Value::from(c.expires_at.secs())),
        (Value::from(6), Value::from(c.issued_at.secs())),
        (Value::from(-65_537), Value::from(c.colour.code())),
    ];
    if let Some(t) = c.last_negative {
        claims.push((Value::from(-65_538), Value::from(t.secs())));
    }
    let mut payload = Vec::new();
    ciborium::into_writer(&Value::Map(claims), &mut payload).ok();
    let protected = coset::HeaderBuilder::new()
        .algorithm(coset::iana::Algorithm::EdDSA)
        .key_id(kid.to_vec())
        .build();
    let sign1 = coset::CoseSign1Builder::new()
        .protected(protected)
        .payload(payload)
        .create_signature(b"", sign)
        .build();
    format!(
        "XK1:{}",
        base45::encode(sign1.to_tagged_vec().unwrap_or_default())
    )
}

fn main() {
    let t0 = Timestamp(1_656_640_800);
    let key = SigningKey::from_secret([7; 32], "320200", t0.plus(-86_400), t0.plus(365 * 86_400));
    let dalek = ed25519_dalek::SigningKey::from_bytes(&key.secret_bytes());
    let pseudonyms = PseudonymKey::new(b"example pseudonym secret........");
    let claims_of = |i: u32| {
        CodeClaims::with_default_expiry(
            "320200",
            &pseudonyms.pseudonym(PersonId(i)),
            Colour::Green,
            Some(t0.plus(-30 * 3600)),
            t0,
        )
    };
    let claims = claims_of(1_234_567);
    let list: TrustList = [key.trust_entry()].into_iter().collect();
    let verifier = list.verifier().expect("valid trust list");

    let bytes = key.issue_bytes(&claims);
    let token = key.issue(&claims);
    let compressed = zlib(&bytes);
    println!("sizes (realistic claims: 6-digit issuer, 10-char pseudonym, last negative set)");
    println!("  COSE_Sign1 bytes            {:>5}", bytes.len());
    println!("  same, zlib (level 6)        {:>5}", compressed.len());
    println!(
        "  token characters            {:>5}   (with zlib: {})",
        token.len(),
        4 + compressed.len() / 2 * 3 + compressed.len() % 2 * 2
    );
    println!(
        "  QR version (EC level M)     {:>5}",
        qr_version(&token).unwrap_or(0)
    );

    // The Sig_structure of a realistic token is 12 bytes of prefix + 14 of protected
    // header + 1 + 2 + payload: sign and verify a message of that length as the reference.
    let msg = vec![0u8; bytes.len() - 66 + 12];
    let sig = dalek.sign(&msg);
    let vk = dalek.verifying_key();
    let n = 20_000;
    let sign_us = time(n, |_| dalek.sign(&msg));
    let verify_us = time(n, |_| vk.verify(&msg, &sig).is_ok());
    println!("\nreference (raw Ed25519 on a message of the Sig_structure's length)");
    println!("  sign                          {sign_us:>8.2} µs");
    println!("  verify                        {verify_us:>8.2} µs");

    let row = |name: &str, us: f64| {
        println!("  {name:<30}{us:>8.2} µs   {:>6.2}× sign", us / sign_us);
    };
    println!("\nissue");
    let issue = time(n, |_| key.issue(&claims));
    row("issue (hand-rolled codec)", issue);
    row(
        "  codec alone (issue − sign)",
        extra(n, |_| key.issue(&claims), |_| dalek.sign(&msg)),
    );
    let kid = key.kid();
    row(
        "issue (coset + ciborium)",
        time(n, |_| {
            issue_with_coset(&kid, &claims, |m| dalek.sign(m).to_bytes().to_vec())
        }),
    );
    row(
        "  codec alone (dummy signature)",
        time(n, |_| issue_with_coset(&kid, &claims, |_| vec![0; 64])),
    );
    row("zlib compress (fresh stream)", time(n, |_| zlib(&bytes)));
    row(
        "zlib decompress (fresh stream)",
        time(n, |_| unzlib(&compressed)),
    );
    row(
        "pseudonym (prepared key)",
        time(n, |i| pseudonyms.pseudonym(PersonId(i))),
    );
    row(
        "pseudonym (free function)",
        time(n, |i| xikang_code::pseudonym(b"k", PersonId(i))),
    );
    let p = pseudonyms.pseudonym(PersonId(42));
    row(
        "person_of (prepared key)",
        time(n, |_| pseudonyms.person_of(&p)),
    );

    println!("\nverify");
    let now = t0.plus(10);
    row(
        "Verifier::verify",
        time(n, |_| verifier.verify(&token, Some("320200"), now)),
    );
    row(
        "TrustList::verify",
        time(n, |_| list.verify(&token, Some("320200"), now)),
    );
    row(
        "  key parsing (− Verifier)",
        extra(
            n,
            |_| list.verify(&token, Some("320200"), now),
            |_| verifier.verify(&token, Some("320200"), now),
        ),
    );
    let tokens: Vec<String> = (0..100).map(|i| key.issue(&claims_of(i))).collect();
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    let batch = time(n / 100, |_| {
        verifier.verify_batch(&refs, Some("320200"), now)
    });
    row("verify_batch(100), per token", batch / 100.0);
    let mut one_bad = tokens.clone();
    // Change the last Base45 group: the last two signature bytes.
    let end = one_bad[50].len() - 3;
    let group = if &one_bad[50][end..] == "000" {
        "100"
    } else {
        "000"
    };
    one_bad[50].replace_range(end.., group);
    let bad_refs: Vec<&str> = one_bad.iter().map(String::as_str).collect();
    assert!(verifier.verify_batch(&bad_refs, Some("320200"), now)[50].is_err());
    let bad = time(n / 100, |_| {
        verifier.verify_batch(&bad_refs, Some("320200"), now)
    });
    row("  same, one tampered token", bad / 100.0);
    let own = verifier.clone().with_own_key(&key);
    row(
        "issuer's own check (verify)",
        time(n, |_| own.verify(&token, Some("320200"), now)),
    );
    let own_batch = time(n / 100, |_| own.verify_batch(&refs, Some("320200"), now));
    row("  own check, batch(100), per token", own_batch / 100.0);
    row(
        "decode only (coset)",
        time(n, |_| {
            let raw = base45::decode(&token[4..]).unwrap_or_default();
            coset::CoseSign1::from_tagged_slice(&raw)
                .map(|s| s.payload)
                .ok()
        }),
    );
    row(
        "decode only (ours)",
        time(n, |_| xikang_code::decode_unverified(&token).is_ok()),
    );

    println!("\nQR");
    row("qr_svg", time(n / 20, |_| qr_svg(&token)));
    row("qr_png (4 px/module)", time(n / 20, |_| qr_png(&token, 4)));
}
