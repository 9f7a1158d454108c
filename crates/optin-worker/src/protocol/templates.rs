//! Template review statuses as read back from Meta, kept by every ledger of a
//! site so its sends skip languages that are not approved.

use serde::{Deserialize, Serialize};

/// One template (name × language) as Meta last reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateStatus {
    pub name: String,
    pub language: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, or `MISSING`
    /// (the site lists the language, Meta has no such template).
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Set when Meta changed the category: the one it was created with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
}

/// The answer to `RecordTemplateStatuses`.
#[derive(Debug, Serialize, Deserialize)]
pub struct TemplatesRecorded {
    pub stored: usize,
}
