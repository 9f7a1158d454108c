//! `POST|GET /{version}/{waba-id}/message_templates`: templates created,
//! reviewed after [`Config::template_approval_ms`] (approved unless a rejection
//! rule matches), read back by name; and their control routes
//! (`/_sim/templates`, `/_sim/templates/rules`, `/_sim/templates/update`).

use super::*;

/// Subcode for a name that already exists in that language (as Meta answers).
pub const TEMPLATE_EXISTS_SUBCODE: i64 = 2388024;

/// A template as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimTemplate {
    /// Template id (digits).
    pub id: String,
    /// The WABA it belongs to.
    pub waba_id: String,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// Category now.
    pub category: String,
    /// The category before a change made through `/_sim/templates/update`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    /// `PENDING`, `APPROVED`, `REJECTED`, `PAUSED`, `DISABLED`.
    pub status: String,
    /// Why it was rejected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
    /// The components as created.
    pub components: Value,
    /// When it was created, unix ms.
    pub created_at_ms: u64,
    /// The review's outcome, decided at creation: `None` approves, `Some(reason)` rejects.
    #[serde(skip)]
    pub(crate) verdict: Option<String>,
}

/// A rejection rule (`POST /_sim/templates/rules`): a template matching every
/// field given is rejected with `reason` when reviewed.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectRule {
    /// Only templates of this WABA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waba_id: Option<String>,
    /// Template name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Language code.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    /// A substring of any component's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text_contains: Option<String>,
    /// Meta's `rejected_reason` (default `INVALID_FORMAT`).
    #[serde(default = "default_reason")]
    pub reason: String,
}

fn default_reason() -> String {
    "INVALID_FORMAT".into()
}

impl RejectRule {
    fn matches(&self, waba_id: &str, name: &str, language: &str, components: &Value) -> bool {
        let text_ok = self.text_contains.as_deref().is_none_or(|needle| {
            components.as_array().is_some_and(|cs| {
                cs.iter().any(|c| {
                    c["text"].as_str().is_some_and(|t| t.contains(needle))
                        || c["buttons"].as_array().is_some_and(|bs| {
                            bs.iter()
                                .any(|b| b["text"].as_str().is_some_and(|t| t.contains(needle)))
                        })
                })
            })
        });
        self.waba_id.as_deref().is_none_or(|w| w == waba_id)
            && self.name.as_deref().is_none_or(|n| n == name)
            && self.language.as_deref().is_none_or(|l| l == language)
            && text_ok
    }
}

/// A change Meta makes after review (`POST /_sim/templates/update`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Update {
    #[serde(default)]
    waba_id: Option<String>,
    name: String,
    language: String,
    #[serde(default)]
    status: Option<String>,
    #[serde(default)]
    category: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

const STATUSES: [&str; 5] = ["PENDING", "APPROVED", "REJECTED", "PAUSED", "DISABLED"];
const CATEGORIES: [&str; 3] = ["UTILITY", "MARKETING", "AUTHENTICATION"];

impl State {
    /// Applies the review of every template whose delay has passed.
    fn review(&mut self, approval_ms: u64) {
        let now = now_ms();
        for t in &mut self.templates {
            if t.status == "PENDING" && now >= t.created_at_ms.saturating_add(approval_ms) {
                match t.verdict.take() {
                    Some(reason) => {
                        t.status = "REJECTED".into();
                        t.rejected_reason = Some(reason);
                    }
                    None => t.status = "APPROVED".into(),
                }
            }
        }
    }

    /// Holds a template answer to Meta's schema for it.
    pub(crate) fn check_template_answer(&mut self, ok: Schema, response: &SimResponse) {
        let Some(body) = response.json_body() else {
            return;
        };
        let schema = if response.status == 200 {
            ok
        } else {
            Schema::GraphError
        };
        if let Ok(c) = contract() {
            self.note_checked("response");
            let found = c.check(schema, &body);
            self.log_violations("response", 0, found);
        }
    }
}

/// Meta's shape of one template in a list.
fn listed(t: &SimTemplate) -> Value {
    let mut v = json!({
        "id": t.id, "name": t.name, "language": t.language, "status": t.status,
        "category": t.category, "components": t.components,
    });
    if let Some(p) = &t.previous_category {
        v["previous_category"] = p.as_str().into();
    }
    if let Some(r) = &t.rejected_reason {
        v["rejected_reason"] = r.as_str().into();
    }
    v
}

/// The number of `{{n}}` variables in a text.
fn variables(text: &str) -> usize {
    text.matches("{{").count()
}

