//! The Extensions API (`/2020-01-01/extension/...`) of one environment:
//! registration, the `/event/next` long-poll with INVOKE and SHUTDOWN events,
//! and `/init/error` / `/exit/error`.
//!
//! An extension is "idle" while it waits in `/event/next` with nothing queued;
//! the environment uses that to tell when init and each invoke are complete.

use std::collections::VecDeque;

use parking_lot::Mutex;
use serde_json::{Value, json};
use tokio::sync::watch;

/// AWS's limit on extensions per function.
pub const MAX_EXTENSIONS: usize = 10;

#[derive(Debug)]
struct Extension {
    id: String,
    name: String,
    external: bool,
    events: Vec<String>,
    queue: VecDeque<Value>,
    /// Working on an event (or not yet ready): not inside `/event/next`.
    busy: bool,
    /// Called `/event/next` at least once.
    ready: bool,
}

/// Facts about one registered extension, for the environment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registered {
    pub name: String,
    pub external: bool,
    pub events: Vec<String>,
}

/// Why an Extensions API call was refused: status, errorType, errorMessage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub error_type: &'static str,
    pub message: String,
}

fn forbidden(error_type: &'static str, message: impl Into<String>) -> ApiError {
    ApiError {
        status: 403,
        error_type,
        message: message.into(),
    }
}

#[derive(Default)]
struct State {
    extensions: Vec<Extension>,
    /// File names of the external extensions that were started.
    external_names: Vec<String>,
    closed: bool,
}

/// The registry of one environment's extensions.
pub struct Registry {
    state: Mutex<State>,
    /// Bumped on every change; waiters re-check the state.
    changed: watch::Sender<u64>,
}

impl Default for Registry {
    fn default() -> Self {
        Registry {
            state: Mutex::new(State::default()),
            changed: watch::channel(0).0,
        }
    }
}

impl Registry {
    fn bump(&self) {
        self.changed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// Names (file names) of the external extensions about to start: a
    /// registration under one of these names is external, any other internal.
    pub fn expect_external(&self, names: Vec<String>) {
        self.state.lock().external_names = names;
    }

    /// `POST /extension/register`.
    pub fn register(&self, name: &str, body: &[u8]) -> Result<(String, Registered), ApiError> {
        if name.is_empty() {
            return Err(forbidden(
                "Extension.InvalidExtensionName",
                "Empty extension name",
            ));
        }
        let parsed: Value = serde_json::from_slice(body)
            .map_err(|e| forbidden("InvalidRequestFormat", e.to_string()))?;
        if parsed
            .get("configurationKeys")
            .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
        {
            return Err(forbidden(
                "InvalidRequestFormat",
                "configurationKeys are deprecated; use environment variables instead",
            ));
        }
        let events: Vec<String> = match parsed.get("events") {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(a)) => a
                .iter()
                .map(|e| {
                    e.as_str()
                        .map(str::to_string)
                        .ok_or_else(|| forbidden("InvalidRequestFormat", "events must be strings"))
                })
                .collect::<Result<_, _>>()?,
            Some(_) => {
                return Err(forbidden(
                    "InvalidRequestFormat",
                    "events must be an array of strings",
                ));
            }
        };
        let mut st = self.state.lock();
        let external = st.external_names.iter().any(|n| n == name);
        for e in &events {
            let ok = match e.as_str() {
                "INVOKE" => true,
                "SHUTDOWN" => external,
                _ => false,
            };
            if !ok {
                let why = if e == "SHUTDOWN" {
                    "internal extensions cannot register for the SHUTDOWN event"
                } else {
                    "unknown event type"
                };
                return Err(forbidden(
                    "Extension.InvalidEventType",
                    format!("{e}: {why}"),
                ));
            }
        }
        if st.closed {
            return Err(forbidden(
                "Extension.RegistrationClosed",
                "Extension registration closed already",
            ));
        }
        if st.extensions.iter().any(|x| x.name == name) {
            return Err(forbidden(
                "Extension.InvalidExtensionState",
                "Extension with this name already registered",
            ));
        }
        if st.extensions.len() >= MAX_EXTENSIONS {
            return Err(forbidden(
                "Extension.TooManyExtensions",
                format!("Extension limit ({MAX_EXTENSIONS}) reached"),
            ));
        }
        let id = uuid::Uuid::new_v4().to_string();
        st.extensions.push(Extension {
            id: id.clone(),
            name: name.to_string(),
            external,
            events: events.clone(),
            queue: VecDeque::new(),
            busy: true,
            ready: false,
        });
        drop(st);
        self.bump();
        Ok((
            id,
            Registered {
                name: name.to_string(),
                external,
                events,
            },
        ))
    }

