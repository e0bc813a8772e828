//! `runqy-vault`: the `runqy vault` commands on a local store (SPEC §8).
//!
//! Output is the same whether or not a terminal is attached; only `delete`
//! asks a question. Errors are one `error: ` line on standard error, exit 1;
//! usage errors exit 2 (clap's own). No command prints a secret value except
//! `get` and `payload`, which exist to print them.

use std::io::{self, BufRead, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use runqy_vault::names::MAX_VALUE_LEN;
use runqy_vault::{ExportDocument, Format, MasterKey, Store};
use zeroize::Zeroizing;

/// The secret vault of the runqy job queue: named vaults of encrypted
/// key/value entries in a SQLite file.
///
/// The master key comes from RUNQY_VAULT_MASTER_KEY (or the file named by
/// RUNQY_VAULT_MASTER_KEY_FILE); make one with `runqy-vault keygen` or
/// `openssl rand -base64 32`.
#[derive(Parser)]
#[command(name = "runqy-vault", version)]
struct Cli {
    /// The SQLite database file of the store [default: $RUNQY_VAULT_DB, or
    /// runqy-vault.db in the working directory].
    // Not clap's `env`: it refuses an empty RUNQY_VAULT_DB, which the core reads as unset.
    #[arg(long, global = true, value_name = "PATH")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// List the vaults with their descriptions and entry counts.
    List,
    /// Create an empty vault.
    Create {
        name: String,
        /// What the vault holds.
        #[arg(short, long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// Show a vault and its entries (secret values masked).
    Show { name: String },
    /// Set an entry (insert or replace); the value is secret unless --no-secret.
    Set {
        vault: String,
        key: String,
        /// The value, or `-` to read it from standard input so that it stays out
        /// of the shell history. From standard input: all bytes are read, they
        /// must be UTF-8, and one trailing newline ("\n" or "\r\n") is removed,
        /// so `echo secret | runqy-vault set VAULT KEY -` stores `secret`. To
        /// store a literal `-`, use `printf %s - | runqy-vault set VAULT KEY -`.
        #[arg(allow_hyphen_values = true)]
        value: String,
        /// Store the value as non-secret: shown unmasked by `show` and `entries`.
        #[arg(long)]
        no_secret: bool,
    },
    /// Print an entry's value and a newline, nothing else.
    Get { vault: String, key: String },
    /// Remove an entry.
    Unset { vault: String, key: String },
    /// List a vault's entries (secret values masked).
    Entries { vault: String },
    /// Delete a vault and all its entries, after asking (y/N).
    Delete {
        name: String,
        /// Do not ask.
        #[arg(long)]
        force: bool,
    },
    /// Print a new random master key (base64 of 32 bytes).
    Keygen,
    /// Print the registration payload JSON for the listed vaults (later vaults
    /// override earlier ones); warnings go to standard error.
    Payload {
        #[arg(required = true, value_name = "VAULT")]
        vaults: Vec<String>,
        /// Where the git token is: vault://VAULT/KEY.
        #[arg(long, value_name = "REF")]
        git_token: Option<String>,
    },
    /// Re-encrypt every entry under a new master key, read from standard input
    /// (or --new-key-file), in one transaction.
    RotateKey {
        /// Read the new key from this file instead of standard input.
        #[arg(long, value_name = "FILE")]
        new_key_file: Option<PathBuf>,
    },
    /// Write every vault with plaintext values as JSON to FILE, created with
    /// mode 0600; an existing FILE is refused.
    Export { file: PathBuf },
    /// Import a document written by `export` (all of it or nothing): existing
    /// vaults are merged, existing keys replaced.
    Import { file: PathBuf },
    /// Rewrite a legacy (runqy server) store to the v2 format.
    Migrate,
}

/// A failure to report as `error: <message>`; never holds a secret value.
struct Failure(String);

impl From<runqy_vault::Error> for Failure {
    fn from(e: runqy_vault::Error) -> Self {
        Failure(e.to_string())
    }
}

type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Failure(message)) => {
            // One line, whatever the message holds.
            eprintln!("error: {}", message.replace(['\n', '\r'], " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Outcome {
    if let Command::Keygen = cli.command {
        return emit(&format!("{}\n", MasterKey::generate().to_base64().expose()));
    }
    let db = cli.db.unwrap_or_else(Store::default_path);
    let store = Store::open(&db, None)?;
    match cli.command {
        Command::Keygen => unreachable!("handled above"),
        Command::List => list(&store),
        Command::Create { name, description } => {
            store.create_vault(&name, description.as_deref().unwrap_or(""))?;
            emit(&format!("Vault '{name}' created successfully.\n"))
        }
        Command::Show { name } => show(&store, &name),
        Command::Set {
            vault,
            key,
            value,
            no_secret,
        } => {
            let value = Zeroizing::new(value);
            if value.as_str() == "-" {
                let bytes = read_stdin_value()?;
                let text = std::str::from_utf8(&bytes).map_err(|_| {
                    Failure(format!(
                        "invalid value for key '{key}' in vault '{vault}': \
                         standard input is not valid UTF-8"
                    ))
                })?;
                store.set(&vault, &key, strip_one_newline(text), !no_secret)?;
            } else {
                store.set(&vault, &key, &value, !no_secret)?;
            }
            emit(&format!("Entry '{key}' set in vault '{vault}'.\n"))
        }
        Command::Get { vault, key } => {
            let value = store.get(&vault, &key)?;
            let mut line = Zeroizing::new(String::with_capacity(value.expose().len() + 1));
            line.push_str(value.expose());
            line.push('\n');
            emit(&line)
        }
        Command::Unset { vault, key } => {
            store.unset(&vault, &key)?;
            emit(&format!("Entry '{key}' removed from vault '{vault}'.\n"))
        }
        Command::Entries { vault } => entries(&store, &vault),
        Command::Delete { name, force } => delete(&store, &name, force),
        Command::Payload { vaults, git_token } => {
            let payload = store.registration_payload(&vaults, git_token.as_deref())?;
            for warning in &payload.warnings {
                eprintln!("warning: {warning}");
            }
            let mut json = Zeroizing::new(payload.to_json().expose().to_owned());
            json.push('\n');
            emit(&json)
        }
        Command::RotateKey { new_key_file } => rotate_key(&store, new_key_file.as_deref()),
        Command::Export { file } => export(&store, &file),
        Command::Import { file } => {
            let doc = ExportDocument::read_file(&file)?;
            let count = store.import(&doc)?;
            emit(&format!("Imported {count} entries.\n"))
        }
        Command::Migrate => {
            if store.format() == Some(Format::V2) {
                return emit("Store is already v2.\n");
            }
            let count = store.migrate()?;
            emit(&format!(
                "Store migrated to v2: {count} entries re-encrypted.\n"
            ))
        }
    }
}

fn list(store: &Store) -> Outcome {
    let vaults = store.list_vaults()?;
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

fn show(store: &Store, name: &str) -> Outcome {
    let detail = store.show(name)?;
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

fn entries(store: &Store, vault: &str) -> Outcome {
    let entries = store.entries(vault)?;
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

fn delete(store: &Store, name: &str, force: bool) -> Outcome {
    // Checked first, so nobody confirms the deletion of a vault that is not there.
    if !store.vault_exists(name)? {
        return Err(runqy_vault::Error::VaultNotFound {
            vaults: vec![name.to_owned()],
        }
        .into());
    }
    if !force {
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

fn rotate_key(store: &Store, new_key_file: Option<&Path>) -> Outcome {
    let (bytes, source) = match new_key_file {
        Some(path) => (
            Zeroizing::new(
                std::fs::read(path).map_err(|e| Failure(format!("{}: {e}", path.display())))?,
            ),
            path.display().to_string(),
        ),
        None => {
            let mut buf = Zeroizing::new(Vec::new());
            io::stdin()
                .lock()
                .read_to_end(&mut buf)
                .map_err(|e| Failure(format!("standard input: {e}")))?;
            (buf, "standard input".to_owned())
        }
    };
    let text = std::str::from_utf8(&bytes).map_err(|_| {
        Failure(format!(
            "invalid master key from {source}: it is not UTF-8 text"
        ))
    })?;
    let new_key = MasterKey::parse(text, &source)?;
    let count = store.rotate_key(&new_key)?;
    emit(&format!(
        "Master key rotated: {count} entries re-encrypted under key id {}.\n\
         Set RUNQY_VAULT_MASTER_KEY (or the file RUNQY_VAULT_MASTER_KEY_FILE names) \
         to the new key now: the old key no longer opens this store.\n",
        new_key.key_id()
    ))
}

fn export(store: &Store, file: &Path) -> Outcome {
    let doc = store.export()?;
    doc.write_new_file(file)?;
    let entries: usize = doc.vaults.iter().map(|v| v.entries.len()).sum();
    // Standard error: export never writes to standard output.
    eprintln!(
        "Exported {} vaults ({entries} entries) to {}.",
        doc.vaults.len(),
        file.display()
    );
    Ok(())
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

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// A table cell on one line: control characters escaped.
fn one_line(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// At most `max` characters, the last three `...` when cut (as `runqy vault list`).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// Columns separated by two spaces, each as wide as its widest cell; the last
/// column is not padded, so no line ends in spaces.
fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut all: Vec<Vec<String>> = vec![header.iter().map(|h| h.to_string()).collect()];
    all.extend(rows);
    let mut widths = vec![0; header.len()];
    for row in &all {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in &all {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - cell.chars().count() + 2;
                out.push_str(&" ".repeat(pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Writes to standard output; a failed write (a closed pipe) is an error, not a panic.
fn emit(text: &str) -> Outcome {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure(format!("standard output: {e}")))
}
