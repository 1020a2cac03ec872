//! SQS request bodies (built by hand, once, outside the timed loops) and response
//! validation. Validation is deliberately strict: a benchmark that counts error
//! responses as throughput is worthless, so every reply is checked for HTTP 200 and
//! for the fields a real SDK would rely on.

use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use md5::{Digest, Md5};
use serde_json::{Value, json};

use crate::client::{Op, Reply, SqsConn};

/// Lowercase hex MD5, the format SQS uses for `MD5OfMessageBody` / `MD5OfBody`.
pub fn md5_hex(data: &[u8]) -> String {
    let digest = Md5::digest(data);
    let mut out = String::with_capacity(32);
    for byte in digest {
        out.push_str(&format!("{byte:02x}"));
    }
    out
}

/// Deterministic printable message body of exactly `size` bytes. Deterministic so
/// that the null server can precompute the MD5 a correct server would return.
pub fn message_body(size: usize) -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    (0..size)
        .map(|i| ALPHABET[i % ALPHABET.len()] as char)
        .collect()
}

/// A queue name unlikely to collide with other runs against the same server.
pub fn unique_queue_name(purpose: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("stratus-bench-{purpose}-{}-{nanos}", std::process::id())
}

fn to_bytes(value: &Value) -> Bytes {
    Bytes::from(value.to_string())
}

pub fn send_body(queue_url: &str, message: &str) -> Bytes {
    to_bytes(&json!({ "QueueUrl": queue_url, "MessageBody": message }))
}

/// A SendMessageBatch body with `count` entries (Ids "0".."count-1").
pub fn send_batch_body(queue_url: &str, message: &str, count: usize) -> Bytes {
    let entries: Vec<Value> = (0..count)
        .map(|i| json!({ "Id": i.to_string(), "MessageBody": message }))
        .collect();
    to_bytes(&json!({ "QueueUrl": queue_url, "Entries": entries }))
}

pub fn receive_body(queue_url: &str, max: u32, wait_seconds: u32) -> Bytes {
    to_bytes(&json!({
        "QueueUrl": queue_url,
        "MaxNumberOfMessages": max,
        "WaitTimeSeconds": wait_seconds,
    }))
}

pub fn delete_body(queue_url: &str, receipt_handle: &str) -> Bytes {
    to_bytes(&json!({ "QueueUrl": queue_url, "ReceiptHandle": receipt_handle }))
}

pub fn delete_batch_body(queue_url: &str, receipt_handles: &[String]) -> Bytes {
    let entries: Vec<Value> = receipt_handles
        .iter()
        .enumerate()
        .map(|(i, h)| json!({ "Id": i.to_string(), "ReceiptHandle": h }))
        .collect();
    to_bytes(&json!({ "QueueUrl": queue_url, "Entries": entries }))
}

pub fn parse_json(reply: &Reply) -> Result<Value> {
    if !reply.is_ok() {
        bail!("{}", reply.describe());
    }
    serde_json::from_slice(&reply.body)
        .map_err(|e| anyhow!("invalid JSON ({e}): {}", reply.describe()))
}

/// Cheap SendMessage check for the hot loop: HTTP 200 and the expected body MD5
/// somewhere in the response (a full JSON parse would cost the client more CPU than
/// the fastest servers spend on the request).
pub fn send_reply_ok(reply: &Reply, expected_md5: &[u8]) -> bool {
    reply.is_ok()
        && reply
            .body
            .windows(expected_md5.len())
            .any(|w| w == expected_md5)
}

/// Validates a batch reply (send or delete): HTTP 200, no `Failed` entries and
/// `expected` entries in `Successful`. Returns the number of successful entries.
pub fn check_batch(reply: &Reply, expected: usize) -> Result<usize> {
    let value = parse_json(reply)?;
    let failed = value
        .get("Failed")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    let ok = value
        .get("Successful")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if failed > 0 || ok != expected {
        bail!(
            "batch: {ok} successful, {failed} failed, expected {expected}: {}",
            reply.describe()
        );
    }
    Ok(ok)
}

/// Checks a plain (non-batch) reply whose content we do not need.
pub fn check_ok(reply: &Reply) -> Result<()> {
    if reply.is_ok() {
        Ok(())
    } else {
        bail!("{}", reply.describe())
    }
}

/// A received message's receipt handle; the body's MD5 has already been verified.
pub struct Received {
    pub receipt_handle: String,
}

