//! Reading the one Python bytes literal of a source file (`NAME = b'...'`), for packages that ship an ONNX model as
//! Python source. Only the escapes Python defines for bytes literals are accepted.

#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LiteralError {
    #[error("no bytes literal found")]
    NotFound,
    #[error("bytes literal is not terminated")]
    Unterminated,
    #[error("invalid escape at byte {0}")]
    BadEscape(usize),
}

/// The value of the first `b'...'` or `b"..."` literal in `source` (no raw, triple-quoted or implicitly
/// concatenated literals: the packages we read use none).
pub fn first_bytes_literal(source: &[u8]) -> Result<Vec<u8>, LiteralError> {
    let start = source
        .windows(2)
        .position(|w| w[0] == b'b' && (w[1] == b'\'' || w[1] == b'"'))
        .ok_or(LiteralError::NotFound)?;
    let quote = source[start + 1];
    let mut out = Vec::with_capacity(source.len() / 3);
    let mut i = start + 2;
    loop {
        let &c = source.get(i).ok_or(LiteralError::Unterminated)?;
        match c {
            b'\\' => {
                let &e = source.get(i + 1).ok_or(LiteralError::Unterminated)?;
                i += 2;
                match e {
                    b'\\' | b'\'' | b'"' => out.push(e),
                    b'n' => out.push(b'\n'),
                    b'r' => out.push(b'\r'),
                    b't' => out.push(b'\t'),
                    b'a' => out.push(0x07),
                    b'b' => out.push(0x08),
                    b'f' => out.push(0x0c),
                    b'v' => out.push(0x0b),
                    b'\n' => {} // line continuation
                    b'x' => {
                        let hex = source.get(i..i + 2).ok_or(LiteralError::Unterminated)?;
                        let text =
                            std::str::from_utf8(hex).map_err(|_| LiteralError::BadEscape(i))?;
                        out.push(
                            u8::from_str_radix(text, 16).map_err(|_| LiteralError::BadEscape(i))?,
                        );
                        i += 2;
                    }
                    b'0'..=b'7' => {
                        // Up to three octal digits, the first already read.
                        let mut value = u32::from(e - b'0');
                        for _ in 0..2 {
                            match source.get(i) {
                                Some(&d @ b'0'..=b'7') => {
                                    value = value * 8 + u32::from(d - b'0');
                                    i += 1;
                                }
                                _ => break,
                            }
                        }
                        out.push((value & 0xff) as u8);
                    }
                    // Python keeps unknown escapes as written.
                    other => out.extend_from_slice(&[b'\\', other]),
                }
            }
            c if c == quote => return Ok(out),
            b'\n' => return Err(LiteralError::Unterminated),
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_decode_as_python_does() {
        let src = br#"WEIGHTS = b'\x08\x06ab\n\t\r\\\'"\0\101\q'
"#;
        assert_eq!(
            first_bytes_literal(src).unwrap(),
            b"\x08\x06ab\n\t\r\\'\"\0A\\q".to_vec()
        );
        assert_eq!(
            first_bytes_literal(b"X = b\"it's\"").unwrap(),
            b"it's".to_vec()
        );
    }

    #[test]
    fn malformed_literals_are_refused() {
        assert_eq!(first_bytes_literal(b"x = 1"), Err(LiteralError::NotFound));
        assert_eq!(
            first_bytes_literal(b"x = b'abc"),
            Err(LiteralError::Unterminated)
        );
        assert_eq!(
            first_bytes_literal(b"x = b'\\xZZ'"),
            Err(LiteralError::BadEscape(8))
        );
    }
}
