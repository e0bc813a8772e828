//! Redaction of vault values in a task's output (SPEC §11): the one redactor
//! that the CLI's `run`, the C ABI, Go and Python all use.
//!
//! A [`Redactor`] is made from `(name, value)` pairs, or from a registration
//! payload, and replaces every occurrence of a value by the value's
//! [`mask`](crate::mask::mask) (never the mask of the encoded text), in each of
//! the forms a value commonly takes in logs:
//!
//! - the value itself;
//! - standard and URL-safe base64, padded and unpadded, at each of the three
//!   byte alignments: the characters fully decided by the value's bytes when
//!   it sits at offset 0, 1 or 2 of a longer encoded text, as the GitHub
//!   Actions runner masks secrets, so a value is also found inside a base64
//!   blob (an HTTP basic-auth header, a JSON document encoded whole);
//! - percent-encoding as Python's `quote` and `quote_plus` write it: `%20` or
//!   `+` for a space, `/` kept or encoded, upper-case hex;
//! - JSON string escaping, ASCII-only (`\uXXXX`, as Python's `json.dumps`) and
//!   not (as `json.dumps(..., ensure_ascii=False)`, JavaScript and serde);
//! - Python's `repr` of a `str` (its text between the quotes).
//!
//! A value holding a newline is matched line by line: each line, without its
//! surrounding white space, of at least [`MIN_CHARS`] characters becomes the
//! whole value's mask, and the newlines stay, so what is masked never depends
//! on how the output is cut into lines or writes. (Its encoded forms, which
//! hold no newline byte, are matched whole.)
//!
//! Short text is left alone, because masking every `"yes"` or `"1234"` would
//! mangle ordinary output: a value (or a line of a multi-line value) shorter
//! than [`MIN_CHARS`] Unicode scalar values is not redacted, and its name is
//! reported by [`Redactor::skipped`] so the caller can warn. A derived form
//! shorter than [`MIN_CHARS`] characters is dropped for the same reason (a
//! guard: every form of a value of 6 characters or more is at least as long;
//! the base64 of 6 bytes decides 7 characters at any alignment).
//!
//! Matching is on bytes, with the `aho-corasick` crate (leftmost-longest,
//! non-overlapping, so the output is deterministic: of the forms starting
//! first, the longest wins), behind a sampling filter that skips the
//! stretches of text no form can be in. Output that is not UTF-8 passes
//! through unchanged.
//!
//! A [`Stream`] redacts output as it is written: its result is byte for byte
//! the same however the input is cut into writes, it holds back only bytes
//! that may begin a form (at most the longest form less one byte), and it
//! never holds back a line whose newline has arrived (no form holds a
//! newline byte).
//!
//! This is a safety net for accidents, not a boundary: a task can always
//! transform a value in a way not listed here.
//!
//! ```
//! use runqy_vault::Redactor;
//! let r = Redactor::new([("API_KEY", "sk-proj-abc123")])?;
//! assert_eq!(r.redact("key=sk-proj-abc123 b64=c2stcHJvai1hYmMxMjM="), "key=sk****23 b64=sk****23");
//!
//! let mut stream = r.stream();
//! let mut out = stream.feed(b"key=sk-pr");
//! out.extend(stream.feed(b"oj-abc123\n"));
//! out.extend(stream.finish());
//! assert_eq!(out, b"key=sk****23\n");
//! # Ok::<(), runqy_vault::Error>(())
//! ```

use std::fmt;
use std::fmt::Write as _;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, AhoCorasickKind, MatchKind};
use base64::Engine as _;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};
use unicode_properties::{GeneralCategoryGroup, UnicodeGeneralCategory};
use zeroize::{Zeroize, Zeroizing};

use crate::error::{Error, Result};
use crate::model::RegistrationPayload;
use crate::payload::ENV_VAULT_KEYS;
use crate::secret::SecretString;

/// Values, lines and derived forms shorter than this many Unicode scalar
/// values are left alone (SPEC §11).
pub const MIN_CHARS: usize = 6;

/// The name under which [`Redactor::from_payload`] redacts the payload's git token.
pub const GIT_TOKEN_NAME: &str = "git_token";

/// Up to this many bytes of forms in all, the matcher is a full DFA (the
/// fastest search, but about 300 bytes of tables per byte of forms: here at
/// most ~10 MB); beyond, a contiguous NFA (~7 bytes per byte, half as fast
/// where the prefilter lets it run), so a payload of large values (PEM keys)
/// cannot make the tables balloon.
const DFA_MAX_FORM_BYTES: usize = 32 * 1024;

/// Replaces vault values, in every form listed in the [module docs](self),
/// by their masks.
///
/// Cheap to clone (the matcher is shared). `Debug` shows only counts. The
/// values and their forms are wiped when the last clone is dropped, except
/// the copies inside the `aho-corasick` matcher's tables, which that crate
/// does not wipe.
#[derive(Clone)]
pub struct Redactor {
    inner: Arc<Inner>,
}

struct Inner {
    /// `None` when there is nothing to redact.
    matcher: Option<AhoCorasick>,
    /// Where in a text the matcher need not look; `None` when there is nothing to redact.
    prefilter: Option<Prefilter>,
    /// The forms, sorted (pattern index order); wiped when dropped.
    forms: Vec<Zeroizing<Vec<u8>>>,
    /// Pattern index → index in `masks`.
    mask_of: Vec<usize>,
    /// The mask of each value (what is shown in its place; not secret).
    masks: Vec<String>,
    /// The longest form, in bytes: a stream holds back at most this less one.
    longest: usize,
    values: usize,
    skipped: Vec<String>,
}

