//! Webhook endpoints of a site (Standard Webhooks out to the merchant's
//! systems): the admin API. KV keeps the site's endpoints in one record beside
//! its config (`hooks:{site}`); every change is copied to each ledger shard,
//! which queues and delivers the events it records itself.

use consent_core::SiteConfig;
use serde::Deserialize;
use worker::{Env, Request, Response, Url};

use crate::{
    edge::keys::Rotation,
    edge::sites::{kv_get, kv_put},
    error::{invalid, AppError},
    http::{json, no_store, query_param, read_json, read_optional_json},
    protocol::{
        new_secret, HookDeliveryView, HookEndpoint, HookEndpointState, HookEventType, HookSecret,
        LedgerClient,
    },
};

/// Longest endpoint URL accepted.
pub const MAX_URL: usize = 2_048;
const MAX_ENDPOINTS: usize = 20;

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

fn kv_key(site: &str) -> String {
    format!("hooks:{site}")
}

/// Whether this Worker runs locally (`HOOK_URLS=local`, set by `scripts/dev`):
/// then plain http and loopback endpoints are allowed.
fn local_dev(env: &Env) -> bool {
    crate::vars::is(env, "HOOK_URLS", "local")
}

/// Why `raw` may not be an endpoint URL, if it may not: http(s) only, https
/// outside local dev, no credentials, at most 2,048 characters, and in
/// production no loopback, private, link-local or `localhost` host.
pub fn url_problem(raw: &str, local: bool) -> Option<&'static str> {
    if raw.len() > MAX_URL {
        return Some("at most 2048 characters");
    }
    let Ok(url) = Url::parse(raw) else {
        return Some("not an absolute URL");
    };
    match (url.scheme(), local) {
        ("https", _) | ("http", true) => {}
        ("http", false) => return Some("must be https"),
        _ => return Some("must be an http(s) URL"),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Some("must not carry a user name or password");
    }
    let Some(host) = url.host() else {
        return Some("needs a host");
    };
    if !local && is_internal(&host) {
        return Some("must not point at a loopback, private or link-local address");
    }
    None
}

fn is_internal(host: &worker::url::Host<&str>) -> bool {
    use worker::url::Host;
    match host {
        Host::Domain(d) => {
            let d = d.trim_end_matches('.').to_ascii_lowercase();
            d == "localhost" || d.ends_with(".localhost") || d.ends_with(".local")
        }
        Host::Ipv4(ip) => {
            let [a, b, ..] = ip.octets();
            ip.is_loopback()
                || ip.is_private()
                || ip.is_link_local()
                || ip.is_unspecified()
                || ip.is_broadcast()
                || a == 0
                || (a == 100 && (64..128).contains(&b))
        }
        Host::Ipv6(ip) => {
            let first = ip.segments()[0];
            ip.is_loopback()
                || ip.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || ip
                    .to_ipv4_mapped()
                    .is_some_and(|v4| is_internal(&Host::Ipv4(v4)))
        }
    }
}

