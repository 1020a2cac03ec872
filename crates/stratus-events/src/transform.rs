//! What a target receives: the event itself, a constant `Input`, the part of
//! the event an `InputPath` selects, or an `InputTransformer` rendering.
//!
//! JSONPath support follows what EventBridge documents: dot notation, dashes,
//! underscores, alphanumerics, array indices, `*` wildcards (plus `['name']`).
//! Template rules: a placeholder inside a JSON string gets the value's text
//! without quotes (objects and arrays lose their inner quotes, as AWS does); a
//! placeholder outside quotes gets the value as JSON. A template that does not
//! start with `{`, `[` or `"` is plain text and gets values' text. Variables
//! whose path matches nothing become `null` (outside quotes) or an empty
//! string (inside quotes); unknown placeholders stay as they are.

use serde_json::Value;

use crate::generated::{InputTransformer, Target};

#[derive(Debug, Clone, PartialEq)]
enum Seg {
    Key(String),
    Index(usize),
    Wild,
}

/// A compiled JSONPath.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct JsonPath {
    segs: Vec<Seg>,
    wildcard: bool,
}

impl JsonPath {
    pub(crate) fn parse(path: &str) -> Option<Self> {
        let rest = path.trim().strip_prefix('$')?;
        let b = rest.as_bytes();
        let mut i = 0;
        let mut segs = Vec::new();
        while i < b.len() {
            match b[i] {
                b'.' => {
                    let start = i + 1;
                    let mut j = start;
                    while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                        j += 1;
                    }
                    let name = &rest[start..j];
                    if name.is_empty() {
                        return None;
                    }
                    segs.push(if name == "*" {
                        Seg::Wild
                    } else {
                        Seg::Key(name.to_string())
                    });
                    i = j;
                }
                b'[' => {
                    let end = rest[i..].find(']')? + i;
                    let inner = rest[i + 1..end].trim();
                    if inner == "*" {
                        segs.push(Seg::Wild);
                    } else if let Ok(n) = inner.parse::<usize>() {
                        segs.push(Seg::Index(n));
                    } else if inner.len() >= 2
                        && ((inner.starts_with('\'') && inner.ends_with('\''))
                            || (inner.starts_with('"') && inner.ends_with('"')))
                    {
                        segs.push(Seg::Key(inner[1..inner.len() - 1].to_string()));
                    } else {
                        return None;
                    }
                    i = end + 1;
                }
                _ => return None,
            }
        }
        let wildcard = segs.contains(&Seg::Wild);
        Some(JsonPath { segs, wildcard })
    }

    /// The selected value; with wildcards, the array of all matches.
    pub(crate) fn select(&self, v: &Value) -> Option<Value> {
        let mut cur: Vec<&Value> = vec![v];
        for s in &self.segs {
            let mut next = Vec::new();
            for c in cur {
                match s {
                    Seg::Key(k) => {
                        if let Some(x) = c.get(k.as_str()) {
                            next.push(x);
                        }
                    }
                    Seg::Index(n) => {
                        if let Some(x) = c.get(*n) {
                            next.push(x);
                        }
                    }
                    Seg::Wild => match c {
                        Value::Array(a) => next.extend(a.iter()),
                        Value::Object(o) => next.extend(o.values()),
                        _ => {}
                    },
                }
            }
            cur = next;
        }
        if self.wildcard {
            Some(Value::Array(cur.into_iter().cloned().collect()))
        } else {
            cur.first().map(|v| (*v).clone())
        }
    }
}

/// Checks PutTargets applies to the input settings; the error text is the
/// ValidationException message.
pub(crate) fn validate_target_input(t: &Target) -> Result<(), String> {
    let n = t.input.is_some() as u8
        + t.input_path.is_some() as u8
        + t.input_transformer.is_some() as u8;
    if n > 1 {
        return Err("Only one of Input, InputPath, or InputTransformer must be provided.".into());
    }
    if let Some(i) = &t.input
        && serde_json::from_str::<Value>(i).is_err()
    {
        return Err(format!("Input for target {} is not valid JSON text.", t.id));
    }
    if let Some(p) = &t.input_path
        && JsonPath::parse(p).is_none()
    {
        return Err(format!("InputPath for target {} is invalid.", t.id));
    }
    if let Some(tr) = &t.input_transformer {
        for (k, p) in tr.input_paths_map.iter().flatten() {
            if k.starts_with("aws.") || k.is_empty() {
                return Err(format!(
                    "InputTransformer for target {} contains the reserved key {k}.",
                    t.id
                ));
            }
            if JsonPath::parse(p).is_none() {
                return Err(format!(
                    "Invalid InputPathsMap[{k}]: {p} is not a valid JsonPath."
                ));
            }
        }
    }
    Ok(())
}

