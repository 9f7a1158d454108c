//! Changes a person makes after opting in (preference centre): updates and
//! withdrawals, each a ledger event written with the derived state.

use consent_core::{stats::Day, token, Category, SiteConfig};
use serde::{Deserialize, Serialize};
use worker::Result;

use crate::ledger::{random_bytes, SiteLedger};

/// Preference tokens live a year; a new consent issues a new one.
pub(crate) const TOKEN_TTL_MS: i64 = 365 * 86_400_000;

/// How often a person wants the business's messages (kept for the merchant's sender).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Frequency {
    /// Every message as it is sent.
    #[default]
    AsSent,
    /// One weekly digest.
    WeeklyDigest,
    /// Only critical messages.
    CriticalOnly,
}

impl Frequency {
    /// Every choice, in display order.
    pub const ALL: [Frequency; 3] = [
        Frequency::AsSent,
        Frequency::WeeklyDigest,
        Frequency::CriticalOnly,
    ];

    /// The wire name (`as_sent`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            Frequency::AsSent => "as_sent",
            Frequency::WeeklyDigest => "weekly_digest",
            Frequency::CriticalOnly => "critical_only",
        }
    }

    /// The choice named `s`.
    pub fn parse(s: &str) -> Option<Frequency> {
        Frequency::ALL.into_iter().find(|f| f.as_str() == s)
    }
}

/// A person's current choices, as the preference centre shows them.
#[derive(Serialize, Deserialize)]
pub struct Preferences {
    /// Categories currently granted.
    pub granted: Vec<Category>,
    /// Locale of the notice they agreed to.
    pub locale: String,
    /// How often they want messages.
    #[serde(default)]
    pub frequency: Frequency,
    /// `YYYY-MM-DD` (UTC) until which they want no messages, if still ahead.
    #[serde(default)]
    pub paused_until: Option<String>,
}

/// A preference change sent by the edge. `None` fields keep what is recorded.
#[derive(Serialize, Deserialize)]
pub struct Change {
    /// Consent id from the verified token.
    pub consent_id: String,
    /// Categories to keep granted (empty withdraws everything).
    pub granted: Vec<Category>,
    /// How the person made the change.
    pub method: String,
    /// New frequency.
    #[serde(default)]
    pub frequency: Option<Frequency>,
    /// New pause: `Some(None)` lifts it, `Some(Some(day))` pauses until that day.
    #[serde(default, deserialize_with = "present")]
    pub paused_until: Option<Option<String>>,
}

/// Tells an explicit `null` (`Some(None)`: lift the pause) from an absent field (`None`: keep it).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(d).map(Some)
}

/// Days since 1970-01-01 of a `YYYY-MM-DD` calendar date, or `None`.
pub fn day_number(s: &str) -> Option<i64> {
    Day::parse_any_year(s).map(|d| d.0)
}

/// The `YYYY-MM-DD` of a day number (inverse of [`day_number`]).
pub fn day_string(n: i64) -> String {
    Day(n).format()
}

/// Why a pause date is refused.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum PauseError {
    /// Not a `YYYY-MM-DD` calendar date.
    #[error("must be a date as YYYY-MM-DD")]
    NotADate,
    /// Today or earlier, or more than a year ahead.
    #[error("must be after today and at most 366 days ahead")]
    OutOfRange,
}

/// Checks a pause date against `now_ms`: a real day after today, within a year.
pub fn check_pause(day: &str, now_ms: i64) -> Result<(), PauseError> {
    let n = day_number(day).ok_or(PauseError::NotADate)?;
    let today = now_ms.div_euclid(86_400_000);
    if n <= today || n > today + 366 {
        return Err(PauseError::OutOfRange);
    }
    Ok(())
}

#[derive(Deserialize)]
struct EvidenceRow {
    evidence: Option<String>,
}

#[derive(Deserialize)]
struct GrantRow {
    phone: String,
    evidence: Option<String>,
}

#[derive(Deserialize)]
struct CategoryRow {
    category: String,
}

#[derive(Deserialize)]
struct LastTs {
    ts: Option<i64>,
}

impl SiteLedger {
    /// The token printed into preference links for `consent_id`.
    pub(crate) fn preferences_token(
        &self,
        site: &str,
        shard: u32,
        consent_id: &str,
        now: i64,
    ) -> Result<String> {
        let key = self.env.secret("PREFS_TOKEN_KEY")?.to_string();
        Ok(token::issue(
            key.as_bytes(),
            site,
            shard,
            consent_id,
            now + TOKEN_TTL_MS,
        ))
    }

