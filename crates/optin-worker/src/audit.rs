//! What a compliance officer asks of a ledger: verify the chain, export it,
//! count it, and erase one person while keeping the proof intact.

use consent_core::chain::{evidence_digest, ChainedEvent, GENESIS};
use serde::{Deserialize, Serialize};
use worker::Result;

use crate::ledger::SiteLedger;

/// Rows read per page when walking or exporting the ledger.
pub const PAGE: i64 = 1000;

#[derive(Deserialize)]
struct ChainRow {
    seq: i64,
    id: String,
    kind: String,
    subject_hash: String,
    categories: String,
    evidence: Option<String>,
    evidence_digest: String,
    server_ts: i64,
    prev_hash: String,
    hash: String,
}

/// Result of walking the chain.
#[derive(Clone, Serialize, Deserialize)]
pub struct Verification {
    /// Whether every link holds.
    pub ok: bool,
    /// Events checked.
    pub events: i64,
    /// The first broken link, if any.
    pub first_broken: Option<BrokenLink>,
}

/// Where and why the chain breaks.
#[derive(Clone, Serialize, Deserialize)]
pub struct BrokenLink {
    /// Position in the ledger.
    pub seq: i64,
    /// Event id.
    pub id: String,
    /// What does not match.
    pub reason: String,
}

/// One exported event (personal data as currently held; erased rows have none).
#[derive(Serialize, Deserialize)]
pub struct ExportRow {
    /// Position in the ledger.
    pub seq: i64,
    /// Event id.
    pub id: String,
    /// Event kind.
    pub kind: String,
    /// E.164, or `None` once erased.
    pub phone: Option<String>,
    /// Keyed hash of the phone.
    pub subject_hash: String,
    /// Categories (JSON array).
    pub categories: String,
    /// Evidence JSON, or `None` once erased.
    pub evidence: Option<String>,
    /// Server time, Unix ms.
    pub server_ts: i64,
    /// Previous event's hash.
    pub prev_hash: String,
    /// This event's hash.
    pub hash: String,
}

/// A page of the export and where the next one starts.
#[derive(Serialize, Deserialize)]
pub struct ExportPage {
    /// Events in ledger order.
    pub events: Vec<ExportRow>,
    /// `after` for the next page; `None` at the end.
    pub next: Option<i64>,
}

/// What an erasure removed.
#[derive(Serialize, Deserialize)]
pub struct Erased {
    /// Events whose personal data was removed.
    pub events: i64,
    /// The erase event appended to the chain.
    pub erase_event: String,
}

#[derive(Deserialize)]
struct Count {
    n: i64,
}

#[derive(Deserialize, Serialize)]
struct KindCount {
    kind: String,
    n: i64,
}

#[derive(Deserialize, Serialize)]
struct StatusCount {
    category: String,
    status: String,
    n: i64,
}

#[derive(Deserialize, Serialize)]
struct SendCount {
    status: String,
    n: i64,
}

/// Counts over the ledger (or, summed, over all of a site's shards).
#[derive(Default, Serialize, Deserialize)]
pub struct Stats {
    events: Vec<KindCount>,
    subscriptions: Vec<StatusCount>,
    confirmations: Vec<SendCount>,
    /// Whether the ledger sends, or is halted by a Graph error of the halt class.
    #[serde(default)]
    sending: crate::halt::Sending,
    /// Double opt-in requests by state (all zero when the site never used it).
    #[serde(default)]
    double_opt_in: crate::double_optin::Counts,
    /// Funnel, consents, opt-outs and delivery over the requested days.
    #[serde(flatten)]
    series: crate::analytics::Series,
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
        self.sending.add(other.sending);
        self.double_opt_in.add(&other.double_opt_in);
        self.series.add(other.series);
        for o in other.confirmations {
            match self.confirmations.iter_mut().find(|c| c.status == o.status) {
                Some(c) => c.n += o.n,
                None => self.confirmations.push(o),
            }
        }
    }
}

