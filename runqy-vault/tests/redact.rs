//! The redactor's properties (SPEC §11), on random values and random text:
//! the streamed output is the same however the input is cut into writes, a
//! stream never holds back a line whose newline has arrived nor a longest
//! form's worth of bytes, and no value of at least 6 characters survives in
//! any listed form.
//!
//! The forms are computed here independently of the module (Python's rules
//! for `quote`, `json.dumps` and `repr`; the base64 crate for a value inside a
//! longer base64 text), so the test also checks the module's encoders.

use std::sync::atomic::{AtomicUsize, Ordering};

use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use base64::Engine as _;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestRunner};
use runqy_vault::Redactor;

/// What values are made of: mostly letters and digits, and every character
/// that makes an escaped form differ from the value. No `*`, so a mask can
/// never spell a value.
const VALUE_PLAIN: &[char] = &[
    'a', 'b', 'c', 'k', 'q', 'x', 'z', 'A', 'K', 'Q', 'Z', '0', '1', '7', '9', '-', '_', '.',
];
const VALUE_SPECIAL: &[char] = &[
    '"', '\'', '\\', ' ', '+', '/', '=', '\n', '\t', '%', '&', 'é', '日', '🔑', '\u{1}',
];
/// Text between the embedded values: characters no form of any value holds,
/// and bytes that are not UTF-8.
const NEUTRAL: &[char] = &[
    '#', '!', '|', ',', ';', ':', '(', ')', '[', ']', '<', '>', '?', '@', '^', '`', '{', '}', '~',
    '\n', 'λ', 'ß',
];
const JUNK: &[u8] = &[0xff, 0xfe, 0x80, 0xc3, 0xe6];

#[derive(Debug, Clone)]
enum Form {
    Raw,
    /// Inside a longer base64 text: `prefix` bytes (any alignment), the
    /// value, then `suffix` bytes (none: the value ends the text).
    Base64 {
        url: bool,
        pad: bool,
        prefix: Vec<u8>,
        suffix: Vec<u8>,
    },
    Percent {
        plus: bool,
        keep_slash: bool,
    },
    Json {
        ascii: bool,
    },
    Repr,
}

#[derive(Debug, Clone)]
enum Segment {
    Neutral(String),
    Junk(Vec<u8>),
    Embed(Index, Form),
    /// A strict prefix of an embedded form: something a stream must hold
    /// back, then let go.
    Fragment(Index, Form, Index),
}

#[derive(Debug, Clone)]
struct Case {
    values: Vec<String>,
    segments: Vec<(Segment, char)>,
    cuts: Vec<Index>,
}

fn value() -> impl Strategy<Value = String> {
    let c = prop_oneof![
        3 => proptest::sample::select(VALUE_PLAIN),
        2 => proptest::sample::select(VALUE_SPECIAL),
    ];
    proptest::collection::vec(c, 1..28).prop_map(|cs| cs.into_iter().collect())
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        2 => Just(Form::Raw),
        3 => (
            any::<bool>(),
            any::<bool>(),
            proptest::collection::vec(any::<u8>(), 0..7),
            proptest::collection::vec(any::<u8>(), 0..4)
        )
            .prop_map(|(url, pad, prefix, suffix)| Form::Base64 {
                url,
                pad,
                prefix,
                suffix
            }),
        2 => (any::<bool>(), any::<bool>())
            .prop_map(|(plus, keep_slash)| Form::Percent { plus, keep_slash }),
        2 => any::<bool>().prop_map(|ascii| Form::Json { ascii }),
        1 => Just(Form::Repr),
    ]
}

fn segment() -> impl Strategy<Value = Segment> {
    prop_oneof![
        2 => proptest::collection::vec(proptest::sample::select(NEUTRAL), 1..12)
            .prop_map(|cs| Segment::Neutral(cs.into_iter().collect())),
        1 => proptest::collection::vec(proptest::sample::select(JUNK), 1..4).prop_map(Segment::Junk),
        4 => (any::<Index>(), form()).prop_map(|(i, f)| Segment::Embed(i, f)),
        2 => (any::<Index>(), form(), any::<Index>()).prop_map(|(i, f, c)| Segment::Fragment(i, f, c)),
    ]
}

fn case() -> impl Strategy<Value = Case> {
    (
        proptest::collection::vec(value(), 1..5),
        proptest::collection::vec((segment(), proptest::sample::select(NEUTRAL)), 0..14),
        proptest::collection::vec(any::<Index>(), 0..10),
    )
        .prop_map(|(values, segments, cuts)| Case {
            values,
            segments,
            cuts,
        })
}

fn chars_at_least_6(s: &str) -> bool {
    s.chars().nth(5).is_some()
}

/// Python's `urllib.parse.quote(text, safe="" or "/")`, or `quote_plus`.
fn percent(text: &str, plus: bool, keep_slash: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) || (keep_slash && b == b'/') {
            out.push(b);
        } else if plus && b == b' ' {
            out.push(b'+');
        } else {
            out.extend(format!("%{b:02X}").bytes());
        }
    }
    out
}

