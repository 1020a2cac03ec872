//! Logs API and Telemetry API subscriptions: validation of the subscribe
//! request, per-subscriber buffers with AWS's limits, and the hub that fans
//! records out to them. Delivery itself is in `delivery`.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::Notify;

use crate::delivery::{self, Destination};
use crate::extensions::ApiError;
use crate::records::{Api, Event, dropped_record, now_rfc3339, subscription_record};

/// Buffering settings after validation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Buffering {
    pub max_items: usize,
    pub max_bytes: usize,
    pub timeout_ms: u64,
}

/// A validated subscribe request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub destination: Destination,
    pub types: Vec<String>,
    pub buffering: Buffering,
}

fn invalid(message: impl Into<String>) -> ApiError {
    ApiError {
        status: 400,
        error_type: "ValidationError",
        message: message.into(),
    }
}

fn bounded(b: &Value, field: &str, min: u64, max: u64, default: u64) -> Result<u64, ApiError> {
    match b.get(field) {
        None | Some(Value::Null) => Ok(default),
        Some(v) => match v.as_u64() {
            Some(n) if (min..=max).contains(&n) => Ok(n),
            _ => Err(invalid(format!(
                "buffering.{field} must be an integer between {min} and {max}"
            ))),
        },
    }
}

/// Check a subscribe body against AWS's rules for `api`.
pub fn parse_request(api: Api, body: &[u8]) -> Result<Request, ApiError> {
    let v: Value = serde_json::from_slice(body)
        .map_err(|e| invalid(format!("request body is not valid JSON: {e}")))?;
    let schema = v.get("schemaVersion").and_then(Value::as_str);
    match (api, schema) {
        (Api::Telemetry, Some("2022-07-01" | "2022-12-13" | "2025-01-29")) => {}
        (Api::Telemetry, _) => {
            return Err(invalid(
                "schemaVersion must be one of 2022-07-01, 2022-12-13, 2025-01-29",
            ));
        }
        (Api::Logs, None | Some("2020-08-15" | "2021-03-18")) => {}
        (Api::Logs, Some(other)) => {
            return Err(invalid(format!(
                "schemaVersion {other} is not supported (2020-08-15, 2021-03-18)"
            )));
        }
    }
    let dest = v
        .get("destination")
        .filter(|d| d.is_object())
        .ok_or_else(|| invalid("destination is required"))?;
    let protocol = dest.get("protocol").and_then(Value::as_str).unwrap_or("");
    let uri = dest
        .get("URI")
        .and_then(Value::as_str)
        .ok_or_else(|| invalid("destination.URI is required"))?;
    let destination = match protocol {
        "HTTP" => Destination::http(uri),
        "TCP" => Destination::tcp(uri),
        _ => return Err(invalid("destination.protocol must be HTTP or TCP")),
    }
    .map_err(invalid)?;
    let types: Vec<String> = v
        .get("types")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|t| t.as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    if types.is_empty() {
        return Err(invalid(
            "types must name at least one of platform, function, extension",
        ));
    }
    if let Some(bad) = types
        .iter()
        .find(|t| !matches!(t.as_str(), "platform" | "function" | "extension"))
    {
        return Err(invalid(format!(
            "type {bad} is not one of platform, function, extension"
        )));
    }
    let b = v.get("buffering").cloned().unwrap_or(Value::Null);
    if !b.is_null() && !b.is_object() {
        return Err(invalid("buffering must be an object"));
    }
    let default_items = match api {
        Api::Logs => 10_000,
        Api::Telemetry => 1_000,
    };
    let buffering = Buffering {
        max_items: bounded(&b, "maxItems", 1_000, 10_000, default_items)? as usize,
        max_bytes: bounded(&b, "maxBytes", 262_144, 1_048_576, 262_144)? as usize,
        timeout_ms: bounded(&b, "timeoutMs", 25, 30_000, 1_000)?,
    };
    Ok(Request {
        destination,
        types,
        buffering,
    })
}

#[derive(Default)]
struct Buffer {
    items: Vec<Value>,
    bytes: usize,
    since: Option<Instant>,
    dropped_records: u64,
    dropped_bytes: u64,
    flush_now: bool,
    in_flight: bool,
}

/// One subscriber: its buffer and settings.
pub(crate) struct Subscriber {
    pub api: Api,
    pub extension: String,
    pub types: Vec<String>,
    pub destination: Destination,
    pub buffering: Buffering,
    buffer: Mutex<Buffer>,
    pub(crate) wake: Notify,
    closed: AtomicBool,
}

/// What the delivery task should do next.
pub(crate) enum Next {
    Send(Vec<Value>),
    Wait(Option<Duration>),
    Stop,
}

