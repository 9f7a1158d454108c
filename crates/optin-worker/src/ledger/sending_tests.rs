//! Consent-gated sending on rusqlite with an injected clock: each refusal
//! reason, the weekly digest's clock, idempotent replays, the sender's second
//! look before a queued message leaves, and erasure of the decisions.

use consent_core::Category;
use rusqlite::Connection;
use whatsapp_cloud_api::{Language, MessageBody, MessageRequest, Template, TextBody};

use super::{
    audit, changes, sending,
    tests::{
        change, consent, count, double_opt_in_site, keys, ledger, record, site, text, tx, verified,
        PHONE, T0,
    },
    tx::Keys,
};
use crate::protocol::{
    CategoryRules, Channel, CheckPermissions, Decision, Frequency, LedgerError, Refusal,
    SendMessage, SendReply,
};

const DAY: i64 = 86_400_000;

fn template(name: &str) -> MessageBody {
    MessageBody::Template {
        template: Template {
            name: name.into(),
            language: Language {
                policy: "deterministic".into(),
                code: "en".into(),
            },
            components: Vec::new(),
        },
    }
}

/// The demo's rules for a built-in: payment alerts and account updates are critical.
fn rules_of(c: &Category) -> CategoryRules {
    CategoryRules::of(&site(), c)
}

fn ask(category: Category, key: &str, body: MessageBody) -> SendMessage {
    SendMessage {
        phone: PHONE.into(),
        rules: rules_of(&category),
        category,
        message: MessageRequest {
            messaging_product: "whatsapp".into(),
            recipient_type: "individual".into(),
            to: PHONE.into(),
            biz_opaque_callback_data: None,
            context: None,
            body,
        },
        language_from_person: false,
        whatsapp: site().whatsapp,
        idempotency_key: key.into(),
        body_digest: format!("digest-{key}"),
        key_id: "0123456789abcdef".into(),
    }
}

fn send(db: &Connection, keys: &Keys, now: i64, category: Category, key: &str) -> SendReply {
    sending::send(
        &tx(db, keys, now),
        &ask(category, key, template("order_shipped")),
    )
    .unwrap()
}

fn refusal(reply: &SendReply) -> &Refusal {
    match &reply.decision {
        Decision::Refused(r) => r,
        Decision::Queued => panic!("queued, expected a refusal: {reply:?}"),
    }
}

/// A person who ticked order updates, delivery and payment alerts at T0.
fn subscribed(db: &Connection, keys: &Keys) -> String {
    record(
        &tx(db, keys, T0),
        &consent(
            &site(),
            PHONE,
            &["order_updates", "delivery", "payment_alerts"],
        ),
    )
    .id
}

fn set_frequency(db: &Connection, keys: &Keys, consent_id: &str, f: Frequency, now: i64) {
    let mut c = change(
        consent_id,
        &[
            Category::ORDER_UPDATES,
            Category::DELIVERY,
            Category::PAYMENT_ALERTS,
        ],
    );
    c.frequency = Some(f);
    changes::change(&tx(db, keys, now), &c).unwrap().unwrap();
}

#[test]
fn a_category_never_granted_is_refused_and_the_refusal_kept() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    let reply = send(&db, &keys, T0 + 1, Category::ACCOUNT_UPDATES, "k1");
    assert_eq!(
        refusal(&reply),
        &Refusal::NotSubscribed {
            status: "never".into()
        }
    );
    let kept = sending::view(&db, &reply.id).unwrap().unwrap();
    assert_eq!(
        (
            kept.decision.as_str(),
            kept.reason.as_str(),
            kept.status.as_str()
        ),
        ("refused", "not-subscribed", "refused")
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE category IS NOT NULL"
        ),
        0,
        "nothing queued"
    );
}