impl Redactor {
    /// A redactor of the given `(name, value)` pairs. Names are only used in
    /// [`skipped`](Self::skipped); empty values are ignored. When two values
    /// share a form (rare), the one whose name sorts first gives the mask.
    ///
    /// Fails only if the forms are too many to build a matcher of (far beyond
    /// any registration payload); the error names no value.
    pub fn new<I, N, V>(secrets: I) -> Result<Redactor>
    where
        I: IntoIterator<Item = (N, V)>,
        N: AsRef<str>,
        V: AsRef<str>,
    {
        let mut entries: Vec<(String, SecretString)> = secrets
            .into_iter()
            .filter(|(_, v)| !v.as_ref().is_empty())
            .map(|(n, v)| (n.as_ref().to_owned(), SecretString::from(v.as_ref())))
            .collect();
        entries.sort_by(|a, b| a.0.cmp(&b.0));

        let mut forms: Vec<(Zeroizing<Vec<u8>>, usize)> = Vec::new();
        let mut masks = Vec::new();
        let mut skipped = Vec::new();
        for (name, value) in &entries {
            let (derived, short) = value_forms(value.expose());
            if short {
                skipped.push(name.clone());
            }
            if !derived.is_empty() {
                let mask_index = masks.len();
                masks.push(crate::mask::mask(value.expose()));
                forms.extend(derived.into_iter().map(|f| (f, mask_index)));
            }
        }
        // Stable: among equal forms the first (by name) stays.
        forms.sort_by(|a, b| a.0.as_slice().cmp(b.0.as_slice()));
        forms.dedup_by(|later, first| later.0.as_slice() == first.0.as_slice());
        skipped.sort();
        skipped.dedup();

        let longest = forms.iter().map(|f| f.0.len()).max().unwrap_or(0);
        let matcher = if forms.is_empty() {
            None
        } else {
            let built = matcher(forms.iter().map(|f| f.0.as_slice())).map_err(|e| {
                Error::InvalidInput(format!(
                    "cannot build a redactor of {} values ({} forms): {e}",
                    masks.len(),
                    forms.len()
                ))
            })?;
            Some(built)
        };
        let prefilter = Prefilter::new(forms.iter().map(|f| f.0.as_slice()));
        let (forms, mask_of) = forms.into_iter().unzip();
        Ok(Redactor {
            inner: Arc::new(Inner {
                matcher,
                prefilter,
                forms,
                mask_of,
                masks,
                longest,
                values: entries.len(),
                skipped,
            }),
        })
    }

    /// A redactor of a registration payload's values: its `vaults` entries,
    /// and its git token under the name [`GIT_TOKEN_NAME`] (`git_token`), a
    /// secret a task's output may show too (a clone URL, a failed `git` call).
    pub fn from_payload(payload: &RegistrationPayload) -> Result<Redactor> {
        let token = payload
            .git_token
            .as_ref()
            .map(|t| (GIT_TOKEN_NAME, t.expose()));
        Redactor::new(
            payload
                .vaults
                .iter()
                .map(|(k, v)| (k.as_str(), v.expose()))
                .chain(token),
        )
    }

    /// A redactor of the variables named in `RUNQY_VAULT_KEYS`
    /// (comma-separated, as [`injection`](crate::payload::injection) writes
    /// it), in a task's environment: `lookup` gives a variable's value, or
    /// `None` when it is not set. Named variables that are not set are left out.
    ///
    /// ```
    /// use runqy_vault::{Redactor, SecretString};
    /// let env = [("RUNQY_VAULT_KEYS", "API_KEY"), ("API_KEY", "sk-123456"), ("HOME", "/home/task")];
    /// let get = |name: &str| env.iter().find(|(n, _)| *n == name).map(|(_, v)| SecretString::from(*v));
    /// let r = Redactor::from_environment(get)?;
    /// assert_eq!(r.redact("sk-123456 /home/task"), "sk****56 /home/task");
    /// # Ok::<(), runqy_vault::Error>(())
    /// ```
    pub fn from_environment<F>(mut lookup: F) -> Result<Redactor>
    where
        F: FnMut(&str) -> Option<SecretString>,
    {
        let list = lookup(ENV_VAULT_KEYS).unwrap_or_default();
        let mut pairs = Vec::new();
        for name in list.expose().split(',').filter(|n| !n.is_empty()) {
            if let Some(value) = lookup(name) {
                pairs.push((name.to_owned(), value));
            }
        }
        Redactor::new(pairs.iter().map(|(n, v)| (n.as_str(), v.expose())))
    }

    /// The names of the values left alone, or partly alone, because they (or
    /// one of their lines) are shorter than [`MIN_CHARS`]: sorted, each once.
    /// Never the values.
    pub fn skipped(&self) -> &[String] {
        &self.inner.skipped
    }

    /// Whether there is nothing to redact (no value long enough).
    pub fn is_empty(&self) -> bool {
        self.inner.matcher.is_none()
    }

    /// The length in bytes of the longest form matched; a [`Stream`] holds
    /// back at most this less one byte.
    pub fn longest_form(&self) -> usize {
        self.inner.longest
    }

