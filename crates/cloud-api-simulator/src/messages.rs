//! `POST /{version}/{phone-number-id}/messages`: the send endpoint, its
//! records and its faults.

use super::*;

/// Whether a recorded send was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordStatus {
    /// Answered 200 with a wamid.
    Accepted,
    /// Answered with an error.
    Failed,
}

/// The template part of a recorded send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateRecord {
    /// Template name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Body parameter texts, in order.
    pub body_texts: Vec<String>,
}

/// One send call as received and answered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    /// 1, 2, 3, … in arrival order.
    pub seq: u64,
    /// Arrival time, unix milliseconds.
    pub received_at_ms: u64,
    /// API version from the path.
    pub version: String,
    /// Phone-number id from the path.
    pub phone_number_id: String,
    /// The `to` of the body, as given, when readable.
    pub to: Option<String>,
    /// Accepted or failed.
    pub status: RecordStatus,
    /// HTTP status answered.
    pub http_status: u16,
    /// Graph error code answered, if any.
    pub error_code: Option<i64>,
    /// The wamid, when accepted.
    pub wamid: Option<String>,
    /// Kind of the fault applied to this call, if any.
    pub fault: Option<String>,
    /// Template name, language and body texts, for template messages.
    pub template: Option<TemplateRecord>,
    /// The text of a free-form `text` message.
    #[serde(default)]
    pub text: Option<String>,
    /// The request body as JSON (`null` when it was not JSON).
    pub request: Value,
    /// The body as text, only when it was not JSON (first 4096 bytes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub raw_body: Option<String>,
}

/// A fault as posted to `POST /_sim/faults`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FaultSpec {
    /// `graph` (default), `timeout`, `http_500` or `drop`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Graph error code (required for `graph`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub code: Option<i64>,
    /// How many send calls it applies to (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub count: Option<u32>,
    /// HTTP status to answer with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_status: Option<u16>,
    /// Error message (default: Meta's message for the code).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// `error_data.details`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<String>,
    /// Delay of a `timeout` fault.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_ms: Option<u64>,
    /// Only sends to this recipient (E.164, with or without `+`); absent: any send.
    /// Lets a test fault its own message while other sends are still in flight.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

/// What a fault does to a send call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum FaultKind {
    /// Answer a Graph error.
    Graph {
        /// Graph error code.
        code: i64,
        /// HTTP status.
        http_status: u16,
        /// Error message.
        message: String,
        /// `error_data.details`.
        details: String,
    },
    /// Wait, then answer normally.
    Timeout {
        /// The wait.
        delay_ms: u64,
    },
    /// Answer an HTML error page.
    #[serde(rename = "http_500")]
    Http500 {
        /// HTTP status.
        http_status: u16,
    },
    /// Accept and record the message, then close the connection without answering.
    Drop,
}

impl FaultKind {
    fn name(&self) -> &'static str {
        match self {
            FaultKind::Graph { .. } => "graph",
            FaultKind::Timeout { .. } => "timeout",
            FaultKind::Http500 { .. } => "http_500",
            FaultKind::Drop => "drop",
        }
    }
}

/// A pending fault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fault {
    /// What it does.
    #[serde(flatten)]
    pub kind: FaultKind,
    /// Send calls it still applies to.
    pub remaining: u32,
    /// Only sends to this recipient (digits, no `+`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}

