//! Request extractors shared by the handlers: a typed id from the path, parsed once with
//! its stable error code (`invalid_person_id`, …), so a handler never parses an id by hand;
//! and a command's JSON body ([`JsonIn`]), parsed when the command asks for it.

use crate::error::AppError;
use crate::json::content_type_is;
use crate::table::{TableFormat, XLSX_CONTENT_TYPE};
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;
use xikang_domain::TypedId;

/// The id in a route's one path parameter (`/orders/{id}`), e.g. `Id<OrderId>`.
#[derive(Debug, Clone, Copy)]
pub struct Id<T>(pub T);

/// Parses a typed id from text (a path segment, a body field, a query parameter); a
/// malformed one is a 400 with the id's stable code.
pub fn parse_id<T: TypedId>(s: &str) -> Result<T, AppError> {
    T::parse(s.trim())
        .ok_or_else(|| AppError::bad(T::INVALID, format!("an id looks like {}123", T::PREFIX)))
}

impl<S: Send + Sync, T: TypedId + Send> FromRequestParts<S> for Id<T> {
    type Rejection = AppError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Id<T>, AppError> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| AppError::bad("invalid_path", e.body_text()))?;
        parse_id(&raw).map(Id)
    }
}

/// A command's JSON input: the request's body, parsed when the command calls
/// [`JsonIn::get`], or a value an in-process caller (a page, a test) hands over with
/// `JsonIn::from`. Parsing late keeps a command's role check first: a caller without the
/// role hears 403 whatever they sent, as when each handler checked before parsing.
#[derive(Debug)]
pub enum JsonIn<T> {
    /// The request's body, not yet parsed, and whether its content type said JSON.
    Body {
        /// The content type was `application/json`.
        is_json: bool,
        /// The bytes as received.
        body: Bytes,
    },
    /// An input already typed.
    Value(T),
}

impl<T: DeserializeOwned> JsonIn<T> {
    /// The input: 415 unless the body says `application/json`, 400 `invalid_json` for a
    /// body of the wrong shape.
    pub fn get(self) -> Result<T, AppError> {
        match self {
            JsonIn::Body { is_json: false, .. } => Err(AppError::UnsupportedMediaType),
            JsonIn::Body { body, .. } => crate::json::body_json(&body),
            JsonIn::Value(v) => Ok(v),
        }
    }

    /// The input, or its default when the body is empty (an optional body).
    pub fn get_or_default(self) -> Result<T, AppError>
    where
        T: Default,
    {
        match self {
            JsonIn::Body { body, .. } if body.is_empty() => Ok(T::default()),
            other => other.get(),
        }
    }
}

impl<T> From<T> for JsonIn<T> {
    fn from(v: T) -> Self {
        JsonIn::Value(v)
    }
}

/// A batch upload (the resident register, lab results, doses): a table — a `text/csv`
/// body, or an XLSX workbook — read by [`crate::table`], or a JSON input.
#[derive(Debug)]
pub enum Upload<T> {
    /// The body of a `text/csv` or XLSX request, and which of the two it is.
    Table(TableFormat, Bytes),
    /// Any other body, read as JSON when the command asks (415 unless it says JSON).
    Json(JsonIn<T>),
}

impl<S: Send + Sync, T> FromRequest<S> for Upload<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let format = if content_type_is(req.headers(), "text/csv") {
            Some(TableFormat::Csv)
        } else if content_type_is(req.headers(), XLSX_CONTENT_TYPE) {
            Some(TableFormat::Xlsx)
        } else {
            None
        };
        match format {
            Some(format) => {
                let body = Bytes::from_request(req, state)
                    .await
                    .map_err(IntoResponse::into_response)?;
                Ok(Upload::Table(format, body))
            }
            None => JsonIn::from_request(req, state).await.map(Upload::Json),
        }
    }
}

impl<S: Send + Sync, T> FromRequest<S> for JsonIn<T> {
    /// The framework's own answer for a body it cannot read (too large, cut off), as when
    /// handlers took `Bytes`.
    type Rejection = Response;

    async fn from_request(req: Request, state: &S) -> Result<Self, Response> {
        let is_json = content_type_is(req.headers(), "application/json");
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(JsonIn::Body { is_json, body })
    }
}
