//! Phone numbers: parsing any common spelling into the canonical digits Clientela stores.
//!
//! Parsing and validation are delegated to the `phonenumber` crate (a libphonenumber
//! port). On top of it this module only adds:
//!
//! * a strict character filter (the crate silently maps letters to keypad digits and
//!   accepts many exotic characters; we refuse them),
//! * the choice between "national in the default region" and "international without
//!   '+'" for bare digit strings,
//! * two WhatsApp variant rules (Mexico's legacy `52 1` mobile prefix and Brazil's
//!   missing ninth digit) that the crate's metadata rejects instead of folding.

use phonenumber::country::{Id, Source};
use phonenumber::metadata::DATABASE;
use phonenumber::Mode;

/// Canonical phone number: digits only, country code first, no '+', e.g. "529991234567".
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PhoneNumber(String);

impl PhoneNumber {
    /// The canonical digits, e.g. "529991234567".
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The canonical digits as an owned string.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl std::fmt::Display for PhoneNumber {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why a phone number was refused; the Display text is shown to API users (English, short, no internals).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is required")]
    Empty,
    #[error("phone number is not valid")]
    Invalid,
}

/// More digits than any spelling of a real number can carry (E.164 allows 15, plus
/// room for a "00" prefix and national trunk/mobile tokens such as Argentina's "0 .. 15").
/// Longer inputs are refused before reaching the parser, keeping its work bounded.
const MAX_DIGITS: usize = 20;

/// Parses `input` in any common spelling; numbers without a country code are read in `default_region`.
pub fn normalize(input: &str, default_region: Id) -> Result<PhoneNumber, PhoneError> {
    let (international, digits) = clean(input)?;

    let found = if international {
        // Parse international numbers with no default region: the crate applies the
        // national-prefix rules of the *default* region rather than of the number's own
        // country, so e.g. "+54 11 15 1234-5678" with default MX would miss Argentina's
        // "15" -> "9" mobile transform. With no region it uses the number's own metadata.
        resolve(&format!("+{digits}"), None)
    } else {
        // Bare digits are ambiguous. First read them as a national number of the default
        // region (the crate also strips a leading default country code when the rest is
        // not a possible national number, e.g. "529991234567" with MX); only if that does
        // not give a valid number (after the variant rules), read them as international
        // without the '+' (e.g. "5511987654321" with default MX is Brazilian).
        let national = if DATABASE.by_id(default_region.as_ref()).is_some() {
            resolve(&digits, Some(default_region))
        } else {
            // The crate assumes metadata exists for the region it is given.
            None
        };
        national.or_else(|| resolve(&format!("+{digits}"), None))
    };

    found.ok_or(PhoneError::Invalid)
}

/// Parses a region code such as "MX" (case-insensitive) for configuration.
pub fn parse_region(code: &str) -> Option<Id> {
    let code = code.trim();
    if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let id: Id = code.to_ascii_uppercase().parse().ok()?;
    // Only regions the parser has metadata for are usable as a default region.
    DATABASE.by_id(id.as_ref()).map(|_| id)
}

/// Checks the characters of `input` and returns (has international prefix, digits).
///
/// Accepted: ASCII digits, whitespace, '-', '.', '(', ')', and one leading '+'.
/// A leading "00" (the common international dialling prefix) counts as '+'.
/// Anything else, letters included, makes the number invalid: the crate would
/// otherwise map letters to keypad digits and accept junk.
fn clean(input: &str) -> Result<(bool, String), PhoneError> {
    let trimmed = input.trim();
    if trimmed.is_empty() {
        return Err(PhoneError::Empty);
    }

    let mut digits = String::new();
    let mut plus = false;
    for (index, ch) in trimmed.chars().enumerate() {
        match ch {
            '+' if index == 0 => plus = true,
            '0'..='9' => {
                if digits.len() >= MAX_DIGITS {
                    return Err(PhoneError::Invalid);
                }
                digits.push(ch);
            }
            '-' | '.' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return Err(PhoneError::Invalid),
        }
    }

    if !plus {
        if let Some(rest) = digits.strip_prefix("00") {
            return Ok((true, rest.to_owned()));
        }
    }
    if digits.is_empty() {
        return Err(PhoneError::Invalid);
    }
    Ok((plus, digits))
}

/// Parses `text` with the crate, applying the variant rules when the crate rejects it.
fn resolve(text: &str, region: Option<Id>) -> Option<PhoneNumber> {
    let parsed = phonenumber::parse(region, text).ok()?;
    if parsed.is_valid() {
        return canonical(&parsed);
    }
    let folded = fold_variant(&parsed)?;
    let reparsed = phonenumber::parse(None, format!("+{folded}")).ok()?;
    if reparsed.is_valid() {
        canonical(&reparsed)
    } else {
        None
    }
}

/// E.164 digits without the '+'.
fn canonical(number: &phonenumber::PhoneNumber) -> Option<PhoneNumber> {
    let e164 = number.format().mode(Mode::E164).to_string();
    let digits = e164.strip_prefix('+').unwrap_or(&e164);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(PhoneNumber(digits.to_owned()))
}

/// Rewrites a number the crate rejected into the canonical WhatsApp form, if one of the
/// national variant rules applies. The result (full digits, no '+') is validated again.
fn fold_variant(number: &phonenumber::PhoneNumber) -> Option<String> {
    let digits = canonical(number)?.into_string();
    let code = number.code().value();
    let national = digits.strip_prefix(&code.to_string())?;

    match code {
        // Mexico: WhatsApp (and older contact lists) still spell mobiles in the legacy
        // "52 1 + 10 digits" form, which Mexico abolished in 2019 and the crate now rejects.
        // It is the same customer as "52 + 10 digits". Only applied when the "52" was
        // actually written, so a bare "1 650 253 0000" is not taken for Mexican.
        52 if number.code().source() != Source::Default
            && national.len() == 11
            && national.starts_with('1') =>
        {
            national.get(1..).map(|rest| format!("52{rest}"))
        }
        // Brazil: mobiles gained a ninth digit (a leading 9) but WhatsApp and old contacts
        // still produce the 8-digit form "55 + area + [6-9]xxxxxxx", which the crate rejects.
        // The contract stores the 9-digit form. Landlines (subscriber starting 2-5) are valid
        // per the crate and never reach this rule.
        55 if national.len() == 10 => {
            let area = national.get(..2)?;
            let subscriber = national.get(2..)?;
            let area_ok = area.bytes().all(|b| (b'1'..=b'9').contains(&b));
            let mobile = subscriber.starts_with(['6', '7', '8', '9']);
            (area_ok && mobile).then(|| format!("55{area}9{subscriber}"))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use phonenumber::country;

    /// Default regions the tests and properties read numbers in.
    const REGIONS: [Id; 8] = [
        country::MX,
        country::BR,
        country::AR,
        country::US,
        country::GB,
        country::IT,
        country::DE,
        country::AC,
    ];

    #[test]
    fn common_spellings_resolve_to_one_canonical_customer() {
        let cases: &[(&str, Id, &[&str])] = &[
            // Mexico, including the legacy WhatsApp "52 1" mobile form.
            (
                "529991234567",
                country::MX,
                &[
                    "+52 (999) 123-4567",
                    "52 999 123 4567",
                    "9991234567",
                    "999.123.4567",
                    "5219991234567",
                    "+5219991234567",
                    "+52 1 999 123 4567",
                    "52 1 999 123 4567",
                    "529991234567",
                    "0052 999 123 4567",
                    "00 52 1 999 123 4567",
                    "  +52-999-123-4567  ",
                ],
            ),
            // The same Mexican customer when the configured default region is elsewhere.
            (
                "529991234567",
                country::BR,
                &["+52 999 123 4567", "+52 1 999 123 4567", "529991234567"],
            ),
            // Brazil mobile: with and without the ninth digit.
            (
                "5511987654321",
                country::MX,
                &[
                    "+55 11 98765-4321",
                    "5511987654321",
                    "+55 11 8765-4321",
                    "551187654321",
                    "0055 11 8765 4321",
                ],
            ),
            (
                "5511987654321",
                country::BR,
                &[
                    "(11) 98765-4321",
                    "(11) 8765-4321",
                    "011 8765-4321",
                    "11987654321",
                    "551187654321",
                    "+55 (11) 8765-4321",
                ],
            ),
            // Brazil landline stays a landline (no ninth digit added).
            (
                "551134567890",
                country::BR,
                &["+55 11 3456-7890", "(11) 3456-7890", "551134567890"],
            ),
            (
                "551134567890",
                country::MX,
                &["+55 11 3456-7890", "551134567890"],
            ),
            // Argentina, Buenos Aires mobile: "9" and "15" forms (crate transform rules).
            (
                "5491112345678",
                country::AR,
                &[
                    "+54 9 11 1234-5678",
                    "+54 11 15 1234-5678",
                    "011 15 1234-5678",
                    "11 15 1234 5678",
                    "9 11 1234 5678",
                    "5491112345678",
                    "0054 11 15 1234 5678",
                ],
            ),
            // Same customer with a non-Argentine default region.
            (
                "5491112345678",
                country::MX,
                &[
                    "+54 9 11 1234-5678",
                    "+54 11 15 1234-5678",
                    "5491112345678",
                    "54 11 15 1234 5678",
                ],
            ),
            // Argentina, 3-digit area code (Córdoba 351).
            (
                "5493514234567",
                country::AR,
                &[
                    "+54 9 351 423-4567",
                    "+54 351 15 423-4567",
                    "0351 15 423-4567",
                ],
            ),
            (
                "5493514234567",
                country::MX,
                &["+54 351 15 423-4567", "+54 9 351 423 4567"],
            ),
            // Argentina, 4-digit area code (Río Gallegos 2966).
            (
                "5492966423456",
                country::AR,
                &[
                    "+54 9 2966 42-3456",
                    "+54 2966 15 42-3456",
                    "02966 15 42-3456",
                ],
            ),
            // Argentine landlines (no 9, no 15) stay landlines.
            (
                "541112345678",
                country::AR,
                &["+54 11 1234-5678", "011 1234-5678"],
            ),
            (
                "543514234567",
                country::AR,
                &["+54 351 423-4567", "0351 423-4567"],
            ),
            // United States; bare digits with a foreign default fall back to international.
            (
                "16502530000",
                country::MX,
                &["+1 650 253 0000", "+1 (650) 253-0000", "16502530000"],
            ),
            (
                "16502530000",
                country::US,
                &["(650) 253-0000", "650.253.0000", "1 650 253 0000"],
            ),
        ];

        for (expected, region, inputs) in cases {
            for input in *inputs {
                let got = normalize(input, *region);
                assert_eq!(
                    got.as_ref().map(PhoneNumber::as_str),
                    Ok(*expected),
                    "input {input:?} with default region {region:?}"
                );
            }
        }
    }

    #[test]
    fn impossible_or_junk_numbers_are_refused() {
        let cases: &[(&str, Id, PhoneError)] = &[
            ("", country::MX, PhoneError::Empty),
            ("   ", country::MX, PhoneError::Empty),
            ("\t\n", country::MX, PhoneError::Empty),
            ("123", country::MX, PhoneError::Invalid),
            ("+52 123", country::MX, PhoneError::Invalid),
            ("0000000000", country::MX, PhoneError::Invalid),
            ("+", country::MX, PhoneError::Invalid),
            ("00", country::MX, PhoneError::Invalid),
            ("()-.", country::MX, PhoneError::Invalid),
            // Letters are not dropped or mapped to keypad digits.
            ("1-800-FLOWERS", country::US, PhoneError::Invalid),
            ("999 123 4567 ext 12", country::MX, PhoneError::Invalid),
            ("999abc1234567", country::MX, PhoneError::Invalid),
            ("tel:+52-999-123-4567", country::MX, PhoneError::Invalid),
            // '+' only allowed in front.
            ("52+9991234567", country::MX, PhoneError::Invalid),
            ("++529991234567", country::MX, PhoneError::Invalid),
            // Right length, wrong country: 10 digits that are not a Mexican number.
            ("1187654321", country::MX, PhoneError::Invalid),
            // "52 1" fold only applies to 52 + 1 + 10 digits.
            ("+52 1 999 123 456", country::MX, PhoneError::Invalid),
            // The Brazilian ninth-digit fold needs a real area code (no 0 in it).
            ("+55 01 8765 4321", country::BR, PhoneError::Invalid),
            // Argentine "15" without an area code cannot be resolved.
            ("15 1234 5678", country::AR, PhoneError::Invalid),
            // Unallocated Córdoba mobile range per the metadata.
            ("+54 9 351 123-4567", country::AR, PhoneError::Invalid),
            // Too long.
            (
                "+52 999 123 4567 8901 2345",
                country::MX,
                PhoneError::Invalid,
            ),
        ];

        for (input, region, expected) in cases {
            assert_eq!(
                normalize(input, *region),
                Err(expected.clone()),
                "input {input:?} with default region {region:?}"
            );
        }
    }

    #[test]
    fn odd_inputs_never_panic() {
        let two_hundred_digits = "9".repeat(200);
        let plus_two_hundred = format!("+{}", "1".repeat(200));
        let odd: Vec<&str> = vec![
            "",
            "+",
            "++",
            "+0",
            "0",
            "00",
            "000",
            "+00",
            "+0052",
            "letters",
            "abc",
            &two_hundred_digits,
            &plus_two_hundred,
            "\0",
            "999\0 123 4567",
            "+52\u{0}9991234567",
            "\u{0}\u{0}\u{0}",
            "٩٩٩١٢٣٤٥٦٧",
            "９９９１２３４５６７",
            "+５２ ９９９",
            "📞 999 123 4567",
            "\u{200B}9991234567",
            "\u{202E}9991234567",
            "\u{00A0}9991234567\u{00A0}",
            "ñ",
            "((((((((((",
            "- - - - -",
            "...",
            "+-",
            "1",
            "12",
            "+1",
            "+12",
            "+123",
            "+999 123 4567",
            "+800 1234 5678",
            "+979 123456789",
            "+882 1234567890",
            "+39 06 1234 5678",
            "0 11 15",
            "00000000000000000000",
            "99999999999999999999",
        ];

        let check = |input: &str, region: Id| {
            if let Ok(number) = normalize(input, region) {
                let digits = number.as_str();
                assert!(!digits.is_empty(), "{input:?}");
                assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{input:?}");
                assert!(digits.len() <= MAX_DIGITS, "{input:?} -> {digits}");
            }
        };

        let regions = REGIONS;
        for input in &odd {
            for region in regions {
                check(input, region);
            }
        }

        // Every region the crate knows, with a few shapes of bare digits.
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                let code = String::from_utf8(vec![a, b]).unwrap_or_default();
                if let Some(region) = parse_region(&code) {
                    for input in ["0123456789", "52 1 999 123 4567"] {
                        check(input, region);
                    }
                }
            }
        }

        // Deterministic pseudo-random digit strings, with and without prefixes.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..200 {
            let len = usize::try_from(next() % 22).unwrap_or(0);
            let mut input = match next() % 3 {
                0 => String::from("+"),
                1 => String::from("00"),
                _ => String::new(),
            };
            for _ in 0..len {
                input.push(char::from(b'0' + u8::try_from(next() % 10).unwrap_or(0)));
            }
            let region = regions[usize::try_from(next() % 4).unwrap_or(0)];
            check(&input, region);
        }
    }

