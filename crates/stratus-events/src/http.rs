//! API destinations: outbound HTTP with the connection's authorization.
//!
//! Requests go through the shared outbound client (`stratus-http-out`), so
//! `http://` and `https://` endpoints both work; HTTPS certificates are checked
//! against the platform and webpki roots plus `--ca-bundle` /
//! `STRATUS_CA_BUNDLE`. Authorization: API_KEY (the named
//! header), BASIC (`Authorization: Basic`), OAUTH_CLIENT_CREDENTIALS (a token
//! fetched from the authorization endpoint with the client id and secret as
//! Basic credentials, cached until `expires_in`). The connection's invocation
//! parameters and the target's HttpParameters add headers, query strings and
//! (for JSON bodies) body fields. A request, response included, times out
//! after 5 s (AWS's API destination limit). As on AWS,
//! 401, 407, 409, 429 and 5xx responses are retried, other 4xx are not.
//! `InvocationRateLimitPerSecond` spaces the requests of a destination evenly.

use std::collections::HashMap;
use std::time::Duration;

use base64::Engine;
use bytes::Bytes;
use parking_lot::Mutex;
use serde_json::Value;
use stratus_http_out::SendError;

use crate::delivery::Failure;
use crate::generated::{ConnectionHttpParameters, CreateConnectionAuthRequestParameters, Target};
use crate::persist::{ApiDestRec, ConnectionRec};
use crate::util::now_ms;

const TIMEOUT: Duration = Duration::from_secs(5);

pub(crate) struct HttpInvoker {
    /// Connection key → (token, expiry ms).
    tokens: Mutex<HashMap<String, (String, i64)>>,
    /// Destination key → next free slot (ms) for rate limiting.
    slots: Mutex<HashMap<String, f64>>,
}

