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

/// Top-level webhook payload, as the simulator builds it. The Worker reads
/// deliveries with [`decode`], which never fails a batch for one odd item.
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
    /// `messages` or `user_preferences`.
    pub field: String,
    /// The content.
    pub value: ChangeValue,
}

/// Statuses, inbound messages or preference changes for one business number.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeValue {
    /// `whatsapp`.
    #[serde(default = "whatsapp")]
    pub messaging_product: String,
    /// Which business number this concerns.
    pub metadata: Metadata,
    /// Profiles of the senders of `messages` (absent for system messages).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub contacts: Vec<ContactProfile>,
    /// Delivery statuses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub statuses: Vec<Status>,
    /// Inbound messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<InboundMessage>,
    /// Field `user_preferences`: a person stopped or resumed marketing messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_preferences: Vec<UserPreference>,
}

fn whatsapp() -> String {
    "whatsapp".into()
}

/// Business number metadata.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    /// Display number.
    #[serde(default)]
    pub display_phone_number: String,
    /// Phone-number id: routes the webhook to a site.
    pub phone_number_id: String,
}

/// A sender's profile (`contacts[]` of an inbound message).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactProfile {
    /// WhatsApp user id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// Their profile.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<Profile>,
}

/// A WhatsApp profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Profile {
    /// Name as shown in their WhatsApp.
    #[serde(default)]
    pub name: String,
}

/// One `user_preferences` item: marketing messages stopped or resumed in WhatsApp.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct UserPreference {
    /// The person.
    pub wa_id: String,
    /// What they did, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// `marketing_messages`.
    pub category: String,
    /// `stop` or `resume`.
    pub value: String,
    /// Unix seconds.
    #[serde(default, deserialize_with = "string_or_number")]
    pub timestamp: String,
}

/// A message status update.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Status {
    /// The wamid.
    pub id: String,
    /// `sent`, `delivered`, `read`, `failed`.
    pub status: String,
    /// Unix seconds, as a string.
    #[serde(deserialize_with = "string_or_number")]
    pub timestamp: String,
    /// Recipient wa_id.
    pub recipient_id: String,
    /// Our `biz_opaque_callback_data`, echoed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// The conversation it was billed in (older pricing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub conversation: Option<Conversation>,
    /// How Meta prices it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing: Option<Pricing>,
    /// Errors for `failed`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<StatusError>,
}

/// `conversation` of a status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conversation {
    /// Conversation id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Unix seconds, as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_timestamp: Option<String>,
    /// `{ "type": "utility" | "marketing" | … }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<ConversationOrigin>,
}

/// `conversation.origin`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConversationOrigin {
    /// Conversation category.
    #[serde(rename = "type", default)]
    pub kind: String,
}

/// `pricing` of a status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pricing {
    /// Whether it is charged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub billable: Option<bool>,
    /// `PMP` (per message) or `CBP` (per conversation).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pricing_model: Option<String>,
    /// `utility`, `marketing`, `authentication`, `service`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
}

/// Error attached to a failed status; the spec requires none of its fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusError {
    /// Graph error code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// Title.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    /// Message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `{ "details": … }`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<StatusErrorData>,
    /// Link to Meta's error code page.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub href: Option<String>,
}

/// `error_data` of a status error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusErrorData {
    /// Explanation.
    #[serde(default)]
    pub details: String,
}

impl StatusError {
    /// `"131026 Message undeliverable"`, or what is known of it.
    pub fn summary(&self) -> String {
        let text = self.title.as_deref().or(self.message.as_deref());
        match (self.code, text) {
            (Some(code), Some(t)) => format!("{code} {t}"),
            (Some(code), None) => code.to_string(),
            (None, Some(t)) => t.to_owned(),
            (None, None) => "failed without an error code".into(),
        }
    }
}

/// An inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundMessage {
    /// Sender wa_id.
    pub from: String,
    /// Inbound wamid.
    pub id: String,
    /// Unix seconds, as a string.
    #[serde(deserialize_with = "string_or_number")]
    pub timestamp: String,
    /// `text`, `button`, `interactive`, `system`, `reaction`, …
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
    /// The message this one answers (button taps: the template's wamid).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<InboundContext>,
    /// The Click-to-WhatsApp ad or post it came from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Referral>,
    /// For `system` (e.g. `user_changed_number`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<SystemChange>,
}

/// `context` of an inbound message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InboundContext {
    /// Business display number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// The wamid of the business message answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
}

/// `referral`: the ad (or post) a conversation started from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Referral {
    /// Ad or post URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_url: Option<String>,
    /// Ad or post id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<String>,
    /// `ad` or `post`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_type: Option<String>,
    /// Click-to-WhatsApp click id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ctwa_clid: Option<String>,
    /// Ad headline.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub headline: Option<String>,
}

