//! Merchant admin API, behind `Authorization: Bearer <ADMIN_TOKEN>`.

use consent_core::normalize_phone;
use worker::{Env, Headers, Method, Request, Response};

use crate::{error::AppError, http::json, ledger, sites};

/// Refuses the request unless it carries the admin token (compared in constant time).
pub fn authorize(req: &Request, env: &Env) -> Result<(), AppError> {
    let expected = env
        .secret("ADMIN_TOKEN")
        .map(|s| s.to_string())
        .map_err(|_| AppError::Unauthorized)?;
    let given = req.headers().get("Authorization")?.unwrap_or_default();
    let token = given.strip_prefix("Bearer ").unwrap_or("");
    if expected.is_empty() || !constant_time_eq(token.as_bytes(), expected.as_bytes()) {
        return Err(AppError::Unauthorized);
    }
    Ok(())
}

/// Compares without an early exit on the first differing byte.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// `GET /admin/sites/{site}/subscribers/{phone}`: history, state, confirmations.
pub async fn subscriber(env: &Env, site: &str, raw_phone: &str) -> Result<Response, AppError> {
    let site = sites::load(env, site).await?;
    let decoded = percent_decode(raw_phone);
    let phone = normalize_phone(&decoded, site.default_calling_code)
        .map_err(consent_core::ConsentError::from)?;
    let path = format!("/subscriber/{}", phone.as_str());
    let mut resp = ledger::call(env, &site.id, Method::Get, &path, None).await?;
    match resp.status_code() {
        200 => {
            let view: serde_json::Value = resp.json().await?;
            let headers = Headers::new();
            headers.set("Cache-Control", "no-store")?;
            json(&view, 200, headers)
        }
        404 => Err(AppError::NoSubscriber),
        s => Err(AppError::Internal(format!("ledger answered {s}"))),
    }
}

/// Decodes `%XX` escapes (a `+` in a path is literal, as `%2B` is).
fn percent_decode(s: &str) -> String {
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
}