/// `json.dumps(text, ensure_ascii=ascii)[1:-1]`.
fn json(text: &str, ascii: bool) -> Vec<u8> {
    let quoted = serde_json::to_string(text).unwrap();
    let inner = &quoted[1..quoted.len() - 1];
    if !ascii {
        return inner.as_bytes().to_vec();
    }
    let mut out = String::new();
    for c in inner.chars() {
        if c.is_ascii() && c != '\u{7f}' {
            out.push(c);
        } else {
            let mut units = [0u16; 2];
            for u in c.encode_utf16(&mut units) {
                out.push_str(&format!("\\u{u:04x}"));
            }
        }
    }
    out.into_bytes()
}

/// `repr(text)[1:-1]`, for the characters values are made of (the
/// non-ASCII ones are all printable).
fn repr(text: &str) -> Vec<u8> {
    let quote = if text.contains('\'') && !text.contains('"') {
        '"'
    } else {
        '\''
    };
    let mut out = String::new();
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
            c if (c as u32) < 0x20 || c == '\u{7f}' => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out.into_bytes()
}

/// The bytes a form puts in the text, and where in them the value's own
/// characters are (for base64, the characters its bytes decide).
fn encode(value: &str, form: &Form) -> (Vec<u8>, std::ops::Range<usize>) {
    let whole = |b: Vec<u8>| {
        let n = b.len();
        (b, 0..n)
    };
    match form {
        Form::Raw => whole(value.as_bytes().to_vec()),
        Form::Percent { plus, keep_slash } => whole(percent(value, *plus, *keep_slash)),
        Form::Json { ascii } => whole(json(value, *ascii)),
        Form::Repr => whole(repr(value)),
        Form::Base64 {
            url,
            pad,
            prefix,
            suffix,
        } => {
            let mut bytes = prefix.clone();
            bytes.extend_from_slice(value.as_bytes());
            bytes.extend_from_slice(suffix);
            let engine = match (url, pad) {
                (false, true) => &STANDARD,
                (false, false) => &STANDARD_NO_PAD,
                (true, true) => &URL_SAFE,
                (true, false) => &URL_SAFE_NO_PAD,
            };
            let text = engine.encode(&bytes).into_bytes();
            let start = (8 * prefix.len()).div_ceil(6);
            let end_bits = 8 * (prefix.len() + value.len());
            let end = if !suffix.is_empty() {
                end_bits / 6
            } else {
                text.len()
            };
            (text, start..end)
        }
    }
}

/// Every listed form of `text` (base64 at each alignment as the characters
/// its bytes decide, and ending the text, padded or not).
fn listed_forms(text: &str) -> Vec<Vec<u8>> {
    let mut forms = vec![
        text.as_bytes().to_vec(),
        json(text, true),
        json(text, false),
        repr(text),
    ];
    for plus in [false, true] {
        for keep_slash in [false, true] {
            forms.push(percent(text, plus, keep_slash));
        }
    }
    for url in [false, true] {
        for pad in [false, true] {
            for offset in 0..3 {
                for suffix in [&[][..], &[0u8][..]] {
                    let form = Form::Base64 {
                        url,
                        pad,
                        prefix: vec![0; offset],
                        suffix: suffix.to_vec(),
                    };
                    let (bytes, range) = encode(text, &form);
                    forms.push(bytes[range].to_vec());
                }
            }
        }
    }
    forms
}

