//! The consent request's JSON, written as a string in Rust.
//!
//! Not through a JS object and `JSON.stringify`: a merchant page may patch
//! `JSON.stringify`, give `Array.prototype` a `toJSON` (Prototype.js) or put
//! setters on `Object.prototype`, and each of those would change the body the
//! Worker records. A Rust string cannot be touched by the page. No serde here:
//! its encoder would cost the download more than this writer.

use alloc::string::String;

/// A JSON object written field by field, in call order.
pub struct Writer(String);

impl Writer {
    /// `{`, ready for the first field.
    pub fn new() -> Writer {
        Writer(String::from("{"))
    }

    fn key(&mut self, key: &str) {
        if self.0.len() > 1 {
            self.0.push(',');
        }
        push_quoted(&mut self.0, key);
        self.0.push(':');
    }

    /// `"key":"value"`.
    pub fn string(&mut self, key: &str, value: &str) {
        self.key(key);
        push_quoted(&mut self.0, value);
    }

    /// `"key":n`.
    pub fn number(&mut self, key: &str, n: u64) {
        self.key(key);
        push_u64(&mut self.0, n);
    }

    /// `"key":["a","b"]`.
    pub fn strings(&mut self, key: &str, values: &[String]) {
        self.key(key);
        self.0.push('[');
        for (i, v) in values.iter().enumerate() {
            if i > 0 {
                self.0.push(',');
            }
            push_quoted(&mut self.0, v);
        }
        self.0.push(']');
    }

    /// The object, closed.
    pub fn finish(mut self) -> String {
        self.0.push('}');
        self.0
    }
}

/// A consent as the Worker decodes it (field names as in
/// `consent_core::ConsentRequest`).
pub struct Consent<'a> {
    /// The number as typed.
    pub phone: &'a str,
    /// Ticked categories (wire names).
    pub categories: &'a [String],
    /// Locale of the notice shown.
    pub locale: &'a str,
    /// Notice version shown.
    pub notice_version: u32,
    /// The exact notice text shown.
    pub notice_text: &'a str,
    /// `modal`, `checkout` or `chat`.
    pub surface: &'a str,
    /// The A/B variant shown, if any.
    pub variant: Option<&'a str>,
    /// The page it was given on.
    pub page_url: Option<&'a str>,
    /// Client clock, ms since the epoch.
    pub client_ts: u64,
    /// Widget build.
    pub widget_version: &'a str,
}

impl Consent<'_> {
    /// The request body.
    pub fn to_json(&self) -> String {
        let mut w = Writer::new();
        w.string("phone", self.phone);
        w.strings("categories", self.categories);
        w.string("locale", self.locale);
        w.number("notice_version", self.notice_version.into());
        w.string("notice_text", self.notice_text);
        w.string("surface", self.surface);
        if let Some(v) = self.variant {
            w.string("variant", v);
        }
        if let Some(u) = self.page_url {
            w.string("page_url", u);
        }
        w.number("client_ts", self.client_ts);
        w.string("widget_version", self.widget_version);
        w.finish()
    }
}

