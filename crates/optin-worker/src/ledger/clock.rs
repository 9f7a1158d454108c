//! The ledger's clock: the wall clock, shifted by an offset only where the
//! Worker's `DEV_CLOCK` var is `allow` (the local demo, so its seed can spread a
//! month of history; never set in `wrangler.toml`). Every `Tx` and the sender
//! read *now* from here, so a shifted ledger stays consistent with itself.

use serde::Deserialize;
use worker::{Env, Result};

use super::store::Db;

/// Longest shift back, so a typo cannot date a demo into another decade.
pub const MAX_OFFSET_MS: i64 = 400 * 86_400_000;

/// Whether this Worker lets the demo shift ledger clocks.
pub fn allowed(env: &Env) -> bool {
    crate::vars::is(env, "DEV_CLOCK", "allow")
}

#[derive(Deserialize)]
struct OffsetRow {
    offset_ms: i64,
}

/// Now, in Unix ms, as this ledger counts it.
pub fn now(env: &Env, db: &dyn Db) -> Result<i64> {
    let wall = worker::Date::now().as_millis() as i64;
    if !allowed(env) {
        return Ok(wall);
    }
    Ok(wall + offset(db)?)
}

fn offset(db: &dyn Db) -> Result<i64> {
    db.batch(
        "CREATE TABLE IF NOT EXISTS dev_clock (
           id INTEGER PRIMARY KEY CHECK (id = 1), offset_ms INTEGER NOT NULL)",
    )?;
    let rows: Vec<OffsetRow> = db.rows("SELECT offset_ms FROM dev_clock WHERE id = 1", &[])?;
    Ok(rows.first().map_or(0, |r| r.offset_ms))
}

/// Shifts this ledger's clock to `offset_ms` from the wall clock (≤ 0, at most
/// [`MAX_OFFSET_MS`] back). The caller has checked [`allowed`].
pub fn set(db: &dyn Db, offset_ms: i64) -> Result<()> {
    offset(db)?;
    db.run(
        "INSERT INTO dev_clock (id, offset_ms) VALUES (1, ?)
         ON CONFLICT (id) DO UPDATE SET offset_ms = excluded.offset_ms",
        &[offset_ms.clamp(-MAX_OFFSET_MS, 0).into()],
    )
}
