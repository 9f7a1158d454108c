//! The modal pop-up: view (built once into a shadow root) and controller
//! (open, close, focus trap, submit).

use alloc::{
    rc::{Rc, Weak},
    string::String,
    vec::Vec,
};
use core::cell::{Cell, RefCell};

use consent_core::normalize_phone;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    Element, HtmlButtonElement, HtmlDialogElement, HtmlFormElement, HtmlInputElement,
    KeyboardEvent, ShadowRoot,
};

use crate::{
    api::{self, Endpoint, Posted},
    config::Config,
    dom::{
        self, append, cast, close_button, document, el, listen, privacy_link, text_el, Listener,
    },
    events,
    form::{self, Choice},
    js, phone_input, storage, style,
    text::Shown,
};

/// The mounted modal and its state.
pub struct Modal {
    config: Config,
    api: Endpoint,
    shown: Shown,
    root: ShadowRoot,
    dialog: HtmlDialogElement,
    form: HtmlFormElement,
    phone: HtmlInputElement,
    phone_error: Element,
    category_error: Element,
    status: Element,
    submit: HtmlButtonElement,
    checkboxes: Vec<Choice>,
    return_focus: RefCell<Option<Element>>,
    idempotency_key: RefCell<String>,
    busy: Cell<bool>,
    /// Whether this page has counted the modal's `impression` (its first showing).
    seen: Cell<bool>,
    listeners: RefCell<Vec<Listener>>,
}

impl Modal {
    /// Builds the modal (hidden) into a `<whatsapp-optin>` host at the end of `<body>`.
    pub fn mount(config: Config, api: Endpoint) -> Result<Rc<Modal>, JsValue> {
        let (host, root) = dom::shadow_host(style::CSS)?;
        let shown = Shown::new(&config, "modal");
        let s = |key| shown.get(key);

        // A native modal <dialog> lives in the top layer: above any z-index the
        // page uses, with the rest of the page inert while it is open.
        let dialog = el(
            "dialog",
            &[
                ("aria-labelledby", "wa-title"),
                ("aria-describedby", "wa-notice"),
                ("lang", &shown.locale),
            ],
        );
        let close = close_button(&s("close"));
        let title = text_el("h2", &[("id", "wa-title")], &s("title"));
        let notice_p = text_el(
            "p",
            &[("id", "wa-notice"), ("class", "notice")],
            &s("notice"),
        );
        let form = el("form", &[("novalidate", "")]);
        let fieldset = el("fieldset", &[("aria-describedby", "wa-cat-error")]);
        append(
            &fieldset,
            &[&text_el("legend", &[], &s("categories_legend"))],
        );
        let checkboxes = form::choices(&fieldset, &config.categories, &shown);
        let category_error = el("p", &[("id", "wa-cat-error"), ("class", "error")]);
        let phone_label = text_el(
            "label",
            &[("for", "wa-phone"), ("class", "field-label")],
            &s("phone_label"),
        );
        let placeholder = dom::cat(&["+", &dom::decimal(config.default_calling_code.into()), " …"]);
        let phone = el(
            "input",
            &[
                ("id", "wa-phone"),
                ("type", "tel"),
                ("name", "phone"),
                ("autocomplete", "tel"),
                ("inputmode", "tel"),
                ("placeholder", &placeholder),
                ("aria-describedby", "wa-phone-error"),
                ("required", ""),
            ],
        );
        let phone_error = el(
            "p",
            &[
                ("id", "wa-phone-error"),
                ("class", "error"),
                ("role", "alert"),
            ],
        );
        let submit = text_el(
            "button",
            &[("type", "submit"), ("class", "submit")],
            &s("submit"),
        );
        let status = el(
            "p",
            &[("class", "status"), ("role", "status"), ("tabindex", "-1")],
        );
        let privacy = privacy_link(&config.privacy_policy_url, &s("privacy"));
        let privacy_p = el("p", &[]);
        append(&privacy_p, &[&privacy]);
        append(
            &form,
            &[
                &fieldset,
                &category_error,
                &phone_label,
                &phone,
                &phone_error,
                &submit,
                &status,
            ],
        );
        let body = el("div", &[("class", "box")]);
        append(&body, &[&close, &title, &notice_p, &form, &privacy_p]);
        append(&dialog, &[&body]);
        dom::add(&root, &dialog);
        let body = document().body().ok_or("no body")?;
        dom::add(&body, &host);

        let modal = Rc::new(Modal {
            config,
            api,
            shown,
            root,
            dialog: cast(dialog),
            form: cast(form),
            phone: cast(phone),
            phone_error,
            category_error,
            status,
            submit: cast(submit),
            checkboxes,
            return_focus: RefCell::new(None),
            idempotency_key: RefCell::new(js::new_key()),
            busy: Cell::new(false),
            seen: Cell::new(false),
            listeners: RefCell::new(Vec::new()),
        });
        modal.wire(&close)?;
        Ok(modal)
    }

