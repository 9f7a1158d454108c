//! Graph API errors and what to do about each.

use serde::{Deserialize, Serialize};

/// `{"error": {...}}` as the Graph API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: GraphError,
}

/// The Graph API error object.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphError {
    /// Human-readable message.
    pub message: String,
    /// Exception type, e.g. `OAuthException`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The code to branch on.
    pub code: i64,
    /// Subcode, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// Details.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_data: Option<ErrorData>,
    /// Trace id for Meta support.
    #[serde(default)]
    pub fbtrace_id: String,
}

/// `error_data` of a Graph error.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorData {
    /// `whatsapp`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub messaging_product: Option<String>,
    /// Explanation.
    #[serde(default)]
    pub details: String,
}

/// What the sender does after an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RetryClass {
    /// Transient: retry with exponential backoff.
    Backoff,
    /// The same recipient is rate-limited: retry that recipient later.
    RecipientLater,
    /// Retry much later, sparingly (131049).
    MuchLater,
    /// Permanent for this message: never retry.
    Never,
    /// The whole site's sending is broken (token, account, spam limit): halt and alert.
    HaltSite,
}

impl RetryClass {
    /// The class for a Graph error code (PRODUCT.md's table). Unknown codes back off.
    pub fn for_code(code: i64) -> RetryClass {
        match code {
            130429 | 4 | 80007 | 1 | 2 | 131000 | 131016 | 131057 => RetryClass::Backoff,
            131056 => RetryClass::RecipientLater,
            131049 => RetryClass::MuchLater,
            131050 | 131026 | 131047 | 132000 | 132001 | 132012 | 132018 | 100 => RetryClass::Never,
            131048 | 190 | 0 | 10 | 200..=299 | 368 | 131031 | 131042 => RetryClass::HaltSite,
            _ => RetryClass::Backoff,
        }
    }

    /// The class for an HTTP failure with no parsable Graph error.
    pub fn for_http_status(status: u16) -> RetryClass {
        match status {
            401 | 403 => RetryClass::HaltSite,
            400 | 404 | 422 => RetryClass::Never,
            _ => RetryClass::Backoff,
        }
    }

    /// Whether a later attempt may succeed.
    pub fn retries(self) -> bool {
        matches!(
            self,
            RetryClass::Backoff | RetryClass::RecipientLater | RetryClass::MuchLater
        )
    }
}

impl GraphError {
    /// The retry class of this error.
    pub fn retry_class(&self) -> RetryClass {
        RetryClass::for_code(self.code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_in_the_product_table_has_its_class() {
        use RetryClass::*;
        let table: &[(&[i64], RetryClass)] = &[
            (&[130429, 4, 80007, 1, 2, 131000, 131016, 131057], Backoff),
            (&[131056], RecipientLater),
            (&[131049], MuchLater),
            (
                &[131050, 131026, 131047, 132000, 132001, 132012, 132018, 100],
                Never,
            ),
            (
                &[131048, 190, 0, 10, 200, 250, 299, 368, 131031, 131042],
                HaltSite,
            ),
        ];
        for (codes, class) in table {
            for code in *codes {
                assert_eq!(RetryClass::for_code(*code), *class, "code {code}");
            }
        }
    }

    #[test]
    fn meta_error_body_parses() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
              "type":"OAuthException","code":131056,
              "error_data":{"messaging_product":"whatsapp","details":"Message failed to send"},
              "fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
        )
        .unwrap();
        assert_eq!(e.error.retry_class(), RetryClass::RecipientLater);
        assert!(e.error.retry_class().retries());
        assert!(!RetryClass::for_code(190).retries());
    }
}
