//! The one typed protocol between the edge and a site's ledger Durable Object.
//!
//! The edge sends a [`LedgerCommand`] (one JSON body, one route); the ledger
//! answers the command's reply type with 200, or a [`LedgerError`] with its
//! status. [`LedgerClient`] has one typed method per command, so no edge code
//! reads a ledger status code or builds a ledger path.

mod audit;
mod breaker;
mod consent;
mod hooks;
mod prefs;
mod sending;
mod stats;
mod subscriber;
mod templates;
mod webhook;

pub use audit::{BrokenLink, Erased, LinesPage, NdjsonPage, Verification, NEXT_HEADER};
#[cfg(test)]
pub use audit::{ExportPage, ExportRow};
#[cfg(test)]
pub use breaker::BreakerDecision;
pub use breaker::{BreakerView, Decided, HeldSummary, DECISIONS_SHOWN};
pub use consent::{ConsentProgress, ConsentState, RecordConsent, Recorded, RequestContext};
pub use hooks::{
    b64_decode, b64_encode, live_secrets, new_secret, signature_header, HookDeliveries,
    HookDeliveryView, HookEndpoint, HookEndpointState, HookEventType, HookSecret, HooksReplayed,
};
pub use prefs::{
    check_pause, day_number, day_string, preferences_token, present, Change, Channel, Channels,
    Frequency, Preferences,
};
pub use sending::{
    CategoryRules, CheckPermissions, Decision, MessageView, Permission, Permissions, Refusal,
    SendMessage, SendReply,
};
pub use stats::{
    CountEvents, Delivery, DoubleOptInCounts, MessageCount, Range, Sending, Series, SourceCount,
    Stats,
};
pub use subscriber::{
    DoubleOptInView, EventView, OutboxView, StateRow, StatusView, SubscriberView,
};
pub use templates::{TemplateStatus, TemplatesRecorded};
pub use webhook::{Applied, WebhookBatch};

use serde::{de::DeserializeOwned, Deserialize, Serialize};
use worker::{Env, Headers, Method, Request, RequestInit, Stub};

use crate::error::AppError;

