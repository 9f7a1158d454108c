//! Public API the widget talks to.

use consent_core::{
    chain::evidence_digest,
    privacy::{subject_hash, truncate_ip},
    ConsentRequest, IpPolicy, Locale, SiteConfig, ValidConsent,
};
use worker::{Env, Headers, Request, Response};

use crate::{
    error::{AppError, KeyError},
    http::{cors_for, parse_json, query_param, read_json_text},
    protocol::{LedgerClient, LedgerError, RecordConsent, RequestContext},
};

use super::{capture, sites, turnstile};

/// `GET /v1/sites/{site}/config[?locale=tr]`: what the widget needs, nothing
/// secret, with every string in the asked locale (the loader picks it from the
/// page's `lang`, then `navigator.languages`); an unsupported or missing one
/// gets the site's default. The locale is in the URL, not negotiated from
/// headers, so each answer caches without `Vary`.
pub async fn config(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    match site_config(req, env, site).await {
        Ok(resp) => Ok(resp),
        // Readable from any page, so the loader can tell "no such site" from a network failure.
        Err(e) => {
            let headers = Headers::new();
            headers.set("Access-Control-Allow-Origin", "*")?;
            Ok(e.into_response(headers)?)
        }
    }
}

async fn site_config(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let url = req.url()?;
    let asked = query_param(&url, "locale").and_then(|l| Locale::parse(&l));
    // `chat=1` from a page with the chat widget; the others need none of its strings.
    let chat = query_param(&url, "chat").as_deref() == Some("1");
    let (body, current_ms) = public_json(env, site, asked, chat).await?;
    let headers = Headers::new();
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Cache-Control", "public, max-age=60")?;
    headers.set("Content-Type", "application/json")?;
    // For the isolate's answer cache in `entry.mjs` (which strips it): this
    // answer may be repeated until the config it came from expires here.
    headers.set(ISOLATE_CACHE_MS, &format!("{}", current_ms.max(0.0) as u64))?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// The config answer's JSON for `asked` (absent: the site's default locale) and
/// how long it stays current in this isolate.
async fn public_json(
    env: &Env,
    site: &str,
    asked: Option<Locale>,
    chat: bool,
) -> Result<(String, f64), AppError> {
    let what = format!("public:{}:{chat}", asked.map(|l| l.tag()).unwrap_or(""));
    sites::rendered(env, site, &what, |site| {
        let public = site.public_in(asked.unwrap_or(site.default_locale));
        let public = if chat { public } else { public.without_chat() };
        let mut body =
            serde_json::to_value(public).map_err(|e| AppError::Internal(e.to_string()))?;
        if site.respect_dnt {
            // Read by the loader only when the browser signals DNT or GPC.
            body["respect_dnt"] = true.into();
        }
        Ok(body.to_string())
    })
    .await
}

/// `GET /v1/sites/{site}/widget.js`: the loader (`/widget.js`) with the site's
/// config already on its script element, so the prompt waits for no second
/// request. The config is in the locale the loader would ask for when the page
/// says none: the first of `Accept-Language`'s that we have (the browser's
/// `navigator.languages`, in order), marked as `asked` (`""`: none); a page
/// whose `lang` picks another, a chat page (whose config has the chat's
/// strings) and an unknown site (whose 404 the loader then reports) fetch the
/// config as before. Varies by `Accept-Language`, kept a minute like the config.
pub async fn widget_script(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let accept = req.headers().get("Accept-Language")?.unwrap_or_default();
    // Chromium lists them in order of preference (the q-values fall).
    let asked = accept
        .split(',')
        .take(20)
        .find_map(|t| Locale::parse(t.split(';').next().unwrap_or("")));
    let loader = env
        .assets("ASSETS")?
        .fetch("https://assets.invalid/widget.js", None)
        .await?
        .text()
        .await?;
    let headers = Headers::new();
    let body = match public_json(env, site, asked, false).await {
        Ok((config, current_ms)) => {
            // As the config's answer: `entry.mjs` may repeat it while that is current.
            headers.set(ISOLATE_CACHE_MS, &format!("{}", current_ms.max(0.0) as u64))?;
            format!(
                "(document.currentScript||{{}}).whatsappOptInConfig={{\"asked\":\"{}\",\"config\":{config}}};\n{loader}",
                asked.map(|l| l.tag()).unwrap_or("")
            )
        }
        Err(AppError::UnknownSite(_)) => loader,
        Err(e) => return Err(e),
    };
    headers.set("Access-Control-Allow-Origin", "*")?;
    headers.set("Cross-Origin-Resource-Policy", "cross-origin")?;
    headers.set("Timing-Allow-Origin", "*")?;
    headers.set("Cache-Control", "public, max-age=60")?;
    headers.set("Vary", "Accept-Language")?;
    headers.set("Content-Type", "text/javascript; charset=utf-8")?;
    headers.set("X-Content-Type-Options", "nosniff")?;
    Ok(Response::ok(body)?.with_headers(headers))
}

/// The internal header naming how long `entry.mjs` may repeat an answer.
const ISOLATE_CACHE_MS: &str = "X-Isolate-Cache-Ms";

/// `OPTIONS /v1/sites/{site}/consents`: the CORS preflight, for any page origin.
///
/// The Origin check is the POST's: a page that is not among the site's
/// `allowed_origins` still gets to send it, and reads the 403 problem it answers
/// (so the widget on a misconfigured shop says "not allowed here", not "check your
/// connection"). Browsers cache the answer for up to 2 hours (Chromium's cap).
pub async fn preflight(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    sites::load(env, site).await?;
    let origin = req.headers().get("Origin")?.unwrap_or_default();
    if origin.is_empty() || origin.len() > 200 {
        return Err(AppError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        ));
    }
    let headers = cors_for(&origin)?;
    headers.set("Access-Control-Allow-Methods", "POST")?;
    headers.set(
        "Access-Control-Allow-Headers",
        "Content-Type, Idempotency-Key",
    )?;
    headers.set("Access-Control-Max-Age", "7200")?;
    Ok(Response::empty()?.with_status(204).with_headers(headers))
}

