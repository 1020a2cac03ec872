//! Input validation from the model: required members, types, enums, lengths, ranges.

use stratus_core::{AwsError, Value};
use stratus_model::{ServiceModel, ShapeKind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValidationKind {
    Missing,
    Type(&'static str),
    Enum(String),
    Length { min: Option<i64>, max: Option<i64> },
    Range { min: Option<i64>, max: Option<i64> },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValidationError {
    /// Path of the offending member, e.g. `Entries.1.Id`.
    pub path: String,
    /// The member's own name.
    pub member: String,
    /// The offending value as text (`null` when missing).
    pub value: String,
    pub kind: ValidationKind,
}

impl ValidationError {
    fn constraint(&self) -> String {
        match &self.kind {
            ValidationKind::Missing => "Member must not be null".to_string(),
            ValidationKind::Type(t) => format!("Member must be of type {t}"),
            ValidationKind::Enum(values) => {
                format!("Member must satisfy enum value set: [{values}]")
            }
            ValidationKind::Length { min, max } => bound("length", *min, *max),
            ValidationKind::Range { min, max } => bound("value", *min, *max),
        }
    }

    /// The error a client of this service expects.
    ///
    /// Query-era services (query protocol, or `awsQueryCompatible`) answer with
    /// `MissingParameter` / `InvalidParameterValue`; the others with Coral's
    /// `ValidationException`.
    pub fn to_aws(&self, model: &ServiceModel) -> AwsError {
        if query_era(model) {
            return match self.kind {
                ValidationKind::Missing => AwsError::new(
                    "MissingParameter",
                    format!("The request must contain the parameter {}.", self.path),
                ),
                _ => AwsError::new(
                    "InvalidParameterValue",
                    format!(
                        "Value {} for parameter {} is invalid. Reason: {}.",
                        self.value,
                        self.path,
                        self.constraint()
                    ),
                ),
            };
        }
        AwsError::new(
            "ValidationException",
            format!(
                "1 validation error detected: Value {} at '{}' failed to satisfy constraint: {}",
                self.value,
                lower_camel_path(&self.path),
                self.constraint()
            ),
        )
    }
}

fn bound(what: &str, min: Option<i64>, max: Option<i64>) -> String {
    match (min, max) {
        (Some(a), Some(b)) if what == "length" => {
            format!("Member must have length between {a} and {b}, inclusive")
        }
        (Some(a), _) if what == "length" => {
            format!("Member must have length greater than or equal to {a}")
        }
        (_, Some(b)) if what == "length" => {
            format!("Member must have length less than or equal to {b}")
        }
        (Some(a), Some(b)) => format!("Member must have value between {a} and {b}, inclusive"),
        (Some(a), _) => format!("Member must have value greater than or equal to {a}"),
        (_, Some(b)) => format!("Member must have value less than or equal to {b}"),
        _ => "Member is out of bounds".to_string(),
    }
}

/// Coral reports paths in lowerCamel form (`queueUrl`, `entries.1.id`).
fn lower_camel_path(path: &str) -> String {
    path.split('.')
        .map(|p| {
            let mut c = p.chars();
            match c.next() {
                Some(f) => f.to_lowercase().collect::<String>() + c.as_str(),
                None => String::new(),
            }
        })
        .collect::<Vec<_>>()
        .join(".")
}

fn describe(v: &Value) -> String {
    match v {
        Value::Null => "null".to_string(),
        Value::String(s) => format!("'{s}'"),
        other => format!("'{other}'"),
    }
}

/// Validate the input document of `operation`.
pub fn validate_input(
    model: &ServiceModel,
    operation: &str,
    input: &Value,
) -> Result<(), ValidationError> {
    let Some(shape) = model
        .operation(operation)
        .and_then(|op| op.input.as_ref())
        .map(|r| r.shape.as_str())
    else {
        return Ok(());
    };
    // Query-era services (SQS, SNS, ...) checked enum values themselves and answer
    // with their own errors (SQS: `InvalidAttributeName`), so leave those to them.
    let enums = !query_era(model);
    check(model, shape, input, "", "", enums)
}

fn query_era(model: &ServiceModel) -> bool {
    model.is_query_compatible() || model.protocol() == stratus_model::Protocol::AwsQuery
}

fn check(
    model: &ServiceModel,
    shape_name: &str,
    value: &Value,
    path: &str,
    member: &str,
    enums: bool,
) -> Result<(), ValidationError> {
    let Some(shape) = model.shape(shape_name) else {
        return Ok(());
    };
    let fail = |kind: ValidationKind| ValidationError {
        path: path.to_string(),
        member: member.to_string(),
        value: describe(value),
        kind,
    };
    let child = |name: &str| {
        if path.is_empty() {
            name.to_string()
        } else {
            format!("{path}.{name}")
        }
    };
    let as_i64 = |f: Option<f64>| f.map(|x| x as i64);
    match shape.kind {
        ShapeKind::Structure => {
            let Some(obj) = value.as_object() else {
                return Err(fail(ValidationKind::Type("structure")));
            };
            for req in &shape.required {
                if obj.get(req).is_none_or(Value::is_null) {
                    return Err(ValidationError {
                        path: child(req),
                        member: req.clone(),
                        value: "null".to_string(),
                        kind: ValidationKind::Missing,
                    });
                }
            }
            for (name, v) in obj {
                if v.is_null() {
                    continue;
                }
                if let Some(r) = shape.members.get(name) {
                    check(model, &r.shape, v, &child(name), name, enums)?;
                }
            }
        }
        ShapeKind::List => {
            let Some(items) = value.as_array() else {
                return Err(fail(ValidationKind::Type("list")));
            };
            check_len(items.len(), shape.min, shape.max).map_err(|_| {
                fail(ValidationKind::Length {
                    min: as_i64(shape.min),
                    max: as_i64(shape.max),
                })
            })?;
            if let Some(m) = &shape.member {
                for (i, item) in items.iter().enumerate() {
                    check(
                        model,
                        &m.shape,
                        item,
                        &child(&(i + 1).to_string()),
                        member,
                        enums,
                    )?;
                }
            }
        }
        ShapeKind::Map => {
            let Some(entries) = value.as_object() else {
                return Err(fail(ValidationKind::Type("map")));
            };
            check_len(entries.len(), shape.min, shape.max).map_err(|_| {
                fail(ValidationKind::Length {
                    min: as_i64(shape.min),
                    max: as_i64(shape.max),
                })
            })?;
            for (k, v) in entries {
                if let Some(kr) = &shape.key {
                    check(
                        model,
                        &kr.shape,
                        &Value::String(k.clone()),
                        path,
                        member,
                        enums,
                    )?;
                }
                if let Some(vr) = &shape.value {
                    check(model, &vr.shape, v, &child(k), member, enums)?;
                }
            }
        }
        ShapeKind::String => {
            let Some(s) = value.as_str() else {
                return Err(fail(ValidationKind::Type("string")));
            };
            if enums
                && let Some(values) = &shape.enum_values
                && !values.iter().any(|e| e == s)
            {
                return Err(fail(ValidationKind::Enum(values.join(", "))));
            }
            check_len(s.chars().count(), shape.min, shape.max).map_err(|_| {
                fail(ValidationKind::Length {
                    min: as_i64(shape.min),
                    max: as_i64(shape.max),
                })
            })?;
        }
        ShapeKind::Integer | ShapeKind::Long | ShapeKind::Short | ShapeKind::Byte => {
            let Some(n) = value.as_i64().or_else(|| {
                value
                    .as_f64()
                    .filter(|f| f.fract() == 0.0)
                    .map(|f| f as i64)
            }) else {
                return Err(fail(ValidationKind::Type("integer")));
            };
            let low = shape.min.is_some_and(|m| (n as f64) < m);
            let high = shape.max.is_some_and(|m| (n as f64) > m);
            if low || high {
                return Err(fail(ValidationKind::Range {
                    min: as_i64(shape.min),
                    max: as_i64(shape.max),
                }));
            }
        }
        ShapeKind::Double | ShapeKind::Float => {
            if !value.is_number() {
                return Err(fail(ValidationKind::Type("double")));
            }
        }
        ShapeKind::Boolean => {
            if !value.is_boolean() {
                return Err(fail(ValidationKind::Type("boolean")));
            }
        }
        ShapeKind::Timestamp => {
            if !value.is_number() && !value.is_string() {
                return Err(fail(ValidationKind::Type("timestamp")));
            }
        }
        ShapeKind::Blob => {
            if !value.is_string() {
                return Err(fail(ValidationKind::Type("blob")));
            }
        }
        ShapeKind::Character => {}
    }
    Ok(())
}

fn check_len(len: usize, min: Option<f64>, max: Option<f64>) -> Result<(), ()> {
    if min.is_some_and(|m| (len as f64) < m) || max.is_some_and(|m| (len as f64) > m) {
        Err(())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn model(name: &str) -> ServiceModel {
        let text = std::fs::read_to_string(format!(
            "{}/../../models/{name}/service-2.json",
            env!("CARGO_MANIFEST_DIR")
        ))
        .unwrap_or_default();
        ServiceModel::from_json(&text).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn required_member_missing() {
        let m = model("sqs");
        let err = validate_input(&m, "SendMessage", &json!({"QueueUrl": "u"}))
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert_eq!(err.kind, ValidationKind::Missing);
        assert_eq!(err.path, "MessageBody");
        assert_eq!(err.to_aws(&m).code, "MissingParameter");
    }

    #[test]
    fn type_and_enum_errors() {
        let m = model("sqs");
        let err = validate_input(
            &m,
            "SendMessage",
            &json!({"QueueUrl": "u", "MessageBody": 5}),
        );
        assert!(matches!(
            err,
            Err(ValidationError {
                kind: ValidationKind::Type("string"),
                ..
            })
        ));
        let m = model("lambda");
        let err = validate_input(
            &m,
            "Invoke",
            &json!({"FunctionName": "f", "InvocationType": "Sometimes"}),
        )
        .err()
        .unwrap_or_else(|| panic!("expected an error"));
        assert!(matches!(err.kind, ValidationKind::Enum(_)));
        let aws = err.to_aws(&m);
        assert_eq!(aws.code, "ValidationException");
        assert!(
            aws.message.contains("at 'invocationType'"),
            "{}",
            aws.message
        );
    }

    #[test]
    fn length_and_range() {
        let m = model("lambda");
        let err = validate_input(&m, "GetFunction", &json!({"FunctionName": ""}))
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert!(matches!(err.kind, ValidationKind::Length { .. }));
        let err = validate_input(&m, "ListFunctions", &json!({"MaxItems": 100000}))
            .err()
            .unwrap_or_else(|| panic!("expected an error"));
        assert!(matches!(err.kind, ValidationKind::Range { .. }));
    }
}
