//! Webhooks Meta posts to us, and the `X-Hub-Signature-256` check.

use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

/// Computes `sha256=<hex HMAC-SHA256(app_secret, body)>`, the header Meta sends.
pub fn sign(app_secret: &[u8], body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC takes any key length");
    mac.update(body);
    let tag = mac.finalize().into_bytes();
    let mut out = String::from("sha256=");
    for b in tag {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// Checks a `X-Hub-Signature-256` header against the raw body, in constant time.
pub fn verify_signature(app_secret: &[u8], body: &[u8], header: &str) -> bool {
    let Some(hex) = header.strip_prefix("sha256=") else {
        return false;
    };
    let Some(given) = decode_hex32(hex) else {
        return false;
    };
    let mut mac = Hmac::<Sha256>::new_from_slice(app_secret).expect("HMAC takes any key length");
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

fn decode_hex32(hex: &str) -> Option<[u8; 32]> {
    let bytes = hex.as_bytes();
    if bytes.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, pair) in bytes.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16)?;
        let lo = (pair[1] as char).to_digit(16)?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Some(out)
}

/// Top-level webhook payload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    /// `whatsapp_business_account`.
    pub object: String,
    /// One entry per WABA.
    pub entry: Vec<Entry>,
}

/// One WABA's changes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// WABA id.
    pub id: String,
    /// Changes.
    pub changes: Vec<Change>,
}

/// One change.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Change {
    /// `messages`.
    pub field: String,
    /// The content.
    pub value: ChangeValue,
}

/// Statuses and inbound messages for one business phone number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeValue {
    /// `whatsapp`.
    pub messaging_product: String,
    /// Which business number this concerns.
    pub metadata: Metadata,
    /// Delivery statuses.
    #[serde(default)]
    pub statuses: Vec<Status>,
    /// Inbound messages.
    #[serde(default)]
    pub messages: Vec<InboundMessage>,
}

/// Business number metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Display number.
    pub display_phone_number: String,
    /// Phone-number id: routes the webhook to a site.
    pub phone_number_id: String,
}

/// A message status update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The wamid.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`.
    pub status: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// Recipient wa_id.
    pub recipient_id: String,
    /// Our `biz_opaque_callback_data`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// Errors for `failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
}

/// Error attached to a failed status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusError {
    /// Graph error code.
    pub code: i64,
    /// Title.
    #[serde(default)]
    pub title: String,
}

/// An inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Sender wa_id.
    pub from: String,
    /// Inbound wamid.
    pub id: String,
    /// Unix seconds, as a string.
    pub timestamp: String,
    /// `text`, `button`, `interactive`, …
    #[serde(rename = "type")]
    pub kind: String,
    /// For `text`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<InboundText>,
    /// For `button` (template quick reply).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button: Option<InboundButton>,
    /// For `interactive` (reply button of an interactive message).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive: Option<InboundInteractive>,
}

impl InboundMessage {
    /// The text of a `text` message.
    pub fn text_body(&self) -> Option<&str> {
        self.text.as_ref().map(|t| t.body.as_str())
    }

    /// Our payload from a tapped quick-reply or interactive reply button.
    pub fn reply_payload(&self) -> Option<&str> {
        let button = self.button.as_ref().map(|b| b.payload.as_str());
        let interactive = || {
            self.interactive
                .as_ref()?
                .button_reply
                .as_ref()
                .map(|r| r.id.as_str())
        };
        button.or_else(interactive)
    }
}

/// Inbound interactive reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundInteractive {
    /// `button_reply`, `list_reply`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// For `button_reply`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_reply: Option<ButtonReply>,
}

/// A tapped reply button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ButtonReply {
    /// Our button id.
    pub id: String,
    /// Button title.
    pub title: String,
}

/// Inbound text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundText {
    /// The text.
    pub body: String,
}

/// Inbound quick-reply tap.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundButton {
    /// Our payload.
    pub payload: String,
    /// Button text.
    pub text: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_round_trips_and_rejects_tampering() {
        let body = br#"{"object":"whatsapp_business_account","entry":[]}"#;
        let header = sign(b"app-secret", body);
        assert!(header.starts_with("sha256=") && header.len() == 71);
        assert!(verify_signature(b"app-secret", body, &header));
        assert!(!verify_signature(b"other-secret", body, &header));
        assert!(!verify_signature(b"app-secret", b"{}", &header));
        assert!(!verify_signature(b"app-secret", body, &header[7..]));
        assert!(!verify_signature(b"app-secret", body, "sha256=zz"));
        assert!(!verify_signature(b"app-secret", body, ""));
    }

    #[test]
    fn known_hmac_vector() {
        // RFC 4231 test case 2.
        assert_eq!(
            sign(b"Jefe", b"what do ya want for nothing?"),
            "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn status_webhook_parses() {
        let n: Notification = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
            "value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001",
            "phone_number_id":"1000"},"statuses":[{"id":"wamid.1","status":"delivered",
            "timestamp":"1700000000","recipient_id":"6281","biz_opaque_callback_data":"c1"}]}}]}]}"#,
        )
        .unwrap();
        let v = &n.entry[0].changes[0].value;
        assert_eq!(v.metadata.phone_number_id, "1000");
        assert_eq!(v.statuses[0].status, "delivered");
        assert!(v.messages.is_empty());
    }

    #[test]
    fn inbound_text_button_and_interactive_parse() {
        let n: Notification = serde_json::from_str(
            r#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[{"field":"messages",
            "value":{"messaging_product":"whatsapp","metadata":{"display_phone_number":"15550001",
            "phone_number_id":"1000"},"messages":[
             {"from":"6281","id":"wamid.a","timestamp":"1","type":"text","text":{"body":"STOP"}},
             {"from":"6281","id":"wamid.b","timestamp":"1","type":"button",
              "button":{"payload":"OPTOUT:c1","text":"Stop"}},
             {"from":"6281","id":"wamid.c","timestamp":"1","type":"interactive",
              "interactive":{"type":"button_reply","button_reply":{"id":"OPTOUT:c2","title":"Stop"}}}]}}]}]}"#,
        )
        .unwrap();
        let m = &n.entry[0].changes[0].value.messages;
        assert_eq!(m[0].text_body(), Some("STOP"));
        assert_eq!(m[0].reply_payload(), None);
        assert_eq!(m[1].reply_payload(), Some("OPTOUT:c1"));
        assert_eq!(m[2].reply_payload(), Some("OPTOUT:c2"));
    }
}
