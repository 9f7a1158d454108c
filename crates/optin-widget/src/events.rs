//! `CustomEvent`s on `document` so merchants can wire their analytics:
//! `whatsapp-optin:impression|open|close|submit|consent|error`, each with
//! `detail = {site, surface, locale?, variant?, id?, message?}`: `locale` once the
//! config has loaded, `variant` when the surface has A/B variants.

use js_sys::Object;
use wasm_bindgen::JsValue;
use web_sys::{CustomEvent, CustomEventInit};

use crate::{api::set, dom::document, text::Shown};

fn dispatch(name: &str, detail: &Object) {
    let init = CustomEventInit::new();
    init.set_detail(detail);
    init.set_bubbles(true);
    let full = crate::dom::cat(&["whatsapp-optin:", name]);
    if let Ok(ev) = CustomEvent::new_with_event_init_dict(&full, &init) {
        let _ = document().dispatch_event(&ev);
    }
}

fn detail(from: &Shown) -> Object {
    let d = Object::new();
    set(&d, "site", &from.site.as_str().into());
    set(&d, "surface", &from.surface.into());
    if !from.locale.is_empty() {
        set(&d, "locale", &from.locale.as_str().into());
    }
    if let Some(v) = &from.variant {
        set(&d, "variant", &v.as_str().into());
    }
    d
}

/// Emits a lifecycle event.
pub fn emit(from: &Shown, name: &str) {
    dispatch(name, &detail(from));
}

/// Emits `consent` with the recorded consent id.
pub fn emit_consent(from: &Shown, id: &str) {
    let d = detail(from);
    set(&d, "id", &id.into());
    dispatch("consent", &d);
}

/// Emits `error` with a message.
pub fn emit_error(from: &Shown, err: &JsValue) {
    let d = detail(from);
    let msg = err.as_string().unwrap_or_else(|| {
        js_sys::Error::from(err.clone())
            .message()
            .as_string()
            .unwrap_or_default()
    });
    set(&d, "message", &msg.into());
    dispatch("error", &d);
}
