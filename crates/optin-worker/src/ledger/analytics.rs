//! Funnel analytics: the widget's beacons counted per day × surface × variant ×
//! locale × type in the ledger, and the series `GET /admin/sites/{site}/stats`
//! adds to its counts. Counting is not evidence: nothing here touches the chain.

use std::collections::BTreeMap;

use consent_core::{states::OptOutSource, stats::Day, Surface};
use serde::Deserialize;

use super::{limits, store::Value, tx::Tx};
use crate::protocol::{CountEvents, Delivery, LedgerError, Range, Series, SourceCount};

/// Counts a validated batch in one synchronous write, after the per-IP limit.
pub fn record(tx: &Tx, cmd: &CountEvents) -> Result<(), LedgerError> {
    let (sql, now) = (tx.db, tx.now);
    if let Some(ip) = &cmd.ip_key {
        let bucket = format!("events-ip:{ip}");
        limits::admit_one(sql, &bucket, "events-ip", cmd.per_minute, now)?;
    }
    let day = Day::from_unix_ms(now).format();
    let mut counts: BTreeMap<(&str, &str, &str, &str), i64> = BTreeMap::new();
    for e in &cmd.events {
        let key = (
            surface_name(e.surface),
            e.variant.as_str(),
            e.locale.tag(),
            e.kind.as_str(),
        );
        *counts.entry(key).or_default() += 1;
    }
    for ((surface, variant, locale, kind), n) in counts {
        sql.run(
            "INSERT INTO funnel_counts (day, surface, variant, locale, type, n)
             VALUES (?, ?, ?, ?, ?, ?)
             ON CONFLICT (day, surface, variant, locale, type) DO UPDATE SET n = n + excluded.n",
            &[
                day.as_str().into(),
                surface.into(),
                variant.into(),
                locale.into(),
                kind.into(),
                n.into(),
            ],
        )?;
    }
    Ok(())
}

fn surface_name(s: Surface) -> &'static str {
    s.as_str()
}

/// Funnel rows of the range, one per day × surface × variant × locale.
const FUNNEL_SQL: &str = "SELECT day, surface, variant, locale,
   SUM(CASE type WHEN 'impression' THEN n ELSE 0 END) AS impression,
   SUM(CASE type WHEN 'open' THEN n ELSE 0 END) AS open,
   SUM(CASE type WHEN 'dismiss' THEN n ELSE 0 END) AS dismiss,
   SUM(CASE type WHEN 'submit' THEN n ELSE 0 END) AS submit
 FROM funnel_counts WHERE day >= ? AND day <= ?
 GROUP BY day, surface, variant, locale ORDER BY day, surface, variant, locale";

/// Widget consents (grants whose evidence names a surface; in-thread re-grants
/// have none) per day × surface × variant. An erased grant keeps no evidence
/// and counts under surface `unknown`.
const CONSENTS_SQL: &str = "SELECT strftime('%Y-%m-%d', server_ts / 1000, 'unixepoch') AS day,
   COALESCE(json_extract(evidence, '$.surface'), 'unknown') AS surface,
   COALESCE(json_extract(evidence, '$.variant'), 'default') AS variant,
   COUNT(*) AS n
 FROM events
 WHERE kind = 'grant' AND server_ts >= ? AND server_ts < ?
   AND (evidence IS NULL OR json_extract(evidence, '$.surface') IS NOT NULL)
 GROUP BY 1, 2, 3 ORDER BY 1, 2, 3";

/// Opt-outs: withdrawals by how they were made (consent-core's one
/// [`OptOutSource`] rule), and erasures on request (`support`) unless the
/// person had already withdrawn.
fn optouts_sql() -> String {
    format!(
        "WITH optouts AS (
   SELECT strftime('%Y-%m-%d', e.server_ts / 1000, 'unixepoch') AS day,
     {} AS source
   FROM events e
   WHERE e.server_ts >= ? AND e.server_ts < ?
     AND (e.kind = 'withdraw'
       OR (e.kind = 'erase' AND COALESCE((SELECT p.kind FROM events p
             WHERE p.subject_hash = e.subject_hash AND p.seq < e.seq
             ORDER BY p.seq DESC LIMIT 1), '') <> 'withdraw')))",
        OptOutSource::sql_case("e.kind", "e.evidence")
    )
}

