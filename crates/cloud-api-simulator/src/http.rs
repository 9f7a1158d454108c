//! The request and answer types the handlers share.

use super::*;

/// An HTTP request, reduced to what the simulator looks at.
#[derive(Debug, Clone, Default)]
pub struct SimRequest {
    /// `GET`, `POST`, …
    pub method: String,
    /// Path and query, e.g. `/_sim/messages?to=62812`.
    pub url: String,
    /// The `Authorization` header, if sent.
    pub authorization: Option<String>,
    /// The raw body.
    pub body: Vec<u8>,
}

impl SimRequest {
    /// A request without body or headers.
    pub fn new(method: &str, url: &str) -> SimRequest {
        SimRequest {
            method: method.into(),
            url: url.into(),
            ..SimRequest::default()
        }
    }

    /// Sets the raw body.
    pub fn body(mut self, body: impl Into<Vec<u8>>) -> SimRequest {
        self.body = body.into();
        self
    }

    /// Sets the body to `value` as JSON.
    pub fn json<T: Serialize>(self, value: &T) -> SimRequest {
        self.body(serde_json::to_vec(value).unwrap_or_default())
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn bearer(mut self, token: &str) -> SimRequest {
        self.authorization = Some(format!("Bearer {token}"));
        self
    }
}

/// The simulator's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct SimResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// The body.
    pub body: Vec<u8>,
    /// How long to wait before answering (timeout faults).
    pub delay: Duration,
    /// Webhooks to deliver after answering (status updates of an accepted send).
    pub after: Vec<PendingWebhook>,
    /// Close the connection instead of answering (a `drop` fault): the send is
    /// accepted and recorded, but the caller never learns it.
    pub drop: bool,
}

/// A webhook waiting to be delivered.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWebhook {
    /// `status` or `inbound`.
    pub kind: &'static str,
    /// The wamid it concerns.
    pub wamid: String,
    /// The status, for `status`.
    pub status: Option<String>,
    /// The signed-to-be JSON body.
    pub body: Vec<u8>,
    /// The delivery it repeats, for a redelivery.
    pub redelivery_of: Option<u64>,
}

impl SimResponse {
    pub(crate) fn json(status: u16, value: &impl Serialize) -> SimResponse {
        SimResponse {
            status,
            content_type: "application/json",
            body: serde_json::to_vec(value).unwrap_or_default(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    pub(crate) fn no_content() -> SimResponse {
        SimResponse {
            status: 204,
            content_type: "application/json",
            body: Vec::new(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    pub(crate) fn html(status: u16) -> SimResponse {
        let body = format!(
            "<!DOCTYPE html>\n<html><head><title>Error</title></head>\
             <body><h1>{status} Server Error</h1><p>Sorry, something went wrong.</p></body></html>\n"
        );
        SimResponse {
            status,
            content_type: "text/html; charset=utf-8",
            body: body.into_bytes(),
            delay: Duration::ZERO,
            after: Vec::new(),
            drop: false,
        }
    }

    /// The body parsed as JSON, if it is JSON.
    pub fn json_body(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }
}
