//! Reads the site config's `targeting` and (full build) `chat.hours`, field
//! by field as `config::parse_config` does: no serde in the browser.

use consent_core::Targeting;
use wasm_bindgen::JsValue;

use crate::js::{get, strings_at};

/// `targeting`, when the config has it; missing fields take their defaults.
pub fn targeting(json: &JsValue) -> Option<Targeting> {
    if !json.is_object() {
        return None;
    }
    let d = Targeting::default();
    let n = |k, default: u32| get(json, k).as_f64().map_or(default, |v| v as u32);
    Some(Targeting {
        include: strings_at(json, "include").unwrap_or_default(),
        exclude: strings_at(json, "exclude").unwrap_or_default(),
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
#[cfg(feature = "surfaces")]
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
