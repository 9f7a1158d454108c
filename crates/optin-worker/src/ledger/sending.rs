//! Consent-gated sending: one rule ([`decide`]) answers both "may I send?"
//! and "send this", from the person's recorded state, and every send request's
//! decision is kept. A queued message goes through the same outbox as
//! confirmations; the sender checks the rule again before it leaves.

use consent_core::{
    states::{MarketingChoice, SubscriptionStatus},
    Category, Locale,
};
use serde::Deserialize;
use whatsapp_cloud_api::MessageBody;
use worker::Result;

use super::{queue, store::Db, tx::Tx};
use crate::protocol::{
    CategoryRules, Channel, Channels, CheckPermissions, Decision, Frequency, LedgerError,
    MessageView, Permission, Permissions, Refusal, SendMessage, SendReply,
};

/// "Weekly digest": one non-critical message per category per this long.
pub const DIGEST_PERIOD_MS: i64 = 7 * 86_400_000;
/// Free text may answer a person's own message for this long (Meta's customer service window).
pub const WINDOW_MS: i64 = 24 * 3_600_000;
/// Idempotency keys of send requests live in their own namespace.
const IDEMPOTENCY_PREFIX: &str = "message:";

#[derive(Deserialize)]
struct StatusRow {
    status: String,
}

#[derive(Deserialize)]
struct AtRow {
    at: Option<i64>,
}

#[derive(Deserialize)]
struct IdemRow {
    body_digest: String,
    response: String,
}

/// What the rule needs to know about the message, beyond the person.
#[derive(Clone, Copy)]
pub struct Ask<'a> {
    /// E.164.
    pub phone: &'a str,
    /// The category.
    pub category: &'a Category,
    /// What the site says of it.
    pub rules: CategoryRules,
    /// Free text (needs the 24-hour window) rather than a template.
    pub text: bool,
}

/// What the rule reads of a person beyond one category, read once per command
/// and only when a rule needs it (a permission check asks for every category).
#[derive(Default)]
pub struct Facts {
    delivery: Option<(Frequency, Option<String>)>,
    channels: Option<Channels>,
    marketing_stopped: Option<bool>,
    last_inbound: Option<Option<i64>>,
}

impl Facts {
    fn delivery(&mut self, tx: &Tx, phone: &str) -> Result<(Frequency, Option<String>)> {
        if self.delivery.is_none() {
            self.delivery = Some(super::changes::delivery(tx, phone)?);
        }
        Ok(self.delivery.clone().unwrap_or_default())
    }

    fn channel(&mut self, tx: &Tx, phone: &str, category: &Category) -> Result<Channel> {
        if self.channels.is_none() {
            self.channels = Some(super::changes::channels(tx, phone)?);
        }
        Ok(self
            .channels
            .as_ref()
            .and_then(|m| m.get(category).copied())
            .unwrap_or_default())
    }

    fn marketing_stopped(&mut self, tx: &Tx, phone: &str) -> Result<bool> {
        if self.marketing_stopped.is_none() {
            self.marketing_stopped = Some(marketing_stopped(tx.db, phone)?);
        }
        Ok(self.marketing_stopped == Some(true))
    }

    fn last_inbound(&mut self, tx: &Tx, phone: &str) -> Result<Option<i64>> {
        if self.last_inbound.is_none() {
            self.last_inbound = Some(last_inbound(tx.db, phone)?);
        }
        Ok(self.last_inbound.flatten())
    }
}

/// The one rule: may this message go to this person now?
pub fn decide(tx: &Tx, ask: Ask<'_>) -> Result<std::result::Result<(), Refusal>> {
    let status = status_of(tx.db, ask.phone, ask.category)?;
    decide_with(tx, ask, &status, &mut Facts::default())
}

