//! Meta's Graph error codes: HTTP status, message, title, transience.

/// HTTP status Meta uses for a Graph error code.
pub fn default_status(code: i64) -> u16 {
    match code {
        1 | 2 | 131000 | 131016 => 500,
        190 | 104 => 401,
        4 | 80007 | 130429 => 429,
        10 | 200..=299 => 403,
        _ => 400,
    }
}

/// Meta's usual message for a Graph error code.
pub fn meta_message(code: i64) -> String {
    let text = match code {
        1 => return "An unknown error occurred".into(),
        2 => return "An unexpected error has occurred. Please retry your request later.".into(),
        190 => return "Invalid OAuth access token - Cannot parse access token".into(),
        4 => "Application request limit reached",
        100 => "Invalid parameter",
        80007 => "Rate limit issues",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131016 => "Service unavailable",
        131026 => "Message undeliverable",
        131047 => "Re-engagement message",
        131048 => "Spam rate limit hit",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        _ => "Simulated error",
    };
    format!("(#{code}) {text}")
}

/// Meta's title for a code, without the `(#code)` prefix (status webhook errors).
pub fn meta_title(code: i64) -> String {
    let m = meta_message(code);
    m.split_once(") ").map(|(_, t)| t.to_owned()).unwrap_or(m)
}

/// Whether Meta marks a code's error transient (`is_transient`).
pub fn is_transient(code: i64) -> bool {
    matches!(
        code,
        1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 | 131056 | 131057
    )
}

/// Subcode the simulator answers with when a request breaks Meta's schema.
/// Meta's subcode for an invalid parameter varies with the parameter; this one
/// is the simulator's, so tests can tell a contract failure from other 100s.
pub const SCHEMA_VIOLATION_SUBCODE: i64 = 2494010;
/// Subcode of code 100 for an object id that does not exist (`error_subcode` 33).
pub const UNKNOWN_OBJECT_SUBCODE: i64 = 33;