/// `system` of a system message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemChange {
    /// `user_changed_number`, …
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The new WhatsApp id, for `user_changed_number`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wa_id: Option<String>,
    /// Meta's description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
}

impl InboundMessage {
    /// The text of a `text` message.
    pub fn text_body(&self) -> Option<&str> {
        self.text.as_ref().map(|t| t.body.as_str())
    }

    /// The payload (or id) of a tapped quick-reply or interactive reply button.
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

    /// The label of a tapped button, as the person saw it.
    pub fn reply_label(&self) -> Option<&str> {
        let button = self.button.as_ref().map(|b| b.text.as_str());
        let interactive = || {
            self.interactive
                .as_ref()?
                .button_reply
                .as_ref()
                .map(|r| r.title.as_str())
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
    #[serde(default)]
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
    /// The payload: ours (`OPTOUT:…`), or the button's text for buttons we did not set.
    #[serde(default)]
    pub payload: String,
    /// Button text.
    #[serde(default)]
    pub text: String,
}

/// Timestamps are strings in Meta's webhooks; accept a number too.
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Ok(s),
        serde_json::Value::Number(n) => Ok(n.to_string()),
        _ => Err(serde::de::Error::custom(
            "timestamp must be a string or number",
        )),
    }
}

/// One part of a delivery that could not be read, for logs and counts. It
/// names where it was and why, never the values (they may hold a phone number).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skipped {
    /// JSON path, e.g. `entry[0].changes[1].value.statuses[2]`.
    pub path: String,
    /// Why, without values.
    pub reason: String,
}

/// A delivery decoded item by item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Decoded {
    /// Every readable `messages` / `user_preferences` change, with the items that decoded.
    pub changes: Vec<ChangeValue>,
    /// What was left out.
    pub skipped: Vec<Skipped>,
    /// Changes of fields we do not act on (counted, not errors).
    pub other_fields: u32,
}

/// Fields whose changes concern consent or delivery.
pub const FIELDS: [&str; 2] = ["messages", "user_preferences"];

/// Decodes a webhook body one entry, change, message and status at a time:
/// whatever has an unexpected shape is skipped and listed, the rest is kept.
/// Fails only when the body is not JSON at all.
pub fn decode(body: &[u8]) -> Result<Decoded, serde_json::Error> {
    let root: serde_json::Value = serde_json::from_slice(body)?;
    let mut out = Decoded::default();
    let Some(entries) = root.get("entry").and_then(|e| e.as_array()) else {
        out.skipped.push(skip("entry", "missing or not an array"));
        return Ok(out);
    };
    for (i, entry) in entries.iter().enumerate() {
        let Some(changes) = entry.get("changes").and_then(|c| c.as_array()) else {
            out.skipped.push(skip(
                &format!("entry[{i}].changes"),
                "missing or not an array",
            ));
            continue;
        };
        for (j, change) in changes.iter().enumerate() {
            decode_change(change, &format!("entry[{i}].changes[{j}]"), &mut out);
        }
    }
    Ok(out)
}

fn decode_change(change: &serde_json::Value, path: &str, out: &mut Decoded) {
    let field = change.get("field").and_then(|f| f.as_str()).unwrap_or("");
    if !FIELDS.contains(&field) {
        out.other_fields += 1;
        return;
    }
    let value = &change["value"];
    let metadata = match serde_json::from_value::<Metadata>(value["metadata"].clone()) {
        Ok(m) => m,
        Err(e) => {
            return out
                .skipped
                .push(skip(&format!("{path}.value.metadata"), &why(&e)))
        }
    };
    let mut decoded = ChangeValue {
        messaging_product: whatsapp(),
        metadata,
        contacts: items(value, "contacts", path, &mut out.skipped),
        statuses: items(value, "statuses", path, &mut out.skipped),
        messages: items(value, "messages", path, &mut out.skipped),
        user_preferences: items(value, "user_preferences", path, &mut out.skipped),
    };
    if field != "user_preferences" {
        decoded.user_preferences.clear();
    }
    out.changes.push(decoded);
}

/// The items of `value[key]` that decode; the others are listed in `skipped`.
fn items<T: serde::de::DeserializeOwned>(
    value: &serde_json::Value,
    key: &str,
    path: &str,
    skipped: &mut Vec<Skipped>,
) -> Vec<T> {
    let list = match value.get(key) {
        None | Some(serde_json::Value::Null) => return Vec::new(),
        Some(serde_json::Value::Array(list)) => list,
        Some(_) => {
            skipped.push(skip(&format!("{path}.value.{key}"), "not an array"));
            return Vec::new();
        }
    };
    let mut out = Vec::with_capacity(list.len());
    for (k, item) in list.iter().enumerate() {
        match T::deserialize(item) {
            Ok(t) => out.push(t),
            Err(e) => skipped.push(skip(&format!("{path}.value.{key}[{k}]"), &why(&e))),
        }
    }
    out
}

