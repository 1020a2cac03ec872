//! The `application/vnd.amazon.eventstream` binary framing, for outputs whose
//! payload member is an event stream (Lambda's InvokeWithResponseStream).
//!
//! A message is: total length (u32), headers length (u32), CRC32 of those
//! eight bytes, the headers, the payload, and a CRC32 of everything before it.
//! A header is: name length (u8), name, value type (u8; 7 = string), value
//! length (u16), value. All integers are big-endian.

use base64::Engine;
use serde_json::Value;
use stratus_model::{ServiceModel, ShapeKind, ShapeRef};

const STRING_TYPE: u8 = 7;

/// CRC-32 (IEEE 802.3, the zlib one), as the framing uses.
fn crc32(bytes: &[u8]) -> u32 {
    const TABLE: [u32; 256] = {
        let mut table = [0u32; 256];
        let mut i = 0;
        while i < 256 {
            let mut c = i as u32;
            let mut k = 0;
            while k < 8 {
                c = if c & 1 != 0 {
                    0xEDB8_8320 ^ (c >> 1)
                } else {
                    c >> 1
                };
                k += 1;
            }
            table[i] = c;
            i += 1;
        }
        table
    };
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc = TABLE[((crc ^ b as u32) & 0xFF) as usize] ^ (crc >> 8);
    }
    crc ^ 0xFFFF_FFFF
}

/// One framed message with string headers.
pub(crate) fn message(headers: &[(&str, &str)], payload: &[u8]) -> Vec<u8> {
    let mut h = Vec::new();
    for (name, value) in headers {
        let name = &name.as_bytes()[..name.len().min(255)];
        let value = &value.as_bytes()[..value.len().min(u16::MAX as usize)];
        h.push(name.len() as u8);
        h.extend_from_slice(name);
        h.push(STRING_TYPE);
        h.extend_from_slice(&(value.len() as u16).to_be_bytes());
        h.extend_from_slice(value);
    }
    let total = 12 + h.len() + payload.len() + 4;
    let mut out = Vec::with_capacity(total);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.extend_from_slice(&(h.len() as u32).to_be_bytes());
    let prelude_crc = crc32(&out);
    out.extend_from_slice(&prelude_crc.to_be_bytes());
    out.extend_from_slice(&h);
    out.extend_from_slice(payload);
    let crc = crc32(&out);
    out.extend_from_slice(&crc.to_be_bytes());
    out
}

/// Encode the events of an event-stream union `stream` (the shape `r`
/// points to). `value` is one event object per element of an array, or one
/// object whose set members are sent in the model's member order.
pub(crate) fn encode(model: &ServiceModel, r: &ShapeRef, value: &Value) -> Vec<u8> {
    let Some(union) = model.shape(&r.shape) else {
        return Vec::new();
    };
    let events: Vec<&Value> = match value {
        Value::Array(items) => items.iter().collect(),
        other => vec![other],
    };
    let mut out = Vec::new();
    for event in events {
        for (name, member) in union.ordered_members() {
            let Some(body) = event.get(name.as_str()).filter(|v| !v.is_null()) else {
                continue;
            };
            let (content_type, payload) = event_payload(model, member, body);
            let mut headers = vec![(":event-type", name.as_str()), (":message-type", "event")];
            if let Some(ct) = content_type {
                headers.push((":content-type", ct));
            }
            out.extend(message(&headers, &payload));
        }
    }
    out
}

/// An event's payload: its `eventpayload` member as raw bytes or text, or
/// else its members as a JSON object.
fn event_payload(
    model: &ServiceModel,
    member: &ShapeRef,
    body: &Value,
) -> (Option<&'static str>, Vec<u8>) {
    let Some(shape) = model.shape(&member.shape) else {
        return (None, Vec::new());
    };
    let bound = shape
        .ordered_members()
        .find(|(_, m)| m.event_payload == Some(true));
    if let Some((name, m)) = bound {
        let v = body.get(name.as_str()).cloned().unwrap_or(Value::Null);
        return match model.shape(&m.shape).map(|s| s.kind) {
            Some(ShapeKind::Blob) => (
                Some("application/octet-stream"),
                base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().unwrap_or_default())
                    .unwrap_or_default(),
            ),
            Some(ShapeKind::String) => (
                Some("text/plain"),
                v.as_str().unwrap_or_default().as_bytes().to_vec(),
            ),
            _ => (
                Some("application/json"),
                serde_json::to_vec(&v).unwrap_or_default(),
            ),
        };
    }
    (
        Some("application/json"),
        serde_json::to_vec(body).unwrap_or_else(|_| b"{}".to_vec()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc32_matches_the_standard_check_value() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    }

    #[test]
    fn message_framing() {
        let m = message(&[(":event-type", "X")], b"hi");
        let total = u32::from_be_bytes([m[0], m[1], m[2], m[3]]) as usize;
        let headers = u32::from_be_bytes([m[4], m[5], m[6], m[7]]) as usize;
        assert_eq!(total, m.len());
        assert_eq!(headers, 1 + 11 + 1 + 2 + 1);
        assert_eq!(
            u32::from_be_bytes([m[8], m[9], m[10], m[11]]),
            crc32(&m[..8])
        );
        assert_eq!(&m[12 + headers..total - 4], b"hi");
        let n = m.len();
        assert_eq!(
            u32::from_be_bytes([m[n - 4], m[n - 3], m[n - 2], m[n - 1]]),
            crc32(&m[..n - 4])
        );
    }
}
