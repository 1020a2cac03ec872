//! Publish and PublishBatch: validation, FIFO sequencing and deduplication,
//! and the hand-over to the fan-out.

use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

use serde_json::Value;
use sha2::Digest;
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::attributes::{self, Attr};
use crate::errors::invalid;
use crate::generated::*;
use crate::message::{Outgoing, OutgoingParts};
use crate::persist::{self, DedupRecord, T_DEDUP};
use crate::service::SnsService;
use crate::topic::{DedupEntry, Topic};

/// FIFO deduplication window.
const DEDUP_WINDOW_MS: i64 = 5 * 60 * 1000;
/// Sequence numbers reserved per durable write of the topic record.
const SEQ_BLOCK: u64 = 1000;
/// First FIFO sequence number: 20 digits, as AWS's are.
const SEQ_BASE: u64 = 10_000_000_000_000_000_000;

/// The fields of one message to publish (Publish or a batch entry).
pub(crate) struct Request {
    pub message: String,
    pub subject: Option<String>,
    pub structure: Option<String>,
    pub attributes: Option<BTreeMap<String, MessageAttributeValue>>,
    pub group_id: Option<String>,
    pub dedup_id: Option<String>,
}

/// A validated message, before FIFO sequencing.
pub(crate) struct Checked {
    message: String,
    subject: Option<String>,
    structured: Option<BTreeMap<String, String>>,
    attrs: Vec<Attr>,
    group_id: Option<String>,
    dedup_id: Option<String>,
    size: usize,
}

fn check_subject(s: &str) -> Result<(), AwsError> {
    let ok = !s.is_empty()
        && s.chars().count() <= 100
        && s.chars().all(|c| c.is_ascii() && !c.is_ascii_control())
        && s.chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation());
    if ok { Ok(()) } else { Err(invalid("Subject")) }
}

fn check_fifo_id(name: &str, id: &str) -> Result<(), AwsError> {
    let ok = !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_graphic());
    if ok {
        Ok(())
    } else {
        Err(invalid(format!(
            "{name} Reason: {name} can contain up to 128 alphanumeric characters (a-z, A-Z, 0-9) and punctuation (!\"#$%&'()*+,-./:;<=>?@[\\]^_`{{|}}~)."
        )))
    }
}

/// `MessageStructure=json`: the per-protocol messages (string values only).
fn parse_structure(message: &str) -> Result<BTreeMap<String, String>, AwsError> {
    let v: Value = serde_json::from_str(message)
        .map_err(|_| invalid("Message Structure - JSON message body failed to parse"))?;
    let Value::Object(obj) = v else {
        return Err(invalid(
            "Message Structure - JSON message body failed to parse",
        ));
    };
    let out: BTreeMap<String, String> = obj
        .into_iter()
        .filter_map(|(k, v)| match v {
            Value::String(s) => Some((k, s)),
            _ => None,
        })
        .collect();
    if !out.contains_key("default") {
        return Err(invalid(
            "Message Structure - No default entry in JSON message body",
        ));
    }
    Ok(out)
}

impl SnsService {
    /// Validate one message for `topic`.
    pub(crate) fn check(&self, topic: &Topic, r: Request) -> Result<Checked, AwsError> {
        if r.message.is_empty() {
            return Err(invalid("Empty message"));
        }
        if let Some(s) = &r.subject {
            check_subject(s)?;
        }
        let structured = match r.structure.as_deref() {
            None | Some("") => None,
            Some("json") => Some(parse_structure(&r.message)?),
            Some(_) => return Err(invalid("MessageStructure")),
        };
        let attrs = attributes::validate(r.attributes.as_ref())?;
        let size = r.message.len() + attributes::size(&attrs);
        let (max, cbd) = {
            let st = topic.state.lock();
            (
                Topic::max_message_size(&st),
                Topic::content_based_dedup(&st),
            )
        };
        if size > max {
            return Err(invalid("Message too long"));
        }
        if let Some(g) = &r.group_id {
            check_fifo_id("MessageGroupId", g)?;
        }
        if let Some(d) = &r.dedup_id {
            check_fifo_id("MessageDeduplicationId", d)?;
        }
        if topic.fifo {
            if r.group_id.is_none() {
                return Err(invalid(
                    "The MessageGroupId parameter is required for FIFO topics",
                ));
            }
            if r.dedup_id.is_none() && !cbd {
                return Err(invalid(
                    "The topic should either have ContentBasedDeduplication enabled or MessageDeduplicationId provided explicitly",
                ));
            }
        } else if r.dedup_id.is_some() {
            return Err(invalid(
                "MessageDeduplicationId Reason: The request includes MessageDeduplicationId parameter that is not valid for this topic type",
            ));
        }
        // Content-based deduplication hashes the message body.
        let dedup_id = match (topic.fifo, r.dedup_id) {
            (true, None) => Some(hex::encode(sha2::Sha256::digest(r.message.as_bytes()))),
            (_, d) => d,
        };
        Ok(Checked {
            message: r.message,
            subject: r.subject,
            structured,
            attrs,
            group_id: r.group_id,
            dedup_id,
            size,
        })
    }

