//! Fixed vectors for both ciphertext formats and for kept versions, and
//! Project Wycheproof's AES-GCM vectors.
//!
//! The fixed vectors were made independently of this crate, with Python's
//! `cryptography` package (AESGCM, HKDF-SHA256; the version vector with
//! cryptography 50.0.2 in the repository's `.venv`), so another
//! implementation can check itself against the same bytes (docs/formats.md
//! gives each layout):
//!
//! ```python
//! mk = bytes(range(32)); nonce = bytes(range(0x10, 0x1c)); pt = b"sk-proj-abc123xx"
//! hk = lambda info, n: HKDF(hashes.SHA256(), n, salt=None, info=info).derive(mk)
//! enc, kid = hk(b"runqy-vault v2 enc", 32), hk(b"runqy-vault v2 key-id", 8)
//! legacy = nonce + AESGCM(mk).encrypt(nonce, pt, None)
//! aad = b"RQV\x02" + kid + struct.pack(">I", 8) + b"api-keys" + struct.pack(">I", 14) + b"OPENAI_API_KEY" + b"\x01"
//! v2 = b"RQV\x02" + kid + nonce + AESGCM(enc).encrypt(nonce, pt, aad)
//! # version 3 of the same entry, kept in runqy_vault_versions:
//! vnonce = bytes(range(0x20, 0x2c)); vpt = b"sk-proj-old-value"
//! vaad = aad + b"ver" + struct.pack(">Q", 3)
//! version = b"RQV\x02" + kid + vnonce + AESGCM(enc).encrypt(vnonce, vpt, vaad)
//! ```

use runqy_vault::cipher::{aead_open, Binding, Cipher, Format};
use runqy_vault::{ErrorKind, KeySet, MasterKey};

const MASTER_KEY_B64: &str = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
const KEY_ID: &str = "b03d125c45124875";
const LEGACY: &str =
    "101112131415161718191a1b0e95b5663ba6509eab176b2c3d4a112bf493ca050be2daf19d98d82eedaca088";
const V2: &str = "52515602b03d125c45124875101112131415161718191a1b803f895f2a371e9d116df9ef66bb2dc85cc182f9dc11a348257825cf35bc5aaa";
/// Empty value in vault `v`, key `K`, not secret.
const V2_EMPTY: &str =
    "52515602b03d125c45124875101112131415161718191a1bb6d7b1f848fdd8238cbda0e8ab39d9ad";

/// Version 3 of `api-keys/OPENAI_API_KEY` (secret), plaintext `sk-proj-old-value`.
const VERSION_3: &str = "52515602b03d125c45124875202122232425262728292a2b6ecb18b511e4b5d5e6f5e8d4972ba782a844f0744c51d212c05e85d676d4a6d85c";

fn cipher() -> Cipher {
    let key = MasterKey::parse(MASTER_KEY_B64, "vector").unwrap();
    Cipher::new(&KeySet {
        current: key,
        previous: vec![],
    })
}

const ENTRY: Binding<'static> = Binding {
    vault: "api-keys",
    key: "OPENAI_API_KEY",
    is_secret: true,
};

#[test]
fn key_id_matches_independent_hkdf() {
    let key = MasterKey::parse(MASTER_KEY_B64, "vector").unwrap();
    assert_eq!(key.key_id().to_string(), KEY_ID);
}

#[test]
fn legacy_vector_decrypts() {
    let (text, info) = cipher()
        .decrypt(Format::Legacy, ENTRY, &hex::decode(LEGACY).unwrap())
        .unwrap();
    assert_eq!(text.expose(), "sk-proj-abc123xx");
    assert_eq!(info.format, Format::Legacy);
    // Legacy has no associated data: any location opens it.
    let elsewhere = Binding {
        vault: "x",
        key: "Y",
        is_secret: false,
    };
    assert!(cipher()
        .decrypt(Format::Legacy, elsewhere, &hex::decode(LEGACY).unwrap())
        .is_ok());
}

#[test]
fn v2_vectors_decrypt_only_where_they_belong() {
    let (text, info) = cipher()
        .decrypt(Format::V2, ENTRY, &hex::decode(V2).unwrap())
        .unwrap();
    assert_eq!(text.expose(), "sk-proj-abc123xx");
    assert_eq!(info.format, Format::V2);
    let empty = Binding {
        vault: "v",
        key: "K",
        is_secret: false,
    };
    assert_eq!(
        cipher()
            .decrypt(Format::V2, empty, &hex::decode(V2_EMPTY).unwrap())
            .unwrap()
            .0
            .expose(),
        ""
    );
    let flipped = Binding {
        is_secret: true,
        ..empty
    };
    let err = cipher()
        .decrypt(Format::V2, flipped, &hex::decode(V2_EMPTY).unwrap())
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
}

