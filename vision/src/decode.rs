//! Turning request bytes into an upright RGB image, refusing bad input before it costs memory: the type is decided
//! from the bytes (never from a header or a file name), the size limits are checked on the header before any pixel
//! is decoded, and EXIF orientation is applied so boxes refer to the image as a person sees it.

use std::io::Cursor;

use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, RgbImage};

/// A photo's limits: encoded bytes and header pixels (refused beyond), and the pixels a JPEG is decoded to (a
/// larger one is decoded at a reduced DCT scale). The default is the second spec's "no more than 4.7 MB with
/// resolution of no more than 10 megapixels"; the server widens it for APIs the spec does not limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DecodeLimits {
    pub max_bytes: usize,
    pub max_pixels: u64,
    pub max_decoded_pixels: u64,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        Self {
            max_bytes: 4_700_000,
            max_pixels: 10_000_000,
            max_decoded_pixels: 16_000_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PixelOrder {
    Rgb,
    Bgr,
}

/// A photo as it arrives in a request.
#[derive(Debug, Clone, Copy)]
pub enum ImageInput<'a> {
    /// The request had no photo at all.
    Missing,
    /// JPEG or PNG file bytes.
    Encoded(&'a [u8]),
    /// Tightly packed 8-bit pixels, `width * 3` bytes per row.
    Raw {
        width: u32,
        height: u32,
        order: PixelOrder,
        pixels: &'a [u8],
    },
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DecodeError {
    #[error("photo should not be empty")]
    Missing,
    #[error("photo size is 0 bytes")]
    ZeroBytes,
    #[error("wrong mime-type in input data")]
    WrongMimeType,
    #[error("can not decode image, check it is valid jpeg or png file ({0})")]
    Undecodable(String),
    #[error("image is {bytes} bytes, over the limit of {limit} bytes")]
    TooManyBytes { bytes: usize, limit: usize },
    #[error("image is {width}x{height} pixels, over the limit of {limit} pixels")]
    TooManyPixels { width: u32, height: u32, limit: u64 },
    #[error("raw image: {0}")]
    InvalidRaw(String),
}

/// The encoded formats the spec accepts, recognised by their signatures.
fn sniff_format(bytes: &[u8]) -> Option<ImageFormat> {
    const PNG_SIGNATURE: &[u8] = b"\x89PNG\r\n\x1a\n";
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some(ImageFormat::Jpeg)
    } else if bytes.starts_with(PNG_SIGNATURE) {
        Some(ImageFormat::Png)
    } else {
        None
    }
}

/// Decodes a request's photo into an upright RGB image within `limits`.
pub fn decode_image(input: ImageInput<'_>, limits: &DecodeLimits) -> Result<RgbImage, DecodeError> {
    match input {
        ImageInput::Missing => Err(DecodeError::Missing),
        ImageInput::Encoded(bytes) => decode_encoded(bytes, limits),
        ImageInput::Raw {
            width,
            height,
            order,
            pixels,
        } => raw_to_rgb(width, height, order, pixels, limits),
    }
}

fn decode_encoded(bytes: &[u8], limits: &DecodeLimits) -> Result<RgbImage, DecodeError> {
    if bytes.is_empty() {
        return Err(DecodeError::ZeroBytes);
    }
    if bytes.len() > limits.max_bytes {
        return Err(DecodeError::TooManyBytes {
            bytes: bytes.len(),
            limit: limits.max_bytes,
        });
    }
    let format = sniff_format(bytes).ok_or(DecodeError::WrongMimeType)?;
    if format == ImageFormat::Jpeg && !jpeg_has_end_marker(bytes) {
        // The JPEG decoder pads a cut-off scan with grey instead of failing; a face found in half a photo would be
        // a silent error, so a JPEG without its end-of-image marker is refused as undecodable.
        return Err(DecodeError::Undecodable(
            "JPEG data is truncated (no end-of-image marker)".into(),
        ));
    }
    let undecodable = |e: image::ImageError| DecodeError::Undecodable(e.to_string());

    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut decoder_limits = image::Limits::default();
    // Upper bound for one RGBA16 frame of the largest allowed image, so a forged header cannot make the decoder
    // allocate more than the pixel limit implies.
    decoder_limits.max_alloc = Some(limits.max_pixels.saturating_mul(8));
    reader.limits(decoder_limits);
    let mut decoder = reader.into_decoder().map_err(undecodable)?;
    let (width, height) = decoder.dimensions();
    check_pixels(width, height, limits)?;
    if format == ImageFormat::Jpeg
        && u64::from(width) * u64::from(height) > limits.max_decoded_pixels
    {
        return crate::jpeg_reduced::decode_reduced(
            bytes,
            width,
            height,
            limits.max_decoded_pixels,
        )
        .map_err(DecodeError::Undecodable);
    }
    let orientation = decoder.orientation().map_err(undecodable)?;
    let mut image = DynamicImage::from_decoder(decoder).map_err(undecodable)?;
    image.apply_orientation(orientation);
    Ok(match image {
        DynamicImage::ImageRgb8(rgb) => rgb,
        other => other.to_rgb8(),
    })
}

/// Whether the JPEG stream ends with its EOI marker, allowing trailing padding that some cameras append.
fn jpeg_has_end_marker(bytes: &[u8]) -> bool {
    const TRAILER_SEARCH: usize = 64 * 1024;
    let tail = &bytes[bytes.len().saturating_sub(TRAILER_SEARCH)..];
    tail.windows(2).any(|w| w == [0xFF, 0xD9])
}

fn check_pixels(width: u32, height: u32, limits: &DecodeLimits) -> Result<(), DecodeError> {
    if width == 0 || height == 0 {
        return Err(DecodeError::Undecodable(format!(
            "image has no pixels ({width}x{height})"
        )));
    }
    if u64::from(width) * u64::from(height) > limits.max_pixels {
        return Err(DecodeError::TooManyPixels {
            width,
            height,
            limit: limits.max_pixels,
        });
    }
    Ok(())
}

fn raw_to_rgb(
    width: u32,
    height: u32,
    order: PixelOrder,
    pixels: &[u8],
    limits: &DecodeLimits,
) -> Result<RgbImage, DecodeError> {
    if pixels.is_empty() {
        return Err(DecodeError::ZeroBytes);
    }
    if width == 0 || height == 0 {
        return Err(DecodeError::InvalidRaw(format!(
            "width and height must be positive, got {width}x{height}"
        )));
    }
    check_pixels(width, height, limits)?;
    let expected = width as usize * height as usize * 3;
    if pixels.len() != expected {
        return Err(DecodeError::InvalidRaw(format!(
            "{width}x{height} 8-bit 3-channel pixels need {expected} bytes, got {}",
            pixels.len()
        )));
    }
    let mut data = pixels.to_vec();
    if order == PixelOrder::Bgr {
        for px in data.chunks_exact_mut(3) {
            px.swap(0, 2);
        }
    }
    Ok(RgbImage::from_raw(width, height, data).expect("length checked above"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
        let mut out = Cursor::new(Vec::new());
        img.write_to(&mut out, format).unwrap();
        out.into_inner()
    }

    fn gradient(w: u32, h: u32) -> RgbImage {
        RgbImage::from_fn(w, h, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 128])
        })
    }

    #[test]
    fn spec_errors_come_from_the_bytes() {
        let limits = DecodeLimits::default();
        assert_eq!(
            decode_image(ImageInput::Missing, &limits),
            Err(DecodeError::Missing)
        );
        assert_eq!(
            decode_image(ImageInput::Encoded(b""), &limits),
            Err(DecodeError::ZeroBytes)
        );
        assert_eq!(
            decode_image(ImageInput::Encoded(b"hello, this is text"), &limits),
            Err(DecodeError::WrongMimeType)
        );
        let jpeg = encode(&gradient(64, 48), ImageFormat::Jpeg);
        let cut = &jpeg[..jpeg.len() / 2];
        assert!(matches!(
            decode_image(ImageInput::Encoded(cut), &limits),
            Err(DecodeError::Undecodable(_))
        ));
    }

    #[test]
    fn jpeg_and_png_decode_to_rgb() {
        let img = gradient(40, 30);
        for format in [ImageFormat::Jpeg, ImageFormat::Png] {
            let bytes = encode(&img, format);
            let out = decode_image(ImageInput::Encoded(&bytes), &DecodeLimits::default()).unwrap();
            assert_eq!(out.dimensions(), (40, 30));
        }
    }

    #[test]
    fn limits_are_checked_before_decoding() {
        let bytes = encode(&gradient(200, 100), ImageFormat::Png);
        let tight = DecodeLimits {
            max_bytes: 10_000_000,
            max_pixels: 19_999,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode_image(ImageInput::Encoded(&bytes), &tight),
            Err(DecodeError::TooManyPixels {
                width: 200,
                height: 100,
                ..
            })
        ));
        let small = DecodeLimits {
            max_bytes: 10,
            max_pixels: 1 << 30,
            ..DecodeLimits::default()
        };
        assert!(matches!(
            decode_image(ImageInput::Encoded(&bytes), &small),
            Err(DecodeError::TooManyBytes { .. })
        ));
    }

    #[test]
    fn raw_pixels_are_checked_and_bgr_is_swapped() {
        let limits = DecodeLimits::default();
        let bgr = [1u8, 2, 3, 4, 5, 6];
        let img = decode_image(
            ImageInput::Raw {
                width: 2,
                height: 1,
                order: PixelOrder::Bgr,
                pixels: &bgr,
            },
            &limits,
        )
        .unwrap();
        assert_eq!(img.get_pixel(0, 0).0, [3, 2, 1]);
        let short = decode_image(
            ImageInput::Raw {
                width: 3,
                height: 1,
                order: PixelOrder::Rgb,
                pixels: &bgr,
            },
            &limits,
        );
        assert!(matches!(short, Err(DecodeError::InvalidRaw(_))));
    }
}
