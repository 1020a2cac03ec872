//! Durable pending deliveries: "nothing acknowledged is ever lost".
//!
//! With a durable store, every (event, rule, target) job that ingestion
//! (PutEvents, a scheduled rule, a bus-to-bus hop, a replay) hands to delivery
//! is first written to `events_pending`, in the same `Store::apply` batch as
//! the call's archived events, and the call answers only after that commit. A
//! job's row is rewritten when a retry is scheduled (attempt and due time) and
//! deleted once the job is delivered, dead-lettered or dropped. Those later
//! writes are not on any request path: they go through a
//! [`stratus_store::WriteBehind`] that groups whatever is queued into one
//! apply (and hands its queue to the store at shutdown).
//!
//! At start-up the rows are read back and the jobs resume at their due time,
//! with the original ingestion time, so RetryPolicy's MaximumEventAgeInSeconds
//! still counts from ingestion. A delivery that completed just before a crash
//! whose row deletion had not committed yet is sent again: delivery is at
//! least once (FIFO queue targets deduplicate it by MessageDeduplicationId).
//!
//! Key: `<rule account>/<rule region>/` + 8-byte big-endian job id. The value
//! carries the rule's identity and the target's definition as they were at
//! ingestion, so a job resumes even if its rule changed or was deleted
//! meanwhile (as an accepted event on AWS would still be delivered).

use std::sync::Arc;

use serde::{Deserialize, Serialize};
use stratus_store::Write;

use crate::delivery::Job;
use crate::generated::Target;
use crate::persist;
use crate::state::{RuleRt, TargetRt};

pub(crate) const T_PENDING: &str = "events_pending";

#[derive(Serialize)]
struct RecOut<'a> {
    event: &'a str,
    ingest_ms: i64,
    due_ms: i64,
    attempt: u32,
    hops: u8,
    rule_name: &'a str,
    rule_arn: &'a str,
    account: &'a str,
    region: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    role_arn: Option<&'a str>,
    /// The target as JSON text (computed once per target, see `TargetRt`).
    target: &'a str,
}

#[derive(Deserialize)]
struct RecIn {
    event: String,
    ingest_ms: i64,
    due_ms: i64,
    attempt: u32,
    #[serde(default)]
    hops: u8,
    rule_name: String,
    rule_arn: String,
    account: String,
    region: String,
    #[serde(default)]
    role_arn: Option<String>,
    target: String,
}

pub(crate) fn key(account: &str, region: &str, id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(account.len() + region.len() + 10);
    k.extend_from_slice(account.as_bytes());
    k.push(b'/');
    k.extend_from_slice(region.as_bytes());
    k.push(b'/');
    k.extend_from_slice(&id.to_be_bytes());
    k
}

fn id_of(key: &[u8]) -> Option<u64> {
    let tail = key.get(key.len().checked_sub(8)?..)?;
    Some(u64::from_be_bytes(tail.try_into().ok()?))
}

/// The row of `job`, due at `due_ms`.
pub(crate) fn put(job: &Job, due_ms: i64) -> Write {
    let rec = RecOut {
        event: &job.event,
        ingest_ms: job.ingest_ms,
        due_ms,
        attempt: job.attempt,
        hops: job.hops,
        rule_name: &job.rule.name,
        rule_arn: &job.rule.arn,
        account: &job.rule.account,
        region: &job.rule.region,
        role_arn: job.rule.role_arn.as_deref(),
        target: &job.target.json,
    };
    Write::Put {
        table: T_PENDING,
        key: key(&job.rule.account, &job.rule.region, job.pending),
        value: persist::encode(&rec),
    }
}

pub(crate) fn delete(job: &Job) -> Write {
    Write::Delete {
        table: T_PENDING,
        key: key(&job.rule.account, &job.rule.region, job.pending),
    }
}

/// A job read back from the store and when it is due.
pub(crate) fn decode(k: &[u8], v: &[u8]) -> Option<(i64, Job)> {
    let id = id_of(k)?;
    let rec: RecIn = persist::decode(v)?;
    let target: Target = serde_json::from_str(&rec.target).ok()?;
    let rule = Arc::new(RuleRt {
        name: rec.rule_name,
        arn: rec.rule_arn,
        account: rec.account,
        region: rec.region,
        role_arn: rec.role_arn,
        targets: Vec::new(),
        archive: None,
    });
    Some((
        rec.due_ms,
        Job {
            event: Arc::from(rec.event),
            ingest_ms: rec.ingest_ms,
            rule,
            target: Arc::new(TargetRt::new(target)),
            attempt: rec.attempt,
            hops: rec.hops,
            pending: id,
            first_attempt: None,
        },
    ))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let target: Target = serde_json::from_value(serde_json::json!({
            "Id": "t1", "Arn": "arn:aws:sqs:us-east-1:111111111111:q",
            "RetryPolicy": {"MaximumRetryAttempts": 3}
        }))
        .unwrap();
        let job = Job {
            event: Arc::from(r#"{"id":"e1"}"#),
            ingest_ms: 1000,
            rule: Arc::new(RuleRt {
                name: "r".into(),
                arn: "arn:aws:events:us-east-1:111111111111:rule/r".into(),
                account: "111111111111".into(),
                region: "us-east-1".into(),
                role_arn: None,
                targets: Vec::new(),
                archive: None,
            }),
            target: Arc::new(TargetRt::new(target)),
            attempt: 2,
            hops: 1,
            pending: 42,
            first_attempt: None,
        };
        let Write::Put { key, value, .. } = put(&job, 5000) else {
            panic!("not a put");
        };
        assert!(key.starts_with(b"111111111111/us-east-1/"));
        let (due, back) = decode(&key, &value).unwrap();
        assert_eq!(due, 5000);
        assert_eq!(back.pending, 42);
        assert_eq!(back.attempt, 2);
        assert_eq!(back.hops, 1);
        assert_eq!(back.ingest_ms, 1000);
        assert_eq!(&*back.event, r#"{"id":"e1"}"#);
        assert_eq!(back.rule.name, "r");
        assert_eq!(back.target.max_retries, 3);
        assert_eq!(back.target.target.id, "t1");
        assert!(matches!(delete(&job), Write::Delete { key: k, .. } if k == key));
    }
}
