//! The Lambda Runtime API of one execution environment.
//!
//! This crate is, besides `stratus-server`, the one place in Stratus that serves
//! HTTP: every execution environment of `stratus-lambda` gets its own listener on
//! `127.0.0.1:0`, and the runtime client inside the function process (Stratus's
//! Python/Node bootstraps, or any `provided.*` bootstrap such as the Rust
//! `lambda_runtime` crate) reaches it through `AWS_LAMBDA_RUNTIME_API`.
//!
//! Endpoints (API version `2018-06-01`, as documented by AWS):
//! - `GET  /2018-06-01/runtime/invocation/next` — long-polls for the next event;
//!   answers with the payload and the `Lambda-Runtime-*` headers.
//! - `POST /2018-06-01/runtime/invocation/{id}/response` — 202, or 413 when the
//!   response exceeds the limit.
//! - `POST /2018-06-01/runtime/invocation/{id}/error` — 202; the
//!   `Lambda-Runtime-Function-Error-Type` header and the JSON body are passed on.
//! - `POST /2018-06-01/runtime/init/error` — 202; the environment's init failed.
//!
//! Extensions (`2020-01-01/extension/...`, see [`extensions`]) and the Logs and
//! Telemetry APIs (`PUT 2020-08-15/logs`, `PUT 2022-07-01/telemetry`, see
//! [`subscriptions`]) are served on the same endpoint, as on AWS.
//!
//! The service side is plain Rust: [`RuntimeApi::invoke`] hands an
//! [`Invocation`] to the runtime and returns a receiver for its [`Outcome`];
//! the receiver of [`Signal`]s tells when the runtime first asked for work
//! (init finished) or reported an init error. Nothing here knows about
//! functions, processes or logs.

pub mod delivery;
pub mod extensions;
pub mod records;
pub mod subscriptions;

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use parking_lot::Mutex;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use extensions::Registered;
pub use records::{Api, Event, Platform, ReportMetrics};
use subscriptions::Hub;

const PREFIX: &str = "/2018-06-01/runtime/";
const EXTENSION_PREFIX: &str = "/2020-01-01/extension/";

mod ext_api;

/// One event for the runtime.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub request_id: String,
    /// Epoch milliseconds at which the invocation times out.
    pub deadline_ms: u64,
    pub invoked_function_arn: String,
    pub trace_id: String,
    pub client_context: Option<String>,
    pub cognito_identity: Option<String>,
    pub payload: Bytes,
}

/// How the runtime finished an invocation.
#[derive(Debug, Clone)]
pub enum Outcome {
    Response(Bytes),
    /// `/error`: the error type header (if any) and the body as sent.
    Error {
        error_type: Option<String>,
        body: Bytes,
    },
    /// The runtime posted a response larger than the limit (it got a 413).
    ResponseTooLarge {
        size: usize,
    },
}

/// Things the runtime tells outside of an invocation.
#[derive(Debug, Clone)]
pub enum Signal {
    /// The first `/next`: initialisation is complete.
    Ready,
    /// `/init/error`.
    InitError {
        error_type: Option<String>,
        body: Bytes,
    },
    /// An extension's `/extension/init/error`.
    ExtensionInitError {
        name: String,
        error_type: String,
        body: Bytes,
    },
    /// An extension's `/extension/exit/error`.
    ExtensionExitError {
        name: String,
        error_type: String,
        body: Bytes,
    },
}

/// What extensions see in the register response.
#[derive(Debug, Clone, Default)]
pub struct FunctionInfo {
    pub function_name: String,
    pub function_version: String,
    pub handler: String,
    pub account_id: String,
}

type Job = (Invocation, oneshot::Sender<Outcome>);

struct Inner {
    jobs: tokio::sync::Mutex<mpsc::Receiver<Job>>,
    inflight: Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    signals: mpsc::UnboundedSender<Signal>,
    ready_sent: AtomicBool,
    max_response: usize,
    extensions: extensions::Registry,
    hub: Arc<Hub>,
    info: Mutex<FunctionInfo>,
}

