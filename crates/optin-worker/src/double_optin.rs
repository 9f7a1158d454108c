//! Double opt-in: with the site's `double_opt_in` on, a consent from the web is
//! recorded as a `grant` whose categories stay `pending` until the person taps
//! Confirm (`CONFIRM:<consent id>`) or replies YES in WhatsApp (a `confirm`
//! event makes them `granted`); unconfirmed after `expiry_hours`, an `expire`
//! event makes them `expired`. Expiry is applied by the ledger's alarm and,
//! lazily, before anything reads or changes a person's state.

use consent_core::{ids::uuid7, Category};
use serde::{Deserialize, Serialize};
use worker::{Env, Result, SqlStorage};

use crate::ledger::{random_bytes, SiteLedger};

/// One hour; `DOUBLE_OPT_IN_HOUR_MS` shortens it for tests (as `OUTBOX_BACKOFF_MS` does).
const HOUR_MS: i64 = 3_600_000;
/// Pending consents expired per call, so one run stays short (the alarm comes back).
const EXPIRE_BATCH: i64 = 100;

/// When a consent recorded at `now` with `expiry_hours` expires.
pub fn expires_at(env: &Env, expiry_hours: u32, now: i64) -> i64 {
    let hour = crate::outbox::env_ms(env, "DOUBLE_OPT_IN_HOUR_MS", 100..=HOUR_MS, HOUR_MS);
    now + i64::from(expiry_hours) * hour
}

/// Records that `consent_id` waits for `phone`'s confirmation of `categories`.
/// Synchronous, so it joins the consent's write.
pub fn open(
    sql: &SqlStorage,
    consent_id: &str,
    phone: &str,
    categories: &[Category],
    expires_at: i64,
    now: i64,
) -> Result<()> {
    sql.exec(
        "INSERT INTO pending_confirmations (consent_id, phone, categories, status, expires_at, created_at)
         VALUES (?, ?, ?, 'pending', ?, ?)",
        vec![
            consent_id.into(),
            phone.into(),
            json(categories)?.into(),
            expires_at.into(),
            now.into(),
        ],
    )?;
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
pub fn find(sql: &SqlStorage, consent_id: &str) -> Result<Option<Request>> {
    Ok(sql
        .exec(
            &format!("SELECT {COLUMNS} FROM pending_confirmations WHERE consent_id = ?"),
            vec![consent_id.into()],
        )?
        .to_array::<Request>()?
        .pop())
}

/// `phone`'s requests still waiting, oldest first.
pub fn pending_for(sql: &SqlStorage, phone: &str) -> Result<Vec<Request>> {
    sql.exec(
        &format!(
            "SELECT {COLUMNS} FROM pending_confirmations WHERE phone = ? AND status = 'pending'
             ORDER BY created_at, consent_id"
        ),
        vec![phone.into()],
    )?
    .to_array()
}

/// Every request of `phone`, for the admin view.
pub fn history(sql: &SqlStorage, phone: &str) -> Result<Vec<Request>> {
    sql.exec(
        &format!(
            "SELECT {COLUMNS} FROM pending_confirmations WHERE phone = ? ORDER BY created_at, consent_id"
        ),
        vec![phone.into()],
    )?
    .to_array()
}

/// For the sender: `Some(true)` when `consent_id`'s confirmation request may
/// still go out, `Some(false)` when it is settled or expired (never send it),
/// `None` when that consent asked for no confirmation.
pub fn request_open(sql: &SqlStorage, consent_id: &str, now: i64) -> Result<Option<bool>> {
    Ok(find(sql, consent_id)?.map(|r| r.status == "pending" && r.expires_at > now))
}

/// The earliest expiry still to apply, for the alarm.
pub fn next_expiry(sql: &SqlStorage) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Next {
        next: Option<i64>,
    }
    Ok(sql
        .exec(
            "SELECT MIN(expires_at) AS next FROM pending_confirmations WHERE status = 'pending'",
            None,
        )?
        .one::<Next>()?
        .next)
}

