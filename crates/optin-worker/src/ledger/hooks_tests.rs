//! Webhooks out, natively on rusqlite: queued in the recording write, one row
//! per wanting endpoint, in order per person, backoff, disabling, replay and
//! the Standard Webhooks signature.

use consent_core::Category;
use rusqlite::Connection;
use serde_json::Value as Json;

use super::{
    audit, changes,
    hooks::{self, Attempt, Settings},
    tests::{change, consent, count, keys, ledger, record, site, tx, OTHER, PHONE, T0},
};
use crate::protocol::{signature_header, HookEndpoint, HookEventType, HookSecret};

const SETTINGS: Settings = Settings {
    unit: 1_000,
    cap: 60_000,
    timeout: 1_000,
    disable_after: 3 * 86_400_000,
};

fn endpoint(id: &str, events: &[HookEventType]) -> HookEndpoint {
    HookEndpoint {
        id: id.into(),
        site: "demo".into(),
        url: format!("https://crm.example.com/{id}"),
        events: events.to_vec(),
        secrets: vec![HookSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_at: None,
        }],
        paused: false,
        created_at: T0,
        resumed_at: None,
    }
}

fn payloads(db: &Connection, endpoint: &str) -> Vec<Json> {
    let mut stmt = db
        .prepare("SELECT payload FROM hook_deliveries WHERE endpoint_id = ? ORDER BY seq")
        .unwrap();
    stmt.query_map([endpoint], |r| r.get::<_, String>(0))
        .unwrap()
        .map(|p| serde_json::from_str(&p.unwrap()).unwrap())
        .collect()
}

fn due_ids(db: &Connection, now: i64) -> Vec<String> {
    hooks::due(db, now, 100)
        .unwrap()
        .into_iter()
        .map(|r| r.webhook_id)
        .collect()
}

fn deliver(db: &Connection, now: i64, attempt: &Attempt) -> Vec<String> {
    let mut done = Vec::new();
    for row in hooks::due(db, now, 100).unwrap() {
        assert!(hooks::claim(db, row.seq, now).unwrap());
        hooks::record_attempt(db, &row, attempt, &SETTINGS, 0.5, now).unwrap();
        done.push(row.webhook_id);
    }
    done
}

const OK: Attempt = Attempt::Delivered {
    status: 204,
    latency_ms: 3,
};

fn failed() -> Attempt {
    Attempt::Failed {
        status: Some(500),
        error: "HTTP 500".into(),
        latency_ms: 3,
    }
}

#[test]
fn the_signature_is_the_standard_webhooks_one() {
    // The Standard Webhooks reference test vector.
    let header = signature_header(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"].into_iter(),
        "msg_p5jXN8AQM9LWM0D4loKWxJek",
        1614265330,
        r#"{"test": 2432232314}"#,
    );
    assert_eq!(header, "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=");
    // During a rotation's overlap both secrets sign, space separated.
    let two = signature_header(
        ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "whsec_AAAA"].into_iter(),
        "id",
        1,
        "{}",
    );
    assert_eq!(two.split(' ').count(), 2);
    assert!(two.split(' ').all(|s| s.starts_with("v1,")));
    // A malformed secret signs nothing rather than something wrong.
    assert_eq!(signature_header(["nope"].into_iter(), "id", 1, "{}"), "");
}

#[test]
fn base64_round_trips() {
    for bytes in [&b""[..], b"f", b"fo", b"foo", b"foob", b"fooba", b"foobar"] {
        let text = crate::protocol::b64_encode(bytes);
        assert_eq!(crate::protocol::b64_decode(&text).unwrap(), bytes);
    }
    assert_eq!(crate::protocol::b64_encode(b"foobar"), "Zm9vYmFy");
    assert_eq!(crate::protocol::b64_encode(b"fo"), "Zm8=");
    assert_eq!(crate::protocol::b64_decode("Zm9v!"), None);
}

#[test]
fn backoff_doubles_with_jitter_up_to_the_cap_and_retries_for_days() {
    let (unit, cap) = (5_000, 3_600_000);
    assert_eq!(hooks::backoff_ms(1, unit, cap, 0.0), 2_500);
    assert_eq!(hooks::backoff_ms(1, unit, cap, 1.0), 5_000);
    assert_eq!(hooks::backoff_ms(2, unit, cap, 1.0), 10_000);
    assert_eq!(hooks::backoff_ms(5, unit, cap, 1.0), 80_000);
    for attempts in 1..200 {
        for j in [0.0, 0.3, 0.999] {
            let d = hooks::backoff_ms(attempts, unit, cap, j);
            assert!((1..=cap).contains(&d), "{attempts} {j} {d}");
        }
    }
    assert_eq!(hooks::backoff_ms(40, unit, cap, 1.0), cap);
    // Three days of retries is about 75 tries at the cap: never given up early.
    let (mut t, mut n) = (0i64, 0);
    while t < 3 * 86_400_000 {
        n += 1;
        t += hooks::backoff_ms(n, unit, cap, 0.5);
    }
    assert!((70..120).contains(&n), "{n} tries in three days");
}

