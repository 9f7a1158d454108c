//! Whatever a person types in the thread: never a panic; a keyword stays the
//! same keyword with spaces or punctuation around it, and two words never are one.
#![no_main]
use consent_core::keywords::classify;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Some(k) = classify(text) {
        assert_eq!(classify(&format!("  {text} \n")), Some(k));
        assert_eq!(classify(&format!("¡{text}!")), Some(k));
        assert_eq!(classify(&format!("{text} please")), None);
    }
});