    #[test]
    fn region_codes_parse_case_insensitively() {
        let cases: &[(&str, Option<Id>)] = &[
            ("MX", Some(country::MX)),
            ("mx", Some(country::MX)),
            ("Mx", Some(country::MX)),
            (" br ", Some(country::BR)),
            ("ar", Some(country::AR)),
            ("US", Some(country::US)),
            ("", None),
            ("M", None),
            ("MEX", None),
            ("XX", None),
            ("52", None),
            ("m\u{0}", None),
            ("ñx", None),
            ("+52", None),
        ];
        for (code, expected) in cases {
            assert_eq!(parse_region(code), *expected, "code {code:?}");
        }
    }

    #[test]
    fn canonical_number_and_errors_display_plainly() {
        let number = normalize("+52 (999) 123-4567", country::MX);
        assert_eq!(
            number.as_ref().map(ToString::to_string),
            Ok("529991234567".to_owned())
        );
        assert_eq!(
            number.map(PhoneNumber::into_string),
            Ok("529991234567".to_owned())
        );
        assert_eq!(PhoneError::Empty.to_string(), "phone number is required");
        assert_eq!(PhoneError::Invalid.to_string(), "phone number is not valid");
    }

    /// Property tests (`cargo test --lib prop`; `PROPTEST_CASES` sets how many cases).
    mod properties {
        use proptest::prelude::*;

