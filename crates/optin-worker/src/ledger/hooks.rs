//! Webhooks out to the merchant's systems, following Standard Webhooks.
//!
//! Every chained event (and every message status) is queued here in the same
//! SQL write that records it, one delivery row per endpoint that wants it, so
//! nothing recorded is lost and recording never waits on the network. The
//! alarm delivers due rows: claimed before the fetch, a timeout on each,
//! exponential backoff with jitter, and per subscriber in order (a row waits
//! while an earlier one of the same person for the same endpoint is not yet
//! delivered). An endpoint failing for the whole retry period is disabled
//! until the merchant resumes it.

use std::cell::Cell;

use consent_core::{
    states::{EventKind, EvidenceMethod, OptOutSource, SubscriptionStatus},
    stats::Day,
    Category,
};
use futures_util::future::Either;
use serde::Deserialize;
use serde_json::{json, Value as Json};
use worker::{
    AbortController, Delay, Env, Fetch, Headers, Method, Request, RequestInit, Result, State,
};

use super::{settings::env_ms, store::Db, tx::Tx};
use crate::protocol::{
    signature_header, HookDeliveries, HookDeliveryView, HookEndpoint, HookEndpointState,
    HookEventType, HooksReplayed,
};

/// First retry after about this long; `HOOK_BACKOFF_MS` overrides it.
const BACKOFF_UNIT_MS: i64 = 5_000;
/// Retries are never further apart than this; `HOOK_BACKOFF_CAP_MS` overrides it.
const BACKOFF_CAP_MS: i64 = 3_600_000;
/// How long one delivery may take; `HOOK_TIMEOUT_MS` overrides it.
const TIMEOUT_MS: i64 = 10_000;
/// An endpoint failing this long without one success is disabled;
/// `HOOK_DISABLE_AFTER_MS` overrides it.
const DISABLE_AFTER_MS: i64 = 3 * 86_400_000;
/// A row left in flight this long (the isolate died mid-delivery) is tried
/// again, with the same `webhook-id`.
const SENDING_GRACE_FLOOR_MS: i64 = 5_000;
/// Rows per round; a run takes a few rounds so a person's next event can
/// follow their previous one in the same run.
const BATCH: i64 = 25;
const ROUNDS: usize = 4;
/// The delivery log shows at most this many rows.
pub const LOG_LIMIT: i64 = 200;

thread_local! {
    // Set when a command queued a delivery: the ledger then wakes its alarm.
    static QUEUED: Cell<bool> = const { Cell::new(false) };
}

/// Whether deliveries were queued since the last call (and forgets it).
pub fn take_queued() -> bool {
    QUEUED.with(|q| q.replace(false))
}

// ---------------------------------------------------------------------------
// Backoff

/// The wait before the next try after `attempts` failures: doubling from
/// `unit`, at most `cap`, with "equal jitter" (`jitter` in 0..1 spreads it over
/// the upper half) so endpoints that failed together do not retry together.
pub fn backoff_ms(attempts: i64, unit: i64, cap: i64, jitter: f64) -> i64 {
    let exp = attempts.clamp(1, 40) - 1;
    let full = unit.saturating_mul(1i64 << exp.min(30)).min(cap).max(1);
    let half = full / 2;
    half + ((full - half) as f64 * jitter.clamp(0.0, 1.0)) as i64
}

fn jitter() -> f64 {
    let mut b = [0u8; 4];
    let _ = getrandom::fill(&mut b);
    f64::from(u32::from_be_bytes(b)) / f64::from(u32::MAX)
}

// ---------------------------------------------------------------------------
// Queueing (inside the recording write)

/// `2026-12-02T14:00:00.000Z`.
pub fn iso_ms(ms: i64) -> String {
    let day = Day::from_unix_ms(ms);
    let in_day = ms - day.start_ms();
    let (h, m, s, milli) = (
        in_day / 3_600_000,
        in_day / 60_000 % 60,
        in_day / 1_000 % 60,
        in_day % 1_000,
    );
    format!("{}T{h:02}:{m:02}:{s:02}.{milli:03}Z", day.format())
}

#[derive(Deserialize)]
struct EndpointRow {
    id: String,
    site: String,
    events: String,
}

