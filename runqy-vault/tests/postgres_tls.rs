//! TLS to PostgreSQL (SPEC §2) against a real server: `bash
//! scripts/with-postgres.sh --tls cargo test -p runqy-vault --test
//! postgres_tls` starts one with `ssl=on` and certificates made by openssl
//! (a CA, a server certificate for `localhost` only, a client certificate,
//! an unrelated CA). One test needs a server *without* TLS: it runs under
//! the plain `with-postgres.sh`. The URL-only tests need no server.

#![cfg(feature = "postgres")]

mod support;

use std::path::PathBuf;

use runqy_vault::{ErrorKind, MasterKey, Store};
use support::{admin, host_port, postgres_url, with_params, TempDatabase};

const NEEDS_TLS: &str =
    "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)";

fn key() -> String {
    MasterKey::generate().to_base64().expose().to_owned()
}

fn tls_file(name: &str) -> String {
    let dir = std::env::var("RUNQY_VAULT_TEST_POSTGRES_TLS_DIR")
        .unwrap_or_else(|_| panic!("{NEEDS_TLS}"));
    PathBuf::from(dir).join(name).to_str().unwrap().to_owned()
}

/// The database's URL with its TLS parameters replaced by `params`.
fn with_tls(url: &str, params: &str) -> String {
    match params {
        "" => support::without_tls(url),
        _ => with_params(&support::without_tls(url), params),
    }
}

/// The same URL reached by `127.0.0.1`, a name the server's certificate lacks.
fn by_ip(url: &str) -> String {
    url.replacen("@localhost:", "@127.0.0.1:", 1)
}

/// Opens `url`, expecting a Storage error naming the host and database.
fn refused(url: &str, db: &TempDatabase) -> String {
    let err = Store::open(url, Some(&key())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("PostgreSQL database '{}'", db.name)),
        "{msg}"
    );
    assert!(msg.contains(&host_port(url)), "{msg}");
    msg
}

/// Whether the store's pooled connection to `db` runs over TLS, as the
/// server sees it.
fn server_sees_tls(db: &TempDatabase) -> bool {
    admin(&postgres_url())
        .query_one(
            "SELECT COALESCE(bool_and(s.ssl), false) FROM pg_stat_ssl s
             JOIN pg_stat_activity a ON a.pid = s.pid
             WHERE a.datname = $1 AND a.application_name = 'runqy-vault'",
            &[&db.name],
        )
        .unwrap()
        .get(0)
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn verify_full_with_the_right_ca_opens_reads_and_writes_over_tls() {
    let db = TempDatabase::new(&postgres_url());
    let url = with_tls(
        &db.url,
        &format!("sslmode=verify-full&sslrootcert={}", tls_file("ca.crt")),
    );
    let k = key();
    let store = Store::open(&url, Some(&k)).unwrap();
    store.create_vault("ci", "").unwrap();
    store.set("ci", "TOKEN", "t-over-tls", true).unwrap();
    assert_eq!(store.get("ci", "TOKEN").unwrap().expose(), "t-over-tls");
    assert!(server_sees_tls(&db));
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn a_wrong_ca_fails_at_open_saying_unknown_ca_under_verify_full_and_verify_ca() {
    let db = TempDatabase::new(&postgres_url());
    for mode in ["verify-full", "verify-ca"] {
        let url = with_tls(
            &db.url,
            &format!("sslmode={mode}&sslrootcert={}", tls_file("other-ca.crt")),
        );
        let msg = refused(&url, &db);
        assert!(
            msg.contains(
                "TLS: unknown CA: the server's certificate is not signed by a CA in sslrootcert"
            ),
            "{msg}"
        );
        assert!(
            msg.contains("other-ca.crt") && msg.contains(&format!("sslmode={mode}")),
            "{msg}"
        );
    }
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn a_host_name_mismatch_fails_under_verify_full_and_passes_under_verify_ca() {
    let db = TempDatabase::new(&postgres_url());
    let ca = tls_file("ca.crt");
    let full = by_ip(&with_tls(
        &db.url,
        &format!("sslmode=verify-full&sslrootcert={ca}"),
    ));
    let msg = refused(&full, &db);
    assert!(msg.contains("TLS: host name mismatch"), "{msg}");
    // verify-ca checks the chain only: the same server by IP is accepted.
    let chain_only = by_ip(&with_tls(
        &db.url,
        &format!("sslmode=verify-ca&sslrootcert={ca}"),
    ));
    let store = Store::open(&chain_only, Some(&key())).unwrap();
    store.create_vault("ci", "").unwrap();
    assert!(server_sees_tls(&db));
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn prefer_the_default_uses_tls_when_the_server_offers_it() {
    let db = TempDatabase::new(&postgres_url());
    // No TLS parameter at all: libpq's default, prefer, without verification.
    let url = with_tls(&db.url, "");
    assert!(!url.contains("ssl"), "{url}");
    let store = Store::open(&url, Some(&key())).unwrap();
    store.create_vault("ci", "").unwrap();
    assert!(server_sees_tls(&db));
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn a_client_certificate_logs_in_the_cert_role_and_without_one_the_server_refuses() {
    let db = TempDatabase::new(&postgres_url());
    let role = std::env::var("RUNQY_VAULT_TEST_POSTGRES_CERT_ROLE").unwrap();
    admin(&postgres_url())
        .batch_execute(&format!("ALTER DATABASE {} OWNER TO {role}", db.name))
        .unwrap();
    let as_role = support::with_user(&db.url, &role, "no-password-used");
    let base = format!("sslmode=verify-full&sslrootcert={}", tls_file("ca.crt"));
    let url = with_tls(
        &as_role,
        &format!(
            "{base}&sslcert={}&sslkey={}",
            tls_file("client.crt"),
            tls_file("client.key")
        ),
    );
    let store = Store::open(&url, Some(&key())).unwrap();
    store.create_vault("by-cert", "").unwrap();
    assert_eq!(store.list_vaults().unwrap()[0].name, "by-cert");
    drop(store);
    // The same role without the certificate: the server says no.
    let msg = refused(&with_tls(&as_role, &base), &db);
    assert!(msg.contains("certificate"), "{msg}");
}

#[test]
#[cfg_attr(
    not(runqy_vault_pg_tls_tests),
    ignore = "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR not set (bash scripts/with-postgres.sh --tls runs these)"
)]
fn a_key_that_does_not_match_its_certificate_or_is_group_readable_fails_at_open() {
    let db = TempDatabase::new(&postgres_url());
    let base = format!(
        "sslmode=verify-full&sslrootcert={}&sslcert={}",
        tls_file("ca.crt"),
        tls_file("client.crt")
    );
    let msg = refused(
        &with_tls(
            &db.url,
            &format!("{base}&sslkey={}", tls_file("other-ca.key")),
        ),
        &db,
    );
    assert!(
        msg.contains("does not match the certificate in sslcert"),
        "{msg}"
    );
    let dir = tempfile::tempdir().unwrap();
    let loose = dir.path().join("client.key");
    std::fs::copy(tls_file("client.key"), &loose).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&loose, std::fs::Permissions::from_mode(0o644)).unwrap();
    let msg = refused(
        &with_tls(&db.url, &format!("{base}&sslkey={}", loose.display())),
        &db,
    );
    // 0600 or less; 0640 when owned by root, as libpq allows.
    assert!(
        msg.contains("has mode 0644: a private key must be 06"),
        "{msg}"
    );
}

#[test]
#[cfg_attr(
    any(not(runqy_vault_pg_tests), runqy_vault_pg_tls_tests),
    ignore = "needs a server without TLS: bash scripts/with-postgres.sh (without --tls) runs this"
)]
fn require_against_a_server_without_tls_fails_at_open_saying_so() {
    let db = TempDatabase::new(&postgres_url());
    let msg = refused(&with_tls(&db.url, "sslmode=require"), &db);
    assert!(
        msg.contains("TLS: the server does not offer TLS, and sslmode=require requires it"),
        "{msg}"
    );
    // prefer falls back to plaintext on the same server.
    assert!(Store::open(with_tls(&db.url, "sslmode=prefer"), Some(&key())).is_ok());
}

