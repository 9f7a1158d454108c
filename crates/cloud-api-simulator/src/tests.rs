//! The simulator's unit tests.

use super::*;
use whatsapp_cloud_api::RetryClass;

const SEND: &str = "/v21.0/1234567890/messages";

fn confirmation(to: &str) -> MessageRequest {
    MessageRequest::confirmation(
        to,
        "optin_confirmation",
        "id",
        "Toko Acme",
        "OPTOUT:abc",
        "consent-1",
    )
}

fn send(sim: &Simulator, to: &str) -> SimResponse {
    sim.handle(&SimRequest::new("POST", SEND).json(&confirmation(to)))
}

fn graph_error(resp: &SimResponse) -> GraphError {
    serde_json::from_slice::<ErrorEnvelope>(&resp.body)
        .expect("Meta-shaped error")
        .error
}

#[test]
fn accepts_a_confirmation_template_and_records_it() {
    let sim = Simulator::new(Config::default());
    let resp = send(&sim, "+6281234567890");
    assert_eq!(resp.status, 200);
    let answer: SendResponse = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(answer.messaging_product, "whatsapp");
    assert_eq!(answer.contacts[0].input, "+6281234567890");
    assert_eq!(answer.contacts[0].wa_id, "6281234567890");
    let wamid = answer.message_id().unwrap();
    assert!(wamid.starts_with("wamid."));

    let records = sim.records();
    assert_eq!(records.len(), 1);
    let r = &records[0];
    assert_eq!(
        (r.seq, r.http_status, r.status),
        (1, 200, RecordStatus::Accepted)
    );
    assert_eq!(r.wamid.as_deref(), Some(wamid));
    assert_eq!(
        (r.version.as_str(), r.phone_number_id.as_str()),
        ("v21.0", "1234567890")
    );
    assert_eq!(r.to.as_deref(), Some("+6281234567890"));
    let t = r.template.as_ref().unwrap();
    assert_eq!(
        (t.name.as_str(), t.language.as_str(), t.body_texts.clone()),
        ("optin_confirmation", "id", vec!["Toko Acme".to_string()])
    );
    assert_eq!(
        r.request,
        serde_json::to_value(confirmation("+6281234567890")).unwrap()
    );

    let second = send(&sim, "6281234567890");
    let id2 = serde_json::from_slice::<SendResponse>(&second.body).unwrap();
    assert_ne!(id2.message_id().unwrap(), wamid, "wamids are unique");
}

#[test]
fn malformed_json_is_400_code_100_and_recorded() {
    let sim = Simulator::new(Config::default());
    let resp = sim.handle(&SimRequest::new("POST", SEND).body("{not json"));
    assert_eq!(resp.status, 400);
    let e = graph_error(&resp);
    assert_eq!((e.code, e.kind.as_str()), (100, "OAuthException"));
    assert_eq!(e.message, "(#100) Invalid parameter");
    assert_eq!(
        e.error_data.unwrap().messaging_product.as_deref(),
        Some("whatsapp")
    );
    assert!(!e.fbtrace_id.is_empty());
    let r = &sim.records()[0];
    assert_eq!(
        (r.status, r.http_status, r.error_code),
        (RecordStatus::Failed, 400, Some(100))
    );
    assert_eq!(r.raw_body.as_deref(), Some("{not json"));
}

#[test]
fn invalid_fields_and_version_are_400_code_100() {
    let sim = Simulator::new(Config::default());
    let mut wrong_product = confirmation("+6281234567890");
    wrong_product.messaging_product = "sms".into();
    let cases = [
        SimRequest::new("POST", SEND).json(&wrong_product),
        SimRequest::new("POST", SEND).json(&confirmation("+62812")),
        SimRequest::new("POST", SEND).json(&confirmation("+62-812-3456-7890")),
        SimRequest::new("POST", SEND).json(&json!({"messaging_product": "whatsapp"})),
        SimRequest::new("POST", "/21.0/123/messages").json(&confirmation("6281234567890")),
        SimRequest::new("POST", "/v21/123/messages").json(&confirmation("6281234567890")),
    ];
    for req in &cases {
        let resp = sim.handle(req);
        assert_eq!(resp.status, 400, "{req:?}");
        assert_eq!(graph_error(&resp).code, 100);
    }
    assert_eq!(sim.records().len(), cases.len());
}

