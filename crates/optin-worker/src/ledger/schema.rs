//! Ledger schema as ordered migrations. Each runs once, in its own atomic
//! write, and only ever adds: an existing ledger upgrades without losing rows.

use super::store::Db;

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
    (
        3,
        "CREATE TABLE message_statuses (
           wamid TEXT NOT NULL,
           status TEXT NOT NULL,
           outbox_id TEXT NOT NULL,
           ts INTEGER NOT NULL,
           error_code INTEGER,
           error_title TEXT,
           received_at INTEGER NOT NULL,
           PRIMARY KEY (wamid, status)
         );
         CREATE INDEX message_statuses_by_outbox ON message_statuses(outbox_id);
         CREATE TABLE inbound_messages (
           id TEXT PRIMARY KEY,
           phone TEXT NOT NULL,
           kind TEXT NOT NULL,
           action TEXT,
           received_at INTEGER NOT NULL
         );",
    ),
    (
        4,
        "CREATE TABLE sending_halt (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           reason TEXT NOT NULL,
           outbox_id TEXT,
           halted_at INTEGER NOT NULL
         );
         CREATE TABLE recipient_sends (
           phone TEXT PRIMARY KEY,
           last_at INTEGER NOT NULL
         );",
    ),
    (
        6,
        "CREATE TABLE funnel_counts (
           day TEXT NOT NULL,
           surface TEXT NOT NULL,
           variant TEXT NOT NULL,
           locale TEXT NOT NULL,
           type TEXT NOT NULL,
           n INTEGER NOT NULL,
           PRIMARY KEY (day, surface, variant, locale, type)
         );
         CREATE INDEX events_by_kind_ts ON events(kind, server_ts);",
    ),
    (
        7,
        // Double opt-in: one row per consent waiting for the person's confirmation.
        "CREATE TABLE pending_confirmations (
           consent_id TEXT PRIMARY KEY,
           phone TEXT NOT NULL,
           categories TEXT NOT NULL,
           status TEXT NOT NULL,
           expires_at INTEGER NOT NULL,
           created_at INTEGER NOT NULL,
           resolved_at INTEGER,
           resolved_by TEXT
         );
         CREATE INDEX pending_confirmations_due ON pending_confirmations(status, expires_at);
         CREATE INDEX pending_confirmations_by_phone ON pending_confirmations(phone, status);",
    ),
    (
        8,
        // The burst breaker (breaker.rs): web consents per UTC minute, whether it
        // is open, and every hold, release and drop with who and when (append-only).
        "CREATE TABLE breaker_minutes (
           minute INTEGER PRIMARY KEY,
           n INTEGER NOT NULL
         );
         CREATE TABLE breaker_state (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           opened_at INTEGER NOT NULL,
           threshold INTEGER NOT NULL,
           recent INTEGER NOT NULL
         );
         CREATE TABLE breaker_decisions (
           id INTEGER PRIMARY KEY AUTOINCREMENT,
           action TEXT NOT NULL,
           count INTEGER NOT NULL,
           actor TEXT NOT NULL,
           at INTEGER NOT NULL
         );",
    ),
    (
        9,
        // The templates' review status as last read from Meta (templates.rs):
        // which languages a send may use.
        "CREATE TABLE template_statuses (
           name TEXT NOT NULL,
           language TEXT NOT NULL,
           template_id TEXT,
           status TEXT NOT NULL,
           category TEXT,
           previous_category TEXT,
           rejected_reason TEXT,
           read_at INTEGER NOT NULL,
           PRIMARY KEY (name, language)
         );",
    ),
    (
        10,
        // What Meta billed a message as (`pricing.category` of its status webhook).
        "ALTER TABLE message_statuses ADD COLUMN pricing_category TEXT;",
    ),
    (
        11,
        // Consent-gated sending (sending.rs): every send request's decision,
        // queued or refused with its reason, and the category of a queued one.
        "CREATE TABLE messages (
           id TEXT PRIMARY KEY,
           phone TEXT,
           subject_hash TEXT NOT NULL,
           category TEXT NOT NULL,
           kind TEXT NOT NULL,
           template TEXT,
           language TEXT,
           decision TEXT NOT NULL,
           reason TEXT NOT NULL,
           detail TEXT NOT NULL,
           key_id TEXT NOT NULL,
           created_at INTEGER NOT NULL,
           marketing INTEGER NOT NULL DEFAULT 0
         );
         CREATE INDEX messages_by_phone ON messages(phone, category, created_at);
         CREATE INDEX messages_by_day ON messages(created_at);
         ALTER TABLE outbox ADD COLUMN category TEXT;",
    ),
    (
        12,
        // The site's retention (retention.rs) and when the alarm last swept.
        "CREATE TABLE retention (
           id INTEGER PRIMARY KEY CHECK (id = 1),
           after_withdrawal_days INTEGER NOT NULL,
           after_last_activity_days INTEGER NOT NULL,
           last_sweep_at INTEGER NOT NULL
         );",
    ),
    (
        20,
        // Webhooks out to the merchant (hooks.rs): this shard's copy of the
        // site's endpoints, each person's webhook sequence number (by subject
        // hash, so it outlives an erasure), and one delivery row per event
        // and endpoint, queued in the write that records the event.
        "CREATE TABLE hook_endpoints (
           id TEXT PRIMARY KEY,
           site TEXT NOT NULL,
           url TEXT NOT NULL,
           events TEXT NOT NULL,
           secrets TEXT NOT NULL,
           paused INTEGER NOT NULL DEFAULT 0,
           resumed_at INTEGER,
           failing_since INTEGER,
           disabled_at INTEGER,
           updated_at INTEGER NOT NULL
         );
         CREATE TABLE hook_subjects (
           subject_hash TEXT PRIMARY KEY,
           seq INTEGER NOT NULL
         );
         CREATE TABLE hook_deliveries (
           seq INTEGER PRIMARY KEY AUTOINCREMENT,
           endpoint_id TEXT NOT NULL,
           webhook_id TEXT NOT NULL,
           type TEXT NOT NULL,
           subject_hash TEXT NOT NULL,
           subscriber_seq INTEGER NOT NULL,
           payload TEXT NOT NULL,
           status TEXT NOT NULL,
           attempts INTEGER NOT NULL DEFAULT 0,
           next_attempt_at INTEGER NOT NULL,
           last_status INTEGER,
           last_error TEXT,
           latency_ms INTEGER,
           created_at INTEGER NOT NULL,
           updated_at INTEGER NOT NULL,
           delivered_at INTEGER,
           UNIQUE (endpoint_id, webhook_id)
         );
         CREATE INDEX hook_deliveries_due ON hook_deliveries(status, next_attempt_at);
         CREATE INDEX hook_deliveries_order ON hook_deliveries(endpoint_id, subject_hash, seq);",
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

