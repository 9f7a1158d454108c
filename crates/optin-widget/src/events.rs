//! `CustomEvent`s on `document` so merchants can wire their analytics:
//! `whatsapp-optin:impression|open|close|submit|consent|error`, each with
//! `detail = {site, surface, locale?, variant?, id?, message?, type?, status?}`:
//! `locale` once the config has loaded, `variant` when the surface has A/B
//! variants, `type` (the problem's) and `status` (HTTP; 0: no answer) on an
//! `error` from a request.

use js_sys::Object;
use wasm_bindgen::JsValue;

use crate::{
    api::PostError,
    dom::{self, document},
    js::{get_str, set},
    text::Shown,
};

fn dispatch(name: &str, detail: &Object) {
    let full = dom::cat(&["whatsapp-optin:", name]);
    dom::dispatch(&document(), &full, detail);
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

/// Emits `error` with `err`'s message.
pub fn emit_error(from: &Shown, err: &JsValue) {
    let d = detail(from);
    // Our own errors are strings; a DOM exception carries its `message`.
    let msg = err.as_string().or_else(|| get_str(err, "message"));
    set(&d, "message", &msg.unwrap_or_default().into());
    dispatch("error", &d);
}

/// Emits `error` for a consent that was not recorded: what the visitor was
/// told, the HTTP status and the problem type.
pub fn emit_failure(from: &Shown, message: &str, err: &PostError) {
    let d = detail(from);
    set(&d, "message", &message.into());
    set(&d, "status", &err.status.into());
    if let Some(t) = &err.problem {
        set(&d, "type", &t.as_str().into());
    }
    dispatch("error", &d);
}
