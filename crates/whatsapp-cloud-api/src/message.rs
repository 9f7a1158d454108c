//! Outgoing messages and the success response.

use serde::{Deserialize, Serialize};

/// `POST /{version}/{phone-number-id}/messages` body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageRequest {
    /// Always `whatsapp`.
    pub messaging_product: String,
    /// Always `individual` here.
    #[serde(default = "individual")]
    pub recipient_type: String,
    /// Recipient, E.164 with or without `+`.
    pub to: String,
    /// Echoed in status webhooks (≤ 512 chars); we put the consent id here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub biz_opaque_callback_data: Option<String>,
    /// The person's message this one answers (shown quoted in their thread).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context: Option<MessageContext>,
    /// The message itself, tagged by `type`.
    #[serde(flatten)]
    pub body: MessageBody,
}

/// `context` of a reply.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageContext {
    /// The wamid of the message replied to.
    pub message_id: String,
}

fn individual() -> String {
    "individual".into()
}

/// Message kinds we send.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MessageBody {
    /// An approved template.
    Template {
        /// The template.
        template: Template,
    },
    /// Free-form text (only inside the 24-hour window).
    Text {
        /// The text.
        text: TextBody,
    },
}

/// Free-form text body.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextBody {
    /// The text, up to 4096 characters.
    pub body: String,
    /// Whether to render a link preview.
    #[serde(default)]
    pub preview_url: bool,
}

/// A template message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Template {
    /// Approved template name.
    pub name: String,
    /// Template language.
    pub language: Language,
    /// Parameters for the body and buttons.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<Component>,
}

/// Template language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Language {
    /// Always `deterministic` (Meta's description requires it).
    #[serde(default = "deterministic")]
    pub policy: String,
    /// WhatsApp language code (`en`, `pt_BR`, …).
    pub code: String,
}

fn deterministic() -> String {
    "deterministic".into()
}

/// A template component with its parameters.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Component {
    /// Body text parameters, in `{{1}}`, `{{2}}` order.
    Body {
        /// Parameters.
        parameters: Vec<Parameter>,
    },
    /// A button's parameter.
    Button {
        /// `quick_reply` or `url`.
        sub_type: String,
        /// Button position as a string, as Meta expects.
        index: String,
        /// Parameters.
        parameters: Vec<Parameter>,
    },
}

/// A template parameter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Parameter {
    /// Text substituted into the body or a URL button.
    Text {
        /// The text.
        text: String,
    },
    /// Payload returned when a quick-reply button is tapped.
    Payload {
        /// The payload.
        payload: String,
    },
}

impl MessageRequest {
    /// The opt-in confirmation: body `{{1}}` = business name, quick-reply 0 = opt-out payload.
    pub fn confirmation(
        to: &str,
        template_name: &str,
        language: &str,
        business_name: &str,
        opt_out_payload: &str,
        callback_data: &str,
    ) -> MessageRequest {
        MessageRequest {
            messaging_product: "whatsapp".into(),
            recipient_type: individual(),
            to: to.into(),
            biz_opaque_callback_data: Some(callback_data.into()),
            context: None,
            body: MessageBody::Template {
                template: Template {
                    name: template_name.into(),
                    language: Language {
                        policy: deterministic(),
                        code: language.into(),
                    },
                    components: vec![
                        Component::Body {
                            parameters: vec![Parameter::Text {
                                text: business_name.into(),
                            }],
                        },
                        Component::Button {
                            sub_type: "quick_reply".into(),
                            index: "0".into(),
                            parameters: vec![Parameter::Payload {
                                payload: opt_out_payload.into(),
                            }],
                        },
                    ],
                },
            },
        }
    }

    /// The double opt-in request: body `{{1}}` = business name, quick-reply 0 =
    /// Confirm (`confirm_payload`), quick-reply 1 = opt-out (`opt_out_payload`).
    pub fn double_opt_in_request(
        to: &str,
        template_name: &str,
        language: &str,
        business_name: &str,
        confirm_payload: &str,
        opt_out_payload: &str,
        callback_data: &str,
    ) -> MessageRequest {
        let mut m = MessageRequest::confirmation(
            to,
            template_name,
            language,
            business_name,
            confirm_payload,
            callback_data,
        );
        if let MessageBody::Template { template } = &mut m.body {
            template.components.push(Component::Button {
                sub_type: "quick_reply".into(),
                index: "1".into(),
                parameters: vec![Parameter::Payload {
                    payload: opt_out_payload.into(),
                }],
            });
        }
        m
    }

    /// A free-form text reply (allowed inside the 24-hour window after their message).
    pub fn text(to: &str, body: &str, callback_data: &str) -> MessageRequest {
        MessageRequest {
            messaging_product: "whatsapp".into(),
            recipient_type: individual(),
            to: to.into(),
            biz_opaque_callback_data: Some(callback_data.into()),
            context: None,
            body: MessageBody::Text {
                text: TextBody {
                    body: body.into(),
                    preview_url: false,
                },
            },
        }
    }

