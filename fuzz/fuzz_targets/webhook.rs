//! Webhook bodies and signature headers from an attacker: never a panic; a
//! signature verifies only for the body it was made over.
#![no_main]
use libfuzzer_sys::fuzz_target;
use whatsapp_cloud_api::{sign, verify_signature, webhook::Notification};

fuzz_target!(|input: (&[u8], &str)| {
    let (body, header) = input;
    let _ = serde_json::from_slice::<Notification>(body);
    let genuine = sign(b"app-secret", body);
    assert!(verify_signature(b"app-secret", body, &genuine));
    if header != genuine {
        assert!(!verify_signature(b"app-secret", body, header));
    }
});
