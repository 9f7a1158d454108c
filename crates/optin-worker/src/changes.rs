//! Changes a person makes after opting in (preference centre): updates and
//! withdrawals, each a ledger event written with the derived state.

use consent_core::{token, Category, SiteConfig};
use serde::{Deserialize, Serialize};
use worker::Result;

use crate::ledger::{random_bytes, SiteLedger};

/// Preference tokens live a year; a new consent issues a new one.
const TOKEN_TTL_MS: i64 = 365 * 86_400_000;

/// A person's current choices, as the preference centre shows them.
#[derive(Serialize, Deserialize)]
pub struct Preferences {
    /// Categories currently granted.
    pub granted: Vec<Category>,
    /// Locale of the notice they agreed to.
    pub locale: String,
}

/// A preference change sent by the edge.
#[derive(Serialize, Deserialize)]
pub struct Change {
    /// Consent id from the verified token.
    pub consent_id: String,
    /// Categories to keep granted (empty withdraws everything).
    pub granted: Vec<Category>,
    /// How the person made the change.
    pub method: String,
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
        Ok(Some(Preferences {
            granted: self.granted(&phone)?,
            locale,
        }))
    }

    /// Applies a change as one `update` (or `withdraw`, when nothing is left) event.
    pub fn change(&self, change: &Change) -> Result<Option<Preferences>> {
        let Some((phone, locale)) = self.subject_of(&change.consent_id)? else {
            return Ok(None);
        };
        let before = self.granted(&phone)?;
        let mut after = change.granted.clone();
        after.sort();
        after.dedup();
        let now = worker::Date::now().as_millis() as i64;
        let sql = self.state.storage().sql();
        // Double opt-in: a category waiting for confirmation is granted only by
        // the person's own confirmation in WhatsApp; this link is no proof the
        // number is theirs. Opting out still works.
        let pending = self.pending_categories(&phone)?;
        let asked = !after.is_empty();
        after.retain(|c| !pending.contains(c));
        if asked && after.is_empty() {
            return Ok(Some(Preferences {
                granted: before,
                locale,
            }));
        }
        let kind = if after.is_empty() {
            "withdraw"
        } else {
            "update"
        };
        let mut withdrawn: Vec<Category> = before
            .iter()
            .filter(|c| !after.contains(c))
            .copied()
            .collect();
        if after.is_empty() {
            withdrawn.extend(&pending);
        }
        let evidence = serde_json::json!({
            "method": change.method,
            "via_consent": change.consent_id,
            "granted": after,
            "withdrawn": withdrawn,
        })
        .to_string();
        let id = consent_core::ids::uuid7(now as u64, random_bytes()?);
        self.append_event(&id, kind, &phone, &after, now, &evidence)?;
        for c in &after {
            self.set_state(&phone, *c, "granted", &id, now)?;
        }
        for c in &withdrawn {
            self.set_state(&phone, *c, "withdrawn", &id, now)?;
        }
        if after.is_empty() {
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
        }))
    }
}
