//! Funnel events the widget beacons (impression, open, dismiss, submit):
//! counters only, with no personal data, validated strictly before counting.

#[allow(unused_imports)]
use crate::prelude::*;
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::{Locale, Surface};

/// Most events one beacon may carry.
pub const MAX_EVENTS: usize = 50;

/// Body of `POST /v1/sites/{site}/events`. Unknown fields are refused.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBatch {
    /// The events, oldest first.
    pub events: Vec<RawEvent>,
}

/// One event as sent, before validation.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawEvent {
    /// `impression`, `open`, `dismiss` or `submit`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `modal`, `checkout` or `chat`.
    pub surface: String,
    /// A/B notice variant id; `default` when absent.
    #[serde(default)]
    pub variant: Option<String>,
    /// Locale the widget spoke; the site's default when absent.
    #[serde(default)]
    pub locale: Option<String>,
}

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FunnelKind {
    /// The surface was shown.
    Impression,
    /// The visitor opened it (modal reopened, chat bubble opened).
    Open,
    /// The visitor closed it without opting in.
    Dismiss,
    /// The visitor submitted the form.
    Submit,
}

impl FunnelKind {
    /// Every kind, in funnel order.
    pub const ALL: [FunnelKind; 4] = [
        FunnelKind::Impression,
        FunnelKind::Open,
        FunnelKind::Dismiss,
        FunnelKind::Submit,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            FunnelKind::Impression => "impression",
            FunnelKind::Open => "open",
            FunnelKind::Dismiss => "dismiss",
            FunnelKind::Submit => "submit",
        }
    }
}

/// A validated event, ready to count.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunnelEvent {
    /// What happened.
    pub kind: FunnelKind,
    /// Where.
    pub surface: Surface,
    /// Which notice variant.
    pub variant: String,
    /// In which language.
    pub locale: Locale,
}

/// Why a batch was refused; the index names the event at fault.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum FunnelError {
    /// Empty, or more than [`MAX_EVENTS`].
    #[error("events must hold 1 to {MAX_EVENTS} events")]
    Count,
    /// Unknown event type.
    #[error("events[{0}].type must be one of impression, open, dismiss, submit")]
    Type(usize),
    /// Unknown surface.
    #[error("events[{0}].surface must be one of modal, checkout, chat")]
    Surface(usize),
    /// Malformed variant id.
    #[error("events[{0}].variant must be 1-32 of a-z, 0-9, _ and -")]
    Variant(usize),
    /// Unsupported locale.
    #[error("events[{0}].locale is not a supported locale")]
    Locale(usize),
}

impl FunnelError {
    /// The body field at fault, e.g. `events[3].surface`.
    pub fn field(&self) -> String {
        let (i, name) = match self {
            FunnelError::Count => return "events".into(),
            FunnelError::Type(i) => (i, "type"),
            FunnelError::Surface(i) => (i, "surface"),
            FunnelError::Variant(i) => (i, "variant"),
            FunnelError::Locale(i) => (i, "locale"),
        };
        format!("events[{i}].{name}")
    }
}

/// Whether `id` is a well-formed variant id: 1–32 of `a-z 0-9 _ -`.
pub fn is_valid_variant(id: &str) -> bool {
    (1..=32).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'-')
}

impl EventBatch {
    /// Validates every event (all or nothing); a missing locale is `default_locale`.
    pub fn validate(&self, default_locale: Locale) -> Result<Vec<FunnelEvent>, FunnelError> {
        if self.events.is_empty() || self.events.len() > MAX_EVENTS {
            return Err(FunnelError::Count);
        }
        self.events
            .iter()
            .enumerate()
            .map(|(i, e)| e.validate(i, default_locale))
            .collect()
    }
}

impl RawEvent {
    fn validate(&self, i: usize, default_locale: Locale) -> Result<FunnelEvent, FunnelError> {
        let kind = FunnelKind::ALL
            .into_iter()
            .find(|k| k.as_str() == self.kind)
            .ok_or(FunnelError::Type(i))?;
        let surface = Surface::parse(&self.surface).ok_or(FunnelError::Surface(i))?;
        let variant = self.variant.as_deref().unwrap_or("default");
        if !is_valid_variant(variant) {
            return Err(FunnelError::Variant(i));
        }
        let locale = match &self.locale {
            None => default_locale,
            Some(tag) => Locale::from_tag(tag).ok_or(FunnelError::Locale(i))?,
        };
        Ok(FunnelEvent {
            kind,
            surface,
            variant: variant.to_owned(),
            locale,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn batch(json: &str) -> Result<Vec<FunnelEvent>, FunnelError> {
        serde_json::from_str::<EventBatch>(json)
            .unwrap()
            .validate(Locale::Id)
    }

    #[test]
    fn a_good_batch_validates_with_defaults() {
        let got = batch(
            r#"{"events":[{"type":"impression","surface":"modal","variant":"short-b","locale":"pt-BR"},
                          {"type":"dismiss","surface":"chat"}]}"#,
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                FunnelEvent {
                    kind: FunnelKind::Impression,
                    surface: Surface::Modal,
                    variant: "short-b".into(),
                    locale: Locale::PtBr,
                },
                FunnelEvent {
                    kind: FunnelKind::Dismiss,
                    surface: Surface::Chat,
                    variant: "default".into(),
                    locale: Locale::Id,
                },
            ]
        );
    }

    #[test]
    fn each_bad_field_is_named_by_index() {
        let one = |e: &str| {
            batch(&format!(
                r#"{{"events":[{{"type":"open","surface":"modal"}},{e}]}}"#
            ))
        };
        assert_eq!(
            one(r#"{"type":"close","surface":"modal"}"#),
            Err(FunnelError::Type(1))
        );
        assert_eq!(
            one(r#"{"type":"open","surface":"footer"}"#),
            Err(FunnelError::Surface(1))
        );
        for v in ["", "A", "has space", "x/y", &"a".repeat(33)] {
            let e = format!(r#"{{"type":"open","surface":"modal","variant":"{v}"}}"#);
            assert_eq!(one(&e), Err(FunnelError::Variant(1)), "{v:?}");
        }
        for l in ["EN", "fr", "en-US", ""] {
            let e = format!(r#"{{"type":"open","surface":"modal","locale":"{l}"}}"#);
            assert_eq!(one(&e), Err(FunnelError::Locale(1)), "{l:?}");
        }
        assert_eq!(FunnelError::Surface(1).field(), "events[1].surface");
        assert!(is_valid_variant(&"a".repeat(32)));
        assert!(is_valid_variant("b_2-x"));
    }

    #[test]
    fn batches_hold_one_to_fifty_events() {
        let n = |count: usize| {
            let e = vec![r#"{"type":"submit","surface":"checkout"}"#; count].join(",");
            batch(&format!(r#"{{"events":[{e}]}}"#)).map(|v| v.len())
        };
        assert_eq!(n(0), Err(FunnelError::Count));
        assert_eq!(n(1), Ok(1));
        assert_eq!(n(MAX_EVENTS), Ok(MAX_EVENTS));
        assert_eq!(n(MAX_EVENTS + 1), Err(FunnelError::Count));
        assert_eq!(FunnelError::Count.field(), "events");
    }

    #[test]
    fn personal_data_has_no_field_to_arrive_in() {
        for extra in [
            r#""phone":"+6281234567890""#,
            r#""url":"https://shop.example/?email=a@b""#,
        ] {
            let json = format!(r#"{{"events":[{{"type":"open","surface":"modal",{extra}}}]}}"#);
            assert!(
                serde_json::from_str::<EventBatch>(&json).is_err(),
                "{extra}"
            );
        }
    }
}
