//! The outbox table: what is queued to go to the Graph API, its status as
//! webhooks report it, and the one suppression rule. The sender that drains it
//! is `outbox.rs`; this module never sends.

use consent_core::{site::WhatsAppConfig, Category, SiteConfig};
use serde::Deserialize;
use whatsapp_cloud_api::{webhook::Status, MessageRequest};
use worker::Result;

use super::store::Db;
use crate::protocol::{OutboxView, StatusView};

/// Queues the confirmation for `consent_id`. Synchronous, so it joins the consent's write.
pub fn enqueue(
    sql: &dyn Db,
    consent_id: &str,
    phone: &str,
    site: &SiteConfig,
    message: &MessageRequest,
    now: i64,
) -> Result<()> {
    enqueue_row(sql, consent_id, consent_id, phone, site, message, now)
}

/// Queues any message under its own outbox `id`, linked to the event `consent_id`.
pub fn enqueue_row(
    sql: &dyn Db,
    id: &str,
    consent_id: &str,
    phone: &str,
    site: &SiteConfig,
    message: &MessageRequest,
    now: i64,
) -> Result<()> {
    let row = Row {
        id,
        consent_id,
        phone,
        category: None,
    };
    enqueue_for(sql, row, &site.whatsapp, message, now)
}

/// Which outbox row to write.
pub struct Row<'a> {
    /// The row's id.
    pub id: &'a str,
    /// The event (or message decision) it belongs to.
    pub consent_id: &'a str,
    /// E.164.
    pub phone: &'a str,
    /// A business message's category: the sender checks the person still wants it.
    pub category: Option<&'a Category>,
}

/// Queues `message` as `row` from the site's business number.
pub fn enqueue_for(
    sql: &dyn Db,
    row: Row<'_>,
    whatsapp: &WhatsAppConfig,
    message: &MessageRequest,
    now: i64,
) -> Result<()> {
    let request =
        serde_json::to_string(message).map_err(|e| worker::Error::RustError(e.to_string()))?;
    sql.run(
        "INSERT INTO outbox (id, consent_id, phone, phone_number_id, token_secret, request,
           status, attempts, next_attempt_at, created_at, updated_at, category)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?, ?)",
        &[
            row.id.into(),
            row.consent_id.into(),
            row.phone.into(),
            whatsapp.phone_number_id.as_str().into(),
            whatsapp.token_secret.as_deref().unwrap_or_default().into(),
            request.into(),
            now.into(),
            now.into(),
            now.into(),
            row.category.map(Category::as_str).into(),
        ],
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct ViewRow {
    id: String,
    consent_id: String,
    status: String,
    attempts: i64,
    wamid: Option<String>,
    last_error: Option<String>,
    request: String,
    created_at: i64,
    updated_at: i64,
}

