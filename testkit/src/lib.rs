//! faceserve-testkit: what the tests of every crate share. The real photos, specifications and model mirror live
//! beside the workspace in `../shared` (each folder can be moved with an environment variable), the runtime models
//! folder is the workspace's `models/`, and servers listen on free loopback ports. Only tests depend on it.

pub mod fuzz;

use std::net::TcpListener;
use std::path::{Path, PathBuf};

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the testkit is a workspace member")
        .to_path_buf()
}

/// `$variable`, else `../shared/<name>` beside the workspace; fails the test naming both when it is missing.
fn shared(name: &str, variable: &str) -> PathBuf {
    let dir = std::env::var_os(variable)
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("../shared").join(name));
    assert!(
        dir.is_dir(),
        "{name} not found at {}: set {variable} to the {name} folder",
        dir.display()
    );
    dir
}

/// The real photos and their labels: `FACESERVE_TESTDATA`, else `../shared/testdata`.
pub fn testdata() -> PathBuf {
    shared("testdata", "FACESERVE_TESTDATA")
}

/// The specifications: `FACESERVE_SEEDS`, else `../shared/seeds`.
pub fn seeds() -> PathBuf {
    shared("seeds", "FACESERVE_SEEDS")
}

/// The model mirror (verified model files and the registry originals in `sources/`): `FACESERVE_MODELS_MIRROR`,
/// else `../shared/models`.
pub fn models_mirror() -> PathBuf {
    shared("models", "FACESERVE_MODELS_MIRROR")
}

/// The bytes of a photo of the test data.
pub fn photo(relative: &str) -> Vec<u8> {
    let path = testdata().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("can not read {}: {e}", path.display()))
}

/// The runtime models folder the tests share (git-ignored), filled on first use.
pub fn models_dir() -> PathBuf {
    workspace_root().join("models")
}

/// A loopback port nobody listens on now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("a loopback port")
        .local_addr()
        .expect("its address")
        .port()
}

/// A PNG whose header claims `width` x `height` pixels over a few bytes of data: a decompression bomb, which a
/// decoder must refuse from the header before allocating anything.
pub fn bomb_png(width: u32, height: u32) -> Vec<u8> {
    fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
        out.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let start = out.len();
        out.extend_from_slice(kind);
        out.extend_from_slice(data);
        let crc = crc32(&out[start..]);
        out.extend_from_slice(&crc.to_be_bytes());
    }
    let mut header = Vec::new();
    header.extend_from_slice(&width.to_be_bytes());
    header.extend_from_slice(&height.to_be_bytes());
    header.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no filter, no interlace
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    chunk(&mut png, b"IHDR", &header);
    // A zlib stream of zeros: inflates to far more than its size.
    chunk(
        &mut png,
        b"IDAT",
        &[0x78, 0x9C, 0x63, 0x00, 0x00, 0x00, 0x01, 0x00, 0x01],
    );
    chunk(&mut png, b"IEND", &[]);
    png
}

/// CRC-32 (IEEE), as PNG chunks carry it.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Environment for every `faceserve` a test starts: no queue-time budgets. The tests share two cores with each
/// other, so a model's measured service time says nothing about production, and a budget would refuse their
/// bursts at random; the overload tests set budgets by flag, which beats the environment.
pub const SERVER_ENV: &[(&str, &str)] = &[
    ("FACESERVE_DETECTOR_MAX_QUEUE_MS", "0"),
    ("FACESERVE_RECOGNIZER_MAX_QUEUE_MS", "0"),
    ("FACESERVE_AGE_MAX_QUEUE_MS", "0"),
    ("FACESERVE_GENDER_MAX_QUEUE_MS", "0"),
    ("FACESERVE_EMOTION_MAX_QUEUE_MS", "0"),
    ("FACESERVE_LIVENESS_MAX_QUEUE_MS", "0"),
    ("FACESERVE_MASK_MAX_QUEUE_MS", "0"),
    ("FACESERVE_KEYPOINTS_MAX_QUEUE_MS", "0"),
    ("FACESERVE_POSE_MAX_QUEUE_MS", "0"),
    ("FACESERVE_EYES_MAX_QUEUE_MS", "0"),
    ("FACESERVE_BODY_MAX_QUEUE_MS", "0"),
    ("FACESERVE_DEEPFAKE_MAX_QUEUE_MS", "0"),
];
