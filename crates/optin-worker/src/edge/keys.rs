//! Site API keys: bearer keys for the merchant's servers, each with scopes
//! (`send`, `read`, `capture`). A key is shown once; KV keeps only its SHA-256.
//! The token names its id (`wok_<id>_<secret>`), so a check is one KV read
//! (kept in the isolate for a few seconds, like site configs).

use std::{cell::RefCell, collections::BTreeMap};

use consent_core::chain::evidence_digest;
use serde::{Deserialize, Serialize};
use worker::{Env, Request, Response};

use crate::{
    edge::{
        admin::constant_time_eq,
        sites::{kv_get, kv_put},
    },
    error::{invalid, AppError, KeyError},
    http::{json, no_store, read_json, read_optional_json},
};

/// What a key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Scope {
    /// Send messages (`POST …/messages`) and read their state.
    Send,
    /// Read permissions and message states.
    Read,
    /// Record consents collected off the website.
    Capture,
}

impl Scope {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Send => "send",
            Scope::Read => "read",
            Scope::Capture => "capture",
        }
    }
}

/// A stored key (never the secret).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ApiKey {
    /// Public id, part of the token.
    pub id: String,
    /// The site it belongs to.
    pub site: String,
    /// The merchant's label for it.
    pub name: String,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Hex SHA-256 of the whole token.
    hash: String,
    /// Unix ms.
    pub created_at: i64,
    /// Unix ms, once revoked.
    pub revoked_at: Option<i64>,
    /// Unix ms after which it stops working (a rotated key's overlap).
    pub expires_at: Option<i64>,
    /// The key that replaced it on rotation.
    pub replaced_by: Option<String>,
}

impl ApiKey {
    fn usable_at(&self, now: i64) -> Result<(), KeyError> {
        if self.revoked_at.is_some() {
            return Err(KeyError::Revoked);
        }
        if self.expires_at.is_some_and(|at| at <= now) {
            return Err(KeyError::Expired);
        }
        Ok(())
    }

    /// What the list shows: everything but the hash, and its state now.
    fn listed(&self, now: i64) -> serde_json::Value {
        let state = match self.usable_at(now) {
            Ok(()) if self.expires_at.is_some() => "expiring",
            Ok(()) => "active",
            Err(KeyError::Revoked) => "revoked",
            Err(_) => "expired",
        };
        serde_json::json!({
            "id": self.id, "name": self.name, "scopes": self.scopes,
            "created_at": self.created_at, "revoked_at": self.revoked_at,
            "expires_at": self.expires_at, "replaced_by": self.replaced_by, "state": state,
        })
    }
}

const TOKEN_PREFIX: &str = "wok_";
const CACHE_MS: i64 = 10_000;
/// A rotated key works this long beside its successor unless asked otherwise.
const DEFAULT_OVERLAP_HOURS: u32 = 24;
const MAX_OVERLAP_HOURS: u32 = 720;
const MAX_KEYS_PER_SITE: usize = 100;

thread_local! {
    static CACHE: RefCell<BTreeMap<String, (i64, ApiKey)>> = const { RefCell::new(BTreeMap::new()) };
}

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

fn record_key(id: &str) -> String {
    format!("apikey:{id}")
}

fn index_key(site: &str, id: &str) -> String {
    format!("apikeys:{site}:{id}")
}

fn random_hex(bytes: usize) -> Result<String, AppError> {
    let mut b = vec![0u8; bytes];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(b.iter().map(|x| format!("{x:02x}")).collect())
}

/// The key the request's bearer token names, if it belongs to `site` and
/// holds one of `scopes`.
pub async fn require(
    req: &Request,
    env: &Env,
    site: &str,
    scopes: &[Scope],
) -> Result<ApiKey, AppError> {
    let given = req.headers().get("Authorization")?.unwrap_or_default();
    let token = given
        .strip_prefix("Bearer ")
        .ok_or(AppError::ApiKey(KeyError::Missing))?
        .trim();
    let id = id_of(token).ok_or(AppError::ApiKey(KeyError::Malformed))?;
    let key = load(env, id)
        .await?
        .ok_or(AppError::ApiKey(KeyError::Unknown))?;
    if !constant_time_eq(evidence_digest(token).as_bytes(), key.hash.as_bytes()) {
        return Err(AppError::ApiKey(KeyError::Unknown));
    }
    key.usable_at(now_ms()).map_err(AppError::ApiKey)?;
    if key.site != site {
        return Err(AppError::ApiKey(KeyError::OtherSite));
    }
    if !scopes.iter().any(|s| key.scopes.contains(s)) {
        return Err(AppError::ApiKey(KeyError::MissingScope(scopes[0].as_str())));
    }
    Ok(key)
}

