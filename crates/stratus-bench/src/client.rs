//! Minimal keep-alive HTTP/1.1 client speaking the SQS JSON protocol (awsJson1.0)
//! and, for the Lambda benchmarks, AWS's REST-JSON protocol.
//!
//! Every benchmark task owns one `SqsConn`, i.e. one TCP connection, so the number
//! of connections is exactly the concurrency the user asked for. Request bodies are
//! built once by the caller and passed as `Bytes`, so the per-request client cost is
//! a header map and a refcount bump.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, HOST};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// A parsed `http://host:port` endpoint. Only loopback addresses are accepted: this
/// tool generates heavy load and must never point it at another machine.
#[derive(Clone, Debug)]
pub struct Endpoint {
    pub addr: SocketAddr,
    pub authority: HeaderValue,
    pub url: String,
}

impl Endpoint {
    pub fn parse(url: &str) -> Result<Self> {
        let rest = url
            .strip_prefix("http://")
            .ok_or_else(|| anyhow!("endpoint must start with http:// (got {url})"))?;
        let authority = rest.split('/').next().unwrap_or_default();
        if authority.is_empty() {
            bail!("endpoint {url} has no host");
        }
        let with_port = if authority
            .rsplit_once(':')
            .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
        {
            authority.to_string()
        } else {
            format!("{authority}:80")
        };
        let addrs: Vec<SocketAddr> = with_port
            .to_socket_addrs()
            .with_context(|| format!("resolving {with_port}"))?
            .collect();
        // Prefer IPv4 loopback: most emulators bind 127.0.0.1 or 0.0.0.0 only.
        let addr = addrs
            .iter()
            .find(|a| a.is_ipv4() && a.ip().is_loopback())
            .or_else(|| addrs.iter().find(|a| a.ip().is_loopback()))
            .copied()
            .ok_or_else(|| {
                anyhow!("refusing non-loopback endpoint {url} (resolved to {addrs:?})")
            })?;
        Ok(Self {
            addr,
            authority: HeaderValue::from_str(authority)?,
            url: format!("http://{authority}"),
        })
    }
}

/// SQS operations the benchmarks use; each maps to its `X-Amz-Target` value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    CreateQueue,
    DeleteQueue,
    ListQueues,
    SendMessage,
    SendMessageBatch,
    ReceiveMessage,
    DeleteMessage,
    DeleteMessageBatch,
    GetQueueAttributes,
}

impl Op {
    fn target(self) -> &'static str {
        match self {
            Op::CreateQueue => "AmazonSQS.CreateQueue",
            Op::DeleteQueue => "AmazonSQS.DeleteQueue",
            Op::ListQueues => "AmazonSQS.ListQueues",
            Op::SendMessage => "AmazonSQS.SendMessage",
            Op::SendMessageBatch => "AmazonSQS.SendMessageBatch",
            Op::ReceiveMessage => "AmazonSQS.ReceiveMessage",
            Op::DeleteMessage => "AmazonSQS.DeleteMessage",
            Op::DeleteMessageBatch => "AmazonSQS.DeleteMessageBatch",
            Op::GetQueueAttributes => "AmazonSQS.GetQueueAttributes",
        }
    }
}

/// A fully read response.
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Reply {
    pub fn is_ok(&self) -> bool {
        self.status == StatusCode::OK
    }

    /// Short printable description, used for the "first error" sample in reports.
    pub fn describe(&self) -> String {
        let text = String::from_utf8_lossy(&self.body);
        let text: String = text.chars().take(300).collect();
        format!("HTTP {}: {text}", self.status.as_u16())
    }
}

// Emulators parse the credential scope for region/account but do not verify the
// signature by default, so a fixed, well-formed SigV4 header is enough and keeps
// signing cost out of the client's hot path.
const FAKE_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sqs/aws4_request, \
SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
Signature=0000000000000000000000000000000000000000000000000000000000000000";
// Same for Lambda: the credential scope's service is what routes a REST request
// to the right service on multi-service emulators.
const FAKE_AUTH_LAMBDA: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/lambda/aws4_request, \
SignedHeaders=content-type;host;x-amz-date, \
Signature=0000000000000000000000000000000000000000000000000000000000000000";
const AMZ_DATE: &str = "20250101T000000Z";
const JSON_10: &str = "application/x-amz-json-1.0";
const JSON: &str = "application/json";

/// How a request is framed on the wire: content type, `X-Amz-Target` (JSON
/// protocols) and the fake SigV4 header, whose credential scope names the
/// service (emulators route query-protocol requests by it).
#[derive(Clone, Copy, Debug)]
pub struct Wire {
    pub content_type: &'static str,
    pub target: Option<&'static str>,
    pub auth: &'static str,
}