    /// The extension's name, when `id` is registered.
    pub fn name_of(&self, id: &str) -> Option<String> {
        self.state
            .lock()
            .extensions
            .iter()
            .find(|x| x.id == id)
            .map(|x| x.name.clone())
    }

    /// `GET /extension/event/next`: the next event for `id`. `first_ready` runs
    /// on the extension's first call (it is then Ready, as AWS announces it).
    pub async fn next(
        &self,
        id: &str,
        mut first_ready: impl FnMut(&Registered),
    ) -> Result<Value, ApiError> {
        let mut rx = self.changed.subscribe();
        loop {
            {
                let mut st = self.state.lock();
                let Some(x) = st.extensions.iter_mut().find(|x| x.id == id) else {
                    return Err(forbidden(
                        "Extension.UnknownExtensionIdentifier",
                        format!("Unknown extension {id}"),
                    ));
                };
                if !x.ready {
                    x.ready = true;
                    first_ready(&Registered {
                        name: x.name.clone(),
                        external: x.external,
                        events: x.events.clone(),
                    });
                }
                if let Some(ev) = x.queue.pop_front() {
                    x.busy = true;
                    drop(st);
                    self.bump();
                    return Ok(ev);
                }
                if x.busy {
                    x.busy = false;
                    drop(st);
                    self.bump();
                }
            }
            rx.borrow_and_update();
            if rx.changed().await.is_err() {
                return Err(ApiError {
                    status: 500,
                    error_type: "ServiceException",
                    message: "the execution environment is shutting down".into(),
                });
            }
        }
    }

    /// Queue an event for every extension registered for `event_type`.
    /// Returns how many got it.
    pub fn broadcast(&self, event_type: &str, event: &Value) -> usize {
        let mut st = self.state.lock();
        let mut n = 0;
        for x in st.extensions.iter_mut() {
            if x.events.iter().any(|e| e == event_type) {
                x.queue.push_back(event.clone());
                x.busy = true;
                n += 1;
            }
        }
        drop(st);
        if n > 0 {
            self.bump();
        }
        n
    }

    /// Every registered extension waits in `/event/next` with nothing queued.
    pub fn all_idle(&self) -> bool {
        self.state
            .lock()
            .extensions
            .iter()
            .all(|x| x.ready && !x.busy && x.queue.is_empty())
    }

    /// Wait until [`Registry::all_idle`].
    pub async fn wait_idle(&self) {
        let mut rx = self.changed.subscribe();
        loop {
            if self.all_idle() {
                return;
            }
            rx.borrow_and_update();
            if rx.changed().await.is_err() {
                return;
            }
        }
    }

    /// Wait for any change of the registry (registration, readiness).
    pub async fn changed(&self) {
        let mut rx = self.changed.subscribe();
        rx.borrow_and_update();
        let _ = rx.changed().await;
    }

    pub fn registered(&self) -> Vec<Registered> {
        self.state
            .lock()
            .extensions
            .iter()
            .map(|x| Registered {
                name: x.name.clone(),
                external: x.external,
                events: x.events.clone(),
            })
            .collect()
    }

    /// Init is over: later registrations are refused.
    pub fn close(&self) {
        self.state.lock().closed = true;
    }
}

/// The INVOKE event as AWS sends it to extensions.
pub fn invoke_event(request_id: &str, deadline_ms: u64, arn: &str, trace_id: &str) -> Value {
    json!({
        "eventType": "INVOKE",
        "deadlineMs": deadline_ms,
        "requestId": request_id,
        "invokedFunctionArn": arn,
        "tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id},
    })
}