/// Event names → types; the first unknown name is the problem.
pub fn parse_events(names: &[String]) -> Result<Vec<HookEventType>, String> {
    let mut out = Vec::with_capacity(names.len());
    for name in names {
        let t = HookEventType::parse(name).ok_or_else(|| {
            let known: Vec<&str> = HookEventType::ALL.iter().map(|t| t.as_str()).collect();
            format!(
                "unknown event '{}'; known: {}",
                truncate(name),
                known.join(", ")
            )
        })?;
        out.push(t);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

fn truncate(s: &str) -> String {
    s.chars().take(64).collect()
}

async fn load_all(env: &Env, site: &str) -> Result<Vec<HookEndpoint>, AppError> {
    let text = kv_get(env, &kv_key(site)).await?;
    match text {
        None => Ok(Vec::new()),
        Some(t) => serde_json::from_str(&t)
            .map_err(|e| AppError::Internal(format!("webhook endpoints of {site}: {e}"))),
    }
}

/// Stores the site's endpoints and copies them to every shard.
async fn save_all(
    env: &Env,
    site: &SiteConfig,
    endpoints: &[HookEndpoint],
) -> Result<Vec<HookEndpointState>, AppError> {
    let text = serde_json::to_string(endpoints).map_err(|e| AppError::Internal(e.to_string()))?;
    kv_put(env, &kv_key(&site.id), &text).await?;
    let mut states = Vec::new();
    for ledger in site.shard_names() {
        let client = LedgerClient::new(env, &ledger)?;
        states.extend(client.sync_hook_endpoints(&site.id, endpoints).await?);
    }
    Ok(states)
}

async fn all_states(env: &Env, site: &SiteConfig) -> Result<Vec<HookEndpointState>, AppError> {
    let mut states = Vec::new();
    for ledger in site.shard_names() {
        states.extend(
            LedgerClient::new(env, &ledger)?
                .hook_endpoint_states()
                .await?,
        );
    }
    Ok(states)
}

/// What the list shows of one endpoint: never a secret; its state summed
/// over the shards (disabled if any shard disabled it).
fn listed(e: &HookEndpoint, states: &[HookEndpointState], now: i64) -> serde_json::Value {
    let mine = states.iter().filter(|s| s.id == e.id);
    let (mut pending, mut delivered) = (0, 0);
    let (mut failing_since, mut disabled_at, mut next): (Option<i64>, Option<i64>, Option<i64>) =
        (None, None, None);
    for s in mine {
        pending += s.pending;
        delivered += s.delivered;
        failing_since = min_some(failing_since, s.failing_since);
        disabled_at = min_some(disabled_at, s.disabled_at);
        next = min_some(next, s.next_attempt_at);
    }
    let state = match (e.paused, disabled_at, failing_since) {
        (true, _, _) => "paused",
        (_, Some(_), _) => "disabled",
        (_, _, Some(_)) => "failing",
        _ => "active",
    };
    let secrets: Vec<_> = e
        .secrets
        .iter()
        .filter(|s| s.expires_at.is_none_or(|at| at > now))
        .map(|s| serde_json::json!({ "expires_at": s.expires_at }))
        .collect();
    serde_json::json!({
        "id": e.id, "url": e.url, "events": e.events, "paused": e.paused,
        "created_at": e.created_at, "state": state, "failing_since": failing_since,
        "disabled_at": disabled_at, "pending": pending, "delivered": delivered,
        "next_attempt_at": next, "secrets": secrets,
    })
}

fn min_some(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewEndpoint {
    url: String,
    #[serde(default)]
    events: Vec<String>,
}

fn new_id() -> Result<String, AppError> {
    let mut b = [0u8; 8];
    getrandom::fill(&mut b).map_err(|e| AppError::Internal(e.to_string()))?;
    Ok(format!(
        "whe_{}",
        b.iter().map(|x| format!("{x:02x}")).collect::<String>()
    ))
}

fn fresh_secret() -> Result<String, AppError> {
    new_secret().map_err(|e| AppError::Internal(e.to_string()))
}

/// `POST /admin/sites/{site}/webhook-endpoints` `{"url", "events"?}` → 201
/// with its signing secret, shown once.
pub async fn create(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    let body: NewEndpoint = read_json(&mut req).await?;
    if let Some(problem) = url_problem(&body.url, local_dev(env)) {
        return Err(invalid("url", problem));
    }
    let events = parse_events(&body.events).map_err(|d| invalid("events", d))?;
    let mut all = load_all(env, site).await?;
    if all.len() >= MAX_ENDPOINTS {
        return Err(invalid(
            "url",
            "this site already has 20 endpoints; delete one first",
        ));
    }
    let secret = fresh_secret()?;
    let endpoint = HookEndpoint {
        id: new_id()?,
        site: site.to_owned(),
        url: body.url,
        events,
        secrets: vec![HookSecret {
            secret: secret.clone(),
            expires_at: None,
        }],
        paused: false,
        created_at: now_ms(),
        resumed_at: None,
    };
    all.push(endpoint.clone());
    let states = save_all(env, &config, &all).await?;
    let mut shown = listed(&endpoint, &states, now_ms());
    shown["secret"] = secret.into();
    json(&shown, 201, no_store()?)
}

/// `GET /admin/sites/{site}/webhook-endpoints`: every endpoint with its state.
pub async fn list(env: &Env, site: &str) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    let all = load_all(env, site).await?;
    let states = if all.is_empty() {
        Vec::new()
    } else {
        all_states(env, &config).await?
    };
    let now = now_ms();
    let endpoints: Vec<_> = all.iter().map(|e| listed(e, &states, now)).collect();
    json(
        &serde_json::json!({ "endpoints": endpoints }),
        200,
        no_store()?,
    )
}

fn position(all: &[HookEndpoint], id: &str) -> Result<usize, AppError> {
    all.iter()
        .position(|e| e.id == id)
        .ok_or_else(|| AppError::NotFound(format!("webhook endpoint {}", truncate(id))))
}

/// What an admin does to one endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Change {
    /// Deliveries wait.
    Pause,
    /// Deliveries go again (and a disabled endpoint is enabled).
    Resume,
    /// Removed; its waiting deliveries are cancelled.
    Delete,
}

/// `POST …/{id}/pause`, `POST …/{id}/resume`, `DELETE …/{id}`.
pub async fn change(env: &Env, site: &str, id: &str, change: Change) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    let mut all = load_all(env, site).await?;
    let i = position(&all, id)?;
    let now = now_ms();
    let before = all[i].clone();
    match change {
        Change::Pause => all[i].paused = true,
        Change::Resume => {
            all[i].paused = false;
            all[i].resumed_at = Some(now);
        }
        Change::Delete => {
            all.remove(i);
        }
    }
    let states = save_all(env, &config, &all).await?;
    let shown = all.iter().find(|e| e.id == id).unwrap_or(&before);
    let mut body = listed(shown, &states, now);
    if change == Change::Delete {
        body["state"] = "deleted".into();
    }
    json(&body, 200, no_store()?)
}

