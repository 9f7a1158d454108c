//! Signed webhooks back to the app under test: status updates after each
//! accepted send, and inbound messages from a virtual person. Delivered with a
//! hand-written HTTP/1.1 POST over a loopback `TcpStream`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use crate::{now_ms, PendingWebhook};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use whatsapp_cloud_api::sign;
use whatsapp_cloud_api::webhook::{
    Conversation, ConversationOrigin, Pricing, Status, StatusError, StatusErrorData,
};

/// Statuses delivered after an accepted send when no plan is queued.
pub const DEFAULT_STATUSES: [&str; 3] = ["sent", "delivered", "read"];
/// Most statuses one plan may deliver per send.
pub const MAX_PLAN: usize = 10;
/// The WABA id in every notification.
pub const WABA_ID: &str = "102290129340398";
/// The business's display number in every notification.
pub const DISPLAY_NUMBER: &str = "15550000000";
/// Connect and read limits for one delivery.
const TIMEOUT: Duration = Duration::from_secs(10);

/// Where webhooks go and how they are signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookTarget {
    /// Loopback address to connect to.
    pub addr: SocketAddr,
    /// `Host` header value.
    pub host: String,
    /// Request path (with query).
    pub path: String,
    /// App secret for `X-Hub-Signature-256`.
    pub app_secret: String,
}

impl WebhookTarget {
    /// Parses `http://127.0.0.1:PORT/path`; anything not on loopback is refused.
    pub fn parse(url: &str, app_secret: &str) -> Result<WebhookTarget, String> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| format!("webhook URL must start with http://, got {url:?}"))?;
        let (host, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let addr = host
            .to_socket_addrs()
            .map_err(|e| format!("webhook URL host {host:?}: {e}"))?
            .find(|a| a.ip().is_loopback())
            .ok_or_else(|| format!("webhook URL host {host:?} is not a loopback address"))?;
        if app_secret.is_empty() {
            return Err("an app secret is required to sign webhooks".into());
        }
        Ok(WebhookTarget {
            addr,
            host: host.into(),
            path: path.into(),
            app_secret: app_secret.into(),
        })
    }

    /// POSTs `body` signed; returns the HTTP status answered.
    pub fn post(&self, body: &[u8]) -> Result<u16, String> {
        let signature = sign(self.app_secret.as_bytes(), body);
        let mut stream =
            TcpStream::connect_timeout(&self.addr, TIMEOUT).map_err(|e| format!("connect: {e}"))?;
        stream
            .set_read_timeout(Some(TIMEOUT))
            .and_then(|()| stream.set_write_timeout(Some(TIMEOUT)))
            .map_err(|e| format!("socket: {e}"))?;
        let head = format!(
            "POST {} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n\
             Content-Length: {}\r\nX-Hub-Signature-256: {signature}\r\n\
             User-Agent: cloud-api-simulator\r\nConnection: close\r\n\r\n",
            self.path,
            self.host,
            body.len()
        );
        stream
            .write_all(head.as_bytes())
            .and_then(|()| stream.write_all(body))
            .map_err(|e| format!("write: {e}"))?;
        // Only the status line matters; servers may keep the connection open.
        let mut answer = Vec::new();
        let mut buf = [0u8; 1024];
        while !answer.windows(2).any(|w| w == b"\r\n") && answer.len() < 8 * 1024 {
            match stream.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => answer.extend_from_slice(&buf[..n]),
            }
        }
        status_of(&answer).ok_or_else(|| "no HTTP status line in the answer".into())
    }
}

fn status_of(answer: &[u8]) -> Option<u16> {
    let line = answer.split(|&b| b == b'\r').next()?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.split(' ');
    parts.next().filter(|v| v.starts_with("HTTP/1."))?;
    parts.next()?.parse().ok()
}

/// A queued plan: which statuses to deliver, in order, for the next accepted sends.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusPlan {
    /// `sent`, `delivered`, `read`, `failed`, in delivery order; repeats are duplicates.
    pub statuses: Vec<String>,
    /// Graph error code of a `failed` status (default 131026).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<i64>,
    /// How many accepted sends it applies to (default 1).
    #[serde(default = "one")]
    pub count: u32,
}

