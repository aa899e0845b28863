//! Search text: what is stored per customer and what a query is split into,
//! normalized the same way (lowercase, accents folded) so `josé` finds `Jose`.

use unicode_normalization::{char::is_combining_mark, UnicodeNormalization};

/// Lowercases and strips accents: `José` -> `jose`.
pub fn fold(text: &str) -> String {
    text.nfd()
        .filter(|c| !is_combining_mark(*c))
        .flat_map(char::to_lowercase)
        .collect()
}

/// The stored search text of a customer: the searchable fields, folded,
/// separated by newlines so no query word matches across two fields.
pub fn document(
    phone: &str,
    first: Option<&str>,
    last: Option<&str>,
    email: Option<&str>,
) -> String {
    let parts = [Some(phone), first, last, email];
    parts
        .iter()
        .flatten()
        .map(|p| fold(p))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Splits a query into folded words; each must be a substring of the document.
/// A word that looks like a piece of a phone number (`+52`, `(999)`, `123-45`)
/// is reduced to its digits, since numbers are stored as bare digits.
pub fn words(query: &str) -> Vec<String> {
    query
        .split_whitespace()
        .filter_map(|word| {
            let phoneish = word.chars().any(|c| c.is_ascii_digit())
                && word
                    .chars()
                    .all(|c| c.is_ascii_digit() || "+-().".contains(c));
            let word = if phoneish {
                word.chars().filter(char::is_ascii_digit).collect()
            } else {
                fold(word)
            };
            (!word.is_empty()).then_some(word)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_case_and_accents() {
        for (input, want) in [
            ("José", "jose"),
            ("ÑANDÚ", "nandu"),
            ("Müller", "muller"),
            ("abc", "abc"),
        ] {
            assert_eq!(fold(input), want, "{input}");
        }
    }

    #[test]
    fn query_words_are_folded_and_phone_pieces_reduced_to_digits() {
        assert_eq!(words("  José   DOE "), ["jose", "doe"]);
        assert_eq!(words("+52 (999) 123-4567"), ["52", "999", "1234567"]);
        assert_eq!(words("john.doe@x.com"), ["john.doe@x.com"]);
        assert!(words("   ").is_empty());
    }

    #[test]
    fn document_keeps_fields_apart() {
        let doc = document("529991234567", Some("José"), None, Some("j@x.com"));
        assert_eq!(doc, "529991234567\njose\nj@x.com");
    }
}
