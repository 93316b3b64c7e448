//! The one error type of the HTTP layer.
//!
//! Which error to use when: handlers return `Result<_, AppError>`; a variant says what the
//! caller did wrong (4xx, with a stable `code` and a message meant for them) or that we
//! failed (`Internal`, 500, whose detail is logged and never returned). Every response body
//! is the same envelope: `{"error": {"code": "...", "message": "...", "details": ...}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};

/// An error as the API reports it.
#[derive(Debug)]
pub enum AppError {
    /// 400: the request is malformed or a value is invalid.
    BadRequest {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// 401: no or unknown bearer token.
    Unauthorized,
    /// 401: a known bearer token that no longer works (`token_expired`, `token_revoked`).
    TokenRefused {
        code: &'static str,
        message: &'static str,
    },
    /// 403: the caller's role or jurisdiction does not allow this.
    Forbidden(&'static str),
    /// 404: no such resource.
    NotFound { code: &'static str, message: String },
    /// 409: conflicts with existing state (e.g. registered twice).
    Conflict { code: &'static str, message: String },
    /// 413: the body or batch is too large.
    TooLarge(String),
    /// 415: the body is not `application/json`.
    UnsupportedMediaType,
    /// 422: well-formed but every item was refused.
    Unprocessable {
        code: &'static str,
        message: String,
        details: Option<Value>,
    },
    /// 408: the request body did not arrive within the server's deadline.
    RequestTimeout,
    /// 429: over the caller's rate (per token, or per address without one); retry after
    /// the given wait.
    RateLimited(std::time::Duration),
    /// 503: shed under overload; the client should retry after a second.
    Overloaded,
    /// 503: not ready yet (e.g. the tracing index is still loading); retry in a few seconds.
    Unavailable { code: &'static str, message: String },
    /// 500: our fault. The string is logged, never sent.
    Internal(String),
}

impl AppError {
    /// A 400 with a code and message.
    pub fn bad(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::BadRequest {
            code,
            message: message.into(),
            details: None,
        }
    }

    /// A 404 with a code and message.
    pub fn not_found(code: &'static str, message: impl Into<String>) -> AppError {
        AppError::NotFound {
            code,
            message: message.into(),
        }
    }

    /// Status, stable code and the message meant for the caller (the web pages show these
    /// next to a form; an `Internal` detail stays private).
    pub fn summary(&self) -> (StatusCode, &'static str, String) {
        let (status, code, message, _) = self.parts();
        (status, code, message)
    }

    fn parts(&self) -> (StatusCode, &'static str, String, Option<&Value>) {
        match self {
            AppError::BadRequest {
                code,
                message,
                details,
            } => (
                StatusCode::BAD_REQUEST,
                code,
                message.clone(),
                details.as_ref(),
            ),
            AppError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "a valid bearer token is required".into(),
                None,
            ),
            AppError::TokenRefused { code, message } => {
                (StatusCode::UNAUTHORIZED, code, (*message).into(), None)
            }
            AppError::Forbidden(what) => (
                StatusCode::FORBIDDEN,
                "forbidden",
                format!("your role or jurisdiction does not allow this: {what}"),
                None,
            ),
            AppError::NotFound { code, message } => {
                (StatusCode::NOT_FOUND, code, message.clone(), None)
            }
            AppError::Conflict { code, message } => {
                (StatusCode::CONFLICT, code, message.clone(), None)
            }
            AppError::TooLarge(m) => (StatusCode::PAYLOAD_TOO_LARGE, "too_large", m.clone(), None),
            AppError::UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "send the body as application/json".into(),
                None,
            ),
            AppError::Unprocessable {
                code,
                message,
                details,
            } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                code,
                message.clone(),
                details.as_ref(),
            ),
            AppError::RequestTimeout => (
                StatusCode::REQUEST_TIMEOUT,
                "body_timeout",
                "the request body did not arrive in time".into(),
                None,
            ),
            AppError::RateLimited(_) => (
                StatusCode::TOO_MANY_REQUESTS,
                "rate_limited",
                "too many requests; retry after the time in Retry-After".into(),
                None,
            ),
            AppError::Overloaded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "overloaded",
                "the server is at capacity; retry shortly".into(),
                None,
            ),
            AppError::Unavailable { code, message } => {
                (StatusCode::SERVICE_UNAVAILABLE, code, message.clone(), None)
            }
            AppError::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "an internal error occurred; it has been logged".into(),
                None,
            ),
        }
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        if let AppError::Internal(detail) = &self {
            tracing::error!(%detail, "internal error");
        }
        let (status, code, message, details) = self.parts();
        let mut body = json!({"error": {"code": code, "message": message}});
        if let Some(d) = details {
            body["error"]["details"] = d.clone();
        }
        let mut resp = (status, axum::Json(body)).into_response();
        if matches!(self, AppError::Overloaded) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if let AppError::RateLimited(wait) = &self {
            // Whole seconds, rounded up: "0" would invite an immediate retry.
            let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs.max(1)));
        }
        if matches!(self, AppError::Unavailable { .. }) {
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("5"));
        }
        resp
    }
}

/// The one place store errors become API errors: a refusal by the stored state is the
/// caller's 409 with the refusal's own stable code, a missing row their 404, anything else
/// our 500.
impl From<xikang_store::StoreError> for AppError {
    fn from(e: xikang_store::StoreError) -> AppError {
        use xikang_store::StoreError;
        match e {
            StoreError::Conflict(kind) => AppError::Conflict {
                code: kind.code(),
                message: kind.message().into(),
            },
            StoreError::NotFound => AppError::not_found("unknown_resource", "no such resource"),
            other => AppError::Internal(format!("store: {other}")),
        }
    }
}

impl From<tokio::task::JoinError> for AppError {
    fn from(e: tokio::task::JoinError) -> AppError {
        AppError::Internal(format!("blocking task: {e}"))
    }
}

/// Response middleware: rewrites any error response that is not already our JSON envelope
/// (the framework's own rejections for a bad path, query, form or body size, a wrong
/// method) into the envelope, so clients see one error shape everywhere.
pub async fn envelope_errors(resp: Response) -> Response {
    let status = resp.status();
    // JSON is already our envelope; HTML is a web page's own error page (see `web`).
    let is_ours = resp.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes().starts_with(b"application/json") || v.as_bytes().starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || is_ours {
        return resp;
    }
    let code = match status {
        StatusCode::PAYLOAD_TOO_LARGE => "too_large",
        StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
        StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
        StatusCode::NOT_FOUND => "not_found",
        s if s.is_server_error() => "internal",
        _ => "bad_request",
    };
    let (parts, body) = resp.into_parts();
    let text = axum::body::to_bytes(body, 4096).await.unwrap_or_default();
    let message = String::from_utf8_lossy(&text).trim().to_owned();
    let message = if message.is_empty() {
        status.canonical_reason().unwrap_or("error").to_owned()
    } else {
        message
    };
    let mut out = (
        status,
        axum::Json(json!({"error": {"code": code, "message": message}})),
    )
        .into_response();
    for (k, v) in parts
        .headers
        .iter()
        .filter(|(k, _)| *k == header::RETRY_AFTER || *k == header::ALLOW)
    {
        out.headers_mut().insert(k.clone(), v.clone());
    }
    out
}

/// An item of a batch request that was refused: stable code and message. The batch
/// succeeds; its answer carries this refusal at the item's position.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    pub code: &'static str,
    pub message: String,
}

/// Shorthand for an [`ItemError`].
pub fn item_err(code: &'static str, message: impl Into<String>) -> ItemError {
    ItemError {
        code,
        message: message.into(),
    }
}
