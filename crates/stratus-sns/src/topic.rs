//! Topics: identity, attributes (validation and the GetTopicAttributes view)
//! and the precomputed list of routes a publish fans out to.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};
use stratus_core::AwsError;

use crate::delivery_policy::{self, TopicPolicy};
use crate::errors::invalid;
use crate::persist::{self, TopicRecord};
use crate::route::Route;
use crate::subscription::Subscription;

/// Attributes CreateTopic and SetTopicAttributes accept.
const SETTABLE: &[&str] = &[
    "ApplicationFailureFeedbackRoleArn",
    "ApplicationSuccessFeedbackRoleArn",
    "ApplicationSuccessFeedbackSampleRate",
    "ArchivePolicy",
    "ContentBasedDeduplication",
    "DeliveryPolicy",
    "DisplayName",
    "FifoThroughputScope",
    "FifoTopic",
    "FirehoseFailureFeedbackRoleArn",
    "FirehoseSuccessFeedbackRoleArn",
    "FirehoseSuccessFeedbackSampleRate",
    "HTTPFailureFeedbackRoleArn",
    "HTTPSuccessFeedbackRoleArn",
    "HTTPSuccessFeedbackSampleRate",
    "KmsMasterKeyId",
    "LambdaFailureFeedbackRoleArn",
    "LambdaSuccessFeedbackRoleArn",
    "LambdaSuccessFeedbackSampleRate",
    "MaximumMessageSize",
    "Policy",
    "SignatureVersion",
    "SQSFailureFeedbackRoleArn",
    "SQSSuccessFeedbackRoleArn",
    "SQSSuccessFeedbackSampleRate",
    "TracingConfig",
];

/// Default and bounds of `MaximumMessageSize`.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: usize = 262_144;
const MIN_MAX_MESSAGE_SIZE: usize = 1024;
const MAX_MAX_MESSAGE_SIZE: usize = 1_048_576;

/// A FIFO deduplication entry.
#[derive(Debug, Clone)]
pub(crate) struct DedupEntry {
    pub expires: i64,
    pub message_id: String,
    pub sequence: String,
}

/// Mutable topic state.
pub(crate) struct TopicState {
    /// Attributes as set (Policy always present).
    pub attrs: BTreeMap<String, String>,
    pub tags: BTreeMap<String, String>,
    pub data_protection: Option<String>,
    pub subs: BTreeMap<String, Arc<Subscription>>,
    pub created: i64,
    pub deleted: bool,
    /// Next FIFO sequence number, and the bound persisted so numbers keep
    /// growing across restarts.
    pub next_seq: u64,
    pub seq_reserved: u64,
    /// FIFO deduplication: scope key → entry, plus expiry order.
    pub dedup: HashMap<String, DedupEntry>,
    pub dedup_order: VecDeque<(i64, String)>,
    /// When the archive policy was set (ms), for `BeginningArchiveTime`.
    pub archive_start: Option<i64>,
    /// Parsed `DeliveryPolicy`, for the routes.
    pub delivery: Option<TopicPolicy>,
}

/// The routes one publish visits: confirmed subscriptions, compiled.
#[derive(Default)]
pub(crate) struct Fanout {
    pub routes: Vec<Arc<Route>>,
}

pub(crate) struct Topic {
    pub arn: String,
    /// Store key `account/region/name`.
    pub key: String,
    pub account: String,
    pub region: String,
    pub name: String,
    pub fifo: bool,
    pub state: Mutex<TopicState>,
    pub fanout: RwLock<Arc<Fanout>>,
    /// Serializes FIFO publishes so sequence numbers and deliveries agree.
    pub fifo_lock: tokio::sync::Mutex<()>,
}

impl Topic {
    pub(crate) fn new(
        account: &str,
        region: &str,
        name: &str,
        attrs: BTreeMap<String, String>,
        created: i64,
    ) -> Self {
        let delivery = attrs
            .get("DeliveryPolicy")
            .and_then(|p| delivery_policy::parse_topic_policy(p).ok());
        Topic {
            arn: crate::arn::topic_arn(region, account, name),
            key: persist::scoped_key(account, region, name),
            account: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
            fifo: name.ends_with(".fifo"),
            state: Mutex::new(TopicState {
                attrs,
                tags: BTreeMap::new(),
                data_protection: None,
                subs: BTreeMap::new(),
                created,
                deleted: false,
                next_seq: 1,
                seq_reserved: 0,
                dedup: HashMap::new(),
                dedup_order: VecDeque::new(),
                archive_start: None,
                delivery,
            }),
            fanout: RwLock::new(Arc::new(Fanout::default())),
            fifo_lock: tokio::sync::Mutex::new(()),
        }
    }

