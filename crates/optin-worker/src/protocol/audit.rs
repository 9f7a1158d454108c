//! What a compliance officer reads: the chain's verification, the export, an erasure.

use serde::{Deserialize, Serialize};

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

/// One exported event (personal data as currently held; erased rows have none):
/// the rows the tests hold the pages SQLite writes to.
#[cfg(test)]
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

/// A page of an export (NDJSON, or CSV rows without the header), one event per
/// line (each ending in a newline), as SQLite wrote it: the rows never become Rust values on either side, and on
/// workerd the text never enters wasm (see `ledger::PageText`).
pub struct NdjsonPage {
    /// The page's lines.
    pub body: crate::ledger::PageText,
    /// `after` for the next page; `None` at the end.
    pub next: Option<i64>,
}

/// An NDJSON page as the edge receives it: the ledger answers it as the lines
/// themselves (its `next` in the [`NEXT_HEADER`] header), not wrapped in JSON,
/// so a megabyte page is neither escaped by the ledger nor parsed by the edge,
/// and its bytes go on to the client without being copied into wasm.
pub struct LinesPage {
    /// The page's lines as SQLite wrote them, each ending in a newline: a
    /// `Uint8Array`.
    pub body: worker::wasm_bindgen::JsValue,
    /// `after` for the next page; `None` at the end.
    pub next: Option<i64>,
}

/// The header that carries an NDJSON page's [`NdjsonPage::next`].
pub const NEXT_HEADER: &str = "X-Next-After";

/// A page of the export as rows, and where the next one starts (tests only).
#[cfg(test)]
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
