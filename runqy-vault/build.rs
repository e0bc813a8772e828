//! Tells the tests which PostgreSQL test servers are configured, so that
//! without one the PostgreSQL tests are reported as *ignored* by the test
//! runner (with the reason), never as a silent `ok`:
//! `runqy_vault_pg_tests` (RUNQY_VAULT_TEST_POSTGRES_URL: a server),
//! `runqy_vault_pg_tls_tests` (RUNQY_VAULT_TEST_POSTGRES_TLS_DIR: it runs TLS
//! with the test certificates, `with-postgres.sh --tls`), and
//! `runqy_vault_pg_fault_tests` (RUNQY_VAULT_TEST_POSTGRES_CTL: the tests may
//! freeze and restart it).

fn main() {
    for (var, cfg) in [
        ("RUNQY_VAULT_TEST_POSTGRES_URL", "runqy_vault_pg_tests"),
        (
            "RUNQY_VAULT_TEST_POSTGRES_TLS_DIR",
            "runqy_vault_pg_tls_tests",
        ),
        (
            "RUNQY_VAULT_TEST_POSTGRES_CTL",
            "runqy_vault_pg_fault_tests",
        ),
    ] {
        println!("cargo::rustc-check-cfg=cfg({cfg})");
        println!("cargo::rerun-if-env-changed={var}");
        if std::env::var_os(var).is_some_and(|u| !u.is_empty()) {
            println!("cargo::rustc-cfg={cfg}");
        }
    }
}