    fn outgoing(
        &self,
        ctx: &RequestContext,
        topic: &Topic,
        c: Checked,
        sequence: Option<String>,
    ) -> Outgoing {
        let signature_version = Topic::signature_version(&topic.state.lock());
        let message = match &c.structured {
            Some(m) => m.get("default").cloned().unwrap_or_default(),
            None => c.message,
        };
        Outgoing::new(OutgoingParts {
            message_id: uuid::Uuid::new_v4().to_string(),
            topic_arn: topic.arn.clone(),
            subject: c.subject,
            message,
            structured: c.structured,
            attrs: c.attrs,
            timestamp: crate::clock::iso_millis(crate::clock::now_millis()),
            group_id: c.group_id,
            dedup_id: c.dedup_id,
            sequence,
            signature_version,
            endpoint: ctx.endpoint.clone(),
        })
    }

    /// Publish one checked message: `(message id, sequence number)`.
    async fn publish_checked(
        &self,
        ctx: &RequestContext,
        topic: &Arc<Topic>,
        c: Checked,
    ) -> Result<(String, Option<String>), AwsError> {
        if !topic.fifo {
            let out = Arc::new(self.outgoing(ctx, topic, c, None));
            self.fan_out(topic, &out).await?;
            return Ok((out.message_id.clone(), None));
        }
        // FIFO: one publish at a time per topic, so sequence numbers, dedup
        // decisions and queue order agree.
        let _order = topic.fifo_lock.lock().await;
        let now = crate::clock::now_millis();
        let group = c.group_id.clone().unwrap_or_default();
        let dedup = c.dedup_id.clone().unwrap_or_default();
        let mut writes = Vec::new();
        let (scope, seq) = {
            let mut st = topic.state.lock();
            // Expire old entries (in expiry order).
            while let Some((exp, key)) = st.dedup_order.front().cloned() {
                if exp > now {
                    break;
                }
                st.dedup_order.pop_front();
                if st.dedup.get(&key).is_some_and(|e| e.expires <= now) {
                    st.dedup.remove(&key);
                    writes.push(Write::Delete {
                        table: T_DEDUP,
                        key: dedup_key(topic, &key),
                    });
                }
            }
            let scope = if Topic::dedup_by_group(&st) {
                format!("{group}/{dedup}")
            } else {
                dedup.clone()
            };
            if let Some(e) = st.dedup.get(&scope) {
                (scope, Err((e.message_id.clone(), e.sequence.clone())))
            } else {
                let n = st.next_seq;
                st.next_seq += 1;
                if st.next_seq >= st.seq_reserved {
                    st.seq_reserved = st.next_seq + SEQ_BLOCK;
                    writes.push(topic.record_write(&st));
                }
                (scope, Ok(format!("{:020}", SEQ_BASE + n)))
            }
        };
        let seq = match seq {
            Ok(seq) => seq,
            Err((message_id, sequence)) => {
                // A duplicate: accepted, not delivered again.
                self.persist(writes).await?;
                return Ok((message_id, Some(sequence)));
            }
        };
        let out = Arc::new(self.outgoing(ctx, topic, c, Some(seq.clone())));
        let entry = DedupEntry {
            expires: now + DEDUP_WINDOW_MS,
            message_id: out.message_id.clone(),
            sequence: seq.clone(),
        };
        writes.push(Write::Put {
            table: T_DEDUP,
            key: dedup_key(topic, &scope),
            value: persist::encode(&DedupRecord {
                exp: entry.expires,
                mid: entry.message_id.clone(),
                seq: seq.clone(),
            }),
        });
        {
            let mut st = topic.state.lock();
            st.dedup_order.push_back((entry.expires, scope.clone()));
            st.dedup.insert(scope, entry);
        }
        self.persist(writes).await?;
        self.fan_out(topic, &out).await?;
        Ok((out.message_id.clone(), Some(seq)))
    }

    pub(crate) async fn op_publish(
        &self,
        ctx: &RequestContext,
        input: PublishInput,
    ) -> Result<PublishResponse, AwsError> {
        let targets = [&input.topic_arn, &input.target_arn, &input.phone_number]
            .iter()
            .filter(|t| t.as_deref().is_some_and(|s| !s.is_empty()))
            .count();
        if targets == 0 {
            return Err(invalid(
                "TopicArn or TargetArn Reason: no value for required parameter",
            ));
        }
        if targets > 1 {
            return Err(invalid(
                "TopicArn Reason: Only one of TopicArn, TargetArn or PhoneNumber may be specified",
            ));
        }
        if let Some(phone) = input.phone_number.as_deref().filter(|p| !p.is_empty()) {
            return self.publish_sms(
                ctx,
                phone,
                &input.message,
                input.message_attributes.as_ref(),
            );
        }
        let arn = input
            .topic_arn
            .clone()
            .or_else(|| input.target_arn.clone())
            .unwrap_or_default();
        if arn.contains(":endpoint/") {
            return self.publish_to_endpoint(ctx, &arn, &input);
        }
        let topic = self.topic_for(ctx, &arn, "Publish")?;
        let checked = self.check(
            &topic,
            Request {
                message: input.message,
                subject: input.subject,
                structure: input.message_structure,
                attributes: input.message_attributes,
                group_id: input.message_group_id,
                dedup_id: input.message_deduplication_id,
            },
        )?;
        let (message_id, sequence_number) = self.publish_checked(ctx, &topic, checked).await?;
        Ok(PublishResponse {
            message_id: Some(message_id),
            sequence_number,
        })
    }

