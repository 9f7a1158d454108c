//! The chat widget: a floating button, a greeting bubble, an optional opt-in
//! step, then the hand-over to `https://wa.me/<number>?text=<prefilled>` (works on
//! desktop and mobile, unlike `whatsapp://`).
//!
//! The hand-over is a real link (new tab), so it is never blocked as a pop-up
//! and works with the keyboard and assistive tech. If a category is ticked the
//! consent (surface `chat`) is sent with `keepalive` as the link is followed; an
//! impossible number stops the link and says why.

use alloc::{boxed::Box, rc::Rc, string::String};

use consent_core::{ChatConfig, OpeningHours};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{Element, HtmlElement, KeyboardEvent};

use crate::{
    api::Endpoint,
    checkout::Checkout,
    config::Config,
    dom::{self, append, cast, close_button, document, el, listen, text_el, Listener},
    events, js, style,
    text::Shown,
};

/// The mounted chat widget.
pub struct Chat {
    shown: Shown,
    fab: HtmlElement,
    panel: HtmlElement,
    optin: Rc<Checkout>,
    /// "We reply later", shown outside the opening hours.
    later: HtmlElement,
    hours: Option<OpeningHours>,
    listeners: core::cell::RefCell<alloc::vec::Vec<Listener>>,
}

/// `https://wa.me/<digits>?text=<prefilled>`.
pub fn wa_me(chat: &ChatConfig, prefilled: &str) -> String {
    let digits: String = chat.number.chars().filter(char::is_ascii_digit).collect();
    let text: String = js_sys::encode_uri_component(prefilled).into();
    dom::cat(&["https://wa.me/", &digits, "?text=", &text])
}

/// The WhatsApp glyph (a speech bubble around a handset) visitors recognise
/// the button by; decorative, so hidden from assistive tech. Drawn inline:
/// no image request, nothing for the page's CSP to allow.
fn whatsapp_glyph() -> Element {
    let svg = dom::svg_el(
        "svg",
        &[
            ("viewBox", "0 0 24 24"),
            ("width", "24"),
            ("height", "24"),
            ("aria-hidden", "true"),
            ("focusable", "false"),
        ],
    );
    let bubble = dom::svg_el(
        "path",
        &[
            ("d", "M3.5 20.5l1.2-4.1a8.8 8.8 0 1 1 3.3 3z"),
            ("fill", "none"),
            ("stroke", "currentColor"),
            ("stroke-width", "1.8"),
        ],
    );
    let handset = dom::svg_el(
        "path",
        &[
            ("d", "M9.2 7.4c-.4 0-.9.1-1.3.6-.5.5-1 1.6-.3 3.3.9 2 2.6 3.8 4.8 4.7 1.6.7 2.6.4 3.2-.2.4-.4.6-.9.6-1.3l-.1-.4-2-1c-.3-.1-.5 0-.7.2l-.6.8c-.2.2-.4.2-.6.1-1-.5-2-1.3-2.6-2.4-.1-.2-.1-.4.1-.6l.5-.6c.2-.2.2-.4.1-.6l-.8-2c-.1-.4-.3-.5-.6-.5z"),
            ("fill", "currentColor"),
        ],
    );
    append(&svg, &[&bubble, &handset]);
    svg
}