impl FaultSpec {
    /// Validates the spec and fills in defaults.
    pub fn into_fault(self) -> Result<Fault, String> {
        let remaining = self.count.unwrap_or(1);
        if remaining == 0 {
            return Err("count must be at least 1".into());
        }
        let status_ok = |s: u16| (100..=599).contains(&s);
        let kind = match self.kind.as_deref().unwrap_or("graph") {
            "graph" => {
                let code = self.code.ok_or("a graph fault needs a code")?;
                let http_status = self.http_status.unwrap_or(default_status(code));
                if !(400..=599).contains(&http_status) {
                    return Err("http_status of a graph fault must be 400..=599".into());
                }
                FaultKind::Graph {
                    code,
                    http_status,
                    message: self.message.unwrap_or_else(|| meta_message(code)),
                    details: self
                        .details
                        .unwrap_or_else(|| "Simulated fault injected via /_sim/faults".into()),
                }
            }
            "timeout" => FaultKind::Timeout {
                delay_ms: self.delay_ms.unwrap_or(MAX_DELAY_MS).min(MAX_DELAY_MS),
            },
            "http_500" => {
                let http_status = self.http_status.unwrap_or(500);
                if !status_ok(http_status) {
                    return Err("http_status must be 100..=599".into());
                }
                FaultKind::Http500 { http_status }
            }
            "drop" => FaultKind::Drop,
            other => return Err(format!("unknown fault kind {other:?}")),
        };
        let to = self.to.map(|t| t.trim_start_matches('+').to_owned());
        if to
            .as_deref()
            .is_some_and(|t| t.is_empty() || !t.bytes().all(|b| b.is_ascii_digit()))
        {
            return Err("to must be a phone number in E.164".into());
        }
        Ok(Fault {
            kind,
            remaining,
            to,
        })
    }
}

/// How a send call is answered.
pub(crate) enum Outcome {
    Accepted(SendResponse),
    Error {
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: String,
        details: String,
    },
    Html(u16),
}

pub(crate) fn invalid(details: impl Into<String>) -> Outcome {
    invalid_sub(None, details)
}

pub(crate) fn invalid_sub(subcode: Option<i64>, details: impl Into<String>) -> Outcome {
    Outcome::Error {
        status: 400,
        code: 100,
        subcode,
        message: meta_message(100),
        details: details.into(),
    }
}

impl Simulator {
    pub(crate) fn not_found(&self, path: &str) -> SimResponse {
        let mut st = self.lock();
        let response = st.graph_error_sub(
            404,
            2500,
            None,
            "Unknown path components",
            &format!("No route for {path}"),
        );
        st.check_response(0, &response);
        response
    }

