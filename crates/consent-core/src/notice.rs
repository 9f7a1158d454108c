//! The opt-in notice and every other widget string as a site shows them:
//! our wording, the merchant's per-string overrides, A/B variants per surface.
//!
//! The Worker renders these into the config response (the widget bundles no
//! wording) and renders them again to check that the notice a consent carries
//! is exactly the one the site showed, so the hash it records is of that text.

use alloc::collections::BTreeMap;

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::{
    consent::Surface,
    locale::{Locale, WIDGET_KEYS},
    site::SiteConfig,
};

/// Merchant wording per locale and string key: `{"pt-BR": {"submit": "Quero receber"}}`.
/// Keys are [`WIDGET_KEYS`] names or category wire names.
pub type Overrides = BTreeMap<Locale, BTreeMap<String, String>>;

/// One A/B variant of a surface's wording, shown to `weight` parts of visitors.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Variant {
    /// Recorded with each consent as `variant` (1-32 of `a-z 0-9 _ -`).
    pub id: String,
    /// Relative share of visitors (1-10000).
    pub weight: u32,
    /// Only the strings that differ from the site's; none makes a control arm.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub strings: Overrides,
}

/// A variant as the widget receives it: the differing strings in the visitor's locale.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicVariant {
    /// Variant id to send back with the consent.
    pub id: String,
    /// Relative share of visitors.
    pub weight: u32,
    /// The strings that differ, rendered (`{business}` filled).
    #[serde(default)]
    pub strings: BTreeMap<String, String>,
}

/// Most variants a surface may have.
pub const MAX_VARIANTS: usize = 4;
const MAX_NOTICE_CHARS: usize = 600;
const MAX_TEXT_CHARS: usize = 200;
const MAX_WEIGHT: u32 = 10_000;

impl SiteConfig {
    /// The string under `key` as the site shows it in `locale`: the variant's
    /// wording, else the merchant's override, else ours, with `{business}`
    /// filled. `None` for a key that is no widget string.
    pub fn text(&self, locale: Locale, variant: Option<&Variant>, key: &str) -> Option<String> {
        let own_label = self.category_label(key, locale);
        let ours = match &own_label {
            Some(label) => label.as_str(),
            None => locale.strings().get(key)?,
        };
        fn theirs<'a>(o: &'a Overrides, locale: Locale, key: &str) -> Option<&'a str> {
            o.get(&locale)?.get(key).map(String::as_str)
        }
        let template = variant
            .and_then(|v| theirs(&v.strings, locale, key))
            .or_else(|| theirs(&self.strings, locale, key))
            .unwrap_or(ours);
        Some(fill(template, &self.business_name))
    }

    /// The notice as shown in `locale` (under `variant`, if any).
    pub fn notice(&self, locale: Locale, variant: Option<&Variant>) -> Notice {
        Notice {
            locale,
            version: self.notice_version,
            text: self.text(locale, variant, "notice").unwrap_or_default(),
        }
    }

    /// The variant `id` of `surface`, if the site defines it.
    pub fn variant(&self, surface: Surface, id: &str) -> Option<&Variant> {
        self.variants.get(&surface)?.iter().find(|v| v.id == id)
    }

    /// Every widget string in `locale`, overrides applied: the config response's
    /// `strings` (category labels only for the categories offered, chat strings
    /// only when the site has a chat widget, `chat_later` only when it has
    /// opening hours).
    pub fn widget_strings(&self, locale: Locale) -> BTreeMap<String, String> {
        let hours = self.chat.as_ref().is_some_and(|c| c.hours.is_some());
        let keys = WIDGET_KEYS
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| self.chat.is_some() || !k.starts_with("chat_"))
            .filter(|k| hours || *k != "chat_later")
            .chain(self.categories.iter().map(|c| c.id.as_str()));
        keys.filter_map(|k| Some((k.to_owned(), self.text(locale, None, k)?)))
            .collect()
    }

    /// Each surface's variants with only the strings that differ in `locale`.
    pub fn public_variants(&self, locale: Locale) -> BTreeMap<Surface, Vec<PublicVariant>> {
        let differing = |v: &Variant| -> BTreeMap<String, String> {
            let keys = v.strings.get(&locale).into_iter().flat_map(|m| m.keys());
            keys.filter_map(|k| Some((k.clone(), self.text(locale, Some(v), k)?)))
                .collect()
        };
        self.variants
            .iter()
            .map(|(surface, list)| {
                let list = list
                    .iter()
                    .map(|v| PublicVariant {
                        id: v.id.clone(),
                        weight: v.weight,
                        strings: differing(v),
                    })
                    .collect();
                (*surface, list)
            })
            .collect()
    }

    /// Checks `strings` and `variants` (called by [`SiteConfig::check`]).
    pub(crate) fn check_texts(&self) -> Result<(), (&'static str, &'static str)> {
        check_overrides(&self.strings).map_err(|m| ("strings", m))?;
        for list in self.variants.values() {
            if list.is_empty() || list.len() > MAX_VARIANTS {
                return Err(("variants", "each surface takes 1 to 4 variants"));
            }
            for (i, v) in list.iter().enumerate() {
                if !is_variant_id(&v.id) || list[..i].iter().any(|w| w.id == v.id) {
                    return Err((
                        "variants",
                        "ids must be 1-32 of a-z, 0-9, _ and -, unique per surface",
                    ));
                }
                if !(1..=MAX_WEIGHT).contains(&v.weight) {
                    return Err(("variants", "weights must be 1 to 10000"));
                }
                check_overrides(&v.strings).map_err(|m| ("variants", m))?;
            }
        }
        Ok(())
    }
}

