//! The preference API behind signed links: see, change or withdraw consent
//! without a login. `{token}` is a consent_core::token, never a phone number.

use consent_core::{token, Category, Locale, SiteConfig};
use serde::{Deserialize, Serialize};
use worker::{Env, Headers, Request, Response};

use super::sites;
use crate::{
    error::{invalid, AppError},
    http::{json, read_json},
    protocol::{check_pause, Change, Channel, Channels, Frequency, LedgerClient, Preferences},
};

/// Body of `PUT /v1/preferences/{token}`; absent `frequency`/`paused_until`/`channels` keep what is recorded.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PutPreferences {
    categories: Vec<String>,
    #[serde(default)]
    frequency: Option<Frequency>,
    /// `"YYYY-MM-DD"` pauses until that day; `null` or `""` lifts the pause.
    #[serde(default, deserialize_with = "crate::protocol::present")]
    paused_until: Option<Option<String>>,
    /// `{category: "whatsapp" | "email" | "sms"}`; categories not named keep theirs.
    #[serde(default)]
    channels: Option<std::collections::BTreeMap<String, serde_json::Value>>,
}

/// What a person asks for, from the JSON API or the preference centre's form.
pub(crate) struct Wanted {
    /// Category names as sent.
    pub categories: Vec<String>,
    /// New frequency, if given.
    pub frequency: Option<Frequency>,
    /// New pause (`Some(None)` lifts it), if given.
    pub paused_until: Option<Option<String>>,
    /// `(category, channel)` as sent, if any.
    pub channels: Option<Vec<(String, String)>>,
}

/// Checks a request against the site: known categories, a pause date in range.
pub(crate) fn validate(site: &SiteConfig, wanted: Wanted) -> Result<Validated, AppError> {
    let mut granted = Vec::with_capacity(wanted.categories.len());
    for name in &wanted.categories {
        let c = Category::parse(name)
            .filter(|c| site.offers(c))
            .ok_or_else(|| {
                consent_core::ConsentError::UnknownCategory(name.chars().take(64).collect())
            })?;
        granted.push(c);
    }
    let paused_until = wanted.paused_until.map(|p| p.filter(|d| !d.is_empty()));
    if let Some(Some(day)) = &paused_until {
        let now = worker::Date::now().as_millis() as i64;
        check_pause(day, now).map_err(|e| AppError::InvalidBody {
            field: Some("paused_until".into()),
            detail: format!("paused_until: {e}"),
        })?;
    }
    let channels = wanted
        .channels
        .map(|pairs| channels_of(site, &pairs))
        .transpose()?;
    Ok(Validated {
        granted,
        frequency: wanted.frequency,
        paused_until,
        channels,
    })
}

/// Checks each `(category, channel)`: a category the site offers, a known channel.
fn channels_of(site: &SiteConfig, pairs: &[(String, String)]) -> Result<Channels, AppError> {
    let mut out = Channels::new();
    for (name, value) in pairs {
        let short: String = name.chars().take(64).collect();
        let field = format!("channels.{short}");
        let c = Category::parse(name)
            .filter(|c| site.offers(c))
            .ok_or_else(|| {
                invalid(
                    &field,
                    format!("{short} is not one of this site's categories"),
                )
            })?;
        let ch = Channel::parse(value)
            .ok_or_else(|| invalid(&field, "must be whatsapp, email or sms"))?;
        out.insert(c, ch);
    }
    Ok(out)
}

/// A request that passed [`validate`].
pub(crate) struct Validated {
    granted: Vec<Category>,
    frequency: Option<Frequency>,
    paused_until: Option<Option<String>>,
    channels: Option<Channels>,
}

#[derive(Serialize)]
struct CategoryView {
    category: Category,
    label: String,
    /// `utility` or `marketing`.
    kind: consent_core::CategoryKind,
    granted: bool,
    /// Where the person wants it: `whatsapp`, `email` or `sms`.
    channel: Channel,
}

#[derive(Serialize)]
struct PreferencesView {
    site: String,
    business_name: String,
    privacy_policy_url: String,
    locale: &'static str,
    categories: Vec<CategoryView>,
    frequency: Frequency,
    paused_until: Option<String>,
}