/// Everything the edge may ask of a ledger. Serialised as
/// `{"command": "record_consent", …}`.
#[derive(Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum LedgerCommand {
    /// Record a consent and queue its confirmation → [`ConsentReply`].
    RecordConsent(Box<RecordConsent>),
    /// A person's current choices → [`Preferences`].
    Preferences {
        /// The consent id a preference token names.
        consent_id: String,
    },
    /// Change a person's choices → [`Preferences`].
    Change(Change),
    /// Count funnel beacons → `()`.
    CountEvents(CountEvents),
    /// Apply one business number's webhook changes → [`Applied`].
    ApplyWebhook(Box<WebhookBatch>),
    /// Lift a sending halt → [`Resumed`].
    ResumeSending,
    /// The burst breaker's state → [`BreakerView`].
    Breaker {
        /// The site's configured threshold (`breaker.threshold_per_10_min`), if any.
        threshold_per_10_min: Option<u32>,
    },
    /// Send the confirmations the breaker holds, paced, and close it → [`Decided`].
    ReleaseHeld {
        /// The admin token that authorised it (`ADMIN_TOKEN` or `ADMIN_TOKEN_<SITE>`).
        actor: String,
    },
    /// Never send the confirmations the breaker holds (their grants stay), and close it → [`Decided`].
    DropHeld {
        /// The admin token that authorised it.
        actor: String,
    },
    /// One person's history → [`SubscriberView`].
    Subscriber {
        /// E.164.
        phone: String,
    },
    /// Erase one person's personal data → [`Erased`].
    Erase {
        /// E.164.
        phone: String,
    },
    /// Walk the chain → [`Verification`].
    Verify,
    /// Counts and series of the days `from`..=`to` (YYYY-MM-DD) → [`Stats`].
    Stats {
        /// First day.
        from: String,
        /// Last day.
        to: String,
    },
    /// Local demo only (`DEV_CLOCK=allow`): shift this ledger's clock so a seed
    /// can spread history over past days → `{"offset_ms"}`.
    SetDevClock {
        /// Milliseconds from the wall clock, ≤ 0.
        offset_ms: i64,
    },
    /// Benchmarks only (`DEV_SEED=allow`): append `events` grants with the same
    /// evidence, for phones numbered from `from` → `{"written"}`.
    SeedHistory {
        /// The first phone's number.
        from: u64,
        /// How many grants (at most 20,000 per command).
        events: u32,
        /// The categories each grant holds.
        categories: Vec<consent_core::Category>,
        /// Evidence JSON stored with each grant.
        evidence: String,
    },
    /// One page of the chain already written as CSV rows (no header) → [`NdjsonPage`].
    ExportCsv {
        /// Last `seq` of the previous page (0 for the first).
        after: i64,
        /// Only events at or after this time, Unix ms.
        since: i64,
    },
    /// One page of the chain already written as NDJSON → [`NdjsonPage`].
    ExportNdjson {
        /// Last `seq` of the previous page (0 for the first).
        after: i64,
        /// Only events at or after this time, Unix ms.
        since: i64,
    },
    /// Template statuses just read from Meta; replaces what was known of those names.
    RecordTemplateStatuses { statuses: Vec<TemplateStatus> },
    /// Decide on a business message and queue it if allowed → [`SendReply`].
    SendMessage(Box<SendMessage>),
    /// Whether each category may be sent to a person now → [`Permissions`].
    CheckPermissions(CheckPermissions),
    /// One page of the send decisions as NDJSON → [`NdjsonPage`].
    ExportMessages {
        /// Last row of the previous page (0 for the first).
        after: i64,
        /// Only decisions at or after this time, Unix ms.
        since: i64,
    },
    /// The site's retention, stored in every shard when the site is saved → the same.
    SetRetention(consent_core::Retention),
    /// Where one consent stands (its confirmation, for double opt-in) → [`ConsentState`].
    ConsentState {
        /// The consent (grant event) id.
        id: String,
    },
    /// One send decision with its delivery → [`MessageView`].
    Message {
        /// The decision (message) id.
        id: String,
    },
    /// Replace this ledger's copy of the site's webhook endpoints →
    /// `Vec<HookEndpointState>`.
    SyncHookEndpoints {
        /// The site.
        site: String,
        /// Every endpoint of the site, as stored in KV.
        endpoints: Vec<HookEndpoint>,
    },
    /// What this ledger knows of each endpoint's deliveries → `Vec<HookEndpointState>`.
    HookEndpointStates,
    /// An endpoint's newest deliveries here → [`HookDeliveries`].
    HookDeliveries {
        /// `whe_…`.
        endpoint_id: String,
        /// At most this many.
        limit: i64,
    },
    /// Queue again an endpoint's delivered events of a time range → [`HooksReplayed`].
    ReplayHooks {
        /// `whe_…`.
        endpoint_id: String,
        /// From, Unix ms.
        from: i64,
        /// To (inclusive), Unix ms.
        to: i64,
    },
}

/// Why a ledger refused a command. Serialised as `{"error": "rate-limited", …}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, thiserror::Error)]
#[serde(tag = "error", rename_all = "kebab-case")]
pub enum LedgerError {
    /// A limit was hit.
    #[error("{scope} limit; retry after {retry_after} s")]
    RateLimited {
        /// Which limit.
        scope: String,
        /// Seconds until it resets.
        retry_after: i64,
    },
    /// The burst breaker is open and the site asks for a Turnstile challenge
    /// meanwhile: nothing recorded.
    #[error("challenge required while the burst breaker is open")]
    ChallengeRequired,
    /// Same idempotency key, different body.
    #[error("idempotency key reused for another body")]
    IdempotencyKeyReused,
    /// Nothing recorded for that person or consent id.
    #[error("no such subscriber")]
    NoSubscriber,
    /// The ledger's schema could not be brought up to date: it serves nothing.
    #[error("ledger unavailable: {detail}")]
    Unavailable {
        /// The migration's error.
        detail: String,
    },
    /// The body was not a command this ledger knows (an edge/ledger version skew).
    #[error("bad ledger command: {detail}")]
    BadCommand {
        /// The decoder's message.
        detail: String,
    },
    /// Storage or another binding failed.
    #[error("ledger storage: {detail}")]
    Storage {
        /// The cause.
        detail: String,
    },
}

