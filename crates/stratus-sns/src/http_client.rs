//! Outbound HTTP for HTTP/S subscriptions (SNS is the client here).

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// How long one attempt may take (AWS gives HTTP/S endpoints 15 seconds).
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(15);

/// The result of one POST.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Delivered,
    /// 4xx other than 429: the endpoint refused the message; no retry.
    Rejected(u16),
    /// 5xx, 429, connection failure or timeout: retried per the policy.
    Failed(String),
}

pub(crate) struct HttpClient {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl HttpClient {
    pub(crate) fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        connector.set_nodelay(true);
        Self {
            client: Client::builder(TokioExecutor::new()).build(connector),
        }
    }

    pub(crate) async fn post(&self, url: &str, headers: &[(&str, &str)], body: String) -> Outcome {
        if url.starts_with("https://") {
            // No TLS client is built in; HTTPS endpoints fail like an
            // unreachable endpoint (and end in the dead-letter queue, if any).
            return Outcome::Failed("HTTPS delivery is not supported by Stratus".into());
        }
        let mut req = http::Request::builder().method("POST").uri(url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match req.body(Full::new(Bytes::from(body))) {
            Ok(r) => r,
            Err(e) => return Outcome::Failed(format!("invalid request: {e}")),
        };
        let sent = tokio::time::timeout(ATTEMPT_TIMEOUT, async {
            let resp = self.client.request(req).await?;
            let status = resp.status().as_u16();
            // Drain the body so the connection can be reused.
            let _ = resp.into_body().collect().await;
            Ok::<u16, hyper_util::client::legacy::Error>(status)
        })
        .await;
        match sent {
            Err(_) => Outcome::Failed("timed out".into()),
            Ok(Err(e)) => Outcome::Failed(format!("connection failed: {e}")),
            Ok(Ok(status)) => classify(status),
        }
    }
}

fn classify(status: u16) -> Outcome {
    match status {
        200..=399 => Outcome::Delivered,
        429 => Outcome::Failed("HTTP 429".into()),
        400..=499 => Outcome::Rejected(status),
        _ => Outcome::Failed(format!("HTTP {status}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes() {
        assert_eq!(classify(200), Outcome::Delivered);
        assert_eq!(classify(204), Outcome::Delivered);
        assert_eq!(classify(404), Outcome::Rejected(404));
        assert!(matches!(classify(429), Outcome::Failed(_)));
        assert!(matches!(classify(503), Outcome::Failed(_)));
    }
}