    pub(crate) async fn op_publish_batch(
        &self,
        ctx: &RequestContext,
        input: PublishBatchInput,
    ) -> Result<PublishBatchResponse, AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "Publish")?;
        let entries = input.publish_batch_request_entries;
        if entries.is_empty() {
            return Err(AwsError::new(
                "EmptyBatchRequestException",
                "The batch request doesn't contain any entries.",
            ));
        }
        if entries.len() > 10 {
            return Err(AwsError::new(
                "TooManyEntriesInBatchRequestException",
                "The batch request contains more entries than permissible.",
            ));
        }
        let mut ids = HashSet::new();
        for e in &entries {
            let valid = !e.id.is_empty()
                && e.id.len() <= 80
                && e.id
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !valid {
                return Err(AwsError::new(
                    "InvalidBatchEntryIdException",
                    "The Id of a batch entry in a batch request doesn't abide by the specification.",
                ));
            }
            if !ids.insert(e.id.as_str()) {
                return Err(AwsError::new(
                    "BatchEntryIdsNotDistinctException",
                    "Two or more batch entries in the request have the same Id.",
                ));
            }
        }
        let mut successful = Vec::new();
        let mut failed = Vec::new();
        let mut checked = Vec::new();
        let mut total = 0usize;
        for e in entries {
            let id = e.id.clone();
            let r = Request {
                message: e.message,
                subject: e.subject,
                structure: e.message_structure,
                attributes: e.message_attributes,
                group_id: e.message_group_id,
                dedup_id: e.message_deduplication_id,
            };
            match self.check(&topic, r) {
                Ok(c) => {
                    total += c.size;
                    checked.push((id, c));
                }
                Err(err) => failed.push(batch_error(id, &err)),
            }
        }
        let max = Topic::max_message_size(&topic.state.lock());
        if total > max {
            return Err(AwsError::new(
                "BatchRequestTooLongException",
                "The length of all the messages put together is more than the limit.",
            ));
        }
        if topic.fifo {
            for (id, c) in checked {
                match self.publish_checked(ctx, &topic, c).await {
                    Ok((mid, seq)) => successful.push(PublishBatchResultEntry {
                        id: Some(id),
                        message_id: Some(mid),
                        sequence_number: seq,
                    }),
                    Err(err) => failed.push(batch_error(id, &err)),
                }
            }
        } else {
            // Standard topics: the entries' deliveries run together.
            let outs: Vec<(String, Arc<Outgoing>)> = checked
                .into_iter()
                .map(|(id, c)| (id, Arc::new(self.outgoing(ctx, &topic, c, None))))
                .collect();
            let done =
                futures_util::future::join_all(outs.iter().map(|(_, o)| self.fan_out(&topic, o)))
                    .await;
            for ((id, o), r) in outs.into_iter().zip(done) {
                match r {
                    Ok(()) => successful.push(PublishBatchResultEntry {
                        id: Some(id),
                        message_id: Some(o.message_id.clone()),
                        sequence_number: None,
                    }),
                    Err(err) => failed.push(batch_error(id, &err)),
                }
            }
        }
        Ok(PublishBatchResponse {
            successful: Some(successful),
            failed: Some(failed),
        })
    }
}

fn dedup_key(topic: &Topic, scope: &str) -> Vec<u8> {
    format!("{}/{scope}", topic.key).into_bytes()
}

/// A batch entry's failure, with the error's wire code.
fn batch_error(id: String, err: &AwsError) -> BatchResultErrorEntry {
    let code = match err.code.as_str() {
        "InvalidParameterException" => "InvalidParameter",
        "InvalidParameterValueException" => "ParameterValueInvalid",
        other => other,
    };
    BatchResultErrorEntry {
        id,
        code: code.to_string(),
        message: Some(err.message.clone()),
        sender_fault: err.sender_fault,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_and_structures() {
        assert!(check_subject("Hello, world").is_ok());
        assert!(check_subject("").is_err());
        assert!(check_subject(" leading space").is_err());
        assert!(check_subject("line\nbreak").is_err());
        assert!(check_subject(&"a".repeat(101)).is_err());
        assert!(check_subject("caf\u{e9}").is_err());
        let m = parse_structure(r#"{"default":"d","sqs":"s","email":5}"#).unwrap_or_default();
        assert_eq!(m.get("sqs").map(String::as_str), Some("s"));
        assert!(!m.contains_key("email"));
        assert!(parse_structure(r#"{"sqs":"s"}"#).is_err());
        assert!(parse_structure("not json").is_err());
        assert_eq!(format!("{:020}", SEQ_BASE + 1), "10000000000000000001");
    }
}
