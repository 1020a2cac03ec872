//! HTTP handlers of the Extensions API and of the Logs/Telemetry subscribe
//! calls; the rules live in `extensions` and `subscriptions`.

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response};
use serde_json::json;

use crate::extensions::ApiError;
use crate::records::{Api, Event, Platform};
use crate::subscriptions::parse_request;
use crate::{Inner, Signal, error_reply, reply};

const ID_HEADER: &str = "lambda-extension-identifier";
const NAME_HEADER: &str = "lambda-extension-name";
const ERROR_TYPE_HEADER: &str = "lambda-extension-function-error-type";
/// Subscribe and register bodies are small; this bounds what is read.
const MAX_BODY: usize = 64 * 1024;

fn api_error(e: ApiError) -> Response<Full<Bytes>> {
    error_reply(e.status, e.error_type, &e.message)
}

fn header(req: &Request<Incoming>, name: &str) -> Option<String> {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

async fn body(req: Request<Incoming>) -> Bytes {
    Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default()
}

/// The calling extension's id and name, from `Lambda-Extension-Identifier`.
fn caller(inner: &Inner, req: &Request<Incoming>) -> Result<(String, String), ApiError> {
    let id = header(req, ID_HEADER).ok_or(ApiError {
        status: 403,
        error_type: "Extension.MissingExtensionIdentifier",
        message: "Missing Lambda-Extension-Identifier header".into(),
    })?;
    if uuid::Uuid::parse_str(&id).is_err() {
        return Err(ApiError {
            status: 403,
            error_type: "Extension.InvalidExtensionIdentifier",
            message: "Invalid Lambda-Extension-Identifier".into(),
        });
    }
    let name = inner.extensions.name_of(&id).ok_or_else(|| ApiError {
        status: 403,
        error_type: "Extension.UnknownExtensionIdentifier",
        message: format!("Unknown extension {id}"),
    })?;
    Ok((id, name))
}

pub(crate) async fn handle(
    inner: &Inner,
    rest: &str,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    match (req.method().clone(), rest) {
        (Method::POST, "register") => register(inner, req).await,
        (Method::GET, "event/next") => {
            let id = match caller(inner, &req) {
                Ok((id, _)) => id,
                Err(e) => return api_error(e),
            };
            let hub = inner.hub.clone();
            let next = inner
                .extensions
                .next(&id, |x| {
                    hub.emit(Event::Platform(Platform::Extension {
                        name: x.name.clone(),
                        events: x.events.clone(),
                    }))
                })
                .await;
            match next {
                Ok(ev) => {
                    let mut resp = reply(200, ev);
                    if let Ok(v) =
                        hyper::header::HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                    {
                        resp.headers_mut()
                            .insert("lambda-extension-event-identifier", v);
                    }
                    resp
                }
                Err(e) => api_error(e),
            }
        }
        (Method::POST, kind @ ("init/error" | "exit/error")) => {
            let name = match caller(inner, &req) {
                Ok((_, name)) => name,
                Err(e) => return api_error(e),
            };
            let Some(error_type) = header(&req, ERROR_TYPE_HEADER) else {
                return error_reply(
                    403,
                    "Extension.MissingHeader",
                    "Lambda-Extension-Function-Error-Type not found",
                );
            };
            let body = body(req).await;
            let signal = if kind == "init/error" {
                Signal::ExtensionInitError {
                    name,
                    error_type,
                    body,
                }
            } else {
                Signal::ExtensionExitError {
                    name,
                    error_type,
                    body,
                }
            };
            let _ = inner.signals.send(signal);
            reply(202, json!({"status": "OK"}))
        }
        (_, "register" | "event/next" | "init/error" | "exit/error") => {
            error_reply(405, "InvalidRequest", "method not allowed")
        }
        _ => error_reply(404, "InvalidRequest", "unknown Extensions API path"),
    }
}

async fn register(inner: &Inner, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let name = header(&req, NAME_HEADER).unwrap_or_default();
    let wants_account = header(&req, "lambda-extension-accept-feature")
        .is_some_and(|f| f.split(',').any(|x| x.trim() == "accountId"));
    let body = body(req).await;
    match inner.extensions.register(&name, &body) {
        Ok((id, _)) => {
            let info = inner.info.lock().clone();
            let mut out = json!({
                "functionName": info.function_name,
                "functionVersion": info.function_version,
                "handler": info.handler,
            });
            if wants_account {
                out["accountId"] = json!(info.account_id);
            }
            let mut resp = reply(200, out);
            if let Ok(v) = hyper::header::HeaderValue::from_str(&id) {
                resp.headers_mut().insert("lambda-extension-identifier", v);
            }
            resp
        }
        Err(e) => api_error(e),
    }
}

pub(crate) async fn subscribe(
    inner: &Inner,
    api: Api,
    req: Request<Incoming>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::PUT {
        return error_reply(405, "InvalidRequest", "method not allowed");
    }
    let name = match caller(inner, &req) {
        Ok((_, name)) => name,
        Err(e) => return api_error(e),
    };
    let body = body(req).await;
    match parse_request(api, &body) {
        Ok(r) => {
            inner.hub.subscribe(api, &name, r);
            let mut resp = Response::new(Full::new(Bytes::from_static(b"OK")));
            resp.headers_mut().insert(
                hyper::header::CONTENT_TYPE,
                hyper::header::HeaderValue::from_static("text/plain"),
            );
            resp
        }
        Err(e) => api_error(e),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use crate::records::Event;
    use crate::{RuntimeApi, Signal};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn http(addr: &str, req: String) -> String {
        let mut s = tokio::net::TcpStream::connect(addr).await.unwrap();
        s.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        s.read_to_end(&mut out).await.unwrap();
        String::from_utf8_lossy(&out).into_owned()
    }

    fn request(method: &str, path: &str, headers: &str, body: &str) -> String {
        format!(
            "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn register_subscribe_and_deliver_over_http() {
        let (api, mut signals) = RuntimeApi::bind(1024).await.unwrap();
        let addr = api.address();
        let resp = http(
            &addr,
            request(
                "POST",
                "/2020-01-01/extension/register",
                "Lambda-Extension-Name: ext\r\n",
                r#"{"events":["INVOKE"]}"#,
            ),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 200"), "{resp}");
        let id = resp
            .lines()
            .find_map(|l| l.strip_prefix("Lambda-Extension-Identifier: "))
            .unwrap()
            .trim()
            .to_string();
        // A subscriber listening on loopback, reached as sandbox.localdomain.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let body = format!(
            r#"{{"schemaVersion":"2022-12-13","destination":{{"protocol":"HTTP","URI":"http://sandbox.localdomain:{port}/t"}},"types":["function"],"buffering":{{"timeoutMs":25}}}}"#
        );
        let auth = format!("Lambda-Extension-Identifier: {id}\r\n");
        let resp = http(&addr, request("PUT", "/2022-07-01/telemetry", &auth, &body)).await;
        assert!(
            resp.starts_with("HTTP/1.1 200") && resp.ends_with("OK"),
            "{resp}"
        );
        api.emit(Event::Function("hello".into()));
        let (mut conn, _) = listener.accept().await.unwrap();
        let mut buf = vec![0u8; 4096];
        let mut got = String::new();
        while !got.contains("hello") {
            let n = conn.read(&mut buf).await.unwrap();
            assert!(n > 0, "{got}");
            got.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        assert!(got.starts_with("POST /t HTTP/1.1"), "{got}");
        let records: serde_json::Value =
            serde_json::from_str(got.split("\r\n\r\n").nth(1).unwrap()).unwrap();
        assert_eq!(records[0]["type"], "function");
        assert_eq!(records[0]["record"], "hello");
        conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
            .await
            .unwrap();
        // Errors: unknown identifiers, missing error-type header.
        let resp = http(
            &addr,
            request(
                "GET",
                "/2020-01-01/extension/event/next",
                "Lambda-Extension-Identifier: 6f1c1e4e-0000-4000-8000-000000000000\r\n",
                "",
            ),
        )
        .await;
        assert!(
            resp.contains("Extension.UnknownExtensionIdentifier"),
            "{resp}"
        );
        let resp = http(
            &addr,
            request("POST", "/2020-01-01/extension/init/error", &auth, "{}"),
        )
        .await;
        assert!(
            resp.starts_with("HTTP/1.1 403") && resp.contains("Extension.MissingHeader"),
            "{resp}"
        );
        let headers = format!("{auth}Lambda-Extension-Function-Error-Type: Extension.Bad\r\n");
        let resp = http(
            &addr,
            request("POST", "/2020-01-01/extension/exit/error", &headers, "{}"),
        )
        .await;
        assert!(resp.starts_with("HTTP/1.1 202"), "{resp}");
        match signals.recv().await {
            Some(Signal::ExtensionExitError {
                name, error_type, ..
            }) => {
                assert_eq!(
                    (name.as_str(), error_type.as_str()),
                    ("ext", "Extension.Bad")
                )
            }
            other => panic!("{other:?}"),
        }
    }
}
