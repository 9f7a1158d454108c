//! The WhatsApp opt-in widget, compiled to wasm and loaded by `widget.js`.
//!
//! Split like wasm-bindgen's todomvc: `modal` (view + controller of the
//! pop-up), `checkout` (the opt-in embedded in a merchant form), `chat`,
//! `targeting` (when the modal opens by itself; `rules` reads its config,
//! `storage` the caps), `api` (the consent out, the Worker's answer back),
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
//! - `targeting` → `modal`, `storage`; `chat` → `checkout`;
//! - `modal`, `checkout`, `chat` → `api`, `config`, `events`, `text`,
//!   `style`, `dom`, and (modal, checkout) `form`, `phone_input`, `storage`;
//! - `events` → `api`, `text`; `form` → `text`; `api` → `json`, `text`;
//! - `text` → `config`, `storage`; `config` → `rules`;
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
mod rules;
mod storage;
mod style;
mod targeting;
mod text;

use alloc::{rc::Rc, string::String};
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

pub use crate::api::VERSION;
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

fn modal() -> Option<Rc<Modal>> {
    MODAL.0.borrow().clone()
}

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
///   fetched while the wasm loaded (missing or malformed: nothing mounts and
///   `whatsapp-optin:error` says so);
/// - `post`: the loader's sender (see [`api::Poster`]); without one every
///   consent fails as unanswered;
/// - `autoOpen` (default `true`): open the modal when the site's targeting
///   rules and frequency caps allow;
/// - `chat` (default `false`): mount the chat widget when the site has one
///   (full build);
/// - `modal` (default `true`): mount the modal; `false` for the full build
///   started next to the modal-only one for a later `mount()`.
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
    let o = Flags::read(&opts);
    if let Err(e) = mount_all(&started, o.auto_open, o.chat, o.modal) {
        events::emit_error(&Shown::bare(&started.site, "modal"), &e);
    }
}

/// [`start`]'s switches, each its default when missing or not a boolean.
#[cfg_attr(test, derive(Debug, PartialEq))]
struct Flags {
    auto_open: bool,
    chat: bool,
    modal: bool,
}

impl Flags {
    fn read(opts: &JsValue) -> Flags {
        let flag = |key, default| get(opts, key).as_bool().unwrap_or(default);
        Flags {
            auto_open: flag("autoOpen", true),
            chat: flag("chat", false),
            modal: flag("modal", true),
        }
    }
}

fn mount_all(started: &Started, auto_open: bool, chat: bool, modal: bool) -> Result<(), JsValue> {
    let mut config = config::parse_config(&started.config)?;
    #[cfg(feature = "surfaces")]
    surfaces::mount_page(&config, &started.api, chat)?;
    let _ = chat;
    if !modal {
        return Ok(());
    }
    let rules = config.targeting.take();
    let modal = Modal::mount(config, started.api.clone())?;
    *MODAL.0.borrow_mut() = Some(modal.clone());
    // No impression here: it is counted when the modal is shown, so a page
    // whose targeting or caps keep it closed counts none.
    if auto_open {
        targeting::start(modal, &started.site, rules);
    }
    Ok(())
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

/// Opens the modal (no-op until the config has loaded).
#[wasm_bindgen]
pub fn open() {
    if let Some(m) = modal() {
        m.open();
    }
}

/// Closes the modal and returns focus where it was.
#[wasm_bindgen]
pub fn close() {
    if let Some(m) = modal() {
        m.close();
    }
}

/// In a browser: `scripts/dev test-widget`.
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use wasm_bindgen_test::wasm_bindgen_test;

    fn object(fields: &[(&str, JsValue)]) -> JsValue {
        let o = js_sys::Object::new();
        for (k, v) in fields {
            js::set(&o, k, v);
        }
        o.into()
    }

    #[wasm_bindgen_test]
    fn start_switches_go_by_name_and_a_missing_or_mistyped_one_takes_its_default() {
        let defaults = Flags {
            auto_open: true,
            chat: false,
            modal: true,
        };
        assert_eq!(Flags::read(&object(&[])), defaults);
        assert_eq!(Flags::read(&JsValue::UNDEFINED), defaults);
        let mistyped = object(&[
            ("autoOpen", "false".into()),
            ("chat", 1.into()),
            ("modal", JsValue::NULL),
            ("unknown", true.into()),
        ]);
        assert_eq!(Flags::read(&mistyped), defaults);
        let given = object(&[
            ("autoOpen", false.into()),
            ("chat", true.into()),
            ("modal", false.into()),
        ]);
        let read = Flags::read(&given);
        let flipped = Flags {
            auto_open: false,
            chat: true,
            modal: false,
        };
        assert_eq!(read, flipped);
    }
}
