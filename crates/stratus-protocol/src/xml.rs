//! XML output for awsQuery (and the member serialization restXml shares).

use base64::Engine;
use stratus_core::Value;
use stratus_model::{Operation, ServiceModel, ShapeKind, ShapeRef};

use crate::{HttpResponse, timestamp};

/// A small streaming XML writer; escaping comes from quick-xml.
pub struct XmlWriter {
    out: String,
}

impl XmlWriter {
    pub fn new() -> Self {
        Self {
            out: String::with_capacity(512),
        }
    }
    pub fn open(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push('>');
    }
    pub fn open_ns(&mut self, name: &str, ns: &str) {
        if ns.is_empty() {
            return self.open(name);
        }
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str(" xmlns=\"");
        self.out.push_str(&quick_xml::escape::escape(ns));
        self.out.push_str("\">");
    }
    /// Open `name` with attributes (already in wire form: `xmlns:xsi`, `xsi:type`, ...).
    pub fn open_attrs(&mut self, name: &str, attrs: &[(String, String)]) {
        self.out.push('<');
        self.out.push_str(name);
        for (key, value) in attrs {
            self.out.push(' ');
            self.out.push_str(key);
            self.out.push_str("=\"");
            self.text(value);
            self.out.push('"');
        }
        self.out.push('>');
    }
    pub fn close(&mut self, name: &str) {
        self.out.push_str("</");
        self.out.push_str(name);
        self.out.push('>');
    }
    pub fn empty(&mut self, name: &str) {
        self.out.push('<');
        self.out.push_str(name);
        self.out.push_str("/>");
    }
    pub fn text(&mut self, text: &str) {
        // Escape quotes too, and carriage returns so they survive XML parsers' newline normalisation.
        for c in text.chars() {
            match c {
                '<' => self.out.push_str("&lt;"),
                '>' => self.out.push_str("&gt;"),
                '&' => self.out.push_str("&amp;"),
                '"' => self.out.push_str("&quot;"),
                '\'' => self.out.push_str("&apos;"),
                '\r' => self.out.push_str("&#xD;"),
                _ => self.out.push(c),
            }
        }
    }
    pub fn text_element(&mut self, name: &str, text: &str) {
        self.open(name);
        self.text(text);
        self.close(name);
    }
    pub fn finish(self) -> Vec<u8> {
        self.out.into_bytes()
    }
}

impl Default for XmlWriter {
    fn default() -> Self {
        Self::new()
    }
}

pub fn encode_query_output(
    model: &ServiceModel,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> HttpResponse {
    let ns = model.metadata.xml_namespace.clone().unwrap_or_default();
    let mut w = XmlWriter::new();
    let response = format!("{}Response", op.name);
    w.open_ns(&response, &ns);
    if let Some(out_ref) = &op.output {
        let wrapper = out_ref
            .result_wrapper
            .clone()
            .unwrap_or_else(|| format!("{}Result", op.name));
        w.open(&wrapper);
        write_members(model, &mut w, &out_ref.shape, output);
        w.close(&wrapper);
    }
    w.open("ResponseMetadata");
    w.text_element("RequestId", request_id);
    w.close("ResponseMetadata");
    w.close(&response);
    HttpResponse::new(200, "text/xml", w.finish()).header("x-amzn-RequestId", request_id)
}

/// Write the members of structure `shape_name` (without an enclosing element).
pub fn write_members(model: &ServiceModel, w: &mut XmlWriter, shape_name: &str, value: &Value) {
    let (Some(shape), Some(obj)) = (model.shape(shape_name), value.as_object()) else {
        return;
    };
    for (name, member) in shape.ordered_members() {
        if member.location.is_some() || member.xml_attribute == Some(true) {
            continue; // headers, status codes and attributes are not body elements
        }
        if let Some(v) = obj.get(name.as_str()) {
            if v.is_null() {
                continue;
            }
            write_value(model, w, wire_name(model, name, member), member, v);
        }
    }
}

/// The `xmlns` attribute an `xmlNamespace` trait asks for (`{"uri", "prefix"}` or a bare URI).
pub fn namespace_attr(ns: &serde_json::Value) -> Option<(String, String)> {
    let (uri, prefix) = match ns {
        Value::String(uri) => (uri.as_str(), None),
        Value::Object(o) => (
            o.get("uri").and_then(Value::as_str)?,
            o.get("prefix").and_then(Value::as_str),
        ),
        _ => return None,
    };
    let key = match prefix {
        Some(p) if !p.is_empty() => format!("xmlns:{p}"),
        _ => "xmlns".to_string(),
    };
    Some((key, uri.to_string()))
}

/// Attributes of a structure element: its namespace declaration and `xmlAttribute` members.
fn structure_attrs(model: &ServiceModel, r: &ShapeRef, value: &Value) -> Vec<(String, String)> {
    let Some(shape) = model.shape(&r.shape) else {
        return Vec::new();
    };
    let mut attrs: Vec<(String, String)> = r
        .xml_namespace
        .as_ref()
        .or(shape.xml_namespace.as_ref())
        .and_then(namespace_attr)
        .into_iter()
        .collect();
    if let Some(obj) = value.as_object() {
        for (name, member) in shape.ordered_members() {
            if member.xml_attribute != Some(true) {
                continue;
            }
            if let Some(v) = obj.get(name.as_str()).filter(|v| !v.is_null()) {
                let key = wire_name(model, name, member).to_string();
                attrs.push((key, scalar_text(model, member, v)));
            }
        }
    }
    attrs
}

/// A member's wire name: its own `locationName`, else its shape's, else the member name.
pub fn wire_name<'a>(model: &'a ServiceModel, name: &'a str, member: &'a ShapeRef) -> &'a str {
    member
        .location_name
        .as_deref()
        .or_else(|| {
            model
                .shape(&member.shape)
                .and_then(|s| s.location_name.as_deref())
        })
        .unwrap_or(name)
}