#[test]
fn a_granted_category_is_queued_once_however_often_the_request_is_retried() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    let first = send(&db, &keys, T0 + 1, Category::DELIVERY, "k1");
    assert_eq!(first.decision, Decision::Queued);
    let again = send(&db, &keys, T0 + 2, Category::DELIVERY, "k1");
    assert_eq!(
        (again.id.as_str(), again.replayed),
        (first.id.as_str(), true)
    );
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) FROM outbox WHERE category = 'delivery'"
        ),
        1
    );
    let request: String = db
        .query_row(
            "SELECT request FROM outbox WHERE id = ?",
            [&first.id],
            |r| r.get(0),
        )
        .unwrap();
    let request: serde_json::Value = serde_json::from_str(&request).unwrap();
    assert_eq!(request["biz_opaque_callback_data"], first.id.as_str());
    assert_eq!(request["template"]["name"], "order_shipped");

    let mut other = ask(Category::DELIVERY, "k1", template("order_shipped"));
    other.body_digest = "another body".into();
    assert_eq!(
        sending::send(&tx(&db, &keys, T0 + 3), &other),
        Err(LedgerError::IdempotencyKeyReused)
    );
}

#[test]
fn a_withdrawn_or_unconfirmed_category_is_refused_with_its_status() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    changes::change(
        &tx(&db, &keys, T0 + 1),
        &change(&id, &[Category::ORDER_UPDATES]),
    )
    .unwrap()
    .unwrap();
    let reply = send(&db, &keys, T0 + 2, Category::DELIVERY, "k1");
    assert_eq!(
        refusal(&reply),
        &Refusal::NotSubscribed {
            status: "withdrawn".into()
        }
    );

    let (db, keys) = (ledger(), keys);
    record(
        &tx(&db, &keys, T0),
        &consent(&double_opt_in_site(), PHONE, &["delivery"]),
    );
    let reply = send(&db, &keys, T0 + 1, Category::DELIVERY, "k2");
    assert_eq!(
        refusal(&reply),
        &Refusal::NotSubscribed {
            status: "pending".into()
        }
    );
}

#[test]
fn a_pause_refuses_every_category_until_its_day_begins() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    let until = crate::protocol::day_string(T0 / DAY + 3);
    let mut pause = change(
        &id,
        &[
            Category::ORDER_UPDATES,
            Category::DELIVERY,
            Category::PAYMENT_ALERTS,
        ],
    );
    pause.paused_until = Some(Some(until.clone()));
    changes::change(&tx(&db, &keys, T0 + 1), &pause).unwrap();
    for (i, c) in [Category::DELIVERY, Category::PAYMENT_ALERTS]
        .into_iter()
        .enumerate()
    {
        let reply = send(&db, &keys, T0 + 2, c, &format!("p{i}"));
        assert_eq!(
            refusal(&reply),
            &Refusal::Paused {
                paused_until: until.clone()
            }
        );
    }
    let day_it_ends = (T0 / DAY + 3) * DAY;
    assert_eq!(
        send(&db, &keys, day_it_ends, Category::DELIVERY, "after").decision,
        Decision::Queued
    );
}

#[test]
fn the_weekly_digest_lets_one_message_per_category_through_per_seven_days() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    set_frequency(&db, &keys, &id, Frequency::WeeklyDigest, T0 + 1);
    let t1 = T0 + 2;
    assert_eq!(
        send(&db, &keys, t1, Category::DELIVERY, "a").decision,
        Decision::Queued
    );
    let held = send(&db, &keys, t1 + DAY, Category::DELIVERY, "b");
    assert_eq!(
        refusal(&held),
        &Refusal::Frequency {
            frequency: "weekly_digest".into(),
            next_allowed_at: Some(t1 + 7 * DAY)
        }
    );
    // Another category has its own week; a critical one is never held back.
    assert_eq!(
        send(&db, &keys, t1 + DAY, Category::ORDER_UPDATES, "c").decision,
        Decision::Queued
    );
    for i in 0..3 {
        let reply = send(
            &db,
            &keys,
            t1 + DAY + i,
            Category::PAYMENT_ALERTS,
            &format!("pay{i}"),
        );
        assert_eq!(reply.decision, Decision::Queued);
    }
    assert_eq!(
        send(&db, &keys, t1 + 7 * DAY, Category::DELIVERY, "d").decision,
        Decision::Queued
    );
}

#[test]
fn only_critical_refuses_the_others_and_lets_critical_categories_through() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    set_frequency(&db, &keys, &id, Frequency::CriticalOnly, T0 + 1);
    let reply = send(&db, &keys, T0 + 2, Category::DELIVERY, "a");
    assert_eq!(
        refusal(&reply),
        &Refusal::Frequency {
            frequency: "critical_only".into(),
            next_allowed_at: None
        }
    );
    assert_eq!(
        send(&db, &keys, T0 + 3, Category::PAYMENT_ALERTS, "b").decision,
        Decision::Queued
    );
}

