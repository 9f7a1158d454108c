//! The WhatsApp opt-in widget, compiled to wasm and loaded by `widget.js`.
//!
//! Split like wasm-bindgen's todomvc: `api` (the Worker, the store),
//! `modal` (view + controller of the pop-up), `checkout` (the opt-in embedded
//! in a merchant form), `dom` (element helpers),
//! `events` (the `CustomEvent`s merchants listen to), `text` (the strings a
//! surface shows: served with the config, none bundled), `targeting` (when the
//! modal opens by itself; `rules` reads its config, `storage` the caps),
//! `phone_input` (calling code, grouping and inline error of our phone inputs),
//! `json` (the consent body, written in Rust where the page cannot reach it).
//!
//! The wasm build links no `std`: only `core` and `alloc`, a small allocator
//! ([`heap`]) and a panic handler that traps. std's panic and formatting
//! machinery would otherwise be a third of the download.
#![deny(missing_docs)]
#![no_std]
// The modal-only build leaves the other surfaces' helpers unused.
#![cfg_attr(not(feature = "surfaces"), allow(dead_code))]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod api;
#[cfg(feature = "surfaces")]
mod chat;
#[cfg(feature = "surfaces")]
mod checkout;
mod dom;
mod events;
#[cfg(target_arch = "wasm32")]
pub mod heap;
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

use crate::{
    api::{Endpoint, Poster},
    modal::Modal,
    text::Shown,
};

#[cfg(target_arch = "wasm32")]
#[global_allocator]
static HEAP: heap::Heap = heap::Heap::new();

#[cfg(target_arch = "wasm32")]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    core::arch::wasm32::unreachable()
}

/// Version recorded with every consent as `widget_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// Page-global state. Wasm pages run one thread, so a `RefCell` is enough.
pub(crate) struct Global<T>(pub(crate) RefCell<T>);
// SAFETY: the widget runs on the page's single thread.
unsafe impl<T> Sync for Global<T> {}

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

/// With `config` (the site's config in the visitor's locale, which the loader
/// fetched while the wasm loaded; without it the loader does not start) mounts the
/// modal (opening it when the site's targeting rules and frequency caps allow,
/// unless `auto_open` is false), a checkout opt-in in every
/// `[data-wa-optin="checkout"]` placeholder, and the chat widget when `chat`
/// is set and the site has one (full build). `modal` false mounts no modal:
/// the full build started next to the modal-only one for a later `mount()`.
/// `post` is the loader's sender (see [`api::Poster`]).
/// Idempotent: a second call does nothing.
#[wasm_bindgen]
pub fn start(
    site: String,
    api_base: String,
    auto_open: bool,
    chat: bool,
    config: JsValue,
    modal: bool,
    post: Poster,
) {
    if STARTED.0.borrow().is_some() {
        return;
    }
    let started = Rc::new(Started {
        site,
        api: Endpoint::new(api_base, post),
        config,
    });
    *STARTED.0.borrow_mut() = Some(started.clone());
    if let Err(e) = mount_all(&started, auto_open, chat, modal) {
        events::emit_error(&Shown::bare(&started.site, "modal"), &e);
    }
}

fn mount_all(started: &Started, auto_open: bool, chat: bool, modal: bool) -> Result<(), JsValue> {
    let mut config = api::parse_config(&started.config)?;
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
    use crate::{api::Config, chat::Chat, checkout::Checkout};
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

    /// One instantiation of `spawn_local` for every background task.
    pub(crate) fn spawn(f: Pin<Box<dyn Future<Output = ()>>>) {
        wasm_bindgen_futures::spawn_local(f)
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
            let config = api::parse_config(&started.config)?;
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
            let only = api::get(&opts, "element");
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