#[derive(serde::Deserialize)]
struct VersionRow {
    v: i64,
}

/// Applies pending schema migrations at `now`; each with its bookkeeping row.
pub fn migrate(db: &dyn Db, now: i64) -> worker::Result<()> {
    db.batch(META)?;
    let current = db
        .one::<VersionRow>(
            "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
            &[],
        )?
        .v;
    for (version, statements) in pending(current) {
        db.batch(statements)?;
        db.run(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            &[(*version).into(), now.into()],
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Applies migrations the way the Durable Object does.
    fn migrate_to(db: &rusqlite::Connection, target: i64) {
        db.execute_batch(META).unwrap();
        let current: i64 = db
            .query_row(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations",
                [],
                |r| r.get(0),
            )
            .unwrap();
        for (v, sql) in pending(current).filter(|(v, _)| *v <= target) {
            db.execute_batch(sql).unwrap();
            db.execute("INSERT INTO schema_migrations VALUES (?1, 0)", [v])
                .unwrap();
        }
    }

    fn dump(db: &rusqlite::Connection, table: &str) -> Vec<String> {
        let mut stmt = db
            .prepare(&format!("SELECT * FROM {table} ORDER BY 1"))
            .unwrap();
        let cols = stmt.column_count();
        stmt.query_map([], |row| {
            Ok((0..cols)
                .map(|i| format!("{:?}", row.get_ref(i).unwrap()))
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    #[test]
    fn upgrading_a_version_1_ledger_loses_nothing() {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        migrate_to(&db, 1);
        db.execute_batch(
            "INSERT INTO events (id, kind, phone, subject_hash, categories, evidence, evidence_digest,
               server_ts, prev_hash, hash)
             VALUES ('e1', 'grant', '+6281234567890', 's1', '[\"delivery\"]', '{}', 'd1', 1, 'p0', 'h1'),
                    ('e2', 'grant', '+4520123456', 's2', '[\"order_updates\"]', '{}', 'd2', 2, 'h1', 'h2');
             INSERT INTO subscriptions VALUES ('+6281234567890', 'delivery', 'granted', 'e1', 1);
             INSERT INTO outbox (id, consent_id, phone, phone_number_id, token_secret, request, status,
               attempts, next_attempt_at, created_at, updated_at)
             VALUES ('e1', 'e1', '+6281234567890', '1', 'T', '{}', 'sent', 1, 1, 1, 1);",
        )
        .unwrap();
        let before: Vec<_> = ["subscriptions", "outbox"]
            .iter()
            .map(|t| dump(&db, t))
            .collect();
        let events_before = dump(&db, "events");

        migrate_to(&db, i64::MAX);
        migrate_to(&db, i64::MAX); // a second start is a no-op

        let after: Vec<_> = ["subscriptions", "outbox"]
            .iter()
            .map(|t| dump(&db, t))
            .collect();
        assert_eq!(before[0], after[0]);
        let outbox_before: Vec<String> = before[1].iter().map(|r| format!("{r}|Null")).collect();
        assert_eq!(
            outbox_before, after[1],
            "outbox rows keep their values; the new category column is empty"
        );
        let events_after = dump(&db, "events");
        assert_eq!(events_after.len(), 2);
        for (old, new) in events_before.iter().zip(&events_after) {
            assert_eq!(
                new,
                &format!("{old}|Null"),
                "rows keep their values; the new column is empty"
            );
        }
        let applied: i64 = db
            .query_row("SELECT COUNT(*) FROM schema_migrations", [], |r| r.get(0))
            .unwrap();
        assert_eq!(applied, MIGRATIONS.len() as i64);
        db.execute(
            "INSERT INTO idempotency VALUES ('k', 'd', 201, '{}', 1)",
            [],
        )
        .unwrap();
    }

    #[test]
    fn versions_strictly_increase() {
        assert!(MIGRATIONS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(pending(1).count(), MIGRATIONS.len() - 1);
        assert_eq!(pending(i64::MAX).count(), 0);
    }
}
