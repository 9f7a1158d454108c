//! The outbox sender: the alarm drains due rows of the outbox table
//! (`queue.rs`) to the Graph API, with backoff that follows the Graph API
//! error's retry class.

use futures_util::future::Either;
use serde::Deserialize;
use whatsapp_cloud_api::{messages_path, ErrorEnvelope, RetryClass, SendResponse};
use worker::{
    AbortController, AbortSignal, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Result,
    State,
};

use super::{
    settings::env_ms,
    store::Db,
    tx::{Keys, Tx},
};

/// Attempts before a send is given up as failed.
const MAX_ATTEMPTS: i64 = 8;
/// Rows handled per alarm run, so one run stays short.
const BATCH: i64 = 25;
/// Default base backoff; `OUTBOX_BACKOFF_MS` overrides it (tests make it small).
const BACKOFF_UNIT_MS: i64 = 1_000;
/// How long a row may sit in 'sending' before it is presumed never accepted.
/// Meta posts a status webhook for every accepted message, which moves the row
/// on; only without one is a retry safe from sending twice.
/// `OUTBOX_SENDING_GRACE_MS` overrides it (tests make it small).
const SENDING_GRACE_MS: i64 = 10 * 60 * 1_000;
/// How long one send call may take before it counts as unanswered;
/// `OUTBOX_SEND_TIMEOUT_MS` overrides it.
const SEND_TIMEOUT_MS: i64 = 15_000;

#[derive(Deserialize)]
struct DueRow {
    id: String,
    consent_id: String,
    phone: String,
    phone_number_id: String,
    token_secret: String,
    request: String,
    attempts: i64,
    /// A business message's category (`sending.rs`); none for our own messages.
    category: Option<String>,
}

#[derive(Deserialize)]
struct NextRow {
    next: Option<i64>,
}

/// What one send attempt came to.
enum Outcome {
    Sent(String),
    Retry {
        class: RetryClass,
        error: String,
    },
    Failed(String),
    /// 131050: the person stopped marketing messages; never retried, recorded as their choice.
    MarketingStopped(String),
    /// No usable answer (connection lost, timeout, unreadable 2xx): Meta may
    /// have accepted it. The row stays 'sending' until a status webhook moves
    /// it on, or the grace period passes without one.
    Unknown(String),
    /// The site's sending is broken (token, account, spam limit): hold every row.
    Halt(String),
}

