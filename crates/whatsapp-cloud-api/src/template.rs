//! Message templates: `POST /{WABA-ID}/message_templates` (create) and
//! `GET /{WABA-ID}/message_templates?name=…` (read back), as Meta's
//! description shows them (`/{Version}/{WABA-ID}/message_templates`).

use serde::{Deserialize, Serialize};

/// Subcode Meta answers (with code 100) when the name already exists in that language.
pub const ALREADY_EXISTS_SUBCODE: i64 = 2388024;

/// Path of the template endpoint below the Graph base URL.
pub fn templates_path(version: &str, waba_id: &str) -> String {
    format!("/{version}/{waba_id}/message_templates")
}

/// A template to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateCreate {
    /// Template name (a-z, 0-9, `_`).
    pub name: String,
    /// WhatsApp language code, e.g. `pt_BR`.
    pub language: String,
    /// `UTILITY`, `MARKETING` or `AUTHENTICATION`.
    pub category: String,
    /// Body, then buttons.
    pub components: Vec<TemplateComponent>,
}

/// One component of a template.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TemplateComponent {
    /// The body text, `{{1}}`… with one example value each.
    Body {
        /// Text with `{{n}}` variables.
        text: String,
        /// Sample values, required by Meta when the text has variables.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        example: Option<BodyExample>,
    },
    /// Buttons, in order.
    Buttons {
        /// The buttons.
        buttons: Vec<TemplateButton>,
    },
}

/// Sample values of the body's variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BodyExample {
    /// One list of values, one per variable.
    pub body_text: Vec<Vec<String>>,
}

/// A template button.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateButton {
    /// `QUICK_REPLY`.
    #[serde(rename = "type")]
    pub kind: String,
    /// Its label.
    pub text: String,
}

impl TemplateButton {
    /// A quick-reply button (its payload is set per message when sending).
    pub fn quick_reply(text: &str) -> TemplateButton {
        TemplateButton {
            kind: "QUICK_REPLY".into(),
            text: text.into(),
        }
    }
}

/// The answer to a create: `{"id","status","category"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateCreated {
    /// Template id.
    pub id: String,
    /// `PENDING`, `APPROVED` or `REJECTED`.
    pub status: String,
    /// The category Meta assigned.
    pub category: String,
}

/// The answer to a read by name: every language of that name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateList {
    /// One entry per language.
    #[serde(default)]
    pub data: Vec<TemplateInfo>,
}

/// One template (one name in one language) as Meta reports it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TemplateInfo {
    /// Template id.
    #[serde(default)]
    pub id: String,
    /// Name.
    pub name: String,
    /// Language code.
    pub language: String,
    /// `APPROVED`, `PENDING`, `REJECTED`, `PAUSED`, `DISABLED`, …
    pub status: String,
    /// Category now.
    #[serde(default)]
    pub category: String,
    /// The category it was created with, when Meta changed it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_category: Option<String>,
    /// Why it was rejected (`INVALID_FORMAT`, `TAG_CONTENT_MISMATCH`, …; `NONE` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rejected_reason: Option<String>,
}

impl TemplateInfo {
    /// Whether sends may use it.
    pub fn is_approved(&self) -> bool {
        self.status == "APPROVED"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_create_body_is_meta_shaped() {
        let t = TemplateCreate {
            name: "optin_confirmation".into(),
            language: "en".into(),
            category: "UTILITY".into(),
            components: vec![
                TemplateComponent::Body {
                    text: "Hi {{1}}".into(),
                    example: Some(BodyExample {
                        body_text: vec![vec!["Acme".into()]],
                    }),
                },
                TemplateComponent::Buttons {
                    buttons: vec![TemplateButton::quick_reply("Stop")],
                },
            ],
        };
        assert_eq!(
            serde_json::to_value(&t).unwrap(),
            serde_json::json!({
                "name": "optin_confirmation", "language": "en", "category": "UTILITY",
                "components": [
                    {"type": "BODY", "text": "Hi {{1}}", "example": {"body_text": [["Acme"]]}},
                    {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Stop"}]}
                ]
            })
        );
    }

    #[test]
    fn a_list_reads_rejections_and_category_changes() {
        let list: TemplateList = serde_json::from_str(
            r#"{"data":[{"id":"1","name":"n","language":"en","status":"REJECTED","category":"UTILITY","rejected_reason":"INVALID_FORMAT"},
                        {"id":"2","name":"n","language":"id","status":"APPROVED","category":"MARKETING","previous_category":"UTILITY"}],
                "paging":{"cursors":{"before":"a","after":"b"}}}"#,
        )
        .unwrap();
        assert!(!list.data[0].is_approved());
        assert_eq!(
            list.data[0].rejected_reason.as_deref(),
            Some("INVALID_FORMAT")
        );
        assert_eq!(list.data[1].previous_category.as_deref(), Some("UTILITY"));
    }
}