impl EndpointRow {
    fn wants(&self, t: HookEventType) -> bool {
        let events: Vec<HookEventType> = serde_json::from_str(&self.events).unwrap_or_default();
        events.is_empty() || events.contains(&t)
    }
}

#[derive(Deserialize)]
struct SeqRow {
    seq: i64,
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

/// One thing to tell the merchant's endpoints about.
pub struct Notice<'a> {
    /// Its type.
    pub kind: HookEventType,
    /// `webhook-id`: the chain event's id (or a fresh one for a status).
    pub id: &'a str,
    /// The person's keyed hash: the ordering key, which outlives an erasure.
    pub subject: &'a str,
    /// When it happened (Unix ms).
    pub at: i64,
    /// `data`, without `site` and `subscriber_seq` (added here).
    pub data: Json,
}

fn endpoints(db: &dyn Db) -> Result<Vec<EndpointRow>> {
    db.rows("SELECT id, site, events FROM hook_endpoints", &[])
}

/// A ledger object's copy of its endpoint rows. Only [`sync`] changes which
/// endpoints there are and what they want, and the object drops its copy
/// before every sync, so the copy is the table as long as the object lives.
#[derive(Default)]
pub struct EndpointsNote(std::cell::RefCell<Option<std::rc::Rc<[EndpointRow]>>>);

impl EndpointsNote {
    /// Forgets the copy: the next read queries.
    pub fn forget(&self) {
        self.0.replace(None);
    }

    /// Whether the copy says this ledger has no endpoint (`false` when unread).
    fn known_empty(&self) -> bool {
        self.0.borrow().as_ref().is_some_and(|e| e.is_empty())
    }
}

/// The ledger's endpoints: the object's copy, read once.
fn endpoints_of(tx: &Tx) -> Result<std::rc::Rc<[EndpointRow]>> {
    if let Some(kept) = tx.endpoints.and_then(|n| n.0.borrow().clone()) {
        return Ok(kept);
    }
    let read: std::rc::Rc<[EndpointRow]> = endpoints(tx.db)?.into();
    if let Some(note) = tx.endpoints {
        note.0.replace(Some(read.clone()));
    }
    Ok(read)
}

/// Queues `notice` for every endpoint in `endpoints` that wants it, with the
/// person's next sequence number; nothing when none does.
fn enqueue_to(db: &dyn Db, endpoints: &[EndpointRow], notice: Notice<'_>, now: i64) -> Result<()> {
    let wanting: Vec<&EndpointRow> = endpoints.iter().filter(|e| e.wants(notice.kind)).collect();
    let Some(first) = wanting.first() else {
        return Ok(());
    };
    let seq = db
        .one::<SeqRow>(
            "INSERT INTO hook_subjects (subject_hash, seq) VALUES (?, 1)
             ON CONFLICT (subject_hash) DO UPDATE SET seq = seq + 1 RETURNING seq",
            &[notice.subject.into()],
        )?
        .seq;
    let mut data = notice.data;
    data["site"] = first.site.as_str().into();
    data["subscriber_seq"] = seq.into();
    let payload = json!({
        "type": notice.kind.as_str(),
        "timestamp": iso_ms(notice.at),
        "data": data,
    })
    .to_string();
    for e in wanting {
        db.run(
            "INSERT INTO hook_deliveries (endpoint_id, webhook_id, type, subject_hash, subscriber_seq,
               payload, status, next_attempt_at, created_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?) ON CONFLICT DO NOTHING",
            &[
                e.id.as_str().into(),
                notice.id.into(),
                notice.kind.as_str().into(),
                notice.subject.into(),
                seq.into(),
                payload.as_str().into(),
                now.into(),
                now.into(),
                now.into(),
            ],
        )?;
    }
    QUEUED.with(|q| q.set(true));
    Ok(())
}

/// What [`Tx::record`] tells this module about the event it just chained.
pub struct Recorded<'a> {
    /// Event id.
    pub id: &'a str,
    /// Its kind.
    pub kind: EventKind,
    /// E.164 (an erasure's too: the merchant must find whom to erase).
    pub phone: &'a str,
    /// The person's keyed hash.
    pub subject: &'a str,
    /// The event's categories.
    pub categories: &'a [Category],
    /// The categories' new statuses.
    pub state: &'a [(Category, SubscriptionStatus)],
    /// Evidence JSON.
    pub evidence: &'a str,
    /// Its chain hash, to cross-check with the export.
    pub hash: &'a str,
}