/// `POST …/{id}/rotate` `{"overlap_hours"?}`: a new secret, shown once; the
/// old one keeps signing beside it for the overlap (both signatures sent).
pub async fn rotate(
    mut req: Request,
    env: &Env,
    site: &str,
    id: &str,
) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    let overlap = read_optional_json::<Rotation>(&mut req)
        .await?
        .overlap_ms()?;
    let mut all = load_all(env, site).await?;
    let i = position(&all, id)?;
    let now = now_ms();
    let until = now + overlap;
    let endpoint = &mut all[i];
    // Only the current secret overlaps; older ones stop now.
    endpoint
        .secrets
        .retain(|s| s.expires_at.is_none_or(|at| at > now));
    for s in &mut endpoint.secrets {
        s.expires_at = Some(s.expires_at.map_or(until, |at| at.min(until)));
    }
    let secret = fresh_secret()?;
    endpoint.secrets.insert(
        0,
        HookSecret {
            secret: secret.clone(),
            expires_at: None,
        },
    );
    let endpoint = endpoint.clone();
    let states = save_all(env, &config, &all).await?;
    let mut body = listed(&endpoint, &states, now);
    body["secret"] = secret.into();
    json(&body, 200, no_store()?)
}

/// `GET …/{id}/deliveries?limit=`: the newest deliveries over every shard.
pub async fn deliveries(
    req: &Request,
    env: &Env,
    site: &str,
    id: &str,
) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    position(&load_all(env, site).await?, id)?;
    let limit = match query_param(&req.url()?, "limit") {
        None => 50,
        Some(v) => v
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=200).contains(n))
            .ok_or(AppError::InvalidQuery {
                field: "limit",
                detail: "must be 1 to 200",
            })?,
    };
    let mut all: Vec<HookDeliveryView> = Vec::new();
    for ledger in config.shard_names() {
        let page = LedgerClient::new(env, &ledger)?
            .hook_deliveries(id, limit)
            .await?;
        all.extend(page.deliveries);
    }
    all.sort_by_key(|d| std::cmp::Reverse(d.created_at));
    all.truncate(limit as usize);
    json(&serde_json::json!({ "deliveries": all }), 200, no_store()?)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReplayRange {
    from: i64,
    to: i64,
}

