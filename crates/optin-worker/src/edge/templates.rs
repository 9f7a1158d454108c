//! The site's WhatsApp templates through Meta's Graph API:
//! `POST /admin/sites/{site}/templates` creates the confirmation and double
//! opt-in templates in each of the site's languages (the texts of
//! `consent_core::locale`), `GET` reads their review status back. Both store
//! the statuses read in every ledger of the site, so sends skip a language
//! that is not approved while an approved one exists.

use consent_core::{Locale, SiteConfig};
use serde::Serialize;
use whatsapp_cloud_api::template::{
    BodyExample, TemplateButton, TemplateComponent, ALREADY_EXISTS_SUBCODE,
};
use whatsapp_cloud_api::{
    templates_path, ErrorEnvelope, RetryClass, TemplateCreate, TemplateCreated, TemplateList,
};
use worker::{Env, Fetch, Headers, Method, Request, RequestInit, Response};

use super::sites;
use crate::{
    error::AppError,
    http::{json, no_store},
    protocol::{LedgerClient, TemplateStatus},
};

/// The double opt-in template's name when the site has not set one.
const DOUBLE_OPT_IN_DEFAULT: &str = "optin_double_confirmation";

/// Which of the two templates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Confirmation,
    DoubleOptIn,
}

/// The two templates' names for `site`.
pub fn names(site: &SiteConfig) -> [(Kind, String); 2] {
    let double = site
        .double_opt_in
        .as_ref()
        .map_or(DOUBLE_OPT_IN_DEFAULT, |d| d.template_name.as_str());
    [
        (Kind::Confirmation, site.whatsapp.template_name.clone()),
        (Kind::DoubleOptIn, double.to_owned()),
    ]
}

/// The create body for one template in one language: category UTILITY, the
/// body with its business-name example, quick replies (Stop; or Confirm then
/// Stop). `None` for a language we have no texts in.
pub fn create_body(
    site: &SiteConfig,
    kind: Kind,
    name: &str,
    language: &str,
) -> Option<TemplateCreate> {
    let locale = Locale::ALL
        .into_iter()
        .find(|l| l.whatsapp_code() == language)?;
    let w = locale.whatsapp();
    let (text, buttons) = match kind {
        Kind::Confirmation => (w.template_confirmation, vec![w.button_stop]),
        Kind::DoubleOptIn => (
            w.template_double_opt_in,
            vec![w.button_confirm, w.button_stop],
        ),
    };
    Some(TemplateCreate {
        name: name.into(),
        language: language.into(),
        category: "UTILITY".into(),
        components: vec![
            TemplateComponent::Body {
                text: text.into(),
                example: Some(BodyExample {
                    body_text: vec![vec![site.business_name.clone()]],
                }),
            },
            TemplateComponent::Buttons {
                buttons: buttons
                    .into_iter()
                    .map(TemplateButton::quick_reply)
                    .collect(),
            },
        ],
    })
}

/// What Meta said per name: one status per site language (`MISSING` when Meta
/// has none in a language the site lists).
pub fn statuses(site: &SiteConfig, name: &str, list: &TemplateList) -> Vec<TemplateStatus> {
    site.whatsapp
        .template_languages
        .iter()
        .map(|language| {
            match list
                .data
                .iter()
                .find(|t| t.name == name && &t.language == language)
            {
                Some(t) => TemplateStatus {
                    name: name.into(),
                    language: language.clone(),
                    id: (!t.id.is_empty()).then(|| t.id.clone()),
                    status: t.status.clone(),
                    category: (!t.category.is_empty()).then(|| t.category.clone()),
                    previous_category: t.previous_category.clone(),
                    rejected_reason: t
                        .rejected_reason
                        .clone()
                        .filter(|r| t.status == "REJECTED" && r != "NONE"),
                },
                None => TemplateStatus {
                    name: name.into(),
                    language: language.clone(),
                    id: None,
                    status: "MISSING".into(),
                    category: None,
                    previous_category: None,
                    rejected_reason: None,
                },
            }
        })
        .collect()
}

/// The Graph error of a non-2xx answer, mapped by the retry class the outbox uses.
pub fn graph_error(status: u16, body: &str) -> AppError {
    match serde_json::from_str::<ErrorEnvelope>(body) {
        Ok(env) => AppError::Graph {
            code: env.error.code,
            subcode: env.error.error_subcode,
            transient: transient(env.error.retry_class_at(status)),
            message: env.error.message,
        },
        Err(_) => AppError::Graph {
            code: 0,
            subcode: None,
            message: format!("HTTP {status} without a Graph error body"),
            transient: transient(RetryClass::for_http_status(status)),
        },
    }
}

