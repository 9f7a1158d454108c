//! Rate-based faults: a seeded share of send calls fail transiently, and another
//! share is accepted but never answered (the connection is dropped).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::{default_status, meta_message, FaultKind, MAX_DELAY_MS};

/// Transient kinds used when `kinds` is not given.
pub const DEFAULT_KINDS: [&str; 4] = ["http_500", "graph:130429", "graph:131000", "timeout"];

/// Body of `POST /_sim/faults` that switches the rate mode on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChaosSpec {
    /// Share of send calls (0..=1) answered with one of `kinds`.
    pub rate: f64,
    /// Share of the other calls (0..=1) accepted, then dropped without an answer.
    #[serde(default)]
    pub drop_rate: f64,
    /// `http_500`, `timeout` or `graph:<code>`; default [`DEFAULT_KINDS`].
    #[serde(default)]
    pub kinds: Option<Vec<String>>,
    /// Seed of the draws; the same seed gives the same sequence of faults.
    #[serde(default)]
    pub seed: u64,
    /// Wait of a `timeout` before it answers normally (≤ 30000, default 3000).
    #[serde(default)]
    pub delay_ms: Option<u64>,
    /// Pause before each status webhook while the mode is on (≤ 30000; default
    /// the `--status-gap-ms`). Meta's arrive seconds late, after a quick retry.
    #[serde(default)]
    pub status_delay_ms: Option<u64>,
}

impl ChaosSpec {
    /// Whether a `POST /_sim/faults` body asks for the rate mode (has `rate`).
    pub fn is_chaos(body: &[u8]) -> bool {
        serde_json::from_slice::<Value>(body)
            .ok()
            .is_some_and(|v| v.get("rate").is_some())
    }

    /// Validates the spec.
    pub fn into_chaos(self) -> Result<Chaos, String> {
        let share = |x: f64| (0.0..=1.0).contains(&x);
        if !share(self.rate) || !share(self.drop_rate) {
            return Err("rate and drop_rate must be between 0 and 1".into());
        }
        let names = self
            .kinds
            .clone()
            .unwrap_or_else(|| DEFAULT_KINDS.map(String::from).to_vec());
        if names.is_empty() || names.len() > 16 {
            return Err("kinds must list 1 to 16 fault kinds".into());
        }
        let delay_ms = self.delay_ms.unwrap_or(3_000).min(MAX_DELAY_MS);
        let kinds = names
            .iter()
            .map(|name| kind(name, delay_ms))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Chaos {
            status_delay_ms: self.status_delay_ms.map(|ms| ms.min(MAX_DELAY_MS)),
            rate: self.rate,
            drop_rate: self.drop_rate,
            seed: self.seed,
            kinds: names,
            rng: self.seed,
            faulted: 0,
            dropped: 0,
            calls: 0,
            parsed: kinds,
        })
    }
}

fn kind(name: &str, delay_ms: u64) -> Result<FaultKind, String> {
    match name {
        "http_500" => Ok(FaultKind::Http500 { http_status: 503 }),
        "timeout" => Ok(FaultKind::Timeout { delay_ms }),
        other => {
            let code = other
                .strip_prefix("graph:")
                .and_then(|c| c.parse::<i64>().ok())
                .ok_or_else(|| {
                    format!("unknown chaos kind {other:?}: http_500, timeout or graph:<code>")
                })?;
            Ok(FaultKind::Graph {
                code,
                http_status: default_status(code),
                message: meta_message(code),
                details: "Simulated fault (chaos mode)".into(),
            })
        }
    }
}

/// The rate mode as running, with what it has done so far.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Chaos {
    rate: f64,
    drop_rate: f64,
    seed: u64,
    kinds: Vec<String>,
    /// Pause before each status webhook, overriding `--status-gap-ms`.
    pub status_delay_ms: Option<u64>,
    /// Send calls seen.
    pub calls: u64,
    /// Calls answered with a transient fault.
    pub faulted: u64,
    /// Calls accepted and dropped.
    pub dropped: u64,
    #[serde(skip)]
    rng: u64,
    #[serde(skip)]
    parsed: Vec<FaultKind>,
}

impl Chaos {
    fn unit(&mut self) -> f64 {
        // splitmix64, top 53 bits as a fraction
        self.rng = self.rng.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
    }

    /// The fault for the next send call, if any.
    pub fn draw(&mut self) -> Option<FaultKind> {
        self.calls += 1;
        let (fault, pick, drop) = (self.unit(), self.unit(), self.unit());
        if fault < self.rate {
            self.faulted += 1;
            let i = ((pick * self.parsed.len() as f64) as usize).min(self.parsed.len() - 1);
            return Some(self.parsed[i].clone());
        }
        if drop < self.drop_rate {
            self.dropped += 1;
            return Some(FaultKind::Drop);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(rate: f64, drop_rate: f64, seed: u64) -> Chaos {
        ChaosSpec {
            rate,
            drop_rate,
            kinds: None,
            seed,
            delay_ms: None,
            status_delay_ms: None,
        }
        .into_chaos()
        .unwrap()
    }

    #[test]
    fn rates_are_roughly_kept_and_seeded() {
        let mut a = spec(0.3, 0.05, 7);
        let draws: Vec<_> = (0..10_000).map(|_| a.draw()).collect();
        let faulted = draws
            .iter()
            .filter(|d| matches!(d, Some(k) if *k != FaultKind::Drop))
            .count();
        let dropped = draws
            .iter()
            .filter(|d| **d == Some(FaultKind::Drop))
            .count();
        assert!((2_800..3_200).contains(&faulted), "{faulted}");
        assert!((250..450).contains(&dropped), "{dropped}");
        let mut b = spec(0.3, 0.05, 7);
        assert_eq!(draws, (0..10_000).map(|_| b.draw()).collect::<Vec<_>>());
    }

    #[test]
    fn bad_specs_are_refused() {
        let bad = |rate, kinds: Option<Vec<String>>| {
            ChaosSpec {
                rate,
                drop_rate: 0.0,
                kinds,
                seed: 0,
                delay_ms: None,
                status_delay_ms: None,
            }
            .into_chaos()
            .is_err()
        };
        assert!(bad(1.5, None));
        assert!(bad(0.3, Some(vec![])));
        assert!(bad(0.3, Some(vec!["graph:x".into()])));
        assert!(!bad(0.3, Some(vec!["graph:130429".into()])));
    }
}
