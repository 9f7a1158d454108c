//! `pick_variant` against the vectors in `variant-vectors.json`, which the
//! loader's JS port of it (`crates/optin-widget/js/loader.js`, the modal's
//! A/B pick) is held to in `tests/e2e/texts.test.mjs`: both pick the same
//! variant for the same visitor.

use consent_core::pick_variant;

#[test]
fn pick_variant_picks_what_the_shared_vectors_say() {
    let vectors: serde_json::Value =
        serde_json::from_str(include_str!("variant-vectors.json")).unwrap();
    let vectors = vectors.as_array().unwrap();
    assert!(vectors.len() > 60);
    for v in vectors {
        let weights: Vec<u32> = v["weights"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_u64().unwrap() as u32)
            .collect();
        let want = v["pick"].as_i64().unwrap();
        let got = pick_variant(
            v["visitor"].as_str().unwrap(),
            v["surface"].as_str().unwrap(),
            &weights,
        );
        assert_eq!(got.map_or(-1, |i| i as i64), want, "{v}");
    }
}
