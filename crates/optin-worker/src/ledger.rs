//! The per-site ledger: a Durable Object with SQLite storage holding the
//! hash-chained consent events, the derived subscription state and the outbox.

use consent_core::{
    chain::{event_hash, GENESIS},
    ids::uuid7,
    Category, SiteConfig, ValidConsent,
};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::MessageRequest;
use worker::{
    durable_object, DurableObject, Env, Headers, Method, Request, RequestInit, Response, Result,
    SqlStorage, State,
};

use crate::outbox;

/// What the edge worker asks the ledger to record.
#[derive(Debug, Serialize, Deserialize)]
pub struct RecordConsent {
    /// Site configuration at the time of the consent.
    pub site: SiteConfig,
    /// The validated consent.
    pub consent: ValidConsent,
    /// Request context (user agent, truncated IP, country).
    pub context: RequestContext,
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
}

/// Evidence stored with a grant: everything a regulator asks for.
#[derive(Debug, Serialize, Deserialize)]
struct Evidence<'a> {
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
}

/// The canonical encoding the chain hashes: fixed field order, evidence as stored.
#[derive(Serialize)]
struct Canonical<'a> {
    id: &'a str,
    kind: &'a str,
    phone: &'a str,
    categories: &'a [Category],
    server_ts: i64,
    evidence: &'a str,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS events (
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT NOT NULL UNIQUE,
  kind TEXT NOT NULL,
  phone TEXT NOT NULL,
  categories TEXT NOT NULL,
  evidence TEXT NOT NULL,
  server_ts INTEGER NOT NULL,
  prev_hash TEXT NOT NULL,
  hash TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_by_phone ON events(phone, seq);
CREATE TABLE IF NOT EXISTS subscriptions (
  phone TEXT NOT NULL,
  category TEXT NOT NULL,
  status TEXT NOT NULL,
  event_id TEXT NOT NULL,
  updated_at INTEGER NOT NULL,
  PRIMARY KEY (phone, category)
);
CREATE TABLE IF NOT EXISTS outbox (
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
CREATE INDEX IF NOT EXISTS outbox_due ON outbox(status, next_attempt_at);
CREATE TABLE IF NOT EXISTS message_statuses (
  wamid TEXT NOT NULL,
  status TEXT NOT NULL,
  outbox_id TEXT NOT NULL,
  ts INTEGER NOT NULL,
  error_code INTEGER,
  error_title TEXT,
  received_at INTEGER NOT NULL,
  PRIMARY KEY (wamid, status)
);
CREATE INDEX IF NOT EXISTS message_statuses_by_outbox ON message_statuses(outbox_id);
CREATE TABLE IF NOT EXISTS inbound_messages (
  id TEXT PRIMARY KEY,
  phone TEXT NOT NULL,
  kind TEXT NOT NULL,
  action TEXT,
  received_at INTEGER NOT NULL
);
";

/// One site's ledger.
#[durable_object]
pub struct SiteLedger {
    state: State,
    env: Env,
}

impl DurableObject for SiteLedger {
    fn new(state: State, env: Env) -> Self {
        if let Err(e) = state.storage().sql().exec(SCHEMA, None) {
            worker::console_error!("ledger schema: {e}");
        }
        Self { state, env }
    }

    async fn fetch(&self, mut req: Request) -> Result<Response> {
        let path = req.path();
        match (req.method(), path.as_str()) {
            (Method::Post, "/consent") => {
                let cmd: RecordConsent = req.json().await?;
                let recorded = self.record_grant(&cmd)?;
                // Wake the sender now; the outbox row is already durable.
                self.state.storage().set_alarm(0).await?;
                Response::from_json(&recorded).map(|r| r.with_status(201))
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
        outbox::deliver_due(&self.state, &self.env).await?;
        Response::ok("delivered")
    }
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
}

impl SiteLedger {
    pub(crate) fn sql(&self) -> SqlStorage {
        self.state.storage().sql()
    }

    /// Appends a grant event, updates the state table and queues the
    /// confirmation, with no await in between: one atomic write.
    fn record_grant(&self, cmd: &RecordConsent) -> Result<Recorded> {
        let now = worker::Date::now().as_millis() as i64;
        let id = uuid7(now as u64, random_bytes()?);
        let c = &cmd.consent;
        let language = cmd.site.template_language(c.notice.locale);
        let evidence = serde_json::to_string(&Evidence {
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
            template_name: &cmd.site.whatsapp.template_name,
            template_language: language,
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
        for category in &c.categories {
            self.set_state(c.phone.as_str(), *category, "granted", &id, now)?;
        }
        let message = MessageRequest::confirmation(
            c.phone.as_str(),
            &cmd.site.whatsapp.template_name,
            language,
            &cmd.site.business_name,
            &format!("OPTOUT:{id}"),
            &id,
        );
        outbox::enqueue(&self.sql(), &id, c.phone.as_str(), &cmd.site, &message, now)?;
        Ok(Recorded {
            id,
            recorded_at: now,
            categories: c.categories.clone(),
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

    /// Appends one event to the hash chain.
    pub(crate) fn append_event(
        &self,
        id: &str,
        kind: &str,
        phone: &str,
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
        let canonical = serde_json::to_string(&Canonical {
            id,
            kind,
            phone,
            categories,
            server_ts: now,
            evidence,
        })
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
        let hash = event_hash(&prev, &canonical);
        let categories_json = serde_json::to_string(categories)
            .map_err(|e| worker::Error::RustError(e.to_string()))?;
        self.sql().exec(
            "INSERT INTO events (id, kind, phone, categories, evidence, server_ts, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            vec![
                id.into(),
                kind.into(),
                phone.into(),
                categories_json.into(),
                evidence.into(),
                now.into(),
                prev.into(),
                hash.into(),
            ],
        )?;
        Ok(())
    }

    fn subscriber(&self, phone: &str) -> Result<Option<SubscriberView>> {
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
        let state = self
            .sql()
            .exec(
                "SELECT category, status, event_id, updated_at FROM subscriptions
                 WHERE phone = ? ORDER BY category",
                vec![phone.into()],
            )?
            .to_array()?;
        let confirmations = outbox::for_phone(&self.sql(), phone)?;
        Ok(Some(SubscriberView {
            phone: phone.to_owned(),
            events: events.into_iter().map(EventView::from).collect(),
            state,
            confirmations,
        }))
    }
}

#[derive(Deserialize)]
struct EventRow {
    id: String,
    kind: String,
    categories: String,
    evidence: String,
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
            evidence: serde_json::from_str(&r.evidence).unwrap_or_default(),
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
    phone: String,
    events: Vec<EventView>,
    state: Vec<StateRow>,
    confirmations: Vec<outbox::OutboxView>,
}

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
