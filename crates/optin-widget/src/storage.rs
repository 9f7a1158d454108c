//! What the widget remembers in `localStorage`: that a visitor closed the modal
//! or opted in (so it does not nag), and a random visitor id that keeps their
//! A/B variant the same. Storage can be blocked (privacy modes, sandboxed
//! frames): then nothing is remembered past the page.

use alloc::string::String;
use core::cell::RefCell;

use crate::Global;

fn key(site: &str) -> String {
    crate::dom::cat(&["whatsapp-optin:", site, ":handled"])
}

fn local() -> Option<web_sys::Storage> {
    web_sys::window()?.local_storage().ok().flatten()
}

/// Whether this browser already closed or completed the modal for `site`.
pub fn was_handled(site: &str) -> bool {
    local()
        .and_then(|s| s.get_item(&key(site)).ok().flatten())
        .is_some()
}

/// Records that the modal was closed or completed.
pub fn mark_handled(site: &str, how: &str) {
    if let Some(s) = local() {
        let _ = s.set_item(&key(site), how);
    }
}

const VISITOR: &str = "whatsapp-optin:visitor";
static PAGE_VISITOR: Global<Option<String>> = Global(RefCell::new(None));

/// This browser's random visitor id (no personal data): stored once, or, when
/// storage is blocked, one per page so every surface on it agrees.
pub fn visitor_id() -> String {
    if let Some(id) = PAGE_VISITOR.0.borrow().clone() {
        return id;
    }
    let stored = local().and_then(|s| s.get_item(VISITOR).ok().flatten());
    let id = stored.unwrap_or_else(|| {
        let id = crate::api::new_key();
        if let Some(s) = local() {
            let _ = s.set_item(VISITOR, &id);
        }
        id
    });
    *PAGE_VISITOR.0.borrow_mut() = Some(id.clone());
    id
}
