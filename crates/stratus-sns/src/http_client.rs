//! Outbound HTTP for HTTP/S subscriptions (SNS is the client here), through
//! the shared `stratus-http-out` client (HTTPS included).

use std::time::Duration;

use bytes::Bytes;
use stratus_http_out::SendError;

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

/// The shared outbound client, seen through SNS's outcome classes.
pub(crate) struct HttpClient;

impl HttpClient {
    pub(crate) fn new() -> Self {
        Self
    }

    pub(crate) async fn post(&self, url: &str, headers: &[(&str, &str)], body: String) -> Outcome {
        match stratus_http_out::shared()
            .send("POST", url, headers, Bytes::from(body), ATTEMPT_TIMEOUT)
            .await
        {
            Ok(r) => classify(r.status),
            Err(SendError::Timeout) => Outcome::Failed("timed out".into()),
            Err(e) => Outcome::Failed(e.to_string()),
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
