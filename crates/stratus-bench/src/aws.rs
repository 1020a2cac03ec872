//! EventBridge (awsJson1.1) and SNS (awsQuery) requests for the event-routing
//! benchmarks, plus the SQS look-ups they need (queue ARN, queue depth). The
//! same wire formats the AWS SDKs use, so the peers are driven exactly like
//! Stratus.

use anyhow::{Result, anyhow, bail};
use bytes::Bytes;
use serde_json::{Value, json};

use crate::client::{Op, Reply, SqsConn, Wire};

const EVENTS_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/events/aws4_request, \
SignedHeaders=content-type;host;x-amz-date;x-amz-target, \
Signature=0000000000000000000000000000000000000000000000000000000000000000";
const SNS_AUTH: &str = "AWS4-HMAC-SHA256 Credential=test/20250101/us-east-1/sns/aws4_request, \
SignedHeaders=content-type;host;x-amz-date, \
Signature=0000000000000000000000000000000000000000000000000000000000000000";

/// EventBridge operations the benchmarks use.
#[derive(Clone, Copy, Debug)]
pub enum EventsOp {
    PutRule,
    PutTargets,
    RemoveTargets,
    DeleteRule,
    PutEvents,
}

impl EventsOp {
    pub fn wire(self) -> Wire {
        Wire {
            content_type: "application/x-amz-json-1.1",
            target: Some(match self {
                Self::PutRule => "AWSEvents.PutRule",
                Self::PutTargets => "AWSEvents.PutTargets",
                Self::RemoveTargets => "AWSEvents.RemoveTargets",
                Self::DeleteRule => "AWSEvents.DeleteRule",
                Self::PutEvents => "AWSEvents.PutEvents",
            }),
            auth: EVENTS_AUTH,
        }
    }
}

/// SNS speaks the query protocol: form-encoded parameters, XML replies.
pub const SNS_WIRE: Wire = Wire {
    content_type: "application/x-www-form-urlencoded; charset=utf-8",
    target: None,
    auth: SNS_AUTH,
};

fn parse_json(reply: &Reply) -> Result<Value> {
    if !reply.is_ok() {
        bail!("{}", reply.describe());
    }
    serde_json::from_slice(&reply.body)
        .map_err(|e| anyhow!("invalid JSON ({e}): {}", reply.describe()))
}

/// One EventBridge call whose reply must be HTTP 200 JSON.
pub async fn events_call(conn: &mut SqsConn, op: EventsOp, doc: &Value) -> Result<Value> {
    let reply = conn
        .request(op.wire(), &format!("{op:?}"), Bytes::from(doc.to_string()))
        .await?;
    let value = parse_json(&reply).map_err(|e| anyhow!("{op:?}: {e}"))?;
    let failed = value
        .get("FailedEntryCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    if failed > 0 {
        bail!("{op:?}: {failed} failed entries: {}", reply.describe());
    }
    Ok(value)
}

/// PutEvents reply check: HTTP 200, `FailedEntryCount` 0 (or absent) and an
/// `EventId` for each of the `entries` entries.
pub fn put_events_ok(reply: &Reply, entries: usize) -> bool {
    let Ok(value) = parse_json(reply) else {
        return false;
    };
    let failed = value
        .get("FailedEntryCount")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    let ids = value
        .get("Entries")
        .and_then(Value::as_array)
        .map_or(0, |a| {
            a.iter()
                .filter(|e| e.get("EventId").and_then(Value::as_str).is_some())
                .count()
        });
    failed == 0 && ids == entries
}

/// `application/x-www-form-urlencoded` encoding of one value.
pub fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len() * 3 / 2);
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// A query-protocol body for SNS `action` with `params` (Version included).
pub fn sns_body(action: &str, params: &[(&str, &str)]) -> Bytes {
    let mut body = format!("Action={action}&Version=2010-03-31");
    for (k, v) in params {
        body.push('&');
        body.push_str(k);
        body.push('=');
        body.push_str(&form_encode(v));
    }
    Bytes::from(body)
}

