//! Reads the site config's `targeting` and `chat.hours` (field by field, as
//! `api::parse_config` does: no serde in the browser).

use alloc::{string::String, vec::Vec};

use consent_core::{
    hours::{ClockTime, Days, Weekday},
    OpeningHours, Targeting,
};
use js_sys::Array;
use wasm_bindgen::{JsCast, JsValue};

use crate::api::get;

fn strings(obj: &JsValue, key: &str) -> Vec<String> {
    get(obj, key)
        .dyn_into::<Array>()
        .map(|a| a.iter().filter_map(|v| v.as_string()).collect())
        .unwrap_or_default()
}

/// `obj[key]` as a whole number, or `default`.
fn number(obj: &JsValue, key: &str, default: u32) -> u32 {
    get(obj, key).as_f64().map_or(default, |v| v as u32)
}

/// `targeting`, when the config has it; missing fields take their defaults.
pub fn targeting(json: &JsValue) -> Option<Targeting> {
    if !json.is_object() {
        return None;
    }
    let d = Targeting::default();
    let n = |k, default| number(json, k, default);
    Some(Targeting {
        include: strings(json, "include"),
        exclude: strings(json, "exclude"),
        delay_seconds: n("delay_seconds", d.delay_seconds),
        scroll_percent: n("scroll_percent", d.scroll_percent),
        exit_intent: get(json, "exit_intent").as_bool().unwrap_or(d.exit_intent),
        from_page_view: n("from_page_view", d.from_page_view),
        days_after_close: n("days_after_close", d.days_after_close),
        days_after_consent: n("days_after_consent", d.days_after_consent),
        per_session: n("per_session", d.per_session),
    })
}

/// `chat.hours`, when the config has well-formed ones.
pub fn hours(json: &JsValue) -> Option<OpeningHours> {
    let time = |k| ClockTime::parse(&get(json, k).as_string()?);
    let days = strings(json, "days")
        .iter()
        .filter_map(|d| Weekday::parse(d))
        .fold(0, |set, d| set | 1 << d as u8);
    Some(OpeningHours {
        utc_offset_minutes: get(json, "utc_offset_minutes").as_f64()? as i16,
        days: Days(days),
        from: time("from")?,
        to: time("to")?,
    })
}
