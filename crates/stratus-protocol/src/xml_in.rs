//! XML → canonical document, driven by the model (restXml request bodies).
//!
//! The body is first read into a small element tree: flattened lists and maps
//! are runs of sibling elements, which are awkward to collect from a stream.
//! Names are compared without namespace prefixes, as the SDKs do.

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};
use serde_json::Map;
use stratus_core::Value;
use stratus_model::{ServiceModel, ShapeKind, ShapeRef};

use crate::rest::scalar_from_text;
use crate::xml::wire_name;

/// Deeper documents are refused: no modelled S3 body comes close, and the
/// model-driven reader recurses once per level.
const MAX_DEPTH: usize = 64;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Element {
    /// Local name (namespace prefix removed).
    pub name: String,
    /// Attributes with their names as written (`xsi:type`).
    pub attrs: Vec<(String, String)>,
    pub children: Vec<Element>,
    pub text: String,
}

impl Element {
    fn attr(&self, name: &str) -> Option<&str> {
        let local = local(name);
        self.attrs
            .iter()
            .find(|(k, _)| k == name)
            .or_else(|| self.attrs.iter().find(|(k, _)| local_attr(k) == local))
            .map(|(_, v)| v.as_str())
    }

    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn children_named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Element> + 'a {
        self.children.iter().filter(move |c| c.name == name)
    }
}

fn local(name: &str) -> &str {
    name.rsplit_once(':').map_or(name, |(_, l)| l)
}

/// Local part of an attribute name; namespace declarations never match a member.
fn local_attr(name: &str) -> &str {
    if name == "xmlns" || name.starts_with("xmlns:") {
        return "";
    }
    local(name)
}

fn start_element(e: &BytesStart<'_>) -> Result<Element, String> {
    let name = std::str::from_utf8(e.local_name().as_ref())
        .map_err(|err| err.to_string())?
        .to_string();
    let mut attrs = Vec::new();
    for attr in e.attributes() {
        let attr = attr.map_err(|err| err.to_string())?;
        let key = std::str::from_utf8(attr.key.as_ref())
            .map_err(|err| err.to_string())?
            .to_string();
        let value = attr.unescape_value().map_err(|err| err.to_string())?;
        attrs.push((key, value.into_owned()));
    }
    Ok(Element {
        name,
        attrs,
        ..Element::default()
    })
}

fn attach(stack: &mut [Element], root: &mut Option<Element>, el: Element) -> Result<(), String> {
    match stack.last_mut() {
        Some(parent) => parent.children.push(el),
        None if root.is_none() => *root = Some(el),
        None => return Err("more than one root element".to_string()),
    }
    Ok(())
}

/// Parse a whole document into its root element.
pub fn parse(body: &[u8]) -> Result<Element, String> {
    let mut reader = Reader::from_reader(body);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    loop {
        match reader.read_event().map_err(|e| e.to_string())? {
            Event::Start(e) => {
                if stack.len() >= MAX_DEPTH {
                    return Err("document nests too deeply".to_string());
                }
                if root.is_some() {
                    return Err("more than one root element".to_string());
                }
                stack.push(start_element(&e)?);
            }
            Event::Empty(e) => {
                let el = start_element(&e)?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::End(_) => {
                let el = stack.pop().ok_or("unexpected end tag")?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(t) => {
                let text = t.unescape().map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(&text),
                    None if text.trim().is_empty() => {}
                    None => return Err("text outside the root element".to_string()),
                }
            }
            Event::CData(c) => {
                let text = std::str::from_utf8(&c).map_err(|e| e.to_string())?;
                match stack.last_mut() {
                    Some(top) => top.text.push_str(text),
                    None => return Err("CDATA outside the root element".to_string()),
                }
            }
            // Entity declarations could expand without bound; AWS refuses them too.
            Event::DocType(_) => return Err("DOCTYPE is not allowed".to_string()),
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) => {}
        }
    }
    if !stack.is_empty() {
        return Err("unclosed element".to_string());
    }
    root.ok_or_else(|| "no root element".to_string())
}

