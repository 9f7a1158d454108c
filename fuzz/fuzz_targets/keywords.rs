//! Whatever a person types in the thread: never a panic; a keyword stays the
//! same keyword with spaces or punctuation around it, and two words never are one.
#![no_main]
use consent_core::keywords::{classify, is_confirmation, matches_phrase, normalize_phrase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(k) = classify(text) {
        assert_eq!(classify(&format!("  {text} \n")), Some(k));
        assert_eq!(classify(&format!("¡{text}!")), Some(k));
        assert_eq!(classify(&format!("{text} please")), None);
    }
    if is_confirmation(text) {
        assert!(is_confirmation(&format!("  {text}! ")));
        assert!(!is_confirmation(&format!("{text} please")));
    }
    // A phrase always matches itself, spaced out and shouted, never with a word added.
    if !normalize_phrase(text).is_empty() && text.chars().count() <= 100 {
        assert!(matches_phrase(&format!("  {text}  "), text));
        assert!(!matches_phrase(&format!("{text} please"), text));
    }
});