impl LedgerError {
    /// The HTTP status the ledger answers with.
    pub fn status(&self) -> u16 {
        match self {
            LedgerError::RateLimited { .. } => 429,
            LedgerError::ChallengeRequired => 403,
            LedgerError::IdempotencyKeyReused => 422,
            LedgerError::NoSubscriber => 404,
            LedgerError::Unavailable { .. } => 503,
            LedgerError::BadCommand { .. } => 400,
            LedgerError::Storage { .. } => 500,
        }
    }
}

impl From<worker::Error> for LedgerError {
    fn from(e: worker::Error) -> Self {
        LedgerError::Storage {
            detail: e.to_string(),
        }
    }
}

impl From<serde_json::Error> for LedgerError {
    fn from(e: serde_json::Error) -> Self {
        LedgerError::Storage {
            detail: e.to_string(),
        }
    }
}

impl From<LedgerError> for AppError {
    fn from(e: LedgerError) -> Self {
        match e {
            LedgerError::RateLimited { scope, retry_after } => {
                AppError::RateLimited { scope, retry_after }
            }
            LedgerError::ChallengeRequired => AppError::ChallengeRequired {
                site_key: String::new(),
                script: String::new(),
            },
            LedgerError::IdempotencyKeyReused => AppError::IdempotencyKeyReused,
            LedgerError::NoSubscriber => AppError::NoSubscriber,
            LedgerError::Unavailable { detail } => AppError::LedgerUnavailable(detail),
            e @ (LedgerError::BadCommand { .. } | LedgerError::Storage { .. }) => {
                AppError::Internal(e.to_string())
            }
        }
    }
}

/// The answer to [`LedgerCommand::RecordConsent`]: the first answer stored for
/// an idempotency key is replayed byte for byte.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsentReply {
    /// 201 for a new record.
    pub status: u16,
    /// Whether this repeats an earlier answer.
    pub replayed: bool,
    /// The JSON body (a [`Recorded`]).
    pub body: String,
}

/// The answer to [`LedgerCommand::ResumeSending`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Resumed {
    /// The halt that was lifted, if sending was halted.
    pub was: Option<Sending>,
}

/// The namespace's view restricted to a jurisdiction: workers-rs reaches
/// `jurisdiction()` only for unique ids, so named ones go through the JS binding.
fn in_jurisdiction(
    namespace: &worker::ObjectNamespace,
    j: consent_core::Jurisdiction,
    name: &str,
) -> Result<Stub, String> {
    use worker::wasm_bindgen::JsCast;
    let target: &worker::wasm_bindgen::JsValue = namespace.as_ref();
    let restrict = worker::js_sys::Reflect::get(target, &"jurisdiction".into())
        .ok()
        .and_then(|f| f.dyn_into::<worker::js_sys::Function>().ok())
        .ok_or("the LEDGER binding has no jurisdiction()")?;
    let restricted: worker::ObjectNamespace = restrict
        .call1(target, &j.as_str().into())
        .map_err(|e| format!("jurisdiction({}): {e:?}", j.as_str()))?
        .unchecked_into();
    restricted
        .get_by_name(name)
        .map_err(|e| format!("ledger {name} in {}: {e}", j.as_str()))
}

/// `JURISDICTIONS = "local-unrestricted"`: set only by `scripts/dev` for workerd.
fn unrestricted_locally(env: &Env) -> bool {
    crate::vars::is(env, "JURISDICTIONS", "local-unrestricted")
}

/// A typed handle on one ledger (a site, or one shard of it).
pub struct LedgerClient {
    stub: Stub,
    name: String,
}

