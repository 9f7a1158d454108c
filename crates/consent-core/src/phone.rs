//! E.164 phone-number normalisation, strict enough to stop typos costing a template.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// A normalised phone number: `+` then 8–15 digits, with a known country calling code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct E164(String);

/// Why a phone number was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum PhoneError {
    /// Nothing was typed.
    #[error("the phone number is empty")]
    Empty,
    /// Letters or symbols other than spaces, dots, dashes and brackets.
    #[error(
        "the phone number contains characters other than digits, spaces, dashes, dots and brackets"
    )]
    InvalidCharacters,
    /// No country calling code matches.
    #[error("the country calling code is not known")]
    UnknownCountryCode,
    /// Too short or too long for its country.
    #[error("the number has {digits} digits after +{calling_code}, expected {min} to {max}")]
    WrongLength {
        /// Country calling code found.
        calling_code: u16,
        /// Digits after it.
        digits: usize,
        /// Fewest allowed.
        min: usize,
        /// Most allowed.
        max: usize,
    },
}

impl E164 {
    /// The number as `+<digits>`.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The digits without `+` (WhatsApp's `wa_id` form).
    pub fn digits(&self) -> &str {
        &self.0[1..]
    }

    /// The country calling code.
    pub fn calling_code(&self) -> u16 {
        split_calling_code(self.digits())
            .map(|(cc, _)| cc)
            .unwrap_or_default()
    }
}

impl core::fmt::Display for E164 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for E164 {
    type Error = PhoneError;
    fn try_from(s: String) -> Result<Self, PhoneError> {
        if !s.starts_with('+') {
            return Err(PhoneError::UnknownCountryCode);
        }
        normalize_phone(&s, 0)
    }
}

impl From<E164> for String {
    fn from(p: E164) -> String {
        p.0
    }
}

/// Whether `c` is one of the separators people type or paste between digits:
/// spaces (no-break, narrow no-break and figure spaces too), tabs and line
/// breaks, `-`, `.` and parentheses. A fixed set rather than `char::is_whitespace`
/// keeps Unicode's whitespace table out of the widget's wasm.
pub fn is_separator(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t' | '\n' | '\r' | '-' | '.' | '(' | ')' | '\u{a0}' | '\u{2007}' | '\u{202f}'
    )
}

/// `s` without separators at either end (see [`is_separator`]).
pub fn trim_separators(s: &str) -> &str {
    s.trim_matches(is_separator)
}

/// What a person typed, read the one way normalising and formatting both use:
/// whether its first character other than a separator is `+`, and its digits
/// without the separators (see [`is_separator`]). `None` when it holds anything else.
fn typed_digits(typed: &str) -> Option<(bool, String)> {
    let start = trim_separators(typed);
    let (plus, rest) = match start.strip_prefix('+') {
        Some(rest) => (true, rest),
        None => (false, start),
    };
    let mut digits = String::with_capacity(rest.len());
    for ch in rest.chars() {
        match ch {
            '0'..='9' => digits.push(ch),
            c if is_separator(c) => {}
            _ => return None,
        }
    }
    Some((plus, digits))
}

/// Normalises what a person typed. `+` or `00` starts an international number;
/// anything else is national and gets `default_calling_code` (its trunk `0` dropped).
pub fn normalize_phone(input: &str, default_calling_code: u16) -> Result<E164, PhoneError> {
    let (international, digits) = typed_digits(input).ok_or(PhoneError::InvalidCharacters)?;
    if digits.is_empty() {
        return Err(PhoneError::Empty);
    }
    let full = if international {
        digits
    } else if let Some(intl) = digits.strip_prefix("00") {
        intl.to_owned()
    } else {
        if default_calling_code == 0 {
            return Err(PhoneError::UnknownCountryCode);
        }
        let national = digits.strip_prefix('0').unwrap_or(&digits);
        let mut full = String::with_capacity(3 + national.len());
        push_decimal(&mut full, default_calling_code.into());
        full.push_str(national);
        full
    };
    let (cc, mut national) = split_calling_code(&full).ok_or(PhoneError::UnknownCountryCode)?;
    // "+62 0812…" is a common slip; only Italy keeps the leading 0.
    // Stripping every such zero keeps normalisation idempotent (fuzz-found).
    if cc != 39 {
        national = national.trim_start_matches('0');
    }
    let (min, max) = national_length(cc);
    // No assigned number is shorter than 7 digits in all, nor longer than 15.
    let min = min.max(7 - cc_len(cc));
    let max = max.min(15 - cc_len(cc));
    if national.len() < min || national.len() > max {
        return Err(PhoneError::WrongLength {
            calling_code: cc,
            digits: national.len(),
            min,
            max,
        });
    }
    let mut e164 = String::with_capacity(16);
    e164.push('+');
    push_decimal(&mut e164, cc.into());
    e164.push_str(national);
    Ok(E164(e164))
}