    pub(crate) fn send(
        &self,
        req: &SimRequest,
        version: &str,
        phone_number_id: &str,
    ) -> SimResponse {
        let mut st = self.lock();
        if req.method != "POST" {
            let method = req.method.to_ascii_lowercase();
            return st.graph_error(
                400,
                100,
                &format!("Unsupported {method} request."),
                "Only POST is supported on /messages",
            );
        }

        let too_large = req.body.len() > MAX_BODY;
        let parsed: Option<Result<Value, serde_json::Error>> =
            (!too_large).then(|| serde_json::from_slice(&req.body));
        let json = parsed.as_ref().and_then(|p| p.as_ref().ok());
        let message = json.map(MessageRequest::deserialize);
        let template = message.as_ref().and_then(|m| m.as_ref().ok()?.template());
        let seq = st.next_seq;
        st.next_seq += 1;
        let mut record = Record {
            seq,
            received_at_ms: now_ms(),
            version: version.into(),
            phone_number_id: phone_number_id.into(),
            to: json.and_then(|v| v.get("to")?.as_str()).map(String::from),
            status: RecordStatus::Failed,
            http_status: 0,
            error_code: None,
            wamid: None,
            fault: None,
            text: json
                .and_then(|v| v["text"]["body"].as_str())
                .map(String::from),
            template: template.map(|t| TemplateRecord {
                name: t.name.clone(),
                language: t.language.code.clone(),
                body_texts: t.body_texts().into_iter().map(String::from).collect(),
            }),
            request: json.cloned().unwrap_or(Value::Null),
            raw_body: match parsed {
                Some(Err(_)) => {
                    let end = req.body.len().min(4096);
                    Some(String::from_utf8_lossy(&req.body[..end]).into_owned())
                }
                _ => None,
            },
        };

        let mut delay = Duration::ZERO;
        let mut drop_connection = false;
        let outcome = (|| {
            if too_large {
                return Outcome::Error {
                    status: 413,
                    code: 100,
                    subcode: None,
                    message: "(#100) Request body too large".into(),
                    details: format!("Request bodies are limited to {MAX_BODY} bytes"),
                };
            }
            if let Some(token) = &self.config.token {
                if req.authorization.as_deref() != Some(&format!("Bearer {token}")) {
                    return Outcome::Error {
                        status: 401,
                        code: 190,
                        subcode: None,
                        message: meta_message(190),
                        details: "Missing or wrong bearer token".into(),
                    };
                }
            }
            if !valid_version(version) {
                return invalid(format!(
                    "Unsupported API version {version:?}: expected v<major>.<minor>"
                ));
            }
            if phone_number_id.is_empty() || !phone_number_id.bytes().all(|b| b.is_ascii_digit()) {
                return invalid_sub(
                    Some(UNKNOWN_OBJECT_SUBCODE),
                    format!("Unsupported post request. Object with ID '{phone_number_id}' does not exist"),
                );
            }
            if let Some(fault) = st.take_fault(record.to.as_deref()) {
                record.fault = Some(fault.name().into());
                match fault {
                    FaultKind::Graph {
                        code,
                        http_status,
                        message,
                        details,
                    } => {
                        return Outcome::Error {
                            status: http_status,
                            code,
                            subcode: None,
                            message,
                            details,
                        }
                    }
                    FaultKind::Http500 { http_status } => return Outcome::Html(http_status),
                    FaultKind::Timeout { delay_ms } => delay = Duration::from_millis(delay_ms),
                    FaultKind::Drop => drop_connection = true,
                }
            }
            let body = match &parsed {
                Some(Err(e)) => return invalid(format!("Request body is not valid JSON: {e}")),
                Some(Ok(v)) => v,
                None => return invalid("Missing request body"),
            };
            // Meta's schema decides, not our own types.
            let violations = match contract() {
                Ok(c) => c.check(Schema::MessageRequest, body),
                Err(e) => {
                    return invalid(format!("the simulator could not load Meta's schema: {e}"))
                }
            };
            st.note_checked("request");
            if let Some(first) = violations.first() {
                let details = format!("Param {} is invalid: {}", first.path, first.message);
                st.log_violations("request", seq, violations);
                return invalid_sub(Some(SCHEMA_VIOLATION_SUBCODE), details);
            }
            if body["messaging_product"] != "whatsapp" {
                return invalid("Param messaging_product must be \"whatsapp\"");
            }
            let to = body["to"].as_str().unwrap_or_default();
            let Some(wa_id) = wa_id(to) else {
                return invalid("Param to must be a phone number: optional + then 8 to 15 digits");
            };
            Outcome::Accepted(SendResponse {
                messaging_product: "whatsapp".into(),
                contacts: vec![Contact {
                    input: to.to_owned(),
                    wa_id,
                }],
                messages: vec![SentMessage {
                    id: st.wamid(seq),
                    message_status: None,
                }],
            })
        })();

        let mut response = match outcome {
            Outcome::Accepted(answer) => {
                record.status = RecordStatus::Accepted;
                record.wamid = answer.message_id().map(String::from);
                let callback = json
                    .and_then(|v| v.get("biz_opaque_callback_data")?.as_str())
                    .map(String::from);
                let category = if template.is_some() {
                    "utility"
                } else {
                    "service"
                };
                let after =
                    self.status_webhooks(&mut st, &answer, phone_number_id, callback, category);
                SimResponse {
                    after,
                    ..SimResponse::json(200, &answer)
                }
            }
            Outcome::Error {
                status,
                code,
                subcode,
                message,
                details,
            } => {
                record.error_code = Some(code);
                st.graph_error_sub(status, code, subcode, &message, &details)
            }
            Outcome::Html(status) => SimResponse::html(status),
        };
        response.delay = delay;
        response.drop = drop_connection && record.status == RecordStatus::Accepted;
        record.http_status = response.status;
        st.check_response(seq, &response);
        if self.config.log {
            println!("{}", log_line(&record));
        }
        st.records.push(record);
        response
    }

