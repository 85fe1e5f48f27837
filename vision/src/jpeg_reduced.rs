//! Large JPEGs decoded at a reduced scale: the JPEG decoder's DCT scaling (1/2, 1/4 or 1/8, done in the inverse
//! DCT, so the full-size pixels never exist) keeps the memory and time of a 50-megapixel phone photo to those of
//! a few megapixels. The detector sees at most 640 px and an aligned face 112 px, so a face big enough to
//! recognise in the full photo is still big enough at the reduced scale. `image`'s own JPEG decoder (zune-jpeg)
//! has no DCT scaling, hence `jpeg-decoder` here.

use std::io::Cursor;

use image::metadata::Orientation;
use image::{DynamicImage, RgbImage};
use jpeg_decoder::{Decoder, PixelFormat};

/// The DCT scale denominators a JPEG decoder offers, smallest reduction first.
const REDUCTIONS: [u32; 4] = [1, 2, 4, 8];

/// The smallest reduction that brings a `width` x `height` image within `max_pixels` (8 if none does).
pub fn reduction_for(width: u32, height: u32, max_pixels: u64) -> u32 {
    REDUCTIONS
        .into_iter()
        .find(|&r| u64::from(width.div_ceil(r)) * u64::from(height.div_ceil(r)) <= max_pixels)
        .unwrap_or(8)
}

/// Decodes `bytes` (a JPEG whose header said `width` x `height`) at the reduction that fits `max_pixels`, upright;
/// the error is the decoder's message.
pub fn decode_reduced(
    bytes: &[u8],
    width: u32,
    height: u32,
    max_pixels: u64,
) -> Result<RgbImage, String> {
    let undecodable = |e: jpeg_decoder::Error| e.to_string();
    let reduction = reduction_for(width, height, max_pixels);
    let mut decoder = Decoder::new(Cursor::new(bytes));
    // A progressive JPEG keeps its coefficients for the whole image (2 bytes per pixel and component); this
    // bounds that buffer to what the header's size implies, so a forged stream cannot ask for more.
    decoder.set_max_decoding_buffer_size((u64::from(width) * u64::from(height) * 8) as usize);
    decoder.read_info().map_err(undecodable)?;
    let to_u16 = |side: u32| u16::try_from(side.div_ceil(reduction)).unwrap_or(u16::MAX);
    decoder
        .scale(to_u16(width), to_u16(height))
        .map_err(undecodable)?;
    let pixels = decoder.decode().map_err(undecodable)?;
    let info = decoder
        .info()
        .ok_or_else(|| "JPEG header was not read".to_string())?;
    let (w, h) = (u32::from(info.width), u32::from(info.height));
    let rgb = to_rgb(&pixels, info.pixel_format);
    let image = RgbImage::from_raw(w, h, rgb)
        .ok_or_else(|| format!("JPEG decoded to a wrong number of samples for {w}x{h}"))?;
    let orientation = decoder
        .exif_data()
        .and_then(Orientation::from_exif_chunk)
        .unwrap_or(Orientation::NoTransforms);
    let mut image = DynamicImage::ImageRgb8(image);
    image.apply_orientation(orientation);
    Ok(image.into_rgb8())
}

fn to_rgb(pixels: &[u8], format: PixelFormat) -> Vec<u8> {
    match format {
        PixelFormat::RGB24 => pixels.to_vec(),
        PixelFormat::L8 => pixels.iter().flat_map(|&l| [l, l, l]).collect(),
        // Big-endian 16-bit grey: the high byte is the 8-bit value.
        PixelFormat::L16 => pixels
            .chunks_exact(2)
            .flat_map(|l| [l[0], l[0], l[0]])
            .collect(),
        // jpeg-decoder hands CMYK out as stored (Adobe files invert it, which it undoes); the naive conversion
        // is what a browser without a colour profile shows.
        PixelFormat::CMYK32 => pixels
            .chunks_exact(4)
            .flat_map(|p| {
                let k = 255 - u16::from(p[3]);
                let channel = |c: u8| ((255 - u16::from(c)) * k / 255) as u8;
                [channel(p[0]), channel(p[1]), channel(p[2])]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reduction_is_the_smallest_that_fits() {
        assert_eq!(reduction_for(4000, 3000, 16_000_000), 1);
        assert_eq!(reduction_for(8160, 6120, 16_000_000), 2);
        assert_eq!(reduction_for(8160, 6120, 4_000_000), 4);
        assert_eq!(reduction_for(65_000, 65_000, 1_000), 8);
    }

    #[test]
    fn a_reduced_decode_keeps_the_picture() {
        let image = RgbImage::from_fn(400, 200, |x, _| {
            if x < 200 {
                image::Rgb([250, 10, 10])
            } else {
                image::Rgb([10, 10, 250])
            }
        });
        let mut jpeg = Cursor::new(Vec::new());
        image.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let reduced = decode_reduced(jpeg.get_ref(), 400, 200, 10_000).unwrap();
        assert_eq!(reduced.dimensions(), (100, 50));
        let left = reduced.get_pixel(20, 25).0;
        let right = reduced.get_pixel(80, 25).0;
        assert!(left[0] > 200 && left[2] < 60, "{left:?}");
        assert!(right[2] > 200 && right[0] < 60, "{right:?}");
    }
}