        use super::*;

        fn region() -> impl Strategy<Value = Id> {
            prop::sample::select(REGIONS.to_vec())
        }

        /// Any text, number-shaped text, and very long number-shaped text.
        fn any_input() -> impl Strategy<Value = String> {
            prop_oneof![
                any::<String>(),
                "\\PC{0,40}",
                "(\\+|00)?[0-9 ().+\\-]{0,30}",
                "(\\+|00)?[0-9]{0,25}",
                "[0-9 \\-]{100,3000}",
                // Likely valid numbers of many countries.
                (
                    prop::sample::select(vec![
                        "1", "7", "33", "34", "39", "44", "49", "52", "54", "55", "56", "57", "86",
                        "91", "351", "502",
                    ]),
                    "[1-9][0-9]{5,11}",
                )
                    .prop_map(|(code, national)| format!("+{code} {national}")),
            ]
        }

        /// Groups `digits` as a human would write them, with random separators.
        fn spell(digits: &str, cuts: &[usize], seps: &[&str]) -> String {
            let mut out = String::new();
            for (i, ch) in digits.chars().enumerate() {
                if i > 0 && cuts.contains(&i) {
                    out.push_str(seps[i % seps.len()]);
                }
                out.push(ch);
            }
            out
        }

        /// Every spelling, read in `region`, is the number `expected`.
        fn all_normalize_to(
            spellings: &[String],
            region: Id,
            expected: &str,
        ) -> Result<(), TestCaseError> {
            for spelling in spellings {
                prop_assert_eq!(
                    normalize(spelling, region).map(PhoneNumber::into_string),
                    Ok(expected.to_owned()),
                    "{:?} in {:?}",
                    spelling,
                    region
                );
            }
            Ok(())
        }

