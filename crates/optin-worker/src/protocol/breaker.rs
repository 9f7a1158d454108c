//! The burst breaker as the admin API shows it, summed over a site's shards at
//! the edge. The rule itself is the ledger's (`ledger/breaker.rs`).

use serde::{Deserialize, Serialize};

/// How many decisions `GET …/breaker` lists (the newest first).
pub const DECISIONS_SHOWN: usize = 20;

/// One recorded breaker decision: it opened (`hold`), or an admin released or
/// dropped what it held.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BreakerDecision {
    /// `hold`, `release` or `drop`.
    pub action: String,
    /// `hold`: web consents in the 10 minutes when it opened; `release` /
    /// `drop`: confirmations released or dropped.
    pub count: i64,
    /// `breaker` for an opening; for an admin's decision the token that
    /// authorised it: `ADMIN_TOKEN` (global) or `ADMIN_TOKEN_<SITE>` (the site's own).
    pub actor: String,
    /// When, Unix ms.
    pub at: i64,
}

/// The breaker of one ledger, or of a whole site once summed.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BreakerView {
    /// Whether new confirmations are held now.
    pub open: bool,
    /// When it opened, Unix ms (the earliest shard's, once summed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_since: Option<i64>,
    /// Confirmations held, waiting for release or drop.
    pub held: i64,
    /// Web consents per 10 minutes above which it opens (summed: every shard's).
    pub threshold: u32,
    /// `configured` (the site's `breaker.threshold_per_10_min`, per shard) or `derived`.
    pub threshold_source: String,
    /// Web consents in the last 10 minutes.
    pub recent: i64,
    /// The average number of web consents per 10 minutes over the past 7 days.
    pub average_per_10_min: f64,
    /// The latest decisions, newest first.
    #[serde(default)]
    pub decisions: Vec<BreakerDecision>,
}

impl BreakerView {
    /// Adds another shard's breaker: open if any shard is.
    pub fn add(&mut self, other: BreakerView) {
        self.open |= other.open;
        self.open_since = match (self.open_since, other.open_since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.held += other.held;
        self.threshold = self.threshold.saturating_add(other.threshold);
        self.threshold_source = other.threshold_source;
        self.recent += other.recent;
        self.average_per_10_min += other.average_per_10_min;
        self.decisions.extend(other.decisions);
        self.decisions.sort_by_key(|d| std::cmp::Reverse(d.at));
        self.decisions.truncate(DECISIONS_SHOWN);
    }
}

/// What the stats show of the breaker (the threshold needs the site's config:
/// `GET …/breaker` has it).
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct HeldSummary {
    /// Whether new confirmations are held now.
    pub open: bool,
    /// When it opened, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// Confirmations held.
    pub held: i64,
}

impl HeldSummary {
    /// Adds another shard's.
    pub fn add(&mut self, other: &HeldSummary) {
        self.open |= other.open;
        self.since = match (self.since, other.since) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        self.held += other.held;
    }
}

/// The answer to a release or a drop.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Decided {
    /// `release` or `drop`.
    pub action: String,
    /// Confirmations released (back to pending, paced) or dropped.
    pub count: i64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_sum_and_the_earliest_opening_wins() {
        let shard = |open_since: Option<i64>, held, at| BreakerView {
            open: open_since.is_some(),
            open_since,
            held,
            threshold: 50,
            threshold_source: "derived".into(),
            recent: held + 50,
            average_per_10_min: 1.5,
            decisions: vec![BreakerDecision {
                action: "hold".into(),
                count: 51,
                actor: "breaker".into(),
                at,
            }],
        };
        let mut total = BreakerView::default();
        total.add(shard(None, 0, 1));
        total.add(shard(Some(20), 7, 20));
        total.add(shard(Some(10), 3, 10));
        assert!(total.open);
        assert_eq!(total.open_since, Some(10));
        assert_eq!((total.held, total.threshold, total.recent), (10, 150, 160));
        assert_eq!(
            total.decisions.iter().map(|d| d.at).collect::<Vec<_>>(),
            [20, 10, 1]
        );
    }
}
