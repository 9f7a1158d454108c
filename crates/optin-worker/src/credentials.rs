//! A site's Graph API token stored through the admin API instead of one
//! `wrangler secret put` per merchant: sealed with AES-256-GCM under the Worker
//! secret `CREDENTIALS_KEY`, the key id kept beside the ciphertext so the key
//! can be rotated, the site id bound in as associated data so a sealed token
//! copied to another site's KV entry does not open.
//!
//! `CREDENTIALS_KEY` is `kid:<base64 of 32 bytes>[,kid:<base64>…]`: the first
//! key seals, every listed key opens. A stored token wins over the site's
//! `whatsapp.token_secret`; without one, the named secret is used as before.

use std::{cell::RefCell, collections::BTreeMap};

use aes_gcm::{
    aead::{Aead, KeyInit, Payload},
    Aes256Gcm, Key, Nonce,
};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::protocol::{b64_decode, b64_encode};

/// The Worker secret holding the sealing keys.
pub const KEY_SECRET: &str = "CREDENTIALS_KEY";

/// Why a token could not be sealed, opened or found.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum CredentialError {
    /// `CREDENTIALS_KEY` is not set on this Worker.
    #[error("the Worker secret CREDENTIALS_KEY is not set, so tokens cannot be stored or read")]
    KeyUnset,
    /// `CREDENTIALS_KEY` is not `kid:<base64 of 32 bytes>,…`.
    #[error("CREDENTIALS_KEY is malformed: {0}")]
    KeyMalformed(&'static str),
    /// The token was sealed under a key no longer in `CREDENTIALS_KEY`.
    #[error("the stored token was sealed under key '{0}', which CREDENTIALS_KEY no longer lists")]
    UnknownKeyId(String),
    /// Authentication failed: the ciphertext, its site or its key is wrong.
    #[error("the stored token does not open with key '{0}' for this site")]
    Undecryptable(String),
    /// Neither a stored token nor the named secret.
    #[error("no Graph token: none stored for the site and secret '{0}' is not set")]
    NoToken(String),
}

/// The sealing keys, the first one current.
pub struct Keyring {
    keys: Vec<(String, [u8; 32])>,
}

impl Keyring {
    /// Parses `kid:<base64>,kid:<base64>`; a kid is 1–32 of `[A-Za-z0-9_-]`.
    pub fn parse(text: &str) -> Result<Keyring, CredentialError> {
        let mut keys = Vec::new();
        for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let (kid, b64) = part
                .split_once(':')
                .ok_or(CredentialError::KeyMalformed("each key is kid:<base64>"))?;
            let kid_ok = (1..=32).contains(&kid.len())
                && kid
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
            if !kid_ok {
                return Err(CredentialError::KeyMalformed(
                    "a key id is 1-32 letters, digits, '_' or '-'",
                ));
            }
            let bytes: [u8; 32] = b64_decode(b64).and_then(|b| b.try_into().ok()).ok_or(
                CredentialError::KeyMalformed("each key is the base64 of 32 random bytes"),
            )?;
            if keys.iter().any(|(k, _)| k == kid) {
                return Err(CredentialError::KeyMalformed("a key id is listed twice"));
            }
            keys.push((kid.to_owned(), bytes));
        }
        if keys.is_empty() {
            return Err(CredentialError::KeyMalformed("no key listed"));
        }
        Ok(Keyring { keys })
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.keys[0].0
    }

    fn cipher(&self, kid: &str) -> Option<Aes256Gcm> {
        self.keys
            .iter()
            .find(|(k, _)| k == kid)
            .map(|(_, key)| Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(key)))
    }
}

/// A sealed token as KV keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sealed {
    /// Format version.
    pub v: u8,
    /// The sealing key's id.
    pub kid: String,
    /// Base64 of the 12-byte nonce.
    nonce: String,
    /// Base64 of ciphertext and tag.
    ct: String,
    /// Unix ms.
    pub stored_at: i64,
    /// The token's last four characters, so a merchant can tell which one is stored.
    pub last4: String,
}

/// Binds a sealed token to its site: moved to another site it does not open.
fn aad(site: &str) -> Vec<u8> {
    format!("whatsapp-optin graph-token v1 {site}").into_bytes()
}

/// Seals `token` for `site` under the current key with a fresh `nonce`.
pub fn seal(
    ring: &Keyring,
    site: &str,
    token: &str,
    nonce: [u8; 12],
    now: i64,
) -> Result<Sealed, CredentialError> {
    let kid = ring.current_id();
    let cipher = ring.cipher(kid).expect("the current key is in the ring");
    let aad = aad(site);
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: token.as_bytes(),
                aad: &aad,
            },
        )
        .map_err(|_| CredentialError::Undecryptable(kid.to_owned()))?;
    let tail: String = token.chars().rev().take(4).collect();
    Ok(Sealed {
        v: 1,
        kid: kid.to_owned(),
        nonce: b64_encode(&nonce),
        ct: b64_encode(&ct),
        stored_at: now,
        last4: tail.chars().rev().collect(),
    })
}

/// Opens a token sealed for `site`.
pub fn open(ring: &Keyring, site: &str, sealed: &Sealed) -> Result<String, CredentialError> {
    let cipher = ring
        .cipher(&sealed.kid)
        .ok_or_else(|| CredentialError::UnknownKeyId(sealed.kid.clone()))?;
    let bad = || CredentialError::Undecryptable(sealed.kid.clone());
    let nonce: [u8; 12] = b64_decode(&sealed.nonce)
        .and_then(|n| n.try_into().ok())
        .ok_or_else(bad)?;
    let ct = b64_decode(&sealed.ct).ok_or_else(bad)?;
    let aad = aad(site);
    let plain = cipher
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &aad,
            },
        )
        .map_err(|_| bad())?;
    String::from_utf8(plain).map_err(|_| bad())
}

