//! Changes a person makes after opting in (preference centre): updates and
//! withdrawals, each a ledger event written with the derived state.

use consent_core::states::{EventKind, SubscriptionStatus};
use consent_core::Category;
use serde::Deserialize;
use worker::Result;

use super::{
    double_optin, queue,
    tx::{Event, Tx},
};
use crate::protocol::{day_number, Change, Channel, Channels, Frequency, Preferences};

#[derive(Deserialize)]
struct EvidenceRow {
    evidence: Option<String>,
}

#[derive(Deserialize)]
struct ChannelsRow {
    seq: i64,
    channels: String,
}

#[derive(Deserialize)]
struct CategoriesRow {
    categories: String,
}

#[derive(Deserialize)]
struct GrantRow {
    phone: String,
    evidence: Option<String>,
}

/// The phone and locale behind a consent id, if it still holds personal data.
fn subject_of(tx: &Tx, consent_id: &str) -> Result<Option<(String, String)>> {
    let rows: Vec<GrantRow> = tx.db.rows(
        "SELECT phone, evidence FROM events WHERE id = ? AND phone IS NOT NULL",
        &[consent_id.into()],
    )?;
    Ok(rows.into_iter().next().map(|r| {
        let locale = r
            .evidence
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
            .and_then(|v| v.get("locale").and_then(|l| l.as_str()).map(str::to_owned))
            .unwrap_or_else(|| "en".to_owned());
        (r.phone, locale)
    }))
}

/// Categories waiting for a double opt-in confirmation.
fn pending_categories(tx: &Tx, phone: &str) -> Result<Vec<Category>> {
    tx.categories_with(phone, SubscriptionStatus::Pending)
}

/// Current choices for the person behind `consent_id`.
pub fn preferences(tx: &Tx, consent_id: &str) -> Result<Option<Preferences>> {
    let Some((phone, locale)) = subject_of(tx, consent_id)? else {
        return Ok(None);
    };
    let (frequency, paused_until) = delivery(tx, &phone)?;
    let today = tx.now / 86_400_000;
    Ok(Some(Preferences {
        granted: tx.granted(&phone)?,
        locale,
        frequency,
        paused_until: paused_until.filter(|d| day_number(d).is_some_and(|n| n > today)),
        channels: channels(tx, &phone)?,
    }))
}

/// The categories `phone` last asked for by email or SMS. A later opt-in to a
/// category (widget, thread, confirmation) asks for WhatsApp again.
pub(super) fn channels(tx: &Tx, phone: &str) -> Result<Channels> {
    let Some(last) = tx
        .db
        .rows::<ChannelsRow>(
            "SELECT seq, json_extract(evidence, '$.channels') AS channels FROM events
             WHERE phone = ? AND evidence IS NOT NULL
               AND json_extract(evidence, '$.channels') IS NOT NULL
             ORDER BY seq DESC LIMIT 1",
            &[phone.into()],
        )?
        .pop()
    else {
        return Ok(Channels::new());
    };
    let mut chosen: Channels = serde_json::from_str::<Channels>(&last.channels)
        .unwrap_or_default()
        .into_iter()
        .filter(|(_, ch)| *ch != Channel::Whatsapp)
        .collect();
    if chosen.is_empty() {
        return Ok(chosen);
    }
    let later: Vec<CategoriesRow> = tx.db.rows(
        "SELECT categories FROM events
         WHERE phone = ? AND seq > ? AND kind IN ('grant', 'confirm')",
        &[phone.into(), last.seq.into()],
    )?;
    for row in later {
        for c in serde_json::from_str::<Vec<Category>>(&row.categories).unwrap_or_default() {
            chosen.remove(&c);
        }
    }
    Ok(chosen)
}

/// `old` with the change's channels applied, WhatsApp entries dropped.
fn merged(old: &Channels, asked: Option<&Channels>) -> Channels {
    let mut out = old.clone();
    for (c, ch) in asked.into_iter().flatten() {
        match ch {
            Channel::Whatsapp => out.remove(c),
            other => out.insert(c.clone(), *other),
        };
    }
    out
}

/// What the evidence records of a channel change: every category whose channel
/// was or is not WhatsApp, so the latest such event is the whole state.
fn channels_evidence(old: &Channels, new: &Channels) -> serde_json::Value {
    let all: Channels = old
        .keys()
        .map(|c| (c.clone(), Channel::Whatsapp))
        .chain(new.iter().map(|(c, ch)| (c.clone(), *ch)))
        .collect();
    serde_json::to_value(all).unwrap_or_default()
}

