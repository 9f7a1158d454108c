//! What a surface shows and reports: its strings, its locale and A/B variant.
//!
//! The widget bundles no wording. The config response carries every string
//! in the visitor's locale (the merchant's overrides applied) under the keys
//! of `consent_core::locale::WIDGET_KEYS` (category labels under their wire
//! names), and per surface the variants' differing strings. A new string is
//! added in consent-core (field, every locale, `WIDGET_KEYS`) and read here
//! with `shown.get("<key>")`.

use alloc::{string::String, vec::Vec};

use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::{
    config::Config,
    js::{get, get_str},
    storage,
};

/// A surface's wording and the `detail` its events carry.
pub struct Shown {
    /// Site id.
    pub site: String,
    /// `modal`, `checkout` or `chat`.
    pub surface: &'static str,
    /// Locale of the strings (empty before the config has loaded).
    pub locale: String,
    /// The A/B variant this visitor sees here, if the surface has variants.
    pub variant: Option<String>,
    /// The site's strings.
    texts: JsValue,
    /// The variant's strings, read before the site's (not merged into one
    /// object: a setter the page put on `Object.prototype` would catch them).
    over: JsValue,
}

impl Shown {
    /// The strings `surface` shows to this visitor: the site's, with the
    /// variant's on top. The variant is a weighted pick keyed by the visitor
    /// id, so it stays the same on every page and reload.
    pub fn new(config: &Config, surface: &'static str) -> Shown {
        Shown::with_variant(config, surface, |list| {
            let weights: Vec<u32> = list
                .iter()
                .map(|v| get(&v, "weight").as_f64().unwrap_or(0.0) as u32)
                .collect();
            let visitor = storage::visitor_id();
            consent_core::pick_variant(&visitor, surface, &weights).map(|i| list.get(i as u32))
        })
    }

    /// The strings `surface` shows with the variant whose id is `variant`
    /// (the one the loader picked for the modal it shows; none, or an id
    /// the config does not list: the site's strings).
    pub fn chosen(config: &Config, surface: &'static str, variant: Option<String>) -> Shown {
        Shown::with_variant(config, surface, |list| {
            let id = variant?;
            list.iter().find(|v| get_str(v, "id").as_ref() == Some(&id))
        })
    }

    /// The site's strings for `surface`, with those of the variant `pick`
    /// chooses from the surface's list (if it has one) on top.
    fn with_variant(
        config: &Config,
        surface: &'static str,
        pick: impl FnOnce(&Array) -> Option<JsValue>,
    ) -> Shown {
        let mut shown = Shown::bare(&config.site, surface);
        shown.locale = config.locale.clone();
        shown.texts = config.strings.clone();
        let list = get(&config.variants, surface).dyn_into::<Array>();
        if let Some(v) = list.ok().as_ref().and_then(pick) {
            shown.over = get(&v, "strings");
            shown.variant = get_str(&v, "id");
        }
        shown
    }

    /// A surface that has no config (yet): events carry only site and surface.
    pub fn bare(site: &str, surface: &'static str) -> Shown {
        Shown {
            site: String::from(site),
            surface,
            locale: String::new(),
            variant: None,
            texts: JsValue::UNDEFINED,
            over: JsValue::UNDEFINED,
        }
    }

    /// The string under `key`; empty if the config lacks it.
    pub fn get(&self, key: &str) -> String {
        get_str(&self.over, key)
            .or_else(|| get_str(&self.texts, key))
            .unwrap_or_default()
    }
}