/// A bound Runtime API endpoint. Dropping it stops the listener.
pub struct RuntimeApi {
    addr: SocketAddr,
    sender: mpsc::Sender<Job>,
    task: JoinHandle<()>,
    inner: Arc<Inner>,
}

impl RuntimeApi {
    /// Bind `127.0.0.1:0`. `max_response` is the largest response body accepted.
    pub async fn bind(
        max_response: usize,
    ) -> std::io::Result<(Self, mpsc::UnboundedReceiver<Signal>)> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (sender, receiver) = mpsc::channel(1);
        let (sig_tx, sig_rx) = mpsc::unbounded_channel();
        let inner = Arc::new(Inner {
            jobs: tokio::sync::Mutex::new(receiver),
            inflight: Mutex::new(HashMap::new()),
            signals: sig_tx,
            ready_sent: AtomicBool::new(false),
            max_response,
            extensions: extensions::Registry::default(),
            hub: Arc::new(Hub::default()),
            info: Mutex::new(FunctionInfo::default()),
        });
        let task = tokio::spawn(accept_loop(listener, inner.clone()));
        Ok((
            RuntimeApi {
                addr,
                sender,
                task,
                inner,
            },
            sig_rx,
        ))
    }

    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// The function facts handed to extensions when they register.
    pub fn set_function_info(&self, info: FunctionInfo) {
        *self.inner.info.lock() = info;
    }

    /// The extensions registry (registration, events, idleness).
    pub fn extensions(&self) -> &extensions::Registry {
        &self.inner.extensions
    }

    /// The Logs/Telemetry API fan-out; cloneable so pipe readers can report lines.
    pub fn hub(&self) -> Arc<Hub> {
        self.inner.hub.clone()
    }

    /// Report a platform event (or a line) to the subscribers.
    pub fn emit(&self, event: Event) {
        self.inner.hub.emit(event);
    }

    /// Init is complete: registration closes and the init backlog is dropped.
    pub fn init_done(&self) {
        self.inner.extensions.close();
        self.inner.hub.end_backlog();
    }

    /// The Shutdown phase: buffered telemetry is delivered, SHUTDOWN goes to
    /// the extensions registered for it, and this waits until they are back in
    /// `/event/next` or `limit` passed. Returns whether they all finished.
    pub async fn shutdown(&self, reason: &str, limit: std::time::Duration) -> bool {
        let start = std::time::Instant::now();
        self.inner.hub.flush(limit / 2).await;
        let deadline =
            SystemTimeMs::now() + (limit.saturating_sub(start.elapsed())).as_millis() as u64;
        let event = extensions::shutdown_event(reason, deadline);
        if self.inner.extensions.broadcast("SHUTDOWN", &event) == 0 {
            return true;
        }
        let left = limit.saturating_sub(start.elapsed());
        tokio::time::timeout(left, self.inner.extensions.wait_idle())
            .await
            .is_ok()
    }

    /// Queue an invocation for the runtime's next `/next` (and send INVOKE to
    /// the extensions registered for it).
    pub async fn invoke(&self, invocation: Invocation) -> oneshot::Receiver<Outcome> {
        self.inner.extensions.broadcast(
            "INVOKE",
            &extensions::invoke_event(
                &invocation.request_id,
                invocation.deadline_ms,
                &invocation.invoked_function_arn,
                &invocation.trace_id,
            ),
        );
        let (tx, rx) = oneshot::channel();
        // If the listener is gone the sender is dropped and the receiver errors,
        // which the caller treats as a crashed runtime.
        let _ = self.sender.send((invocation, tx)).await;
        rx
    }
}

/// Epoch milliseconds.
struct SystemTimeMs;