fn skip(path: &str, reason: &str) -> Skipped {
    Skipped {
        path: path.into(),
        reason: reason.into(),
    }
}

/// serde's message without the offending value (it may be a phone number).
fn why(e: &serde_json::Error) -> String {
    let text = e.to_string();
    let safe = ["missing field", "unknown variant", "timestamp must be"];
    if safe.iter().any(|s| text.starts_with(s)) {
        text.split(" at line").next().unwrap_or(&text).to_owned()
    } else {
        "a field has an unexpected type or value".into()
    }
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

    #[test]
    fn one_odd_item_does_not_lose_the_rest_of_the_delivery() {
        // The issue's batch: a reaction, a failed status whose error has no
        // `code`, a STOP, plus a status missing its id and an unknown field.
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
          {"field":"messages","value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001","phone_number_id":"1000"},
            "statuses":[{"id":"wamid.s","status":"failed","timestamp":"1","recipient_id":"6281",
              "errors":[{"title":"Something","message":"x","error_data":{"details":"y"}}]},
              {"status":"read","timestamp":"1","recipient_id":"6281"}]}},
          {"field":"messages","value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001","phone_number_id":"1000"},
            "contacts":[{"profile":{"name":"A"},"wa_id":"6281"}],
            "messages":[{"from":"6281","id":"wamid.r","timestamp":"1","type":"reaction",
               "reaction":{"message_id":"wamid.x","emoji":"\u00f0"}},
              {"from":"6281","id":"wamid.t","timestamp":1,"type":"text","text":{"body":"STOP"}},
              {"from":"6281","id":"wamid.bad","timestamp":"1","type":"text","text":{"body":7}}]}},
          {"field":"account_update","value":{"anything":true}},
          {"field":"messages","value":{"messaging_product":"whatsapp"}}]}]}"#;
        let d = decode(body).unwrap();
        assert_eq!(d.changes.len(), 2);
        assert_eq!(d.changes[0].statuses.len(), 1);
        assert_eq!(d.changes[0].statuses[0].errors[0].code, None);
        assert_eq!(d.changes[0].statuses[0].errors[0].summary(), "Something");
        let m = &d.changes[1].messages;
        assert_eq!(m.len(), 2);
        assert_eq!(m[1].text_body(), Some("STOP"));
        assert_eq!(m[1].timestamp, "1");
        assert_eq!(d.changes[1].contacts[0].wa_id.as_deref(), Some("6281"));
        assert_eq!(d.other_fields, 1);
        let paths: Vec<&str> = d.skipped.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "entry[0].changes[0].value.statuses[1]",
                "entry[0].changes[1].value.messages[2]",
                "entry[0].changes[3].value.metadata"
            ]
        );
        assert_eq!(d.skipped[0].reason, "missing field `id`");
        assert!(!d.skipped[1].reason.contains('7'), "no values in reasons");
        assert!(decode(b"{\"object\":").is_err());
        assert_eq!(decode(b"{}").unwrap().skipped.len(), 1);
    }

    #[test]
    fn user_preferences_and_system_messages_decode() {
        let body = br#"{"object":"whatsapp_business_account","entry":[{"id":"1","changes":[
          {"field":"user_preferences","value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001","phone_number_id":"1000"},
            "contacts":[{"profile":{"name":"A"},"wa_id":"6281"}],
            "user_preferences":[{"wa_id":"6281","detail":"User requested to stop marketing messages",
              "category":"marketing_messages","value":"stop","timestamp":1731705721}]}},
          {"field":"messages","value":{"messaging_product":"whatsapp",
            "metadata":{"display_phone_number":"15550001","phone_number_id":"1000"},
            "messages":[{"from":"6281","id":"wamid.sys","timestamp":"1","type":"system",
              "system":{"body":"User A changed from 6281 to 6282","wa_id":"6282","type":"user_changed_number"}}]}}]}]}"#;
        let d = decode(body).unwrap();
        assert!(d.skipped.is_empty(), "{:?}", d.skipped);
        let p = &d.changes[0].user_preferences[0];
        assert_eq!(
            (p.value.as_str(), p.timestamp.as_str()),
            ("stop", "1731705721")
        );
        let sys = d.changes[1].messages[0].system.as_ref().unwrap();
        assert_eq!(
            (sys.kind.as_str(), sys.wa_id.as_deref()),
            ("user_changed_number", Some("6282"))
        );
    }
}
