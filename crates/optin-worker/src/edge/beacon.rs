//! The widget's funnel beacons: checked at the edge, counted by the ledger of
//! the client's shard. Counting is not evidence: nothing here touches the chain.

use consent_core::{
    funnel::{EventBatch, FunnelError},
    privacy::subject_hash,
    SiteConfig,
};
use worker::{Env, Request, Response};

use super::{public, sites};
use crate::{
    error::AppError,
    http::{cors_for, parse_json, read_bytes},
    protocol::{CountEvents, LedgerClient},
};

/// Largest beacon body.
pub const MAX_EVENTS_BODY: usize = 8 * 1024;
/// Beacons per client IP per minute, as a multiple of the site's consent limit:
/// a visitor sends a few per page, so this allows a busy shared IP its browsing.
const BEACONS_PER_CONSENT: u32 = 4;

/// `OPTIONS /v1/sites/{site}/events`: preflight for a JSON `fetch` from an allowed origin.
pub async fn preflight(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let headers = cors_for(&public::allowed_origin(req, &site)?)?;
    headers.set("Access-Control-Allow-Methods", "POST")?;
    headers.set("Access-Control-Allow-Headers", "Content-Type")?;
    headers.set("Access-Control-Max-Age", "7200")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// `POST /v1/sites/{site}/events`: a beacon of funnel events; 204 when counted.
pub async fn post_events(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let cors = cors_for(&public::allowed_origin(&req, &site)?)?;
    match count(&mut req, env, &site).await {
        Ok(()) => {
            cors.set("Cache-Control", "no-store")?;
            Ok(Response::empty()?.with_status(204).with_headers(cors))
        }
        Err(e) => Ok(e.into_response(cors)?),
    }
}

async fn count(req: &mut Request, env: &Env, site: &SiteConfig) -> Result<(), AppError> {
    let events = read_batch(req).await?.validate(site.default_locale)?;
    let ip_key = match req.headers().get("CF-Connecting-IP")? {
        Some(ip) => {
            let key = env.secret("SUBJECT_HASH_KEY")?.to_string();
            Some(subject_hash(key.as_bytes(), &ip))
        }
        None => None,
    };
    // One IP's beacons land in one shard, so its limit is counted in one place.
    let shard = site.shard_for(ip_key.as_deref().unwrap_or(""));
    let cmd = CountEvents {
        events,
        ip_key,
        per_minute: site
            .limits
            .per_ip_per_minute
            .saturating_mul(BEACONS_PER_CONSENT),
    };
    let ledger = LedgerClient::new(env, &site.shard_name(shard))?;
    Ok(ledger.count_events(cmd).await?)
}

/// The body as `sendBeacon` sends it (`text/plain`, so no preflight) or as JSON.
async fn read_batch(req: &mut Request) -> Result<EventBatch, AppError> {
    let media = req
        .headers()
        .get("Content-Type")?
        .unwrap_or_default()
        .to_ascii_lowercase();
    if !(media.starts_with("text/plain") || media.starts_with("application/json")) {
        return Err(AppError::UnsupportedMediaType);
    }
    let bytes = read_bytes(req, MAX_EVENTS_BODY).await?;
    let text = String::from_utf8(bytes).map_err(|e| {
        AppError::MalformedJson(format!("body is not valid UTF-8: {}", e.utf8_error()))
    })?;
    parse_json(&text)
}

impl From<FunnelError> for AppError {
    fn from(e: FunnelError) -> Self {
        AppError::InvalidBody {
            field: Some(e.field()),
            detail: e.to_string(),
        }
    }
}
