//! JS values: reading and writing fields through `Reflect`, fresh random
//! keys, page-global state and (full build) background tasks.
//!
//! A leaf: it imports no other module of the widget, and every module that
//! reads the config, the Worker's answers or the options of a JS call reads
//! them through here.

use alloc::{string::String, vec::Vec};
use core::cell::RefCell;

use js_sys::Array;
use wasm_bindgen::{prelude::wasm_bindgen, JsCast, JsValue};

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_namespace = Reflect, js_name = get)]
    fn reflect_get(obj: &JsValue, key: &str) -> JsValue;
    #[wasm_bindgen(js_namespace = Reflect, js_name = set)]
    fn reflect_set(obj: &JsValue, key: &str, value: &JsValue);
}

/// `obj[key]` (its prototype's getters included), or `undefined` when `obj`
/// is no object (where `Reflect.get` would throw). The data the widget reads
/// (the config, the Worker's answers, options passed to the JS API) reaches
/// it without a prototype (the loader's `bare`), so a field a page put on
/// `Object.prototype` is never read as if the data had it.
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

/// `obj[key]` as a string, if it is one.
pub fn get_str(obj: &JsValue, key: &str) -> Option<String> {
    get(obj, key).as_string()
}

/// `obj[key]`'s strings, if it is an array.
pub fn strings_at(obj: &JsValue, key: &str) -> Option<Vec<String>> {
    let list = get(obj, key).dyn_into::<Array>().ok()?;
    Some(list.iter().filter_map(|v| v.as_string()).collect())
}

/// A fresh random key (32 hex digits): idempotency keys, visitor ids.
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    for chunk in bytes.chunks_mut(4) {
        let r = (js_sys::Math::random() * 4_294_967_296.0) as u32;
        chunk.copy_from_slice(&r.to_be_bytes());
    }
    consent_core::notice::hex(&bytes)
}

/// Page-global state. Wasm pages run one thread, so a `RefCell` is enough.
pub struct Global<T>(pub RefCell<T>);
// SAFETY: the widget runs on the page's single thread.
unsafe impl<T> Sync for Global<T> {}

/// Runs `f` in the background: one instantiation of `spawn_local` for every
/// task (full build).
#[cfg(feature = "surfaces")]
pub fn spawn(f: core::pin::Pin<alloc::boxed::Box<dyn core::future::Future<Output = ()>>>) {
    wasm_bindgen_futures::spawn_local(f)
}
