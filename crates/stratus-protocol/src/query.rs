//! awsQuery input: `Action=Op&Member.Sub.1.Name=...` read by walking the model.

use std::collections::BTreeMap;

use stratus_core::{AwsError, Value};
use stratus_model::{Operation, ServiceModel, ShapeKind, ShapeRef};

use crate::timestamp;

/// Parameters of a query request: the URL query string and a form-encoded body.
pub fn parse_form(query: &str, body: &[u8]) -> Vec<(String, String)> {
    form_urlencoded::parse(query.as_bytes())
        .chain(form_urlencoded::parse(body))
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}

struct Params<'a> {
    map: BTreeMap<&'a str, &'a str>,
}

impl Params<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.map.get(key).copied()
    }
    /// Whether any parameter is `prefix` itself or lies below it (`prefix.`...).
    fn has_prefix(&self, prefix: &str) -> bool {
        if self.map.contains_key(prefix) {
            return true;
        }
        let dotted = format!("{prefix}.");
        self.map
            .range(dotted.as_str()..)
            .next()
            .is_some_and(|(k, _)| k.starts_with(&dotted))
    }
}

pub fn decode(
    model: &ServiceModel,
    op: &Operation,
    params: &[(String, String)],
) -> Result<Value, AwsError> {
    let params = Params {
        map: params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect(),
    };
    let Some(input) = &op.input else {
        return Ok(Value::Object(Default::default()));
    };
    Ok(read_structure(model, &params, &input.shape, "")?
        .unwrap_or_else(|| Value::Object(Default::default())))
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() {
        name.to_string()
    } else {
        format!("{prefix}.{name}")
    }
}

fn read_structure(
    model: &ServiceModel,
    params: &Params<'_>,
    shape_name: &str,
    prefix: &str,
) -> Result<Option<Value>, AwsError> {
    let Some(shape) = model.shape(shape_name) else {
        return Ok(None);
    };
    let mut obj = serde_json::Map::new();
    for (name, member) in shape.ordered_members() {
        let key = join(prefix, crate::xml::wire_name(model, name, member));
        if let Some(v) = read_value(model, params, member, &key)? {
            obj.insert(name.clone(), v);
        }
    }
    if obj.is_empty() && !prefix.is_empty() {
        return Ok(None);
    }
    Ok(Some(Value::Object(obj)))
}

fn read_value(
    model: &ServiceModel,
    params: &Params<'_>,
    r: &ShapeRef,
    key: &str,
) -> Result<Option<Value>, AwsError> {
    let Some(shape) = model.shape(&r.shape) else {
        return Ok(None);
    };
    match shape.kind {
        ShapeKind::Structure => {
            if !params.has_prefix(key) {
                return Ok(None);
            }
            read_structure(model, params, &r.shape, key)
        }
        ShapeKind::List => {
            let Some(member) = &shape.member else {
                return Ok(None);
            };
            if params.get(key) == Some("") {
                return Ok(Some(Value::Array(vec![])));
            }
            let list_prefix = if r.flattened.or(shape.flattened).unwrap_or(false) {
                match &member.location_name {
                    // A flattened list's items take the member's name in place of the last part.
                    Some(item) => match key.rsplit_once('.') {
                        Some((parent, _)) => format!("{parent}.{item}"),
                        None => item.clone(),
                    },
                    None => key.to_string(),
                }
            } else {
                join(key, member.location_name.as_deref().unwrap_or("member"))
            };
            if !params.has_prefix(&list_prefix) {
                return Ok(None);
            }
            let mut items = Vec::new();
            for i in 1.. {
                let item_key = format!("{list_prefix}.{i}");
                if !params.has_prefix(&item_key) {
                    break;
                }
                if let Some(v) = read_value(model, params, member, &item_key)? {
                    items.push(v);
                }
            }
            Ok(Some(Value::Array(items)))
        }
        ShapeKind::Map => {
            let (Some(k), Some(v)) = (&shape.key, &shape.value) else {
                return Ok(None);
            };
            let entry_prefix = if r.flattened.or(shape.flattened).unwrap_or(false) {
                key.to_string()
            } else {
                join(key, "entry")
            };
            if !params.has_prefix(&entry_prefix) {
                return Ok(None);
            }
            let key_name = k.location_name.as_deref().unwrap_or("key");
            let value_name = v.location_name.as_deref().unwrap_or("value");
            let mut map = serde_json::Map::new();
            for i in 1.. {
                let item = format!("{entry_prefix}.{i}");
                if !params.has_prefix(&item) {
                    break;
                }
                let Some(map_key) = params.get(&join(&item, key_name)) else {
                    continue;
                };
                let value =
                    read_value(model, params, v, &join(&item, value_name))?.unwrap_or(Value::Null);
                map.insert(map_key.to_string(), value);
            }
            Ok(Some(Value::Object(map)))
        }
        kind => {
            let Some(text) = params.get(key) else {
                return Ok(None);
            };
            scalar(kind, text, key).map(Some)
        }
    }
}

