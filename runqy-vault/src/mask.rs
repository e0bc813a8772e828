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
    if value.is_empty() {
        return String::new();
    }
    // Five characters or more? Looks at five at most, however long the value.
    if value.chars().nth(4).is_none() {
        return "****".to_owned();
    }
    let head_end = value.char_indices().nth(2).map_or(value.len(), |(i, _)| i);
    let tail_start = value.char_indices().nth_back(1).map_or(0, |(i, _)| i);
    let mut out = String::with_capacity(head_end + 4 + (value.len() - tail_start));
    out.push_str(&value[..head_end]);
    out.push_str("****");
    out.push_str(&value[tail_start..]);
    out
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
