//! The real server over real HTTP, with a hand-written HTTP/1.1 client.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::time::{Duration, Instant};

use cloud_api_simulator::{serve, Config};
use serde_json::{json, Value};
use whatsapp_cloud_api::{ErrorEnvelope, MessageRequest, RetryClass, SendResponse};

/// Sends one request (`Connection: close`) and returns status and body.
fn http(addr: SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let body = body.unwrap_or("");
    let request = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").expect("a full HTTP response");
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, body.to_string())
}

fn json_of(body: &str) -> Value {
    serde_json::from_str(body).unwrap()
}

#[test]
fn send_list_and_fault_over_http() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = serve(listener, Config::default()).unwrap();
    let addr = server.addr();
    assert_ne!(addr.port(), 0);

    let (status, body) = http(addr, "GET", "/_sim/health", None);
    assert_eq!((status, json_of(&body)), (200, json!({"ok": true})));

    let template = MessageRequest::confirmation(
        "+6281234567890",
        "optin_confirmation",
        "id",
        "Toko Acme",
        "OPTOUT:abc",
        "consent-1",
    );
    let template = serde_json::to_string(&template).unwrap();
    let path = whatsapp_cloud_api::messages_path("v21.0", "1234567890");
    let (status, body) = http(addr, "POST", &path, Some(&template));
    assert_eq!(status, 200, "{body}");
    let sent: SendResponse = serde_json::from_str(&body).unwrap();
    let wamid = sent.message_id().unwrap().to_string();
    assert_eq!(sent.contacts[0].wa_id, "6281234567890");

    let (status, body) = http(addr, "GET", "/_sim/messages?to=%2B6281234567890", None);
    assert_eq!(status, 200);
    let listed = json_of(&body);
    assert_eq!(listed["messages"][0]["wamid"], wamid.as_str());
    assert_eq!(
        listed["messages"][0]["template"]["body_texts"],
        json!(["Toko Acme"])
    );

    let fault = r#"{"code":131056,"count":1}"#;
    let (status, body) = http(addr, "POST", "/_sim/faults", Some(fault));
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["faults"][0]["code"], 131056);

    let (status, body) = http(addr, "POST", &path, Some(&template));
    assert_eq!(status, 400);
    let error: ErrorEnvelope = serde_json::from_str(&body).unwrap();
    assert_eq!(error.error.code, 131056);
    assert_eq!(error.error.retry_class(), RetryClass::RecipientLater);

    let (_, body) = http(addr, "GET", "/_sim/messages?status=failed", None);
    let failed = json_of(&body);
    assert_eq!(failed["messages"].as_array().unwrap().len(), 1);
    assert_eq!(failed["messages"][0]["error_code"], 131056);
    assert_eq!(failed["messages"][0]["seq"], 2);

    assert_eq!(http(addr, "POST", &path, Some(&template)).0, 200);
    assert_eq!(http(addr, "DELETE", "/_sim/messages", None).0, 204);
    assert_eq!(server.simulator().records().len(), 0);
    assert_eq!(http(addr, "GET", "/nope", None).0, 404);
}

#[test]
fn a_slow_call_does_not_block_others() {
    let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), Config::default()).unwrap();
    let addr = server.addr();
    let fault = r#"{"kind":"timeout","delay_ms":1500}"#;
    assert_eq!(http(addr, "POST", "/_sim/faults", Some(fault)).0, 200);

    let body = serde_json::to_string(&MessageRequest::confirmation(
        "6281234567890",
        "t",
        "en",
        "Shop",
        "OPTOUT:x",
        "c",
    ))
    .unwrap();
    let started = Instant::now();
    let slow = std::thread::spawn(move || http(addr, "POST", "/v21.0/1/messages", Some(&body)));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(http(addr, "GET", "/_sim/health", None).0, 200);
    assert!(started.elapsed() < Duration::from_millis(1000));
    let (status, _) = slow.join().unwrap();
    assert_eq!(status, 200);
    assert!(started.elapsed() >= Duration::from_millis(1500));
}

#[test]
fn refuses_non_loopback_listeners() {
    let listener = TcpListener::bind("0.0.0.0:0").unwrap();
    let err = serve(listener, Config::default()).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
}