impl LedgerClient {
    /// The ledger named `name` (see `SiteConfig::shard_name`).
    pub fn new(env: &Env, name: &str) -> Result<Self, AppError> {
        let namespace = env.durable_object("LEDGER")?;
        let stub = match consent_core::Jurisdiction::of_ledger(name) {
            Some(j) => match in_jurisdiction(&namespace, j, name) {
                Ok(stub) => stub,
                // workerd has no jurisdictions ("not implemented in workerd"):
                // only a local stack, which says so, runs such a site unrestricted.
                Err(_) if unrestricted_locally(env) => namespace.get_by_name(name)?,
                // Never quietly outside the jurisdiction the site was created in.
                Err(e) => return Err(AppError::LedgerUnavailable(e)),
            },
            None => namespace.get_by_name(name)?,
        };
        Ok(LedgerClient {
            stub,
            name: name.to_owned(),
        })
    }

    /// Sends one command and decodes its reply or refusal.
    async fn send<T: DeserializeOwned>(&self, cmd: &LedgerCommand) -> Result<T, LedgerError> {
        let resp = self.post(cmd).await?;
        let status = resp.status_code();
        let text = crate::http::answer_text(resp).await?;
        if status == 200 {
            return Ok(serde_json::from_str(&text)?);
        }
        Err(self.refusal(status, &text))
    }

    /// Sends a command the ledger answers with NDJSON lines (the export pages).
    async fn send_lines(&self, cmd: &LedgerCommand) -> Result<LinesPage, LedgerError> {
        let resp = self.post(cmd).await?;
        let status = resp.status_code();
        if status != 200 {
            let text = crate::http::answer_text(resp).await?;
            return Err(self.refusal(status, &text));
        }
        let next = resp
            .headers()
            .get(NEXT_HEADER)?
            .and_then(|n| n.parse().ok());
        let body = crate::http::answer_bytes(resp).await?;
        Ok(LinesPage { body, next })
    }

    async fn post(&self, cmd: &LedgerCommand) -> Result<worker::Response, LedgerError> {
        let body = serde_json::to_string(cmd)?;
        let headers = Headers::new();
        headers.set("Content-Type", "application/json")?;
        let mut init = RequestInit::new();
        init.with_method(Method::Post)
            .with_headers(headers)
            .with_body(Some(body.into()));
        let req = Request::new_with_init("https://ledger/", &init)?;
        Ok(self.stub.fetch_with_request(req).await?)
    }

    /// The ledger's refusal, or a storage error saying what came back instead.
    fn refusal(&self, status: u16, text: &str) -> LedgerError {
        serde_json::from_str(text).unwrap_or_else(|_| LedgerError::Storage {
            detail: format!(
                "ledger {} answered {}: {}",
                self.name,
                status,
                text.chars().take(200).collect::<String>()
            ),
        })
    }

    /// [`LedgerCommand::RecordConsent`].
    pub async fn record_consent(&self, cmd: RecordConsent) -> Result<ConsentReply, LedgerError> {
        self.send(&LedgerCommand::RecordConsent(Box::new(cmd)))
            .await
    }

    /// [`LedgerCommand::Preferences`].
    pub async fn preferences(&self, consent_id: &str) -> Result<Preferences, LedgerError> {
        let consent_id = consent_id.to_owned();
        self.send(&LedgerCommand::Preferences { consent_id }).await
    }

    /// [`LedgerCommand::Change`].
    pub async fn change(&self, change: Change) -> Result<Preferences, LedgerError> {
        self.send(&LedgerCommand::Change(change)).await
    }

    /// [`LedgerCommand::CountEvents`].
    pub async fn count_events(&self, cmd: CountEvents) -> Result<(), LedgerError> {
        self.send(&LedgerCommand::CountEvents(cmd)).await
    }

    /// [`LedgerCommand::ApplyWebhook`].
    pub async fn apply_webhook(&self, batch: WebhookBatch) -> Result<Applied, LedgerError> {
        self.send(&LedgerCommand::ApplyWebhook(Box::new(batch)))
            .await
    }

