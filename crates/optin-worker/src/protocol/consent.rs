//! Recording a consent: what the edge sends, what the ledger answers.

use consent_core::{Category, SiteConfig, ValidConsent};
use serde::{Deserialize, Serialize};

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
    /// Whether the request carried a Turnstile token that verified.
    #[serde(default)]
    pub challenged: bool,
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

/// Where a consent stands: what a service desk shows while the person confirms.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentProgress {
    /// Waiting for the person's confirmation in WhatsApp.
    Pending,
    /// Confirmed in WhatsApp: the categories are granted.
    Confirmed,
    /// Not confirmed in time.
    Expired,
    /// The person opted out instead.
    Withdrawn,
    /// Granted at once (no double opt-in applied).
    Granted,
}

impl ConsentProgress {
    /// A `pending_confirmations.status`.
    pub fn of_request(status: &str) -> ConsentProgress {
        match status {
            "confirmed" => ConsentProgress::Confirmed,
            "expired" => ConsentProgress::Expired,
            "withdrawn" => ConsentProgress::Withdrawn,
            _ => ConsentProgress::Pending,
        }
    }
}

/// `GET /v1/sites/{site}/consents/{id}`.
#[derive(Debug, Serialize, Deserialize)]
pub struct ConsentState {
    /// The consent id.
    pub id: String,
    /// Where it stands.
    pub status: ConsentProgress,
    /// The categories it asked for (with double opt-in: those that waited).
    pub categories: Vec<Category>,
    /// Until when a pending consent waits, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending_until: Option<i64>,
    /// When it was confirmed, expired or withdrawn, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved_at: Option<i64>,
}
