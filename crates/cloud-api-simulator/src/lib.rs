//! A local stand-in for the WhatsApp Cloud API (Graph API) send endpoint, for
//! offline demos and tests. It records every send call and can be told to fail.
//!
//! # Graph endpoint
//!
//! `POST /{version}/{phone_number_id}/messages` with a [`MessageRequest`] body.
//! Checks, in order: body ≤ 1 MiB (else 413), `Authorization: Bearer <token>`
//! when a token is configured (else 401, code 190), `version` is `v<digits>.<digits>`
//! and `phone_number_id` is digits (else 400, code 100), then the next queued
//! fault if any, then the body: valid JSON of the right shape, `messaging_product`
//! `whatsapp`, `to` an optional `+` and 8–15 digits (else 400, code 100).
//! Success is 200 with a [`SendResponse`] carrying a fresh `wamid.…`. Errors are
//! Meta-shaped [`ErrorEnvelope`]s. Every POST to this path is recorded.
//!
//! # Control API (no token needed)
//!
//! - `GET /_sim/health` → `{"ok":true}`.
//! - `GET /_sim/messages[?to=+62…][&status=accepted|failed]` → `{"messages":[Record…]}`,
//!   oldest first; `to` matches with or without `+`.
//! - `DELETE /_sim/messages` → 204, forgets all records.
//! - `POST /_sim/faults` with a [`FaultSpec`] → 200 `{"faults":[Fault…]}` (all pending):
//!   - `{"code":131056,"count":2,"http_status":400,"message":"…","details":"…"}`: the next
//!     `count` sends answer that Graph error. `http_status` defaults to 500 for codes
//!     1, 2, 131000 and 131016, 401 for 190, else 400.
//!   - `{"kind":"timeout","count":1,"delay_ms":5000}`: wait `delay_ms` (≤ 30000,
//!     default 30000), then answer normally.
//!   - `{"kind":"http_500","count":1,"http_status":502}`: an HTML error page
//!     (status defaults to 500).
//!
//!   `count` defaults to 1. Faults are used in FIFO order, one per send call.
//!   `"to":"+62…"` on any of them limits it to sends to that recipient (the
//!   others pass it by), so a test faults its own message even while other
//!   sends are still in flight.
//! - `GET /_sim/faults` → `{"faults":[Fault…]}`; `DELETE /_sim/faults` → 204.
//!
//! - `GET|POST|DELETE /_sim/statuses`: plans for the status webhooks of the next
//!   accepted sends (`{"statuses":["read","sent"],"count":1}`; default sent, delivered, read).
//! - `POST /_sim/inbound` `{"from":"+62…","text":"STOP"}` or `{"from":…,"button_payload":…}`:
//!   a person writes; delivered as a signed webhook before answering.
//! - `GET|DELETE /_sim/webhooks`: the deliveries attempted.
//!
//! Webhooks go only to a loopback [`WebhookTarget`] set in [`Config::webhook`].
//!
//! Anything else answers 404 with Graph's code 2500 "Unknown path components".
#![deny(missing_docs)]

mod chaos;
pub mod contract;
mod server;
mod webhooks;

pub use chaos::{Chaos, ChaosSpec, DEFAULT_KINDS};

pub use contract::{Contract, Schema, Violation, CORRECTIONS};
pub use server::{serve, ServerHandle, WORKERS};
pub use webhooks::{Delivery, InboundSpec, StatusPlan, WebhookTarget, DEFAULT_STATUSES, MAX_PLAN};

use std::collections::{HashMap, VecDeque};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use whatsapp_cloud_api::error::ErrorData;
use whatsapp_cloud_api::{
    Contact, ErrorEnvelope, GraphError, MessageRequest, SendResponse, SentMessage,
};

/// Largest accepted request body, in bytes.
pub const MAX_BODY: usize = 1024 * 1024;
/// Longest delay a timeout fault may ask for, in milliseconds.
pub const MAX_DELAY_MS: u64 = 30_000;
/// Default port of the binary.
pub const DEFAULT_PORT: u16 = 8789;

/// Simulator settings.
#[derive(Debug, Clone, Default)]
pub struct Config {
    /// Bearer token the Graph endpoint requires; `None` accepts any caller.
    pub token: Option<String>,
    /// Print one line per send call on stdout.
    pub log: bool,
    /// Where to deliver signed status and inbound webhooks; `None` delivers none.
    pub webhook: Option<WebhookTarget>,
    /// Pause before each status webhook of a send, in milliseconds.
    pub status_gap_ms: u64,
}

