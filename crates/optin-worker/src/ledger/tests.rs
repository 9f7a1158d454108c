//! The ledger's write paths, run natively on rusqlite with an injected clock:
//! grant, change, withdraw, confirm, expire, erase and the outbox's release.

use consent_core::{site::DoubleOptIn, Breaker, Category, ConsentRequest, Locale, SiteConfig};
use rusqlite::Connection;
use whatsapp_cloud_api::MessageRequest;

use super::{
    audit, breaker, changes, double_optin, grant, outbox, queue, schema, subscriber, templates,
    tx::{Keys, NextExpiry, Tx},
};
use crate::protocol::{
    Change, ConsentReply, LedgerError, RecordConsent, Recorded, RequestContext, TemplateStatus,
};

/// Some Tuesday, 800 s into its UTC hour.
pub(super) const T0: i64 = 1_700_000_000_000;
pub(super) const HOUR: i64 = 3_600_000;
pub(super) const PHONE: &str = "+6281234567890";
pub(super) const OTHER: &str = "+6281298765432";

pub(super) fn site() -> SiteConfig {
    serde_json::from_str(include_str!("../../sites/demo.json")).unwrap()
}

/// The demo site with double opt-in on (48 h to confirm).
pub(super) fn double_opt_in_site() -> SiteConfig {
    let mut site = site();
    site.double_opt_in = Some(DoubleOptIn {
        enabled: true,
        expiry_hours: 48,
        template_name: "optin_double_confirmation".into(),
    });
    site
}

pub(super) fn ledger() -> Connection {
    let db = Connection::open_in_memory().unwrap();
    schema::migrate(&db, T0).unwrap();
    db
}

pub(super) fn keys() -> Keys {
    Keys {
        subject: "k".into(),
        prefs_token: "p".into(),
    }
}

pub(super) fn tx<'a>(db: &'a Connection, keys: &'a Keys, now: i64) -> Tx<'a> {
    Tx {
        db,
        keys,
        now,
        hour_ms: HOUR,
        next_expiry: None,
        endpoints: None,
    }
}

/// A consent from the modal for `phone`, ticking `categories`.
pub(super) fn consent(site: &SiteConfig, phone: &str, categories: &[&str]) -> RecordConsent {
    let request = ConsentRequest {
        phone: phone.into(),
        categories: categories.iter().map(|c| (*c).to_owned()).collect(),
        locale: "en".into(),
        notice_version: site.notice_version,
        notice_text: site.notice(Locale::from_tag("en").unwrap(), None).text,
        surface: "modal".into(),
        page_url: Some("https://shop.example/checkout".into()),
        client_ts: None,
        widget_version: None,
        turnstile_token: None,
        variant: None,
    };
    RecordConsent {
        consent: request.validate(site).unwrap(),
        site: site.clone(),
        context: RequestContext {
            user_agent: None,
            ip: None,
            country: None,
        },
        idempotency_key: None,
        body_digest: "digest".into(),
        ip_key: None,
        shard: 0,
        challenged: false,
    }
}

/// Records `cmd` and returns what the ledger answered.
pub(super) fn record(tx: &Tx, cmd: &RecordConsent) -> Recorded {
    let reply = grant::record(tx, cmd).unwrap();
    assert_eq!(reply.status, 201);
    serde_json::from_str(&reply.body).unwrap()
}

pub(super) fn count(db: &Connection, sql: &str) -> i64 {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

pub(super) fn text(db: &Connection, sql: &str) -> String {
    db.query_row(sql, [], |r| r.get(0)).unwrap()
}

/// `phone`'s state per category, sorted by category.
fn state(db: &Connection, phone: &str) -> Vec<(String, String)> {
    let mut stmt = db
        .prepare("SELECT category, status FROM subscriptions WHERE phone = ? ORDER BY category")
        .unwrap();
    stmt.query_map([phone], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn pair(category: &str, status: &str) -> (String, String) {
    (category.to_owned(), status.to_owned())
}

pub(super) fn outbox_status(db: &Connection, id: &str) -> String {
    db.query_row("SELECT status FROM outbox WHERE id = ?", [id], |r| r.get(0))
        .unwrap()
}

pub(super) fn verified(tx: &Tx) -> bool {
    audit::verify(tx).unwrap().ok
}

pub(super) fn change(consent_id: &str, granted: &[Category]) -> Change {
    Change {
        consent_id: consent_id.into(),
        granted: granted.to_vec(),
        method: "preference_centre".into(),
        frequency: None,
        paused_until: None,
        channels: None,
    }
}

// ---- grant ----------------------------------------------------------------

#[test]
fn a_grant_is_one_event_at_server_time_with_state_and_a_queued_confirmation() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let recorded = record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["order_updates", "delivery"]),
    );

    assert_eq!(recorded.recorded_at, T0);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 1);
    let (kind, server_ts, phone): (String, i64, String) = db
        .query_row("SELECT kind, server_ts, phone FROM events", [], |r| {
            Ok((r.get(0)?, r.get(1)?, r.get(2)?))
        })
        .unwrap();
    assert_eq!(
        (kind.as_str(), server_ts, phone.as_str()),
        ("grant", T0, PHONE)
    );
    assert_eq!(
        state(&db, PHONE),
        [
            pair("delivery", "granted"),
            pair("order_updates", "granted")
        ]
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox"), 1);
    assert_eq!(outbox_status(&db, &recorded.id), "pending");
    assert!(recorded.pending_until.is_none());
    assert!(verified(&tx(&db, &keys, T0)));
}