/// [`decide`], with what is known of the person so far.
fn decide_with(
    tx: &Tx,
    ask: Ask<'_>,
    status: &str,
    facts: &mut Facts,
) -> Result<std::result::Result<(), Refusal>> {
    if status != SubscriptionStatus::Granted.as_str() {
        return Ok(Err(Refusal::NotSubscribed {
            status: status.to_owned(),
        }));
    }
    let channel = facts.channel(tx, ask.phone, ask.category)?;
    if channel != Channel::Whatsapp {
        return Ok(Err(Refusal::ChannelChanged { channel }));
    }
    if ask.rules.marketing && facts.marketing_stopped(tx, ask.phone)? {
        return Ok(Err(Refusal::MarketingStopped {}));
    }
    let (frequency, paused_until) = facts.delivery(tx, ask.phone)?;
    if let Some(day) = paused_until.filter(|d| pause_holds(d, tx.now)) {
        return Ok(Err(Refusal::Paused { paused_until: day }));
    }
    if !ask.rules.critical {
        match frequency {
            Frequency::CriticalOnly => {
                return Ok(Err(Refusal::Frequency {
                    frequency: frequency.as_str().into(),
                    next_allowed_at: None,
                }))
            }
            Frequency::WeeklyDigest => {
                if let Some(last) = last_queued(tx.db, ask.phone, ask.category)? {
                    if tx.now - last < DIGEST_PERIOD_MS {
                        return Ok(Err(Refusal::Frequency {
                            frequency: frequency.as_str().into(),
                            next_allowed_at: Some(last + DIGEST_PERIOD_MS),
                        }));
                    }
                }
            }
            Frequency::AsSent => {}
        }
    }
    if ask.text {
        let last = facts.last_inbound(tx, ask.phone)?;
        if last.is_none_or(|at| tx.now - at >= WINDOW_MS) {
            return Ok(Err(Refusal::OutsideWindow {
                last_inbound_at: last,
            }));
        }
    }
    Ok(Ok(()))
}

#[derive(Deserialize)]
struct ValueRow {
    value: Option<String>,
}

/// Whether the person's last word on marketing in WhatsApp (Meta's
/// `user_preferences`, or a send refused with 131050) was "stop".
fn marketing_stopped(sql: &dyn Db, phone: &str) -> Result<bool> {
    let last = sql
        .rows::<ValueRow>(
            "SELECT json_extract(evidence, '$.value') AS value FROM events
             WHERE phone = ? AND kind = 'marketing_preference' ORDER BY seq DESC LIMIT 1",
            &[phone.into()],
        )?
        .pop();
    Ok(last.is_some_and(|r| {
        MarketingChoice::of_meta_value(r.value.as_deref().unwrap_or("stop"))
            == MarketingChoice::Stop
    }))
}

/// A pause recorded as `YYYY-MM-DD` holds until that day starts (UTC).
fn pause_holds(day: &str, now: i64) -> bool {
    crate::protocol::day_number(day).is_some_and(|n| n * 86_400_000 > now)
}

/// `granted`, `pending`, `withdrawn`, `expired`, or `never`.
fn status_of(sql: &dyn Db, phone: &str, category: &Category) -> Result<String> {
    let row = sql
        .rows::<StatusRow>(
            "SELECT status FROM subscriptions WHERE phone = ? AND category = ?",
            &[phone.into(), category.as_str().into()],
        )?
        .pop();
    Ok(row.map_or_else(|| "never".to_owned(), |r| r.status))
}

/// When the last message of `category` was queued for `phone` (and not
/// suppressed or failed since), for the weekly digest.
fn last_queued(sql: &dyn Db, phone: &str, category: &Category) -> Result<Option<i64>> {
    Ok(sql
        .one::<AtRow>(
            "SELECT MAX(m.created_at) AS at FROM messages m JOIN outbox o ON o.id = m.id
             WHERE m.phone = ? AND m.category = ? AND m.decision = 'queued'
               AND o.status NOT IN ('suppressed', 'failed', 'erased')",
            &[phone.into(), category.as_str().into()],
        )?
        .at)
}

/// When the person's last own message arrived (Meta's `from` has no `+`).
fn last_inbound(sql: &dyn Db, phone: &str) -> Result<Option<i64>> {
    Ok(sql
        .one::<AtRow>(
            "SELECT MAX(received_at) AS at FROM inbound_messages
             WHERE phone = ? AND kind NOT IN ('user_preferences', 'system')",
            &[phone.trim_start_matches('+').into()],
        )?
        .at)
}

