//! Messages as stored in memory, and validation of what a sender supplies.

use std::collections::BTreeMap;
use std::sync::Arc;

use stratus_core::AwsError;

use crate::errors::invalid_parameter;
use crate::generated::{MessageAttributeValue, MessageSystemAttributeValue};

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum AttrData {
    Str(Box<str>),
    Bin(Box<[u8]>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct AttrValue {
    pub data_type: Box<str>,
    pub data: AttrData,
}

impl AttrValue {
    pub(crate) fn to_api(&self) -> MessageAttributeValue {
        let mut v = MessageAttributeValue {
            data_type: self.data_type.to_string(),
            ..Default::default()
        };
        match &self.data {
            AttrData::Str(s) => v.string_value = Some(s.to_string()),
            AttrData::Bin(b) => v.binary_value = Some(stratus_core::Blob(b.to_vec())),
        }
        v
    }
}

/// Where a message is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MsgState {
    Delayed = 0,
    Visible = 1,
    InFlight = 2,
}

/// Everything a message has beyond a plain body; absent for most messages.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct MsgExtra {
    /// Sorted by name.
    pub attrs: Vec<(Box<str>, AttrValue)>,
    pub md5_attrs: Option<[u8; 16]>,
    pub trace_header: Option<Box<str>>,
    pub group_id: Option<Arc<str>>,
    pub dedup_id: Option<Box<str>>,
    pub seq: u64,
    pub dlq_source_arn: Option<Box<str>>,
    pub sender_id: Option<Box<str>>,
}

#[derive(Clone, Debug)]
pub(crate) struct Msg {
    pub message_id: [u8; 16],
    pub body: Box<str>,
    pub md5_body: [u8; 16],
    pub extra: Option<Box<MsgExtra>>,
    pub sent_at: i64,
    /// Retention counts from here (epoch millis).
    pub retention_base: i64,
    pub visible_at: i64,
    pub first_receive: i64,
    pub last_receive: i64,
    pub nonce: u64,
    pub receive_count: u32,
    pub generation: u32,
    pub state: MsgState,
}

impl Msg {
    pub(crate) fn group(&self) -> Option<&Arc<str>> {
        self.extra.as_ref().and_then(|e| e.group_id.as_ref())
    }
}

pub(crate) fn new_message_id() -> [u8; 16] {
    let mut b: [u8; 16] = rand::random();
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    b
}

