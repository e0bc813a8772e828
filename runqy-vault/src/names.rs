//! The rules for vault names, keys and values (SPEC §4).
//!
//! Every write path (API, CLI, import, C, Python, worker-side injection)
//! calls these; they are the only place the rules live.

use crate::error::{thousands, Error, NameKind, Result};

/// Longest vault name, in characters.
pub const MAX_VAULT_NAME_LEN: usize = 64;
/// Longest key, in characters.
pub const MAX_KEY_LEN: usize = 256;
/// Largest value, in bytes of UTF-8.
pub const MAX_VALUE_LEN: usize = 65_536;

/// Vault names that would be confused with the environment they feed.
const RESERVED_VAULT_NAMES: &[&str] = &[
    "PATH",
    "HOME",
    "VIRTUAL_ENV",
    "PYTHONPATH",
    "USER",
    "SHELL",
    "PWD",
    "TMPDIR",
];

/// Keys that would let a vault hijack the worker's process, its loader, or
/// an interpreter or tool a task runs (SPEC §4).
const RESERVED_KEYS: &[&str] = &[
    "PATH",
    "HOME",
    "VIRTUAL_ENV",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "IFS",
    "PROMPT_COMMAND",
    "GCONV_PATH",
    "NODE_OPTIONS",
    "PERL5OPT",
    "PERL5LIB",
    "RUBYOPT",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "GIT_SSH_COMMAND",
    "GIT_EXEC_PATH",
];

/// Reserved key prefixes: every `PYTHON*` variable (each can make the
/// interpreter run code), the loaders' `LD_` and `DYLD_`, runqy's own
/// `RUNQY_`, and bash's exported functions.
const RESERVED_KEY_PREFIXES: &[&str] = &["PYTHON", "LD_", "DYLD_", "RUNQY_", "BASH_FUNC_"];

/// The first bytes, in either case, of every reserved key and prefix, made
/// from the two lists: most keys are cleared by it without a pass over them.
const RESERVED_FIRST_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let lists = [RESERVED_KEYS, RESERVED_KEY_PREFIXES];
    let mut l = 0;
    while l < lists.len() {
        let mut i = 0;
        while i < lists[l].len() {
            let first = lists[l][i].as_bytes()[0];
            table[first.to_ascii_uppercase() as usize] = true;
            table[first.to_ascii_lowercase() as usize] = true;
            i += 1;
        }
        l += 1;
    }
    table
};

/// Checks a vault name: `^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$`, not reserved.
///
/// ```
/// use runqy_vault::names::check_vault_name;
/// assert!(check_vault_name("api-keys").is_ok());
/// assert!(check_vault_name("-leading-dash").is_err());
/// assert!(check_vault_name("path").is_err()); // reserved, any case
/// ```
pub fn check_vault_name(name: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidName {
        kind: NameKind::Vault,
        name: name.to_owned(),
        reason: reason.to_owned(),
    };
    let mut chars = name.chars();
    match chars.next() {
        None => return Err(invalid("must not be empty")),
        Some(c) if !c.is_ascii_alphanumeric() => {
            return Err(invalid("must start with a letter or digit"))
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
        return Err(invalid(
            "may contain only letters, digits, '_' and '-' (pattern ^[a-zA-Z0-9][a-zA-Z0-9_-]{0,63}$)",
        ));
    }
    if name.len() > MAX_VAULT_NAME_LEN {
        return Err(invalid("must be at most 64 characters"));
    }
    let upper = name.to_ascii_uppercase();
    if RESERVED_VAULT_NAMES.contains(&upper.as_str()) {
        return Err(Error::ReservedName {
            kind: NameKind::Vault,
            name: name.to_owned(),
            reason: format!("{upper} is reserved"),
        });
    }
    Ok(())
}

/// Checks a key: `^[A-Za-z_][A-Za-z0-9_]*$`, at most 256 characters, not reserved.
///
/// ```
/// use runqy_vault::names::check_key;
/// assert!(check_key("OPENAI_API_KEY").is_ok());
/// assert!(check_key("ld_preload").is_err()); // reserved, any case
/// assert!(check_key("RUNQY_ANYTHING").is_err()); // reserved prefix
/// ```
pub fn check_key(key: &str) -> Result<()> {
    let invalid = |reason: &str| Error::InvalidName {
        kind: NameKind::Key,
        name: key.to_owned(),
        reason: reason.to_owned(),
    };
    let mut chars = key.chars();
    match chars.next() {
        None => return Err(invalid("must not be empty")),
        Some(c) if !(c.is_ascii_alphabetic() || c == '_') => {
            return Err(invalid("must start with a letter or '_'"))
        }
        Some(_) => {}
    }
    if !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(invalid(
            "may contain only letters, digits and '_' (pattern ^[A-Za-z_][A-Za-z0-9_]*$)",
        ));
    }
    if key.len() > MAX_KEY_LEN {
        return Err(invalid("must be at most 256 characters"));
    }
    match reserved_key_reason(key) {
        Some(reason) => Err(Error::ReservedName {
            kind: NameKind::Key,
            name: key.to_owned(),
            reason,
        }),
        None => Ok(()),
    }
}

