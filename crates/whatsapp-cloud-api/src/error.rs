//! Graph API errors and what to do about each.

use serde::{Deserialize, Serialize};

/// `{"error": {...}}` as the Graph API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ErrorEnvelope {
    /// The error.
    pub error: GraphError,
}

/// The Graph API error object (`GraphAPIError` in Meta's description).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GraphError {
    /// Human-readable message.
    #[serde(default)]
    pub message: String,
    /// Exception type, e.g. `OAuthException`.
    #[serde(rename = "type", default)]
    pub kind: String,
    /// The code to branch on.
    pub code: i64,
    /// Subcode, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_subcode: Option<i64>,
    /// Whether Meta says a retry may succeed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_transient: Option<bool>,
    /// Title for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_title: Option<String>,
    /// Message for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_user_msg: Option<String>,
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
    /// Held back by Meta for this person (131049): a delivery outcome, retried
    /// at most a couple of times, hours apart.
    MuchLater,
    /// Permanent for this message: never retry.
    Never,
    /// The person stopped marketing messages in WhatsApp (131050): never retry,
    /// and record it as their choice.
    MarketingStopped,
    /// The whole site's sending is broken (token, sender number, account, spam
    /// limit): halt and alert.
    HaltSite,
}

/// Which errors a [`RetryRule`] covers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// These codes, whatever the subcode.
    Codes(&'static [i64]),
    /// Codes in this inclusive range.
    Range(i64, i64),
    /// This code with one of these subcodes.
    Subcodes(i64, &'static [i64]),
}

/// One row of the retry table (README "Retry classes" lists the same rows).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryRule {
    /// What it matches.
    pub matches: Match,
    /// What is done.
    pub class: RetryClass,
    /// Meta's meaning, short.
    pub meaning: &'static str,
}

const fn rule(matches: Match, class: RetryClass, meaning: &'static str) -> RetryRule {
    RetryRule {
        matches,
        class,
        meaning,
    }
}

/// The retry table, first match wins. Subcode rows come before their code's row.
/// Errors no row matches follow `is_transient`, then the HTTP status.
pub const RETRY_TABLE: &[RetryRule] = &[
    rule(
        Match::Codes(&[130429]),
        RetryClass::Backoff,
        "throughput limit",
    ),
    rule(
        Match::Codes(&[131056]),
        RetryClass::RecipientLater,
        "pair rate limit (same recipient)",
    ),
    rule(
        Match::Codes(&[4, 80007]),
        RetryClass::Backoff,
        "app / WABA rate limit",
    ),
    rule(
        Match::Codes(&[1, 2, 131000, 131016]),
        RetryClass::Backoff,
        "unknown / service unavailable",
    ),
    rule(
        Match::Codes(&[131057]),
        RetryClass::Backoff,
        "throughput upgrade in progress",
    ),
    rule(
        Match::Codes(&[131049]),
        RetryClass::MuchLater,
        "held back for ecosystem engagement (per-user marketing limit)",
    ),
    rule(
        Match::Codes(&[131050]),
        RetryClass::MarketingStopped,
        "the person stopped marketing messages",
    ),
    rule(Match::Codes(&[131026]), RetryClass::Never, "undeliverable"),
    rule(
        Match::Codes(&[131047]),
        RetryClass::Never,
        "outside the 24-hour window (free-form)",
    ),
    rule(
        Match::Codes(&[132000, 132001, 132012, 132018]),
        RetryClass::Never,
        "template / parameter errors",
    ),
    rule(
        Match::Codes(&[803]),
        RetryClass::Never,
        "an id in the request does not exist",
    ),
    rule(
        Match::Subcodes(100, &[33]),
        RetryClass::HaltSite,
        "the sender's phone number id does not exist or is not ours",
    ),
    rule(Match::Codes(&[100]), RetryClass::Never, "invalid parameter"),
    rule(
        Match::Codes(&[190, 104]),
        RetryClass::HaltSite,
        "access token expired, invalid or missing",
    ),
    rule(
        Match::Codes(&[133010]),
        RetryClass::HaltSite,
        "the sender's number is not registered",
    ),
    rule(
        Match::Codes(&[131048]),
        RetryClass::HaltSite,
        "spam rate limit",
    ),
    rule(
        Match::Codes(&[0, 10, 368, 131031, 131042]),
        RetryClass::HaltSite,
        "auth, policy, account, payment",
    ),
    rule(Match::Range(200, 299), RetryClass::HaltSite, "permission"),
];

impl RetryRule {
    fn covers(&self, code: i64, subcode: Option<i64>) -> bool {
        match self.matches {
            Match::Codes(codes) => codes.contains(&code),
            Match::Range(lo, hi) => (lo..=hi).contains(&code),
            Match::Subcodes(c, subs) => c == code && subcode.is_some_and(|s| subs.contains(&s)),
        }
    }

    /// The codes column as the README writes it (`190, 104`, `200–299`, `100 / 33`).
    pub fn codes_text(&self) -> String {
        match self.matches {
            Match::Codes(codes) => codes
                .iter()
                .map(i64::to_string)
                .collect::<Vec<_>>()
                .join(", "),
            Match::Range(lo, hi) => format!("{lo}–{hi}"),
            Match::Subcodes(c, subs) => subs
                .iter()
                .map(|s| format!("{c} / {s}"))
                .collect::<Vec<_>>()
                .join(", "),
        }
    }
}