    /// Marks this as the reply to the person's message `wamid`.
    pub fn replying_to(mut self, wamid: &str) -> MessageRequest {
        self.context = Some(MessageContext {
            message_id: wamid.into(),
        });
        self
    }

    /// The template, if this is a template message.
    pub fn template(&self) -> Option<&Template> {
        match &self.body {
            MessageBody::Template { template } => Some(template),
            MessageBody::Text { .. } => None,
        }
    }
}

impl Template {
    /// Body parameter texts in order.
    pub fn body_texts(&self) -> Vec<&str> {
        self.components
            .iter()
            .filter_map(|c| match c {
                Component::Body { parameters } => Some(parameters),
                Component::Button { .. } => None,
            })
            .flatten()
            .filter_map(|p| match p {
                Parameter::Text { text } => Some(text.as_str()),
                Parameter::Payload { .. } => None,
            })
            .collect()
    }
}

/// 200 answer to a send (`MessageResponsePayload`: every field optional).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SendResponse {
    /// Always `whatsapp`.
    #[serde(default)]
    pub messaging_product: String,
    /// The recipient as given and as WhatsApp knows them.
    #[serde(default)]
    pub contacts: Vec<Contact>,
    /// The accepted message.
    #[serde(default)]
    pub messages: Vec<SentMessage>,
}

/// A recipient.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Contact {
    /// What we sent in `to`.
    #[serde(default)]
    pub input: String,
    /// WhatsApp id (digits).
    #[serde(default)]
    pub wa_id: String,
}

/// An accepted message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SentMessage {
    /// `wamid.…`
    pub id: String,
    /// `accepted`, `held_for_quality_assessment`, … when present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_status: Option<String>,
}

impl SendResponse {
    /// The wamid of the accepted message.
    pub fn message_id(&self) -> Option<&str> {
        self.messages.first().map(|m| m.id.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn confirmation_serialises_as_meta_documents_it() {
        let m = MessageRequest::confirmation(
            "+6281234567890",
            "optin_confirmation",
            "id",
            "Toko Acme",
            "OPTOUT:abc",
            "consent-1",
        );
        let v = serde_json::to_value(&m).unwrap();
        assert_eq!(
            v,
            json!({"messaging_product":"whatsapp","recipient_type":"individual",
              "to":"+6281234567890","biz_opaque_callback_data":"consent-1","type":"template",
              "template":{"name":"optin_confirmation","language":{"policy":"deterministic","code":"id"},
              "components":[{"type":"body","parameters":[{"type":"text","text":"Toko Acme"}]},
                {"type":"button","sub_type":"quick_reply","index":"0",
                 "parameters":[{"type":"payload","payload":"OPTOUT:abc"}]}]}})
        );
        let back: MessageRequest = serde_json::from_value(v).unwrap();
        assert_eq!(back, m);
        assert_eq!(back.template().unwrap().body_texts(), vec!["Toko Acme"]);
    }

    #[test]
    fn double_opt_in_request_has_confirm_then_stop() {
        let m = MessageRequest::double_opt_in_request(
            "+4520123456",
            "optin_double_confirmation",
            "da",
            "Toko Acme",
            "CONFIRM:c1",
            "OPTOUT:c1",
            "c1",
        );
        let v = serde_json::to_value(&m).unwrap();
        let buttons = &v["template"]["components"];
        assert_eq!(buttons[1]["index"], "0");
        assert_eq!(buttons[1]["parameters"][0]["payload"], "CONFIRM:c1");
        assert_eq!(buttons[2]["index"], "1");
        assert_eq!(buttons[2]["parameters"][0]["payload"], "OPTOUT:c1");
        assert_eq!(v["template"]["name"], "optin_double_confirmation");
    }

    #[test]
    fn success_response_parses() {
        let r: SendResponse = serde_json::from_str(
            r#"{"messaging_product":"whatsapp","contacts":[{"input":"+62812","wa_id":"62812"}],
                "messages":[{"id":"wamid.HBgL"}]}"#,
        )
        .unwrap();
        assert_eq!(r.message_id(), Some("wamid.HBgL"));
        // The spec requires none of its fields: no contacts is still a success.
        let bare: SendResponse =
            serde_json::from_str(r#"{"messages":[{"id":"wamid.X","message_status":"accepted"}]}"#)
                .unwrap();
        assert_eq!(bare.message_id(), Some("wamid.X"));
    }

    #[test]
    fn a_reply_carries_the_context_of_the_message_it_answers() {
        let v = serde_json::to_value(
            MessageRequest::text("+62812", "hi", "r1").replying_to("wamid.in"),
        )
        .unwrap();
        assert_eq!(v["context"], json!({"message_id": "wamid.in"}));
    }
}
