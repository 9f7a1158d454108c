//! What a site's ledger does with a verified webhook: status updates for the
//! queue, and the person's own messages — opt-out keywords and the template's
//! `OPTOUT:<consent id>` button withdraw everything, START re-subscribes, HELP
//! explains, the `CONFIRM:<consent id>` button or YES confirms a double opt-in,
//! the site's click-to-opt-in phrase subscribes — each answered by a text reply
//! in their language.

use consent_core::states::{ButtonPayload, EventKind, MarketingChoice, SubscriptionStatus};
use consent_core::{keywords, normalize_phone, Category, Keyword, Locale, SiteConfig};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::{
    webhook::{InboundMessage, Referral, Status, UserPreference},
    MessageRequest,
};
use worker::Result;

use super::{double_optin, queue, store::Db, tx::Tx};
use crate::protocol::{Applied, WebhookBatch};

/// What one inbound message asks for.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    /// Withdraw everything; `method` is `keyword` or `quick_reply`, `said` what they sent.
    OptOut { method: &'static str, said: String },
    /// Re-grant what was withdrawn.
    OptIn { said: String },
    /// Explain.
    Help,
    /// Confirm a double opt-in: the button names the consent, a word confirms all pending.
    Confirm {
        method: &'static str,
        said: String,
        consent_id: Option<String>,
    },
    /// The site's click-to-opt-in phrase.
    JoinPhrase { said: String },
    /// `system` `user_changed_number`: the old number's grants end here.
    NumberChanged { new_wa_id: String },
}

/// Applies a batch; redelivered messages and statuses change nothing.
pub fn apply(tx: &Tx, batch: &WebhookBatch) -> Result<Applied> {
    let (sql, now) = (tx.db, tx.now);
    double_optin::expire_due(tx)?;
    let mut applied = Applied::default();
    for value in &batch.changes {
        for status in &value.statuses {
            if queue::apply_status(sql, status, now)? {
                applied.statuses += 1;
                super::hooks::on_status(tx, status)?;
                if stopped_marketing(status) {
                    let evidence = MarketingEvidence::send_error(status, &batch.site);
                    marketing_choice(tx, &status.recipient_id, "stop", &evidence)?;
                    applied.preferences += 1;
                }
            } else {
                applied.ignored += 1;
            }
        }
        for pref in &value.user_preferences {
            if pref.category != "marketing_messages" || !first_preference(sql, pref, now)? {
                applied.ignored += 1;
                continue;
            }
            let evidence = MarketingEvidence::user_preferences(pref, &batch.site);
            marketing_choice(tx, &pref.wa_id, &pref.value, &evidence)?;
            applied.preferences += 1;
        }
        for message in &value.messages {
            let action = action_for(message, &batch.site);
            if !first_delivery(sql, message, action.as_ref(), now)? {
                applied.ignored += 1;
                continue;
            }
            let Some(action) = action else { continue };
            applied.messages += 1;
            if handle(tx, &batch.site, message, action)? {
                applied.replies += 1;
            }
        }
    }
    Ok(applied)
}

/// A failed status whose error is 131050: the person stopped marketing messages.
fn stopped_marketing(s: &Status) -> bool {
    s.status == "failed" && s.errors.iter().any(|e| e.code == Some(131050))
}

/// Where a marketing stop / resume came from, as the event's evidence.
#[derive(Serialize)]
pub(crate) struct MarketingEvidence {
    source: &'static str,
    category: &'static str,
    value: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    detail: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    meta_timestamp: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    wamid: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error_code: Option<i64>,
    phone_number_id: String,
}

impl MarketingEvidence {
    fn user_preferences(p: &UserPreference, site: &SiteConfig) -> MarketingEvidence {
        MarketingEvidence {
            source: "whatsapp_user_preferences",
            category: "marketing_messages",
            value: p.value.chars().take(16).collect(),
            detail: p.detail.as_ref().map(|d| d.chars().take(200).collect()),
            meta_timestamp: Some(p.timestamp.clone()),
            wamid: None,
            error_code: None,
            phone_number_id: site.whatsapp.phone_number_id.clone(),
        }
    }

    fn send_error(s: &Status, site: &SiteConfig) -> MarketingEvidence {
        MarketingEvidence::error_131050(&s.id, &site.whatsapp.phone_number_id)
    }

