//! The widget's own phone inputs, made to help: the site's calling code is
//! preselected (`+62 `), digits are grouped as the person types without the
//! caret jumping, typing clears the inline error and an impossible number gets
//! it when the field is left (announced: the error is the input's description,
//! with `role=alert`, and `aria-invalid` is set). Merchant fields
//! (`data-phone-field`) are never touched.

use alloc::string::String;

use consent_core::{
    normalize_phone,
    phone::{retype, trim_separators},
};
use web_sys::{Element, HtmlInputElement};

use crate::{
    dom::{self, listen, Listener},
    js::{get, get_str},
};

/// Shows (or clears, with `None`) the inline error of `input`.
pub fn show_error(input: &HtmlInputElement, error: &Element, msg: Option<&str>) {
    error.set_text_content(msg);
    dom::set_attr(
        input,
        "aria-invalid",
        if msg.is_some() { "true" } else { "false" },
    );
}

/// Preselects `+<calling_code> ` in `input` and wires formatting, clearing the
/// error while typing and the check on leaving the field (`invalid` is its
/// message); dropping the returned listener removes it.
pub fn enhance(
    input: &HtmlInputElement,
    error: &Element,
    calling_code: u16,
    invalid: String,
) -> Listener {
    let code = dom::cat(&["+", &dom::decimal(calling_code.into())]);
    if calling_code != 0 {
        let prefix = dom::cat(&[&code, " "]);
        // The default value, so a form reset brings the calling code back; it
        // shows in a field not yet typed in (the loader's modal already has it,
        // and what was typed before this wasm came stays).
        input.set_default_value(&prefix);
    }
    // One handler for typing and for leaving the field (one closure in the wasm).
    let f = {
        let (input, error) = (input.clone(), error.clone());
        let mut before = input.value();
        listen(&input.clone(), &["input", "change"], move |e| {
            let typed = input.value();
            if get_str(&e, "type").as_deref() == Some("change") {
                let entered = trim_separators(&typed);
                let bad = !entered.is_empty()
                    && entered != code
                    && normalize_phone(entered, calling_code).is_err();
                show_error(&input, &error, bad.then_some(invalid.as_str()));
                return;
            }
            show_error(&input, &error, None);
            // Rewriting the value mid-composition would break an input method.
            if get(&e, "isComposing").as_bool() == Some(true) {
                return;
            }
            let caret = get(&input, "selectionStart").as_f64().unwrap_or(0.0) as usize;
            let deleting = match get_str(&e, "inputType").as_deref() {
                Some("deleteContentBackward") => Some(true),
                Some("deleteContentForward") => Some(false),
                _ => None,
            };
            before = match retype(&before, &typed, caret, deleting, calling_code) {
                Some((value, at)) => {
                    if value != typed {
                        input.set_value(&value);
                        dom::caret_to(&input, at as u32);
                    }
                    value
                }
                None => typed,
            };
        })
    };
    f
}