// ------------------------------------------------- bad input, no server needed

fn open_error(url: &str) -> String {
    let err = Store::open(url, Some(&key())).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Storage, "{err}");
    err.to_string()
}

#[test]
fn an_unknown_sslmode_an_unreadable_sslrootcert_and_a_lone_sslkey_fail_before_connecting() {
    // Port 1: nothing listens there, so any message about the server would
    // mean the parameters were not checked first.
    let base = "postgres://u:pw-never-shown@127.0.0.1:1/vaultdb";
    let cases = [
        (
            "sslmode=verify-some",
            "unknown sslmode 'verify-some': use disable, prefer, require, verify-ca or verify-full",
        ),
        (
            "sslmode=verify-full&sslrootcert=/no/such/ca.pem",
            "sslrootcert /no/such/ca.pem: cannot read it: No such file",
        ),
        (
            "sslmode=verify-full",
            "sslmode=verify-full checks the server's certificate but no CA is given",
        ),
        (
            "sslmode=require&sslkey=/etc/client.key",
            "sslkey /etc/client.key is given without a certificate",
        ),
        (
            "sslmode=prefer&sslrootcert=system",
            "sslrootcert=system needs sslmode=verify-full, not prefer",
        ),
    ];
    for (params, want) in cases {
        let msg = open_error(&format!("{base}?{params}"));
        let want = format!("storage error: PostgreSQL database 'vaultdb' at 127.0.0.1:1: {want}");
        assert!(msg.starts_with(&want), "{params}: {msg}");
        assert!(!msg.contains("pw-never-shown"), "{msg}");
    }
    // A directory is no PEM file either.
    let dir = tempfile::tempdir().unwrap();
    let msg = open_error(&format!(
        "{base}?sslmode=verify-ca&sslrootcert={}",
        dir.path().display()
    ));
    assert!(
        msg.contains("sslrootcert") && msg.contains("cannot read it"),
        "{msg}"
    );
}

#[test]
fn a_postgresql_password_with_an_unencoded_slash_or_question_mark_never_reaches_a_message() {
    for url in [
        "postgres://user:SECRET/PW@127.0.0.1:1/db",
        "postgresql://user:SECRET?PW@127.0.0.1:1/db?sslmode=disable",
    ] {
        let msg = open_error(url);
        assert!(!msg.contains("SECRET") && !msg.contains("PW"), "{msg}");
        assert!(msg.contains("must be percent-encoded"), "{msg}");
        let location = runqy_vault::Location::from(url);
        assert!(!format!("{location} {location:?}").contains("SECRET"));
        let disabled = Store::open_with(url, runqy_vault::KeySource::None).unwrap();
        assert!(!format!("{disabled:?}").contains("SECRET"));
    }
    // Encoded, the same password is fine: the error is the server's, not the URL's.
    let msg = open_error("postgres://user:SECRET%2FPW@127.0.0.1:1/db?connect_timeout=2");
    assert!(!msg.contains("SECRET"), "{msg}");
    assert!(
        msg.starts_with("storage error: PostgreSQL database 'db' at 127.0.0.1:1: "),
        "{msg}"
    );
}
