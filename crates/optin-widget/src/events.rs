//! `CustomEvent`s on `document` so merchants can wire their analytics:
//! `whatsapp-optin:impression|open|close|submit|consent|error`, each with
//! `detail.site` and `detail.surface` (`modal`, `checkout`).

use js_sys::{Object, Reflect};
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit};

use crate::dom::document;

fn dispatch(name: &str, detail: &Object) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    init.set_bubbles(true);
    let full = crate::dom::cat(&["whatsapp-optin:", name]);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict(&full, &init) {
        let _ = document().dispatch_event(&ev);
    }
}

fn detail(site: &str, surface: &str) -> Object {
    let d = Object::new();
    let _ = Reflect::set(&d, &"site".into(), &site.into());
    let _ = Reflect::set(&d, &"surface".into(), &surface.into());
    d
}

/// Emits a lifecycle event with `{site, surface}`.
pub fn emit(site: &str, surface: &str, name: &str) {
    dispatch(name, &detail(site, surface));
}

/// Emits `consent` with the recorded consent id.
pub fn emit_consent(site: &str, surface: &str, id: &str) {
    let d = detail(site, surface);
    let _ = Reflect::set(&d, &"id".into(), &id.into());
    dispatch("consent", &d);
}

/// Emits `error` with a message.
pub fn emit_error(site: &str, surface: &str, err: &JsValue) {
    let d = detail(site, surface);
    let msg = err.as_string().unwrap_or_else(|| {
        js_sys::Error::from(err.clone())
            .message()
            .as_string()
            .unwrap_or_default()
    });
    let _ = Reflect::set(&d, &"message".into(), &msg.into());
    dispatch("error", &d);
}
