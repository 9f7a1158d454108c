//! Site configuration: KV first, with the built-in `demo` site as a fallback,
//! kept in the isolate for a few seconds so a busy site's requests do not each
//! read and parse it again.

use std::{cell::RefCell, collections::BTreeMap, rc::Rc};

use consent_core::{site::is_valid_site_id, SiteConfig};
use worker::Env;

use crate::{error::AppError, kept};

const DEMO: &str = include_str!("../../sites/demo.json");

/// How long an isolate reuses a config it read. KV is eventually consistent
/// (other locations see a write within about 60 s), so this adds no staleness a
/// merchant does not already have; a `PUT` through this isolate replaces its
/// entry at once.
const CACHE_MS: f64 = 10_000.0;
/// Configs kept per isolate; beyond this the cache starts again.
const CACHE_SITES: usize = 256;

thread_local! {
    // One isolate runs one request at a time on one thread.
    static CACHE: RefCell<BTreeMap<String, (f64, Rc<SiteConfig>)>> = const { RefCell::new(BTreeMap::new()) };
    // Which site a business number's webhooks go to (KV `pnid:{id}`), with when it was read.
    static NUMBERS: RefCell<BTreeMap<String, (f64, Option<String>)>> = const { RefCell::new(BTreeMap::new()) };
    // Renderings of a cached config, by (site, what), with the config's own time.
    static RENDERED: RefCell<BTreeMap<(String, String), (f64, String)>> = const { RefCell::new(BTreeMap::new()) };
}

/// A rendering of a site's configuration (`what` names which: the public
/// config in a locale, say), kept exactly as long as the config it was made
/// from: a request the cache can answer neither clones the config nor
/// serialises it again. A `PUT` through this isolate drops the site's renderings.
/// Also says how many more milliseconds the rendering stays current here.
pub async fn rendered(
    env: &Env,
    id: &str,
    what: &str,
    render: impl FnOnce(&SiteConfig) -> Result<String, AppError>,
) -> Result<(String, f64), AppError> {
    let now = worker::Date::now().as_millis() as f64;
    let key = (id.to_owned(), what.to_owned());
    if let Some((at, body)) = RENDERED.with(|r| kept::current(r, &key, now, CACHE_MS)) {
        return Ok((body, CACHE_MS - (now - at)));
    }
    let site = load(env, id).await?;
    let body = render(&site)?;
    let at = CACHE
        .with(|c| c.borrow().get(id).map(|(at, _)| *at))
        .unwrap_or(now);
    RENDERED.with(|r| kept::keep(r, key, at, body.clone(), CACHE_SITES * 8));
    Ok((body, CACHE_MS - (now - at)))
}

/// Loads a site's configuration, or `UnknownSite`; shared with the isolate's
/// cache, so a request does not copy the whole config.
pub async fn load(env: &Env, id: &str) -> Result<Rc<SiteConfig>, AppError> {
    if !is_valid_site_id(id) {
        return Err(AppError::UnknownSite(truncate(id)));
    }
    let now = worker::Date::now().as_millis() as f64;
    if let Some(site) = cached(id, now) {
        return Ok(site);
    }
    let site = Rc::new(read(env, id).await?);
    remember(&site, now);
    Ok(site)
}

fn cached(id: &str, now: f64) -> Option<Rc<SiteConfig>> {
    CACHE
        .with(|c| kept::current(c, id, now, CACHE_MS))
        .map(|(_, site)| site)
}

fn remember(site: &Rc<SiteConfig>, now: f64) {
    CACHE.with(|c| kept::keep(c, site.id.clone(), now, site.clone(), CACHE_SITES));
    RENDERED.with(|r| r.borrow_mut().retain(|(id, _), _| *id != site.id));
}

/// The text under `key` in the `SITES` KV namespace, if any.
pub async fn kv_get(env: &Env, key: &str) -> Result<Option<String>, AppError> {
    env.kv("SITES")?
        .get(key)
        .text()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

/// Stores `value` under `key` in the `SITES` KV namespace.
pub async fn kv_put(env: &Env, key: &str, value: &str) -> Result<(), AppError> {
    env.kv("SITES")?
        .put(key, value)
        .map_err(|e| AppError::Internal(e.to_string()))?
        .execute()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))
}