/// An HTTP request, reduced to what the simulator looks at.
#[derive(Debug, Clone, Default)]
pub struct SimRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/_sim/messages?to=62812`.
    pub url: String,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl SimRequest {
    /// A request without body or headers.
    pub fn new(method: &str, url: &str) -> SimRequest {
        SimRequest {
            method: method.into(),
            url: url.into(),
            ..SimRequest::default()
        }
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> SimRequest {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON.
    pub fn json<T: Serialize>(self, value: &T) -> SimRequest {
        self.body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &str) -> SimRequest {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }
}

/// The simulator's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// How long to wait before answering (timeout faults).
    pub delay: Duration,
    /// Webhooks to deliver after answering (status updates of an accepted send).
    pub after: Vec<PendingWebhook>,
    /// Close the connection instead of answering (a `drop` fault): the send is
    /// accepted and recorded, but the caller never learns it.
    pub drop: bool,
}

/// A webhook waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWebhook {
    /// `status` or `inbound`.
    pub kind: &'static str,
    /// The wamid it concerns.
    pub wamid: String,
    /// The status, for `status`.
    pub status: Option<String>,
    /// The signed-to-be JSON body.
    pub body: Vec<u8>,
    /// The delivery it repeats, for a redelivery.
    pub redelivery_of: Option<u64>,
}

impl SimResponse {
    fn json(status: u16, value: &impl Serialize) -> SimResponse {
        SimResponse {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    fn no_content() -> SimResponse {
        SimResponse {
            status: 204,
            content_type: "application/json",
            body: Vec::new(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    fn html(status: u16) -> SimResponse {
        let body = format!(
            "<!DOCTYPE html>\n<html><head><title>Error</title></head>\
             <body><h1>{status} Server Error</h1><p>Sorry, something went wrong.</p></body></html>\n"
        );
        SimResponse {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}

/// Whether a recorded send was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Answered 200 with a wamid.
    Accepted,
    /// Answered with an error.
    Failed,
}

/// The template part of a recorded send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    /// Template name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Body parameter texts, in order.
    pub body_texts: Vec<String>,
}

/// One send call as received and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3, … in arrival order.
    pub seq: u64,
    /// Arrival time, unix milliseconds.
    pub received_at_ms: u64,
    /// API version from the path.
    pub version: String,
    /// Phone-number id from the path.
    pub phone_number_id: String,
    /// The `to` of the body, as given, when readable.
    pub to: Option<String>,
    /// Accepted or failed.
    pub status: RecordStatus,
    /// HTTP status answered.
    pub http_status: u16,
    /// Graph error code answered, if any.
    pub error_code: Option<i64>,
    /// The wamid, when accepted.
    pub wamid: Option<String>,
    /// Kind of the fault applied to this call, if any.
    pub fault: Option<String>,
    /// Template name, language and body texts, for template messages.
    pub template: Option<TemplateRecord>,
    /// The text of a free-form `text` message.
    #[serde(default)]
    pub text: Option<String>,
    /// The request body as JSON (`null` when it was not JSON).
    pub request: Value,
    /// The body as text, only when it was not JSON (first 4096 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
}

/// A fault as posted to `POST /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `graph` (default), `timeout`, `http_500` or `drop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Graph error code (required for `graph`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// How many send calls it applies to (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// HTTP status to answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Error message (default: Meta's message for the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Delay of a `timeout` fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Only sends to this recipient (E.164, with or without `+`); absent: any send.
    /// Lets a test fault its own message while other sends are still in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// What a fault does to a send call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer a Graph error.
    Graph {
        /// Graph error code.
        code: i64,
        /// HTTP status.
        http_status: u16,
        /// Error message.
        message: String,
        /// `error_data.details`.
        details: String,
    },
    /// Wait, then answer normally.
    Timeout {
        /// The wait.
        delay_ms: u64,
    },
    /// Answer an HTML error page.
    #[serde(rename = "http_500")]
    Http500 {
        /// HTTP status.
        http_status: u16,
    },
    /// Accept and record the message, then close the connection without answering.
    Drop,
}

impl FaultKind {
    fn name(&self) -> &'static str {
        match self {
            FaultKind::Graph { .. } => "graph",
            FaultKind::Timeout { .. } => "timeout",
            FaultKind::Http500 { .. } => "http_500",
            FaultKind::Drop => "drop",
        }
    }
}

/// A pending fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Send calls it still applies to.
    pub remaining: u32,
    /// Only sends to this recipient (digits, no `+`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl FaultSpec {
    /// Validates the spec and fills in defaults.
    pub fn into_fault(self) -> Result<Fault, String> {
        let remaining = self.count.unwrap_or(1);
        if remaining == 0 {
            return Err("count must be at least 1".into());
        }
        let status_ok = |s: u16| (100..=599).contains(&s);
        let kind = match self.kind.as_deref().unwrap_or("graph") {
            "graph" => {
                let code = self.code.ok_or("a graph fault needs a code")?;
                let http_status = self.http_status.unwrap_or(default_status(code));
                if !(400..=599).contains(&http_status) {
                    return Err("http_status of a graph fault must be 400..=599".into());
                }
                FaultKind::Graph {
                    code,
                    http_status,
                    message: self.message.unwrap_or_else(|| meta_message(code)),
                    details: self
                        .details
                        .unwrap_or_else(|| "Simulated fault injected via /_sim/faults".into()),
                }
            }
            "timeout" => FaultKind::Timeout {
                delay_ms: self.delay_ms.unwrap_or(MAX_DELAY_MS).min(MAX_DELAY_MS),
            },
            "http_500" => {
                let http_status = self.http_status.unwrap_or(500);
                if !status_ok(http_status) {
                    return Err("http_status must be 100..=599".into());
                }
                FaultKind::Http500 { http_status }
            }
            "drop" => FaultKind::Drop,
            other => return Err(format!("unknown fault kind {other:?}")),
        };
        let to = self.to.map(|t| t.trim_start_matches('+').to_owned());
        if to
            .as_deref()
            .is_some_and(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("to must be a phone number in E.164".into());
        }
        Ok(Fault {
            kind,
            remaining,
            to,
        })
    }
}

/// HTTP status Meta uses for a Graph error code.
pub fn default_status(code: i64) -> u16 {
    match code {
        1 | 2 | 131000 | 131016 => 500,
        190 | 104 => 401,
        4 | 80007 | 130429 => 429,
        10 | 200..=299 => 403,
        _ => 400,
    }
}

/// Meta's usual message for a Graph error code.
pub fn meta_message(code: i64) -> String {
    let text = match code {
        1 => return "An unknown error occurred".into(),
        2 => return "An unexpected error has occurred. Please retry your request later.".into(),
        190 => return "Invalid OAuth access token - Cannot parse access token".into(),
        4 => "Application request limit reached",
        100 => "Invalid parameter",
        80007 => "Rate limit issues",
        130429 => "Rate limit hit",
        131000 => "Something went wrong",
        131016 => "Service unavailable",
        131026 => "Message undeliverable",
        131047 => "Re-engagement message",
        131048 => "Spam rate limit hit",
        131049 => "This message was not delivered to maintain healthy ecosystem engagement.",
        131056 => "(Business Account, Consumer Account) pair rate limit hit",
        132000 => "Number of parameters does not match the expected number of params",
        132001 => "Template name does not exist in the translation",
        _ => "Simulated error",
    };
    format!("(#{code}) {text}")
}

/// Meta's title for a code, without the `(#code)` prefix (status webhook errors).
pub fn meta_title(code: i64) -> String {
    let m = meta_message(code);
    m.split_once(") ").map(|(_, t)| t.to_owned()).unwrap_or(m)
}

/// Whether Meta marks a code's error transient (`is_transient`).
pub fn is_transient(code: i64) -> bool {
    matches!(
        code,
        1 | 2 | 4 | 80007 | 130429 | 131000 | 131016 | 131056 | 131057
    )
}

/// Subcode the simulator answers with when a request breaks Meta's schema.
/// Meta's subcode for an invalid parameter varies with the parameter; this one
/// is the simulator's, so tests can tell a contract failure from other 100s.
pub const SCHEMA_VIOLATION_SUBCODE: i64 = 2494010;
/// Subcode of code 100 for an object id that does not exist (`error_subcode` 33).
pub const UNKNOWN_OBJECT_SUBCODE: i64 = 33;

/// Meta's description, loaded and compiled once per process.
pub fn contract() -> Result<&'static Contract, &'static str> {
    static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
    CONTRACT
        .get_or_init(Contract::load)
        .as_ref()
        .map_err(String::as_str)
}

/// What the contract check has seen, for `GET /_sim/contract`.
#[derive(Debug, Default, Clone, Serialize)]
struct ContractLog {
    checked: std::collections::BTreeMap<&'static str, u64>,
    violations: Vec<LoggedViolation>,
}

/// A violation and where it was seen.
#[derive(Debug, Clone, Serialize)]
struct LoggedViolation {
    /// `request` (what the app sent), `response` or `webhook` (what we emitted).
    direction: &'static str,
    /// Send record or delivery seq.
    seq: u64,
    #[serde(flatten)]
    violation: Violation,
}

/// Recorded calls, pending faults and the id generator.
#[derive(Debug)]
struct State {
    records: Vec<Record>,
    faults: VecDeque<Fault>,
    next_seq: u64,
    rng: u64,
    plans: VecDeque<StatusPlan>,
    deliveries: Vec<Delivery>,
    /// wa_id → the business number that last wrote to them.
    conversations: HashMap<String, String>,
    /// Rate-based faults, consulted when no queued fault is pending.
    chaos: Option<Chaos>,
    /// wa_id → the last wamid the business sent them (what a tap or reaction answers).
    last_sent: HashMap<String, String>,
    /// Contract checks and their violations.
    contract: ContractLog,
}

impl State {
    fn random(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn fbtrace_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..23)
            .map(|_| ALPHABET[(self.random() % 64) as usize] as char)
            .collect()
    }

    fn wamid(&mut self, seq: u64) -> String {
        format!("wamid.SIM{:016X}{seq:08X}", self.random())
    }

    /// Statuses for the next accepted send: the queued plan's, else the default.
    fn take_plan(&mut self) -> (Vec<String>, i64) {
        let Some(front) = self.plans.front_mut() else {
            return (DEFAULT_STATUSES.map(String::from).to_vec(), 131026);
        };
        front.count -= 1;
        let taken = (front.statuses.clone(), front.error_code.unwrap_or(131026));
        if front.count == 0 {
            self.plans.pop_front();
        }
        taken
    }

    /// The first queued fault for a send to `to` (one without a recipient
    /// applies to every send), else chaos mode's draw when nothing is queued.
    fn take_fault(&mut self, to: Option<&str>) -> Option<FaultKind> {
        if self.faults.is_empty() {
            return self.chaos.as_mut().and_then(Chaos::draw);
        }
        let to = to.map(|t| t.trim_start_matches('+'));
        let at = self
            .faults
            .iter()
            .position(|f| f.to.is_none() || f.to.as_deref() == to)?;
        let fault = &mut self.faults[at];
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            self.faults.remove(at);
        }
        Some(kind)
    }

    fn graph_error(&mut self, status: u16, code: i64, message: &str, details: &str) -> SimResponse {
        self.graph_error_sub(status, code, None, message, details)
    }

    fn graph_error_sub(
        &mut self,
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: &str,
        details: &str,
    ) -> SimResponse {
        let envelope = ErrorEnvelope {
            error: GraphError {
                message: message.into(),
                kind: "OAuthException".into(),
                code,
                error_subcode: subcode.or((code == 190).then_some(463)),
                is_transient: Some(is_transient(code)),
                error_user_title: None,
                error_user_msg: None,
                error_data: Some(ErrorData {
                    messaging_product: Some("whatsapp".into()),
                    details: details.into(),
                }),
                fbtrace_id: self.fbtrace_id(),
            },
        };
        SimResponse::json(status, &envelope)
    }
}