    /// Error 131050 on a send (its status webhook, or the send's own answer).
    pub(crate) fn error_131050(wamid: &str, phone_number_id: &str) -> MarketingEvidence {
        MarketingEvidence {
            source: "send_error",
            category: "marketing_messages",
            value: "stop".into(),
            detail: Some("131050: the person stopped marketing messages from this business".into()),
            meta_timestamp: None,
            wamid: (!wamid.is_empty()).then(|| wamid.to_owned()),
            error_code: Some(131050),
            phone_number_id: phone_number_id.to_owned(),
        }
    }
}

/// The site's marketing categories. None of ours is marketing yet (the
/// categories issue adds them); until then the choice is recorded, applied to nothing.
fn marketing_categories() -> Vec<Category> {
    Vec::new()
}

/// Records a person's marketing stop / resume as a chained `marketing_preference`
/// event and applies it to the marketing categories.
pub(crate) fn marketing_choice(
    tx: &Tx,
    wa_id: &str,
    value: &str,
    evidence: &MarketingEvidence,
) -> Result<()> {
    let Ok(phone) = normalize_phone(&format!("+{}", wa_id.trim_start_matches('+')), 0) else {
        return Ok(());
    };
    let applies = marketing_categories();
    let evidence = serde_json::to_string(evidence).unwrap_or_default();
    let state = MarketingChoice::of_meta_value(value).status();
    tx.record_all(
        phone.as_str(),
        &applies,
        EventKind::MarketingPreference,
        state,
        &evidence,
    )
    .map(drop)
}

/// Records a `user_preferences` item; false when it was seen before (no id: keyed
/// by person, value and Meta's timestamp).
fn first_preference(sql: &dyn Db, p: &UserPreference, now: i64) -> Result<bool> {
    let key = format!(
        "pref:{}:{}:{}:{}",
        p.wa_id, p.category, p.value, p.timestamp
    );
    let fresh: Vec<serde_json::Value> = sql.rows(
        "INSERT INTO inbound_messages (id, phone, kind, action, received_at)
             VALUES (?, ?, 'user_preferences', ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        &[
            key.into(),
            p.wa_id.as_str().into(),
            p.value.as_str().into(),
            now.into(),
        ],
    )?;
    Ok(!fresh.is_empty())
}

fn action_for(m: &InboundMessage, site: &SiteConfig) -> Option<Action> {
    if let Some(system) = m.system.as_ref().filter(|_| m.kind == "system") {
        let new_wa_id = system
            .wa_id
            .as_deref()
            .filter(|_| system.kind == "user_changed_number")?;
        return Some(Action::NumberChanged {
            new_wa_id: new_wa_id.chars().take(32).collect(),
        });
    }
    if let Some(payload) = m.reply_payload() {
        let said: String = payload.chars().take(100).collect();
        if let Some(ButtonPayload::Confirm(id)) = ButtonPayload::parse(payload) {
            return Some(Action::Confirm {
                method: "quick_reply",
                consent_id: Some(id),
                said,
            });
        }
        // Ours (`OPTOUT:…`), or a button whose payload or label is a stop phrase:
        // Meta's "Stop promotions", a merchant's "Unsubscribe".
        let label = m.reply_label().unwrap_or_default();
        let stop = payload.starts_with(ButtonPayload::OPT_OUT_PREFIX)
            || keywords::classify(payload) == Some(Keyword::OptOut)
            || keywords::classify(label) == Some(Keyword::OptOut);
        return stop.then_some(Action::OptOut {
            method: "quick_reply",
            said,
        });
    }
    let text = m.text_body()?;
    if site.is_optin_keyword(text) {
        return Some(Action::JoinPhrase {
            said: text.trim().chars().take(200).collect(),
        });
    }
    let said: String = text.trim().chars().take(40).collect();
    if keywords::is_confirmation(text) {
        return Some(Action::Confirm {
            method: "keyword",
            said,
            consent_id: None,
        });
    }
    match keywords::classify(text)? {
        Keyword::OptOut => Some(Action::OptOut {
            method: "keyword",
            said,
        }),
        Keyword::OptIn => Some(Action::OptIn { said }),
        Keyword::Help => Some(Action::Help),
    }
}

/// Records the inbound message id; false when it was seen before (Meta redelivers).
fn first_delivery(
    sql: &dyn Db,
    m: &InboundMessage,
    action: Option<&Action>,
    now: i64,
) -> Result<bool> {
    let action = action.map(|a| match a {
        Action::OptOut { .. } => "opt_out",
        Action::OptIn { .. } => "opt_in",
        Action::Help => "help",
        Action::Confirm { .. } => "confirm",
        Action::JoinPhrase { .. } => "join_phrase",
        Action::NumberChanged { .. } => "number_changed",
    });
    let fresh: Vec<serde_json::Value> = sql.rows(
        "INSERT INTO inbound_messages (id, phone, kind, action, received_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        &[
            m.id.as_str().into(),
            m.from.as_str().into(),
            m.kind.as_str().into(),
            action.into(),
            now.into(),
        ],
    )?;
    Ok(!fresh.is_empty())
}

