//! The ledger's hash chain: each event commits to the one before it.

#[allow(unused_imports)]
use crate::prelude::*;
use sha2::{Digest, Sha256};

/// Hash of the first event's predecessor.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// SHA-256 over the previous hash and the event's canonical encoding, as hex.
pub fn event_hash(prev_hash: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev_hash.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    crate::notice::hex(&h.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_change_to_either_input_changes_the_hash() {
        let a = event_hash(GENESIS, "{\"kind\":\"grant\"}");
        assert_eq!(a.len(), 64);
        assert_ne!(a, event_hash(GENESIS, "{\"kind\":\"grant \"}"));
        assert_ne!(a, event_hash(&a, "{\"kind\":\"grant\"}"));
        assert_eq!(a, event_hash(GENESIS, "{\"kind\":\"grant\"}"));
    }
}
