//! Public API the widget talks to.

use consent_core::{
    chain::evidence_digest,
    privacy::{subject_hash, truncate_ip},
    ConsentRequest, IpPolicy, SiteConfig, Surface, ValidConsent,
};
use worker::{Env, Headers, Method, Request, Response};

use crate::{
    error::AppError,
    http::{cors_for, json, parse_json, read_json_text},
    ledger::{self, RecordConsent, Refusal, RequestContext},
    sites, turnstile,
};

/// `GET /v1/sites/{site}/config`: what the widget needs, nothing secret.
pub async fn config(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let headers = Headers::new();
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Cache-Control", "public, max-age=60")?;
    let mut body =
        serde_json::to_value(site.public()).map_err(|e| AppError::Internal(e.to_string()))?;
    if site.respect_dnt {
        // Read by the loader only when the browser signals DNT or GPC.
        body["respect_dnt"] = true.into();
    }
    json(&body, 200, headers)
}

/// `OPTIONS /v1/sites/{site}/consents`: CORS preflight for allowed origins only.
pub async fn preflight(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let origin = allowed_origin(req, &site)?;
    let headers = cors_for(&origin)?;
    headers.set("Access-Control-Allow-Methods", "POST")?;
    headers.set(
        "Access-Control-Allow-Headers",
        "Content-Type, Idempotency-Key",
    )?;
    headers.set("Access-Control-Max-Age", "600")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// `POST /v1/sites/{site}/consents`: validate, then record before anything is sent.
pub async fn post_consent(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let origin = allowed_origin(&req, &site)?;
    let cors = cors_for(&origin)?;
    match record(&mut req, env, &site).await {
        Ok(resp) => {
            for (k, v) in cors.entries() {
                resp.headers().set(&k, &v)?;
            }
            Ok(resp)
        }
        // The browser may only read the problem if it carries the CORS headers.
        Err(e) => Ok(e.into_response(cors)?),
    }
}

async fn record(req: &mut Request, env: &Env, site: &SiteConfig) -> Result<Response, AppError> {
    let idempotency_key = idempotency_key(req)?;
    let body: ConsentRequest = parse_json(&read_json_text(req).await?)?;
    let consent = body.validate(site)?;
    let body_digest = consent_digest(&consent);
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    if let Some(secret) = &site.turnstile_secret {
        turnstile::verify(
            env,
            secret,
            body.turnstile_token.as_deref(),
            client_ip.as_deref(),
        )
        .await?;
    }
    let key = env.secret("SUBJECT_HASH_KEY")?.to_string();
    let context = RequestContext {
        user_agent: req
            .headers()
            .get("User-Agent")?
            .map(|ua| ua.chars().take(512).collect()),
        ip: match site.ip_policy {
            IpPolicy::Truncate => client_ip.as_deref().and_then(truncate_ip),
            IpPolicy::Drop => None,
        },
        country: req.cf().and_then(|cf| cf.country()),
    };
    let shard = site.shard_for(consent.phone.as_str());
    let cmd = RecordConsent {
        shard,
        site: site.clone(),
        consent,
        context,
        idempotency_key,
        body_digest,
        ip_key: client_ip.map(|ip| subject_hash(key.as_bytes(), &ip)),
    };
    let payload = serde_json::to_string(&cmd).map_err(|e| AppError::Internal(e.to_string()))?;
    let ledger_name = site.shard_name(shard);
    let mut resp = ledger::call(env, &ledger_name, Method::Post, "/consent", Some(payload)).await?;
    match resp.status_code() {
        200 | 201 => {
            let headers = Headers::new();
            headers.set("Content-Type", "application/json")?;
            headers.set("Cache-Control", "no-store")?;
            if resp.headers().get("Idempotent-Replayed")?.is_some() {
                headers.set("Idempotent-Replayed", "true")?;
            }
            let status = resp.status_code();
            Ok(Response::ok(resp.text().await?)?
                .with_status(status)
                .with_headers(headers))
        }
        409 => Err(match resp.json::<Refusal>().await? {
            Refusal::RateLimited { scope, retry_after } => {
                AppError::RateLimited { scope, retry_after }
            }
            Refusal::IdempotencyKeyReused => AppError::IdempotencyKeyReused,
        }),
        s => Err(AppError::Internal(format!(
            "ledger answered {s}: {}",
            resp.text().await.unwrap_or_default()
        ))),
    }
}

/// What makes two consent requests "the same" for an Idempotency-Key: the
/// consent itself, not the client clock or widget build a retry may change.
fn consent_digest(c: &ValidConsent) -> String {
    let categories: Vec<&str> = c.categories.iter().map(|c| c.as_str()).collect();
    let surface = match c.surface {
        Surface::Modal => "modal",
        Surface::Checkout => "checkout",
        Surface::Chat => "chat",
    };
    let canonical = [
        c.phone.as_str(),
        &categories.join(","),
        c.notice.locale.tag(),
        &c.notice.version.to_string(),
        &c.notice_hash,
        surface,
        c.page_url.as_deref().unwrap_or(""),
    ]
    .join("\n");
    evidence_digest(&canonical)
}

/// The optional `Idempotency-Key` header, checked for shape.
fn idempotency_key(req: &Request) -> Result<Option<String>, AppError> {
    match req.headers().get("Idempotency-Key")? {
        None => Ok(None),
        Some(k) if (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => {
            Ok(Some(k))
        }
        Some(_) => Err(AppError::InvalidIdempotencyKey),
    }
}

pub(crate) fn allowed_origin(req: &Request, site: &SiteConfig) -> Result<String, AppError> {
    let origin = req.headers().get("Origin")?.unwrap_or_default();
    if site.allows_origin(&origin) {
        Ok(origin)
    } else {
        Err(AppError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        ))
    }
}