impl SiteLedger {
    /// Walks the whole chain page by page and reports the first broken link.
    pub fn verify(&self) -> Result<Verification> {
        let sql = self.state.storage().sql();
        let mut prev = GENESIS.to_owned();
        let mut after = 0;
        let mut checked = 0;
        let mut erasures = Erasures::default();
        loop {
            let rows: Vec<ChainRow> = sql
                .exec(
                    "SELECT seq, id, kind, subject_hash, categories, evidence, evidence_digest,
                       server_ts, prev_hash, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
                    vec![after.into(), PAGE.into()],
                )?
                .to_array()?;
            let Some(last) = rows.last() else { break };
            after = last.seq;
            for row in rows {
                checked += 1;
                if let Some(reason) = broken(&row, &prev) {
                    return Ok(Verification {
                        ok: false,
                        events: checked,
                        first_broken: Some(BrokenLink {
                            seq: row.seq,
                            id: row.id,
                            reason: reason.to_owned(),
                        }),
                    });
                }
                erasures.see(&row);
                prev = row.hash;
            }
        }
        // Evidence may only be gone where an `erase` event for its subject follows.
        let first_broken = erasures.unexplained().map(|(seq, id)| BrokenLink {
            seq,
            id,
            reason: "evidence is gone without an erasure of its subject".to_owned(),
        });
        Ok(Verification {
            ok: first_broken.is_none(),
            events: checked,
            first_broken,
        })
    }

    /// Events after `after` (a seq) recorded at or after `since` (Unix ms).
    pub fn export_page(&self, after: i64, since: i64) -> Result<ExportPage> {
        let events: Vec<ExportRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT seq, id, kind, phone, subject_hash, categories, evidence, server_ts,
                   prev_hash, hash FROM events WHERE seq > ? AND server_ts >= ? ORDER BY seq LIMIT ?",
                vec![after.into(), since.into(), PAGE.into()],
            )?
            .to_array()?;
        let next = (events.len() as i64 == PAGE)
            .then(|| events.last().map(|e| e.seq))
            .flatten();
        Ok(ExportPage { events, next })
    }

    /// Counts events by kind, state by category, confirmations by status,
    /// and the series of `range`.
    pub fn stats(&self, range: &crate::analytics::Range) -> Result<Stats> {
        crate::double_optin::expire_due(self, worker::Date::now().as_millis() as i64)?;
        let sql = self.state.storage().sql();
        Ok(Stats {
            events: sql
                .exec(
                    "SELECT kind, COUNT(*) AS n FROM events GROUP BY kind ORDER BY kind",
                    None,
                )?
                .to_array()?,
            subscriptions: sql
                .exec(
                    "SELECT category, status, COUNT(*) AS n FROM subscriptions
                     GROUP BY category, status ORDER BY category, status",
                    None,
                )?
                .to_array()?,
            confirmations: sql
                .exec(
                    "SELECT status, COUNT(*) AS n FROM outbox GROUP BY status ORDER BY status",
                    None,
                )?
                .to_array()?,
            sending: crate::halt::state(&sql)?,
            double_opt_in: crate::double_optin::counts(&sql)?,
            series: self.series(range)?,
        })
    }

    /// Removes a person's personal data, keeps a keyed hash so the number stays
    /// suppressed, and appends an `erase` event; the chain still verifies
    /// because it commits to digests, not to the data.
    pub fn erase(&self, phone: &str) -> Result<Option<Erased>> {
        let sql = self.state.storage().sql();
        let n = sql
            .exec(
                "SELECT COUNT(*) AS n FROM events WHERE phone = ?",
                vec![phone.into()],
            )?
            .one::<Count>()?
            .n;
        if n == 0 {
            return Ok(None);
        }
        let subject = self.subject(phone)?;
        let now = worker::Date::now().as_millis() as i64;
        sql.exec(
            "UPDATE events SET phone = NULL, evidence = NULL WHERE phone = ?",
            vec![phone.into()],
        )?;
        sql.exec(
            "DELETE FROM subscriptions WHERE phone = ?",
            vec![phone.into()],
        )?;
        sql.exec(
            "UPDATE pending_confirmations SET phone = '',
               status = CASE WHEN status = 'pending' THEN 'withdrawn' ELSE status END
             WHERE phone = ?",
            vec![phone.into()],
        )?;
        sql.exec(
            "UPDATE outbox SET phone = '', request = '{}',
               status = CASE WHEN status = 'pending' THEN 'erased' ELSE status END, updated_at = ?
             WHERE phone = ?",
            vec![now.into(), phone.into()],
        )?;
        sql.exec(
            "INSERT INTO suppressions (subject_hash, reason, created_at) VALUES (?, 'erased', ?)
             ON CONFLICT (subject_hash) DO UPDATE SET reason = 'erased', created_at = excluded.created_at",
            vec![subject.as_str().into(), now.into()],
        )?;
        let id = consent_core::ids::uuid7(now as u64, crate::ledger::random_bytes()?);
        self.append_event(&id, "erase", phone, &[], now, "{\"method\":\"admin_api\"}")?;
        Ok(Some(Erased {
            events: n,
            erase_event: id,
        }))
    }
}

