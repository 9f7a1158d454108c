//! The per-site ledger: a Durable Object with SQLite storage holding the
//! hash-chained consent events, the derived subscription state and the outbox.

use consent_core::{
    chain::{evidence_digest, ChainedEvent, GENESIS},
    ids::uuid7,
    privacy::subject_hash,
    Category, SiteConfig, ValidConsent,
};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::MessageRequest;
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result,
    SqlStorage, State,
};

use crate::{limits, outbox, schema};

/// What the edge worker asks the ledger to record.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordConsent {
    /// Site configuration at the time of the consent.
    pub site: SiteConfig,
    /// The validated consent.
    pub consent: ValidConsent,
    /// Request context (user agent, truncated IP, country).
    pub context: RequestContext,
    /// Client-chosen key: a replay returns the first answer and records nothing.
    pub idempotency_key: Option<String>,
    /// SHA-256 of the request body, to refuse a key reused for another body.
    pub body_digest: String,
    /// Keyed hash of the full client IP, for the per-IP limit (never stored).
    pub ip_key: Option<String>,
    /// Which of the site's ledger shards this is.
    pub shard: u32,
}

/// Why the ledger refused a command; the edge maps it to a problem.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "error", rename_all = "kebab-case")]
pub enum Refusal {
    /// A limit was hit.
    RateLimited {
        /// Which limit.
        scope: String,
        /// Seconds until it resets.
        retry_after: i64,
    },
    /// Same idempotency key, different body.
    IdempotencyKeyReused,
}

/// Evidence taken from the HTTP request rather than the body.
#[derive(Debug, Serialize, Deserialize)]
pub struct RequestContext {
    /// `User-Agent`.
    pub user_agent: Option<String>,
    /// Truncated client IP.
    pub ip: Option<String>,
    /// Country from Cloudflare, when known.
    pub country: Option<String>,
}

/// The ledger's answer to a recorded consent.
#[derive(Debug, Serialize, Deserialize)]
pub struct Recorded {
    /// Consent (event) id.
    pub id: String,
    /// Server time of the record, Unix ms.
    pub recorded_at: i64,
    /// Categories now granted.
    pub categories: Vec<Category>,
    /// Signed link token for the preference centre (no login).
    pub preferences_token: String,
    /// With double opt-in: the categories wait for the person's confirmation in
    /// WhatsApp until this time (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<i64>,
}

/// Evidence stored with a grant: everything a regulator asks for.
#[derive(Debug, Serialize, Deserialize)]
struct Evidence<'a> {
    site: &'a str,
    notice_text: &'a str,
    notice_hash: &'a str,
    notice_version: u32,
    locale: &'a str,
    surface: consent_core::Surface,
    page_url: Option<&'a str>,
    privacy_policy_url: &'a str,
    unchecked_by_default: bool,
    business_name: &'a str,
    client_ts: Option<f64>,
    widget_version: Option<&'a str>,
    user_agent: Option<&'a str>,
    ip: Option<&'a str>,
    country: Option<&'a str>,
    template_name: &'a str,
    template_language: &'a str,
    /// The A/B variant shown (`json_extract(evidence, '$.variant')`); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    /// Double opt-in: what waits for confirmation, and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    double_opt_in: Option<PendingEvidence>,
}

/// A grant's categories that wait for the person's confirmation.
#[derive(Debug, Serialize, Deserialize)]
struct PendingEvidence {
    status: String,
    categories: Vec<Category>,
    expires_at: i64,
}

/// One site's ledger.
#[durable_object]
pub struct SiteLedger {
    pub(crate) state: State,
    pub(crate) env: Env,
}

