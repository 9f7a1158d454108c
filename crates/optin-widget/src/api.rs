//! The Worker's public API: site config in, consent out.
//!
//! JSON is read and written through `JSON` and `Reflect` rather than serde:
//! serde's generic decoder (and the float formatting its error messages pull
//! in) would double the widget's size.

use alloc::{borrow::ToOwned, string::String, vec::Vec};

use consent_core::{Category, ChatConfig, ConsentRequest, Locale, Notice, PublicConfig};
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

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

fn bad_config() -> JsValue {
    JsValue::from_str("site configuration is malformed")
}

/// Reads the Worker's JSON projection of [`PublicConfig`] field by field.
pub fn parse_config(json: &JsValue) -> Result<PublicConfig, JsValue> {
    let string = |k| get_str(json, k).ok_or_else(bad_config);
    let number = |k| get(json, k).as_f64().ok_or_else(bad_config);
    let categories = get(json, "categories")
        .dyn_into::<Array>()
        .map_err(|_| bad_config())?
        .iter()
        .filter_map(|c| Category::parse(&c.as_string()?))
        .collect();
    Ok(PublicConfig {
        site: string("site")?,
        business_name: string("business_name")?,
        privacy_policy_url: string("privacy_policy_url")?,
        default_locale: Locale::from_tag(&string("default_locale")?).unwrap_or(Locale::En),
        default_calling_code: number("default_calling_code")? as u16,
        categories,
        notice_version: number("notice_version")? as u32,
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
    })
}

/// `GET {api}/v1/sites/{site}/config`, as JSON (read with [`parse_config`]).
pub async fn fetch_config_json(api: &str, site: &str) -> Result<JsValue, JsValue> {
    let url = crate::dom::cat(&[api, "/v1/sites/", site, "/config"]);
    let resp = fetch(&Request::new_with_str(&url)?).await?;
    if !resp.ok() {
        return Err(JsValue::from_str("site configuration could not be loaded"));
    }
    let json = JsFuture::from(resp.json()?).await?;
    parse_config(&json)?;
    Ok(json)
}

/// The request as the JSON object the Worker decodes (field names as in [`ConsentRequest`]).
pub fn consent_json(body: &ConsentRequest) -> Result<JsValue, JsValue> {
    let o = Object::new();
    set(&o, "phone", &body.phone.as_str().into());
    let cats: Array = body
        .categories
        .iter()
        .map(|c| JsValue::from_str(c))
        .collect();
    set(&o, "categories", &cats);
    set(&o, "locale", &body.locale.as_str().into());
    set(&o, "notice_version", &body.notice_version.into());
    set(&o, "notice_text", &body.notice_text.as_str().into());
    set(&o, "surface", &body.surface.as_str().into());
    if let Some(u) = &body.page_url {
        set(&o, "page_url", &u.as_str().into());
    }
    if let Some(t) = body.client_ts {
        set(&o, "client_ts", &t.into());
    }
    if let Some(t) = &body.turnstile_token {
        set(&o, "turnstile_token", &t.as_str().into());
    }
    if let Some(v) = &body.widget_version {
        set(&o, "widget_version", &v.as_str().into());
    }
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
    body: &ConsentRequest,
    idempotency_key: &str,
    keepalive: bool,
) -> Result<String, PostError> {
    let send = async {
        let url = crate::dom::cat(&[api, "/v1/sites/", site, "/consents"]);
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&consent_json(body)?);
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

/// A fresh random idempotency key (32 hex digits).
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let r = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&r.to_be_bytes());
    }
    consent_core::notice::hex(&bytes)
}

/// The consent as shown on `surface`: the exact notice, this page, now.
pub fn consent_request(
    phone: String,
    categories: Vec<String>,
    locale: Locale,
    notice: &Notice,
    surface: &str,
) -> ConsentRequest {
    ConsentRequest {
        phone,
        categories,
        locale: locale.tag().to_owned(),
        notice_version: notice.version,
        notice_text: notice.text.clone(),
        surface: surface.to_owned(),
        page_url: web_sys::window().and_then(|w| w.location().href().ok()),
        client_ts: Some(js_sys::Date::now()),
        widget_version: Some(crate::VERSION.to_owned()),
        turnstile_token: None,
    }
}
