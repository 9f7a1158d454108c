//! The burst breaker: a flood of web consents from rotating IPs passes every
//! per-IP and per-phone limit, and each accepted one would send a template the
//! merchant pays for. Above a threshold of web consents in 10 minutes, new
//! consents are still recorded (evidence, state, the visitor's 201 unchanged),
//! but their confirmations are **held** (`outbox.status = 'held'`), which the
//! sender never picks, until an admin releases them (back to `pending`, paced)
//! or drops them (`dropped`, never sent; the grants stay recorded).
//!
//! **The threshold**, per ledger (each shard of a sharded site is its own
//! Durable Object and counts only its own consents):
//!
//! * the site's `breaker.threshold_per_10_min` when set (1–100,000), else
//! * `max(FLOOR, MULTIPLE × average)`, where *average* is the ledger's web
//!   consents per 10 minutes over the past 7 days (its total over the 7 days
//!   before the current window, divided by 1,008): with `FLOOR` = 50 and
//!   `MULTIPLE` = 10, a new site may take 50 consents in 10 minutes at launch,
//!   and a site averaging 12 per 10 minutes may take 120.
//!
//! The window is counted in whole UTC minutes: the current minute and the nine
//! before it. It opens when a consent makes that count exceed the threshold;
//! that consent's confirmation and every later one are held until an admin
//! releases or drops them, which closes it (if the burst goes on, the next
//! consent opens it again). Opening, release and drop are each recorded in
//! `breaker_decisions` with who and when, and an opening logs an `ALERT`.
//! Held rows still count against the daily cap, a withdrawal or erasure while
//! held stops them (`queue::suppress` and `audit::erase` cover `held`), and a
//! double opt-in request is held like a confirmation.
//!
//! **With Turnstile** (`turnstile_when: breaker_open`), a challenge takes the
//! place of the hold: while the breaker is open (or when a consent would open
//! it, which opens it), a consent without a verified token is refused with
//! `challenge-required` and nothing is recorded or counted; one with a token is
//! recorded, counted and confirmed as usual. Checkout opt-ins, sent as the page
//! moves on to the order, cannot show a challenge: they are held as above. The
//! breaker stays open until an admin releases (or drops), as without Turnstile.

use consent_core::{SiteConfig, Surface, TurnstileWhen};
use serde::Deserialize;
use worker::Result;

use super::store::Db;
use crate::protocol::{BreakerView, Decided, HeldSummary, RecordConsent, DECISIONS_SHOWN};

/// The default threshold never goes below this many web consents per 10 minutes.
pub const FLOOR: u32 = 50;
/// The default threshold is this multiple of the 7-day average per 10 minutes.
pub const MULTIPLE: u32 = 10;
/// Default gap between two released confirmations; `BREAKER_RELEASE_SPACING_MS` overrides it.
pub const RELEASE_SPACING_MS: i64 = 250;

const MINUTE_MS: i64 = 60_000;
/// Minutes in the window: the current one and the nine before.
const WINDOW_MINUTES: i64 = 10;
/// Minutes of history the default threshold averages over.
const BASELINE_MINUTES: i64 = 7 * 24 * 60;
/// 10-minute windows in 7 days.
const BASELINE_WINDOWS: i64 = BASELINE_MINUTES / WINDOW_MINUTES;

#[derive(Deserialize)]
struct SumRow {
    n: Option<i64>,
}

#[derive(Deserialize)]
struct OpenRow {
    opened_at: i64,
}

#[derive(Deserialize)]
struct CountRow {
    n: i64,
}

#[derive(Deserialize)]
struct IdRow {
    id: String,
}

fn minute(now: i64) -> i64 {
    now.div_euclid(MINUTE_MS)
}

/// Counts one web consent (already recorded) and says whether its confirmation
/// is held: the breaker is open, or this consent opens it. Same write as the consent.
pub fn admit(db: &dyn Db, site: &SiteConfig, now: i64) -> Result<bool> {
    let m = minute(now);
    let counted = db.one::<CountRow>(
        "INSERT INTO breaker_minutes (minute, n) VALUES (?, 1)
         ON CONFLICT (minute) DO UPDATE SET n = n + 1 RETURNING n",
        &[m.into()],
    )?;
    if counted.n == 1 {
        // A new minute: the oldest one has left the average.
        db.run(
            "DELETE FROM breaker_minutes WHERE minute < ?",
            &[(m - BASELINE_MINUTES - WINDOW_MINUTES).into()],
        )?;
    }
    // One read for the state, the window and the 7 days before it: this runs per consent.
    let start = m - (WINDOW_MINUTES - 1);
    let w = db.one::<WindowRow>(
        "SELECT (SELECT opened_at FROM breaker_state WHERE id = 1) AS opened_at,
           (SELECT SUM(n) FROM breaker_minutes WHERE minute >= ? AND minute < ?) AS recent,
           (SELECT SUM(n) FROM breaker_minutes WHERE minute >= ? AND minute < ?) AS before",
        &[
            start.into(),
            (m + 1).into(),
            (start - BASELINE_MINUTES).into(),
            start.into(),
        ],
    )?;
    if w.opened_at.is_some() {
        return Ok(true);
    }
    let threshold = match configured(site) {
        Some(n) => n,
        None => derived(w.before.unwrap_or(0) as f64 / BASELINE_WINDOWS as f64),
    };
    open_above(db, site, w.recent.unwrap_or(0), threshold, now)
}

