//! Typed WhatsApp Cloud API: what we send, what Meta answers, how errors are
//! retried, and the webhooks Meta posts back (with their signature check).
#![deny(missing_docs)]

pub mod error;
pub mod message;
pub mod qr;
pub mod template;
pub mod webhook;

pub use error::{ErrorEnvelope, GraphError, RetryClass, RETRY_TABLE};
pub use message::{
    Component, Contact, Language, MessageBody, MessageContext, MessageRequest, Parameter,
    SendResponse, SentMessage, Template, TextBody,
};
pub use template::{templates_path, TemplateCreate, TemplateCreated, TemplateInfo, TemplateList};
pub use webhook::{sign, verify_signature};

/// Path of the send-message endpoint below the Graph base URL.
pub fn messages_path(version: &str, phone_number_id: &str) -> String {
    format!("/{version}/{phone_number_id}/messages")
}