impl SystemTimeMs {
    fn now() -> u64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept_loop(listener: TcpListener, inner: Arc<Inner>) {
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let inner = inner.clone();
        // Connections die with the listener task (JoinSet aborts on drop), so a
        // long-polling runtime of a discarded environment does not keep a task.
        connections.spawn(async move {
            // Title-case header names, as AWS's endpoint writes them
            // (`Lambda-Extension-Identifier`): some clients compare exactly.
            let conn = http1::Builder::new()
                .keep_alive(true)
                .title_case_headers(true)
                .serve_connection(
                    TokioIo::new(stream),
                    service_fn(move |req| {
                        let inner = inner.clone();
                        async move { Ok::<_, Infallible>(handle(&inner, req).await) }
                    }),
                );
            if let Err(e) = conn.await {
                tracing::trace!("runtime API connection ended: {e}");
            }
        });
        while connections.try_join_next().is_some() {}
    }
}

fn reply(status: u16, body: serde_json::Value) -> Response<Full<Bytes>> {
    let mut resp = Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = hyper::StatusCode::from_u16(status).unwrap_or(hyper::StatusCode::OK);
    resp.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    resp
}

fn accepted() -> Response<Full<Bytes>> {
    reply(202, serde_json::json!({"status": "OK"}))
}

fn error_reply(status: u16, error_type: &str, message: &str) -> Response<Full<Bytes>> {
    reply(
        status,
        serde_json::json!({"errorMessage": message, "errorType": error_type}),
    )
}

async fn handle(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    if let Some(rest) = path.strip_prefix(EXTENSION_PREFIX) {
        return ext_api::handle(inner, rest, req).await;
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed == "/2020-08-15/logs" || trimmed == "/2022-07-01/telemetry" {
        let api = if trimmed.ends_with("logs") {
            Api::Logs
        } else {
            Api::Telemetry
        };
        return ext_api::subscribe(inner, api, req).await;
    }
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return error_reply(404, "InvalidRequest", "unknown Runtime API path");
    };
    if req.method() == Method::GET && rest == "invocation/next" {
        return next(inner).await;
    }
    if req.method() != Method::POST {
        return error_reply(405, "InvalidRequest", "method not allowed");
    }
    let error_type = req
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    // Read one byte past the limit so an oversized body is recognised as such.
    let limit = inner.max_response + 1;
    let body = match Limited::new(req.into_body(), limit).collect().await {
        Ok(b) => Ok(b.to_bytes()),
        Err(_) => Err(()),
    };
    if rest == "init/error" {
        let body = body.unwrap_or_default();
        let _ = inner.signals.send(Signal::InitError { error_type, body });
        return accepted();
    }
    let Some((id, kind)) = rest
        .strip_prefix("invocation/")
        .and_then(|r| r.rsplit_once('/'))
    else {
        return error_reply(404, "InvalidRequest", "unknown Runtime API path");
    };
    let Some(waiter) = inner.inflight.lock().remove(id) else {
        return error_reply(400, "InvalidRequestID", "Invalid request ID");
    };
    match (kind, body) {
        ("response", Ok(body)) if body.len() <= inner.max_response => {
            let _ = waiter.send(Outcome::Response(body));
            accepted()
        }
        ("response", other) => {
            let size = other.map(|b| b.len()).unwrap_or(limit);
            let _ = waiter.send(Outcome::ResponseTooLarge { size });
            error_reply(
                413,
                "RequestEntityTooLarge",
                &format!(
                    "Exceeded maximum allowed payload size ({} bytes).",
                    inner.max_response
                ),
            )
        }
        ("error", body) => {
            let _ = waiter.send(Outcome::Error {
                error_type,
                body: body.unwrap_or_default(),
            });
            accepted()
        }
        _ => {
            inner.inflight.lock().insert(id.to_string(), waiter);
            error_reply(404, "InvalidRequest", "unknown Runtime API path")
        }
    }
}