    /// `text` with every form of every value replaced by the value's mask.
    pub fn redact(&self, text: &str) -> String {
        // Forms are whole UTF-8 sequences, so in UTF-8 text every match starts
        // and ends on a character boundary: the output is UTF-8 too.
        String::from_utf8(self.redact_bytes(text.as_bytes()))
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// [`redact`](Self::redact) on bytes: what is not UTF-8 passes through.
    /// The same as feeding all of `data` to a [`Stream`] and finishing it.
    pub fn redact_bytes(&self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len());
        self.inner.scan(data, false, &mut out);
        out
    }

    /// A streaming redactor for output that arrives in writes.
    pub fn stream(&self) -> Stream {
        Stream {
            redactor: self.clone(),
            // The junction of held-back bytes and a new write fits, so it never reallocates.
            pending: Zeroizing::new(Vec::with_capacity(2 * self.inner.longest)),
        }
    }
}

impl fmt::Debug for Redactor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Redactor")
            .field("values", &self.inner.values)
            .field("forms", &self.inner.mask_of.len())
            .field("skipped", &self.inner.skipped.len())
            .finish()
    }
}

impl Inner {
    /// Redacts `hay` into `out`. When `more` may follow, only what `hay`
    /// already decides is written; returns how many bytes of `hay` were used.
    fn scan(&self, hay: &[u8], more: bool, out: &mut Vec<u8>) -> usize {
        let (Some(matcher), Some(prefilter)) = (&self.matcher, &self.prefilter) else {
            out.extend_from_slice(hay);
            return hay.len();
        };
        let decided = if more { self.decided(hay) } else { hay.len() };
        let mut at = 0;
        prefilter.zones(hay, self.longest, |zone| {
            for m in matcher.find_iter(&hay[zone.clone()]) {
                let (start, end) = (zone.start + m.start(), zone.start + m.end());
                // A match starting here might still grow (or lose to an
                // earlier, longer one) with the bytes to come.
                if start >= decided {
                    return false;
                }
                out.extend_from_slice(&hay[at..start]);
                out.extend_from_slice(self.masks[self.mask_of[m.pattern().as_usize()]].as_bytes());
                at = end;
            }
            zone.end < decided
        });
        if at < decided {
            out.extend_from_slice(&hay[at..decided]);
            at = decided;
        }
        at
    }

    /// The end of what `hay` decides when more may follow: the first
    /// position from which the rest of `hay` could begin a longer form. A
    /// match starting before it cannot grow with the bytes to come, nor can
    /// an earlier one take its place. Only the last longest-form-less-one
    /// bytes, after the last newline (no form holds one), are candidates.
    fn decided(&self, hay: &[u8]) -> usize {
        let tail = hay.len().saturating_sub(self.longest.saturating_sub(1));
        let line = hay[tail..]
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |i| tail + i + 1);
        (tail.max(line)..hay.len())
            .find(|&start| self.begins_a_longer_form(&hay[start..]))
            .unwrap_or(hay.len())
    }

    /// Whether some form is longer than `text` and starts with it.
    fn begins_a_longer_form(&self, text: &[u8]) -> bool {
        // Forms are sorted, so those starting with `text` follow the place it
        // would take, `text` itself first if it is one.
        let at = self.forms.partition_point(|f| f.as_slice() < text);
        self.forms[at..]
            .iter()
            .take(2)
            .any(|f| f.len() > text.len() && f.starts_with(text))
    }
}

/// A [`Redactor`] over output that arrives in writes.
///
/// The output is byte for byte that of [`Redactor::redact_bytes`] on all the
/// input, however it is cut into writes. Bytes that may begin a form are held
/// back (at most [`Redactor::longest_form`] less one, never past a newline)
/// until a later write or [`finish`](Self::finish) decides them. The held
/// bytes are wiped when dropped. `Debug` shows only how many are held.
pub struct Stream {
    redactor: Redactor,
    pending: Zeroizing<Vec<u8>>,
}

impl Stream {
    /// Redacts one write; returns what can be written out now.
    pub fn feed(&mut self, data: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(data.len() + self.pending.len());
        self.feed_into(data, &mut out);
        out
    }

    /// [`feed`](Self::feed), appending to a caller's buffer.
    pub fn feed_into(&mut self, data: &[u8], out: &mut Vec<u8>) {
        let inner = Arc::clone(&self.redactor.inner);
        if self.pending.is_empty() {
            let used = inner.scan(data, true, out);
            self.hold(&data[used..]);
            return;
        }
        // The held bytes and the start of `data` are scanned together; once
        // the scan has decided past the held bytes, the rest is in `data`.
        let held = self.pending.len();
        let take = data.len().min(inner.longest);
        self.pending.extend_from_slice(&data[..take]);
        let used = inner.scan(&self.pending, true, out);
        if take == data.len() {
            self.consume(used);
            return;
        }
        // `take` is a longest form here, so the scan decided at least `held + 1` bytes.
        let from = used.saturating_sub(held);
        self.pending.zeroize();
        let used = inner.scan(&data[from..], true, out);
        self.hold(&data[from + used..]);
    }

