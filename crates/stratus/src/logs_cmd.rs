//! `stratus logs`: print (and follow) a log group of a running Stratus.
//!
//! It is an HTTP client of the server like any SDK: awsJson 1.1
//! `FilterLogEvents` calls, signed with SigV4 from the usual AWS environment
//! variables (so it also works against `--auth verify` and selects the
//! account by access key). A function name `fn` means `/aws/lambda/fn`.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use bytes::Bytes;
use clap::Parser;
use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const TARGET_PREFIX: &str = "Logs_20140328";
const POLL_EVERY: Duration = Duration::from_secs(1);

#[derive(Parser, Debug, Clone)]
pub struct LogsArgs {
    /// A log group name (`/aws/lambda/my-fn`) or a Lambda function name
    /// (`my-fn`, read from `/aws/lambda/my-fn`).
    pub target: String,

    /// Keep printing new events as they arrive (polls about once a second) until interrupted.
    #[arg(long, short = 'f')]
    pub follow: bool,

    /// Endpoint of the running Stratus.
    #[arg(
        long,
        env = "STRATUS_ENDPOINT",
        default_value = "http://127.0.0.1:4566"
    )]
    pub endpoint: String,

    /// Where to start: a duration back from now (`30s`, `10m`, `2h`, `1d`),
    /// epoch milliseconds, or an RFC 3339 time.
    #[arg(long, default_value = "10m")]
    pub since: String,

    /// Only events matching this CloudWatch Logs filter pattern.
    #[arg(long)]
    pub filter_pattern: Option<String>,

    /// Region of the log group (default: AWS_REGION, AWS_DEFAULT_REGION, then us-east-1).
    #[arg(long)]
    pub region: Option<String>,
}

pub fn run(args: LogsArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let result = runtime.block_on(async {
        tokio::select! {
            r = tail(args) => r,
            _ = interrupted() => Ok(()),
        }
    });
    // A plain message for a command-line tool, not an error report with a backtrace.
    if let Err(e) = result {
        eprintln!("stratus logs: {e:#}");
        std::process::exit(1);
    }
    Ok(())
}

