//! Lambda REST-JSON plumbing shared by the `lambda-*` subcommands: the benchmark
//! function's code (zipped in memory), CreateFunction / GetFunctionConfiguration /
//! UpdateFunctionConfiguration / Invoke / DeleteFunction, and validation of the
//! function's replies.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use bytes::Bytes;
use clap::Args;
use http::Method;
use serde_json::{Map, Value, json};

use crate::client::{Reply, SqsConn};

/// The Python module every Lambda benchmark deploys (handlers `bench_fn.noop`
/// and `bench_fn.sqs`).
const FUNCTION_SOURCE: &str = include_str!("bench_fn.py");
const FUNCTION_FILE: &str = "bench_fn.py";
const API: &str = "/2015-03-31";

/// Options of the benchmark function, shared by every `lambda-*` subcommand.
#[derive(Args, Debug, Clone)]
pub struct FunctionArgs {
    /// Runtime of the benchmark function.
    #[arg(long, default_value = "python3.11")]
    pub runtime: String,
    /// Execution role ARN (emulators accept any).
    #[arg(long, default_value = "arn:aws:iam::000000000000:role/stratus-bench")]
    pub role: String,
    /// MemorySize of the function in MB.
    #[arg(long, default_value_t = 128)]
    pub memory: u32,
    /// Seconds to wait for the function to become Active / Successful.
    #[arg(long, default_value_t = 120)]
    pub ready_timeout: u64,
}

/// What the `noop` handler reports about one invocation.
#[derive(Debug, Clone, PartialEq)]
pub struct NoopReply {
    /// Wall-clock time (Unix seconds) when the handler started running.
    pub started: f64,
    /// True on the first invocation of the function's process.
    pub cold: bool,
    pub pid: u64,
    /// The handler's own run time.
    pub handler_ns: u64,
}

/// Unix time in seconds, comparable with Python's `time.time()` on the same host.
pub fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

/// A function name unlikely to collide with other runs against the same server
/// (64 characters at most, as Lambda requires).
pub fn unique_function_name(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("stratus-bench-{purpose}-{}-{nanos}", std::process::id())
}

fn function_path(name: &str, rest: &str) -> String {
    format!("{API}/functions/{name}{rest}")
}

fn parse_json(reply: &Reply, what: &str) -> Result<Value> {
    if !reply.status.is_success() {
        bail!("{what}: {}", reply.describe());
    }
    serde_json::from_slice(&reply.body)
        .map_err(|e| anyhow!("{what}: invalid JSON ({e}): {}", reply.describe()))
}

/// Creates the benchmark function with `handler` and environment `variables`,
/// then waits until it is Active.
pub async fn create_function(
    conn: &mut SqsConn,
    name: &str,
    handler: &str,
    variables: &Map<String, Value>,
    args: &FunctionArgs,
) -> Result<()> {
    let zip = zip_single(FUNCTION_FILE, FUNCTION_SOURCE.as_bytes());
    let body = json!({
        "FunctionName": name,
        "Runtime": args.runtime,
        "Role": args.role,
        "Handler": handler,
        "Code": { "ZipFile": base64(&zip) },
        "MemorySize": args.memory,
        "Timeout": 30,
        "Environment": { "Variables": variables },
    });
    let reply = conn
        .lambda(
            Method::POST,
            &format!("{API}/functions"),
            Bytes::from(body.to_string()),
        )
        .await?;
    parse_json(&reply, "CreateFunction")?;
    wait_ready(conn, name, Duration::from_secs(args.ready_timeout)).await
}