#[test]
fn version_vector_decrypts_only_as_that_version_of_that_entry() {
    let blob = hex::decode(VERSION_3).unwrap();
    let (text, info) = cipher().decrypt_version(ENTRY, 3, &blob).unwrap();
    assert_eq!(text.expose(), "sk-proj-old-value");
    assert_eq!(info.format, Format::V2);
    assert_eq!(info.key_id.to_string(), KEY_ID);
    for version in [2, 4, 3 << 32] {
        let err = cipher().decrypt_version(ENTRY, version, &blob).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::DecryptionFailed);
    }
    // Never as a current value (the v2 associated data has no version).
    assert_eq!(
        cipher()
            .decrypt(Format::Legacy, ENTRY, &blob)
            .unwrap_err()
            .kind(),
        ErrorKind::DecryptionFailed
    );
    let other = Binding {
        is_secret: false,
        ..ENTRY
    };
    assert!(cipher().decrypt_version(other, 3, &blob).is_err());
    // And the current-value vector never opens as a version.
    assert!(cipher()
        .decrypt_version(ENTRY, 3, &hex::decode(V2).unwrap())
        .is_err());
    let ours = cipher().encrypt_version(ENTRY, 3, b"sk-proj-old-value");
    assert_eq!(ours.len(), blob.len());
    assert_eq!(hex::encode(&ours[..12]), &VERSION_3[..24]);
}

#[test]
fn our_blobs_have_the_vector_layout() {
    let c = cipher();
    let v2 = c.encrypt(Format::V2, ENTRY, b"sk-proj-abc123xx");
    assert_eq!(v2.len(), hex::decode(V2).unwrap().len());
    assert_eq!(hex::encode(&v2[..12]), &V2[..24]); // magic and key id
    let legacy = c.encrypt(Format::Legacy, ENTRY, b"sk-proj-abc123xx");
    assert_eq!(legacy.len(), hex::decode(LEGACY).unwrap().len());
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

/// Read at test time from the repository's copy (tests/data/wycheproof, with
/// its LICENSE and origin); `RUNQY_VAULT_WYCHEPROOF` may point at another copy.
fn wycheproof() -> Wycheproof {
    let path = std::env::var_os("RUNQY_VAULT_WYCHEPROOF")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("tests/data/wycheproof/aes_gcm_test.json")
        });
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "Wycheproof vectors not found at {} ({e}); set RUNQY_VAULT_WYCHEPROOF",
            path.display()
        )
    });
    serde_json::from_str(&text).unwrap()
}

#[test]
fn wycheproof_aes_256_gcm_vectors_pass() {
    let mut checked = (0, 0, 0); // (no-aad legacy blobs, with-aad, invalid)
    for group in wycheproof().groups {
        if (group.key_size, group.iv_size, group.tag_size) != (256, 96, 128) {
            continue;
        }
        for case in group.tests {
            let key: [u8; 32] = hex::decode(&case.key).unwrap().try_into().unwrap();
            let sealed = hex::decode(format!("{}{}{}", case.iv, case.ct, case.tag)).unwrap();
            let aad = hex::decode(&case.aad).unwrap();
            let msg = hex::decode(&case.msg).unwrap();
            let opened = aead_open(&key, &sealed, &aad);
            match case.result.as_str() {
                "valid" => {
                    assert_eq!(
                        opened.as_deref().map(|v| &v[..]),
                        Some(&msg[..]),
                        "tcId {}",
                        case.id
                    )
                }
                "invalid" => {
                    assert!(opened.is_none(), "tcId {} must not open", case.id);
                    checked.2 += 1;
                }
                _ => {} // "acceptable": either outcome is allowed
            }
            if aad.is_empty() {
                // As a legacy blob through the store's cipher: valid UTF-8 messages
                // decrypt; everything else is DecryptionFailed (values are text).
                let c = Cipher::new(&KeySet {
                    current: MasterKey::from_bytes(key),
                    previous: vec![],
                });
                let got = c.decrypt(Format::Legacy, ENTRY, &sealed);
                match (case.result.as_str(), std::str::from_utf8(&msg)) {
                    ("valid", Ok(text)) => {
                        assert_eq!(got.unwrap().0.expose(), text, "tcId {}", case.id)
                    }
                    ("valid", Err(_)) | ("invalid", _) => {
                        assert_eq!(
                            got.unwrap_err().kind(),
                            ErrorKind::DecryptionFailed,
                            "tcId {}",
                            case.id
                        )
                    }
                    _ => {}
                }
                checked.0 += 1;
            } else {
                checked.1 += 1;
            }
        }
    }
    assert!(
        checked.0 >= 48 && checked.1 >= 18 && checked.2 > 0,
        "{checked:?}"
    );
}