fn scalar(kind: ShapeKind, text: &str, key: &str) -> Result<Value, AwsError> {
    let invalid = |what: &str| {
        AwsError::new(
            "InvalidParameterValue",
            format!("Value ({text}) for parameter {key} is invalid. Must be {what}."),
        )
    };
    Ok(match kind {
        ShapeKind::Integer | ShapeKind::Long | ShapeKind::Short | ShapeKind::Byte => Value::from(
            text.trim()
                .parse::<i64>()
                .map_err(|_| invalid("an integer"))?,
        ),
        ShapeKind::Double | ShapeKind::Float => serde_json::Number::from_f64(
            text.trim()
                .parse::<f64>()
                .map_err(|_| invalid("a number"))?,
        )
        .map(Value::Number)
        .ok_or_else(|| invalid("a number"))?,
        ShapeKind::Boolean => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(invalid("a boolean")),
        },
        ShapeKind::Timestamp => timestamp::parse(text)
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| invalid("a timestamp"))?,
        _ => Value::String(text.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sqs_query() -> ServiceModel {
        let text = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../models/sqs-query/service-2.json"
        ))
        .unwrap_or_default();
        ServiceModel::from_json(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn decodes_flattened_maps_and_lists() {
        let model = sqs_query();
        let op = model.operation("SendMessage").unwrap_or_else(|| panic!());
        let form = parse_form(
            "",
            b"Action=SendMessage&QueueUrl=http%3A%2F%2Fq&MessageBody=hi&DelaySeconds=3\
&MessageAttribute.1.Name=a&MessageAttribute.1.Value.DataType=String&MessageAttribute.1.Value.StringValue=x",
        );
        let v = decode(&model, op, &form).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v,
            serde_json::json!({"QueueUrl":"http://q","MessageBody":"hi","DelaySeconds":3,
                "MessageAttributes":{"a":{"StringValue":"x","DataType":"String"}}})
        );
        let op = model
            .operation("ReceiveMessage")
            .unwrap_or_else(|| panic!());
        let form = parse_form(
            "",
            b"QueueUrl=u&AttributeName.1=All&AttributeName.2=SentTimestamp",
        );
        let v = decode(&model, op, &form).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            v["AttributeNames"],
            serde_json::json!(["All", "SentTimestamp"])
        );
    }

    #[test]
    fn bad_integer_is_an_aws_error() {
        let model = sqs_query();
        let op = model.operation("SendMessage").unwrap_or_else(|| panic!());
        let form = parse_form("", b"QueueUrl=u&MessageBody=b&DelaySeconds=abc");
        let err = decode(&model, op, &form).err().unwrap_or_else(|| panic!());
        assert_eq!(err.code, "InvalidParameterValue");
    }
}