/// Why `key` is reserved (compared upper-cased), `None` when it is not. For
/// keys an older store may already hold: they stay readable, but a payload
/// leaves them out with this reason (SPEC §4).
///
/// ```
/// use runqy_vault::names::reserved_key_reason;
/// assert!(reserved_key_reason("PythonWarnings").unwrap().contains("PYTHON"));
/// assert_eq!(reserved_key_reason("API_KEY"), None);
/// ```
pub fn reserved_key_reason(key: &str) -> Option<String> {
    // Compared case-blind in place, not on an upper-cased copy: a payload
    // asks this of every key it sends, and the copy showed in its profile.
    // The lists are upper case, so a reserved key is named as upper-cased.
    if !key
        .as_bytes()
        .first()
        .is_some_and(|b| RESERVED_FIRST_BYTES[usize::from(*b)])
    {
        return None;
    }
    if let Some(name) = RESERVED_KEYS.iter().find(|r| r.eq_ignore_ascii_case(key)) {
        return Some(format!("{name} is reserved"));
    }
    RESERVED_KEY_PREFIXES
        .iter()
        .find(|p| {
            key.as_bytes()
                .get(..p.len())
                .is_some_and(|head| head.eq_ignore_ascii_case(p.as_bytes()))
        })
        .map(|prefix| format!("names starting with {prefix} are reserved"))
}

/// Checks a value for `key` in `vault`: no NUL byte, at most 65,536 bytes.
/// The error names the vault and key, never the value.
pub fn check_value(vault: &str, key: &str, value: &str) -> Result<()> {
    let invalid = |reason: String| Error::InvalidValue {
        vault: vault.to_owned(),
        key: key.to_owned(),
        reason,
    };
    if value.len() > MAX_VALUE_LEN {
        return Err(invalid(format!(
            "is {} bytes, more than the limit of {} bytes",
            thousands(value.len()),
            thousands(MAX_VALUE_LEN)
        )));
    }
    if value.as_bytes().contains(&0) {
        return Err(invalid(
            "contains a NUL byte, which cannot be passed in an environment variable".to_owned(),
        ));
    }
    Ok(())
}

/// The error for a value whose reading stopped at the limit (standard
/// input, a stream): its true size is not known, only that it is too big.
pub fn value_over_limit(vault: &str, key: &str) -> Error {
    Error::InvalidValue {
        vault: vault.to_owned(),
        key: key.to_owned(),
        reason: format!("is more than {} bytes, the limit", thousands(MAX_VALUE_LEN)),
    }
}

