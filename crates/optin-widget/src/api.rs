//! The Worker's public API: site config in, consent out.
//!
//! JSON is read and written through `JSON` and `Reflect` rather than serde:
//! serde's generic decoder (and the float formatting its error messages pull
//! in) would double the widget's size.

use alloc::{boxed::Box, string::String, vec::Vec};
use core::cell::RefCell;

#[cfg(feature = "surfaces")]
use consent_core::ChatConfig;
use consent_core::Targeting;
use js_sys::{Array, Object, Reflect, JSON};
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};

use crate::{text::Shown, Global};

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
    if let Ok(u) = crate::dom::window().location().href() {
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

/// What a `POST …/consents` came to: the recorded consent id, or why not.
pub type Posted = Result<String, PostError>;

#[wasm_bindgen]
extern "C" {
    /// The loader's `post(ticket, url, body, key, keepalive)`: it sends the
    /// request with `fetch` and answers through [`posted`]. The network lives in
    /// JS so the wasm carries no futures executor and no `Request` bindings.
    #[derive(Clone)]
    pub type Poster;
    #[wasm_bindgen(method, js_name = call)]
    fn send(
        this: &Poster,
        this_arg: &JsValue,
        ticket: u32,
        url: &str,
        body: &JsValue,
        key: &str,
        keepalive: bool,
    );
}

/// The Worker the widget talks to: its base URL and the loader's sender.
#[derive(Clone)]
pub struct Endpoint {
    /// Base URL of the Worker (`data-api`, else the script's origin).
    pub base: String,
    post: Poster,
}

impl Endpoint {
    /// The Worker at `base`, reached through the loader's `post`.
    pub fn new(base: String, post: Poster) -> Endpoint {
        Endpoint { base, post }
    }

    /// `POST {base}/v1/sites/{site}/consents` with an `Idempotency-Key`, so a
    /// retry records once; `keepalive` lets the request outlive the page
    /// (checkout submit). `done` gets the outcome.
    pub fn post_consent(
        &self,
        site: &str,
        body: &JsValue,
        idempotency_key: &str,
        keepalive: bool,
        done: impl FnOnce(Posted) + 'static,
    ) {
        let url = crate::dom::cat(&[&self.base, "/v1/sites/", site, "/consents"]);
        let ticket = {
            let mut waiting = WAITING.0.borrow_mut();
            waiting.0 = waiting.0.wrapping_add(1);
            let ticket = waiting.0;
            waiting.1.push((ticket, Box::new(done)));
            ticket
        };
        self.post.send(
            &JsValue::UNDEFINED,
            ticket,
            &url,
            body,
            idempotency_key,
            keepalive,
        );
    }
}

/// Requests in flight: the last ticket given out, and who waits on which.
#[allow(clippy::type_complexity)]
static WAITING: Global<(u32, Vec<(u32, Box<dyn FnOnce(Posted)>)>)> =
    Global(RefCell::new((0, Vec::new())));

/// Called by the loader when request `ticket` is answered: the HTTP status
/// (0: no answer) and the response's JSON (`null` when it had none).
#[wasm_bindgen]
pub fn posted(ticket: u32, status: u16, json: JsValue) {
    let done = {
        let mut waiting = WAITING.0.borrow_mut();
        let at = waiting.1.iter().position(|(t, _)| *t == ticket);
        at.map(|i| waiting.1.swap_remove(i).1)
    };
    if let Some(done) = done {
        done(outcome(status, &json));
    }
}

fn outcome(status: u16, json: &JsValue) -> Posted {
    match status {
        200 | 201 => get_str(json, "id").ok_or(PostError::Transient),
        400..=499 if json.is_object() => Err(PostError::Refused {
            detail: get_str(json, "detail").unwrap_or_default(),
        }),
        _ => Err(PostError::Transient),
    }
}

/// [`Endpoint::post_consent`] as a future, for the full build's async API
/// (`consent()` resolves once the Worker has answered).
#[cfg(feature = "surfaces")]
pub async fn post_consent_async(
    endpoint: &Endpoint,
    site: &str,
    body: &JsValue,
    idempotency_key: &str,
    keepalive: bool,
) -> Posted {
    use alloc::rc::Rc;
    use core::{future::poll_fn, task::Poll, task::Waker};
    let slot: Rc<RefCell<(Option<Posted>, Option<Waker>)>> = Rc::default();
    let answer = slot.clone();
    endpoint.post_consent(site, body, idempotency_key, keepalive, move |p| {
        let mut a = answer.borrow_mut();
        a.0 = Some(p);
        if let Some(w) = a.1.take() {
            w.wake();
        }
    });
    poll_fn(|cx| {
        let mut s = slot.borrow_mut();
        match s.0.take() {
            Some(p) => Poll::Ready(p),
            None => {
                s.1 = Some(cx.waker().clone());
                Poll::Pending
            }
        }
    })
    .await
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
