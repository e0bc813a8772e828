//! `runqy-vault`: the `runqy vault` commands on a local store (SPEC §8).
//!
//! Output is the same whether or not a terminal is attached; only `delete`
//! asks a question. Errors are one `error: ` line on standard error, exit 1;
//! usage errors exit 2 (clap's own). No command prints a secret value except
//! `get` and `payload`, which exist to print them. `run` exits with its
//! command's status instead.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use runqy_vault::{Location, Store};
use zeroize::Zeroizing;

mod audit;
mod history;
mod keys;
mod output;
mod queues;
mod run;
mod shell;
mod transfer;
mod vaults;

/// The secret vault of the runqy job queue: named vaults of encrypted
/// key/value entries in a SQLite file or a PostgreSQL database.
///
/// The master key comes from RUNQY_VAULT_MASTER_KEY (or the file named by
/// RUNQY_VAULT_MASTER_KEY_FILE, or the output of RUNQY_VAULT_MASTER_KEY_COMMAND);
/// make one with `runqy-vault keygen` or
/// `openssl rand -base64 32`.
#[derive(Parser)]
#[command(name = "runqy-vault", version)]
struct Cli {
    /// The store: a SQLite database file, or a PostgreSQL URL
    /// (postgres://user:password@host:port/db?sslmode=verify-full) [default:
    /// $RUNQY_VAULT_DB, or runqy-vault.db in the working directory].
    // Not clap's `env`: it refuses an empty RUNQY_VAULT_DB, which the core reads as unset.
    #[arg(long, global = true, value_name = "PATH|URL")]
    db: Option<PathBuf>,

    #[command(subcommand)]
    command: Command,
}

/// Where the queue configurations are (SPEC §14).
#[derive(Args, Clone, Default)]
pub(crate) struct ConfigArgs {
    /// A queue configuration: a runqy YAML file, or a directory whose *.yaml
    /// and *.yml files holding `queues:` are read, as the runqy server reads
    /// it. Repeatable. Default: $QUEUE_WORKERS_DIR when set. The runqy
    /// server's own `queues` table is read too, when the database has one.
    #[arg(long = "config", value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,
}

/// `--json`: one JSON document on standard output instead of the table.
#[derive(Args, Clone, Copy, Default)]
pub(crate) struct JsonArg {
    /// Print the same data as one JSON document, for scripts (values masked
    /// exactly as in the table).
    #[arg(long)]
    pub(crate) json: bool,
}

