//! Request extractors shared by the handlers: a typed id from the path, parsed once with
//! its stable error code (`invalid_person_id`, …), so a handler never parses an id by hand.

use crate::error::AppError;
use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
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
