//! Message attributes: validation, size, and their forms in envelopes, filter
//! policies and SQS deliveries.

use std::collections::BTreeMap;

use base64::Engine;
use serde_json::{Map, Value, json};
use stratus_core::AwsError;

use crate::errors::invalid_value;
use crate::generated::MessageAttributeValue;

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum AttrValue {
    Str(String),
    Bin(Vec<u8>),
}

/// One validated attribute.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Attr {
    pub name: String,
    pub data_type: String,
    pub value: AttrValue,
}

impl Attr {
    /// The value as envelopes and filter policies see it (binary as base64).
    pub(crate) fn text(&self) -> String {
        match &self.value {
            AttrValue::Str(s) => s.clone(),
            AttrValue::Bin(b) => base64::engine::general_purpose::STANDARD.encode(b),
        }
    }

    /// The `Type` SNS reports: the base type without a custom suffix, except
    /// `String.Array`.
    fn envelope_type(&self) -> &str {
        if self.data_type == "String.Array" {
            return "String.Array";
        }
        self.data_type.split('.').next().unwrap_or(&self.data_type)
    }
}

/// Validate a Publish request's attributes; sorted by name.
pub(crate) fn validate(
    attrs: Option<&BTreeMap<String, MessageAttributeValue>>,
) -> Result<Vec<Attr>, AwsError> {
    let Some(attrs) = attrs else {
        return Ok(Vec::new());
    };
    let mut out = Vec::with_capacity(attrs.len());
    for (name, v) in attrs {
        validate_name(name)?;
        let base = v.data_type.split('.').next().unwrap_or("");
        let value = match base {
            "String" | "Number" => {
                let s = v.string_value.clone().unwrap_or_default();
                if s.is_empty() {
                    return Err(empty(name, &v.data_type));
                }
                if base == "Number" && !is_number(&s) {
                    return Err(invalid_value(format!(
                        "Could not cast message attribute '{name}' value to number."
                    )));
                }
                if v.data_type == "String.Array" && !is_string_array(&s) {
                    return Err(invalid_value(format!(
                        "The message attribute '{name}' with type 'String.Array' has an invalid value: it must be a JSON array of strings, numbers, true, false and null."
                    )));
                }
                AttrValue::Str(s)
            }
            "Binary" => match &v.binary_value {
                Some(b) if !b.0.is_empty() => AttrValue::Bin(b.0.clone()),
                _ => return Err(empty(name, &v.data_type)),
            },
            _ => {
                return Err(invalid_value(format!(
                    "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
                )));
            }
        };
        if v.data_type.len() > 256 || v.data_type.ends_with('.') {
            return Err(invalid_value(format!(
                "The message attribute '{name}' has an invalid message attribute type, the set of supported type prefixes is Binary, Number, and String."
            )));
        }
        out.push(Attr {
            name: name.clone(),
            data_type: v.data_type.clone(),
            value,
        });
    }
    Ok(out)
}

fn empty(name: &str, data_type: &str) -> AwsError {
    invalid_value(format!(
        "The message attribute '{name}' must contain non-empty message attribute value for message attribute type '{}'.",
        data_type.split('.').next().unwrap_or(data_type)
    ))
}

fn validate_name(name: &str) -> Result<(), AwsError> {
    let lower = name.to_ascii_lowercase();
    let ok = !name.is_empty()
        && name.len() <= 256
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
        && !name.contains("..")
        && !lower.starts_with("aws.")
        && !lower.starts_with("amazon.");
    if ok {
        Ok(())
    } else {
        Err(invalid_value(format!(
            "The message attribute name '{name}' is invalid: names may contain alphanumeric characters, hyphens, underscores and periods, must not start or end with a period, must not contain consecutive periods, must not start with AWS. or Amazon., and must be at most 256 characters long."
        )))
    }
}

fn is_number(s: &str) -> bool {
    let t = s.trim();
    !t.is_empty() && t.parse::<f64>().is_ok_and(f64::is_finite)
}

fn is_string_array(s: &str) -> bool {
    match serde_json::from_str::<Value>(s) {
        Ok(Value::Array(items)) => items
            .iter()
            .all(|i| !matches!(i, Value::Array(_) | Value::Object(_))),
        _ => false,
    }
}

