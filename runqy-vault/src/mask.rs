//! Masking of values for display.

/// Masks a value for listing, counting Unicode scalar values (not bytes):
/// empty stays empty, 1–4 characters become `****`, longer values keep their
/// first two and last two characters around `****`.
///
/// ```
/// use runqy_vault::mask;
/// assert_eq!(mask(""), "");
/// assert_eq!(mask("abcd"), "****");
/// assert_eq!(mask("sk-proj-abc123xx"), "sk****xx");
/// assert_eq!(mask("héllo wörld"), "hé****ld");
/// ```
pub fn mask(value: &str) -> String {
    let count = value.chars().count();
    match count {
        0 => String::new(),
        1..=4 => "****".to_owned(),
        _ => {
            let head: String = value.chars().take(2).collect();
            let tail: String = value.chars().skip(count - 2).collect();
            format!("{head}****{tail}")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::mask;

    #[test]
    fn mask_counts_characters_not_bytes() {
        // 5 characters, 10 bytes: upstream's byte-based masking would split a character.
        assert_eq!(mask("ééééé"), "éé****éé");
        assert_eq!(mask("日本"), "****");
        assert_eq!(mask("🔑🔑🔑🔑🔑🔑"), "🔑🔑****🔑🔑");
    }

    #[test]
    fn mask_boundaries_at_four_and_five_characters() {
        assert_eq!(mask("a"), "****");
        assert_eq!(mask("abcd"), "****");
        assert_eq!(mask("abcde"), "ab****de");
    }

    #[test]
    fn mask_of_empty_is_empty() {
        assert_eq!(mask(""), "");
    }
}