    /// Ends the text: returns the bytes held back, redacted. The stream can
    /// then take a new text.
    pub fn finish(&mut self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.pending.len());
        self.finish_into(&mut out);
        out
    }

    /// [`finish`](Self::finish), appending to a caller's buffer.
    pub fn finish_into(&mut self, out: &mut Vec<u8>) {
        self.redactor.inner.scan(&self.pending, false, out);
        self.pending.zeroize();
    }

    /// How many bytes are held back, waiting for what follows.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The redactor this stream uses.
    pub fn redactor(&self) -> &Redactor {
        &self.redactor
    }

    fn hold(&mut self, rest: &[u8]) {
        self.pending.zeroize();
        self.pending.extend_from_slice(rest);
    }

    /// Drops the first `used` held bytes, wiping the copies the shift leaves.
    fn consume(&mut self, used: usize) {
        let len = self.pending.len();
        self.pending.copy_within(used.., 0);
        self.pending[len - used..].zeroize();
        self.pending.truncate(len - used);
    }
}

impl fmt::Debug for Stream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Stream")
            .field("redactor", &self.redactor)
            .field("pending", &self.pending.len())
            .finish()
    }
}

/// A sampling filter in front of the matcher: it tells which stretches of a
/// text may hold a form, so the matcher runs on those alone (log text seldom
/// holds a secret, and a look at every `step`-th 4-byte window is several
/// times cheaper than the matcher's look at every byte).
///
/// Every form is at least `step + 3` bytes long, so an occurrence covers a
/// whole 4-byte window starting at a multiple of `step`, and that window is
/// one of the form's own: in `bits` (a hashed set of every 4-byte window of
/// every form). The stretch around each hit that a form through it could
/// cover is scanned; overlapping stretches are merged and scanned as one,
/// so every occurrence lies inside one stretch and the leftmost-longest
/// matches are those of a scan of the whole text.
struct Prefilter {
    bits: Vec<u64>,
    shift: u32,
    step: usize,
}

impl Prefilter {
    const WINDOW: usize = 4;

    fn new<'a>(forms: impl Iterator<Item = &'a [u8]> + Clone) -> Option<Prefilter> {
        let shortest = forms.clone().map(<[u8]>::len).min()?;
        let windows: usize = forms
            .clone()
            .map(|f| f.len().saturating_sub(Self::WINDOW - 1))
            .sum();
        // About one bit in 64 set, so a window not in any form is taken for
        // one about once in 64 looks; at most 512 KiB, to stay in cache.
        let bits_len = (windows * 64).next_power_of_two().clamp(1 << 16, 1 << 22);
        let mut filter = Prefilter {
            bits: vec![0; bits_len / 64],
            shift: 32 - bits_len.trailing_zeros(),
            step: shortest.saturating_sub(Self::WINDOW - 1).max(1),
        };
        for form in forms {
            for window in form.windows(Self::WINDOW) {
                let h = filter.hash(window);
                filter.bits[h / 64] |= 1 << (h % 64);
            }
        }
        Some(filter)
    }

    fn hash(&self, window: &[u8]) -> usize {
        let mut w = [0u8; Self::WINDOW];
        w.copy_from_slice(window);
        (u32::from_le_bytes(w).wrapping_mul(0x9e37_79b1) >> self.shift) as usize
    }

    fn hit(&self, hay: &[u8], at: usize) -> bool {
        let h = self.hash(&hay[at..at + Self::WINDOW]);
        self.bits[h / 64] & (1 << (h % 64)) != 0
    }

    /// Calls `scan` on each stretch of `hay` that may hold a form, in order,
    /// until it returns `false`.
    fn zones(
        &self,
        hay: &[u8],
        longest: usize,
        mut scan: impl FnMut(std::ops::Range<usize>) -> bool,
    ) {
        let reach = longest.saturating_sub(Self::WINDOW);
        let mut at = 0;
        while at + Self::WINDOW <= hay.len() {
            if !self.hit(hay, at) {
                at += self.step;
                continue;
            }
            // A form through the window at `at` lies in `at - reach .. at + longest`.
            let start = at.saturating_sub(reach);
            let mut end = (at + longest).min(hay.len());
            at += self.step;
            // Later hits whose stretch overlaps this one extend it.
            while at + Self::WINDOW <= hay.len() && at.saturating_sub(reach) < end {
                if self.hit(hay, at) {
                    end = (at + longest).min(hay.len());
                }
                at += self.step;
            }
            if !scan(start..end) {
                return;
            }
        }
    }
}

/// The forms of one value to match, and whether some of it is left alone
/// for being short (the value, or one of its lines).
fn value_forms(value: &str) -> (Vec<Zeroizing<Vec<u8>>>, bool) {
    let mut forms = Vec::new();
    let mut short = false;
    if value.contains('\n') {
        for line in value.split('\n').map(str::trim) {
            if chars_at_least(line, MIN_CHARS) {
                push_forms(line, &mut forms);
            } else if !line.is_empty() {
                short = true;
            }
        }
        // The encoded forms of the whole value hold no newline: match them whole.
        push_forms(value, &mut forms);
    } else if chars_at_least(value, MIN_CHARS) {
        push_forms(value, &mut forms);
    } else {
        short = true;
    }
    forms.retain(|f| !f.contains(&b'\n') && utf8_chars_at_least(f, MIN_CHARS));
    (forms, short)
}

