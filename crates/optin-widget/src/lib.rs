//! The WhatsApp opt-in widget, compiled to wasm and loaded by `widget.js`.
//!
//! The modal pop-up is built, shown and targeted by the loader itself, so a
//! page downloads no wasm before its prompt; this crate is what follows the
//! visitor's first interaction with it, and every other surface.
//!
//! Split like wasm-bindgen's todomvc: `modal` (the pop-up's form, adopted
//! from the loader's markup), `checkout` (the opt-in embedded in a merchant
//! form), `chat` (`rules` reads its hours), `storage` (a consent remembered,
//! the visitor id), `api` (the consent out, the Worker's answer back),
//! `config` (the site's config, read field by field), `text` (the strings a
//! surface shows: served with the config, none bundled), `events` (the
//! `CustomEvent`s merchants listen to), `form` (the category boxes),
//! `phone_input` (calling code, grouping and inline error of our phone
//! inputs), `dom` (element and listener helpers), `json` (the consent body,
//! written in Rust where the page cannot reach it) and `js` (reading JS
//! values, random keys, page-global state).
//!
//! Module dependencies run one way, with no cycle (`grep 'crate::' src/*.rs`):
//!
//! - `chat` → `checkout`;
//! - `modal`, `checkout`, `chat` → `api`, `config`, `events`, `text`, `dom`,
//!   (checkout, chat) `style`, and (modal, checkout) `form`, `phone_input`,
//!   `storage`;
//! - `events` → `api`, `text`; `form` → `text`; `api` → `json`, `text`;
//! - `text` → `config`, `storage`; `config` → `rules` (full build);
//! - `api`, `events`, `form`, `phone_input`, `storage` → `dom`;
//! - every module that reads a JS value → `js`, a leaf like `json`, `style`
//!   and `heap`.
//!
//! The crate root (the JS API) uses the modules; none uses it.
//!
//! The wasm build links no `std`: only `core` and `alloc`, a small allocator
//! ([`heap`]) and a panic handler that traps. std's panic and formatting
//! machinery would otherwise be a third of the download.
#![deny(missing_docs)]
#![no_std]
// The modal-only build leaves the other surfaces' helpers unused.
#![cfg_attr(not(feature = "surfaces"), allow(dead_code))]

extern crate alloc;
// Native builds (unit tests), and the browser tests' harness.
#[cfg(any(test, not(target_arch = "wasm32")))]
extern crate std;

mod api;
#[cfg(feature = "surfaces")]
mod chat;
#[cfg(feature = "surfaces")]
mod checkout;
mod config;
mod dom;
mod events;
mod form;
#[cfg(target_arch = "wasm32")]
pub mod heap;
mod js;
mod json;
mod modal;
mod phone_input;
#[cfg(feature = "surfaces")]
mod rules;
mod storage;
#[cfg(feature = "surfaces")]
mod style;
mod text;

use alloc::{rc::Rc, string::String};
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

pub use crate::api::VERSION;
use web_sys::ShadowRoot;

use crate::{
    api::Endpoint,
    js::{get, get_str, Global},
    modal::Modal,
    text::Shown,
};

#[cfg(all(target_arch = "wasm32", not(test)))]
#[global_allocator]
static HEAP: heap::Heap = heap::Heap::new();

#[cfg(all(target_arch = "wasm32", not(test)))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// What `start` learnt: the site, the Worker, and the site's config (JSON).
struct Started {
    site: String,
    api: Endpoint,
    config: JsValue,
}

static STARTED: Global<Option<Rc<Started>>> = Global(RefCell::new(None));
static MODAL: Global<Option<Rc<Modal>>> = Global(RefCell::new(None));

fn started() -> Result<Rc<Started>, JsValue> {
    STARTED
        .0
        .borrow()
        .clone()
        .ok_or_else(|| JsValue::from_str("WhatsAppOptIn has not started"))
}

/// Starts the widget with the options the loader passes by name:
///
/// - `site`: the site id (default `""`);
/// - `api`: the Worker's base URL (default `""`: this page's origin);
/// - `config`: the site's config in the visitor's locale, which the loader
///   fetched (missing or malformed: nothing mounts and `whatsapp-optin:error`
///   says so);
/// - `post`: the loader's sender (see [`api::Poster`]); without one every
///   consent fails as unanswered;
/// - `chat` (default `false`): mount the chat widget when the site has one
///   (full build).
///
/// A checkout opt-in is mounted in every `[data-wa-optin="checkout"]`
/// placeholder (full build). Other fields are ignored, and a field of the
/// wrong type takes its default. Idempotent: a second call does nothing.
#[wasm_bindgen]
pub fn start(opts: JsValue) {
    if STARTED.0.borrow().is_some() {
        return;
    }
    let text = |key| get_str(&opts, key).unwrap_or_default();
    let started = Rc::new(Started {
        site: text("site"),
        api: Endpoint::new(text("api"), get(&opts, "post").unchecked_into()),
        config: get(&opts, "config"),
    });
    *STARTED.0.borrow_mut() = Some(started.clone());
    let chat = get(&opts, "chat").as_bool().unwrap_or(false);
    if let Err(e) = mount_page(&started, chat) {
        events::emit_error(&Shown::bare(&started.site, "modal"), &e);
    }
}