#[test]
fn an_idempotency_key_replays_the_same_body_and_refuses_another() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let mut cmd = consent(&site, PHONE, &["delivery"]);
    cmd.idempotency_key = Some("key-1".into());
    let first = grant::record(&tx(&db, &keys, T0), &cmd).unwrap();
    assert!(!first.replayed);

    let again: ConsentReply = grant::record(&tx(&db, &keys, T0 + 1_000), &cmd).unwrap();
    assert!(again.replayed);
    assert_eq!(again.status, 201);
    assert_eq!(again.body, first.body, "the first answer, byte for byte");
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 1);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox"), 1);

    cmd.body_digest = "another body".into();
    let reused = grant::record(&tx(&db, &keys, T0 + 2_000), &cmd);
    assert_eq!(reused.unwrap_err(), LedgerError::IdempotencyKeyReused);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 1);
}

#[test]
fn the_per_phone_limit_refuses_after_the_site_limit_and_admits_an_hour_later() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let limit = i64::from(site.limits.per_phone_per_hour);
    let cmd = consent(&site, PHONE, &["delivery"]);
    for i in 0..limit {
        record(&tx(&db, &keys, T0 + i), &cmd);
    }

    let refused = grant::record(&tx(&db, &keys, T0 + limit), &cmd);
    assert!(
        matches!(&refused, Err(LedgerError::RateLimited { scope, retry_after })
            if scope == "phone" && *retry_after > 0),
        "{refused:?}"
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), limit);
    // Another number is not held back by this one's limit.
    record(
        &tx(&db, &keys, T0 + limit),
        &consent(&site, OTHER, &["delivery"]),
    );

    record(&tx(&db, &keys, T0 + HOUR), &cmd);
    assert_eq!(
        count(
            &db,
            &format!("SELECT COUNT(*) FROM events WHERE phone = '{PHONE}'")
        ),
        limit + 1
    );
}

// ---- change and withdraw ---------------------------------------------------

#[test]
fn narrowing_the_categories_is_one_update_and_the_removed_one_is_withdrawn() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let id = record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["order_updates", "delivery"]),
    )
    .id;

    let t1 = T0 + 60_000;
    let prefs = changes::change(&tx(&db, &keys, t1), &change(&id, &[Category::DELIVERY]))
        .unwrap()
        .unwrap();
    assert_eq!(prefs.granted, [Category::DELIVERY]);
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'update'"),
        1
    );
    assert_eq!(
        count(&db, "SELECT server_ts FROM events WHERE kind = 'update'"),
        t1
    );
    assert_eq!(
        state(&db, PHONE),
        [
            pair("delivery", "granted"),
            pair("order_updates", "withdrawn")
        ]
    );

    // The same choice again changes nothing, so records nothing.
    changes::change(&tx(&db, &keys, t1 + 1), &change(&id, &[Category::DELIVERY])).unwrap();
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 2);
    assert!(verified(&tx(&db, &keys, t1 + 1)));
}

#[test]
fn withdrawing_everything_suppresses_queued_templates_but_not_replies() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let id = record(&tx(&db, &keys, T0), &consent(&site, PHONE, &["delivery"])).id;
    let reply = MessageRequest::text(PHONE, "You're subscribed.", "reply-1");
    queue::enqueue_row(&db, "reply-1", &id, PHONE, &site, &reply, T0).unwrap();

    let t1 = T0 + 60_000;
    let prefs = changes::change(&tx(&db, &keys, t1), &change(&id, &[]))
        .unwrap()
        .unwrap();
    assert!(prefs.granted.is_empty());
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'withdraw'"),
        1
    );
    assert_eq!(state(&db, PHONE), [pair("delivery", "withdrawn")]);
    assert_eq!(outbox_status(&db, &id), "suppressed");
    assert_eq!(outbox_status(&db, "reply-1"), "pending");
}

#[test]
fn a_grant_within_the_resend_cooldown_after_a_withdraw_sends_no_template() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let cooldown = i64::from(site.limits.resend_cooldown_hours) * HOUR;
    let cmd = consent(&site, PHONE, &["delivery"]);
    let first = record(&tx(&db, &keys, T0), &cmd).id;
    changes::change(&tx(&db, &keys, T0 + 1_000), &change(&first, &[])).unwrap();

    let within = record(&tx(&db, &keys, T0 + cooldown - 1), &cmd).id;
    assert_eq!(outbox_status(&db, &within), "suppressed");
    assert_eq!(state(&db, PHONE), [pair("delivery", "granted")]);

    // Once the cooldown has passed since that withdrawal, a new grant sends again.
    changes::change(&tx(&db, &keys, T0 + cooldown), &change(&within, &[])).unwrap();
    let t2 = T0 + 2 * cooldown + 1;
    let after = record(&tx(&db, &keys, t2), &cmd).id;
    assert_eq!(outbox_status(&db, &after), "pending");
}

// ---- double opt-in --------------------------------------------------------

