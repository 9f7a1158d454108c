//! Merchant admin API, behind `Authorization: Bearer <token>`: the global
//! `ADMIN_TOKEN`, or a site's own `ADMIN_TOKEN_<SITE>` for that site only.

use consent_core::{normalize_phone, ConsentError, SiteConfig};
use futures_util::stream;
use worker::{
    js_sys::Uint8Array,
    wasm_bindgen::{JsCast, JsValue},
    web_sys::ReadableStream,
    Env, Request, Response, ResponseBody,
};

use super::sites;
use crate::{
    error::{from_json_error, invalid, AppError},
    http::{json, no_store, query_param, read_json},
    protocol::{preferences_token, BreakerView, LedgerClient, Range, Stats, Verification},
};

/// Refuses the request unless it carries the global token or `site`'s token
/// (compared in constant time). Answers which one it was, by the secret's name
/// (`ADMIN_TOKEN` or `ADMIN_TOKEN_<SITE>`): the actor of a breaker decision.
pub fn authorize(req: &Request, env: &Env, site: &str) -> Result<String, AppError> {
    let given = req.headers().get("Authorization")?.unwrap_or_default();
    let token = given.strip_prefix("Bearer ").unwrap_or("");
    let site_secret = format!(
        "ADMIN_TOKEN_{}",
        site.to_ascii_uppercase().replace('-', "_")
    );
    ["ADMIN_TOKEN", site_secret.as_str()]
        .iter()
        .find(|name| {
            env.secret(name)
                .map(|s| s.to_string())
                .is_ok_and(|expected| {
                    !expected.is_empty() && constant_time_eq(token.as_bytes(), expected.as_bytes())
                })
        })
        .map(|name| (*name).to_owned())
        .ok_or(AppError::Unauthorized)
}

/// Compares without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The ledger holding `raw_phone` on `site`, and the number as E.164.
async fn subject_ledger(
    env: &Env,
    site: &SiteConfig,
    raw_phone: &str,
) -> Result<(LedgerClient, String), AppError> {
    let phone = normalize_phone(&percent_decode(raw_phone), site.default_calling_code)
        .map_err(ConsentError::from)?;
    let ledger = LedgerClient::new(env, &site.shard_name(site.shard_for(phone.as_str())))?;
    Ok((ledger, phone.as_str().to_owned()))
}

/// `GET /admin/sites/{site}/subscribers/{phone}`: history, state, confirmations.
pub async fn subscriber(env: &Env, site: &str, raw_phone: &str) -> Result<Response, AppError> {
    let config = sites::load(env, site).await?;
    let (ledger, phone) = subject_ledger(env, &config, raw_phone).await?;
    let view = ledger.subscriber(&phone).await?;
    let mut view = serde_json::to_value(&view).map_err(|e| AppError::Internal(e.to_string()))?;
    view["receipt"] = receipt(&config, &view);
    view["preferences_url"] = preferences_url(env, &config, &view)?.into();
    json(&view, 200, no_store()?)
}

/// A fresh preference-centre link for the person's latest grant, so support can
/// send it again (`None` once erased: no grant keeps its phone).
fn preferences_url(
    env: &Env,
    site: &SiteConfig,
    view: &serde_json::Value,
) -> Result<Option<String>, AppError> {
    let grant = view["events"]
        .as_array()
        .and_then(|events| events.iter().rev().find(|e| e["kind"] == "grant"))
        .and_then(|g| g["id"].as_str());
    let (Some(id), Some(phone)) = (grant, view["phone"].as_str()) else {
        return Ok(None);
    };
    let key = env.secret("PREFS_TOKEN_KEY")?.to_string();
    let now = worker::Date::now().as_millis() as i64;
    let token = preferences_token(key.as_bytes(), &site.id, site.shard_for(phone), id, now);
    Ok(Some(format!("/p/{token}")))
}