async fn next(inner: &Inner) -> Response<Full<Bytes>> {
    if !inner.ready_sent.swap(true, Ordering::SeqCst) {
        let _ = inner.signals.send(Signal::Ready);
    }
    let job = {
        let mut jobs = inner.jobs.lock().await;
        jobs.recv().await
    };
    let Some((inv, waiter)) = job else {
        return error_reply(
            500,
            "ServiceException",
            "the execution environment is shutting down",
        );
    };
    inner.inflight.lock().insert(inv.request_id.clone(), waiter);
    let mut resp = Response::new(Full::new(inv.payload));
    let headers = resp.headers_mut();
    let mut put = |name: &'static str, value: &str| {
        if let Ok(v) = hyper::header::HeaderValue::from_str(value) {
            headers.insert(name, v);
        }
    };
    put("content-type", "application/json");
    put("lambda-runtime-aws-request-id", &inv.request_id);
    put("lambda-runtime-deadline-ms", &inv.deadline_ms.to_string());
    put(
        "lambda-runtime-invoked-function-arn",
        &inv.invoked_function_arn,
    );
    put("lambda-runtime-trace-id", &inv.trace_id);
    if let Some(cc) = &inv.client_context {
        put("lambda-runtime-client-context", cc);
    }
    if let Some(ci) = &inv.cognito_identity {
        put("lambda-runtime-cognito-identity", ci);
    }
    resp
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http(addr: &str, req: String) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut buf = vec![0u8; 65536];
        let mut out = Vec::new();
        // One response per connection (Connection: close).
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&out).into_owned()
    }

    #[tokio::test]
    async fn next_response_and_error_round_trip() {
        let (api, mut signals) = RuntimeApi::bind(16).await.unwrap();
        let addr = api.address();
        let inv = Invocation {
            request_id: "req-1".into(),
            deadline_ms: 42,
            invoked_function_arn: "arn:aws:lambda:us-east-1:000000000000:function:f".into(),
            trace_id: "Root=1-abc".into(),
            client_context: None,
            cognito_identity: None,
            payload: Bytes::from_static(b"{\"a\":1}"),
        };
        let rx = api.invoke(inv).await;
        let next = http(&addr, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
        assert!(matches!(signals.recv().await, Some(Signal::Ready)));
        let lower = next.to_lowercase();
        assert!(
            lower.contains("lambda-runtime-aws-request-id: req-1"),
            "{next}"
        );
        assert!(next.contains("Lambda-Runtime-Deadline-Ms: 42"), "{next}");
        assert!(next.ends_with("{\"a\":1}"));
        let body = "\"ok\"";
        let resp = http(&addr, format!("POST /2018-06-01/runtime/invocation/req-1/response HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}", body.len())).await;
        assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
        match rx.await.unwrap() {
            Outcome::Response(b) => assert_eq!(&b[..], b"\"ok\""),
            other => panic!("{other:?}"),
        }
        // Unknown request ids are refused.
        let resp = http(&addr, "POST /2018-06-01/runtime/invocation/nope/response HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 2\r\n\r\n{}".into()).await;
        assert!(resp.starts_with("HTTP/1.1 400"), "{resp}");
        // Oversized responses get 413 and the invocation reports it.
        let rx = api
            .invoke(Invocation {
                request_id: "req-2".into(),
                ..api_inv()
            })
            .await;
        http(&addr, "GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".into()).await;
        let big = "x".repeat(100);
        let resp = http(&addr, format!("POST /2018-06-01/runtime/invocation/req-2/response HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 100\r\n\r\n{big}")).await;
        assert!(resp.starts_with("HTTP/1.1 413"), "{resp}");
        assert!(matches!(
            rx.await.unwrap(),
            Outcome::ResponseTooLarge { .. }
        ));
        // Init errors arrive as signals.
        http(&addr, "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nConnection: close\r\nLambda-Runtime-Function-Error-Type: Runtime.X\r\nContent-Length: 2\r\n\r\n{}".into()).await;
        match signals.recv().await {
            Some(Signal::InitError { error_type, .. }) => {
                assert_eq!(error_type.as_deref(), Some("Runtime.X"))
            }
            other => panic!("{other:?}"),
        }
    }

    fn api_inv() -> Invocation {
        Invocation {
            request_id: String::new(),
            deadline_ms: 0,
            invoked_function_arn: String::new(),
            trace_id: String::new(),
            client_context: None,
            cognito_identity: None,
            payload: Bytes::new(),
        }
    }
}
