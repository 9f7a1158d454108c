//! What the wasm remembers in `localStorage`: that the visitor opted in (in
//! the site's [`Memory`], whose page views, closings and this session's
//! openings the loader keeps: the modal stays away after a consent on any
//! surface) and a random visitor id that keeps A/B variants the same. The
//! loader reads and writes the same keys in the same form. Storage can be blocked or
//! throw (privacy modes, sandboxed frames, a full quota): then this page's own
//! copy stands in, so caps and variants hold until the page is left, and
//! nothing throws.

use alloc::string::String;
use core::cell::Cell;

use consent_core::targeting::Memory;

use crate::{dom, js};

/// What is kept, each under its own key.
#[derive(Clone, Copy)]
enum Slot {
    /// [`Memory`] for the site: `whatsapp-optin:<site>`.
    Memory = 0,
    /// The visitor id: `whatsapp-optin:visitor`.
    Visitor = 1,
}

/// This page's copy of what it wrote, per slot (one site per page). Cells, not
/// RefCells: no borrow to fail, no panicking path.
struct PageCopy([Cell<Option<String>>; 2]);
// SAFETY: the widget runs on the page's single thread.
unsafe impl Sync for PageCopy {}
static PAGE: PageCopy = PageCopy([Cell::new(None), Cell::new(None)]);

fn key(site: &str, slot: Slot) -> String {
    match slot {
        Slot::Memory => dom::cat(&["whatsapp-optin:", site]),
        // `#` never appears in a site id, so no site's key can be this one.
        Slot::Visitor => String::from("whatsapp-optin:#visitor"),
    }
}

fn area() -> Option<web_sys::Storage> {
    dom::window().local_storage().ok().flatten()
}

fn read(site: &str, slot: Slot) -> String {
    let copy = &PAGE.0[slot as usize];
    let held = copy.take();
    copy.set(held.clone());
    held.or_else(|| area()?.get_item(&key(site, slot)).ok().flatten())
        .unwrap_or_default()
}

fn write(site: &str, slot: Slot, value: String) {
    if let Some(s) = area() {
        let _ = s.set_item(&key(site, slot), &value);
    }
    PAGE.0[slot as usize].set(Some(value));
}

/// Now, in seconds since the epoch.
pub fn now() -> u32 {
    (js_sys::Date::now() / 1000.0) as u32
}

/// What this browser remembers for `site`.
pub fn memory(site: &str) -> Memory {
    Memory::parse(&read(site, Slot::Memory))
}

fn remember(site: &str, m: Memory) {
    write(site, Slot::Memory, m.encode());
}

/// Records that the visitor opted in now (on any surface: the modal stays away).
pub fn mark_consented(site: &str) {
    let mut m = memory(site);
    m.consented_at = now();
    remember(site, m);
}

/// This browser's random visitor id (no personal data): stored once, or, when
/// storage is blocked, one per page so every surface on it agrees.
pub fn visitor_id() -> String {
    let id = read("", Slot::Visitor);
    if !id.is_empty() {
        return id;
    }
    let id = js::new_key();
    write("", Slot::Visitor, id.clone());
    id
}
