//! Consents captured off the website, recorded with a site API key of scope
//! `capture` (a service desk, the merchant's app or CRM, a paper-form scan):
//! no Origin, no Turnstile; the key is the authentication, and double opt-in
//! (unless the site turned it off for the surface) is what proves the number
//! is the person's.

use consent_core::{CaptureDoubleOptIn, CaptureRequest, Locale, SiteConfig, Surface};
use serde::Serialize;
use worker::{Env, Request, Response};

use crate::{
    error::AppError,
    http::{json, no_store, parse_json, query_param, read_json_text},
    protocol::{LedgerClient, LedgerError, RecordConsent},
};

use super::{
    keys::{self, Scope},
    public::{consent_digest, idempotency_key},
    sites,
};

/// `POST /v1/sites/{site}/consents` with `Authorization: Bearer wok_…`.
pub async fn post(mut req: Request, env: &Env, site_id: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    let key = keys::require(&req, env, site_id, &[Scope::Capture]).await?;
    let idempotency_key = idempotency_key(&req)?;
    let body: CaptureRequest = parse_json(&read_json_text(&mut req).await?)?;
    let mut consent = body.validate(&site)?;
    let capture = consent
        .capture
        .as_mut()
        .ok_or_else(|| AppError::Internal("a validated capture carries its evidence".into()))?;
    capture.key_id = Some(key.id.clone());
    // The capture's own fields are part of "the same request" for a retry.
    let extra = format!(
        "{}\n{}\n{}",
        capture.collected_by,
        capture.location.as_deref().unwrap_or(""),
        capture.form_ref.as_deref().unwrap_or("")
    );
    let body_digest = consent_digest(&consent) + &consent_core::chain::evidence_digest(&extra);
    let client_ip = req.headers().get("CF-Connecting-IP")?;
    let context = super::public::request_context(&req, &site, client_ip.as_deref())?;
    let shard = site.shard_for(consent.phone.as_str());
    let cmd = RecordConsent {
        shard,
        site: (*site).clone(),
        consent,
        context,
        idempotency_key,
        body_digest,
        // A desk types many numbers from one address; the key is what is limited.
        ip_key: None,
        challenged: false,
    };
    let reply = LedgerClient::new(env, &site.shard_name(shard))?
        .record_consent(cmd)
        .await?;
    let headers = no_store()?;
    if reply.replayed {
        headers.set("Idempotent-Replayed", "true")?;
    }
    json(&without_person_token(&reply.body)?, reply.status, headers)
}

/// The preferences link is the person's own (it manages their consent without
/// a login): they get it in WhatsApp, the staff member's screen never shows it.
fn without_person_token(body: &str) -> Result<serde_json::Value, AppError> {
    let mut v: serde_json::Value =
        serde_json::from_str(body).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(o) = v.as_object_mut() {
        o.remove("preferences_token");
    }
    Ok(v)
}

/// A category as the desk shows it: id, label in the asked locale, kind.
#[derive(Serialize)]
struct CaptureCategory {
    id: String,
    label: String,
    marketing: bool,
}

/// `GET /v1/sites/{site}/capture?surface=in_person&locale=en`.
#[derive(Serialize)]
struct CaptureNotice<'a> {
    site: &'a str,
    business_name: &'a str,
    surface: Surface,
    locale: Locale,
    locales: Vec<Locale>,
    notice_version: u32,
    notice_text: String,
    privacy_policy_url: &'a str,
    categories: Vec<CaptureCategory>,
    default_calling_code: u16,
    double_opt_in: CaptureDoubleOptIn,
    form_ref_required: bool,
}

/// `GET /v1/sites/{site}/capture?surface=…&locale=…` with a `capture` key:
/// the notice to show (or read out) on that surface, exactly as the consent
/// must carry it, the categories with their labels, and whether the person
/// will have to confirm in WhatsApp.
pub async fn notice(req: &Request, env: &Env, site_id: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    keys::require(req, env, site_id, &[Scope::Capture]).await?;
    let url = req.url()?;
    let surface = match query_param(&url, "surface") {
        None => Surface::InPerson,
        Some(s) => {
            Surface::parse_any(&s)
                .filter(|s| s.is_capture())
                .ok_or(AppError::InvalidQuery {
                    field: "surface",
                    detail: "must be one of in_person, in_app, paper, ivr, sms",
                })?
        }
    };
    let locale = match query_param(&url, "locale") {
        None => site.default_locale,
        Some(l) => Locale::from_tag(&l).ok_or(AppError::InvalidQuery {
            field: "locale",
            detail: "must be one of en, id, pt-BR, tr, da, es, de",
        })?,
    };
    json(&describe(&site, surface, locale), 200, no_store()?)
}

fn describe(site: &SiteConfig, surface: Surface, locale: Locale) -> CaptureNotice<'_> {
    let categories = site
        .category_ids()
        .into_iter()
        .filter_map(|id| {
            let label = site.category_label(id.as_str(), locale)?;
            let marketing = site.category(&id).is_some_and(|c| c.is_marketing());
            Some(CaptureCategory {
                id: id.as_str().to_owned(),
                label,
                marketing,
            })
        })
        .collect();
    CaptureNotice {
        site: &site.id,
        business_name: &site.business_name,
        surface,
        locale,
        locales: Locale::ALL.to_vec(),
        notice_version: site.notice_version,
        notice_text: site.capture_notice(surface, locale).text,
        privacy_policy_url: &site.privacy_policy_url,
        categories,
        default_calling_code: site.default_calling_code,
        double_opt_in: site.capture_double_opt_in(surface),
        form_ref_required: surface == Surface::Paper,
    }
}

/// `GET /v1/sites/{site}/consents/{id}` with a `capture` or `read` key: where
/// the consent stands (`pending` until the person confirms in WhatsApp).
pub async fn state(
    req: &Request,
    env: &Env,
    site_id: &str,
    id: &str,
) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    keys::require(req, env, site_id, &[Scope::Capture, Scope::Read]).await?;
    let not_found = || {
        AppError::NotFound(format!(
            "consent {}",
            id.chars().take(40).collect::<String>()
        ))
    };
    let well_formed = (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !well_formed {
        return Err(not_found());
    }
    for shard in 0..site.shards.max(1) {
        match LedgerClient::new(env, &site.shard_name(shard))?
            .consent_state(id)
            .await
        {
            Ok(view) => return json(&view, 200, no_store()?),
            Err(LedgerError::NoSubscriber) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(not_found())
}

/// Whether a body without a key claims a capture surface (then the answer is
/// "a capture key is required", not an Origin or surface refusal).
pub fn claims_capture(body: &str) -> bool {
    #[derive(serde::Deserialize)]
    struct Peek {
        surface: Option<String>,
    }
    serde_json::from_str::<Peek>(body)
        .ok()
        .and_then(|p| p.surface)
        .and_then(|s| Surface::parse_any(&s))
        .is_some_and(Surface::is_capture)
}
