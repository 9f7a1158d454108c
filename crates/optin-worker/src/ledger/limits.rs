//! Anti-pumping limits, counted in the site's ledger in fixed windows:
//! per client IP per minute, per phone per hour, confirmations per UTC day.

use serde::Deserialize;
use worker::Result;

use super::store::{Db, Value};
use crate::protocol::{LedgerError, RecordConsent};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 3_600_000;
const DAY: i64 = 86_400_000;

/// The one rate-limit upsert, around its `VALUES` rows: a hit in a fixed window.
const BUMP_INSERT: &str = "INSERT INTO rate_limits (bucket, window_start, count) VALUES";
const BUMP_CONFLICT: &str = "ON CONFLICT (bucket) DO UPDATE SET
   count = CASE WHEN window_start = excluded.window_start THEN count + 1 ELSE 1 END,
   window_start = excluded.window_start";

#[derive(Deserialize)]
struct Bucket {
    bucket: String,
    window_start: i64,
    count: i64,
}

/// Counts this consent against every limit, or refuses it with the first one hit.
/// Runs in the same synchronous write as the consent it admits.
pub fn admit(sql: &dyn Db, cmd: &RecordConsent, now: i64) -> std::result::Result<(), LedgerError> {
    let limits = &cmd.site.limits;
    let mut checks = vec![
        (
            format!("phone:{}", cmd.consent.phone),
            "phone",
            HOUR,
            limits.per_phone_per_hour,
        ),
        (
            "confirmations:day".to_owned(),
            "site-daily-confirmations",
            DAY,
            limits.daily_confirmations,
        ),
    ];
    if let Some(ip) = &cmd.ip_key {
        checks.insert(
            0,
            (format!("ip:{ip}"), "ip", MINUTE, limits.per_ip_per_minute),
        );
    }
    // One read of every bucket and one write bumping them all: this runs per consent.
    let names: Vec<&str> = checks.iter().map(|(b, ..)| b.as_str()).collect();
    let marks = vec!["?"; checks.len()].join(", ");
    let rows: Vec<Bucket> = sql.rows(
        &format!("SELECT bucket, window_start, count FROM rate_limits WHERE bucket IN ({marks})"),
        &names.iter().map(|n| (*n).into()).collect::<Vec<_>>(),
    )?;
    for (bucket, scope, window, max) in &checks {
        let row = rows.iter().find(|r| r.bucket == *bucket);
        if let Some(retry_after) = full(row, *window, *max, now) {
            return Err(LedgerError::RateLimited {
                scope: (*scope).to_owned(),
                retry_after,
            });
        }
    }
    let values = vec!["(?, ?, 1)"; checks.len()].join(", ");
    let params: Vec<Value> = checks
        .iter()
        .flat_map(|(b, _, window, _)| [b.as_str().into(), window_of(now, *window).into()])
        .collect();
    sql.run(&format!("{BUMP_INSERT} {values} {BUMP_CONFLICT}"), &params)?;
    Ok(())
}

/// Counts one request against a single per-minute `bucket` (named `scope` in
/// the refusal), or refuses it. Used for the widget's analytics beacons.
pub fn admit_one(
    sql: &dyn Db,
    bucket: &str,
    scope: &str,
    max: u32,
    now: i64,
) -> std::result::Result<(), LedgerError> {
    if let Some(retry_after) = exceeded(sql, bucket, MINUTE, max, now)? {
        return Err(LedgerError::RateLimited {
            scope: scope.to_owned(),
            retry_after,
        });
    }
    bump(sql, bucket, MINUTE, now)?;
    Ok(())
}

fn window_of(now: i64, window: i64) -> i64 {
    now - now.rem_euclid(window)
}

/// Seconds until the window resets, if `bucket` is full.
fn exceeded(sql: &dyn Db, bucket: &str, window: i64, max: u32, now: i64) -> Result<Option<i64>> {
    let rows: Vec<Bucket> = sql.rows(
        "SELECT bucket, window_start, count FROM rate_limits WHERE bucket = ?",
        &[bucket.into()],
    )?;
    Ok(full(rows.first(), window, max, now))
}

/// Seconds until the window resets, if `row` (a bucket's stored count) is full.
fn full(row: Option<&Bucket>, window: i64, max: u32, now: i64) -> Option<i64> {
    let start = window_of(now, window);
    row.filter(|b| b.window_start == start && b.count >= i64::from(max))
        .map(|_| ((start + window - now) / 1000).max(1))
}

/// Counts one hit in `bucket`'s fixed window of `window` ms: the one rate-limit upsert.
pub fn bump(sql: &dyn Db, bucket: &str, window: i64, now: i64) -> Result<()> {
    let start = window_of(now, window);
    sql.run(
        &format!("{BUMP_INSERT} (?, ?, 1) {BUMP_CONFLICT}"),
        &[bucket.into(), start.into()],
    )?;
    Ok(())
}
