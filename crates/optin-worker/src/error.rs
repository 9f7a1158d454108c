//! One application error, mapped to RFC 9457 problem+json responses.

use consent_core::ConsentError;

use crate::protocol::Refusal;
use serde::Serialize;
use thiserror::Error;
use worker::{Headers, Response};

/// Everything a request can fail with. Only `Internal`, `LedgerUnavailable`,
/// `TurnstileUnavailable`, `Graph` and a stored token that cannot be opened
/// (`Credentials`) are 5xx.
#[derive(Debug, Error)]
pub enum AppError {
    /// No such route.
    #[error("no resource at {0}")]
    NotFound(String),
    /// Route exists, method does not.
    #[error("method not allowed; use {allow}")]
    MethodNotAllowed {
        /// Allowed methods.
        allow: &'static str,
    },
    /// Site id unknown or malformed.
    #[error("site '{0}' does not exist")]
    UnknownSite(String),
    /// Browser origin not in the site's allowed origins.
    #[error("origin '{0}' is not allowed to post consents for this site")]
    OriginNotAllowed(String),
    /// Body over the limit.
    #[error("request body exceeds {0} bytes")]
    PayloadTooLarge(usize),
    /// Not JSON.
    #[error("Content-Type must be application/json")]
    UnsupportedMediaType,
    /// JSON syntax error.
    #[error("malformed JSON: {0}")]
    MalformedJson(String),
    /// JSON well-formed but of the wrong shape.
    #[error("{detail}")]
    InvalidBody {
        /// Field at fault, when known.
        field: Option<String>,
        /// What is wrong.
        detail: String,
    },
    /// A consent field failed validation.
    #[error(transparent)]
    Consent(#[from] ConsentError),
    /// Missing or wrong bearer token.
    #[error("a valid bearer token is required")]
    Unauthorized,
    /// Nothing recorded for that subject.
    #[error("no consent history for that phone number")]
    NoSubscriber,
    /// Webhook verification: wrong `hub.mode` or `hub.verify_token`.
    #[error(
        "webhook verification failed: hub.mode must be subscribe and hub.verify_token must match"
    )]
    VerificationFailed,
    /// Webhook body not signed with the app secret.
    #[error("X-Hub-Signature-256 is missing or does not match the body")]
    InvalidSignature,
    /// The Turnstile challenge was missing or failed.
    #[error("the anti-bot check failed; reload the page and try again")]
    TurnstileFailed,
    /// The site asks for a Turnstile challenge before this consent is recorded:
    /// the problem carries what the widget needs to show one.
    #[error("a short check is needed before this consent is recorded")]
    ChallengeRequired {
        /// The site's public Turnstile key.
        site_key: String,
        /// The Turnstile script to load.
        script: String,
    },
    /// Turnstile could not be reached; nothing recorded, retry later.
    #[error("the anti-bot check is unavailable; try again shortly")]
    TurnstileUnavailable,
    /// A query parameter is invalid.
    #[error("{field}: {detail}")]
    InvalidQuery {
        /// Parameter at fault.
        field: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// A preference token that is malformed, forged or expired.
    #[error(transparent)]
    Token(consent_core::token::TokenError),
    /// A limit was hit; retry after the given seconds.
    #[error("too many consents ({scope} limit); retry after {retry_after} s")]
    RateLimited {
        /// Which limit.
        scope: String,
        /// Seconds to wait.
        retry_after: i64,
    },
    /// The Idempotency-Key was used before with a different body.
    #[error("this Idempotency-Key was already used for a different request body")]
    IdempotencyKeyReused,
    /// The Idempotency-Key header is not usable.
    #[error("Idempotency-Key must be 1-200 visible ASCII characters")]
    InvalidIdempotencyKey,
    /// A site configuration failed validation.
    #[error("{field}: {detail}")]
    InvalidSiteConfig {
        /// Field at fault.
        field: &'static str,
        /// What is wrong.
        detail: &'static str,
    },
    /// Templates are created in a WhatsApp Business Account the site does not name.
    #[error("the site has no whatsapp.waba_id: set it (digits, from WhatsApp Manager) with PUT /admin/sites/{0}")]
    NoWabaId(String),
    /// Meta's Graph API answered an error (its retry class decides the status).
    #[error("Graph API error {code}{}: {message}", .subcode.map(|s| format!(" (subcode {s})")).unwrap_or_default())]
    Graph {
        /// The Graph error code.
        code: i64,
        /// Its subcode.
        subcode: Option<i64>,
        /// Meta's message.
        message: String,
        /// Whether a later try may succeed (transient retry classes).
        transient: bool,
    },
    /// A ledger whose schema could not be migrated refuses to serve.
    #[error("the consent ledger is unavailable; try again later")]
    LedgerUnavailable(String),
    /// A site API key was missing, wrong or not allowed here.
    #[error(transparent)]
    ApiKey(KeyError),
    /// A send request came without an `Idempotency-Key`.
    #[error("an Idempotency-Key header is required, so a retry never sends twice")]
    IdempotencyKeyRequired,
    /// The ledger refused a business message by what the person chose; the
    /// refusal is kept under `id`.
    #[error("{}", refusal_detail(.refusal))]
    Refused {
        /// The kept decision's id.
        id: String,
        /// The category asked for.
        category: String,
        /// Why.
        refusal: Refusal,
    },
    /// The site's Graph token cannot be found or opened.
    #[error(transparent)]
    Credentials(crate::credentials::CredentialError),
    /// A field fixed when the site was created (`jurisdiction`).
    #[error("{field} is fixed when a site is created: {detail}")]
    FixedAtCreation {
        /// The field.
        field: &'static str,
        /// Why it cannot change.
        detail: &'static str,
    },
    /// Infrastructure failure (binding, storage): retry later.
    #[error("internal error")]
    Internal(String),
}