#[test]
fn double_opt_in_waits_for_the_confirmation_then_grants() {
    let (db, keys) = (ledger(), keys());
    let site = double_opt_in_site();
    let recorded = record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["order_updates", "delivery"]),
    );
    assert_eq!(recorded.pending_until, Some(T0 + 48 * HOUR));
    assert_eq!(
        state(&db, PHONE),
        [
            pair("delivery", "pending"),
            pair("order_updates", "pending")
        ]
    );
    let waiting = double_optin::pending_for(&db, PHONE).unwrap();
    assert_eq!(waiting.len(), 1);
    assert_eq!(waiting[0].consent_id, recorded.id);
    assert_eq!(waiting[0].expires_at, T0 + 48 * HOUR);

    let request = double_optin::find(&db, &recorded.id).unwrap().unwrap();
    let t1 = T0 + HOUR;
    let granted =
        double_optin::confirm(&tx(&db, &keys, t1), &request, "{\"method\":\"button\"}").unwrap();
    assert_eq!(granted, [Category::ORDER_UPDATES, Category::DELIVERY]);
    assert_eq!(
        count(&db, "SELECT server_ts FROM events WHERE kind = 'confirm'"),
        t1
    );
    assert_eq!(
        state(&db, PHONE),
        [
            pair("delivery", "granted"),
            pair("order_updates", "granted")
        ]
    );
    let settled = double_optin::find(&db, &recorded.id).unwrap().unwrap();
    assert_eq!(settled.status, "confirmed");
    assert!(double_optin::pending_for(&db, PHONE).unwrap().is_empty());
    assert!(verified(&tx(&db, &keys, t1)));
}

/// A command with the object's note of its next expiry, as the Durable Object runs them.
fn noted<'a>(db: &'a Connection, keys: &'a Keys, now: i64, note: &'a NextExpiry) -> Tx<'a> {
    Tx {
        next_expiry: Some(note),
        ..tx(db, keys, now)
    }
}

#[test]
fn the_expiry_note_skips_the_query_until_a_confirmation_it_opened_is_due() {
    let (db, keys, note) = (ledger(), keys(), NextExpiry::new());
    let site = double_opt_in_site();
    assert_eq!(
        double_optin::expire_due(&noted(&db, &keys, T0, &note)).unwrap(),
        0
    );
    // Opened through a noted command: the note moves to its expiry.
    let lapsing = record(
        &noted(&db, &keys, T0, &note),
        &consent(&site, OTHER, &["delivery"]),
    )
    .id;
    let expiry = T0 + 48 * HOUR;
    assert_eq!(
        double_optin::expire_due(&noted(&db, &keys, expiry - 1, &note)).unwrap(),
        0
    );
    assert_eq!(
        double_optin::expire_due(&noted(&db, &keys, expiry, &note)).unwrap(),
        1
    );
    assert_eq!(
        double_optin::find(&db, &lapsing).unwrap().unwrap().status,
        "expired"
    );
    // With none pending the note says so, and a row written behind its back
    // (never done: every confirmation opens through a command) is not looked for.
    db.execute(
        "INSERT INTO pending_confirmations (consent_id, phone, categories, status, expires_at, created_at)
         VALUES ('behind', ?1, '[\"delivery\"]', 'pending', ?2, ?2)",
        rusqlite::params![PHONE, expiry],
    )
    .unwrap();
    assert_eq!(
        double_optin::expire_due(&noted(&db, &keys, expiry + HOUR, &note)).unwrap(),
        0
    );
    // Without a note (a fresh object) it is found.
    assert_eq!(
        double_optin::expire_due(&tx(&db, &keys, expiry + HOUR)).unwrap(),
        1
    );
}

#[test]
fn an_unconfirmed_consent_expires_once_and_its_request_never_goes_out() {
    let (db, keys) = (ledger(), keys());
    let site = double_opt_in_site();
    let confirmed = record(&tx(&db, &keys, T0), &consent(&site, PHONE, &["delivery"])).id;
    let lapsing = record(&tx(&db, &keys, T0), &consent(&site, OTHER, &["delivery"])).id;
    let request = double_optin::find(&db, &confirmed).unwrap().unwrap();
    double_optin::confirm(&tx(&db, &keys, T0 + HOUR), &request, "{}").unwrap();

    let expiry = T0 + 48 * HOUR;
    assert_eq!(
        double_optin::expire_due(&tx(&db, &keys, expiry - 1)).unwrap(),
        0
    );
    assert_eq!(state(&db, OTHER), [pair("delivery", "pending")]);

    assert_eq!(
        double_optin::expire_due(&tx(&db, &keys, expiry)).unwrap(),
        1
    );
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'expire'"),
        1
    );
    assert_eq!(
        text(&db, "SELECT phone FROM events WHERE kind = 'expire'"),
        OTHER
    );
    assert_eq!(state(&db, OTHER), [pair("delivery", "expired")]);
    assert_eq!(state(&db, PHONE), [pair("delivery", "granted")]);
    assert_eq!(outbox_status(&db, &lapsing), "suppressed");
    assert_eq!(outbox_status(&db, &confirmed), "pending");
    assert_eq!(
        double_optin::find(&db, &lapsing).unwrap().unwrap().status,
        "expired"
    );

    assert_eq!(
        double_optin::expire_due(&tx(&db, &keys, expiry + HOUR)).unwrap(),
        0
    );
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 4);
    assert!(verified(&tx(&db, &keys, expiry + HOUR)));
}

// ---- erase ----------------------------------------------------------------