fn encode_query(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// The parts of a request before it is sent.
#[derive(Default)]
struct Outgoing {
    headers: Vec<(String, String)>,
    query: Vec<(String, String)>,
    body_params: Vec<(String, String)>,
}

impl Outgoing {
    fn add_params(&mut self, p: Option<&ConnectionHttpParameters>) {
        let Some(p) = p else { return };
        for h in p.header_parameters.iter().flatten() {
            if let (Some(k), Some(v)) = (&h.key, &h.value) {
                self.headers.push((k.clone(), v.clone()));
            }
        }
        for q in p.query_string_parameters.iter().flatten() {
            if let (Some(k), Some(v)) = (&q.key, &q.value) {
                self.query.push((k.clone(), v.clone()));
            }
        }
        for b in p.body_parameters.iter().flatten() {
            if let (Some(k), Some(v)) = (&b.key, &b.value) {
                self.body_params.push((k.clone(), v.clone()));
            }
        }
    }
}

pub(crate) fn classify_status(status: u16, body: &str) -> Result<(), Failure> {
    if (200..300).contains(&status) {
        return Ok(());
    }
    let excerpt: String = body.chars().take(256).collect();
    let msg = format!("Received a {status} response from the target: {excerpt}");
    if matches!(status, 401 | 407 | 409 | 429) || status >= 500 {
        Err(Failure::retryable("SDK_CLIENT_ERROR", msg))
    } else {
        Err(Failure::permanent("SDK_CLIENT_ERROR", msg))
    }
}

impl HttpInvoker {
    pub(crate) fn new() -> Self {
        Self {
            tokens: Mutex::new(HashMap::new()),
            slots: Mutex::new(HashMap::new()),
        }
    }

    async fn send(
        &self,
        method: &str,
        url: &str,
        headers: &[(String, String)],
        body: Option<String>,
    ) -> Result<(u16, String), Failure> {
        let mut hdrs: Vec<(&str, &str)> = Vec::with_capacity(headers.len() + 2);
        let mut has_ct = false;
        for (k, v) in headers {
            has_ct |= k.eq_ignore_ascii_case("content-type");
            hdrs.push((k.as_str(), v.as_str()));
        }
        if body.is_some() && !has_ct {
            hdrs.push(("content-type", "application/json; charset=utf-8"));
        }
        hdrs.push(("user-agent", "Amazon/EventBridge/ApiDestinations"));
        let body = Bytes::from(body.unwrap_or_default());
        match stratus_http_out::shared()
            .send(method, url, &hdrs, body, TIMEOUT)
            .await
        {
            Ok(r) => Ok((r.status, String::from_utf8_lossy(&r.body).into_owned())),
            Err(SendError::InvalidRequest(e)) => Err(Failure::permanent(
                "INVALID_PARAMETER",
                format!("Invalid request: {e}"),
            )),
            Err(SendError::Timeout) => Err(Failure::retryable(
                "TIMEOUT",
                "The request to the endpoint timed out.",
            )),
            Err(SendError::Connection(e)) => Err(Failure::retryable(
                "CONNECTION_FAILURE",
                format!("Connection to the endpoint failed: {e}"),
            )),
        }
    }

    /// Fetch (or reuse) the OAuth token of a connection.
    pub(crate) async fn oauth_token(
        &self,
        conn: &ConnectionRec,
        force: bool,
    ) -> Result<String, Failure> {
        let key = format!(
            "{}/{}/{}/{}",
            conn.account, conn.region, conn.name, conn.modified
        );
        if !force
            && let Some((t, exp)) = self.tokens.lock().get(&key).cloned()
            && exp > now_ms()
        {
            return Ok(t);
        }
        let Some(o) = &conn.auth.o_auth_parameters else {
            return Err(Failure::permanent(
                "INVALID_PARAMETER",
                "The connection has no OAuth parameters.",
            ));
        };
        let mut out = Outgoing::default();
        out.add_params(o.o_auth_http_parameters.as_ref());
        let creds = base64::engine::general_purpose::STANDARD.encode(format!(
            "{}:{}",
            o.client_parameters.client_id, o.client_parameters.client_secret
        ));
        out.headers
            .push(("authorization".into(), format!("Basic {creds}")));
        let mut url = o.authorization_endpoint.clone();
        if !out.query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encode_query(&out.query));
        }
        let body = (!out.body_params.is_empty()).then(|| {
            out.headers.push((
                "content-type".into(),
                "application/x-www-form-urlencoded".into(),
            ));
            encode_query(&out.body_params)
        });
        let (status, text) = self.send(&o.http_method, &url, &out.headers, body).await?;
        if !(200..300).contains(&status) {
            return Err(Failure::retryable(
                "FAILED_TO_ASSUME_ROLE",
                format!("The authorization endpoint answered {status}."),
            ));
        }
        let v: Value = serde_json::from_str(&text).map_err(|_| {
            Failure::permanent(
                "INVALID_JSON",
                "The authorization endpoint did not answer JSON.",
            )
        })?;
        let token = v
            .get("access_token")
            .and_then(Value::as_str)
            .ok_or_else(|| {
                Failure::permanent(
                    "INVALID_JSON",
                    "The authorization response has no access_token.",
                )
            })?
            .to_string();
        let ttl = v
            .get("expires_in")
            .and_then(Value::as_i64)
            .unwrap_or(3600)
            .max(1);
        self.tokens
            .lock()
            .insert(key, (token.clone(), now_ms() + ttl * 1000));
        Ok(token)
    }

    /// Wait for this destination's next rate-limit slot.
    async fn pace(&self, dest: &ApiDestRec) {
        let Some(rate) = dest.rate.filter(|r| *r > 0) else {
            return;
        };
        let key = format!("{}/{}/{}", dest.account, dest.region, dest.name);
        let wait = {
            let mut slots = self.slots.lock();
            let now = now_ms() as f64;
            let slot = slots.get(&key).copied().unwrap_or(now).max(now);
            slots.insert(key, slot + 1000.0 / rate as f64);
            slot - now
        };
        if wait > 0.0 {
            tokio::time::sleep(Duration::from_millis(wait as u64)).await;
        }
    }

    pub(crate) async fn invoke(
        &self,
        dest: &ApiDestRec,
        conn: &ConnectionRec,
        target: &Target,
        payload: String,
    ) -> Result<(), Failure> {
        if conn.state == "DEAUTHORIZED" || conn.state == "DEAUTHORIZING" {
            return Err(Failure::permanent(
                "NO_PERMISSIONS",
                format!("Connection {} is not authorized.", conn.name),
            ));
        }
        self.pace(dest).await;
        let mut out = Outgoing::default();
        let auth: &CreateConnectionAuthRequestParameters = &conn.auth;
        match conn.auth_type.as_str() {
            "API_KEY" => {
                if let Some(k) = &auth.api_key_auth_parameters {
                    out.headers
                        .push((k.api_key_name.clone(), k.api_key_value.clone()));
                }
            }
            "BASIC" => {
                if let Some(b) = &auth.basic_auth_parameters {
                    let creds = base64::engine::general_purpose::STANDARD
                        .encode(format!("{}:{}", b.username, b.password));
                    out.headers
                        .push(("authorization".into(), format!("Basic {creds}")));
                }
            }
            "OAUTH_CLIENT_CREDENTIALS" => {
                let token = self.oauth_token(conn, false).await?;
                out.headers
                    .push(("authorization".into(), format!("Bearer {token}")));
            }
            _ => {}
        }
        out.add_params(auth.invocation_http_parameters.as_ref());
        let mut url = dest.endpoint.clone();
        if let Some(hp) = &target.http_parameters {
            for v in hp.path_parameter_values.iter().flatten() {
                if let Some(i) = url.find('*') {
                    url.replace_range(i..i + 1, v);
                }
            }
            for (k, v) in hp.header_parameters.iter().flatten() {
                out.headers.push((k.clone(), v.clone()));
            }
            for (k, v) in hp.query_string_parameters.iter().flatten() {
                out.query.push((k.clone(), v.clone()));
            }
        }
        if !out.query.is_empty() {
            url.push(if url.contains('?') { '&' } else { '?' });
            url.push_str(&encode_query(&out.query));
        }
        let mut body = payload;
        if !out.body_params.is_empty()
            && let Ok(Value::Object(mut m)) = serde_json::from_str::<Value>(&body)
        {
            for (k, v) in &out.body_params {
                m.insert(k.clone(), Value::String(v.clone()));
            }
            body = Value::Object(m).to_string();
        }
        let send_body = (!matches!(dest.method.as_str(), "GET" | "HEAD")).then_some(body);
        let (status, text) = self
            .send(&dest.method, &url, &out.headers, send_body)
            .await?;
        if status == 401 && conn.auth_type == "OAUTH_CLIENT_CREDENTIALS" {
            // A rejected token is fetched again on the retry.
            self.tokens.lock().retain(|k, _| {
                !k.starts_with(&format!("{}/{}/{}/", conn.account, conn.region, conn.name))
            });
        }
        classify_status(status, &text)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statuses() {
        assert!(classify_status(200, "").is_ok());
        assert!(classify_status(500, "x").unwrap_err().retryable);
        assert!(classify_status(429, "").unwrap_err().retryable);
        assert!(classify_status(409, "").unwrap_err().retryable);
        assert!(!classify_status(400, "").unwrap_err().retryable);
        assert!(!classify_status(404, "").unwrap_err().retryable);
        assert_eq!(percent_encode("a b&c"), "a%20b%26c");
    }
}
