//! Counts and series of a ledger, summed over a site's shards at the edge.

use std::collections::BTreeMap;

use consent_core::{
    funnel::FunnelEvent,
    stats::{wilson, Day, Z95},
};
use serde::{Deserialize, Serialize};

use crate::error::AppError;

/// Longest `from`..`to` range the stats accept, in days.
const MAX_RANGE_DAYS: i64 = 366;
/// Days shown when no range is given.
const DEFAULT_DAYS: i64 = 30;

/// What the edge asks a ledger to count.
#[derive(Serialize, Deserialize)]
pub struct CountEvents {
    /// Validated events.
    pub events: Vec<FunnelEvent>,
    /// Keyed hash of the client IP, for the per-IP limit (never stored).
    pub ip_key: Option<String>,
    /// Beacons allowed per IP per minute.
    pub per_minute: u32,
}

/// Days `from` to `to`, both included.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Range {
    /// First day.
    pub from: Day,
    /// Last day.
    pub to: Day,
}

impl Range {
    /// From the `from`/`to` query (YYYY-MM-DD); by default the last 30 days to today.
    pub fn from_query(
        from: Option<&str>,
        to: Option<&str>,
        now_ms: i64,
    ) -> Result<Range, AppError> {
        let day = |v: Option<&str>, field| match v {
            None => Ok(None),
            Some(s) => Day::parse(s).map(Some).ok_or(AppError::InvalidQuery {
                field,
                detail: "must be a date as YYYY-MM-DD",
            }),
        };
        let to_day = day(to, "to")?.unwrap_or(Day::from_unix_ms(now_ms));
        let from_day = day(from, "from")?.unwrap_or(Day(to_day.0 - (DEFAULT_DAYS - 1)));
        if from_day > to_day {
            return Err(AppError::InvalidQuery {
                field: "from",
                detail: "must not be after to",
            });
        }
        if to_day.0 - from_day.0 + 1 > MAX_RANGE_DAYS {
            return Err(AppError::InvalidQuery {
                field: "to",
                detail: "the range may span at most 366 days",
            });
        }
        Ok(Range {
            from: from_day,
            to: to_day,
        })
    }

    pub fn start_ms(&self) -> i64 {
        self.from.start_ms()
    }

    pub fn end_ms(&self) -> i64 {
        Day(self.to.0 + 1).start_ms()
    }
}

/// Funnel counts of one day × surface × variant × locale.
#[derive(Serialize, Deserialize)]
pub struct FunnelRow {
    pub day: String,
    pub surface: String,
    pub variant: String,
    pub locale: String,
    pub impression: i64,
    pub open: i64,
    pub dismiss: i64,
    pub submit: i64,
}

/// Consents recorded on one day from one surface × variant.
#[derive(Serialize, Deserialize)]
pub struct ConsentDay {
    pub day: String,
    pub surface: String,
    pub variant: String,
    pub n: i64,
}

/// Opt-outs by how they were made.
#[derive(Serialize, Deserialize)]
pub struct SourceCount {
    /// consent-core's `OptOutSource` wire name.
    pub source: String,
    /// Its label, for the dashboard (which classifies nothing itself).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label: Option<String>,
    pub n: i64,
}

/// Opt-outs on one day.
#[derive(Serialize, Deserialize)]
pub struct DayCount {
    pub day: String,
    pub n: i64,
}

/// Conversion of one surface × variant, with its 95 % Wilson interval.
#[derive(Serialize, Deserialize)]
pub struct VariantRow {
    pub surface: String,
    pub variant: String,
    pub impressions: i64,
    pub consents: i64,
    pub rate: f64,
    pub ci_low: f64,
    pub ci_high: f64,
}

/// A failure code of confirmations and how often it came.
#[derive(Serialize, Deserialize)]
pub struct ErrorCount {
    /// Graph error code; `None` for failures without one (HTTP errors, missing secret).
    pub code: Option<i64>,
    pub n: i64,
}

/// How the confirmation templates fared.
#[derive(Default, Serialize, Deserialize)]
pub struct Delivery {
    /// Accepted by WhatsApp (a few may fail later).
    pub sent: i64,
    /// Reached the phone (read ones included).
    pub delivered: i64,
    /// Read.
    pub read: i64,
    /// Failed for good.
    pub failed: i64,
    /// Failures by error code, most frequent first.
    pub errors: Vec<ErrorCount>,
}