/// Queues the webhook of one chained event (from [`Tx::record`]).
pub fn on_event(tx: &Tx, e: &Recorded<'_>) -> Result<()> {
    // Most ledgers have no endpoint: then no payload is built (nor evidence parsed).
    let endpoints = endpoints_of(tx)?;
    if endpoints.is_empty() {
        return Ok(());
    }
    let evidence: Json = serde_json::from_str(e.evidence).unwrap_or(Json::Null);
    let Some((kind, extra)) = classify(e.kind, &evidence) else {
        return Ok(());
    };
    let consent_id = match e.kind {
        EventKind::Grant => Some(e.id.to_owned()),
        _ => latest_grant(tx.db, e.phone)?,
    };
    let statuses: serde_json::Map<String, Json> = e
        .state
        .iter()
        .map(|(c, s)| (c.as_str().to_owned(), s.as_str().into()))
        .collect();
    let mut data = json!({
        "event_id": e.id,
        "phone": e.phone,
        "consent_id": consent_id,
        "categories": e.categories.iter().map(Category::as_str).collect::<Vec<_>>(),
        "statuses": statuses,
        "chain_hash": e.hash,
        "occurred_at": tx.now,
    });
    if let (Json::Object(d), Json::Object(x)) = (&mut data, extra) {
        d.extend(x);
    }
    add_surface(tx.db, e.kind, &evidence, consent_id.as_deref(), &mut data)?;
    let notice = Notice {
        kind,
        id: e.id,
        subject: e.subject,
        at: tx.now,
        data,
    };
    enqueue_to(tx.db, &endpoints, notice, tx.now)
}

/// A grant's and a confirmation's webhook name the surface the consent was
/// given on (and a capture's evidence), so a CRM can tell a desk from the web.
fn add_surface(
    db: &dyn Db,
    kind: EventKind,
    evidence: &Json,
    consent_id: Option<&str>,
    data: &mut Json,
) -> Result<()> {
    let grant = match kind {
        EventKind::Grant => evidence.clone(),
        EventKind::Confirm => match evidence["consent_id"].as_str().or(consent_id) {
            Some(id) => grant_evidence(db, id)?,
            None => Json::Null,
        },
        _ => return Ok(()),
    };
    if let Some(surface) = grant["surface"].as_str() {
        data["surface"] = surface.into();
    }
    if grant["capture"].is_object() {
        data["capture"] = grant["capture"].clone();
    }
    Ok(())
}

fn grant_evidence(db: &dyn Db, id: &str) -> Result<Json> {
    #[derive(Deserialize)]
    struct EvidenceRow {
        evidence: Option<String>,
    }
    let row = db
        .rows::<EvidenceRow>(
            "SELECT evidence FROM events WHERE id = ? AND kind = 'grant'",
            &[id.into()],
        )?
        .pop();
    Ok(row
        .and_then(|r| r.evidence)
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or(Json::Null))
}

fn latest_grant(db: &dyn Db, phone: &str) -> Result<Option<String>> {
    Ok(db
        .rows::<IdRow>(
            "SELECT id FROM events WHERE phone = ? AND kind = 'grant' ORDER BY seq DESC LIMIT 1",
            &[phone.into()],
        )?
        .pop()
        .map(|r| r.id))
}