impl Simulator {
    /// `/{version}/{waba-id}/message_templates`.
    pub(crate) fn templates(
        &self,
        req: &SimRequest,
        version: &str,
        waba_id: &str,
        query: &str,
    ) -> SimResponse {
        let mut st = self.lock();
        let ok_schema = if req.method == "GET" {
            Schema::TemplateList
        } else {
            Schema::TemplateCreated
        };
        let response = self.templates_answer(&mut st, req, version, waba_id, query);
        st.check_template_answer(ok_schema, &response);
        response
    }

    /// What Meta answers before looking at a Graph request's body: too large,
    /// a missing or wrong token, an unknown API version, an object id that is no
    /// id. `None` when none applies (the message_templates and message_qrdls edges).
    pub(crate) fn refuse_graph_request(
        &self,
        st: &mut State,
        req: &SimRequest,
        version: &str,
        object_id: &str,
    ) -> Option<SimResponse> {
        if req.body.len() > MAX_BODY {
            return Some(st.graph_error(
                413,
                100,
                "(#100) Request body too large",
                "Body over 1 MiB",
            ));
        }
        if let Some(token) = &self.config.token {
            if req.authorization.as_deref() != Some(&format!("Bearer {token}")) {
                return Some(st.graph_error(
                    401,
                    190,
                    &meta_message(190),
                    "Missing or wrong bearer token",
                ));
            }
        }
        if !valid_version(version) {
            let details = "Unsupported API version: expected v<major>.<minor>";
            return Some(st.graph_error(400, 100, &meta_message(100), details));
        }
        if object_id.is_empty() || !object_id.bytes().all(|b| b.is_ascii_digit()) {
            return Some(st.graph_error_sub(
                400,
                100,
                Some(UNKNOWN_OBJECT_SUBCODE),
                &meta_message(100),
                &format!("Unsupported request. Object with ID '{object_id}' does not exist"),
            ));
        }
        None
    }

    fn templates_answer(
        &self,
        st: &mut State,
        req: &SimRequest,
        version: &str,
        waba_id: &str,
        query: &str,
    ) -> SimResponse {
        if let Some(refused) = self.refuse_graph_request(st, req, version, waba_id) {
            return refused;
        }
        let bad =
            |st: &mut State, details: &str| st.graph_error(400, 100, &meta_message(100), details);
        st.review(self.config.template_approval_ms);
        match req.method.as_str() {
            "GET" => {
                let name = query
                    .split('&')
                    .filter_map(|p| p.split_once('='))
                    .find(|(k, _)| *k == "name")
                    .map(|(_, v)| percent_decode(v));
                let data: Vec<Value> = st
                    .templates
                    .iter()
                    .filter(|t| t.waba_id == waba_id && name.as_ref().is_none_or(|n| *n == t.name))
                    .map(listed)
                    .collect();
                SimResponse::json(
                    200,
                    &json!({"data": data, "paging": {"cursors": {"before": "MAZDZD", "after": "MjQZD"}}}),
                )
            }
            "POST" => self.create_template(st, req, waba_id),
            other => {
                let method = other.to_ascii_lowercase();
                bad(st, &format!("Unsupported {method} request."))
            }
        }
    }

