//! Tokens as QR codes. The token's characters are all in the QR alphanumeric set, so the
//! code is written in alphanumeric mode at 5.5 bits a character (8 in byte mode); with error correction level M a token of about 205
//! characters fits version 8 (49 × 49 modules), which phone screens show and venue scanners
//! read easily. The PNG is drawn here from the module matrix as plain 8-bit greyscale with
//! the standard 4-module quiet zone, so that any decoder (zbarimg, phone cameras) reads it.
//!
//! Cost: about 1.5 ms a code, nearly all of it the `qrcode` crate trying the eight masks.
//! That is fine for a phone drawing its own code or a page rendered on demand, but far
//! from 40,000 codes a second: a server should send the token text and let the client
//! draw it, or cache the image per token.

use qrcode::bits::Bits;
use qrcode::types::QrError as QrResultError;
use qrcode::{Color, EcLevel, QrCode, Version};

/// Error correction level M (15 %): right for codes shown on a screen; level Q would need
/// version 10 for the same token.
const EC_LEVEL: EcLevel = EcLevel::M;

/// Width of the light border around the code, in modules (ISO/IEC 18004 asks for 4).
pub const QUIET_ZONE_MODULES: usize = 4;
/// Smallest module size `qr_png` draws: zbarimg does not read one pixel per module.
pub const MIN_MODULE_PX: u32 = 2;
/// Largest module size `qr_png` draws, so that a request cannot ask for a huge image.
pub const MAX_MODULE_PX: u32 = 32;

/// Why a token could not be drawn.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QrError {
    /// The text does not fit in the largest QR code.
    #[error("too long for a QR code")]
    TooLong,
    /// The PNG encoder failed.
    #[error("PNG encoding failed: {0}")]
    Png(String),
}

impl QrError {
    /// Stable machine-readable code.
    pub fn code(&self) -> &'static str {
        match self {
            QrError::TooLong => "qr_too_long",
            QrError::Png(_) => "qr_png_failed",
        }
    }
}

/// Encodes in alphanumeric mode in the smallest version that holds the text; text outside
/// the alphanumeric set (not a token) falls back to the encoder's automatic modes.
fn encode(token: &str) -> Result<QrCode, QrError> {
    let data = token.as_bytes();
    for v in 1..=40 {
        let mut bits = Bits::new(Version::Normal(v));
        match bits.push_alphanumeric_data(data) {
            Ok(()) => {}
            Err(QrResultError::DataTooLong) => continue,
            Err(_) => {
                return QrCode::with_error_correction_level(data, EC_LEVEL)
                    .map_err(|_| QrError::TooLong);
            }
        }
        if bits.push_terminator(EC_LEVEL).is_ok() {
            return QrCode::with_bits(bits, EC_LEVEL).map_err(|_| QrError::TooLong);
        }
    }
    Err(QrError::TooLong)
}

/// The token as an SVG image, or an error if it does not fit in a QR code.
pub fn try_qr_svg(token: &str) -> Result<String, QrError> {
    let code = encode(token)?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .quiet_zone(true)
        .module_dimensions(4, 4)
        .dark_color(qrcode::render::svg::Color("#000000"))
        .light_color(qrcode::render::svg::Color("#ffffff"))
        .build())
}

/// The token as an SVG image. A token from [`crate::SigningKey::issue`] always fits; for
/// text that does not fit any QR code this returns an empty string (use [`try_qr_svg`] to
/// get the reason).
pub fn qr_svg(token: &str) -> String {
    try_qr_svg(token).unwrap_or_default()
}

/// The token as a greyscale PNG, `module_px` pixels per module (clamped to
/// [`MIN_MODULE_PX`]..=[`MAX_MODULE_PX`]), with a 4-module quiet zone.
pub fn try_qr_png(token: &str, module_px: u32) -> Result<Vec<u8>, QrError> {
    let code = encode(token)?;
    let px = module_px.clamp(MIN_MODULE_PX, MAX_MODULE_PX) as usize;
    let modules = code.width();
    let colors = code.to_colors();
    let side = (modules + 2 * QUIET_ZONE_MODULES) * px;
    let mut pixels = vec![0xFFu8; side * side];
    for (y, row) in colors.chunks_exact(modules).enumerate() {
        let top = (y + QUIET_ZONE_MODULES) * px;
        let first_line = &mut pixels[top * side..(top + 1) * side];
        for (x, colour) in row.iter().enumerate() {
            if *colour == Color::Dark {
                let left = (x + QUIET_ZONE_MODULES) * px;
                first_line[left..left + px].fill(0);
            }
        }
        // The other pixel rows of this module row are copies of the first.
        for line in 1..px {
            pixels.copy_within(top * side..(top + 1) * side, (top + line) * side);
        }
    }
    let side = u32::try_from(side).map_err(|_| QrError::TooLong)?;
    let mut out = Vec::with_capacity(pixels.len() / 8);
    let mut encoder = png::Encoder::new(&mut out, side, side);
    encoder.set_color(png::ColorType::Grayscale);
    encoder.set_depth(png::BitDepth::Eight);
    let png_err = |e: png::EncodingError| QrError::Png(e.to_string());
    let mut writer = encoder.write_header().map_err(png_err)?;
    writer.write_image_data(&pixels).map_err(png_err)?;
    writer.finish().map_err(png_err)?;
    Ok(out)
}

/// The token as a greyscale PNG (see [`try_qr_png`]). A token from
/// [`crate::SigningKey::issue`] always fits; otherwise this returns an empty vector.
pub fn qr_png(token: &str, module_px: u32) -> Vec<u8> {
    try_qr_png(token, module_px).unwrap_or_default()
}

/// The QR version (1–40) a token needs; useful to check that codes stay small.
pub fn qr_version(token: &str) -> Result<i16, QrError> {
    match encode(token)?.version() {
        qrcode::Version::Normal(v) | qrcode::Version::Micro(v) => Ok(v),
    }
}