fn one() -> u32 {
    1
}

impl StatusPlan {
    /// Checks the plan.
    pub fn validate(&self) -> Result<(), String> {
        if self.count == 0 {
            return Err("count must be at least 1".into());
        }
        if self.statuses.len() > MAX_PLAN {
            return Err(format!("at most {MAX_PLAN} statuses per plan"));
        }
        match self
            .statuses
            .iter()
            .find(|s| !matches!(s.as_str(), "sent" | "delivered" | "read" | "failed"))
        {
            Some(bad) => Err(format!(
                "status must be sent, delivered, read or failed, got {bad:?}"
            )),
            None => Ok(()),
        }
    }
}

/// What a person does: `POST /_sim/inbound`. Exactly one of `text`,
/// `button_payload`, `interactive_id`, `reaction`, `system_new_wa_id` or `preference`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InboundSpec {
    /// Sender, optional `+` and 8–15 digits.
    pub from: String,
    /// A text message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// A tap on a template quick-reply button with this payload.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_payload: Option<String>,
    /// The tapped button's text (default `Stop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub button_text: Option<String>,
    /// A tap on an interactive reply button with this id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_id: Option<String>,
    /// That button's title (default: the id).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_title: Option<String>,
    /// A reaction with this emoji to the last message the business sent them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reaction: Option<String>,
    /// A `system` message: `from` changed their number to this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_new_wa_id: Option<String>,
    /// Field `user_preferences`: `stop` or `resume` marketing messages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preference: Option<String>,
    /// The Click-to-WhatsApp ad the message came from (`source_id`, `source_url`,
    /// `ctwa_clid`, …; Meta's other required fields are filled in).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub referral: Option<Value>,
    /// Their profile name (default `Sim User`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Business number written to (default: the last one that sent to `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
}

impl InboundSpec {
    /// Checks that it says exactly one thing, within Meta's sizes.
    pub fn validate(&self) -> Result<(), String> {
        let given = [
            self.text.as_ref().map(|t| (t.len(), 4096)),
            self.button_payload.as_ref().map(|p| (p.len(), 256)),
            self.interactive_id.as_ref().map(|p| (p.len(), 256)),
            self.reaction.as_ref().map(|p| (p.len(), 32)),
            self.system_new_wa_id.as_ref().map(|p| (p.len(), 15)),
            self.preference.as_ref().map(|p| (p.len(), 6)),
        ];
        let set: Vec<(usize, usize)> = given.into_iter().flatten().collect();
        match set.as_slice() {
            [(len, max)] if *len > 0 && len <= max => {}
            _ => {
                return Err("give exactly one of text (1-4096 bytes), button_payload, interactive_id, reaction, system_new_wa_id or preference".into())
            }
        }
        if let Some(p) = &self.preference {
            if p != "stop" && p != "resume" {
                return Err("preference must be stop or resume".into());
            }
        }
        if let Some(n) = &self.system_new_wa_id {
            if crate::wa_id(n).is_none() {
                return Err("system_new_wa_id must be 8 to 15 digits".into());
            }
        }
        Ok(())
    }

    /// `messages` or `user_preferences`.
    pub fn field(&self) -> &'static str {
        if self.preference.is_some() {
            "user_preferences"
        } else {
            "messages"
        }
    }
}

/// One webhook delivery as attempted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// 1, 2, 3, … in delivery order.
    pub seq: u64,
    /// `status`, `inbound` or `preference`.
    pub kind: String,
    /// The message's wamid (ours for statuses, the inbound one otherwise).
    pub wamid: String,
    /// The status delivered, for `status`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// What the app answered.
    pub http_status: Option<u16>,
    /// Why nothing was answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When, unix milliseconds.
    pub at_ms: u64,
    /// The delivery this one repeats, byte for byte (`POST /_sim/redeliver`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub redelivery_of: Option<u64>,
    /// The body as posted.
    #[serde(default)]
    pub payload: Value,
    /// The exact bytes posted (and signed), for redelivery.
    #[serde(skip)]
    pub body: Vec<u8>,
}