    /// [`LedgerCommand::ResumeSending`].
    pub async fn resume_sending(&self) -> Result<Resumed, LedgerError> {
        self.send(&LedgerCommand::ResumeSending).await
    }

    /// [`LedgerCommand::Breaker`].
    pub async fn breaker(
        &self,
        threshold_per_10_min: Option<u32>,
    ) -> Result<BreakerView, LedgerError> {
        self.send(&LedgerCommand::Breaker {
            threshold_per_10_min,
        })
        .await
    }

    /// [`LedgerCommand::ReleaseHeld`].
    pub async fn release_held(&self, actor: &str) -> Result<Decided, LedgerError> {
        let actor = actor.to_owned();
        self.send(&LedgerCommand::ReleaseHeld { actor }).await
    }

    /// [`LedgerCommand::DropHeld`].
    pub async fn drop_held(&self, actor: &str) -> Result<Decided, LedgerError> {
        let actor = actor.to_owned();
        self.send(&LedgerCommand::DropHeld { actor }).await
    }

    /// [`LedgerCommand::Subscriber`].
    pub async fn subscriber(&self, phone: &str) -> Result<SubscriberView, LedgerError> {
        let phone = phone.to_owned();
        self.send(&LedgerCommand::Subscriber { phone }).await
    }

    /// [`LedgerCommand::Erase`].
    pub async fn erase(&self, phone: &str) -> Result<Erased, LedgerError> {
        let phone = phone.to_owned();
        self.send(&LedgerCommand::Erase { phone }).await
    }

    /// [`LedgerCommand::Verify`].
    pub async fn verify(&self) -> Result<Verification, LedgerError> {
        self.send(&LedgerCommand::Verify).await
    }

    /// [`LedgerCommand::Stats`].
    pub async fn stats(&self, range: &Range) -> Result<Stats, LedgerError> {
        let (from, to) = (range.from.format(), range.to.format());
        self.send(&LedgerCommand::Stats { from, to }).await
    }

    /// [`LedgerCommand::SetDevClock`].
    pub async fn set_dev_clock(&self, offset_ms: i64) -> Result<serde_json::Value, LedgerError> {
        self.send(&LedgerCommand::SetDevClock { offset_ms }).await
    }

    /// [`LedgerCommand::SeedHistory`].
    pub async fn seed_history(
        &self,
        from: u64,
        events: u32,
        categories: Vec<consent_core::Category>,
        evidence: String,
    ) -> Result<serde_json::Value, LedgerError> {
        self.send(&LedgerCommand::SeedHistory {
            from,
            events,
            categories,
            evidence,
        })
        .await
    }

    /// [`LedgerCommand::ExportCsv`].
    pub async fn export_csv(&self, after: i64, since: i64) -> Result<LinesPage, LedgerError> {
        self.send_lines(&LedgerCommand::ExportCsv { after, since })
            .await
    }

    /// [`LedgerCommand::ExportNdjson`].
    pub async fn export_ndjson(&self, after: i64, since: i64) -> Result<LinesPage, LedgerError> {
        self.send_lines(&LedgerCommand::ExportNdjson { after, since })
            .await
    }

    /// [`LedgerCommand::SendMessage`].
    pub async fn send_message(&self, cmd: SendMessage) -> Result<SendReply, LedgerError> {
        self.send(&LedgerCommand::SendMessage(Box::new(cmd))).await
    }

    /// [`LedgerCommand::CheckPermissions`].
    pub async fn check_permissions(
        &self,
        cmd: CheckPermissions,
    ) -> Result<Permissions, LedgerError> {
        self.send(&LedgerCommand::CheckPermissions(cmd)).await
    }

    /// [`LedgerCommand::ExportMessages`].
    pub async fn export_messages(&self, after: i64, since: i64) -> Result<LinesPage, LedgerError> {
        self.send_lines(&LedgerCommand::ExportMessages { after, since })
            .await
    }