/// Acts on one message; true when a reply was queued.
fn handle(tx: &Tx, site: &SiteConfig, m: &InboundMessage, action: Action) -> Result<bool> {
    let now = tx.now;
    let Ok(phone) = normalize_phone(&format!("+{}", m.from), site.default_calling_code) else {
        return Ok(false);
    };
    let phone = phone.as_str();
    let sql = tx.db;
    let known = last_grant_locale(sql, phone)?;
    // Someone new writes in their number's language, else the site's.
    let locale = known
        .or_else(|| Locale::for_phone(phone))
        .unwrap_or(site.default_locale);
    let ctx = Thread {
        tx,
        site,
        m,
        phone,
        locale,
        now,
    };
    let reply = match action {
        Action::JoinPhrase { said } => ctx.join(&said)?,
        Action::Confirm {
            method,
            said,
            consent_id: Some(id),
        } => ctx.confirm_one(&id, method, &said)?,
        Action::Confirm {
            method,
            said,
            consent_id: None,
        } => match ctx.confirm_all(method, &said)? {
            Some(reply) => reply,
            // Nothing pending: YES is also START. A bare "yes" or "confirm" in
            // a conversation with nothing to confirm gets no automatic answer.
            None if keywords::classify(&said) == Some(Keyword::OptIn) && known.is_some() => {
                ctx.opt_in(&said)?
            }
            None => return Ok(false),
        },
        _ if known.is_none() => return Ok(false), // never opted in here: nothing to withdraw
        Action::NumberChanged { new_wa_id } => {
            // The old number is gone: nothing is sent to it, not even a reply.
            ctx.number_changed(&new_wa_id)?;
            return Ok(false);
        }
        Action::OptOut { method, said } => ctx.opt_out(method, &said)?,
        Action::OptIn { said } => match ctx.confirm_all("keyword", &said)? {
            Some(reply) => reply,
            None => ctx.opt_in(&said)?,
        },
        Action::Help => locale.strings().reply_help,
    };
    queue_reply(tx, site, phone, &m.id, reply)?;
    Ok(true)
}

/// One inbound message and who sent it, for the actions below.
struct Thread<'a> {
    tx: &'a Tx<'a>,
    site: &'a SiteConfig,
    m: &'a InboundMessage,
    phone: &'a str,
    locale: Locale,
    now: i64,
}