/// A consent receipt after the Kantara Consent Receipt / ISO/IEC TS 27560 shape:
/// who holds what consent from whom, for which purposes, on what notice, as of now.
fn receipt(site: &SiteConfig, view: &serde_json::Value) -> serde_json::Value {
    let events = view["events"].as_array().cloned().unwrap_or_default();
    let last_grant = events.iter().rev().find(|e| e["kind"] == "grant");
    let evidence = last_grant.map(|g| &g["evidence"]);
    // Purposes are named as the person read them: in the language they agreed in.
    let locale = evidence
        .and_then(|e| e["locale"].as_str())
        .and_then(consent_core::Locale::from_tag)
        .unwrap_or(site.default_locale);
    let described = |id: &str| {
        let kind = site
            .category(&consent_core::Category::parse(id)?)
            .map(|c| c.kind)?;
        Some((site.text(locale, None, id)?, kind))
    };
    let purposes: Vec<serde_json::Value> = view["state"]
        .as_array()
        .map(|rows| {
            rows.iter()
                .map(|r| {
                    let (label, kind) = described(r["category"].as_str().unwrap_or_default())
                        .map_or((None, None), |(l, k)| (Some(l), Some(k)));
                    serde_json::json!({
                        "purpose": r["category"], "label": label, "kind": kind, "status": r["status"],
                        "since_event": r["event_id"], "updated_at": r["updated_at"],
                        "channel": r["channel"],
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    serde_json::json!({
        "receipt_version": "optin-receipt/1",
        "issued_at": worker::Date::now().as_millis(),
        "controller": { "name": site.business_name, "site": site.id, "privacy_policy_url": site.privacy_policy_url },
        // Where the ledger holding this record is kept (a Durable Objects jurisdiction).
        "storage": { "jurisdiction": site.jurisdiction.map(|j| j.as_str()) },
        "subject": { "phone": view["phone"] },
        "collection": evidence.map(collection),
        "consent_event": last_grant.map(|g| serde_json::json!({ "id": g["id"], "server_ts": g["server_ts"], "hash": g["hash"] })),
        "purposes": purposes,
        "events": events.iter().map(|e| serde_json::json!({ "id": e["id"], "kind": e["kind"], "server_ts": e["server_ts"], "hash": e["hash"] })).collect::<Vec<_>>(),
    })
}

/// How the last grant was collected; for a capture off the website also who
/// took it, where, the paper form and whether it had to be confirmed.
fn collection(e: &serde_json::Value) -> serde_json::Value {
    let mut c = serde_json::json!({
        "surface": e["surface"], "page_url": e["page_url"], "notice_text": e["notice_text"],
        "notice_sha256": e["notice_hash"], "notice_version": e["notice_version"], "locale": e["locale"],
        "unchecked_by_default": e["unchecked_by_default"],
    });
    if e["capture"].is_object() {
        c["captured_by"] = e["capture"].clone();
    }
    c
}

/// `DELETE /admin/sites/{site}/subscribers/{phone}`: erasure.
pub async fn erase(env: &Env, site: &str, raw_phone: &str) -> Result<Response, AppError> {
    let config = sites::load(env, site).await?;
    let (ledger, phone) = subject_ledger(env, &config, raw_phone).await?;
    json(&ledger.erase(&phone).await?, 200, no_store()?)
}

/// `GET /admin/sites/{site}/verify`: walks the chain.
pub async fn verify(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let mut total = Verification {
        ok: true,
        events: 0,
        first_broken: None,
    };
    let mut shards = Vec::new();
    for ledger in site.shard_names() {
        let v = LedgerClient::new(env, &ledger)?.verify().await?;
        total.events += v.events;
        if !v.ok && total.ok {
            total.ok = false;
            total.first_broken = v.first_broken.clone();
        }
        shards.push(serde_json::json!({ "ledger": ledger, "ok": v.ok, "events": v.events }));
    }
    if site.shards <= 1 {
        return json(&total, 200, no_store()?);
    }
    let mut body = serde_json::to_value(&total).map_err(|e| AppError::Internal(e.to_string()))?;
    body["shards"] = serde_json::Value::Array(shards);
    json(&body, 200, no_store()?)
}

/// `GET /admin/sites/{site}/stats?from=&to=`: counts, plus the funnel,
/// consent, opt-out and delivery series of those days (default: the last 30).
pub async fn stats(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let url = req.url()?;
    let param = |k: &str| query_param(&url, k);
    let now = worker::Date::now().as_millis() as i64;
    let range = Range::from_query(param("from").as_deref(), param("to").as_deref(), now)?;
    let mut total = Stats::default();
    for ledger in site.shard_names() {
        total.add(LedgerClient::new(env, &ledger)?.stats(&range).await?);
    }
    total.finish();
    json(&total, 200, no_store()?)
}

/// Body of `POST /admin/sites/{site}/dev-clock`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevClock {
    offset_ms: i64,
}

/// `POST /admin/sites/{site}/dev-clock`: the local demo's seed shifts every
/// shard's clock back to write a month of history. Where the Worker's
/// `DEV_CLOCK` var is not `allow` (production), the route does not exist.
pub async fn dev_clock(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    if !crate::ledger::dev_clock_allowed(env) {
        return Err(AppError::NotFound(format!("/admin/sites/{site}/dev-clock")));
    }
    let site = sites::load(env, site).await?;
    let body: DevClock = read_json(&mut req).await?;
    if !(-400 * 86_400_000..=0).contains(&body.offset_ms) {
        return Err(AppError::InvalidBody {
            field: Some("offset_ms".into()),
            detail: "offset_ms must be between -400 days and 0".into(),
        });
    }
    for ledger in site.shard_names() {
        LedgerClient::new(env, &ledger)?
            .set_dev_clock(body.offset_ms)
            .await?;
    }
    json(
        &serde_json::json!({ "offset_ms": body.offset_ms }),
        200,
        no_store()?,
    )
}

/// Body of `POST /admin/sites/{site}/dev-seed`.
#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct DevSeed {
    /// The first phone's number (phones are `+62899` and 8 digits).
    from: u64,
    /// How many grants, 1..=20,000.
    events: u32,
}

/// `POST /admin/sites/{site}/dev-seed`: the full benchmark writes a large
/// history (grants of every category, a modal consent's evidence) into the
/// site's first ledger to export it. Where the Worker's `DEV_SEED` var is not
/// `allow` (production), the route does not exist.
pub async fn dev_seed(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    if !crate::ledger::dev_seed_allowed(env) {
        return Err(AppError::NotFound(format!("/admin/sites/{site}/dev-seed")));
    }
    let site = sites::load(env, site).await?;
    let body: DevSeed = read_json(&mut req).await?;
    if !(1..=20_000).contains(&body.events) {
        return Err(AppError::InvalidBody {
            field: Some("events".into()),
            detail: "events must be between 1 and 20000".into(),
        });
    }
    let notice = site.notice(site.default_locale, None);
    let evidence = serde_json::json!({
        "site": site.id,
        "notice_text": notice.text,
        "notice_hash": consent_core::notice_hash(&notice.text),
        "notice_version": notice.version,
        "locale": notice.locale.tag(),
        "surface": "modal",
        "page_url": "https://shop.example/products/1",
        "privacy_policy_url": site.privacy_policy_url,
        "unchecked_by_default": true,
        "business_name": site.business_name,
        "client_ts": 1_764_000_000_000_u64,
        "widget_version": env!("CARGO_PKG_VERSION"),
        "user_agent": "Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile Safari/537.36",
        "ip": "203.0.113.0",
        "country": "ID",
        "template_name": site.whatsapp.template_name,
        "template_language": site.template_language(site.default_locale),
    })
    .to_string();
    let ledger = site.shard_names().remove(0);
    let written = LedgerClient::new(env, &ledger)?
        .seed_history(body.from, body.events, site.category_ids(), evidence)
        .await?;
    json(&written, 200, no_store()?)
}

/// `POST /admin/sites/{site}/resume-sending`: lifts a halt on every shard and
/// wakes the senders; held rows go out. Answers what was halted.
pub async fn resume_sending(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let mut resumed = Vec::new();
    for ledger in site.shard_names() {
        if let Some(was) = LedgerClient::new(env, &ledger)?.resume_sending().await?.was {
            resumed.push(was);
        }
    }
    json(
        &serde_json::json!({ "sending": { "halted": false }, "resumed": resumed }),
        200,
        no_store()?,
    )
}

/// `GET /admin/sites/{site}/breaker`: the burst breaker summed over the shards
/// (each shard counts and holds its own; `shards` lists them when there are several).
pub async fn breaker(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let configured = site.breaker.as_ref().and_then(|b| b.threshold_per_10_min);
    let mut total = BreakerView::default();
    let mut shards = Vec::new();
    for ledger in site.shard_names() {
        let view = LedgerClient::new(env, &ledger)?.breaker(configured).await?;
        shards.push(serde_json::json!({
            "ledger": ledger, "open": view.open, "held": view.held,
            "threshold": view.threshold, "recent": view.recent,
        }));
        total.add(view);
    }
    let mut body = serde_json::to_value(&total).map_err(|e| AppError::Internal(e.to_string()))?;
    if site.shards > 1 {
        body["shards"] = serde_json::Value::Array(shards);
    }
    json(&body, 200, no_store()?)
}

/// What an admin decides about the confirmations the breaker holds.
#[derive(Clone, Copy)]
pub enum Held {
    /// Send them, paced.
    Release,
    /// Never send them.
    Drop,
}

/// `POST /admin/sites/{site}/breaker/release` and `…/drop`: on every shard,
/// recorded with `actor` (the token that authorised it); answers how many.
pub async fn decide(env: &Env, site: &str, what: Held, actor: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let mut count = 0;
    for ledger in site.shard_names() {
        let ledger = LedgerClient::new(env, &ledger)?;
        count += match what {
            Held::Release => ledger.release_held(actor).await?,
            Held::Drop => ledger.drop_held(actor).await?,
        }
        .count;
    }
    let action = match what {
        Held::Release => "release",
        Held::Drop => "drop",
    };
    json(
        &serde_json::json!({ "action": action, "count": count, "actor": actor }),
        200,
        no_store()?,
    )
}

/// `GET /admin/sites/{site}`: the stored configuration.
pub async fn get_site(env: &Env, site: &str) -> Result<Response, AppError> {
    let config = sites::load(env, site).await?;
    json(&with_click_to_optin(&config)?, 200, no_store()?)
}

/// The configuration plus the derived, read-only `click_to_optin` object: the
/// opt-in phrase and the wa.me link (the QR code's content) that prefills it.
fn with_click_to_optin(config: &SiteConfig) -> Result<serde_json::Value, AppError> {
    let mut body = serde_json::to_value(config).map_err(|e| AppError::Internal(e.to_string()))?;
    if let Some(keyword) = &config.optin_keyword {
        body["click_to_optin"] = serde_json::json!({
            "keyword": keyword,
            "wa_me_url": config.wa_me_url(),
        });
    }
    Ok(body)
}

/// `PUT /admin/sites/{site}`: validate and store a configuration.
pub async fn put_site(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let mut body: serde_json::Value = read_json(&mut req).await?;
    // What GET adds is derived: a config read, edited and written back is accepted.
    if let Some(fields) = body.as_object_mut() {
        fields.remove("click_to_optin");
    }
    check_categories_shape(&body)?;
    if let Some(j) = body.get("jurisdiction").filter(|j| !j.is_null()) {
        serde_json::from_value::<consent_core::Jurisdiction>(j.clone()).map_err(|_| {
            invalid(
                "jurisdiction",
                "one of \"eu\", \"fedramp\", or absent for anywhere",
            )
        })?;
    }
    let config: SiteConfig = serde_json::from_value(body).map_err(from_json_error)?;
    if let Ok(existing) = sites::load(env, site).await {
        if existing.shards != config.shards {
            return Err(AppError::InvalidSiteConfig {
                field: "shards",
                detail: "cannot change once a site exists (its ledgers would move)",
            });
        }
        if existing.jurisdiction != config.jurisdiction {
            return Err(AppError::FixedAtCreation {
                field: "jurisdiction",
                detail: "its ledgers live in the jurisdiction it was created in and cannot move",
            });
        }
    }
    if config.id != site {
        return Err(AppError::InvalidSiteConfig {
            field: "id",
            detail: "must equal the site in the URL",
        });
    }
    config
        .check()
        .map_err(|(field, detail)| AppError::InvalidSiteConfig { field, detail })?;
    sites::store(env, &config).await?;
    sites::claim_phone_number_id(env, &config).await?;
    // Each shard's alarm applies the retention itself.
    for ledger in config.shard_names() {
        LedgerClient::new(env, &ledger)?
            .set_retention(config.retention)
            .await?;
    }
    json(&with_click_to_optin(&config)?, 200, no_store()?)
}

/// Each entry of `categories` on its own, so a bad one is named (serde's
/// message for a list of either-shaped entries names no field).
fn check_categories_shape(body: &serde_json::Value) -> Result<(), AppError> {
    let Some(list) = body.get("categories").and_then(|c| c.as_array()) else {
        return Ok(());
    };
    for (i, entry) in list.iter().enumerate() {
        serde_json::from_value::<consent_core::SiteCategory>(entry.clone()).map_err(|_| {
            AppError::InvalidBody {
                field: Some(format!("categories[{i}]")),
                detail: "a category is a built-in id (\"delivery\") or {\"id\": [a-z0-9_]{1,32}, \"kind\": \"utility\"|\"marketing\", \"critical\"?: bool, \"labels\": {\"<locale>\": \"…\"}}".into(),
            }
        })?;
    }
    Ok(())
}

#[derive(Clone, Copy, PartialEq)]
enum Format {
    Ndjson,
    Csv,
    /// The send API's decisions (`what=messages`), NDJSON.
    Messages,
}

/// `GET /admin/sites/{site}/export?format=ndjson|csv&since=`: streamed page by
/// page from the ledger, so memory stays flat whatever the ledger's size.
pub async fn export(req: &Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let url = req.url()?;
    let param = |k: &str| query_param(&url, k);
    let format = match (param("format").as_deref(), param("what").as_deref()) {
        (None | Some("ndjson"), None | Some("events")) => Format::Ndjson,
        (Some("csv"), None | Some("events")) => Format::Csv,
        (None | Some("ndjson"), Some("messages")) => Format::Messages,
        (Some("csv"), Some("messages")) => {
            return Err(AppError::InvalidQuery {
                field: "format",
                detail: "the send decisions export only as ndjson",
            })
        }
        (_, Some(w)) if w != "events" && w != "messages" => {
            return Err(AppError::InvalidQuery {
                field: "what",
                detail: "must be events or messages",
            })
        }
        _ => {
            return Err(AppError::InvalidQuery {
                field: "format",
                detail: "must be ndjson or csv",
            })
        }
    };
    let since = match param("since") {
        None => 0,
        Some(s) => parse_since(&s)?,
    };
    let ledgers = site.shard_names();
    // Pages go on as the JS bytes the ledger's SQLite wrote, NDJSON or CSV
    // (never copied into wasm and out); the CSV header goes first, a chunk of its own.
    let body = match format {
        Format::Csv => paged(
            env.clone(),
            ledgers,
            move |ledger, first, after| async move {
                let page = ledger.export_csv(after, since).await?;
                let body = if first {
                    with_csv_header(&page.body)
                } else {
                    page.body
                };
                Ok((body, page.next))
            },
        ),
        Format::Ndjson => paged(env.clone(), ledgers, move |ledger, _, after| async move {
            let page = ledger.export_ndjson(after, since).await?;
            Ok((page.body, page.next))
        }),
        Format::Messages => paged(env.clone(), ledgers, move |ledger, _, after| async move {
            let page = ledger.export_messages(after, since).await?;
            Ok((page.body, page.next))
        }),
    };
    let headers = no_store()?;
    let (media, file) = match format {
        Format::Ndjson => ("application/x-ndjson", "consents.ndjson"),
        Format::Csv => ("text/csv; charset=utf-8", "consents.csv"),
        Format::Messages => ("application/x-ndjson", "messages.ndjson"),
    };
    headers.set("Content-Type", media)?;
    headers.set(
        "Content-Disposition",
        &format!("attachment; filename=\"{file}\""),
    )?;
    Ok(Response::from_body(ResponseBody::Stream(body))?.with_headers(headers))
}

/// `since` as Unix milliseconds or an RFC 3339 / ISO 8601 date.
fn parse_since(s: &str) -> Result<i64, AppError> {
    if let Ok(ms) = s.parse::<i64>() {
        return Ok(ms);
    }
    let ms = js_date_parse(s);
    if ms.is_finite() {
        Ok(ms as i64)
    } else {
        Err(AppError::InvalidQuery {
            field: "since",
            detail: "must be Unix ms or an ISO 8601 date",
        })
    }
}

#[cfg(target_arch = "wasm32")]
fn js_date_parse(s: &str) -> f64 {
    worker::js_sys::Date::parse(s)
}

#[cfg(not(target_arch = "wasm32"))]
fn js_date_parse(_: &str) -> f64 {
    f64::NAN
}

/// Where the export goes after a page of `shard` that said `next`: on in the
/// same shard, to the next shard, or (`None`) nowhere.
fn advance(shard: usize, next: Option<i64>, shards: usize) -> Option<(usize, i64)> {
    match next {
        Some(seq) => Some((shard, seq)),
        None if shard + 1 < shards => Some((shard + 1, 0)),
        None => None,
    }
}

/// An export's body: the ledgers' pages one after another, each fetched when the
/// client has taken the one before. `page(ledger, first, after)` fetches one as a
/// JS chunk (`first`: the export's very first page) and says where the next starts.
fn paged<F, Fut>(env: Env, ledgers: Vec<String>, page: F) -> ReadableStream
where
    F: Fn(LedgerClient, bool, i64) -> Fut + Clone + 'static,
    Fut: std::future::Future<Output = Result<(JsValue, Option<i64>), AppError>> + 'static,
{
    let pages = stream::unfold(Some((0usize, 0i64)), move |cursor| {
        let (env, ledgers, page) = (env.clone(), ledgers.clone(), page.clone());
        async move {
            let (shard, after) = cursor?;
            let fetched = async {
                let ledger = LedgerClient::new(&env, &ledgers[shard])?;
                page(ledger, shard == 0 && after == 0, after).await
            };
            Some(match fetched.await {
                Ok((chunk, next)) => (Ok(chunk), advance(shard, next, ledgers.len())),
                Err(e) => (Err(JsValue::from_str(&e.to_string())), None),
            })
        }
    });
    wasm_streams::ReadableStream::from_stream(pages)
        .into_raw()
        .unchecked_into()
}

/// `page` (a `Uint8Array`) after the CSV header, in one JS chunk.
fn with_csv_header(page: &JsValue) -> JsValue {
    let page = Uint8Array::new(page);
    let head = CSV_HEADER.as_bytes();
    let out = Uint8Array::new_with_length(head.len() as u32 + page.length());
    out.subarray(0, head.len() as u32).copy_from(head);
    out.set(&page, head.len() as u32);
    out.into()
}

const CSV_HEADER: &str =
    "seq,id,kind,phone,subject_hash,categories,server_ts,evidence,prev_hash,hash\n";

/// The CSV rows the ledger's `export_csv` writes, rendered from rows here (the
/// unit test holds the two to each other).
#[cfg(test)]
pub(crate) fn render_csv(rows: &[crate::protocol::ExportRow]) -> Vec<u8> {
    let mut out = String::new();
    for r in rows {
        let cells = [
            r.seq.to_string(),
            r.id.clone(),
            r.kind.clone(),
            r.phone.clone().unwrap_or_default(),
            r.subject_hash.clone(),
            r.categories.clone(),
            r.server_ts.to_string(),
            r.evidence.clone().unwrap_or_default(),
            r.prev_hash.clone(),
            r.hash.clone(),
        ];
        let cells: Vec<String> = cells.iter().map(|c| csv_cell(c)).collect();
        out.push_str(&cells.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// Quotes a CSV cell, and defuses spreadsheet formulas (`+62…` would be one).
#[cfg(test)]
fn csv_cell(s: &str) -> String {
    let s = if s.starts_with(['=', '+', '-', '@']) {
        format!("'{s}")
    } else {
        s.to_owned()
    };
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s
    }
}

/// Decodes `%XX` escapes (a `+` in a path is literal, as `%2B` is).
pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_compare_exactly() {
        assert!(constant_time_eq(b"secret", b"secret"));
        assert!(!constant_time_eq(b"secret", b"secreT"));
        assert!(!constant_time_eq(b"secret", b"secret2"));
        assert!(!constant_time_eq(b"", b"x"));
    }

    #[test]
    fn phone_path_segments_decode() {
        assert_eq!(percent_decode("%2B6281234567890"), "+6281234567890");
        assert_eq!(percent_decode("+62%20812"), "+62 812");
        assert_eq!(percent_decode("%zz"), "%zz");
    }

    #[test]
    fn csv_cells_are_quoted_and_formula_safe() {
        assert_eq!(csv_cell("plain"), "plain");
        assert_eq!(csv_cell("+6281234567890"), "'+6281234567890");
        assert_eq!(csv_cell("a,\"b\""), "\"a,\"\"b\"\"\"");
        assert_eq!(csv_cell("=HYPERLINK(1)"), "'=HYPERLINK(1)");
    }
}