#[test]
fn free_text_goes_only_within_a_day_of_the_persons_own_message() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    let text = || MessageBody::Text {
        text: TextBody {
            body: "Your parcel is at the door".into(),
            preview_url: false,
        },
    };
    let outside = sending::send(
        &tx(&db, &keys, T0 + 1),
        &ask(Category::DELIVERY, "t1", text()),
    )
    .unwrap();
    assert_eq!(
        refusal(&outside),
        &Refusal::OutsideWindow {
            last_inbound_at: None
        }
    );
    db.execute(
        "INSERT INTO inbound_messages (id, phone, kind, action, received_at) VALUES ('wamid.in', ?1, 'text', NULL, ?2)",
        rusqlite::params![PHONE.trim_start_matches('+'), T0 + 10],
    )
    .unwrap();
    let inside = sending::send(
        &tx(&db, &keys, T0 + 20),
        &ask(Category::DELIVERY, "t2", text()),
    )
    .unwrap();
    assert_eq!(inside.decision, Decision::Queued);
    let late = sending::send(
        &tx(&db, &keys, T0 + 10 + sending::WINDOW_MS),
        &ask(Category::DELIVERY, "t3", text()),
    )
    .unwrap();
    assert_eq!(refusal(&late).slug(), "outside-window");
}

#[test]
fn the_permission_check_answers_by_the_same_rule_as_sending() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    set_frequency(&db, &keys, &id, Frequency::WeeklyDigest, T0 + 1);
    send(&db, &keys, T0 + 2, Category::DELIVERY, "a");
    let check = CheckPermissions {
        phone: PHONE.into(),
        categories: [
            Category::DELIVERY,
            Category::ORDER_UPDATES,
            Category::ACCOUNT_UPDATES,
        ]
        .map(|c| {
            let rules = rules_of(&c);
            (c, rules)
        })
        .to_vec(),
    };
    let answer = sending::check(&tx(&db, &keys, T0 + 3), &check).unwrap();
    let got: Vec<(bool, &str, &str, Option<i64>)> = answer
        .categories
        .iter()
        .map(|(_, p)| {
            (
                p.may_send,
                p.reason.as_str(),
                p.status.as_str(),
                p.next_allowed_at,
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (false, "frequency", "granted", Some(T0 + 2 + 7 * DAY)),
            (true, "subscribed", "granted", None),
            (false, "not-subscribed", "never", None),
        ]
    );
    // The check decides nothing and keeps nothing.
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages"), 1);
}

#[test]
fn a_queued_message_whose_category_is_withdrawn_or_paused_does_not_leave() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    let queued = send(&db, &keys, T0 + 1, Category::DELIVERY, "a");
    let t = tx(&db, &keys, T0 + 2);
    assert!(sending::may_still_send(&t, &queued.id, PHONE, &Category::DELIVERY, false).unwrap());
    changes::change(
        &t,
        &change(&id, &[Category::ORDER_UPDATES, Category::PAYMENT_ALERTS]),
    )
    .unwrap();
    assert!(!sending::may_still_send(
        &tx(&db, &keys, T0 + 3),
        &queued.id,
        PHONE,
        &Category::DELIVERY,
        false
    )
    .unwrap());
    assert!(sending::may_still_send(
        &tx(&db, &keys, T0 + 3),
        &queued.id,
        PHONE,
        &Category::ORDER_UPDATES,
        false
    )
    .unwrap());
    let mut pause = change(&id, &[Category::ORDER_UPDATES, Category::PAYMENT_ALERTS]);
    pause.paused_until = Some(Some(crate::protocol::day_string(T0 / DAY + 2)));
    changes::change(&tx(&db, &keys, T0 + 4), &pause).unwrap();
    assert!(!sending::may_still_send(
        &tx(&db, &keys, T0 + 5),
        &queued.id,
        PHONE,
        &Category::ORDER_UPDATES,
        false
    )
    .unwrap());
}