/// Ctrl-C or SIGTERM: `--follow` ends cleanly.
async fn interrupted() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn tail(args: LogsArgs) -> anyhow::Result<()> {
    let client = LogsHttp::new(&args)?;
    let now = chrono::Utc::now().timestamp_millis();
    let start = parse_since(&args.since, now)?;
    let mut candidates = vec![];
    if args.target.contains('/') {
        candidates.push(args.target.clone());
    } else {
        candidates.push(format!("/aws/lambda/{}", args.target));
        candidates.push(args.target.clone());
    }
    let mut cursor = Cursor {
        start,
        seen: HashSet::new(),
    };
    let mut waiting_noted = false;
    loop {
        let mut found = false;
        for group in &candidates {
            match client
                .print_new(group, args.filter_pattern.as_deref(), &mut cursor)
                .await
            {
                Ok(()) => {
                    found = true;
                    // Stick to the group that exists.
                    candidates = vec![group.clone()];
                    break;
                }
                Err(CallError::Aws(code, _)) if code == "ResourceNotFoundException" => continue,
                Err(e) => return Err(anyhow!("{e}")),
            }
        }
        if !found {
            if !args.follow {
                bail!("log group {} does not exist", candidates.join(" or "));
            }
            if !waiting_noted {
                eprintln!(
                    "waiting for log group {} to exist...",
                    candidates.join(" or ")
                );
                waiting_noted = true;
            }
        }
        if !args.follow {
            return Ok(());
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// Where the next poll starts: events at `start` already printed are in `seen`.
struct Cursor {
    start: i64,
    seen: HashSet<String>,
}

#[derive(Debug)]
enum CallError {
    Aws(String, String),
    Other(anyhow::Error),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Aws(code, msg) => write!(f, "{code}: {msg}"),
            CallError::Other(e) => write!(f, "{e:#}"),
        }
    }
}

struct LogsHttp {
    client: Client<HttpConnector, Full<Bytes>>,
    endpoint: String,
    host: String,
    region: String,
    access_key: String,
    secret_key: String,
    session_token: Option<String>,
}

impl LogsHttp {
    fn new(args: &LogsArgs) -> anyhow::Result<Self> {
        let endpoint = args.endpoint.trim_end_matches('/').to_string();
        let uri: http::Uri = endpoint
            .parse()
            .with_context(|| format!("invalid endpoint {endpoint}"))?;
        if uri.scheme_str() != Some("http") {
            bail!("the endpoint must be an http:// URL (got {endpoint})");
        }
        let host = uri
            .authority()
            .map(|a| a.as_str().to_string())
            .ok_or_else(|| anyhow!("the endpoint has no host: {endpoint}"))?;
        let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build_http(),
            endpoint,
            host,
            region: args
                .region
                .clone()
                .or_else(|| env("AWS_REGION"))
                .or_else(|| env("AWS_DEFAULT_REGION"))
                .unwrap_or_else(|| "us-east-1".to_string()),
            access_key: env("AWS_ACCESS_KEY_ID").unwrap_or_else(|| "test".to_string()),
            secret_key: env("AWS_SECRET_ACCESS_KEY").unwrap_or_else(|| "test".to_string()),
            session_token: env("AWS_SESSION_TOKEN"),
        })
    }

    /// Prints every event after the cursor (all pages) and advances it.
    async fn print_new(
        &self,
        group: &str,
        pattern: Option<&str>,
        cursor: &mut Cursor,
    ) -> Result<(), CallError> {
        let mut token: Option<String> = None;
        let mut newest = cursor.start;
        let mut at_newest: HashSet<String> = HashSet::new();
        loop {
            let mut input = json!({"logGroupName": group, "startTime": cursor.start});
            if let Some(p) = pattern {
                input["filterPattern"] = json!(p);
            }
            if let Some(t) = &token {
                input["nextToken"] = json!(t);
            }
            let out = self.call("FilterLogEvents", &input).await?;
            let events = out["events"].as_array().cloned().unwrap_or_default();
            let mut lines = String::new();
            for e in &events {
                let id = e["eventId"].as_str().unwrap_or_default().to_string();
                let ts = e["timestamp"].as_i64().unwrap_or(0);
                if ts == cursor.start && cursor.seen.contains(&id) {
                    continue;
                }
                lines.push_str(&format_line(
                    ts,
                    e["logStreamName"].as_str().unwrap_or_default(),
                    e["message"].as_str().unwrap_or_default(),
                ));
                if ts > newest {
                    newest = ts;
                    at_newest.clear();
                }
                if ts == newest {
                    at_newest.insert(id);
                }
            }
            print_out(&lines);
            match out["nextToken"].as_str() {
                Some(t) if !events.is_empty() || token.as_deref() != Some(t) => {
                    token = Some(t.to_string())
                }
                _ => break,
            }
        }
        if newest > cursor.start {
            cursor.start = newest;
            cursor.seen = at_newest;
        } else {
            cursor.seen.extend(at_newest);
        }
        Ok(())
    }

    async fn call(&self, operation: &str, input: &Value) -> Result<Value, CallError> {
        let body = serde_json::to_vec(input).map_err(|e| CallError::Other(e.into()))?;
        let target = format!("{TARGET_PREFIX}.{operation}");
        let amz_date = chrono::Utc::now().format("%Y%m%dT%H%M%SZ").to_string();
        let authorization = self.sign(&target, &amz_date, &body);
        let mut req = http::Request::builder()
            .method("POST")
            .uri(format!("{}/", self.endpoint))
            .header("host", &self.host)
            .header("content-type", "application/x-amz-json-1.1")
            .header("x-amz-target", &target)
            .header("x-amz-date", &amz_date)
            .header("authorization", authorization);
        if let Some(t) = &self.session_token {
            req = req.header("x-amz-security-token", t);
        }
        let req = req
            .body(Full::new(Bytes::from(body)))
            .map_err(|e| CallError::Other(e.into()))?;
        let resp = self.client.request(req).await.map_err(|e| {
            CallError::Other(anyhow!("cannot reach Stratus at {}: {e}", self.endpoint))
        })?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| CallError::Other(anyhow!("reading the response: {e}")))?
            .to_bytes();
        let doc: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(doc);
        }
        let code = doc["__type"]
            .as_str()
            .map(|t| t.rsplit('#').next().unwrap_or(t).to_string())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let message = doc["message"]
            .as_str()
            .or_else(|| doc["Message"].as_str())
            .unwrap_or_default()
            .to_string();
        Err(CallError::Aws(code, message))
    }

    /// SigV4 `Authorization` header for a POST to `/`.
    fn sign(&self, target: &str, amz_date: &str, body: &[u8]) -> String {
        let date = &amz_date[..8];
        let signed_headers = "content-type;host;x-amz-date;x-amz-target";
        let canonical = format!(
            "POST\n/\n\ncontent-type:application/x-amz-json-1.1\nhost:{}\nx-amz-date:{amz_date}\nx-amz-target:{target}\n\n{signed_headers}\n{}",
            self.host,
            hex::encode(Sha256::digest(body))
        );
        let scope = format!("{date}/{}/logs/aws4_request", self.region);
        let to_sign = format!(
            "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
            hex::encode(Sha256::digest(canonical.as_bytes()))
        );
        let mut key = hmac(
            format!("AWS4{}", self.secret_key).as_bytes(),
            date.as_bytes(),
        );
        for part in [self.region.as_str(), "logs", "aws4_request"] {
            key = hmac(&key, part.as_bytes());
        }
        let signature = hex::encode(hmac(&key, to_sign.as_bytes()));
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            self.access_key
        )
    }
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match Hmac::<Sha256>::new_from_slice(key) {
        Ok(mut mac) => {
            mac.update(data);
            mac.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

fn print_out(lines: &str) {
    use std::io::Write;
    if lines.is_empty() {
        return;
    }
    let mut out = std::io::stdout().lock();
    // A closed pipe (`stratus logs fn | head`) is not an error worth reporting.
    let _ = out.write_all(lines.as_bytes());
    let _ = out.flush();
}

/// `2024-05-01T12:00:00.123Z stream message`, one line per event (the
/// message's trailing newline, which Lambda output carries, is dropped).
fn format_line(ts: i64, stream: &str, message: &str) -> String {
    let when = chrono::DateTime::from_timestamp_millis(ts)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ts.to_string());
    format!(
        "{when} {stream} {}\n",
        message.trim_end_matches(['\n', '\r'])
    )
}

/// `--since`: `30s`, `10m`, `2h`, `1d`, `1w`, epoch millis, or RFC 3339.
fn parse_since(s: &str, now: i64) -> anyhow::Result<i64> {
    let s = s.trim();
    if let Ok(t) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(t.timestamp_millis());
    }
    if s.len() >= 12
        && let Ok(ms) = s.parse::<i64>()
    {
        return Ok(ms);
    }
    let (num, unit) = s.split_at(s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len()));
    let n: i64 = num
        .parse()
        .with_context(|| format!("invalid --since {s:?}: use e.g. 30s, 10m, 2h, 1d"))?;
    let ms = match unit {
        "ms" => 1,
        "" | "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "d" => 86_400_000,
        "w" => 7 * 86_400_000,
        _ => bail!("invalid --since {s:?}: use e.g. 30s, 10m, 2h, 1d"),
    };
    Ok(now - n * ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn since_forms() {
        let now = 1_700_000_000_000;
        assert_eq!(parse_since("10m", now).ok(), Some(now - 600_000));
        assert_eq!(parse_since("2h", now).ok(), Some(now - 7_200_000));
        assert_eq!(parse_since("1d", now).ok(), Some(now - 86_400_000));
        assert_eq!(parse_since("45", now).ok(), Some(now - 45_000));
        assert_eq!(
            parse_since("1699999999000", now).ok(),
            Some(1_699_999_999_000)
        );
        assert_eq!(
            parse_since("2023-11-14T22:13:20Z", now).ok(),
            Some(1_700_000_000_000)
        );
        assert!(parse_since("soon", now).is_err());
        assert!(parse_since("5y", now).is_err());
    }

    #[test]
    fn line_format() {
        assert_eq!(
            format_line(1_700_000_000_123, "s1", "hello\n"),
            "2023-11-14T22:13:20.123Z s1 hello\n"
        );
    }
}