#[test]
fn erasing_keeps_the_proof_but_no_personal_data() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let cmd = consent(&site, PHONE, &["order_updates", "delivery"]);
    let id = record(&tx(&db, &keys, T0), &cmd).id;
    changes::change(&tx(&db, &keys, T0 + 1), &change(&id, &[Category::DELIVERY])).unwrap();
    record(
        &tx(&db, &keys, T0 + 2),
        &consent(&site, OTHER, &["delivery"]),
    );

    let t = tx(&db, &keys, T0 + HOUR);
    let erased = audit::erase(&t, PHONE).unwrap().unwrap();
    assert_eq!(erased.events, 2);

    let subject = t.subject(PHONE);
    let theirs = |extra: &str| {
        count(
            &db,
            &format!("SELECT COUNT(*) FROM events WHERE subject_hash = '{subject}' {extra}"),
        )
    };
    assert_eq!(theirs(""), 3, "their grant, update and the erase event");
    assert_eq!(theirs("AND phone IS NOT NULL"), 0);
    assert_eq!(theirs("AND kind <> 'erase' AND evidence IS NOT NULL"), 0);
    assert_eq!(
        text(&db, "SELECT id FROM events ORDER BY seq DESC LIMIT 1"),
        erased.erase_event
    );
    assert_eq!(
        text(&db, "SELECT kind FROM events ORDER BY seq DESC LIMIT 1"),
        "erase"
    );
    assert!(
        db.query_row(
            "SELECT evidence FROM events WHERE kind = 'grant' AND phone = ?",
            [OTHER],
            |r| r.get::<_, Option<String>>(0)
        )
        .unwrap()
        .is_some(),
        "someone else's evidence stays"
    );
    assert!(verified(&t));
    assert!(subscriber::view(&t, PHONE).unwrap().is_none());
    assert!(state(&db, PHONE).is_empty());
    let (phone, request): (String, String) = db
        .query_row(
            "SELECT phone, request FROM outbox WHERE id = ?",
            [&id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!((phone.as_str(), request.as_str()), ("", "{}"));
    assert!(!request.contains(PHONE));
    assert_eq!(outbox_status(&db, &id), "erased");
    let suppressed = format!(
        "SELECT COUNT(*) FROM suppressions WHERE subject_hash = '{subject}' AND reason = 'erased'"
    );
    assert_eq!(count(&db, &suppressed), 1);
    assert!(audit::erase(&tx(&db, &keys, T0 + HOUR), PHONE)
        .unwrap()
        .is_none());

    // A fresh opt-in lifts the erasure's suppression, and the chain still holds.
    let again = tx(&db, &keys, T0 + 2 * HOUR);
    record(&again, &cmd);
    assert_eq!(count(&db, &suppressed), 0);
    assert_eq!(
        state(&db, PHONE),
        [
            pair("delivery", "granted"),
            pair("order_updates", "granted")
        ]
    );
    assert!(verified(&again));
}

// ---- outbox ---------------------------------------------------------------

#[test]
fn a_row_stuck_in_sending_is_released_after_the_grace_and_not_before() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let id = record(&tx(&db, &keys, T0), &consent(&site, PHONE, &["delivery"])).id;
    let worn = record(&tx(&db, &keys, T0), &consent(&site, OTHER, &["delivery"])).id;
    // What a claim leaves behind when the isolate dies mid-send.
    db.execute(
        "UPDATE outbox SET status = 'sending', updated_at = ?1",
        [T0],
    )
    .unwrap();
    db.execute("UPDATE outbox SET attempts = 8 WHERE id = ?1", [&worn])
        .unwrap();
    let grace = 10 * 60_000;

    outbox::release_stuck(&db, T0 + grace - 1, grace).unwrap();
    assert_eq!(outbox_status(&db, &id), "sending");
    assert_eq!(outbox_status(&db, &worn), "sending");

    outbox::release_stuck(&db, T0 + grace, grace).unwrap();
    assert_eq!(outbox_status(&db, &id), "pending");
    assert_eq!(
        count(
            &db,
            &format!("SELECT next_attempt_at FROM outbox WHERE id = '{id}'")
        ),
        T0 + grace
    );
    assert_eq!(outbox_status(&db, &worn), "failed", "out of attempts");
}

// ---- found by these tests, fixed with them ----

/// The edge sends a `Change` as JSON; `paused_until: None` means "keep the pause".
#[test]
fn a_change_that_does_not_mention_the_pause_keeps_it() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let id = record(
        &tx(&db, &keys, T0),
        &consent(&site, PHONE, &["order_updates", "delivery"]),
    )
    .id;
    let mut pause = change(&id, &[Category::ORDER_UPDATES, Category::DELIVERY]);
    pause.paused_until = Some(Some("2099-01-01".into()));
    changes::change(&tx(&db, &keys, T0 + 1), &pause).unwrap();

    // What the edge's LedgerClient sends, and what the ledger decodes.
    let wire = serde_json::to_string(&crate::protocol::LedgerCommand::Change(change(
        &id,
        &[Category::DELIVERY],
    )))
    .unwrap();
    let crate::protocol::LedgerCommand::Change(received) = serde_json::from_str(&wire).unwrap()
    else {
        panic!("not a change: {wire}")
    };
    assert_eq!(received.paused_until, None, "sent {wire}");
    let prefs = changes::change(&tx(&db, &keys, T0 + 2), &received)
        .unwrap()
        .unwrap();
    assert_eq!(prefs.paused_until.as_deref(), Some("2099-01-01"));
}

#[test]
fn a_pending_row_is_claimed_once() {
    let (db, keys) = (ledger(), keys());
    let id = record(&tx(&db, &keys, T0), &consent(&site(), PHONE, &["delivery"])).id;
    assert!(outbox::claim(&db, &id, T0 + 1).unwrap());
    assert!(!outbox::claim(&db, &id, T0 + 1).unwrap());
    assert_eq!(outbox_status(&db, &id), "sending");
}

// ---- burst breaker ---------------------------------------------------------

/// The demo site with a burst-breaker threshold of `n` per 10 minutes (`None`: derived).
fn breaker_site(n: Option<u32>) -> SiteConfig {
    let mut site = site();
    site.breaker = Some(Breaker {
        threshold_per_10_min: n,
    });
    site
}