#[test]
fn a_fault_for_one_recipient_lets_other_sends_through() {
    let sim = Simulator::new(Config::default());
    let body = r#"{"code":4,"count":1,"to":"+6281234567890"}"#;
    let resp = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(body));
    assert_eq!(resp.status, 200);
    assert_eq!(
        send(&sim, "+6281111111111").status,
        200,
        "someone else's send"
    );
    assert_eq!(sim.faults().len(), 1, "still waiting for its recipient");
    assert_eq!(graph_error(&send(&sim, "+6281234567890")).code, 4);
    assert!(sim.faults().is_empty());
    assert_eq!(send(&sim, "+6281234567890").status, 200);
    let bad =
        sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":4,"to":"+62 812"}"#));
    assert_eq!(bad.status, 400, "to must be digits");
}

#[test]
fn injected_fault_answers_once_then_accepts() {
    let sim = Simulator::new(Config::default());
    let resp =
        sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":131056,"count":1}"#));
    assert_eq!(resp.status, 200);
    assert_eq!(sim.faults().len(), 1);

    let first = send(&sim, "+6281234567890");
    assert_eq!(first.status, 400);
    let e = graph_error(&first);
    assert_eq!(e.code, 131056);
    assert_eq!(e.retry_class(), RetryClass::RecipientLater);

    let second = send(&sim, "+6281234567890");
    assert_eq!(second.status, 200);
    assert!(sim.faults().is_empty());
    let records = sim.records();
    assert_eq!(records[0].error_code, Some(131056));
    assert_eq!(records[0].fault.as_deref(), Some("graph"));
    assert_eq!(records[1].status, RecordStatus::Accepted);
}

