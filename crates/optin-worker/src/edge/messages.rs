//! The send API and the permission check, server to server with a site API
//! key. The edge validates the request; the person's ledger decides, by one
//! rule for both (`ledger/sending.rs`), and keeps every decision.

use consent_core::{chain::evidence_digest, normalize_phone, Category, ConsentError, SiteConfig};
use serde::{Deserialize, Serialize};
use whatsapp_cloud_api::{Component, Language, MessageBody, MessageRequest, Template, TextBody};
use worker::{Env, Request, Response};

use super::{keys, keys::Scope, sites};
use crate::{
    error::{invalid, AppError},
    http::{json, no_store, parse_json, query_param, read_json_text},
    protocol::{CategoryRules, CheckPermissions, Decision, LedgerClient, LedgerError, SendMessage},
};

/// `POST /v1/sites/{site}` `/messages` body.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SendBody {
    to: String,
    category: String,
    #[serde(default)]
    template: Option<TemplateBody>,
    #[serde(default)]
    text: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TemplateBody {
    name: String,
    #[serde(default)]
    language: Option<String>,
    #[serde(default)]
    components: Option<serde_json::Value>,
}

/// What makes two send requests "the same" for an Idempotency-Key.
#[derive(Serialize)]
struct Canonical<'a> {
    to: &'a str,
    category: &'a str,
    body: &'a MessageBody,
}

fn required_idempotency_key(req: &Request) -> Result<String, AppError> {
    match req.headers().get("Idempotency-Key")? {
        None => Err(AppError::IdempotencyKeyRequired),
        Some(k) if (1..=200).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_graphic()) => Ok(k),
        Some(_) => Err(AppError::InvalidIdempotencyKey),
    }
}

/// The recipient as E.164, or a 422 naming `to`.
fn recipient(site: &SiteConfig, to: &str) -> Result<String, AppError> {
    normalize_phone(to, site.default_calling_code)
        .map(|p| p.as_str().to_owned())
        .map_err(|e| invalid("to", format!("not a phone number that can exist: {e}")))
}

/// One of the site's categories, or a 422 naming `category`.
fn category_of(site: &SiteConfig, name: &str) -> Result<Category, AppError> {
    Category::parse(name)
        .filter(|c| site.offers(c))
        .ok_or_else(|| {
            let offered: Vec<&str> = site.categories.iter().map(|c| c.id.as_str()).collect();
            invalid(
                "category",
                format!(
                    "'{}' is not one of this site's categories: {}",
                    name.chars().take(40).collect::<String>(),
                    offered.join(", ")
                ),
            )
        })
}

fn template_body(site: &SiteConfig, t: TemplateBody) -> Result<(MessageBody, bool), AppError> {
    let name_ok = (1..=512).contains(&t.name.len())
        && t.name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if !name_ok {
        return Err(invalid(
            "template.name",
            "a template name: 1-512 of a-z, 0-9 and _",
        ));
    }
    let offered = &site.whatsapp.template_languages;
    if let Some(lang) = &t.language {
        if !offered.iter().any(|l| l == lang) {
            return Err(invalid(
                "template.language",
                format!(
                    "'{}' is not one of the site's template languages: {}",
                    lang.chars().take(20).collect::<String>(),
                    offered.join(", ")
                ),
            ));
        }
    }
    let components: Vec<Component> = match t.components {
        None => Vec::new(),
        Some(v) => {
            serde_json::from_value(v).map_err(|e| invalid("template.components", e.to_string()))?
        }
    };
    if components.len() > 10 {
        return Err(invalid("template.components", "at most 10 components"));
    }
    let from_person = t.language.is_none();
    let code = t
        .language
        .or_else(|| offered.first().cloned())
        .unwrap_or_else(|| site.default_locale.whatsapp_code().to_owned());
    let template = Template {
        name: t.name,
        language: Language {
            policy: "deterministic".into(),
            code,
        },
        components,
    };
    Ok((MessageBody::Template { template }, from_person))
}

fn text_body(text: String) -> Result<MessageBody, AppError> {
    let n = text.chars().count();
    if n == 0 || n > 4096 || text.trim().is_empty() {
        return Err(invalid("text", "1-4096 characters of text"));
    }
    Ok(MessageBody::Text {
        text: TextBody {
            body: text,
            preview_url: false,
        },
    })
}