fn burst_phone(i: usize) -> String {
    format!("+62813{:08}", 10_000_000 + i)
}

/// Records `n` consents for fresh numbers from `first`, `step` ms apart; their ids.
fn burst(
    db: &Connection,
    keys: &Keys,
    site: &SiteConfig,
    first: usize,
    n: usize,
    at: i64,
    step: i64,
) -> Vec<String> {
    (0..n)
        .map(|i| {
            let cmd = consent(site, &burst_phone(first + i), &["delivery"]);
            record(&tx(db, keys, at + i as i64 * step), &cmd).id
        })
        .collect()
}

fn statuses(db: &Connection, ids: &[String]) -> Vec<String> {
    ids.iter().map(|id| outbox_status(db, id)).collect()
}

/// A site that asks for Turnstile only while its breaker (threshold 3) is open.
fn challenge_site() -> SiteConfig {
    let mut site = breaker_site(Some(3));
    site.turnstile_secret = Some("TS".into());
    site.turnstile_site_key = Some("0x4AAA".into());
    site.turnstile_when = consent_core::TurnstileWhen::BreakerOpen;
    site
}

#[test]
fn with_turnstile_on_burst_a_challenge_replaces_the_hold() {
    let (db, keys) = (ledger(), keys());
    let site = challenge_site();
    let ids = burst(&db, &keys, &site, 0, 3, T0, 100);
    assert_eq!(statuses(&db, &ids), ["pending", "pending", "pending"]);
    // The fourth would open it: it opens, and that consent is refused, nothing recorded or counted.
    let fourth = consent(&site, &burst_phone(3), &["delivery"]);
    let refused = grant::record(&tx(&db, &keys, T0 + 400), &fourth);
    assert!(matches!(refused, Err(LedgerError::ChallengeRequired)));
    assert_eq!(count(&db, "SELECT COUNT(*) FROM events"), 3);
    assert!(state(&db, &burst_phone(3)).is_empty());
    let view = breaker::view(&db, Some(3), T0 + 500).unwrap();
    assert!(view.open);
    assert_eq!((view.recent, view.held), (3, 0));
    assert_eq!(breaker::decisions(&db).unwrap()[0].action, "hold");
    // With a verified token: recorded and confirmed, not held.
    let mut challenged = fourth;
    challenged.challenged = true;
    let passed = record(&tx(&db, &keys, T0 + 600), &challenged);
    assert_eq!(outbox_status(&db, &passed.id), "pending");
    // A checkout opt-in cannot show a challenge: recorded, and held as without Turnstile.
    let mut checkout = consent(&site, &burst_phone(4), &["delivery"]);
    checkout.consent.surface = consent_core::Surface::Checkout;
    let held = record(&tx(&db, &keys, T0 + 700), &checkout);
    assert_eq!(outbox_status(&db, &held.id), "held");
    // Later, still open until an admin decides; release closes it and lets consents through again.
    let later = consent(&site, &burst_phone(5), &["delivery"]);
    assert!(matches!(
        grant::record(&tx(&db, &keys, T0 + HOUR), &later),
        Err(LedgerError::ChallengeRequired)
    ));
    breaker::release(&db, "admin", T0 + HOUR, 0).unwrap();
    assert_eq!(outbox_status(&db, &held.id), "pending");
    let after = record(&tx(&db, &keys, T0 + HOUR + 1), &later);
    assert_eq!(outbox_status(&db, &after.id), "pending");
}

#[test]
fn a_site_that_always_asks_for_turnstile_still_holds_a_burst() {
    let (db, keys) = (ledger(), keys());
    let mut site = challenge_site();
    site.turnstile_when = consent_core::TurnstileWhen::Always;
    let ids: Vec<String> = (0..5)
        .map(|i| {
            let mut cmd = consent(&site, &burst_phone(i), &["delivery"]);
            cmd.challenged = true;
            record(&tx(&db, &keys, T0 + i as i64 * 100), &cmd).id
        })
        .collect();
    assert_eq!(
        statuses(&db, &ids),
        ["pending", "pending", "pending", "held", "held"]
    );
}

#[test]
fn below_the_breaker_threshold_nothing_is_held() {
    let (db, keys) = (ledger(), keys());
    let ids = burst(&db, &keys, &breaker_site(Some(5)), 0, 5, T0, 1_000);
    assert!(statuses(&db, &ids).iter().all(|s| s == "pending"));
    let view = breaker::view(&db, Some(5), T0 + 5_000).unwrap();
    assert!(!view.open);
    assert_eq!((view.held, view.recent, view.threshold), (0, 5, 5));
    assert_eq!(view.threshold_source, "configured");
    assert!(breaker::decisions(&db).unwrap().is_empty());
}