/// Appends `n` in decimal. Hand-rolled so the widget links no `core::fmt`.
pub fn push_decimal(out: &mut String, n: u32) {
    let mut digits = [0u8; 10];
    let mut i = digits.len();
    let mut n = n;
    while i > 0 {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    out.extend(digits.iter().skip(i).map(|&d| char::from(d)));
}

fn cc_len(cc: u16) -> usize {
    match cc {
        0..=9 => 1,
        10..=99 => 2,
        _ => 3,
    }
}

/// Whether `cc` is an assigned country calling code (`62`, `1`, `880`), as
/// [`E164::calling_code`] reads them: `6` or `1000` are not.
pub fn is_calling_code(cc: u16) -> bool {
    let mut digits = String::with_capacity(5);
    push_decimal(&mut digits, cc.into());
    split_calling_code(&digits) == Some((cc, ""))
}

/// Splits `digits` into an assigned calling code and the rest.
fn split_calling_code(digits: &str) -> Option<(u16, &str)> {
    let mut code = 0u16;
    for (n, b) in digits.bytes().take(3).enumerate() {
        if !b.is_ascii_digit() {
            return None;
        }
        code = code * 10 + u16::from(b - b'0');
        if is_assigned(code) {
            return Some((code, digits.get(n + 1..)?));
        }
    }
    None
}

fn is_assigned(cc: u16) -> bool {
    matches!(
        cc,
        1 | 7
            | 20
            | 27
            | 30..=34
            | 36
            | 39..=41
            | 43..=49
            | 51..=58
            | 60..=66
            | 81
            | 82
            | 84
            | 86
            | 90..=95
            | 98
            | 211..=213
            | 216
            | 218
            | 220..=258
            | 260..=269
            | 290
            | 291
            | 297..=299
            | 350..=359
            | 370..=378
            | 380..=383
            | 385..=387
            | 389
            | 420
            | 421
            | 423
            | 500..=509
            | 590..=599
            | 670
            | 672..=683
            | 685..=692
            | 850
            | 852
            | 853
            | 855
            | 856
            | 880
            | 886
            | 960..=968
            | 970..=977
            | 992..=996
            | 998
    )
}

/// Allowed lengths of the national significant number, per calling code.
fn national_length(cc: u16) -> (usize, usize) {
    match cc {
        1 | 7 | 30 | 52 | 57 | 58 | 63 | 90 | 91 | 92 => (10, 10),
        20 => (9, 10),
        27 | 31 | 33 | 34 | 40 | 41 | 48 | 56 | 61 => (9, 9),
        32 | 36 | 51 | 66 => (8, 9),
        39 => (6, 11),
        43 => (10, 13),
        44 => (9, 10),
        45 | 47 | 65 => (8, 8),
        46 => (7, 9),
        49 => (6, 13),
        54 | 55 | 86 => (10, 11),
        60 | 64 => (8, 10),
        62 => (8, 12),
        81 | 84 => (9, 10),
        82 => (8, 10),
        _ => (4, 14),
    }
}

/// How a country groups the digits of a national number while it is typed
/// (spaces between groups; digits past the last group stay in it).
fn groups(cc: u16, len: usize) -> &'static [u8] {
    match cc {
        1 | 39 | 63 => &[3, 3, 4],
        7 | 90 => &[3, 3, 2, 2],
        33 => &[1, 2, 2, 2, 2],
        34 => &[3, 2, 2, 2],
        44 => &[4, 6],
        45 | 47 => &[2, 2, 2, 2],
        46 => &[2, 3, 2, 2],
        49 | 62 => &[3, 4, 4],
        52 | 54 => &[2, 4, 4],
        55 if len < 11 => &[2, 4, 4],
        55 => &[2, 5, 4],
        60 => &[2, 3, 4],
        65 => &[4, 4],
        91 => &[5, 5],
        _ => &[3, 3, 3, 3],
    }
}

