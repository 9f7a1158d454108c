//! The embedded checkout / registration opt-in: view and controller.
//!
//! Mounts into a placeholder inside the merchant's own `<form>`
//! (`<div data-wa-optin="checkout" data-phone-field="#phone">`): the notice,
//! one **unchecked** box per category, its own phone input unless the
//! merchant's field is named, and the privacy link. When the merchant form is
//! submitted with a box ticked, the consent is sent with `fetch(…, {keepalive})`
//! so it survives the navigation; the submit is never blocked or delayed.

use alloc::{boxed::Box, rc::Rc, string::String, vec::Vec};
use core::cell::RefCell;

use consent_core::normalize_phone;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlInputElement};

use crate::{
    api::{self, Endpoint, Failure},
    config::Config,
    dom::{self, append, cast, document, el, listen, privacy_link, text_el, Listener},
    events,
    form::{self, Choice},
    js::{self, get_str},
    phone_input, storage, style,
    text::Shown,
};

/// Attribute on the placeholder once a checkout opt-in is mounted in it.
pub const MOUNTED: &str = "data-wa-optin-mounted";

/// One mounted checkout opt-in.
pub struct Checkout {
    shown: Shown,
    api: Endpoint,
    /// The placeholder it was mounted into.
    pub placeholder: Element,
    notice_version: u32,
    default_calling_code: u16,
    phone_field: Option<String>,
    own_phone: Option<HtmlInputElement>,
    error: Element,
    checkboxes: Vec<Choice>,
    idempotency_key: RefCell<String>,
    listeners: RefCell<Vec<Listener>>,
}

/// `opts[key]` (JS call) or the placeholder's `data-*` attribute.
fn option(opts: &JsValue, placeholder: &Element, key: &str, attr: &str) -> Option<String> {
    get_str(opts, key).or_else(|| placeholder.get_attribute(attr))
}

impl Checkout {
    /// Renders into `placeholder`. `opts` (from `WhatsAppOptIn.mount`) may set
    /// `phoneField` (a CSS selector) and `categories` (comma-separated wire names);
    /// otherwise `data-phone-field` / `data-categories`, else its own input and
    /// every category of the site.
    pub fn mount(
        placeholder: Element,
        config: &Config,
        api: &Endpoint,
        opts: &JsValue,
    ) -> Result<Rc<Checkout>, JsValue> {
        Checkout::mount_as(placeholder, config, api, opts, "checkout")
    }

    /// [`Checkout::mount`] as the opt-in step of another surface (`"chat"`).
    pub fn mount_as(
        placeholder: Element,
        config: &Config,
        api: &Endpoint,
        opts: &JsValue,
        surface: &'static str,
    ) -> Result<Rc<Checkout>, JsValue> {
        let shown = Shown::new(config, surface);
        let s = |key| shown.get(key);
        let phone_field = option(opts, &placeholder, "phoneField", "data-phone-field");
        let categories: Vec<String> =
            match option(opts, &placeholder, "categories", "data-categories") {
                Some(list) => config
                    .categories
                    .iter()
                    .filter(|c| list.split(',').any(|w| w.trim_matches(' ') == c.as_str()))
                    .cloned()
                    .collect(),
                None => config.categories.clone(),
            };

        let (host, root) = dom::shadow_host(style::CHECKOUT_CSS)?;
        let group = el(
            "div",
            &[
                ("role", "group"),
                ("aria-labelledby", "n"),
                ("lang", &shown.locale),
            ],
        );
        let notice_p = text_el("p", &[("id", "n")], &s("notice"));
        append(&group, &[&notice_p]);
        let choices = el("div", &[("class", "choices")]);
        let checkboxes = form::choices(&choices, &categories, &shown);
        append(&group, &[&choices]);
        let own_phone = match phone_field {
            Some(_) => None,
            None => {
                let label = text_el("label", &[("for", "p")], &s("phone_label"));
                let input = el(
                    "input",
                    &[
                        ("id", "p"),
                        ("type", "tel"),
                        ("autocomplete", "tel"),
                        ("inputmode", "tel"),
                        ("aria-describedby", "e"),
                    ],
                );
                append(&group, &[&label, &input]);
                Some(cast::<HtmlInputElement>(input))
            }
        };
        let error = el("p", &[("id", "e"), ("class", "error"), ("role", "alert")]);
        let privacy = privacy_link(&config.privacy_policy_url, &s("privacy"));
        append(&group, &[&error, &privacy]);
        dom::add(&root, &group);
        dom::add(&placeholder, &host);
        dom::set_attr(&placeholder, MOUNTED, "");

        let checkout = Rc::new(Checkout {
            shown,
            api: api.clone(),
            placeholder,
            notice_version: config.notice_version,
            default_calling_code: config.default_calling_code,
            phone_field,
            own_phone,
            error,
            checkboxes,
            idempotency_key: RefCell::new(js::new_key()),
            listeners: RefCell::new(Vec::new()),
        });
        if let Some(input) = &checkout.own_phone {
            let l = phone_input::enhance(
                input,
                &checkout.error,
                checkout.default_calling_code,
                checkout.shown.get("invalid_phone"),
            );
            checkout.listeners.borrow_mut().push(l);
        }
        if let Some(form) = checkout.placeholder.closest("form")? {
            let weak = Rc::downgrade(&checkout);
            let l = listen(&form, &["submit"], move |e| {
                if let Some(c) = weak.upgrade() {
                    if !e.default_prevented() {
                        js::spawn(Box::pin(async move {
                            let _ = c.record(true).await;
                        }));
                    }
                }
            });
            checkout.listeners.borrow_mut().push(l);
        }
        events::emit(&checkout.shown, "impression");
        Ok(checkout)
    }

