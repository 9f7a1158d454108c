//! `/admin/sites/{site}/graph-token`: a merchant's Graph API token stored
//! sealed (`crate::credentials`), so a new merchant needs no `wrangler secret
//! put` and no redeploy. The token is never shown again; only its last four
//! characters and the sealing key's id.

use serde::Deserialize;
use worker::{Env, Request, Response};

use crate::{
    credentials,
    edge::sites::{self, kv_put},
    error::{invalid, AppError},
    http::{json, no_store, read_json},
};

/// Longer than any Graph token Meta issues (about 200–300 characters).
const MAX_TOKEN_CHARS: usize = 2_048;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewToken {
    token: String,
}

fn check_token(token: &str) -> Result<(), AppError> {
    let visible = token.bytes().all(|b| b.is_ascii_graphic());
    if token.is_empty() || token.len() > MAX_TOKEN_CHARS || !visible {
        return Err(invalid(
            "token",
            "1-2048 visible ASCII characters, no spaces (the Graph API access token)",
        ));
    }
    Ok(())
}

fn now_ms() -> i64 {
    worker::Date::now().as_millis() as i64
}

/// What the site sends with, never the token itself.
async fn described(env: &Env, site: &str) -> Result<serde_json::Value, AppError> {
    let config = sites::load(env, site).await?;
    let secret = config.whatsapp.token_secret.clone();
    Ok(match credentials::stored(env, site).await? {
        Some(sealed) => {
            let opens = credentials::keyring(env)
                .and_then(|ring| credentials::open(&ring, site, &sealed).map(|_| ()));
            serde_json::json!({
                "source": "stored", "key_id": sealed.kid, "stored_at": sealed.stored_at,
                "last4": sealed.last4, "token_secret": secret,
                "usable": opens.is_ok(),
                "problem": opens.err().map(|e| e.to_string()),
            })
        }
        None => serde_json::json!({
            "source": if secret.is_some() { "secret" } else { "none" },
            "token_secret": secret,
        }),
    })
}

/// `GET`: where the site's token comes from.
pub async fn get(env: &Env, site: &str) -> Result<Response, AppError> {
    json(&described(env, site).await?, 200, no_store()?)
}

/// `PUT {"token"}`: sealed under the current key and stored; it wins over
/// `whatsapp.token_secret` from the next send on.
pub async fn put(mut req: Request, env: &Env, site: &str) -> Result<Response, AppError> {
    sites::load(env, site).await?;
    let body: NewToken = read_json(&mut req).await?;
    check_token(&body.token)?;
    let ring = credentials::keyring(env).map_err(AppError::Credentials)?;
    let mut nonce = [0u8; 12];
    getrandom::fill(&mut nonce).map_err(|e| AppError::Internal(e.to_string()))?;
    let sealed = credentials::seal(&ring, site, &body.token, nonce, now_ms())
        .map_err(AppError::Credentials)?;
    let text = serde_json::to_string(&sealed).map_err(|e| AppError::Internal(e.to_string()))?;
    kv_put(env, &credentials::kv_key(site), &text).await?;
    credentials::forget(site);
    json(&described(env, site).await?, 200, no_store()?)
}

/// `DELETE`: back to the secret the config names (or none).
pub async fn delete(env: &Env, site: &str) -> Result<Response, AppError> {
    sites::load(env, site).await?;
    env.kv("SITES")?
        .delete(&credentials::kv_key(site))
        .await
        .map_err(|e| AppError::Internal(e.to_string()))?;
    credentials::forget(site);
    json(&described(env, site).await?, 200, no_store()?)
}
