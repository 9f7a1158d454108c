//! The Worker's public API: site config in, consent out.

use consent_core::{ConsentRequest, PublicConfig};
use js_sys::{Reflect, JSON};
use serde::Deserialize;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Request, RequestInit, Response};

async fn fetch(req: &Request) -> Result<Response, JsValue> {
    let window = web_sys::window().ok_or("no window")?;
    JsFuture::from(window.fetch_with_request(req))
        .await?
        .dyn_into()
}

/// `GET {api}/v1/sites/{site}/config`.
pub async fn fetch_config(api: &str, site: &str) -> Result<PublicConfig, JsValue> {
    let url = [api, "/v1/sites/", site, "/config"].concat();
    let resp = fetch(&Request::new_with_str(&url)?).await?;
    if !resp.ok() {
        return Err(JsValue::from_str("site configuration could not be loaded"));
    }
    let json = JsFuture::from(resp.json()?).await?;
    serde_wasm_bindgen::from_value(json).map_err(Into::into)
}

/// Answer to a recorded consent.
#[derive(Deserialize)]
pub struct Recorded {
    /// Consent id.
    pub id: String,
}

/// Why a consent was not recorded.
pub enum PostError {
    /// The Worker refused it (4xx); `detail` says why. Retrying the same will not help.
    Refused {
        /// Problem detail.
        detail: String,
    },
    /// Network or server trouble: the same request may be retried.
    Transient,
}

/// `POST {api}/v1/sites/{site}/consents` with an `Idempotency-Key`, so a retry records once.
pub async fn post_consent(
    api: &str,
    site: &str,
    body: &ConsentRequest,
    idempotency_key: &str,
) -> Result<Recorded, PostError> {
    let send = async {
        let url = [api, "/v1/sites/", site, "/consents"].concat();
        let json = JSON::stringify(&serde_wasm_bindgen::to_value(body)?)?;
        let init = RequestInit::new();
        init.set_method("POST");
        init.set_body(&json);
        let req = Request::new_with_str_and_init(&url, &init)?;
        req.headers().set("Content-Type", "application/json")?;
        req.headers().set("Idempotency-Key", idempotency_key)?;
        let resp = fetch(&req).await?;
        let status = resp.status();
        let value = JsFuture::from(resp.json()?).await?;
        Ok::<_, JsValue>((status, value))
    };
    match send.await {
        Ok((201 | 200, value)) => {
            serde_wasm_bindgen::from_value(value).map_err(|_| PostError::Transient)
        }
        Ok((400..=499, value)) if value.is_object() => Err(PostError::Refused {
            detail: Reflect::get(&value, &"detail".into())
                .ok()
                .and_then(|d| d.as_string())
                .unwrap_or_default(),
        }),
        _ => Err(PostError::Transient),
    }
}
