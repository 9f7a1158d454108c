//! The ledger's hash chain: each event commits to the one before it.
//!
//! The hash covers a keyed hash of the subject and a digest of the evidence,
//! not the personal data itself, so erasing a person's data leaves the chain
//! verifiable.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::notice::hex;

/// Hash of the first event's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an event the chain commits to.
#[derive(Debug, Clone, Serialize)]
pub struct ChainedEvent<'a> {
    /// Event id (UUIDv7).
    pub id: &'a str,
    /// grant, confirm, update, withdraw, bounce, erase.
    pub kind: &'a str,
    /// Keyed hash of the subject's phone.
    pub subject: &'a str,
    /// Categories as stored (a JSON array).
    pub categories: &'a str,
    /// Server time, Unix ms.
    pub server_ts: i64,
    /// SHA-256 of the evidence JSON as stored.
    pub evidence_digest: &'a str,
}

impl ChainedEvent<'_> {
    /// The canonical encoding: JSON with this fixed field order.
    pub fn canonical(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// This event's hash given its predecessor's.
    pub fn hash(&self, prev_hash: &str) -> String {
        event_hash(prev_hash, &self.canonical())
    }
}

/// SHA-256 over the previous hash and the event's canonical encoding, as hex.
pub fn event_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex(&h.finalize())
}

/// SHA-256 of stored evidence, as hex.
pub fn evidence_digest(evidence: &str) -> String {
    hex(&Sha256::digest(evidence.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event<'a>(kind: &'a str, digest: &'a str) -> ChainedEvent<'a> {
        ChainedEvent {
            id: "01900000-0000-7000-8000-000000000000",
            kind,
            subject: "ab",
            categories: "[\"delivery\"]",
            server_ts: 1,
            evidence_digest: digest,
        }
    }

    #[test]
    fn any_change_to_an_event_or_its_predecessor_changes_the_hash() {
        let a = event("grant", "d").hash(GENESIS);
        assert_eq!(a.len(), 64);
        assert_eq!(a, event("grant", "d").hash(GENESIS));
        assert_ne!(a, event("withdraw", "d").hash(GENESIS));
        assert_ne!(a, event("grant", "e").hash(GENESIS));
        assert_ne!(a, event("grant", "d").hash(&a));
    }

    #[test]
    fn canonical_order_is_fixed() {
        assert_eq!(
            event("grant", "d").canonical(),
            r#"{"id":"01900000-0000-7000-8000-000000000000","kind":"grant","subject":"ab","categories":"[\"delivery\"]","server_ts":1,"evidence_digest":"d"}"#
        );
    }
}
