//! The preference API behind signed links: see, change or withdraw consent
//! without a login. `{token}` is a consent_core::token, never a phone number.

use consent_core::{token, Category, Locale, SiteConfig};
use serde::{Deserialize, Serialize};
use worker::{Env, Headers, Method, Request, Response};

use crate::{
    changes::{Change, Preferences},
    error::AppError,
    http::{json, read_json},
    ledger, sites,
};

/// Body of `PUT /v1/preferences/{token}`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutPreferences {
    categories: Vec<String>,
}

#[derive(Serialize)]
struct CategoryView {
    category: Category,
    label: &'static str,
    granted: bool,
}

#[derive(Serialize)]
struct PreferencesView {
    site: String,
    business_name: String,
    privacy_policy_url: String,
    locale: &'static str,
    categories: Vec<CategoryView>,
}

/// The site, the ledger shard and the consent id a token opens.
struct Opened {
    site: SiteConfig,
    ledger: String,
    consent_id: String,
}

async fn claims(env: &Env, raw: &str) -> Result<Opened, AppError> {
    let key = env.secret("PREFS_TOKEN_KEY")?.to_string();
    let now = worker::Date::now().as_millis() as i64;
    let claims = token::verify(key.as_bytes(), raw, now).map_err(AppError::Token)?;
    let site = sites::load(env, &claims.site).await?;
    if claims.shard >= site.shards.max(1) {
        return Err(AppError::Token(token::TokenError::Malformed));
    }
    Ok(Opened {
        ledger: site.shard_name(claims.shard),
        site,
        consent_id: claims.consent_id,
    })
}

/// Refuses writes from foreign pages (CSRF): the Worker's own pages and the site's may write.
fn same_site(req: &Request, site: &SiteConfig) -> Result<(), AppError> {
    let Some(origin) = req.headers().get("Origin")? else {
        return Ok(());
    };
    let url = req.url()?;
    let own = url.origin().ascii_serialization();
    if origin == own || site.allows_origin(&origin) {
        Ok(())
    } else {
        Err(AppError::OriginNotAllowed(
            origin.chars().take(200).collect(),
        ))
    }
}

fn view(site: &SiteConfig, prefs: Preferences) -> PreferencesView {
    let locale = Locale::from_tag(&prefs.locale).unwrap_or(site.default_locale);
    PreferencesView {
        site: site.id.clone(),
        business_name: site.business_name.clone(),
        privacy_policy_url: site.privacy_policy_url.clone(),
        locale: locale.tag(),
        categories: site
            .categories
            .iter()
            .map(|c| CategoryView {
                category: *c,
                label: c.label(locale),
                granted: prefs.granted.contains(c),
            })
            .collect(),
    }
}

async fn answer(site: &SiteConfig, mut resp: Response) -> Result<Response, AppError> {
    match resp.status_code() {
        200 => {
            let prefs: Preferences = resp.json().await?;
            let headers = Headers::new();
            headers.set("Cache-Control", "no-store")?;
            json(&view(site, prefs), 200, headers)
        }
        404 => Err(AppError::NoSubscriber),
        s => Err(AppError::Internal(format!("ledger answered {s}"))),
    }
}

/// `GET /v1/preferences/{token}`.
pub async fn get(env: &Env, raw: &str) -> Result<Response, AppError> {
    let Opened {
        site,
        ledger,
        consent_id,
    } = claims(env, raw).await?;
    let resp = ledger::call(
        env,
        &ledger,
        Method::Get,
        &format!("/preferences/{consent_id}"),
        None,
    )
    .await?;
    answer(&site, resp).await
}

/// `PUT /v1/preferences/{token}`: keep exactly these categories.
pub async fn put(mut req: Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    let Opened {
        site,
        ledger,
        consent_id,
    } = claims(env, raw).await?;
    same_site(&req, &site)?;
    let body: PutPreferences = read_json(&mut req).await?;
    let mut granted = Vec::with_capacity(body.categories.len());
    for name in &body.categories {
        let c = Category::parse(name)
            .filter(|c| site.categories.contains(c))
            .ok_or_else(|| {
                consent_core::ConsentError::UnknownCategory(name.chars().take(64).collect())
            })?;
        granted.push(c);
    }
    change(
        env,
        &site,
        &ledger,
        consent_id,
        granted,
        "preference_centre",
    )
    .await
}

/// `POST /v1/preferences/{token}/opt-out`: withdraw everything at once.
pub async fn opt_out(req: &Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    let Opened {
        site,
        ledger,
        consent_id,
    } = claims(env, raw).await?;
    same_site(req, &site)?;
    change(
        env,
        &site,
        &ledger,
        consent_id,
        Vec::new(),
        "preference_centre_opt_out",
    )
    .await
}

async fn change(
    env: &Env,
    site: &SiteConfig,
    ledger: &str,
    consent_id: String,
    granted: Vec<Category>,
    method: &str,
) -> Result<Response, AppError> {
    let body = serde_json::to_string(&Change {
        consent_id,
        granted,
        method: method.to_owned(),
    })
    .map_err(|e| AppError::Internal(e.to_string()))?;
    let resp = ledger::call(env, ledger, Method::Post, "/change", Some(body)).await?;
    answer(site, resp).await
}