/// A one-thread webhook receiver: answers 200 to each POST and hands back the bodies
/// whose signature checks out (others are answered 401 and dropped).
fn receiver(secret: &'static str, expect: usize) -> (SocketAddr, std::sync::mpsc::Receiver<Value>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for stream in listener.incoming().take(expect) {
            let mut stream = stream.unwrap();
            let mut raw = Vec::new();
            let mut buf = [0u8; 4096];
            let (head, body) = loop {
                let n = stream.read(&mut buf).unwrap();
                raw.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&raw).into_owned();
                if let Some((head, body)) = text.split_once("\r\n\r\n") {
                    let len: usize = head
                        .lines()
                        .find_map(|l| l.strip_prefix("Content-Length: "))
                        .unwrap()
                        .parse()
                        .unwrap();
                    if body.len() >= len {
                        break (head.to_string(), body.to_string());
                    }
                }
            };
            let signature = head
                .lines()
                .find_map(|l| l.strip_prefix("X-Hub-Signature-256: "))
                .unwrap_or("");
            let ok =
                whatsapp_cloud_api::verify_signature(secret.as_bytes(), body.as_bytes(), signature);
            let status = if ok { "200 OK" } else { "401 Unauthorized" };
            let _ = stream
                .write_all(format!("HTTP/1.1 {status}\r\nContent-Length: 0\r\n\r\n").as_bytes());
            if ok {
                tx.send(serde_json::from_str(&body).unwrap()).unwrap();
            }
        }
    });
    (addr, rx)
}

#[test]
fn accepted_sends_get_signed_status_webhooks_and_people_can_reply() {
    let (hook, received) = receiver("app-secret", 4);
    let config = Config {
        webhook: Some(
            cloud_api_simulator::WebhookTarget::parse(
                &format!("http://{hook}/webhooks"),
                "app-secret",
            )
            .unwrap(),
        ),
        status_gap_ms: 1,
        ..Config::default()
    };
    let server = serve(TcpListener::bind("127.0.0.1:0").unwrap(), config).unwrap();
    let addr = server.addr();
    let plan = r#"{"statuses":["read","sent","read"]}"#;
    assert_eq!(http(addr, "POST", "/_sim/statuses", Some(plan)).0, 200);
    let send = MessageRequest::confirmation("+6281234567890", "t", "en", "Acme", "OPTOUT:c1", "c1");
    let body = serde_json::to_string(&send).unwrap();
    let (status, _) = http(addr, "POST", "/v21.0/555/messages", Some(&body));
    assert_eq!(status, 200);

    let timeout = Duration::from_secs(10);
    let statuses: Vec<Value> = (0..3)
        .map(|_| received.recv_timeout(timeout).unwrap())
        .collect();
    let value = |n: &Value| n["entry"][0]["changes"][0]["value"].clone();
    let order: Vec<&str> = statuses
        .iter()
        .map(|n| {
            n["entry"][0]["changes"][0]["value"]["statuses"][0]["status"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        order,
        ["read", "sent", "read"],
        "the plan's order, duplicates included"
    );
    let first = value(&statuses[0]);
    assert_eq!(first["metadata"]["phone_number_id"], "555");
    assert_eq!(first["statuses"][0]["biz_opaque_callback_data"], "c1");
    assert_eq!(first["statuses"][0]["recipient_id"], "6281234567890");

    let (status, body) = http(
        addr,
        "POST",
        "/_sim/inbound",
        Some(r#"{"from":"+6281234567890","text":"STOP"}"#),
    );
    assert_eq!(status, 200, "{body}");
    assert_eq!(json_of(&body)["delivery"]["http_status"], 200);
    let inbound = value(&received.recv_timeout(timeout).unwrap());
    assert_eq!(
        inbound["metadata"]["phone_number_id"], "555",
        "replies to the number that wrote"
    );
    assert_eq!(inbound["messages"][0]["text"]["body"], "STOP");
    assert_eq!(inbound["messages"][0]["from"], "6281234567890");

    let (status, _) = http(
        addr,
        "POST",
        "/_sim/inbound",
        Some(r#"{"from":"+6289999999999","text":"hi"}"#),
    );
    assert_eq!(
        status, 400,
        "no conversation with that number and no phone_number_id"
    );
    let (status, _) = http(
        addr,
        "POST",
        "/_sim/inbound",
        Some(r#"{"from":"+6281234567890"}"#),
    );
    assert_eq!(status, 400, "neither text nor button_payload");
    let (_, hooks) = http(addr, "GET", "/_sim/webhooks", None);
    assert_eq!(json_of(&hooks)["webhooks"].as_array().unwrap().len(), 4);
}