/// The matcher of `forms`: leftmost-longest, a DFA unless the forms are many.
fn matcher<'a>(
    forms: impl Iterator<Item = &'a [u8]> + Clone,
) -> std::result::Result<AhoCorasick, aho_corasick::BuildError> {
    let total: usize = forms.clone().map(<[u8]>::len).sum();
    let kind = if total <= DFA_MAX_FORM_BYTES {
        AhoCorasickKind::DFA
    } else {
        AhoCorasickKind::ContiguousNFA
    };
    AhoCorasick::builder()
        .match_kind(MatchKind::LeftmostLongest)
        .kind(Some(kind))
        .build(forms)
}

fn chars_at_least(text: &str, n: usize) -> bool {
    n == 0 || text.chars().nth(n - 1).is_some()
}

fn utf8_chars_at_least(bytes: &[u8], n: usize) -> bool {
    // Forms are built from `str`s, so they are UTF-8.
    std::str::from_utf8(bytes).is_ok_and(|s| chars_at_least(s, n))
}

/// Every form of `text` (SPEC §11), unfiltered, duplicates included.
fn push_forms(text: &str, out: &mut Vec<Zeroizing<Vec<u8>>>) {
    out.push(Zeroizing::new(text.as_bytes().to_vec()));
    push_base64(text.as_bytes(), out);
    for plus in [false, true] {
        for keep_slash in [false, true] {
            out.push(percent(text, plus, keep_slash));
        }
    }
    let mut json = json_escaped(text);
    out.push(json_ascii(&json));
    out.push(Zeroizing::new(std::mem::take(&mut *json).into_bytes()));
    out.push(python_repr(text));
}

/// Standard and URL-safe base64 of `value` at byte offsets 0, 1 and 2 of an
/// encoded text: the characters the value's bytes decide when more follows,
/// and when the value ends the text (unpadded and padded).
fn push_base64(value: &[u8], out: &mut Vec<Zeroizing<Vec<u8>>>) {
    for engine in [
        &base64::engine::general_purpose::STANDARD,
        &base64::engine::general_purpose::URL_SAFE,
    ] {
        for offset in 0..3 {
            let mut input = Zeroizing::new(Vec::with_capacity(offset + value.len()));
            input.resize(offset, 0);
            input.extend_from_slice(value);
            let Some(len) = base64::encoded_len(input.len(), true) else {
                continue;
            };
            let mut encoded = Zeroizing::new(vec![0u8; len]);
            if engine.encode_slice(&input[..], &mut encoded[..]).is_err() {
                continue;
            }
            let bits = 8 * input.len();
            // Character i holds bits 6i..6i+6; the value holds bits 8*offset..bits.
            let first = (8 * offset).div_ceil(6);
            for end in [bits / 6, bits.div_ceil(6), len] {
                if first < end {
                    out.push(Zeroizing::new(encoded[first..end].to_vec()));
                }
            }
        }
    }
}

/// What Python's `urllib.parse.quote` leaves as it is; `/` is its default `safe`.
const QUOTE_ENCODED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'_')
    .remove(b'.')
    .remove(b'-')
    .remove(b'~');
const QUOTE_ENCODED_KEEP_SLASH: &AsciiSet = &QUOTE_ENCODED.remove(b'/');
const QUOTE_PLUS_ENCODED: &AsciiSet = &QUOTE_ENCODED.remove(b' ');
const QUOTE_PLUS_ENCODED_KEEP_SLASH: &AsciiSet = &QUOTE_ENCODED_KEEP_SLASH.remove(b' ');

/// Python's `quote(text, safe="" or "/")`, or `quote_plus` (a space as `+`).
fn percent(text: &str, plus: bool, keep_slash: bool) -> Zeroizing<Vec<u8>> {
    let set = match (plus, keep_slash) {
        (false, false) => QUOTE_ENCODED,
        (false, true) => QUOTE_ENCODED_KEEP_SLASH,
        (true, false) => QUOTE_PLUS_ENCODED,
        (true, true) => QUOTE_PLUS_ENCODED_KEEP_SLASH,
    };
    let mut out = Zeroizing::new(Vec::with_capacity(3 * text.len()));
    for piece in percent_encoding::utf8_percent_encode(text, set) {
        out.extend(piece.bytes().map(|b| if b == b' ' { b'+' } else { b }));
    }
    out
}

/// The JSON string of `text` without its quotes, non-ASCII kept (as
/// `json.dumps(text, ensure_ascii=False)` and serde write it).
fn json_escaped(text: &str) -> Zeroizing<String> {
    let quoted = crate::secret::secret_json(&text, false).into_zeroizing();
    let inner = quoted
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&quoted);
    let mut out = Zeroizing::new(String::with_capacity(inner.len()));
    out.push_str(inner);
    out
}

/// `json` with non-ASCII characters and DEL as `\uXXXX` (UTF-16 units,
/// lower-case hex), as Python's `json.dumps` writes by default.
fn json_ascii(json: &str) -> Zeroizing<Vec<u8>> {
    let mut out = Zeroizing::new(String::with_capacity(6 * json.len()));
    for c in json.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(out, "\\u{unit:04x}");
            }
        }
    }
    Zeroizing::new(std::mem::take(&mut *out).into_bytes())
}