#[test]
fn nothing_is_queued_without_an_endpoint() {
    let (db, keys) = (ledger(), keys());
    record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"]));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM hook_deliveries"), 0);
    assert!(!hooks::take_queued());
}

#[test]
fn each_event_is_queued_in_its_own_write_with_the_chain_hash_and_a_sequence_per_person() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let all = endpoint("whe_all", &[]);
    let grants = endpoint("whe_grants", &[HookEventType::Granted]);
    hooks::sync(&db, "demo", &[all, grants], T0).unwrap();

    let id = record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["order_updates", "delivery"]),
    )
    .id;
    assert!(hooks::take_queued());
    record(
        &tx(&db, &keys, T0 + 1),
        &consent(&site, OTHER, &["delivery"]),
    );
    changes::change(&tx(&db, &keys, T0 + 2), &change(&id, &[Category::DELIVERY])).unwrap();
    changes::change(&tx(&db, &keys, T0 + 3), &change(&id, &[])).unwrap();

    let got = payloads(&db, "whe_all");
    let kinds: Vec<&str> = got.iter().map(|p| p["type"].as_str().unwrap()).collect();
    assert_eq!(
        kinds,
        [
            "consent.granted",
            "consent.granted",
            "consent.updated",
            "consent.withdrawn"
        ]
    );
    let seqs: Vec<i64> = got
        .iter()
        .map(|p| p["data"]["subscriber_seq"].as_i64().unwrap())
        .collect();
    assert_eq!(seqs, [1, 1, 2, 3], "per person, not per ledger");
    let first = &got[0]["data"];
    assert_eq!(first["site"], "demo");
    assert_eq!(first["phone"], PHONE);
    assert_eq!(first["consent_id"], id.as_str());
    assert_eq!(first["event_id"], id.as_str());
    assert_eq!(
        first["categories"],
        serde_json::json!(["order_updates", "delivery"])
    );
    let hash: String = db
        .query_row("SELECT hash FROM events WHERE id = ?", [&id], |r| r.get(0))
        .unwrap();
    assert_eq!(
        first["chain_hash"],
        hash.as_str(),
        "cross-checks with the export"
    );
    assert_eq!(got[0]["timestamp"], hooks::iso_ms(T0).as_str());
    assert_eq!(
        got[2]["data"]["withdrawn"],
        serde_json::json!(["order_updates"])
    );
    assert_eq!(got[3]["data"]["how"], "preference_centre");
    assert_eq!(got[3]["data"]["consent_id"], id.as_str());

    // The filter: only grants for the second endpoint.
    assert_eq!(payloads(&db, "whe_grants").len(), 2);
}

#[test]
fn a_person_s_events_go_in_order_and_a_failure_holds_back_only_their_later_ones() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    hooks::sync(&db, "demo", &[endpoint("whe_a", &[])], T0).unwrap();
    let id = record(&tx(&db, &keys, T0), &consent(&site, PHONE, &["delivery"])).id;
    changes::change(&tx(&db, &keys, T0 + 1), &change(&id, &[])).unwrap();
    let other = record(
        &tx(&db, &keys, T0 + 2),
        &consent(&site, OTHER, &["delivery"]),
    )
    .id;

    // Only each person's first event is due: the withdrawal waits for the grant.
    assert_eq!(due_ids(&db, T0 + 10), [id.clone(), other.clone()]);

    // The endpoint fails: every row waits for the backoff, nothing is lost.
    let t = T0 + 10;
    let row = hooks::due(&db, t, 1).unwrap().pop().unwrap();
    assert!(hooks::claim(&db, row.seq, t).unwrap());
    assert!(!hooks::claim(&db, row.seq, t).unwrap(), "claimed once");
    hooks::record_attempt(&db, &row, &failed(), &SETTINGS, 0.5, t).unwrap();
    assert!(
        due_ids(&db, t).is_empty(),
        "the endpoint backs off as a whole"
    );
    let retry = t + hooks::backoff_ms(1, SETTINGS.unit, SETTINGS.cap, 0.5);
    assert_eq!(due_ids(&db, retry), [id.clone(), other.clone()]);
    let next = hooks::next_due(&db, SETTINGS.grace()).unwrap();
    assert_eq!(next, Some(retry));

    // Up again: the grant goes, then the withdrawal, same webhook-id as queued.
    assert_eq!(deliver(&db, retry, &OK), [id.clone(), other]);
    let withdrawal: String = db
        .query_row(
            "SELECT webhook_id FROM hook_deliveries WHERE type = 'consent.withdrawn'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(deliver(&db, retry, &OK), [withdrawal]);
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM hook_deliveries WHERE status = 'delivered'"
        ),
        3
    );
    assert_eq!(hooks::next_due(&db, SETTINGS.grace()).unwrap(), None);
    let attempts = count(
        &db,
        &format!("SELECT attempts FROM hook_deliveries WHERE webhook_id = '{id}'"),
    );
    assert_eq!(attempts, 2);
}