impl Chat {
    /// Adds the floating button (panel closed) at the end of `<body>`.
    pub fn mount(config: &Config, chat: &ChatConfig, api: &Endpoint) -> Result<Rc<Chat>, JsValue> {
        let shown = Shown::new(config, "chat");
        let s = |key| shown.get(key);
        let (host, root) = dom::shadow_host(style::CHAT_CSS)?;
        let wrap = el("div", &[("class", "wrap"), ("lang", &shown.locale)]);
        let panel = el(
            "div",
            &[
                ("id", "panel"),
                ("class", "panel"),
                ("role", "dialog"),
                ("aria-labelledby", "greeting"),
                ("hidden", ""),
            ],
        );
        let close = close_button(&s("close"));
        let greeting = text_el(
            "p",
            &[("id", "greeting"), ("class", "bubble")],
            &chat.greeting.clone().unwrap_or_else(|| s("chat_greeting")),
        );
        let later = text_el(
            "p",
            &[("class", "bubble later"), ("hidden", "")],
            &s("chat_later"),
        );
        let optin_label = s("chat_optin");
        let step = el("section", &[("aria-label", &optin_label)]);
        let heading = text_el("p", &[("class", "step")], &optin_label);
        let slot = el("div", &[]);
        append(&step, &[&heading, &slot]);
        let link = text_el(
            "a",
            &[
                ("class", "go"),
                (
                    "href",
                    &wa_me(
                        chat,
                        &chat
                            .prefilled
                            .clone()
                            .unwrap_or_else(|| s("chat_prefilled")),
                    ),
                ),
                ("target", "_blank"),
                ("rel", "noopener"),
            ],
            &s("chat_continue"),
        );
        append(&panel, &[&close, &greeting, &later, &step, &link]);
        let fab = el(
            "button",
            &[
                ("type", "button"),
                ("class", "fab"),
                ("aria-expanded", "false"),
                ("aria-controls", "panel"),
            ],
        );
        // The label stays the button's text: its accessible name.
        append(
            &fab,
            &[&whatsapp_glyph(), &text_el("span", &[], &s("chat_open"))],
        );
        append(&wrap, &[&panel, &fab]);
        dom::add(&root, &wrap);
        let body = document().body().ok_or("no body")?;
        dom::add(&body, &host);
        let optin = Checkout::mount_as(slot, config, api, &JsValue::UNDEFINED, "chat")?;

        let chat = Rc::new(Chat {
            shown,
            fab: cast(fab),
            panel: cast(panel),
            optin,
            later: cast(later),
            hours: chat.hours,
            listeners: Default::default(),
        });
        let on =
            |target: &Element, name: &'static [&'static str], f: fn(&Chat, &web_sys::Event)| {
                let weak = Rc::downgrade(&chat);
                listen(target, name, move |e| {
                    if let Some(c) = weak.upgrade() {
                        f(&c, &e)
                    }
                })
            };
        let l = [
            on(&chat.fab, &["click"], |c, _| c.toggle()),
            on(&close, &["click"], |c, _| c.hide()),
            on(&chat.panel, &["keydown"], |c, e| {
                if e.dyn_ref::<KeyboardEvent>().map(|k| k.key()).as_deref() == Some("Escape") {
                    c.hide();
                }
            }),
            on(&link, &["click"], |c, e| c.hand_over(e)),
        ];
        chat.listeners.borrow_mut().extend(l);
        Ok(chat)
    }

    fn toggle(&self) {
        if self.panel.hidden() {
            // Outside opening hours: say so, and still hand over (they reply later).
            let open = self
                .hours
                .as_ref()
                .is_none_or(|h| h.is_open(js_sys::Date::now()));
            self.later.set_hidden(open);
            self.panel.set_hidden(false);
            dom::set_attr(&self.fab, "aria-expanded", "true");
            dom::focus(&self.panel);
            if let Ok(Some(first)) = self.panel.query_selector("button") {
                dom::focus(&first);
            }
            events::emit(&self.shown, "open");
        } else {
            self.hide();
        }
    }

    fn hide(&self) {
        if self.panel.hidden() {
            return;
        }
        self.panel.set_hidden(true);
        dom::set_attr(&self.fab, "aria-expanded", "false");
        dom::focus(&self.fab);
        events::emit(&self.shown, "close");
    }

    /// Following the wa.me link: record a ticked opt-in on the way, or stop on a bad number.
    fn hand_over(&self, e: &web_sys::Event) {
        match self.optin.prepare() {
            Err(_) => e.prevent_default(),
            Ok(None) => {}
            Ok(Some(body)) => {
                let optin = self.optin.clone();
                js::spawn(Box::pin(async move {
                    let _ = optin.send(body, true).await;
                }));
            }
        }
    }
}