impl DurableObject for SiteLedger {
    fn new(state: State, env: Env) -> Self {
        if let Err(e) = migrate(&state.storage().sql()) {
            worker::console_error!("ledger migration failed: {e}");
        }
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, "/consent") => {
                let cmd: RecordConsent = req.json().await?;
                match self.record_grant(&cmd)? {
                    Ok(Answer {
                        status,
                        body,
                        replayed,
                    }) => {
                        if !replayed {
                            // Wake the sender now; the outbox row is already durable.
                            self.state.storage().set_alarm(0).await?;
                        }
                        let headers = Headers::new();
                        headers.set("Content-Type", "application/json")?;
                        if replayed {
                            headers.set("Idempotent-Replayed", "true")?;
                        }
                        Ok(Response::ok(body)?
                            .with_status(status)
                            .with_headers(headers))
                    }
                    Err(refusal) => Response::from_json(&refusal).map(|r| r.with_status(409)),
                }
            }
            (Method::Get, p) if p.starts_with("/preferences/") => {
                match self.preferences(&p["/preferences/".len()..])? {
                    Some(prefs) => Response::from_json(&prefs),
                    None => Response::error("no subscriber", 404),
                }
            }
            (Method::Post, "/change") => {
                let change: crate::changes::Change = req.json().await?;
                match self.change(&change)? {
                    Some(prefs) => Response::from_json(&prefs),
                    None => Response::error("no subscriber", 404),
                }
            }
            (Method::Get, "/verify") => Response::from_json(&self.verify()?),
            (Method::Get, "/stats") => {
                let now = worker::Date::now().as_millis() as i64;
                let range = crate::analytics::range_of(&req.url()?, now);
                Response::from_json(&self.stats(&range)?)
            }
            (Method::Post, "/funnel") => {
                let cmd: crate::analytics::CountEvents = req.json().await?;
                let now = worker::Date::now().as_millis() as i64;
                crate::analytics::answer(crate::analytics::record(&self.sql(), &cmd, now)?)
            }
            (Method::Post, "/resume-sending") => {
                let was = crate::halt::resume(&self.sql())?;
                self.state.storage().set_alarm(0).await?;
                Response::from_json(&serde_json::json!({ "was": was }))
            }
            (Method::Get, "/export") => {
                let url = req.url()?;
                let param = |k: &str| {
                    url.query_pairs()
                        .find(|(q, _)| q == k)
                        .map(|(_, v)| v.into_owned())
                };
                let after: i64 = param("after").and_then(|v| v.parse().ok()).unwrap_or(0);
                let since: i64 = param("since").and_then(|v| v.parse().ok()).unwrap_or(0);
                Response::from_json(&self.export_page(after, since)?)
            }
            (Method::Delete, p) if p.starts_with("/subscriber/") => {
                let phone = &p["/subscriber/".len()..];
                match self.erase(phone)? {
                    Some(erased) => Response::from_json(&erased),
                    None => Response::error("no subscriber", 404),
                }
            }
            (Method::Post, "/webhook") => {
                let batch: crate::inbound::WebhookBatch = req.json().await?;
                let applied = crate::inbound::apply(self, &batch)?;
                if applied.replies > 0 {
                    self.state.storage().set_alarm(0).await?;
                }
                Response::from_json(&applied)
            }
            (Method::Get, p) if p.starts_with("/subscriber/") => {
                let phone = &p["/subscriber/".len()..];
                match self.subscriber(phone)? {
                    Some(view) => Response::from_json(&view),
                    None => Response::error("no subscriber", 404),
                }
            }
            _ => Response::error("no such ledger route", 404),
        }
    }

    async fn alarm(&self) -> Result<Response> {
        crate::double_optin::expire_due(self, worker::Date::now().as_millis() as i64)?;
        outbox::deliver_due(self).await?;
        Response::ok("delivered")
    }
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
}

#[derive(Deserialize)]
struct IdemRow {
    body_digest: String,
    status: i64,
    response: String,
}

/// A ledger answer ready to send, and whether it is a replay.
pub struct Answer {
    status: u16,
    body: String,
    replayed: bool,
}

#[derive(Deserialize)]
struct VersionRow {
    v: i64,
}

/// Applies pending schema migrations; all in one synchronous (atomic) write.
fn migrate(sql: &SqlStorage) -> Result<()> {
    sql.exec(schema::META, None)?;
    let current = sql
        .exec(
            "SELECT COALESCE(MAX(version), 0) AS v FROM schema_migrations",
            None,
        )?
        .one::<VersionRow>()?
        .v;
    let now = worker::Date::now().as_millis() as i64;
    for (version, statements) in schema::pending(current) {
        sql.exec(statements, None)?;
        sql.exec(
            "INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)",
            vec![(*version).into(), now.into()],
        )?;
    }
    Ok(())
}

