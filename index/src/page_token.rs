//! Opaque page tokens for listing a gallery. A token holds the sequence number of the last template of the
//! page, so pages stay correct while templates are added (new ones have higher numbers and come last), plus a
//! check value binding it to its application and gallery so a token cannot be replayed elsewhere or edited.

use crate::GalleryError;

const FORMAT_VERSION: u8 = 1;
const TOKEN_BYTES: usize = 1 + 8 + 4;
/// Characters of a refused token an error repeats.
const MAX_QUOTED: usize = 64;

pub(crate) fn encode(app: &str, gallery: &str, last_seq: u64) -> String {
    let mut bytes = Vec::with_capacity(TOKEN_BYTES);
    bytes.push(FORMAT_VERSION);
    bytes.extend_from_slice(&last_seq.to_le_bytes());
    bytes.extend_from_slice(&check_value(app, gallery, last_seq).to_le_bytes());
    hex::encode(bytes)
}

/// The sequence number a token continues after.
pub(crate) fn decode(token: &str, app: &str, gallery: &str) -> Result<u64, GalleryError> {
    let invalid = || {
        // A token is 26 hex digits: anything longer is quoted cut, so a client's value never fills the answer.
        let quoted: String = token.chars().take(MAX_QUOTED).collect();
        let cut = if quoted.len() < token.len() {
            "..."
        } else {
            ""
        };
        GalleryError::InvalidArgument(format!(
            "page token {quoted:?}{cut} is not one this gallery issued"
        ))
    };
    let bytes = hex::decode(token).map_err(|_| invalid())?;
    if bytes.len() != TOKEN_BYTES || bytes[0] != FORMAT_VERSION {
        return Err(invalid());
    }
    let last_seq = u64::from_le_bytes(bytes[1..9].try_into().expect("8 bytes"));
    let check = u32::from_le_bytes(bytes[9..13].try_into().expect("4 bytes"));
    if check != check_value(app, gallery, last_seq) {
        return Err(invalid());
    }
    Ok(last_seq)
}

/// FNV-1a over the fields: detects edits and tokens from another gallery (it is not a secret).
fn check_value(app: &str, gallery: &str, last_seq: u64) -> u32 {
    let mut hash: u32 = 0x811c_9dc5;
    let fields = [
        app.as_bytes(),
        &[0],
        gallery.as_bytes(),
        &[0],
        &last_seq.to_le_bytes(),
    ];
    for byte in fields.iter().flat_map(|f| f.iter()) {
        hash ^= *byte as u32;
        hash = hash.wrapping_mul(0x0100_0193);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Mutated tokens never panic and are never accepted for another gallery (see docs/RELIABILITY.md).
    #[test]
    fn fuzzed_tokens_are_refused_or_decoded_never_a_panic() {
        use faceserve_testkit::fuzz;
        let seeds: Vec<Vec<u8>> = [
            ("app", "people", 0),
            ("default", "g", u64::MAX),
            ("a", "b", 7),
        ]
        .iter()
        .map(|(app, gallery, seq)| encode(app, gallery, *seq).into_bytes())
        .collect();
        let report = fuzz::run(
            "page_token",
            &seeds,
            fuzz::executions(20_000),
            256,
            |bytes| {
                let token = String::from_utf8_lossy(bytes);
                match decode(&token, "app", "people") {
                    // Hex digits may come in either case; anything else decoding would be a forged token.
                    Ok(seq) => assert!(encode("app", "people", seq).eq_ignore_ascii_case(&token)),
                    // The quoted token is cut to 64 characters, each at most 10 bytes escaped: the message stays under 1 KiB.
                    Err(GalleryError::InvalidArgument(info)) => {
                        assert!(info.len() <= 1024, "{info}")
                    }
                    Err(other) => panic!("unexpected error {other:?}"),
                }
            },
        );
        report.assert_clean();
    }

    #[test]
    fn round_trips_and_rejects_foreign_or_edited_tokens() {
        let token = encode("app", "people", 4242);
        assert_eq!(decode(&token, "app", "people").unwrap(), 4242);
        assert!(decode(&token, "app", "others").is_err());
        assert!(decode(&token, "other-app", "people").is_err());
        let mut edited = token.clone().into_bytes();
        edited[4] = if edited[4] == b'0' { b'1' } else { b'0' };
        assert!(decode(std::str::from_utf8(&edited).unwrap(), "app", "people").is_err());
        assert!(decode("not hex", "app", "people").is_err());
        assert!(decode("", "app", "people").is_err());
    }
}
