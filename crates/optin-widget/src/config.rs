//! The site's public config as the Worker serves it, read field by field.
//!
//! JSON is read through `Reflect` ([`crate::js`]) rather than with serde:
//! serde's generic decoder (and the float formatting its error messages pull
//! in) would double the widget's size.

use alloc::{string::String, vec::Vec};

#[cfg(feature = "surfaces")]
use consent_core::ChatConfig;
use wasm_bindgen::JsValue;

use crate::js::{get, get_str, strings_at};
#[cfg(feature = "surfaces")]
use crate::rules;

fn bad_config() -> JsValue {
    JsValue::from_str("site configuration is malformed")
}

/// The site's public config as the Worker serves it (`GET …/config?locale=`):
/// the fields every surface reads, and the strings in the visitor's locale.
pub struct Config {
    /// Site id.
    pub site: String,
    /// Privacy-policy URL every surface links.
    pub privacy_policy_url: String,
    /// The locale the strings are in, recorded with the consent.
    pub locale: String,
    /// Calling code shown in the phone placeholder and assumed when none is typed.
    pub default_calling_code: u16,
    /// Category wire names offered, in order (their labels are strings by the same key).
    pub categories: Vec<String>,
    /// Notice version to echo back.
    pub notice_version: u32,
    /// The chat widget, if the site has one (full build).
    #[cfg(feature = "surfaces")]
    pub chat: Option<ChatConfig>,
    /// Every widget string, by key (the merchant's overrides applied).
    pub strings: JsValue,
    /// Per surface, the A/B variants (`[{id, weight, strings}]`).
    pub variants: JsValue,
}

/// Reads the Worker's JSON projection of `PublicConfig` field by field.
pub fn parse_config(json: &JsValue) -> Result<Config, JsValue> {
    let string = |k| get_str(json, k).ok_or_else(bad_config);
    let number = |k| get(json, k).as_f64().ok_or_else(bad_config);
    let strings = get(json, "strings");
    if !strings.is_object() {
        return Err(bad_config());
    }
    let categories = strings_at(json, "categories").ok_or_else(bad_config)?;
    Ok(Config {
        site: string("site")?,
        privacy_policy_url: string("privacy_policy_url")?,
        locale: string("locale")?,
        default_calling_code: number("default_calling_code")? as u16,
        categories,
        notice_version: number("notice_version")? as u32,
        #[cfg(feature = "surfaces")]
        chat: {
            let chat = get(json, "chat");
            get_str(&chat, "number").map(|number| ChatConfig {
                number,
                greeting: get_str(&chat, "greeting"),
                prefilled: get_str(&chat, "prefilled"),
                hours: rules::hours(&get(&chat, "hours")),
            })
        },
        strings,
        variants: get(json, "variants"),
    })
}
