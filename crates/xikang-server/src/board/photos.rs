//! Inspection photos as files (明察暗访, docs/citizens.md). An inspector uploads each photo
//! (`POST /api/v1/inspections/photos`, the raw bytes), then names the photos by their
//! SHA-256 in the inspection (`"photos": [...]`), which the authority log keeps; the bytes
//! are stored once, content-addressed, under the data directory (`DATA/photos/ab/abcd…`).
//!
//! What a photo is, is decided by its bytes, never by a file name or the request's content
//! type: a JPEG (starts `FF D8 FF`, ends `FF D9`) or a PNG (the eight-byte signature, an
//! `IHDR` chunk first, an `IEND` chunk last), at most [`MAX_PHOTO_BYTES`]; anything else
//! is `415 unsupported_photo` and nothing is written. A photo is served only to the staff
//! who may see the inspected venue (`authorise::venue`), only through an inspection that
//! names it, with its sniffed type, `nosniff` and a sandboxing content security policy.

use super::venues::INSPECTORS;
use crate::app::{Actor, authorise};
use crate::error::AppError;
use crate::extract::parse_id;
use crate::state::{AppState, read};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use xikang_domain::EventSeq;

/// The photos' directory under the data directory.
pub const DIR: &str = "photos";
/// The largest photo: the edge's body limit (an inspector's app scales photos down).
pub const MAX_PHOTO_BYTES: usize = crate::edge::BODY_LIMIT;
/// The most photos one inspection names.
pub const MAX_PHOTOS: usize = 10;

/// The kinds of photo accepted, by content.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoType {
    Jpeg,
    Png,
}

impl PhotoType {
    /// The media type it is served as.
    pub fn media_type(self) -> &'static str {
        match self {
            PhotoType::Jpeg => "image/jpeg",
            PhotoType::Png => "image/png",
        }
    }
}

const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";

/// A whole 1×1 transparent PNG: the smallest photo there is, for tests and demonstrations.
pub const TINY_PNG: &[u8] = b"\x89\x50\x4e\x47\x0d\x0a\x1a\x0a\x00\x00\x00\x0d\x49\x48\x44\x52\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00\x1f\x15\xc4\x89\x00\x00\x00\x0d\x49\x44\x41\x54\x78\x9c\x63\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99\x3d\x1d\x00\x00\x00\x00\x49\x45\x4e\x44\xae\x42\x60\x82";

/// What the bytes are, by their content: a whole JPEG or PNG, or nothing.
pub fn sniff(bytes: &[u8]) -> Option<PhotoType> {
    if bytes.len() >= 4 && bytes.starts_with(&[0xFF, 0xD8, 0xFF]) && bytes.ends_with(&[0xFF, 0xD9])
    {
        return Some(PhotoType::Jpeg);
    }
    // Signature, then IHDR as the first chunk (length 13), and IEND as the last (length 0,
    // its CRC is fixed).
    let iend = b"\x00\x00\x00\x00IEND\xAE\x42\x60\x82";
    if bytes.len() >= 8 + 25 + 12
        && bytes.starts_with(PNG_SIGNATURE)
        && bytes.get(8..16) == Some(b"\x00\x00\x00\x0DIHDR".as_slice())
        && bytes.ends_with(iend)
    {
        return Some(PhotoType::Png);
    }
    None
}

