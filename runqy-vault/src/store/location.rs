//! Where a store lives: a SQLite file or a PostgreSQL database (SPEC §2).
//!
//! A location is given as text (`--db`, `RUNQY_VAULT_DB`, the API): one that
//! starts with `postgres://` or `postgresql://` is a PostgreSQL URL, anything
//! else a SQLite path. A URL may hold a password, so it is kept apart from
//! paths and only ever shown with the password replaced by `***`.

use std::fmt;
use std::path::{Path, PathBuf};

/// The variable naming the database when no location is given.
pub const ENV_DB: &str = "RUNQY_VAULT_DB";
/// The database used when neither a location nor `RUNQY_VAULT_DB` is given.
pub const DEFAULT_DB: &str = "runqy-vault.db";

/// Where a store lives. `Display` and `Debug` never show a URL's password.
///
/// ```
/// use runqy_vault::Location;
/// let pg = Location::from("postgres://runqy:s3cr3t@db.internal/vault");
/// assert!(pg.is_postgres());
/// assert_eq!(pg.to_string(), "postgres://runqy:***@db.internal/vault");
/// assert_eq!(Location::from("vault.db").to_string(), "vault.db");
/// ```
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL database, by its URL.
    Postgres(PostgresUrl),
}

/// A PostgreSQL URL (`postgres://user:password@host:port/db?params`).
/// `Display` and `Debug` show it with its password replaced by `***`.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    /// The URL as given, password included: only for connecting.
    #[cfg_attr(not(feature = "postgres"), allow(dead_code))]
    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&redacted_url(&self.0))
    }
}

impl fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PostgresUrl({:?})", redacted_url(&self.0))
    }
}

impl Location {
    /// Reads a location given as text: a PostgreSQL URL or a SQLite path.
    pub fn parse(text: &str) -> Location {
        if is_postgres_url(text) {
            Location::Postgres(PostgresUrl(text.to_owned()))
        } else {
            Location::Sqlite(PathBuf::from(text))
        }
    }

    /// The location from `RUNQY_VAULT_DB`, or `runqy-vault.db` in the working directory.
    pub fn from_env() -> Location {
        match std::env::var_os(ENV_DB).filter(|p| !p.is_empty()) {
            Some(p) => Location::from(PathBuf::from(p)),
            None => Location::Sqlite(PathBuf::from(DEFAULT_DB)),
        }
    }

    /// Whether this is a PostgreSQL database.
    pub fn is_postgres(&self) -> bool {
        matches!(self, Location::Postgres(_))
    }

    /// The SQLite file, `None` for PostgreSQL.
    pub fn sqlite_path(&self) -> Option<&Path> {
        match self {
            Location::Sqlite(p) => Some(p),
            Location::Postgres(_) => None,
        }
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => write!(f, "{}", p.display()),
            Location::Postgres(url) => url.fmt(f),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Sqlite(p) => f.debug_tuple("Sqlite").field(p).finish(),
            Location::Postgres(url) => f.debug_tuple("Postgres").field(url).finish(),
        }
    }
}

impl From<&str> for Location {
    fn from(text: &str) -> Location {
        Location::parse(text)
    }
}

impl From<String> for Location {
    fn from(text: String) -> Location {
        Location::parse(&text)
    }
}

impl From<&String> for Location {
    fn from(text: &String) -> Location {
        Location::parse(text)
    }
}

impl From<&Path> for Location {
    fn from(path: &Path) -> Location {
        // A path that is not UTF-8 cannot be a URL: it stays a path, byte for byte.
        match path.to_str() {
            Some(text) => Location::parse(text),
            None => Location::Sqlite(path.to_path_buf()),
        }
    }
}

impl From<PathBuf> for Location {
    fn from(path: PathBuf) -> Location {
        Location::from(path.as_path())
    }
}

impl From<&PathBuf> for Location {
    fn from(path: &PathBuf) -> Location {
        Location::from(path.as_path())
    }
}

impl From<&Location> for Location {
    fn from(location: &Location) -> Location {
        location.clone()
    }
}

/// Whether `text` names a PostgreSQL database rather than a SQLite file.
fn is_postgres_url(text: &str) -> bool {
    text.starts_with("postgres://") || text.starts_with("postgresql://")
}

/// The URL with any password (in the user info or a `password=` parameter)
/// replaced by `***`, for messages and `Debug`; a URL whose password cannot
/// be found for sure is hidden whole (see [`super::pg_url`]).
pub(crate) fn redacted_url(url: &str) -> String {
    super::pg_url::redacted(url)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacted_url_hides_passwords_and_keeps_the_rest() {
        assert_eq!(
            redacted_url("postgres://u:s3cr3t@db.example:5432/vault"),
            "postgres://u:***@db.example:5432/vault"
        );
        assert_eq!(
            redacted_url("postgresql://u:p@ss:w@h/d?sslmode=disable&password=x2"),
            "postgresql://u:***@h/d?sslmode=disable&password=***"
        );
        assert_eq!(redacted_url("postgres://u@h/d"), "postgres://u@h/d");
        assert_eq!(redacted_url("postgres://h"), "postgres://h");
    }

    #[test]
    fn a_url_keeps_its_double_slash_and_hides_its_password_in_display_and_debug() {
        let loc = Location::from("postgresql://u:pw@h:5432/db");
        assert_eq!(loc.to_string(), "postgresql://u:***@h:5432/db");
        let dbg = format!("{loc:?}");
        assert!(
            dbg.contains("postgresql://u:***@h") && !dbg.contains("pw"),
            "{dbg}"
        );
    }

    #[test]
    fn anything_but_a_postgres_url_is_a_sqlite_path() {
        for text in ["v.db", "/tmp/x.db", "postgres:/not-a-url", "./postgres://x"] {
            assert_eq!(
                Location::from(text).sqlite_path(),
                Some(Path::new(text)),
                "{text}"
            );
        }
    }
}