/// CORS headers for a refusal: the page's own origin echoed, allowed or not, so the
/// widget can read why it was refused. Nothing but the problem is in such an answer.
pub(crate) fn cors_for_refusal(req: &Request) -> Result<Headers, AppError> {
    match req.headers().get("Origin")? {
        Some(o) if !o.is_empty() && o.len() <= 200 => cors_for(&o),
        _ => Ok(Headers::new()),
    }
}

/// `POST /v1/sites/{site}/consents`: validate, then record before anything is
/// sent. With an `Authorization` header it is a capture off the website.
pub async fn post_consent(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    if req.headers().has("Authorization")? {
        return capture::post(req, env, site).await;
    }
    let site = match sites::load(env, site).await {
        Ok(site) => site,
        Err(e) => return Ok(e.into_response(cors_for_refusal(&req)?)?),
    };
    let origin = match allowed_origin(&req, &site) {
        Ok(origin) => origin,
        Err(e) => return origin_refusal(&mut req, e).await,
    };
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

/// A server's request without Origin that claims a capture surface was
/// meant to carry a capture key: say so, rather than "origin not allowed".
async fn origin_refusal(req: &mut Request, refusal: AppError) -> Result<Response, AppError> {
    let headers = cors_for_refusal(req)?;
    if req.headers().get("Origin")?.is_none() {
        let text = read_json_text(req).await.unwrap_or_default();
        if capture::claims_capture(&text) {
            return Ok(AppError::ApiKey(KeyError::Missing).into_response(headers)?);
        }
    }
    Ok(refusal.into_response(headers)?)
}

async fn record(req: &mut Request, env: &Env, site: &SiteConfig) -> Result<Response, AppError> {
    let idempotency_key = idempotency_key(req)?;
    let text = read_json_text(req).await?;
    if capture::claims_capture(&text) {
        return Err(AppError::ApiKey(KeyError::Missing));
    }
    let body: ConsentRequest = parse_json(&text)?;
    let consent = body.validate(site)?;
    let body_digest = consent_digest(&consent);
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    let challenged = turnstile::check(
        env,
        site,
        body.turnstile_token.as_deref(),
        client_ip.as_deref(),
    )
    .await?;
    let key = env.secret("SUBJECT_HASH_KEY")?.to_string();
    let context = request_context(req, site, client_ip.as_deref())?;
    let shard = site.shard_for(consent.phone.as_str());
    let cmd = RecordConsent {
        shard,
        site: site.clone(),
        consent,
        context,
        idempotency_key,
        body_digest,
        ip_key: client_ip.map(|ip| subject_hash(key.as_bytes(), &ip)),
        challenged,
    };
    let reply = LedgerClient::new(env, &site.shard_name(shard))?
        .record_consent(cmd)
        .await
        .map_err(|e| match e {
            LedgerError::ChallengeRequired => turnstile::challenge(env, site),
            e => e.into(),
        })?;
    let headers = Headers::new();
    headers.set("Content-Type", "application/json")?;
    headers.set("Cache-Control", "no-store")?;
    if reply.replayed {
        headers.set("Idempotent-Replayed", "true")?;
    }
    Ok(Response::ok(reply.body)?
        .with_status(reply.status)
        .with_headers(headers))
}

/// The request's evidence: its user agent (at most 512 characters), its address
/// as the site's IP policy keeps it, and its country.
pub(crate) fn request_context(
    req: &Request,
    site: &SiteConfig,
    client_ip: Option<&str>,
) -> Result<RequestContext, AppError> {
    Ok(RequestContext {
        user_agent: req
            .headers()
            .get("User-Agent")?
            .map(|ua| ua.chars().take(512).collect()),
        ip: match site.ip_policy {
            IpPolicy::Truncate => client_ip.and_then(truncate_ip),
            IpPolicy::Drop => None,
        },
        country: req.cf().and_then(|cf| cf.country()),
    })
}

/// What makes two consent requests "the same" for an Idempotency-Key: the
/// consent itself, not the client clock or widget build a retry may change.
pub(crate) fn consent_digest(c: &ValidConsent) -> String {
    let categories: Vec<&str> = c.categories.iter().map(|c| c.as_str()).collect();
    let mut canonical = [
        c.phone.as_str(),
        &categories.join(","),
        c.notice.locale.tag(),
        &c.notice.version.to_string(),
        &c.notice_hash,
        c.surface.as_str(),
        c.page_url.as_deref().unwrap_or(""),
    ]
    .join("\n");
    // Only when present, so digests of consents without a variant stay as they were.
    if let Some(v) = &c.variant {
        canonical.push_str("\nvariant:");
        canonical.push_str(v);
    }
    evidence_digest(&canonical)
}

/// The optional `Idempotency-Key` header, checked for shape.
pub(crate) fn idempotency_key(req: &Request) -> Result<Option<String>, AppError> {
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
