//! The one way a ledger writes: a [`Tx`] carries the SQL handle, the keys and
//! *now*, and every event goes through [`Tx::record`] (chain + derived state).
//! Nothing below awaits, so one command's writes are one atomic write in the
//! Durable Object, and native tests can run them on rusqlite with any clock.

use consent_core::{
    chain::{evidence_digest, ChainedEvent, GENESIS},
    ids::uuid7,
    privacy::subject_hash,
    states::{EventKind, SubscriptionStatus},
    Category, SiteConfig,
};
use serde::Deserialize;
use worker::Result;

use super::store::Db;

/// The secrets a ledger derives hashes and links from.
pub struct Keys {
    /// Keys the subject hash of a phone (`SUBJECT_HASH_KEY`).
    pub subject: String,
    /// Signs preference-centre links (`PREFS_TOKEN_KEY`).
    pub prefs_token: String,
}

/// One command's context.
pub struct Tx<'a> {
    /// The ledger's SQL.
    pub db: &'a dyn Db,
    /// The ledger's keys.
    pub keys: &'a Keys,
    /// Server time of this command, Unix ms.
    pub now: i64,
    /// One hour of double opt-in expiry, in ms (tests shorten it).
    pub hour_ms: i64,
    /// The ledger object's note of its next double opt-in expiry, so a command
    /// with none due skips the query; `None`: always query.
    pub next_expiry: Option<&'a NextExpiry>,
    /// The ledger object's copy of its webhook endpoints, so an event or a
    /// status does not read them again; `None`: always read.
    pub endpoints: Option<&'a super::hooks::EndpointsNote>,
}

/// When this ledger's earliest pending double opt-in expires, as far as this
/// object knows: [`NextExpiry::UNKNOWN`] until a query says, `i64::MAX` when none
/// waits. Every pending confirmation opens through [`Tx::opened_until`], so the
/// note is never later than the truth.
pub struct NextExpiry(std::cell::Cell<i64>);

impl NextExpiry {
    /// Not yet read: the next check queries.
    pub const UNKNOWN: i64 = i64::MIN;

    /// A note that knows nothing yet.
    pub fn new() -> Self {
        Self(std::cell::Cell::new(Self::UNKNOWN))
    }
}

impl Default for NextExpiry {
    fn default() -> Self {
        Self::new()
    }
}

#[derive(Deserialize)]
struct HashRow {
    hash: String,
}

#[derive(Deserialize)]
struct CategoryRow {
    category: String,
}

#[derive(Deserialize)]
struct LastTs {
    ts: Option<i64>,
}