pub(crate) fn format_message_id(b: &[u8; 16]) -> String {
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

pub(crate) fn parse_message_id(s: &str) -> Option<[u8; 16]> {
    let h: String = s.chars().filter(|c| *c != '-').collect();
    let v = hex::decode(h).ok()?;
    v.try_into().ok()
}

/// Whether `c` is allowed in message bodies and attribute strings.
fn allowed_char(c: char) -> bool {
    matches!(c as u32, 0x9 | 0xA | 0xD | 0x20..=0xD7FF | 0xE000..=0xFFFD | 0x10000..=0x10FFFF)
}

pub(crate) fn validate_body(body: &str) -> Result<(), AwsError> {
    if body.is_empty() {
        return Err(AwsError::new(
            "MissingParameter",
            "The request must contain the parameter MessageBody.",
        ));
    }
    if let Some(c) = body.chars().find(|c| !allowed_char(*c)) {
        return Err(invalid_contents(c));
    }
    Ok(())
}

fn invalid_contents(c: char) -> AwsError {
    AwsError::new(
        "InvalidMessageContents",
        format!(
            "Invalid binary character '#x{:X}' was found in the message body, the set of allowed characters is #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF",
            c as u32
        ),
    )
}

fn valid_number(s: &str) -> bool {
    let t = s.trim();
    let t = t.strip_prefix(['+', '-']).unwrap_or(t);
    let (mant, exp) = match t.find(['e', 'E']) {
        Some(i) => (&t[..i], Some(&t[i + 1..])),
        None => (t, None),
    };
    let mut parts = mant.splitn(2, '.');
    let int = parts.next().unwrap_or("");
    let frac = parts.next().unwrap_or("");
    if int.is_empty() && frac.is_empty() {
        return false;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let digits = format!("{int}{frac}");
    if digits.trim_start_matches('0').len() > 38 {
        return false;
    }
    if let Some(e) = exp {
        let e = e.strip_prefix(['+', '-']).unwrap_or(e);
        if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
            return false;
        }
    }
    true
}

fn valid_attr_name(name: &str) -> bool {
    if name.is_empty() || name.len() > 256 {
        return false;
    }
    let lower = name.to_ascii_lowercase();
    if lower.starts_with("aws.") || lower.starts_with("amazon.") {
        return false;
    }
    if name.starts_with('.') || name.ends_with('.') || name.contains("..") {
        return false;
    }
    name.bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
}

/// Attributes sorted by name.
pub(crate) type AttrList = Vec<(Box<str>, AttrValue)>;

/// Validate user message attributes; returns them sorted, and their byte size.
pub(crate) fn validate_message_attributes(
    attrs: &BTreeMap<String, MessageAttributeValue>,
) -> Result<(AttrList, usize), AwsError> {
    if attrs.len() > 10 {
        return Err(invalid_parameter(format!(
            "Number of message attributes [{}] exceeds the allowed maximum [10].",
            attrs.len()
        )));
    }
    let mut out = Vec::with_capacity(attrs.len());
    let mut size = 0usize;
    for (name, v) in attrs {
        if !valid_attr_name(name) {
            return Err(invalid_parameter(format!(
                "Message (user) attribute name '{name}' is invalid. The attribute name can contain A-Z, a-z, 0-9, underscore (_), hyphen (-), and period (.) characters, must not start or end with a period, must not contain consecutive periods and must not start with 'AWS.' or 'Amazon.'."
            )));
        }
        let dt = v.data_type.as_str();
        if dt.is_empty() {
            return Err(invalid_parameter(format!(
                "The message attribute '{name}' must contain non-empty message attribute type."
            )));
        }
        let base = dt.split('.').next().unwrap_or("");
        if !matches!(base, "String" | "Number" | "Binary") || dt.len() > 256 {
            return Err(invalid_parameter(format!(
                "The type of message (user) attribute '{name}' is invalid. You must use only the following supported type prefixes: Binary, Number, String."
            )));
        }
        let data = if base == "Binary" {
            match &v.binary_value {
                Some(b) if !b.0.is_empty() => AttrData::Bin(b.0.clone().into_boxed_slice()),
                _ => {
                    return Err(invalid_parameter(format!(
                        "Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'."
                    )));
                }
            }
        } else {
            match &v.string_value {
                Some(s) if !s.is_empty() => {
                    if let Some(c) = s.chars().find(|c| !allowed_char(*c)) {
                        return Err(invalid_contents(c));
                    }
                    if base == "Number" && !valid_number(s) {
                        return Err(invalid_parameter(format!(
                            "Can't cast the value of message (user) attribute '{name}' to a number."
                        )));
                    }
                    AttrData::Str(s.as_str().into())
                }
                _ => {
                    return Err(invalid_parameter(format!(
                        "Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
                    )));
                }
            }
        };
        size += name.len()
            + dt.len()
            + match &data {
                AttrData::Str(s) => s.len(),
                AttrData::Bin(b) => b.len(),
            };
        out.push((
            name.as_str().into(),
            AttrValue {
                data_type: dt.into(),
                data,
            },
        ));
    }
    Ok((out, size))
}

/// Validate MessageSystemAttributes (only `AWSTraceHeader` exists); returns the trace header.
pub(crate) fn validate_system_attributes(
    attrs: &BTreeMap<String, MessageSystemAttributeValue>,
) -> Result<Option<(Box<str>, AttrValue)>, AwsError> {
    let mut trace = None;
    for (name, v) in attrs {
        if name != "AWSTraceHeader" {
            return Err(invalid_parameter(format!(
                "Message system attribute name '{name}' is invalid."
            )));
        }
        if v.data_type != "String" {
            return Err(invalid_parameter(format!(
                "Message system attribute '{name}' must be of type 'String'."
            )));
        }
        match &v.string_value {
            Some(s) if !s.is_empty() => {
                trace = Some((
                    name.as_str().into(),
                    AttrValue {
                        data_type: "String".into(),
                        data: AttrData::Str(s.as_str().into()),
                    },
                ))
            }
            _ => {
                return Err(invalid_parameter(format!(
                    "Message system attribute '{name}' must contain a non-empty value of type 'String'."
                )));
            }
        }
    }
    Ok(trace)
}

/// MessageGroupId / MessageDeduplicationId: 1–128 characters, alphanumeric and punctuation.
pub(crate) fn validate_token(param: &str, value: &str) -> Result<(), AwsError> {
    let ok = !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b.is_ascii_punctuation());
    if ok {
        Ok(())
    } else {
        Err(crate::errors::invalid_value(
            param,
            value,
            &format!(
                "{param} can only include alphanumeric and punctuation characters. 1 to 128 in length."
            ),
        ))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn sv(dt: &str, v: &str) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: dt.into(),
            string_value: Some(v.into()),
            ..Default::default()
        }
    }

    #[test]
    fn bodies() {
        assert!(validate_body("hello\tworld\n").is_ok());
        assert!(validate_body("emoji 😀").is_ok());
        let e = validate_body("bad \u{1} char").unwrap_err();
        assert_eq!(e.code, "InvalidMessageContents");
        assert!(validate_body("\u{FFFE}").is_err());
        assert_eq!(validate_body("").unwrap_err().code, "MissingParameter");
    }

    #[test]
    fn numbers() {
        for ok in ["1", "-1.5", "+3e10", "0.000", ".5", "12345678901234567890"] {
            assert!(valid_number(ok), "{ok}");
        }
        for bad in ["", "abc", "1.2.3", "1e", "--1", "1x"] {
            assert!(!valid_number(bad), "{bad}");
        }
    }

    #[test]
    fn attributes() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), sv("Number.int", "5"));
        m.insert("a".to_string(), sv("String", "x"));
        let (v, size) = validate_message_attributes(&m).unwrap();
        assert_eq!(&*v[0].0, "a");
        assert_eq!(size, 1 + 6 + 1 + 1 + 10 + 1);
        let mut bad = BTreeMap::new();
        bad.insert("AWS.x".to_string(), sv("String", "x"));
        assert!(validate_message_attributes(&bad).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("x".to_string(), sv("Foo", "x"));
        assert!(validate_message_attributes(&bad).is_err());
        let mut bad = BTreeMap::new();
        bad.insert("x".to_string(), sv("Number", "abc"));
        assert!(validate_message_attributes(&bad).is_err());
        let mut many = BTreeMap::new();
        for i in 0..11 {
            many.insert(format!("a{i}"), sv("String", "x"));
        }
        assert!(
            validate_message_attributes(&many)
                .unwrap_err()
                .message
                .contains("[11]")
        );
    }

    #[test]
    fn ids() {
        let id = new_message_id();
        let s = format_message_id(&id);
        assert_eq!(s.len(), 36);
        assert_eq!(parse_message_id(&s), Some(id));
    }
}
