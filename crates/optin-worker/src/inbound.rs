//! What a site's ledger does with a verified webhook: status updates for the
//! outbox, and the person's own messages — opt-out keywords and the template's
//! `OPTOUT:<consent id>` button withdraw everything, START re-subscribes, HELP
//! explains — each confirmed by a text reply in their language.

use consent_core::{ids::uuid7, keywords, normalize_phone, Category, Keyword, Locale, SiteConfig};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::{
    webhook::{ChangeValue, InboundMessage},
    MessageRequest,
};
use worker::{Result, SqlStorage};

use crate::{
    ledger::{random_bytes, SiteLedger},
    outbox,
};

/// What the edge worker hands the ledger: one business number's changes.
#[derive(Debug, Serialize, Deserialize)]
pub struct WebhookBatch {
    /// The site that number belongs to.
    pub site: SiteConfig,
    /// `value`s of its `messages` changes.
    pub changes: Vec<ChangeValue>,
}

/// Counts, for logs and tests.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Applied {
    /// Status updates applied.
    pub statuses: u32,
    /// Inbound messages acted on.
    pub messages: u32,
    /// Redeliveries and unknown statuses ignored.
    pub ignored: u32,
    /// Replies queued.
    pub replies: u32,
}

/// What one inbound message asks for.
#[derive(Debug, Clone, PartialEq)]
enum Action {
    /// Withdraw everything; `method` is `keyword` or `quick_reply`, `said` what they sent.
    OptOut { method: &'static str, said: String },
    /// Re-grant what was withdrawn.
    OptIn { said: String },
    /// Explain.
    Help,
}

/// Applies a batch; redelivered messages and statuses change nothing.
pub fn apply(ledger: &SiteLedger, batch: &WebhookBatch) -> Result<Applied> {
    let sql = ledger.sql();
    let now = worker::Date::now().as_millis() as i64;
    let mut applied = Applied::default();
    for value in &batch.changes {
        for status in &value.statuses {
            if outbox::apply_status(&sql, status, now)? {
                applied.statuses += 1;
            } else {
                applied.ignored += 1;
            }
        }
        for message in &value.messages {
            let action = action_for(message);
            if !first_delivery(&sql, message, action.as_ref(), now)? {
                applied.ignored += 1;
                continue;
            }
            let Some(action) = action else { continue };
            applied.messages += 1;
            if handle(ledger, &batch.site, message, action, now)? {
                applied.replies += 1;
            }
        }
    }
    Ok(applied)
}

fn action_for(m: &InboundMessage) -> Option<Action> {
    if let Some(payload) = m.reply_payload() {
        return payload.starts_with("OPTOUT:").then(|| Action::OptOut {
            method: "quick_reply",
            said: payload.chars().take(100).collect(),
        });
    }
    let text = m.text_body()?;
    let said: String = text.trim().chars().take(40).collect();
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
    sql: &SqlStorage,
    m: &InboundMessage,
    action: Option<&Action>,
    now: i64,
) -> Result<bool> {
    let action = action.map(|a| match a {
        Action::OptOut { .. } => "opt_out",
        Action::OptIn { .. } => "opt_in",
        Action::Help => "help",
    });
    let fresh: Vec<serde_json::Value> = sql
        .exec(
            "INSERT INTO inbound_messages (id, phone, kind, action, received_at)
             VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
            vec![
                m.id.as_str().into(),
                m.from.as_str().into(),
                m.kind.as_str().into(),
                action.into(),
                now.into(),
            ],
        )?
        .to_array()?;
    Ok(!fresh.is_empty())
}

/// Acts on one message from a person the ledger knows; true when a reply was queued.
fn handle(
    ledger: &SiteLedger,
    site: &SiteConfig,
    m: &InboundMessage,
    action: Action,
    now: i64,
) -> Result<bool> {
    let Ok(phone) = normalize_phone(&format!("+{}", m.from), site.default_calling_code) else {
        return Ok(false);
    };
    let phone = phone.as_str();
    let sql = ledger.sql();
    let Some(locale) = last_grant_locale(&sql, phone)? else {
        return Ok(false); // never opted in here: nothing to withdraw or confirm
    };
    let strings = locale.strings();
    let reply = match action {
        Action::OptOut { method, said } => {
            let granted = categories_in(&sql, phone, "granted")?;
            if !granted.is_empty() {
                let evidence = in_thread_evidence(m, method, &said, locale, site);
                change_all(
                    ledger,
                    phone,
                    &granted,
                    "withdraw",
                    "withdrawn",
                    &evidence,
                    now,
                )?;
            }
            outbox::suppress_pending(&sql, phone, now)?;
            strings.reply_opted_out
        }
        Action::OptIn { said } => {
            let withdrawn = categories_in(&sql, phone, "withdrawn")?;
            if !withdrawn.is_empty() {
                let evidence = in_thread_evidence(m, "keyword", &said, locale, site);
                change_all(
                    ledger, phone, &withdrawn, "grant", "granted", &evidence, now,
                )?;
            }
            strings.reply_opted_in
        }
        Action::Help => strings.reply_help,
    };
    queue_reply(&sql, site, phone, &m.id, reply, now)?;
    Ok(true)
}

/// One event for all `categories`, and their state, in one synchronous write.
fn change_all(
    ledger: &SiteLedger,
    phone: &str,
    categories: &[Category],
    kind: &str,
    state: &str,
    evidence: &str,
    now: i64,
) -> Result<()> {
    let id = uuid7(now as u64, random_bytes()?);
    ledger.append_event(&id, kind, phone, categories, now, evidence)?;
    for category in categories {
        ledger.set_state(phone, *category, state, &id, now)?;
    }
    Ok(())
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
}

fn in_thread_evidence(
    m: &InboundMessage,
    method: &str,
    said: &str,
    locale: Locale,
    site: &SiteConfig,
) -> String {
    serde_json::to_string(&InThread {
        source: "in_thread",
        method,
        said,
        inbound_message_id: &m.id,
        inbound_ts: &m.timestamp,
        locale: locale.tag(),
        business_name: &site.business_name,
        phone_number_id: &site.whatsapp.phone_number_id,
    })
    .unwrap_or_default()
}

fn queue_reply(
    sql: &SqlStorage,
    site: &SiteConfig,
    phone: &str,
    inbound_id: &str,
    text: &str,
    now: i64,
) -> Result<()> {
    let id = uuid7(now as u64, random_bytes()?);
    let body = text.replace("{business}", &site.business_name);
    let message = MessageRequest::text(phone, &body, &id);
    outbox::enqueue_row(sql, &id, inbound_id, phone, site, &message, now)
}

#[derive(Deserialize)]
struct EvidenceRow {
    evidence: String,
}

/// The locale of the person's latest grant, or None if they never opted in.
fn last_grant_locale(sql: &SqlStorage, phone: &str) -> Result<Option<Locale>> {
    let row = sql
        .exec(
            "SELECT evidence FROM events WHERE phone = ? AND kind = 'grant' ORDER BY seq DESC LIMIT 1",
            vec![phone.into()],
        )?
        .to_array::<EvidenceRow>()?
        .pop();
    Ok(row.map(|r| {
        serde_json::from_str::<serde_json::Value>(&r.evidence)
            .ok()
            .and_then(|v| Locale::from_tag(v["locale"].as_str()?))
            .unwrap_or(Locale::En)
    }))
}

#[derive(Deserialize)]
struct CategoryRow {
    category: String,
}

fn categories_in(sql: &SqlStorage, phone: &str, status: &str) -> Result<Vec<Category>> {
    let rows: Vec<CategoryRow> = sql
        .exec(
            "SELECT category FROM subscriptions WHERE phone = ? AND status = ? ORDER BY category",
            vec![phone.into(), status.into()],
        )?
        .to_array()?;
    Ok(rows
        .iter()
        .filter_map(|r| Category::parse(&r.category))
        .collect())
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
        }
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
}
