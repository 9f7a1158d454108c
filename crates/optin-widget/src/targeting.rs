//! When the modal opens by itself: the site's [`Targeting`] rules, evaluated on
//! load and again on every single-page-app route change (`history.pushState`,
//! which the loader announces as `whatsapp-optin:route`, and `popstate`). The
//! frequency caps stop a route change from showing it again.
//!
//! Triggers (delay, scroll depth, exit intent) are bits of `pending`: a route
//! change clears them and the timer, so a trigger armed for the last route
//! never fires for this one. The scroll and exit-intent listeners are added
//! the first time a route needs them and then stay, idle while their bit is
//! not pending (less code than adding and removing them). One handler serves
//! every event and the timer: one closure in the wasm instead of one per trigger.
//!
//! A page with a checkout opt-in (a `[data-wa-optin=checkout]` placeholder, or
//! one mounted with `mount()`) is a form the visitor is busy with: the modal
//! does not pop up over it unless the site asks for it there, with an
//! `include` pattern that matches the page. The default (no `include`: every
//! page) is no such ask. `open()` opens it whatever the page.

use alloc::{rc::Rc, string::String};
use core::cell::Cell;

#[cfg(feature = "surfaces")]
use consent_core::targeting::glob;
use consent_core::Targeting;
use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventTarget, Window};

use crate::{
    dom::{self, Handler},
    js::{get, get_str},
    modal::Modal,
    storage,
};

const DELAY: u8 = 1;
const SCROLL: u8 = 2;
const EXIT: u8 = 4;

/// The modal's automatic opening on this page.
struct Auto {
    modal: Rc<Modal>,
    site: String,
    rules: Targeting,
    window: Window,
    /// The one handler every listener and the timer call.
    handler: Function,
    /// Path and query last evaluated: a `pushState` to the same page is no new view.
    page: Cell<String>,
    /// Triggers still waiting (bits).
    pending: Cell<u8>,
    /// Listeners already added (bits).
    added: Cell<u8>,
    /// The delay's timer (0: none).
    timer: Cell<i32>,
}

/// `location.pathname` and `location.search`.
fn location(w: &Window) -> (String, String) {
    let loc = get(w, "location");
    let part = |k| get_str(&loc, k).unwrap_or_default();
    (part("pathname"), part("search"))
}

/// Arms the modal's automatic opening for this page load and every later route
/// change. Lives as long as the page.
pub fn start(modal: Rc<Modal>, site: &str, rules: Option<Targeting>) {
    let window = dom::window();
    let auto = Rc::new_cyclic(|me: &alloc::rc::Weak<Auto>| {
        let me = me.clone();
        // The listeners' closure type, so no new closure shim is linked (the
        // timer calls it without an event: `undefined`).
        let handler = Handler::new(move |e: web_sys::Event| {
            if let Some(a) = me.upgrade() {
                a.on(&e)
            }
        });
        Auto {
            modal,
            site: String::from(site),
            rules: rules.unwrap_or_default(),
            window,
            handler: handler.into_js_value().unchecked_into(),
            page: Cell::new(String::new()),
            pending: Cell::new(0),
            added: Cell::new(0),
            timer: Cell::new(0),
        }
    });
    for name in ["popstate", "whatsapp-optin:route"] {
        dom::add_listener(&auto.window, name, &auto.handler);
    }
    auto.route();
    // The handler holds only a weak reference: the page keeps this alive.
    core::mem::forget(auto);
}

impl Auto {
    /// Every event: a route change, a trigger's, or the timer (no event).
    fn on(&self, e: &JsValue) {
        let pending = self.pending.get();
        // Leaving the window through its top edge: towards the tabs, the address bar, close.
        let exit = || get(e, "relatedTarget").is_null() && get(e, "clientY").as_f64() <= Some(0.0);
        let done = match get_str(e, "type").as_deref() {
            Some("mouseout") if pending & EXIT != 0 && exit() => EXIT,
            Some("scroll") if pending & SCROLL != 0 && self.scrolled_enough() => SCROLL,
            Some("mouseout" | "scroll") => return,
            Some(_) => return self.route(),
            None => DELAY,
        };
        let left = pending & !done;
        self.pending.set(left);
        if left == 0 && pending != 0 {
            self.show();
        }
    }