    fn wire(self: &Rc<Self>, close: &Element) -> Result<(), JsValue> {
        let on = |target: &web_sys::EventTarget,
                  name: &'static [&'static str],
                  f: fn(&Rc<Modal>, &web_sys::Event)| {
            let weak: Weak<Modal> = Rc::downgrade(self);
            listen(target, name, move |e| {
                if let Some(m) = weak.upgrade() {
                    f(&m, &e)
                }
            })
        };
        let mut l = self.listeners.borrow_mut();
        l.push(on(close, &["click"], |m, _| m.dismiss()));
        // The box fills the dialog, so a click on the dialog itself is on its backdrop.
        l.push(on(&self.dialog, &["click"], |m, e| {
            if e.target().as_ref() == Some(m.dialog.as_ref()) {
                m.dismiss();
            }
        }));
        // Escape, or a close request from the platform (Android back).
        l.push(on(&self.dialog, &["cancel"], |m, e| {
            e.prevent_default();
            m.dismiss();
        }));
        l.push(on(&self.dialog, &["keydown"], |m, e| {
            m.on_key(e.unchecked_ref::<KeyboardEvent>());
        }));
        l.push(phone_input::enhance(
            &self.phone,
            &self.phone_error,
            self.config.default_calling_code,
            self.shown.get("invalid_phone"),
        ));
        l.push(on(&self.form, &["submit"], |m, e| {
            e.prevent_default();
            m.submit();
        }));
        Ok(())
    }

    /// Shows the dialog and moves focus into it. The first showing on this
    /// page emits `impression`: the funnel counts modals seen, not mounted.
    pub fn open(&self) {
        if self.dialog.open() {
            return;
        }
        if !self.seen.replace(true) {
            events::emit(&self.shown, "impression");
        }
        *self.return_focus.borrow_mut() = dom::active(&document());
        // A fresh form each time: no thanks or error left from an earlier opening.
        dom::set_attr(&self.form, "class", "");
        self.set_status("", "");
        if self.dialog.show_modal().is_err() {
            self.dialog.set_open(true);
        }
        if let Some((_, first)) = self.checkboxes.first() {
            dom::focus(first);
        }
        events::emit(&self.shown, "open");
    }

    /// Hides the dialog and returns focus where it was.
    pub fn close(&self) {
        if !self.dialog.open() {
            return;
        }
        self.dialog.close();
        if let Some(prev) = self.return_focus.borrow_mut().take() {
            dom::focus(&prev);
        }
        events::emit(&self.shown, "close");
    }

    fn dismiss(&self) {
        storage::mark_closed(&self.config.site);
        self.close();
    }

    fn on_key(&self, k: &KeyboardEvent) {
        match k.key().as_str() {
            "Escape" => {
                k.prevent_default();
                self.dismiss();
            }
            "Tab" => self.trap_focus(k),
            _ => {}
        }
    }

    /// Keeps Tab and Shift+Tab inside the dialog.
    fn trap_focus(&self, k: &KeyboardEvent) {
        let nodes = dom::query_all(&self.dialog, "button:not([disabled]),input,a[href]");
        let (Some(first), Some(last)) = (nodes.get(0), nodes.get(nodes.length().saturating_sub(1)))
        else {
            return;
        };
        let active = dom::active(&self.root).map(JsValue::from);
        let edge = if k.shift_key() { &first } else { &last };
        let wrap_to = if k.shift_key() { &last } else { &first };
        if active.as_ref() == Some(edge.as_ref()) || active.is_none() {
            k.prevent_default();
            dom::focus(wrap_to);
        }
    }

    fn set_status(&self, msg: &str, class: &str) {
        self.status.set_text_content(Some(msg));
        dom::set_attr(&self.status, "class", &dom::cat(&["status ", class]));
    }

    /// Checks what was entered, then sends it; [`Modal::answered`] shows the outcome.
    fn submit(self: &Rc<Self>) {
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
                // "nothing happened" (a later open() brings the form back).
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
