//! The protobuf wire format at the level the ONNX graph edits need: a message split into its fields (number, wire
//! type, value, and the exact bytes they came from) and the encoders to write fields back. Fields that are not
//! edited are copied as their original bytes, so unknown fields, field order and packing survive untouched.

/// Wire type of a length-delimited field (strings, bytes, nested messages, packed repeated scalars).
pub(super) const LEN: u8 = 2;
const VARINT: u8 = 0;
const FIXED64: u8 = 1;
const FIXED32: u8 = 5;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("malformed protobuf in {message} at byte {offset}: {problem}")]
pub struct WireError {
    pub message: &'static str,
    pub offset: usize,
    pub problem: &'static str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Value<'a> {
    Varint(u64),
    Fixed64(&'a [u8]),
    Bytes(&'a [u8]),
    Fixed32(&'a [u8]),
}

/// One field of a message as it appears on the wire.
#[derive(Debug, Clone, Copy)]
pub(super) struct Field<'a> {
    pub number: u32,
    pub value: Value<'a>,
    /// The field's bytes in the input, tag included: what is written back when the field is kept.
    pub raw: &'a [u8],
}

impl<'a> Field<'a> {
    /// The payload of a length-delimited field (string, bytes, message, packed list).
    pub fn bytes(&self) -> Option<&'a [u8]> {
        match self.value {
            Value::Bytes(b) => Some(b),
            _ => None,
        }
    }

    pub fn string(&self) -> Option<&'a str> {
        self.bytes().and_then(|b| std::str::from_utf8(b).ok())
    }
}

/// Reads a varint at `pos`, returning it and the position after it.
fn read_varint(
    buf: &[u8],
    mut pos: usize,
    message: &'static str,
) -> Result<(u64, usize), WireError> {
    let start = pos;
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *buf.get(pos).ok_or(WireError {
            message,
            offset: start,
            problem: "truncated varint",
        })?;
        pos += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok((value, pos));
        }
    }
    Err(WireError {
        message,
        offset: start,
        problem: "varint longer than 10 bytes",
    })
}

/// Splits `buf`, the encoding of a message of type `message` (named in errors), into its fields.
pub(super) fn fields<'a>(
    buf: &'a [u8],
    message: &'static str,
) -> Result<Vec<Field<'a>>, WireError> {
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < buf.len() {
        let start = pos;
        let (tag, after_tag) = read_varint(buf, pos, message)?;
        let fail = |problem| WireError {
            message,
            offset: start,
            problem,
        };
        let number = u32::try_from(tag >> 3).map_err(|_| fail("field number out of range"))?;
        if number == 0 {
            return Err(fail("field number 0"));
        }
        pos = after_tag;
        let take = |pos: usize, n: usize| -> Option<(&'a [u8], usize)> {
            let end = pos.checked_add(n)?;
            Some((buf.get(pos..end)?, end))
        };
        let value = match (tag & 7) as u8 {
            VARINT => {
                let (v, next) = read_varint(buf, pos, message)?;
                pos = next;
                Value::Varint(v)
            }
            FIXED64 => {
                let (b, next) = take(pos, 8).ok_or_else(|| fail("truncated fixed64"))?;
                pos = next;
                Value::Fixed64(b)
            }
            LEN => {
                let (len, next) = read_varint(buf, pos, message)?;
                let len = usize::try_from(len).map_err(|_| fail("length out of range"))?;
                let (b, next) = take(next, len).ok_or_else(|| fail("length past the end"))?;
                pos = next;
                Value::Bytes(b)
            }
            FIXED32 => {
                let (b, next) = take(pos, 4).ok_or_else(|| fail("truncated fixed32"))?;
                pos = next;
                Value::Fixed32(b)
            }
            _ => return Err(fail("unsupported wire type (groups are not used by ONNX)")),
        };
        out.push(Field {
            number,
            value,
            raw: &buf[start..pos],
        });
    }
    Ok(out)
}