/// Whether a text is a photo's name: 64 lowercase hex digits.
pub fn valid_name(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn path_of(dir: &FsPath, sha: &str) -> PathBuf {
    dir.join(&sha[..2]).join(sha)
}

fn dir_of(state: &AppState) -> Result<PathBuf, AppError> {
    state
        .config
        .photo_dir
        .clone()
        .ok_or_else(|| AppError::Unavailable {
            code: "photos_unavailable",
            message: "this server keeps no photos (no data directory)".into(),
        })
}

/// Stores the bytes under their SHA-256 (once: the same photo twice is one file), written
/// to a temporary file and renamed, so a reader never sees half a photo.
pub fn store(dir: &FsPath, bytes: &[u8]) -> std::io::Result<String> {
    let sha = hex::encode(Sha256::digest(bytes));
    let path = path_of(dir, &sha);
    if path.exists() {
        return Ok(sha);
    }
    let parent = path
        .parent()
        .ok_or_else(|| std::io::Error::other("a photo's path has no directory"))?;
    std::fs::create_dir_all(parent)?;
    let tmp = parent.join(format!(".{sha}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, &path)?;
    Ok(sha)
}

/// Whether a photo of that name is stored.
pub fn exists(state: &AppState, sha: &str) -> Result<bool, AppError> {
    Ok(valid_name(sha) && path_of(&dir_of(state)?, sha).is_file())
}

/// An uploaded photo.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct PhotoOut {
    /// Its SHA-256 (hex): the name an inspection gives it.
    pub photo: String,
    pub media_type: &'static str,
    pub bytes: usize,
}

/// `POST /api/v1/inspections/photos` (the raw bytes; inspectors): 201 with its name.
pub async fn post_photo(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    body: Bytes,
) -> Result<(StatusCode, Json<PhotoOut>), AppError> {
    caller.require(INSPECTORS, "uploading inspection photos")?;
    if body.len() > MAX_PHOTO_BYTES {
        return Err(AppError::TooLarge(format!(
            "a photo is at most {MAX_PHOTO_BYTES} bytes"
        )));
    }
    let kind = sniff(&body).ok_or_else(|| AppError::Unprocessable {
        code: "unsupported_photo",
        message: "a photo is a whole JPEG or PNG image (judged by its bytes)".into(),
        details: None,
    })?;
    let dir = dir_of(&state)?;
    let len = body.len();
    let sha = tokio::task::spawn_blocking(move || store(&dir, &body))
        .await?
        .map_err(|e| AppError::Internal(format!("storing a photo: {e}")))?;
    tracing::info!(bytes = len, "inspection photo stored");
    Ok((
        StatusCode::CREATED,
        Json(PhotoOut {
            photo: sha,
            media_type: kind.media_type(),
            bytes: len,
        }),
    ))
}

/// `GET /api/v1/inspections/{id}/photos/{photo}`: a photo the inspection names, for staff
/// who may see its venue.
pub async fn get_photo(
    State(state): State<Arc<AppState>>,
    caller: Actor,
    Path((id, photo)): Path<(String, String)>,
) -> Result<Response, AppError> {
    photo_response(&state, &caller, &id, &photo).await
}

/// A photo inspection `id` names, as served to a caller who may see its venue (the API's
/// route and the staff pages' share it).
pub async fn photo_response(
    state: &AppState,
    caller: &Actor,
    id: &str,
    photo: &str,
) -> Result<Response, AppError> {
    caller.require(INSPECTORS, "inspection photos")?;
    let id: EventSeq = parse_id(id)?;
    let inspection = read(&state.projection.board)
        .inspections
        .get(&id)
        .cloned()
        .ok_or_else(|| AppError::not_found("unknown_inspection", format!("no inspection {id}")))?;
    authorise::venue(state, caller, inspection.venue)?;
    if !inspection.photos.iter().any(|p| *p == photo) {
        return Err(AppError::not_found(
            "unknown_photo",
            "this inspection has no such photo",
        ));
    }
    let path = path_of(&dir_of(state)?, photo);
    let bytes = tokio::task::spawn_blocking(move || std::fs::read(path))
        .await?
        .map_err(|_| AppError::not_found("unknown_photo", "the photo's file is missing"))?;
    // Sniffed again: what is served is what the bytes are, whatever the disk holds.
    let kind =
        sniff(&bytes).ok_or_else(|| AppError::Internal("a stored photo is not an image".into()))?;
    Ok((
        [
            (header::CONTENT_TYPE, kind.media_type()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (
                header::CONTENT_SECURITY_POLICY,
                "default-src 'none'; sandbox",
            ),
            (header::CACHE_CONTROL, "private, max-age=3600"),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_photo_is_judged_by_its_bytes() {
        assert_eq!(sniff(TINY_PNG), Some(PhotoType::Png));
        assert_eq!(
            sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0, 0xFF, 0xD9]),
            Some(PhotoType::Jpeg)
        );
        // A truncated JPEG, a PNG cut before IEND, HTML and SVG named .jpg are nothing.
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0, 0, 0]), None);
        assert_eq!(sniff(&TINY_PNG[..TINY_PNG.len() - 12]), None);
        assert_eq!(sniff(b"<html><script>alert(1)</script></html>"), None);
        assert_eq!(sniff(b"<svg xmlns=\"http://www.w3.org/2000/svg\"/>"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn a_photo_is_stored_once_under_its_digest() {
        let dir = tempfile::tempdir().expect("tempdir");
        let a = store(dir.path(), TINY_PNG).expect("store");
        let b = store(dir.path(), TINY_PNG).expect("store again");
        assert_eq!(a, b);
        assert!(valid_name(&a));
        assert_eq!(
            std::fs::read(path_of(dir.path(), &a)).expect("read"),
            TINY_PNG
        );
        assert!(!valid_name("../../etc/passwd"));
        assert!(!valid_name(&a.to_uppercase()));
    }
}