/// Sends every due row, then re-arms the alarm for the earliest pending one.
pub async fn deliver_due(state: &State, env: &Env, keys: &Keys) -> Result<()> {
    let storage = state.storage().sql();
    let sql: &dyn Db = &storage;
    let now = super::clock::now(env, sql)?;
    let grace = env_ms(
        env,
        "OUTBOX_SENDING_GRACE_MS",
        1..=86_400_000,
        SENDING_GRACE_MS,
    );
    release_stuck(sql, now, grace)?;
    if super::halt::current(sql)?.is_some() {
        // Held: pending rows wait for an admin to resume (which re-arms the alarm).
        return arm_for_expiry(state, env, sql).await;
    }
    let due: Vec<DueRow> = sql.rows(
        "SELECT id, consent_id, phone, phone_number_id, token_secret, request, attempts, category FROM outbox
             WHERE status = 'pending' AND next_attempt_at <= ? ORDER BY next_attempt_at LIMIT ?",
        &[now.into(), BATCH.into()],
    )?;
    let unit = backoff_unit(env);
    let pace = super::throughput::Pace::from_env(env);
    // The site whose stored Graph token sends (named ledgers know their name).
    let site = state
        .id()
        .name()
        .map(|n| consent_core::Jurisdiction::site_of_ledger(&n).to_owned())
        .unwrap_or_default();
    // Only a send awaits: until the first, the halt read above still holds.
    let mut awaited = false;
    for row in due {
        if is_template(&row) && !may_send_template(sql, &row, now)? {
            mark(sql, &row.id, "suppressed", now)?;
            continue;
        }
        if let Some(reason) = no_longer_wanted(sql, keys, env, &row, now)? {
            super::queue::suppress(sql, super::queue::Scope::Row(&row.id), &reason, now)?;
            continue;
        }
        if awaited && super::halt::current(sql)?.is_some() {
            break;
        }
        let now = super::clock::now(env, sql)?;
        if let Some(at) =
            super::throughput::wait_until(sql, &pace, &row.phone, &row.phone_number_id, now)?
        {
            // Too soon for this person or this number: later, and not an attempt.
            sql.run(
                "UPDATE outbox SET next_attempt_at = ? WHERE id = ? AND status = 'pending'",
                &[at.into(), row.id.as_str().into()],
            )?;
            continue;
        }
        // Durable before the fetch: a crash after Meta accepts cannot resend at once.
        // Claimed only if still pending, so no other run can send it as well.
        if !claim(sql, &row.id, now)? {
            continue;
        }
        super::throughput::count_call(sql, &row.phone_number_id, now)?;
        let outcome = send(env, &site, &row).await;
        awaited = true;
        if let Outcome::MarketingStopped(_) = &outcome {
            let evidence =
                super::inbound::MarketingEvidence::error_131050("", &row.phone_number_id);
            let wa_id = row.phone.trim_start_matches('+');
            let tx = Tx {
                db: sql,
                keys,
                now,
                hour_ms: super::double_optin::hour_ms(env),
                next_expiry: None,
                endpoints: None,
            };
            super::inbound::marketing_choice(&tx, wa_id, "stop", &evidence)?;
        }
        let answered_at = super::clock::now(env, sql)?;
        record_outcome(sql, &row, outcome, unit, answered_at)?;
    }
    if super::halt::current(sql)?.is_some() {
        return arm_for_expiry(state, env, sql).await;
    }
    let next = sql
        .one::<NextRow>(
            "SELECT MIN(at) AS next FROM (
               SELECT next_attempt_at AS at FROM outbox WHERE status = 'pending'
               UNION ALL
               SELECT updated_at + ? AS at FROM outbox WHERE status = 'sending')",
            &[grace.into()],
        )?
        .next;
    // Wake up for the next double opt-in expiry too (the alarm applies it).
    let next = earliest(next, super::double_optin::next_expiry(sql)?);
    let next = earliest(next, super::retention::next_sweep(sql)?);
    if let Some(at) = next {
        let now = super::clock::now(env, sql)?;
        state.storage().set_alarm((at - now).max(0)).await?;
    }
    Ok(())
}

/// While sending is halted the alarm still comes back for double opt-in expiries.
async fn arm_for_expiry(state: &State, env: &Env, sql: &dyn Db) -> Result<()> {
    let next = earliest(
        super::double_optin::next_expiry(sql)?,
        super::retention::next_sweep(sql)?,
    );
    if let Some(at) = next {
        let now = super::clock::now(env, sql)?;
        state.storage().set_alarm((at - now).max(0)).await?;
    }
    Ok(())
}

