//! The consent body decoder and validator on arbitrary bytes: never a panic;
//! anything accepted carries the site's exact notice and a normalised phone.
#![no_main]
use consent_core::{notice_hash, ConsentRequest, SiteConfig};
use libfuzzer_sys::fuzz_target;

const SITE: &str = include_str!("../../crates/optin-worker/sites/demo.json");

fuzz_target!(|data: &[u8]| {
    let site: SiteConfig = serde_json::from_str(SITE).expect("demo site parses");
    if let Ok(req) = serde_json::from_slice::<ConsentRequest>(data) {
        if let Ok(valid) = req.validate(&site) {
            assert_eq!(valid.notice.text, req.notice_text);
            assert_eq!(valid.notice_hash, notice_hash(&req.notice_text));
            assert!(!valid.categories.is_empty());
            assert!(valid.phone.as_str().starts_with('+'));
        }
    }
});
