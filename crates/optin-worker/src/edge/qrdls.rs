//! Meta's own QR codes and short links for the site's business number
//! (`/{Phone-Number-ID}/message_qrdls`), beside the wa.me link and QR the
//! dashboard draws itself: `POST /admin/sites/{site}/qr-links` creates one
//! with the click-to-opt-in phrase prefilled, `GET` lists Meta's.

use serde::Deserialize;
use whatsapp_cloud_api::qr::{qrdls_path, QrCode, QrCreate, QrList, MAX_PREFILLED};
use worker::{Env, Method, Request, Response};

use super::{sites, templates};
use crate::{
    error::AppError,
    http::{json, no_store, parse_json, read_json_text},
};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Create {
    #[serde(default)]
    prefilled_message: Option<String>,
}

/// The message to prefill: the one asked for, else the site's opt-in phrase.
fn prefilled(asked: Option<String>, keyword: Option<&str>) -> Result<String, AppError> {
    let text = asked
        .or_else(|| keyword.map(String::from))
        .map(|t| t.trim().to_owned())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| AppError::InvalidBody {
            field: Some("prefilled_message".into()),
            detail: "give prefilled_message, or set the site's optin_keyword".into(),
        })?;
    if text.chars().count() > MAX_PREFILLED {
        return Err(AppError::InvalidBody {
            field: Some("prefilled_message".into()),
            detail: format!("at most {MAX_PREFILLED} characters"),
        });
    }
    Ok(text)
}

/// `POST /admin/sites/{site}/qr-links`: 200 with Meta's code and `https://wa.me/message/…` link.
pub async fn create(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    // No body (the dashboard's button): the site's phrase; a body must be JSON.
    let text = match req.headers().get("Content-Type")? {
        Some(_) => read_json_text(&mut req).await?,
        None => String::new(),
    };
    let asked: Create = if text.trim().is_empty() {
        Create::default()
    } else {
        parse_json(&text)?
    };
    let body = QrCreate {
        prefilled_message: prefilled(asked.prefilled_message, site.optin_keyword.as_deref())?,
        generate_qr_image: Some("SVG".into()),
    };
    let body = serde_json::to_string(&body).map_err(|e| AppError::Internal(e.to_string()))?;
    let version = env.var("GRAPH_VERSION")?.to_string();
    let path = qrdls_path(&version, &site.whatsapp.phone_number_id);
    let (status, answer) = templates::graph(env, &site, Method::Post, &path, Some(body)).await?;
    if !(200..300).contains(&status) {
        return Err(templates::graph_error(status, &answer));
    }
    let qr: QrCode = serde_json::from_str(&answer)
        .map_err(|e| AppError::Internal(format!("unreadable QR code answer: {e}")))?;
    json(&qr, 200, no_store()?)
}

/// `GET /admin/sites/{site}/qr-links`: Meta's codes for the site's number.
pub async fn list(env: &Env, site: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let version = env.var("GRAPH_VERSION")?.to_string();
    let path = qrdls_path(&version, &site.whatsapp.phone_number_id);
    let (status, answer) = templates::graph(env, &site, Method::Get, &path, None).await?;
    if !(200..300).contains(&status) {
        return Err(templates::graph_error(status, &answer));
    }
    let list: QrList = serde_json::from_str(&answer)
        .map_err(|e| AppError::Internal(format!("unreadable QR code list: {e}")))?;
    json(
        &serde_json::json!({ "qr_links": list.data }),
        200,
        no_store()?,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_prefilled_message_defaults_to_the_opt_in_phrase_and_fits_meta_limit() {
        assert_eq!(prefilled(None, Some(" JOIN ACME ")).unwrap(), "JOIN ACME");
        assert_eq!(prefilled(Some("Hi".into()), Some("JOIN")).unwrap(), "Hi");
        assert!(matches!(
            prefilled(None, None),
            Err(AppError::InvalidBody { .. })
        ));
        assert!(prefilled(Some("x".repeat(141)), None).is_err());
    }
}
