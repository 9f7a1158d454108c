//! Tiny element helpers. Merchant strings only ever go in as text, never markup.
//!
//! Building elements cannot fail for our constant tags and attribute names, so
//! these bindings are declared without `catch`: a DOM exception (there is none
//! in practice) propagates to JS instead of returning a `Result`. That keeps
//! the error glue and the clean-up code of every `?` out of the wasm.

use alloc::string::String;

use js_sys::Array;
use wasm_bindgen::{closure::Closure, prelude::wasm_bindgen, JsCast, JsValue};
use web_sys::{Document, Element, NodeList, ShadowRoot, Window};

use crate::js::{get, set};

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
    #[wasm_bindgen(method, js_name = focus)]
    fn focus_it(this: &Node, options: &JsValue);
    #[wasm_bindgen(method, js_name = addEventListener)]
    fn add_listener(this: &Node, name: &str, f: &JsValue);
    #[wasm_bindgen(method, js_name = removeEventListener)]
    fn remove_listener(this: &Node, name: &str, f: &JsValue);
    #[wasm_bindgen(method, js_name = dispatchEvent)]
    fn dispatch_it(this: &Node, event: &JsValue);
    #[wasm_bindgen(method, js_name = attachShadow)]
    fn attach(this: &Node, init: &JsValue) -> ShadowRoot;
    #[wasm_bindgen(method, js_name = querySelector)]
    fn query_one(this: &Node, selector: &str) -> Option<Element>;
    #[wasm_bindgen(method, js_name = querySelectorAll)]
    fn query_all(this: &Node, selector: &str) -> NodeList;
    #[wasm_bindgen(method, js_name = setSelectionRange)]
    fn select_range(this: &Node, from: u32, to: u32);
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

/// `of.querySelector(selector)` for one of our constant selectors (cannot throw).
pub fn query(of: &JsValue, selector: &str) -> Option<Element> {
    node(of).query_one(selector)
}

/// Puts the caret of `input` at `at`.
pub fn caret_to(input: &JsValue, at: u32) {
    node(input).select_range(at, at);
}

/// `location.href`.
pub fn href() -> Option<String> {
    get(&get(&window(), "location"), "href").as_string()
}

/// Moves focus to `e` (any element that can take it; no instance check)
/// without scrolling: our controls are on screen, and scrolling them into
/// view would force a synchronous layout of the page.
pub fn focus(e: &JsValue) {
    let options = js_sys::Object::new();
    set(&options, "preventScroll", &JsValue::TRUE);
    node(e).focus_it(&options);
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

/// A closure JS can call with an event (the timer calls it with none).
pub type Handler = Closure<dyn FnMut(web_sys::Event)>;

/// An event listener on a target, removed from it when dropped: the
/// `Closure` it holds is freed with it, and wasm-bindgen makes a freed
/// closure throw when JS calls it, so a listener left on its target would
/// throw at every later event.
pub struct Listener {
    target: JsValue,
    names: &'static [&'static str],
    f: Handler,
}

impl Drop for Listener {
    fn drop(&mut self) {
        for name in self.names {
            node(&self.target).remove_listener(name, self.f.as_ref());
        }
    }
}

/// `target.addEventListener(name, f)` for a JS function `f` that is never
/// removed: a closure that lives as long as the page (targeting's handler).
pub fn add_listener(target: &JsValue, name: &str, f: &JsValue) {
    node(target).add_listener(name, f);
}

/// `target.addEventListener(name, f)` for every name of `names` (one closure
/// for all); they are removed when the returned listener is dropped.
pub fn listen(
    target: &web_sys::EventTarget,
    names: &'static [&'static str],
    f: impl FnMut(web_sys::Event) + 'static,
) -> Listener {
    let f = Handler::new(f);
    for name in names {
        add_listener(target, name, f.as_ref());
    }
    Listener {
        target: target.into(),
        names,
        f,
    }
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

/// In a browser: `scripts/dev test-widget` (wasm-bindgen-test-runner and Chromium).
#[cfg(all(test, target_arch = "wasm32"))]
mod tests {
    use super::*;
    use alloc::rc::Rc;
    use core::cell::Cell;
    use wasm_bindgen_test::{wasm_bindgen_test, wasm_bindgen_test_configure};

    wasm_bindgen_test_configure!(run_in_browser);

    /// Counts the errors JS reports on `window` (a listener that threw) from now on.
    fn errors() -> (Rc<Cell<u32>>, Handler) {
        let n = Rc::new(Cell::new(0));
        let count = n.clone();
        let h = Handler::new(move |e: web_sys::Event| {
            count.set(count.get() + 1);
            e.prevent_default();
        });
        add_listener(&window(), "error", h.as_ref());
        (n, h)
    }

    #[wasm_bindgen_test]
    fn a_dropped_listener_is_removed_so_later_events_neither_call_it_nor_throw() {
        let (thrown, _watch) = errors();
        let target = el("div", &[]);
        let calls = Rc::new(Cell::new(0));
        let counted = calls.clone();
        let l = listen(&target, &["a", "b"], move |_| {
            counted.set(counted.get() + 1)
        });
        dispatch(&target, "a", &JsValue::NULL);
        dispatch(&target, "b", &JsValue::NULL);
        assert_eq!(calls.get(), 2, "one closure serves every name");
        drop(l);
        dispatch(&target, "a", &JsValue::NULL);
        dispatch(&target, "b", &JsValue::NULL);
        assert_eq!(calls.get(), 2, "not called once dropped");
        assert_eq!(thrown.get(), 0, "nothing threw");
    }

    /// Why [`Listener`] removes itself: a freed closure left on its target
    /// throws at the next event (it is no silent no-op).
    #[wasm_bindgen_test]
    fn a_bare_closure_freed_while_still_added_throws_at_the_next_event() {
        let (thrown, _watch) = errors();
        let target = el("div", &[]);
        let h = Handler::new(|_| {});
        add_listener(&target, "a", h.as_ref());
        drop(h);
        dispatch(&target, "a", &JsValue::NULL);
        assert_eq!(thrown.get(), 1);
    }
}