impl SiteLedger {
    pub(crate) fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Appends a grant event, updates the state table and queues the
    /// confirmation, with no await in between: one atomic write.
    fn record_grant(&self, cmd: &RecordConsent) -> Result<std::result::Result<Answer, Refusal>> {
        let now = worker::Date::now().as_millis() as i64;
        if let Some(key) = &cmd.idempotency_key {
            if let Some(previous) = self.replay(key, &cmd.body_digest)? {
                return Ok(previous);
            }
        }
        crate::double_optin::expire_due(self, now)?;
        if let Err(refusal) = limits::admit(&self.sql(), cmd, now)? {
            return Ok(Err(refusal));
        }
        let recorded = self.write_grant(cmd, now)?;
        let body = serde_json::to_string(&recorded)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        if let Some(key) = &cmd.idempotency_key {
            self.sql().exec(
                "INSERT INTO idempotency (key, body_digest, status, response, created_at) VALUES (?, ?, 201, ?, ?)",
                vec![key.as_str().into(), cmd.body_digest.as_str().into(), body.as_str().into(), now.into()],
            )?;
        }
        Ok(Ok(Answer {
            status: 201,
            body,
            replayed: false,
        }))
    }

    /// The stored answer for a replayed key, or a refusal if the body differs.
    fn replay(
        &self,
        key: &str,
        digest: &str,
    ) -> Result<Option<std::result::Result<Answer, Refusal>>> {
        let rows: Vec<IdemRow> = self
            .sql()
            .exec(
                "SELECT body_digest, status, response FROM idempotency WHERE key = ?",
                vec![key.into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().map(|row| {
            if row.body_digest == digest {
                Ok(Answer {
                    status: row.status as u16,
                    body: row.response,
                    replayed: true,
                })
            } else {
                Err(Refusal::IdempotencyKeyReused)
            }
        }))
    }

    fn write_grant(&self, cmd: &RecordConsent, now: i64) -> Result<Recorded> {
        let id = uuid7(now as u64, random_bytes()?);
        let c = &cmd.consent;
        let language = cmd.site.template_language(c.notice.locale);
        let phone = c.phone.as_str();
        // Double opt-in: what the person does not hold yet waits for their confirmation.
        let pending = match cmd.site.double_opt_in() {
            Some(doi) => {
                let granted = self.granted(phone)?;
                let waiting: Vec<Category> = c
                    .categories
                    .iter()
                    .filter(|cat| !granted.contains(cat))
                    .copied()
                    .collect();
                (!waiting.is_empty()).then(|| PendingEvidence {
                    status: "pending".into(),
                    categories: waiting,
                    expires_at: crate::double_optin::expires_at(&self.env, doi.expiry_hours, now),
                })
            }
            None => None,
        };
        let template_name = match (&pending, cmd.site.double_opt_in()) {
            (Some(_), Some(doi)) => doi.template_name.as_str(),
            _ => cmd.site.whatsapp.template_name.as_str(),
        };
        let evidence = serde_json::to_string(&Evidence {
            site: &cmd.site.id,
            notice_text: &c.notice.text,
            notice_hash: &c.notice_hash,
            notice_version: c.notice.version,
            locale: c.notice.locale.tag(),
            surface: c.surface,
            page_url: c.page_url.as_deref(),
            privacy_policy_url: &cmd.site.privacy_policy_url,
            unchecked_by_default: true,
            business_name: &cmd.site.business_name,
            client_ts: c.client_ts,
            widget_version: c.widget_version.as_deref(),
            user_agent: cmd.context.user_agent.as_deref(),
            ip: cmd.context.ip.as_deref(),
            country: cmd.context.country.as_deref(),
            template_name,
            template_language: language,
            variant: c.variant.as_deref(),
            double_opt_in: pending.as_ref().map(|p| PendingEvidence {
                status: p.status.clone(),
                categories: p.categories.clone(),
                expires_at: p.expires_at,
            }),
        })
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.append_event(
            &id,
            "grant",
            c.phone.as_str(),
            &c.categories,
            now,
            &evidence,
        )?;
        let waiting = pending
            .as_ref()
            .map(|p| p.categories.as_slice())
            .unwrap_or(&[]);
        for category in &c.categories {
            let status = if waiting.contains(category) {
                "pending"
            } else {
                "granted"
            };
            self.set_state(phone, *category, status, &id, now)?;
        }
        let message = match &pending {
            Some(p) => {
                crate::double_optin::open(&self.sql(), &id, phone, waiting, p.expires_at, now)?;
                MessageRequest::double_opt_in_request(
                    phone,
                    template_name,
                    language,
                    &cmd.site.business_name,
                    &format!("CONFIRM:{id}"),
                    &format!("OPTOUT:{id}"),
                    &id,
                )
            }
            None => MessageRequest::confirmation(
                phone,
                template_name,
                language,
                &cmd.site.business_name,
                &format!("OPTOUT:{id}"),
                &id,
            ),
        };
        outbox::enqueue(&self.sql(), &id, c.phone.as_str(), &cmd.site, &message, now)?;
        if self.withdrew_recently(c.phone.as_str(), &cmd.site, now)? {
            // Someone who just said stop gets no template, however often their number is typed in.
            self.sql().exec(
                "UPDATE outbox SET status = 'suppressed', last_error = 'withdrew within the resend cooldown'
                 WHERE id = ?",
                vec![id.as_str().into()],
            )?;
        }
        // A fresh opt-in lifts an erasure's suppression.
        self.sql().exec(
            "DELETE FROM suppressions WHERE subject_hash = ? AND reason = 'erased'",
            vec![self.subject(c.phone.as_str())?.into()],
        )?;
        Ok(Recorded {
            preferences_token: self.preferences_token(&cmd.site.id, cmd.shard, &id, now)?,
            id,
            recorded_at: now,
            categories: c.categories.clone(),
            pending_until: pending.map(|p| p.expires_at),
        })
    }

    /// Sets the derived current state of one phone × category (same write as its event).
    pub(crate) fn set_state(
        &self,
        phone: &str,
        category: Category,
        status: &str,
        event_id: &str,
        now: i64,
    ) -> Result<()> {
        self.sql().exec(
            "INSERT INTO subscriptions (phone, category, status, event_id, updated_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (phone, category) DO UPDATE SET
               status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at",
            vec![phone.into(), category.as_str().into(), status.into(), event_id.into(), now.into()],
        )?;
        Ok(())
    }

    /// Keyed hash of a phone: what the chain and logs carry instead of the number.
    pub(crate) fn subject(&self, phone: &str) -> Result<String> {
        let key = self.env.secret("SUBJECT_HASH_KEY")?.to_string();
        Ok(subject_hash(key.as_bytes(), phone))
    }

    /// Appends one event to the hash chain. `phone` is `None` only for erasures.
    pub(crate) fn append_event(
        &self,
        id: &str,
        kind: &str,
        phone: &str,
        categories: &[Category],
        now: i64,
        evidence: &str,
    ) -> Result<()> {
        let subject = self.subject(phone)?;
        let stored_phone = (kind != "erase").then_some(phone);
        self.append_chained(id, kind, stored_phone, &subject, categories, now, evidence)
    }

    #[allow(clippy::too_many_arguments)]
    fn append_chained(
        &self,
        id: &str,
        kind: &str,
        phone: Option<&str>,
        subject: &str,
        categories: &[Category],
        now: i64,
        evidence: &str,
    ) -> Result<()> {
        let prev = self
            .sql()
            .exec("SELECT hash FROM events ORDER BY seq DESC LIMIT 1", None)?
            .to_array::<HashRow>()?
            .pop()
            .map(|r| r.hash)
            .unwrap_or_else(|| GENESIS.to_owned());
        let categories_json = serde_json::to_string(categories)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let digest = evidence_digest(evidence);
        let hash = ChainedEvent {
            id,
            kind,
            subject,
            categories: &categories_json,
            server_ts: now,
            evidence_digest: &digest,
        }
        .hash(&prev);
        self.sql().exec(
            "INSERT INTO events (id, kind, phone, subject_hash, categories, evidence, evidence_digest,
               server_ts, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                kind.into(),
                phone.map(Into::into).unwrap_or(worker::SqlStorageValue::Null),
                subject.into(),
                categories_json.into(),
                evidence.into(),
                digest.into(),
                now.into(),
                prev.into(),
                hash.into(),
            ],
        )?;
        Ok(())
    }