/// One keep-alive connection. Servers that close after every response (HTTP/1.0
/// style, e.g. some Python dev servers) are handled by reconnecting before the next
/// request; `reconnects` records how often that happened so it can be reported.
pub struct SqsConn {
    endpoint: Endpoint,
    sender: Option<SendRequest<Full<Bytes>>>,
    pub reconnects: u64,
    pub timeout: Duration,
}

impl SqsConn {
    pub async fn connect(endpoint: &Endpoint) -> Result<Self> {
        let mut conn = Self {
            endpoint: endpoint.clone(),
            sender: None,
            reconnects: 0,
            timeout: Duration::from_secs(30),
        };
        conn.sender = Some(conn.open().await?);
        Ok(conn)
    }

    async fn open(&self) -> Result<SendRequest<Full<Bytes>>> {
        let stream = TcpStream::connect(self.endpoint.addr)
            .await
            .with_context(|| format!("connecting to {}", self.endpoint.url))?;
        // Small request/response pairs: without NODELAY Nagle would add latency.
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            // Connection-level errors surface on the next send; nothing to do here.
            let _ = connection.await;
        });
        Ok(sender)
    }

    /// Returns a sender that is ready to accept a request, reconnecting if the
    /// server closed the previous connection. Reconnecting here is safe because no
    /// request has been written yet.
    async fn ready_sender(&mut self) -> Result<&mut SendRequest<Full<Bytes>>> {
        let usable = match self.sender.as_mut() {
            Some(s) if !s.is_closed() => s.ready().await.is_ok(),
            _ => false,
        };
        if !usable {
            self.reconnects += 1;
            self.sender = Some(self.open().await?);
        }
        self.sender.as_mut().ok_or_else(|| anyhow!("no connection"))
    }

    /// Sends one SQS request and reads the whole response body.
    pub async fn call(&mut self, op: Op, body: Bytes) -> Result<Reply> {
        let request = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, self.endpoint.authority.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(JSON_10))
            .header("x-amz-target", op.target())
            .header("x-amz-date", HeaderValue::from_static(AMZ_DATE))
            .header(AUTHORIZATION, HeaderValue::from_static(FAKE_AUTH))
            .body(Full::new(body))?;
        self.exchange(request, &format!("{op:?}")).await
    }

    /// Sends one Lambda REST-JSON request (`path` includes the API version
    /// prefix, e.g. `/2015-03-31/functions`) and reads the whole response body.
    pub async fn lambda(&mut self, method: Method, path: &str, body: Bytes) -> Result<Reply> {
        let request = Request::builder()
            .method(method.clone())
            .uri(path)
            .header(HOST, self.endpoint.authority.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(JSON))
            .header("x-amz-date", HeaderValue::from_static(AMZ_DATE))
            .header(AUTHORIZATION, HeaderValue::from_static(FAKE_AUTH_LAMBDA))
            .body(Full::new(body))?;
        self.exchange(request, &format!("{method} {path}")).await
    }

    /// Sends one request of any AWS protocol (`Wire` says how it is framed)
    /// and reads the whole response body; `what` names it in errors.
    pub async fn request(&mut self, wire: Wire, what: &str, body: Bytes) -> Result<Reply> {
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri("/")
            .header(HOST, self.endpoint.authority.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(wire.content_type));
        if let Some(target) = wire.target {
            builder = builder.header("x-amz-target", target);
        }
        let request = builder
            .header("x-amz-date", HeaderValue::from_static(AMZ_DATE))
            .header(AUTHORIZATION, HeaderValue::from_static(wire.auth))
            .body(Full::new(body))?;
        self.exchange(request, what).await
    }

    async fn exchange(&mut self, request: Request<Full<Bytes>>, what: &str) -> Result<Reply> {
        let timeout = self.timeout;
        let sender = self.ready_sender().await?;
        let exchange = async {
            let response = sender.send_request(request).await?;
            let (parts, body) = response.into_parts();
            let body = body.collect().await?.to_bytes();
            anyhow::Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body,
            })
        };
        match tokio::time::timeout(timeout, exchange).await {
            Ok(result) => result,
            Err(_) => {
                // The connection is in an unknown state after a timeout: drop it.
                self.sender = None;
                bail!("{what} timed out after {timeout:?}")
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn parses_loopback_endpoints() {
        let ep = Endpoint::parse("http://127.0.0.1:4566").unwrap();
        assert_eq!(ep.addr.port(), 4566);
        assert_eq!(ep.authority, "127.0.0.1:4566");
        let ep = Endpoint::parse("http://localhost:9/").unwrap();
        assert!(ep.addr.ip().is_loopback());
    }

    #[test]
    fn rejects_other_hosts_and_schemes() {
        assert!(Endpoint::parse("http://10.0.0.1:4566").is_err());
        assert!(Endpoint::parse("https://127.0.0.1:4566").is_err());
        assert!(Endpoint::parse("http://").is_err());
    }
}
