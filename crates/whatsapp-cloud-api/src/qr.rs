//! Meta's QR codes and short links: `POST|GET /{Phone-Number-ID}/message_qrdls`
//! (`CreateQrCodeRequest`, `QrCodeResponse`, `QrCodeList` in Meta's description).

use serde::{Deserialize, Serialize};

/// Path of the QR code endpoint below the Graph base URL.
pub fn qrdls_path(version: &str, phone_number_id: &str) -> String {
    format!("/{version}/{phone_number_id}/message_qrdls")
}

/// A QR code / short link to create.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrCreate {
    /// What WhatsApp types in for the person (at most 140 characters).
    pub prefilled_message: String,
    /// `SVG` or `PNG` to have Meta render an image.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generate_qr_image: Option<String>,
}

/// A QR code as Meta answers and lists it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrCode {
    /// 14 characters of `A-Z2-7`.
    pub code: String,
    /// The prefilled message.
    pub prefilled_message: String,
    /// `https://wa.me/message/<code>`.
    pub deep_link_url: String,
    /// Meta's image of it, when asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qr_image_url: Option<String>,
}

/// `GET …/message_qrdls`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QrList {
    /// The business number's codes.
    #[serde(default)]
    pub data: Vec<QrCode>,
}

/// Most characters Meta takes in a prefilled message.
pub const MAX_PREFILLED: usize = 140;