/// The event without its `detail` (`<aws.events.event>`).
fn event_without_detail(ev: &Value) -> Value {
    let mut e = ev.clone();
    if let Value::Object(m) = &mut e {
        m.shift_remove("detail");
    }
    e
}

/// Context of one delivery for the reserved template variables.
pub(crate) struct Reserved<'a> {
    pub rule_arn: &'a str,
    pub rule_name: &'a str,
    pub ingestion_time: &'a str,
}

/// The payload a target gets for `event` (JSON text).
pub(crate) fn payload(t: &Target, event: &str, reserved: &Reserved<'_>) -> String {
    if let Some(i) = &t.input {
        return i.clone();
    }
    if let Some(p) = &t.input_path {
        let Ok(v) = serde_json::from_str::<Value>(event) else {
            return event.to_string();
        };
        return JsonPath::parse(p)
            .and_then(|jp| jp.select(&v))
            .map(|x| x.to_string())
            .unwrap_or_else(|| "null".to_string());
    }
    if let Some(tr) = &t.input_transformer {
        let Ok(v) = serde_json::from_str::<Value>(event) else {
            return event.to_string();
        };
        return render(tr, &v, reserved);
    }
    event.to_string()
}

enum Var {
    Missing,
    Value(Value),
    /// Inserted verbatim wherever it appears.
    Raw(String),
}

fn lookup(name: &str, tr: &InputTransformer, ev: &Value, r: &Reserved<'_>) -> Option<Var> {
    match name {
        "aws.events.rule-arn" => return Some(Var::Value(Value::String(r.rule_arn.to_string()))),
        "aws.events.rule-name" => return Some(Var::Value(Value::String(r.rule_name.to_string()))),
        "aws.events.event.ingestion-time" => {
            return Some(Var::Value(Value::String(r.ingestion_time.to_string())));
        }
        "aws.events.event" => return Some(Var::Raw(event_without_detail(ev).to_string())),
        "aws.events.event.json" => return Some(Var::Raw(ev.to_string())),
        _ => {}
    }
    let path = tr.input_paths_map.as_ref()?.get(name)?;
    Some(match JsonPath::parse(path).and_then(|p| p.select(ev)) {
        Some(v) => Var::Value(v),
        None => Var::Missing,
    })
}

/// A value's text inside a string: strings as they are, containers without
/// their inner quotes.
fn text_of(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => "null".to_string(),
        Value::Object(_) | Value::Array(_) => v.to_string().replace('"', ""),
        other => other.to_string(),
    }
}

