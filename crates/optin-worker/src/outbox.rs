//! The confirmation outbox: rows written with the consent, sent by the alarm
//! with backoff that follows the Graph API error's retry class.

use consent_core::SiteConfig;
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::{messages_path, ErrorEnvelope, MessageRequest, RetryClass, SendResponse};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Result, SqlStorage, State};

/// Attempts before a send is given up as failed.
const MAX_ATTEMPTS: i64 = 8;
/// Rows handled per alarm run, so one run stays short.
const BATCH: i64 = 25;

/// Queues the confirmation for `consent_id`. Synchronous, so it joins the consent's write.
pub fn enqueue(
    sql: &SqlStorage,
    consent_id: &str,
    phone: &str,
    site: &SiteConfig,
    message: &MessageRequest,
    now: i64,
) -> Result<()> {
    let request =
        serde_json::to_string(message).map_err(|e| worker::Error::RustError(e.to_string()))?;
    sql.exec(
        "INSERT INTO outbox (id, consent_id, phone, phone_number_id, token_secret, request,
           status, attempts, next_attempt_at, created_at, updated_at)
         VALUES (?, ?, ?, ?, ?, ?, 'pending', 0, ?, ?, ?)",
        vec![
            consent_id.into(),
            consent_id.into(),
            phone.into(),
            site.whatsapp.phone_number_id.as_str().into(),
            site.whatsapp.token_secret.as_str().into(),
            request.into(),
            now.into(),
            now.into(),
            now.into(),
        ],
    )?;
    Ok(())
}

/// A confirmation as the admin API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxView {
    consent_id: String,
    status: String,
    attempts: i64,
    wamid: Option<String>,
    last_error: Option<String>,
    template: serde_json::Value,
    created_at: i64,
    updated_at: i64,
}