/// Why a site API key does not authorise a request.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum KeyError {
    /// No `Authorization: Bearer` header.
    #[error("an Authorization: Bearer header with a site API key is required")]
    Missing,
    /// Not shaped like one of our keys.
    #[error("the bearer token is not a site API key (wok_…)")]
    Malformed,
    /// No such key, or the secret does not match.
    #[error("this API key is not known")]
    Unknown,
    /// Revoked by the merchant.
    #[error("this API key was revoked")]
    Revoked,
    /// Rotated and past its overlap.
    #[error("this API key was rotated and its overlap has ended; use its replacement")]
    Expired,
    /// A key of another site.
    #[error("this API key belongs to another site")]
    OtherSite,
    /// The key lacks the scope this endpoint needs.
    #[error("this API key lacks the '{0}' scope")]
    MissingScope(&'static str),
}

impl KeyError {
    fn parts(&self) -> (u16, &'static str, &'static str) {
        match self {
            KeyError::Missing | KeyError::Malformed | KeyError::Unknown => {
                (401, "unauthorized", "Unauthorized")
            }
            KeyError::Revoked | KeyError::Expired => {
                (401, "key-revoked", "API key no longer valid")
            }
            KeyError::OtherSite => (403, "key-other-site", "API key of another site"),
            KeyError::MissingScope(_) => (403, "scope-missing", "API key lacks the scope"),
        }
    }
}

fn refusal_detail(r: &Refusal) -> String {
    match r {
        Refusal::NotSubscribed { status } => {
            format!("the person has no standing consent for this category (status: {status})")
        }
        Refusal::Paused { paused_until } => {
            format!("the person paused messages until {paused_until}")
        }
        Refusal::Frequency {
            frequency,
            next_allowed_at: Some(_),
        } => format!(
            "the person's frequency choice ({frequency}) allows no more of this category yet"
        ),
        Refusal::Frequency { frequency, .. } => {
            format!("the person's frequency choice ({frequency}) allows only critical categories")
        }
        Refusal::MarketingStopped {} => {
            "the person stopped marketing messages from this business in WhatsApp".into()
        }
        Refusal::ChannelChanged { channel } => format!(
            "the person asked for this category by {} instead of WhatsApp",
            channel.as_str()
        ),
        Refusal::OutsideWindow { .. } => {
            "free text only within 24 hours of the person's last message; send a template".into()
        }
    }
}

impl From<worker::Error> for AppError {
    fn from(e: worker::Error) -> Self {
        AppError::Internal(e.to_string())
    }
}

/// Problem details (RFC 9457) with the offending field as an extension.
#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    field: Option<&'a str>,
    /// `challenge-required`: the Turnstile key and script.
    #[serde(skip_serializing_if = "Option::is_none")]
    site_key: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    script: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_code: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    graph_error_subcode: Option<i64>,
    /// A refused message: the kept decision and what it turned on.
    #[serde(skip_serializing_if = "Option::is_none")]
    id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscription_status: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    paused_until: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    next_allowed_at: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_after: Option<i64>,
}