impl Subscriber {
    fn wants(&self, category: &str) -> bool {
        self.types.iter().any(|t| t == category)
    }

    /// Buffer one record; when the buffer is full (a slow subscriber) it is
    /// dropped and counted for the next `platform.logsDropped`.
    pub(crate) fn push(&self, record: Value) {
        let size = record.to_string().len();
        let mut b = self.buffer.lock();
        if b.items.len() >= self.buffering.max_items || b.bytes + size > self.buffering.max_bytes {
            b.dropped_records += 1;
            b.dropped_bytes += size as u64;
            return;
        }
        b.items.push(record);
        b.bytes += size;
        if b.since.is_none() {
            b.since = Some(Instant::now());
        }
        drop(b);
        // The delivery task re-checks: the batch may now be full, or the task
        // may be sleeping without a deadline (it had an empty buffer).
        self.wake.notify_one();
    }

    /// Take a batch when one is due (full, timed out, flushed or closing).
    pub(crate) fn next(&self) -> Next {
        let mut b = self.buffer.lock();
        let closed = self.closed.load(Ordering::SeqCst);
        if b.items.is_empty() && b.dropped_records == 0 {
            b.flush_now = false;
            return if closed { Next::Stop } else { Next::Wait(None) };
        }
        let timeout = Duration::from_millis(self.buffering.timeout_ms);
        let age = b.since.map(|s| s.elapsed()).unwrap_or(timeout);
        let due = closed
            || b.flush_now
            || b.items.len() >= self.buffering.max_items
            || b.bytes >= self.buffering.max_bytes
            || age >= timeout;
        if !due {
            return Next::Wait(Some(timeout - age));
        }
        let mut batch = Vec::with_capacity(b.items.len() + 1);
        if b.dropped_records > 0 {
            batch.push(dropped_record(b.dropped_records, b.dropped_bytes));
            b.dropped_records = 0;
            b.dropped_bytes = 0;
        }
        batch.append(&mut b.items);
        b.bytes = 0;
        b.since = None;
        b.flush_now = false;
        b.in_flight = true;
        Next::Send(batch)
    }

    pub(crate) fn sent(&self) {
        self.buffer.lock().in_flight = false;
    }

    fn drained(&self) -> bool {
        let b = self.buffer.lock();
        b.items.is_empty() && !b.in_flight
    }

    fn flush(&self) {
        self.buffer.lock().flush_now = true;
        self.wake.notify_one();
    }

    fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }
}

/// The fan-out point of one environment.
pub struct Hub {
    subscribers: Mutex<Vec<Arc<Subscriber>>>,
    /// Records of the init phase, kept for extensions that subscribe during
    /// init (they subscribe after the platform already reported initStart).
    backlog: Mutex<Option<Vec<(String, Event)>>>,
}

impl Default for Hub {
    fn default() -> Self {
        Hub {
            subscribers: Mutex::new(Vec::new()),
            backlog: Mutex::new(Some(Vec::new())),
        }
    }
}

fn stamped(time: &str, kind: &str, record: Value) -> Value {
    json!({"time": time, "type": kind, "record": record})
}

impl Hub {
    /// Report one event to every subscriber of its type.
    pub fn emit(&self, event: Event) {
        // Backlog first, then subscribers (as in `subscribe`): a subscriber
        // added meanwhile gets the event either from the backlog or live.
        let mut backlog = self.backlog.lock();
        let subs = self.subscribers.lock().clone();
        if subs.is_empty() && backlog.is_none() {
            return;
        }
        let time = now_rfc3339();
        let category = event.category();
        for s in subs.iter().filter(|s| s.wants(category)) {
            if let Some((kind, record)) = event.render(s.api) {
                s.push(stamped(&time, kind, record));
            }
        }
        if let Some(backlog) = backlog.as_mut() {
            backlog.push((time, event));
        }
    }

    /// Init is over; later subscribers get records from now on only.
    pub fn end_backlog(&self) {
        *self.backlog.lock() = None;
    }