    pub(crate) fn record(&self, st: &TopicState) -> TopicRecord {
        TopicRecord {
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            fifo: self.fifo,
            attrs: st.attrs.clone(),
            tags: st.tags.clone(),
            data_protection: st.data_protection.clone(),
            created: st.created,
            seq_reserved: st.seq_reserved,
            archive_start: st.archive_start,
        }
    }

    pub(crate) fn record_write(&self, st: &TopicState) -> stratus_store::Write {
        stratus_store::Write::Put {
            table: persist::T_TOPICS,
            key: self.key.as_bytes().to_vec(),
            value: persist::encode(&self.record(st)),
        }
    }

    /// Recompute the routes from the subscriptions (after any change to them or
    /// to the topic's delivery policy).
    pub(crate) fn rebuild_fanout(&self, st: &TopicState) {
        let routes = st
            .subs
            .values()
            .filter_map(|s| Route::build(st.delivery.as_ref(), s))
            .map(Arc::new)
            .collect();
        *self.fanout.write() = Arc::new(Fanout { routes });
    }

    pub(crate) fn snapshot(&self) -> Arc<Fanout> {
        self.fanout.read().clone()
    }

    /// The `SignatureVersion` messages of this topic are signed with.
    pub(crate) fn signature_version(st: &TopicState) -> u8 {
        match st.attrs.get("SignatureVersion").map(String::as_str) {
            Some("2") => 2,
            _ => 1,
        }
    }

    pub(crate) fn max_message_size(st: &TopicState) -> usize {
        st.attrs
            .get("MaximumMessageSize")
            .and_then(|v| v.parse().ok())
            .unwrap_or(DEFAULT_MAX_MESSAGE_SIZE)
    }

    pub(crate) fn content_based_dedup(st: &TopicState) -> bool {
        st.attrs
            .get("ContentBasedDeduplication")
            .is_some_and(|v| v == "true")
    }

    pub(crate) fn dedup_by_group(st: &TopicState) -> bool {
        st.attrs
            .get("FifoThroughputScope")
            .is_some_and(|v| v == "MessageGroup")
    }

    /// GetTopicAttributes.
    pub(crate) fn attributes(&self, st: &TopicState, now: i64) -> BTreeMap<String, String> {
        let mut out = BTreeMap::new();
        for (k, v) in &st.attrs {
            if k != "FifoTopic" {
                out.insert(k.clone(), v.clone());
            }
        }
        out.insert("TopicArn".into(), self.arn.clone());
        out.insert("Owner".into(), self.account.clone());
        out.entry("DisplayName".into()).or_default();
        let (mut confirmed, mut pending) = (0usize, 0usize);
        for s in st.subs.values() {
            if s.state.lock().pending {
                pending += 1;
            } else {
                confirmed += 1;
            }
        }
        out.insert("SubscriptionsConfirmed".into(), confirmed.to_string());
        out.insert("SubscriptionsPending".into(), pending.to_string());
        out.insert("SubscriptionsDeleted".into(), "0".into());
        let effective = st.delivery.clone().unwrap_or_default();
        out.insert(
            "EffectiveDeliveryPolicy".into(),
            effective.to_effective_json(),
        );
        if self.fifo {
            out.insert("FifoTopic".into(), "true".into());
            out.entry("ContentBasedDeduplication".into())
                .or_insert_with(|| "false".into());
            out.entry("FifoThroughputScope".into())
                .or_insert_with(|| "Topic".into());
        }
        if st.attrs.contains_key("ArchivePolicy") {
            let start = st.archive_start.unwrap_or(now);
            out.insert(
                "BeginningArchiveTime".into(),
                crate::clock::iso_millis(start),
            );
        }
        out
    }
}

