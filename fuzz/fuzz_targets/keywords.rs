//! Whatever a person types in the thread: never a panic; a keyword stays the
//! same keyword with spaces or punctuation around it, and a keyword followed by an
//! ordinary word ("… order", as in "stop my order") is no keyword. ("please" is not
//! that word: "stop please" is in the opt-out table, as people write it.)
#![no_main]
use consent_core::keywords::{classify, is_confirmation, matches_phrase, normalize_phrase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    // Messages over 240 characters are no keyword at all (classify's cap): the
    // wrapped copies below must stay under it for the comparison to mean anything.
    if text.chars().count() > 200 {
        let _ = (classify(text), is_confirmation(text), normalize_phrase(text));
        return;
    }
    if let Some(k) = classify(text) {
        assert_eq!(classify(&format!("  {text} \n")), Some(k));
        assert_eq!(classify(&format!("¡{text}!")), Some(k));
        assert_eq!(classify(&format!("{text} order")), None);
    }
    if is_confirmation(text) {
        assert!(is_confirmation(&format!("  {text}! ")));
        assert!(!is_confirmation(&format!("{text} order")));
    }
    // A phrase always matches itself, spaced out and shouted, never with a word added.
    if !normalize_phrase(text).is_empty() && text.chars().count() <= 100 {
        assert!(matches_phrase(&format!("  {text}  "), text));
        assert!(!matches_phrase(&format!("{text} order"), text));
    }
});