/// The text of the first `<tag>` element of an XML reply.
pub fn xml_text<'a>(body: &'a str, tag: &str) -> Option<&'a str> {
    let open = format!("<{tag}>");
    let close = format!("</{tag}>");
    let start = body.find(&open)? + open.len();
    let len = body[start..].find(&close)?;
    Some(&body[start..start + len])
}

/// One SNS call whose reply must be HTTP 200; returns the body as text.
pub async fn sns_call(conn: &mut SqsConn, action: &str, params: &[(&str, &str)]) -> Result<String> {
    let reply = conn
        .request(SNS_WIRE, action, sns_body(action, params))
        .await?;
    if !reply.is_ok() {
        bail!("{action}: {}", reply.describe());
    }
    Ok(String::from_utf8_lossy(&reply.body).into_owned())
}

/// Publish reply check: HTTP 200 and a non-empty `MessageId`.
pub fn publish_ok(reply: &Reply) -> bool {
    reply.is_ok()
        && std::str::from_utf8(&reply.body)
            .ok()
            .and_then(|b| xml_text(b, "MessageId"))
            .is_some_and(|id| !id.trim().is_empty())
}

/// A queue's attributes as strings.
async fn queue_attributes(conn: &mut SqsConn, queue_url: &str, names: &[&str]) -> Result<Value> {
    let body = Bytes::from(json!({"QueueUrl": queue_url, "AttributeNames": names}).to_string());
    let reply = conn.call(Op::GetQueueAttributes, body).await?;
    let value = parse_json(&reply)?;
    value.get("Attributes").cloned().ok_or_else(|| {
        anyhow!(
            "GetQueueAttributes reply lacks Attributes: {}",
            reply.describe()
        )
    })
}

pub async fn queue_arn(conn: &mut SqsConn, queue_url: &str) -> Result<String> {
    let attrs = queue_attributes(conn, queue_url, &["QueueArn"]).await?;
    attrs
        .get("QueueArn")
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| anyhow!("no QueueArn for {queue_url}"))
}

/// `(visible, in flight)` message counts of a queue (`ApproximateNumberOf...`),
/// or `None` when the server does not report them.
pub async fn queue_counts(conn: &mut SqsConn, queue_url: &str) -> Option<(u64, u64)> {
    let names = [
        "ApproximateNumberOfMessages",
        "ApproximateNumberOfMessagesNotVisible",
    ];
    let attrs = queue_attributes(conn, queue_url, &names).await.ok()?;
    let get = |n: &str| attrs.get(n)?.as_str()?.parse::<u64>().ok();
    Some((get(names[0])?, get(names[1])?))
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
    fn form_encoding() {
        assert_eq!(form_encode("a b&c=d/é"), "a%20b%26c%3Dd%2F%C3%A9");
        assert_eq!(
            sns_body("Publish", &[("TopicArn", "arn:x"), ("Message", "hi there")]),
            "Action=Publish&Version=2010-03-31&TopicArn=arn%3Ax&Message=hi%20there"
        );
    }

    #[test]
    fn xml_and_publish_checks() {
        let ok = "<PublishResponse><PublishResult><MessageId>m-1</MessageId></PublishResult></PublishResponse>";
        assert_eq!(xml_text(ok, "MessageId"), Some("m-1"));
        assert!(publish_ok(&reply(200, ok)));
        assert!(!publish_ok(&reply(400, ok)));
        assert!(!publish_ok(&reply(200, "<MessageId> </MessageId>")));
        assert!(!publish_ok(&reply(200, "<x/>")));
    }

    #[test]
    fn put_events_checks() {
        let ok = r#"{"FailedEntryCount":0,"Entries":[{"EventId":"a"}]}"#;
        assert!(put_events_ok(&reply(200, ok), 1));
        assert!(!put_events_ok(&reply(200, ok), 2));
        let failed = r#"{"FailedEntryCount":1,"Entries":[{"ErrorCode":"x"}]}"#;
        assert!(!put_events_ok(&reply(200, failed), 1));
        assert!(!put_events_ok(&reply(500, ok), 1));
    }
}