/// The webhook type of an event and its type-specific fields.
pub fn classify(kind: EventKind, evidence: &Json) -> Option<(HookEventType, Json)> {
    let method = evidence["method"].as_str();
    let source = evidence["source"].as_str().or(evidence["surface"].as_str());
    Some(match kind {
        EventKind::Grant => (
            HookEventType::Granted,
            json!({ "source": source, "method": method }),
        ),
        EventKind::Withdraw => {
            let how = method
                .and_then(EvidenceMethod::parse)
                .map_or(OptOutSource::Other, OptOutSource::of_method);
            (HookEventType::Withdrawn, json!({ "how": how.as_str() }))
        }
        EventKind::Update => (
            HookEventType::Updated,
            json!({
                "how": method,
                "granted": evidence["granted"],
                "withdrawn": evidence["withdrawn"],
                "frequency": evidence["frequency"],
                "paused_until": evidence["paused_until"],
                // Per category, when this change moved one on or off WhatsApp.
                "channels": evidence["channels"],
            }),
        ),
        EventKind::Confirm => (HookEventType::Confirmed, json!({ "method": method })),
        EventKind::Expire => (HookEventType::Expired, json!({})),
        // On request (support), or by the site's retention period.
        EventKind::Erase => {
            let how = if method == Some("retention") {
                "retention"
            } else {
                "support"
            };
            (HookEventType::Erased, json!({ "how": how }))
        }
        // WhatsApp's own "stop marketing" setting, or its resume.
        EventKind::MarketingPreference => match evidence["value"].as_str() {
            Some("stop") => (
                HookEventType::Withdrawn,
                json!({ "how": "whatsapp_setting", "channel": "whatsapp_marketing" }),
            ),
            _ => (
                HookEventType::Updated,
                json!({ "how": "whatsapp_setting", "channel": "whatsapp_marketing",
                        "channel_status": evidence["value"] }),
            ),
        },
    })
}

#[derive(Deserialize)]
struct OutboxRow {
    id: String,
    phone: String,
    consent_id: String,
    category: Option<String>,
}

/// Queues `message.status` for a status webhook just applied to its outbox row.
pub fn on_status(tx: &Tx, s: &whatsapp_cloud_api::webhook::Status) -> Result<()> {
    // No endpoint wants statuses (most ledgers): no row read, no payload built.
    let endpoints = endpoints_of(tx)?;
    if !endpoints
        .iter()
        .any(|e| e.wants(HookEventType::MessageStatus))
    {
        return Ok(());
    }
    let callback = s.biz_opaque_callback_data.clone().unwrap_or_default();
    let Some(row) = tx
        .db
        .rows::<OutboxRow>(
            "SELECT id, phone, consent_id, category FROM outbox WHERE wamid = ? OR id = ? LIMIT 1",
            &[s.id.as_str().into(), callback.into()],
        )?
        .pop()
    else {
        return Ok(());
    };
    if row.phone.is_empty() {
        return Ok(()); // erased
    }
    let error = s.errors.first();
    let data = json!({
        "message_id": row.id,
        "wamid": s.id,
        "status": s.status,
        "phone": row.phone,
        "consent_id": row.consent_id,
        "category": row.category,
        "error_code": error.and_then(|e| e.code),
        "error_title": error.map(|e| e.summary()),
        "occurred_at": tx.now,
    });
    let id = tx.new_id()?;
    let subject = tx.subject(&row.phone);
    let notice = Notice {
        kind: HookEventType::MessageStatus,
        id: &id,
        subject: &subject,
        at: tx.now,
        data,
    };
    enqueue_to(tx.db, &endpoints, notice, tx.now)
}

/// An erasure: payloads already delivered lose the person's number (pending
/// ones still carry it, so the merchant's systems learn whom to erase).
pub fn scrub_delivered(db: &dyn Db, subject: &str) -> Result<()> {
    db.run(
        "UPDATE hook_deliveries SET payload = json_set(payload, '$.data.phone', NULL)
         WHERE subject_hash = ? AND status IN ('delivered', 'cancelled')",
        &[subject.into()],
    )
}

// ---------------------------------------------------------------------------
// Endpoints, as the edge copies them here