/// The members of structure `shape_name` held by `el` (its own name is not checked:
/// SDKs and S3 agree on it, and botocore ignores it too).
pub fn read_structure(
    model: &ServiceModel,
    shape_name: &str,
    el: &Element,
) -> Result<Value, String> {
    let Some(shape) = model.shape(shape_name) else {
        return Ok(Value::Object(Map::new()));
    };
    let mut out = Map::new();
    for (name, member) in shape.ordered_members() {
        if member.location.is_some() {
            continue; // bound to the URI, query string or headers
        }
        let wire = wire_name(model, name, member);
        if member.xml_attribute == Some(true) {
            if let Some(text) = el.attr(wire) {
                out.insert(name.clone(), scalar_from_text(model, member, text)?);
            }
            continue;
        }
        if let Some(v) = read_member(model, member, wire, el)? {
            out.insert(name.clone(), v);
        }
    }
    Ok(Value::Object(out))
}

fn is_flattened(model: &ServiceModel, r: &ShapeRef) -> bool {
    r.flattened
        .or_else(|| model.shape(&r.shape).and_then(|s| s.flattened))
        .unwrap_or(false)
}

/// A member of `parent` named `wire`, or `None` when absent.
fn read_member(
    model: &ServiceModel,
    r: &ShapeRef,
    wire: &str,
    parent: &Element,
) -> Result<Option<Value>, String> {
    let Some(shape) = model.shape(&r.shape) else {
        return Ok(None);
    };
    if is_flattened(model, r) {
        match shape.kind {
            ShapeKind::List => {
                let Some(item) = &shape.member else {
                    return Ok(None);
                };
                // A flattened list's items take the list member's name when it has one.
                let item_name = item
                    .location_name
                    .as_deref()
                    .or_else(|| {
                        model
                            .shape(&item.shape)
                            .and_then(|s| s.location_name.as_deref())
                    })
                    .unwrap_or(wire);
                let items = parent
                    .children_named(item_name)
                    .map(|c| read_value(model, item, c))
                    .collect::<Result<Vec<_>, _>>()?;
                return Ok((!items.is_empty()).then_some(Value::Array(items)));
            }
            ShapeKind::Map => {
                let entries: Vec<&Element> = parent.children_named(wire).collect();
                if entries.is_empty() {
                    return Ok(None);
                }
                return read_entries(model, shape.key.as_ref(), shape.value.as_ref(), entries)
                    .map(Some);
            }
            _ => {}
        }
    }
    match parent.child(wire) {
        Some(child) => read_value(model, r, child).map(Some),
        None => Ok(None),
    }
}

/// The value of the shape `r` points to, held by `el`.
pub fn read_value(model: &ServiceModel, r: &ShapeRef, el: &Element) -> Result<Value, String> {
    let Some(shape) = model.shape(&r.shape) else {
        return Ok(Value::Null);
    };
    match shape.kind {
        ShapeKind::Structure => read_structure(model, &r.shape, el),
        ShapeKind::List => {
            let Some(item) = &shape.member else {
                return Ok(Value::Array(Vec::new()));
            };
            // Wrapped items are usually `member` or the declared name; any child is an item.
            el.children
                .iter()
                .map(|c| read_value(model, item, c))
                .collect::<Result<Vec<_>, _>>()
                .map(Value::Array)
        }
        ShapeKind::Map => read_entries(
            model,
            shape.key.as_ref(),
            shape.value.as_ref(),
            el.children_named("entry").collect(),
        ),
        _ => scalar_from_text(model, r, &el.text),
    }
}

fn read_entries(
    model: &ServiceModel,
    key: Option<&ShapeRef>,
    value: Option<&ShapeRef>,
    entries: Vec<&Element>,
) -> Result<Value, String> {
    let (Some(k), Some(v)) = (key, value) else {
        return Ok(Value::Object(Map::new()));
    };
    let key_name = k.location_name.as_deref().unwrap_or("key");
    let value_name = v.location_name.as_deref().unwrap_or("value");
    let mut out = Map::new();
    for entry in entries {
        let Some(key_el) = entry.child(key_name) else {
            continue;
        };
        let val = match entry.child(value_name) {
            Some(val_el) => read_value(model, v, val_el)?,
            None => Value::Null,
        };
        out.insert(key_el.text.clone(), val);
    }
    Ok(Value::Object(out))
}
