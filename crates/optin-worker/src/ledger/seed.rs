//! Benchmark history: many grant events written straight into the chain, so
//! the full benchmark can export a ledger of a million events without a
//! million HTTP consents. Only where the Worker's `DEV_SEED` var is `allow`
//! (`scripts/dev bench-api`'s stack; never set in `wrangler.toml`).

use consent_core::{
    states::{EventKind, SubscriptionStatus},
    Category,
};
use worker::{Env, Result};

use super::tx::Tx;

/// Events one command may write: one Durable Object write of a few seconds.
pub const MAX_EVENTS: u32 = 20_000;

/// Whether this Worker lets a benchmark seed history.
pub fn allowed(env: &Env) -> bool {
    crate::vars::is(env, "DEV_SEED", "allow")
}

/// Appends `count` grants of `categories`, one per phone `+62899{from + i}`,
/// each with `evidence`, through the ledger's one write path (chain, state,
/// webhooks); how many were written.
pub fn history(
    tx: &Tx,
    from: u64,
    count: u32,
    categories: &[Category],
    evidence: &str,
) -> Result<u32> {
    for i in 0..count.min(MAX_EVENTS) {
        let phone = format!("+62899{:08}", (from + u64::from(i)) % 100_000_000);
        tx.record_all(
            &phone,
            categories,
            EventKind::Grant,
            SubscriptionStatus::Granted,
            evidence,
        )?;
    }
    Ok(count.min(MAX_EVENTS))
}