/// A variant id: 1-32 of `a-z 0-9 _ -`.
pub fn is_variant_id(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

pub(crate) fn check_overrides(o: &Overrides) -> Result<(), &'static str> {
    for (locale, texts) in o {
        for (key, text) in texts {
            let ours = locale.strings().get(key).ok_or(
                "keys must be widget string names (notice, title, submit, …) or category wire names",
            )?;
            let max = if key == "notice" {
                MAX_NOTICE_CHARS
            } else {
                MAX_TEXT_CHARS
            };
            if text.trim().is_empty() || text.chars().count() > max {
                return Err("texts must be 1-200 characters (the notice 1-600)");
            }
            if text.chars().any(char::is_control) {
                return Err("texts must not contain control characters");
            }
            if placeholders(text) != placeholders(ours) {
                return Err("texts must keep exactly our placeholders ({business} in the notice)");
            }
            if key == "notice" && !text.contains("WhatsApp") {
                return Err("the notice must name WhatsApp");
            }
        }
    }
    Ok(())
}

/// The distinct `{name}` placeholders in `text`, sorted.
fn placeholders(text: &str) -> Vec<&str> {
    let mut out: Vec<&str> = text
        .split('{')
        .skip(1)
        .filter_map(|t| t.split_once('}').map(|(name, _)| name))
        .filter(|name| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Which of `weights` a visitor sees: the same for the same `visitor` and
/// `surface` every time, in proportion to the weights. `None` when empty.
/// (FNV-1a with a murmur finaliser: no tables, tiny in the widget.)
pub fn pick_variant(visitor: &str, surface: &str, weights: &[u32]) -> Option<usize> {
    let total: u64 = weights.iter().map(|&w| u64::from(w)).sum();
    if total == 0 {
        return None;
    }
    let mut h: u32 = 0x811c_9dc5;
    for b in visitor.bytes().chain([b':']).chain(surface.bytes()) {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    h ^= h >> 16;
    h = h.wrapping_mul(0x85eb_ca6b);
    h ^= h >> 13;
    h = h.wrapping_mul(0xc2b2_ae35);
    h ^= h >> 16;
    let mut point = u64::from(h) % total;
    for (i, &w) in weights.iter().enumerate() {
        if point < u64::from(w) {
            return Some(i);
        }
        point -= u64::from(w);
    }
    None
}

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
pub(crate) fn fill(template: &str, business: &str) -> String {
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

    fn site() -> SiteConfig {
        let mut s = crate::site::sample::site();
        s.default_locale = Locale::En;
        s.whatsapp.template_languages = vec!["en".into()];
        s
    }

    fn texts(locale: Locale, pairs: &[(&str, &str)]) -> Overrides {
        let map = pairs
            .iter()
            .map(|(k, v)| (String::from(*k), String::from(*v)))
            .collect();
        [(locale, map)].into_iter().collect()
    }

    fn variant(id: &str, weight: u32, strings: Overrides) -> Variant {
        Variant {
            id: id.into(),
            weight,
            strings,
        }
    }

    #[test]
    fn a_merchant_override_replaces_only_its_string_in_its_locale() {
        let mut s = site();
        s.strings = texts(
            Locale::Tr,
            &[
                ("notice", "{business} WhatsApp mesajlarını kabul ediyorum."),
                ("delivery", "Kargo"),
            ],
        );
        assert_eq!(s.check(), Ok(()));
        assert_eq!(
            s.notice(Locale::Tr, None).text,
            "Toko Acme WhatsApp mesajlarını kabul ediyorum."
        );
        assert_eq!(
            s.notice(Locale::En, None).text,
            render_notice(Locale::En, "Toko Acme", 1).text
        );
        let served = s.public_in(Locale::Tr).strings;
        assert_eq!(served["delivery"], "Kargo");
        assert_eq!(served["notice"], s.notice(Locale::Tr, None).text);
        assert_eq!(served["title"], Locale::Tr.strings().title);
        assert!(
            !served.contains_key("payment_alerts"),
            "only offered categories"
        );
        assert!(
            !served.contains_key("chat_open"),
            "no chat strings without a chat"
        );
    }

    #[test]
    fn variants_serve_only_differing_strings_and_render_their_notice() {
        let mut s = site();
        s.strings = texts(Locale::En, &[("title", "Merchant title")]);
        let short = texts(
            Locale::En,
            &[("notice", "{business} on WhatsApp: yes please.")],
        );
        s.variants = [(
            Surface::Modal,
            vec![
                variant("control", 1, Overrides::new()),
                variant("short", 3, short),
            ],
        )]
        .into_iter()
        .collect();
        assert_eq!(s.check(), Ok(()));
        let public = s.public_in(Locale::En).variants;
        let modal = &public[&Surface::Modal];
        assert_eq!(
            modal[0].strings.len(),
            0,
            "a control arm differs in nothing"
        );
        assert_eq!(
            modal[1].strings["notice"],
            "Toko Acme on WhatsApp: yes please."
        );
        assert_eq!(modal[1].strings.len(), 1);
        let v = s.variant(Surface::Modal, "short");
        assert_eq!(
            s.notice(Locale::En, v).text,
            "Toko Acme on WhatsApp: yes please."
        );
        assert_eq!(s.text(Locale::En, v, "title").unwrap(), "Merchant title");
        assert_eq!(
            s.notice(Locale::De, v).text,
            render_notice(Locale::De, "Toko Acme", 1).text,
            "a variant without German wording shows the site's German notice"
        );
        assert!(s.variant(Surface::Checkout, "short").is_none());
        assert!(s.public_in(Locale::De).variants[&Surface::Modal][1]
            .strings
            .is_empty());
    }

    #[test]
    fn bad_overrides_are_refused_with_the_field() {
        let cases: [(&str, &str); 7] = [
            ("reply_help", "{business}"),
            ("spam", "x"),
            ("title", "  "),
            ("notice", "I agree to WhatsApp messages."),
            ("notice", "{business} may send me messages."),
            ("title", "{business} {phone} on WhatsApp"),
            ("submit", "line\nbreak"),
        ];
        for (key, text) in cases {
            let mut s = site();
            s.strings = texts(Locale::En, &[(key, text)]);
            assert_eq!(s.check().unwrap_err().0, "strings", "{key}: {text}");
        }
        let mut s = site();
        s.strings = texts(Locale::En, &[("title", &"x".repeat(201))]);
        assert_eq!(s.check().unwrap_err().0, "strings");
        s.strings = texts(
            Locale::En,
            &[("notice", &"{business} WhatsApp ".repeat(30))],
        );
        assert_eq!(s.check(), Ok(()), "a notice may be 600 characters");
    }

    #[test]
    fn bad_variants_are_refused() {
        let ok = || variant("a", 1, Overrides::new());
        let cases: Vec<Vec<Variant>> = vec![
            vec![],
            vec![
                ok(),
                variant("b", 1, Overrides::new()),
                variant("c", 1, Overrides::new()),
                variant("d", 1, Overrides::new()),
                variant("e", 1, Overrides::new()),
            ],
            vec![ok(), ok()],
            vec![variant("Big", 1, Overrides::new())],
            vec![variant(&"a".repeat(33), 1, Overrides::new())],
            vec![variant("a", 0, Overrides::new())],
            vec![variant("a", 10_001, Overrides::new())],
            vec![variant(
                "a",
                1,
                texts(Locale::En, &[("notice", "no placeholder WhatsApp")]),
            )],
        ];
        for list in cases {
            let mut s = site();
            s.variants = [(Surface::Chat, list.clone())].into_iter().collect();
            assert_eq!(s.check().unwrap_err().0, "variants", "{list:?}");
        }
    }

    #[test]
    fn variant_pick_is_sticky_and_follows_the_weights() {
        let weights = [1, 3];
        let mut counts = [0; 2];
        for n in 0..4000 {
            let visitor = format!("visitor-{n}");
            let i = pick_variant(&visitor, "modal", &weights).unwrap();
            assert_eq!(pick_variant(&visitor, "modal", &weights), Some(i));
            counts[i] += 1;
        }
        assert!((850..1150).contains(&counts[0]), "{counts:?}");
        assert_eq!(pick_variant("v", "modal", &[]), None);
        assert_eq!(pick_variant("v", "modal", &[0]), None);
        assert_eq!(pick_variant("v", "modal", &[5]), Some(0));
    }

    #[test]
    fn site_configs_with_texts_round_trip_through_json() {
        let json = r#"{"strings":{"pt-BR":{"submit":"Quero receber"}},
            "variants":{"modal":[{"id":"a","weight":1},{"id":"b","weight":2,"strings":{"en":{"title":"Hi on WhatsApp"}}}]}}"#;
        let mut v = serde_json::to_value(site()).unwrap();
        let extra: serde_json::Value = serde_json::from_str(json).unwrap();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        let s: SiteConfig = serde_json::from_value(v).unwrap();
        assert_eq!(s.check(), Ok(()));
        assert_eq!(
            s.text(Locale::PtBr, None, "submit").unwrap(),
            "Quero receber"
        );
        let bad = r#"{"strings":{"fr":{"submit":"Oui"}}}"#;
        let mut v = serde_json::to_value(site()).unwrap();
        v["strings"] = serde_json::from_str::<serde_json::Value>(bad).unwrap()["strings"].clone();
        assert!(
            serde_json::from_value::<SiteConfig>(v).is_err(),
            "an unknown locale is refused"
        );
    }

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
