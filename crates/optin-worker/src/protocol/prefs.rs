//! A person's choices after opting in, and the rules for changing them.

pub use consent_core::states::{Channel, Frequency};
use consent_core::{stats::Day, Category};
use std::collections::BTreeMap;

/// Per category, where the person wants it; a category not named is WhatsApp.
pub type Channels = BTreeMap<Category, Channel>;
use serde::{Deserialize, Serialize};

/// Preference tokens live a year; a new consent issues a new one.
pub const TOKEN_TTL_MS: i64 = 365 * 86_400_000;

/// The signed token of a preference link for `consent_id`, issued at `now`:
/// the one place links are made (the ledger on a consent, the admin API on a lookup).
pub fn preferences_token(key: &[u8], site: &str, shard: u32, consent_id: &str, now: i64) -> String {
    consent_core::token::issue(key, site, shard, consent_id, now + TOKEN_TTL_MS)
}

/// A person's current choices, as the preference centre shows them.
#[derive(Serialize, Deserialize)]
pub struct Preferences {
    /// Categories currently granted.
    pub granted: Vec<Category>,
    /// Locale of the notice they agreed to.
    pub locale: String,
    /// How often they want messages.
    #[serde(default)]
    pub frequency: Frequency,
    /// `YYYY-MM-DD` (UTC) until which they want no messages, if still ahead.
    #[serde(default)]
    pub paused_until: Option<String>,
    /// Categories the person asked for by email or SMS instead of WhatsApp.
    #[serde(default)]
    pub channels: Channels,
}

/// A preference change sent by the edge. `None` fields keep what is recorded.
#[derive(Serialize, Deserialize)]
pub struct Change {
    /// Consent id from the verified token.
    pub consent_id: String,
    /// Categories to keep granted (empty withdraws everything).
    pub granted: Vec<Category>,
    /// How the person made the change.
    pub method: String,
    /// New frequency.
    #[serde(default)]
    pub frequency: Option<Frequency>,
    /// New pause: `Some(None)` lifts it, `Some(Some(day))` pauses until that day.
    /// `None` is left out of the JSON, so the ledger reads it as "keep".
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub paused_until: Option<Option<String>>,
    /// Channels to set for the categories named; others keep theirs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Channels>,
}

/// Tells an explicit `null` (`Some(None)`: lift the pause) from an absent field (`None`: keep it).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` calendar date, or `None`.
pub fn day_number(s: &str) -> Option<i64> {
    Day::parse_any_year(s).map(|d| d.0)
}

/// The `YYYY-MM-DD` of a day number (inverse of [`day_number`]).
pub fn day_string(n: i64) -> String {
    Day(n).format()
}

/// Why a pause date is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PauseError {
    /// Not a `YYYY-MM-DD` calendar date.
    #[error("must be a date as YYYY-MM-DD")]
    NotADate,
    /// Today or earlier, or more than a year ahead.
    #[error("must be after today and at most 366 days ahead")]
    OutOfRange,
}

/// Checks a pause date against `now_ms`: a real day after today, within a year.
pub fn check_pause(day: &str, now_ms: i64) -> Result<(), PauseError> {
    let n = day_number(day).ok_or(PauseError::NotADate)?;
    let today = now_ms.div_euclid(86_400_000);
    if n <= today || n > today + 366 {
        return Err(PauseError::OutOfRange);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn calendar_dates_count_days_from_the_epoch() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(day_number("2024-02-29"), Some(19_782));
        for n in [0, 11_017, 19_782, 20_415, 20_781] {
            assert_eq!(day_number(&day_string(n)), Some(n));
        }
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-01-01x",
            "",
            "2026-01-+1",
        ] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pause_must_end_after_today_and_within_a_year() {
        let now = day_number("2026-11-23").unwrap() * DAY + 5 * 3_600_000;
        assert_eq!(check_pause("2026-11-24", now), Ok(()));
        assert_eq!(check_pause("2027-11-24", now), Ok(()));
        assert_eq!(check_pause("2026-11-23", now), Err(PauseError::OutOfRange));
        assert_eq!(check_pause("2027-11-25", now), Err(PauseError::OutOfRange));
        assert_eq!(check_pause("tomorrow", now), Err(PauseError::NotADate));
    }

    #[test]
    fn a_null_pause_lifts_it_and_an_absent_one_keeps_it() {
        let base = r#"{"consent_id":"c","granted":[],"method":"m""#;
        let lift: Change =
            serde_json::from_str(&format!(r#"{base},"paused_until":null}}"#)).unwrap();
        assert_eq!(lift.paused_until, Some(None));
        let keep: Change = serde_json::from_str(&format!("{base}}}")).unwrap();
        assert_eq!(keep.paused_until, None);
        let set = Change {
            paused_until: Some(None),
            ..keep
        };
        let round: Change = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert_eq!(
            round.paused_until,
            Some(None),
            "survives the hop to the ledger"
        );
    }

    #[test]
    fn frequencies_round_trip_by_name() {
        for f in Frequency::ALL {
            assert_eq!(Frequency::parse(f.as_str()), Some(f));
        }
        assert_eq!(Frequency::parse("daily"), None);
    }
}
