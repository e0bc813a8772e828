//! Rewriting every value of a store under other keys or another format, in
//! the transaction of a rotation or a migration (SPEC §6, §12): the current
//! values and every kept version, a page at a time, and the runqy server's
//! other secrets under the same master key.

use super::backend::{DigestMoves, ProviderRow, Rewrites};
use super::history::digest;
use super::op::Writer;
use super::Crypto;
use crate::cipher::{Binding, Cipher};
use crate::error::{shown, Error, Result};

/// Rows read, re-encrypted and written per page: the whole store is never in memory.
const PAGE: u32 = 1000;

/// The runqy server's table of autoscale providers: its `config` column is
/// encrypted with the vault master key (legacy format, no associated data;
/// upstream `app/autoscale/provider/store.go`).
pub(crate) const PROVIDERS_TABLE: &str = "autoscale_providers";

/// Re-encrypts every entry and every kept version from `old` into `new`'s
/// key and format (versions are always v2), checking that each new blob
/// decrypts to the same plaintext before it is written. Returns how many
/// entries were rewritten.
pub(crate) fn reencrypt_all(w: &mut Writer<'_>, old: &Crypto, new: &Crypto) -> Result<u64> {
    let entries = reencrypt_entries(w, old, new)?;
    reencrypt_versions(w, &old.cipher, new)?;
    Ok(entries)
}

fn reencrypt_entries(w: &mut Writer<'_>, old: &Crypto, new: &Crypto) -> Result<u64> {
    let mut count = 0u64;
    let mut after = i64::MIN;
    loop {
        let mut page = Rewrites::with_capacity(PAGE as usize);
        // The current version stays current: its digest follows the blob.
        let mut digests = DigestMoves::with_capacity(PAGE as usize);
        w.tx.entries_after(after, PAGE, &mut |vault, row| {
            let Some(row) = row else { return Ok(()) };
            let at = Binding {
                vault,
                key: row.key,
                is_secret: row.is_secret,
            };
            let plain = old.cipher.decrypt(old.format, at, row.value)?.0;
            let fresh = new
                .cipher
                .encrypt(new.format, at, plain.expose().as_bytes());
            let (check, _) = new.cipher.decrypt(new.format, at, &fresh)?;
            if check != plain {
                return Err(Error::DecryptionFailed {
                    vault: vault.to_owned(),
                    key: row.key.to_owned(),
                });
            }
            digests.push(vault, row.key, &digest(row.value), &digest(&fresh));
            page.push(row.paged_id()?, fresh);
            Ok(())
        })?;
        let Some(&last) = page.ids.last() else {
            return Ok(count);
        };
        let full = page.ids.len() == PAGE as usize;
        count += page.ids.len() as u64;
        // One statement each for the whole page (PostgreSQL: sent with the
        // next page's read).
        w.tx.update_values(page)?;
        w.tx.update_entry_digests(digests)?;
        if !full {
            return Ok(count); // a short page is the last: no read to find the end
        }
        after = last;
    }
}

fn reencrypt_versions(w: &mut Writer<'_>, old: &Cipher, new: &Crypto) -> Result<u64> {
    let mut count = 0u64;
    let mut after = i64::MIN;
    loop {
        let mut page = Rewrites::with_capacity(PAGE as usize);
        w.tx.versions_after(after, PAGE, &mut |row| {
            let at = Binding {
                vault: row.vault,
                key: row.key,
                is_secret: row.is_secret,
            };
            let failed = || Error::VersionDecryptionFailed {
                vault: row.vault.to_owned(),
                key: row.key.to_owned(),
                version: row.version,
            };
            let version = u64::try_from(row.version).map_err(|_| failed())?;
            let plain = old.decrypt_version(at, version, row.value)?.0;
            let fresh = new
                .cipher
                .encrypt_version(at, version, plain.expose().as_bytes());
            let (check, _) = new.cipher.decrypt_version(at, version, &fresh)?;
            if check != plain {
                return Err(failed());
            }
            page.push(row.id, fresh);
            Ok(())
        })?;
        let Some(&last) = page.ids.last() else {
            return Ok(count);
        };
        let full = page.ids.len() == PAGE as usize;
        count += page.ids.len() as u64;
        w.tx.update_version_values(page)?;
        if count == u64::from(PAGE) {
            // Half-way point for the crash tests: some pages written, some not.
            crate::test_hooks::pause("reencrypt-page");
        }
        if !full {
            return Ok(count);
        }
        after = last;
    }
}

/// Re-encrypts the `config` of every row of the runqy server's
/// [`PROVIDERS_TABLE`] from `old`'s keys to `new`'s current key, still in
/// the legacy format (the server reads only that), in the rotation's
/// transaction: without it a newer server sharing the database could no
/// longer read its autoscale providers. A row no key of `old` opens refuses
/// the rotation, naming the table and the provider, and nothing changes.
/// Returns how many rows were rewritten (0 when the table is absent).
pub(crate) fn reencrypt_providers(w: &mut Writer<'_>, old: &Cipher, new: &Cipher) -> Result<u64> {
    if !w.tx.table_exists(PROVIDERS_TABLE)? {
        return Ok(0);
    }
    let mut count = 0u64;
    let mut after = i64::MIN;
    loop {
        let mut page = Rewrites::with_capacity(PAGE as usize);
        w.tx.providers_after(after, PAGE, &mut |row: ProviderRow<'_>| {
            let refused = |why: &str| {
                Error::storage(format!(
                    "rotation refused: the config of provider '{}' in the runqy server's table \
                     {PROVIDERS_TABLE} {why}; nothing was changed",
                    shown(row.name)
                ))
            };
            let plain = old
                .decrypt_legacy_bytes(row.config)
                .ok_or_else(|| refused("does not decrypt under the current master key"))?;
            let fresh = new.encrypt_legacy_bytes(&plain);
            if new
                .decrypt_legacy_bytes(&fresh)
                .as_deref()
                .map(Vec::as_slice)
                != Some(&plain[..])
            {
                return Err(refused("did not re-encrypt correctly"));
            }
            page.push(row.id, fresh);
            Ok(())
        })?;
        let Some(&last) = page.ids.last() else {
            return Ok(count);
        };
        let full = page.ids.len() == PAGE as usize;
        count += page.ids.len() as u64;
        w.tx.update_provider_configs(page)?;
        if !full {
            return Ok(count);
        }
        after = last;
    }
}