pub(crate) fn render(tr: &InputTransformer, ev: &Value, r: &Reserved<'_>) -> String {
    let tpl = tr.input_template.as_str();
    let structured = matches!(
        tpl.trim_start().as_bytes().first(),
        Some(b'{' | b'[' | b'"')
    );
    let mut out = String::with_capacity(tpl.len() + 64);
    let mut in_string = false;
    let mut escaped = false;
    let mut rest = tpl;
    while let Some(c) = rest.chars().next() {
        if c == '<'
            && let Some(end) = rest.find('>')
        {
            let name = &rest[1..end];
            let valid = !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'));
            if valid && let Some(var) = lookup(name, tr, ev, r) {
                let quoted = !structured || in_string;
                match var {
                    Var::Raw(s) => out.push_str(&s),
                    Var::Missing => out.push_str(if quoted { "" } else { "null" }),
                    Var::Value(v) => {
                        if quoted {
                            out.push_str(&text_of(&v));
                        } else {
                            out.push_str(&v.to_string());
                        }
                    }
                }
                rest = &rest[end + 1..];
                continue;
            }
        }
        if structured {
            if escaped {
                escaped = false;
            } else if c == '\\' && in_string {
                escaped = true;
            } else if c == '"' {
                in_string = !in_string;
            }
        }
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn ev() -> Value {
        json!({"version":"0","id":"e1","detail-type":"EC2 State","source":"aws.ec2","account":"1","time":"2024-01-01T00:00:00Z","region":"us-east-1","resources":["r1","r2"],"detail":{"instance-id":"i-1","state":"running","n":5,"tags":{"a":"b"},"list":[{"x":1},{"x":2}]}})
    }
    fn tr(paths: &[(&str, &str)], tpl: &str) -> InputTransformer {
        InputTransformer {
            input_paths_map: Some(
                paths
                    .iter()
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .collect::<BTreeMap<_, _>>(),
            ),
            input_template: tpl.to_string(),
        }
    }
    const R: Reserved<'static> = Reserved {
        rule_arn: "arn:r",
        rule_name: "r",
        ingestion_time: "2024-01-01T00:00:01Z",
    };

    #[test]
    fn json_paths() {
        let e = ev();
        assert_eq!(
            JsonPath::parse("$.detail.state").unwrap().select(&e),
            Some(json!("running"))
        );
        assert_eq!(
            JsonPath::parse("$.resources[1]").unwrap().select(&e),
            Some(json!("r2"))
        );
        assert_eq!(
            JsonPath::parse("$.detail.list[*].x").unwrap().select(&e),
            Some(json!([1, 2]))
        );
        assert_eq!(
            JsonPath::parse("$.detail.instance-id").unwrap().select(&e),
            Some(json!("i-1"))
        );
        assert_eq!(
            JsonPath::parse("$['detail-type']").unwrap().select(&e),
            Some(json!("EC2 State"))
        );
        assert_eq!(JsonPath::parse("$").unwrap().select(&e), Some(e.clone()));
        assert_eq!(JsonPath::parse("$.nope").unwrap().select(&e), None);
        assert!(JsonPath::parse("detail").is_none());
        assert!(JsonPath::parse("$..x").is_none());
    }

    #[test]
    fn string_template() {
        let t = tr(
            &[
                ("instance", "$.detail.instance-id"),
                ("state", "$.detail.state"),
            ],
            "\"<instance> is in state <state>\"",
        );
        assert_eq!(render(&t, &ev(), &R), "\"i-1 is in state running\"");
    }

    #[test]
    fn json_template_quoting() {
        let t = tr(
            &[
                ("i", "$.detail.instance-id"),
                ("n", "$.detail.n"),
                ("tags", "$.detail.tags"),
                ("missing", "$.detail.none"),
            ],
            r#"{"id": <i>, "quoted": "<i>", "n": <n>, "ns": "n=<n>", "tags": <tags>, "tagtext": "<tags>", "m": <missing>, "ms": "<missing>", "unknown": "<other>"}"#,
        );
        let out: Value = serde_json::from_str(&render(&t, &ev(), &R)).unwrap();
        assert_eq!(out["id"], "i-1");
        assert_eq!(out["quoted"], "i-1");
        assert_eq!(out["n"], 5);
        assert_eq!(out["ns"], "n=5");
        assert_eq!(out["tags"], json!({"a":"b"}));
        assert_eq!(out["tagtext"], "{a:b}");
        assert_eq!(out["m"], Value::Null);
        assert_eq!(out["ms"], "");
        assert_eq!(out["unknown"], "<other>");
    }

    #[test]
    fn reserved_variables() {
        let t = tr(
            &[],
            r#"{"arn": "<aws.events.rule-arn>", "name": <aws.events.rule-name>, "t": "<aws.events.event.ingestion-time>", "ev": <aws.events.event>, "full": <aws.events.event.json>}"#,
        );
        let out: Value = serde_json::from_str(&render(&t, &ev(), &R)).unwrap();
        assert_eq!(out["arn"], "arn:r");
        assert_eq!(out["name"], "r");
        assert_eq!(out["t"], "2024-01-01T00:00:01Z");
        assert!(out["ev"].get("detail").is_none());
        assert_eq!(out["ev"]["id"], "e1");
        assert_eq!(out["full"]["detail"]["state"], "running");
    }

    #[test]
    fn plain_text_template() {
        let t = tr(&[("s", "$.detail.state")], "State: <s>");
        assert_eq!(render(&t, &ev(), &R), "State: running");
    }

    #[test]
    fn input_and_input_path() {
        let e = ev().to_string();
        let mut t = Target {
            id: "t".into(),
            arn: "a".into(),
            ..Default::default()
        };
        assert_eq!(payload(&t, &e, &R), e);
        t.input_path = Some("$.detail.tags".into());
        assert_eq!(payload(&t, &e, &R), r#"{"a":"b"}"#);
        t.input_path = None;
        t.input = Some(r#"{"const":1}"#.into());
        assert_eq!(payload(&t, &e, &R), r#"{"const":1}"#);
        t.input_path = Some("$.detail".into());
        assert!(validate_target_input(&t).is_err());
    }
}