/// Appends `digits` grouped for `cc`; a leading trunk `0` (kept except in
/// Italy, where it belongs to the number) stands before the first group.
fn push_grouped(out: &mut String, cc: u16, digits: &str) {
    let digits = match digits.strip_prefix('0') {
        Some(rest) if cc != 39 => {
            out.push('0');
            rest
        }
        _ => digits,
    };
    let mut sizes = groups(cc, digits.len()).iter();
    let mut left = sizes.next().map_or(usize::MAX, |&g| usize::from(g));
    for d in digits.chars() {
        if left == 0 {
            if let Some(&g) = sizes.next() {
                out.push(' ');
                left = usize::from(g);
            }
        }
        out.push(d);
        left = left.saturating_sub(1);
    }
}

/// What a person typed, with its digits grouped the way their country writes
/// them (`"+62 812 3456 7890"`, `"0812 3456 7890"`, `"+55 11 98765 4321"`).
/// National numbers are grouped for `default_calling_code`. `None` (leave it
/// as typed) when it holds anything but digits, separators and a leading `+`,
/// or starts with `00`.
pub fn format_typed(typed: &str, default_calling_code: u16) -> Option<String> {
    let (plus, digits) = typed_digits(typed)?;
    let mut out = String::with_capacity(digits.len() + 8);
    if !plus {
        if digits.starts_with("00") {
            return None;
        }
        push_grouped(&mut out, default_calling_code, &digits);
        return Some(out);
    }
    out.push('+');
    match split_calling_code(&digits) {
        Some((cc, national)) => {
            push_decimal(&mut out, cc.into());
            if !national.is_empty() {
                out.push(' ');
                push_grouped(&mut out, cc, national);
            }
        }
        None => out.push_str(&digits),
    }
    Some(out)
}

/// Digits and `+` in `s` before UTF-16 offset `caret`: the caret's place that
/// survives regrouping.
pub fn significant_before(s: &str, caret: usize) -> usize {
    let mut at = 0;
    let mut n = 0;
    for ch in s.chars() {
        if at >= caret {
            break;
        }
        at += ch.len_utf16();
        if ch == '+' || ch.is_ascii_digit() {
            n += 1;
        }
    }
    n
}

/// The UTF-16 offset in `s` just after its `n`th digit or `+` (0 for none).
pub fn offset_after(s: &str, n: usize) -> usize {
    let mut seen = 0;
    let mut at = 0;
    for ch in s.chars() {
        if seen == n {
            break;
        }
        at += ch.len_utf16();
        if ch == '+' || ch.is_ascii_digit() {
            seen += 1;
        }
    }
    at
}

