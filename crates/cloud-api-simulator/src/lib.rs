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
//! `POST|GET /{version}/{waba_id}/message_templates`: templates created,
//! reviewed after [`Config::template_approval_ms`], read back by name (`templates.rs`).
//!
//! `POST|GET /{version}/{phone_number_id}/message_qrdls`: Meta's QR codes and
//! short links (`qrdls.rs`).
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
mod control;
mod graph;
mod http;
mod messages;
mod qrdls;
mod server;
mod state;
mod templates;
mod webhooks;

pub use chaos::{Chaos, ChaosSpec, DEFAULT_KINDS};

pub use contract::{Contract, Schema, Violation, CORRECTIONS};
pub use graph::*;
pub use http::{PendingWebhook, SimRequest, SimResponse};
use messages::*;
pub use messages::{Fault, FaultKind, FaultSpec, Record, RecordStatus, TemplateRecord};
pub use qrdls::SimQrCode;
pub use server::{serve, ServerHandle, WORKERS};
pub use state::contract;
use state::*;
pub use templates::{RejectRule, SimTemplate, TEMPLATE_EXISTS_SUBCODE};
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
    /// How long a created template stays `PENDING` before its review, in milliseconds.
    pub template_approval_ms: u64,
}

/// The simulator: handles requests against shared state. Share it in an `Arc`.
#[derive(Debug)]
pub struct Simulator {
    pub(crate) config: Config,
    pub(crate) state: Mutex<State>,
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
                templates: Vec::new(),
                template_rules: Vec::new(),
                qr_codes: Vec::new(),
            }),
        }
    }

    pub(crate) fn lock(&self) -> MutexGuard<'_, State> {
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
            [version, waba_id, "message_templates"] => self.templates(req, version, waba_id, query),
            [version, pnid, "message_qrdls"] => self.qrdls(req, version, pnid),
            _ => self.not_found(path),
        }
    }
}

#[cfg(test)]
mod tests;
