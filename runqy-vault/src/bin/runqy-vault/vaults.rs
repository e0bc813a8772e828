//! The `runqy vault` commands on vaults and entries: list, create, show,
//! entries, set, get, unset, delete (SPEC §8).

use std::io::{self, BufRead, Read};

use runqy_vault::names::MAX_VALUE_LEN;
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

/// `set VAULT KEY VALUE`; VALUE `-` reads standard input.
pub(crate) fn set(
    store: &Store,
    vault: &str,
    key: &str,
    value: &str,
    secret: bool,
    configs: &ConfigArgs,
) -> Outcome {
    let configs = load(configs)?;
    if value == "-" {
        let bytes = read_stdin_value()?;
        let text = std::str::from_utf8(&bytes).map_err(|_| {
            Failure(format!(
                "invalid value for key '{key}' in vault '{vault}': \
                 standard input is not valid UTF-8"
            ))
        })?;
        store.set(vault, key, strip_one_newline(text), secret)?;
    } else {
        store.set(vault, key, value, secret)?;
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
        emit(&format!(
            "Are you sure you want to delete vault '{name}' and all its entries? (y/N): "
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

/// Reads a value from standard input: at most a little more than the size
/// limit, so that an oversized value is refused without reading it all.
fn read_stdin_value() -> Result<Zeroizing<Vec<u8>>, Failure> {
    let mut buf = Zeroizing::new(Vec::new());
    io::stdin()
        .lock()
        .take(MAX_VALUE_LEN as u64 + 3)
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