    /// Whether `phone` withdrew within the site's resend cooldown.
    pub(crate) fn withdrew_recently(
        &self,
        phone: &str,
        site: &SiteConfig,
        now: i64,
    ) -> Result<bool> {
        let last = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT MAX(server_ts) AS ts FROM events WHERE phone = ? AND kind = 'withdraw'",
                vec![phone.into()],
            )?
            .one::<LastTs>()?
            .ts;
        let cooldown = i64::from(site.limits.resend_cooldown_hours) * 3_600_000;
        Ok(last.is_some_and(|ts| now - ts < cooldown))
    }

    /// The phone and locale behind a consent id, if it still holds personal data.
    fn subject_of(&self, consent_id: &str) -> Result<Option<(String, String)>> {
        let rows: Vec<GrantRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT phone, evidence FROM events WHERE id = ? AND phone IS NOT NULL",
                vec![consent_id.into()],
            )?
            .to_array()?;
        Ok(rows.into_iter().next().map(|r| {
            let locale = r
                .evidence
                .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
                .and_then(|v| v.get("locale").and_then(|l| l.as_str()).map(str::to_owned))
                .unwrap_or_else(|| "en".to_owned());
            (r.phone, locale)
        }))
    }

    /// The categories `phone` holds granted now, sorted.
    pub(crate) fn granted(&self, phone: &str) -> Result<Vec<Category>> {
        self.categories_with(phone, "granted")
    }

    /// Categories waiting for a double opt-in confirmation.
    fn pending_categories(&self, phone: &str) -> Result<Vec<Category>> {
        self.categories_with(phone, "pending")
    }

    fn categories_with(&self, phone: &str, status: &str) -> Result<Vec<Category>> {
        let rows: Vec<CategoryRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT category FROM subscriptions WHERE phone = ? AND status = ?",
                vec![phone.into(), status.into()],
            )?
            .to_array()?;
        let mut out: Vec<Category> = rows
            .iter()
            .filter_map(|r| Category::parse(&r.category))
            .collect();
        out.sort();
        Ok(out)
    }

    /// Current choices for the person behind `consent_id`.
    pub fn preferences(&self, consent_id: &str) -> Result<Option<Preferences>> {
        let Some((phone, locale)) = self.subject_of(consent_id)? else {
            return Ok(None);
        };
        let (frequency, paused_until) = self.delivery(&phone)?;
        let today = worker::Date::now().as_millis() as i64 / 86_400_000;
        Ok(Some(Preferences {
            granted: self.granted(&phone)?,
            locale,
            frequency,
            paused_until: paused_until.filter(|d| day_number(d).is_some_and(|n| n > today)),
        }))
    }

    /// The frequency and pause last recorded for `phone` (defaults when never set).
    fn delivery(&self, phone: &str) -> Result<(Frequency, Option<String>)> {
        let rows: Vec<EvidenceRow> = self
            .state
            .storage()
            .sql()
            .exec(
                "SELECT evidence FROM events WHERE phone = ? AND evidence IS NOT NULL
                   AND json_extract(evidence, '$.frequency') IS NOT NULL
                 ORDER BY seq DESC LIMIT 1",
                vec![phone.into()],
            )?
            .to_array()?;
        let Some(v) = rows
            .into_iter()
            .next()
            .and_then(|r| r.evidence)
            .and_then(|e| serde_json::from_str::<serde_json::Value>(&e).ok())
        else {
            return Ok((Frequency::default(), None));
        };
        let frequency = v["frequency"]
            .as_str()
            .and_then(Frequency::parse)
            .unwrap_or_default();
        Ok((frequency, v["paused_until"].as_str().map(str::to_owned)))
    }

    /// Applies a change as one `update` (or `withdraw`, when nothing is left) event;
    /// a change that changes nothing records nothing.
    pub fn change(&self, change: &Change) -> Result<Option<Preferences>> {
        let Some((phone, locale)) = self.subject_of(&change.consent_id)? else {
            return Ok(None);
        };
        let before = self.granted(&phone)?;
        let (old_frequency, old_pause) = self.delivery(&phone)?;
        let mut after = change.granted.clone();
        after.sort();
        after.dedup();
        let frequency = change.frequency.unwrap_or(old_frequency);
        let paused_until = change.paused_until.clone().unwrap_or(old_pause.clone());
        let delivery_changed = frequency != old_frequency || paused_until != old_pause;
        // Double opt-in: a category waiting for confirmation is granted only by
        // the person's own confirmation in WhatsApp; this link is no proof the
        // number is theirs. Opting out still works (and ends what was waiting).
        let pending = self.pending_categories(&phone)?;
        let asked = !after.is_empty();
        after.retain(|c| !pending.contains(c));
        // Nothing ticked and nothing else changed: an opt-out, of what waits too.
        let cancels_pending = after.is_empty() && !pending.is_empty() && !delivery_changed;
        if (asked && after.is_empty()) || (after == before && !delivery_changed && !cancels_pending)
        {
            return self.preferences(&change.consent_id);
        }
        let now = worker::Date::now().as_millis() as i64;
        let sql = self.state.storage().sql();
        let mut withdrawn: Vec<Category> = before
            .iter()
            .filter(|c| !after.contains(c))
            .copied()
            .collect();
        if cancels_pending {
            withdrawn.extend(&pending);
        }
        let kind = if after.is_empty() && !withdrawn.is_empty() {
            "withdraw"
        } else {
            "update"
        };
        let mut evidence = serde_json::json!({
            "method": change.method,
            "via_consent": change.consent_id,
            "granted": after,
            "withdrawn": withdrawn,
        });
        if delivery_changed || change.frequency.is_some() {
            // Recorded in full, so the latest such event is the current state.
            evidence["frequency"] = frequency.as_str().into();
            evidence["paused_until"] = paused_until.clone().into();
        }
        let evidence = evidence.to_string();
        let id = consent_core::ids::uuid7(now as u64, random_bytes()?);
        self.append_event(&id, kind, &phone, &after, now, &evidence)?;
        for c in &after {
            self.set_state(&phone, *c, "granted", &id, now)?;
        }
        for c in &withdrawn {
            self.set_state(&phone, *c, "withdrawn", &id, now)?;
        }
        if kind == "withdraw" {
            crate::double_optin::settle_all(&sql, &phone, "withdrawn", &id, now)?;
            sql.exec(
                "UPDATE outbox SET status = 'suppressed', last_error = 'withdrawn', updated_at = ?
                 WHERE phone = ? AND status = 'pending'",
                vec![now.into(), phone.as_str().into()],
            )?;
        }
        Ok(Some(Preferences {
            granted: after,
            locale,
            frequency,
            paused_until,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn calendar_dates_count_days_from_the_epoch() {
        assert_eq!(day_number("1970-01-01"), Some(0));
        assert_eq!(day_number("2000-03-01"), Some(11_017));
        assert_eq!(day_number("2024-02-29"), Some(19_782));
        for n in [0, 11_017, 19_782, 20_415, 20_781] {
            assert_eq!(day_number(&day_string(n)), Some(n));
        }
        for bad in [
            "2023-02-29",
            "2026-13-01",
            "2026-00-10",
            "2026-1-01",
            "26-01-01x",
            "",
            "2026-01-+1",
        ] {
            assert_eq!(day_number(bad), None, "{bad}");
        }
    }

    #[test]
    fn a_pause_must_end_after_today_and_within_a_year() {
        let now = day_number("2026-11-23").unwrap() * DAY + 5 * 3_600_000;
        assert_eq!(check_pause("2026-11-24", now), Ok(()));
        assert_eq!(check_pause("2027-11-24", now), Ok(()));
        assert_eq!(check_pause("2026-11-23", now), Err(PauseError::OutOfRange));
        assert_eq!(check_pause("2027-11-25", now), Err(PauseError::OutOfRange));
        assert_eq!(check_pause("tomorrow", now), Err(PauseError::NotADate));
    }

    #[test]
    fn a_null_pause_lifts_it_and_an_absent_one_keeps_it() {
        let base = r#"{"consent_id":"c","granted":[],"method":"m""#;
        let lift: Change =
            serde_json::from_str(&format!(r#"{base},"paused_until":null}}"#)).unwrap();
        assert_eq!(lift.paused_until, Some(None));
        let keep: Change = serde_json::from_str(&format!("{base}}}")).unwrap();
        assert_eq!(keep.paused_until, None);
        let set = Change {
            paused_until: Some(None),
            ..keep
        };
        let round: Change = serde_json::from_str(&serde_json::to_string(&set).unwrap()).unwrap();
        assert_eq!(
            round.paused_until,
            Some(None),
            "survives the hop to the ledger"
        );
    }

    #[test]
    fn frequencies_round_trip_by_name() {
        for f in Frequency::ALL {
            assert_eq!(Frequency::parse(f.as_str()), Some(f));
        }
        assert_eq!(Frequency::parse("daily"), None);
    }
}