/// `POST …/{id}/replay` `{"from", "to"}` (Unix ms): the events of that range
/// that were delivered go again, same `webhook-id`, in order.
pub async fn replay(
    mut req: Request,
    env: &Env,
    site: &str,
    id: &str,
) -> Result<Response, AppError> {
    let config = crate::edge::sites::load(env, site).await?;
    let range: ReplayRange = read_json(&mut req).await?;
    if range.from < 0 || range.to < range.from {
        return Err(invalid("to", "from and to are Unix ms with from <= to"));
    }
    position(&load_all(env, site).await?, id)?;
    let mut replayed = 0;
    for ledger in config.shard_names() {
        replayed += LedgerClient::new(env, &ledger)?
            .replay_hooks(id, range.from, range.to)
            .await?
            .replayed;
    }
    json(
        &serde_json::json!({ "replayed": replayed }),
        202,
        no_store()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_are_https_public_and_short_in_production() {
        assert_eq!(url_problem("https://crm.example.com/hooks", false), None);
        assert_eq!(
            url_problem("https://crm.example.com:8443/h?x=1", false),
            None
        );
        for (bad, why) in [
            ("http://crm.example.com/hooks", "must be https"),
            ("ftp://crm.example.com/", "must be an http(s) URL"),
            ("javascript:alert(1)", "must be an http(s) URL"),
            ("crm.example.com/hooks", "not an absolute URL"),
            (
                "https://user:pw@crm.example.com/",
                "must not carry a user name or password",
            ),
        ] {
            assert_eq!(url_problem(bad, false), Some(why), "{bad}");
        }
        for internal in [
            "https://127.0.0.1/h",
            "https://10.1.2.3/h",
            "https://172.16.0.1/h",
            "https://192.168.1.1/h",
            "https://169.254.169.254/latest",
            "https://100.64.0.1/h",
            "https://0.0.0.0/h",
            "https://[::1]/h",
            "https://[fd00::1]/h",
            "https://[fe80::1]/h",
            "https://[::ffff:127.0.0.1]/h",
            "https://localhost/h",
            "https://api.localhost/h",
            "https://printer.local/h",
        ] {
            assert_eq!(
                url_problem(internal, false),
                Some("must not point at a loopback, private or link-local address"),
                "{internal}"
            );
        }
        let long = format!("https://crm.example.com/{}", "a".repeat(MAX_URL));
        assert_eq!(url_problem(&long, false), Some("at most 2048 characters"));
    }

    #[test]
    fn local_dev_allows_plain_http_to_loopback_but_still_only_http() {
        assert_eq!(url_problem("http://127.0.0.1:9999/hook", true), None);
        assert_eq!(url_problem("https://localhost/h", true), None);
        assert_eq!(
            url_problem("file:///etc/passwd", true),
            Some("must be an http(s) URL")
        );
    }

    #[test]
    fn event_filters_name_known_events_only() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        assert_eq!(
            parse_events(&names(&[
                "consent.withdrawn",
                "consent.granted",
                "consent.granted"
            ])),
            Ok(vec![HookEventType::Granted, HookEventType::Withdrawn])
        );
        let err = parse_events(&names(&["consent.granted", "consent.deleted"])).unwrap_err();
        assert!(err.starts_with("unknown event 'consent.deleted'"), "{err}");
        assert_eq!(parse_events(&[]), Ok(vec![]));
    }
}
