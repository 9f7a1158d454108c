//! Reads the site config's `chat.hours` (full build), field by field as
//! `config::parse_config` does: no serde in the browser.

use wasm_bindgen::JsValue;

use crate::js::{get, strings_at};

/// `chat.hours`, when the config has well-formed ones.
pub fn hours(json: &JsValue) -> Option<consent_core::OpeningHours> {
    use consent_core::hours::{ClockTime, Days, Weekday};
    let time = |k| ClockTime::parse(&get(json, k).as_string()?);
    let days = strings_at(json, "days")
        .unwrap_or_default()
        .iter()
        .filter_map(|d| Weekday::parse(d))
        .fold(0, |set, d| set | 1 << d as u8);
    Some(consent_core::OpeningHours {
        utc_offset_minutes: get(json, "utc_offset_minutes").as_f64()? as i16,
        days: Days(days),
        from: time("from")?,
        to: time("to")?,
    })
}