/// Replaces this ledger's copy of the site's endpoints. Deliveries of a
/// removed endpoint are cancelled; a resumed one is enabled again and its
/// waiting rows become due.
pub fn sync(db: &dyn Db, site: &str, endpoints: &[HookEndpoint], now: i64) -> Result<()> {
    for e in endpoints {
        let was: Option<ResumedRow> = db
            .rows(
                "SELECT resumed_at FROM hook_endpoints WHERE id = ?",
                &[e.id.as_str().into()],
            )?
            .pop();
        let events = serde_json::to_string(&e.events).map_err(to_worker)?;
        let secrets = serde_json::to_string(&e.secrets).map_err(to_worker)?;
        db.run(
            "INSERT INTO hook_endpoints (id, site, url, events, secrets, paused, resumed_at, updated_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)
             ON CONFLICT (id) DO UPDATE SET site = excluded.site, url = excluded.url,
               events = excluded.events, secrets = excluded.secrets, paused = excluded.paused,
               resumed_at = excluded.resumed_at, updated_at = excluded.updated_at",
            &[
                e.id.as_str().into(),
                site.into(),
                e.url.as_str().into(),
                events.into(),
                secrets.into(),
                e.paused.into(),
                e.resumed_at.into(),
                now.into(),
            ],
        )?;
        let resumed = e.resumed_at.is_some() && was.is_none_or(|w| w.resumed_at != e.resumed_at);
        if resumed {
            resume(db, &e.id, now)?;
        }
    }
    let ids = serde_json::to_string(&endpoints.iter().map(|e| &e.id).collect::<Vec<_>>())
        .map_err(to_worker)?;
    db.run(
        "UPDATE hook_deliveries SET status = 'cancelled', updated_at = ?
         WHERE status IN ('pending', 'sending')
           AND endpoint_id NOT IN (SELECT value FROM json_each(?))",
        &[now.into(), ids.as_str().into()],
    )?;
    db.run(
        "DELETE FROM hook_endpoints WHERE id NOT IN (SELECT value FROM json_each(?))",
        &[ids.into()],
    )
}

#[derive(Deserialize)]
struct ResumedRow {
    resumed_at: Option<i64>,
}

fn resume(db: &dyn Db, id: &str, now: i64) -> Result<()> {
    db.run(
        "UPDATE hook_endpoints SET disabled_at = NULL, failing_since = NULL WHERE id = ?",
        &[id.into()],
    )?;
    db.run(
        "UPDATE hook_deliveries SET next_attempt_at = MIN(next_attempt_at, ?)
         WHERE endpoint_id = ? AND status = 'pending'",
        &[now.into(), id.into()],
    )
}

fn to_worker(e: serde_json::Error) -> worker::Error {
    worker::Error::RustError(e.to_string())
}

/// What this ledger knows of each endpoint's deliveries.
pub fn states(db: &dyn Db) -> Result<Vec<HookEndpointState>> {
    db.rows(
        "SELECT e.id, e.failing_since, e.disabled_at,
           (SELECT COUNT(*) FROM hook_deliveries d WHERE d.endpoint_id = e.id
              AND d.status IN ('pending', 'sending')) AS pending,
           (SELECT COUNT(*) FROM hook_deliveries d WHERE d.endpoint_id = e.id
              AND d.status = 'delivered') AS delivered,
           (SELECT MIN(next_attempt_at) FROM hook_deliveries d WHERE d.endpoint_id = e.id
              AND d.status = 'pending') AS next_attempt_at
         FROM hook_endpoints e ORDER BY e.id",
        &[],
    )
}

/// An endpoint's newest deliveries.
pub fn log(db: &dyn Db, endpoint: &str, limit: i64) -> Result<HookDeliveries> {
    let deliveries: Vec<HookDeliveryView> = db.rows(
        "SELECT webhook_id, type, subscriber_seq, status, attempts, last_status, last_error,
           latency_ms, CASE WHEN status = 'pending' THEN next_attempt_at END AS next_attempt_at,
           created_at, delivered_at
         FROM hook_deliveries WHERE endpoint_id = ? ORDER BY seq DESC LIMIT ?",
        &[endpoint.into(), limit.clamp(1, LOG_LIMIT).into()],
    )?;
    Ok(HookDeliveries { deliveries })
}

/// Queues again an endpoint's delivered rows of events queued in `from..=to`
/// (Unix ms): same `webhook-id`, same payload, in their original order.
pub fn replay(db: &dyn Db, endpoint: &str, from: i64, to: i64, now: i64) -> Result<HooksReplayed> {
    let rows: Vec<SeqRow> = db.rows(
        "UPDATE hook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?
         WHERE endpoint_id = ? AND status = 'delivered' AND created_at BETWEEN ? AND ?
         RETURNING seq",
        &[
            now.into(),
            now.into(),
            endpoint.into(),
            from.into(),
            to.into(),
        ],
    )?;
    if !rows.is_empty() {
        QUEUED.with(|q| q.set(true));
    }
    Ok(HooksReplayed {
        replayed: rows.len() as i64,
    })
}

