//! restJson1 and restXml: members bound to the URI, query string, headers and body.
//!
//! Every member of an input or output structure has a `location`: `uri` (a path
//! label), `querystring`, `header`, `headers` (a prefix map such as S3's
//! `x-amz-meta-`), `statusCode`, or none, in which case it travels in the body:
//! either the whole body (the structure's `payload` member) or as a member of the
//! JSON object / XML element the body holds.

mod json_body;
mod router;
#[cfg(test)]
mod tests;

pub use router::{RestRoute, RestRouter};

use std::collections::HashSet;

use base64::Engine;
use http::HeaderMap;
use serde_json::Map;
use stratus_core::{AwsError, Value};
use stratus_model::{Operation, Protocol, ServiceModel, ShapeKind, ShapeRef};

use crate::xml::{self, XmlWriter};
use crate::{HttpRequest, HttpResponse, timestamp, xml_in};
use json_body::Level;
use router::{UriTemplate, split_path};

const XML_DECLARATION: &[u8] = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>";

/// Epoch seconds as the canonical document holds them: whole seconds as integers.
pub(crate) fn epoch_value(epoch: f64) -> Value {
    if epoch.fract() == 0.0 && epoch.abs() < 9.0e15 {
        Value::from(epoch as i64)
    } else {
        serde_json::Number::from_f64(epoch).map_or(Value::Null, Value::Number)
    }
}

/// A scalar read from text (path label, query value, header, XML element or
/// attribute) as its canonical JSON value.
pub(crate) fn scalar_from_text(
    model: &ServiceModel,
    r: &ShapeRef,
    text: &str,
) -> Result<Value, String> {
    let Some(shape) = model.shape(&r.shape) else {
        return Ok(Value::String(text.to_string()));
    };
    let t = text.trim();
    let bad = |what: &str| format!("'{text}' is not a valid {what}");
    Ok(match shape.kind {
        ShapeKind::Integer | ShapeKind::Long | ShapeKind::Short | ShapeKind::Byte => {
            Value::from(t.parse::<i64>().map_err(|_| bad("integer"))?)
        }
        ShapeKind::Double | ShapeKind::Float => t
            .parse::<f64>()
            .ok()
            .and_then(serde_json::Number::from_f64)
            .map(Value::Number)
            .ok_or_else(|| bad("number"))?,
        ShapeKind::Boolean => match t.to_ascii_lowercase().as_str() {
            "true" => Value::Bool(true),
            "false" => Value::Bool(false),
            _ => return Err(bad("boolean")),
        },
        // Every text wire accepts any of the three formats; the model's format only
        // decides what we write.
        ShapeKind::Timestamp => timestamp::parse(t)
            .map(epoch_value)
            .ok_or_else(|| bad("timestamp"))?,
        // Blobs are base64 on every text wire; XML encoders may wrap long lines.
        ShapeKind::Blob => Value::String(t.split_whitespace().collect()),
        _ => Value::String(text.to_string()),
    })
}

/// The errors a malformed request earns.
struct Errors<'a> {
    model: &'a ServiceModel,
    protocol: Protocol,
}

impl Errors<'_> {
    fn json_code(&self) -> &'static str {
        // Lambda answers unreadable bodies and headers with its modelled
        // InvalidRequestContentException; other restJson1 services with Smithy's
        // SerializationException.
        if self
            .model
            .error_shape("InvalidRequestContentException")
            .is_some()
        {
            "InvalidRequestContentException"
        } else {
            "SerializationException"
        }
    }

    fn body(&self, detail: impl std::fmt::Display) -> AwsError {
        match self.protocol {
            Protocol::RestXml => AwsError::new(
                "MalformedXML",
                "The XML you provided was not well-formed or did not validate against our published schema",
            ),
            _ => AwsError::new(
                self.json_code(),
                format!("Could not parse request body into json: {detail}"),
            ),
        }
    }

    fn value(&self, member: &str, detail: &str) -> AwsError {
        let message = format!("Invalid value for {member}: {detail}");
        match self.protocol {
            Protocol::RestXml => AwsError::new("InvalidArgument", message),
            _ => AwsError::new(self.json_code(), message),
        }
    }
}

