//! Ledger schema as ordered migrations. Each runs once, in its own atomic
//! write, and only ever adds: an existing ledger upgrades without losing rows.

/// `(version, SQL)` in order. Never edit a shipped entry; append a new one.
pub const MIGRATIONS: &[(i64, &str)] = &[
    (
        1,
        "CREATE TABLE events (
           seq INTEGER PRIMARY KEY AUTOINCREMENT,
           id TEXT NOT NULL UNIQUE,
           kind TEXT NOT NULL,
           phone TEXT,
           subject_hash TEXT NOT NULL,
           categories TEXT NOT NULL,
           evidence TEXT,
           evidence_digest TEXT NOT NULL,
           server_ts INTEGER NOT NULL,
           prev_hash TEXT NOT NULL,
           hash TEXT NOT NULL
         );
         CREATE INDEX events_by_phone ON events(phone, seq);
         CREATE TABLE subscriptions (
           phone TEXT NOT NULL,
           category TEXT NOT NULL,
           status TEXT NOT NULL,
           event_id TEXT NOT NULL,
           updated_at INTEGER NOT NULL,
           PRIMARY KEY (phone, category)
         );
         CREATE TABLE outbox (
           id TEXT PRIMARY KEY,
           consent_id TEXT NOT NULL,
           phone TEXT NOT NULL,
           phone_number_id TEXT NOT NULL,
           token_secret TEXT NOT NULL,
           request TEXT NOT NULL,
           status TEXT NOT NULL,
           attempts INTEGER NOT NULL DEFAULT 0,
           next_attempt_at INTEGER NOT NULL,
           wamid TEXT,
           last_error TEXT,
           created_at INTEGER NOT NULL,
           updated_at INTEGER NOT NULL
         );
         CREATE INDEX outbox_due ON outbox(status, next_attempt_at);",
    ),
    (
        2,
        "CREATE TABLE idempotency (
           key TEXT PRIMARY KEY,
           body_digest TEXT NOT NULL,
           status INTEGER NOT NULL,
           response TEXT NOT NULL,
           created_at INTEGER NOT NULL
         );
         CREATE TABLE suppressions (
           subject_hash TEXT PRIMARY KEY,
           reason TEXT NOT NULL,
           created_at INTEGER NOT NULL
         );
         CREATE TABLE rate_limits (
           bucket TEXT PRIMARY KEY,
           window_start INTEGER NOT NULL,
           count INTEGER NOT NULL
         );
         ALTER TABLE events ADD COLUMN source TEXT;",
    ),
];

/// Bookkeeping table, created before any migration runs.
pub const META: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  applied_at INTEGER NOT NULL
)";

/// The migrations still to apply after `current`.
pub fn pending(current: i64) -> impl Iterator<Item = &'static (i64, &'static str)> {
    MIGRATIONS.iter().filter(move |(v, _)| *v > current)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_strictly_increase() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(pending(1).count(), MIGRATIONS.len() - 1);
        assert_eq!(pending(i64::MAX).count(), 0);
    }
}
