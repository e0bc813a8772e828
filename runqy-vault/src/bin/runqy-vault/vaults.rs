//! The `runqy vault` commands on vaults and entries: list, create, show,
//! entries, set, get, unset, delete (SPEC §8).

use std::io::{self, BufRead, Read};

use runqy_vault::names::{self, MAX_VALUE_LEN};
use runqy_vault::Store;
use zeroize::Zeroizing;

use crate::output::{cut, emit, emit_json, one_line, table, yes_no};
use crate::queues::{listing_line, load, notice_change};
use crate::{ConfigArgs, Failure, JsonArg, Outcome};

pub(crate) fn list(store: &Store, json: JsonArg) -> Outcome {
    let vaults = store.list_vaults()?;
    if json.json {
        return emit_json(&vaults);
    }
    if vaults.is_empty() {
        return emit("No vaults found.\n");
    }
    let rows = vaults
        .iter()
        .map(|v| {
            vec![
                one_line(&v.name),
                cut(&one_line(&v.description), 40),
                v.entry_count.to_string(),
            ]
        })
        .collect();
    emit(&table(&["NAME", "DESCRIPTION", "ENTRIES"], rows))
}

pub(crate) fn create(store: &Store, name: &str, description: Option<&str>) -> Outcome {
    store.create_vault(name, description.unwrap_or(""))?;
    emit(&format!("Vault '{name}' created successfully.\n"))
}

pub(crate) fn show(store: &Store, name: &str, json: JsonArg) -> Outcome {
    let detail = store.show(name)?;
    if json.json {
        return emit_json(&detail);
    }
    let mut out = format!("Vault: {}\n", detail.name);
    if !detail.description.is_empty() {
        out.push_str(&format!("Description: {}\n", one_line(&detail.description)));
    }
    out.push_str(&format!(
        "Created: {}\nUpdated: {}\n\n",
        detail.created_at, detail.updated_at
    ));
    if detail.entries.is_empty() {
        out.push_str("No entries.\n");
    } else {
        out.push_str(&format!("Entries ({}):\n", detail.entries.len()));
        let rows = detail
            .entries
            .iter()
            .map(|e| vec![e.key.clone(), one_line(&e.value), yes_no(e.is_secret)])
            .collect();
        out.push_str(&table(&["KEY", "VALUE", "SECRET"], rows));
    }
    emit(&out)
}

pub(crate) fn entries(store: &Store, vault: &str, json: JsonArg) -> Outcome {
    let entries = store.entries(vault)?;
    if json.json {
        return emit_json(&entries);
    }
    if entries.is_empty() {
        return emit("No entries.\n");
    }
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.key.clone(),
                one_line(&e.value),
                yes_no(e.is_secret),
                e.updated_at.clone(),
            ]
        })
        .collect();
    emit(&table(&["KEY", "VALUE", "SECRET", "UPDATED"], rows))
}

/// `set VAULT KEY VALUE [--cas N]`; VALUE `-` reads standard input.
pub(crate) fn set(
    store: &Store,
    vault: &str,
    key: &str,
    value: &str,
    secret: bool,
    cas: Option<i64>,
    configs: &ConfigArgs,
) -> Outcome {
    let configs = load(configs)?;
    let write = |value: &str| match cas {
        None => store.set(vault, key, value, secret),
        Some(cas) => store.set_cas(vault, key, value, secret, cas).map(drop),
    };
    if value == "-" {
        let bytes = read_stdin_value()?;
        if bytes.len() > STDIN_READ_LIMIT {
            // Reading stopped at the bound: the true size is unknown, only too big.
            return Err(names::value_over_limit(vault, key).into());
        }
        let text = std::str::from_utf8(&bytes).map_err(|_| runqy_vault::Error::InvalidValue {
            vault: vault.to_owned(),
            key: key.to_owned(),
            reason: "standard input is not valid UTF-8".to_owned(),
        })?;
        write(strip_one_newline(text))?;
    } else {
        write(value)?;
    }
    emit(&format!("Entry '{key}' set in vault '{vault}'.\n"))?;
    notice_change(store, vault, key, &configs);
    Ok(())
}

pub(crate) fn get(store: &Store, vault: &str, key: &str) -> Outcome {
    let value = store.get(vault, key)?;
    let mut line = Zeroizing::new(String::with_capacity(value.expose().len() + 1));
    line.push_str(value.expose());
    line.push('\n');
    emit(&line)
}

pub(crate) fn unset(store: &Store, vault: &str, key: &str, configs: &ConfigArgs) -> Outcome {
    let configs = load(configs)?;
    store.unset(vault, key)?;
    emit(&format!("Entry '{key}' removed from vault '{vault}'.\n"))?;
    notice_change(store, vault, key, &configs);
    Ok(())
}

pub(crate) fn delete(store: &Store, name: &str, force: bool, configs: &ConfigArgs) -> Outcome {
    let configs = load(configs)?;
    // Checked first, so nobody confirms the deletion of a vault that is not there.
    if !store.vault_exists(name)? {
        return Err(runqy_vault::Error::VaultNotFound {
            vaults: vec![name.to_owned()],
        }
        .into());
    }
    if !force {
        if let Some(line) = listing_line(store, name, &configs)? {
            emit(&line)?;
        }
        // SPEC §12: the line before upstream's question says the history stays.
        emit(&format!(
            "The versions of its entries are kept until `runqy-vault purge {name}`.\n\
             Are you sure you want to delete vault '{name}' and all its entries? (y/N): "
        ))?;
        let mut answer = String::new();
        io::stdin()
            .lock()
            .read_line(&mut answer)
            .map_err(|e| Failure(format!("standard input: {e}")))?;
        if !matches!(answer.trim(), "y" | "Y") {
            return emit("Cancelled.\n");
        }
    }
    store.delete_vault(name)?;
    emit(&format!("Vault '{name}' deleted successfully.\n"))
}

/// The most standard input may hold for `set -`: the largest value and a
/// trailing "\r\n" (removed before the value is checked).
const STDIN_READ_LIMIT: usize = MAX_VALUE_LEN + 2;

/// Reads a value from standard input: at most one byte past
/// [`STDIN_READ_LIMIT`], so that an oversized value is refused without
/// reading it all.
fn read_stdin_value() -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .take(STDIN_READ_LIMIT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| Failure(format!("standard input: {e}")))?;
    Ok(buf)
}

/// `echo value |` adds one newline; exactly one is removed ("\n" or "\r\n").
fn strip_one_newline(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}
