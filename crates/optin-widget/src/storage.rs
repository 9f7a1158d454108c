//! What the widget remembers for its site: page views and when the modal was
//! closed or completed (`localStorage`), and how often it opened by itself in
//! this session (`sessionStorage`). Storage can be blocked or throw (privacy
//! modes, sandboxed frames, a full quota): then this page's own copy stands in,
//! so the caps still hold until the page is left, and nothing throws.

use alloc::string::String;
use core::cell::Cell;

use consent_core::targeting::{decimals, Memory};

use crate::dom;

/// This page's copy of what it wrote, local and session (one site per page).
struct PageCopy(Cell<Option<String>>, Cell<Option<String>>);
// SAFETY: the widget runs on the page's single thread.
unsafe impl Sync for PageCopy {}
static PAGE: PageCopy = PageCopy(Cell::new(None), Cell::new(None));

fn copy(session: bool) -> &'static Cell<Option<String>> {
    if session {
        &PAGE.1
    } else {
        &PAGE.0
    }
}

fn key(site: &str, session: bool) -> String {
    dom::cat(&[
        "whatsapp-optin:",
        site,
        if session { ":session" } else { "" },
    ])
}

fn area(session: bool) -> Option<web_sys::Storage> {
    let w = web_sys::window()?;
    let s = if session {
        w.session_storage()
    } else {
        w.local_storage()
    };
    s.ok().flatten()
}

fn read(site: &str, session: bool) -> String {
    let held = copy(session).take();
    let mine = held.clone();
    copy(session).set(held);
    mine.or_else(|| area(session)?.get_item(&key(site, session)).ok().flatten())
        .unwrap_or_default()
}

fn write(site: &str, session: bool, value: String) {
    if let Some(s) = area(session) {
        let _ = s.set_item(&key(site, session), &value);
    }
    copy(session).set(Some(value));
}

/// Now, in seconds since the epoch.
pub fn now() -> u32 {
    (js_sys::Date::now() / 1000.0) as u32
}

/// What this browser remembers for `site`.
pub fn memory(site: &str) -> Memory {
    Memory::parse(&read(site, false))
}

/// Counts a page view.
pub fn count_view(site: &str) {
    let mut m = memory(site);
    m.views = m.views.saturating_add(1);
    write(site, false, m.encode());
}

/// Records that the modal was closed (`"closed"`) or completed (`"consented"`) now.
pub fn mark_handled(site: &str, how: &str) {
    let mut m = memory(site);
    if how == "consented" {
        m.consented_at = now();
    } else {
        m.closed_at = now();
    }
    write(site, false, m.encode());
}

/// Times the modal opened by itself in this session.
pub fn shown_this_session(site: &str) -> u32 {
    decimals(&read(site, true))[0]
}

/// Counts one opening by itself in this session.
pub fn count_shown(site: &str) {
    let n = shown_this_session(site).saturating_add(1);
    write(site, true, dom::decimal(n));
}
