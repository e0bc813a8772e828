//! Where a store lives: a SQLite file or a PostgreSQL database (SPEC §2).
//!
//! A location is given as text (`--db`, `RUNQY_VAULT_DB`, the API): one that
//! starts with `postgres://` or `postgresql://` is a PostgreSQL URL, anything
//! else a SQLite path. A URL may hold a password, so it is kept apart from
//! paths and only ever shown with the password replaced by `***`.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::error::{shown, Error, Result};

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

    /// Refuses a location no store can live in: an empty path, and SQLite's
    /// in-memory databases (`:memory:`, `file::memory:`, `mode=memory`,
    /// `vfs=memdb`). Each pooled connection would get its own private
    /// database (a second thread sees `no such table`) and every value would
    /// vanish at close. [`Store::open`](super::Store::open) calls it first.
    ///
    /// ```
    /// use runqy_vault::{ErrorKind, Location};
    /// assert!(Location::from("vault.db").check().is_ok());
    /// for bad in ["", ":memory:", "file::memory:?cache=shared", "file:x.db?mode=memory"] {
    ///     assert_eq!(Location::from(bad).check().unwrap_err().kind(), ErrorKind::InvalidInput);
    /// }
    /// ```
    pub fn check(&self) -> Result<()> {
        let Location::Sqlite(path) = self else {
            return Ok(());
        };
        if path.as_os_str().is_empty() {
            return Err(Error::InvalidInput(
                "the database path is empty: give the path of a SQLite file (or a PostgreSQL URL)"
                    .to_owned(),
            ));
        }
        let target = SqliteTarget::of(path);
        // `file:` alone is a temporary database, deleted at close: as bad.
        let in_memory = path.as_os_str() == ":memory:"
            || (target.uri
                && (target.file.as_os_str().is_empty()
                    || target.file.as_os_str() == ":memory:"
                    || target.has_param("mode", "memory")
                    || target.has_param("vfs", "memdb")));
        if in_memory {
            return Err(Error::InvalidInput(format!(
                "'{}' is an in-memory (or temporary) SQLite database: each connection of the store would get \
                 its own empty database and every value would vanish at close; give the path of \
                 a file",
                shown(&path.to_string_lossy())
            )));
        }
        Ok(())
    }
}

/// A SQLite location as SQLite reads it: a plain path, or a `file:` URI
/// (SQLite's URI filenames) with its decoded path and query parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SqliteTarget {
    /// Whether the location was a `file:` URI.
    pub uri: bool,
    /// The file the location names (decoded from a URI).
    pub file: PathBuf,
    /// A URI's query parameters, decoded; empty for a plain path.
    pub params: Vec<(String, String)>,
}

impl SqliteTarget {
    /// Reads `path` as SQLite does when URI filenames are on.
    pub(crate) fn of(path: &Path) -> SqliteTarget {
        use std::os::unix::ffi::OsStrExt;
        let bytes = path.as_os_str().as_bytes();
        let Some(rest) = bytes.strip_prefix(b"file:") else {
            return SqliteTarget {
                uri: false,
                file: path.to_path_buf(),
                params: Vec::new(),
            };
        };
        let rest = rest.split(|&b| b == b'#').next().unwrap_or_default();
        let (mut file, query) = match rest.iter().position(|&b| b == b'?') {
            Some(i) => (&rest[..i], &rest[i + 1..]),
            None => (rest, &[][..]),
        };
        if let Some(after) = file.strip_prefix(b"//") {
            // `file://authority/path`: SQLite accepts only an empty authority or localhost.
            let end = after.iter().position(|&b| b == b'/').unwrap_or(after.len());
            file = &after[end..];
        }
        let params = query
            .split(|&b| b == b'&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = match p.iter().position(|&b| b == b'=') {
                    Some(i) => (&p[..i], &p[i + 1..]),
                    None => (p, &[][..]),
                };
                (
                    String::from_utf8_lossy(&percent_decode(k)).into_owned(),
                    String::from_utf8_lossy(&percent_decode(v)).into_owned(),
                )
            })
            .collect();
        SqliteTarget {
            uri: true,
            file: PathBuf::from(std::ffi::OsStr::from_bytes(&percent_decode(file))),
            params,
        }
    }

    /// Whether a query parameter is set to `value` (case-insensitive).
    pub(crate) fn has_param(&self, name: &str, value: &str) -> bool {
        self.params
            .iter()
            .any(|(k, v)| k == name && v.eq_ignore_ascii_case(value))
    }
}

/// `%HH` decoded, as SQLite decodes URI filenames; anything else kept.
fn percent_decode(bytes: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// `path` as a SQLite URI filename (`file:...`), every byte but the
/// unreserved ones and `/` percent-encoded, so any path survives.
pub(crate) fn sqlite_uri(path: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let bytes = path.as_os_str().as_bytes();
    // An absolute path gets an empty authority, so `//x` is never read as a host.
    let mut out = String::from(if bytes.starts_with(b"/") {
        "file://"
    } else {
        "file:"
    });
    for &b in bytes {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
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
    fn in_memory_and_empty_paths_are_refused() {
        for bad in [
            "",
            ":memory:",
            "file::memory:",
            "file::memory:?cache=shared",
            "file:",
            "file:whatever?mode=memory",
            "file:x.db?mode=Memory&cache=shared",
            "file:/x.db?vfs=memdb",
            "file:%3Amemory%3A",
        ] {
            let err = Location::from(bad)
                .check()
                .expect_err(&format!("{bad:?} is refused"));
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput, "{bad:?}");
            let msg = err.to_string();
            assert!(
                msg.contains("in-memory") || msg.contains("empty"),
                "{bad:?}: {msg}"
            );
        }
        for ok in [
            "v.db",
            "./:memory:",
            "memory.db",
            "file:v.db?mode=ro",
            "postgres://h/d",
        ] {
            assert!(Location::from(ok).check().is_ok(), "{ok}");
        }
    }

    #[test]
    fn sqlite_targets_decode_uris_and_keep_plain_paths() {
        let t = SqliteTarget::of(Path::new("file:///tmp/a%20b.db?mode=ro&immutable=1#frag"));
        assert!(t.uri);
        assert_eq!(t.file, Path::new("/tmp/a b.db"));
        assert!(t.has_param("mode", "ro") && t.has_param("immutable", "1"));
        let t = SqliteTarget::of(Path::new("file://localhost/x.db"));
        assert_eq!(t.file, Path::new("/x.db"));
        let t = SqliteTarget::of(Path::new("dir/file?.db"));
        assert!(!t.uri);
        assert_eq!(t.file, Path::new("dir/file?.db"));
        assert_eq!(
            sqlite_uri(Path::new("/a b/c?#%.db")),
            "file:///a%20b/c%3F%23%25.db"
        );
        assert_eq!(sqlite_uri(Path::new("rel/x.db")), "file:rel/x.db");
        for p in ["/a b/c?#%.db", "rel/x.db", "//two/slashes"] {
            assert_eq!(
                SqliteTarget::of(Path::new(&sqlite_uri(Path::new(p)))).file,
                Path::new(p)
            );
        }
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