fn event_streams_unsupported(op: &Operation) -> AwsError {
    AwsError::new(
        "NotImplemented",
        format!("{}: event streams are not supported by Stratus.", op.name),
    )
    .with_status(501)
}

fn is_event_stream(model: &ServiceModel, r: &ShapeRef) -> bool {
    model
        .shape(&r.shape)
        .is_some_and(|s| s.eventstream == Some(true))
}

fn header_strings(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
        .collect()
}

/// Split a list header: comma-separated, items optionally double-quoted.
/// HTTP dates contain a comma themselves, so they pair back up.
fn split_header_list(value: &str, http_dates: bool) -> Vec<String> {
    let mut items = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    let mut was_quoted = false;
    let mut chars = value.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted => quoted = false,
            '"' if current.trim().is_empty() => {
                current.clear();
                quoted = true;
                was_quoted = true;
            }
            '\\' if quoted => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
            }
            ',' if !quoted => {
                items.push(finish_item(&mut current, was_quoted));
                was_quoted = false;
            }
            _ => current.push(c),
        }
    }
    if !current.trim().is_empty() || was_quoted {
        items.push(finish_item(&mut current, was_quoted));
    }
    if http_dates {
        return items.chunks(2).map(|pair| pair.join(", ")).collect();
    }
    items
}

fn finish_item(current: &mut String, was_quoted: bool) -> String {
    let item = if was_quoted {
        current.clone()
    } else {
        current.trim().to_string()
    };
    current.clear();
    item
}

fn timestamp_format<'a>(model: &'a ServiceModel, r: &'a ShapeRef) -> Option<&'a str> {
    r.timestamp_format.as_deref().or_else(|| {
        model
            .shape(&r.shape)
            .and_then(|s| s.timestamp_format.as_deref())
    })
}