#[derive(Subcommand)]
enum Command {
    /// List the vaults with their descriptions and entry counts.
    List {
        #[command(flatten)]
        json: JsonArg,
    },
    /// Create an empty vault.
    Create {
        name: String,
        /// What the vault holds.
        #[arg(short, long, value_name = "TEXT")]
        description: Option<String>,
    },
    /// Show a vault and its entries (secret values masked).
    Show {
        name: String,
        #[command(flatten)]
        json: JsonArg,
    },
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
        /// Check-and-set: write only if the entry's current version is N (0:
        /// only if it does not exist); otherwise fail naming the current version.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        cas: Option<i64>,
        #[command(flatten)]
        configs: ConfigArgs,
    },
    /// Print an entry's value (or one of its versions) and a newline, nothing else.
    Get {
        vault: String,
        key: String,
        /// Print version N from the entry's history instead of the current value.
        #[arg(long, value_name = "N", allow_negative_numbers = true)]
        version: Option<i64>,
    },
    /// Remove an entry.
    Unset {
        vault: String,
        key: String,
        #[command(flatten)]
        configs: ConfigArgs,
    },
    /// List a vault's entries (secret values masked).
    Entries {
        vault: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Delete a vault and all its entries, after asking (y/N); the question
    /// names the queues that list the vault. Their versions are kept until `purge`.
    Delete {
        name: String,
        /// Do not ask.
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        configs: ConfigArgs,
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
    /// Write every vault with its values as JSON to FILE, created with mode
    /// 0600 (an existing FILE is refused): encrypted to age recipients with
    /// --to, or in plaintext with --plaintext. One of the two is required: no
    /// plaintext copy of every secret lands on disk by default.
    #[command(group(clap::ArgGroup::new("how").required(true).args(["to", "plaintext"])))]
    Export {
        file: PathBuf,
        /// Encrypt to this age recipient (a public key `age1...` from
        /// `age-keygen`); repeat for several. `age -d -i KEY FILE` or
        /// `import FILE --identity KEY` reads it.
        #[arg(long, value_name = "AGE_RECIPIENT")]
        to: Vec<String>,
        /// Write the values in plaintext JSON (SPEC §6's document).
        #[arg(long)]
        plaintext: bool,
    },
    /// Import a document written by `export` (all of it or nothing): existing
    /// vaults are merged, existing keys replaced.
    Import {
        file: PathBuf,
        /// Decrypt an export made with --to, with this age identity file
        /// (`AGE-SECRET-KEY-1...`).
        #[arg(long, value_name = "IDENTITY_FILE")]
        identity: Option<PathBuf>,
    },
    /// Rewrite a legacy (runqy server) store to the v2 format.
    Migrate,
    /// List an entry's versions, newest first (values masked): VERSION, VALUE,
    /// SECRET, CREATED, ACTOR, STATE (current, replaced or removed), LAST READ
    /// (from the audit log). Works for removed entries and deleted vaults too.
    History {
        vault: String,
        key: String,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Make version N of an entry current again, as a new version.
    Rollback {
        vault: String,
        key: String,
        #[arg(value_name = "N", allow_negative_numbers = true)]
        version: i64,
    },
    /// Bring back a removed entry: its last version becomes current again, as a new version.
    Restore { vault: String, key: String },
    /// Destroy an entry and every version of it, or with no KEY the vault, its
    /// entries and all their versions, after asking (y/N). Cannot be undone.
    Purge {
        vault: String,
        key: Option<String>,
        /// Do not ask.
        #[arg(long)]
        force: bool,
    },
    /// Show how many versions of each key are kept (the current one included),
    /// or set it to N (1 keeps only current values); lowering it prunes every key.
    HistoryLimit {
        #[arg(value_name = "N", allow_negative_numbers = true)]
        limit: Option<i64>,
    },
    /// The audit log: who did what, and who got which secret when (SPEC §13).
    /// The actor of every command is $RUNQY_VAULT_ACTOR, else user@host.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Show whether reads that hand out values (get, payload, resolve,
    /// export) are recorded in the audit log, or turn that on or off (on by
    /// default; the change is recorded).
    AuditReads {
        #[arg(value_enum)]
        switch: Option<audit::Switch>,
    },
    /// Show which queues use each vault (their deployment.vaults, or their
    /// git_token), vaults no queue uses, and vaults queues name that do not
    /// exist. Needs no master key.
    Usage {
        /// Only this vault.
        vault: Option<String>,
        #[command(flatten)]
        configs: ConfigArgs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Find every problem that keeps workers from receiving their secrets,
    /// one line each (error:, warning:, note:), never a value; exit status 1
    /// when there are errors. Every entry is decrypted once to prove it decrypts.
    Check {
        /// Report entries not updated for more than DAYS days.
        #[arg(long, value_name = "DAYS", default_value_t = runqy_vault::check::DEFAULT_MAX_AGE_DAYS)]
        max_age: u32,
        #[command(flatten)]
        configs: ConfigArgs,
        #[command(flatten)]
        json: JsonArg,
    },
    /// Run a command with vault values in its environment and its output
    /// redacted, as a runqy worker runs a task.
    ///
    /// The command gets run's own environment and each --env-file's variables,
    /// without any variable named RUNQY_* (the worker's own: the master key,
    /// RUNQY_API_KEY, ...; --keep passes one on), and on top the values of the
    /// vaults listed (a payload of those vaults: in order, later wins) or of a
    /// registration payload, and RUNQY_VAULT_KEYS naming them. A variable whose
    /// value is vault://VAULT/KEY is given that entry's value. A payload's
    /// git_token never reaches the command. Standard input is inherited; core
    /// dumps are off for the command; its standard output and standard error
    /// pass through a redactor of every value given. run exits with the
    /// command's status (128 + N when it died of signal N; 127 when it was not
    /// found, 126 when it could not be executed).
    Run(run::RunArgs),
    /// Print a shell completion script: `runqy-vault completions bash >
    /// /etc/bash_completion.d/runqy-vault`.
    Completions {
        #[arg(value_enum)]
        shell: shell::Shell,
    },
    /// Print the manual page (roff), made from these same definitions:
    /// `runqy-vault man > runqy-vault.1`.
    #[command(hide = true)]
    Man,
}

/// A failure to report as `error: <message>`; never holds a secret value.
pub(crate) struct Failure(pub(crate) String);

impl From<runqy_vault::Error> for Failure {
    fn from(e: runqy_vault::Error) -> Self {
        Failure(e.to_string())
    }
}

/// What every command returns.
pub(crate) type Outcome = Result<(), Failure>;

fn main() -> ExitCode {
    // Before any key is read: a crash must not write keys or values to a core file.
    if let Err(e) = runqy_vault::process::forbid_core_dumps() {
        eprintln!("error: cannot turn core dumps off: {e}");
        return ExitCode::FAILURE;
    }
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => code,
        Err(Failure(message)) => {
            // One line, whatever the message holds.
            eprintln!("error: {}", message.replace(['\n', '\r'], " "));
            ExitCode::FAILURE
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode, Failure> {
    let location = match &cli.db {
        Some(db) => Location::from(db),
        None => Location::from_env(),
    };
    // The commands that need no open store (usage and check open it their own way).
    match cli.command {
        Command::Keygen => return keys::keygen().map(|()| ExitCode::SUCCESS),
        Command::Completions { shell } => {
            return shell::completions(shell).map(|()| ExitCode::SUCCESS)
        }
        Command::Man => return shell::man().map(|()| ExitCode::SUCCESS),
        Command::Usage {
            vault,
            configs,
            json,
        } => {
            return queues::usage(&location, vault.as_deref(), &configs, json)
                .map(|()| ExitCode::SUCCESS)
        }
        Command::Check {
            max_age,
            configs,
            json,
        } => return queues::check(location, max_age, &configs, json),
        // Opens the store only if it reads from it (a worker with a payload has no key).
        Command::Run(args) => return run::run(location, args),
        _ => {}
    }
    let store = Store::open(location, None)?;
    let verifying = matches!(
        cli.command,
        Command::Audit {
            command: audit::AuditCommand::Verify
        }
    );
    let out = run_on(&store, cli.command);
    // A broken log does not stop a command; it is said once (verify says it itself).
    if let (Some(problem), false) = (store.audit_problem(), verifying) {
        eprintln!(
            "warning: the audit log is broken: {}; run `runqy-vault audit verify`",
            output::one_line(&problem)
        );
    }
    out.map(|()| ExitCode::SUCCESS)
}

fn run_on(store: &Store, command: Command) -> Outcome {
    match command {
        Command::Keygen
        | Command::Completions { .. }
        | Command::Man
        | Command::Usage { .. }
        | Command::Check { .. }
        | Command::Run(_) => unreachable!("handled in run"),
        Command::List { json } => vaults::list(store, json),
        Command::Create { name, description } => {
            vaults::create(store, &name, description.as_deref())
        }
        Command::Show { name, json } => vaults::show(store, &name, json),
        Command::Set {
            vault,
            key,
            value,
            no_secret,
            cas,
            configs,
        } => {
            let value = Zeroizing::new(value);
            vaults::set(store, &vault, &key, &value, !no_secret, cas, &configs)
        }
        Command::Get {
            vault,
            key,
            version: None,
        } => vaults::get(store, &vault, &key),
        Command::Get {
            vault,
            key,
            version: Some(n),
        } => history::get_version(store, &vault, &key, n),
        Command::Unset {
            vault,
            key,
            configs,
        } => vaults::unset(store, &vault, &key, &configs),
        Command::Entries { vault, json } => vaults::entries(store, &vault, json),
        Command::Delete {
            name,
            force,
            configs,
        } => vaults::delete(store, &name, force, &configs),
        Command::Payload { vaults, git_token } => {
            transfer::payload(store, &vaults, git_token.as_deref())
        }
        Command::RotateKey { new_key_file } => keys::rotate_key(store, new_key_file.as_deref()),
        Command::Export { file, to, .. } => transfer::export(store, &file, &to),
        Command::Import { file, identity } => transfer::import(store, &file, identity.as_deref()),
        Command::Migrate => keys::migrate(store),
        Command::History { vault, key, json } => history::history(store, &vault, &key, json),
        Command::Rollback {
            vault,
            key,
            version,
        } => history::rollback(store, &vault, &key, version),
        Command::Restore { vault, key } => history::restore(store, &vault, &key),
        Command::Purge { vault, key, force } => {
            history::purge(store, &vault, key.as_deref(), force)
        }
        Command::HistoryLimit { limit } => history::history_limit(store, limit),
        Command::Audit { command } => audit::run(store, command),
        Command::AuditReads { switch } => audit::reads(store, switch),
    }
}

/// The clap definitions, for completions and the manual page.
pub(crate) fn command() -> clap::Command {
    <Cli as clap::CommandFactory>::command()
}
