//! A verified Cloud API webhook, handed to the ledger of the business number's site.

use consent_core::SiteConfig;
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::webhook::ChangeValue;

/// What the edge worker hands the ledger: one business number's changes.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookBatch {
    /// The site that number belongs to.
    pub site: SiteConfig,
    /// `value`s of its `messages` changes.
    pub changes: Vec<ChangeValue>,
}

/// Counts, for logs and tests.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Applied {
    /// Status updates applied.
    pub statuses: u32,
    /// Inbound messages acted on.
    pub messages: u32,
    /// Redeliveries and unknown statuses ignored.
    pub ignored: u32,
    /// Replies queued.
    pub replies: u32,
    /// Marketing stop / resume choices recorded (`user_preferences`, error 131050).
    pub preferences: u32,
}