#[test]
fn above_the_threshold_grants_are_recorded_but_their_confirmations_held() {
    let (db, keys) = (ledger(), keys());
    let site = breaker_site(Some(5));
    let ids = burst(&db, &keys, &site, 0, 8, T0, 100);
    assert_eq!(
        statuses(&db, &ids),
        ["pending", "pending", "pending", "pending", "pending", "held", "held", "held"]
    );
    // Recorded as ever: an event and a granted state for every one, the chain intact.
    assert_eq!(
        count(&db, "SELECT COUNT(*) FROM events WHERE kind = 'grant'"),
        8
    );
    for i in 0..8 {
        assert_eq!(state(&db, &burst_phone(i)), [pair("delivery", "granted")]);
    }
    assert!(verified(&tx(&db, &keys, T0 + 1_000)));
    let view = breaker::view(&db, Some(5), T0 + 1_000).unwrap();
    assert!(view.open);
    assert_eq!(view.open_since, Some(T0 + 500));
    assert_eq!(view.held, 3);
    let decisions = breaker::decisions(&db).unwrap();
    assert_eq!(decisions.len(), 1);
    assert_eq!(
        (
            decisions[0].action.as_str(),
            decisions[0].count,
            decisions[0].actor.as_str(),
            decisions[0].at
        ),
        ("hold", 6, "breaker", T0 + 500)
    );
    // Once open it stays open: a consent long after the burst is held too, until an admin decides.
    let later = burst(&db, &keys, &site, 100, 1, T0 + HOUR, 0);
    assert_eq!(statuses(&db, &later), ["held"]);
    // The sender never picks a held row.
    assert!(!outbox::claim(&db, &ids[5], T0 + HOUR).unwrap());
    // Stats show it.
    let stats = audit::stats(
        &tx(&db, &keys, T0 + HOUR),
        &crate::protocol::Range::from_query(None, None, T0 + HOUR).unwrap(),
    )
    .unwrap();
    assert!(stats.breaker.open);
    assert_eq!(stats.breaker.held, 4);
}

#[test]
fn release_moves_each_held_row_to_pending_once_paced_and_closes_the_breaker() {
    let (db, keys) = (ledger(), keys());
    let site = breaker_site(Some(5));
    let ids = burst(&db, &keys, &site, 0, 9, T0, 100);
    let held: Vec<String> = ids[5..].to_vec();
    let t = T0 + 60_000;
    let released = breaker::release(&db, "ADMIN_TOKEN_DEMO", t, 250).unwrap();
    assert_eq!((released.action.as_str(), released.count), ("release", 4));
    assert!(statuses(&db, &held).iter().all(|s| s == "pending"));
    let mut times: Vec<i64> = held
        .iter()
        .map(|id| {
            count(
                &db,
                &format!("SELECT next_attempt_at FROM outbox WHERE id = '{id}'"),
            )
        })
        .collect();
    times.sort();
    assert_eq!(
        times,
        [t, t + 250, t + 500, t + 750],
        "spread, not all at once"
    );
    // Exactly once: a second release finds nothing, and each row is claimed once.
    assert_eq!(
        breaker::release(&db, "ADMIN_TOKEN", t + 1, 250)
            .unwrap()
            .count,
        0
    );
    for id in &held {
        assert!(outbox::claim(&db, id, t + 1_000).unwrap());
        assert!(!outbox::claim(&db, id, t + 1_000).unwrap());
    }
    let view = breaker::view(&db, Some(5), t + 1).unwrap();
    assert!(!view.open);
    assert_eq!(view.held, 0);
    let d = breaker::decisions(&db).unwrap();
    let got: Vec<_> = d
        .iter()
        .map(|d| (d.action.as_str(), d.count, d.actor.as_str(), d.at))
        .collect();
    assert_eq!(
        got,
        [
            ("hold", 6, "breaker", T0 + 500),
            ("release", 4, "ADMIN_TOKEN_DEMO", t)
        ],
        "the empty second release is not a decision"
    );
    // Still in the burst's window: the next consent opens it again.
    let next = burst(&db, &keys, &site, 50, 1, t + 2, 0);
    assert_eq!(statuses(&db, &next), ["held"]);
}

#[test]
fn drop_marks_held_rows_dropped_and_keeps_the_grants() {
    let (db, keys) = (ledger(), keys());
    let site = breaker_site(Some(3));
    let ids = burst(&db, &keys, &site, 0, 6, T0, 100);
    let dropped = breaker::drop_held(&db, "ADMIN_TOKEN", T0 + 1_000).unwrap();
    assert_eq!((dropped.action.as_str(), dropped.count), ("drop", 3));
    assert_eq!(statuses(&db, &ids[3..]), ["dropped", "dropped", "dropped"]);
    assert_eq!(statuses(&db, &ids[..3]), ["pending", "pending", "pending"]);
    assert_eq!(count(&db, "SELECT COUNT(*) FROM outbox WHERE status IN ('held', 'pending') AND id IN (SELECT id FROM outbox WHERE status <> 'pending')"), 0);
    for i in 3..6 {
        assert_eq!(state(&db, &burst_phone(i)), [pair("delivery", "granted")]);
    }
    // Nothing left to release.
    assert_eq!(
        breaker::release(&db, "ADMIN_TOKEN", T0 + 2_000, 250)
            .unwrap()
            .count,
        0
    );
    assert_eq!(statuses(&db, &ids[3..]), ["dropped", "dropped", "dropped"]);
    let last = breaker::decisions(&db).unwrap().pop().unwrap();
    assert_eq!(
        (last.action.as_str(), last.count, last.actor.as_str()),
        ("drop", 3, "ADMIN_TOKEN")
    );
}

#[test]
fn a_withdrawal_or_an_erasure_while_held_means_it_is_never_released() {
    let (db, keys) = (ledger(), keys());
    let site = breaker_site(Some(1));
    let ids = burst(&db, &keys, &site, 0, 4, T0, 100);
    assert_eq!(statuses(&db, &ids[1..]), ["held", "held", "held"]);
    changes::change(&tx(&db, &keys, T0 + 1_000), &change(&ids[1], &[])).unwrap();
    assert_eq!(outbox_status(&db, &ids[1]), "suppressed");
    audit::erase(&tx(&db, &keys, T0 + 2_000), &burst_phone(2))
        .unwrap()
        .unwrap();
    assert_eq!(outbox_status(&db, &ids[2]), "erased");

    let released = breaker::release(&db, "ADMIN_TOKEN", T0 + 3_000, 250).unwrap();
    assert_eq!(released.count, 1, "only the one still wanted");
    assert_eq!(
        statuses(&db, &ids[1..]),
        ["suppressed", "erased", "pending"]
    );
}

