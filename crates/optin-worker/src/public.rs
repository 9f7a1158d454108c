//! Public API the widget talks to.

use consent_core::{privacy::truncate_ip, ConsentRequest, SiteConfig};
use worker::{Env, Headers, Method, Request, Response};

use crate::{
    error::AppError,
    http::{cors_for, json, read_json},
    ledger::{self, RecordConsent, RequestContext},
    sites,
};

/// `GET /v1/sites/{site}/config`: what the widget needs, nothing secret.
pub async fn config(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let headers = Headers::new();
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Cache-Control", "public, max-age=60")?;
    json(&site.public(), 200, headers)
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
        Ok(body) => json(&body, 201, cors),
        // The browser may only read the problem if it carries the CORS headers.
        Err(e) => Ok(e.into_response(cors)?),
    }
}

async fn record(
    req: &mut Request,
    env: &Env,
    site: &SiteConfig,
) -> Result<ledger::Recorded, AppError> {
    let body: ConsentRequest = read_json(req).await?;
    let consent = body.validate(site)?;
    let context = RequestContext {
        user_agent: req
            .headers()
            .get("User-Agent")?
            .map(|ua| ua.chars().take(512).collect()),
        ip: req
            .headers()
            .get("CF-Connecting-IP")?
            .and_then(|ip| truncate_ip(&ip)),
        country: req.cf().and_then(|cf| cf.country()),
    };
    let cmd = RecordConsent {
        site: site.clone(),
        consent,
        context,
    };
    let payload = serde_json::to_string(&cmd).map_err(|e| AppError::Internal(e.to_string()))?;
    let mut resp = ledger::call(env, &site.id, Method::Post, "/consent", Some(payload)).await?;
    if resp.status_code() != 201 {
        let text = resp.text().await.unwrap_or_default();
        return Err(AppError::Internal(format!(
            "ledger answered {}: {text}",
            resp.status_code()
        )));
    }
    Ok(resp.json().await?)
}

fn allowed_origin(req: &Request, site: &SiteConfig) -> Result<String, AppError> {
    let origin = req.headers().get("Origin")?.unwrap_or_default();
    if site.allows_origin(&origin) {
        Ok(origin)
    } else {
        Err(AppError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        ))
    }
}