/// Decides, keeps the decision, and queues the message if allowed: one write.
/// A repeated idempotency key returns the first decision and changes nothing.
pub fn send(tx: &Tx, cmd: &SendMessage) -> std::result::Result<SendReply, LedgerError> {
    let key = format!("{IDEMPOTENCY_PREFIX}{}", cmd.idempotency_key);
    if let Some(previous) = replay(tx.db, &key, &cmd.body_digest)? {
        return previous;
    }
    let text = matches!(cmd.message.body, MessageBody::Text { .. });
    let ask = Ask {
        phone: &cmd.phone,
        category: &cmd.category,
        rules: cmd.rules,
        text,
    };
    let id = tx.new_id()?;
    let decision = match decide(tx, ask)? {
        Ok(()) => {
            queue_message(tx, &id, cmd)?;
            Decision::Queued
        }
        Err(refusal) => Decision::Refused(refusal),
    };
    let reply = SendReply {
        id,
        decision,
        replayed: false,
    };
    keep(tx, cmd, &reply, text)?;
    tx.db.run(
        "INSERT INTO idempotency (key, body_digest, status, response, created_at) VALUES (?, ?, 202, ?, ?)",
        &[
            key.into(),
            cmd.body_digest.as_str().into(),
            serde_json::to_string(&reply)?.into(),
            tx.now.into(),
        ],
    )?;
    Ok(reply)
}

fn replay(
    sql: &dyn Db,
    key: &str,
    digest: &str,
) -> Result<Option<std::result::Result<SendReply, LedgerError>>> {
    let row = sql
        .rows::<IdemRow>(
            "SELECT body_digest, response FROM idempotency WHERE key = ?",
            &[key.into()],
        )?
        .pop();
    Ok(row.map(|r| {
        if r.body_digest != digest {
            return Err(LedgerError::IdempotencyKeyReused);
        }
        let mut reply: SendReply = serde_json::from_str(&r.response)?;
        reply.replayed = true;
        Ok(reply)
    }))
}

/// The template language: the one asked for, or the person's if the site has
/// it (approved, when Meta's statuses are known), else the site's first.
fn language_for(tx: &Tx, cmd: &SendMessage, name: &str, asked: &str) -> Result<String> {
    if !cmd.language_from_person {
        return Ok(asked.to_owned());
    }
    let approved = super::templates::approved(tx.db, name)?;
    let offered = |code: &str| {
        cmd.whatsapp.template_languages.iter().any(|l| l == code)
            && (approved.is_empty() || approved.iter().any(|l| l == code))
    };
    let person = super::inbound::last_grant_locale(tx.db, &cmd.phone)?
        .or_else(|| Locale::for_phone(&cmd.phone))
        .map(Locale::whatsapp_code);
    Ok(person
        .filter(|code| offered(code))
        .map(str::to_owned)
        .or_else(|| {
            cmd.whatsapp
                .template_languages
                .iter()
                .find(|l| offered(l))
                .cloned()
        })
        .unwrap_or_else(|| asked.to_owned()))
}

fn queue_message(tx: &Tx, id: &str, cmd: &SendMessage) -> Result<()> {
    let mut message = cmd.message.clone();
    message.to = cmd.phone.clone();
    message.biz_opaque_callback_data = Some(id.to_owned());
    if let MessageBody::Template { template } = &mut message.body {
        let code = language_for(tx, cmd, &template.name, &template.language.code)?;
        template.language.code = code;
    }
    queue::enqueue_for(
        tx.db,
        queue::Row {
            id,
            consent_id: id,
            phone: &cmd.phone,
            category: Some(&cmd.category),
        },
        &cmd.whatsapp,
        &message,
        tx.now,
    )
}

