//! Webhooks out to the merchant's systems (Standard Webhooks): the endpoints
//! the edge keeps in KV and copies to every ledger shard, and what a ledger
//! reports about their deliveries.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// The event types a merchant's endpoint may subscribe to (`events` filter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum HookEventType {
    /// Consent given (by the widget, in the thread, or the click-to-opt-in phrase).
    #[serde(rename = "consent.granted")]
    Granted,
    /// Everything withdrawn; `how` says by which way.
    #[serde(rename = "consent.withdrawn")]
    Withdrawn,
    /// Categories, frequency, pause, a category's channel or the WhatsApp marketing channel changed.
    #[serde(rename = "consent.updated")]
    Updated,
    /// A double opt-in confirmed in WhatsApp.
    #[serde(rename = "consent.confirmed")]
    Confirmed,
    /// A double opt-in not confirmed in time.
    #[serde(rename = "consent.expired")]
    Expired,
    /// The person's data was erased on request.
    #[serde(rename = "subscriber.erased")]
    Erased,
    /// A message's delivery status from WhatsApp (sent, delivered, read, failed).
    #[serde(rename = "message.status")]
    MessageStatus,
}

impl HookEventType {
    /// Every type, in documentation order.
    pub const ALL: [HookEventType; 7] = [
        HookEventType::Granted,
        HookEventType::Withdrawn,
        HookEventType::Updated,
        HookEventType::Confirmed,
        HookEventType::Expired,
        HookEventType::Erased,
        HookEventType::MessageStatus,
    ];

    /// The wire name (`consent.granted`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            HookEventType::Granted => "consent.granted",
            HookEventType::Withdrawn => "consent.withdrawn",
            HookEventType::Updated => "consent.updated",
            HookEventType::Confirmed => "consent.confirmed",
            HookEventType::Expired => "consent.expired",
            HookEventType::Erased => "subscriber.erased",
            HookEventType::MessageStatus => "message.status",
        }
    }

    /// The type named `s`, if any.
    pub fn parse(s: &str) -> Option<HookEventType> {
        Self::ALL.into_iter().find(|t| t.as_str() == s)
    }
}

/// One signing secret (`whsec_<base64>`); a rotated-out one signs beside its
/// successor until `expires_at`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookSecret {
    /// `whsec_…`, as shown to the merchant once.
    pub secret: String,
    /// Unix ms after which it no longer signs (none for the current one).
    pub expires_at: Option<i64>,
}

/// A merchant's endpoint, as stored in KV and copied to each ledger shard.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookEndpoint {
    /// `whe_<hex>`.
    pub id: String,
    /// The site it belongs to.
    pub site: String,
    /// Where deliveries are POSTed.
    pub url: String,
    /// Which types it receives; empty for all.
    pub events: Vec<HookEventType>,
    /// Newest first.
    pub secrets: Vec<HookSecret>,
    /// Paused by the merchant: deliveries queue up and wait.
    pub paused: bool,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms of the last resume: a ledger that disabled the endpoint before
    /// it takes it up again.
    pub resumed_at: Option<i64>,
}

/// The secrets that sign at `now`: the current one, and a rotated-out one
/// until its overlap ends.
pub fn live_secrets(secrets: &[HookSecret], now: i64) -> impl Iterator<Item = &str> {
    secrets
        .iter()
        .filter(move |s| s.expires_at.is_none_or(|at| at > now))
        .map(|s| s.secret.as_str())
}

/// What one shard knows of an endpoint's deliveries.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct HookEndpointState {
    /// The endpoint.
    pub id: String,
    /// Deliveries waiting (pending or in flight).
    pub pending: i64,
    /// Deliveries that reached the endpoint.
    pub delivered: i64,
    /// Since when it has failed without a success in between (Unix ms).
    pub failing_since: Option<i64>,
    /// When this shard disabled it after failing for the whole retry period.
    pub disabled_at: Option<i64>,
    /// When the next try is due (Unix ms).
    pub next_attempt_at: Option<i64>,
}

/// One delivery in an endpoint's log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HookDeliveryView {
    /// `webhook-id`: the same on every attempt and replay.
    pub webhook_id: String,
    /// `consent.granted`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// The person's sequence number in this payload.
    pub subscriber_seq: i64,
    /// `pending`, `sending`, `delivered`.
    pub status: String,
    /// Attempts so far.
    pub attempts: i64,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
    /// How long the last attempt took, ms.
    pub latency_ms: Option<i64>,
    /// When the next try is due, while pending (Unix ms).
    pub next_attempt_at: Option<i64>,
    /// When the event was queued (Unix ms).
    pub created_at: i64,
    /// When it reached the endpoint (Unix ms).
    pub delivered_at: Option<i64>,
}

/// The answer to `HookDeliveries`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HookDeliveries {
    /// Newest first.
    pub deliveries: Vec<HookDeliveryView>,
}

/// The answer to `ReplayHooks`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct HooksReplayed {
    /// Deliveries queued again.
    pub replayed: i64,
}

// ---------------------------------------------------------------------------
// Signing (Standard Webhooks)

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn b64_encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Standard base64 (padding optional); `None` for anything else.
pub fn b64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes() {
        let v = B64.iter().position(|&x| x == c)? as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

/// Prefix of every signing secret.
pub const SECRET_PREFIX: &str = "whsec_";

/// A fresh `whsec_<base64 of 32 random bytes>`.
pub fn new_secret() -> Result<String, getrandom::Error> {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b)?;
    Ok(format!("{SECRET_PREFIX}{}", b64_encode(&b)))
}

/// `v1,<base64 HMAC-SHA256(key, "id.timestamp.body")>` for one secret; `None`
/// for a secret that is not `whsec_<base64>`.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &str) -> Option<String> {
    let key = b64_decode(secret.strip_prefix(SECRET_PREFIX)?)?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.{body}").as_bytes());
    Some(format!("v1,{}", b64_encode(&mac.finalize().into_bytes())))
}

/// The `webhook-signature` header: one signature per live secret, space
/// separated (during a rotation's overlap both verify).
pub fn signature_header<'a>(
    secrets: impl Iterator<Item = &'a str>,
    id: &str,
    timestamp: i64,
    body: &str,
) -> String {
    secrets
        .filter_map(|s| sign(s, id, timestamp, body))
        .collect::<Vec<_>>()
        .join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_types_round_trip_by_wire_name() {
        for t in HookEventType::ALL {
            let json = serde_json::to_string(&t).unwrap();
            assert_eq!(json, format!("\"{}\"", t.as_str()));
            assert_eq!(HookEventType::parse(t.as_str()), Some(t));
        }
        assert_eq!(HookEventType::parse("consent.deleted"), None);
    }

    #[test]
    fn a_rotated_secret_signs_until_its_overlap_ends() {
        let secrets = [
            HookSecret {
                secret: "new".into(),
                expires_at: None,
            },
            HookSecret {
                secret: "old".into(),
                expires_at: Some(100),
            },
        ];
        assert_eq!(
            live_secrets(&secrets, 99).collect::<Vec<_>>(),
            ["new", "old"]
        );
        assert_eq!(live_secrets(&secrets, 100).collect::<Vec<_>>(), ["new"]);
    }
}