#[test]
fn erasure_keeps_the_decisions_without_the_number() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    let queued = send(&db, &keys, T0 + 1, Category::DELIVERY, "a");
    send(&db, &keys, T0 + 2, Category::ACCOUNT_UPDATES, "b");
    audit::erase(&tx(&db, &keys, T0 + 3), PHONE)
        .unwrap()
        .unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM messages"), 2);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM messages WHERE phone IS NOT NULL"),
        0
    );
    let view = sending::view(&db, &queued.id).unwrap().unwrap();
    assert_eq!((view.to, view.status.as_str()), (None, "erased"));
    assert!(sending::for_phone(&db, PHONE).unwrap().is_empty());
}

#[test]
fn a_marketing_category_stops_with_whatsapps_own_stop_and_utility_ones_go_on() {
    let (db, keys) = (ledger(), keys());
    let mut site = site();
    let offers: consent_core::SiteCategory =
        serde_json::from_str(r#"{"id":"offers","kind":"marketing","labels":{"en":"Offers"}}"#)
            .unwrap();
    site.categories.push(offers);
    record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["offers", "delivery"]),
    );
    let offers = Category::parse("offers").unwrap();
    let ask_offer = |key: &str, now: i64| {
        let mut cmd = ask(offers.clone(), key, template("weekly_offer"));
        cmd.rules = CategoryRules::of(&site, &offers);
        sending::send(&tx(&db, &keys, now), &cmd).unwrap()
    };
    assert!(CategoryRules::of(&site, &offers).marketing);
    assert_eq!(ask_offer("o1", T0 + 1).decision, Decision::Queued);
    let evidence = super::inbound::MarketingEvidence::error_131050("wamid.x", "100000000000001");
    super::inbound::marketing_choice(
        &tx(&db, &keys, T0 + 2),
        PHONE.trim_start_matches('+'),
        "stop",
        &evidence,
    )
    .unwrap();
    assert_eq!(
        refusal(&ask_offer("o2", T0 + 3)),
        &Refusal::MarketingStopped {}
    );
    assert_eq!(
        send(&db, &keys, T0 + 3, Category::DELIVERY, "d").decision,
        Decision::Queued,
        "utility goes on"
    );
}

#[test]
fn the_stats_count_decisions_by_day_category_and_reason() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    send(&db, &keys, T0 + 1, Category::DELIVERY, "a");
    send(&db, &keys, T0 + 2, Category::ACCOUNT_UPDATES, "b");
    send(&db, &keys, T0 + 3, Category::ACCOUNT_UPDATES, "c");
    let day = consent_core::stats::Day(T0 / DAY);
    let range = crate::protocol::Range { from: day, to: day };
    let got: Vec<(String, String, String, i64)> = sending::counts(&db, &range)
        .unwrap()
        .into_iter()
        .map(|c| (c.category, c.reason, c.status, c.n))
        .collect();
    let row = |c: &str, r: &str, s: &str, n| (c.to_owned(), r.to_owned(), s.to_owned(), n);
    assert_eq!(
        got,
        vec![
            row("account_updates", "not-subscribed", "refused", 2),
            row("delivery", "subscribed", "pending", 1),
        ]
    );
    let yesterday = consent_core::stats::Day(T0 / DAY - 1);
    let earlier = crate::protocol::Range {
        from: yesterday,
        to: yesterday,
    };
    assert!(sending::counts(&db, &earlier).unwrap().is_empty());
}