/// `{"messaging_product":"whatsapp","metadata":{…}}`, the start of every change value.
pub fn value_head(phone_number_id: &str) -> serde_json::Map<String, Value> {
    let mut v = serde_json::Map::new();
    v.insert("messaging_product".into(), json!("whatsapp"));
    v.insert(
        "metadata".into(),
        json!({"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id}),
    );
    v
}

/// A notification of `changes` (`(field, value)`), in one entry or one entry each.
pub fn notification(changes: Vec<(&str, Value)>, entry_each: bool) -> Vec<u8> {
    let change = |(field, value): (&str, Value)| json!({"field": field, "value": value});
    let entry = if entry_each {
        changes
            .into_iter()
            .map(|c| json!({"id": WABA_ID, "changes": [change(c)]}))
            .collect::<Vec<_>>()
    } else {
        vec![json!({"id": WABA_ID, "changes": changes.into_iter().map(change).collect::<Vec<_>>()})]
    };
    serde_json::to_vec(&json!({"object": "whatsapp_business_account", "entry": entry}))
        .unwrap_or_default()
}

/// A status change value for one business number.
pub fn status_value(phone_number_id: &str, status: &Status) -> Value {
    let mut v = value_head(phone_number_id);
    v.insert("statuses".into(), json!([status]));
    Value::Object(v)
}

/// A status update for an accepted send: `pricing` and `conversation` as Meta
/// sends them (per-message pricing), `errors[]` in full for `failed`.
pub fn status(
    wamid: &str,
    status: &str,
    wa_id: &str,
    callback: Option<String>,
    error_code: i64,
    category: &str,
) -> Status {
    let failed = status == "failed";
    let errors = if failed {
        vec![StatusError {
            code: Some(error_code),
            title: Some(crate::meta_title(error_code)),
            message: Some(crate::meta_title(error_code)),
            error_data: Some(StatusErrorData {
                details: crate::meta_message(error_code),
            }),
            href: Some(
                "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"
                    .into(),
            ),
        }]
    } else {
        Vec::new()
    };
    Status {
        id: wamid.into(),
        status: status.into(),
        timestamp: (crate::now_ms() / 1000).to_string(),
        recipient_id: wa_id.into(),
        biz_opaque_callback_data: callback,
        conversation: (!failed).then(|| Conversation {
            id: Some(format!("CONV{}", wamid.trim_start_matches("wamid."))),
            expiration_timestamp: None,
            origin: Some(ConversationOrigin {
                kind: category.into(),
            }),
        }),
        pricing: (!failed).then(|| Pricing {
            billable: Some(category != "service"),
            pricing_model: Some("PMP".into()),
            category: Some(category.into()),
        }),
        errors,
    }
}

/// What a person sends, as the change value Meta posts for it. `last_wamid` is
/// the business's last message to them (what a button tap or reaction answers).
pub fn inbound_value(
    spec: &InboundSpec,
    wa_id: &str,
    wamid: &str,
    phone_number_id: &str,
    last_wamid: Option<&str>,
) -> Value {
    let timestamp = crate::now_ms() / 1000;
    let mut v = value_head(phone_number_id);
    let contact =
        json!({"profile": {"name": spec.name.as_deref().unwrap_or("Sim User")}, "wa_id": wa_id});
    if let Some(value) = &spec.preference {
        v.insert("contacts".into(), json!([contact]));
        let detail = if value == "stop" {
            "User requested to stop marketing messages"
        } else {
            "User requested to resume marketing messages"
        };
        v.insert(
            "user_preferences".into(),
            json!([{"wa_id": wa_id, "detail": detail, "category": "marketing_messages",
                    "value": value, "timestamp": timestamp}]),
        );
        return Value::Object(v);
    }
    let mut m = json!({"from": wa_id, "id": wamid, "timestamp": timestamp.to_string()});
    let context = json!({"from": DISPLAY_NUMBER, "id": last_wamid.unwrap_or("wamid.SIMUNKNOWN")});
    if let Some(new) = &spec.system_new_wa_id {
        // System messages carry no contacts.
        m["type"] = json!("system");
        m["system"] = json!({"body": format!("User {} changed from {wa_id} to {new}",
            spec.name.as_deref().unwrap_or("Sim User")), "wa_id": new, "type": "user_changed_number"});
        v.insert("messages".into(), json!([m]));
        return Value::Object(v);
    }
    if let Some(payload) = &spec.button_payload {
        m["type"] = json!("button");
        m["context"] = context;
        m["button"] =
            json!({"payload": payload, "text": spec.button_text.as_deref().unwrap_or("Stop")});
    } else if let Some(id) = &spec.interactive_id {
        m["type"] = json!("interactive");
        m["context"] = context;
        m["interactive"] = json!({"type": "button_reply", "button_reply":
            {"id": id, "title": spec.interactive_title.as_deref().unwrap_or(id)}});
    } else if let Some(emoji) = &spec.reaction {
        m["type"] = json!("reaction");
        m["reaction"] =
            json!({"message_id": last_wamid.unwrap_or("wamid.SIMUNKNOWN"), "emoji": emoji});
    } else {
        m["type"] = json!("text");
        m["text"] = json!({"body": spec.text.as_deref().unwrap_or_default()});
    }
    if let Some(referral) = &spec.referral {
        m["referral"] = full_referral(referral);
    }
    v.insert("contacts".into(), json!([contact]));
    v.insert("messages".into(), json!([m]));
    Value::Object(v)
}

/// A referral with Meta's required fields filled in where the caller gave none.
fn full_referral(given: &Value) -> Value {
    let mut r = json!({"source_url": "https://fb.me/sim", "source_id": "120000000000000",
        "source_type": "ad", "body": "Join our WhatsApp updates", "headline": "Chat with us",
        "media_type": "image", "image_url": "https://example.com/ad.jpg", "ctwa_clid": "SIMCLID"});
    if let (Some(out), Some(given)) = (r.as_object_mut(), given.as_object()) {
        for (k, v) in given {
            out.insert(k.clone(), v.clone());
        }
    }
    r
}

impl crate::Simulator {
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
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_http_targets() {
        let t = WebhookTarget::parse("http://127.0.0.1:8787/webhooks/whatsapp", "s").unwrap();
        assert_eq!(
            (t.path.as_str(), t.host.as_str()),
            ("/webhooks/whatsapp", "127.0.0.1:8787")
        );
        assert!(WebhookTarget::parse("https://127.0.0.1:8787/", "s").is_err());
        assert!(WebhookTarget::parse("http://10.0.0.1:80/", "s").is_err());
        assert!(WebhookTarget::parse("http://127.0.0.1:80/", "").is_err());
    }

    #[test]
    fn status_lines_parse() {
        assert_eq!(status_of(b"HTTP/1.1 200 OK\r\n\r\n"), Some(200));
        assert_eq!(status_of(b"HTTP/1.1 401 Unauthorized\r\n"), Some(401));
        assert_eq!(status_of(b"garbage"), None);
    }

    #[test]
    fn inbound_specs_say_exactly_one_thing() {
        let spec = |f: fn(&mut InboundSpec)| {
            let mut s = InboundSpec {
                from: "6281234567890".into(),
                ..InboundSpec::default()
            };
            f(&mut s);
            s.validate()
        };
        assert!(spec(|s| s.text = Some("STOP".into())).is_ok());
        assert!(spec(|s| s.preference = Some("stop".into())).is_ok());
        assert!(spec(|s| s.preference = Some("maybe".into())).is_err());
        assert!(spec(|_| {}).is_err());
        assert!(spec(|s| {
            s.text = Some("a".into());
            s.reaction = Some("x".into());
        })
        .is_err());
    }

    #[test]
    fn plans_are_checked() {
        let plan = |s: &[&str], count| StatusPlan {
            statuses: s.iter().map(|s| s.to_string()).collect(),
            error_code: None,
            count,
        };
        assert!(plan(&["read", "sent", "read"], 1).validate().is_ok());
        assert!(plan(&[], 1).validate().is_ok());
        assert!(plan(&["seen"], 1).validate().is_err());
        assert!(plan(&["sent"], 0).validate().is_err());
        assert!(plan(&["sent"; 11], 1).validate().is_err());
    }
}