fn transient(class: RetryClass) -> bool {
    matches!(
        class,
        RetryClass::Backoff | RetryClass::RecipientLater | RetryClass::MuchLater
    )
}

/// One call to the Graph API with the site's token: status and body.
pub(crate) async fn graph(
    env: &Env,
    site: &SiteConfig,
    method: Method,
    path_and_query: &str,
    body: Option<String>,
) -> Result<(u16, String), AppError> {
    let base = env.var("GRAPH_BASE")?.to_string();
    let token =
        crate::credentials::graph_token(env, &site.id, site.whatsapp.token_secret.as_deref())
            .await
            .map_err(AppError::Credentials)?;
    let headers = Headers::new();
    headers.set("Authorization", &format!("Bearer {token}"))?;
    headers.set("Content-Type", "application/json")?;
    let mut init = RequestInit::new();
    init.with_method(method).with_headers(headers);
    if let Some(body) = body {
        init.with_body(Some(body.into()));
    }
    let url = format!("{}{path_and_query}", base.trim_end_matches('/'));
    // No answer at all (refused, reset) is Meta being unreachable, not our fault.
    let unreachable = |e: worker::Error| AppError::Graph {
        code: 0,
        subcode: None,
        message: format!("no answer from the Graph API: {e}"),
        transient: true,
    };
    let controller = worker::AbortController::default();
    let signal = controller.signal();
    let call = async {
        let mut resp = Fetch::Request(Request::new_with_init(&url, &init)?)
            .send_with_signal(&signal)
            .await?;
        let body = resp.text().await?;
        Ok::<_, worker::Error>((resp.status_code(), body))
    };
    // An admin waits on this call: a Graph API that hangs is an answer too.
    let deadline = worker::Delay::from(std::time::Duration::from_millis(GRAPH_TIMEOUT_MS));
    futures_util::pin_mut!(call);
    match futures_util::future::select(call, deadline).await {
        futures_util::future::Either::Left((answer, _)) => answer.map_err(unreachable),
        futures_util::future::Either::Right(((), _)) => {
            controller.abort();
            Err(unreachable(worker::Error::RustError(format!(
                "no answer within {GRAPH_TIMEOUT_MS} ms"
            ))))
        }
    }
}

/// How long an admin's template or QR call waits for the Graph API.
const GRAPH_TIMEOUT_MS: u64 = 15_000;

fn waba_id(site: &SiteConfig) -> Result<&str, AppError> {
    site.whatsapp
        .waba_id
        .as_deref()
        .ok_or_else(|| AppError::NoWabaId(site.id.clone()))
}

/// Reads both templates' statuses from Meta and stores them in every ledger.
async fn read_back(env: &Env, site: &SiteConfig) -> Result<Vec<TemplateStatus>, AppError> {
    let version = env.var("GRAPH_VERSION")?.to_string();
    let path = templates_path(&version, waba_id(site)?);
    let mut all = Vec::new();
    for (_, name) in names(site) {
        let (status, body) =
            graph(env, site, Method::Get, &format!("{path}?name={name}"), None).await?;
        if !(200..300).contains(&status) {
            return Err(graph_error(status, &body));
        }
        let list: TemplateList = serde_json::from_str(&body)
            .map_err(|e| AppError::Internal(format!("unreadable template list: {e}")))?;
        all.extend(statuses(site, &name, &list));
    }
    for ledger in site.shard_names() {
        LedgerClient::new(env, &ledger)?
            .record_template_statuses(all.clone())
            .await?;
    }
    Ok(all)
}

#[derive(Serialize)]
struct Created {
    name: String,
    language: String,
    /// `created` or `exists`.
    result: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<String>,
}