    fn subscriber(&self, phone: &str) -> Result<Option<SubscriberView>> {
        crate::double_optin::expire_due(self, worker::Date::now().as_millis() as i64)?;
        let events: Vec<EventRow> = self
            .sql()
            .exec(
                "SELECT id, kind, categories, evidence, server_ts, prev_hash, hash
                 FROM events WHERE phone = ? ORDER BY seq",
                vec![phone.into()],
            )?
            .to_array()?;
        if events.is_empty() {
            return Ok(None);
        }
        let state: Vec<StateRow> = self
            .sql()
            .exec(
                "SELECT category, status, event_id, updated_at FROM subscriptions
                 WHERE phone = ? ORDER BY category",
                vec![phone.into()],
            )?
            .to_array()?;
        let confirmations = outbox::for_phone(&self.sql(), phone)?;
        let double_opt_in = crate::double_optin::history(&self.sql(), phone)?
            .into_iter()
            .map(DoubleOptInView::from)
            .collect();
        Ok(Some(SubscriberView {
            status: summary(&state).to_owned(),
            phone: phone.to_owned(),
            events: events.into_iter().map(EventView::from).collect(),
            state,
            confirmations,
            double_opt_in,
        }))
    }
}

#[derive(Deserialize)]
struct EventRow {
    id: String,
    kind: String,
    categories: String,
    evidence: Option<String>,
    server_ts: i64,
    prev_hash: String,
    hash: String,
}

