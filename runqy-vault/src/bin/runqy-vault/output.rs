//! How the CLI prints (SPEC §8): tables padded by two spaces, cells on one
//! line, and writes to standard output that fail cleanly on a closed pipe.

use std::io::{self, Write};

use crate::Failure;
use crate::Outcome;

/// `yes` / `no`, as the SECRET column shows a flag.
pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

/// A table cell on one line: control characters escaped.
pub(crate) fn one_line(s: &str) -> String {
    // No allocation per character: `list` of 100,000 vaults calls this 200,000 times.
    if !s.chars().any(char::is_control) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

/// At most `max` characters, the last three `...` when cut (as `runqy vault list`).
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(max.saturating_sub(3)).collect();
    out.push_str("...");
    out
}

/// Columns separated by two spaces, each as wide as its widest cell; the last
/// column is not padded, so no line ends in spaces.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let header: Vec<String> = header.iter().map(|h| h.to_string()).collect();
    let all = || std::iter::once(&header).chain(&rows);
    // Each cell's width counted once (characters, not bytes).
    let counts: Vec<Vec<usize>> = all()
        .map(|row| row.iter().map(|c| c.chars().count()).collect())
        .collect();
    let mut widths = vec![0; header.len()];
    for row in &counts {
        for (w, n) in widths.iter_mut().zip(row) {
            *w = (*w).max(*n);
        }
    }
    let mut out = String::new();
    for (row, counts) in all().zip(&counts) {
        let last = row.len() - 1;
        for (i, cell) in row.iter().enumerate() {
            out.push_str(cell);
            if i < last {
                let pad = widths[i] - counts[i] + 2;
                out.extend(std::iter::repeat_n(' ', pad));
            }
        }
        out.push('\n');
    }
    out
}

/// Writes to standard output; a failed write (a closed pipe) is an error, not a panic.
pub(crate) fn emit(text: &str) -> Outcome {
    let mut stdout = io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .map_err(|e| Failure(format!("standard output: {e}")))
}

/// `--json` of a list made a value at a time: the same bytes as
/// [`emit_json`] of the whole list, written as each value comes, so the
/// list is never held (`audit log` of a store whose import records list
/// 10,000 keys each).
pub(crate) fn emit_json_each<T: serde::Serialize>(
    produce: impl FnOnce(&mut dyn FnMut(&T) -> runqy_vault::Result<()>) -> runqy_vault::Result<()>,
) -> Outcome {
    use serde::ser::{SerializeSeq, Serializer as _};
    let failed = |e: &dyn std::fmt::Display| runqy_vault::Error::Io {
        path: "standard output".to_owned(),
        message: e.to_string(),
    };
    let mut out = io::BufWriter::new(io::stdout().lock());
    let mut ser = serde_json::Serializer::pretty(&mut out);
    let mut seq = ser.serialize_seq(None).map_err(|e| failed(&e))?;
    produce(&mut |value| seq.serialize_element(value).map_err(|e| failed(&e)))?;
    seq.end().map_err(|e| failed(&e))?;
    out.write_all(b"\n")
        .and_then(|()| out.flush())
        .map_err(|e| failed(&e).into())
}

/// `--json`: the value as one pretty JSON document and a newline.
pub(crate) fn emit_json<T: serde::Serialize + ?Sized>(value: &T) -> Outcome {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Failure(format!("could not encode the result as JSON: {e}")))?;
    text.push('\n');
    emit(&text)
}
