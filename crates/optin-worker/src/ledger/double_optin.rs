//! Double opt-in: with the site's `double_opt_in` on, a consent from the web is
//! recorded as a `grant` whose categories stay `pending` until the person taps
//! Confirm (`CONFIRM:<consent id>`) or replies YES in WhatsApp (a `confirm`
//! event makes them `granted`); unconfirmed after `expiry_hours`, an `expire`
//! event makes them `expired`. Expiry is applied by the ledger's alarm and,
//! lazily, before anything reads or changes a person's state.

use consent_core::states::{EventKind, SubscriptionStatus};
use consent_core::Category;
use serde::{Deserialize, Serialize};
use worker::{Env, Result};

use super::{store::Db, tx::Tx};
use crate::protocol::{ConsentProgress, ConsentState, DoubleOptInCounts};

/// One hour; `DOUBLE_OPT_IN_HOUR_MS` shortens it for tests (as `OUTBOX_BACKOFF_MS` does).
const HOUR_MS: i64 = 3_600_000;
/// Pending consents expired per call, so one run stays short (the alarm comes back).
const EXPIRE_BATCH: i64 = 100;

/// One hour of expiry, in ms, from the Worker's settings.
pub fn hour_ms(env: &Env) -> i64 {
    super::settings::env_ms(env, "DOUBLE_OPT_IN_HOUR_MS", 100..=HOUR_MS, HOUR_MS)
}

/// When a consent recorded now with `expiry_hours` expires.
pub fn expires_at(tx: &Tx, expiry_hours: u32) -> i64 {
    tx.now + i64::from(expiry_hours) * tx.hour_ms
}

/// Records that `consent_id` waits for `phone`'s confirmation of `categories`.
/// Synchronous, so it joins the consent's write.
pub fn open(
    tx: &Tx,
    consent_id: &str,
    phone: &str,
    categories: &[Category],
    expires_at: i64,
) -> Result<()> {
    let (sql, now) = (tx.db, tx.now);
    tx.opened_until(expires_at);
    sql.run("INSERT INTO pending_confirmations (consent_id, phone, categories, status, expires_at, created_at)
         VALUES (?, ?, ?, 'pending', ?, ?)", &[
            consent_id.into(),
            phone.into(),
            json(categories)?.into(),
            expires_at.into(),
            now.into(),
        ])?;
    Ok(())
}

/// A consent waiting (or once waiting) for confirmation.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Request {
    /// The `grant` event.
    pub consent_id: String,
    /// Whose.
    pub phone: String,
    /// JSON array of the categories that waited.
    pub categories: String,
    /// `pending`, `confirmed`, `expired` or `withdrawn`.
    pub status: String,
    /// Unix ms.
    pub expires_at: i64,
    /// Unix ms.
    pub created_at: i64,
    /// When it stopped pending, Unix ms.
    pub resolved_at: Option<i64>,
    /// The `confirm`, `expire` or `withdraw` event that settled it.
    pub resolved_by: Option<String>,
}

impl Request {
    fn categories(&self) -> Vec<Category> {
        serde_json::from_str(&self.categories).unwrap_or_default()
    }
}

const COLUMNS: &str =
    "consent_id, phone, categories, status, expires_at, created_at, resolved_at, resolved_by";

/// The request behind `consent_id`, if that consent asked for confirmation.
pub fn find(sql: &dyn Db, consent_id: &str) -> Result<Option<Request>> {
    Ok(sql
        .rows::<Request>(
            &format!("SELECT {COLUMNS} FROM pending_confirmations WHERE consent_id = ?"),
            &[consent_id.into()],
        )?
        .pop())
}

/// `phone`'s requests still waiting, oldest first.
pub fn pending_for(sql: &dyn Db, phone: &str) -> Result<Vec<Request>> {
    sql.rows(
        &format!(
            "SELECT {COLUMNS} FROM pending_confirmations WHERE phone = ? AND status = 'pending'
             ORDER BY created_at, consent_id"
        ),
        &[phone.into()],
    )
}

/// Every request of `phone`, for the admin view.
pub fn history(sql: &dyn Db, phone: &str) -> Result<Vec<Request>> {
    sql.rows(&format!(
            "SELECT {COLUMNS} FROM pending_confirmations WHERE phone = ? ORDER BY created_at, consent_id"
        ), &[phone.into()])
}

/// For the sender: `Some(true)` when `consent_id`'s confirmation request may
/// still go out, `Some(false)` when it is settled or expired (never send it),
/// `None` when that consent asked for no confirmation.
pub fn request_open(sql: &dyn Db, consent_id: &str, now: i64) -> Result<Option<bool>> {
    Ok(find(sql, consent_id)?.map(|r| r.status == "pending" && r.expires_at > now))
}

/// The earliest expiry still to apply, for the alarm.
pub fn next_expiry(sql: &dyn Db) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Next {
        next: Option<i64>,
    }
    Ok(sql
        .one::<Next>(
            "SELECT MIN(expires_at) AS next FROM pending_confirmations WHERE status = 'pending'",
            &[],
        )?
        .next)
}

