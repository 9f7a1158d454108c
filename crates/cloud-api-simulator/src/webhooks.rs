//! Signed webhooks back to the app under test: status updates after each
//! accepted send, and inbound messages from a virtual person. Delivered with a
//! hand-written HTTP/1.1 POST over a loopback `TcpStream`.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::sign;
use whatsapp_cloud_api::webhook::{
    Change, ChangeValue, Entry, InboundButton, InboundMessage, InboundText, Metadata, Notification,
    Status, StatusError,
};

/// Statuses delivered after an accepted send when no plan is queued.
pub const DEFAULT_STATUSES: [&str; 3] = ["sent", "delivered", "read"];
/// Most statuses one plan may deliver per send.
pub const MAX_PLAN: usize = 10;
/// The WABA id in every notification.
const WABA_ID: &str = "102290129340398";
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

/// What a person sends: `POST /_sim/inbound`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    /// Business number written to (default: the last one that sent to `from`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone_number_id: Option<String>,
}

/// One webhook delivery as attempted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// 1, 2, 3, … in delivery order.
    pub seq: u64,
    /// `status` or `inbound`.
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
}

/// A notification for one business number carrying `statuses` and `messages`.
pub fn notification(
    phone_number_id: &str,
    statuses: Vec<Status>,
    messages: Vec<InboundMessage>,
) -> Vec<u8> {
    let n = Notification {
        object: "whatsapp_business_account".into(),
        entry: vec![Entry {
            id: WABA_ID.into(),
            changes: vec![Change {
                field: "messages".into(),
                value: ChangeValue {
                    messaging_product: "whatsapp".into(),
                    metadata: Metadata {
                        display_phone_number: "15550000000".into(),
                        phone_number_id: phone_number_id.into(),
                    },
                    statuses,
                    messages,
                },
            }],
        }],
    };
    serde_json::to_vec(&n).unwrap_or_default()
}

/// A status update for an accepted send.
pub fn status(
    wamid: &str,
    status: &str,
    wa_id: &str,
    callback: Option<String>,
    error_code: i64,
) -> Status {
    let errors = if status == "failed" {
        vec![StatusError {
            code: error_code,
            title: crate::meta_message(error_code),
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
        errors,
    }
}

/// The inbound message a person sends.
pub fn inbound(spec: &InboundSpec, wa_id: &str, wamid: &str) -> InboundMessage {
    let timestamp = (crate::now_ms() / 1000).to_string();
    let (kind, text, button) = match (&spec.text, &spec.button_payload) {
        (_, Some(payload)) => (
            "button",
            None,
            Some(InboundButton {
                payload: payload.clone(),
                text: spec.button_text.clone().unwrap_or_else(|| "Stop".into()),
            }),
        ),
        (Some(body), None) => ("text", Some(InboundText { body: body.clone() }), None),
        (None, None) => ("text", None, None),
    };
    InboundMessage {
        from: wa_id.into(),
        id: wamid.into(),
        timestamp,
        kind: kind.into(),
        text,
        button,
        interactive: None,
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
