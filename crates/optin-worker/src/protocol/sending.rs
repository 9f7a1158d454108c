//! Consent-gated sending: what the edge asks the ledger to send or check, and
//! every decision the ledger answers with. One rule decides both (`ledger/sending.rs`).

use consent_core::{site::WhatsAppConfig, Category};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::MessageRequest;

/// A business message to send to one person for one category.
#[derive(Debug, Serialize, Deserialize)]
pub struct SendMessage {
    /// E.164 of the recipient.
    pub phone: String,
    /// The category the message belongs to (one the site offers).
    pub category: Category,
    /// What the site says of the category.
    pub rules: CategoryRules,
    /// The Cloud API request, `to` and callback data still to be filled by the ledger.
    pub message: MessageRequest,
    /// The template's language was not given: the ledger picks the person's.
    pub language_from_person: bool,
    /// The site's business number and token secret.
    pub whatsapp: WhatsAppConfig,
    /// The client's `Idempotency-Key`.
    pub idempotency_key: String,
    /// SHA-256 of the canonical request, to refuse a key reused for another body.
    pub body_digest: String,
    /// The API key that asked (its id, never the secret).
    pub key_id: String,
}

/// What the site says of a category that the rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct CategoryRules {
    /// `critical_only` lets it through and the weekly digest never holds it back.
    pub critical: bool,
    /// Marketing: WhatsApp's own "stop promotions" stops it.
    pub marketing: bool,
}

impl CategoryRules {
    /// The rules of `c` on `site` (a category the site does not offer: neither).
    pub fn of(site: &consent_core::SiteConfig, c: &Category) -> CategoryRules {
        site.category(c).map_or(
            CategoryRules {
                critical: false,
                marketing: false,
            },
            |d| CategoryRules {
                critical: d.critical,
                marketing: d.is_marketing(),
            },
        )
    }
}

/// What the ledger decided for a [`SendMessage`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendReply {
    /// The decision's id: the message id when queued.
    pub id: String,
    /// Queued, or why not.
    pub decision: Decision,
    /// Whether this repeats the answer first given for the idempotency key.
    pub replayed: bool,
}

/// Queued, or refused with the rule that refused it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum Decision {
    /// In the outbox; it leaves when pacing allows.
    Queued,
    /// Refused; nothing queued.
    Refused(Refusal),
}

/// Why a message may not be sent to a person now.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "reason", rename_all = "kebab-case")]
pub enum Refusal {
    /// No standing grant for the category.
    NotSubscribed {
        /// `never`, `withdrawn`, `expired` or `pending` (double opt-in unconfirmed).
        status: String,
    },
    /// The person paused messages until this day (`YYYY-MM-DD`, UTC, exclusive).
    Paused {
        /// First day messages may go again.
        paused_until: String,
    },
    /// The person's frequency choice allows no more now.
    Frequency {
        /// `weekly_digest` or `critical_only`.
        frequency: String,
        /// When the next message of this category may go (Unix ms), if ever.
        next_allowed_at: Option<i64>,
    },
    /// A marketing category, and the person stopped marketing messages in WhatsApp.
    MarketingStopped {},
    /// The person asked for this category by email or SMS instead (preference centre).
    ChannelChanged {
        /// `email` or `sms`.
        channel: super::Channel,
    },
    /// Free text outside the 24-hour window the person's last message opened.
    OutsideWindow {
        /// When their last message arrived (Unix ms), if ever.
        last_inbound_at: Option<i64>,
    },
}

impl Refusal {
    /// The stable reason name (`not-subscribed`, …), as in the problem type.
    pub fn slug(&self) -> &'static str {
        match self {
            Refusal::NotSubscribed { .. } => "not-subscribed",
            Refusal::Paused { .. } => "paused",
            Refusal::Frequency { .. } => "frequency",
            Refusal::MarketingStopped {} => "marketing-stopped",
            Refusal::ChannelChanged { .. } => "channel-changed",
            Refusal::OutsideWindow { .. } => "outside-window",
        }
    }
}

/// May a message of one category go to a person now, and if not why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Permission {
    /// Whether a template of this category would be queued now.
    pub may_send: bool,
    /// `subscribed`, or the refusal's reason.
    pub reason: String,
    /// The subscription status (`granted`, `pending`, `withdrawn`, `expired`, `never`).
    pub status: String,
    /// While paused: the first day messages may go again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_until: Option<String>,
    /// Under a frequency limit: when the next message may go (Unix ms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_allowed_at: Option<i64>,
    /// When the person moved this category off WhatsApp: `email` or `sms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<super::Channel>,
}

/// The categories to check for one person, each with its critical flag.
#[derive(Debug, Serialize, Deserialize)]
pub struct CheckPermissions {
    /// E.164.
    pub phone: String,
    /// Each category with what the site says of it, in the site's order.
    pub categories: Vec<(Category, CategoryRules)>,
}

/// The answer to [`CheckPermissions`].
#[derive(Debug, Serialize, Deserialize)]
pub struct Permissions {
    /// E.164.
    pub phone: String,
    /// When the person's last message opened a 24-hour window for free text, if still open (Unix ms).
    pub window_open_until: Option<i64>,
    /// Per category, in the site's order.
    pub categories: Vec<(Category, Permission)>,
}

/// One message decision as `GET …/messages/{id}` shows it.
#[derive(Debug, Serialize, Deserialize)]
pub struct MessageView {
    /// The decision (message) id.
    pub id: String,
    /// E.164, or `None` once the person's data was erased.
    pub to: Option<String>,
    /// The category.
    pub category: String,
    /// `template` or `text`.
    pub kind: String,
    /// The template name, for a template.
    pub template: Option<String>,
    /// The template language used.
    pub language: Option<String>,
    /// `queued` or `refused`.
    pub decision: String,
    /// `subscribed` or the refusal's reason.
    pub reason: String,
    /// Where it is now: `refused`, `pending`, `sending`, `sent`, `delivered`,
    /// `read`, `failed`, `suppressed`, or `held`.
    pub status: String,
    /// Why it was suppressed or failed, if it was.
    pub last_error: Option<String>,
    /// The WhatsApp message id once sent.
    pub wamid: Option<String>,
    /// Unix ms of the decision.
    pub created_at: i64,
    /// Every status webhook received for it.
    pub statuses: Vec<super::StatusView>,
}
