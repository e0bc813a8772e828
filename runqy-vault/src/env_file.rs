//! Environment files (`run --env-file`, SPEC §11): `NAME=VALUE` lines, read
//! as Docker's `--env-file` reads them, so that a value is never changed on
//! the way.
//!
//! - Lines end at `\n`; a `\r` before it is removed.
//! - White space at the start of a line is ignored; a line that is then
//!   empty, or starts with `#`, is skipped (a `#` later in a line is part of
//!   the value).
//! - `NAME=VALUE`: the name is everything before the first `=`, a
//!   well-formed variable name (`^[A-Za-z_][A-Za-z0-9_]*$`); the value is
//!   everything after it, verbatim: quotes, `#`, `$` and trailing spaces are
//!   kept (there is no quoting, escaping or substitution, unlike a shell or a
//!   dotenv file).
//! - A line without `=` is refused (Docker would take the variable from its
//!   own environment; here the environment passes on anyway).
//! - A name given twice takes its last value.
//!
//! ```
//! let doc = "# the API\nAPI_KEY=vault://api-keys/OPENAI_API_KEY\n  GREETING=\"hello # world\"\n";
//! let vars = runqy_vault::env_file::parse(doc)?;
//! assert_eq!(vars[0].0, "API_KEY");
//! assert_eq!(vars[1].1.expose(), "\"hello # world\"");
//! # Ok::<(), runqy_vault::Error>(())
//! ```

use crate::error::{Error, Result};
use crate::names;
use crate::secret::SecretString;

/// The variables of an environment file, in file order. Errors say which
/// line is wrong and why, and never show a value.
pub fn parse(text: &str) -> Result<Vec<(String, SecretString)>> {
    let mut out = Vec::new();
    for (i, line) in text.split('\n').enumerate() {
        let bad = |why: String| Error::InvalidInput(format!("line {}: {why}", i + 1));
        let line = line.strip_suffix('\r').unwrap_or(line).trim_start();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((name, value)) = line.split_once('=') else {
            // Not shown: a line without '=' may be a value pasted on its own.
            return Err(bad(
                "no '=' (expected NAME=VALUE; the line is not shown, it may be a value)".to_owned(),
            ));
        };
        // The key rule of SPEC §4 is the variable-name rule; reserved names
        // are the caller's own choice here, not a vault's.
        match names::check_key(name) {
            Ok(()) | Err(Error::ReservedName { .. }) => {}
            Err(Error::InvalidName { reason, .. }) => {
                return Err(bad(format!(
                    "invalid variable name '{}': {reason}",
                    shown(name)
                )))
            }
            Err(e) => return Err(bad(e.to_string())),
        }
        if value.contains('\0') {
            return Err(bad(format!(
                "the value of {name} holds a NUL byte, which an environment variable cannot"
            )));
        }
        out.push((name.to_owned(), SecretString::from(value)));
    }
    Ok(out)
}

/// A name as an error shows it: at most 64 characters, control characters escaped.
fn shown(text: &str) -> String {
    let mut out: String = text.chars().take(64).flat_map(char::escape_debug).collect();
    if text.chars().nth(64).is_some() {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(text: &str) -> Vec<(String, String)> {
        parse(text)
            .unwrap()
            .into_iter()
            .map(|(n, v)| (n, v.expose().to_owned()))
            .collect()
    }

    #[test]
    fn values_are_kept_verbatim_and_comments_are_whole_lines() {
        let doc = "\n# comment\n   # indented comment\nA=1\r\n  B= spaced  \nC=\"quoted\"\nD='single' # not a comment\nE=\nF=a=b\nLD_PRELOAD=/mine.so";
        assert_eq!(
            pairs(doc),
            [
                ("A", "1"),
                ("B", " spaced  "),
                ("C", "\"quoted\""),
                ("D", "'single' # not a comment"),
                ("E", ""),
                ("F", "a=b"),
                ("LD_PRELOAD", "/mine.so"),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn bad_lines_are_refused_naming_the_line_and_never_the_value() {
        for (doc, want) in [
            ("A=1\nsk-secret\n", "line 2: no '=' (expected NAME=VALUE"),
            (
                "A=1\n\nexport B=sk-secret\n",
                "line 3: invalid variable name 'export B'",
            ),
            ("1ABC=sk-secret", "line 1: invalid variable name '1ABC'"),
            ("=sk-secret", "line 1: invalid variable name ''"),
            ("K=a\0sk-secret", "line 1: the value of K holds a NUL byte"),
        ] {
            let err = parse(doc).unwrap_err();
            assert_eq!(err.kind(), crate::ErrorKind::InvalidInput);
            let msg = err.to_string();
            assert!(msg.starts_with(want), "{msg}");
            assert!(!msg.contains("sk-secret"), "{msg}");
        }
    }
}