#[test]
fn every_decision_is_exported_as_ndjson_in_pages_without_the_number_once_erased() {
    let (db, keys) = (ledger(), keys());
    subscribed(&db, &keys);
    let queued = send(&db, &keys, T0 + 1, Category::DELIVERY, "a");
    let refused = send(&db, &keys, T0 + 2, Category::ACCOUNT_UPDATES, "b");
    let page = sending::export_ndjson(&db, 0, 0).unwrap();
    assert_eq!(page.next, None);
    let lines: Vec<serde_json::Value> = page
        .body
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(&str, &str, &str, &str)> = lines
        .iter()
        .map(|l| {
            (
                l["id"].as_str().unwrap(),
                l["decision"].as_str().unwrap(),
                l["reason"].as_str().unwrap(),
                l["status"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            (queued.id.as_str(), "queued", "subscribed", "pending"),
            (refused.id.as_str(), "refused", "not-subscribed", "refused"),
        ]
    );
    assert_eq!(lines[1]["detail"]["status"], "never");
    assert_eq!(lines[0]["phone"], PHONE);
    assert!(
        sending::export_ndjson(&db, 0, T0 + 2)
            .unwrap()
            .body
            .lines()
            .count()
            == 1
    );
    audit::erase(&tx(&db, &keys, T0 + 3), PHONE).unwrap();
    let after = sending::export_ndjson(&db, 0, 0).unwrap();
    assert!(!after.body.contains(PHONE), "{}", after.body);
    assert_eq!(
        after.body.lines().count(),
        2,
        "the decisions stay, without the number"
    );
}

fn set_channel(db: &Connection, keys: &Keys, consent_id: &str, ch: Channel, now: i64) {
    let mut c = change(
        consent_id,
        &[
            Category::ORDER_UPDATES,
            Category::DELIVERY,
            Category::PAYMENT_ALERTS,
        ],
    );
    c.channels = Some([(Category::DELIVERY, ch)].into_iter().collect());
    changes::change(&tx(db, keys, now), &c).unwrap().unwrap();
}

#[test]
fn a_category_asked_for_by_email_is_refused_everywhere_until_whatsapp_again() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    let queued = send(&db, &keys, T0 + 1, Category::DELIVERY, "before");
    assert_eq!(queued.decision, Decision::Queued);
    set_channel(&db, &keys, &id, Channel::Email, T0 + 2);
    let email = Refusal::ChannelChanged {
        channel: Channel::Email,
    };
    // The send API, the sender's second look and the permission check agree.
    assert_eq!(
        refusal(&send(&db, &keys, T0 + 3, Category::DELIVERY, "after")),
        &email
    );
    let t = tx(&db, &keys, T0 + 3);
    assert_eq!(
        sending::still_refused(&t, &queued.id, PHONE, &Category::DELIVERY, false).unwrap(),
        Some(email.clone())
    );
    let other = send(&db, &keys, T0 + 3, Category::ORDER_UPDATES, "other");
    assert_eq!(other.decision, Decision::Queued, "only that category moved");
    let check = CheckPermissions {
        phone: PHONE.into(),
        categories: [Category::DELIVERY, Category::ORDER_UPDATES]
            .map(|c| {
                let rules = rules_of(&c);
                (c, rules)
            })
            .to_vec(),
    };
    let answer = sending::check(&t, &check).unwrap();
    let got: Vec<(bool, &str, Option<Channel>)> = answer
        .categories
        .iter()
        .map(|(_, p)| (p.may_send, p.reason.as_str(), p.channel))
        .collect();
    assert_eq!(
        got,
        [
            (false, "channel-changed", Some(Channel::Email)),
            (true, "subscribed", None)
        ]
    );
    // A chained event, and the chain still verifies.
    assert_eq!(
        text(
            &db,
            "SELECT json_extract(evidence, '$.channels') FROM events WHERE kind = 'update'"
        ),
        r#"{"delivery":"email"}"#
    );
    assert!(verified(&t));
    set_channel(&db, &keys, &id, Channel::Whatsapp, T0 + 4);
    let again = send(&db, &keys, T0 + 5, Category::DELIVERY, "again");
    assert_eq!(
        again.decision,
        Decision::Queued,
        "WhatsApp again restores it"
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'update'"),
        2
    );
}

#[test]
fn choosing_the_same_channel_again_records_nothing_and_a_fresh_opt_in_asks_for_whatsapp() {
    let (db, keys) = (ledger(), keys());
    let id = subscribed(&db, &keys);
    set_channel(&db, &keys, &id, Channel::Sms, T0 + 1);
    set_channel(&db, &keys, &id, Channel::Sms, T0 + 2);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'update'"),
        1
    );
    let prefs = changes::preferences(&tx(&db, &keys, T0 + 3), &id)
        .unwrap()
        .unwrap();
    assert_eq!(prefs.channels.get(&Category::DELIVERY), Some(&Channel::Sms));
    let before = send(&db, &keys, T0 + 4, Category::DELIVERY, "before");
    assert_eq!(
        refusal(&before),
        &Refusal::ChannelChanged {
            channel: Channel::Sms
        }
    );
    // Ticking delivery in a WhatsApp opt-in again is asking for it on WhatsApp.
    record(
        &tx(&db, &keys, T0 + DAY),
        &consent(&site(), PHONE, &["delivery"]),
    );
    let reply = send(&db, &keys, T0 + DAY + 1, Category::DELIVERY, "k");
    assert_eq!(reply.decision, Decision::Queued);
}