// ---------------------------------------------------------------------------
// Delivery (the alarm)

/// The Worker's delivery settings, from its vars.
#[derive(Debug, Clone, Copy)]
pub struct Settings {
    /// First backoff.
    pub unit: i64,
    /// Longest backoff.
    pub cap: i64,
    /// One delivery's timeout.
    pub timeout: i64,
    /// Failing this long disables an endpoint.
    pub disable_after: i64,
}

impl Settings {
    /// From `HOOK_*` vars, else the defaults.
    pub fn from_env(env: &Env) -> Settings {
        Settings {
            unit: env_ms(env, "HOOK_BACKOFF_MS", 10..=3_600_000, BACKOFF_UNIT_MS),
            cap: env_ms(env, "HOOK_BACKOFF_CAP_MS", 100..=86_400_000, BACKOFF_CAP_MS),
            timeout: env_ms(env, "HOOK_TIMEOUT_MS", 100..=60_000, TIMEOUT_MS),
            disable_after: env_ms(
                env,
                "HOOK_DISABLE_AFTER_MS",
                1_000..=30 * 86_400_000,
                DISABLE_AFTER_MS,
            ),
        }
    }

    /// How long a claimed row may stay in flight before it is presumed lost.
    pub fn grace(&self) -> i64 {
        (self.timeout * 2).max(SENDING_GRACE_FLOOR_MS)
    }
}

/// A row a person's order lets go now: no earlier row of theirs for the same
/// endpoint is still waiting or in flight, and the endpoint takes deliveries.
const HEAD_OF_LINE: &str = "d.status = 'pending'
   AND e.paused = 0 AND e.disabled_at IS NULL
   AND NOT EXISTS (SELECT 1 FROM hook_deliveries p
     WHERE p.endpoint_id = d.endpoint_id AND p.subject_hash = d.subject_hash
       AND p.seq < d.seq AND p.status IN ('pending', 'sending'))";

/// A delivery due now, with its endpoint's URL and secrets.
#[derive(Deserialize)]
pub struct DueRow {
    /// Row id (queue order).
    pub seq: i64,
    /// Its endpoint.
    pub endpoint_id: String,
    /// `webhook-id`.
    pub webhook_id: String,
    /// `consent.granted`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The person's keyed hash.
    pub subject_hash: String,
    /// The JSON body.
    pub payload: String,
    /// Attempts so far.
    pub attempts: i64,
    url: String,
    secrets: String,
}

/// Rows due at `now`, oldest first.
pub fn due(db: &dyn Db, now: i64, limit: i64) -> Result<Vec<DueRow>> {
    db.rows(
        &format!(
            "SELECT d.seq, d.endpoint_id, d.webhook_id, d.type, d.subject_hash, d.payload,
               d.attempts, e.url, e.secrets
             FROM hook_deliveries d JOIN hook_endpoints e ON e.id = d.endpoint_id
             WHERE {HEAD_OF_LINE} AND d.next_attempt_at <= ? ORDER BY d.seq LIMIT ?"
        ),
        &[now.into(), limit.into()],
    )
}

/// When the alarm should next come back for deliveries, if ever.
pub fn next_due(db: &dyn Db, grace: i64) -> Result<Option<i64>> {
    #[derive(Deserialize)]
    struct Next {
        next: Option<i64>,
    }
    Ok(db
        .one::<Next>(
            &format!(
                "SELECT MIN(at) AS next FROM (
                   SELECT d.next_attempt_at AS at FROM hook_deliveries d
                     JOIN hook_endpoints e ON e.id = d.endpoint_id WHERE {HEAD_OF_LINE}
                   UNION ALL
                   SELECT updated_at + ? AS at FROM hook_deliveries WHERE status = 'sending')"
            ),
            &[grace.into()],
        )?
        .next)
}