fn mount_page(started: &Started, chat: bool) -> Result<(), JsValue> {
    let config = config::parse_config(&started.config)?;
    #[cfg(feature = "surfaces")]
    surfaces::mount_page(&config, &started.api, chat)?;
    let _ = (config, chat);
    Ok(())
}

/// Adopts the form of the modal the loader built and showed, after
/// [`start`]: `opts.root` is its shadow root, `opts.variant` the id of the
/// A/B variant the loader picked (absent: none). Idempotent.
#[wasm_bindgen]
pub fn form(opts: JsValue) {
    let Ok(started) = started() else {
        return;
    };
    if MODAL.0.borrow().is_some() {
        return;
    }
    let root = get(&opts, "root");
    let adopted = match root.dyn_ref::<ShadowRoot>() {
        Some(root) => config::parse_config(&started.config)
            .and_then(|c| Modal::adopt(root, c, started.api.clone(), get_str(&opts, "variant"))),
        None => Err(JsValue::from_str("form() needs the modal's shadow root")),
    };
    match adopted {
        Ok(m) => *MODAL.0.borrow_mut() = Some(m),
        Err(e) => events::emit_error(&Shown::bare(&started.site, "modal"), &e),
    }
}

/// The checkout opt-in and the chat widget: only in the full build, which the
/// loader fetches for pages that show them (or once `mount()` is called), so
/// a page with only the modal downloads less before its prompt shows.
#[cfg(feature = "surfaces")]
mod surfaces {
    use super::*;
    use crate::{chat::Chat, checkout::Checkout, config::Config};
    use alloc::{boxed::Box, vec::Vec};
    use core::{future::Future, pin::Pin};
    use js_sys::Promise;
    use web_sys::Element;

    static CHECKOUTS: Global<Vec<Rc<Checkout>>> = Global(RefCell::new(Vec::new()));
    static CHAT: Global<Option<Rc<Chat>>> = Global(RefCell::new(None));

    /// The chat widget (when `chat` is set and the site has one) and a checkout
    /// opt-in in every `[data-wa-optin="checkout"]` placeholder.
    pub fn mount_page(config: &Config, api: &Endpoint, chat: bool) -> Result<(), JsValue> {
        if let (true, Some(c)) = (chat, &config.chat) {
            match Chat::mount(config, c, api) {
                Ok(c) => *CHAT.0.borrow_mut() = Some(c),
                Err(e) => events::emit_error(&Shown::bare(&config.site, "chat"), &e),
            }
        }
        let placeholders = dom::query_all(&dom::document(), "[data-wa-optin=checkout]");
        for i in 0..placeholders.length() {
            if let Some(el) = placeholders.get(i).and_then(|n| n.dyn_into().ok()) {
                mount_checkout(el, config, api, &JsValue::UNDEFINED);
            }
        }
        Ok(())
    }

    /// One instantiation of `future_to_promise` for every JS-facing async call.
    fn promise(f: Pin<Box<dyn Future<Output = Result<JsValue, JsValue>>>>) -> Promise {
        wasm_bindgen_futures::future_to_promise(f)
    }

    fn mount_checkout(el: Element, config: &Config, api: &Endpoint, opts: &JsValue) {
        if el.has_attribute(crate::checkout::MOUNTED) {
            return;
        }
        match Checkout::mount(el, config, api, opts) {
            Ok(c) => CHECKOUTS.0.borrow_mut().push(c),
            Err(e) => events::emit_error(&Shown::bare(&config.site, "checkout"), &e),
        }
    }

    /// Mounts a surface into `el`: today the checkout opt-in
    /// (`opts.surface` = `"checkout"`, optional `opts.phoneField`, `opts.categories`).
    #[wasm_bindgen]
    pub fn mount(el: Element, opts: JsValue) -> Promise {
        promise(Box::pin(async move {
            let started = started()?;
            let config = config::parse_config(&started.config)?;
            mount_checkout(el, &config, &started.api, &opts);
            Ok(JsValue::UNDEFINED)
        }))
    }

    /// Records the consent of the checkout opt-in in `opts.element` (or of every
    /// mounted one) now, for checkouts that never submit a form. Resolves to the
    /// consent id, or `null` when no box is ticked.
    #[wasm_bindgen]
    pub fn consent(opts: JsValue) -> Promise {
        promise(Box::pin(async move {
            let only = get(&opts, "element");
            let checkouts: Vec<Rc<Checkout>> = CHECKOUTS.0.borrow().clone();
            let mut id = JsValue::NULL;
            for c in checkouts {
                if only.is_undefined() || JsValue::from(c.placeholder.clone()) == only {
                    if let Some(recorded) = c.record(false).await? {
                        id = recorded.into();
                    }
                }
            }
            Ok(id)
        }))
    }
}