    /// The inline error (and, on its own input, `aria-invalid`).
    fn show_error(&self, msg: Option<&str>) {
        match &self.own_phone {
            Some(input) => phone_input::show_error(input, &self.error, msg),
            None => self.error.set_text_content(msg),
        }
    }

    fn phone(&self) -> String {
        if let Some(input) = &self.own_phone {
            return input.value();
        }
        self.phone_field
            .as_deref()
            .and_then(|sel| document().query_selector(sel).ok().flatten())
            .and_then(|e| e.dyn_into::<HtmlInputElement>().ok())
            .map(|i| i.value())
            .unwrap_or_default()
    }

    /// Checks what was entered, synchronously: `Ok(None)` when no box is ticked,
    /// the request when it can be sent, `Err` (shown inline, and as an
    /// `error` event) when the number is impossible.
    pub fn prepare(&self) -> Result<Option<String>, JsValue> {
        let categories = form::chosen(&self.checkboxes);
        if categories.is_empty() {
            return Ok(None);
        }
        let phone = self.phone();
        if normalize_phone(&phone, self.default_calling_code).is_err() {
            let msg = self.shown.get("invalid_phone");
            self.show_error(Some(&msg));
            if let Some(input) = &self.own_phone {
                dom::focus(input);
            }
            let msg: JsValue = msg.into();
            events::emit_error(&self.shown, &msg);
            return Err(msg);
        }
        self.show_error(None);
        Ok(Some(api::consent_json(
            &phone,
            &categories,
            &self.shown,
            self.notice_version,
        )))
    }

    /// Sends a prepared consent; `keepalive` lets it outlive a navigation.
    pub async fn send(&self, body: String, keepalive: bool) -> Result<String, JsValue> {
        events::emit(&self.shown, "submit");
        let key = self.idempotency_key.borrow().clone();
        match api::post_consent_async(&self.api, &self.shown.site, &body, &key, keepalive).await {
            Ok(id) => {
                *self.idempotency_key.borrow_mut() = js::new_key();
                storage::mark_consented(&self.shown.site);
                events::emit_consent(&self.shown, &id);
                Ok(id)
            }
            Err(e) => {
                let failure = e.failure();
                let msg = self.shown.get(failure.text_key());
                // Only the Worker's "invalid number" marks the input invalid.
                if failure == Failure::InvalidPhone {
                    self.show_error(Some(&msg));
                } else {
                    self.error.set_text_content(Some(&msg));
                }
                if !failure.transient() {
                    *self.idempotency_key.borrow_mut() = js::new_key();
                }
                events::emit_failure(&self.shown, &msg, &e);
                Err(msg.into())
            }
        }
    }

    /// Sends the consent if a box is ticked: `Ok(None)` when none is,
    /// `Ok(Some(id))` once recorded.
    pub async fn record(&self, keepalive: bool) -> Result<Option<String>, JsValue> {
        match self.prepare()? {
            Some(body) => self.send(body, keepalive).await.map(Some),
            None => Ok(None),
        }
    }
}