/// Polls GetFunctionConfiguration until `State` is Active and `LastUpdateStatus`
/// (when present) is Successful; a Failed state ends the wait with its reason.
pub async fn wait_ready(conn: &mut SqsConn, name: &str, timeout: Duration) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        let reply = conn
            .lambda(
                Method::GET,
                &function_path(name, "/configuration"),
                Bytes::new(),
            )
            .await?;
        let config = parse_json(&reply, "GetFunctionConfiguration")?;
        let field = |k: &str| config.get(k).and_then(Value::as_str).unwrap_or_default();
        let (state, update) = (field("State"), field("LastUpdateStatus"));
        if state == "Failed" || update == "Failed" {
            bail!(
                "function {name} failed: {} {}",
                field("StateReason"),
                field("LastUpdateStatusReason")
            );
        }
        if (state.is_empty() || state == "Active") && (update.is_empty() || update == "Successful")
        {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!(
                "function {name} not ready after {timeout:?} (State={state}, LastUpdateStatus={update})"
            );
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// Replaces the function's environment variables (a configuration change, which
/// makes Lambda start new execution environments) and waits until it applied.
pub async fn update_environment(
    conn: &mut SqsConn,
    name: &str,
    variables: &Map<String, Value>,
    timeout: Duration,
) -> Result<()> {
    let body = json!({ "Environment": { "Variables": variables } });
    let reply = conn
        .lambda(
            Method::PUT,
            &function_path(name, "/configuration"),
            Bytes::from(body.to_string()),
        )
        .await?;
    parse_json(&reply, "UpdateFunctionConfiguration")?;
    wait_ready(conn, name, timeout).await
}

/// The Invoke request path for `name` (built once, outside timed loops).
pub fn invoke_path(name: &str) -> String {
    function_path(name, "/invocations")
}

/// One synchronous Invoke.
pub async fn invoke(conn: &mut SqsConn, path: &str, payload: Bytes) -> Result<Reply> {
    conn.lambda(Method::POST, path, payload).await
}

/// Validates an Invoke reply of the `noop` handler: HTTP 200, no
/// `X-Amz-Function-Error`, and the handler's report in the payload.
pub fn parse_noop(reply: &Reply) -> Result<NoopReply> {
    if let Some(kind) = reply.headers.get("x-amz-function-error") {
        bail!(
            "function error {}: {}",
            kind.to_str().unwrap_or("?"),
            reply.describe()
        );
    }
    let v = parse_json(reply, "Invoke")?;
    let started = v.get("started").and_then(Value::as_f64);
    let cold = v.get("cold").and_then(Value::as_bool);
    let pid = v.get("pid").and_then(Value::as_u64);
    let handler_ns = v.get("handler_ns").and_then(Value::as_u64);
    match (started, cold, pid, handler_ns) {
        (Some(started), Some(cold), Some(pid), Some(handler_ns)) => Ok(NoopReply {
            started,
            cold,
            pid,
            handler_ns,
        }),
        _ => bail!("unexpected function payload: {}", reply.describe()),
    }
}

/// Best-effort cleanup so benchmark sessions do not accumulate functions.
pub async fn delete_function(conn: &mut SqsConn, name: &str) {
    match conn
        .lambda(Method::DELETE, &function_path(name, ""), Bytes::new())
        .await
    {
        Ok(r) if r.status.is_success() => {}
        Ok(r) => eprintln!("warning: DeleteFunction failed: {}", r.describe()),
        Err(e) => eprintln!("warning: DeleteFunction failed: {e:#}"),
    }
}

/// CreateEventSourceMapping; returns the mapping's UUID.
pub async fn create_event_source_mapping(
    conn: &mut SqsConn,
    function: &str,
    source_arn: &str,
    batch_size: u32,
) -> Result<String> {
    let body = json!({
        "FunctionName": function,
        "EventSourceArn": source_arn,
        "BatchSize": batch_size,
        "Enabled": true,
    });
    let reply = conn
        .lambda(
            Method::POST,
            &format!("{API}/event-source-mappings/"),
            Bytes::from(body.to_string()),
        )
        .await?;
    let v = parse_json(&reply, "CreateEventSourceMapping")?;
    v.get("UUID")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("CreateEventSourceMapping reply lacks UUID"))
}

/// GetEventSourceMapping, as JSON.
pub async fn get_event_source_mapping(conn: &mut SqsConn, uuid: &str) -> Result<Value> {
    let reply = conn
        .lambda(
            Method::GET,
            &format!("{API}/event-source-mappings/{uuid}"),
            Bytes::new(),
        )
        .await?;
    parse_json(&reply, "GetEventSourceMapping")
}