impl State {
    fn note_checked(&mut self, direction: &'static str) {
        *self.contract.checked.entry(direction).or_default() += 1;
    }

    fn log_violations(&mut self, direction: &'static str, seq: u64, found: Vec<Violation>) {
        for violation in found {
            eprintln!(
                "cloud-api-simulator: contract violation ({direction} #{seq}) {} at {}: {}",
                violation.schema, violation.path, violation.message
            );
            self.contract.violations.push(LoggedViolation {
                direction,
                seq,
                violation,
            });
        }
    }

    /// Holds our own answers to Meta's schema: a success as `MessageResponsePayload`,
    /// any JSON error as `GraphAPIError`.
    fn check_response(&mut self, seq: u64, response: &SimResponse) {
        let Some(body) = response.json_body() else {
            return; // HTML error pages imitate proxies, not the Graph API
        };
        let schema = if response.status == 200 {
            Schema::MessageResponse
        } else {
            Schema::GraphError
        };
        if let Ok(c) = contract() {
            self.note_checked("response");
            let found = c.check(schema, &body);
            self.log_violations("response", seq, found);
        }
    }

    fn check_webhook(&mut self, seq: u64, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Ok(c) = contract() {
            self.note_checked("webhook");
            let found = c.check(Schema::Webhook, &value);
            self.log_violations("webhook", seq, found);
        }
    }
}

/// How a send call is answered.
enum Outcome {
    Accepted(SendResponse),
    Error {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        details: String,
    },
    Html(u16),
}

fn invalid(details: impl Into<String>) -> Outcome {
    invalid_sub(None, details)
}

fn invalid_sub(subcode: Option<i64>, details: impl Into<String>) -> Outcome {
    Outcome::Error {
        status: 400,
        code: 100,
        subcode,
        message: meta_message(100),
        details: details.into(),
    }
}

/// The simulator: handles requests against shared state. Share it in an `Arc`.
#[derive(Debug)]
pub struct Simulator {
    config: Config,
    state: Mutex<State>,
}