/// Keeps the decision, queued or refused, for the person's history and the audit.
fn keep(tx: &Tx, cmd: &SendMessage, reply: &SendReply, text: bool) -> Result<()> {
    let (decision, reason) = match &reply.decision {
        Decision::Queued => ("queued", "subscribed".to_owned()),
        Decision::Refused(r) => ("refused", r.slug().to_owned()),
    };
    let detail = match &reply.decision {
        Decision::Refused(r) => serde_json::to_string(r)?,
        Decision::Queued => "{}".to_owned(),
    };
    let (template, language) = match &cmd.message.body {
        MessageBody::Template { template } => (
            Some(template.name.clone()),
            (!cmd.language_from_person).then(|| template.language.code.clone()),
        ),
        MessageBody::Text { .. } => (None, None),
    };
    tx.db.run(
        "INSERT INTO messages (id, phone, subject_hash, category, kind, template, language,
           decision, reason, detail, key_id, created_at, marketing)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        &[
            reply.id.as_str().into(),
            cmd.phone.as_str().into(),
            tx.subject(&cmd.phone).into(),
            cmd.category.as_str().into(),
            if text { "text" } else { "template" }.into(),
            template.into(),
            language.into(),
            decision.into(),
            reason.into(),
            detail.into(),
            cmd.key_id.as_str().into(),
            tx.now.into(),
            i64::from(cmd.rules.marketing).into(),
        ],
    )
}

/// Every category's permission for one person, by the same rule as sending.
pub fn check(tx: &Tx, cmd: &CheckPermissions) -> Result<Permissions> {
    let mut categories = Vec::with_capacity(cmd.categories.len());
    let mut facts = Facts::default();
    for (category, rules) in &cmd.categories {
        let ask = Ask {
            phone: &cmd.phone,
            category,
            rules: *rules,
            text: false,
        };
        let status = status_of(tx.db, &cmd.phone, category)?;
        let permission = match decide_with(tx, ask, &status, &mut facts)? {
            Ok(()) => Permission {
                may_send: true,
                reason: "subscribed".into(),
                status,
                paused_until: None,
                next_allowed_at: None,
                channel: None,
            },
            Err(refusal) => permission_of(refusal, status),
        };
        categories.push((category.clone(), permission));
    }
    let window_open_until = facts
        .last_inbound(tx, &cmd.phone)?
        .map(|at| at + WINDOW_MS)
        .filter(|until| *until > tx.now);
    Ok(Permissions {
        phone: cmd.phone.clone(),
        window_open_until,
        categories,
    })
}

fn permission_of(refusal: Refusal, status: String) -> Permission {
    let reason = refusal.slug().to_owned();
    let mut permission = Permission {
        may_send: false,
        reason,
        status,
        paused_until: None,
        next_allowed_at: None,
        channel: None,
    };
    match refusal {
        Refusal::Paused { paused_until } => permission.paused_until = Some(paused_until),
        Refusal::Frequency {
            next_allowed_at, ..
        } => permission.next_allowed_at = next_allowed_at,
        Refusal::ChannelChanged { channel } => permission.channel = Some(channel),
        Refusal::NotSubscribed { .. }
        | Refusal::OutsideWindow { .. }
        | Refusal::MarketingStopped {} => {}
    }
    permission
}

#[derive(Deserialize)]
struct MarketingRow {
    marketing: i64,
}

/// Whether the queued business message `id` may still leave (see [`still_refused`]).
#[cfg(test)]
pub fn may_still_send(
    tx: &Tx,
    id: &str,
    phone: &str,
    category: &Category,
    text: bool,
) -> Result<bool> {
    Ok(still_refused(tx, id, phone, category, text)?.is_none())
}

/// Why the queued business message `id` may no longer leave, if it may not: its
/// category withdrawn or moved off WhatsApp, a pause begun, marketing stopped
/// since or (for text) the window closed. Frequency was settled when it was queued.
pub fn still_refused(
    tx: &Tx,
    id: &str,
    phone: &str,
    category: &Category,
    text: bool,
) -> Result<Option<Refusal>> {
    let marketing = tx
        .db
        .rows::<MarketingRow>("SELECT marketing FROM messages WHERE id = ?", &[id.into()])?
        .pop()
        .is_some_and(|r| r.marketing != 0);
    let ask = Ask {
        phone,
        category,
        rules: CategoryRules {
            critical: true,
            marketing,
        },
        text,
    };
    Ok(decide(tx, ask)?.err())
}