/// `POST /admin/sites/{site}/templates`.
pub async fn create(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let version = env.var("GRAPH_VERSION")?.to_string();
    let path = templates_path(&version, waba_id(&site)?);
    let mut created = Vec::new();
    for (kind, name) in names(&site) {
        for language in &site.whatsapp.template_languages {
            let Some(body) = create_body(&site, kind, &name, language) else {
                continue;
            };
            let body =
                serde_json::to_string(&body).map_err(|e| AppError::Internal(e.to_string()))?;
            let (status, answer) = graph(env, &site, Method::Post, &path, Some(body)).await?;
            let result = if (200..300).contains(&status) {
                let ok: TemplateCreated = serde_json::from_str(&answer)
                    .map_err(|e| AppError::Internal(format!("unreadable create answer: {e}")))?;
                Created {
                    name: name.clone(),
                    language: language.clone(),
                    result: "created",
                    status: Some(ok.status),
                }
            } else {
                match graph_error(status, &answer) {
                    AppError::Graph {
                        subcode: Some(ALREADY_EXISTS_SUBCODE),
                        ..
                    } => Created {
                        name: name.clone(),
                        language: language.clone(),
                        result: "exists",
                        status: None,
                    },
                    other => return Err(other),
                }
            };
            created.push(result);
        }
    }
    let templates = read_back(env, &site).await?;
    json(
        &serde_json::json!({ "created": created, "templates": templates }),
        200,
        no_store()?,
    )
}

/// `GET /admin/sites/{site}/templates`.
pub async fn read(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let templates = read_back(env, &site).await?;
    json(
        &serde_json::json!({ "templates": templates }),
        200,
        no_store()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use whatsapp_cloud_api::TemplateInfo;

    fn site() -> SiteConfig {
        serde_json::from_str(include_str!("../../sites/demo.json")).unwrap()
    }

    #[test]
    fn the_create_bodies_carry_exactly_the_locale_texts() {
        let site = site();
        let body = create_body(
            &site,
            Kind::DoubleOptIn,
            "optin_double_confirmation",
            "pt_BR",
        )
        .unwrap();
        let v = serde_json::to_value(&body).unwrap();
        let w = Locale::PtBr.whatsapp();
        assert_eq!(v["category"], "UTILITY");
        assert_eq!(v["components"][0]["text"], w.template_double_opt_in);
        assert_eq!(
            v["components"][0]["example"]["body_text"][0][0],
            site.business_name
        );
        assert_eq!(v["components"][1]["buttons"][0]["text"], w.button_confirm);
        assert_eq!(v["components"][1]["buttons"][1]["text"], w.button_stop);
        let one = create_body(&site, Kind::Confirmation, "optin_confirmation", "en").unwrap();
        let v = serde_json::to_value(&one).unwrap();
        assert_eq!(v["components"][1]["buttons"].as_array().unwrap().len(), 1);
        assert!(create_body(&site, Kind::Confirmation, "optin_confirmation", "fr").is_none());
    }

    #[test]
    fn statuses_cover_every_site_language_and_keep_the_reason_and_category_change() {
        let site = site();
        let t =
            |language: &str, status: &str, reason: Option<&str>, prev: Option<&str>| TemplateInfo {
                id: "1".into(),
                name: "optin_confirmation".into(),
                language: language.into(),
                status: status.into(),
                category: "UTILITY".into(),
                previous_category: prev.map(Into::into),
                rejected_reason: reason.map(Into::into),
            };
        let list = TemplateList {
            data: vec![
                t("en", "APPROVED", Some("NONE"), None),
                t("id", "REJECTED", Some("INVALID_FORMAT"), None),
                t("de", "APPROVED", None, Some("MARKETING")),
            ],
        };
        let s = statuses(&site, "optin_confirmation", &list);
        assert_eq!(s.len(), site.whatsapp.template_languages.len());
        let by = |l: &str| s.iter().find(|x| x.language == l).unwrap();
        assert_eq!(by("en").rejected_reason, None);
        assert_eq!(by("id").rejected_reason.as_deref(), Some("INVALID_FORMAT"));
        assert_eq!(by("de").previous_category.as_deref(), Some("MARKETING"));
        assert_eq!(by("tr").status, "MISSING");
    }

    #[test]
    fn graph_errors_map_by_retry_class() {
        let err = |code: i64| {
            format!(
                r#"{{"error":{{"message":"m","type":"OAuthException","code":{code},"fbtrace_id":"x"}}}}"#
            )
        };
        assert!(matches!(
            graph_error(401, &err(190)),
            AppError::Graph {
                transient: false,
                code: 190,
                ..
            }
        ));
        assert!(matches!(
            graph_error(500, &err(2)),
            AppError::Graph {
                transient: true,
                ..
            }
        ));
        assert!(matches!(
            graph_error(502, "<html>"),
            AppError::Graph {
                transient: true,
                code: 0,
                ..
            }
        ));
    }
}