#[test]
fn a_double_opt_in_request_is_held_like_a_confirmation_and_its_expiry_stops_it() {
    let (db, keys) = (ledger(), keys());
    let mut site = double_opt_in_site();
    site.breaker = Some(Breaker {
        threshold_per_10_min: Some(1),
    });
    let ids = burst(&db, &keys, &site, 0, 2, T0, 100);
    assert_eq!(statuses(&db, &ids), ["pending", "held"]);
    assert_eq!(state(&db, &burst_phone(1)), [pair("delivery", "pending")]);
    double_optin::expire_due(&tx(&db, &keys, T0 + 49 * HOUR)).unwrap();
    assert_eq!(outbox_status(&db, &ids[1]), "suppressed");
    assert_eq!(
        breaker::release(&db, "ADMIN_TOKEN", T0 + 49 * HOUR, 250)
            .unwrap()
            .count,
        0
    );
}

#[test]
fn held_confirmations_still_count_against_the_daily_cap() {
    let (db, keys) = (ledger(), keys());
    let mut site = breaker_site(Some(2));
    site.limits.daily_confirmations = 4;
    let ids = burst(&db, &keys, &site, 0, 4, T0, 100);
    assert_eq!(statuses(&db, &ids), ["pending", "pending", "held", "held"]);
    let refused = grant::record(
        &tx(&db, &keys, T0 + 1_000),
        &consent(&site, &burst_phone(9), &["delivery"]),
    );
    assert!(
        matches!(&refused, Err(LedgerError::RateLimited { scope, .. }) if scope == "site-daily-confirmations"),
        "{refused:?}"
    );
}

#[test]
fn the_derived_threshold_follows_a_steady_week_and_a_normal_day_never_opens_it() {
    let (db, keys) = (ledger(), keys());
    let site = breaker_site(None);
    let week = 7 * 24 * HOUR;
    let now = T0 + week;
    // A steady 20 web consents per 10 minutes (2 a minute) for the past 7 days.
    for m in 0..(7 * 24 * 60) {
        db.execute(
            "INSERT INTO breaker_minutes (minute, n) VALUES (?1, 2)",
            [(T0 / 60_000) + m],
        )
        .unwrap();
    }
    let (threshold, source) = breaker::threshold(&db, None, now).unwrap();
    assert_eq!(
        (threshold, source),
        (200, "derived"),
        "10 × the average of 20"
    );
    // A normal day's busy hour: three times the average, above the floor of 50.
    let normal = burst(&db, &keys, &site, 0, 60, now, 9_000);
    assert!(statuses(&db, &normal).iter().all(|s| s == "pending"));
    assert!(!breaker::view(&db, None, now + 9 * 60_000).unwrap().open);
    // Later, once that hour is out of the window, a burst of 250 in half a
    // minute does open it, at the threshold.
    let flood = burst(&db, &keys, &site, 1_000, 250, now + HOUR, 100);
    let held = statuses(&db, &flood)
        .iter()
        .filter(|s| *s == "held")
        .count();
    assert_eq!(held, 250 - 200);

    // A new site has no history: the floor lets a launch through.
    let fresh = ledger();
    assert_eq!(
        breaker::threshold(&fresh, None, now).unwrap(),
        (breaker::FLOOR, "derived")
    );
    let launch = burst(&fresh, &keys, &site, 0, 50, now, 1_000);
    assert!(statuses(&fresh, &launch).iter().all(|s| s == "pending"));
    assert_eq!(
        statuses(&fresh, &burst(&fresh, &keys, &site, 50, 1, now + 50_000, 0)),
        ["held"]
    );
}

/// The export's NDJSON as the edge rendered it from rows before SQLite wrote it:
/// the same objects, key for key.
fn row_as_json(r: &crate::protocol::ExportRow) -> serde_json::Value {
    serde_json::json!({
        "seq": r.seq, "id": r.id, "kind": r.kind, "phone": r.phone,
        "subject_hash": r.subject_hash,
        "categories": serde_json::from_str::<serde_json::Value>(&r.categories).unwrap_or_default(),
        "server_ts": r.server_ts,
        "evidence": r.evidence.as_deref().and_then(|e| serde_json::from_str::<serde_json::Value>(e).ok()),
        "prev_hash": r.prev_hash, "hash": r.hash,
    })
}

/// A ledger of more than a page of grants (`n` of them, and one erasure): the
/// erased person's evidence gone, and the row of seq 2's evidence not JSON.
fn export_fixture() -> (Connection, Keys, usize) {
    let (db, keys) = (ledger(), keys());
    let site = site();
    let n = audit::PAGE as usize + 5;
    for i in 0..n {
        let cmd = consent(&site, &burst_phone(i), &["order_updates", "delivery"]);
        record(&tx(&db, &keys, T0 + i as i64), &cmd);
    }
    audit::erase(&tx(&db, &keys, T0 + HOUR), &burst_phone(0)).unwrap();
    db.execute("UPDATE events SET evidence = 'not json' WHERE seq = 2", [])
        .unwrap();
    (db, keys, n)
}

