//! restJson1 bodies: the wire JSON differs from the canonical document only in
//! member names (`locationName`) and non-default timestamp formats, so both
//! directions walk the model and keep modelled members only.

use serde_json::Map;
use stratus_core::Value;
use stratus_model::{ServiceModel, ShapeKind, ShapeRef};

use super::epoch_value;
use crate::timestamp;

/// Which members of a top-level structure travel in the body.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Level {
    /// The operation's input or output: members bound to the URI, query or headers stay out.
    Top,
    Nested,
}

/// The JSON key of a member on the wire.
fn wire_name<'a>(name: &'a str, r: &'a ShapeRef) -> &'a str {
    r.location_name.as_deref().unwrap_or(name)
}

fn timestamp_format<'a>(model: &'a ServiceModel, r: &'a ShapeRef) -> Option<&'a str> {
    r.timestamp_format.as_deref().or_else(|| {
        model
            .shape(&r.shape)
            .and_then(|s| s.timestamp_format.as_deref())
    })
}

/// Wire JSON of structure `shape_name` → canonical document.
pub(crate) fn read_structure(
    model: &ServiceModel,
    shape_name: &str,
    wire: &Value,
    level: Level,
) -> Value {
    let (Some(shape), Some(obj)) = (model.shape(shape_name), wire.as_object()) else {
        return wire.clone();
    };
    if shape.document == Some(true) {
        return wire.clone();
    }
    let mut out = Map::new();
    for (name, member) in shape.ordered_members() {
        if level == Level::Top && member.location.is_some() {
            continue;
        }
        match obj.get(wire_name(name, member)) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert(name.clone(), read_value(model, member, v));
            }
        }
    }
    Value::Object(out)
}

/// Wire JSON of the shape `r` points to → canonical. Values of the wrong JSON
/// type pass through unchanged so validation can name the member.
pub(crate) fn read_value(model: &ServiceModel, r: &ShapeRef, wire: &Value) -> Value {
    let Some(shape) = model.shape(&r.shape) else {
        return wire.clone();
    };
    match (shape.kind, wire) {
        (ShapeKind::Structure, _) => read_structure(model, &r.shape, wire, Level::Nested),
        (ShapeKind::List, Value::Array(items)) => match &shape.member {
            Some(m) => Value::Array(items.iter().map(|i| read_value(model, m, i)).collect()),
            None => wire.clone(),
        },
        (ShapeKind::Map, Value::Object(entries)) => match &shape.value {
            Some(v) => Value::Object(
                entries
                    .iter()
                    .map(|(k, e)| (k.clone(), read_value(model, v, e)))
                    .collect(),
            ),
            None => wire.clone(),
        },
        (ShapeKind::Timestamp, Value::String(s)) => {
            timestamp::parse(s).map_or_else(|| wire.clone(), epoch_value)
        }
        _ => wire.clone(),
    }
}

/// Canonical structure → wire JSON.
pub(crate) fn write_structure(
    model: &ServiceModel,
    shape_name: &str,
    doc: &Value,
    level: Level,
) -> Value {
    let (Some(shape), Some(obj)) = (model.shape(shape_name), doc.as_object()) else {
        return doc.clone();
    };
    if shape.document == Some(true) {
        return doc.clone();
    }
    let mut out = Map::new();
    for (name, member) in shape.ordered_members() {
        if level == Level::Top && member.location.is_some() {
            continue;
        }
        match obj.get(name.as_str()) {
            None | Some(Value::Null) => {}
            Some(v) => {
                out.insert(
                    wire_name(name, member).to_string(),
                    write_value(model, member, v),
                );
            }
        }
    }
    Value::Object(out)
}

pub(crate) fn write_value(model: &ServiceModel, r: &ShapeRef, doc: &Value) -> Value {
    let Some(shape) = model.shape(&r.shape) else {
        return doc.clone();
    };
    match (shape.kind, doc) {
        (ShapeKind::Structure, _) => write_structure(model, &r.shape, doc, Level::Nested),
        (ShapeKind::List, Value::Array(items)) => match &shape.member {
            Some(m) => Value::Array(items.iter().map(|i| write_value(model, m, i)).collect()),
            None => doc.clone(),
        },
        (ShapeKind::Map, Value::Object(entries)) => match &shape.value {
            Some(v) => Value::Object(
                entries
                    .iter()
                    .map(|(k, e)| (k.clone(), write_value(model, v, e)))
                    .collect(),
            ),
            None => doc.clone(),
        },
        (ShapeKind::Timestamp, Value::Number(n)) => {
            let epoch = n.as_f64().unwrap_or_default();
            match timestamp_format(model, r) {
                Some("iso8601") => Value::String(timestamp::to_iso8601(epoch)),
                Some("rfc822") => Value::String(timestamp::to_http_date(epoch)),
                _ => doc.clone(),
            }
        }
        _ => doc.clone(),
    }
}