/// Bytes the attributes add to a message for the size limit.
pub(crate) fn size(attrs: &[Attr]) -> usize {
    attrs
        .iter()
        .map(|a| {
            a.name.len()
                + a.data_type.len()
                + match &a.value {
                    AttrValue::Str(s) => s.len(),
                    AttrValue::Bin(b) => b.len(),
                }
        })
        .sum()
}

/// The envelope's `MessageAttributes` member, pretty-printed as AWS does
/// (`"name" : {"Type":"String","Value":"v"}`), or `None` without attributes.
pub(crate) fn envelope_block(attrs: &[Attr]) -> Option<String> {
    if attrs.is_empty() {
        return None;
    }
    let mut s = String::from("\"MessageAttributes\" : {\n");
    for (i, a) in attrs.iter().enumerate() {
        s.push_str("    ");
        s.push_str(&json_string(&a.name));
        s.push_str(" : ");
        s.push_str(&json!({"Type": a.envelope_type(), "Value": a.text()}).to_string());
        if i + 1 < attrs.len() {
            s.push(',');
        }
        s.push('\n');
    }
    s.push_str("  }");
    Some(s)
}

/// The `MessageAttributes` object of a Lambda event record.
pub(crate) fn lambda_object(attrs: &[Attr]) -> Value {
    let mut m = Map::new();
    for a in attrs {
        m.insert(
            a.name.clone(),
            json!({"Type": a.envelope_type(), "Value": a.text()}),
        );
    }
    Value::Object(m)
}

/// The attributes as SQS `MessageAttributes` in a SendMessage document (raw
/// delivery).
pub(crate) fn sqs_document(attrs: &[Attr]) -> Map<String, Value> {
    let mut m = Map::new();
    for a in attrs {
        let v = match &a.value {
            AttrValue::Str(s) => json!({"DataType": a.data_type, "StringValue": s}),
            AttrValue::Bin(b) => json!({
                "DataType": a.data_type,
                "BinaryValue": base64::engine::general_purpose::STANDARD.encode(b),
            }),
        };
        m.insert(a.name.clone(), v);
    }
    m
}

/// JSON string literal of `s`.
pub(crate) fn json_string(s: &str) -> String {
    Value::String(s.to_string()).to_string()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use stratus_core::Blob;

    fn attr(t: &str, s: Option<&str>, b: Option<&[u8]>) -> MessageAttributeValue {
        MessageAttributeValue {
            data_type: t.into(),
            string_value: s.map(Into::into),
            binary_value: b.map(|b| Blob(b.to_vec())),
        }
    }

    #[test]
    fn validation() {
        let mut m = BTreeMap::new();
        m.insert("b".to_string(), attr("String", Some("x"), None));
        m.insert("a".to_string(), attr("Number.int", Some("1.5"), None));
        m.insert(
            "c".to_string(),
            attr("String.Array", Some("[\"x\", 1, null]"), None),
        );
        m.insert("d".to_string(), attr("Binary", None, Some(b"\x00\x01")));
        let v = validate(Some(&m)).unwrap();
        assert_eq!(
            v.iter().map(|a| a.name.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c", "d"]
        );
        assert_eq!(size(&v), 1 + 10 + 3 + 1 + 6 + 1 + 1 + 12 + 14 + 1 + 6 + 2);
        let block = envelope_block(&v).unwrap();
        assert!(block.contains("\"a\" : {\"Type\":\"Number\",\"Value\":\"1.5\"}"));
        assert!(block.contains("\"d\" : {\"Type\":\"Binary\",\"Value\":\"AAE=\"}"));
        for (n, bad) in [
            ("x", attr("Number", Some("abc"), None)),
            ("x", attr("String", Some(""), None)),
            ("x", attr("Blob", Some("a"), None)),
            ("x", attr("String.Array", Some("[[1]]"), None)),
            ("AWS.x", attr("String", Some("a"), None)),
            ("a..b", attr("String", Some("a"), None)),
        ] {
            let mut m = BTreeMap::new();
            m.insert(n.to_string(), bad);
            assert!(validate(Some(&m)).is_err());
        }
    }
}
