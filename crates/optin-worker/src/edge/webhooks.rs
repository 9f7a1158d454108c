//! WhatsApp webhooks: Meta's `GET` verification handshake and signed `POST`
//! notifications, routed by phone-number id to the site's ledger.

use std::{collections::BTreeMap, rc::Rc};

use consent_core::SiteConfig;
use whatsapp_cloud_api::{
    verify_signature,
    webhook::{self, ChangeValue, Decoded},
};
use worker::{Env, Headers, Request, Response};

use super::{admin::constant_time_eq, sites};
use crate::{
    error::{from_json_error, AppError},
    http::{json, query_param, read_bytes},
    protocol::{LedgerClient, WebhookBatch},
};

/// Largest notification accepted; Meta batches up to 1000 updates, far below this.
const MAX_BODY: usize = 512 * 1024;
/// Longest `hub.challenge` echoed back.
const MAX_CHALLENGE: usize = 128;

/// `GET /webhooks/whatsapp`: answers `hub.challenge` when the verify token matches.
pub fn verify(req: &Request, env: &Env) -> Result<Response, AppError> {
    let url = req.url()?;
    let param = |name: &str| query_param(&url, name);
    let expected = secret(env, "WEBHOOK_VERIFY_TOKEN").unwrap_or_default();
    let token = param("hub.verify_token").unwrap_or_default();
    let subscribe = param("hub.mode").as_deref() == Some("subscribe");
    if !subscribe || expected.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes())
    {
        return Err(AppError::VerificationFailed);
    }
    let challenge = param("hub.challenge")
        .filter(|c| valid_challenge(c))
        .ok_or(AppError::InvalidQuery {
            field: "hub.challenge",
            detail: "hub.challenge must be 1 to 128 letters, digits, '-' or '_'",
        })?;
    let headers = Headers::new();
    headers.set("Content-Type", "text/plain; charset=utf-8")?;
    headers.set("Cache-Control", "no-store")?;
    Ok(Response::ok(challenge)?.with_headers(headers))
}

fn valid_challenge(c: &str) -> bool {
    !c.is_empty()
        && c.len() <= MAX_CHALLENGE
        && c.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// `POST /webhooks/whatsapp`: checks the signature over the raw body, then hands
/// each business number's changes to its site's ledger. Ledger failures answer
/// 500 on purpose: Meta redelivers, and the ledger dedupes redeliveries.
pub async fn receive(mut req: Request, env: &Env) -> Result<Response, AppError> {
    let body = read_bytes(&mut req, MAX_BODY).await?;
    let app_secret = secret(env, "WHATSAPP_APP_SECRET").unwrap_or_default();
    let signature = req
        .headers()
        .get("X-Hub-Signature-256")?
        .unwrap_or_default();
    if app_secret.is_empty() || !verify_signature(app_secret.as_bytes(), &body, &signature) {
        return Err(AppError::InvalidSignature);
    }
    // Item by item: one odd status or message never costs the others (Meta
    // would redeliver the same bytes and get the same refusal).
    let decoded = webhook::decode(&body).map_err(from_json_error)?;
    let skipped = log_skipped(&decoded);
    let mut routed = 0;
    for (phone_number_id, changes) in by_phone_number_id(decoded) {
        match site_for(env, &phone_number_id).await? {
            Some(site) => {
                forward(env, &site, changes).await?;
                routed += 1;
            }
            None => worker::console_warn!("webhook for unknown phone_number_id {phone_number_id}"),
        }
    }
    json(
        &serde_json::json!({ "ok": true, "sites": routed, "skipped": skipped }),
        200,
        Headers::new(),
    )
}

/// Logs (paths and reasons, never values) what could not be read; returns how many.
fn log_skipped(d: &Decoded) -> usize {
    for s in &d.skipped {
        worker::console_warn!("webhook item skipped at {}: {}", s.path, s.reason);
    }
    d.skipped.len()
}

/// Groups the readable changes by the business number they concern.
fn by_phone_number_id(d: Decoded) -> BTreeMap<String, Vec<ChangeValue>> {
    let mut out: BTreeMap<String, Vec<ChangeValue>> = BTreeMap::new();
    for change in d.changes {
        let id = change.metadata.phone_number_id.clone();
        out.entry(id).or_default().push(change);
    }
    out
}

/// The site sending from `phone_number_id`: KV `pnid:{id}` → site id, else the
/// built-in demo site when it is the demo's number.
async fn site_for(env: &Env, phone_number_id: &str) -> Result<Option<Rc<SiteConfig>>, AppError> {
    let well_formed = !phone_number_id.is_empty()
        && phone_number_id.len() <= 32
        && phone_number_id.bytes().all(|b| b.is_ascii_digit());
    if !well_formed {
        return Ok(None);
    }
    let mapped = sites::number_owner(env, phone_number_id).await?;
    let site = sites::load(env, mapped.as_deref().unwrap_or("demo")).await;
    match site {
        Ok(site) if site.whatsapp.phone_number_id == phone_number_id => Ok(Some(site)),
        Ok(_) | Err(AppError::UnknownSite(_)) => Ok(None),
        Err(e) => Err(e),
    }
}

/// Hands the changes to the ledger shard of each person they concern.
async fn forward(env: &Env, site: &SiteConfig, changes: Vec<ChangeValue>) -> Result<(), AppError> {
    for (shard, changes) in by_shard(site, changes) {
        let batch = WebhookBatch {
            site: site.clone(),
            changes,
        };
        let ledger = LedgerClient::new(env, &site.shard_name(shard))?;
        ledger.apply_webhook(batch).await?;
    }
    Ok(())
}

/// Splits changes by the shard of the person each item concerns.
fn by_shard(site: &SiteConfig, changes: Vec<ChangeValue>) -> BTreeMap<u32, Vec<ChangeValue>> {
    let shard_of = |wa_id: &str| site.shard_for(&format!("+{}", wa_id.trim_start_matches('+')));
    let mut out: BTreeMap<u32, Vec<ChangeValue>> = BTreeMap::new();
    for change in changes {
        let mut shards: Vec<u32> = change
            .statuses
            .iter()
            .map(|s| shard_of(&s.recipient_id))
            .chain(change.messages.iter().map(|m| shard_of(&m.from)))
            .chain(change.user_preferences.iter().map(|p| shard_of(&p.wa_id)))
            .collect();
        shards.sort_unstable();
        shards.dedup();
        for shard in shards {
            let mut part = change.clone();
            part.statuses.retain(|s| shard_of(&s.recipient_id) == shard);
            part.messages.retain(|m| shard_of(&m.from) == shard);
            part.user_preferences
                .retain(|p| shard_of(&p.wa_id) == shard);
            out.entry(shard).or_default().push(part);
        }
    }
    out
}

/// A secret, or a plain var in local development.
fn secret(env: &Env, name: &str) -> Option<String> {
    crate::vars::text(env, name).map(|s| s.to_string())
}
