//! The whole way, on a fresh SQLite store: create vaults, set secrets, show
//! them masked, build the registration payload a runqy server would send a
//! worker, and start a Python child that reads its secrets from the environment
//! (and not the worker's master key). The same job with the CLI and `run`:
//! `bash scripts/quickstart.sh`.
//!
//! Run: `cargo run --example quickstart`

use std::process::Command;

use runqy_vault::payload::child_env;
use runqy_vault::{mask, MasterKey, Store};

/// The seed: (vault, key, value, secret).
const SEED: &[(&str, &str, &str, bool)] = &[
    ("api-keys", "OPENAI_API_KEY", "sk-proj-old-key-0000", true),
    ("api-keys", "STRIPE_API_KEY", "sk_test_51Habc123xyz", true),
    ("api-keys", "LOG_LEVEL", "info", false),
    (
        "model-credentials",
        "OPENAI_API_KEY",
        "sk-proj-abc123xx",
        true,
    ),
    ("model-credentials", "HF_TOKEN", "hf_AbCdEfGhIjKlMn", true),
    ("model-credentials", "MODEL_NAME", "gpt-4o-mini", false),
];

/// What the worker's Python process runs: it sees only its environment.
const CHILD: &str = r#"
import os
def mask(v):
    return "" if not v else "****" if len(v) <= 4 else v[:2] + "****" + v[-2:]
names = os.environ["RUNQY_VAULT_KEYS"].split(",")
print(f"python child sees {len(names)} vault variables:")
for name in names:
    print(f"  {name}={mask(os.environ[name])}")
if "RUNQY_VAULT_MASTER_KEY" not in os.environ:
    print("the child sees no RUNQY_VAULT_MASTER_KEY")
"#;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let key = MasterKey::generate();
    let store = Store::open(
        dir.path().join("runqy-vault.db"),
        Some(key.to_base64().expose()),
    )?;
    println!(
        "store: {} (format {})",
        store.location(),
        store.format().unwrap().as_str()
    );

    store.create_vault("api-keys", "Third-party API keys")?;
    store.create_vault("model-credentials", "Model provider credentials")?;
    for (vault, k, value, secret) in SEED {
        store.set(vault, k, value, *secret)?;
    }

    for vault in ["api-keys", "model-credentials"] {
        let shown = store.show(vault)?;
        println!("\nVault: {}  ({} entries)", shown.name, shown.entries.len());
        for e in &shown.entries {
            let secret = if e.is_secret { "yes" } else { "no" };
            println!("  {:<16}  {:<16}  {secret}", e.key, e.value);
        }
    }

    // The queue lists both vaults; the later one wins.
    let vaults = ["api-keys", "model-credentials"];
    let resolved = store.resolve(&vaults)?;
    let payload = store.registration_payload(&vaults, None)?;
    println!("\nregistration payload for vaults {vaults:?} (values masked here):");
    for (k, v) in &payload.vaults {
        let from = &resolved.sources[k];
        let shadowed = if from.shadowed.is_empty() {
            String::new()
        } else {
            format!(", shadows {}", from.shadowed.join(", "))
        };
        println!(
            "  {k}={}  (from {}{shadowed})",
            mask(v.expose()),
            from.vault
        );
    }

    // Worker side: the child's environment is the worker's own without its
    // RUNQY_* credentials (here the master key), the payload's vaults on top.
    std::env::set_var("RUNQY_VAULT_MASTER_KEY", key.to_base64().expose());
    let inherited = std::env::vars_os()
        .filter_map(|(n, v)| Some((n.into_string().ok()?, v.into_string().ok()?)));
    let env = child_env(&payload.vaults, inherited, &[] as &[&str])?;
    let mut child = Command::new("python3");
    child.arg("-c").arg(CHILD).env_clear();
    for (name, value) in &env {
        child.env(name, value.expose());
    }
    println!();
    let status = child.status()?;
    if !status.success() {
        return Err(format!("python child failed: {status}").into());
    }
    Ok(())
}
