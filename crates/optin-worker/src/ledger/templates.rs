//! Template statuses last read from Meta: stored per (name, language), and the
//! approved languages a send may choose from.

use serde::Deserialize;
use worker::Result;

use super::store::Db;
use crate::protocol::{TemplateStatus, TemplatesRecorded};

/// Replaces what is known of the names in `statuses` with them.
pub fn record(sql: &dyn Db, statuses: &[TemplateStatus], now: i64) -> Result<TemplatesRecorded> {
    let mut names: Vec<&str> = statuses.iter().map(|s| s.name.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    for name in names {
        sql.run(
            "DELETE FROM template_statuses WHERE name = ?",
            &[name.into()],
        )?;
    }
    for s in statuses {
        sql.run(
            "INSERT OR REPLACE INTO template_statuses
               (name, language, template_id, status, category, previous_category, rejected_reason, read_at)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            &[
                s.name.as_str().into(),
                s.language.as_str().into(),
                s.id.as_deref().into(),
                s.status.as_str().into(),
                s.category.as_deref().into(),
                s.previous_category.as_deref().into(),
                s.rejected_reason.as_deref().into(),
                now.into(),
            ],
        )?;
    }
    Ok(TemplatesRecorded {
        stored: statuses.len(),
    })
}

#[derive(Deserialize)]
struct Language {
    language: String,
}

/// The languages of `name` Meta last reported approved (empty: none known).
pub fn approved(sql: &dyn Db, name: &str) -> Result<Vec<String>> {
    let rows: Vec<Language> = sql.rows(
        "SELECT language FROM template_statuses WHERE name = ? AND status = 'APPROVED'",
        &[name.into()],
    )?;
    Ok(rows.into_iter().map(|r| r.language).collect())
}
