//! What every target checks of an error: the sanitiser's promise (SPEC §5,
//! issue 17) holds for whatever input made it.

/// Every message is one line of printable text, of bounded length.
pub fn assert_shown(message: &str) {
    assert!(
        !message.chars().any(|c| c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{2028}' | '\u{2029}'
                | '\u{202a}'..='\u{202e}' | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}' | '\u{feff}')),
        "unescaped character in {message:?}"
    );
    assert!(
        message.chars().count() < 8 * 1024,
        "message of {} characters",
        message.chars().count()
    );
}
