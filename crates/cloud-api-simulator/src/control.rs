//! The control API (`/_sim/...`): records, faults, status plans, inbound
//! messages, redeliveries, the contract log.

use super::*;

impl Simulator {
    /// `POST /_sim/inbound`: a virtual person writes (or several, in one
    /// delivery with `{"batch":[…]}`); delivered before answering.
    pub(crate) fn inbound(&self, req: &SimRequest) -> SimResponse {
        let pending = {
            let mut st = self.lock();
            match self.inbound_webhook(&mut st, req) {
                Ok(pending) => pending,
                Err(details) => return st.graph_error(400, 100, &meta_message(100), &details),
            }
        };
        let delivery = self.deliver(&pending.0);
        SimResponse::json(
            200,
            &json!({"id": pending.0.wamid, "ids": pending.1, "delivery": delivery}),
        )
    }

    /// `POST /_sim/redeliver` `{"seq":N}`: posts delivery N again, the same
    /// bytes (same ids, same signature), as Meta does when it saw no 200.
    pub(crate) fn redeliver(&self, req: &SimRequest) -> SimResponse {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Redeliver {
            seq: u64,
        }
        let pending = {
            let mut st = self.lock();
            let asked = serde_json::from_slice::<Redeliver>(&req.body)
                .map_err(|e| format!("Invalid redelivery: {e}"))
                .and_then(|r| {
                    st.deliveries
                        .iter()
                        .find(|d| d.seq == r.seq)
                        .cloned()
                        .ok_or_else(|| format!("no delivery #{}", r.seq))
                });
            match asked {
                Ok(d) => PendingWebhook {
                    kind: match d.kind.as_str() {
                        "status" => "status",
                        "preference" => "preference",
                        _ => "inbound",
                    },
                    wamid: d.wamid,
                    status: d.status,
                    body: d.body,
                    redelivery_of: Some(d.redelivery_of.unwrap_or(d.seq)),
                },
                Err(details) => return st.graph_error(400, 100, &meta_message(100), &details),
            }
        };
        let delivery = self.deliver(&pending);
        SimResponse::json(200, &json!({"delivery": delivery}))
    }

    pub(crate) fn inbound_webhook(
        &self,
        st: &mut State,
        req: &SimRequest,
    ) -> Result<(PendingWebhook, Vec<String>), String> {
        #[derive(Deserialize)]
        #[serde(deny_unknown_fields)]
        struct Batch {
            batch: Vec<InboundSpec>,
            #[serde(default)]
            entry_each: bool,
        }
        if self.config.webhook.is_none() {
            return Err("the simulator was started without --webhook-url".into());
        }
        let value: Value =
            serde_json::from_slice(&req.body).map_err(|e| format!("Invalid inbound: {e}"))?;
        let (specs, entry_each) = if value.get("batch").is_some() {
            let b: Batch =
                serde_json::from_value(value).map_err(|e| format!("Invalid inbound batch: {e}"))?;
            (b.batch, b.entry_each)
        } else {
            let spec: InboundSpec =
                serde_json::from_value(value).map_err(|e| format!("Invalid inbound: {e}"))?;
            (vec![spec], false)
        };
        if specs.is_empty() || specs.len() > 20 {
            return Err("a batch holds 1 to 20 inbound items".into());
        }
        let mut changes = Vec::new();
        let mut ids = Vec::new();
        for spec in &specs {
            spec.validate()?;
            let wa_id = wa_id(&spec.from).ok_or("from must be an optional + and 8 to 15 digits")?;
            let phone_number_id = spec
                .phone_number_id
                .clone()
                .or_else(|| st.conversations.get(&wa_id).cloned())
                .ok_or("no business number has written to from yet; give phone_number_id")?;
            let seq = st.next_seq;
            st.next_seq += 1;
            let wamid = st.wamid(seq).replacen("SIM", "SIMIN", 1);
            let last = st.last_sent.get(&wa_id).cloned();
            let value =
                webhooks::inbound_value(spec, &wa_id, &wamid, &phone_number_id, last.as_deref());
            changes.push((spec.field(), value));
            ids.push(wamid);
        }
        let kind = if specs.iter().all(|s| s.preference.is_some()) {
            "preference"
        } else {
            "inbound"
        };
        Ok((
            PendingWebhook {
                kind,
                wamid: ids[0].clone(),
                status: None,
                body: webhooks::notification(changes, entry_each),
                redelivery_of: None,
            },
            ids,
        ))
    }

