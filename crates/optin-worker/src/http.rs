//! Small helpers for JSON responses, bodies and CORS.

use serde::Serialize;
use worker::{Headers, Request, Response};

use crate::error::{from_json_error, AppError};

/// Largest body any endpoint accepts.
pub const MAX_BODY: usize = 16 * 1024;

/// A JSON response with `status` and extra `headers`.
pub fn json<T: Serialize>(value: &T, status: u16, headers: Headers) -> Result<Response, AppError> {
    let body = serde_json::to_string(value).map_err(|e| AppError::Internal(e.to_string()))?;
    headers.set("Content-Type", "application/json")?;
    Ok(Response::ok(body)?
        .with_status(status)
        .with_headers(headers))
}

/// Headers for an answer no cache may keep (admin data, per-person answers).
pub fn no_store() -> Result<Headers, AppError> {
    let headers = Headers::new();
    headers.set("Cache-Control", "no-store")?;
    Ok(headers)
}

/// Reads a raw body of at most `limit` bytes: refused early on a larger
/// Content-Length, and, for a body without one (chunked), as soon as the bytes
/// read pass the limit — an oversized body is never held whole.
pub async fn read_bytes(req: &mut Request, limit: usize) -> Result<Vec<u8>, AppError> {
    use futures_util::StreamExt;
    let declared = req
        .headers()
        .get("Content-Length")?
        .and_then(|v| v.parse::<usize>().ok());
    if declared.is_some_and(|n| n > limit) {
        return Err(AppError::PayloadTooLarge(limit));
    }
    if req.inner().body().is_none() {
        return Ok(Vec::new());
    }
    if declared.is_some() {
        // The runtime holds a body to its declared length: one `arrayBuffer()`
        // is cheaper than a wasm round trip per chunk.
        let body = req.bytes().await?;
        if body.len() > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        return Ok(body);
    }
    let mut stream = req.stream()?;
    let mut body = Vec::with_capacity(declared.unwrap_or(0));
    while let Some(chunk) = stream.next().await {
        let chunk = chunk?;
        if body.len() + chunk.len() > limit {
            return Err(AppError::PayloadTooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// Reads a JSON body of at most [`MAX_BODY`] bytes as text, refusing other media types.
pub async fn read_json_text(req: &mut Request) -> Result<String, AppError> {
    let media = req.headers().get("Content-Type")?.unwrap_or_default();
    if !media.to_ascii_lowercase().starts_with("application/json") {
        return Err(AppError::UnsupportedMediaType);
    }
    let bytes = read_bytes(req, MAX_BODY).await?;
    String::from_utf8(bytes).map_err(|e| {
        AppError::MalformedJson(format!("body is not valid UTF-8: {}", e.utf8_error()))
    })
}

/// Reads and decodes a JSON body (see [`read_json_text`]).
pub async fn read_json<T: serde::de::DeserializeOwned>(req: &mut Request) -> Result<T, AppError> {
    parse_json(&read_json_text(req).await?)
}

/// A JSON body that may be left out (no `Content-Length`, or 0): the default then.
pub async fn read_optional_json<T: Default + serde::de::DeserializeOwned>(
    req: &mut Request,
) -> Result<T, AppError> {
    let has_body = req
        .headers()
        .get("Content-Length")?
        .is_some_and(|l| l != "0");
    if has_body {
        read_json(req).await
    } else {
        Ok(T::default())
    }
}

/// Decodes JSON, mapping errors to precise problems.
pub fn parse_json<T: serde::de::DeserializeOwned>(text: &str) -> Result<T, AppError> {
    serde_json::from_str(text).map_err(from_json_error)
}

/// CORS headers echoing an allowed `origin`.
pub fn cors_for(origin: &str) -> Result<Headers, AppError> {
    let h = Headers::new();
    h.set("Access-Control-Allow-Origin", origin)?;
    h.set("Vary", "Origin")?;
    Ok(h)
}

/// The first value of query parameter `name`, decoded.
pub fn query_param(url: &worker::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A fetched answer's whole body as a JS `Uint8Array`, with one `arrayBuffer()`
/// call; it stays in JS (for a body passed on as it is).
pub async fn answer_bytes(resp: worker::Response) -> worker::Result<worker::wasm_bindgen::JsValue> {
    use worker::{js_sys::Uint8Array, wasm_bindgen_futures::JsFuture, web_sys};
    let web = web_sys::Response::from(resp);
    let buffer = JsFuture::from(web.array_buffer()?).await?;
    Ok(Uint8Array::new(&buffer).into())
}

/// A fetched answer's whole body as text, read with one `text()` call rather
/// than chunk by chunk through wasm (what `Response::text` does for a stream).
pub async fn answer_text(resp: worker::Response) -> worker::Result<String> {
    use worker::{wasm_bindgen_futures::JsFuture, web_sys};
    let web = web_sys::Response::from(resp);
    let text = JsFuture::from(web.text()?).await?;
    text.as_string()
        .ok_or_else(|| worker::Error::RustError("answer body is not text".into()))
}