/// `wok_<16 hex id>_<64 hex secret>` → the id.
fn id_of(token: &str) -> Option<&str> {
    let rest = token.strip_prefix(TOKEN_PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let hex = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_hexdigit());
    (hex(id, 16) && hex(secret, 64)).then_some(id)
}

async fn load(env: &Env, id: &str) -> Result<Option<ApiKey>, AppError> {
    let now = now_ms();
    let hit = CACHE.with(|c| {
        c.borrow()
            .get(id)
            .filter(|(at, _)| now - at < CACHE_MS)
            .map(|(_, k)| k.clone())
    });
    if hit.is_some() {
        return Ok(hit);
    }
    let stored = kv_get(env, &record_key(id)).await?;
    let Some(json) = stored else {
        return Ok(None);
    };
    let key: ApiKey = serde_json::from_str(&json)
        .map_err(|e| AppError::Internal(format!("api key {id}: {e}")))?;
    remember(&key, now);
    Ok(Some(key))
}

fn remember(key: &ApiKey, now: i64) {
    CACHE.with(|c| {
        let mut c = c.borrow_mut();
        if c.len() >= 1024 {
            c.clear();
        }
        c.insert(key.id.clone(), (now, key.clone()));
    });
}

async fn store(env: &Env, key: &ApiKey) -> Result<(), AppError> {
    let json = serde_json::to_string(key).map_err(|e| AppError::Internal(e.to_string()))?;
    for name in [record_key(&key.id), index_key(&key.site, &key.id)] {
        kv_put(env, &name, &json).await?;
    }
    remember(key, now_ms());
    Ok(())
}

async fn site_keys(env: &Env, site: &str) -> Result<Vec<ApiKey>, AppError> {
    let kv = env.kv("SITES")?;
    let listed = kv
        .list()
        .prefix(format!("apikeys:{site}:"))
        .execute()
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    let mut keys = Vec::with_capacity(listed.keys.len());
    for entry in listed.keys {
        let text = kv_get(env, &entry.name).await?;
        if let Some(k) = text.and_then(|t| serde_json::from_str::<ApiKey>(&t).ok()) {
            keys.push(k);
        }
    }
    keys.sort_by_key(|k| k.created_at);
    Ok(keys)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKey {
    #[serde(default)]
    name: String,
    scopes: Vec<Scope>,
}

/// Body of a rotation (keys and webhook secrets alike).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct Rotation {
    overlap_hours: Option<u32>,
}

impl Rotation {
    /// How long the old secret keeps working, in ms (24 h unless asked; at most 30 days).
    pub(crate) fn overlap_ms(&self) -> Result<i64, AppError> {
        let hours = self.overlap_hours.unwrap_or(DEFAULT_OVERLAP_HOURS);
        if hours > MAX_OVERLAP_HOURS {
            return Err(invalid("overlap_hours", "at most 720 (30 days)"));
        }
        Ok(i64::from(hours) * 3_600_000)
    }
}

/// Mints a key: the token (shown once) and its stored record.
fn mint(site: &str, name: String, scopes: Vec<Scope>) -> Result<(String, ApiKey), AppError> {
    let id = random_hex(8)?;
    let token = format!("{TOKEN_PREFIX}{id}_{}", random_hex(32)?);
    let key = ApiKey {
        hash: evidence_digest(&token),
        id,
        site: site.to_owned(),
        name,
        scopes,
        created_at: now_ms(),
        revoked_at: None,
        expires_at: None,
        replaced_by: None,
    };
    Ok((token, key))
}

fn shown_once(token: &str, key: &ApiKey) -> Result<Response, AppError> {
    let mut body = key.listed(now_ms());
    body["key"] = token.into();
    json(&body, 201, no_store()?)
}