    fn create_template(&self, st: &mut State, req: &SimRequest, waba_id: &str) -> SimResponse {
        let bad =
            |st: &mut State, details: &str| st.graph_error(400, 100, &meta_message(100), details);
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(e) => return bad(st, &format!("Request body is not valid JSON: {e}")),
        };
        let violations = match contract() {
            Ok(c) => c.check(Schema::TemplateCreate, &body),
            Err(e) => {
                return bad(
                    st,
                    &format!("the simulator could not load Meta's schema: {e}"),
                )
            }
        };
        st.note_checked("request");
        if let Some(first) = violations.first() {
            let details = format!("Param {} is invalid: {}", first.path, first.message);
            st.log_violations("request", 0, violations);
            return st.graph_error_sub(
                400,
                100,
                Some(SCHEMA_VIOLATION_SUBCODE),
                &meta_message(100),
                &details,
            );
        }
        // What the schema leaves open and Meta checks.
        let name = body["name"].as_str().unwrap_or_default();
        let language = body["language"].as_str().unwrap_or_default();
        let category = body["category"].as_str().unwrap_or_default();
        let name_ok = (1..=512).contains(&name.len())
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
        if !name_ok {
            return bad(st, "Param name must be 1 to 512 of a-z, 0-9 and _");
        }
        if language.is_empty() {
            return bad(st, "Param language is required");
        }
        if !CATEGORIES.contains(&category) {
            return bad(
                st,
                "Param category must be UTILITY, MARKETING or AUTHENTICATION",
            );
        }
        let components = body["components"].clone();
        let bodies: Vec<&Value> = components
            .as_array()
            .map(|cs| {
                cs.iter()
                    .filter(|c| {
                        c["type"]
                            .as_str()
                            .is_some_and(|t| t.eq_ignore_ascii_case("body"))
                    })
                    .collect()
            })
            .unwrap_or_default();
        let [text_body] = bodies.as_slice() else {
            return bad(st, "Param components must hold exactly one BODY");
        };
        let text = text_body["text"].as_str().unwrap_or_default();
        let examples = text_body["example"]["body_text"][0]
            .as_array()
            .map_or(0, Vec::len);
        if text.is_empty() || variables(text) != examples {
            return bad(
                st,
                "Param components[BODY].example.body_text must give one sample per variable",
            );
        }
        if st
            .templates
            .iter()
            .any(|t| t.waba_id == waba_id && t.name == name && t.language == language)
        {
            return st.graph_error_sub(
                400,
                100,
                Some(TEMPLATE_EXISTS_SUBCODE),
                &meta_message(100),
                &format!("Content in this language already exists: {name} ({language})"),
            );
        }
        let verdict = st
            .template_rules
            .iter()
            .find(|r| r.matches(waba_id, name, language, &components))
            .map(|r| r.reason.clone());
        let id = format!(
            "{}",
            1_000_000_000_000_000 + st.random() % 9_000_000_000_000_000
        );
        st.templates.push(SimTemplate {
            id: id.clone(),
            waba_id: waba_id.into(),
            name: name.into(),
            language: language.into(),
            category: category.into(),
            previous_category: None,
            status: "PENDING".into(),
            rejected_reason: None,
            components,
            created_at_ms: now_ms(),
            verdict,
        });
        st.review(self.config.template_approval_ms);
        let status = st
            .templates
            .last()
            .map(|t| t.status.clone())
            .unwrap_or_default();
        SimResponse::json(
            200,
            &json!({"id": id, "status": status, "category": category}),
        )
    }

    /// The `/_sim/templates…` control routes; `None` for any other path.
    pub(crate) fn template_control(
        &self,
        st: &mut State,
        req: &SimRequest,
        path: &str,
    ) -> Option<SimResponse> {
        let bad =
            |st: &mut State, details: &str| st.graph_error(400, 100, &meta_message(100), details);
        let answer = match (req.method.as_str(), path) {
            ("GET", "/_sim/templates") => {
                st.review(self.config.template_approval_ms);
                SimResponse::json(
                    200,
                    &json!({"templates": st.templates, "rules": st.template_rules,
                            "approval_ms": self.config.template_approval_ms}),
                )
            }
            ("DELETE", "/_sim/templates") => {
                st.templates.clear();
                st.template_rules.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/templates/rules") => {
                SimResponse::json(200, &json!({"rules": st.template_rules}))
            }
            ("POST", "/_sim/templates/rules") => {
                match serde_json::from_slice::<RejectRule>(&req.body) {
                    Ok(rule) => {
                        st.template_rules.push(rule);
                        SimResponse::json(200, &json!({"rules": st.template_rules}))
                    }
                    Err(e) => bad(st, &format!("Invalid rule: {e}")),
                }
            }
            ("DELETE", "/_sim/templates/rules") => {
                st.template_rules.clear();
                SimResponse::no_content()
            }
            ("POST", "/_sim/templates/update") => {
                st.review(self.config.template_approval_ms);
                let update = match serde_json::from_slice::<Update>(&req.body) {
                    Ok(u) => u,
                    Err(e) => return Some(bad(st, &format!("Invalid update: {e}"))),
                };
                if update
                    .status
                    .as_deref()
                    .is_some_and(|s| !STATUSES.contains(&s))
                    || update
                        .category
                        .as_deref()
                        .is_some_and(|c| !CATEGORIES.contains(&c))
                {
                    return Some(bad(st, "status must be one of PENDING, APPROVED, REJECTED, PAUSED, DISABLED; category UTILITY, MARKETING or AUTHENTICATION"));
                }
                let Some(t) = st.templates.iter_mut().find(|t| {
                    update.waba_id.as_ref().is_none_or(|w| *w == t.waba_id)
                        && t.name == update.name
                        && t.language == update.language
                }) else {
                    return Some(bad(st, "no such template in that language"));
                };
                if let Some(status) = update.status {
                    t.rejected_reason = (status == "REJECTED")
                        .then(|| update.reason.clone().unwrap_or_else(default_reason));
                    t.verdict = None;
                    t.status = status;
                }
                if let Some(category) = update.category {
                    if category != t.category {
                        t.previous_category = Some(std::mem::replace(&mut t.category, category));
                    }
                }
                let t = t.clone();
                SimResponse::json(200, &t)
            }
            (_, "/_sim/templates" | "/_sim/templates/rules" | "/_sim/templates/update") => {
                let method = req.method.to_ascii_lowercase();
                st.graph_error(
                    405,
                    100,
                    &format!("Unsupported {method} request."),
                    "Method not allowed on this control route",
                )
            }
            _ => return None,
        };
        Some(answer)
    }
}
