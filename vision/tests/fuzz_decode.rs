//! Fuzzing photo decoding on stable Rust (`faceserve_testkit::fuzz`): real JPEGs (some with EXIF orientation) and
//! PNGs of the testdata, mutated, through `decode_image` with limits, including the reduced-scale JPEG path (a
//! mutated header claiming a huge size). Every input must decode within the limits or fail with a `DecodeError`,
//! never panic or hang; the long run of docs/RELIABILITY.md sets `FACESERVE_FUZZ_EXECS`.

use faceserve_testkit::{fuzz, testdata};
use faceserve_vision::decode::{DecodeLimits, ImageInput, decode_image};

fn seeds() -> Vec<Vec<u8>> {
    let data = testdata();
    let mut seeds = fuzz::seed_files(&data.join("faceapi_js_images"), &["png", "jpg"], 60_000, 12);
    seeds.extend(fuzz::seed_files(
        &data.join("lfw_view1"),
        &["jpg"],
        30_000,
        6,
    ));
    // JPEGs that carry an EXIF block.
    for name in ["image_T1.jpg", "image_F1.jpg"] {
        seeds.push(std::fs::read(data.join("antispoof_minivision_samples").join(name)).unwrap());
    }
    seeds
}

#[test]
fn mutated_photos_decode_within_limits_or_fail_cleanly() {
    let limits = DecodeLimits {
        max_bytes: 2_000_000,
        max_pixels: 8_000_000,
        max_decoded_pixels: 400_000,
    };
    let report = fuzz::run(
        "decode_image",
        &seeds(),
        fuzz::executions(1_500),
        200_000,
        |bytes| {
            if let Ok(image) = decode_image(ImageInput::Encoded(bytes), &limits) {
                let pixels = u64::from(image.width()) * u64::from(image.height());
                assert!(pixels <= limits.max_pixels, "{pixels} pixels");
                assert!(image.width() > 0 && image.height() > 0);
            }
        },
    );
    report.assert_clean();
}

#[test]
fn raw_frames_of_any_shape_are_checked() {
    let limits = DecodeLimits::default();
    let seeds = vec![vec![2, 0, 0, 0, 1, 0, 0, 0, 1, 2, 3, 4, 5, 6]];
    let report = fuzz::run(
        "decode_raw",
        &seeds,
        fuzz::executions(2_000),
        4_096,
        |bytes| {
            let (head, pixels) = bytes.split_at(bytes.len().min(8));
            let mut size = [0u8; 8];
            size[..head.len()].copy_from_slice(head);
            let width = u32::from_le_bytes(size[..4].try_into().unwrap());
            let height = u32::from_le_bytes(size[4..].try_into().unwrap());
            let input = ImageInput::Raw {
                width,
                height,
                order: faceserve_vision::decode::PixelOrder::Bgr,
                pixels,
            };
            if let Ok(image) = decode_image(input, &limits) {
                assert_eq!(image.as_raw().len(), pixels.len());
            }
        },
    );
    report.assert_clean();
}
