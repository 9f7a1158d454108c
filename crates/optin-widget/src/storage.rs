//! What the widget remembers: for its site, page views and when the modal was
//! closed or completed (`localStorage`) and how often it opened by itself in
//! this session (`sessionStorage`); for the browser, a random visitor id that
//! keeps its A/B variants the same (`localStorage`). Storage can be blocked or
//! throw (privacy modes, sandboxed frames, a full quota): then this page's own
//! copy stands in, so caps and variants hold until the page is left, and
//! nothing throws.

use alloc::string::String;
use core::cell::Cell;

use consent_core::targeting::{decimals, Memory};

use crate::{dom, js};

/// What is kept, each under its own key.
#[derive(Clone, Copy)]
enum Slot {
    /// [`Memory`] for the site: `whatsapp-optin:<site>`.
    Memory = 0,
    /// Openings by itself this session: `whatsapp-optin:<site>:session`.
    Session = 1,
    /// The visitor id: `whatsapp-optin:visitor`.
    Visitor = 2,
}

/// This page's copy of what it wrote, per slot (one site per page). Cells, not
/// RefCells: no borrow to fail, no panicking path.
struct PageCopy([Cell<Option<String>>; 3]);
// SAFETY: the widget runs on the page's single thread.
unsafe impl Sync for PageCopy {}
static PAGE: PageCopy = PageCopy([Cell::new(None), Cell::new(None), Cell::new(None)]);

fn key(site: &str, slot: Slot) -> String {
    match slot {
        Slot::Memory => dom::cat(&["whatsapp-optin:", site]),
        Slot::Session => dom::cat(&["whatsapp-optin:", site, ":session"]),
        // `#` never appears in a site id, so no site's key can be this one.
        Slot::Visitor => String::from("whatsapp-optin:#visitor"),
    }
}

fn area(slot: Slot) -> Option<web_sys::Storage> {
    let w = dom::window();
    let s = match slot {
        Slot::Session => w.session_storage(),
        _ => w.local_storage(),
    };
    s.ok().flatten()
}

fn read(site: &str, slot: Slot) -> String {
    let copy = &PAGE.0[slot as usize];
    let held = copy.take();
    copy.set(held.clone());
    held.or_else(|| area(slot)?.get_item(&key(site, slot)).ok().flatten())
        .unwrap_or_default()
}

fn write(site: &str, slot: Slot, value: String) {
    if let Some(s) = area(slot) {
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

/// Counts a page view.
pub fn count_view(site: &str) {
    let mut m = memory(site);
    m.views = m.views.saturating_add(1);
    remember(site, m);
}

/// Records that the modal was closed now.
pub fn mark_closed(site: &str) {
    let mut m = memory(site);
    m.closed_at = now();
    remember(site, m);
}

/// Records that the visitor opted in now (on any surface: the modal stays away).
pub fn mark_consented(site: &str) {
    let mut m = memory(site);
    m.consented_at = now();
    remember(site, m);
}

/// Times the modal opened by itself in this session.
pub fn shown_this_session(site: &str) -> u32 {
    decimals(&read(site, Slot::Session))[0]
}

/// Counts one opening by itself in this session.
pub fn count_shown(site: &str) {
    let n = shown_this_session(site).saturating_add(1);
    write(site, Slot::Session, dom::decimal(n));
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
