//! The modal's form: the loader (`widget.js`) builds and shows the pop-up
//! itself, with no wasm before its prompt (its open, close, focus trap and
//! targeting are the loader's); on the visitor's first interaction with it
//! the loader fetches this build and hands over the shadow root, and this
//! module adopts the form in it: the phone's formatting and check, the
//! category check, the consent and the Worker's answer.

use alloc::{rc::Rc, string::String, vec::Vec};
use core::cell::{Cell, RefCell};

use consent_core::normalize_phone;
use wasm_bindgen::JsValue;
use web_sys::{Element, HtmlButtonElement, HtmlFormElement, HtmlInputElement, ShadowRoot};

use crate::{
    api::{self, Endpoint, Posted},
    config::Config,
    dom::{self, cast, listen, Listener},
    events,
    form::{self, Choice},
    js, phone_input, storage,
    text::Shown,
};

/// The adopted form and its state.
pub struct Modal {
    config: Config,
    api: Endpoint,
    shown: Shown,
    form: HtmlFormElement,
    phone: HtmlInputElement,
    phone_error: Element,
    category_error: Element,
    status: Element,
    submit: HtmlButtonElement,
    checkboxes: Vec<Choice>,
    idempotency_key: RefCell<String>,
    busy: Cell<bool>,
    listeners: RefCell<Vec<Listener>>,
}

/// The element `selector` finds in the loader's modal.
fn part(root: &ShadowRoot, selector: &str) -> Result<Element, JsValue> {
    dom::query(root, selector)
        .ok_or_else(|| JsValue::from_str("the modal's markup is not the loader's"))
}

impl Modal {
    /// Adopts the form of the modal the loader built in `root`, showing the
    /// strings of `variant` (the one the loader picked and shows).
    pub fn adopt(
        root: &ShadowRoot,
        config: Config,
        api: Endpoint,
        variant: Option<String>,
    ) -> Result<Rc<Modal>, JsValue> {
        let shown = Shown::chosen(&config, "modal", variant);
        let modal = Rc::new(Modal {
            form: cast(part(root, "form")?),
            phone: cast(part(root, "#wa-phone")?),
            phone_error: part(root, "#wa-phone-error")?,
            category_error: part(root, "#wa-cat-error")?,
            status: part(root, ".status")?,
            submit: cast(part(root, ".submit")?),
            checkboxes: form::adopt_choices(root),
            config,
            api,
            shown,
            idempotency_key: RefCell::new(js::new_key()),
            busy: Cell::new(false),
            listeners: RefCell::new(Vec::new()),
        });
        modal.wire();
        Ok(modal)
    }

    fn wire(self: &Rc<Self>) {
        let weak = Rc::downgrade(self);
        let mut l = self.listeners.borrow_mut();
        l.push(phone_input::enhance(
            &self.phone,
            &self.phone_error,
            self.config.default_calling_code,
            self.shown.get("invalid_phone"),
        ));
        l.push(listen(&self.form, &["submit"], move |e| {
            e.prevent_default();
            if let Some(m) = weak.upgrade() {
                m.send();
            }
        }));
    }

    fn set_status(&self, msg: &str, class: &str) {
        self.status.set_text_content(Some(msg));
        dom::set_attr(&self.status, "class", &dom::cat(&["status ", class]));
    }

    /// Checks what was entered, then sends it; [`Modal::answered`] shows the outcome.
    fn send(self: &Rc<Self>) {
        if self.busy.get() {
            return;
        }
        let s = |key| self.shown.get(key);
        let categories = form::chosen(&self.checkboxes);
        let missing = categories.is_empty().then(|| s("no_category"));
        self.category_error.set_text_content(missing.as_deref());
        if categories.is_empty() {
            if let Some((_, first)) = self.checkboxes.first() {
                dom::focus(first);
            }
            return;
        }
        let typed = self.phone.value();
        if normalize_phone(&typed, self.config.default_calling_code).is_err() {
            phone_input::show_error(&self.phone, &self.phone_error, Some(&s("invalid_phone")));
            dom::focus(&self.phone);
            return;
        }
        let body = api::consent_json(&typed, &categories, &self.shown, self.config.notice_version);
        self.busy.set(true);
        self.submit.set_disabled(true);
        self.set_status(&s("sending"), "");
        events::emit(&self.shown, "submit");
        let key = self.idempotency_key.borrow().clone();
        let weak = Rc::downgrade(self);
        self.api
            .post_consent(&self.config.site, &body, &key, false, move |posted| {
                if let Some(m) = weak.upgrade() {
                    m.answered(posted);
                }
            });
    }

    fn answered(&self, posted: Posted) {
        let s = |key| self.shown.get(key);
        self.busy.set(false);
        self.submit.set_disabled(false);
        match posted {
            Ok(id) => {
                self.set_status(&s("success"), "ok");
                self.form.reset();
                // Only the thanks stays in view: a form still on screen reads as
                // "nothing happened" (the loader's next opening brings the form back).
                dom::set_attr(&self.form, "class", "done");
                *self.idempotency_key.borrow_mut() = js::new_key();
                storage::mark_consented(&self.config.site);
                events::emit_consent(&self.shown, &id);
            }
            Err(e) => {
                let failure = e.failure();
                let msg = s(failure.text_key());
                self.set_status(&msg, "bad");
                // A retry of a transient failure keeps its key: the Worker
                // records a retried consent once. A refusal starts afresh.
                if !failure.transient() {
                    *self.idempotency_key.borrow_mut() = js::new_key();
                }
                events::emit_failure(&self.shown, &msg, &e);
            }
        }
        dom::focus(&self.status);
    }
}
