//! Recording a consent: the grant event, its derived state, the double opt-in
//! request and the confirmation in the queue, in one write; an idempotency
//! key replays the first answer.

use consent_core::states::{ButtonPayload, EventKind, SubscriptionStatus};
use consent_core::{
    CaptureDoubleOptIn, CaptureEvidence, Category, DoubleOptIn, SiteConfig, ValidConsent,
};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::MessageRequest;

use super::{
    breaker, double_optin, limits, queue, templates,
    tx::{Event, Tx},
};
use crate::protocol::{ConsentReply, LedgerError, RecordConsent, Recorded};

/// Evidence stored with a grant: everything a regulator asks for.
#[derive(Debug, Serialize, Deserialize)]
struct Evidence<'a> {
    site: &'a str,
    notice_text: &'a str,
    notice_hash: &'a str,
    notice_version: u32,
    locale: &'a str,
    surface: consent_core::Surface,
    page_url: Option<&'a str>,
    privacy_policy_url: &'a str,
    unchecked_by_default: bool,
    business_name: &'a str,
    client_ts: Option<f64>,
    widget_version: Option<&'a str>,
    user_agent: Option<&'a str>,
    ip: Option<&'a str>,
    country: Option<&'a str>,
    template_name: &'a str,
    template_language: &'a str,
    /// The A/B variant shown (`json_extract(evidence, '$.variant')`); absent when none.
    #[serde(skip_serializing_if = "Option::is_none")]
    variant: Option<&'a str>,
    /// Double opt-in: what waits for confirmation, and until when.
    #[serde(skip_serializing_if = "Option::is_none")]
    double_opt_in: Option<PendingEvidence>,
    /// Captured off the website: who, where, the paper form, and whether
    /// double opt-in was required or turned off by the site.
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    capture: Option<&'a CaptureEvidence>,
}

/// The double opt-in that applies to a consent: the site's for the web; for a
/// capture, the site's setting (or the defaults) unless it turned it off for
/// the surface.
fn double_opt_in_for(site: &SiteConfig, c: &ValidConsent) -> Option<DoubleOptIn> {
    match c.capture.as_ref().map(|k| k.double_opt_in) {
        None => site.double_opt_in().cloned(),
        Some(CaptureDoubleOptIn::OffBySite) => None,
        Some(CaptureDoubleOptIn::Required) => Some(DoubleOptIn {
            enabled: true,
            ..site.double_opt_in.clone().unwrap_or_default()
        }),
    }
}

/// A grant's categories that wait for the person's confirmation.
#[derive(Debug, Serialize, Deserialize)]
struct PendingEvidence {
    status: String,
    categories: Vec<Category>,
    expires_at: i64,
}

#[derive(Deserialize)]
struct IdemRow {
    body_digest: String,
    status: i64,
    response: String,
}

/// Appends a grant event, updates the state table and queues the
/// confirmation, with no await in between: one atomic write.
pub fn record(tx: &Tx, cmd: &RecordConsent) -> Result<ConsentReply, LedgerError> {
    let now = tx.now;
    if let Some(key) = &cmd.idempotency_key {
        if let Some(previous) = replay(tx, key, &cmd.body_digest)? {
            return previous;
        }
    }
    double_optin::expire_due(tx)?;
    if breaker::challenge_first(tx.db, cmd, now)? {
        return Err(LedgerError::ChallengeRequired);
    }
    limits::admit(tx.db, cmd, now)?;
    let recorded = write_grant(tx, cmd)?;
    let body =
        serde_json::to_string(&recorded).map_err(|e| worker::Error::RustError(e.to_string()))?;
    if let Some(key) = &cmd.idempotency_key {
        tx.db.run("INSERT INTO idempotency (key, body_digest, status, response, created_at) VALUES (?, ?, 201, ?, ?)", &[key.as_str().into(), cmd.body_digest.as_str().into(), body.as_str().into(), now.into()])?;
    }
    Ok(ConsentReply {
        status: 201,
        body,
        replayed: false,
    })
}

/// The stored answer for a replayed key, or a refusal if the body differs.
fn replay(
    tx: &Tx,
    key: &str,
    digest: &str,
) -> worker::Result<Option<Result<ConsentReply, LedgerError>>> {
    let rows: Vec<IdemRow> = tx.db.rows(
        "SELECT body_digest, status, response FROM idempotency WHERE key = ?",
        &[key.into()],
    )?;
    Ok(rows.into_iter().next().map(|row| {
        if row.body_digest == digest {
            Ok(ConsentReply {
                status: row.status as u16,
                body: row.response,
                replayed: true,
            })
        } else {
            Err(LedgerError::IdempotencyKeyReused)
        }
    }))
}