    pub(crate) fn control(&self, req: &SimRequest, path: &str, query: &str) -> SimResponse {
        let mut st = self.lock();
        if req.body.len() > MAX_BODY {
            return st.graph_error(413, 100, "(#100) Request body too large", "Body over 1 MiB");
        }
        if let Some(answer) = self.template_control(&mut st, req, path) {
            return answer;
        }
        match (req.method.as_str(), path) {
            ("GET", "/_sim/health") => SimResponse::json(200, &json!({"ok": true})),
            ("GET", "/_sim/messages") => match MessageFilter::parse(query) {
                Ok(filter) => {
                    let messages: Vec<&Record> =
                        st.records.iter().filter(|r| filter.matches(r)).collect();
                    SimResponse::json(200, &Messages { messages })
                }
                Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
            },
            ("DELETE", "/_sim/messages") => {
                st.records.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/faults") => faults_view(&st),
            ("POST", "/_sim/faults") if ChaosSpec::is_chaos(&req.body) => {
                match serde_json::from_slice::<ChaosSpec>(&req.body)
                    .map_err(|e| format!("Invalid chaos spec: {e}"))
                    .and_then(ChaosSpec::into_chaos)
                {
                    Ok(chaos) => {
                        st.chaos = Some(chaos);
                        faults_view(&st)
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("POST", "/_sim/faults") => {
                let fault = serde_json::from_slice::<FaultSpec>(&req.body)
                    .map_err(|e| format!("Invalid fault: {e}"))
                    .and_then(FaultSpec::into_fault);
                match fault {
                    Ok(fault) => {
                        st.faults.push_back(fault);
                        faults_view(&st)
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("DELETE", "/_sim/faults") => {
                st.faults.clear();
                st.chaos = None;
                SimResponse::no_content()
            }
            ("GET", "/_sim/statuses") => SimResponse::json(200, &json!({"plans": st.plans})),
            ("POST", "/_sim/statuses") => {
                let plan = serde_json::from_slice::<StatusPlan>(&req.body)
                    .map_err(|e| format!("Invalid status plan: {e}"))
                    .and_then(|p| p.validate().map(|()| p));
                match plan {
                    Ok(plan) => {
                        st.plans.push_back(plan);
                        SimResponse::json(200, &json!({"plans": st.plans}))
                    }
                    Err(details) => st.graph_error(400, 100, &meta_message(100), &details),
                }
            }
            ("DELETE", "/_sim/statuses") => {
                st.plans.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/webhooks") => {
                SimResponse::json(200, &json!({"webhooks": st.deliveries}))
            }
            ("DELETE", "/_sim/webhooks") => {
                st.deliveries.clear();
                SimResponse::no_content()
            }
            ("GET", "/_sim/contract") => SimResponse::json(
                200,
                &json!({
                    "loaded": contract().is_ok(),
                    "error": contract().err(),
                    "spec": "business-messaging-api_v23.0.yaml",
                    "corrections": CORRECTIONS,
                    "checked": st.contract.checked,
                    "violations": st.contract.violations,
                }),
            ),
            ("DELETE", "/_sim/contract") => {
                st.contract = ContractLog::default();
                SimResponse::no_content()
            }
            (
                method,
                "/_sim/health" | "/_sim/messages" | "/_sim/faults" | "/_sim/statuses"
                | "/_sim/webhooks" | "/_sim/inbound" | "/_sim/redeliver" | "/_sim/contract",
            ) => {
                let method = method.to_ascii_lowercase();
                st.graph_error(
                    405,
                    100,
                    &format!("Unsupported {method} request."),
                    "Method not allowed on this control route",
                )
            }
            _ => {
                drop(st);
                self.not_found(path)
            }
        }
    }
}

/// Body of `GET /_sim/messages`.
#[derive(Serialize)]
pub(crate) struct Messages<'a> {
    pub(crate) messages: Vec<&'a Record>,
}

/// Body of `GET /_sim/faults` and `POST /_sim/faults`.
#[derive(Serialize)]
pub(crate) struct Faults<'a> {
    pub(crate) faults: &'a VecDeque<Fault>,
    /// The rate-based fault mode, when on.
    pub(crate) chaos: Option<&'a Chaos>,
}

/// The fault queue and the chaos mode, as `POST /_sim/faults` answers them.
fn faults_view(st: &State) -> SimResponse {
    SimResponse::json(
        200,
        &Faults {
            faults: &st.faults,
            chaos: st.chaos.as_ref(),
        },
    )
}
