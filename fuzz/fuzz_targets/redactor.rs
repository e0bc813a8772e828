//! The redactor (redact.rs, SPEC §11): the output is byte for byte the same
//! however the input is cut into writes; a stream never holds back a
//! complete line, nor a form's worth of bytes; a value of at least six
//! characters set between neutral bytes does not survive.
#![no_main]

use libfuzzer_sys::fuzz_target;
use runqy_vault::redact::{Redactor, MIN_CHARS};

fuzz_target!(|data: &[u8]| {
    // values (up to 4, NUL-separated) ‖ 0xFF ‖ cut points (one byte each) ‖ 0xFF ‖ text
    let mut sections = data.splitn(3, |&b| b == 0xFF);
    let (Some(values), Some(cuts), Some(text)) =
        (sections.next(), sections.next(), sections.next())
    else {
        return;
    };
    let values: Vec<String> = values
        .split(|&b| b == 0)
        .take(4)
        .map(|v| String::from_utf8_lossy(v).into_owned())
        .collect();
    let names: Vec<String> = (0..values.len()).map(|i| format!("V{i}")).collect();
    let Ok(r) = Redactor::new(names.iter().zip(&values)) else {
        return;
    };

    let whole = r.redact_bytes(text);
    if let Ok(s) = std::str::from_utf8(text) {
        assert_eq!(r.redact(s).as_bytes(), &whole[..]);
    }
    let mut points: Vec<usize> = cuts
        .iter()
        .map(|&c| usize::from(c) % (text.len() + 1))
        .collect();
    points.sort_unstable();
    for cut_at in [points, (1..text.len()).collect()] {
        let mut stream = r.stream();
        let mut out = Vec::new();
        let mut at = 0;
        for &cut in cut_at.iter().chain(std::iter::once(&text.len())) {
            out.extend(stream.feed(&text[at..cut]));
            at = cut;
            let since_newline = text[..at].iter().rev().take_while(|&&b| b != b'\n').count();
            assert!(
                stream.pending() <= since_newline,
                "a complete line was held back"
            );
            assert!(
                stream.pending() < r.longest_form().max(1),
                "held back too much"
            );
        }
        out.extend(stream.finish());
        assert_eq!(out, whole, "streamed output differs from one-shot");
    }

    // Each value between neutral bytes (one no value holds): never left as it is.
    let sep = 0x01u8;
    if values.iter().any(|v| v.as_bytes().contains(&sep)) {
        return;
    }
    let mut neutral = vec![sep];
    for v in &values {
        neutral.extend_from_slice(v.as_bytes());
        neutral.push(sep);
    }
    let out = r.redact_bytes(&neutral);
    for v in &values {
        // Short values are skipped by design; a mask holds '*'; multi-line
        // values are matched line by line.
        let plain = v.chars().count() >= MIN_CHARS && !v.contains(['*', '\n', '\r']);
        if plain {
            assert!(
                !out.windows(v.len()).any(|w| w == v.as_bytes()),
                "a value survives"
            );
        }
    }
});
