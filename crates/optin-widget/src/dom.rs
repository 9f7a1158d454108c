//! Tiny element helpers. Merchant strings only ever go in as text, never markup.
//!
//! Building elements cannot fail for our constant tags and attribute names, so
//! these bindings are declared without `catch`: a DOM exception (there is none
//! in practice) propagates to JS instead of returning a `Result`. That keeps
//! the error glue and the clean-up code of every `?` out of the wasm.

use alloc::{string::String, vec::Vec};

use crate::text::Shown;
use js_sys::Array;
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};
use web_sys::{Document, Element, HtmlInputElement, NodeList, ShadowRoot, Window};

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
    #[wasm_bindgen(method, js_name = createElementNS)]
    fn create_ns(this: &Node, ns: &str, tag: &str) -> Element;
    #[wasm_bindgen(method, js_name = setAttribute)]
    fn set_attr(this: &Node, name: &str, value: &str);
    #[wasm_bindgen(method, js_name = appendChild)]
    fn add(this: &Node, child: &Element);
    #[wasm_bindgen(method, getter, js_name = activeElement)]
    fn active_element(this: &Node) -> Option<Element>;
    #[wasm_bindgen(method, js_name = focus)]
    fn focus_it(this: &Node, options: &JsValue);
    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_listener(this: &Node, name: &str, f: &JsValue);
    #[wasm_bindgen(method, js_name = dispatchEvent)]
    fn dispatch_it(this: &Node, event: &JsValue);
    #[wasm_bindgen(method, js_name = attachShadow)]
    fn attach(this: &Node, init: &JsValue) -> ShadowRoot;
    #[wasm_bindgen(method, js_name = querySelectorAll)]
    fn query_all(this: &Node, selector: &str) -> NodeList;
    #[wasm_bindgen(method, js_name = setTimeout)]
    fn timeout(this: &Node, f: &JsValue, ms: i32) -> i32;
    #[wasm_bindgen(method, js_name = setSelectionRange)]
    fn select_range(this: &Node, from: u32, to: u32);
    #[wasm_bindgen(method, js_name = matchMedia)]
    fn media(this: &Node, query: &str) -> JsValue;
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn reflect_get(obj: &JsValue, key: &str) -> JsValue;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn reflect_set(obj: &JsValue, key: &str, value: &JsValue);
    #[wasm_bindgen(js_name = CSSStyleSheet)]
    type Sheet;
    #[wasm_bindgen(constructor, js_class = CSSStyleSheet)]
    fn new() -> Sheet;
    #[wasm_bindgen(method, js_name = replaceSync)]
    fn replace_sync(this: &Sheet, css: &str);
    /// A `CustomEvent`.
    #[wasm_bindgen(js_name = CustomEvent)]
    pub type Custom;
    #[wasm_bindgen(constructor, js_class = CustomEvent)]
    fn new(name: &str, init: &JsValue) -> Custom;
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

/// `obj[key]` (its prototype's getters included), or `undefined` when `obj`
/// is no object (where `Reflect.get` would throw).
pub fn get(obj: &JsValue, key: &str) -> JsValue {
    if obj.is_object() {
        reflect_get(obj, key)
    } else {
        JsValue::UNDEFINED
    }
}

/// `obj[key] = value` on an object we made (cannot throw).
pub fn set(obj: &JsValue, key: &str, value: &JsValue) {
    reflect_set(obj, key, value);
}

/// `target.dispatchEvent(new CustomEvent(name, {detail, bubbles: true}))`.
pub fn dispatch(target: &JsValue, name: &str, detail: &JsValue) {
    let init = js_sys::Object::new();
    set(&init, "detail", detail);
    set(&init, "bubbles", &JsValue::TRUE);
    node(target).dispatch_it(&Custom::new(name, &init));
}

/// `of.querySelectorAll(selector)` for one of our constant selectors (cannot throw).
pub fn query_all(of: &JsValue, selector: &str) -> NodeList {
    node(of).query_all(selector)
}

/// `window.setTimeout(f, ms)`: the timer's id.
pub fn set_timeout(f: &JsValue, ms: i32) -> i32 {
    node(&window()).timeout(f, ms)
}

/// Puts the caret of `input` at `at`.
pub fn caret_to(input: &JsValue, at: u32) {
    node(input).select_range(at, at);
}

/// Whether the media query matches.
pub fn matches(query: &str) -> bool {
    get(&node(&window()).media(query), "matches").is_truthy()
}

/// `location.href`.
pub fn href() -> Option<alloc::string::String> {
    get(&get(&window(), "location"), "href").as_string()
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

/// Creates the SVG element `<tag>` with attributes.
pub fn svg_el(tag: &str, attrs: &[(&str, &str)]) -> Element {
    let e = node(&document()).create_ns("http://www.w3.org/2000/svg", tag);
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

/// `target.addEventListener(name, f)` for a JS function `f`.
pub fn add_listener(target: &JsValue, name: &str, f: &JsValue) {
    node(target).add_listener(name, f);
}

/// `target.addEventListener(name, f)`; the returned closure must be kept.
pub fn listen(
    target: &web_sys::EventTarget,
    name: &str,
    f: impl FnMut(web_sys::Event) + 'static,
) -> Listener {
    let closure = Listener::new(f);
    add_listener(target, name, closure.as_ref());
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
    let init = js_sys::Object::new();
    set(&init, "mode", &"open".into());
    // A fresh element takes a shadow root, and a constructed sheet any CSS
    // text: these cannot throw, so no exception glue.
    let root = node(&host).attach(&init);
    let sheet = Sheet::new();
    sheet.replace_sync(css);
    set(&root, "adoptedStyleSheets", &Array::of1(&sheet));
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
