//! What a compliance officer asks of a ledger: verify the chain, export it,
//! count it, and erase one person while keeping the proof intact.

use consent_core::chain::{evidence_digest, ChainedEvent, GENESIS};
use consent_core::states::EventKind;
use serde::Deserialize;
use worker::Result;

use super::store::PageRow;
#[cfg(test)]
use crate::protocol::{ExportPage, ExportRow};

use super::{
    analytics, double_optin, halt,
    tx::{Event, Tx},
};
use crate::protocol::{BrokenLink, Erased, NdjsonPage, Range, Stats, Verification};

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

#[derive(Deserialize)]
struct Count {
    n: i64,
}

/// Walks the whole chain page by page and reports the first broken link.
pub fn verify(tx: &Tx) -> Result<Verification> {
    let sql = tx.db;
    let mut prev = GENESIS.to_owned();
    let mut after = 0;
    let mut checked = 0;
    let mut erasures = Erasures::default();
    loop {
        let rows: Vec<ChainRow> = sql.rows(
            "SELECT seq, id, kind, subject_hash, categories, evidence, evidence_digest,
                   server_ts, prev_hash, hash FROM events WHERE seq > ? ORDER BY seq LIMIT ?",
            &[after.into(), PAGE.into()],
        )?;
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

/// Events after `after` (a seq) recorded at or after `since` (Unix ms), as rows:
/// the reference the tests hold [`export_ndjson`] and [`export_csv`] to.
#[cfg(test)]
pub fn export_page(tx: &Tx, after: i64, since: i64) -> Result<ExportPage> {
    let events: Vec<ExportRow> = tx.db.rows(
        "SELECT seq, id, kind, phone, subject_hash, categories, evidence, server_ts,
               prev_hash, hash FROM events WHERE seq > ? AND server_ts >= ? ORDER BY seq LIMIT ?",
        &[after.into(), since.into(), PAGE.into()],
    )?;
    let next = (events.len() as i64 == PAGE)
        .then(|| events.last().map(|e| e.seq))
        .flatten();
    Ok(ExportPage { events, next })
}

/// Like [`export_page`], written by SQLite: each event one JSON object with the
/// keys in the order `serde_json` sorts them, `categories` and `evidence` as
/// the JSON they were stored as (`null` where they are gone or not JSON); every
/// line ends in a newline, so pages join by concatenation.
pub fn export_ndjson(tx: &Tx, after: i64, since: i64) -> Result<NdjsonPage> {
    events_page(tx, NDJSON_LINE, after, since)
}

/// An event as one NDJSON object (see [`export_ndjson`]).
const NDJSON_LINE: &str = "json_object(
                 'categories', CASE WHEN json_valid(categories) THEN json(categories) END,
                 'evidence', CASE WHEN json_valid(evidence) THEN json(evidence) END,
                 'hash', hash, 'id', id, 'kind', kind, 'phone', phone, 'prev_hash', prev_hash,
                 'seq', seq, 'server_ts', server_ts, 'subject_hash', subject_hash)";

/// One page of the events after `after` recorded at or after `since`, each
/// written by the SQL expression `line`, joined by SQLite.
fn events_page(tx: &Tx, line: &str, after: i64, since: i64) -> Result<NdjsonPage> {
    let sql = format!(
        "SELECT COUNT(*) AS n, MAX(seq) AS last, group_concat(line, char(10) ORDER BY seq) || char(10) AS body
         FROM (SELECT seq, {line} AS line
               FROM events WHERE seq > ? AND server_ts >= ? ORDER BY seq LIMIT ?)"
    );
    Ok(written(
        tx.db
            .page(&sql, &[after.into(), since.into(), PAGE.into()])?,
    ))
}

/// A page as SQLite wrote it, and where the next starts (`None` after a short page).
pub(super) fn written(row: PageRow) -> NdjsonPage {
    NdjsonPage {
        body: row.body,
        next: (row.n == PAGE).then_some(row.last).flatten(),
    }
}

/// The CSV export's columns, in order, as SQL expressions over `events`.
const CSV_COLUMNS: [&str; 10] = [
    "seq",
    "id",
    "kind",
    "COALESCE(phone, '')",
    "subject_hash",
    "categories",
    "server_ts",
    "COALESCE(evidence, '')",
    "prev_hash",
    "hash",
];

/// One CSV cell of `expr`, as the edge's `csv_cell` renders it: a leading `=`,
/// `+`, `-` or `@` defused with `'` (a spreadsheet formula otherwise; `+62…` is
/// one), then quoted, with `"` doubled, where it holds `,`, `"`, CR or LF.
fn csv_cell_sql(expr: &str) -> String {
    let v = format!(
        "(CASE WHEN substr({expr}, 1, 1) IN ('=', '+', '-', '@') THEN '''' || {expr} ELSE {expr} END)"
    );
    format!(
        "CASE WHEN instr({v}, ',') OR instr({v}, '\"') OR instr({v}, char(10)) OR instr({v}, char(13)) \
         THEN '\"' || replace({v}, '\"', '\"\"') || '\"' ELSE {v} END"
    )
}

/// Like [`export_page`], written by SQLite as CSV rows (no header), each ending
/// in a newline: the same cells the edge's `render_csv` makes from the rows.
pub fn export_csv(tx: &Tx, after: i64, since: i64) -> Result<NdjsonPage> {
    let line = CSV_COLUMNS
        .iter()
        .map(|c| csv_cell_sql(c))
        .collect::<Vec<_>>()
        .join(" || ',' || ");
    events_page(tx, &line, after, since)
}

/// Counts events by kind, state by category, confirmations by status,
/// and the series of `range`.
pub fn stats(tx: &Tx, range: &Range) -> Result<Stats> {
    double_optin::expire_due(tx)?;
    let sql = tx.db;
    Ok(Stats {
        events: sql.rows(
            "SELECT kind, COUNT(*) AS n FROM events GROUP BY kind ORDER BY kind",
            &[],
        )?,
        subscriptions: sql.rows(
            "SELECT category, status, COUNT(*) AS n FROM subscriptions
                 GROUP BY category, status ORDER BY category, status",
            &[],
        )?,
        confirmations: sql.rows(
            "SELECT status, COUNT(*) AS n FROM outbox WHERE category IS NULL
             GROUP BY status ORDER BY status",
            &[],
        )?,
        messages: super::sending::counts(sql, range)?,
        erased_by_retention: super::retention::erased_count(sql)?,
        sending: halt::state(sql)?,
        double_opt_in: double_optin::counts(sql)?,
        breaker: super::breaker::summary(sql)?,
        series: analytics::series(tx, range)?,
    })
}

/// Removes a person's personal data, keeps a keyed hash so the number stays
/// suppressed, and appends an `erase` event; the chain still verifies
/// because it commits to digests, not to the data.
pub fn erase(tx: &Tx, phone: &str) -> Result<Option<Erased>> {
    erase_with(tx, phone, "{\"method\":\"admin_api\"}")
}

/// [`erase`], with `evidence` saying why (the admin API, or a retention rule).
pub fn erase_with(tx: &Tx, phone: &str, evidence: &str) -> Result<Option<Erased>> {
    let sql = tx.db;
    let n = sql
        .one::<Count>(
            "SELECT COUNT(*) AS n FROM events WHERE phone = ?",
            &[phone.into()],
        )?
        .n;
    if n == 0 {
        return Ok(None);
    }
    let subject = tx.subject(phone);
    let now = tx.now;
    sql.run(
        "UPDATE events SET phone = NULL, evidence = NULL WHERE phone = ?",
        &[phone.into()],
    )?;
    sql.run("DELETE FROM subscriptions WHERE phone = ?", &[phone.into()])?;
    // Send decisions stay (counted, keyed by subject hash), without the number.
    sql.run(
        "UPDATE messages SET phone = NULL WHERE phone = ?",
        &[phone.into()],
    )?;
    sql.run(
        "UPDATE pending_confirmations SET phone = '',
           status = CASE WHEN status = 'pending' THEN 'withdrawn' ELSE status END
         WHERE phone = ?",
        &[phone.into()],
    )?;
    sql.run(
        "UPDATE outbox SET phone = '', request = '{}',
           status = CASE WHEN status IN ('pending', 'held') THEN 'erased' ELSE status END, updated_at = ?
         WHERE phone = ?",
        &[now.into(), phone.into()],
    )?;
    super::hooks::scrub_delivered(sql, &subject)?;
    sql.run("INSERT INTO suppressions (subject_hash, reason, created_at) VALUES (?, 'erased', ?)
         ON CONFLICT (subject_hash) DO UPDATE SET reason = 'erased', created_at = excluded.created_at", &[subject.as_str().into(), now.into()])?;
    let id = tx.new_id()?;
    let event = Event {
        id: &id,
        kind: EventKind::Erase,
        phone,
        categories: &[],
        evidence,
    };
    tx.record(&event, &[])?;
    Ok(Some(Erased {
        events: n,
        erase_event: id,
    }))
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