/// Parses a ReceiveMessage reply, verifying each message's `MD5OfBody`.
pub fn parse_receive(reply: &Reply) -> Result<Vec<Received>> {
    let value = parse_json(reply)?;
    let Some(messages) = value.get("Messages").and_then(Value::as_array) else {
        return Ok(Vec::new());
    };
    messages
        .iter()
        .map(|m| {
            let handle = m.get("ReceiptHandle").and_then(Value::as_str);
            let body = m.get("Body").and_then(Value::as_str);
            let md5 = m.get("MD5OfBody").and_then(Value::as_str);
            match (handle, body, md5) {
                (Some(h), Some(b), Some(d)) if md5_hex(b.as_bytes()) == d => Ok(Received {
                    receipt_handle: h.to_string(),
                }),
                (Some(_), Some(_), Some(d)) => bail!("MD5OfBody mismatch ({d})"),
                _ => bail!("message lacks ReceiptHandle/Body/MD5OfBody: {m}"),
            }
        })
        .collect()
}

/// Creates a standard queue and returns its URL. A generous visibility timeout keeps
/// received-but-not-yet-deleted messages from reappearing during a drain.
pub async fn create_queue(conn: &mut SqsConn, name: &str) -> Result<String> {
    let body = to_bytes(&json!({
        "QueueName": name,
        "Attributes": { "VisibilityTimeout": "600" },
    }));
    let reply = conn.call(Op::CreateQueue, body).await?;
    let value = parse_json(&reply)?;
    value
        .get("QueueUrl")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("CreateQueue reply lacks QueueUrl: {}", reply.describe()))
}

/// Best-effort cleanup so long benchmark sessions do not accumulate queues.
pub async fn delete_queue(conn: &mut SqsConn, queue_url: &str) {
    let body = to_bytes(&json!({ "QueueUrl": queue_url }));
    if let Err(e) = conn
        .call(Op::DeleteQueue, body)
        .await
        .and_then(|r| check_ok(&r))
    {
        eprintln!("warning: DeleteQueue failed: {e}");
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use http::StatusCode;

    fn reply(status: u16, body: &str) -> Reply {
        Reply {
            status: StatusCode::from_u16(status).unwrap(),
            headers: http::HeaderMap::new(),
            body: Bytes::from(body.to_string()),
        }
    }

    #[test]
    fn md5_matches_known_vector() {
        assert_eq!(md5_hex(b"hello"), "5d41402abc4b2a76b9719d911017c592");
    }

    #[test]
    fn body_has_requested_size() {
        assert_eq!(message_body(1024).len(), 1024);
        assert_eq!(message_body(0), "");
    }

    #[test]
    fn send_reply_requires_status_and_md5() {
        let md5 = md5_hex(b"hello");
        let good = format!(r#"{{"MD5OfMessageBody":"{md5}","MessageId":"x"}}"#);
        assert!(send_reply_ok(&reply(200, &good), md5.as_bytes()));
        assert!(!send_reply_ok(&reply(400, &good), md5.as_bytes()));
        assert!(!send_reply_ok(
            &reply(200, r#"{"MessageId":"x"}"#),
            md5.as_bytes()
        ));
    }

    #[test]
    fn receive_verifies_md5() {
        let md5 = md5_hex(b"hi");
        let ok =
            format!(r#"{{"Messages":[{{"ReceiptHandle":"r1","Body":"hi","MD5OfBody":"{md5}"}}]}}"#);
        let got = parse_receive(&reply(200, &ok)).unwrap();
        assert_eq!(got[0].receipt_handle, "r1");
        let bad = r#"{"Messages":[{"ReceiptHandle":"r1","Body":"hi","MD5OfBody":"00"}]}"#;
        assert!(parse_receive(&reply(200, bad)).is_err());
        assert!(parse_receive(&reply(200, "{}")).unwrap().is_empty());
        assert!(parse_receive(&reply(500, "{}")).is_err());
    }

    #[test]
    fn batch_counts_entries() {
        let body = r#"{"Successful":[{"Id":"0"},{"Id":"1"}],"Failed":[]}"#;
        assert_eq!(check_batch(&reply(200, body), 2).unwrap(), 2);
        assert!(check_batch(&reply(200, body), 3).is_err());
        let failed = r#"{"Successful":[{"Id":"0"}],"Failed":[{"Id":"1"}]}"#;
        assert!(check_batch(&reply(200, failed), 2).is_err());
    }
}
