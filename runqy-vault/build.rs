//! Tells the tests whether a PostgreSQL test server is configured, so that
//! without one the PostgreSQL tests are reported as *ignored* by the test
//! runner (with the reason), never as a silent `ok`.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(runqy_vault_pg_tests)");
    println!("cargo::rerun-if-env-changed=RUNQY_VAULT_TEST_POSTGRES_URL");
    if std::env::var_os("RUNQY_VAULT_TEST_POSTGRES_URL").is_some_and(|u| !u.is_empty()) {
        println!("cargo::rustc-cfg=runqy_vault_pg_tests");
    }
}