/// The frequency and pause last recorded for `phone` (defaults when never set).
pub(super) fn delivery(tx: &Tx, phone: &str) -> Result<(Frequency, Option<String>)> {
    let rows: Vec<EvidenceRow> = tx.db.rows(
        "SELECT evidence FROM events WHERE phone = ? AND evidence IS NOT NULL
               AND json_extract(evidence, '$.frequency') IS NOT NULL
             ORDER BY seq DESC LIMIT 1",
        &[phone.into()],
    )?;
    let Some(v) = rows
        .into_iter()
        .next()
        .and_then(|r| r.evidence)
        .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
    else {
        return Ok((Frequency::default(), None));
    };
    let frequency = v["frequency"]
        .as_str()
        .and_then(Frequency::parse)
        .unwrap_or_default();
    Ok((frequency, v["paused_until"].as_str().map(str::to_owned)))
}

/// Applies a change as one `update` (or `withdraw`, when nothing is left) event;
/// a change that changes nothing records nothing.
pub fn change(tx: &Tx, change: &Change) -> Result<Option<Preferences>> {
    let Some((phone, locale)) = subject_of(tx, &change.consent_id)? else {
        return Ok(None);
    };
    let before = tx.granted(&phone)?;
    let (old_frequency, old_pause) = delivery(tx, &phone)?;
    let mut after = change.granted.clone();
    after.sort();
    after.dedup();
    let frequency = change.frequency.unwrap_or(old_frequency);
    let paused_until = change.paused_until.clone().unwrap_or(old_pause.clone());
    let delivery_changed = frequency != old_frequency || paused_until != old_pause;
    let old_channels = channels(tx, &phone)?;
    let new_channels = merged(&old_channels, change.channels.as_ref());
    let channels_changed = new_channels != old_channels;
    let other_changed = delivery_changed || channels_changed;
    // Double opt-in: a category waiting for confirmation is granted only by
    // the person's own confirmation in WhatsApp; this link is no proof the
    // number is theirs. Opting out still works (and ends what was waiting).
    let pending = pending_categories(tx, &phone)?;
    let asked = !after.is_empty();
    after.retain(|c| !pending.contains(c));
    // Nothing ticked and nothing else changed: an opt-out, of what waits too.
    let cancels_pending = after.is_empty() && !pending.is_empty() && !other_changed;
    if (asked && after.is_empty()) || (after == before && !other_changed && !cancels_pending) {
        return preferences(tx, &change.consent_id);
    }
    let (now, sql) = (tx.now, tx.db);
    let mut withdrawn: Vec<Category> = before
        .iter()
        .filter(|c| !after.contains(c))
        .cloned()
        .collect();
    if cancels_pending {
        withdrawn.extend(pending.iter().cloned());
    }
    let kind = if after.is_empty() && !withdrawn.is_empty() {
        EventKind::Withdraw
    } else {
        EventKind::Update
    };
    let mut evidence = serde_json::json!({
        "method": change.method,
        "via_consent": change.consent_id,
        "granted": after,
        "withdrawn": withdrawn,
    });
    if delivery_changed || change.frequency.is_some() {
        // Recorded in full, so the latest such event is the current state.
        evidence["frequency"] = frequency.as_str().into();
        evidence["paused_until"] = paused_until.clone().into();
    }
    if channels_changed {
        evidence["channels"] = channels_evidence(&old_channels, &new_channels);
    }
    let evidence = evidence.to_string();
    let id = tx.new_id()?;
    let state: Vec<(Category, SubscriptionStatus)> = (after
        .iter()
        .map(|c| (c.clone(), SubscriptionStatus::Granted)))
    .chain(
        withdrawn
            .iter()
            .map(|c| (c.clone(), SubscriptionStatus::Withdrawn)),
    )
    .collect();
    let event = Event {
        id: &id,
        kind,
        phone: &phone,
        categories: &after,
        evidence: &evidence,
    };
    tx.record(&event, &state)?;
    if kind == EventKind::Withdraw {
        double_optin::settle_all(sql, &phone, "withdrawn", &id, now)?;
        queue::suppress(sql, queue::Scope::Templates(&phone), "withdrawn", now)?;
    }
    Ok(Some(Preferences {
        granted: after,
        locale,
        frequency,
        paused_until,
        channels: new_channels,
    }))
}