#[derive(Deserialize)]
struct WindowRow {
    opened_at: Option<i64>,
    recent: Option<i64>,
    before: Option<i64>,
}

/// Whether this consent must pass a Turnstile challenge before it is recorded:
/// the site asks for one while the breaker is open, the consent has none, it
/// can show one (not a checkout), and the breaker is open or this consent
/// would open it (then it opens, with its `ALERT`, though nothing is recorded).
pub fn challenge_first(db: &dyn Db, cmd: &RecordConsent, now: i64) -> Result<bool> {
    let site = &cmd.site;
    if site.turnstile_when != TurnstileWhen::BreakerOpen
        || cmd.challenged
        || cmd.consent.surface == Surface::Checkout
        || cmd.consent.surface.is_capture()
    {
        return Ok(false);
    }
    Ok(opened_at(db)?.is_some() || open_if_over(db, site, 1, now)?)
}

/// Whether a consent passed the challenge that stands in for the hold.
pub fn challenge_passed(cmd: &RecordConsent) -> bool {
    cmd.challenged && cmd.site.turnstile_when == TurnstileWhen::BreakerOpen
}

/// Opens the breaker if the window's web consents, with `more` not yet
/// counted, exceed the threshold; whether it opened.
fn open_if_over(db: &dyn Db, site: &SiteConfig, more: i64, now: i64) -> Result<bool> {
    let recent = recent(db, now)? + more;
    let (threshold, _) = threshold(db, configured(site), now)?;
    open_above(db, site, recent, threshold, now)
}

/// Opens the breaker if `recent` web consents exceed `threshold`; whether it opened.
fn open_above(
    db: &dyn Db,
    site: &SiteConfig,
    recent: i64,
    threshold: u32,
    now: i64,
) -> Result<bool> {
    if recent <= i64::from(threshold) {
        return Ok(false);
    }
    open(db, site, recent, threshold, now)?;
    Ok(true)
}

/// Opens the breaker: the `ALERT`, the state row and the `hold` decision.
fn open(db: &dyn Db, site: &SiteConfig, recent: i64, threshold: u32, now: i64) -> Result<()> {
    let then = if site.turnstile_when == TurnstileWhen::BreakerOpen {
        "consents without a Turnstile challenge are refused (checkout opt-ins held)"
    } else {
        "confirmations are held"
    };
    alert(&format!(
        "ALERT burst breaker open for site {}: {recent} web consents in 10 minutes, above {threshold}; \
         {then} until an admin releases or drops them",
        site.id
    ));
    db.run(
        "INSERT INTO breaker_state (id, opened_at, threshold, recent) VALUES (1, ?, ?, ?)
         ON CONFLICT (id) DO NOTHING",
        &[now.into(), threshold.into(), recent.into()],
    )?;
    decide(db, "hold", recent, "breaker", now)
}

/// Logs an `ALERT` line (the console exists only in the Worker; native tests print it).
fn alert(line: &str) {
    #[cfg(target_arch = "wasm32")]
    worker::console_error!("{line}");
    #[cfg(not(target_arch = "wasm32"))]
    eprintln!("{line}");
}

/// The site's configured threshold, if any.
pub fn configured(site: &SiteConfig) -> Option<u32> {
    site.breaker.as_ref().and_then(|b| b.threshold_per_10_min)
}

/// When the breaker opened, if it is open.
fn opened_at(db: &dyn Db) -> Result<Option<i64>> {
    Ok(db
        .rows::<OpenRow>("SELECT opened_at FROM breaker_state WHERE id = 1", &[])?
        .pop()
        .map(|r| r.opened_at))
}

fn sum(db: &dyn Db, from_minute: i64, to_minute: i64) -> Result<i64> {
    Ok(db
        .one::<SumRow>(
            "SELECT SUM(n) AS n FROM breaker_minutes WHERE minute >= ? AND minute < ?",
            &[from_minute.into(), to_minute.into()],
        )?
        .n
        .unwrap_or(0))
}