impl AppError {
    fn parts(&self) -> (u16, &'static str, &'static str) {
        use AppError::*;
        match self {
            NotFound(_) => (404, "not-found", "Not found"),
            MethodNotAllowed { .. } => (405, "method-not-allowed", "Method not allowed"),
            UnknownSite(_) => (404, "unknown-site", "Unknown site"),
            OriginNotAllowed(_) => (403, "origin-not-allowed", "Origin not allowed"),
            PayloadTooLarge(_) => (413, "payload-too-large", "Payload too large"),
            UnsupportedMediaType => (415, "unsupported-media-type", "Unsupported media type"),
            MalformedJson(_) => (400, "malformed-json", "Malformed JSON"),
            InvalidBody { .. } => (422, "invalid-body", "Invalid request body"),
            Consent(e) => (422, e.slug(), "Invalid consent"),
            Unauthorized => (401, "unauthorized", "Unauthorized"),
            NoSubscriber => (404, "no-subscriber", "No such subscriber"),
            Token(consent_core::token::TokenError::Expired) => {
                (410, "token-expired", "Link expired")
            }
            Token(_) => (403, "invalid-token", "Invalid link"),
            TurnstileFailed => (403, "turnstile-failed", "Anti-bot check failed"),
            ChallengeRequired { .. } => (403, "challenge-required", "Challenge required"),
            TurnstileUnavailable => (503, "turnstile-unavailable", "Anti-bot check unavailable"),
            InvalidQuery { .. } => (400, "invalid-query", "Invalid query parameter"),
            RateLimited { .. } => (429, "rate-limited", "Too many requests"),
            IdempotencyKeyReused => (422, "idempotency-key-reused", "Idempotency key reused"),
            InvalidIdempotencyKey => (400, "invalid-idempotency-key", "Invalid idempotency key"),
            InvalidSiteConfig { .. } => (422, "invalid-site-config", "Invalid site configuration"),
            VerificationFailed => (403, "verification-failed", "Webhook verification failed"),
            InvalidSignature => (401, "invalid-signature", "Invalid signature"),
            LedgerUnavailable(_) => (503, "ledger-unavailable", "Ledger unavailable"),
            NoWabaId(_) => (422, "waba-id-missing", "No WhatsApp Business Account id"),
            Graph {
                transient: true, ..
            } => (503, "graph-unavailable", "WhatsApp API unavailable"),
            Graph { .. } => (502, "graph-error", "WhatsApp API refused the request"),
            ApiKey(k) => k.parts(),
            IdempotencyKeyRequired => (400, "idempotency-key-required", "Idempotency-Key required"),
            Refused { refusal, .. } => match refusal {
                Refusal::NotSubscribed { .. } => (403, "not-subscribed", "Not subscribed"),
                Refusal::Paused { .. } => (409, "paused", "Paused by the person"),
                Refusal::Frequency { .. } => (409, "frequency", "Frequency limit"),
                Refusal::MarketingStopped {} => {
                    (403, "marketing-stopped", "Marketing stopped in WhatsApp")
                }
                Refusal::OutsideWindow { .. } => {
                    (422, "outside-window", "Outside the 24-hour window")
                }
                // The person still consents, elsewhere: a conflict they can undo, like a pause.
                Refusal::ChannelChanged { .. } => {
                    (409, "channel-changed", "Asked for by another channel")
                }
            },
            Credentials(crate::credentials::CredentialError::NoToken(_)) => (
                409,
                "graph-token-missing",
                "No Graph API token for this site",
            ),
            Credentials(_) => (503, "credentials-unavailable", "Stored token unusable"),
            FixedAtCreation { .. } => (409, "fixed-at-creation", "Fixed when the site was created"),
            Internal(_) => (500, "internal", "Internal error"),
        }
    }

    fn field(&self) -> Option<&str> {
        match self {
            AppError::Consent(e) => Some(e.field()),
            AppError::InvalidBody { field, .. } => field.as_deref(),
            AppError::InvalidSiteConfig { field, .. } | AppError::InvalidQuery { field, .. } => {
                Some(field)
            }
            AppError::TurnstileFailed => Some("turnstile_token"),
            AppError::NoWabaId(_) => Some("whatsapp.waba_id"),
            AppError::FixedAtCreation { field, .. } => Some(field),
            AppError::Credentials(crate::credentials::CredentialError::NoToken(_)) => {
                Some("whatsapp.token_secret")
            }
            AppError::InvalidIdempotencyKey
            | AppError::IdempotencyKeyReused
            | AppError::IdempotencyKeyRequired => Some("Idempotency-Key"),
            AppError::ApiKey(_) => Some("Authorization"),
            AppError::Refused {
                refusal: Refusal::OutsideWindow { .. },
                ..
            } => Some("text"),
            _ => None,
        }
    }