impl Simulator {
    /// A simulator with no records and no faults.
    pub fn new(config: Config) -> Simulator {
        let seed = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0)
            ^ u64::from(std::process::id()).rotate_left(32);
        Simulator {
            config,
            state: Mutex::new(State {
                records: Vec::new(),
                faults: VecDeque::new(),
                next_seq: 1,
                rng: seed,
                plans: VecDeque::new(),
                deliveries: Vec::new(),
                conversations: HashMap::new(),
                chaos: None,
                last_sent: HashMap::new(),
                contract: ContractLog::default(),
            }),
        }
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Pause before each status webhook, in milliseconds.
    pub fn status_gap_ms(&self) -> u64 {
        self.lock()
            .chaos
            .as_ref()
            .and_then(|c| c.status_delay_ms)
            .unwrap_or(self.config.status_gap_ms)
    }

    /// All records, oldest first.
    pub fn records(&self) -> Vec<Record> {
        self.lock().records.clone()
    }

    /// Pending faults, next first.
    pub fn faults(&self) -> Vec<Fault> {
        self.lock().faults.iter().cloned().collect()
    }

    /// Queues a fault behind the pending ones.
    pub fn push_fault(&self, fault: Fault) {
        self.lock().faults.push_back(fault);
    }

    /// Answers one request. A timeout fault sets [`SimResponse::delay`] rather than
    /// sleeping, so the caller waits without holding any lock.
    pub fn handle(&self, req: &SimRequest) -> SimResponse {
        let (path, query) = req.url.split_once('?').unwrap_or((&req.url, ""));
        match (req.method.as_str(), path) {
            ("POST", "/_sim/inbound") => return self.inbound(req),
            ("POST", "/_sim/redeliver") => return self.redeliver(req),
            _ => {}
        }
        if path == "/_sim" || path.starts_with("/_sim/") {
            return self.control(req, path, query);
        }
        let segments: Vec<&str> = path.strip_prefix('/').unwrap_or(path).split('/').collect();
        match segments.as_slice() {
            [version, phone_number_id, "messages"] => self.send(req, version, phone_number_id),
            _ => self.not_found(path),
        }
    }

    fn not_found(&self, path: &str) -> SimResponse {
        let mut st = self.lock();
        let response = st.graph_error_sub(
            404,
            2500,
            None,
            "Unknown path components",
            &format!("No route for {path}"),
        );
        st.check_response(0, &response);
        response
    }

    fn send(&self, req: &SimRequest, version: &str, phone_number_id: &str) -> SimResponse {
        let mut st = self.lock();
        if req.method != "POST" {
            let method = req.method.to_ascii_lowercase();
            return st.graph_error(
                400,
                100,
                &format!("Unsupported {method} request."),
                "Only POST is supported on /messages",
            );
        }

        let too_large = req.body.len() > MAX_BODY;
        let parsed: Option<Result<Value, serde_json::Error>> =
            (!too_large).then(|| serde_json::from_slice(&req.body));
        let json = parsed.as_ref().and_then(|p| p.as_ref().ok());
        let message = json.map(MessageRequest::deserialize);
        let template = message.as_ref().and_then(|m| m.as_ref().ok()?.template());
        let seq = st.next_seq;
        st.next_seq += 1;
        let mut record = Record {
            seq,
            received_at_ms: now_ms(),
            version: version.into(),
            phone_number_id: phone_number_id.into(),
            to: json.and_then(|v| v.get("to")?.as_str()).map(String::from),
            status: RecordStatus::Failed,
            http_status: 0,
            error_code: None,
            wamid: None,
            fault: None,
            text: json
                .and_then(|v| v["text"]["body"].as_str())
                .map(String::from),
            template: template.map(|t| TemplateRecord {
                name: t.name.clone(),
                language: t.language.code.clone(),
                body_texts: t.body_texts().into_iter().map(String::from).collect(),
            }),
            request: json.cloned().unwrap_or(Value::Null),
            raw_body: match parsed {
                Some(Err(_)) => {
                    let end = req.body.len().min(4096);
                    Some(String::from_utf8_lossy(&req.body[..end]).into_owned())
                }
                _ => None,
            },
        };

        let mut delay = Duration::ZERO;
        let mut drop_connection = false;
        let outcome = (|| {
            if too_large {
                return Outcome::Error {
                    status: 413,
                    code: 100,
                    subcode: None,
                    message: "(#100) Request body too large".into(),
                    details: format!("Request bodies are limited to {MAX_BODY} bytes"),
                };
            }
            if let Some(token) = &self.config.token {
                if req.authorization.as_deref() != Some(&format!("Bearer {token}")) {
                    return Outcome::Error {
                        status: 401,
                        code: 190,
                        subcode: None,
                        message: meta_message(190),
                        details: "Missing or wrong bearer token".into(),
                    };
                }
            }
            if !valid_version(version) {
                return invalid(format!(
                    "Unsupported API version {version:?}: expected v<major>.<minor>"
                ));
            }
            if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
                return invalid_sub(
                    Some(UNKNOWN_OBJECT_SUBCODE),
                    format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist"),
                );
            }
            if let Some(fault) = st.take_fault(record.to.as_deref()) {
                record.fault = Some(fault.name().into());
                match fault {
                    FaultKind::Graph {
                        code,
                        http_status,
                        message,
                        details,
                    } => {
                        return Outcome::Error {
                            status: http_status,
                            code,
                            subcode: None,
                            message,
                            details,
                        }
                    }
                    FaultKind::Http500 { http_status } => return Outcome::Html(http_status),
                    FaultKind::Timeout { delay_ms } => delay = Duration::from_millis(delay_ms),
                    FaultKind::Drop => drop_connection = true,
                }
            }
            let body = match &parsed {
                Some(Err(e)) => return invalid(format!("Request body is not valid JSON: {e}")),
                Some(Ok(v)) => v,
                None => return invalid("Missing request body"),
            };
            // Meta's schema decides, not our own types.
            let violations = match contract() {
                Ok(c) => c.check(Schema::MessageRequest, body),
                Err(e) => {
                    return invalid(format!("the simulator could not load Meta's schema: {e}"))
                }
            };
            st.note_checked("request");
            if let Some(first) = violations.first() {
                let details = format!("Param {} is invalid: {}", first.path, first.message);
                st.log_violations("request", seq, violations);
                return invalid_sub(Some(SCHEMA_VIOLATION_SUBCODE), details);
            }
            if body["messaging_product"] != "whatsapp" {
                return invalid("Param messaging_product must be \"whatsapp\"");
            }
            let to = body["to"].as_str().unwrap_or_default();
            let Some(wa_id) = wa_id(to) else {
                return invalid("Param to must be a phone number: optional + then 8 to 15 digits");
            };
            Outcome::Accepted(SendResponse {
                messaging_product: "whatsapp".into(),
                contacts: vec![Contact {
                    input: to.to_owned(),
                    wa_id,
                }],
                messages: vec![SentMessage {
                    id: st.wamid(seq),
                    message_status: None,
                }],
            })
        })();

