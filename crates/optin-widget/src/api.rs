//! The Worker's public API: site config in, consent out.
//!
//! JSON is read and written through `JSON` and `Reflect` rather than serde:
//! serde's generic decoder (and the float formatting its error messages pull
//! in) would double the widget's size.

use alloc::{string::String, vec::Vec};

#[cfg(feature = "surfaces")]
use consent_core::ChatConfig;
use consent_core::Targeting;
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

use crate::text::Shown;

async fn fetch(req: &Request) -> Result<Response, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    JsFuture::from(window.fetch_with_request(req))
        .await?
        .dyn_into()
}

/// `obj[key]`, or `undefined`.
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    Reflect::get(obj, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

/// `obj[key]` as a string, if it is one.
pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key] = value` (ignored when `obj` is not an object).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(obj, &JsValue::from_str(key), value);
}

/// `obj[key]`'s strings, if it is an array.
pub fn strings_at(obj: &JsValue, key: &str) -> Option<Vec<String>> {
    let list = get(obj, key).dyn_into::<Array>().ok()?;
    Some(list.iter().filter_map(|v| v.as_string()).collect())
}

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
    /// When the modal opens by itself (absent: the defaults).
    pub targeting: Option<Targeting>,
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
                hours: crate::rules::hours(&get(&chat, "hours")),
            })
        },
        targeting: crate::rules::targeting(&get(json, "targeting")),
        strings,
        variants: get(json, "variants"),
    })
}

/// The consent as `shown` on its surface, as the JSON the Worker decodes
/// (field names as in `consent_core::ConsentRequest`): the exact notice, this page, now.
pub fn consent_json(
    phone: String,
    categories: Vec<String>,
    shown: &Shown,
    notice_version: u32,
) -> Result<JsValue, JsValue> {
    let o = Object::new();
    set(&o, "phone", &phone.into());
    let cats: Array = categories.into_iter().map(JsValue::from).collect();
    set(&o, "categories", &cats);
    set(&o, "locale", &shown.locale.as_str().into());
    set(&o, "notice_version", &notice_version.into());
    set(&o, "notice_text", &shown.get("notice").into());
    set(&o, "surface", &shown.surface.into());
    if let Some(v) = &shown.variant {
        set(&o, "variant", &v.as_str().into());
    }
    if let Some(u) = web_sys::window().and_then(|w| w.location().href().ok()) {
        set(&o, "page_url", &u.into());
    }
    set(&o, "client_ts", &js_sys::Date::now().into());
    set(&o, "widget_version", &crate::VERSION.into());
    Ok(JSON::stringify(&o)?.into())
}

/// Why a consent was not recorded.
pub enum PostError {
    /// The Worker refused it (4xx); `detail` says why. Retrying the same will not help.
    Refused {
        /// Problem detail.
        detail: String,
    },
    /// Network or server trouble: the same request may be retried.
    Transient,
}

/// `POST {api}/v1/sites/{site}/consents` with an `Idempotency-Key`, so a retry
/// records once. `keepalive` lets the request outlive the page (checkout submit).
/// Returns the recorded consent id.
pub async fn post_consent(
    api: &str,
    site: &str,
    body: &JsValue,
    idempotency_key: &str,
    keepalive: bool,
) -> Result<String, PostError> {
    let send = async {
        let url = crate::dom::cat(&[api, "/v1/sites/", site, "/consents"]);
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(body);
        if keepalive {
            set(&init, "keepalive", &JsValue::TRUE);
        }
        let req = Request::new_with_str_and_init(&url, &init)?;
        req.headers().set("Content-Type", "application/json")?;
        req.headers().set("Idempotency-Key", idempotency_key)?;
        let resp = fetch(&req).await?;
        let status = resp.status();
        let value = JsFuture::from(resp.json()?).await?;
        Ok::<_, JsValue>((status, value))
    };
    match send.await {
        Ok((200 | 201, value)) => get_str(&value, "id").ok_or(PostError::Transient),
        Ok((400..=499, value)) if value.is_object() => Err(PostError::Refused {
            detail: get_str(&value, "detail").unwrap_or_default(),
        }),
        _ => Err(PostError::Transient),
    }
}

/// A fresh random key (32 hex digits): idempotency keys, visitor ids.
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let r = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&r.to_be_bytes());
    }
    consent_core::notice::hex(&bytes)
}
