//! The stored rows of recently listed vaults, kept beside one SQLite
//! connection so a registration payload can skip the query.
//!
//! What is kept is what is on disk: names, flags and ciphertext, never a
//! plaintext. The rows are valid for one `PRAGMA data_version` of their
//! connection: that number changes when any other connection (in this
//! process or another) commits, and the pool forgets the rows whenever their
//! own connection writes, which `data_version` does not count.

use std::collections::HashMap;

use super::backend::{Each, EntryRow, Newest, Stamp};
use crate::error::Result;

/// Rows kept per connection at most, counted in bytes of names and values:
/// enough for hundreds of typical vaults; a store of bigger vaults simply
/// queries more often.
pub(crate) const MAX_BYTES: usize = 4 << 20;

/// One entry as stored: the owned copy of an [`EntryRow`] (without the
/// id and timestamps a payload never reads).
struct Row {
    key: String,
    value: Vec<u8>,
    is_secret: bool,
    /// The key's newest kept version: number, flag, entry digest.
    newest: Option<(i64, bool, Option<[u8; 32]>)>,
    /// The entry's current version, once an audited payload worked it out.
    version: std::cell::OnceCell<Option<i64>>,
}

/// Vault name → its rows, for one data version of one connection.
#[derive(Default)]
pub(crate) struct RowCache {
    version: Option<i64>,
    vaults: HashMap<String, Vec<Row>>,
    bytes: usize,
}

impl RowCache {
    /// Whether the rows are of `version` and every vault in `names` is kept.
    pub(crate) fn holds(&self, version: i64, names: &[&str]) -> bool {
        self.version == Some(version) && names.iter().all(|n| self.vaults.contains_key(*n))
    }

    /// Moves to `version`, dropping rows of any other version.
    pub(crate) fn at_version(&mut self, version: i64) {
        if self.version != Some(version) {
            self.forget();
            self.version = Some(version);
        }
    }

    /// Drops every row: the connection wrote, so its data version no longer
    /// tells whether they are current.
    pub(crate) fn forget(&mut self) {
        self.version = None;
        self.vaults.clear();
        self.bytes = 0;
    }

    /// Whether `vault`'s rows are kept.
    pub(crate) fn has(&self, vault: &str) -> bool {
        self.vaults.contains_key(vault)
    }

    /// Records that `vault` exists (with no rows yet) and, with `entry`, one of its rows.
    pub(crate) fn add(&mut self, vault: &str, entry: Option<EntryRow<'_>>) {
        if !self.vaults.contains_key(vault) {
            self.bytes += vault.len();
            self.vaults.insert(vault.to_owned(), Vec::new());
        }
        if let Some(e) = entry {
            self.bytes += e.key.len() + e.value.len();
            let rows = self.vaults.get_mut(vault).expect("inserted above");
            rows.push(Row {
                key: e.key.to_owned(),
                value: e.value.to_vec(),
                is_secret: e.is_secret,
                newest: e.newest.map(|n| {
                    (
                        n.version,
                        n.is_secret,
                        n.digest.and_then(|d| <[u8; 32]>::try_from(d).ok()),
                    )
                }),
                version: std::cell::OnceCell::new(),
            });
        }
    }

    /// Makes room before adding: past [`MAX_BYTES`] everything goes (the
    /// version stays), which keeps the bound without bookkeeping per vault.
    pub(crate) fn trim(&mut self) {
        if self.bytes > MAX_BYTES {
            self.vaults.clear();
            self.bytes = 0;
        }
    }

    /// Calls `each` for `vault`'s rows, or once with `None` when it has none;
    /// not at all when the vault is not kept.
    pub(crate) fn visit(&self, vault: &str, each: &mut Each<'_>) -> Result<()> {
        let Some(rows) = self.vaults.get(vault) else {
            return Ok(());
        };
        if rows.is_empty() {
            return each(vault, None);
        }
        for r in rows {
            let at = EntryRow {
                id: None,
                key: &r.key,
                value: &r.value,
                is_secret: r.is_secret,
                created_at: Stamp::NotRead,
                updated_at: Stamp::NotRead,
                newest: r
                    .newest
                    .as_ref()
                    .map(|(version, is_secret, digest)| Newest {
                        version: *version,
                        is_secret: *is_secret,
                        digest: digest.as_ref().map(|d| d.as_slice()),
                    }),
                memo: Some(&r.version),
            };
            each(vault, Some(at))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry<'a>(key: &'a str, value: &'a [u8]) -> Option<EntryRow<'a>> {
        Some(EntryRow {
            id: Some(1),
            key,
            value,
            is_secret: true,
            created_at: Stamp::NotRead,
            updated_at: Stamp::NotRead,
            newest: None,
            memo: None,
        })
    }

    fn visited(cache: &RowCache, vault: &str) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        cache
            .visit(vault, &mut |v, e| {
                out.push((v.to_owned(), e.map(|e| e.key.to_owned())));
                Ok(())
            })
            .unwrap();
        out
    }

    #[test]
    fn rows_hold_only_for_their_version_and_until_forgotten() {
        let mut c = RowCache::default();
        c.at_version(7);
        c.add("a", entry("K1", b"blob"));
        c.add("a", entry("K2", b"blob"));
        c.add("empty", None);
        assert!(c.holds(7, &["a", "empty"]));
        assert!(!c.holds(7, &["a", "b"]), "b was never read");
        assert!(!c.holds(8, &["a"]), "another connection committed");
        assert_eq!(
            visited(&c, "a"),
            [
                ("a".into(), Some("K1".into())),
                ("a".into(), Some("K2".into()))
            ]
        );
        assert_eq!(visited(&c, "empty"), [("empty".into(), None)]);
        assert!(visited(&c, "b").is_empty());

        c.at_version(8);
        assert!(!c.has("a"), "a new version drops the old rows");
        c.add("a", entry("K1", b"blob"));
        c.forget();
        assert!(!c.holds(8, &["a"]), "own write: nothing is trusted");
    }

    #[test]
    fn past_the_byte_bound_trim_drops_the_rows_but_keeps_the_version() {
        let mut c = RowCache::default();
        c.at_version(1);
        let big = vec![0u8; MAX_BYTES];
        c.add("a", entry("K", &big));
        c.trim();
        assert!(!c.has("a"));
        assert_eq!(c.bytes, 0);
        c.add("b", entry("K", b"x"));
        c.trim();
        assert!(c.holds(1, &["b"]));
    }
}