pub async fn delete_event_source_mapping(conn: &mut SqsConn, uuid: &str) {
    let result = conn
        .lambda(
            Method::DELETE,
            &format!("{API}/event-source-mappings/{uuid}"),
            Bytes::new(),
        )
        .await
        .context("DeleteEventSourceMapping");
    match result {
        Ok(r) if r.status.is_success() => {}
        Ok(r) => eprintln!("warning: DeleteEventSourceMapping failed: {}", r.describe()),
        Err(e) => eprintln!("warning: {e:#}"),
    }
}

/// Standard CRC-32 (IEEE 802.3, reflected), as the zip format requires.
fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            let mask = (crc & 1).wrapping_neg();
            crc = (crc >> 1) ^ (0xEDB8_8320 & mask);
        }
    }
    !crc
}

/// A zip archive holding one stored (uncompressed) file. The function is a few
/// hundred bytes, so a hand-written archive beats a compression dependency.
fn zip_single(name: &str, data: &[u8]) -> Vec<u8> {
    let crc = crc32(data).to_le_bytes();
    let size = u32::try_from(data.len()).unwrap_or(u32::MAX).to_le_bytes();
    let name_len = u16::try_from(name.len()).unwrap_or(u16::MAX).to_le_bytes();
    // Version 2.0, no flags, method 0 (stored), time 00:00, date 1980-01-01.
    let common = |out: &mut Vec<u8>| {
        out.extend_from_slice(&[20, 0, 0, 0, 0, 0, 0, 0, 0x21, 0]);
        out.extend_from_slice(&crc);
        out.extend_from_slice(&size);
        out.extend_from_slice(&size);
        out.extend_from_slice(&name_len);
        out.extend_from_slice(&[0, 0]);
    };
    let mut out = Vec::with_capacity(data.len() + 2 * name.len() + 100);
    out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
    common(&mut out);
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let central_at = u32::try_from(out.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
    // Made by Unix (3), so the external attributes below are a Unix mode.
    out.extend_from_slice(&[20, 3]);
    common(&mut out);
    // Comment length, disk number, internal attributes.
    out.extend_from_slice(&[0, 0, 0, 0, 0, 0]);
    out.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes());
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(name.as_bytes());
    let central_len = u32::try_from(out.len()).unwrap_or(u32::MAX) - central_at;
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&central_len.to_le_bytes());
    out.extend_from_slice(&central_at.to_le_bytes());
    out.extend_from_slice(&[0, 0]);
    out
}

/// Standard base64 with padding (the encoding of `Code.ZipFile`).
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18, 12, 6, 0].into_iter().enumerate() {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> shift) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode};

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn crc32_matches_known_vector() {
        assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
        assert_eq!(crc32(b""), 0);
    }

    #[test]
    fn base64_matches_rfc4648_vectors() {
        for (input, output) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(input.as_bytes()), output);
        }
    }

    #[test]
    fn zip_layout_has_the_file_and_a_consistent_directory() {
        let zip = zip_single("a.py", b"print(1)\n");
        assert_eq!(&zip[..4], b"PK\x03\x04");
        let eocd = zip.len() - 22;
        assert_eq!(&zip[eocd..eocd + 4], b"PK\x05\x06");
        let cd_size = u32::from_le_bytes(zip[eocd + 12..eocd + 16].try_into().unwrap()) as usize;
        let cd_at = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        assert_eq!(cd_at + cd_size, eocd);
        assert_eq!(&zip[cd_at..cd_at + 4], b"PK\x01\x02");
        assert_eq!(&zip[30..34], b"a.py");
        assert_eq!(&zip[34..43], b"print(1)\n");
    }

    #[test]
    fn noop_reply_is_validated() {
        let ok = r#"{"started": 1.5, "cold": true, "pid": 7, "handler_ns": 900}"#;
        let got = parse_noop(&reply(200, ok)).unwrap();
        assert!(got.cold);
        assert_eq!(got.pid, 7);
        assert!(parse_noop(&reply(500, ok)).is_err());
        assert!(parse_noop(&reply(200, "{}")).is_err());
        let mut failed = reply(200, r#"{"errorMessage":"boom"}"#);
        failed.headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
        assert!(parse_noop(&failed).is_err());
    }
}