/// The time series the stats add for the requested range.
#[derive(Default, Serialize, Deserialize)]
pub struct Series {
    /// First day of the range.
    #[serde(default)]
    pub from: String,
    /// Last day of the range.
    #[serde(default)]
    pub to: String,
    #[serde(default)]
    pub funnel: Vec<FunnelRow>,
    #[serde(default)]
    pub consents_by_day: Vec<ConsentDay>,
    #[serde(default)]
    pub optouts_by_source: Vec<SourceCount>,
    #[serde(default)]
    pub optouts_by_day: Vec<DayCount>,
    /// Computed at the edge once every shard is summed.
    #[serde(default)]
    pub variants: Vec<VariantRow>,
    #[serde(default)]
    pub delivery: Delivery,
}

/// Adds `o` into `rows`, merging with the row of the same key.
fn merge<T>(rows: &mut Vec<T>, o: T, same: impl Fn(&T, &T) -> bool, add: impl Fn(&mut T, T)) {
    match rows.iter_mut().find(|r| same(r, &o)) {
        Some(r) => add(r, o),
        None => rows.push(o),
    }
}

impl Series {
    /// Adds another shard's series.
    pub fn add(&mut self, other: Series) {
        self.from = other.from;
        self.to = other.to;
        for o in other.funnel {
            merge(
                &mut self.funnel,
                o,
                |a, b| {
                    (&a.day, &a.surface, &a.variant, &a.locale)
                        == (&b.day, &b.surface, &b.variant, &b.locale)
                },
                |a, b| {
                    a.impression += b.impression;
                    a.open += b.open;
                    a.dismiss += b.dismiss;
                    a.submit += b.submit;
                },
            );
        }
        for o in other.consents_by_day {
            merge(
                &mut self.consents_by_day,
                o,
                |a, b| (&a.day, &a.surface, &a.variant) == (&b.day, &b.surface, &b.variant),
                |a, b| a.n += b.n,
            );
        }
        for o in other.optouts_by_source {
            merge(
                &mut self.optouts_by_source,
                o,
                |a, b| a.source == b.source,
                |a, b| a.n += b.n,
            );
        }
        for o in other.optouts_by_day {
            merge(
                &mut self.optouts_by_day,
                o,
                |a, b| a.day == b.day,
                |a, b| a.n += b.n,
            );
        }
        let d = other.delivery;
        self.delivery.sent += d.sent;
        self.delivery.delivered += d.delivered;
        self.delivery.read += d.read;
        self.delivery.failed += d.failed;
        for o in d.errors {
            merge(
                &mut self.delivery.errors,
                o,
                |a, b| a.code == b.code,
                |a, b| a.n += b.n,
            );
        }
    }

    /// Sorts the merged rows and computes each variant's conversion.
    pub fn finish(&mut self) {
        self.funnel.sort_by(|a, b| {
            (&a.day, &a.surface, &a.variant, &a.locale)
                .cmp(&(&b.day, &b.surface, &b.variant, &b.locale))
        });
        self.consents_by_day.sort_by(|a, b| {
            (&a.day, &a.surface, &a.variant).cmp(&(&b.day, &b.surface, &b.variant))
        });
        self.optouts_by_source
            .sort_by(|a, b| b.n.cmp(&a.n).then(a.source.cmp(&b.source)));
        self.optouts_by_day.sort_by(|a, b| a.day.cmp(&b.day));
        self.delivery
            .errors
            .sort_by(|a, b| b.n.cmp(&a.n).then(a.code.cmp(&b.code)));
        let mut totals: BTreeMap<(String, String), (i64, i64)> = BTreeMap::new();
        for f in &self.funnel {
            totals
                .entry((f.surface.clone(), f.variant.clone()))
                .or_default()
                .0 += f.impression;
        }
        for c in self
            .consents_by_day
            .iter()
            .filter(|c| c.surface != "unknown")
        {
            totals
                .entry((c.surface.clone(), c.variant.clone()))
                .or_default()
                .1 += c.n;
        }
        self.variants = totals
            .into_iter()
            .map(|((surface, variant), (impressions, consents))| {
                let c = wilson(consents.max(0) as u64, impressions.max(0) as u64, Z95);
                VariantRow {
                    surface,
                    variant,
                    impressions,
                    consents,
                    rate: c.rate,
                    ci_low: c.low,
                    ci_high: c.high,
                }
            })
            .collect();
    }
}