/// The values of a repeated int64 field, packed or not (proto2 writers use either).
pub(super) fn repeated_int64(
    fields: &[Field<'_>],
    number: u32,
    message: &'static str,
) -> Result<Vec<i64>, WireError> {
    let mut values = Vec::new();
    for field in fields.iter().filter(|f| f.number == number) {
        match field.value {
            Value::Varint(v) => values.push(v as i64),
            Value::Bytes(packed) => {
                let mut pos = 0;
                while pos < packed.len() {
                    let (v, next) = read_varint(packed, pos, message)?;
                    values.push(v as i64);
                    pos = next;
                }
            }
            _ => {
                return Err(WireError {
                    message,
                    offset: 0,
                    problem: "int64 field with a fixed-width wire type",
                });
            }
        }
    }
    Ok(values)
}

/// The first field numbered `number`.
pub(super) fn first<'f, 'a>(fields: &'f [Field<'a>], number: u32) -> Option<&'f Field<'a>> {
    fields.iter().find(|f| f.number == number)
}

pub(crate) fn put_varint(out: &mut Vec<u8>, mut value: u64) {
    while value >= 0x80 {
        out.push((value as u8) | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

pub(crate) fn put_varint_field(out: &mut Vec<u8>, number: u32, value: u64) {
    put_varint(out, u64::from(number) << 3 | u64::from(VARINT));
    put_varint(out, value);
}

pub(crate) fn put_bytes_field(out: &mut Vec<u8>, number: u32, payload: &[u8]) {
    put_varint(out, u64::from(number) << 3 | u64::from(LEN));
    put_varint(out, payload.len() as u64);
    out.extend_from_slice(payload);
}

/// What happens to one field when a message is written back.
pub(super) enum Edit {
    Keep,
    Drop,
    /// These encoded fields (tags included) instead of the original.
    Replace(Vec<u8>),
}

/// Writes `fields` back, each kept as its original bytes unless `edit` says otherwise.
pub(super) fn rewrite<'a, E>(
    fields: &[Field<'a>],
    mut edit: impl FnMut(usize, &Field<'a>) -> Result<Edit, E>,
) -> Result<Vec<u8>, E> {
    let mut out = Vec::with_capacity(fields.iter().map(|f| f.raw.len()).sum());
    for (index, field) in fields.iter().enumerate() {
        match edit(index, field)? {
            Edit::Keep => out.extend_from_slice(field.raw),
            Edit::Drop => {}
            Edit::Replace(bytes) => out.extend_from_slice(&bytes),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_including_negative_int64() {
        for v in [0i64, 1, 127, 128, 300, i64::MAX, -1, i64::MIN] {
            let mut buf = Vec::new();
            put_varint_field(&mut buf, 7, v as u64);
            let parsed = fields(&buf, "test").unwrap();
            assert_eq!(parsed.len(), 1);
            assert_eq!(parsed[0].number, 7);
            assert_eq!(parsed[0].value, Value::Varint(v as u64));
            assert_eq!(parsed[0].raw, &buf[..]);
        }
        let mut minus_one = Vec::new();
        put_varint(&mut minus_one, -1i64 as u64);
        assert_eq!(minus_one.len(), 10, "negative int64 take ten bytes");
    }

    #[test]
    fn packed_and_unpacked_int64_read_alike() {
        let mut packed_payload = Vec::new();
        for v in [1i64, -1, 40] {
            put_varint(&mut packed_payload, v as u64);
        }
        let mut packed = Vec::new();
        put_bytes_field(&mut packed, 1, &packed_payload);
        let mut unpacked = Vec::new();
        for v in [1i64, -1, 40] {
            put_varint_field(&mut unpacked, 1, v as u64);
        }
        for buf in [packed, unpacked] {
            let f = fields(&buf, "test").unwrap();
            assert_eq!(repeated_int64(&f, 1, "test").unwrap(), vec![1, -1, 40]);
        }
    }

    #[test]
    fn truncated_input_is_an_error_with_its_offset() {
        let mut buf = Vec::new();
        put_varint_field(&mut buf, 1, 5);
        put_bytes_field(&mut buf, 2, b"hello");
        let err = fields(&buf[..buf.len() - 1], "GraphProto").unwrap_err();
        assert_eq!(err.offset, 2);
        assert_eq!(err.problem, "length past the end");
        assert!(err.to_string().contains("GraphProto"), "{err}");
        assert!(fields(&[0x80], "test").is_err(), "truncated varint");
        assert!(fields(&[0x0b], "test").is_err(), "group start");
    }
}