/// Events whose evidence is gone, waiting for the `erase` event of their subject
/// that explains it (erasure nulls a person's evidence, then appends that event).
#[derive(Default)]
struct Erasures {
    waiting: std::collections::BTreeMap<String, (i64, String)>,
}

impl Erasures {
    fn see(&mut self, row: &ChainRow) {
        if row.kind == "erase" {
            self.waiting.remove(&row.subject_hash);
        } else if row.evidence.is_none() {
            self.waiting
                .entry(row.subject_hash.clone())
                .or_insert_with(|| (row.seq, row.id.clone()));
        }
    }

    /// The earliest event whose evidence is gone with no erasure after it.
    fn unexplained(self) -> Option<(i64, String)> {
        self.waiting.into_values().min_by_key(|(seq, _)| *seq)
    }
}

/// Why `row` does not follow `prev`, if it does not.
fn broken(row: &ChainRow, prev: &str) -> Option<&'static str> {
    if row.prev_hash != prev {
        return Some("prev_hash does not match the previous event's hash");
    }
    if let Some(evidence) = &row.evidence {
        if evidence_digest(evidence) != row.evidence_digest {
            return Some("evidence does not match its digest");
        }
    }
    let expected = ChainedEvent {
        id: &row.id,
        kind: &row.kind,
        subject: &row.subject_hash,
        categories: &row.categories,
        server_ts: row.server_ts,
        evidence_digest: &row.evidence_digest,
    }
    .hash(prev);
    (expected != row.hash).then_some("hash does not match the event's contents")
}

#[cfg(test)]
mod tests {
    use super::{ChainRow, Erasures};

    fn row(seq: i64, kind: &str, subject: &str, evidence: Option<&str>) -> ChainRow {
        ChainRow {
            seq,
            id: format!("e{seq}"),
            kind: kind.to_owned(),
            subject_hash: subject.to_owned(),
            categories: "[]".to_owned(),
            evidence: evidence.map(str::to_owned),
            evidence_digest: String::new(),
            server_ts: 0,
            prev_hash: String::new(),
            hash: String::new(),
        }
    }

    fn walk(rows: &[ChainRow]) -> Option<(i64, String)> {
        let mut e = Erasures::default();
        rows.iter().for_each(|r| e.see(r));
        e.unexplained()
    }

    #[test]
    fn evidence_erased_with_its_subject_is_explained() {
        let rows = [
            row(1, "grant", "a", None),
            row(2, "update", "a", None),
            row(3, "grant", "b", Some("{}")),
            row(4, "erase", "a", Some("{}")),
            row(5, "grant", "a", Some("{}")),
        ];
        assert_eq!(walk(&rows), None);
    }

    #[test]
    fn evidence_gone_without_an_erasure_is_named() {
        let rows = [
            row(1, "grant", "a", Some("{}")),
            row(2, "grant", "b", None),
            row(3, "erase", "a", Some("{}")),
            row(4, "grant", "c", None),
        ];
        assert_eq!(walk(&rows), Some((2, "e2".to_owned())));
    }

    #[test]
    fn an_erasure_does_not_explain_evidence_lost_after_it() {
        let rows = [row(1, "erase", "a", Some("{}")), row(2, "grant", "a", None)];
        assert_eq!(walk(&rows), Some((2, "e2".to_owned())));
    }
}