/// `POST /v1/sites/{site}/messages`: 202 `{"id", "status": "queued"}`, or the
/// refusal as a problem naming the rule; either way the decision is kept.
pub async fn send(mut req: Request, env: &Env, site_id: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    let key = keys::require(&req, env, site_id, &[Scope::Send]).await?;
    let idempotency_key = required_idempotency_key(&req)?;
    let body: SendBody = parse_json(&read_json_text(&mut req).await?)?;
    let phone = recipient(&site, &body.to)?;
    let category = category_of(&site, &body.category)?;
    let body_category = category.clone();
    let (message_body, language_from_person) =
        match (body.template, body.text) {
            (Some(t), None) => template_body(&site, t)?,
            (None, Some(text)) => (text_body(text)?, false),
            _ => return Err(invalid(
                "template",
                "give exactly one of template (any time) or text (within 24 h of their message)",
            )),
        };
    let canonical = Canonical {
        to: &phone,
        category: category.as_str(),
        body: &message_body,
    };
    let body_digest = evidence_digest(
        &serde_json::to_string(&canonical).map_err(|e| AppError::Internal(e.to_string()))?,
    );
    let message = MessageRequest {
        messaging_product: "whatsapp".into(),
        recipient_type: "individual".into(),
        to: phone.clone(),
        biz_opaque_callback_data: None,
        context: None,
        body: message_body,
    };
    let cmd = SendMessage {
        phone: phone.clone(),
        category,
        rules: CategoryRules::of(&site, &body_category),
        message,
        language_from_person,
        whatsapp: site.whatsapp.clone(),
        idempotency_key,
        body_digest,
        key_id: key.id,
    };
    let reply = ledger_for(env, &site, &phone)?.send_message(cmd).await?;
    let headers = no_store()?;
    if reply.replayed {
        headers.set("Idempotent-Replayed", "true")?;
    }
    match reply.decision {
        Decision::Queued => json(
            &serde_json::json!({ "id": reply.id, "status": "queued" }),
            202,
            headers,
        ),
        Decision::Refused(refusal) => Ok(AppError::Refused {
            id: reply.id,
            category: body_category.as_str().to_owned(),
            refusal,
        }
        .into_response(headers)?),
    }
}

fn ledger_for(env: &Env, site: &SiteConfig, phone: &str) -> Result<LedgerClient, AppError> {
    LedgerClient::new(env, &site.shard_name(site.shard_for(phone)))
}

/// `GET /v1/sites/{site}/messages/{id}`: one decision, its delivery and every
/// status webhook. The id does not say which shard holds it: each is asked.
pub async fn get(req: &Request, env: &Env, site_id: &str, id: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    keys::require(req, env, site_id, &[Scope::Send, Scope::Read]).await?;
    let well_formed = id.len() == 36 && id.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-');
    if !well_formed {
        return Err(AppError::NotFound(format!(
            "message {}",
            id.chars().take(40).collect::<String>()
        )));
    }
    for shard in 0..site.shards.max(1) {
        match LedgerClient::new(env, &site.shard_name(shard))?
            .message(id)
            .await
        {
            Ok(view) => return json(&view, 200, no_store()?),
            Err(LedgerError::NoSubscriber) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::NotFound(format!("message {id}")))
}

/// `GET /v1/sites/{site}/permissions/{phone}[?category=…]`: per category
/// `{may_send, reason, status, paused_until?, next_allowed_at?}`, by the rule
/// the send API applies.
pub async fn permissions(
    req: &Request,
    env: &Env,
    site_id: &str,
    raw_phone: &str,
) -> Result<Response, AppError> {
    let site = sites::load(env, site_id).await?;
    keys::require(req, env, site_id, &[Scope::Read, Scope::Send]).await?;
    let phone = normalize_phone(
        &super::admin::percent_decode(raw_phone),
        site.default_calling_code,
    )
    .map_err(ConsentError::from)?;
    let url = req.url()?;
    let categories: Vec<(Category, CategoryRules)> = match query_param(&url, "category") {
        Some(name) => {
            let c = category_of(&site, &name).map_err(|_| AppError::InvalidQuery {
                field: "category",
                detail: "not one of this site's categories",
            })?;
            vec![(c.clone(), CategoryRules::of(&site, &c))]
        }
        None => site
            .category_ids()
            .into_iter()
            .map(|c| {
                let rules = CategoryRules::of(&site, &c);
                (c, rules)
            })
            .collect(),
    };
    let cmd = CheckPermissions {
        phone: phone.as_str().to_owned(),
        categories,
    };
    let answer = ledger_for(env, &site, phone.as_str())?
        .check_permissions(cmd)
        .await?;
    let by_category: serde_json::Map<String, serde_json::Value> = answer
        .categories
        .into_iter()
        .map(|(c, p)| {
            (
                c.as_str().to_owned(),
                serde_json::to_value(p).unwrap_or_default(),
            )
        })
        .collect();
    json(
        &serde_json::json!({
            "phone": answer.phone,
            "window_open_until": answer.window_open_until,
            "categories": by_category,
        }),
        200,
        no_store()?,
    )
}
