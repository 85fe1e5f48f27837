//! The Image API's opaque biometric template (`$template` in v1, `template.<name>.blob` in v2): faceserve's bytes
//! for the recognizer's embedding, self-describing so a template made by another recognizer is refused (code 115)
//! instead of compared. Layout: `FST1`, the recognizer name's length (u8) and name, the dimension (u16 LE), the
//! L2-normalised embedding as f32 LE. The spec's own templates (`_face_template_extractor_1000_12`) belong to another
//! engine and can not be read here.

use faceserve_proto::v1 as pb;

use crate::ApiError;

const MAGIC: &[u8; 4] = b"FST1";

pub fn encode(template: &pb::Template) -> Vec<u8> {
    let name = template.model.as_bytes();
    let name = &name[..name.len().min(u8::MAX as usize)];
    let mut out = Vec::with_capacity(8 + name.len() + template.embedding.len() * 4);
    out.extend_from_slice(MAGIC);
    out.push(name.len() as u8);
    out.extend_from_slice(name);
    out.extend_from_slice(&(template.embedding.len() as u16).to_le_bytes());
    for v in &template.embedding {
        out.extend_from_slice(&v.to_le_bytes());
    }
    out
}

pub fn decode(bytes: &[u8]) -> Result<pb::Template, ApiError> {
    let malformed = || {
        ApiError::invalid(
            "the template is not a faceserve template (made by this server's template extractors)",
        )
    };
    let rest = bytes.strip_prefix(MAGIC.as_slice()).ok_or_else(malformed)?;
    let (&name_len, rest) = rest.split_first().ok_or_else(malformed)?;
    let name_len = name_len as usize;
    if rest.len() < name_len + 2 {
        return Err(malformed());
    }
    let (name, rest) = rest.split_at(name_len);
    let (dim, rest) = rest.split_at(2);
    let dim = u16::from_le_bytes([dim[0], dim[1]]) as usize;
    if rest.len() != dim * 4 {
        return Err(malformed());
    }
    Ok(pb::Template {
        model: String::from_utf8(name.to_vec()).map_err(|_| malformed())?,
        embedding: rest
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_round_trip_and_garbage_is_refused() {
        let template = pb::Template {
            model: "w600k_mbf".into(),
            embedding: vec![0.6, -0.8, 0.0],
        };
        let bytes = encode(&template);
        assert_eq!(bytes.len(), 4 + 1 + 9 + 2 + 12);
        assert_eq!(decode(&bytes).unwrap(), template);
        assert!(decode(b"FST1").is_err());
        assert!(decode(&bytes[..bytes.len() - 1]).is_err());
        assert!(decode(b"not a template at all").is_err());
    }
}