impl Tx<'_> {
    /// Whether an expiry may be due now (always, without a note).
    pub fn expiry_may_be_due(&self) -> bool {
        self.next_expiry.is_none_or(|n| self.now >= n.0.get())
    }

    /// Notes what a query found: the earliest pending expiry, if any.
    pub fn expiry_known(&self, next: Option<i64>) {
        if let Some(n) = self.next_expiry {
            n.0.set(next.unwrap_or(i64::MAX));
        }
    }

    /// Notes a confirmation opened now that expires at `at`.
    pub fn opened_until(&self, at: i64) {
        if let Some(n) = self.next_expiry {
            n.0.set(n.0.get().min(at));
        }
    }

    /// A fresh UUIDv7 at this command's time.
    pub fn new_id(&self) -> Result<String> {
        let mut b = [0u8; 10];
        getrandom::fill(&mut b).map_err(|e| worker::Error::RustError(e.to_string()))?;
        Ok(uuid7(self.now as u64, b))
    }

    /// Keyed hash of a phone: what the chain and logs carry instead of the number.
    pub fn subject(&self, phone: &str) -> String {
        subject_hash(self.keys.subject.as_bytes(), phone)
    }

    /// Appends one event to the chain and sets each of `state`'s categories to
    /// its status, in the same write. An `erase` keeps no phone.
    pub fn record(
        &self,
        event: &Event<'_>,
        state: &[(Category, SubscriptionStatus)],
    ) -> Result<()> {
        let subject = self.subject(event.phone);
        let stored_phone = event.kind.stores_phone().then_some(event.phone);
        let hash = self.append_chained(event, stored_phone, &subject)?;
        for (category, status) in state {
            self.set_state(event.phone, category, *status, event.id)?;
        }
        // The merchant's webhooks are queued in this same write: never lost, never waited on.
        let recorded = super::hooks::Recorded {
            id: event.id,
            kind: event.kind,
            phone: event.phone,
            subject: &subject,
            categories: event.categories,
            state,
            evidence: event.evidence,
            hash: &hash,
        };
        super::hooks::on_event(self, &recorded)
    }

    /// One new event of `kind` for all `categories`, each set to `status`; its id.
    pub fn record_all(
        &self,
        phone: &str,
        categories: &[Category],
        kind: EventKind,
        status: SubscriptionStatus,
        evidence: &str,
    ) -> Result<String> {
        let id = self.new_id()?;
        let state: Vec<(Category, SubscriptionStatus)> =
            categories.iter().map(|c| (c.clone(), status)).collect();
        let event = Event {
            id: &id,
            kind,
            phone,
            categories,
            evidence,
        };
        self.record(&event, &state)?;
        Ok(id)
    }

    /// Appends the event to the chain; its hash.
    fn append_chained(&self, e: &Event<'_>, phone: Option<&str>, subject: &str) -> Result<String> {
        let prev = self
            .db
            .rows::<HashRow>("SELECT hash FROM events ORDER BY seq DESC LIMIT 1", &[])?
            .pop()
            .map_or_else(|| GENESIS.to_owned(), |r| r.hash);
        let categories_json = serde_json::to_string(e.categories)
            .map_err(|err| worker::Error::RustError(err.to_string()))?;
        let digest = evidence_digest(e.evidence);
        let hash = ChainedEvent {
            id: e.id,
            kind: e.kind.as_str(),
            subject,
            categories: &categories_json,
            server_ts: self.now,
            evidence_digest: &digest,
        }
        .hash(&prev);
        self.db.run(
            "INSERT INTO events (id, kind, phone, subject_hash, categories, evidence, evidence_digest,
               server_ts, prev_hash, hash)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                e.id.into(),
                e.kind.as_str().into(),
                phone.into(),
                subject.into(),
                categories_json.into(),
                e.evidence.into(),
                digest.into(),
                self.now.into(),
                prev.into(),
                hash.as_str().into(),
            ],
        )?;
        Ok(hash)
    }

    /// Sets the derived current state of one phone × category.
    fn set_state(
        &self,
        phone: &str,
        category: &Category,
        status: SubscriptionStatus,
        event_id: &str,
    ) -> Result<()> {
        self.db.run(
            "INSERT INTO subscriptions (phone, category, status, event_id, updated_at)
             VALUES (?, ?, ?, ?, ?)
             ON CONFLICT (phone, category) DO UPDATE SET
               status = excluded.status, event_id = excluded.event_id, updated_at = excluded.updated_at",
            &[
                phone.into(),
                category.as_str().into(),
                status.as_str().into(),
                event_id.into(),
                self.now.into(),
            ],
        )
    }

    /// The categories `phone` holds in `status` now, sorted: the one
    /// categories-by-status query.
    pub fn categories_with(
        &self,
        phone: &str,
        status: SubscriptionStatus,
    ) -> Result<Vec<Category>> {
        let rows: Vec<CategoryRow> = self.db.rows(
            "SELECT category FROM subscriptions WHERE phone = ? AND status = ?",
            &[phone.into(), status.as_str().into()],
        )?;
        let mut out: Vec<Category> = rows
            .iter()
            .filter_map(|r| Category::parse(&r.category))
            .collect();
        out.sort();
        Ok(out)
    }

    /// The categories `phone` holds granted now, sorted.
    pub fn granted(&self, phone: &str) -> Result<Vec<Category>> {
        self.categories_with(phone, SubscriptionStatus::Granted)
    }

    /// The token printed into preference links for `consent_id`.
    pub fn preferences_token(&self, site: &str, shard: u32, consent_id: &str) -> String {
        let key = self.keys.prefs_token.as_bytes();
        crate::protocol::preferences_token(key, site, shard, consent_id, self.now)
    }

    /// Whether `phone` withdrew within the site's resend cooldown.
    pub fn withdrew_recently(&self, phone: &str, site: &SiteConfig) -> Result<bool> {
        let last = self
            .db
            .one::<LastTs>(
                "SELECT MAX(server_ts) AS ts FROM events WHERE phone = ? AND kind = 'withdraw'",
                &[phone.into()],
            )?
            .ts;
        let cooldown = i64::from(site.limits.resend_cooldown_hours) * 3_600_000;
        Ok(last.is_some_and(|ts| self.now - ts < cooldown))
    }
}

/// One event to append.
pub struct Event<'a> {
    /// Event id (a UUIDv7).
    pub id: &'a str,
    /// What it records.
    pub kind: EventKind,
    /// E.164 of the person.
    pub phone: &'a str,
    /// Categories the event concerns.
    pub categories: &'a [Category],
    /// Evidence JSON.
    pub evidence: &'a str,
}