/// `POST /admin/sites/{site}/keys` `{"name", "scopes"}` → 201 with the key, shown once.
pub async fn create(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    crate::edge::sites::load(env, site).await?;
    let mut body: NewKey = read_json(&mut req).await?;
    body.scopes.sort();
    body.scopes.dedup();
    if body.scopes.is_empty() {
        return Err(invalid(
            "scopes",
            "name at least one of send, read, capture",
        ));
    }
    if body.name.chars().count() > 64 || body.name.chars().any(char::is_control) {
        return Err(invalid(
            "name",
            "at most 64 characters, no control characters",
        ));
    }
    if site_keys(env, site).await?.len() >= MAX_KEYS_PER_SITE {
        return Err(invalid(
            "scopes",
            "this site already has 100 keys; revoke some first",
        ));
    }
    let (token, key) = mint(site, body.name, body.scopes)?;
    store(env, &key).await?;
    shown_once(&token, &key)
}

/// `GET /admin/sites/{site}/keys`: every key with its state, never a secret.
pub async fn list(env: &Env, site: &str) -> Result<Response, AppError> {
    let now = now_ms();
    let keys: Vec<_> = site_keys(env, site)
        .await?
        .iter()
        .map(|k| k.listed(now))
        .collect();
    json(&serde_json::json!({ "keys": keys }), 200, no_store()?)
}

async fn of_site(env: &Env, site: &str, id: &str) -> Result<ApiKey, AppError> {
    let not_found =
        || AppError::NotFound(format!("key {}", id.chars().take(32).collect::<String>()));
    let valid = id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit());
    if !valid {
        return Err(not_found());
    }
    match load(env, id).await? {
        Some(k) if k.site == site => Ok(k),
        _ => Err(not_found()),
    }
}

/// `DELETE /admin/sites/{site}/keys/{id}`: revoked at once (other isolates
/// within seconds, other locations as KV propagates).
pub async fn revoke(env: &Env, site: &str, id: &str) -> Result<Response, AppError> {
    let mut key = of_site(env, site, id).await?;
    if key.revoked_at.is_none() {
        key.revoked_at = Some(now_ms());
        store(env, &key).await?;
    }
    json(&key.listed(now_ms()), 200, no_store()?)
}

/// `POST /admin/sites/{site}/keys/{id}/rotate` `{"overlap_hours"?}`: a new key
/// with the same scopes; the old one keeps working for the overlap.
pub async fn rotate(
    mut req: Request,
    env: &Env,
    site: &str,
    id: &str,
) -> Result<Response, AppError> {
    let mut old = of_site(env, site, id).await?;
    old.usable_at(now_ms())
        .map_err(|_| invalid("id", "a revoked or expired key cannot be rotated"))?;
    let overlap = read_optional_json::<Rotation>(&mut req)
        .await?
        .overlap_ms()?;
    let (token, new) = mint(site, old.name.clone(), old.scopes.clone())?;
    store(env, &new).await?;
    old.expires_at = Some(now_ms() + overlap);
    old.replaced_by = Some(new.id.clone());
    store(env, &old).await?;
    shown_once(&token, &new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_tokens_name_an_id() {
        let id = "0123456789abcdef";
        let secret = "a".repeat(64);
        assert_eq!(id_of(&format!("wok_{id}_{secret}")), Some(id));
        for bad in [
            format!("wok_{id}_{}", "a".repeat(63)),
            format!("wok_{id}x_{secret}"),
            format!("wk_{id}_{secret}"),
            format!("wok_{id}{secret}"),
            format!("wok_{}_{secret}", "g".repeat(16)),
            String::new(),
        ] {
            assert_eq!(id_of(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_key_stops_at_revocation_or_the_end_of_its_overlap() {
        let mut key = ApiKey {
            id: "0".repeat(16),
            site: "s".into(),
            name: String::new(),
            scopes: vec![Scope::Send],
            hash: String::new(),
            created_at: 0,
            revoked_at: None,
            expires_at: Some(100),
            replaced_by: None,
        };
        assert_eq!(key.usable_at(99), Ok(()));
        assert_eq!(key.listed(99)["state"], "expiring");
        assert_eq!(key.usable_at(100), Err(KeyError::Expired));
        key.revoked_at = Some(50);
        assert_eq!(key.usable_at(10), Err(KeyError::Revoked));
        assert_eq!(key.listed(10)["state"], "revoked");
    }
}
