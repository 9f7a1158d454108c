//! Signed, expiring preference tokens: the link a person follows to manage or
//! withdraw their consent without a login. They carry the consent id, never
//! the phone number.

#[allow(unused_imports)]
use crate::prelude::*;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use thiserror::Error;

use crate::{notice::hex, site::is_valid_site_id};

/// What a valid token grants access to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claims {
    /// Site id.
    pub site: String,
    /// Ledger shard holding the consent.
    pub shard: u32,
    /// Consent (grant event) id the token was issued with.
    pub consent_id: String,
    /// Expiry, Unix ms.
    pub expires_at: i64,
}

/// Why a token was refused.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum TokenError {
    /// Not of the token's shape.
    #[error("the preference token is malformed")]
    Malformed,
    /// Signature does not match.
    #[error("the preference token's signature is invalid")]
    BadSignature,
    /// Past its expiry.
    #[error("the preference token has expired")]
    Expired,
}

fn signature(key: &[u8], payload: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(payload.as_bytes());
    hex(&mac.finalize().into_bytes()[..16])
}

/// Issues `site.shard.consent_id.expires_at.signature`.
pub fn issue(key: &[u8], site: &str, shard: u32, consent_id: &str, expires_at: i64) -> String {
    let payload = format!("{site}.{shard}.{consent_id}.{expires_at}");
    let sig = signature(key, &payload);
    format!("{payload}.{sig}")
}

/// Checks shape, signature (constant time) and expiry.
pub fn verify(key: &[u8], token: &str, now: i64) -> Result<Claims, TokenError> {
    if token.len() > 200 {
        return Err(TokenError::Malformed);
    }
    let mut parts = token.split('.');
    let (Some(site), Some(shard), Some(consent_id), Some(exp), Some(sig), None) = (
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
        parts.next(),
    ) else {
        return Err(TokenError::Malformed);
    };
    let shard_index: u32 = shard.parse().map_err(|_| TokenError::Malformed)?;
    let well_formed = is_valid_site_id(site)
        && consent_id.len() == 36
        && consent_id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() || b == b'-')
        && sig.len() == 32;
    let expires_at: i64 = exp.parse().map_err(|_| TokenError::Malformed)?;
    if !well_formed {
        return Err(TokenError::Malformed);
    }
    let expected = signature(key, &format!("{site}.{shard}.{consent_id}.{exp}"));
    let diff = expected
        .bytes()
        .zip(sig.bytes())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if diff != 0 {
        return Err(TokenError::BadSignature);
    }
    if now >= expires_at {
        return Err(TokenError::Expired);
    }
    Ok(Claims {
        site: site.to_owned(),
        shard: shard_index,
        consent_id: consent_id.to_owned(),
        expires_at,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const ID: &str = "01900000-0000-7000-8000-000000000000";

    #[test]
    fn a_token_verifies_until_it_expires() {
        let t = issue(b"k", "demo", 2, ID, 1_000);
        assert_eq!(
            verify(b"k", &t, 999),
            Ok(Claims {
                site: "demo".into(),
                shard: 2,
                consent_id: ID.into(),
                expires_at: 1_000
            })
        );
        assert_eq!(verify(b"k", &t, 1_000), Err(TokenError::Expired));
        assert!(!t.contains('+'), "no phone number in the token");
    }

    #[test]
    fn forged_or_mangled_tokens_are_refused() {
        let t = issue(b"k", "demo", 0, ID, 1_000);
        assert_eq!(verify(b"other", &t, 0), Err(TokenError::BadSignature));
        let other_shard = t.replacen("demo.0.", "demo.1.", 1);
        assert_eq!(verify(b"k", &other_shard, 0), Err(TokenError::BadSignature));
        let later = t.replace(".1000.", ".9999.");
        assert_eq!(verify(b"k", &later, 0), Err(TokenError::BadSignature));
        let other_site = t.replacen("demo", "acme", 1);
        assert_eq!(verify(b"k", &other_site, 0), Err(TokenError::BadSignature));
        for bad in [
            "",
            "a.b.c",
            "demo.x.1.y",
            "demo.0.x.1.y",
            &format!("{t}.extra"),
            &"a".repeat(300),
        ] {
            assert_eq!(verify(b"k", bad, 0), Err(TokenError::Malformed), "{bad}");
        }
    }
}
