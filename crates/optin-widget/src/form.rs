//! The category boxes every surface's form shows, labelled in its wording.

use alloc::{string::String, vec::Vec};

use wasm_bindgen::JsCast;
use web_sys::{Element, HtmlInputElement};

use crate::{
    dom::{self, append, cast, el, text_el},
    text::Shown,
};

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

/// The category boxes of the loader's modal in `root`, their values the wire names.
pub fn adopt_choices(root: &web_sys::ShadowRoot) -> Vec<Choice> {
    let found = dom::query_all(root, "input[name=category]");
    (0..found.length())
        .filter_map(|i| found.get(i))
        .map(|n| {
            let input: HtmlInputElement = n.unchecked_into();
            (input.value(), input)
        })
        .collect()
}

/// Wire names of the ticked categories, in display order.
pub fn chosen(boxes: &[Choice]) -> Vec<String> {
    boxes
        .iter()
        .filter(|(_, i)| i.checked())
        .map(|(c, _)| c.clone())
        .collect()
}