/// The text between the quotes of Python's `repr(text)`.
///
/// Printable is as `str.isprintable`: not a control, format, private-use,
/// unassigned or separator character, the ASCII space aside. Unicode's tables
/// here may be newer than a given Python's, which differs only on
/// characters assigned since.
fn python_repr(text: &str) -> Zeroizing<Vec<u8>> {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = Zeroizing::new(String::with_capacity(4 * text.len()));
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if c == ' '
                || !matches!(
                    c.general_category_group(),
                    GeneralCategoryGroup::Other | GeneralCategoryGroup::Separator
                ) =>
            {
                out.push(c)
            }
            c if (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if (c as u32) < 0x10000 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => {
                let _ = write!(out, "\\U{:08x}", c as u32);
            }
        }
    }
    Zeroizing::new(std::mem::take(&mut *out).into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

    /// Non-ASCII, quotes, a backslash, a space, `/`, `+`, `=` and a tab, so
    /// that each escaped form differs from the value.
    const VALUE: &str = "pa\"ss wörd/+=\\'é日🔑\t";

    fn redactor(pairs: &[(&str, &str)]) -> Redactor {
        Redactor::new(pairs.iter().copied()).unwrap()
    }

    #[test]
    fn each_form_of_a_value_becomes_the_values_mask() {
        let r = redactor(&[("PW", VALUE)]);
        let mask = crate::mask::mask(VALUE);
        assert_eq!(mask, "pa****\t".replace('\t', "🔑\t"));
        // Each as Python 3 writes it (base64, urllib.parse, json, repr).
        let forms = [
            ("raw", VALUE),
            ("base64", "cGEic3Mgd8O2cmQvKz1cJ8Op5pel8J+UkQk="),
            ("base64 unpadded", "cGEic3Mgd8O2cmQvKz1cJ8Op5pel8J+UkQk"),
            ("base64 url-safe", "cGEic3Mgd8O2cmQvKz1cJ8Op5pel8J-UkQk="),
            (
                "base64 url-safe unpadded",
                "cGEic3Mgd8O2cmQvKz1cJ8Op5pel8J-UkQk",
            ),
            (
                "quote safe=''",
                "pa%22ss%20w%C3%B6rd%2F%2B%3D%5C%27%C3%A9%E6%97%A5%F0%9F%94%91%09",
            ),
            (
                "quote",
                "pa%22ss%20w%C3%B6rd/%2B%3D%5C%27%C3%A9%E6%97%A5%F0%9F%94%91%09",
            ),
            (
                "quote_plus",
                "pa%22ss+w%C3%B6rd%2F%2B%3D%5C%27%C3%A9%E6%97%A5%F0%9F%94%91%09",
            ),
            (
                "quote_plus safe='/'",
                "pa%22ss+w%C3%B6rd/%2B%3D%5C%27%C3%A9%E6%97%A5%F0%9F%94%91%09",
            ),
            (
                "json",
                r#"pa\"ss w\u00f6rd/+=\\'\u00e9\u65e5\ud83d\udd11\t"#,
            ),
            ("json ensure_ascii=False", r#"pa\"ss wörd/+=\\'é日🔑\t"#),
            ("repr", r#"pa"ss wörd/+=\\\'é日🔑\t"#),
        ];
        for (what, form) in forms {
            assert_eq!(
                r.redact(&format!("x <{form}> y")),
                format!("x <{mask}> y"),
                "{what}"
            );
        }
    }

    #[test]
    fn repr_escapes_what_python_does_not_print_and_picks_its_quote() {
        let repr = |s: &str| String::from_utf8(python_repr(s).to_vec()).unwrap();
        // Python: repr("it's a\x85 \u2028 \U0001f600 \x7f")[1:-1]
        assert_eq!(
            repr("it's a\u{85} \u{2028} \u{1F600} \u{7f}"),
            r"it's a\x85 \u2028 😀 \x7f"
        );
        assert_eq!(repr(r#"both ' and ""#), r#"both \' and ""#);
        assert_eq!(repr("\u{e000}\u{a0}\u{200b}\u{1}"), r"\ue000\xa0\u200b\x01");
        let json = json_escaped("it's a\u{85} \u{2028} \u{1F600} \u{7f}");
        assert_eq!(
            String::from_utf8(json_ascii(&json).to_vec()).unwrap(),
            r"it's a\u0085 \u2028 \ud83d\ude00 \u007f"
        );
    }

    #[test]
    fn base64_inside_a_longer_text_is_found_at_each_byte_alignment() {
        let value = "sk-live-0123456789abcdef";
        let r = redactor(&[("K", value)]);
        let mask = crate::mask::mask(value);
        for offset in 0..3 {
            for suffix in [&b""[..], b"x", b"yz", b"tail-bytes"] {
                let mut bytes = vec![0xA5u8; 3 + offset];
                bytes.extend_from_slice(value.as_bytes());
                bytes.extend_from_slice(suffix);
                for (padded, encoded) in [
                    (true, STANDARD.encode(&bytes)),
                    (false, URL_SAFE_NO_PAD.encode(&bytes)),
                ] {
                    let start = (8 * (3 + offset)).div_ceil(6);
                    let end_bits = 8 * (3 + offset + value.len());
                    // At the end of the text the last partial character (and
                    // the padding) belong to the value too.
                    let end = if suffix.is_empty() {
                        if padded {
                            encoded.len()
                        } else {
                            end_bits.div_ceil(6)
                        }
                    } else {
                        end_bits / 6
                    };
                    let expected = format!("{}{mask}{}", &encoded[..start], &encoded[end..]);
                    assert_eq!(
                        r.redact(&encoded),
                        expected,
                        "offset {offset}, suffix {suffix:?}, padded {padded}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_multi_line_value_is_masked_line_by_line_with_the_values_mask() {
        let pem = "-----BEGIN KEY-----\nMIIEvQIBADANBgkq\n  hkiG9w0BAQEF  \n-----END KEY-----";
        let r = redactor(&[("TLS", pem)]);
        let mask = crate::mask::mask(pem);
        assert_eq!(mask, "--****--");
        assert_eq!(
            r.redact(&format!("key:\n{pem}\n")),
            format!("key:\n{mask}\n{mask}\n  {mask}  \n{mask}\n")
        );
        // One line alone, indented otherwise, with CRLF endings.
        assert_eq!(r.redact("> MIIEvQIBADANBgkq\r\n"), format!("> {mask}\r\n"));
        assert_eq!(r.redact("hkiG9w0BAQEF"), mask);
        // The encoded forms of the whole value hold no newline and are matched whole.
        let json = serde_json::to_string(pem).unwrap();
        assert_eq!(r.redact(&json), format!("\"{mask}\""));
        assert!(r.skipped().is_empty());
    }

    #[test]
    fn short_values_and_short_lines_are_left_alone_and_named() {
        let r = redactor(&[
            ("SHORT", "abc12"),
            ("EMPTY", ""),
            ("LONG", "long-value-1"),
            ("LINES", "a-long-line\nab\n\n"),
            ("WIDE", "日本語日本"),
        ]);
        assert_eq!(r.skipped(), ["LINES", "SHORT", "WIDE"]);
        assert_eq!(
            r.redact("abc12 long-value-1 ab 日本語日本 a-long-line"),
            "abc12 lo****-1 ab 日本語日本 a-****\n\n"
        );
        assert!(!format!("{r:?}").contains("abc12"));
        let none = redactor(&[("SHORT", "abc12")]);
        assert!(none.is_empty());
        assert_eq!(none.redact("abc12"), "abc12");
        assert_eq!(none.stream().feed(b"abc12"), b"abc12");
    }

    #[test]
    fn six_characters_are_enough_and_count_characters_not_bytes() {
        let r = redactor(&[("A", "abcdef"), ("B", "ééééé")]);
        assert_eq!(r.skipped(), ["B"]);
        assert_eq!(r.redact("abcdef ééééé"), "ab****ef ééééé");
    }

    #[test]
    fn leftmost_longest_wins_and_matches_do_not_overlap() {
        let r = redactor(&[("SHORT", "secret-1"), ("LONG", "secret-1-and-more")]);
        assert_eq!(r.redact("secret-1-and-more secret-1"), "se****re se****-1");
        let r = redactor(&[("A", "xxabcdef"), ("B", "abcdefgh")]);
        // "xxabcdef" starts first, so it wins though "abcdefgh" overlaps it.
        assert_eq!(r.redact("xxabcdefgh"), "xx****efgh");
    }

    #[test]
    fn bytes_that_are_not_utf8_pass_through_unchanged() {
        let r = redactor(&[("K", "sk-secret-1")]);
        let input = b"\xff\xfe bin \x80sk-secret-1\xc3 end\xf0";
        let out = r.redact_bytes(input);
        assert_eq!(out, b"\xff\xfe bin \x80sk****-1\xc3 end\xf0");
        let mut stream = r.stream();
        let mut streamed = Vec::new();
        for byte in input {
            streamed.extend(stream.feed(std::slice::from_ref(byte)));
        }
        streamed.extend(stream.finish());
        assert_eq!(streamed, out);
    }

    #[test]
    fn a_line_is_released_as_soon_as_its_newline_arrives() {
        let r = redactor(&[("K", "sk-proj-abc123")]);
        let mut stream = r.stream();
        // The end may begin a value: held back, and only that...
        assert_eq!(stream.feed(b"token sk-pr"), b"token ");
        assert_eq!(stream.pending(), 5);
        assert_eq!(stream.feed(b"o"), b"");
        // ...until the newline says it does not.
        assert_eq!(stream.feed(b"j\n"), b"sk-proj\n");
        assert_eq!(stream.pending(), 0);
        // A complete line with nothing like a value is written at once, whole.
        assert_eq!(
            stream.feed(b"plain line\nsecond\n"),
            b"plain line\nsecond\n"
        );
        assert_eq!(stream.feed(b"sk-proj-abc123\n"), b"sk****23\n");
        assert_eq!(stream.feed(b"half sk-proj-abc"), b"half ");
        assert_eq!(stream.finish(), b"sk-proj-abc");
        assert_eq!(stream.pending(), 0);
    }

    #[test]
    fn a_stream_holds_back_less_than_the_longest_form() {
        let r = redactor(&[("K", "sk-proj-abc123"), ("L", "another-longer-secret")]);
        let longest = r.longest_form();
        // The longer value's padded base64 at byte offset 1: 32 characters less the 2 it shares.
        assert_eq!(longest, 30);
        let mut stream = r.stream();
        let mut out = Vec::new();
        let text = "no newline here, just text going on and on ".repeat(4);
        for chunk in text.as_bytes().chunks(7) {
            out.extend(stream.feed(chunk));
            assert!(stream.pending() < longest);
        }
        out.extend(stream.finish());
        assert_eq!(out, text.as_bytes());
    }

    #[test]
    fn a_payload_redacts_its_vaults_and_its_git_token() {
        let payload = RegistrationPayload::from_json(
            r#"{"vaults": {"API_KEY": "sk-proj-abc123"}, "git_token": "ghp_0123456789"}"#,
        )
        .unwrap();
        let r = Redactor::from_payload(&payload).unwrap();
        assert_eq!(
            r.redact("sk-proj-abc123 https://x:ghp_0123456789@github.com"),
            "sk****23 https://x:gh****89@github.com"
        );
        let short = RegistrationPayload::from_json(r#"{"git_token": "ghp"}"#).unwrap();
        assert_eq!(
            Redactor::from_payload(&short).unwrap().skipped(),
            [GIT_TOKEN_NAME]
        );
    }

    #[test]
    fn the_environment_gives_the_variables_named_in_runqy_vault_keys() {
        let env = [
            ("RUNQY_VAULT_KEYS", "API_KEY,,MISSING,DB_URL"),
            ("API_KEY", "sk-proj-abc123"),
            ("DB_URL", "postgres://u:pw-123456@db"),
            ("HOME", "/home/unlisted"),
        ];
        let r = Redactor::from_environment(|name| {
            env.iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| SecretString::from(*v))
        })
        .unwrap();
        assert_eq!(
            r.redact("sk-proj-abc123 postgres://u:pw-123456@db /home/unlisted"),
            "sk****23 po****db /home/unlisted"
        );
        let none = Redactor::from_environment(|_| None).unwrap();
        assert!(none.is_empty());
    }

    #[test]
    fn debug_shows_counts_never_values() {
        let r = redactor(&[("K", "sk-proj-abc123"), ("S", "abc")]);
        let shown = format!("{r:?}");
        assert!(
            shown.starts_with("Redactor { values: 2, forms: "),
            "{shown}"
        );
        assert!(shown.ends_with("skipped: 1 }"), "{shown}");
        let mut stream = r.stream();
        stream.feed(b"sk-proj-ab");
        let shown = format!("{stream:?}");
        assert!(
            !shown.contains("sk-proj") && shown.contains("pending: 10"),
            "{shown}"
        );
    }

    #[test]
    fn two_values_sharing_a_form_take_the_mask_of_the_first_name() {
        // B's raw text is A's JSON escaping.
        let r = redactor(&[("B", r#"quo\"ted-1"#), ("A", r#"quo"ted-1"#)]);
        assert_eq!(r.redact(r#"quo\"ted-1"#), "qu****-1");
        assert_eq!(r.redact(r#"quo"ted-1"#), "qu****-1");
    }
    #[test]
    fn many_forms_get_the_smaller_matcher_and_are_still_masked() {
        // A 4096-bit PEM key's worth of lines: far beyond the DFA's budget.
        let lines: Vec<String> = (0..50)
            .map(|i| format!("MIIJQgIBADANBgkqhkiG9w0BAQEFAASCCSwwggkoAgEAAoICAQ{i:014}"))
            .collect();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----",
            lines.join("\n")
        );
        let r = redactor(&[("TLS", &pem)]);
        let matcher = r.inner.matcher.as_ref().unwrap();
        assert_eq!(matcher.kind(), AhoCorasickKind::ContiguousNFA);
        let mask = crate::mask::mask(&pem);
        assert_eq!(
            r.redact(&format!("x {} y", lines[17])),
            format!("x {mask} y")
        );
        let printed = r.redact(&format!("{pem}\n"));
        assert_eq!(printed, format!("{mask}\n").repeat(52));
        let small = redactor(&[("K", "sk-proj-abc123")]);
        assert_eq!(
            small.inner.matcher.as_ref().unwrap().kind(),
            AhoCorasickKind::DFA
        );
    }

    #[test]
    fn the_prefilter_lets_the_matcher_find_every_match_a_whole_scan_finds() {
        // Values whose forms are 6 bytes and up, so the filter looks at every 3rd window.
        let values = [
            "abc123",
            "sk-proj-abc123xyz",
            "ZZ top secret 99",
            "pa\"ss/wörd==",
        ];
        let r = redactor(&[
            ("A", values[0]),
            ("B", values[1]),
            ("C", values[2]),
            ("D", values[3]),
        ]);
        let inner = &r.inner;
        let matcher = inner.matcher.as_ref().unwrap();
        let mut state = 0x1234_5678_9abc_def0u64;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        let mut forms = Vec::new();
        for v in values {
            push_forms(v, &mut forms);
        }
        for _ in 0..200 {
            // Long plain stretches, forms, and their beginnings and ends.
            let mut text = Vec::new();
            while text.len() < 4000 {
                match next(4) {
                    0 => text.extend(std::iter::repeat_n(b'a' + next(26) as u8, 1 + next(300))),
                    1 => text.extend_from_slice(&forms[next(forms.len())]),
                    2 => {
                        let f = &forms[next(forms.len())];
                        text.extend_from_slice(&f[..next(f.len())]);
                    }
                    _ => {
                        let f = &forms[next(forms.len())];
                        text.extend_from_slice(&f[next(f.len())..]);
                    }
                }
            }
            let mut whole = Vec::new();
            let mut at = 0;
            for m in matcher.find_iter(&text) {
                whole.extend_from_slice(&text[at..m.start()]);
                whole.extend_from_slice(
                    inner.masks[inner.mask_of[m.pattern().as_usize()]].as_bytes(),
                );
                at = m.end();
            }
            whole.extend_from_slice(&text[at..]);
            assert_eq!(r.redact_bytes(&text), whole);
        }
    }
}
