//! One person's history and state, as the admin API shows it.

use serde::{Deserialize, Serialize};

/// One event as the admin API shows it.
#[derive(Serialize, Deserialize)]
pub struct EventView {
    pub id: String,
    pub kind: String,
    pub categories: serde_json::Value,
    pub evidence: serde_json::Value,
    pub server_ts: i64,
    pub prev_hash: String,
    pub hash: String,
}

/// Current state of one category for one person.
#[derive(Serialize, Deserialize)]
pub struct StateRow {
    pub category: String,
    pub status: String,
    pub event_id: String,
    pub updated_at: i64,
    /// Where the person wants it (`whatsapp`, `email`, `sms`): filled by the ledger, not stored here.
    #[serde(default)]
    pub channel: super::Channel,
}

/// A person's full history and current state.
#[derive(Serialize, Deserialize)]
pub struct SubscriberView {
    /// At a glance: `active` (a category granted), else `pending` (waiting for a
    /// double opt-in confirmation), `expired`, `withdrawn`, or `none`.
    pub status: String,
    pub phone: String,
    pub events: Vec<EventView>,
    pub state: Vec<StateRow>,
    pub confirmations: Vec<OutboxView>,
    /// Double opt-in requests: `pending`, `confirmed`, `expired` or `withdrawn`.
    pub double_opt_in: Vec<DoubleOptInView>,
    /// Every business message sent to or refused for this person (send API), oldest first.
    #[serde(default)]
    pub messages: Vec<super::MessageView>,
}

/// One double opt-in request as the admin API shows it.
#[derive(Serialize, Deserialize)]
pub struct DoubleOptInView {
    pub consent_id: String,
    pub status: String,
    pub categories: serde_json::Value,
    pub requested_at: i64,
    pub expires_at: i64,
    pub resolved_at: Option<i64>,
    pub resolved_by: Option<String>,
}

/// A confirmation (or in-thread reply) as the admin API shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct OutboxView {
    pub consent_id: String,
    pub status: String,
    pub attempts: i64,
    pub wamid: Option<String>,
    pub last_error: Option<String>,
    pub template: serde_json::Value,
    pub created_at: i64,
    pub updated_at: i64,
    /// `template` or `text`.
    pub kind: String,
    /// The reply text, for `text` messages.
    pub text: Option<String>,
    /// Every status webhook received for it, in arrival order.
    pub statuses: Vec<StatusView>,
}

/// One status webhook as received.
#[derive(Debug, Serialize, Deserialize)]
pub struct StatusView {
    pub status: String,
    /// Meta's timestamp, Unix seconds.
    pub timestamp: i64,
    pub error_code: Option<i64>,
    pub error_title: Option<String>,
    pub received_at: i64,
    /// What Meta charged the message as (`pricing.category`: `utility`, `marketing`, …).
    #[serde(default)]
    pub pricing_category: Option<String>,
}
