//! Retention: the ledger's alarm erases a person's data once the site's
//! retention has passed since their last withdrawal (holding nothing) or their
//! last event, exactly as the erasure endpoint does, with the rule in the
//! `erase` event's evidence. At most one sweep an hour, a bounded batch each.

use consent_core::Retention;
use serde::Deserialize;
use worker::Result;

use super::{audit, store::Db, tx::Tx};

const DAY_MS: i64 = 86_400_000;
/// Sweeps at most this often (the alarm runs far more often than that).
pub const SWEEP_EVERY_MS: i64 = 3_600_000;
/// People erased per sweep, so one alarm run stays short; the rest next time.
const BATCH: i64 = 50;

#[derive(Deserialize)]
struct SettingsRow {
    after_withdrawal_days: i64,
    after_last_activity_days: i64,
    last_sweep_at: i64,
}

#[derive(Deserialize)]
struct PhoneRow {
    phone: String,
}

fn settings(sql: &dyn Db) -> Result<(Retention, i64)> {
    let row = sql
        .rows::<SettingsRow>(
            "SELECT after_withdrawal_days, after_last_activity_days, last_sweep_at
             FROM retention WHERE id = 1",
            &[],
        )?
        .pop();
    Ok(match row {
        Some(r) => (
            Retention {
                after_withdrawal_days: r.after_withdrawal_days as u32,
                after_last_activity_days: r.after_last_activity_days as u32,
            },
            r.last_sweep_at,
        ),
        None => (Retention::default(), 0),
    })
}

/// Stores the site's retention (sent to every shard when the site is saved).
pub fn set(sql: &dyn Db, r: &Retention) -> Result<()> {
    sql.run(
        "INSERT INTO retention (id, after_withdrawal_days, after_last_activity_days, last_sweep_at)
         VALUES (1, ?, ?, 0)
         ON CONFLICT (id) DO UPDATE SET after_withdrawal_days = excluded.after_withdrawal_days,
           after_last_activity_days = excluded.after_last_activity_days, last_sweep_at = 0",
        &[
            i64::from(r.after_withdrawal_days).into(),
            i64::from(r.after_last_activity_days).into(),
        ],
    )
}

/// Erases whoever's retention has run out, if an hour has passed since the
/// last sweep; how many were erased.
pub fn sweep(tx: &Tx) -> Result<usize> {
    let (r, last) = settings(tx.db)?;
    if tx.now - last < SWEEP_EVERY_MS {
        return Ok(0);
    }
    let withdrawn_before = tx.now - i64::from(r.after_withdrawal_days) * DAY_MS;
    let idle_before = tx.now - i64::from(r.after_last_activity_days) * DAY_MS;
    let due: Vec<PhoneRow> = tx.db.rows(
        "SELECT phone FROM events WHERE phone IS NOT NULL GROUP BY phone
         HAVING MAX(server_ts) < ?
            OR (MAX(CASE WHEN kind = 'withdraw' THEN server_ts END) < ?
                AND NOT EXISTS (SELECT 1 FROM subscriptions s
                                WHERE s.phone = events.phone AND s.status IN ('granted', 'pending')))
         LIMIT ?",
        &[idle_before.into(), withdrawn_before.into(), BATCH.into()],
    )?;
    let mut erased = 0;
    for row in &due {
        let rule = if last_event(tx.db, &row.phone)? < idle_before {
            ("after_last_activity", r.after_last_activity_days)
        } else {
            ("after_withdrawal", r.after_withdrawal_days)
        };
        let evidence = serde_json::json!({
            "method": "retention", "rule": rule.0, "days": rule.1,
        })
        .to_string();
        if audit::erase_with(tx, &row.phone, &evidence)?.is_some() {
            erased += 1;
        }
    }
    // A full batch means more may be due: come back at once, not in an hour.
    let next_from = if due.len() as i64 == BATCH { 0 } else { tx.now };
    tx.db.run(
        "INSERT INTO retention (id, after_withdrawal_days, after_last_activity_days, last_sweep_at)
         VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO UPDATE SET last_sweep_at = excluded.last_sweep_at",
        &[
            i64::from(r.after_withdrawal_days).into(),
            i64::from(r.after_last_activity_days).into(),
            next_from.into(),
        ],
    )?;
    Ok(erased)
}

#[derive(Deserialize)]
struct LastRow {
    ts: i64,
}

fn last_event(sql: &dyn Db, phone: &str) -> Result<i64> {
    Ok(sql
        .one::<LastRow>(
            "SELECT MAX(server_ts) AS ts FROM events WHERE phone = ?",
            &[phone.into()],
        )?
        .ts)
}

