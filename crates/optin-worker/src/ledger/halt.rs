//! Halting a ledger's sending: a Graph error of the "halt the site and alert"
//! class (token expired, account or policy problem, spam limit) stops every
//! send from that ledger until an admin resumes it. Rows stay pending.

use serde::Deserialize;
use worker::Result;

use super::store::Db;
use crate::protocol::Sending;

#[derive(Deserialize)]
struct HaltRow {
    reason: String,
    halted_at: i64,
    outbox_id: Option<String>,
}

/// The ledger's halt, if sending is held.
pub fn current(sql: &dyn Db) -> Result<Option<Sending>> {
    let rows: Vec<HaltRow> = sql.rows(
        "SELECT reason, halted_at, outbox_id FROM sending_halt WHERE id = 1",
        &[],
    )?;
    Ok(rows.into_iter().next().map(|r| Sending {
        halted: true,
        reason: Some(r.reason),
        since: Some(r.halted_at),
        outbox_id: r.outbox_id,
    }))
}

/// The ledger's sending state.
pub fn state(sql: &dyn Db) -> Result<Sending> {
    Ok(current(sql)?.unwrap_or_default())
}

/// Holds sending; the first reason is kept.
pub fn halt(sql: &dyn Db, reason: &str, outbox_id: &str, now: i64) -> Result<()> {
    worker::console_error!("ALERT: sending halted: {reason}");
    sql.run(
        "INSERT INTO sending_halt (id, reason, outbox_id, halted_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING",
        &[reason.into(), outbox_id.into(), now.into()],
    )?;
    Ok(())
}

/// Lifts the halt; returns what it was, if anything.
pub fn resume(sql: &dyn Db) -> Result<Option<Sending>> {
    let was = current(sql)?;
    sql.run("DELETE FROM sending_halt", &[])?;
    Ok(was)
}
