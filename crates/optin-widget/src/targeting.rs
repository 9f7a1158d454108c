//! When the modal opens by itself: the site's [`Targeting`] rules, evaluated on
//! load and again on every single-page-app route change (`history.pushState`,
//! which the loader announces as `whatsapp-optin:route`, and `popstate`). The
//! frequency caps stop a route change from showing it again.
//!
//! Triggers (delay, scroll depth, exit intent) are armed as [`Hook`]s, a
//! listener or a timer removed when dropped (as gloo's are), so a route change
//! or an opening leaves nothing behind. One handler serves every event: one
//! closure in the wasm instead of one per trigger.

use alloc::{rc::Rc, string::String, vec::Vec};
use core::cell::Cell;

use consent_core::Targeting;
use js_sys::Function;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{EventTarget, Window};

use crate::{
    api::{get, get_str},
    dom::{self, Listener},
    modal::Modal,
    storage,
};

const DELAY: u8 = 1;
const SCROLL: u8 = 2;
const EXIT: u8 = 4;

/// An armed trigger: removed from the page when dropped.
enum Hook {
    Listener(EventTarget, &'static str, Function),
    Timeout(Window, i32),
}

impl Drop for Hook {
    fn drop(&mut self) {
        match self {
            Hook::Listener(target, name, f) => {
                let _ = target.remove_event_listener_with_callback(name, f);
            }
            Hook::Timeout(w, id) => w.clear_timeout_with_handle(*id),
        }
    }
}

/// The modal's automatic opening on this page.
struct Auto {
    modal: Rc<Modal>,
    site: String,
    rules: Targeting,
    /// Path and query last evaluated: a `pushState` to the same page is no new view.
    page: Cell<String>,
    /// Triggers still waiting (bits).
    pending: Cell<u8>,
    hooks: Cell<Vec<Hook>>,
    /// The one handler every listener and the timer call (set once, at start).
    handler: Cell<Option<Function>>,
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
    let Some(w) = web_sys::window() else {
        return;
    };
    let auto = Rc::new(Auto {
        modal,
        site: String::from(site),
        rules: rules.unwrap_or_default(),
        page: Cell::new(String::new()),
        pending: Cell::new(0),
        hooks: Cell::new(Vec::new()),
        handler: Cell::new(None),
    });
    let handler: Function = {
        let (a, w) = (auto.clone(), w.clone());
        Listener::new(move |e: web_sys::Event| a.on(&w, &e))
            .into_js_value()
            .unchecked_into()
    };
    for name in ["popstate", "whatsapp-optin:route"] {
        let _ = w.add_event_listener_with_callback(name, &handler);
    }
    auto.handler.set(Some(handler));
    auto.route(&w);
}

impl Auto {
    /// Every event: a route change, a trigger's, or the timer (no event).
    fn on(&self, w: &Window, e: &JsValue) {
        let exit = || get(e, "relatedTarget").is_null() && get(e, "clientY").as_f64() <= Some(0.0);
        let done = match get_str(e, "type").as_deref() {
            // Leaving the window through its top edge: towards the tabs, the address bar, close.
            Some("mouseout") if exit() => EXIT,
            Some("scroll") if self.scrolled_enough() => SCROLL,
            Some("mouseout" | "scroll") => 0,
            Some(_) => {
                self.route(w);
                0
            }
            None => DELAY,
        };
        if done != 0 {
            let left = self.pending.get() & !done;
            self.pending.set(left);
            if left == 0 {
                self.show(w);
            }
        }
    }

    /// A new page (load or route change): disarm the last one's triggers,
    /// count the view, and arm this one's if the rules allow.
    fn route(&self, w: &Window) {
        // Cells, not RefCells: no borrow to fail, no panicking path.
        let held = self.handler.take();
        self.handler.set(held.clone());
        let Some(handler) = held else {
            return;
        };
        let (path, search) = location(w);
        let here = dom::cat(&[&path, &search]);
        if self.page.replace(here.clone()) == here {
            return;
        }
        drop(self.hooks.take());
        storage::count_view(&self.site);
        if !self.allowed(&path) {
            return;
        }
        let r = &self.rules;
        let mut pending = 0;
        let mut hooks = Vec::new();
        let mut listen = |bit: u8, target: EventTarget, name: &'static str| {
            let _ = target.add_event_listener_with_callback(name, &handler);
            pending |= bit;
            hooks.push(Hook::Listener(target, name, handler.clone()));
        };
        if r.scroll_percent > 0 && !self.scrolled_enough() {
            listen(SCROLL, w.clone().into(), "scroll");
        }
        if r.exit_intent && desktop(w) {
            listen(EXIT, dom::document().into(), "mouseout");
        }
        if r.delay_seconds > 0 {
            let ms = r.delay_seconds.saturating_mul(1000).min(i32::MAX as u32) as i32;
            if let Ok(id) = w.set_timeout_with_callback_and_timeout_and_arguments_0(&handler, ms) {
                pending |= DELAY;
                hooks.push(Hook::Timeout(w.clone(), id));
            }
        }
        self.pending.set(pending);
        self.hooks.set(hooks);
        if pending == 0 {
            self.show(w);
        }
    }

    /// The page and caps allow an automatic opening (checked again when the triggers fire).
    fn allowed(&self, path: &str) -> bool {
        self.rules.may_open(
            path,
            &storage::memory(&self.site),
            storage::shown_this_session(&self.site),
            storage::now(),
        )
    }

    fn show(&self, w: &Window) {
        drop(self.hooks.take());
        if self.allowed(&location(w).0) {
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

/// A pointer that hovers: a mouse or trackpad, where exit intent means something.
fn desktop(w: &Window) -> bool {
    w.match_media("(hover: hover) and (pointer: fine)")
        .ok()
        .flatten()
        .is_some_and(|m| m.matches())
}