#[derive(Deserialize, Serialize)]
pub struct KindCount {
    pub kind: String,
    pub n: i64,
}

#[derive(Deserialize, Serialize)]
pub struct StatusCount {
    pub category: String,
    pub status: String,
    pub n: i64,
}

#[derive(Deserialize, Serialize)]
pub struct SendCount {
    pub status: String,
    pub n: i64,
}

/// Business messages (send API) per UTC day × category × reason × where they are now.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct MessageCount {
    /// `YYYY-MM-DD` of the decision.
    pub day: String,
    /// The category asked for.
    pub category: String,
    /// `subscribed` (queued) or the refusal's reason.
    pub reason: String,
    /// `refused`, or the outbox status of a queued one.
    pub status: String,
    pub n: i64,
}

/// Counts over the ledger (or, summed, over all of a site's shards).
#[derive(Default, Serialize, Deserialize)]
pub struct Stats {
    pub events: Vec<KindCount>,
    pub subscriptions: Vec<StatusCount>,
    pub confirmations: Vec<SendCount>,
    /// Whether the ledger sends, or is halted by a Graph error of the halt class.
    #[serde(default)]
    pub sending: Sending,
    /// Double opt-in requests by state (all zero when the site never used it).
    #[serde(default)]
    pub double_opt_in: DoubleOptInCounts,
    /// The burst breaker: whether it holds new confirmations, and how many it holds.
    #[serde(default)]
    pub breaker: super::HeldSummary,
    /// People whose data retention erased (all time).
    #[serde(default)]
    pub erased_by_retention: i64,
    /// Send API decisions over the requested days.
    #[serde(default)]
    pub messages: Vec<MessageCount>,
    /// Funnel, consents, opt-outs and delivery over the requested days.
    #[serde(flatten)]
    pub series: Series,
}

impl Stats {
    /// Sorts merged rows and computes conversion once every shard is added.
    pub fn finish(&mut self) {
        self.series.finish();
    }

    /// Adds another shard's counts.
    pub fn add(&mut self, other: Stats) {
        for o in other.events {
            match self.events.iter_mut().find(|c| c.kind == o.kind) {
                Some(c) => c.n += o.n,
                None => self.events.push(o),
            }
        }
        for o in other.subscriptions {
            match self
                .subscriptions
                .iter_mut()
                .find(|c| c.category == o.category && c.status == o.status)
            {
                Some(c) => c.n += o.n,
                None => self.subscriptions.push(o),
            }
        }
        self.erased_by_retention += other.erased_by_retention;
        for o in other.messages {
            let same = |c: &&mut MessageCount| {
                (&c.day, &c.category, &c.reason, &c.status)
                    == (&o.day, &o.category, &o.reason, &o.status)
            };
            match self.messages.iter_mut().find(same) {
                Some(c) => c.n += o.n,
                None => self.messages.push(o),
            }
        }
        self.sending.add(other.sending);
        self.double_opt_in.add(&other.double_opt_in);
        self.breaker.add(&other.breaker);
        self.series.add(other.series);
        for o in other.confirmations {
            match self.confirmations.iter_mut().find(|c| c.status == o.status) {
                Some(c) => c.n += o.n,
                None => self.confirmations.push(o),
            }
        }
    }
}

/// Whether a ledger sends, as `GET /admin/sites/{site}/stats` shows it.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Sending {
    /// True while sending is held.
    pub halted: bool,
    /// The Graph error that halted it (`"190 Invalid OAuth access token…"`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When it halted, Unix ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<i64>,
    /// The outbox row whose send was refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbox_id: Option<String>,
}

impl Sending {
    /// Merges another shard's state: halted if any shard is.
    pub fn add(&mut self, other: Sending) {
        if other.halted && !self.halted {
            *self = other;
        }
    }
}

/// How many double opt-in requests are in each state, for the stats.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct DoubleOptInCounts {
    /// Waiting for the person.
    pub pending: i64,
    /// Confirmed in WhatsApp.
    pub confirmed: i64,
    /// Not confirmed in time.
    pub expired: i64,
    /// The person opted out before confirming.
    pub withdrawn: i64,
}

impl DoubleOptInCounts {
    /// Adds another shard's counts.
    pub fn add(&mut self, o: &DoubleOptInCounts) {
        self.pending += o.pending;
        self.confirmed += o.confirmed;
        self.expired += o.expired;
        self.withdrawn += o.withdrawn;
    }
}