#[test]
fn the_ndjson_export_written_by_sqlite_is_the_rows_line_for_line_in_pages() {
    let (db, keys, n) = export_fixture();
    let t = tx(&db, &keys, T0 + HOUR);
    let (mut after, mut lines, mut rows) = (0, Vec::new(), Vec::new());
    loop {
        let page = audit::export_ndjson(&t, after, 0).unwrap();
        let old = audit::export_page(&t, after, 0).unwrap();
        assert_eq!(page.next, old.next, "the same pages");
        lines.extend(page.body.lines().map(str::to_owned));
        rows.extend(old.events);
        match page.next {
            Some(seq) => after = seq,
            None => break,
        }
    }
    assert_eq!(lines.len(), n + 1, "every event once, the erasure too");
    for (line, row) in lines.iter().zip(&rows) {
        let got: serde_json::Value = serde_json::from_str(line).unwrap();
        assert_eq!(got, row_as_json(row));
    }
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&lines[1]).unwrap()["evidence"],
        serde_json::Value::Null
    );
    // Only what `since` asks for.
    let late = audit::export_ndjson(&t, 0, T0 + 1_000).unwrap();
    assert_eq!(
        late.body.lines().count(),
        6,
        "the last 5 grants and the erasure"
    );
}

fn template_status(language: &str, status: &str) -> TemplateStatus {
    TemplateStatus {
        name: "optin_confirmation".into(),
        language: language.into(),
        id: None,
        status: status.into(),
        category: Some("UTILITY".into()),
        previous_category: None,
        rejected_reason: (status == "REJECTED").then(|| "INVALID_FORMAT".into()),
    }
}

fn queued_language(db: &Connection) -> String {
    text(
        db,
        "SELECT json_extract(request, '$.template.language.code') FROM outbox ORDER BY created_at DESC, rowid DESC LIMIT 1",
    )
}

#[test]
fn a_confirmation_skips_a_language_meta_rejected_while_another_is_approved() {
    let db = ledger();
    let keys = keys();
    let site = site(); // en, id, pt_BR, …; the consent's locale is en
    let tx = tx(&db, &keys, T0);
    // Nothing known yet: the person's own language, as ever.
    record(&tx, &consent(&site, PHONE, &["order_updates"]));
    assert_eq!(queued_language(&db), "en");
    // en rejected, id approved, the rest pending: id.
    let statuses = vec![
        template_status("en", "REJECTED"),
        template_status("id", "APPROVED"),
        template_status("pt_BR", "PENDING"),
    ];
    templates::record(&db, &statuses, T0).unwrap();
    let tx = self::tx(&db, &keys, T0 + 1);
    record(&tx, &consent(&site, OTHER, &["order_updates"]));
    assert_eq!(queued_language(&db), "id");
    // Read again later: en approved now, so en.
    let statuses = vec![
        template_status("en", "APPROVED"),
        template_status("id", "PAUSED"),
    ];
    templates::record(&db, &statuses, T0 + 2).unwrap();
    assert_eq!(
        templates::approved(&db, "optin_confirmation").unwrap(),
        vec!["en"]
    );
    let tx = self::tx(&db, &keys, T0 + 3);
    record(&tx, &consent(&site, "+6281211112222", &["order_updates"]));
    assert_eq!(queued_language(&db), "en");
}

#[test]
fn a_confirmation_keeps_what_meta_charged_it_as() {
    let db = ledger();
    let keys = keys();
    let site = site();
    let tx = tx(&db, &keys, T0);
    let recorded = record(&tx, &consent(&site, PHONE, &["order_updates"]));
    let status: whatsapp_cloud_api::webhook::Status = serde_json::from_value(serde_json::json!({
        "id": "wamid.X", "status": "delivered", "timestamp": "1700000001", "recipient_id": "6281234567890",
        "biz_opaque_callback_data": recorded.id,
        "pricing": {"billable": true, "pricing_model": "PMP", "category": "utility"}
    }))
    .unwrap();
    assert!(queue::apply_status(&db, &status, T0 + 1).unwrap());
    let view = subscriber::view(&tx, PHONE).unwrap().unwrap();
    let statuses = &view.confirmations[0].statuses;
    assert_eq!(statuses[0].pricing_category.as_deref(), Some("utility"));
}

#[test]
fn the_csv_export_written_by_sqlite_is_the_edges_rendering_of_the_rows_in_pages() {
    // Besides the fixture's erased person and non-JSON evidence, cells a
    // spreadsheet would read as formulas or split.
    let (db, keys, _) = export_fixture();
    db.execute(
        "UPDATE events SET evidence = '=SUM(A1)' || char(13) || char(10) || 'x' WHERE seq = 3",
        [],
    )
    .unwrap();
    db.execute("UPDATE events SET evidence = '@x,\"y\"' WHERE seq = 4", [])
        .unwrap();
    let t = tx(&db, &keys, T0 + HOUR);
    let (mut after, mut pages) = (0, 0);
    loop {
        let page = audit::export_csv(&t, after, 0).unwrap();
        let old = audit::export_page(&t, after, 0).unwrap();
        assert_eq!(page.next, old.next, "the same pages");
        let rendered = String::from_utf8(crate::edge::admin::render_csv(&old.events)).unwrap();
        assert_eq!(page.body, rendered, "page after {after}");
        pages += 1;
        match page.next {
            Some(seq) => after = seq,
            None => break,
        }
    }
    assert_eq!(pages, 2);
    let first = audit::export_csv(&t, 0, 0).unwrap().body;
    assert!(
        first.contains(",'+62"),
        "a phone is defused: {}",
        &first[..200]
    );
    assert!(
        first.contains("\"'=SUM(A1)\r\nx\""),
        "a formula is defused and quoted"
    );
    assert!(first.contains(",\"'@x,\"\"y\"\"\","), "quotes are doubled");
}
