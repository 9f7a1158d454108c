//! The WhatsApp opt-in widget, compiled to wasm and loaded by `widget.js`.
//!
//! Split like wasm-bindgen's todomvc: `api` (the Worker, the store),
//! `modal` (view + controller of the pop-up), `dom` (element helpers),
//! `events` (the `CustomEvent`s merchants listen to).
#![deny(missing_docs)]

mod api;
mod dom;
mod events;
mod modal;
mod storage;
mod style;

use std::{cell::RefCell, rc::Rc};

use wasm_bindgen::prelude::*;

use crate::modal::Modal;

/// Version recorded with every consent as `widget_version`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

thread_local! {
    static MODAL: RefCell<Option<Rc<Modal>>> = const { RefCell::new(None) };
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
    if MODAL.with(|m| m.borrow().is_some()) {
        return Ok(());
    }
    let config = api::fetch_config(&api_base, &site).await?;
    let modal = Modal::mount(config, api_base)?;
    MODAL.with(|m| *m.borrow_mut() = Some(modal.clone()));
    events::emit(&site, "impression");
    if auto_open && !storage::was_handled(&site) {
        modal.open();
    }
    Ok(())
}

/// Opens the modal (no-op until the config has loaded).
#[wasm_bindgen]
pub fn open() {
    if let Some(m) = MODAL.with(|m| m.borrow().clone()) {
        m.open();
    }
}

/// Closes the modal and returns focus where it was.
#[wasm_bindgen]
pub fn close() {
    if let Some(m) = MODAL.with(|m| m.borrow().clone()) {
        m.close();
    }
}