/// Write `value` of the shape `r` points to as element `name`.
pub fn write_value(
    model: &ServiceModel,
    w: &mut XmlWriter,
    name: &str,
    r: &ShapeRef,
    value: &Value,
) {
    let Some(shape) = model.shape(&r.shape) else {
        return;
    };
    match shape.kind {
        ShapeKind::Structure => {
            w.open_attrs(name, &structure_attrs(model, r, value));
            write_members(model, w, &r.shape, value);
            w.close(name);
        }
        ShapeKind::List => {
            let Some(member) = &shape.member else { return };
            let items = value.as_array().map(Vec::as_slice).unwrap_or_default();
            let declared = member.location_name.as_deref().or_else(|| {
                model
                    .shape(&member.shape)
                    .and_then(|s| s.location_name.as_deref())
            });
            if r.flattened.or(shape.flattened).unwrap_or(false) {
                let item_name = declared.unwrap_or(name);
                for item in items {
                    write_value(model, w, item_name, member, item);
                }
            } else {
                let item_name = declared.unwrap_or("member");
                w.open(name);
                for item in items {
                    write_value(model, w, item_name, member, item);
                }
                w.close(name);
            }
        }
        ShapeKind::Map => {
            let (Some(k), Some(v)) = (&shape.key, &shape.value) else {
                return;
            };
            let key_name = k.location_name.as_deref().unwrap_or("key");
            let value_name = v.location_name.as_deref().unwrap_or("value");
            let Some(entries) = value.as_object() else {
                return;
            };
            let flattened = r.flattened.or(shape.flattened).unwrap_or(false);
            if !flattened {
                w.open(name);
            }
            for (key, val) in entries {
                let entry = if flattened { name } else { "entry" };
                w.open(entry);
                w.text_element(key_name, key);
                write_value(model, w, value_name, v, val);
                w.close(entry);
            }
            if !flattened {
                w.close(name);
            }
        }
        _ => w.text_element(name, &scalar_text(model, r, value)),
    }
}

/// The text form of a scalar on XML and query wires.
pub fn scalar_text(model: &ServiceModel, r: &ShapeRef, value: &Value) -> String {
    let kind = model.shape(&r.shape).map(|s| s.kind);
    match (kind, value) {
        (Some(ShapeKind::Timestamp), Value::Number(n)) => {
            let epoch = n.as_f64().unwrap_or_default();
            let format = r.timestamp_format.as_deref().or_else(|| {
                model
                    .shape(&r.shape)
                    .and_then(|s| s.timestamp_format.as_deref())
            });
            match format {
                Some("rfc822") => timestamp::to_http_date(epoch),
                Some("unixTimestamp") => n.to_string(),
                _ => timestamp::to_iso8601(epoch),
            }
        }
        (Some(ShapeKind::Blob), Value::String(s)) => s.clone(),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Bool(b)) => b.to_string(),
        (_, Value::Number(n)) => n.to_string(),
        (_, Value::Null) => String::new(),
        (_, other) => other.to_string(),
    }
}

/// Base64 helper shared by decoders that receive raw bytes.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}