/// An edit of the phone input, regrouped: the new value and caret, or `None`
/// to leave it as typed. `before` is the value before the edit; `deleting` is
/// `Some(true)` for a backspace, `Some(false)` for a forward delete. Deleting
/// only a separator deletes the digit beside it too, or regrouping would put
/// the separator straight back.
pub fn retype(
    before: &str,
    typed: &str,
    caret: usize,
    deleting: Option<bool>,
    default_calling_code: u16,
) -> Option<(String, usize)> {
    let count = |s: &str| significant_before(s, usize::MAX);
    let mut n = significant_before(typed, caret);
    let mut edited = String::new();
    let mut typed = typed;
    if let (Some(back), true) = (deleting, count(typed) == count(before)) {
        let drop = if back { n.checked_sub(1)? } else { n };
        let mut seen = 0;
        for ch in typed.chars() {
            let significant = ch == '+' || ch.is_ascii_digit();
            if !(significant && seen == drop) {
                edited.push(ch);
            }
            seen += usize::from(significant);
        }
        n = drop;
        typed = &edited;
    }
    let formatted = format_typed(typed, default_calling_code)?;
    let caret = offset_after(&formatted, n);
    Some((formatted, caret))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(input: &str, cc: u16) -> String {
        normalize_phone(input, cc).unwrap().as_str().to_owned()
    }

    #[test]
    fn international_formats_normalise() {
        assert_eq!(ok("+62 812-3456-7890", 0), "+6281234567890");
        assert_eq!(ok("0062 812 3456 7890", 45), "+6281234567890");
        assert_eq!(ok("+55 (11) 98765-4321", 0), "+5511987654321");
        assert_eq!(ok("+90 532 123 45 67", 0), "+905321234567");
        assert_eq!(ok("+45 20 12 34 56", 0), "+4520123456");
        assert_eq!(ok("+1 (415) 555-0100", 0), "+14155550100");
    }

    #[test]
    fn pasted_numbers_keep_working_whatever_spaces_and_brackets_they_carry() {
        // A line break from a copied cell, narrow no-break spaces from French
        // formatting, a bracketed country code, figure spaces, a tab.
        assert_eq!(ok("+62 812 3456 7890\n", 0), "+6281234567890");
        assert_eq!(
            ok("+33\u{202f}6\u{202f}12\u{202f}34\u{202f}56\u{202f}78", 0),
            "+33612345678"
        );
        assert_eq!(ok("(+55) 11 98765-4321", 0), "+5511987654321");
        assert_eq!(ok("\t0812\u{2007}3456\u{2007}7890 ", 62), "+6281234567890");
        assert_eq!(trim_separators(" (0812) "), "0812");
        // Other characters are still refused, not skipped.
        assert_eq!(
            normalize_phone("+62\u{3000}812 3456 7890", 0),
            Err(PhoneError::InvalidCharacters)
        );
    }

    #[test]
    fn national_numbers_take_the_default_code_and_drop_the_trunk_zero() {
        assert_eq!(ok("0812 3456 7890", 62), "+6281234567890");
        assert_eq!(ok("0532 123 45 67", 90), "+905321234567");
        assert_eq!(ok("20 12 34 56", 45), "+4520123456");
    }

    #[test]
    fn a_zero_after_the_country_code_is_dropped_except_in_italy() {
        assert_eq!(ok("+62 0812 3456 7890", 0), "+6281234567890");
        assert_eq!(ok("+39 06 1234 5678", 0), "+390612345678");
    }

    #[test]
    fn impossible_numbers_are_refused_with_a_reason() {
        assert_eq!(normalize_phone("", 62), Err(PhoneError::Empty));
        assert_eq!(normalize_phone("  + ", 62), Err(PhoneError::Empty));
        assert_eq!(
            normalize_phone("0812abc", 62),
            Err(PhoneError::InvalidCharacters)
        );
        assert_eq!(
            normalize_phone("'; DROP TABLE", 62),
            Err(PhoneError::InvalidCharacters)
        );
        assert_eq!(
            normalize_phone("+999 1234567", 0),
            Err(PhoneError::UnknownCountryCode)
        );
        assert_eq!(
            normalize_phone("12345", 0),
            Err(PhoneError::UnknownCountryCode)
        );
        assert_eq!(
            normalize_phone("+45 1234", 0),
            Err(PhoneError::WrongLength {
                calling_code: 45,
                digits: 4,
                min: 8,
                max: 8
            })
        );
        assert!(matches!(
            normalize_phone("+62 8123456789012345", 0),
            Err(PhoneError::WrongLength { .. })
        ));
    }

    #[test]
    fn e164_parses_strictly_from_strings() {
        let p: E164 = serde_json::from_str("\"+6281234567890\"").unwrap();
        assert_eq!(p.digits(), "6281234567890");
        assert_eq!(p.calling_code(), 62);
        assert!(serde_json::from_str::<E164>("\"081234567890\"").is_err());
    }

    #[test]
    fn normalising_twice_changes_nothing() {
        // Found by the phone fuzz target: a second pass used to drop another zero.
        let once = normalize_phone("0 010005762 36 36", 28);
        assert_eq!(
            once.as_ref().map(E164::as_str),
            Err(&PhoneError::WrongLength {
                calling_code: 1,
                digits: 8,
                min: 10,
                max: 10
            })
        );
        let p = normalize_phone("+62 0812 3456 7890", 0).unwrap();
        assert_eq!(normalize_phone(p.as_str(), 0).unwrap(), p);
    }

    #[test]
    fn never_shorter_than_seven_digits_in_all() {
        // Found by the phone fuzz target: "+431235" passed as Austrian.
        assert!(normalize_phone("+431235", 0).is_err());
        assert!(
            normalize_phone("+683 1234", 0).is_ok(),
            "Niue's short numbers exist"
        );
        assert!(normalize_phone("+683 123", 0).is_err());
    }

    #[test]
    fn calling_codes_of_every_width_are_written_out() {
        assert_eq!(ok("20 12 34 56", 45), "+4520123456");
        assert_eq!(ok("(415) 555-0100", 1), "+14155550100");
        assert_eq!(ok("0 98 765 43 21", 380), "+380987654321");
        let mut s = String::new();
        for n in [0, 7, 10, 100, 1000, 65535, u32::MAX] {
            push_decimal(&mut s, n);
            s.push(' ');
        }
        assert_eq!(s, "0 7 10 100 1000 65535 4294967295 ");
    }

    #[test]
    fn typed_numbers_are_grouped_the_way_their_country_writes_them() {
        let f = |s: &str, cc: u16| format_typed(s, cc);
        assert_eq!(f("081234567890", 62).as_deref(), Some("0812 3456 7890"));
        assert_eq!(
            f("0812 1234 5678", 62).as_deref(),
            Some("0812 1234 5678"),
            "the demo's own spacing stays"
        );
        assert_eq!(f("+6281234567890", 0).as_deref(), Some("+62 812 3456 7890"));
        assert_eq!(f("+62 0812-3456", 0).as_deref(), Some("+62 0812 3456"));
        assert_eq!(f("+5511987654321", 0).as_deref(), Some("+55 11 98765 4321"));
        assert_eq!(f("+551134567890", 0).as_deref(), Some("+55 11 3456 7890"));
        assert_eq!(f("+905321234567", 0).as_deref(), Some("+90 532 123 45 67"));
        assert_eq!(f("20123456", 45).as_deref(), Some("20 12 34 56"));
        assert_eq!(f("(415) 555-0100", 1).as_deref(), Some("415 555 0100"));
        assert_eq!(f("+39 0612345678", 0).as_deref(), Some("+39 061 234 5678"));
        assert_eq!(f("+6", 0).as_deref(), Some("+6"));
        assert_eq!(f("+62", 0).as_deref(), Some("+62"));
        assert_eq!(f("+", 0).as_deref(), Some("+"));
        assert_eq!(f("", 62).as_deref(), Some(""));
        assert_eq!(
            f("0812abc", 62),
            None,
            "letters stay as typed (and get the inline error)"
        );
        assert_eq!(f("0062 812", 62), None);
        assert_eq!(f("+62 81 2+3", 62), None);
    }

    #[test]
    fn the_caret_stays_after_the_same_digit() {
        // Typing "5" in the middle of "0812 3456|7890" (caret 9 → after the 5).
        let (v, c) = retype("0812 3456 7890", "0812 34565 7890", 10, None, 62).unwrap();
        assert_eq!(v, "0812 3456 57890");
        assert_eq!(&v[..c], "0812 3456 5");
        // Typing at the end opens a new group.
        let (v, c) = retype("0812", "08121", 5, None, 62).unwrap();
        assert_eq!((v.as_str(), c), ("0812 1", 6));
        // A pasted international number.
        let (v, c) = retype("", "+6281234567890", 14, None, 0).unwrap();
        assert_eq!((v.as_str(), c), ("+62 812 3456 7890", 17));
    }

    #[test]
    fn deleting_a_separator_deletes_the_digit_beside_it() {
        // Backspace just after the space in "0812 |3456": the 2 goes.
        let (v, c) = retype("0812 3456", "08123456", 4, Some(true), 62).unwrap();
        assert_eq!(v, "0813 456");
        assert_eq!(&v[..c], "081");
        // Delete just before the space in "0812| 3456": the 3 goes.
        let (v, c) = retype("0812 3456", "08123456", 4, Some(false), 62).unwrap();
        assert_eq!(v, "0812 456");
        assert_eq!(&v[..c], "0812");
        // A plain backspace over a digit is just regrouped.
        let (v, _) = retype("0812 3456", "0812 356", 7, Some(true), 62).unwrap();
        assert_eq!(v, "0812 356");
        assert_eq!(
            retype("", " ", 0, Some(true), 62),
            None,
            "nothing to delete before the caret"
        );
    }

    #[test]
    fn never_longer_than_fifteen_digits() {
        for input in ["+2551234567890123", "+1234567890123456789"] {
            assert!(normalize_phone(input, 0).is_err(), "{input}");
        }
    }
}
