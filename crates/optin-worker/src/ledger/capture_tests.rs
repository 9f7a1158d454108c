//! Captured consents in the ledger, natively on rusqlite: double opt-in forced
//! on a site that has it off for the web, turned off per surface, the capture
//! evidence chained, the state a desk polls, and the surface in webhooks.

use consent_core::{CaptureRequest, CaptureSurface, Locale, SiteConfig, Surface};
use rusqlite::Connection;
use serde_json::Value as Json;

use super::{
    double_optin, hooks,
    tests::{consent, keys, ledger, record, site, text, tx, verified, PHONE, T0},
};
use crate::protocol::{ConsentProgress, HookEndpoint, HookSecret, RecordConsent};

fn captured(site: &SiteConfig, surface: Surface) -> RecordConsent {
    let request = CaptureRequest {
        phone: PHONE.into(),
        categories: vec!["order_updates".into()],
        locale: "en".into(),
        notice_version: site.notice_version,
        notice_text: site.capture_notice(surface, Locale::En).text,
        surface: surface.as_str().into(),
        collected_by: "desk-3".into(),
        location: Some("Jakarta".into()),
        form_ref: (surface == Surface::Paper).then(|| "FORM-1".into()),
    };
    let mut cmd = consent(site, PHONE, &["order_updates"]);
    cmd.consent = request.validate(site).unwrap();
    cmd
}

fn grant_evidence(db: &Connection) -> Json {
    serde_json::from_str(&text(
        db,
        "SELECT evidence FROM events WHERE kind = 'grant'",
    ))
    .unwrap()
}

#[test]
fn a_capture_waits_for_confirmation_even_where_the_web_does_not() {
    let (db, keys) = (ledger(), keys());
    let site = site();
    assert!(
        site.double_opt_in().is_none(),
        "the web is single opt-in here"
    );
    let t = tx(&db, &keys, T0);
    let recorded = record(&t, &captured(&site, Surface::InPerson));
    assert!(recorded.pending_until.is_some());
    let evidence = grant_evidence(&db);
    assert_eq!(evidence["surface"], "in_person");
    assert_eq!(evidence["capture"]["collected_by"], "desk-3");
    assert_eq!(evidence["capture"]["double_opt_in"], "required");
    assert_eq!(evidence["template_name"], "optin_double_confirmation");
    let state = double_optin::state(&t, &recorded.id).unwrap().unwrap();
    assert_eq!(state.status, ConsentProgress::Pending);
    assert!(verified(&t));
}

#[test]
fn a_site_may_turn_it_off_for_one_surface() {
    let (db, keys) = (ledger(), keys());
    let mut site = site();
    site.capture.insert(
        Surface::Paper,
        CaptureSurface {
            double_opt_in: false,
            notice: Default::default(),
        },
    );
    let t = tx(&db, &keys, T0);
    let recorded = record(&t, &captured(&site, Surface::Paper));
    assert_eq!(recorded.pending_until, None);
    let evidence = grant_evidence(&db);
    assert_eq!(evidence["capture"]["double_opt_in"], "off_by_site");
    assert_eq!(evidence["capture"]["form_ref"], "FORM-1");
    let state = double_optin::state(&t, &recorded.id).unwrap().unwrap();
    assert_eq!(state.status, ConsentProgress::Granted);
    assert!(double_optin::state(&t, "no-such-consent")
        .unwrap()
        .is_none());
}

#[test]
fn granted_and_confirmed_webhooks_name_the_surface() {
    let (db, keys) = (ledger(), keys());
    let endpoint = HookEndpoint {
        id: "whe_crm".into(),
        site: "demo".into(),
        url: "https://crm.example.com/hooks".into(),
        events: vec![],
        secrets: vec![HookSecret {
            secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".into(),
            expires_at: None,
        }],
        paused: false,
        created_at: T0,
        resumed_at: None,
    };
    hooks::sync(&db, "demo", &[endpoint], T0).unwrap();
    let t = tx(&db, &keys, T0 + 1);
    let recorded = record(&t, &captured(&site(), Surface::InPerson));
    let request = double_optin::find(&db, &recorded.id).unwrap().unwrap();
    double_optin::confirm(&t, &request, "{\"method\":\"quick_reply\"}").unwrap();
    let mut stmt = db
        .prepare("SELECT type, payload FROM hook_deliveries ORDER BY seq")
        .unwrap();
    let rows: Vec<(String, Json)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get::<_, String>(1)?)))
        .unwrap()
        .map(|r| {
            let (kind, p) = r.unwrap();
            (kind, serde_json::from_str(&p).unwrap())
        })
        .collect();
    let kinds: Vec<&str> = rows.iter().map(|(k, _)| k.as_str()).collect();
    assert_eq!(kinds, ["consent.granted", "consent.confirmed"]);
    for (kind, payload) in &rows {
        assert_eq!(payload["data"]["surface"], "in_person", "{kind}");
        assert_eq!(
            payload["data"]["capture"]["collected_by"], "desk-3",
            "{kind}"
        );
    }
}