/// Marks a request settled by `event_id`.
fn settle(sql: &dyn Db, consent_id: &str, status: &str, event_id: &str, now: i64) -> Result<()> {
    sql.run(
        "UPDATE pending_confirmations SET status = ?, resolved_at = ?, resolved_by = ?
         WHERE consent_id = ? AND status = 'pending'",
        &[
            status.into(),
            now.into(),
            event_id.into(),
            consent_id.into(),
        ],
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct CategoryRow {
    category: String,
}

/// Of `categories`, those `phone` holds in `status` (pointing at `event_id` when given).
fn held(
    sql: &dyn Db,
    phone: &str,
    categories: &[Category],
    status: &str,
    event_id: Option<&str>,
) -> Result<Vec<Category>> {
    let rows: Vec<CategoryRow> = sql.rows(
        "SELECT category FROM subscriptions WHERE phone = ? AND status = ?
               AND (? IS NULL OR event_id = ?)",
        &[
            phone.into(),
            status.into(),
            event_id.into(),
            event_id.into(),
        ],
    )?;
    Ok(categories
        .iter()
        .filter(|c| rows.iter().any(|r| r.category == c.as_str()))
        .cloned()
        .collect())
}

/// Confirms `request` with a `confirm` event carrying `evidence`: its
/// categories still pending become granted. Returns the categories granted.
pub fn confirm(tx: &Tx, request: &Request, evidence: &str) -> Result<Vec<Category>> {
    let granted = held(
        tx.db,
        &request.phone,
        &request.categories(),
        "pending",
        None,
    )?;
    let (kind, status) = (EventKind::Confirm, SubscriptionStatus::Granted);
    let id = tx.record_all(&request.phone, &granted, kind, status, evidence)?;
    settle(tx.db, &request.consent_id, "confirmed", &id, tx.now)?;
    Ok(granted)
}

/// Settles all of `phone`'s waiting requests as `status` by event `event_id`:
/// `withdrawn` when they opted out, `confirmed` when their own message granted
/// the categories anyway.
pub fn settle_all(sql: &dyn Db, phone: &str, status: &str, event_id: &str, now: i64) -> Result<()> {
    sql.run(
        "UPDATE pending_confirmations SET status = ?, resolved_at = ?, resolved_by = ?
         WHERE phone = ? AND status = 'pending'",
        &[status.into(), now.into(), event_id.into(), phone.into()],
    )?;
    Ok(())
}

#[derive(Serialize)]
struct ExpiryEvidence<'a> {
    method: &'static str,
    consent_id: &'a str,
    requested_at: i64,
    expires_at: i64,
}

/// Expires every request past its time: an `expire` event each, and their
/// categories still pending from it become `expired`. Returns how many.
pub fn expire_due(tx: &Tx) -> Result<usize> {
    if !tx.expiry_may_be_due() {
        return Ok(0);
    }
    let (sql, now) = (tx.db, tx.now);
    let due: Vec<Request> = sql
        .rows(&format!(
                "SELECT {COLUMNS} FROM pending_confirmations WHERE status = 'pending' AND expires_at <= ?
                 ORDER BY expires_at LIMIT ?"
            ), &[now.into(), EXPIRE_BATCH.into()])?;
    for r in &due {
        let lapsed = held(
            sql,
            &r.phone,
            &r.categories(),
            "pending",
            Some(&r.consent_id),
        )?;
        let evidence = serde_json::to_string(&ExpiryEvidence {
            method: "double_opt_in_expiry",
            consent_id: &r.consent_id,
            requested_at: r.created_at,
            expires_at: r.expires_at,
        })
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let (kind, status) = (EventKind::Expire, SubscriptionStatus::Expired);
        let id = tx.record_all(&r.phone, &lapsed, kind, status, &evidence)?;
        settle(sql, &r.consent_id, "expired", &id, now)?;
        // A request still queued (held back by Graph errors) must never go out now.
        let scope = super::queue::Scope::Consent(&r.consent_id);
        super::queue::suppress(sql, scope, "double opt-in expired", now)?;
    }
    if due.len() < EXPIRE_BATCH as usize {
        tx.expiry_known(next_expiry(sql)?);
    }
    Ok(due.len())
}

/// Where consent `id` stands (expiries due applied first); `None` when no
/// such consent.
pub fn state(tx: &Tx, id: &str) -> Result<Option<ConsentState>> {
    expire_due(tx)?;
    if let Some(r) = find(tx.db, id)? {
        return Ok(Some(ConsentState {
            id: r.consent_id.clone(),
            status: ConsentProgress::of_request(&r.status),
            categories: r.categories(),
            pending_until: (r.status == "pending").then_some(r.expires_at),
            resolved_at: r.resolved_at,
        }));
    }
    #[derive(Deserialize)]
    struct GrantRow {
        categories: String,
    }
    let grant = tx
        .db
        .rows::<GrantRow>(
            "SELECT categories FROM events WHERE id = ? AND kind = 'grant'",
            &[id.into()],
        )?
        .pop();
    Ok(grant.map(|g| ConsentState {
        id: id.to_owned(),
        status: ConsentProgress::Granted,
        categories: serde_json::from_str(&g.categories).unwrap_or_default(),
        pending_until: None,
        resolved_at: None,
    }))
}

/// Counts the ledger's requests by state.
pub fn counts(sql: &dyn Db) -> Result<DoubleOptInCounts> {
    sql.one(
        "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending,
                    COALESCE(SUM(status = 'confirmed'), 0) AS confirmed,
                    COALESCE(SUM(status = 'expired'), 0) AS expired,
                    COALESCE(SUM(status = 'withdrawn'), 0) AS withdrawn
             FROM pending_confirmations",
        &[],
    )
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| worker::Error::RustError(e.to_string()))
}