/// Validate one attribute for a topic (`fifo`); `creating` allows `FifoTopic`.
/// Returns the value to store (`None` removes the attribute).
pub(crate) fn check_attribute(
    fifo: bool,
    name: &str,
    value: &str,
    creating: bool,
) -> Result<Option<String>, AwsError> {
    if !SETTABLE.contains(&name) {
        return Err(invalid("AttributeName"));
    }
    let keep = || Ok(Some(value.to_string()));
    match name {
        "FifoTopic" => {
            if !creating {
                return Err(invalid(
                    "AttributeName Reason: FifoTopic can only be set when the topic is created",
                ));
            }
            match value {
                "true" | "false" => Ok(None),
                _ => Err(invalid("FifoTopic Reason: must be true or false")),
            }
        }
        "ContentBasedDeduplication" => {
            if !fifo {
                return Err(invalid(
                    "ContentBasedDeduplication Reason: Content-based deduplication can only be set for FIFO topics",
                ));
            }
            match value {
                "true" | "false" => keep(),
                _ => Err(invalid(
                    "ContentBasedDeduplication Reason: must be true or false",
                )),
            }
        }
        "FifoThroughputScope" => {
            if !fifo {
                return Err(invalid(
                    "FifoThroughputScope Reason: FifoThroughputScope can only be set for FIFO topics",
                ));
            }
            match value {
                "Topic" | "MessageGroup" => keep(),
                _ => Err(invalid(
                    "FifoThroughputScope Reason: must be Topic or MessageGroup",
                )),
            }
        }
        "ArchivePolicy" => {
            if !fifo {
                return Err(invalid(
                    "ArchivePolicy Reason: The ArchivePolicy attribute is only supported for FIFO topics",
                ));
            }
            if value.is_empty() || value == "{}" {
                return Ok(None);
            }
            let days = serde_json::from_str::<serde_json::Value>(value)
                .ok()
                .and_then(|v| {
                    let p = v.get("MessageRetentionPeriod")?;
                    p.as_u64().or_else(|| p.as_str()?.parse().ok())
                });
            match days {
                Some(1..=365) => keep(),
                _ => Err(invalid(
                    "ArchivePolicy Reason: MessageRetentionPeriod must be an integer between 1 and 365",
                )),
            }
        }
        "DeliveryPolicy" => {
            if value.is_empty() {
                return Ok(None);
            }
            delivery_policy::parse_topic_policy(value)
                .map_err(|e| invalid(format!("DeliveryPolicy: {e}")))?;
            keep()
        }
        "DisplayName" => {
            if value.chars().count() > 100 {
                return Err(invalid("DisplayName"));
            }
            keep()
        }
        "Policy" => {
            crate::policy::validate(value).map_err(|e| invalid(format!("Policy Error: {e}")))?;
            keep()
        }
        "SignatureVersion" => match value {
            "1" | "2" => keep(),
            _ => Err(invalid("SignatureVersion")),
        },
        "TracingConfig" => match value {
            "PassThrough" => keep(),
            "Active" if !fifo => keep(),
            "Active" => Err(invalid(
                "TracingConfig Reason: Active tracing is not supported for FIFO topics",
            )),
            _ => Err(invalid("TracingConfig")),
        },
        "MaximumMessageSize" => match value.parse::<usize>() {
            Ok(n) if (MIN_MAX_MESSAGE_SIZE..=MAX_MAX_MESSAGE_SIZE).contains(&n) => keep(),
            _ => Err(invalid(format!(
                "MaximumMessageSize Reason: must be an integer between {MIN_MAX_MESSAGE_SIZE} and {MAX_MAX_MESSAGE_SIZE}"
            ))),
        },
        "KmsMasterKeyId" => {
            if value.is_empty() {
                Ok(None)
            } else {
                keep()
            }
        }
        n if n.ends_with("SampleRate") => match value.parse::<u32>() {
            Ok(0..=100) => keep(),
            _ => Err(invalid(n)),
        },
        _ => keep(),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn attribute_rules() {
        assert!(check_attribute(false, "Bogus", "x", false).is_err());
        assert!(check_attribute(false, "FifoTopic", "true", false).is_err());
        assert_eq!(
            check_attribute(false, "FifoTopic", "false", true).unwrap(),
            None
        );
        assert!(check_attribute(false, "ContentBasedDeduplication", "true", false).is_err());
        assert!(check_attribute(true, "ContentBasedDeduplication", "true", false).is_ok());
        assert!(check_attribute(false, "SignatureVersion", "3", false).is_err());
        assert!(
            check_attribute(
                true,
                "ArchivePolicy",
                r#"{"MessageRetentionPeriod":"30"}"#,
                false
            )
            .is_ok()
        );
        assert!(
            check_attribute(
                true,
                "ArchivePolicy",
                r#"{"MessageRetentionPeriod":"900"}"#,
                false
            )
            .is_err()
        );
        assert!(check_attribute(false, "MaximumMessageSize", "100", false).is_err());
        assert!(check_attribute(false, "DeliveryPolicy", "{", false).is_err());
        let e = check_attribute(false, "Policy", "{}", false).unwrap_err();
        assert!(e.message.starts_with("Invalid parameter: Policy Error:"));
    }
}