/// Checks a whole entry: vault name, key, value.
pub fn check_entry(vault: &str, key: &str, value: &str) -> Result<()> {
    check_vault_name(vault)?;
    check_key(key)?;
    check_value(vault, key, value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::ErrorKind;

    fn kind(r: Result<()>) -> ErrorKind {
        r.unwrap_err().kind()
    }

    #[test]
    fn vault_name_accepts_the_upstream_pattern() {
        for ok in [
            "a",
            "0",
            "api-keys",
            "model_credentials",
            "A1-_z",
            &"x".repeat(64),
        ] {
            assert!(check_vault_name(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn vault_name_rejects_empty_long_and_ill_formed_names() {
        for bad in ["", "-a", "_a", "a b", "a/b", "a.b", "é", &"x".repeat(65)] {
            assert_eq!(kind(check_vault_name(bad)), ErrorKind::InvalidName, "{bad}");
        }
    }

    #[test]
    fn vault_name_reserved_in_any_case() {
        for bad in [
            "PATH",
            "path",
            "Home",
            "virtual_env",
            "PythonPath",
            "user",
            "shell",
            "pwd",
            "TmpDir",
        ] {
            let err = check_vault_name(bad).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::ReservedName, "{bad}");
            assert!(err.to_string().contains(bad), "{err}");
        }
    }

    #[test]
    fn key_accepts_identifiers_up_to_256_characters() {
        for ok in [
            "A",
            "_",
            "_x1",
            "OPENAI_API_KEY",
            "lower_case",
            &"K".repeat(256),
        ] {
            assert!(check_key(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn key_rejects_empty_long_and_ill_formed_keys() {
        for bad in ["", "1A", "A-B", "A B", "A=B", "A.B", "É", &"K".repeat(257)] {
            assert_eq!(kind(check_key(bad)), ErrorKind::InvalidName, "{bad}");
        }
    }

    #[test]
    fn key_reserved_names_and_prefixes_in_any_case() {
        for bad in [
            "PATH",
            "home",
            "Virtual_Env",
            "PYTHONPATH",
            "ld_preload",
            "LD_AUDIT",
            "LD_LIBRARY_PATH",
            "PythonHome",
            "PYTHONSTARTUP",
            "bash_env",
            "ENV",
            "DYLD_INSERT_LIBRARIES",
            "dyld_x",
            "RUNQY_VAULT_KEYS",
            "runqy_anything",
            "PYTHONWARNINGS",
            "pythonbreakpoint",
            "LD_ANYTHING",
            "BASH_FUNC_x",
            "SHELLOPTS",
            "ps4",
            "IFS",
            "NODE_OPTIONS",
            "_JAVA_OPTIONS",
            "GIT_SSH_COMMAND",
        ] {
            assert_eq!(kind(check_key(bad)), ErrorKind::ReservedName, "{bad}");
        }
        // Only exact names and the listed prefixes are reserved.
        assert!(check_key("PATHS").is_ok());
        assert!(check_key("ENVIRONMENT").is_ok());
        assert!(check_key("MY_RUNQY_KEY").is_ok());
    }

    #[test]
    fn code_execution_variables_accepted_as_keys_are_now_reserved() {
        // Each of these makes an interpreter, the loader or a tool run code
        // of the setter's choosing (PYTHONWARNINGS=ignore::x.Y imports x).
        for bad in [
            "PYTHONWARNINGS",
            "PYTHONINSPECT",
            "PYTHONBREAKPOINT",
            "PYTHONUSERBASE",
            "pythonpath",
            "LD_BIND_NOW",
            "ld_debug",
            "DYLD_LIBRARY_PATH",
            "BASH_FUNC_ls%%",
            "BASH_FUNC_x",
            "BASH_ENV",
            "ENV",
            "SHELLOPTS",
            "BASHOPTS",
            "PS4",
            "IFS",
            "PROMPT_COMMAND",
            "GCONV_PATH",
            "NODE_OPTIONS",
            "PERL5OPT",
            "PERL5LIB",
            "RUBYOPT",
            "JAVA_TOOL_OPTIONS",
            "_JAVA_OPTIONS",
            "GIT_SSH_COMMAND",
            "git_exec_path",
        ] {
            let err = check_key(bad).unwrap_err();
            // `BASH_FUNC_ls%%` breaks the pattern first; either way it is refused.
            assert!(
                matches!(err.kind(), ErrorKind::ReservedName | ErrorKind::InvalidName),
                "{bad}"
            );
            if bad.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                assert_eq!(err.kind(), ErrorKind::ReservedName, "{bad}");
                assert!(reserved_key_reason(bad).is_some(), "{bad}");
                assert!(err.to_string().contains(bad), "{err}");
            }
        }
        for ok in [
            "PYTHO",
            "MY_PYTHON",
            "LD",
            "NODE",
            "GIT_TOKEN",
            "PS5",
            "PS4X",
        ] {
            assert!(check_key(ok).is_ok(), "{ok}");
            assert_eq!(reserved_key_reason(ok), None, "{ok}");
        }
    }

    #[test]
    fn reserved_keys_match_in_any_case_and_are_named_upper_cased() {
        assert_eq!(
            reserved_key_reason("path").as_deref(),
            Some("PATH is reserved")
        );
        assert_eq!(
            reserved_key_reason("Git_Ssh_Command").as_deref(),
            Some("GIT_SSH_COMMAND is reserved")
        );
        assert_eq!(
            reserved_key_reason("pythonpath").as_deref(),
            Some("names starting with PYTHON are reserved")
        );
        assert_eq!(
            reserved_key_reason("ld_preload").as_deref(),
            Some("names starting with LD_ are reserved")
        );
        assert_eq!(
            reserved_key_reason("Bash_Func_x").as_deref(),
            Some("names starting with BASH_FUNC_ are reserved")
        );
        // Shorter than a prefix, or a non-ASCII byte where a prefix's letter
        // would be (no case folding beyond ASCII, no slicing inside a char).
        assert_eq!(reserved_key_reason("LD"), None);
        assert_eq!(reserved_key_reason("L\u{e9}_X"), None);
        assert_eq!(reserved_key_reason("PYTH\u{d6}N"), None);
        assert_eq!(reserved_key_reason(""), None);
        // Every entry, in either case, passes the first-byte table; and the
        // message names the list's entry, so the lists must be upper case.
        for name in RESERVED_KEYS.iter().chain(RESERVED_KEY_PREFIXES) {
            assert!(reserved_key_reason(name).is_some(), "{name}");
            assert!(
                reserved_key_reason(&name.to_ascii_lowercase()).is_some(),
                "{name}"
            );
            assert_eq!(*name, name.to_ascii_uppercase(), "{name}");
        }
        assert_eq!(reserved_key_reason("KEY_PATH"), None);
    }

    #[test]
    fn inaccurate_messages_a_value_over_the_limit_gives_its_true_size() {
        let big = "x".repeat(70_000);
        let msg = check_value("v", "K", &big).unwrap_err().to_string();
        assert!(
            msg.contains("is 70,000 bytes, more than the limit of 65,536 bytes"),
            "{msg}"
        );
        let msg = value_over_limit("v", "K").to_string();
        assert_eq!(
            msg,
            "invalid value for key 'K' in vault 'v': is more than 65,536 bytes, the limit"
        );
    }

    #[test]
    fn value_rejects_nul_and_oversize_without_echoing_the_value() {
        let err = check_value("v", "K", "secret\0tail").unwrap_err();
        assert_eq!(err.kind(), ErrorKind::InvalidValue);
        let msg = err.to_string();
        assert!(
            msg.contains("'K'") && msg.contains("'v'") && msg.contains("NUL"),
            "{msg}"
        );
        assert!(!msg.contains("secret"), "{msg}");

        let big = "x".repeat(MAX_VALUE_LEN + 1);
        assert_eq!(kind(check_value("v", "K", &big)), ErrorKind::InvalidValue);
        assert!(check_value("v", "K", &"x".repeat(MAX_VALUE_LEN)).is_ok());
    }

    #[test]
    fn value_accepts_empty_multiline_and_shell_characters() {
        for ok in [
            "",
            "a\nb\r\n",
            "a=b",
            "\"quoted\" 'single'",
            "$HOME ${X} `cmd`",
        ] {
            assert!(check_value("v", "K", ok).is_ok());
        }
    }
}