/// The SHUTDOWN event; `reason` is `spindown`, `timeout` or `failure`.
pub fn shutdown_event(reason: &str, deadline_ms: u64) -> Value {
    json!({"eventType": "SHUTDOWN", "shutdownReason": reason, "deadlineMs": deadline_ms})
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn registration_rules() {
        let r = Registry::default();
        r.expect_external(vec!["ext.py".into()]);
        let err = r.register("", b"{}").unwrap_err();
        assert_eq!(err.error_type, "Extension.InvalidExtensionName");
        let err = r.register("x", b"not json").unwrap_err();
        assert_eq!(err.error_type, "InvalidRequestFormat");
        let err = r.register("x", br#"{"events":["SHUTDOWN"]}"#).unwrap_err();
        assert_eq!(err.error_type, "Extension.InvalidEventType");
        assert!(err.message.starts_with("SHUTDOWN:"), "{}", err.message);
        let err = r.register("x", br#"{"events":["BOGUS"]}"#).unwrap_err();
        assert_eq!(err.error_type, "Extension.InvalidEventType");
        let (_, reg) = r
            .register("ext.py", br#"{"events":["INVOKE","SHUTDOWN"]}"#)
            .unwrap();
        assert!(reg.external);
        let (_, reg) = r.register("internal", br#"{"events":["INVOKE"]}"#).unwrap();
        assert!(!reg.external);
        let err = r.register("internal", br#"{"events":[]}"#).unwrap_err();
        assert_eq!(err.error_type, "Extension.InvalidExtensionState");
        r.close();
        let err = r.register("late", br#"{"events":[]}"#).unwrap_err();
        assert_eq!(err.error_type, "Extension.RegistrationClosed");
        assert_eq!(err.status, 403);
    }

    #[test]
    fn at_most_ten_extensions() {
        let r = Registry::default();
        for i in 0..MAX_EXTENSIONS {
            r.register(&format!("e{i}"), b"{}").unwrap();
        }
        let err = r.register("one-more", b"{}").unwrap_err();
        assert_eq!(err.error_type, "Extension.TooManyExtensions");
    }

    #[tokio::test]
    async fn events_and_idleness() {
        let r = Arc::new(Registry::default());
        r.expect_external(vec!["ext".into()]);
        let (id, _) = r
            .register("ext", br#"{"events":["INVOKE","SHUTDOWN"]}"#)
            .unwrap();
        let (id2, _) = r.register("quiet", br#"{"events":[]}"#).unwrap();
        assert!(!r.all_idle(), "registered but not ready");
        let r2 = r.clone();
        let quiet = tokio::spawn(async move { r2.next(&id2, |_| {}).await });
        let r3 = r.clone();
        let id3 = id.clone();
        let mut announced = Vec::new();
        let first = tokio::spawn(async move {
            let mut names = Vec::new();
            let ev = r3.next(&id3, |x| names.push(x.name.clone())).await;
            (ev, names)
        });
        tokio::time::timeout(std::time::Duration::from_secs(2), r.wait_idle())
            .await
            .unwrap();
        assert_eq!(
            r.broadcast("INVOKE", &invoke_event("req", 5, "arn", "Root=1")),
            1
        );
        assert!(!r.all_idle());
        let (ev, names) = first.await.unwrap();
        announced.extend(names);
        assert_eq!(announced, vec!["ext".to_string()]);
        let ev = ev.unwrap();
        assert_eq!(ev["eventType"], "INVOKE");
        assert_eq!(ev["requestId"], "req");
        assert_eq!(ev["tracing"]["type"], "X-Amzn-Trace-Id");
        // Busy until it asks again.
        assert!(!r.all_idle());
        let r4 = r.clone();
        let id4 = id.clone();
        let second = tokio::spawn(async move { r4.next(&id4, |_| {}).await });
        tokio::time::timeout(std::time::Duration::from_secs(2), r.wait_idle())
            .await
            .unwrap();
        r.broadcast("SHUTDOWN", &shutdown_event("spindown", 9));
        let ev = second.await.unwrap().unwrap();
        assert_eq!(ev["shutdownReason"], "spindown");
        assert!(
            !quiet.is_finished(),
            "no events for an extension without subscriptions"
        );
        quiet.abort();
        assert_eq!(
            r.next("nope", |_| {}).await.unwrap_err().error_type,
            "Extension.UnknownExtensionIdentifier"
        );
    }
}