/// Marks a request settled by `event_id`.
fn settle(
    sql: &SqlStorage,
    consent_id: &str,
    status: &str,
    event_id: &str,
    now: i64,
) -> Result<()> {
    sql.exec(
        "UPDATE pending_confirmations SET status = ?, resolved_at = ?, resolved_by = ?
         WHERE consent_id = ? AND status = 'pending'",
        vec![
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
    sql: &SqlStorage,
    phone: &str,
    categories: &[Category],
    status: &str,
    event_id: Option<&str>,
) -> Result<Vec<Category>> {
    let rows: Vec<CategoryRow> = sql
        .exec(
            "SELECT category FROM subscriptions WHERE phone = ? AND status = ?
               AND (? IS NULL OR event_id = ?)",
            vec![
                phone.into(),
                status.into(),
                event_id.into(),
                event_id.into(),
            ],
        )?
        .to_array()?;
    Ok(categories
        .iter()
        .filter(|c| rows.iter().any(|r| r.category == c.as_str()))
        .copied()
        .collect())
}

/// Confirms `request` with a `confirm` event carrying `evidence`: its
/// categories still pending become granted. Returns the categories granted.
pub fn confirm(
    ledger: &SiteLedger,
    request: &Request,
    evidence: &str,
    now: i64,
) -> Result<Vec<Category>> {
    let sql = ledger.sql();
    let granted = held(&sql, &request.phone, &request.categories(), "pending", None)?;
    let id = uuid7(now as u64, random_bytes()?);
    ledger.append_event(&id, "confirm", &request.phone, &granted, now, evidence)?;
    for c in &granted {
        ledger.set_state(&request.phone, *c, "granted", &id, now)?;
    }
    settle(&sql, &request.consent_id, "confirmed", &id, now)?;
    Ok(granted)
}

/// Settles all of `phone`'s waiting requests as `status` by event `event_id`:
/// `withdrawn` when they opted out, `confirmed` when their own message granted
/// the categories anyway.
pub fn settle_all(
    sql: &SqlStorage,
    phone: &str,
    status: &str,
    event_id: &str,
    now: i64,
) -> Result<()> {
    sql.exec(
        "UPDATE pending_confirmations SET status = ?, resolved_at = ?, resolved_by = ?
         WHERE phone = ? AND status = 'pending'",
        vec![status.into(), now.into(), event_id.into(), phone.into()],
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
pub fn expire_due(ledger: &SiteLedger, now: i64) -> Result<usize> {
    let sql = ledger.sql();
    let due: Vec<Request> = sql
        .exec(
            &format!(
                "SELECT {COLUMNS} FROM pending_confirmations WHERE status = 'pending' AND expires_at <= ?
                 ORDER BY expires_at LIMIT ?"
            ),
            vec![now.into(), EXPIRE_BATCH.into()],
        )?
        .to_array()?;
    for r in &due {
        let lapsed = held(
            &sql,
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
        let id = uuid7(now as u64, random_bytes()?);
        ledger.append_event(&id, "expire", &r.phone, &lapsed, now, &evidence)?;
        for c in &lapsed {
            ledger.set_state(&r.phone, *c, "expired", &id, now)?;
        }
        settle(&sql, &r.consent_id, "expired", &id, now)?;
        // A request still queued (held back by Graph errors) must never go out now.
        sql.exec(
            "UPDATE outbox SET status = 'suppressed', last_error = 'double opt-in expired', updated_at = ?
             WHERE consent_id = ? AND status = 'pending'",
            vec![now.into(), r.consent_id.as_str().into()],
        )?;
    }
    Ok(due.len())
}

/// How many requests are in each state, for the stats.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Counts {
    /// Waiting for the person.
    pub pending: i64,
    /// Confirmed in WhatsApp.
    pub confirmed: i64,
    /// Not confirmed in time.
    pub expired: i64,
    /// The person opted out before confirming.
    pub withdrawn: i64,
}

impl Counts {
    /// Adds another shard's counts.
    pub fn add(&mut self, o: &Counts) {
        self.pending += o.pending;
        self.confirmed += o.confirmed;
        self.expired += o.expired;
        self.withdrawn += o.withdrawn;
    }
}

/// Counts the ledger's requests by state.
pub fn counts(sql: &SqlStorage) -> Result<Counts> {
    sql.exec(
        "SELECT COALESCE(SUM(status = 'pending'), 0) AS pending,
                    COALESCE(SUM(status = 'confirmed'), 0) AS confirmed,
                    COALESCE(SUM(status = 'expired'), 0) AS expired,
                    COALESCE(SUM(status = 'withdrawn'), 0) AS withdrawn
             FROM pending_confirmations",
        None,
    )?
    .one()
}

fn json<T: Serialize + ?Sized>(v: &T) -> Result<String> {
    serde_json::to_string(v).map_err(|e| worker::Error::RustError(e.to_string()))
}