#[test]
fn faults_are_fifo_with_default_statuses() {
    let sim = Simulator::new(Config::default());
    for body in [
        r#"{"code":131000}"#,
        r#"{"code":190}"#,
        r#"{"kind":"http_500","http_status":502}"#,
        r#"{"kind":"timeout","delay_ms":99999}"#,
    ] {
        let resp = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(body));
        assert_eq!(resp.status, 200, "{body}");
    }
    let listed = sim
        .handle(&SimRequest::new("GET", "/_sim/faults"))
        .json_body()
        .unwrap();
    assert_eq!(listed["faults"].as_array().unwrap().len(), 4);
    assert_eq!(listed["faults"][0]["kind"], "graph");
    assert_eq!(listed["faults"][0]["remaining"], 1);
    assert_eq!(listed["faults"][2]["kind"], "http_500");
    assert_eq!(
        listed["faults"][3],
        json!({"kind": "timeout", "delay_ms": 30000, "remaining": 1})
    );

    assert_eq!(send(&sim, "6281234567890").status, 500);
    assert_eq!(send(&sim, "6281234567890").status, 401);
    let html = send(&sim, "6281234567890");
    assert_eq!(
        (html.status, html.content_type),
        (502, "text/html; charset=utf-8")
    );
    assert!(html.json_body().is_none());
    let slow = send(&sim, "6281234567890");
    assert_eq!(
        (slow.status, slow.delay),
        (200, Duration::from_millis(MAX_DELAY_MS))
    );

    let bad = sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"count":1}"#));
    assert_eq!((bad.status, graph_error(&bad).code), (400, 100));
    sim.handle(&SimRequest::new("POST", "/_sim/faults").body(r#"{"code":4}"#));
    let cleared = sim.handle(&SimRequest::new("DELETE", "/_sim/faults"));
    assert_eq!(cleared.status, 204);
    assert!(sim.faults().is_empty());
}

#[test]
fn unknown_route_is_404_code_2500() {
    let sim = Simulator::new(Config::default());
    for req in [
        SimRequest::new("GET", "/v21.0/123"),
        SimRequest::new("POST", "/_sim/nope"),
        SimRequest::new("GET", "/"),
    ] {
        let resp = sim.handle(&req);
        assert_eq!(resp.status, 404);
        let e = graph_error(&resp);
        assert_eq!(
            (e.code, e.message.as_str()),
            (2500, "Unknown path components")
        );
    }
    assert!(sim.records().is_empty());
}

#[test]
fn messages_filter_by_to_and_status() {
    let sim = Simulator::new(Config::default());
    send(&sim, "+6281111111111");
    send(&sim, "6282222222222");
    sim.handle(&SimRequest::new("POST", SEND).body("nope"));
    let list = |url: &str| {
        let v = sim
            .handle(&SimRequest::new("GET", url))
            .json_body()
            .unwrap();
        v["messages"].as_array().unwrap().clone()
    };
    assert_eq!(list("/_sim/messages").len(), 3);
    for query in [
        "to=+6281111111111",
        "to=%2B6281111111111",
        "to=6281111111111",
    ] {
        let found = list(&format!("/_sim/messages?{query}"));
        assert_eq!(found.len(), 1, "{query}");
        assert_eq!(found[0]["to"], "+6281111111111");
    }
    assert_eq!(list("/_sim/messages?to=+6282222222222")[0]["seq"], 2);
    assert_eq!(list("/_sim/messages?status=accepted").len(), 2);
    assert_eq!(list("/_sim/messages?status=failed")[0]["seq"], 3);
    assert_eq!(
        sim.handle(&SimRequest::new("GET", "/_sim/messages?status=odd"))
            .status,
        400
    );
    assert_eq!(
        sim.handle(&SimRequest::new("DELETE", "/_sim/messages"))
            .status,
        204
    );
    assert!(list("/_sim/messages").is_empty());
}

#[test]
fn token_is_required_when_configured() {
    let sim = Simulator::new(Config {
        token: Some("secret".into()),
        ..Config::default()
    });
    let body = confirmation("+6281234567890");
    let anonymous = sim.handle(&SimRequest::new("POST", SEND).json(&body));
    assert_eq!(anonymous.status, 401);
    let e = graph_error(&anonymous);
    assert_eq!((e.code, e.kind.as_str()), (190, "OAuthException"));
    let wrong = sim.handle(&SimRequest::new("POST", SEND).json(&body).bearer("nope"));
    assert_eq!(wrong.status, 401);
    let right = sim.handle(&SimRequest::new("POST", SEND).json(&body).bearer("secret"));
    assert_eq!(right.status, 200);
    assert_eq!(sim.records()[0].error_code, Some(190));
    // The control API needs no token.
    assert_eq!(
        sim.handle(&SimRequest::new("GET", "/_sim/health")).status,
        200
    );
}

#[test]
fn oversized_body_is_413() {
    let sim = Simulator::new(Config::default());
    let resp = sim.handle(&SimRequest::new("POST", SEND).body(vec![b' '; MAX_BODY + 1]));
    assert_eq!(resp.status, 413);
    assert_eq!(sim.records()[0].http_status, 413);
}

#[test]
fn log_line_hides_all_but_the_last_four_digits() {
    let sim = Simulator::new(Config::default());
    send(&sim, "+6281234567890");
    let line = log_line(&sim.records()[0]);
    assert!(line.contains("***7890"), "{line}");
    assert!(!line.contains("628123"), "{line}");
}

const TEMPLATES: &str = "/v25.0/102290129340398/message_templates";

fn template_body(language: &str, text: &str) -> Value {
    json!({"name": "optin_confirmation", "language": language, "category": "UTILITY",
           "components": [{"type": "BODY", "text": text, "example": {"body_text": [["Toko Acme"]]}},
                          {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}]})
}

fn list(sim: &Simulator) -> Vec<Value> {
    let resp = sim.handle(&SimRequest::new(
        "GET",
        &format!("{TEMPLATES}?name=optin_confirmation"),
    ));
    assert_eq!(resp.status, 200);
    resp.json_body().unwrap()["data"]
        .as_array()
        .unwrap()
        .clone()
}

#[test]
fn templates_are_created_reviewed_by_rule_and_read_back_within_the_contract() {
    let sim = Simulator::new(Config {
        template_approval_ms: 0,
        ..Config::default()
    });
    let rule = json!({"language": "id", "reason": "TAG_CONTENT_MISMATCH"});
    assert_eq!(
        sim.handle(&SimRequest::new("POST", "/_sim/templates/rules").json(&rule))
            .status,
        200
    );
    for lang in ["en", "id"] {
        let resp = sim.handle(
            &SimRequest::new("POST", TEMPLATES).json(&template_body(lang, "Hi from {{1}}")),
        );
        assert_eq!(resp.status, 200, "{:?}", resp.json_body());
        let answer = resp.json_body().unwrap();
        assert_eq!(answer["category"], "UTILITY");
        assert!(answer["id"]
            .as_str()
            .unwrap()
            .bytes()
            .all(|b| b.is_ascii_digit()));
    }
    // The same name and language again: Meta's "already exists".
    let again =
        sim.handle(&SimRequest::new("POST", TEMPLATES).json(&template_body("en", "Hi from {{1}}")));
    assert_eq!(
        graph_error(&again).error_subcode,
        Some(TEMPLATE_EXISTS_SUBCODE)
    );
    let data = list(&sim);
    let by = |l: &str| data.iter().find(|t| t["language"] == l).unwrap().clone();
    assert_eq!(by("en")["status"], "APPROVED");
    assert_eq!(by("id")["status"], "REJECTED");
    assert_eq!(by("id")["rejected_reason"], "TAG_CONTENT_MISMATCH");
    // Meta recategorises and pauses.
    let update = json!({"name": "optin_confirmation", "language": "en", "category": "MARKETING", "status": "PAUSED"});
    assert_eq!(
        sim.handle(&SimRequest::new("POST", "/_sim/templates/update").json(&update))
            .status,
        200
    );
    let en = list(&sim)
        .into_iter()
        .find(|t| t["language"] == "en")
        .unwrap();
    assert_eq!(
        (en["status"].as_str(), en["category"].as_str()),
        (Some("PAUSED"), Some("MARKETING"))
    );
    assert_eq!(en["previous_category"], "UTILITY");
    let log = sim
        .handle(&SimRequest::new("GET", "/_sim/contract"))
        .json_body()
        .unwrap();
    assert_eq!(log["violations"], json!([]), "{log}");
}

#[test]
fn a_template_stays_pending_until_its_review_delay_passes() {
    let sim = Simulator::new(Config {
        template_approval_ms: 60_000,
        ..Config::default()
    });
    let resp =
        sim.handle(&SimRequest::new("POST", TEMPLATES).json(&template_body("en", "Hi {{1}}")));
    assert_eq!(resp.json_body().unwrap()["status"], "PENDING");
    assert_eq!(list(&sim)[0]["status"], "PENDING");
}

#[test]
fn a_template_body_meta_would_refuse_is_refused() {
    let sim = Simulator::new(Config::default());
    let mut wrong_type = template_body("en", "Hi {{1}}");
    wrong_type["name"] = json!(5);
    let resp = sim.handle(&SimRequest::new("POST", TEMPLATES).json(&wrong_type));
    assert_eq!(
        graph_error(&resp).error_subcode,
        Some(SCHEMA_VIOLATION_SUBCODE)
    );
    let no_example = json!({"name": "x", "language": "en", "category": "UTILITY",
                            "components": [{"type": "BODY", "text": "Hi {{1}}"}]});
    let resp = sim.handle(&SimRequest::new("POST", TEMPLATES).json(&no_example));
    assert_eq!(resp.status, 400);
    assert_eq!(graph_error(&resp).code, 100);
}

#[test]
fn a_qr_code_and_short_link_are_created_and_listed_within_the_contract() {
    let sim = Simulator::new(Config::default());
    let path = "/v25.0/100000000000001/message_qrdls";
    let body = json!({"prefilled_message": "JOIN Toko Acme", "generate_qr_image": "SVG"});
    let resp = sim.handle(&SimRequest::new("POST", path).json(&body));
    assert_eq!(resp.status, 200, "{:?}", resp.json_body());
    let qr = resp.json_body().unwrap();
    let code = qr["code"].as_str().unwrap();
    assert_eq!(code.len(), 14);
    assert_eq!(qr["deep_link_url"], format!("https://wa.me/message/{code}"));
    let list = sim
        .handle(&SimRequest::new("GET", path))
        .json_body()
        .unwrap();
    assert_eq!(list["data"][0]["prefilled_message"], "JOIN Toko Acme");
    let too_long = json!({"prefilled_message": "x".repeat(141)});
    let resp = sim.handle(&SimRequest::new("POST", path).json(&too_long));
    assert_eq!(
        graph_error(&resp).error_subcode,
        Some(SCHEMA_VIOLATION_SUBCODE)
    );
    let log = sim
        .handle(&SimRequest::new("GET", "/_sim/contract"))
        .json_body()
        .unwrap();
    let answers: Vec<&Value> = log["violations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["direction"] != "request")
        .collect();
    assert!(answers.is_empty(), "{log}");
}