    /// Add (or replace) `extension`'s subscription for `api`.
    pub fn subscribe(&self, api: Api, extension: &str, req: Request) {
        let sub = Arc::new(Subscriber {
            api,
            extension: extension.to_string(),
            types: req.types,
            destination: req.destination,
            buffering: req.buffering,
            buffer: Mutex::new(Buffer::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        });
        let backlog = self.backlog.lock();
        if let Some(backlog) = backlog.as_ref() {
            for (t, ev) in backlog.iter().filter(|(_, e)| sub.wants(e.category())) {
                if let Some((kind, record)) = ev.render(api) {
                    sub.push(stamped(t, kind, record));
                }
            }
        }
        if sub.wants("platform") {
            let (kind, record) = subscription_record(api, extension, &sub.types);
            sub.push(stamped(&now_rfc3339(), kind, record));
        }
        let old = {
            let mut subs = self.subscribers.lock();
            let old = subs
                .iter()
                .position(|s| s.api == api && s.extension == extension)
                .map(|i| subs.remove(i));
            subs.push(sub.clone());
            old
        };
        drop(backlog);
        if let Some(o) = old {
            o.close();
        }
        tokio::spawn(delivery::run(sub));
    }

    pub fn has_subscribers(&self) -> bool {
        !self.subscribers.lock().is_empty()
    }

    /// Send everything buffered now and wait (up to `within`) until delivered.
    pub async fn flush(&self, within: Duration) {
        let subs = self.subscribers.lock().clone();
        for s in &subs {
            s.flush();
        }
        let until = Instant::now() + within;
        while Instant::now() < until && !subs.iter().all(|s| s.drained()) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        for s in self.subscribers.lock().drain(..) {
            s.close();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn err(api: Api, body: &str) -> String {
        parse_request(api, body.as_bytes()).unwrap_err().message
    }

    #[test]
    fn validation_follows_aws_limits() {
        let ok = r#"{"schemaVersion":"2022-12-13","destination":{"protocol":"HTTP","URI":"http://sandbox.localdomain:8080/t"},"types":["platform","function"]}"#;
        let r = parse_request(Api::Telemetry, ok.as_bytes()).unwrap();
        assert_eq!(
            r.buffering,
            Buffering {
                max_items: 1000,
                max_bytes: 262_144,
                timeout_ms: 1000
            }
        );
        let logs = r#"{"destination":{"protocol":"TCP","URI":"tcp://sandbox.localdomain:9000"},"types":["function"]}"#;
        assert_eq!(
            parse_request(Api::Logs, logs.as_bytes())
                .unwrap()
                .buffering
                .max_items,
            10_000
        );
        assert!(
            err(
                Api::Telemetry,
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":["platform"]}"#
            )
            .contains("schemaVersion")
        );
        assert!(
            err(
                Api::Logs,
                r#"{"destination":{"protocol":"UDP","URI":"x"},"types":["platform"]}"#
            )
            .contains("protocol")
        );
        assert!(
            err(
                Api::Logs,
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":[]}"#
            )
            .contains("types")
        );
        assert!(
            err(
                Api::Logs,
                r#"{"destination":{"protocol":"HTTP","URI":"http://x:1"},"types":["bogus"]}"#
            )
            .contains("bogus")
        );
        for (field, v) in [
            ("maxItems", 999),
            ("maxItems", 10_001),
            ("maxBytes", 1000),
            ("timeoutMs", 24),
            ("timeoutMs", 30_001),
        ] {
            let body = format!(
                r#"{{"destination":{{"protocol":"HTTP","URI":"http://x:1"}},"types":["platform"],"buffering":{{"{field}":{v}}}}}"#
            );
            assert!(err(Api::Logs, &body).contains(field), "{field}={v}");
        }
        assert_eq!(parse_request(Api::Logs, b"nope").unwrap_err().status, 400);
    }

    fn sub(max_items: usize) -> Subscriber {
        Subscriber {
            api: Api::Telemetry,
            extension: "e".into(),
            types: vec!["function".into()],
            destination: Destination::http("http://127.0.0.1:1/").unwrap(),
            buffering: Buffering {
                max_items,
                max_bytes: 262_144,
                timeout_ms: 60_000,
            },
            buffer: Mutex::new(Buffer::default()),
            wake: Notify::new(),
            closed: AtomicBool::new(false),
        }
    }

    #[test]
    fn full_buffer_drops_and_reports() {
        let s = sub(2);
        s.push(json!(1));
        assert!(matches!(s.next(), Next::Wait(Some(_))), "not due yet");
        s.push(json!(2));
        s.push(json!(3));
        let Next::Send(batch) = s.next() else {
            panic!("a full buffer is due")
        };
        // The third record did not fit: the batch says so first.
        assert_eq!(batch[0]["type"], "platform.logsDropped");
        assert_eq!(batch[0]["record"]["droppedRecords"], 1);
        assert_eq!(batch[1..], [json!(1), json!(2)]);
        s.push(json!(4));
        s.flush();
        let Next::Send(batch) = s.next() else {
            panic!("flushed")
        };
        assert_eq!(batch, vec![json!(4)]);
        s.sent();
        s.close();
        assert!(matches!(s.next(), Next::Stop));
    }
}