fn earliest(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// A row left in 'sending' (the isolate died mid-send) with no status webhook
/// after the grace period was most likely never accepted: send it again.
pub(super) fn release_stuck(sql: &dyn Db, now: i64, grace: i64) -> Result<()> {
    sql.run(
        "UPDATE outbox SET status = CASE WHEN attempts >= ? THEN 'failed' ELSE 'pending' END,
           next_attempt_at = ?, updated_at = ?,
           last_error = 'no answer or status webhook within the grace period; retrying'
         WHERE status = 'sending' AND updated_at <= ?",
        &[
            MAX_ATTEMPTS.into(),
            now.into(),
            now.into(),
            (now - grace).into(),
        ],
    )?;
    Ok(())
}

#[derive(Deserialize)]
struct IdRow {
    #[allow(dead_code)]
    id: String,
}

/// Marks a pending row 'sending'; false when it is no longer pending.
pub(super) fn claim(sql: &dyn Db, id: &str, now: i64) -> Result<bool> {
    let claimed: Vec<IdRow> = sql.rows(
        "UPDATE outbox SET status = 'sending', updated_at = ?
             WHERE id = ? AND status = 'pending' RETURNING id",
        &[now.into(), id.into()],
    )?;
    Ok(!claimed.is_empty())
}

fn mark(sql: &dyn Db, id: &str, status: &str, now: i64) -> Result<()> {
    sql.run(
        "UPDATE outbox SET status = ?, updated_at = ? WHERE id = ?",
        &[status.into(), now.into(), id.into()],
    )?;
    Ok(())
}

/// Templates are business-initiated and need a standing opt-in; text replies
/// answer the person's own message (their STOP included).
fn is_template(row: &DueRow) -> bool {
    serde_json::from_str::<serde_json::Value>(&row.request)
        .map(|v| v["type"] == "template")
        .unwrap_or(true)
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

/// A double opt-in request goes out only while its consent still waits (not
/// confirmed, expired or withdrawn); any other template needs a granted
/// category: nothing is sent to someone who has not confirmed.
fn may_send_template(sql: &dyn Db, row: &DueRow, now: i64) -> Result<bool> {
    match super::double_optin::request_open(sql, &row.consent_id, now)? {
        Some(open) => Ok(open),
        None => has_grant(sql, &row.phone),
    }
}

/// A business message whose person withdrew the category or paused since it
/// was queued (or whose window closed, for text) does not leave: why, if so.
fn no_longer_wanted(
    sql: &dyn Db,
    keys: &Keys,
    env: &Env,
    row: &DueRow,
    now: i64,
) -> Result<Option<String>> {
    let Some(category) = row
        .category
        .as_deref()
        .and_then(consent_core::Category::parse)
    else {
        return Ok(None);
    };
    let tx = Tx {
        db: sql,
        keys,
        now,
        hour_ms: super::double_optin::hour_ms(env),
        next_expiry: None,
        endpoints: None,
    };
    let text = !is_template(row);
    let refused = super::sending::still_refused(&tx, &row.id, &row.phone, &category, text)?;
    Ok(refused.map(|r| format!("no longer wanted before it left: {}", r.slug())))
}

fn has_grant(sql: &dyn Db, phone: &str) -> Result<bool> {
    let row: CountRow = sql.one(
        "SELECT COUNT(*) AS n FROM subscriptions WHERE phone = ? AND status = 'granted'",
        &[phone.into()],
    )?;
    Ok(row.n > 0)
}

fn backoff_unit(env: &Env) -> i64 {
    env_ms(env, "OUTBOX_BACKOFF_MS", 1..=60_000, BACKOFF_UNIT_MS)
}

async fn send(env: &Env, site: &str, row: &DueRow) -> Outcome {
    let timeout = env_ms(
        env,
        "OUTBOX_SEND_TIMEOUT_MS",
        100..=120_000,
        SEND_TIMEOUT_MS,
    );
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = try_send(env, site, row, &signal);
    let deadline = Delay::from(std::time::Duration::from_millis(timeout as u64));
    futures_util::pin_mut!(call);
    match futures_util::future::select(call, deadline).await {
        Either::Left((Ok(outcome), _)) => outcome,
        // The request may have reached Meta before the connection failed.
        Either::Left((Err(e), _)) => Outcome::Unknown(format!("no answer: {e}")),
        Either::Right(((), _)) => {
            controller.abort();
            Outcome::Unknown(format!("no answer within {timeout} ms"))
        }
    }
}

async fn try_send(env: &Env, site: &str, row: &DueRow, signal: &AbortSignal) -> Result<Outcome> {
    let base = crate::vars::text(env, "GRAPH_BASE")
        .ok_or_else(|| worker::Error::RustError("GRAPH_BASE is not set".into()))?;
    let version = crate::vars::text(env, "GRAPH_VERSION")
        .ok_or_else(|| worker::Error::RustError("GRAPH_VERSION is not set".into()))?;
    let secret = Some(row.token_secret.as_str()).filter(|s| !s.is_empty());
    let token = match crate::credentials::graph_token(env, site, secret).await {
        Ok(t) => t,
        Err(e @ crate::credentials::CredentialError::NoToken(_)) => {
            return Ok(Outcome::Failed(e.to_string()))
        }
        // A stored token that cannot be opened breaks every send of the site:
        // hold them all until the key is fixed.
        Err(e) => return Ok(Outcome::Halt(e.to_string())),
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
    let resp = Fetch::Request(Request::new_with_init(&url, &init)?)
        .send_with_signal(signal)
        .await?;
    let status = resp.status_code();
    let body = crate::http::answer_text(resp).await?;
    if (200..300).contains(&status) {
        return Ok(match serde_json::from_str::<SendResponse>(&body) {
            Ok(ok) => match ok.message_id() {
                Some(id) => Outcome::Sent(id.to_owned()),
                None => Outcome::Unknown("success response without a message id".into()),
            },
            Err(e) => Outcome::Unknown(format!("unreadable success body: {e}")),
        });
    }
    Ok(match serde_json::from_str::<ErrorEnvelope>(&body) {
        Ok(env) => classify(
            env.error.retry_class_at(status),
            format!("{} {}", env.error.code, env.error.message),
        ),
        Err(_) => classify(
            RetryClass::for_http_status(status),
            format!("HTTP {status}"),
        ),
    })
}

fn classify(class: RetryClass, error: String) -> Outcome {
    match class {
        RetryClass::HaltSite => Outcome::Halt(error),
        RetryClass::MarketingStopped => Outcome::MarketingStopped(error),
        c if c.retries() => Outcome::Retry { class, error },
        _ => Outcome::Failed(error),
    }
}

/// Records a send's outcome. A status webhook may have overtaken the answer
/// (it carries our row id), so a row already past 'sending' keeps its status.
fn record_outcome(sql: &dyn Db, row: &DueRow, outcome: Outcome, unit: i64, now: i64) -> Result<()> {
    let attempts = row.attempts + 1;
    if matches!(outcome, Outcome::Sent(_) | Outcome::Unknown(_)) {
        super::throughput::note_sent(sql, &row.phone, now)?;
    }
    match outcome {
        Outcome::Sent(wamid) => sql.run(
            "UPDATE outbox SET status = CASE status WHEN 'sending' THEN 'sent' ELSE status END,
               attempts = ?, wamid = ?, last_error = NULL, updated_at = ? WHERE id = ?",
            &[
                attempts.into(),
                wamid.into(),
                now.into(),
                row.id.as_str().into(),
            ],
        )?,
        Outcome::Retry { class, error } if attempts < class.max_attempts().min(MAX_ATTEMPTS) => {
            let next = now + backoff_ms(class, attempts, unit);
            leave_sending(sql, row, "pending", Some(next), attempts, &error, now)?
        }
        // No usable answer: stays `sending` until its status webhook or the grace period.
        Outcome::Unknown(error) => leave_sending(sql, row, "sending", None, attempts, &error, now)?,
        Outcome::Halt(error) => {
            super::halt::halt(sql, &error, &row.id, now)?;
            leave_sending(sql, row, "pending", Some(now), attempts, &error, now)?
        }
        Outcome::Retry { error, .. }
        | Outcome::Failed(error)
        | Outcome::MarketingStopped(error) => {
            leave_sending(sql, row, "failed", None, attempts, &error, now)?
        }
    };
    Ok(())
}

/// Records an attempt on a row this run claimed (still `sending`): its new
/// status, when to try next (kept when `None`), and the error.
fn leave_sending(
    sql: &dyn Db,
    row: &DueRow,
    status: &str,
    next_attempt_at: Option<i64>,
    attempts: i64,
    error: &str,
    now: i64,
) -> Result<()> {
    sql.run(
        "UPDATE outbox SET status = ?, attempts = ?,
           next_attempt_at = COALESCE(?, next_attempt_at), last_error = ?, updated_at = ?
         WHERE id = ? AND status = 'sending'",
        &[
            status.into(),
            attempts.into(),
            next_attempt_at.into(),
            error.into(),
            now.into(),
            row.id.as_str().into(),
        ],
    )
}

/// Exponential backoff with jitter, in multiples of `unit` (1 s by default);
/// a rate-limited recipient waits at least 6 units (Meta: ~1 message per 6 s).
fn backoff_ms(class: RetryClass, attempts: i64, unit: i64) -> i64 {
    let base: i64 = match class {
        RetryClass::RecipientLater => 6 * unit,
        RetryClass::MuchLater => 3_600 * unit,
        _ => unit,
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
            let b = backoff_ms(RetryClass::Backoff, attempts, 1_000);
            assert!(b >= 500 + (1_000 << attempts) / 2, "{attempts}: {b}");
            assert!(b <= 500 + (1_000 << attempts), "{attempts}: {b}");
            assert!(backoff_ms(RetryClass::RecipientLater, attempts, 1_000) >= 6_000);
            assert!(backoff_ms(RetryClass::Backoff, attempts, 20) <= 10 + (20 << attempts));
        }
    }
}
