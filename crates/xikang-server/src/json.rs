//! JSON bodies in and out, with our error envelope instead of the framework's plain-text
//! rejections.

use crate::error::AppError;
use axum::http::{HeaderMap, header::CONTENT_TYPE};
use serde::Deserialize;

/// Whether the request's content type is `mime` (parameters such as `charset` ignored).
pub fn content_type_is(headers: &HeaderMap, mime: &str) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| {
            ct.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .eq_ignore_ascii_case(mime)
        })
}

/// Fails with 415 unless the request says `application/json`.
pub fn check_json(headers: &HeaderMap) -> Result<(), AppError> {
    if content_type_is(headers, "application/json") {
        Ok(())
    } else {
        Err(AppError::UnsupportedMediaType)
    }
}

/// Parses a JSON body, mapping syntax and shape errors to 400 `invalid_json`.
pub fn body_json<'a, T: Deserialize<'a>>(body: &'a [u8]) -> Result<T, AppError> {
    if body.is_empty() {
        return Err(AppError::bad("invalid_json", "the request body is empty"));
    }
    serde_json::from_slice(body)
        .map_err(|e| AppError::bad("invalid_json", format!("invalid JSON body: {e}")))
}

/// Builds a typed request from a JSON value (a web form's fields), with the same 400
/// `invalid_json` refusal the API gives the same body, so a form and the API cannot
/// disagree about what is valid.
pub fn from_value<T: serde::de::DeserializeOwned>(v: serde_json::Value) -> Result<T, AppError> {
    serde_json::from_value(v)
        .map_err(|e| AppError::bad("invalid_json", format!("invalid JSON body: {e}")))
}