impl Thread<'_> {
    fn evidence(
        &self,
        source: &'static str,
        method: &str,
        said: &str,
        confirms: Option<&str>,
    ) -> String {
        in_thread_evidence(
            self.m,
            source,
            method,
            said,
            self.locale,
            self.site,
            confirms,
        )
    }

    /// Withdraws everything granted or waiting for confirmation.
    fn opt_out(&self, method: &'static str, said: &str) -> Result<&'static str> {
        self.withdraw_held(|| self.evidence("in_thread", method, said, None))?;
        let scope = queue::Scope::Templates(self.phone);
        queue::suppress(self.tx.db, scope, "withdrawn", self.now)?;
        Ok(self.locale.strings().reply_opted_out)
    }

    /// Withdraws every category the person holds (granted or pending) in one
    /// chained event with `evidence`, and settles their pending confirmations;
    /// nothing is recorded when they hold none.
    fn withdraw_held(&self, evidence: impl FnOnce() -> String) -> Result<()> {
        let sql = self.tx.db;
        let mut held = self
            .tx
            .categories_with(self.phone, SubscriptionStatus::Granted)?;
        held.extend(
            self.tx
                .categories_with(self.phone, SubscriptionStatus::Pending)?,
        );
        held.sort();
        if held.is_empty() {
            return Ok(());
        }
        let id = self.tx.record_all(
            self.phone,
            &held,
            EventKind::Withdraw,
            SubscriptionStatus::Withdrawn,
            &evidence(),
        )?;
        double_optin::settle_all(sql, self.phone, "withdrawn", &id, self.now)
    }

    /// `user_changed_number`: every grant of the old number is withdrawn (reason
    /// `number_changed`, naming the new wa_id) and everything queued for it is
    /// suppressed. The new number holds nothing until it consents itself.
    fn number_changed(&self, new_wa_id: &str) -> Result<()> {
        self.withdraw_held(|| {
            serde_json::to_string(&NumberChange {
                source: "whatsapp_system",
                method: "number_changed",
                reason: "number_changed",
                new_wa_id,
                inbound_message_id: &self.m.id,
                inbound_ts: &self.m.timestamp,
                business_name: &self.site.business_name,
                phone_number_id: &self.site.whatsapp.phone_number_id,
            })
            .unwrap_or_default()
        })?;
        let scope = queue::Scope::Everything(self.phone);
        let reason = "the number changed hands (user_changed_number)";
        queue::suppress(self.tx.db, scope, reason, self.now)
    }

    /// START: re-grants what was withdrawn, or lapsed unconfirmed (they ask for it now, in their own thread).
    fn opt_in(&self, said: &str) -> Result<&'static str> {
        let mut back = self
            .tx
            .categories_with(self.phone, SubscriptionStatus::Withdrawn)?;
        back.extend(
            self.tx
                .categories_with(self.phone, SubscriptionStatus::Expired)?,
        );
        back.sort();
        if !back.is_empty() {
            let evidence = self.evidence("in_thread", "keyword", said, None);
            self.tx.record_all(
                self.phone,
                &back,
                EventKind::Grant,
                SubscriptionStatus::Granted,
                &evidence,
            )?;
        }
        Ok(self.locale.strings().reply_opted_in)
    }

    /// The Confirm button of one request: only the person it was sent to can confirm it.
    fn confirm_one(&self, consent_id: &str, method: &str, said: &str) -> Result<&'static str> {
        let texts = self.locale.whatsapp();
        let request = double_optin::find(self.tx.db, consent_id)?.filter(|r| r.phone == self.phone);
        Ok(match request {
            Some(r) if r.status == "pending" => {
                let evidence = self.evidence("in_thread", method, said, Some(&r.consent_id));
                double_optin::confirm(self.tx, &r, &evidence)?;
                texts.reply_confirmed
            }
            // Tapped again after confirming: nothing more to record.
            Some(r) if r.status == "confirmed" => texts.reply_confirmed,
            _ => texts.reply_not_pending,
        })
    }

    /// YES (or START): confirms every request still waiting; `None` when none is.
    fn confirm_all(&self, method: &str, said: &str) -> Result<Option<&'static str>> {
        let waiting = double_optin::pending_for(self.tx.db, self.phone)?;
        for r in &waiting {
            let evidence = self.evidence("in_thread", method, said, Some(&r.consent_id));
            double_optin::confirm(self.tx, r, &evidence)?;
        }
        Ok((!waiting.is_empty()).then_some(self.locale.whatsapp().reply_confirmed))
    }

    /// The click-to-opt-in phrase: grants every category of the site they do not
    /// hold (their own message proves the number is theirs: no confirmation needed).
    fn join(&self, said: &str) -> Result<&'static str> {
        let sql = self.tx.db;
        let held = self
            .tx
            .categories_with(self.phone, SubscriptionStatus::Granted)?;
        // Marketing is consented to one category at a time, never by a phrase.
        let new: Vec<Category> = self
            .site
            .categories
            .iter()
            .filter(|c| !c.is_marketing() && !held.contains(&c.id))
            .map(|c| c.id.clone())
            .collect();
        if !new.is_empty() {
            let evidence = self.evidence("in_thread_keyword", "keyword", said, None);
            let id = self.tx.record_all(
                self.phone,
                &new,
                EventKind::Grant,
                SubscriptionStatus::Granted,
                &evidence,
            )?;
            // Requests it overtakes are settled by it; a fresh opt-in lifts an erasure's suppression.
            double_optin::settle_all(sql, self.phone, "confirmed", &id, self.now)?;
            sql.run(
                "DELETE FROM suppressions WHERE subject_hash = ? AND reason = 'erased'",
                &[self.tx.subject(self.phone).into()],
            )?;
        }
        Ok(self.locale.whatsapp().reply_subscribed)
    }
}

