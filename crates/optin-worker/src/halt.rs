//! Halting a ledger's sending: a Graph error of the "halt the site and alert"
//! class (token expired, account or policy problem, spam limit) stops every
//! send from that ledger until an admin resumes it. Rows stay pending.

use serde::{Deserialize, Serialize};
use worker::{Result, SqlStorage};

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

#[derive(Deserialize)]
struct HaltRow {
    reason: String,
    halted_at: i64,
    outbox_id: Option<String>,
}

/// The ledger's halt, if sending is held.
pub fn current(sql: &SqlStorage) -> Result<Option<Sending>> {
    let rows: Vec<HaltRow> = sql
        .exec(
            "SELECT reason, halted_at, outbox_id FROM sending_halt WHERE id = 1",
            None,
        )?
        .to_array()?;
    Ok(rows.into_iter().next().map(|r| Sending {
        halted: true,
        reason: Some(r.reason),
        since: Some(r.halted_at),
        outbox_id: r.outbox_id,
    }))
}

/// The ledger's sending state.
pub fn state(sql: &SqlStorage) -> Result<Sending> {
    Ok(current(sql)?.unwrap_or_default())
}

/// Holds sending; the first reason is kept.
pub fn halt(sql: &SqlStorage, reason: &str, outbox_id: &str, now: i64) -> Result<()> {
    worker::console_error!("ALERT: sending halted: {reason}");
    sql.exec(
        "INSERT INTO sending_halt (id, reason, outbox_id, halted_at) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING",
        vec![reason.into(), outbox_id.into(), now.into()],
    )?;
    Ok(())
}

/// Lifts the halt; returns what it was, if anything.
pub fn resume(sql: &SqlStorage) -> Result<Option<Sending>> {
    let was = current(sql)?;
    sql.exec("DELETE FROM sending_halt", None)?;
    Ok(was)
}