/// Rows left in flight past the grace (the isolate died mid-delivery) wait
/// again; their next try repeats the same `webhook-id`.
pub fn release_stuck(db: &dyn Db, now: i64, grace: i64) -> Result<()> {
    db.run(
        "UPDATE hook_deliveries SET status = 'pending', next_attempt_at = ?, updated_at = ?,
           last_error = COALESCE(last_error, 'no answer recorded; trying again')
         WHERE status = 'sending' AND updated_at <= ?",
        &[now.into(), now.into(), (now - grace).into()],
    )
}

/// Marks a pending row in flight; false when another run took it.
pub fn claim(db: &dyn Db, seq: i64, now: i64) -> Result<bool> {
    Ok(!db
        .rows::<SeqRow>(
            "UPDATE hook_deliveries SET status = 'sending', updated_at = ?
             WHERE seq = ? AND status = 'pending' RETURNING seq",
            &[now.into(), seq.into()],
        )?
        .is_empty())
}

/// What one delivery attempt came to.
#[derive(Debug, Clone, PartialEq)]
pub enum Attempt {
    /// 2xx.
    Delivered { status: u16, latency_ms: i64 },
    /// Another status, no answer in time, or no connection.
    Failed {
        status: Option<u16>,
        error: String,
        latency_ms: i64,
    },
}

/// Records an attempt on a claimed row, and what it says of its endpoint:
/// a success ends its failing streak and lets its waiting rows go now; a
/// failure pushes the endpoint's other waiting rows to the same retry time
/// (one down endpoint is not hammered once per row), and disables it once it
/// has failed for `disable_after`. Returns true when it disabled it.
pub fn record_attempt(
    db: &dyn Db,
    row: &DueRow,
    attempt: &Attempt,
    settings: &Settings,
    jitter: f64,
    now: i64,
) -> Result<bool> {
    let (seq, endpoint) = (row.seq, row.endpoint_id.as_str());
    let attempts = row.attempts + 1;
    match attempt {
        Attempt::Delivered { status, latency_ms } => {
            db.run(
                "UPDATE hook_deliveries SET status = 'delivered', attempts = ?, last_status = ?,
                   last_error = NULL, latency_ms = ?, delivered_at = ?, updated_at = ?
                 WHERE seq = ?",
                &[
                    attempts.into(),
                    i64::from(*status).into(),
                    (*latency_ms).into(),
                    now.into(),
                    now.into(),
                    seq.into(),
                ],
            )?;
            db.run(
                "UPDATE hook_endpoints SET failing_since = NULL WHERE id = ?",
                &[endpoint.into()],
            )?;
            db.run(
                "UPDATE hook_deliveries SET next_attempt_at = ?
                 WHERE endpoint_id = ? AND status = 'pending' AND next_attempt_at > ?",
                &[now.into(), endpoint.into(), now.into()],
            )?;
            Ok(false)
        }
        Attempt::Failed {
            status,
            error,
            latency_ms,
        } => {
            let next = now + backoff_ms(attempts, settings.unit, settings.cap, jitter);
            db.run(
                "UPDATE hook_deliveries SET status = 'pending', attempts = ?, last_status = ?,
                   last_error = ?, latency_ms = ?, next_attempt_at = ?, updated_at = ?
                 WHERE seq = ?",
                &[
                    attempts.into(),
                    status.map(i64::from).into(),
                    error.as_str().into(),
                    (*latency_ms).into(),
                    next.into(),
                    now.into(),
                    seq.into(),
                ],
            )?;
            db.run(
                "UPDATE hook_deliveries SET next_attempt_at = MAX(next_attempt_at, ?)
                 WHERE endpoint_id = ? AND status = 'pending'",
                &[next.into(), endpoint.into()],
            )?;
            db.run(
                "UPDATE hook_endpoints SET failing_since = COALESCE(failing_since, ?) WHERE id = ?",
                &[now.into(), endpoint.into()],
            )?;
            let disabled: Vec<IdRow> = db.rows(
                "UPDATE hook_endpoints SET disabled_at = ?
                 WHERE id = ? AND disabled_at IS NULL AND failing_since <= ? RETURNING id",
                &[
                    now.into(),
                    endpoint.into(),
                    (now - settings.disable_after).into(),
                ],
            )?;
            Ok(!disabled.is_empty())
        }
    }
}