        let mut response = match outcome {
            Outcome::Accepted(answer) => {
                record.status = RecordStatus::Accepted;
                record.wamid = answer.message_id().map(String::from);
                let callback = json
                    .and_then(|v| v.get("biz_opaque_callback_data")?.as_str())
                    .map(String::from);
                let category = if template.is_some() {
                    "utility"
                } else {
                    "service"
                };
                let after =
                    self.status_webhooks(&mut st, &answer, phone_number_id, callback, category);
                SimResponse {
                    after,
                    ..SimResponse::json(200, &answer)
                }
            }
            Outcome::Error {
                status,
                code,
                subcode,
                message,
                details,
            } => {
                record.error_code = Some(code);
                st.graph_error_sub(status, code, subcode, &message, &details)
            }
            Outcome::Html(status) => SimResponse::html(status),
        };
        response.delay = delay;
        response.drop = drop_connection && record.status == RecordStatus::Accepted;
        record.http_status = response.status;
        st.check_response(seq, &response);
        if self.config.log {
            println!("{}", log_line(&record));
        }
        st.records.push(record);
        response
    }

    /// The status webhooks an accepted send will get, per the plan: one
    /// payload per status (Meta never mixes statuses and messages).
    fn status_webhooks(
        &self,
        st: &mut State,
        answer: &SendResponse,
        phone_number_id: &str,
        callback: Option<String>,
        category: &str,
    ) -> Vec<PendingWebhook> {
        let (Some(_), Some(wamid), Some(contact)) = (
            &self.config.webhook,
            answer.message_id(),
            answer.contacts.first(),
        ) else {
            return Vec::new();
        };
        st.conversations
            .insert(contact.wa_id.clone(), phone_number_id.into());
        st.last_sent.insert(contact.wa_id.clone(), wamid.into());
        let (statuses, error_code) = st.take_plan();
        statuses
            .into_iter()
            .map(|s| {
                let update = webhooks::status(
                    wamid,
                    &s,
                    &contact.wa_id,
                    callback.clone(),
                    error_code,
                    category,
                );
                PendingWebhook {
                    kind: "status",
                    wamid: wamid.into(),
                    status: Some(s),
                    body: webhooks::notification(
                        vec![("messages", webhooks::status_value(phone_number_id, &update))],
                        false,
                    ),
                    redelivery_of: None,
                }
            })
            .collect()
    }

    /// Delivers one webhook now (no lock held while posting) and records it,
    /// after holding it to Meta's schema.
    pub fn deliver(&self, webhook: &PendingWebhook) -> Delivery {
        let result = match &self.config.webhook {
            Some(target) => target.post(&webhook.body),
            None => Err("started without --webhook-url".into()),
        };
        let mut st = self.lock();
        let seq = st.deliveries.len() as u64 + 1;
        st.check_webhook(seq, &webhook.body);
        let delivery = Delivery {
            seq,
            kind: webhook.kind.into(),
            wamid: webhook.wamid.clone(),
            status: webhook.status.clone(),
            http_status: result.as_ref().ok().copied(),
            error: result.err(),
            at_ms: now_ms(),
            redelivery_of: webhook.redelivery_of,
            payload: serde_json::from_slice(&webhook.body).unwrap_or(Value::Null),
            body: webhook.body.clone(),
        };
        st.deliveries.push(delivery.clone());
        delivery
    }

    /// `POST /_sim/inbound`: a virtual person writes (or several, in one
    /// delivery with `{"batch":[…]}`); delivered before answering.
    fn inbound(&self, req: &SimRequest) -> SimResponse {
        let pending = {
            let mut st = self.lock();
            match self.inbound_webhook(&mut st, req) {
                Ok(pending) => pending,
                Err(details) => return st.graph_error(400, 100, &meta_message(100), &details),
            }
        };
        let delivery = self.deliver(&pending.0);
        SimResponse::json(
            200,
            &json!({"id": pending.0.wamid, "ids": pending.1, "delivery": delivery}),
        )
    }

    /// `POST /_sim/redeliver` `{"seq":N}`: posts delivery N again, the same
    /// bytes (same ids, same signature), as Meta does when it saw no 200.
    fn redeliver(&self, req: &SimRequest) -> SimResponse {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Redeliver {
            seq: u64,
        }
        let pending = {
            let mut st = self.lock();
            let asked = serde_json::from_slice::<Redeliver>(&req.body)
                .map_err(|e| format!("Invalid redelivery: {e}"))
                .and_then(|r| {
                    st.deliveries
                        .iter()
                        .find(|d| d.seq == r.seq)
                        .cloned()
                        .ok_or_else(|| format!("no delivery #{}", r.seq))
                });
            match asked {
                Ok(d) => PendingWebhook {
                    kind: match d.kind.as_str() {
                        "status" => "status",
                        "preference" => "preference",
                        _ => "inbound",
                    },
                    wamid: d.wamid,
                    status: d.status,
                    body: d.body,
                    redelivery_of: Some(d.redelivery_of.unwrap_or(d.seq)),
                },
                Err(details) => return st.graph_error(400, 100, &meta_message(100), &details),
            }
        };
        let delivery = self.deliver(&pending);
        SimResponse::json(200, &json!({"delivery": delivery}))
    }

    fn inbound_webhook(
        &self,
        st: &mut State,
        req: &SimRequest,
    ) -> Result<(PendingWebhook, Vec<String>), String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Batch {
            batch: Vec<InboundSpec>,
            #[serde(default)]
            entry_each: bool,
        }
        if self.config.webhook.is_none() {
            return Err("the simulator was started without --webhook-url".into());
        }
        let value: Value =
            serde_json::from_slice(&req.body).map_err(|e| format!("Invalid inbound: {e}"))?;
        let (specs, entry_each) = if value.get("batch").is_some() {
            let b: Batch =
                serde_json::from_value(value).map_err(|e| format!("Invalid inbound batch: {e}"))?;
            (b.batch, b.entry_each)
        } else {
            let spec: InboundSpec =
                serde_json::from_value(value).map_err(|e| format!("Invalid inbound: {e}"))?;
            (vec![spec], false)
        };
        if specs.is_empty() || specs.len() > 20 {
            return Err("a batch holds 1 to 20 inbound items".into());
        }
        let mut changes = Vec::new();
        let mut ids = Vec::new();
        for spec in &specs {
            spec.validate()?;
            let wa_id = wa_id(&spec.from).ok_or("from must be an optional + and 8 to 15 digits")?;
            let phone_number_id = spec
                .phone_number_id
                .clone()
                .or_else(|| st.conversations.get(&wa_id).cloned())
                .ok_or("no business number has written to from yet; give phone_number_id")?;
            let seq = st.next_seq;
            st.next_seq += 1;
            let wamid = st.wamid(seq).replacen("SIM", "SIMIN", 1);
            let last = st.last_sent.get(&wa_id).cloned();
            let value =
                webhooks::inbound_value(spec, &wa_id, &wamid, &phone_number_id, last.as_deref());
            changes.push((spec.field(), value));
            ids.push(wamid);
        }
        let kind = if specs.iter().all(|s| s.preference.is_some()) {
            "preference"
        } else {
            "inbound"
        };
        Ok((
            PendingWebhook {
                kind,
                wamid: ids[0].clone(),
                status: None,
                body: webhooks::notification(changes, entry_each),
                redelivery_of: None,
            },
            ids,
        ))
    }

    fn control(&self, req: &SimRequest, path: &str, query: &str) -> SimResponse {
        let mut st = self.lock();
        if req.body.len() > MAX_BODY {
            return st.graph_error(413, 100, "(#100) Request body too large", "Body over 1 MiB");
        }
        match (req.method.as_str(), path) {
            ("GET", "/_sim/health") => SimResponse::json(200, &json!({"ok": true})),
            ("GET", "/_sim/messages") => match MessageFilter::parse(query) {
                Ok(filter) => {
                    let messages: Vec<&Record> =
                        st.records.iter().filter(|r| filter.matches(r)).collect();
                    SimResponse::json(200, &Messages { messages })
                }
                Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
            },
            ("DELETE", "/_sim/messages") => {
                st.records.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/faults") => SimResponse::json(
                200,
                &Faults {
                    faults: &st.faults,
                    chaos: st.chaos.as_ref(),
                },
            ),
            ("POST", "/_sim/faults") if ChaosSpec::is_chaos(&req.body) => {
                match serde_json::from_slice::<ChaosSpec>(&req.body)
                    .map_err(|e| format!("Invalid chaos spec: {e}"))
                    .and_then(ChaosSpec::into_chaos)
                {
                    Ok(chaos) => {
                        st.chaos = Some(chaos);
                        SimResponse::json(
                            200,
                            &Faults {
                                faults: &st.faults,
                                chaos: st.chaos.as_ref(),
                            },
                        )
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("POST", "/_sim/faults") => {
                let fault = serde_json::from_slice::<FaultSpec>(&req.body)
                    .map_err(|e| format!("Invalid fault: {e}"))
                    .and_then(FaultSpec::into_fault);
                match fault {
                    Ok(fault) => {
                        st.faults.push_back(fault);
                        SimResponse::json(
                            200,
                            &Faults {
                                faults: &st.faults,
                                chaos: st.chaos.as_ref(),
                            },
                        )
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("DELETE", "/_sim/faults") => {
                st.faults.clear();
                st.chaos = None;
                SimResponse::no_content()
            }
            ("GET", "/_sim/statuses") => SimResponse::json(200, &json!({"plans": st.plans})),
            ("POST", "/_sim/statuses") => {
                let plan = serde_json::from_slice::<StatusPlan>(&req.body)
                    .map_err(|e| format!("Invalid status plan: {e}"))
                    .and_then(|p| p.validate().map(|()| p));
                match plan {
                    Ok(plan) => {
                        st.plans.push_back(plan);
                        SimResponse::json(200, &json!({"plans": st.plans}))
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("DELETE", "/_sim/statuses") => {
                st.plans.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/webhooks") => {
                SimResponse::json(200, &json!({"webhooks": st.deliveries}))
            }
            ("DELETE", "/_sim/webhooks") => {
                st.deliveries.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/contract") => SimResponse::json(
                200,
                &json!({
                    "loaded": contract().is_ok(),
                    "error": contract().err(),
                    "spec": "business-messaging-api_v23.0.yaml",
                    "corrections": CORRECTIONS,
                    "checked": st.contract.checked,
                    "violations": st.contract.violations,
                }),
            ),
            ("DELETE", "/_sim/contract") => {
                st.contract = ContractLog::default();
                SimResponse::no_content()
            }
            (
                method,
                "/_sim/health" | "/_sim/messages" | "/_sim/faults" | "/_sim/statuses"
                | "/_sim/webhooks" | "/_sim/inbound" | "/_sim/redeliver" | "/_sim/contract",
            ) => {
                let method = method.to_ascii_lowercase();
                st.graph_error(
                    405,
                    100,
                    &format!("Unsupported {method} request."),
                    "Method not allowed on this control route",
                )
            }
            _ => {
                drop(st);
                self.not_found(path)
            }
        }
    }
}

/// Body of `GET /_sim/messages`.
#[derive(Serialize)]
struct Messages<'a> {
    messages: Vec<&'a Record>,
}

/// Body of `GET /_sim/faults` and `POST /_sim/faults`.
#[derive(Serialize)]
struct Faults<'a> {
    faults: &'a VecDeque<Fault>,
    /// The rate-based fault mode, when on.
    chaos: Option<&'a Chaos>,
}

/// Query of `GET /_sim/messages`.
#[derive(Debug, Default)]
struct MessageFilter {
    to_digits: Option<String>,
    status: Option<RecordStatus>,
}

impl MessageFilter {
    fn parse(query: &str) -> Result<MessageFilter, String> {
        let mut filter = MessageFilter::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "to" => filter.to_digits = Some(digits(&value)),
                "status" => {
                    filter.status = Some(match value.as_str() {
                        "accepted" => RecordStatus::Accepted,
                        "failed" => RecordStatus::Failed,
                        _ => {
                            return Err(format!("status must be accepted or failed, got {value:?}"))
                        }
                    })
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    fn matches(&self, record: &Record) -> bool {
        let to_ok = match &self.to_digits {
            None => true,
            Some(want) => record.to.as_deref().is_some_and(|to| digits(to) == *want),
        };
        to_ok && self.status.is_none_or(|s| s == record.status)
    }
}

/// `v<digits>.<digits>`.
fn valid_version(version: &str) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| all_digits(major) && all_digits(minor))
}

/// The wa_id for a valid `to` (optional `+`, 8–15 digits).
fn wa_id(to: &str) -> Option<String> {
    let number = to.strip_prefix('+').unwrap_or(to);
    let ok = (8..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| number.to_string())
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One log line per send call, showing only the last 4 digits of the recipient.
fn log_line(record: &Record) -> String {
    let to = match record.to.as_deref().map(digits) {
        Some(d) if !d.is_empty() => format!("***{}", &d[d.len().saturating_sub(4)..]),
        _ => "?".into(),
    };
    let result = match (&record.wamid, record.error_code) {
        (Some(wamid), _) => wamid.clone(),
        (None, Some(code)) => format!("error {code}"),
        (None, None) => "html error".into(),
    };
    let fault = record
        .fault
        .as_deref()
        .map(|f| format!(" (fault: {f})"))
        .unwrap_or_default();
    format!(
        "send #{} {}/{} to {to} -> {} {result}{fault}",
        record.seq, record.version, record.phone_number_id, record.http_status
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_cloud_api::RetryClass;

    const SEND: &str = "/v21.0/1234567890/messages";

    fn confirmation(to: &str) -> MessageRequest {
        MessageRequest::confirmation(
            to,
            "optin_confirmation",
            "id",
            "Toko Acme",
            "OPTOUT:abc",
            "consent-1",
        )
    }

    fn send(sim: &Simulator, to: &str) -> SimResponse {
        sim.handle(&SimRequest::new("POST", SEND).json(&confirmation(to)))
    }

    fn graph_error(resp: &SimResponse) -> GraphError {
        serde_json::from_slice::<ErrorEnvelope>(&resp.body)
            .expect("Meta-shaped error")
            .error
    }

    #[test]
    fn accepts_a_confirmation_template_and_records_it() {
        let sim = Simulator::new(Config::default());
        let resp = send(&sim, "+6281234567890");
        assert_eq!(resp.status, 200);
        let answer: SendResponse = serde_json::from_slice(&resp.body).unwrap();
        assert_eq!(answer.messaging_product, "whatsapp");
        assert_eq!(answer.contacts[0].input, "+6281234567890");
        assert_eq!(answer.contacts[0].wa_id, "6281234567890");
        let wamid = answer.message_id().unwrap();
        assert!(wamid.starts_with("wamid."));

        let records = sim.records();
        assert_eq!(records.len(), 1);
        let r = &records[0];
        assert_eq!(
            (r.seq, r.http_status, r.status),
            (1, 200, RecordStatus::Accepted)
        );
        assert_eq!(r.wamid.as_deref(), Some(wamid));
        assert_eq!(
            (r.version.as_str(), r.phone_number_id.as_str()),
            ("v21.0", "1234567890")
        );
        assert_eq!(r.to.as_deref(), Some("+6281234567890"));
        let t = r.template.as_ref().unwrap();
        assert_eq!(
            (t.name.as_str(), t.language.as_str(), t.body_texts.clone()),
            ("optin_confirmation", "id", vec!["Toko Acme".to_string()])
        );
        assert_eq!(
            r.request,
            serde_json::to_value(confirmation("+6281234567890")).unwrap()
        );

        let second = send(&sim, "6281234567890");
        let id2 = serde_json::from_slice::<SendResponse>(&second.body).unwrap();
        assert_ne!(id2.message_id().unwrap(), wamid, "wamids are unique");
    }

    #[test]
    fn malformed_json_is_400_code_100_and_recorded() {
        let sim = Simulator::new(Config::default());
        let resp = sim.handle(&SimRequest::new("POST", SEND).body("{not json"));
        assert_eq!(resp.status, 400);
        let e = graph_error(&resp);
        assert_eq!((e.code, e.kind.as_str()), (100, "OAuthException"));
        assert_eq!(e.message, "(#100) Invalid parameter");
        assert_eq!(
            e.error_data.unwrap().messaging_product.as_deref(),
            Some("whatsapp")
        );
        assert!(!e.fbtrace_id.is_empty());
        let r = &sim.records()[0];
        assert_eq!(
            (r.status, r.http_status, r.error_code),
            (RecordStatus::Failed, 400, Some(100))
        );
        assert_eq!(r.raw_body.as_deref(), Some("{not json"));
    }

    #[test]
    fn invalid_fields_and_version_are_400_code_100() {
        let sim = Simulator::new(Config::default());
        let mut wrong_product = confirmation("+6281234567890");
        wrong_product.messaging_product = "sms".into();
        let cases = [
            SimRequest::new("POST", SEND).json(&wrong_product),
            SimRequest::new("POST", SEND).json(&confirmation("+62812")),
            SimRequest::new("POST", SEND).json(&confirmation("+62-812-3456-7890")),
            SimRequest::new("POST", SEND).json(&json!({"messaging_product": "whatsapp"})),
            SimRequest::new("POST", "/21.0/123/messages").json(&confirmation("6281234567890")),
            SimRequest::new("POST", "/v21/123/messages").json(&confirmation("6281234567890")),
        ];
        for req in &cases {
            let resp = sim.handle(req);
            assert_eq!(resp.status, 400, "{req:?}");
            assert_eq!(graph_error(&resp).code, 100);
        }
        assert_eq!(sim.records().len(), cases.len());
    }

    #[test]
    fn a_fault_for_one_recipient_lets_other_sends_through() {
        let sim = Simulator::new(Config::default());
        let body = r#"{"code":4,"count":1,"to":"+6281234567890"}"#;
        let resp = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(body));
        assert_eq!(resp.status, 200);
        assert_eq!(
            send(&sim, "+6281111111111").status,
            200,
            "someone else's send"
        );
        assert_eq!(sim.faults().len(), 1, "still waiting for its recipient");
        assert_eq!(graph_error(&send(&sim, "+6281234567890")).code, 4);
        assert!(sim.faults().is_empty());
        assert_eq!(send(&sim, "+6281234567890").status, 200);
        let bad = sim
            .handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":4,"to":"+62 812"}"#));
        assert_eq!(bad.status, 400, "to must be digits");
    }

    #[test]
    fn injected_fault_answers_once_then_accepts() {
        let sim = Simulator::new(Config::default());
        let resp = sim
            .handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":131056,"count":1}"#));
        assert_eq!(resp.status, 200);
        assert_eq!(sim.faults().len(), 1);

        let first = send(&sim, "+6281234567890");
        assert_eq!(first.status, 400);
        let e = graph_error(&first);
        assert_eq!(e.code, 131056);
        assert_eq!(e.retry_class(), RetryClass::RecipientLater);

        let second = send(&sim, "+6281234567890");
        assert_eq!(second.status, 200);
        assert!(sim.faults().is_empty());
        let records = sim.records();
        assert_eq!(records[0].error_code, Some(131056));
        assert_eq!(records[0].fault.as_deref(), Some("graph"));
        assert_eq!(records[1].status, RecordStatus::Accepted);
    }

    #[test]
    fn faults_are_fifo_with_default_statuses() {
        let sim = Simulator::new(Config::default());
        for body in [
            r#"{"code":131000}"#,
            r#"{"code":190}"#,
            r#"{"kind":"http_500","http_status":502}"#,
            r#"{"kind":"timeout","delay_ms":99999}"#,
        ] {
            let resp = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(body));
            assert_eq!(resp.status, 200, "{body}");
        }
        let listed = sim
            .handle(&SimRequest::new("GET", "/_sim/faults"))
            .json_body()
            .unwrap();
        assert_eq!(listed["faults"].as_array().unwrap().len(), 4);
        assert_eq!(listed["faults"][0]["kind"], "graph");
        assert_eq!(listed["faults"][0]["remaining"], 1);
        assert_eq!(listed["faults"][2]["kind"], "http_500");
        assert_eq!(
            listed["faults"][3],
            json!({"kind": "timeout", "delay_ms": 30000, "remaining": 1})
        );

        assert_eq!(send(&sim, "6281234567890").status, 500);
        assert_eq!(send(&sim, "6281234567890").status, 401);
        let html = send(&sim, "6281234567890");
        assert_eq!(
            (html.status, html.content_type),
            (502, "text/html; charset=utf-8")
        );
        assert!(html.json_body().is_none());
        let slow = send(&sim, "6281234567890");
        assert_eq!(
            (slow.status, slow.delay),
            (200, Duration::from_millis(MAX_DELAY_MS))
        );

        let bad = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"count":1}"#));
        assert_eq!((bad.status, graph_error(&bad).code), (400, 100));
        sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":4}"#));
        let cleared = sim.handle(&SimRequest::new("DELETE", "/_sim/faults"));
        assert_eq!(cleared.status, 204);
        assert!(sim.faults().is_empty());
    }

    #[test]
    fn unknown_route_is_404_code_2500() {
        let sim = Simulator::new(Config::default());
        for req in [
            SimRequest::new("GET", "/v21.0/123"),
            SimRequest::new("POST", "/_sim/nope"),
            SimRequest::new("GET", "/"),
        ] {
            let resp = sim.handle(&req);
            assert_eq!(resp.status, 404);
            let e = graph_error(&resp);
            assert_eq!(
                (e.code, e.message.as_str()),
                (2500, "Unknown path components")
            );
        }
        assert!(sim.records().is_empty());
    }

    #[test]
    fn messages_filter_by_to_and_status() {
        let sim = Simulator::new(Config::default());
        send(&sim, "+6281111111111");
        send(&sim, "6282222222222");
        sim.handle(&SimRequest::new("POST", SEND).body("nope"));
        let list = |url: &str| {
            let v = sim
                .handle(&SimRequest::new("GET", url))
                .json_body()
                .unwrap();
            v["messages"].as_array().unwrap().clone()
        };
        assert_eq!(list("/_sim/messages").len(), 3);
        for query in [
            "to=+6281111111111",
            "to=%2B6281111111111",
            "to=6281111111111",
        ] {
            let found = list(&format!("/_sim/messages?{query}"));
            assert_eq!(found.len(), 1, "{query}");
            assert_eq!(found[0]["to"], "+6281111111111");
        }
        assert_eq!(list("/_sim/messages?to=+6282222222222")[0]["seq"], 2);
        assert_eq!(list("/_sim/messages?status=accepted").len(), 2);
        assert_eq!(list("/_sim/messages?status=failed")[0]["seq"], 3);
        assert_eq!(
            sim.handle(&SimRequest::new("GET", "/_sim/messages?status=odd"))
                .status,
            400
        );
        assert_eq!(
            sim.handle(&SimRequest::new("DELETE", "/_sim/messages"))
                .status,
            204
        );
        assert!(list("/_sim/messages").is_empty());
    }

    #[test]
    fn token_is_required_when_configured() {
        let sim = Simulator::new(Config {
            token: Some("secret".into()),
            ..Config::default()
        });
        let body = confirmation("+6281234567890");
        let anonymous = sim.handle(&SimRequest::new("POST", SEND).json(&body));
        assert_eq!(anonymous.status, 401);
        let e = graph_error(&anonymous);
        assert_eq!((e.code, e.kind.as_str()), (190, "OAuthException"));
        let wrong = sim.handle(&SimRequest::new("POST", SEND).json(&body).bearer("nope"));
        assert_eq!(wrong.status, 401);
        let right = sim.handle(&SimRequest::new("POST", SEND).json(&body).bearer("secret"));
        assert_eq!(right.status, 200);
        assert_eq!(sim.records()[0].error_code, Some(190));
        // The control API needs no token.
        assert_eq!(
            sim.handle(&SimRequest::new("GET", "/_sim/health")).status,
            200
        );
    }

    #[test]
    fn oversized_body_is_413() {
        let sim = Simulator::new(Config::default());
        let resp = sim.handle(&SimRequest::new("POST", SEND).body(vec![b' '; MAX_BODY + 1]));
        assert_eq!(resp.status, 413);
        assert_eq!(sim.records()[0].http_status, 413);
    }

    #[test]
    fn log_line_hides_all_but_the_last_four_digits() {
        let sim = Simulator::new(Config::default());
        send(&sim, "+6281234567890");
        let line = log_line(&sim.records()[0]);
        assert!(line.contains("***7890"), "{line}");
        assert!(!line.contains("628123"), "{line}");
    }
}