/// One event as the admin API shows it.
#[derive(Serialize, Deserialize)]
pub struct EventView {
    id: String,
    kind: String,
    categories: serde_json::Value,
    evidence: serde_json::Value,
    server_ts: i64,
    prev_hash: String,
    hash: String,
}

impl From<EventRow> for EventView {
    fn from(r: EventRow) -> Self {
        EventView {
            id: r.id,
            kind: r.kind,
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            evidence: r
                .evidence
                .and_then(|e| serde_json::from_str(&e).ok())
                .unwrap_or_default(),
            server_ts: r.server_ts,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

/// Current state of one category for one person.
#[derive(Serialize, Deserialize)]
pub struct StateRow {
    category: String,
    status: String,
    event_id: String,
    updated_at: i64,
}

/// A person's full history and current state.
#[derive(Serialize, Deserialize)]
pub struct SubscriberView {
    /// At a glance: `active` (a category granted), else `pending` (waiting for a
    /// double opt-in confirmation), `expired`, `withdrawn`, or `none`.
    status: String,
    phone: String,
    events: Vec<EventView>,
    state: Vec<StateRow>,
    confirmations: Vec<outbox::OutboxView>,
    /// Double opt-in requests: `pending`, `confirmed`, `expired` or `withdrawn`.
    double_opt_in: Vec<DoubleOptInView>,
}

/// One double opt-in request as the admin API shows it.
#[derive(Serialize, Deserialize)]
pub struct DoubleOptInView {
    consent_id: String,
    status: String,
    categories: serde_json::Value,
    requested_at: i64,
    expires_at: i64,
    resolved_at: Option<i64>,
    resolved_by: Option<String>,
}

impl From<crate::double_optin::Request> for DoubleOptInView {
    fn from(r: crate::double_optin::Request) -> Self {
        DoubleOptInView {
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            consent_id: r.consent_id,
            status: r.status,
            requested_at: r.created_at,
            expires_at: r.expires_at,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
        }
    }
}

/// One word for a person's state over all categories, most engaged first.
fn summary(state: &[StateRow]) -> &'static str {
    let has = |s: &str| state.iter().any(|r| r.status == s);
    [
        ("granted", "active"),
        ("pending", "pending"),
        ("expired", "expired"),
        ("withdrawn", "withdrawn"),
    ]
    .into_iter()
    .find(|(s, _)| has(s))
    .map_or("none", |(_, word)| word)
}

/// Ten random bytes for a UUIDv7.
pub(crate) fn random_bytes() -> Result<[u8; 10]> {
    let mut b = [0u8; 10];
    getrandom::fill(&mut b).map_err(|e| worker::Error::RustError(e.to_string()))?;
    Ok(b)
}

/// Calls the site's ledger with an internal request.
pub async fn call(
    env: &Env,
    site: &str,
    method: Method,
    path: &str,
    body: Option<String>,
) -> Result<Response> {
    let stub = env.durable_object("LEDGER")?.get_by_name(site)?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(method)
        .with_headers(headers)
        .with_body(body.map(Into::into));
    let req = Request::new_with_init(&format!("https://ledger{path}"), &init)?;
    stub.fetch_with_request(req).await
}
