//! The opt-in notice a person reads, rendered identically in widget and Worker.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::locale::Locale;

/// A rendered notice: what was shown, in which language, under which version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notice {
    /// Language the text is in.
    pub locale: Locale,
    /// The site's notice version (bumped whenever the merchant changes wording).
    pub version: u32,
    /// The exact text shown.
    pub text: String,
}

/// Renders the opt-in statement for `business` in `locale`.
pub fn render_notice(locale: Locale, business: &str, version: u32) -> Notice {
    Notice {
        locale,
        version,
        text: fill(locale.strings().notice, business),
    }
}

/// `template` with `{business}` replaced by `business` (as `str::replace` would),
/// written without substring search or slicing so the widget links no panic formatting.
fn fill(template: &str, business: &str) -> String {
    let mut out = String::with_capacity(template.len() + business.len());
    let mut rest = template;
    while let Some((head, tail)) = rest.split_once('{') {
        out.push_str(head);
        match tail.strip_prefix("business}") {
            Some(after) => {
                out.push_str(business);
                rest = after;
            }
            None => {
                out.push('{');
                rest = tail;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Lower-case hex SHA-256 of the UTF-8 text: what the ledger records as proof.
pub fn notice_hash(text: &str) -> String {
    hex(&Sha256::digest(text.as_bytes()))
}

/// Lower-case hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 15) as usize] as char);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notice_names_business_in_the_chosen_language() {
        let n = render_notice(Locale::Id, "Toko Acme", 3);
        assert_eq!(
            n.text,
            "Saya setuju menerima pesan yang saya pilih di bawah dari Toko Acme melalui WhatsApp. Saya dapat berhenti kapan saja dengan membalas BERHENTI."
        );
        assert_eq!(n.version, 3);
        assert_eq!(n.locale, Locale::Id);
    }

    #[test]
    fn hash_is_sha256_hex_of_the_exact_text() {
        // Known vector: SHA-256("abc").
        assert_eq!(
            notice_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        let a = render_notice(Locale::En, "Acme", 1);
        let b = render_notice(Locale::En, "Acme ", 1);
        assert_ne!(notice_hash(&a.text), notice_hash(&b.text));
    }

    #[test]
    fn fill_matches_str_replace() {
        for t in [
            "{business}",
            "a {business} b {business}",
            "{x} {business",
            "{{business}}",
            "é{",
        ] {
            for b in ["", "Toko Acme", "{business}"] {
                assert_eq!(fill(t, b), t.replace("{business}", b), "{t} / {b}");
            }
        }
    }

    #[test]
    fn markup_in_a_business_name_stays_literal_text() {
        let n = render_notice(Locale::En, "<img src=x onerror=alert(1)>", 1);
        assert!(n
            .text
            .contains("from <img src=x onerror=alert(1)> on WhatsApp"));
    }
}