    /// The status webhooks an accepted send will get, per the plan: one
    /// payload per status (Meta never mixes statuses and messages).
    pub(crate) fn status_webhooks(
        &self,
        st: &mut State,
        answer: &SendResponse,
        phone_number_id: &str,
        callback: Option<String>,
        category: &str,
    ) -> Vec<PendingWebhook> {
        let (Some(_), Some(wamid), Some(contact)) = (
            &self.config.webhook,
            answer.message_id(),
            answer.contacts.first(),
        ) else {
            return Vec::new();
        };
        st.conversations
            .insert(contact.wa_id.clone(), phone_number_id.into());
        st.last_sent.insert(contact.wa_id.clone(), wamid.into());
        let (statuses, error_code) = st.take_plan();
        statuses
            .into_iter()
            .map(|s| {
                let update = webhooks::status(
                    wamid,
                    &s,
                    &contact.wa_id,
                    callback.clone(),
                    error_code,
                    category,
                );
                PendingWebhook {
                    kind: "status",
                    wamid: wamid.into(),
                    status: Some(s),
                    body: webhooks::notification(
                        vec![("messages", webhooks::status_value(phone_number_id, &update))],
                        false,
                    ),
                    redelivery_of: None,
                }
            })
            .collect()
    }
}

/// Query of `GET /_sim/messages`.
#[derive(Debug, Default)]
pub(crate) struct MessageFilter {
    pub(crate) to_digits: Option<String>,
    pub(crate) status: Option<RecordStatus>,
}

impl MessageFilter {
    pub(crate) fn parse(query: &str) -> Result<MessageFilter, String> {
        let mut filter = MessageFilter::default();
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = percent_decode(value);
            match key {
                "to" => filter.to_digits = Some(digits(&value)),
                "status" => {
                    filter.status = Some(match value.as_str() {
                        "accepted" => RecordStatus::Accepted,
                        "failed" => RecordStatus::Failed,
                        _ => {
                            return Err(format!("status must be accepted or failed, got {value:?}"))
                        }
                    })
                }
                _ => {}
            }
        }
        Ok(filter)
    }

    pub(crate) fn matches(&self, record: &Record) -> bool {
        let to_ok = match &self.to_digits {
            None => true,
            Some(want) => record.to.as_deref().is_some_and(|to| digits(to) == *want),
        };
        to_ok && self.status.is_none_or(|s| s == record.status)
    }
}

/// `v<digits>.<digits>`.
pub(crate) fn valid_version(version: &str) -> bool {
    let all_digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    version
        .strip_prefix('v')
        .and_then(|v| v.split_once('.'))
        .is_some_and(|(major, minor)| all_digits(major) && all_digits(minor))
}

/// The wa_id for a valid `to` (optional `+`, 8–15 digits).
pub(crate) fn wa_id(to: &str) -> Option<String> {
    let number = to.strip_prefix('+').unwrap_or(to);
    let ok = (8..=15).contains(&number.len()) && number.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| number.to_string())
}

pub(crate) fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

pub(crate) fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

/// One log line per send call, showing only the last 4 digits of the recipient.
pub(crate) fn log_line(record: &Record) -> String {
    let to = match record.to.as_deref().map(digits) {
        Some(d) if !d.is_empty() => format!("***{}", &d[d.len().saturating_sub(4)..]),
        _ => "?".into(),
    };
    let result = match (&record.wamid, record.error_code) {
        (Some(wamid), _) => wamid.clone(),
        (None, Some(code)) => format!("error {code}"),
        (None, None) => "html error".into(),
    };
    let fault = record
        .fault
        .as_deref()
        .map(|f| format!(" (fault: {f})"))
        .unwrap_or_default();
    format!(
        "send #{} {}/{} to {to} -> {} {result}{fault}",
        record.seq, record.version, record.phone_number_id, record.http_status
    )
}