/// The KV entry of a site's sealed token.
pub fn kv_key(site: &str) -> String {
    format!("graphtoken:{site}")
}

/// How long an isolate reuses a token it opened (a replaced token reaches
/// other isolates within this, other locations as KV propagates).
const CACHE_MS: f64 = 10_000.0;

thread_local! {
    static CACHE: RefCell<BTreeMap<String, (f64, Option<String>)>> = const { RefCell::new(BTreeMap::new()) };
}

/// Forgets what this isolate knows of a site's stored token (after a PUT or DELETE).
pub fn forget(site: &str) {
    CACHE.with(|c| c.borrow_mut().remove(site));
}

/// The keyring from the Worker secret.
pub fn keyring(env: &worker::Env) -> Result<Keyring, CredentialError> {
    let text = env
        .secret(KEY_SECRET)
        .map_err(|_| CredentialError::KeyUnset)?
        .to_string();
    Keyring::parse(&text)
}

/// The site's sealed token as stored, if any.
pub async fn stored(env: &worker::Env, site: &str) -> worker::Result<Option<Sealed>> {
    let text = env
        .kv("SITES")?
        .get(&kv_key(site))
        .text()
        .await
        .map_err(|e| worker::Error::RustError(e.to_string()))?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

async fn stored_token(env: &worker::Env, site: &str) -> Result<Option<String>, CredentialError> {
    let now = worker::Date::now().as_millis() as f64;
    if let Some((_, token)) = CACHE.with(|c| crate::kept::current(c, site, now, CACHE_MS)) {
        return Ok(token);
    }
    // A KV failure reads as "none stored": the named secret, if any, still sends.
    let sealed = stored(env, site).await.ok().flatten();
    let token = match sealed {
        Some(s) => Some(open(&keyring(env)?, site, &s)?),
        None => None,
    };
    CACHE.with(|c| crate::kept::keep(c, site.to_owned(), now, token.clone(), 256));
    Ok(token)
}

/// The Graph token for `site`: the stored one, else the Worker secret the
/// site's config names.
pub async fn graph_token(
    env: &worker::Env,
    site: &str,
    secret_name: Option<&str>,
) -> Result<String, CredentialError> {
    if let Some(token) = stored_token(env, site).await? {
        return Ok(token);
    }
    let name = secret_name.unwrap_or_default();
    if name.is_empty() {
        return Err(CredentialError::NoToken("(none named)".into()));
    }
    crate::vars::text(env, name)
        .map(|s| s.to_string())
        .ok_or_else(|| CredentialError::NoToken(name.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const K1: &str = "k1:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=";
    const K2: &str = "k2:ICEiIyQlJicoKSorLC0uLzAxMjM0NTY3ODk6Ozw9Pj8=";

    #[test]
    fn a_sealed_token_opens_for_its_site_and_hides_the_token() {
        let ring = Keyring::parse(K1).unwrap();
        let s = seal(&ring, "acme", "EAAGsecret1234", [7; 12], 5).unwrap();
        assert_eq!(s.kid, "k1");
        assert_eq!(s.last4, "1234");
        let json = serde_json::to_string(&s).unwrap();
        assert!(!json.contains("EAAGsecret"), "{json}");
        assert_eq!(open(&ring, "acme", &s).unwrap(), "EAAGsecret1234");
    }

    #[test]
    fn a_token_moved_to_another_site_or_tampered_with_does_not_open() {
        let ring = Keyring::parse(K1).unwrap();
        let s = seal(&ring, "acme", "EAAGsecret1234", [7; 12], 5).unwrap();
        assert_eq!(
            open(&ring, "other", &s),
            Err(CredentialError::Undecryptable("k1".into()))
        );
        let mut t = s.clone();
        let mut ct = b64_decode(&t.ct).unwrap();
        ct[0] ^= 1;
        t.ct = b64_encode(&ct);
        assert!(open(&ring, "acme", &t).is_err());
    }

    #[test]
    fn after_a_key_rotation_old_tokens_still_open_and_new_ones_use_the_new_key() {
        let old = Keyring::parse(K1).unwrap();
        let sealed_before = seal(&old, "acme", "tok-old", [1; 12], 1).unwrap();
        let rotated = Keyring::parse(&format!("{K2},{K1}")).unwrap();
        assert_eq!(open(&rotated, "acme", &sealed_before).unwrap(), "tok-old");
        assert_eq!(
            seal(&rotated, "acme", "tok-new", [2; 12], 2).unwrap().kid,
            "k2"
        );
        let dropped = Keyring::parse(K2).unwrap();
        assert_eq!(
            open(&dropped, "acme", &sealed_before),
            Err(CredentialError::UnknownKeyId("k1".into()))
        );
    }

    #[test]
    fn a_malformed_keyring_is_refused_with_what_is_wrong() {
        for bad in ["", "k1", "k1:short", "k 1:AAAA", &format!("{K1},{K1}")] {
            assert!(
                matches!(Keyring::parse(bad), Err(CredentialError::KeyMalformed(_))),
                "{bad}"
            );
        }
    }
}
