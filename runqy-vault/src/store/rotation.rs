//! Rewriting every value of a store under other keys or another format, in
//! the transaction of a rotation or a migration (SPEC §6).

use super::op::Writer;
use super::Crypto;
use crate::cipher::{Binding, Cipher};
use crate::error::{Error, Result};

/// Entries read, re-encrypted and written per page: the whole store is never in memory.
const PAGE: u32 = 1000;

/// Re-encrypts every entry from `old` into `new`'s key and format, checking
/// that each new blob decrypts to the same plaintext before it is written.
/// Returns how many entries were rewritten.
pub(crate) fn reencrypt_all(w: &mut Writer<'_>, old: &Cipher, new: &Crypto) -> Result<u64> {
    let mut count = 0u64;
    let mut after = i64::MIN;
    loop {
        let mut page: Vec<(i64, Vec<u8>)> = Vec::with_capacity(PAGE as usize);
        w.tx.entries_after(after, PAGE, &mut |vault, row| {
            let Some(row) = row else { return Ok(()) };
            let at = Binding {
                vault,
                key: row.key,
                is_secret: row.is_secret,
            };
            let plain = old.decrypt(at, row.value)?.0;
            let fresh = new
                .cipher
                .encrypt(new.format, at, plain.expose().as_bytes());
            let (check, _) = new.cipher.decrypt(at, &fresh)?;
            if check != plain {
                return Err(Error::DecryptionFailed {
                    vault: vault.to_owned(),
                    key: row.key.to_owned(),
                });
            }
            page.push((row.id, fresh));
            Ok(())
        })?;
        let Some(&(last, _)) = page.last() else {
            return Ok(count);
        };
        for (id, blob) in &page {
            w.tx.update_value(*id, blob)?;
        }
        count += page.len() as u64;
        after = last;
    }
}