#[derive(Deserialize)]
struct ViewRow {
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
pub fn for_phone(sql: &SqlStorage, phone: &str) -> Result<Vec<OutboxView>> {
    let rows: Vec<ViewRow> = sql
        .exec(
            "SELECT consent_id, status, attempts, wamid, last_error, request, created_at, updated_at
             FROM outbox WHERE phone = ? ORDER BY created_at",
            vec![phone.into()],
        )?
        .to_array()?;
    Ok(rows
        .into_iter()
        .map(|r| {
            let request: serde_json::Value = serde_json::from_str(&r.request).unwrap_or_default();
            OutboxView {
                consent_id: r.consent_id,
                status: r.status,
                attempts: r.attempts,
                wamid: r.wamid,
                last_error: r.last_error,
                template: request.get("template").cloned().unwrap_or_default(),
                created_at: r.created_at,
                updated_at: r.updated_at,
            }
        })
        .collect())
}

#[derive(Deserialize)]
struct DueRow {
    id: String,
    phone_number_id: String,
    token_secret: String,
    request: String,
    attempts: i64,
}

#[derive(Deserialize)]
struct NextRow {
    next: Option<i64>,
}

/// What one send attempt came to.
enum Outcome {
    Sent(String),
    Retry { class: RetryClass, error: String },
    Failed(String),
}

/// Sends every due row, then re-arms the alarm for the earliest pending one.
pub async fn deliver_due(state: &State, env: &Env) -> Result<()> {
    let sql = state.storage().sql();
    let now = worker::Date::now().as_millis() as i64;
    let due: Vec<DueRow> = sql
        .exec(
            "SELECT id, phone_number_id, token_secret, request, attempts FROM outbox
             WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
            vec![now.into(), BATCH.into()],
        )?
        .to_array()?;
    for row in due {
        let outcome = send(env, &row).await;
        record_outcome(&sql, &row, outcome)?;
    }
    let next = sql
        .exec(
            "SELECT MIN(next_attempt_at) AS next FROM outbox WHERE status = 'pending'",
            None,
        )?
        .one::<NextRow>()?
        .next;
    if let Some(at) = next {
        let now = worker::Date::now().as_millis() as i64;
        state.storage().set_alarm((at - now).max(0)).await?;
    }
    Ok(())
}

async fn send(env: &Env, row: &DueRow) -> Outcome {
    match try_send(env, row).await {
        Ok(outcome) => outcome,
        Err(e) => Outcome::Retry {
            class: RetryClass::Backoff,
            error: format!("network: {e}"),
        },
    }
}

async fn try_send(env: &Env, row: &DueRow) -> Result<Outcome> {
    let base = env.var("GRAPH_BASE")?.to_string();
    let version = env.var("GRAPH_VERSION")?.to_string();
    let token = match env.secret(&row.token_secret) {
        Ok(t) => t.to_string(),
        Err(_) => {
            return Ok(Outcome::Failed(format!(
                "secret {} is not set",
                row.token_secret
            )))
        }
    };
    let headers = Headers::new();
    headers.set("Authorization", &format!("Bearer {token}"))?;
    headers.set("Content-Type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(row.request.as_str().into()));
    let url = format!(
        "{}{}",
        base.trim_end_matches('/'),
        messages_path(&version, &row.phone_number_id)
    );
    let mut resp = Fetch::Request(Request::new_with_init(&url, &init)?)
        .send()
        .await?;
    let status = resp.status_code();
    let body = resp.text().await.unwrap_or_default();
    if (200..300).contains(&status) {
        return Ok(match serde_json::from_str::<SendResponse>(&body) {
            Ok(ok) => match ok.message_id() {
                Some(id) => Outcome::Sent(id.to_owned()),
                None => Outcome::Failed("success response without a message id".into()),
            },
            Err(e) => Outcome::Retry {
                class: RetryClass::Backoff,
                error: format!("unreadable success body: {e}"),
            },
        });
    }
    Ok(match serde_json::from_str::<ErrorEnvelope>(&body) {
        Ok(env) => classify(
            env.error.retry_class(),
            format!("{} {}", env.error.code, env.error.message),
        ),
        Err(_) => classify(
            RetryClass::for_http_status(status),
            format!("HTTP {status}"),
        ),
    })
}

fn classify(class: RetryClass, error: String) -> Outcome {
    if class.retries() {
        Outcome::Retry { class, error }
    } else {
        Outcome::Failed(error)
    }
}

fn record_outcome(sql: &SqlStorage, row: &DueRow, outcome: Outcome) -> Result<()> {
    let now = worker::Date::now().as_millis() as i64;
    let attempts = row.attempts + 1;
    match outcome {
        Outcome::Sent(wamid) => sql.exec(
            "UPDATE outbox SET status = 'sent', attempts = ?, wamid = ?, last_error = NULL,
               updated_at = ? WHERE id = ?",
            vec![
                attempts.into(),
                wamid.into(),
                now.into(),
                row.id.as_str().into(),
            ],
        )?,
        Outcome::Retry { class, error } if attempts < MAX_ATTEMPTS => sql.exec(
            "UPDATE outbox SET attempts = ?, next_attempt_at = ?, last_error = ?, updated_at = ?
             WHERE id = ?",
            vec![
                attempts.into(),
                (now + backoff_ms(class, attempts)).into(),
                error.into(),
                now.into(),
                row.id.as_str().into(),
            ],
        )?,
        Outcome::Retry { error, .. } | Outcome::Failed(error) => sql.exec(
            "UPDATE outbox SET status = 'failed', attempts = ?, last_error = ?, updated_at = ?
             WHERE id = ?",
            vec![
                attempts.into(),
                error.into(),
                now.into(),
                row.id.as_str().into(),
            ],
        )?,
    };
    Ok(())
}

/// Exponential backoff with jitter; a rate-limited recipient waits at least 6 s.
fn backoff_ms(class: RetryClass, attempts: i64) -> i64 {
    let base: i64 = match class {
        RetryClass::RecipientLater => 6_000,
        RetryClass::MuchLater => 3_600_000,
        _ => 1_000,
    };
    let exp = base
        .saturating_mul(1 << attempts.clamp(0, 10))
        .min(3_600_000);
    let mut r = [0u8; 2];
    let jitter = match getrandom::fill(&mut r) {
        Ok(()) => i64::from(u16::from_le_bytes(r)) * exp / 2 / 65_535,
        Err(_) => 0,
    };
    exp / 2 + jitter + base / 2
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_respects_the_pair_limit() {
        for attempts in 1..8 {
            let b = backoff_ms(RetryClass::Backoff, attempts);
            assert!(b >= 500 + (1_000 << attempts) / 2, "{attempts}: {b}");
            assert!(b <= 500 + (1_000 << attempts), "{attempts}: {b}");
            assert!(backoff_ms(RetryClass::RecipientLater, attempts) >= 6_000);
        }
    }
}
