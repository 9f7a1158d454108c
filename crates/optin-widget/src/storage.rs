//! What the widget remembers for its site: page views and when the modal was
//! closed or completed (`localStorage`), and how often it opened by itself in
//! this session (`sessionStorage`). Storage can be blocked or throw (privacy
//! modes, sandboxed frames, a full quota): then this page's own copy stands in,
//! so the caps still hold until the page is left, and nothing throws.

use alloc::string::String;

use consent_core::targeting::{decimals, Memory};

use crate::{dom, Global};

/// This page's copy of what it wrote: `[local, session]` (one site per page).
static PAGE: Global<[Option<String>; 2]> = Global(core::cell::RefCell::new([None, None]));

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
    let mine = PAGE.0.borrow()[usize::from(session)].clone();
    mine.or_else(|| area(session)?.get_item(&key(site, session)).ok().flatten())
        .unwrap_or_default()
}

fn write(site: &str, session: bool, value: String) {
    if let Some(s) = area(session) {
        let _ = s.set_item(&key(site, session), &value);
    }
    PAGE.0.borrow_mut()[usize::from(session)] = Some(value);
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
