//! Funnel beacons from any browser: never a panic; what validates is bounded,
//! carries a well-formed variant, and days parse back to themselves.
#![no_main]
use consent_core::{
    funnel::{is_valid_variant, EventBatch, MAX_EVENTS},
    stats::Day,
    Locale,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(batch) = serde_json::from_slice::<EventBatch>(data) {
        if let Ok(events) = batch.validate(Locale::En) {
            assert!((1..=MAX_EVENTS).contains(&events.len()));
            assert!(events.iter().all(|e| is_valid_variant(&e.variant)));
        }
    }
    if let Some(day) = std::str::from_utf8(data).ok().and_then(Day::parse) {
        assert_eq!(Day::parse(&day.format()), Some(day));
    }
});
