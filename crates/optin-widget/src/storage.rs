//! Remembers that a visitor closed the modal or opted in, so it does not nag.
//! Storage can be blocked (privacy modes, sandboxed frames): then nothing is remembered.

use alloc::string::String;

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