fn write_grant(tx: &Tx, cmd: &RecordConsent) -> worker::Result<Recorded> {
    let now = tx.now;
    let id = tx.new_id()?;
    let c = &cmd.consent;
    let phone = c.phone.as_str();
    // Double opt-in: what the person does not hold yet waits for their confirmation.
    let doi = double_opt_in_for(&cmd.site, c);
    let pending = match &doi {
        Some(doi) => {
            let granted = tx.granted(phone)?;
            let waiting: Vec<Category> = c
                .categories
                .iter()
                .filter(|cat| !granted.contains(cat))
                .cloned()
                .collect();
            (!waiting.is_empty()).then(|| PendingEvidence {
                status: "pending".into(),
                categories: waiting,
                expires_at: double_optin::expires_at(tx, doi.expiry_hours),
            })
        }
        None => None,
    };
    let template_name = match (&pending, &doi) {
        (Some(_), Some(doi)) => doi.template_name.as_str(),
        _ => cmd.site.whatsapp.template_name.as_str(),
    };
    // Never a language Meta has not approved while an approved one is known.
    let approved = templates::approved(tx.db, template_name)?;
    let language = cmd.site.template_language_among(c.notice.locale, &approved);
    let evidence = serde_json::to_string(&Evidence {
        site: &cmd.site.id,
        notice_text: &c.notice.text,
        notice_hash: &c.notice_hash,
        notice_version: c.notice.version,
        locale: c.notice.locale.tag(),
        surface: c.surface,
        page_url: c.page_url.as_deref(),
        privacy_policy_url: &cmd.site.privacy_policy_url,
        unchecked_by_default: true,
        business_name: &cmd.site.business_name,
        client_ts: c.client_ts,
        widget_version: c.widget_version.as_deref(),
        user_agent: cmd.context.user_agent.as_deref(),
        ip: cmd.context.ip.as_deref(),
        country: cmd.context.country.as_deref(),
        template_name,
        template_language: language,
        variant: c.variant.as_deref(),
        double_opt_in: pending.as_ref().map(|p| PendingEvidence {
            status: p.status.clone(),
            categories: p.categories.clone(),
            expires_at: p.expires_at,
        }),
        capture: c.capture.as_ref(),
    })
    .map_err(|e| worker::Error::RustError(e.to_string()))?;
    let waiting = pending
        .as_ref()
        .map(|p| p.categories.as_slice())
        .unwrap_or(&[]);
    let state: Vec<(Category, SubscriptionStatus)> = c
        .categories
        .iter()
        .map(|cat| {
            (
                cat.clone(),
                if waiting.contains(cat) {
                    SubscriptionStatus::Pending
                } else {
                    SubscriptionStatus::Granted
                },
            )
        })
        .collect();
    let event = Event {
        id: &id,
        kind: EventKind::Grant,
        phone,
        categories: &c.categories,
        evidence: &evidence,
    };
    tx.record(&event, &state)?;
    let message = match &pending {
        Some(p) => {
            double_optin::open(tx, &id, phone, waiting, p.expires_at)?;
            MessageRequest::double_opt_in_request(
                phone,
                template_name,
                language,
                &cmd.site.business_name,
                &ButtonPayload::Confirm(id.clone()).payload(),
                &ButtonPayload::OptOut(id.clone()).payload(),
                &id,
            )
        }
        None => MessageRequest::confirmation(
            phone,
            template_name,
            language,
            &cmd.site.business_name,
            &ButtonPayload::OptOut(id.clone()).payload(),
            &id,
        ),
    };
    queue::enqueue(tx.db, &id, c.phone.as_str(), &cmd.site, &message, now)?;
    if tx.withdrew_recently(phone, &cmd.site)? {
        // Someone who just said stop gets no template, however often their number is typed in.
        let reason = "withdrew within the resend cooldown";
        queue::suppress(tx.db, queue::Scope::Row(&id), reason, now)?;
    }
    // A burst of web consents: recorded as ever, but the template waits for an admin.
    // Captures come from the merchant's own systems, with a key: not a burst to hold.
    if !c.surface.is_capture()
        && breaker::admit(tx.db, &cmd.site, now)?
        && !breaker::challenge_passed(cmd)
    {
        queue::hold(tx.db, &id, now)?;
    }
    // A fresh opt-in lifts an erasure's suppression.
    tx.db.run(
        "DELETE FROM suppressions WHERE subject_hash = ? AND reason = 'erased'",
        &[tx.subject(phone).into()],
    )?;
    Ok(Recorded {
        preferences_token: tx.preferences_token(&cmd.site.id, cmd.shard, &id),
        id,
        recorded_at: now,
        categories: c.categories.clone(),
        pending_until: pending.map(|p| p.expires_at),
    })
}