/// Decisions per day × category × reason × status over `range` (the stats).
pub fn counts(
    sql: &dyn Db,
    range: &crate::protocol::Range,
) -> Result<Vec<crate::protocol::MessageCount>> {
    sql.rows(
        "SELECT strftime('%Y-%m-%d', m.created_at / 1000, 'unixepoch') AS day, m.category,
           m.reason, COALESCE(o.status, 'refused') AS status, COUNT(*) AS n
         FROM messages m LEFT JOIN outbox o ON o.id = m.id
         WHERE m.created_at >= ? AND m.created_at < ?
         GROUP BY day, m.category, m.reason, status ORDER BY day, m.category, m.reason, status",
        &[
            (range.from.0 * 86_400_000).into(),
            ((range.to.0 + 1) * 86_400_000).into(),
        ],
    )
}

/// One page of every send decision as NDJSON (oldest first, by row), written by
/// SQLite: what the audit needs to show nothing went to a person who said no.
pub fn export_ndjson(sql: &dyn Db, after: i64, since: i64) -> Result<crate::protocol::NdjsonPage> {
    let row = sql.page(
        "SELECT COUNT(*) AS n, MAX(rid) AS last, group_concat(line, char(10) ORDER BY rid) || char(10) AS body
         FROM (SELECT m.rowid AS rid, json_object(
                 'category', m.category, 'created_at', m.created_at, 'decision', m.decision,
                 'detail', CASE WHEN json_valid(m.detail) THEN json(m.detail) END,
                 'id', m.id, 'key_id', m.key_id, 'kind', m.kind,
                 'language', COALESCE(json_extract(o.request, '$.template.language.code'), m.language),
                 'phone', m.phone, 'reason', m.reason, 'status', COALESCE(o.status, 'refused'),
                 'subject_hash', m.subject_hash, 'template', m.template, 'wamid', o.wamid) AS line
               FROM messages m LEFT JOIN outbox o ON o.id = m.id
               WHERE m.rowid > ? AND m.created_at >= ? ORDER BY m.rowid LIMIT ?)",
        &[after.into(), since.into(), super::audit::PAGE.into()],
    )?;
    Ok(super::audit::written(row))
}

#[derive(Deserialize)]
struct MessageRow {
    id: String,
    phone: Option<String>,
    category: String,
    kind: String,
    template: Option<String>,
    language: Option<String>,
    decision: String,
    reason: String,
    created_at: i64,
    status: Option<String>,
    last_error: Option<String>,
    wamid: Option<String>,
    sent_language: Option<String>,
}

const VIEW_SELECT: &str = "SELECT m.id, m.phone, m.category, m.kind, m.template, m.language,
       m.decision, m.reason, m.created_at, o.status, o.last_error, o.wamid,
       json_extract(o.request, '$.template.language.code') AS sent_language
     FROM messages m LEFT JOIN outbox o ON o.id = m.id";

/// One decision with its outbox state and status webhooks.
pub fn view(sql: &dyn Db, id: &str) -> Result<Option<MessageView>> {
    let row = sql
        .rows::<MessageRow>(&format!("{VIEW_SELECT} WHERE m.id = ?"), &[id.into()])?
        .pop();
    row.map(|r| view_of(sql, r)).transpose()
}

/// Every decision for one person, oldest first (the subscriber view).
pub fn for_phone(sql: &dyn Db, phone: &str) -> Result<Vec<MessageView>> {
    sql.rows::<MessageRow>(
        &format!("{VIEW_SELECT} WHERE m.phone = ? ORDER BY m.created_at, m.id"),
        &[phone.into()],
    )?
    .into_iter()
    .map(|r| view_of(sql, r))
    .collect()
}

fn view_of(sql: &dyn Db, r: MessageRow) -> Result<MessageView> {
    let statuses = queue::statuses_of(sql, r.wamid.as_deref(), &r.id)?;
    let status = match r.status {
        Some(s) => s,
        None => "refused".to_owned(),
    };
    Ok(MessageView {
        id: r.id,
        to: r.phone.filter(|p| !p.is_empty()),
        category: r.category,
        kind: r.kind,
        template: r.template,
        language: r.sent_language.or(r.language),
        decision: r.decision,
        reason: r.reason,
        status,
        last_error: r.last_error,
        wamid: r.wamid,
        created_at: r.created_at,
        statuses,
    })
}
