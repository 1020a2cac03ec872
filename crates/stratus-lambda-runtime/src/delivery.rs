//! Delivery of buffered records to a subscriber: HTTP POSTs of JSON arrays,
//! or newline-delimited JSON over one TCP connection, with retries.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::Request;
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::subscriptions::{Next, Subscriber};

/// Attempts per batch before it is given up.
const ATTEMPTS: u32 = 4;
/// How long one delivery may take (a slow subscriber holds the POST).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(30);

/// Where a subscriber receives records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    Http {
        host: String,
        port: u16,
        path: String,
    },
    Tcp {
        host: String,
        port: u16,
    },
}

/// The extension's own listeners are reached on loopback: `sandbox`,
/// `sandbox.localdomain` (AWS's name for the environment) and `localhost`.
fn connect_host(host: &str) -> &str {
    match host {
        "sandbox" | "sandbox.localdomain" | "localhost" | "0.0.0.0" => "127.0.0.1",
        h => h,
    }
}

fn host_port(authority: &str) -> Result<(String, u16), String> {
    let (host, port) = authority
        .rsplit_once(':')
        .ok_or_else(|| format!("destination.URI {authority} needs a port"))?;
    let port = port
        .parse::<u16>()
        .ok()
        .filter(|p| *p > 0)
        .ok_or_else(|| format!("destination.URI has an invalid port: {port}"))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err("destination.URI needs a host".into());
    }
    Ok((host.to_string(), port))
}

impl Destination {
    pub fn http(uri: &str) -> Result<Destination, String> {
        let rest = uri
            .strip_prefix("http://")
            .ok_or_else(|| format!("destination.URI {uri} must be an http:// URI"))?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], rest[i..].to_string()),
            None => (rest, "/".to_string()),
        };
        let (host, port) = host_port(authority)?;
        Ok(Destination::Http { host, port, path })
    }

    pub fn tcp(uri: &str) -> Result<Destination, String> {
        let rest = uri.strip_prefix("tcp://").unwrap_or(uri);
        let (host, port) = host_port(rest.trim_end_matches('/'))?;
        Ok(Destination::Tcp { host, port })
    }
}

/// The delivery task of one subscriber; ends when the subscriber is closed
/// and its buffer is empty.
pub(crate) async fn run(sub: Arc<Subscriber>) {
    let mut tcp: Option<TcpStream> = None;
    loop {
        match sub.next() {
            Next::Stop => return,
            Next::Wait(d) => {
                let woken = sub.wake.notified();
                match d {
                    Some(d) => {
                        let _ = tokio::time::timeout(d, woken).await;
                    }
                    None => woken.await,
                }
            }
            Next::Send(batch) => {
                let count = batch.len();
                let mut delay = Duration::from_millis(100);
                let mut ok = false;
                for attempt in 1..=ATTEMPTS {
                    let r = tokio::time::timeout(
                        ATTEMPT_TIMEOUT,
                        send(&sub.destination, &batch, &mut tcp),
                    )
                    .await
                    .unwrap_or_else(|_| Err("timed out".into()));
                    match r {
                        Ok(()) => {
                            ok = true;
                            break;
                        }
                        Err(e) => {
                            tracing::debug!(extension = %sub.extension, attempt, "telemetry delivery failed: {e}");
                            tcp = None;
                            if attempt < ATTEMPTS {
                                tokio::time::sleep(delay).await;
                                delay *= 2;
                            }
                        }
                    }
                }
                if !ok {
                    tracing::warn!(extension = %sub.extension, count, "telemetry records dropped: the subscriber did not accept them");
                }
                sub.sent();
            }
        }
    }
}

async fn send(
    dest: &Destination,
    batch: &[Value],
    tcp: &mut Option<TcpStream>,
) -> Result<(), String> {
    match dest {
        Destination::Http { host, port, path } => {
            let body = serde_json::to_vec(batch).map_err(|e| e.to_string())?;
            let stream = TcpStream::connect((connect_host(host), *port))
                .await
                .map_err(|e| e.to_string())?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| e.to_string())?;
            let conn = tokio::spawn(conn);
            let req = Request::post(path.as_str())
                .header("host", format!("{host}:{port}"))
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body)))
                .map_err(|e| e.to_string())?;
            let resp = sender.send_request(req).await.map_err(|e| e.to_string());
            conn.abort();
            let status = resp?.status();
            if status.is_success() {
                Ok(())
            } else {
                Err(format!("the subscriber answered {status}"))
            }
        }
        Destination::Tcp { host, port } => {
            if tcp.is_none() {
                *tcp = Some(
                    TcpStream::connect((connect_host(host), *port))
                        .await
                        .map_err(|e| e.to_string())?,
                );
            }
            let Some(stream) = tcp.as_mut() else {
                return Err("no connection".into());
            };
            let mut out = Vec::new();
            for r in batch {
                out.extend_from_slice(r.to_string().as_bytes());
                out.push(b'\n');
            }
            stream.write_all(&out).await.map_err(|e| e.to_string())?;
            stream.flush().await.map_err(|e| e.to_string())
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn destinations_parse() {
        assert_eq!(
            Destination::http("http://sandbox.localdomain:8080/lambda_logs").unwrap(),
            Destination::Http {
                host: "sandbox.localdomain".into(),
                port: 8080,
                path: "/lambda_logs".into()
            }
        );
        assert_eq!(
            Destination::http("http://sandbox:4243").unwrap(),
            Destination::Http {
                host: "sandbox".into(),
                port: 4243,
                path: "/".into()
            }
        );
        assert!(Destination::http("https://x:1/").is_err());
        assert!(Destination::http("http://x/").is_err());
        assert!(Destination::http("http://x:0/").is_err());
        assert_eq!(
            Destination::tcp("tcp://sandbox.localdomain:9000").unwrap(),
            Destination::Tcp {
                host: "sandbox.localdomain".into(),
                port: 9000
            }
        );
        assert_eq!(connect_host("sandbox.localdomain"), "127.0.0.1");
        assert_eq!(connect_host("10.0.0.1"), "10.0.0.1");
    }
}
