//! The simulator's shared state: records, faults, plans, deliveries, contract log.

use super::*;

/// Meta's description, loaded and compiled once per process.
pub fn contract() -> Result<&'static Contract, &'static str> {
    static CONTRACT: OnceLock<Result<Contract, String>> = OnceLock::new();
    CONTRACT
        .get_or_init(Contract::load)
        .as_ref()
        .map_err(String::as_str)
}

/// What the contract check has seen, for `GET /_sim/contract`.
#[derive(Debug, Default, Clone, Serialize)]
pub(crate) struct ContractLog {
    pub(crate) checked: std::collections::BTreeMap<&'static str, u64>,
    pub(crate) violations: Vec<LoggedViolation>,
}

/// A violation and where it was seen.
#[derive(Debug, Clone, Serialize)]
pub(crate) struct LoggedViolation {
    /// `request` (what the app sent), `response` or `webhook` (what we emitted).
    pub(crate) direction: &'static str,
    /// Send record or delivery seq.
    pub(crate) seq: u64,
    #[serde(flatten)]
    pub(crate) violation: Violation,
}

/// Recorded calls, pending faults and the id generator.
#[derive(Debug)]
pub(crate) struct State {
    pub(crate) records: Vec<Record>,
    pub(crate) faults: VecDeque<Fault>,
    pub(crate) next_seq: u64,
    pub(crate) rng: u64,
    pub(crate) plans: VecDeque<StatusPlan>,
    pub(crate) deliveries: Vec<Delivery>,
    /// wa_id → the business number that last wrote to them.
    pub(crate) conversations: HashMap<String, String>,
    /// Rate-based faults, consulted when no queued fault is pending.
    pub(crate) chaos: Option<Chaos>,
    /// wa_id → the last wamid the business sent them (what a tap or reaction answers).
    pub(crate) last_sent: HashMap<String, String>,
    /// Contract checks and their violations.
    pub(crate) contract: ContractLog,
    /// Templates created through the Graph endpoint.
    pub(crate) templates: Vec<SimTemplate>,
    /// Rejection rules applied at review.
    pub(crate) template_rules: Vec<RejectRule>,
    /// QR codes and short links created through the Graph endpoint.
    pub(crate) qr_codes: Vec<SimQrCode>,
}

impl State {
    pub(crate) fn random(&mut self) -> u64 {
        // splitmix64
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    pub(crate) fn fbtrace_id(&mut self) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        (0..23)
            .map(|_| ALPHABET[(self.random() % 64) as usize] as char)
            .collect()
    }

    pub(crate) fn wamid(&mut self, seq: u64) -> String {
        format!("wamid.SIM{:016X}{seq:08X}", self.random())
    }

    /// Statuses for the next accepted send: the queued plan's, else the default.
    pub(crate) fn take_plan(&mut self) -> (Vec<String>, i64) {
        let Some(front) = self.plans.front_mut() else {
            return (DEFAULT_STATUSES.map(String::from).to_vec(), 131026);
        };
        front.count -= 1;
        let taken = (front.statuses.clone(), front.error_code.unwrap_or(131026));
        if front.count == 0 {
            self.plans.pop_front();
        }
        taken
    }

    /// The first queued fault for a send to `to` (one without a recipient
    /// applies to every send), else chaos mode's draw when nothing is queued.
    pub(crate) fn take_fault(&mut self, to: Option<&str>) -> Option<FaultKind> {
        if self.faults.is_empty() {
            return self.chaos.as_mut().and_then(Chaos::draw);
        }
        let to = to.map(|t| t.trim_start_matches('+'));
        let at = self
            .faults
            .iter()
            .position(|f| f.to.is_none() || f.to.as_deref() == to)?;
        let fault = &mut self.faults[at];
        fault.remaining -= 1;
        let kind = fault.kind.clone();
        if fault.remaining == 0 {
            self.faults.remove(at);
        }
        Some(kind)
    }

    pub(crate) fn graph_error(
        &mut self,
        status: u16,
        code: i64,
        message: &str,
        details: &str,
    ) -> SimResponse {
        self.graph_error_sub(status, code, None, message, details)
    }

    pub(crate) fn graph_error_sub(
        &mut self,
        status: u16,
        code: i64,
        subcode: Option<i64>,
        message: &str,
        details: &str,
    ) -> SimResponse {
        let envelope = ErrorEnvelope {
            error: GraphError {
                message: message.into(),
                kind: "OAuthException".into(),
                code,
                error_subcode: subcode.or((code == 190).then_some(463)),
                is_transient: Some(is_transient(code)),
                error_user_title: None,
                error_user_msg: None,
                error_data: Some(ErrorData {
                    messaging_product: Some("whatsapp".into()),
                    details: details.into(),
                }),
                fbtrace_id: self.fbtrace_id(),
            },
        };
        SimResponse::json(status, &envelope)
    }
}

impl State {
    pub(crate) fn note_checked(&mut self, direction: &'static str) {
        *self.contract.checked.entry(direction).or_default() += 1;
    }

    pub(crate) fn log_violations(
        &mut self,
        direction: &'static str,
        seq: u64,
        found: Vec<Violation>,
    ) {
        for violation in found {
            eprintln!(
                "cloud-api-simulator: contract violation ({direction} #{seq}) {} at {}: {}",
                violation.schema, violation.path, violation.message
            );
            self.contract.violations.push(LoggedViolation {
                direction,
                seq,
                violation,
            });
        }
    }

    /// Holds our own answers to Meta's schema: a success as `MessageResponsePayload`,
    /// any JSON error as `GraphAPIError`.
    pub(crate) fn check_response(&mut self, seq: u64, response: &SimResponse) {
        let Some(body) = response.json_body() else {
            return; // HTML error pages imitate proxies, not the Graph API
        };
        let schema = if response.status == 200 {
            Schema::MessageResponse
        } else {
            Schema::GraphError
        };
        if let Ok(c) = contract() {
            self.note_checked("response");
            let found = c.check(schema, &body);
            self.log_violations("response", seq, found);
        }
    }

    pub(crate) fn check_webhook(&mut self, seq: u64, body: &[u8]) {
        let Ok(value) = serde_json::from_slice::<Value>(body) else {
            return;
        };
        if let Ok(c) = contract() {
            self.note_checked("webhook");
            let found = c.check(Schema::Webhook, &value);
            self.log_violations("webhook", seq, found);
        }
    }
}
