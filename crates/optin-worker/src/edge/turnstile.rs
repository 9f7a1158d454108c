//! Cloudflare Turnstile check for sites that require one. The base URL is a
//! variable (`TURNSTILE_BASE`) so tests talk to a local stand-in.

use consent_core::{SiteConfig, TurnstileWhen};
use serde::Deserialize;
use worker::{Env, Fetch, Headers, Method, Request, RequestInit};

use crate::error::AppError;

#[derive(Deserialize)]
struct Verdict {
    success: bool,
}

/// The Turnstile script the widget loads for a challenge; `TURNSTILE_SCRIPT` overrides it.
const SCRIPT: &str = "https://challenges.cloudflare.com/turnstile/v0/api.js?render=explicit";

/// Whether this consent passed a challenge: a token is verified whenever one is
/// sent (a bad one is refused); without one, a site that always asks refuses it,
/// with `challenge-required` when the widget can show the challenge.
pub async fn check(
    env: &Env,
    site: &SiteConfig,
    token: Option<&str>,
    ip: Option<&str>,
) -> Result<bool, AppError> {
    let Some(secret) = &site.turnstile_secret else {
        return Ok(false);
    };
    match (token, site.turnstile_when) {
        (Some(token), _) => verify(env, secret, Some(token), ip).await.map(|()| true),
        (None, TurnstileWhen::BreakerOpen) => Ok(false),
        (None, TurnstileWhen::Always) if site.turnstile_site_key.is_some() => {
            Err(challenge(env, site))
        }
        (None, TurnstileWhen::Always) => Err(AppError::TurnstileFailed),
    }
}

/// The `challenge-required` problem for `site`: its key and the script to load.
pub fn challenge(env: &Env, site: &SiteConfig) -> AppError {
    AppError::ChallengeRequired {
        site_key: site.turnstile_site_key.clone().unwrap_or_default(),
        script: env
            .var("TURNSTILE_SCRIPT")
            .map(|v| v.to_string())
            .unwrap_or_else(|_| SCRIPT.to_owned()),
    }
}

/// Verifies `token` with the secret named `secret_name`; refuses on failure.
async fn verify(
    env: &Env,
    secret_name: &str,
    token: Option<&str>,
    ip: Option<&str>,
) -> Result<(), AppError> {
    let Some(token) = token.filter(|t| !t.is_empty() && t.len() <= 2048) else {
        return Err(AppError::TurnstileFailed);
    };
    let secret = env
        .secret(secret_name)
        .map_err(|_| AppError::Internal(format!("secret {secret_name} is not set")))?;
    let base = env
        .var("TURNSTILE_BASE")
        .map(|v| v.to_string())
        .unwrap_or_else(|_| "https://challenges.cloudflare.com".to_owned());
    let mut form = format!(
        "secret={}&response={}",
        encode(&secret.to_string()),
        encode(token)
    );
    if let Some(ip) = ip {
        form.push_str(&format!("&remoteip={}", encode(ip)));
    }
    let headers = Headers::new();
    headers.set("Content-Type", "application/x-www-form-urlencoded")?;
    let mut init = RequestInit::new();
    init.with_method(Method::Post)
        .with_headers(headers)
        .with_body(Some(form.into()));
    let url = format!("{}/turnstile/v0/siteverify", base.trim_end_matches('/'));
    let mut resp = Fetch::Request(Request::new_with_init(&url, &init)?)
        .send()
        .await
        .map_err(|_| AppError::TurnstileUnavailable)?;
    let verdict: Verdict = resp
        .json()
        .await
        .map_err(|_| AppError::TurnstileUnavailable)?;
    if verdict.success {
        Ok(())
    } else {
        Err(AppError::TurnstileFailed)
    }
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn form_values_are_escaped() {
        assert_eq!(super::encode("a b&c=d"), "a%20b%26c%3Dd");
        assert_eq!(super::encode("2001:db8::1"), "2001%3Adb8%3A%3A1");
    }
}
