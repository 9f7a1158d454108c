//! One person's history, state, confirmations and double opt-in requests, as
//! the admin API shows them.

use consent_core::states::{SubscriberSummary, SubscriptionStatus};
use consent_core::Category;
use serde::Deserialize;
use worker::Result;

use super::{double_optin, queue, tx::Tx};
use crate::protocol::{DoubleOptInView, EventView, StateRow, SubscriberView};

/// One person's full history and current state; `None` if nothing is recorded.
pub fn view(tx: &Tx, phone: &str) -> Result<Option<SubscriberView>> {
    double_optin::expire_due(tx)?;
    let events: Vec<EventRow> = tx.db.rows(
        "SELECT id, kind, categories, evidence, server_ts, prev_hash, hash
             FROM events WHERE phone = ? ORDER BY seq",
        &[phone.into()],
    )?;
    if events.is_empty() {
        return Ok(None);
    }
    let mut state: Vec<StateRow> = tx.db.rows(
        "SELECT category, status, event_id, updated_at FROM subscriptions
             WHERE phone = ? ORDER BY category",
        &[phone.into()],
    )?;
    let channels = super::changes::channels(tx, phone)?;
    for row in &mut state {
        if let Some(ch) = Category::parse(&row.category).and_then(|c| channels.get(&c).copied()) {
            row.channel = ch;
        }
    }
    let confirmations = queue::for_phone(tx.db, phone)?;
    let double_opt_in = double_optin::history(tx.db, phone)?
        .into_iter()
        .map(DoubleOptInView::from)
        .collect();
    Ok(Some(SubscriberView {
        status: summary(&state).to_owned(),
        phone: phone.to_owned(),
        events: events.into_iter().map(EventView::from).collect(),
        state,
        confirmations,
        double_opt_in,
        messages: super::sending::for_phone(tx.db, phone)?,
    }))
}

#[derive(Deserialize)]
struct EventRow {
    id: String,
    kind: String,
    categories: String,
    evidence: Option<String>,
    server_ts: i64,
    prev_hash: String,
    hash: String,
}

impl From<EventRow> for EventView {
    fn from(r: EventRow) -> Self {
        EventView {
            id: r.id,
            kind: r.kind,
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            evidence: r
                .evidence
                .and_then(|e| serde_json::from_str(&e).ok())
                .unwrap_or_default(),
            server_ts: r.server_ts,
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

impl From<double_optin::Request> for DoubleOptInView {
    fn from(r: double_optin::Request) -> Self {
        DoubleOptInView {
            categories: serde_json::from_str(&r.categories).unwrap_or_default(),
            consent_id: r.consent_id,
            status: r.status,
            requested_at: r.created_at,
            expires_at: r.expires_at,
            resolved_at: r.resolved_at,
            resolved_by: r.resolved_by,
        }
    }
}

/// One word for a person's state over all categories, most engaged first.
fn summary(state: &[StateRow]) -> &'static str {
    let statuses: Vec<SubscriptionStatus> = state
        .iter()
        .filter_map(|r| SubscriptionStatus::parse(&r.status))
        .collect();
    SubscriberSummary::of(&statuses).as_str()
}
