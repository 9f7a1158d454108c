//! The WhatsApp opt-in widget, compiled to wasm and loaded by `widget.js`.
//!
//! Split like wasm-bindgen's todomvc: `api` (the Worker, the store),
//! `modal` (view + controller of the pop-up), `dom` (element helpers),
//! `events` (the `CustomEvent`s merchants listen to).
//!
//! The wasm build links no `std`: only `core` and `alloc`, a small allocator
//! ([`heap`]) and a panic handler that traps. std's panic and formatting
//! machinery would otherwise be a third of the download.
#![deny(missing_docs)]
#![no_std]

extern crate alloc;
#[cfg(not(target_arch = "wasm32"))]
extern crate std;

mod api;
mod dom;
mod events;
#[cfg(target_arch = "wasm32")]
pub mod heap;
mod modal;
mod storage;
mod style;

use alloc::{rc::Rc, string::String};
use core::cell::RefCell;

use wasm_bindgen::prelude::*;

use crate::modal::Modal;

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
struct Global<T>(RefCell<T>);
// SAFETY: the widget runs on the page's single thread.
unsafe impl<T> Sync for Global<T> {}

static MODAL: Global<Option<Rc<Modal>>> = Global(RefCell::new(None));

fn modal() -> Option<Rc<Modal>> {
    MODAL.0.borrow().clone()
}

/// Fetches the site's config and mounts the modal; opens it unless the visitor
/// already closed it or opted in on this browser.
#[wasm_bindgen]
pub fn start(site: String, api_base: String, auto_open: bool) {
    wasm_bindgen_futures::spawn_local(async move {
        if let Err(e) = mount(site.clone(), api_base, auto_open).await {
            events::emit_error(&site, &e);
        }
    });
}

async fn mount(site: String, api_base: String, auto_open: bool) -> Result<(), JsValue> {
    if modal().is_some() {
        return Ok(());
    }
    let config = api::fetch_config(&api_base, &site).await?;
    let modal = Modal::mount(config, api_base)?;
    *MODAL.0.borrow_mut() = Some(modal.clone());
    events::emit(&site, "impression");
    if auto_open && !storage::was_handled(&site) {
        modal.open();
    }
    Ok(())
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
