//! The crypto provider compiled in (`aws-lc` or the pure-Rust `rustcrypto`,
//! runqy-vault/src/aead.rs) seals to the same bytes as the other: run under
//! both features by scripts/test-rust.sh. tests/vectors.rs checks opening
//! (Wycheproof, the fixed vectors); these check sealing with fixed nonces,
//! which must give exactly the vectors' bytes.

use hkdf::Hkdf;
use runqy_vault::cipher::{aead_open, aead_seal, PROVIDER};
use sha2::Sha256;

/// The fixed vectors of tests/vectors.rs (made with Python's `cryptography`).
const LEGACY: &str =
    "101112131415161718191a1b0e95b5663ba6509eab176b2c3d4a112bf493ca050be2daf19d98d82eedaca088";
const V2: &str = "52515602b03d125c45124875101112131415161718191a1b803f895f2a371e9d116df9ef66bb2dc85cc182f9dc11a348257825cf35bc5aaa";
const VERSION_3: &str = "52515602b03d125c45124875202122232425262728292a2b6ecb18b511e4b5d5e6f5e8d4972ba782a844f0744c51d212c05e85d676d4a6d85c";

fn master() -> [u8; 32] {
    std::array::from_fn(|i| i as u8)
}

fn hkdf(info: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    Hkdf::<Sha256>::new(None, &master())
        .expand(info, &mut out)
        .unwrap();
    out
}

fn aad() -> Vec<u8> {
    let kid = hex::decode("b03d125c45124875").unwrap();
    [
        b"RQV\x02".as_slice(),
        &kid,
        &8u32.to_be_bytes(),
        b"api-keys",
        &14u32.to_be_bytes(),
        b"OPENAI_API_KEY",
        b"\x01",
    ]
    .concat()
}

fn nonce(first: u8) -> [u8; 12] {
    std::array::from_fn(|i| first + i as u8)
}

#[test]
fn fixed_nonces_seal_to_the_fixed_vectors_bytes() {
    assert!(matches!(PROVIDER, "aws-lc" | "rustcrypto"), "{PROVIDER}");
    let legacy = aead_seal(&master(), &nonce(0x10), b"", b"sk-proj-abc123xx");
    assert_eq!(hex::encode(legacy), LEGACY, "{PROVIDER}");

    let enc = hkdf(b"runqy-vault v2 enc");
    let v2 = aead_seal(&enc, &nonce(0x10), &aad(), b"sk-proj-abc123xx");
    assert_eq!(hex::encode(v2), V2[24..], "{PROVIDER}"); // after magic and key id

    let vaad = [aad(), b"ver".to_vec(), 3u64.to_be_bytes().to_vec()].concat();
    let version = aead_seal(&enc, &nonce(0x20), &vaad, b"sk-proj-old-value");
    assert_eq!(hex::encode(version), VERSION_3[24..], "{PROVIDER}");
}

#[derive(serde::Deserialize)]
struct Wycheproof {
    #[serde(rename = "testGroups")]
    groups: Vec<Group>,
}

#[derive(serde::Deserialize)]
struct Group {
    #[serde(rename = "keySize")]
    key_size: u32,
    #[serde(rename = "ivSize")]
    iv_size: u32,
    #[serde(rename = "tagSize")]
    tag_size: u32,
    tests: Vec<Case>,
}

#[derive(serde::Deserialize)]
struct Case {
    #[serde(rename = "tcId")]
    id: u32,
    key: String,
    iv: String,
    aad: String,
    msg: String,
    ct: String,
    tag: String,
    result: String,
}

#[test]
fn wycheproof_valid_cases_seal_to_their_exact_ciphertext_and_tag() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/wycheproof/aes_gcm_test.json");
    let doc: Wycheproof = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut sealed_count = 0;
    for group in doc.groups {
        if (group.key_size, group.iv_size, group.tag_size) != (256, 96, 128) {
            continue;
        }
        for case in group.tests.iter().filter(|c| c.result == "valid") {
            let key: [u8; 32] = hex::decode(&case.key).unwrap().try_into().unwrap();
            let iv: [u8; 12] = hex::decode(&case.iv).unwrap().try_into().unwrap();
            let aad = hex::decode(&case.aad).unwrap();
            let msg = hex::decode(&case.msg).unwrap();
            let sealed = aead_seal(&key, &iv, &aad, &msg);
            let want = format!("{}{}{}", case.iv, case.ct, case.tag);
            assert_eq!(hex::encode(&sealed), want, "{PROVIDER} tcId {}", case.id);
            assert_eq!(
                aead_open(&key, &sealed, &aad).as_deref().map(|v| &v[..]),
                Some(&msg[..]),
                "{PROVIDER} tcId {}",
                case.id
            );
            sealed_count += 1;
        }
    }
    assert!(sealed_count >= 39, "{sealed_count}"); // the file's valid 256-bit, 96-bit-nonce cases
}

/// With `aws-lc` compiled in, RustCrypto's aes-gcm (always a dependency,
/// the pure-Rust provider) must produce the same bytes for the same inputs.
#[cfg(feature = "aws-lc")]
#[test]
fn aws_lc_output_equals_rustcrypto_aes_gcm_output() {
    use aes_gcm::aead::{AeadInOut, KeyInit};
    let rc = aes_gcm::Aes256Gcm::new(&[0x42u8; 32].into());
    for len in [0usize, 1, 16, 31, 64, 1024, 16 * 1024, 65_536] {
        let pt: Vec<u8> = (0..len).map(|i| (i * 7) as u8).collect();
        let ours = aead_seal(&[0x42; 32], &[9; 12], b"ad", &pt);
        let mut buf = pt.clone();
        let tag = rc
            .encrypt_inout_detached(&[9u8; 12].into(), b"ad", buf.as_mut_slice().into())
            .unwrap();
        let theirs = [&[9u8; 12][..], &buf, &tag].concat();
        assert_eq!(ours, theirs, "length {len}");
    }
}