/// Evidence of a withdrawal because WhatsApp says the number changed hands.
#[derive(Serialize)]
struct NumberChange<'a> {
    source: &'static str,
    method: &'static str,
    reason: &'static str,
    new_wa_id: &'a str,
    inbound_message_id: &'a str,
    inbound_ts: &'a str,
    business_name: &'a str,
    phone_number_id: &'a str,
}

/// What a Click-to-WhatsApp ad tells us about where a conversation started.
#[derive(Serialize)]
struct ReferralEvidence<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    source_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_url: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    source_type: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ctwa_clid: Option<&'a str>,
}

impl<'a> ReferralEvidence<'a> {
    fn of(r: &'a Referral) -> ReferralEvidence<'a> {
        ReferralEvidence {
            source_id: r.source_id.as_deref(),
            source_url: r.source_url.as_deref(),
            source_type: r.source_type.as_deref(),
            ctwa_clid: r.ctwa_clid.as_deref(),
        }
    }
}

/// Evidence of a change made in the WhatsApp thread.
#[derive(Serialize)]
struct InThread<'a> {
    source: &'static str,
    method: &'a str,
    said: &'a str,
    inbound_message_id: &'a str,
    inbound_ts: &'a str,
    locale: &'static str,
    business_name: &'a str,
    phone_number_id: &'a str,
    /// The double opt-in consent this confirms.
    #[serde(skip_serializing_if = "Option::is_none")]
    confirms: Option<&'a str>,
    /// For a click-to-opt-in grant: the surface it came from, as the widget's grants name theirs.
    #[serde(skip_serializing_if = "Option::is_none")]
    surface: Option<&'static str>,
    /// The ad or post the conversation came from (Click-to-WhatsApp).
    #[serde(skip_serializing_if = "Option::is_none")]
    referral: Option<ReferralEvidence<'a>>,
}

fn in_thread_evidence(
    m: &InboundMessage,
    source: &'static str,
    method: &str,
    said: &str,
    locale: Locale,
    site: &SiteConfig,
    confirms: Option<&str>,
) -> String {
    serde_json::to_string(&InThread {
        source,
        method,
        said,
        inbound_message_id: &m.id,
        inbound_ts: &m.timestamp,
        locale: locale.tag(),
        business_name: &site.business_name,
        phone_number_id: &site.whatsapp.phone_number_id,
        confirms,
        surface: (source == "in_thread_keyword").then_some("click_to_optin"),
        referral: m.referral.as_ref().map(ReferralEvidence::of),
    })
    .unwrap_or_default()
}

fn queue_reply(
    tx: &Tx,
    site: &SiteConfig,
    phone: &str,
    inbound_id: &str,
    text: &str,
) -> Result<()> {
    let (sql, now) = (tx.db, tx.now);
    let id = tx.new_id()?;
    let body = text.replace("{business}", &site.business_name);
    let message = MessageRequest::text(phone, &body, &id).replying_to(inbound_id);
    queue::enqueue_row(sql, &id, inbound_id, phone, site, &message, now)
}

#[derive(Deserialize)]
struct EvidenceRow {
    evidence: String,
}