/// Web consents in the window: the current minute and the nine before.
pub fn recent(db: &dyn Db, now: i64) -> Result<i64> {
    let m = minute(now);
    sum(db, m - (WINDOW_MINUTES - 1), m + 1)
}

/// Web consents per 10 minutes over the 7 days before the window.
pub fn average(db: &dyn Db, now: i64) -> Result<f64> {
    let start = minute(now) - (WINDOW_MINUTES - 1);
    Ok(sum(db, start - BASELINE_MINUTES, start)? as f64 / BASELINE_WINDOWS as f64)
}

/// The threshold in force, and whether it is `configured` or `derived` (the rule above).
pub fn threshold(db: &dyn Db, configured: Option<u32>, now: i64) -> Result<(u32, &'static str)> {
    if let Some(n) = configured {
        return Ok((n, "configured"));
    }
    Ok((derived(average(db, now)?), "derived"))
}

/// The default threshold for a 7-day `average` per 10 minutes.
fn derived(average: f64) -> u32 {
    let derived = (f64::from(MULTIPLE) * average).ceil();
    FLOOR.max(derived.min(f64::from(u32::MAX)) as u32)
}

fn held(db: &dyn Db) -> Result<i64> {
    Ok(db
        .one::<CountRow>(
            "SELECT COUNT(*) AS n FROM outbox WHERE status = 'held'",
            &[],
        )?
        .n)
}

/// What the stats show.
pub fn summary(db: &dyn Db) -> Result<HeldSummary> {
    let since = opened_at(db)?;
    Ok(HeldSummary {
        open: since.is_some(),
        since,
        held: held(db)?,
    })
}

/// The breaker's state, its threshold and its latest decisions.
pub fn view(db: &dyn Db, configured: Option<u32>, now: i64) -> Result<BreakerView> {
    let open_since = opened_at(db)?;
    let (threshold, source) = threshold(db, configured, now)?;
    Ok(BreakerView {
        open: open_since.is_some(),
        open_since,
        held: held(db)?,
        threshold,
        threshold_source: source.into(),
        recent: recent(db, now)?,
        average_per_10_min: average(db, now)?,
        decisions: db.rows(
            "SELECT action, count, actor, at FROM breaker_decisions ORDER BY id DESC LIMIT ?",
            &[(DECISIONS_SHOWN as i64).into()],
        )?,
    })
}

/// Moves every held row back to pending, oldest first, `spacing` ms apart, and
/// closes the breaker. A row whose person withdrew or was erased meanwhile is
/// no longer held, so it is not released.
pub fn release(db: &dyn Db, actor: &str, now: i64, spacing: i64) -> Result<Decided> {
    let rows: Vec<IdRow> = db.rows(
        "SELECT id FROM outbox WHERE status = 'held' ORDER BY created_at, id",
        &[],
    )?;
    for (i, row) in rows.iter().enumerate() {
        db.run(
            "UPDATE outbox SET status = 'pending', next_attempt_at = ?, updated_at = ?
             WHERE id = ? AND status = 'held'",
            &[
                (now + i as i64 * spacing).into(),
                now.into(),
                row.id.as_str().into(),
            ],
        )?;
    }
    close(db, "release", rows.len() as i64, actor, now)
}

/// Marks every held row `dropped` (never sent; the grants stay) and closes the breaker.
pub fn drop_held(db: &dyn Db, actor: &str, now: i64) -> Result<Decided> {
    let dropped: Vec<IdRow> = db.rows(
        "UPDATE outbox SET status = 'dropped', last_error = ?, updated_at = ?
         WHERE status = 'held' RETURNING id",
        &[
            format!("dropped by {actor} while the burst breaker held it").into(),
            now.into(),
        ],
    )?;
    close(db, "drop", dropped.len() as i64, actor, now)
}

fn close(db: &dyn Db, action: &str, count: i64, actor: &str, now: i64) -> Result<Decided> {
    let was_open = opened_at(db)?.is_some();
    db.run("DELETE FROM breaker_state", &[])?;
    if was_open || count > 0 {
        decide(db, action, count, actor, now)?;
    }
    Ok(Decided {
        action: action.into(),
        count,
    })
}

/// Appends one decision.
fn decide(db: &dyn Db, action: &str, count: i64, actor: &str, now: i64) -> Result<()> {
    db.run(
        "INSERT INTO breaker_decisions (action, count, actor, at) VALUES (?, ?, ?, ?)",
        &[action.into(), count.into(), actor.into(), now.into()],
    )
}

/// Every decision, oldest first (tests).
#[cfg(test)]
pub fn decisions(db: &dyn Db) -> Result<Vec<crate::protocol::BreakerDecision>> {
    db.rows(
        "SELECT action, count, actor, at FROM breaker_decisions ORDER BY id",
        &[],
    )
}
