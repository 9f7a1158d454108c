//! Tiny element helpers. Merchant strings only ever go in as text, never markup.
//!
//! Building elements cannot fail for our constant tags and attribute names, so
//! these bindings are declared without `catch`: a DOM exception (there is none
//! in practice) propagates to JS instead of returning a `Result`. That keeps
//! the error glue and the clean-up code of every `?` out of the wasm.

use alloc::{string::String, vec::Vec};

use crate::text::Shown;
use js_sys::{Array, Reflect};
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use web_sys::{
    CssStyleSheet, Document, Element, HtmlInputElement, ShadowRoot, ShadowRootInit, ShadowRootMode,
    Window,
};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(thread_local_v2, js_name = document)]
    static DOCUMENT: Document;
    // The page's `window` as a plain global: `web_sys::window()` would look it
    // up through `globalThis`/`self`/`global` (four more imports).
    #[wasm_bindgen(thread_local_v2, js_name = window)]
    static WINDOW: Window;
    /// Any DOM node, for the non-throwing-in-Rust calls below.
    type Node;
    #[wasm_bindgen(method, js_name = createElement)]
    fn create(this: &Node, tag: &str) -> Element;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &Node, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = appendChild)]
    fn add(this: &Node, child: &Element);
    #[wasm_bindgen(method, getter, js_name = activeElement)]
    fn active_element(this: &Node) -> Option<Element>;
    #[wasm_bindgen(method, js_name = focus)]
    fn focus_it(this: &Node, options: &JsValue);
}

fn node(v: &JsValue) -> &Node {
    v.unchecked_ref()
}

/// The page's document.
pub fn document() -> Document {
    DOCUMENT.with(Document::clone)
}

/// The page's window.
pub fn window() -> Window {
    WINDOW.with(Window::clone)
}

/// `e.setAttribute(name, value)` (cannot fail for our names).
pub fn set_attr(e: &Element, name: &str, value: &str) {
    node(e).set_attr(name, value);
}

/// `parent.appendChild(child)`, for an element or a shadow root.
pub fn add(parent: &JsValue, child: &Element) {
    node(parent).add(child);
}

/// Moves focus to `e` (any element that can take it; no instance check)
/// without scrolling: our controls are on screen, and scrolling them into
/// view would force a synchronous layout of the page.
pub fn focus(e: &JsValue) {
    let options = js_sys::Object::new();
    crate::api::set(&options, "preventScroll", &JsValue::TRUE);
    node(e).focus_it(&options);
}

/// The focused element of a document or a shadow root.
pub fn active(of: &JsValue) -> Option<Element> {
    node(of).active_element()
}

/// Creates `<tag>` with attributes.
pub fn el(tag: &str, attrs: &[(&str, &str)]) -> Element {
    let e = node(&document()).create(tag);
    for (k, v) in attrs {
        node(&e).set_attr(k, v);
    }
    e
}

/// Creates `<tag>` with attributes and text content.
pub fn text_el(tag: &str, attrs: &[(&str, &str)], text: &str) -> Element {
    let e = el(tag, attrs);
    e.set_text_content(Some(text));
    e
}

/// Appends children in order.
pub fn append(parent: &Element, children: &[&Element]) {
    for c in children {
        node(parent).add(c);
    }
}

/// An element we created as `T` (its tag says it is one: no runtime check).
pub fn cast<T: JsCast>(e: Element) -> T {
    e.unchecked_into()
}

/// `n` in decimal, without pulling in `core::fmt` (consent-core's routine, shared).
pub fn decimal(n: u32) -> String {
    let mut out = String::new();
    consent_core::phone::push_decimal(&mut out, n);
    out
}

/// A DOM event handler kept alive by its owner (dropping it makes later events no-ops).
pub type Listener = wasm_bindgen::closure::Closure<dyn FnMut(web_sys::Event)>;

/// `target.addEventListener(name, f)`; the returned closure must be kept.
pub fn listen(
    target: &web_sys::EventTarget,
    name: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> Listener {
    let closure = Listener::new(f);
    let _ = target.add_event_listener_with_callback(name, closure.as_ref().unchecked_ref());
    closure
}

/// Concatenates `parts` (one small non-generic routine instead of `concat`'s).
pub fn cat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        out.push_str(p);
    }
    out
}

/// A `<whatsapp-optin>` host (not yet attached) with an open shadow root that
/// adopts `css` as a constructed stylesheet (no inline style: CSP-safe).
pub fn shadow_host(css: &str) -> Result<(Element, ShadowRoot), JsValue> {
    let host = node(&document()).create("whatsapp-optin");
    let root = host.attach_shadow(&ShadowRootInit::new(ShadowRootMode::Open))?;
    let sheet = CssStyleSheet::new()?;
    sheet.replace_sync(css)?;
    Reflect::set(&root, &"adoptedStyleSheets".into(), &Array::of1(&sheet))?;
    Ok((host, root))
}

/// A category checkbox: its wire name and its input.
pub type Choice = (String, HtmlInputElement);

/// One unchecked checkbox per category (wire names), labelled with the
/// config's string for it, appended to `parent`.
pub fn choices(parent: &Element, categories: &[String], shown: &Shown) -> Vec<Choice> {
    let mut out = Vec::new();
    for c in categories {
        let label = el("label", &[("class", "choice")]);
        let input = el(
            "input",
            &[("type", "checkbox"), ("name", "category"), ("value", c)],
        );
        append(&label, &[&input, &text_el("span", &[], &shown.get(c))]);
        append(parent, &[&label]);
        out.push((c.clone(), cast::<HtmlInputElement>(input)));
    }
    out
}

/// Wire names of the ticked categories, in display order.
pub fn chosen(boxes: &[Choice]) -> Vec<String> {
    boxes
        .iter()
        .filter(|(_, i)| i.checked())
        .map(|(c, _)| c.clone())
        .collect()
}

/// The close button every surface shows (its label is the accessible name).
pub fn close_button(label: &str) -> Element {
    text_el(
        "button",
        &[
            ("type", "button"),
            ("class", "close"),
            ("aria-label", label),
        ],
        "×",
    )
}

/// The privacy-policy link every surface shows, opening in a new tab.
pub fn privacy_link(url: &str, text: &str) -> Element {
    text_el(
        "a",
        &[("href", url), ("target", "_blank"), ("rel", "noopener")],
        text,
    )
}