/// The site, the ledger shard and the consent id a token opens.
pub(crate) struct Opened {
    /// The site's configuration.
    pub site: SiteConfig,
    ledger: String,
    consent_id: String,
}

/// Verifies a preference token and loads what it opens.
pub(crate) async fn claims(env: &Env, raw: &str) -> Result<Opened, AppError> {
    let key = env.secret("PREFS_TOKEN_KEY")?.to_string();
    let now = worker::Date::now().as_millis() as i64;
    let claims = token::verify(key.as_bytes(), raw, now).map_err(AppError::Token)?;
    let site = sites::load(env, &claims.site).await?;
    if claims.shard >= site.shards.max(1) {
        return Err(AppError::Token(token::TokenError::Malformed));
    }
    Ok(Opened {
        ledger: site.shard_name(claims.shard),
        site: (*site).clone(),
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
        frequency: prefs.frequency,
        paused_until: prefs.paused_until,
        site: site.id.clone(),
        business_name: site.business_name.clone(),
        privacy_policy_url: site.privacy_policy_url.clone(),
        locale: locale.tag(),
        categories: site
            .category_ids()
            .into_iter()
            .filter_map(|id| site.category(&id))
            .map(|c| CategoryView {
                category: c.id.clone(),
                label: site.text(locale, None, c.id.as_str()).unwrap_or_default(),
                kind: c.kind,
                granted: prefs.granted.contains(&c.id),
                channel: prefs.channels.get(&c.id).copied().unwrap_or_default(),
            })
            .collect(),
    }
}

fn answer(site: &SiteConfig, prefs: Preferences) -> Result<Response, AppError> {
    let headers = Headers::new();
    headers.set("Cache-Control", "no-store")?;
    json(&view(site, prefs), 200, headers)
}

/// The current choices behind an opened token.
pub(crate) async fn current(env: &Env, opened: &Opened) -> Result<Preferences, AppError> {
    let ledger = LedgerClient::new(env, &opened.ledger)?;
    Ok(ledger.preferences(&opened.consent_id).await?)
}

/// Records a validated change as one ledger event (none if nothing changes).
pub(crate) async fn apply(
    env: &Env,
    opened: &Opened,
    change: Validated,
    method: &str,
) -> Result<Preferences, AppError> {
    let change = Change {
        consent_id: opened.consent_id.clone(),
        granted: change.granted,
        method: method.to_owned(),
        frequency: change.frequency,
        paused_until: change.paused_until,
        channels: change.channels,
    };
    Ok(LedgerClient::new(env, &opened.ledger)?
        .change(change)
        .await?)
}

/// Withdraws every category at once.
pub(crate) async fn withdraw_all(
    env: &Env,
    opened: &Opened,
    method: &str,
) -> Result<Preferences, AppError> {
    let everything = Validated {
        granted: Vec::new(),
        frequency: None,
        paused_until: None,
        channels: None,
    };
    apply(env, opened, everything, method).await
}

/// `GET /v1/preferences/{token}`.
pub async fn get(env: &Env, raw: &str) -> Result<Response, AppError> {
    let opened = claims(env, raw).await?;
    answer(&opened.site, current(env, &opened).await?)
}

/// `PUT /v1/preferences/{token}`: keep exactly these categories (and set frequency or pause).
pub async fn put(mut req: Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    let opened = claims(env, raw).await?;
    same_site(&req, &opened.site)?;
    let body: PutPreferences = read_json(&mut req).await?;
    let wanted = Wanted {
        categories: body.categories,
        frequency: body.frequency,
        paused_until: body.paused_until,
        // A value that is not a string is no channel either: refused by name below.
        channels: body.channels.map(|m| {
            m.into_iter()
                .map(|(c, v)| (c, v.as_str().unwrap_or_default().to_owned()))
                .collect()
        }),
    };
    let change = validate(&opened.site, wanted)?;
    let prefs = apply(env, &opened, change, "preference_centre").await?;
    answer(&opened.site, prefs)
}

/// `POST /v1/preferences/{token}/opt-out`: withdraw everything at once.
pub async fn opt_out(req: &Request, env: &Env, raw: &str) -> Result<Response, AppError> {
    let opened = claims(env, raw).await?;
    same_site(req, &opened.site)?;
    let prefs = withdraw_all(env, &opened, "preference_centre_opt_out").await?;
    answer(&opened.site, prefs)
}
