//! Merchant-supplied site configuration: never a panic; whatever passes the
//! checks can be served and sharded.
#![no_main]
use consent_core::SiteConfig;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(site) = serde_json::from_slice::<SiteConfig>(data) {
        if site.check().is_ok() {
            let _ = site.public();
            assert_eq!(site.shard_names().len(), site.shards as usize);
            assert!(site.shard_for("+6281234567890") < site.shards.max(1));
        }
    }
});
