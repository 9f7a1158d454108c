//! Any text a person can type: never a panic, and what comes out is valid E.164
//! that normalises to itself.
#![no_main]
use consent_core::normalize_phone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|input: (&str, u16)| {
    let (text, default_cc) = input;
    if let Ok(p) = normalize_phone(text, default_cc) {
        let s = p.as_str();
        assert!(s.starts_with('+'));
        assert!(s[1..].bytes().all(|b| b.is_ascii_digit()));
        assert!((8..=16).contains(&s.len()), "{s}");
        assert_eq!(normalize_phone(s, 0).as_ref().map(|q| q.as_str()), Ok(s));
    }
});
