//! `POST|GET /{version}/{phone-number-id}/message_qrdls`: Meta's own QR codes
//! and short links (`https://wa.me/message/<code>`) with a prefilled message.

use super::*;

/// A QR code / short link as the simulator keeps it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SimQrCode {
    /// The business number it opens a chat with.
    pub phone_number_id: String,
    /// 14 characters of `A-Z2-7`.
    pub code: String,
    /// What WhatsApp types in for the person.
    pub prefilled_message: String,
    /// `https://wa.me/message/<code>`.
    pub deep_link_url: String,
    /// Where the image would be, when one was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qr_image_url: Option<String>,
    /// Unix seconds.
    pub creation_time: u64,
}

impl SimQrCode {
    fn answer(&self) -> Value {
        let mut v = json!({"code": self.code, "prefilled_message": self.prefilled_message,
                           "deep_link_url": self.deep_link_url, "creation_time": self.creation_time});
        if let Some(url) = &self.qr_image_url {
            v["qr_image_url"] = url.as_str().into();
        }
        v
    }
}

impl Simulator {
    /// `/{version}/{phone-number-id}/message_qrdls`.
    pub(crate) fn qrdls(&self, req: &SimRequest, version: &str, pnid: &str) -> SimResponse {
        let mut st = self.lock();
        let response = self.qrdls_answer(&mut st, req, version, pnid);
        let ok = if req.method == "GET" {
            Schema::QrList
        } else {
            Schema::QrCreated
        };
        st.check_template_answer(ok, &response);
        response
    }

    fn qrdls_answer(
        &self,
        st: &mut State,
        req: &SimRequest,
        version: &str,
        pnid: &str,
    ) -> SimResponse {
        if let Some(refused) = self.refuse_graph_request(st, req, version, pnid) {
            return refused;
        }
        let bad =
            |st: &mut State, details: &str| st.graph_error(400, 100, &meta_message(100), details);
        match req.method.as_str() {
            "GET" => {
                let data: Vec<Value> = st
                    .qr_codes
                    .iter()
                    .filter(|q| q.phone_number_id == pnid)
                    .map(SimQrCode::answer)
                    .collect();
                SimResponse::json(200, &json!({"data": data}))
            }
            "POST" => {
                let body: Value = match serde_json::from_slice(&req.body) {
                    Ok(v) => v,
                    Err(e) => return bad(st, &format!("Request body is not valid JSON: {e}")),
                };
                let violations = match contract() {
                    Ok(c) => c.check(Schema::QrCreate, &body),
                    Err(e) => {
                        return bad(
                            st,
                            &format!("the simulator could not load Meta's schema: {e}"),
                        )
                    }
                };
                st.note_checked("request");
                if let Some(first) = violations.first() {
                    let details = format!("Param {} is invalid: {}", first.path, first.message);
                    st.log_violations("request", 0, violations);
                    return st.graph_error_sub(
                        400,
                        100,
                        Some(SCHEMA_VIOLATION_SUBCODE),
                        &meta_message(100),
                        &details,
                    );
                }
                let message = body["prefilled_message"].as_str().unwrap_or_default();
                if message.trim().is_empty() {
                    return bad(st, "Param prefilled_message must not be empty");
                }
                const BASE32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
                let code: String = (0..14)
                    .map(|_| BASE32[(st.random() % 32) as usize] as char)
                    .collect();
                let image = body["generate_qr_image"].as_str().map(|f| {
                    format!(
                        "https://scontent.whatsapp.net/sim/qr/{code}.{}",
                        f.to_ascii_lowercase()
                    )
                });
                let qr = SimQrCode {
                    phone_number_id: pnid.into(),
                    deep_link_url: format!("https://wa.me/message/{code}"),
                    code,
                    prefilled_message: message.into(),
                    qr_image_url: image,
                    creation_time: now_ms() / 1000,
                };
                let answer = qr.answer();
                st.qr_codes.push(qr);
                SimResponse::json(200, &answer)
            }
            other => {
                let method = other.to_ascii_lowercase();
                bad(st, &format!("Unsupported {method} request."))
            }
        }
    }
}