/// Delivers every due row (a few rounds, so a person's next event can follow
/// at once); the time the alarm should come back for the rest.
pub async fn deliver_due(
    state: &State,
    env: &Env,
    endpoints: &EndpointsNote,
) -> Result<Option<i64>> {
    if endpoints.known_empty() {
        // Nothing can be due: deliveries go only to endpoints (`due` joins them).
        return Ok(None);
    }
    let storage = state.storage().sql();
    let db: &dyn Db = &storage;
    let settings = Settings::from_env(env);
    let now = super::clock::now(env, db)?;
    release_stuck(db, now, settings.grace())?;
    // Endpoints that failed in this run wait for their backoff.
    let mut failed: Vec<String> = Vec::new();
    for _ in 0..ROUNDS {
        let now = super::clock::now(env, db)?;
        let rows = due(db, now, BATCH)?;
        let mut progressed = false;
        for row in rows {
            if failed.contains(&row.endpoint_id) || !claim(db, row.seq, now)? {
                continue;
            }
            let attempt = post(&row, &settings).await;
            let at = super::clock::now(env, db)?;
            let delivered = matches!(attempt, Attempt::Delivered { .. });
            let disabled = record_attempt(db, &row, &attempt, &settings, jitter(), at)?;
            if delivered && row.kind == HookEventType::Erased.as_str() {
                scrub_delivered(db, &row.subject_hash)?;
            }
            if disabled {
                worker::console_error!(
                    "ALERT webhook endpoint {} disabled: failing since {} ms ago",
                    row.endpoint_id,
                    settings.disable_after
                );
            }
            if delivered {
                progressed = true;
            } else {
                failed.push(row.endpoint_id.clone());
            }
        }
        if !progressed {
            break;
        }
    }
    next_due(db, settings.grace())
}

/// POSTs one row, signed with each live secret, within the timeout.
async fn post(row: &DueRow, settings: &Settings) -> Attempt {
    let started = worker::Date::now().as_millis() as i64;
    let controller = AbortController::default();
    let signal = controller.signal();
    let call = async {
        let req = signed_request(row)?;
        let resp = Fetch::Request(req).send_with_signal(&signal).await?;
        Ok::<u16, worker::Error>(resp.status_code())
    };
    let deadline = Delay::from(std::time::Duration::from_millis(settings.timeout as u64));
    futures_util::pin_mut!(call);
    let outcome = futures_util::future::select(call, deadline).await;
    let latency_ms = worker::Date::now().as_millis() as i64 - started;
    match outcome {
        Either::Left((Ok(status), _)) if (200..300).contains(&status) => {
            Attempt::Delivered { status, latency_ms }
        }
        Either::Left((Ok(status), _)) => Attempt::Failed {
            status: Some(status),
            error: format!("HTTP {status}"),
            latency_ms,
        },
        Either::Left((Err(e), _)) => Attempt::Failed {
            status: None,
            error: format!("no answer: {e}"),
            latency_ms,
        },
        Either::Right(((), _)) => {
            controller.abort();
            Attempt::Failed {
                status: None,
                error: format!("no answer within {} ms", settings.timeout),
                latency_ms,
            }
        }
    }
}

fn signed_request(row: &DueRow) -> Result<Request> {
    // Receivers check the timestamp against their own clock: the wall clock's.
    let timestamp = (worker::Date::now().as_millis() / 1000) as i64;
    let secrets: Vec<crate::protocol::HookSecret> =
        serde_json::from_str(&row.secrets).map_err(to_worker)?;
    let now_ms = worker::Date::now().as_millis() as i64;
    let live = crate::protocol::live_secrets(&secrets, now_ms);
    let signature = signature_header(live, &row.webhook_id, timestamp, &row.payload);
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set("User-Agent", "whatsapp-optin-webhooks/1")?;
    headers.set("webhook-id", &row.webhook_id)?;
    headers.set("webhook-timestamp", &timestamp.to_string())?;
    headers.set("webhook-signature", &signature)?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(row.payload.as_str().into()));
    Request::new_with_init(&row.url, &init)
}