/// Every confirmation queued for `phone`.
pub fn for_phone(sql: &dyn Db, phone: &str) -> Result<Vec<OutboxView>> {
    let rows: Vec<ViewRow> = sql
        .rows("SELECT id, consent_id, status, attempts, wamid, last_error, request, created_at, updated_at
             FROM outbox WHERE phone = ? AND category IS NULL ORDER BY created_at, id", &[phone.into()])?;
    rows.into_iter()
        .map(|r| {
            let request: serde_json::Value = serde_json::from_str(&r.request).unwrap_or_default();
            let statuses = statuses_of(sql, r.wamid.as_deref(), &r.id)?;
            Ok(OutboxView {
                consent_id: r.consent_id,
                status: r.status,
                attempts: r.attempts,
                wamid: r.wamid,
                last_error: r.last_error,
                template: request.get("template").cloned().unwrap_or_default(),
                created_at: r.created_at,
                updated_at: r.updated_at,
                kind: request["type"].as_str().unwrap_or_default().to_owned(),
                text: request["text"]["body"].as_str().map(String::from),
                statuses,
            })
        })
        .collect()
}

pub(super) fn statuses_of(sql: &dyn Db, wamid: Option<&str>, id: &str) -> Result<Vec<StatusView>> {
    sql.rows(
        "SELECT status, ts AS timestamp, error_code, error_title, received_at, pricing_category
         FROM message_statuses WHERE wamid = ? OR outbox_id = ? ORDER BY received_at, rowid",
        &[wamid.unwrap_or("").into(), id.into()],
    )
}

/// How far along a status is; a row never moves to a lower rank.
/// `failed` counts as 2 so it cannot undo `delivered`/`read`, and a failed row
/// (rank 4 in SQL) takes no later status.
fn rank(status: &str) -> Option<i64> {
    match status {
        "sent" => Some(1),
        "delivered" | "failed" => Some(2),
        "read" => Some(3),
        _ => None,
    }
}

/// Applies one status webhook to its outbox row (by wamid, or by our
/// `biz_opaque_callback_data`, which is the row id). Returns false for a
/// duplicate (same wamid and status) or an unknown status.
pub fn apply_status(sql: &dyn Db, s: &Status, now: i64) -> Result<bool> {
    let Some(rank) = rank(&s.status) else {
        return Ok(false);
    };
    let outbox_id = s.biz_opaque_callback_data.clone().unwrap_or_default();
    let error = s.errors.first();
    let fresh: Vec<serde_json::Value> = sql
        .rows("INSERT INTO message_statuses (wamid, status, outbox_id, ts, error_code, error_title, received_at, pricing_category)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING wamid", &[
                s.id.as_str().into(),
                s.status.as_str().into(),
                outbox_id.as_str().into(),
                s.timestamp.parse::<i64>().unwrap_or(0).into(),
                error.and_then(|e| e.code).into(),
                error.map(|e| e.summary()).into(),
                now.into(),
                s.pricing.as_ref().and_then(|p| p.category.clone()).into(),
            ])?;
    if fresh.is_empty() {
        return Ok(false);
    }
    let last_error = error.map(|e| e.summary());
    sql.run(
        "UPDATE outbox SET status = ?, wamid = COALESCE(wamid, ?),
           last_error = COALESCE(?, last_error), updated_at = ?
         WHERE (wamid = ? OR id = ?)
           AND (CASE status WHEN 'sent' THEN 1 WHEN 'delivered' THEN 2 WHEN 'read' THEN 3
                WHEN 'failed' THEN 4 ELSE 0 END) < ?",
        &[
            s.status.as_str().into(),
            s.id.as_str().into(),
            last_error.into(),
            now.into(),
            s.id.as_str().into(),
            outbox_id.into(),
            rank.into(),
        ],
    )?;
    Ok(true)
}

/// Which queued messages a suppression stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scope<'a> {
    /// Every template queued for a phone (they withdrew); replies to their own
    /// messages (the STOP confirmation, HELP) still go.
    Templates(&'a str),
    /// Everything queued for a phone, replies too (the number changed hands).
    Everything(&'a str),
    /// What one consent queued (its double opt-in expired).
    Consent(&'a str),
    /// One row.
    Row(&'a str),
}

/// Stops what `scope` names that has not left yet (pending, or held by the burst
/// breaker), with `reason` as its last error: the one suppression rule.
pub fn suppress(sql: &dyn Db, scope: Scope<'_>, reason: &str, now: i64) -> Result<()> {
    let (filter, key) = match scope {
        Scope::Templates(phone) => (
            "phone = ? AND json_extract(request, '$.type') = 'template'",
            phone,
        ),
        Scope::Everything(phone) => ("phone = ?", phone),
        Scope::Consent(id) => ("consent_id = ?", id),
        Scope::Row(id) => ("id = ?", id),
    };
    sql.run(
        &format!(
            "UPDATE outbox SET status = 'suppressed', last_error = ?, updated_at = ?
             WHERE status IN ('pending', 'held') AND {filter}"
        ),
        &[reason.into(), now.into(), key.into()],
    )
}

/// Holds a just-queued row for the burst breaker (only if it is still pending).
pub fn hold(sql: &dyn Db, id: &str, now: i64) -> Result<()> {
    sql.run(
        "UPDATE outbox SET status = 'held', updated_at = ? WHERE id = ? AND status = 'pending'",
        &[now.into(), id.into()],
    )
}