/// The forms that must not survive, for a value that is not skipped: a
/// multi-line value's long lines (without surrounding white space) in every
/// form, and its encoded forms whole.
fn must_not_survive(value: &str) -> Vec<Vec<u8>> {
    let mut forms = Vec::new();
    if value.contains('\n') {
        for line in value.split('\n').map(str::trim) {
            if chars_at_least_6(line) {
                forms.extend(listed_forms(line));
            }
        }
        forms.extend(listed_forms(value).into_iter().skip(1));
    } else if chars_at_least_6(value) {
        forms.extend(listed_forms(value));
    }
    forms.retain(|f| !f.contains(&b'\n') && chars_at_least_6(&String::from_utf8_lossy(f)));
    forms
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// (rich text, neutral text): the rich one has fragments of forms too.
fn texts(case: &Case) -> (Vec<u8>, Vec<u8>) {
    let (mut rich, mut neutral) = (Vec::new(), Vec::new());
    for (segment, sep) in &case.segments {
        let bytes = match segment {
            Segment::Neutral(s) => s.as_bytes().to_vec(),
            Segment::Junk(b) => b.clone(),
            Segment::Embed(i, form) => encode(i.get(&case.values[..]).as_str(), form).0,
            Segment::Fragment(i, form, cut) => {
                let (bytes, _) = encode(i.get(&case.values[..]).as_str(), form);
                let fragment = bytes[..cut.index(bytes.len())].to_vec();
                rich.extend(&fragment);
                rich.extend(sep.to_string().as_bytes());
                continue;
            }
        };
        for text in [&mut rich, &mut neutral] {
            text.extend(&bytes);
            text.extend(sep.to_string().as_bytes());
        }
    }
    (rich, neutral)
}

/// Feeds `text` cut at `cuts`, checking the hold-back after each write.
fn streamed(r: &Redactor, text: &[u8], cuts: &[usize]) -> Result<Vec<u8>, TestCaseError> {
    let mut stream = r.stream();
    let mut out = Vec::new();
    let mut at = 0;
    for &cut in cuts.iter().chain(std::iter::once(&text.len())) {
        out.extend(stream.feed(&text[at..cut]));
        at = cut;
        let since_newline = text[..at].iter().rev().take_while(|&&b| b != b'\n').count();
        prop_assert!(
            stream.pending() <= since_newline,
            "a complete line was held back"
        );
        prop_assert!(
            stream.pending() < r.longest_form().max(1),
            "held back {} bytes, longest form {}",
            stream.pending(),
            r.longest_form()
        );
    }
    out.extend(stream.finish());
    Ok(out)
}

static SEEN: [AtomicUsize; 9] = [const { AtomicUsize::new(0) }; 9];
/// What a value must sometimes hold, and how to tell.
type Feature = (&'static str, fn(&str) -> bool);
const FEATURES: [Feature; 9] = [
    ("non-ASCII", |v| !v.is_ascii()),
    ("a double quote", |v| v.contains('"')),
    ("a single quote", |v| v.contains('\'')),
    ("a backslash", |v| v.contains('\\')),
    ("a space", |v| v.contains(' ')),
    ("a plus", |v| v.contains('+')),
    ("a slash", |v| v.contains('/')),
    ("an equals sign", |v| v.contains('=')),
    ("a newline", |v| v.contains('\n')),
];

fn check(case: Case) -> Result<(), TestCaseError> {
    for v in &case.values {
        if chars_at_least_6(v) {
            for (seen, (_, has)) in SEEN.iter().zip(FEATURES) {
                if has(v) {
                    seen.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }
    let names: Vec<String> = (0..case.values.len()).map(|i| format!("V{i}")).collect();
    let r = Redactor::new(names.iter().zip(&case.values)).unwrap();
    let (rich, neutral) = texts(&case);

    for text in [&rich, &neutral] {
        let whole = r.redact_bytes(text);
        if let Ok(s) = std::str::from_utf8(text) {
            let redacted = r.redact(s);
            prop_assert_eq!(redacted.as_bytes(), &whole[..]);
        }
        let mut cuts: Vec<usize> = case.cuts.iter().map(|c| c.index(text.len() + 1)).collect();
        cuts.sort();
        prop_assert_eq!(&streamed(&r, text, &cuts)?, &whole, "cut at {:?}", cuts);
        let every_byte: Vec<usize> = (1..text.len()).collect();
        prop_assert_eq!(
            &streamed(&r, text, &every_byte)?,
            &whole,
            "cut at every byte"
        );
    }

    // Between neutral characters, no value survives in any listed form.
    let out = r.redact_bytes(&neutral);
    for (name, value) in names.iter().zip(&case.values) {
        for form in must_not_survive(value) {
            prop_assert!(
                !contains(&out, &form),
                "{} survives as {:?} in {:?}",
                name,
                String::from_utf8_lossy(&form),
                String::from_utf8_lossy(&out)
            );
        }
    }
    Ok(())
}

#[test]
fn streamed_output_is_the_same_however_cut_and_no_value_survives_in_any_form() {
    let mut runner = TestRunner::new(Config {
        cases: 512,
        ..Config::default()
    });
    if let Err(e) = runner.run(&case(), check) {
        panic!("{e}");
    }
    // Without these the escaped forms would equal the value and go untested.
    for (seen, (what, _)) in SEEN.iter().zip(FEATURES) {
        let n = seen.load(Ordering::Relaxed);
        assert!(n >= 10, "only {n} values of 6+ characters held {what}");
    }
}

#[test]
fn the_oracles_here_agree_with_python() {
    // Python 3: urllib.parse.quote / quote_plus, json.dumps, repr.
    let v = "a b/+'\"é\\\n";
    assert_eq!(percent(v, false, false), b"a%20b%2F%2B%27%22%C3%A9%5C%0A");
    assert_eq!(percent(v, true, true), b"a+b/%2B%27%22%C3%A9%5C%0A");
    assert_eq!(json(v, true), br#"a b/+'\"\u00e9\\\n"#);
    assert_eq!(json(v, false), "a b/+'\\\"é\\\\\\n".as_bytes());
    assert_eq!(repr(v), "a b/+\\'\"é\\\\\\n".as_bytes());
    assert_eq!(repr("it's"), b"it's");
}
