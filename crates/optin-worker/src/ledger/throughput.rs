//! Sending pace: about one message per 6 s to the same person (Meta's pair
//! limit) and at most N messages per second per business number (80 by
//! default). A row that would break either waits; it is not an attempt.

use serde::Deserialize;
use worker::{Env, Result};

use super::{settings::env_ms, store::Db};

/// Default gap between two messages to the same person; `OUTBOX_PAIR_GAP_MS` overrides it.
pub const PAIR_GAP_MS: i64 = 6_000;
/// Default sends per second per phone-number id; `OUTBOX_RATE_PER_SECOND` overrides it.
pub const RATE_PER_SECOND: i64 = 80;

/// The pace settings for one alarm run.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// Minimum ms between two messages to one person.
    pub pair_gap_ms: i64,
    /// Send calls per second per business number.
    pub per_second: i64,
}

impl Pace {
    /// From the vars, with Meta's defaults.
    pub fn from_env(env: &Env) -> Pace {
        Pace {
            pair_gap_ms: env_ms(env, "OUTBOX_PAIR_GAP_MS", 0..=600_000, PAIR_GAP_MS),
            per_second: env_ms(env, "OUTBOX_RATE_PER_SECOND", 1..=1_000, RATE_PER_SECOND),
        }
    }

    /// When a message to someone last written to at `last_at` may go, if not now.
    pub fn pair_wait(&self, last_at: Option<i64>, now: i64) -> Option<i64> {
        let at = last_at? + self.pair_gap_ms;
        (at > now).then_some(at)
    }

    /// When the next call may go, if not now, given this second's count.
    pub fn rate_wait(&self, window_start: i64, count: i64, now: i64) -> Option<i64> {
        let current = now - now.rem_euclid(1_000);
        (window_start == current && count >= self.per_second).then_some(current + 1_000)
    }
}

#[derive(Deserialize)]
struct LastRow {
    last_at: i64,
}

#[derive(Deserialize)]
struct BucketRow {
    window_start: i64,
    count: i64,
}

/// When the row for `phone` from `phone_number_id` may go, if it must wait.
pub fn wait_until(
    sql: &dyn Db,
    pace: &Pace,
    phone: &str,
    phone_number_id: &str,
    now: i64,
) -> Result<Option<i64>> {
    let last: Vec<LastRow> = sql.rows(
        "SELECT last_at FROM recipient_sends WHERE phone = ?",
        &[phone.into()],
    )?;
    if let Some(at) = pace.pair_wait(last.first().map(|r| r.last_at), now) {
        return Ok(Some(at));
    }
    let bucket: Vec<BucketRow> = sql.rows(
        "SELECT window_start, count FROM rate_limits WHERE bucket = ?",
        &[format!("send:{phone_number_id}").into()],
    )?;
    Ok(bucket
        .first()
        .and_then(|b| pace.rate_wait(b.window_start, b.count, now)))
}

/// Counts one send call against its business number's second.
pub fn count_call(sql: &dyn Db, phone_number_id: &str, now: i64) -> Result<()> {
    super::limits::bump(sql, &format!("send:{phone_number_id}"), 1_000, now)
}

/// Notes that a message to `phone` may have gone out at `now`.
pub fn note_sent(sql: &dyn Db, phone: &str, now: i64) -> Result<()> {
    sql.run(
        "INSERT INTO recipient_sends (phone, last_at) VALUES (?, ?)
         ON CONFLICT (phone) DO UPDATE SET last_at = MAX(last_at, excluded.last_at)",
        &[phone.into(), now.into()],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PACE: Pace = Pace {
        pair_gap_ms: 6_000,
        per_second: 80,
    };

    #[test]
    fn a_second_message_to_one_person_waits_six_seconds() {
        assert_eq!(PACE.pair_wait(None, 10_000), None);
        assert_eq!(PACE.pair_wait(Some(10_000), 10_001), Some(16_000));
        assert_eq!(PACE.pair_wait(Some(10_000), 15_999), Some(16_000));
        assert_eq!(PACE.pair_wait(Some(10_000), 16_000), None);
    }

    #[test]
    fn the_81st_call_in_a_second_waits_for_the_next_second() {
        assert_eq!(PACE.rate_wait(5_000, 79, 5_500), None);
        assert_eq!(PACE.rate_wait(5_000, 80, 5_500), Some(6_000));
        assert_eq!(PACE.rate_wait(5_000, 80, 6_000), None, "a new second");
    }
}