        fn separators() -> impl Strategy<Value = Vec<&'static str>> {
            prop::collection::vec(prop::sample::select(vec!["", " ", "-", ".", "  "]), 1..4)
        }

        proptest! {
            #[test]
            fn any_input_is_refused_or_gives_canonical_digits_that_normalize_to_themselves(
                input in any_input(),
                region in region(),
            ) {
                if let Ok(number) = normalize(&input, region) {
                    let digits = number.as_str();
                    prop_assert!(!digits.is_empty());
                    prop_assert!(digits.bytes().all(|b| b.is_ascii_digit()), "{digits}");
                    prop_assert!(digits.len() <= MAX_DIGITS, "{input:?} -> {digits}");
                    // The canonical form with '+' reads as the same number anywhere.
                    prop_assert_eq!(normalize(&format!("+{digits}"), region), Ok(number.clone()));
                    // Bare canonical digits are read as a national number of the
                    // default region first, so they round-trip for that region's
                    // own numbers only: with default MX, the German "4920100000"
                    // bare is the valid Mexican national "492 010 0000".
                    let home = [
                        (country::MX, "52"),
                        (country::BR, "55"),
                        (country::AR, "54"),
                        (country::US, "1"),
                    ];
                    if home.iter().any(|(r, code)| *r == region && digits.starts_with(code)) {
                        prop_assert_eq!(normalize(digits, region), Ok(number.clone()), "{:?}", input);
                    }
                }
            }

            #[test]
            fn every_spelling_of_a_mexican_mobile_is_one_customer(
                area in prop::sample::select(vec!["999", "998", "55", "33", "81", "222", "442", "664"]),
                rest in "[2-9][0-9]{7}",
                seps in separators(),
                region in region(),
            ) {
                let national = format!("{area}{rest}").get(..10).unwrap_or_default().to_owned();
                let expected = format!("52{national}");
                let (a, b, c) = (&national[..3], &national[3..6], &national[6..]);
                // With '+' (or "00") in every region; bare digits only in
                // the home region: elsewhere "52..." may well be a valid
                // national number of the default region (Germany's are of
                // any length), which bare digits are read as first.
                let mut spellings = vec![
                    format!("+52 ({a}) {b}-{c}"),
                    format!("+521{national}"),
                    format!("+52 1 {a} {b} {c}"),
                    format!("0052 1 {a} {b} {c}"),
                    spell(&format!("+52{national}"), &[3, 6, 9], &seps),
                ];
                if region == country::MX {
                    spellings.extend([
                        national.clone(),
                        format!("{a}.{b}.{c}"),
                        format!("52 {a} {b} {c}"),
                        format!("521{national}"),
                        spell(&format!("521{national}"), &[2, 3, 6, 9], &seps),
                        expected.clone(),
                    ]);
                }
                all_normalize_to(&spellings, region, &expected)?;
            }

            #[test]
            fn a_brazilian_mobile_is_one_customer_with_or_without_the_ninth_digit(
                area in prop::sample::select(vec![
                    "11", "12", "19", "21", "27", "31", "41", "47", "51", "61", "71", "81", "85", "91", "98",
                ]),
                subscriber in "[6-9][0-9]{7}",
                region in region(),
            ) {
                // Some 8-digit ranges (e.g. 7xxx-xxxx, once radio trunking)
                // are valid numbers of their own per the metadata, so they are
                // kept as written and are no old spelling of a mobile.
                let eight = phonenumber::parse(None, format!("+55{area}{subscriber}"));
                if eight.is_ok_and(|n| n.is_valid()) {
                    return Ok(());
                }
                let expected = format!("55{area}9{subscriber}");
                let (head, tail) = subscriber.split_at(4);
                let mut spellings = vec![
                    format!("+55 {area} 9{head}-{tail}"),
                    format!("+55 {area} {head}-{tail}"),
                    format!("+55 ({area}) {head}-{tail}"),
                    format!("0055 {area} {head} {tail}"),
                ];
                if region == country::BR {
                    spellings.extend([
                        format!("55{area}{subscriber}"),
                        expected.clone(),
                        format!("({area}) 9{head}-{tail}"),
                        format!("({area}) {head}-{tail}"),
                        format!("0{area} {head}-{tail}"),
                        format!("{area}9{subscriber}"),
                    ]);
                }
                all_normalize_to(&spellings, region, &expected)?;
            }

            #[test]
            fn an_argentine_mobile_is_one_customer_in_its_9_and_15_forms(
                (area, subscriber) in prop_oneof![
                    Just(("11", "[1-9][0-9]{7}")),
                    Just(("351", "[4-5][0-9]{6}")),
                    Just(("2966", "[4-6][0-9]{5}")),
                ].prop_flat_map(|(area, pattern)| (Just(area), pattern)),
                region in region(),
            ) {
                // The metadata leaves some ranges unallocated: the "+54 9"
                // spelling decides whether this number exists at all.
                let Ok(expected) = normalize(&format!("+54 9 {area} {subscriber}"), region) else {
                    return Ok(());
                };
                prop_assert_eq!(expected.as_str(), format!("549{area}{subscriber}"));
                let mut spellings = vec![
                    format!("+54 {area} 15 {subscriber}"),
                    format!("0054 {area} 15 {subscriber}"),
                ];
                if region == country::AR {
                    spellings.extend([
                        format!("549{area}{subscriber}"),
                        format!("0{area} 15 {subscriber}"),
                        format!("{area} 15 {subscriber}"),
                        format!("9 {area} {subscriber}"),
                    ]);
                }
                all_normalize_to(&spellings, region, expected.as_str())?;
            }
        }
    }
}