#[derive(Deserialize)]
struct AnyRow {
    n: i64,
}

/// When the alarm should come back for the next sweep: while the ledger holds
/// anyone's data, an hour after the last sweep.
pub fn next_sweep(sql: &dyn Db) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct NextRow {
        held: i64,
        last: i64,
    }
    // One statement: the alarm asks after every send.
    let row = sql.one::<NextRow>(
        "SELECT EXISTS (SELECT 1 FROM events WHERE phone IS NOT NULL) AS held,
           COALESCE((SELECT last_sweep_at FROM retention WHERE id = 1), 0) AS last",
        &[],
    )?;
    Ok((row.held != 0).then_some(row.last + SWEEP_EVERY_MS))
}

/// How many people retention has erased (the stats).
pub fn erased_count(sql: &dyn Db) -> Result<i64> {
    Ok(sql
        .one::<AnyRow>(
            "SELECT COUNT(*) AS n FROM events
             WHERE kind = 'erase' AND json_extract(evidence, '$.method') = 'retention'",
            &[],
        )?
        .n)
}

#[cfg(test)]
mod tests {
    use consent_core::Retention;

    use super::super::{
        changes,
        tests::{
            change, consent, count, keys, ledger, record, site, tx, verified, OTHER, PHONE, T0,
        },
    };
    use super::*;

    #[test]
    fn the_alarm_erases_after_the_sites_retention_and_the_chain_still_verifies() {
        let (db, keys) = (ledger(), keys());
        let site = site();
        set(
            &db,
            &Retention {
                after_withdrawal_days: 30,
                after_last_activity_days: 365,
            },
        )
        .unwrap();
        let left = record(&tx(&db, &keys, T0), &consent(&site, PHONE, &["delivery"])).id;
        record(&tx(&db, &keys, T0), &consent(&site, OTHER, &["delivery"]));
        changes::change(&tx(&db, &keys, T0 + DAY_MS), &change(&left, &[])).unwrap();
        let people = |db: &rusqlite::Connection| {
            count(
                db,
                "SELECT COUNT(DISTINCT phone) FROM events WHERE phone IS NOT NULL",
            )
        };

        assert_eq!(sweep(&tx(&db, &keys, T0 + 20 * DAY_MS)).unwrap(), 0);
        assert_eq!(people(&db), 2);
        assert_eq!(
            sweep(&tx(&db, &keys, T0 + 32 * DAY_MS)).unwrap(),
            1,
            "30 days after the withdrawal"
        );
        assert_eq!(
            sweep(&tx(&db, &keys, T0 + 32 * DAY_MS + 60_000)).unwrap(),
            0,
            "once an hour"
        );
        assert_eq!(people(&db), 1, "the one still subscribed is kept");
        assert_eq!(
            sweep(&tx(&db, &keys, T0 + 366 * DAY_MS)).unwrap(),
            1,
            "a year after the last event"
        );
        assert_eq!(people(&db), 0);

        let t = tx(&db, &keys, T0 + 367 * DAY_MS);
        assert!(verified(&t), "the chain still verifies");
        assert_eq!(erased_count(&db).unwrap(), 2);
        assert_eq!(
            count(&db, "SELECT COUNT(*) FROM suppressions"),
            2,
            "the numbers stay suppressed"
        );
        let rules: Vec<String> = {
            let mut stmt = db
                .prepare("SELECT json_extract(evidence, '$.rule') FROM events WHERE kind = 'erase' ORDER BY seq")
                .unwrap();
            stmt.query_map([], |r| r.get(0))
                .unwrap()
                .map(Result::unwrap)
                .collect()
        };
        assert_eq!(rules, ["after_withdrawal", "after_last_activity"]);
        assert!(t.granted(PHONE).unwrap().is_empty() && t.granted(OTHER).unwrap().is_empty());
    }

    #[test]
    fn without_settings_five_years_apply_and_the_alarm_comes_back_hourly() {
        let (db, keys) = (ledger(), keys());
        assert_eq!(
            next_sweep(&db).unwrap(),
            None,
            "nobody's data: no sweep needed"
        );
        record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"]));
        assert!(next_sweep(&db).unwrap().is_some());
        assert_eq!(sweep(&tx(&db, &keys, T0 + 1825 * DAY_MS)).unwrap(), 0);
        assert_eq!(
            next_sweep(&db).unwrap(),
            Some(T0 + 1825 * DAY_MS + SWEEP_EVERY_MS)
        );
        assert_eq!(sweep(&tx(&db, &keys, T0 + 1827 * DAY_MS)).unwrap(), 1);
    }
}