#[test]
fn a_row_left_in_flight_is_sent_again_with_the_same_id_after_the_grace() {
    let (db, keys) = (ledger(), keys());
    hooks::sync(&db, "demo", &[endpoint("whe_a", &[])], T0).unwrap();
    let id = record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"])).id;
    let row = hooks::due(&db, T0, 1).unwrap().pop().unwrap();
    assert!(hooks::claim(&db, row.seq, T0).unwrap());
    // The isolate dies here. Before the grace nothing moves; after it, the same row.
    hooks::release_stuck(&db, T0 + SETTINGS.grace() - 1, SETTINGS.grace()).unwrap();
    assert!(due_ids(&db, T0 + SETTINGS.grace()).is_empty());
    let later = T0 + SETTINGS.grace();
    hooks::release_stuck(&db, later, SETTINGS.grace()).unwrap();
    assert_eq!(due_ids(&db, later), [id]);
}

#[test]
fn an_endpoint_failing_for_three_days_is_disabled_and_a_resume_takes_it_up_again() {
    let (db, keys) = (ledger(), keys());
    let mut e = endpoint("whe_a", &[]);
    hooks::sync(&db, "demo", std::slice::from_ref(&e), T0).unwrap();
    let id = record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"])).id;
    let mut t = T0;
    let mut disabled_at = None;
    while disabled_at.is_none() {
        let Some(row) = hooks::due(&db, t, 1).unwrap().pop() else {
            t = hooks::next_due(&db, SETTINGS.grace()).unwrap().unwrap();
            continue;
        };
        hooks::claim(&db, row.seq, t).unwrap();
        if hooks::record_attempt(&db, &row, &failed(), &SETTINGS, 0.5, t).unwrap() {
            disabled_at = Some(t);
        }
    }
    assert!(disabled_at.unwrap() - T0 >= SETTINGS.disable_after);
    assert!(due_ids(&db, i64::MAX).is_empty(), "disabled: nothing goes");
    assert_eq!(hooks::next_due(&db, SETTINGS.grace()).unwrap(), None);
    let state = &hooks::states(&db).unwrap()[0];
    assert!(state.disabled_at.is_some());
    assert_eq!(state.pending, 1, "kept, not dropped");

    e.resumed_at = Some(t + 1);
    hooks::sync(&db, "demo", &[e], t + 1).unwrap();
    assert_eq!(due_ids(&db, t + 1), [id]);
    assert!(hooks::states(&db).unwrap()[0].disabled_at.is_none());
}

#[test]
fn a_paused_endpoint_keeps_its_rows_and_a_deleted_one_cancels_them() {
    let (db, keys) = (ledger(), keys());
    let mut e = endpoint("whe_a", &[]);
    e.paused = true;
    hooks::sync(&db, "demo", std::slice::from_ref(&e), T0).unwrap();
    record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"]));
    assert!(due_ids(&db, T0).is_empty());
    assert_eq!(hooks::states(&db).unwrap()[0].pending, 1);
    hooks::sync(&db, "demo", &[], T0 + 1).unwrap();
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM hook_deliveries WHERE status = 'cancelled'"
        ),
        1
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM hook_endpoints"), 0);
}

#[test]
fn replay_sends_a_range_again_with_the_same_ids_in_order() {
    let (db, keys) = (ledger(), keys());
    hooks::sync(&db, "demo", &[endpoint("whe_a", &[])], T0).unwrap();
    let id = record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"])).id;
    changes::change(&tx(&db, &keys, T0 + 5), &change(&id, &[])).unwrap();
    deliver(&db, T0 + 10, &OK);
    deliver(&db, T0 + 10, &OK);
    let replayed = hooks::replay(&db, "whe_a", T0, T0 + 5, T0 + 20).unwrap();
    assert_eq!(replayed.replayed, 2);
    let first = deliver(&db, T0 + 20, &OK);
    assert_eq!(
        first,
        [id],
        "the grant before the withdrawal, as first sent"
    );
    let log = hooks::log(&db, "whe_a", 10).unwrap().deliveries;
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].attempts, 2);
}

#[test]
fn an_erasure_is_announced_with_the_number_and_delivered_payloads_lose_it() {
    let (db, keys) = (ledger(), keys());
    hooks::sync(&db, "demo", &[endpoint("whe_a", &[])], T0).unwrap();
    record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"]));
    deliver(&db, T0 + 1, &OK);
    audit::erase(&tx(&db, &keys, T0 + 2), PHONE)
        .unwrap()
        .unwrap();
    let got = payloads(&db, "whe_a");
    assert_eq!(
        got[0]["data"]["phone"],
        Json::Null,
        "delivered before: scrubbed"
    );
    assert_eq!(got[1]["type"], "subscriber.erased");
    assert_eq!(
        got[1]["data"]["phone"], PHONE,
        "whom the merchant must erase"
    );
    assert_eq!(got[1]["data"]["subscriber_seq"], 2);
}

#[test]
fn iso_timestamps_have_milliseconds_and_utc() {
    assert_eq!(hooks::iso_ms(0), "1970-01-01T00:00:00.000Z");
    assert_eq!(hooks::iso_ms(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
}