    /// The problem+json response; `headers` carries CORS and the like.
    pub fn into_response(self, headers: Headers) -> worker::Result<Response> {
        let (status, slug, title) = self.parts();
        match &self {
            AppError::Internal(cause) => worker::console_error!("internal error: {cause}"),
            AppError::LedgerUnavailable(cause) => {
                worker::console_error!("ALERT ledger unavailable: {cause}")
            }
            _ => {}
        }
        let body = Problem {
            kind: format!("/problems/{slug}"),
            title,
            status,
            detail: self.to_string(),
            field: self.field(),
            site_key: None,
            script: None,
            graph_code: match &self {
                AppError::Graph { code, .. } => Some(*code),
                _ => None,
            },
            graph_error_subcode: match &self {
                AppError::Graph { subcode, .. } => *subcode,
                _ => None,
            },
            id: None,
            category: None,
            reason: None,
            subscription_status: None,
            paused_until: None,
            next_allowed_at: None,
            channel: None,
            retry_after: None,
        };
        let body = match &self {
            AppError::ChallengeRequired { site_key, script } => Problem {
                site_key: Some(site_key),
                script: Some(script),
                ..body
            },
            AppError::Refused {
                id,
                category,
                refusal,
            } => refused(body, id, category, refusal),
            _ => body,
        };
        headers.set("Content-Type", "application/problem+json")?;
        headers.set("Cache-Control", "no-store")?;
        if let AppError::MethodNotAllowed { allow } = self {
            headers.set("Allow", allow)?;
        }
        if let AppError::RateLimited { retry_after, .. } = &self {
            headers.set("Retry-After", &retry_after.to_string())?;
        }
        if let AppError::LedgerUnavailable(_)
        | AppError::Graph {
            transient: true, ..
        } = &self
        {
            headers.set("Retry-After", "60")?;
        }
        if let AppError::Unauthorized | AppError::ApiKey(_) = self {
            headers.set("WWW-Authenticate", "Bearer")?;
        }
        if let Some(after) = body.retry_after {
            headers.set("Retry-After", &after.to_string())?;
        }
        let json =
            serde_json::to_string(&body).map_err(|e| worker::Error::RustError(e.to_string()))?;
        Ok(Response::ok(json)?
            .with_status(status)
            .with_headers(headers))
    }
}

/// A refusal's problem: the decision id, the category and what the rule turned on.
fn refused<'a>(body: Problem<'a>, id: &'a str, category: &'a str, r: &'a Refusal) -> Problem<'a> {
    let now = worker::Date::now().as_millis() as i64;
    let mut body = Problem {
        id: Some(id),
        category: Some(category),
        reason: Some(r.slug()),
        ..body
    };
    match r {
        Refusal::NotSubscribed { status } => body.subscription_status = Some(status),
        Refusal::Paused { paused_until } => body.paused_until = Some(paused_until),
        Refusal::Frequency {
            next_allowed_at, ..
        } => {
            body.next_allowed_at = *next_allowed_at;
            body.retry_after = next_allowed_at.map(|at| ((at - now) / 1000).max(1));
        }
        Refusal::ChannelChanged { channel } => body.channel = Some(channel.as_str()),
        Refusal::OutsideWindow { .. } | Refusal::MarketingStopped {} => {}
    }
    body
}

/// A 422 naming the body `field` at fault.
pub fn invalid(field: &str, detail: impl Into<String>) -> AppError {
    AppError::InvalidBody {
        field: Some(field.to_owned()),
        detail: detail.into(),
    }
}

/// Maps a serde_json error to a 400 (syntax) or 422 (shape) naming the field when it can.
pub fn from_json_error(e: serde_json::Error) -> AppError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => AppError::MalformedJson(e.to_string()),
        Category::Data => AppError::InvalidBody {
            field: field_in_message(&e.to_string()),
            detail: e.to_string(),
        },
    }
}

fn field_in_message(msg: &str) -> Option<String> {
    let rest = msg
        .split_once("unknown field `")
        .or_else(|| msg.split_once("missing field `"))?
        .1;
    rest.split_once('`').map(|(name, _)| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_names_are_pulled_from_serde_messages() {
        assert_eq!(
            field_in_message("unknown field `admin`, expected one of `phone`").as_deref(),
            Some("admin")
        );
        assert_eq!(
            field_in_message("missing field `phone` at line 1").as_deref(),
            Some("phone")
        );
        assert_eq!(field_in_message("invalid type: integer"), None);
    }
}