    /// A new page (load or route change): disarm the last one's triggers,
    /// count the view, and arm this one's if the rules allow.
    fn route(&self) {
        let w = &self.window;
        let (path, search) = location(w);
        let here = dom::cat(&[&path, &search]);
        if self.page.replace(here.clone()) == here {
            return;
        }
        self.pending.set(0);
        w.clear_timeout_with_handle(self.timer.take());
        storage::count_view(&self.site);
        if !self.allowed(&path) {
            return;
        }
        let r = &self.rules;
        let mut pending = 0;
        if r.scroll_percent > 0 && !self.scrolled_enough() {
            pending |= self.listen(w, SCROLL, "scroll");
        }
        if r.exit_intent && desktop() {
            pending |= self.listen(&dom::document(), EXIT, "mouseout");
        }
        // Always through the timer, even with no delay: the opening (whose
        // layout the browser does at once) runs as a task of its own, not in
        // the one that instantiated the wasm and built the modal.
        let ms = r.delay_seconds.saturating_mul(1000).min(i32::MAX as u32) as i32;
        self.timer.set(dom::set_timeout(&self.handler, ms));
        pending |= DELAY;
        self.pending.set(pending);
        if pending == 0 {
            self.show();
        }
    }

    /// Adds the listener for trigger `bit` once; returns `bit`.
    fn listen(&self, target: &EventTarget, bit: u8, name: &str) -> u8 {
        if self.added.get() & bit == 0 {
            dom::add_listener(target, name, &self.handler);
            self.added.set(self.added.get() | bit);
        }
        bit
    }

    /// The page and caps allow an automatic opening (checked again when the triggers fire).
    fn allowed(&self, path: &str) -> bool {
        !over_checkout(&self.rules, path)
            && self.rules.may_open(
                path,
                &storage::memory(&self.site),
                storage::shown_this_session(&self.site),
                storage::now(),
            )
    }

    fn show(&self) {
        if self.allowed(&location(&self.window).0) {
            storage::count_shown(&self.site);
            self.modal.open();
        }
    }

    /// Scrolled at least `scroll_percent` of what the page can scroll; a page
    /// too short to scroll counts as scrolled to the end.
    fn scrolled_enough(&self) -> bool {
        let Some(e) = dom::document().document_element() else {
            return true;
        };
        let n = |k| get(&e, k).as_f64().unwrap_or(0.0);
        let max = n("scrollHeight") - n("clientHeight");
        max <= 0.0 || n("scrollTop") * 100.0 >= max * f64::from(self.rules.scroll_percent)
    }
}

/// Whether an automatic opening would cover a checkout opt-in the site did
/// not ask for it over. Full build only: the loader starts the modal-only
/// build only on pages with no placeholder, and a later `mount()` brings the
/// full build (whose modal-only twin has no checkout to find).
#[cfg(feature = "surfaces")]
fn over_checkout(rules: &Targeting, path: &str) -> bool {
    let found = dom::document().query_selector(CHECKOUT_SELECTOR);
    found.ok().flatten().is_some() && !asks_over_checkout(rules, path)
}

#[cfg(not(feature = "surfaces"))]
fn over_checkout(_: &Targeting, _: &str) -> bool {
    false
}

/// A checkout placeholder, or an element a checkout opt-in was mounted into.
#[cfg(feature = "surfaces")]
const CHECKOUT_SELECTOR: &str = "[data-wa-optin=checkout],[data-wa-optin-mounted]";

/// Whether the site asks for the modal on `path` even over a checkout: one of
/// its `include` patterns names the page.
#[cfg(feature = "surfaces")]
fn asks_over_checkout(rules: &Targeting, path: &str) -> bool {
    let named = |p: &alloc::string::String| glob(p.as_bytes(), path.as_bytes());
    rules.include.iter().any(named)
}

/// A pointer that hovers: a mouse or trackpad, where exit intent means something.
fn desktop() -> bool {
    dom::matches("(hover: hover) and (pointer: fine)")
}

#[cfg(all(test, feature = "surfaces"))]
mod tests {
    use super::*;
    use alloc::{string::ToString, vec};

    #[test]
    fn only_an_include_that_names_the_page_asks_for_the_modal_over_a_checkout() {
        let mut rules = Targeting::default();
        assert!(
            !asks_over_checkout(&rules, "/checkout"),
            "every page is no ask"
        );
        rules.include = vec!["/products/*".to_string()];
        assert!(!asks_over_checkout(&rules, "/checkout"));
        rules.include.push("/check*".to_string());
        assert!(asks_over_checkout(&rules, "/checkout"));
    }

    #[test]
    fn the_selector_finds_placeholders_and_mounted_opt_ins() {
        assert!(CHECKOUT_SELECTOR.contains(crate::checkout::MOUNTED));
    }
}