/// The locale of the person's latest grant, or None if they never opted in.
pub(super) fn last_grant_locale(sql: &dyn Db, phone: &str) -> Result<Option<Locale>> {
    let row = sql
        .rows::<EvidenceRow>("SELECT evidence FROM events WHERE phone = ? AND kind = 'grant' ORDER BY seq DESC LIMIT 1", &[phone.into()])?
        .pop();
    Ok(row.map(|r| {
        serde_json::from_str::<serde_json::Value>(&r.evidence)
            .ok()
            .and_then(|v| Locale::from_tag(v["locale"].as_str()?))
            .unwrap_or(Locale::En)
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_cloud_api::webhook::{InboundButton, InboundText};

    fn text(body: &str) -> InboundMessage {
        InboundMessage {
            from: "6281234567890".into(),
            id: "wamid.in".into(),
            timestamp: "1700000000".into(),
            kind: "text".into(),
            text: Some(InboundText { body: body.into() }),
            button: None,
            interactive: None,
            context: None,
            referral: None,
            system: None,
        }
    }

    fn site() -> SiteConfig {
        let mut site: SiteConfig =
            serde_json::from_str(include_str!("../../sites/demo.json")).unwrap();
        site.optin_keyword = Some("JOIN ACME".into());
        site
    }

    fn action_for(m: &InboundMessage) -> Option<Action> {
        super::action_for(m, &site())
    }

    #[test]
    fn confirm_buttons_yes_and_the_opt_in_phrase_become_actions() {
        let mut tap = text("");
        tap.kind = "button".into();
        tap.text = None;
        tap.button = Some(InboundButton {
            payload: "CONFIRM:0190abc".into(),
            text: "Confirm".into(),
        });
        assert_eq!(
            action_for(&tap),
            Some(Action::Confirm {
                method: "quick_reply",
                said: "CONFIRM:0190abc".into(),
                consent_id: Some("0190abc".into()),
            })
        );
        for yes in ["YES", "Evet", "bekræft", "Sí"] {
            assert!(
                matches!(
                    action_for(&text(yes)),
                    Some(Action::Confirm {
                        method: "keyword",
                        consent_id: None,
                        ..
                    })
                ),
                "{yes}"
            );
        }
        assert_eq!(
            action_for(&text(" join  acme! ")),
            Some(Action::JoinPhrase {
                said: "join  acme!".into()
            })
        );
        assert_eq!(action_for(&text("join acme now")), None);
        let plain = super::action_for(
            &text("JOIN ACME"),
            &serde_json::from_str(include_str!("../../sites/demo.json")).unwrap(),
        );
        assert_eq!(plain, None, "no phrase configured: an ordinary message");
    }

    #[test]
    fn keywords_and_the_opt_out_button_become_actions() {
        assert!(matches!(
            action_for(&text("Berhenti")),
            Some(Action::OptOut {
                method: "keyword",
                ..
            })
        ));
        assert_eq!(
            action_for(&text("start")),
            Some(Action::OptIn {
                said: "start".into()
            })
        );
        assert_eq!(action_for(&text("INFO")), Some(Action::Help));
        assert_eq!(action_for(&text("where is my order?")), None);
        let mut tap = text("");
        tap.kind = "button".into();
        tap.text = None;
        tap.button = Some(InboundButton {
            payload: "OPTOUT:0190".into(),
            text: "Stop".into(),
        });
        assert!(matches!(
            action_for(&tap),
            Some(Action::OptOut {
                method: "quick_reply",
                ..
            })
        ));
        tap.button = Some(InboundButton {
            payload: "SOMETHING_ELSE".into(),
            text: "Hi".into(),
        });
        assert_eq!(action_for(&tap), None);
    }

    #[test]
    fn stop_phrase_buttons_and_number_changes_become_actions() {
        let tap = |payload: &str, label: &str| {
            let mut m = text("");
            m.kind = "button".into();
            m.text = None;
            m.button = Some(InboundButton {
                payload: payload.into(),
                text: label.into(),
            });
            action_for(&m)
        };
        for (payload, label) in [
            ("Stop promotions", "Stop promotions"),
            ("Unsubscribe", "Unsubscribe"),
            ("STOP", "STOP"),
            ("BTN_7", "Berhenti langganan"),
        ] {
            assert!(
                matches!(
                    tap(payload, label),
                    Some(Action::OptOut {
                        method: "quick_reply",
                        ..
                    })
                ),
                "{payload} / {label}"
            );
        }
        assert_eq!(tap("TRACK", "Track my order"), None);
        let mut sys = text("");
        sys.kind = "system".into();
        sys.text = None;
        sys.system = Some(whatsapp_cloud_api::webhook::SystemChange {
            kind: "user_changed_number".into(),
            wa_id: Some("6289999999999".into()),
            body: None,
        });
        assert_eq!(
            action_for(&sys),
            Some(Action::NumberChanged {
                new_wa_id: "6289999999999".into()
            })
        );
    }
}