/// Confirmation templates (outbox rows keyed by their consent id) queued in the range.
const DELIVERY_SQL: &str = "SELECT
   COALESCE(SUM(wamid IS NOT NULL OR status IN ('sent', 'delivered', 'read')), 0) AS sent,
   COALESCE(SUM(status IN ('delivered', 'read')), 0) AS delivered,
   COALESCE(SUM(status = 'read'), 0) AS read,
   COALESCE(SUM(status = 'failed'), 0) AS failed
 FROM outbox WHERE id = consent_id AND created_at >= ? AND created_at < ?";

/// Failed confirmations by the Graph code their last error starts with.
const ERRORS_SQL: &str = "SELECT
   CASE WHEN CAST(last_error AS INTEGER) > 0 THEN CAST(last_error AS INTEGER) END AS code,
   COUNT(*) AS n
 FROM outbox WHERE id = consent_id AND status = 'failed' AND created_at >= ? AND created_at < ?
 GROUP BY 1 ORDER BY 2 DESC";

#[derive(Deserialize)]
struct DeliveryRow {
    sent: i64,
    delivered: i64,
    read: i64,
    failed: i64,
}

/// This shard's series for `range`.
pub fn series(tx: &Tx, range: &Range) -> worker::Result<Series> {
    let sql = tx.db;
    let days = || -> [Value; 2] { [range.from.format().into(), range.to.format().into()] };
    let ms = || -> [Value; 2] { [range.start_ms().into(), range.end_ms().into()] };
    let d: DeliveryRow = sql.one(DELIVERY_SQL, &ms())?;
    let optouts = optouts_sql();
    let mut by_source: Vec<SourceCount> = sql.rows(
        &format!("{optouts} SELECT source, COUNT(*) AS n FROM optouts GROUP BY source"),
        &ms(),
    )?;
    for row in &mut by_source {
        row.label = OptOutSource::parse(&row.source).map(|s| s.label().to_owned());
    }
    Ok(Series {
        from: range.from.format(),
        to: range.to.format(),
        funnel: sql.rows(FUNNEL_SQL, &days())?,
        consents_by_day: sql.rows(CONSENTS_SQL, &ms())?,
        optouts_by_source: by_source,
        optouts_by_day: sql.rows(
            &format!("{optouts} SELECT day, COUNT(*) AS n FROM optouts GROUP BY day"),
            &ms(),
        )?,
        variants: Vec::new(),
        delivery: Delivery {
            sent: d.sent,
            delivered: d.delivered,
            read: d.read,
            failed: d.failed,
            errors: sql.rows(ERRORS_SQL, &ms())?,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_default_to_thirty_days_and_are_checked() {
        let now = Day::parse("2026-11-23").unwrap().start_ms() + 5_000;
        let r = Range::from_query(None, None, now).unwrap();
        assert_eq!(
            (r.from.format(), r.to.format()),
            ("2026-10-25".into(), "2026-11-23".into())
        );
        let r = Range::from_query(Some("2026-11-01"), Some("2026-11-01"), now).unwrap();
        assert_eq!(
            (r.start_ms(), r.end_ms() - r.start_ms()),
            (r.from.start_ms(), 86_400_000)
        );
        let field = |from, to| match Range::from_query(from, to, now) {
            Err(crate::error::AppError::InvalidQuery { field, .. }) => field,
            other => panic!("{other:?}"),
        };
        assert_eq!(field(Some("2026-11-31"), None), "from");
        assert_eq!(field(None, Some("yesterday")), "to");
        assert_eq!(field(Some("2026-11-24"), Some("2026-11-23")), "from");
        assert_eq!(field(Some("2025-01-01"), Some("2026-01-02")), "to");
        assert!(Range::from_query(Some("2025-01-01"), Some("2026-01-01"), now).is_ok());
    }

    /// A ledger with every migration applied, in SQLite as the Durable Object has it.
    fn ledger() -> rusqlite::Connection {
        let db = rusqlite::Connection::open_in_memory().unwrap();
        for (_, sql) in super::super::schema::MIGRATIONS {
            db.execute_batch(sql).unwrap();
        }
        db
    }

    fn rows(db: &rusqlite::Connection, sql: &str, range: (i64, i64)) -> Vec<String> {
        let mut stmt = db.prepare(sql).unwrap();
        let cols = stmt.column_count();
        stmt.query_map([range.0, range.1], |row| {
            Ok((0..cols)
                .map(|i| match row.get_ref(i).unwrap() {
                    rusqlite::types::ValueRef::Text(t) => String::from_utf8_lossy(t).into_owned(),
                    rusqlite::types::ValueRef::Integer(n) => n.to_string(),
                    _ => "None".to_owned(),
                })
                .collect::<Vec<_>>()
                .join("|"))
        })
        .unwrap()
        .map(Result::unwrap)
        .collect()
    }

    fn event(
        db: &rusqlite::Connection,
        seq: i64,
        kind: &str,
        subject: &str,
        ts: i64,
        evidence: Option<&str>,
    ) {
        db.execute(
            "INSERT INTO events (seq, id, kind, phone, subject_hash, categories, evidence,
               evidence_digest, server_ts, prev_hash, hash)
             VALUES (?1, 'e' || ?1, ?2, NULL, ?3, '[]', ?4, 'd', ?5, 'p', 'h')",
            rusqlite::params![seq, kind, subject, evidence, ts],
        )
        .unwrap();
    }

    #[test]
    fn opt_outs_are_classified_by_how_they_were_made() {
        let db = ledger();
        let day = Day::parse("2026-11-20").unwrap().start_ms();
        event(
            &db,
            1,
            "grant",
            "a",
            day,
            Some(r#"{"surface":"modal","variant":"b"}"#),
        );
        event(
            &db,
            2,
            "withdraw",
            "a",
            day + 1,
            Some(r#"{"source":"in_thread","method":"keyword"}"#),
        );
        event(
            &db,
            3,
            "withdraw",
            "b",
            day + 2,
            Some(r#"{"method":"quick_reply"}"#),
        );
        event(
            &db,
            4,
            "withdraw",
            "c",
            day + 3,
            Some(r#"{"method":"preference_centre_opt_out"}"#),
        );
        event(
            &db,
            5,
            "erase",
            "a",
            day + 4,
            Some(r#"{"method":"admin_api"}"#),
        );
        event(&db, 6, "grant", "d", day + 86_400_000, None);
        event(
            &db,
            7,
            "erase",
            "d",
            day + 86_400_001,
            Some(r#"{"method":"admin_api"}"#),
        );
        event(
            &db,
            8,
            "grant",
            "e",
            day + 86_400_002,
            Some(r#"{"source":"in_thread","method":"keyword"}"#),
        );
        let range = (day, day + 2 * 86_400_000);
        let optouts = optouts_sql();
        let by_source = format!(
            "{optouts} SELECT source, COUNT(*) AS n FROM optouts GROUP BY source ORDER BY source"
        );
        assert_eq!(
            rows(&db, &by_source, range),
            ["button|1", "keyword|1", "preference_centre|1", "support|1"],
            "erasing someone who already withdrew is not a second opt-out"
        );
        let by_day =
            format!("{optouts} SELECT day, COUNT(*) AS n FROM optouts GROUP BY day ORDER BY day");
        assert_eq!(rows(&db, &by_day, range), ["2026-11-20|3", "2026-11-21|1"]);
        assert_eq!(
            rows(&db, CONSENTS_SQL, range),
            ["2026-11-20|modal|b|1", "2026-11-21|unknown|default|1"],
            "in-thread re-grants are not widget consents; erased ones lose their surface"
        );
        assert!(rows(&db, CONSENTS_SQL, (day + 5, day + 86_400_000)).is_empty());
    }

    #[test]
    fn delivery_counts_confirmations_only_with_their_error_codes() {
        let db = ledger();
        let rows_sql = [
            ("c1", "c1", "read", Some("wamid.1"), None),
            ("c2", "c2", "delivered", Some("wamid.2"), None),
            (
                "c3",
                "c3",
                "failed",
                Some("wamid.3"),
                Some("131026 Message undeliverable"),
            ),
            ("c4", "c4", "failed", None, Some("131056 pair rate limit")),
            ("c5", "c5", "failed", None, Some("HTTP 500")),
            ("c6", "c6", "pending", None, None),
            ("r1", "in.1", "read", Some("wamid.r"), None),
        ];
        for (id, consent, status, wamid, err) in rows_sql {
            db.execute(
                "INSERT INTO outbox (id, consent_id, phone, phone_number_id, token_secret, request,
                   status, attempts, next_attempt_at, wamid, last_error, created_at, updated_at)
                 VALUES (?1, ?2, '+1', '1', 'T', '{}', ?3, 1, 0, ?4, ?5, 100, 100)",
                rusqlite::params![id, consent, status, wamid, err],
            )
            .unwrap();
        }
        assert_eq!(rows(&db, DELIVERY_SQL, (0, 1000)), ["3|2|1|3"]);
        assert_eq!(rows(&db, ERRORS_SQL, (0, 1000)).len(), 3);
        let mut errors = rows(&db, ERRORS_SQL, (0, 1000));
        errors.sort();
        assert_eq!(errors, ["131026|1", "131056|1", "None|1"]);
        assert_eq!(rows(&db, DELIVERY_SQL, (200, 300)), ["0|0|0|0"]);
    }

    #[test]
    fn funnel_rows_pivot_the_counter_table() {
        let db = ledger();
        db.execute_batch(
            "INSERT INTO funnel_counts VALUES
               ('2026-11-20', 'modal', 'default', 'en', 'impression', 5),
               ('2026-11-20', 'modal', 'default', 'en', 'dismiss', 2),
               ('2026-11-20', 'modal', 'default', 'en', 'submit', 1),
               ('2026-11-21', 'chat', 'b', 'id', 'open', 3),
               ('2026-12-01', 'modal', 'default', 'en', 'impression', 9);",
        )
        .unwrap();
        let mut stmt = db.prepare(FUNNEL_SQL).unwrap();
        let got: Vec<String> = stmt
            .query_map(["2026-11-20", "2026-11-30"], |r| {
                Ok(format!(
                    "{}|{}|{}|{}|{}|{}|{}|{}",
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, String>(3)?,
                    r.get::<_, i64>(4)?,
                    r.get::<_, i64>(5)?,
                    r.get::<_, i64>(6)?,
                    r.get::<_, i64>(7)?
                ))
            })
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(
            got,
            [
                "2026-11-20|modal|default|en|5|0|2|1",
                "2026-11-21|chat|b|id|0|3|0|0"
            ]
        );
    }

    #[test]
    fn shards_sum_and_variants_get_a_wilson_interval() {
        let shard = |imp: i64, consents: i64| -> Series {
            serde_json::from_value(serde_json::json!({
                "from": "2026-11-01", "to": "2026-11-30",
                "funnel": [{"day": "2026-11-20", "surface": "modal", "variant": "b", "locale": "en",
                            "impression": imp, "open": 0, "dismiss": 1, "submit": consents}],
                "consents_by_day": [{"day": "2026-11-20", "surface": "modal", "variant": "b", "n": consents}],
                "optouts_by_source": [{"source": "keyword", "n": 1}],
                "optouts_by_day": [{"day": "2026-11-21", "n": 1}],
                "delivery": {"sent": consents, "delivered": 1, "read": 0, "failed": 1,
                             "errors": [{"code": 131026, "n": 1}]}
            }))
            .unwrap()
        };
        let mut total = Series::default();
        total.add(shard(163, 50));
        total.add(shard(100, 31));
        total.finish();
        let v = serde_json::to_value(&total).unwrap();
        assert_eq!(v["funnel"].as_array().unwrap().len(), 1);
        assert_eq!(v["funnel"][0]["impression"], 263);
        assert_eq!(v["consents_by_day"][0]["n"], 81);
        assert_eq!(
            v["optouts_by_source"],
            serde_json::json!([{"source": "keyword", "n": 2}])
        );
        assert_eq!(
            v["delivery"]["errors"],
            serde_json::json!([{"code": 131026, "n": 2}])
        );
        let row = &v["variants"][0];
        assert_eq!(
            (row["impressions"].as_i64(), row["consents"].as_i64()),
            (Some(263), Some(81))
        );
        assert!(
            (row["ci_low"].as_f64().unwrap() - 0.2553).abs() < 1e-4,
            "{row}"
        );
        assert!(
            (row["ci_high"].as_f64().unwrap() - 0.3662).abs() < 1e-4,
            "{row}"
        );
    }
}
