//! The Worker's tunable durations, read from its vars with a range and a default.

use worker::Env;

/// A millisecond setting from a var, when present and in `range`.
pub fn env_ms(env: &Env, name: &str, range: std::ops::RangeInclusive<i64>, default: i64) -> i64 {
    crate::vars::text(env, name)
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|ms| range.contains(ms))
        .unwrap_or(default)
}