    /// [`LedgerCommand::SetRetention`].
    pub async fn set_retention(
        &self,
        r: consent_core::Retention,
    ) -> Result<consent_core::Retention, LedgerError> {
        self.send(&LedgerCommand::SetRetention(r)).await
    }

    /// [`LedgerCommand::ConsentState`]; `NoSubscriber` when no such consent.
    pub async fn consent_state(&self, id: &str) -> Result<ConsentState, LedgerError> {
        let id = id.to_owned();
        self.send(&LedgerCommand::ConsentState { id }).await
    }

    /// [`LedgerCommand::Message`]; `NoSubscriber` when no such decision.
    pub async fn message(&self, id: &str) -> Result<MessageView, LedgerError> {
        let id = id.to_owned();
        self.send(&LedgerCommand::Message { id }).await
    }

    /// [`LedgerCommand::SyncHookEndpoints`].
    pub async fn sync_hook_endpoints(
        &self,
        site: &str,
        endpoints: &[HookEndpoint],
    ) -> Result<Vec<HookEndpointState>, LedgerError> {
        let (site, endpoints) = (site.to_owned(), endpoints.to_vec());
        self.send(&LedgerCommand::SyncHookEndpoints { site, endpoints })
            .await
    }

    /// [`LedgerCommand::HookEndpointStates`].
    pub async fn hook_endpoint_states(&self) -> Result<Vec<HookEndpointState>, LedgerError> {
        self.send(&LedgerCommand::HookEndpointStates).await
    }

    /// [`LedgerCommand::HookDeliveries`].
    pub async fn hook_deliveries(
        &self,
        endpoint_id: &str,
        limit: i64,
    ) -> Result<HookDeliveries, LedgerError> {
        let endpoint_id = endpoint_id.to_owned();
        self.send(&LedgerCommand::HookDeliveries { endpoint_id, limit })
            .await
    }

    /// [`LedgerCommand::ReplayHooks`].
    pub async fn replay_hooks(
        &self,
        endpoint_id: &str,
        from: i64,
        to: i64,
    ) -> Result<HooksReplayed, LedgerError> {
        let endpoint_id = endpoint_id.to_owned();
        self.send(&LedgerCommand::ReplayHooks {
            endpoint_id,
            from,
            to,
        })
        .await
    }

    /// [`LedgerCommand::RecordTemplateStatuses`].
    pub async fn record_template_statuses(
        &self,
        statuses: Vec<TemplateStatus>,
    ) -> Result<TemplatesRecorded, LedgerError> {
        self.send(&LedgerCommand::RecordTemplateStatuses { statuses })
            .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_tagged_by_name() {
        let cmd = LedgerCommand::ExportCsv { after: 5, since: 0 };
        let json = serde_json::to_string(&cmd).unwrap();
        assert_eq!(json, r#"{"command":"export_csv","after":5,"since":0}"#);
        let unit = serde_json::to_string(&LedgerCommand::Verify).unwrap();
        assert_eq!(unit, r#"{"command":"verify"}"#);
        assert!(serde_json::from_str::<LedgerCommand>(r#"{"command":"drop_tables"}"#).is_err());
    }

    #[test]
    fn refusals_round_trip_with_their_status() {
        let e = LedgerError::RateLimited {
            scope: "ip".into(),
            retry_after: 7,
        };
        let json = serde_json::to_string(&e).unwrap();
        assert_eq!(
            json,
            r#"{"error":"rate-limited","scope":"ip","retry_after":7}"#
        );
        assert_eq!(serde_json::from_str::<LedgerError>(&json).unwrap(), e);
        assert_eq!(e.status(), 429);
        assert_eq!(LedgerError::NoSubscriber.status(), 404);
        let unavailable = LedgerError::Unavailable { detail: "x".into() };
        assert_eq!(unavailable.status(), 503);
        assert!(matches!(
            AppError::from(unavailable),
            AppError::LedgerUnavailable(_)
        ));
        assert!(matches!(
            AppError::from(LedgerError::NoSubscriber),
            AppError::NoSubscriber
        ));
    }
}