/// Appends `s` as a JSON string. Quotes, backslashes and control characters
/// are escaped (`\u00XX`); everything else, non-ASCII included, goes in as
/// UTF-8, which JSON allows. A Rust `str` holds no lone surrogates
/// (wasm-bindgen replaces them with U+FFFD on the way in), so the output is
/// always valid JSON.
pub fn push_quoted(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    // SAFETY: only whole ASCII bytes are added between the bytes of `s`, and
    // no ASCII byte occurs inside a multi-byte UTF-8 sequence: still UTF-8.
    let out = unsafe { out.as_mut_vec() };
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' | b'\\' => out.extend_from_slice(&[b'\\', b]),
            0..=0x1f => out.extend_from_slice(&[
                b'\\',
                b'u',
                b'0',
                b'0',
                HEX[usize::from(b >> 4)],
                HEX[usize::from(b & 15)],
            ]),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Appends `n` in decimal (no `core::fmt` in the widget).
pub fn push_u64(out: &mut String, mut n: u64) {
    let mut digits = [0u8; 20];
    let mut i = digits.len();
    loop {
        i -= 1;
        digits[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for &d in &digits[i..] {
        out.push(d as char);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use consent_core::ConsentRequest;

    fn quoted(s: &str) -> String {
        let mut out = String::new();
        push_quoted(&mut out, s);
        out
    }

    #[test]
    fn quotes_and_backslashes_are_escaped() {
        assert_eq!(quoted(r#"say "hi" \o/"#), r#""say \"hi\" \\o/""#);
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(quoted("a\nb\rc\td"), r#""a\u000ab\u000dc\u0009d""#);
        assert_eq!(
            quoted("\u{0}\u{1}\u{8}\u{c}\u{1f}"),
            r#""\u0000\u0001\u0008\u000c\u001f""#
        );
        // DEL and U+2028 are legal inside JSON strings.
        assert_eq!(quoted("\u{7f}\u{2028}"), "\"\u{7f}\u{2028}\"");
    }

    #[test]
    fn non_ascii_goes_in_as_utf8_and_reads_back_the_same() {
        for s in ["Şirket ğüı", "Dapatkan info 🇮🇩", "ﬀ\u{fffd}", "日本語", ""] {
            let back: String = serde_json::from_str(&quoted(s)).unwrap();
            assert_eq!(back, s);
        }
    }

    #[test]
    fn every_char_round_trips_through_a_json_parser() {
        // Every scalar value below U+10000 (surrogates are not chars: a Rust
        // string cannot carry a lone one, so no output can be invalid JSON).
        let all: String = (0..0x1_0000u32).filter_map(char::from_u32).collect();
        let back: String = serde_json::from_str(&quoted(&all)).unwrap();
        assert_eq!(back, all);
    }

    #[test]
    fn numbers_are_written_in_decimal() {
        for n in [0u64, 7, 10, 1_733_000_000_123, u64::MAX] {
            let mut out = String::new();
            push_u64(&mut out, n);
            assert_eq!(out, n.to_string());
        }
    }

    #[test]
    fn an_object_is_its_fields_in_order() {
        let mut w = Writer::new();
        assert_eq!(Writer::new().finish(), "{}");
        w.string("phone", "+62 812");
        w.strings("categories", &["delivery".to_string(), "a\"b".to_string()]);
        w.strings("none", &[]);
        w.number("v", 3);
        assert_eq!(
            w.finish(),
            r#"{"phone":"+62 812","categories":["delivery","a\"b"],"none":[],"v":3}"#
        );
    }

    #[test]
    fn a_consent_reads_back_as_the_request_the_worker_decodes() {
        let categories = ["order_updates".to_string(), "delivery".to_string()];
        let c = Consent {
            phone: "+62 812-3456 \"7890\"",
            categories: &categories,
            locale: "pt-BR",
            notice_version: 4,
            notice_text: "Concordo em receber de Toko \"Açaí\" \\ no WhatsApp…\n",
            surface: "checkout",
            variant: Some("short"),
            page_url: Some("https://shop.example/c?q=\u{2028}&x=\"1\""),
            client_ts: 1_733_000_000_123,
            widget_version: "0.1.0",
        };
        let r: ConsentRequest = serde_json::from_str(&c.to_json()).unwrap();
        assert_eq!(r.phone, c.phone);
        assert_eq!(r.categories, categories);
        assert_eq!(r.locale, "pt-BR");
        assert_eq!(r.notice_version, 4);
        assert_eq!(r.notice_text, c.notice_text);
        assert_eq!(r.surface, "checkout");
        assert_eq!(r.variant.as_deref(), Some("short"));
        assert_eq!(r.page_url.as_deref(), c.page_url);
        assert_eq!(r.client_ts, Some(1_733_000_000_123.0));
        assert_eq!(r.widget_version.as_deref(), Some("0.1.0"));
        assert_eq!(r.turnstile_token, None);
        let bare = Consent {
            variant: None,
            page_url: None,
            ..c
        };
        let r: ConsentRequest = serde_json::from_str(&bare.to_json()).unwrap();
        assert_eq!((r.variant, r.page_url), (None, None));
    }
}