async fn read(env: &Env, id: &str) -> Result<SiteConfig, AppError> {
    let stored = kv_get(env, &format!("site:{id}")).await?;
    let json = match stored {
        Some(json) => json,
        None if id == "demo" => return demo(env),
        None => return Err(AppError::UnknownSite(id.to_owned())),
    };
    serde_json::from_str(&json).map_err(|e| AppError::Internal(format!("site {id} config: {e}")))
}

/// Stores a site's configuration (already validated).
pub async fn store(env: &Env, site: &SiteConfig) -> Result<(), AppError> {
    let json = serde_json::to_string(site).map_err(|e| AppError::Internal(e.to_string()))?;
    kv_put(env, &format!("site:{}", site.id), &json).await?;
    remember(
        &Rc::new(site.clone()),
        worker::Date::now().as_millis() as f64,
    );
    Ok(())
}

/// The site that claimed business number `phone_number_id` (KV `pnid:{id}`),
/// kept in the isolate like a config: every status webhook asks.
pub async fn number_owner(env: &Env, phone_number_id: &str) -> Result<Option<String>, AppError> {
    let now = worker::Date::now().as_millis() as f64;
    if let Some((_, owner)) = NUMBERS.with(|n| kept::current(n, phone_number_id, now, CACHE_MS)) {
        return Ok(owner);
    }
    let owner = kv_get(env, &format!("pnid:{phone_number_id}")).await?;
    remember_owner(phone_number_id, owner.clone(), now);
    Ok(owner)
}

fn remember_owner(phone_number_id: &str, owner: Option<String>, now: f64) {
    NUMBERS.with(|n| kept::keep(n, phone_number_id.to_owned(), now, owner, CACHE_SITES));
}

/// Routes the site's business number's webhooks to it (KV `pnid:{id}`), unless
/// another site already holds that number or it is the built-in demo's number
/// (which routes to `demo` without an entry).
pub async fn claim_phone_number_id(env: &Env, site: &SiteConfig) -> Result<(), AppError> {
    let pnid = &site.whatsapp.phone_number_id;
    if *pnid == demo(env)?.whatsapp.phone_number_id {
        return Ok(());
    }
    let kv = env.kv("SITES")?;
    let key = format!("pnid:{pnid}");
    let held = kv
        .get(&key)
        .text()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    if held.is_some() {
        return Ok(());
    }
    kv.put(&key, site.id.as_str())
        .map_err(|e| AppError::Internal(e.to_string()))?
        .execute()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let now = worker::Date::now().as_millis() as f64;
    remember_owner(pnid, Some(site.id.clone()), now);
    Ok(())
}

/// The built-in demo site. `wrangler dev --var`s move it, so several stacks can
/// run side by side: `DEMO_ORIGIN` is the Worker's own origin (its privacy page),
/// `SHOP_ORIGINS` the demo shop's origins (comma-separated), the only pages
/// allowed to collect consents for it.
fn demo(env: &Env) -> Result<SiteConfig, AppError> {
    let mut site: SiteConfig =
        serde_json::from_str(DEMO).map_err(|e| AppError::Internal(format!("demo config: {e}")))?;
    if let Some(origin) = crate::vars::text(env, "DEMO_ORIGIN") {
        site.privacy_policy_url = format!("{origin}/privacy.html");
    }
    if let Some(shops) = crate::vars::text(env, "SHOP_ORIGINS") {
        site.allowed_origins = shops.split(',').map(|o| o.trim().to_owned()).collect();
    }
    Ok(site)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_built_in_demo_site_parses() {
        let site: consent_core::SiteConfig = serde_json::from_str(super::DEMO).unwrap();
        assert_eq!(site.id, "demo");
        assert_eq!(site.categories.len(), 5);
        assert!(site.allows_origin("http://127.0.0.1:8791"));
        assert!(site.allows_origin("http://localhost:8791"));
        assert!(!site.allows_origin("http://127.0.0.1:8787"));
        assert_eq!(site.whatsapp.template_name, "optin_confirmation");
    }
}
