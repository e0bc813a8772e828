//! Shared by the integration tests that need a PostgreSQL server: a fresh
//! database per test on the server `RUNQY_VAULT_TEST_POSTGRES_URL` names
//! (scripts/with-postgres.sh starts one), dropped when the test ends.

#![allow(dead_code)] // each test file uses its own part

use std::sync::atomic::{AtomicU32, Ordering};

/// The runqy server's own tables on SQLite, as its database has them (no meta table).
pub const UPSTREAM_SQLITE_TABLES: &str =
    "CREATE TABLE vaults (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT UNIQUE NOT NULL,
                     description TEXT DEFAULT '', created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                     updated_at DATETIME DEFAULT CURRENT_TIMESTAMP);
                 CREATE TABLE vault_entries (id INTEGER PRIMARY KEY AUTOINCREMENT,
                     vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
                     key TEXT NOT NULL, value BLOB NOT NULL, is_secret INTEGER DEFAULT 1,
                     created_at DATETIME DEFAULT CURRENT_TIMESTAMP,
                     updated_at DATETIME DEFAULT CURRENT_TIMESTAMP, UNIQUE(vault_id, key));
                 CREATE INDEX idx_vaults_name ON vaults(name);";

/// The runqy server's own tables on PostgreSQL, as its database has them (no meta table).
pub const UPSTREAM_POSTGRES_TABLES: &str =
    "CREATE TABLE vaults (id SERIAL PRIMARY KEY, name TEXT UNIQUE NOT NULL,
                     description TEXT DEFAULT '',
                     created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
                     updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW());
                 CREATE TABLE vault_entries (id SERIAL PRIMARY KEY,
                     vault_id INTEGER NOT NULL REFERENCES vaults(id) ON DELETE CASCADE,
                     key TEXT NOT NULL, value BYTEA NOT NULL, is_secret BOOLEAN DEFAULT TRUE,
                     created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
                     updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(), UNIQUE(vault_id, key));
                 CREATE INDEX idx_vaults_name ON vaults(name);";

/// The variable naming the admin URL of the test server.
pub const ENV_URL: &str = "RUNQY_VAULT_TEST_POSTGRES_URL";

/// The admin URL. PostgreSQL tests carry
/// `#[cfg_attr(not(runqy_vault_pg_tests), ignore = ...)]` (the build script
/// sets the cfg when the variable is set), so without a server they are
/// reported as ignored, never run; run with --ignored anyway, they say why
/// they cannot pass.
pub fn postgres_url() -> String {
    match std::env::var(ENV_URL) {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "{ENV_URL} is not set: start a server with `bash scripts/with-postgres.sh cargo test`"
        ),
    }
}

/// `url` with its database replaced by `db` (query parameters kept).
pub fn with_database(url: &str, db: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let query = tail.find('?').map_or("", |i| &tail[i..]);
    format!("{scheme}://{authority}/{db}{query}")
}

/// `url` with `user:password` as its user info.
pub fn with_user(url: &str, user: &str, password: &str) -> String {
    let (scheme, rest) = url.split_once("://").expect("a postgres:// URL");
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let host = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    format!("{scheme}://{user}:{password}@{host}{tail}")
}

/// The `host:port` of a URL.
pub fn host_port(url: &str) -> String {
    let rest = url.split_once("://").expect("a postgres:// URL").1;
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..end];
    authority
        .rsplit_once('@')
        .map_or(authority, |(_, h)| h)
        .to_owned()
}

/// `url` without its TLS parameters.
pub fn without_tls(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else {
        return url.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|p| {
            let key = p.split('=').next().unwrap_or("");
            !matches!(key, "sslmode" | "sslrootcert" | "sslcert" | "sslkey")
        })
        .collect();
    match kept.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", kept.join("&")),
    }
}

/// `url` as the sync client of the tests' own SQL takes it (it knows neither
/// verify-full nor sslrootcert): plaintext on loopback.
pub fn plain(url: &str) -> String {
    with_params(&without_tls(url), "sslmode=disable")
}

/// `url` with `params` (`k=v&...`) added to its query.
pub fn with_params(url: &str, params: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}{params}")
}

pub fn admin(url: &str) -> postgres::Client {
    postgres::Client::connect(&plain(url), postgres::NoTls).expect("connect to the test server")
}

/// A database made for one test and dropped (with its connections) after it.
pub struct TempDatabase {
    admin_url: String,
    pub name: String,
    pub url: String,
}

impl TempDatabase {
    pub fn new(admin_url: &str) -> TempDatabase {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .subsec_nanos();
        let name = format!(
            "rqv_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin(admin_url)
            .batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create a test database");
        TempDatabase {
            admin_url: admin_url.to_owned(),
            url: with_database(admin_url, &name),
            name,
        }
    }

    /// A client on this database.
    pub fn client(&self) -> postgres::Client {
        admin(&self.url)
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if let Ok(mut c) = postgres::Client::connect(&plain(&self.admin_url), postgres::NoTls) {
            let _ = c.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}