/// A header member's canonical value from the header's text.
fn header_value(model: &ServiceModel, r: &ShapeRef, values: &[String]) -> Result<Value, String> {
    let Some(shape) = model.shape(&r.shape) else {
        return Ok(Value::Null);
    };
    match (shape.kind, &shape.member) {
        (ShapeKind::List, Some(item)) => {
            let item_is_http_date = model
                .shape(&item.shape)
                .is_some_and(|s| s.kind == ShapeKind::Timestamp)
                && matches!(timestamp_format(model, item), None | Some("rfc822"));
            values
                .iter()
                .flat_map(|v| split_header_list(v, item_is_http_date))
                .map(|text| scalar_from_text(model, item, &text))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        _ => {
            let text = values.first().map(String::as_str).unwrap_or_default();
            if r.json_value == Some(true) {
                // JSON-valued headers are base64 on the wire; the document holds the JSON text.
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(text.trim())
                    .map_err(|e| e.to_string())?;
                return String::from_utf8(raw)
                    .map(Value::String)
                    .map_err(|e| e.to_string());
            }
            scalar_from_text(model, r, text)
        }
    }
}

/// Decode the input of `op` from a restJson1 / restXml request.
pub fn decode(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    req: &HttpRequest<'_>,
) -> Result<Value, AwsError> {
    let mut out = Map::new();
    let Some(input) = &op.input else {
        return Ok(Value::Object(out));
    };
    let Some(shape) = model.shape(&input.shape) else {
        return Ok(Value::Object(out));
    };
    let errors = Errors { model, protocol };
    let (path, query) = match req.path.split_once('?') {
        Some((p, q)) if req.query.is_empty() => (p, q),
        _ => (req.path, req.query),
    };
    let template = UriTemplate::parse(&op.http.request_uri);
    let labels = template.captures(&split_path(path)).unwrap_or_default();
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();

    // Query keys some member or the template itself claims; a query-params map takes the rest.
    let mut bound_query: HashSet<&str> = template.query.iter().map(|(k, _)| k.as_str()).collect();
    let mut bound_headers: Vec<&str> = Vec::new();
    let mut query_map: Option<(&String, &ShapeRef)> = None;
    let mut prefix_maps: Vec<(&String, &ShapeRef, &str)> = Vec::new();
    let mut has_body_members = false;

    for (name, member) in shape.ordered_members() {
        let wire = member.location_name.as_deref().unwrap_or(name);
        let kind = model.shape(&member.shape).map(|s| s.kind);
        match member.location.as_deref() {
            Some("uri") => {
                if let Some((_, text)) = labels.iter().find(|(label, _)| label == wire) {
                    let v = scalar_from_text(model, member, text)
                        .map_err(|e| errors.value(name, &e))?;
                    out.insert(name.clone(), v);
                }
            }
            Some("querystring") => {
                if kind == Some(ShapeKind::Map) {
                    query_map = Some((name, member));
                    continue;
                }
                bound_query.insert(wire);
                let values: Vec<&str> = params
                    .iter()
                    .filter(|(k, _)| k == wire)
                    .map(|(_, v)| v.as_str())
                    .collect();
                let Some(first) = values.first() else {
                    continue;
                };
                let item = model.shape(&member.shape).and_then(|s| s.member.as_ref());
                let v = match (kind, item) {
                    (Some(ShapeKind::List), Some(item)) => values
                        .iter()
                        .map(|text| scalar_from_text(model, item, text))
                        .collect::<Result<Vec<_>, _>>()
                        .map(Value::Array),
                    _ => scalar_from_text(model, member, first),
                }
                .map_err(|e| errors.value(name, &e))?;
                out.insert(name.clone(), v);
            }
            Some("header") => {
                bound_headers.push(wire);
                let values = header_strings(req.headers, wire);
                if values.is_empty() {
                    continue;
                }
                let v = header_value(model, member, &values).map_err(|e| errors.value(name, &e))?;
                out.insert(name.clone(), v);
            }
            Some("headers") => prefix_maps.push((name, member, wire)),
            Some(_) => {} // statusCode: responses only
            None => has_body_members = true,
        }
    }

    if let Some((name, member)) = query_map {
        let v = query_params_map(model, member, &params, &bound_query)
            .map_err(|e| errors.value(name, &e))?;
        if v.as_object().is_some_and(|m| !m.is_empty()) {
            out.insert(name.clone(), v);
        }
    }
    for (name, member, prefix) in prefix_maps {
        let v = prefix_headers_map(model, member, req.headers, prefix, &bound_headers)
            .map_err(|e| errors.value(name, &e))?;
        if v.as_object().is_some_and(|m| !m.is_empty()) {
            out.insert(name.clone(), v);
        }
    }

    match shape
        .payload
        .as_ref()
        .and_then(|p| shape.members.get_key_value(p))
    {
        Some((name, member)) => {
            if let Some(v) = decode_payload(model, protocol, op, member, req.body, &errors)? {
                out.insert(name.clone(), v);
            }
        }
        None if has_body_members => {
            if let Value::Object(members) =
                decode_body(model, protocol, &input.shape, req.body, &errors)?
            {
                out.extend(members);
            }
        }
        None => {}
    }
    Ok(Value::Object(out))
}

/// A `querystring` map member: every query parameter no other member claims.
fn query_params_map(
    model: &ServiceModel,
    member: &ShapeRef,
    params: &[(String, String)],
    bound: &HashSet<&str>,
) -> Result<Value, String> {
    let Some(value_ref) = model.shape(&member.shape).and_then(|s| s.value.as_ref()) else {
        return Ok(Value::Object(Map::new()));
    };
    let value_shape = model.shape(&value_ref.shape);
    let list_item = value_shape
        .filter(|s| s.kind == ShapeKind::List)
        .and_then(|s| s.member.as_ref());
    let mut map = Map::new();
    for (k, v) in params.iter().filter(|(k, _)| !bound.contains(k.as_str())) {
        match list_item {
            Some(item) => {
                let text = scalar_from_text(model, item, v)?;
                if let Value::Array(items) = map
                    .entry(k.clone())
                    .or_insert_with(|| Value::Array(Vec::new()))
                {
                    items.push(text);
                }
            }
            None => {
                if !map.contains_key(k) {
                    map.insert(k.clone(), scalar_from_text(model, value_ref, v)?);
                }
            }
        }
    }
    Ok(Value::Object(map))
}

/// A `headers` map member: every header starting with its prefix, keyed by the rest of the name.
fn prefix_headers_map(
    model: &ServiceModel,
    member: &ShapeRef,
    headers: &HeaderMap,
    prefix: &str,
    bound: &[&str],
) -> Result<Value, String> {
    let Some(value_ref) = model.shape(&member.shape).and_then(|s| s.value.as_ref()) else {
        return Ok(Value::Object(Map::new()));
    };
    let prefix = prefix.to_ascii_lowercase();
    let mut map = Map::new();
    for (name, value) in headers {
        let name = name.as_str(); // lower case already
        let Some(key) = name.strip_prefix(prefix.as_str()) else {
            continue;
        };
        // An empty prefix would otherwise swallow headers other members are bound to.
        if key.is_empty()
            || (prefix.is_empty() && bound.iter().any(|b| b.eq_ignore_ascii_case(name)))
        {
            continue;
        }
        if map.contains_key(key) {
            continue;
        }
        let text = String::from_utf8_lossy(value.as_bytes());
        map.insert(key.to_string(), scalar_from_text(model, value_ref, &text)?);
    }
    Ok(Value::Object(map))
}

fn decode_payload(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    member: &ShapeRef,
    body: &[u8],
    errors: &Errors<'_>,
) -> Result<Option<Value>, AwsError> {
    let Some(target) = model.shape(&member.shape) else {
        return Ok(None);
    };
    if target.eventstream == Some(true) {
        return Err(event_streams_unsupported(op));
    }
    // An empty body leaves the payload member unset (Smithy's HttpPayloadTraits tests).
    if body.is_empty() {
        return Ok(None);
    }
    match target.kind {
        ShapeKind::Blob => Ok(Some(Value::String(xml::b64(body)))),
        ShapeKind::String => std::str::from_utf8(body)
            .map(|s| Some(Value::String(s.to_string())))
            .map_err(|e| errors.body(e)),
        _ if body.iter().all(u8::is_ascii_whitespace) => Ok(None),
        _ => match protocol {
            Protocol::RestXml => {
                let root = xml_in::parse(body).map_err(|e| errors.body(e))?;
                xml_in::read_value(model, member, &root)
                    .map(Some)
                    .map_err(|e| errors.body(e))
            }
            _ => {
                let wire: Value = serde_json::from_slice(body).map_err(|e| errors.body(e))?;
                Ok(Some(json_body::read_value(model, member, &wire)))
            }
        },
    }
}

/// The body members of a structure without a payload member.
fn decode_body(
    model: &ServiceModel,
    protocol: Protocol,
    shape_name: &str,
    body: &[u8],
    errors: &Errors<'_>,
) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Map::new()));
    }
    match protocol {
        Protocol::RestXml => {
            let root = xml_in::parse(body).map_err(|e| errors.body(e))?;
            xml_in::read_structure(model, shape_name, &root).map_err(|e| errors.body(e))
        }
        _ => {
            let wire: Value = serde_json::from_slice(body).map_err(|e| errors.body(e))?;
            if !wire.is_object() {
                return Err(errors.body("the body must be a JSON object"));
            }
            Ok(json_body::read_structure(
                model,
                shape_name,
                &wire,
                Level::Top,
            ))
        }
    }
}