impl RetryClass {
    /// The class for a Graph error code alone (no subcode, nothing else known).
    pub fn for_code(code: i64) -> RetryClass {
        RetryClass::for_error(code, None, None, 400)
    }

    /// The class from the whole error: the table, then `is_transient`, then the HTTP status.
    pub fn for_error(
        code: i64,
        subcode: Option<i64>,
        is_transient: Option<bool>,
        http_status: u16,
    ) -> RetryClass {
        if let Some(rule) = RETRY_TABLE.iter().find(|r| r.covers(code, subcode)) {
            return rule.class;
        }
        match is_transient {
            Some(true) => RetryClass::Backoff,
            Some(false) => RetryClass::Never,
            None => RetryClass::for_http_status(http_status),
        }
    }

    /// The class for an HTTP failure with no parsable Graph error.
    pub fn for_http_status(status: u16) -> RetryClass {
        match status {
            401 | 403 => RetryClass::HaltSite,
            429 | 500..=599 => RetryClass::Backoff,
            400..=499 => RetryClass::Never,
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

    /// How many attempts a message gets in this class at most.
    pub fn max_attempts(self) -> i64 {
        match self {
            RetryClass::Backoff | RetryClass::RecipientLater => 8,
            // Meta holds it back for the person's sake: try again once, much later.
            RetryClass::MuchLater => 2,
            _ => 1,
        }
    }

    /// The README's words for the class.
    pub fn action(self) -> &'static str {
        match self {
            RetryClass::Backoff => "retry with backoff",
            RetryClass::RecipientLater => "retry that recipient later",
            RetryClass::MuchLater => "retry once, much later",
            RetryClass::Never => "no retry",
            RetryClass::MarketingStopped => "no retry; recorded as their marketing opt-out",
            RetryClass::HaltSite => "halt the site, alert",
        }
    }
}

impl GraphError {
    /// The retry class of this error answered with `http_status`.
    pub fn retry_class_at(&self, http_status: u16) -> RetryClass {
        RetryClass::for_error(
            self.code,
            self.error_subcode,
            self.is_transient,
            http_status,
        )
    }

    /// The retry class of this error (HTTP status unknown).
    pub fn retry_class(&self) -> RetryClass {
        self.retry_class_at(400)
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
            (&[131050], MarketingStopped),
            (
                &[131026, 131047, 132000, 132001, 132012, 132018, 100, 803],
                Never,
            ),
            (
                &[
                    131048, 190, 104, 133010, 0, 10, 200, 250, 299, 368, 131031, 131042,
                ],
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
    fn subcode_is_transient_and_http_status_decide_the_rest() {
        use RetryClass::*;
        assert_eq!(RetryClass::for_error(100, Some(33), None, 400), HaltSite);
        assert_eq!(RetryClass::for_error(100, Some(2494010), None, 400), Never);
        assert_eq!(
            RetryClass::for_error(803, None, Some(true), 400),
            Never,
            "the table wins"
        );
        assert_eq!(
            RetryClass::for_error(999_999, None, Some(false), 500),
            Never
        );
        assert_eq!(
            RetryClass::for_error(999_999, None, Some(true), 400),
            Backoff
        );
        assert_eq!(RetryClass::for_error(999_999, None, None, 429), Backoff);
        assert_eq!(RetryClass::for_error(999_999, None, None, 403), HaltSite);
        assert_eq!(RetryClass::for_error(999_999, None, None, 404), Never);
        assert_eq!(RetryClass::for_error(999_999, None, None, 503), Backoff);
        assert_eq!(RetryClass::for_http_status(429), Backoff);
        assert!(Never.max_attempts() == 1 && MuchLater.max_attempts() == 2);
    }

    /// docs/api.md's "Retry classes" table and [`RETRY_TABLE`] are one list.
    #[test]
    fn the_readme_table_is_the_code_table() {
        let readme = include_str!("../../../docs/api.md");
        let start = readme
            .find("| Graph error | meaning | what the sender does |")
            .expect("docs/api.md has the retry table");
        let rows: Vec<Vec<String>> = readme[start..]
            .lines()
            .skip(2)
            .take_while(|l| l.starts_with('|'))
            .map(|l| {
                l.trim_matches('|')
                    .split('|')
                    .map(|c| c.trim().trim_matches('`').to_owned())
                    .collect()
            })
            .collect();
        let want: Vec<Vec<String>> = RETRY_TABLE
            .iter()
            .map(|r| {
                vec![
                    r.codes_text(),
                    r.meaning.to_owned(),
                    r.class.action().to_owned(),
                ]
            })
            .collect();
        assert_eq!(rows, want);
    }

    #[test]
    fn meta_error_body_parses() {
        let e: ErrorEnvelope = serde_json::from_str(
            r#"{"error":{"message":"(#131056) (Business Account, Consumer Account) pair rate limit hit",
              "type":"OAuthException","code":131056,"is_transient":true,
              "error_data":{"messaging_product":"whatsapp","details":"Message failed to send"},
              "fbtrace_id":"Az8or2yhqkZfEZ-_4Qn_Bam"}}"#,
        )
        .unwrap();
        assert_eq!(e.error.retry_class(), RetryClass::RecipientLater);
        assert_eq!(e.error.is_transient, Some(true));
        assert!(e.error.retry_class().retries());
        assert!(!RetryClass::for_code(190).retries());
    }
}