/// A scalar as header text: timestamps default to HTTP dates there.
fn header_scalar(model: &ServiceModel, r: &ShapeRef, v: &Value) -> Option<String> {
    let kind = model.shape(&r.shape).map(|s| s.kind);
    match (kind, v) {
        (Some(ShapeKind::Timestamp), Value::Number(n)) => {
            let epoch = n.as_f64().unwrap_or_default();
            Some(match timestamp_format(model, r) {
                Some("iso8601") => timestamp::to_iso8601(epoch),
                Some("unixTimestamp") => n.to_string(),
                _ => timestamp::to_http_date(epoch),
            })
        }
        (_, Value::String(s)) if r.json_value == Some(true) => {
            Some(base64::engine::general_purpose::STANDARD.encode(s))
        }
        (_, Value::String(s)) => Some(s.clone()),
        (_, Value::Bool(b)) => Some(b.to_string()),
        (_, Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn header_text(model: &ServiceModel, r: &ShapeRef, v: &Value) -> Option<String> {
    let shape = model.shape(&r.shape)?;
    match (shape.kind, v, &shape.member) {
        (ShapeKind::List, Value::Array(items), Some(item)) => {
            let parts: Vec<String> = items
                .iter()
                .filter_map(|i| {
                    let text = header_scalar(model, item, i)?;
                    // Strings holding the separator travel quoted; dates never are.
                    Some(
                        if i.is_string() && (text.contains(',') || text.contains('"')) {
                            format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\""))
                        } else {
                            text
                        },
                    )
                })
                .collect();
            Some(parts.join(", "))
        }
        _ => header_scalar(model, r, v),
    }
}

/// The namespace restXml bodies of this service declare.
///
/// botocore spreads Smithy's service-level `@xmlNamespace` over the input
/// references and payload members (S3 has no metadata `xmlNamespace`), so it is
/// recovered from there.
fn service_namespace(model: &ServiceModel) -> Option<Value> {
    if let Some(ns) = &model.metadata.xml_namespace {
        return Some(Value::String(ns.clone()));
    }
    let unprefixed = |ns: &&Value| ns.get("prefix").is_none();
    model.operations.values().find_map(|op| {
        let input = op.input.as_ref()?;
        input
            .xml_namespace
            .as_ref()
            .filter(unprefixed)
            .cloned()
            .or_else(|| {
                let shape = model.shape(&input.shape)?;
                let payload = shape.members.get(shape.payload.as_ref()?)?;
                payload.xml_namespace.as_ref().filter(unprefixed).cloned()
            })
    })
}

/// A whole XML document whose root element is `name`, holding `value` of the shape `r` points to.
fn xml_document(model: &ServiceModel, name: &str, r: &ShapeRef, value: &Value) -> Vec<u8> {
    let mut root = r.clone();
    if root.xml_namespace.is_none()
        && model
            .shape(&r.shape)
            .is_none_or(|s| s.xml_namespace.is_none())
    {
        root.xml_namespace = service_namespace(model);
    }
    let mut w = XmlWriter::new();
    xml::write_value(model, &mut w, name, &root, value);
    let mut body = XML_DECLARATION.to_vec();
    body.extend(w.finish());
    body
}

/// Encode a successful restJson1 / restXml response.
pub fn encode_output(
    model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> HttpResponse {
    let empty = Value::Object(Map::new());
    // A service that returns nothing for an output with body members still sends `{}`.
    let output = if output.is_object() { output } else { &empty };
    let mut status = op.http.response_code.unwrap_or(200);
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut body = Vec::new();
    let mut content_type: Option<&str> = None;

    if let Some(out_ref) = &op.output
        && let Some(shape) = model.shape(&out_ref.shape)
    {
        let get = |name: &str| output.get(name).filter(|v| !v.is_null());
        let mut has_body_members = false;
        for (name, member) in shape.ordered_members() {
            let wire = member.location_name.as_deref().unwrap_or(name);
            match member.location.as_deref() {
                None => has_body_members = true,
                Some("header") => {
                    if let Some(text) = get(name).and_then(|v| header_text(model, member, v)) {
                        headers.push((wire.to_string(), text));
                    }
                }
                Some("headers") => {
                    let value_ref = model.shape(&member.shape).and_then(|s| s.value.as_ref());
                    if let (Some(Value::Object(entries)), Some(value_ref)) = (get(name), value_ref)
                    {
                        for (key, v) in entries {
                            if let Some(text) = header_scalar(model, value_ref, v) {
                                headers.push((format!("{wire}{key}"), text));
                            }
                        }
                    }
                }
                Some("statusCode") => {
                    if let Some(code) = get(name)
                        .and_then(Value::as_u64)
                        .and_then(|c| u16::try_from(c).ok())
                        .filter(|c| (100..=999).contains(c))
                    {
                        status = code;
                    }
                }
                Some(_) => {}
            }
        }

        match shape
            .payload
            .as_ref()
            .and_then(|p| shape.members.get_key_value(p))
        {
            Some((name, member)) => {
                let stream = is_event_stream(model, member);
                let kind = model.shape(&member.shape).map(|s| s.kind);
                match (kind, get(name)) {
                    (_, None) => {}
                    (_, Some(v)) if stream => {
                        body = crate::eventstream::encode(model, member, v);
                        content_type = Some("application/vnd.amazon.eventstream");
                    }
                    (Some(ShapeKind::Blob), Some(v)) => {
                        let text = v.as_str().unwrap_or_default();
                        // A service that put raw text where base64 belongs still gets its bytes out.
                        body = base64::engine::general_purpose::STANDARD
                            .decode(text)
                            .unwrap_or_else(|_| text.as_bytes().to_vec());
                        content_type = (!body.is_empty()).then_some("application/octet-stream");
                    }
                    (Some(ShapeKind::String), Some(v)) => {
                        body = v.as_str().unwrap_or_default().as_bytes().to_vec();
                        content_type = (!body.is_empty()).then_some("text/plain");
                    }
                    (_, Some(v)) => match protocol {
                        Protocol::RestXml => {
                            body =
                                xml_document(model, xml::wire_name(model, name, member), member, v);
                            content_type = Some("application/xml");
                        }
                        _ => {
                            let wire = json_body::write_value(model, member, v);
                            body = serde_json::to_vec(&wire).unwrap_or_default();
                            content_type = Some("application/json");
                        }
                    },
                }
            }
            None if has_body_members => match protocol {
                Protocol::RestXml => {
                    // Smithy names the root after the shape unless it carries an XML name;
                    // SDKs do not check it.
                    let root = out_ref
                        .location_name
                        .as_deref()
                        .or(shape.location_name.as_deref())
                        .unwrap_or(&out_ref.shape);
                    body = xml_document(model, root, out_ref, output);
                    content_type = Some("application/xml");
                }
                _ => {
                    let wire =
                        json_body::write_structure(model, &out_ref.shape, output, Level::Top);
                    body = serde_json::to_vec(&wire).unwrap_or_else(|_| b"{}".to_vec());
                    content_type = Some("application/json");
                }
            },
            None => {}
        }
    }

    let mut response = HttpResponse {
        status,
        headers: Vec::with_capacity(headers.len() + 2),
        body,
    };
    // A modelled Content-Type member (S3 GetObject) beats the protocol's default.
    let has_content_type = headers
        .iter()
        .any(|(n, _)| n.eq_ignore_ascii_case("content-type"));
    if let Some(ct) = content_type.filter(|_| !has_content_type) {
        response
            .headers
            .push(("content-type".to_string(), ct.to_string()));
    }
    response.headers.extend(headers);
    let request_id_header = match protocol {
        Protocol::RestXml => "x-amz-request-id",
        _ => "x-amzn-RequestId",
    };
    response
        .headers
        .push((request_id_header.to_string(), request_id.to_string()));
    response
}
