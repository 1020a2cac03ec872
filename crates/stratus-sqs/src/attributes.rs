//! Queue names and queue attributes: validation, defaults and rendering.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use stratus_core::AwsError;

use crate::errors::{
    invalid_attribute_value, invalid_attribute_value_reason, invalid_parameter, invalid_value,
    unknown_attribute,
};

/// AWS raised the default (and the maximum) to 1 MiB in 2025; the current API
/// reference documents `Default: 1,048,576 bytes (1 MiB)`.
pub(crate) const DEFAULT_MAX_MESSAGE_SIZE: u32 = 1_048_576;
pub(crate) const MAX_MAX_MESSAGE_SIZE: u32 = 1_048_576;
pub(crate) const DEFAULT_RETENTION: u32 = 345_600;
pub(crate) const DEFAULT_VISIBILITY: u32 = 30;

/// Dead-letter configuration of a source queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RedrivePolicy {
    pub dead_letter_target_arn: String,
    pub max_receive_count: u32,
}

impl RedrivePolicy {
    pub(crate) fn to_json(&self) -> String {
        serde_json::json!({
            "deadLetterTargetArn": self.dead_letter_target_arn,
            "maxReceiveCount": self.max_receive_count,
        })
        .to_string()
    }
}

/// Which source queues may use a queue as their dead-letter queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct RedriveAllowPolicy {
    pub permission: String,
    pub source_arns: Vec<String>,
}

impl RedriveAllowPolicy {
    pub(crate) fn to_json(&self) -> String {
        if self.permission == "byQueue" {
            serde_json::json!({"redrivePermission": self.permission, "sourceQueueArns": self.source_arns})
                .to_string()
        } else {
            serde_json::json!({"redrivePermission": self.permission}).to_string()
        }
    }

    pub(crate) fn allows(&self, source_arn: &str) -> bool {
        match self.permission.as_str() {
            "allowAll" => true,
            "denyAll" => false,
            _ => self.source_arns.iter().any(|a| a == source_arn),
        }
    }
}

/// The settable attributes of a queue.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct QueueConfig {
    pub delay_seconds: u32,
    pub max_message_size: u32,
    pub retention_seconds: u32,
    pub receive_wait_seconds: u32,
    pub visibility_timeout: u32,
    pub policy: Option<String>,
    pub redrive: Option<RedrivePolicy>,
    pub redrive_allow: Option<RedriveAllowPolicy>,
    pub fifo: bool,
    pub content_based_dedup: bool,
    pub dedup_scope: String,
    pub throughput_limit: String,
    pub kms_key: Option<String>,
    pub kms_reuse_seconds: u32,
    pub sse: bool,
}

impl QueueConfig {
    pub(crate) fn new(fifo: bool) -> Self {
        Self {
            delay_seconds: 0,
            max_message_size: DEFAULT_MAX_MESSAGE_SIZE,
            retention_seconds: DEFAULT_RETENTION,
            receive_wait_seconds: 0,
            visibility_timeout: DEFAULT_VISIBILITY,
            policy: None,
            redrive: None,
            redrive_allow: None,
            fifo,
            content_based_dedup: false,
            dedup_scope: "queue".into(),
            throughput_limit: "perQueue".into(),
            kms_key: None,
            kms_reuse_seconds: 300,
            sse: true,
        }
    }

    /// The value of a settable attribute as GetQueueAttributes reports it.
    pub(crate) fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "DelaySeconds" => self.delay_seconds.to_string(),
            "MaximumMessageSize" => self.max_message_size.to_string(),
            "MessageRetentionPeriod" => self.retention_seconds.to_string(),
            "ReceiveMessageWaitTimeSeconds" => self.receive_wait_seconds.to_string(),
            "VisibilityTimeout" => self.visibility_timeout.to_string(),
            "Policy" => self.policy.clone()?,
            "RedrivePolicy" => self.redrive.as_ref()?.to_json(),
            "RedriveAllowPolicy" => self.redrive_allow.as_ref()?.to_json(),
            "FifoQueue" if self.fifo => "true".into(),
            "ContentBasedDeduplication" if self.fifo => self.content_based_dedup.to_string(),
            "DeduplicationScope" if self.fifo => self.dedup_scope.clone(),
            "FifoThroughputLimit" if self.fifo => self.throughput_limit.clone(),
            "KmsMasterKeyId" => self.kms_key.clone()?,
            "KmsDataKeyReusePeriodSeconds" if self.kms_key.is_some() => {
                self.kms_reuse_seconds.to_string()
            }
            "SqsManagedSseEnabled" => self.sse.to_string(),
            _ => return None,
        })
    }
}

/// Names a caller may set.
pub(crate) const SETTABLE: &[&str] = &[
    "DelaySeconds",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "ReceiveMessageWaitTimeSeconds",
    "VisibilityTimeout",
    "Policy",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// Every attribute name GetQueueAttributes accepts, in the order `All` lists them.
pub(crate) const READABLE: &[&str] = &[
    "ApproximateNumberOfMessages",
    "ApproximateNumberOfMessagesDelayed",
    "ApproximateNumberOfMessagesNotVisible",
    "CreatedTimestamp",
    "DelaySeconds",
    "LastModifiedTimestamp",
    "MaximumMessageSize",
    "MessageRetentionPeriod",
    "Policy",
    "QueueArn",
    "ReceiveMessageWaitTimeSeconds",
    "RedrivePolicy",
    "RedriveAllowPolicy",
    "VisibilityTimeout",
    "FifoQueue",
    "ContentBasedDeduplication",
    "DeduplicationScope",
    "FifoThroughputLimit",
    "KmsMasterKeyId",
    "KmsDataKeyReusePeriodSeconds",
    "SqsManagedSseEnabled",
];

/// Queue name rules: 1–80 characters of `[A-Za-z0-9_-]`, FIFO names ending in `.fifo`.
pub(crate) fn validate_queue_name(name: &str, fifo: bool) -> Result<(), AwsError> {
    let base = if fifo {
        name.strip_suffix(".fifo")
    } else {
        Some(name)
    };
    let ok = match base {
        Some(b) => {
            !b.is_empty()
                && name.len() <= 80
                && b.bytes()
                    .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        }
        None => false,
    };
    if ok {
        return Ok(());
    }
    if fifo {
        Err(invalid_parameter(
            "The name of a FIFO queue can only include alphanumeric characters, hyphens, or underscores, must end with .fifo suffix and be 1 to 80 in length.",
        ))
    } else {
        Err(invalid_parameter(
            "Can only include alphanumeric characters, hyphens, or underscores. 1 to 80 in length",
        ))
    }
}

fn parse_int(name: &str, value: &str, min: u32, max: u32) -> Result<u32, AwsError> {
    match value.trim().parse::<i64>() {
        Ok(v) if v >= min as i64 && v <= max as i64 => Ok(v as u32),
        _ => Err(invalid_attribute_value(name)),
    }
}

fn parse_bool(name: &str, value: &str) -> Result<bool, AwsError> {
    match value.to_ascii_lowercase().as_str() {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(invalid_attribute_value(name)),
    }
}

fn json_u32(v: &serde_json::Value) -> Option<i64> {
    match v {
        serde_json::Value::Number(n) => n.as_i64(),
        serde_json::Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

pub(crate) fn parse_redrive_policy(value: &str) -> Result<RedrivePolicy, AwsError> {
    let bad = |reason: &str| invalid_value("RedrivePolicy", value, reason);
    let doc: serde_json::Value =
        serde_json::from_str(value).map_err(|_| bad("Redrive policy is not a valid JSON map."))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("Redrive policy is not a valid JSON map."))?;
    for k in obj.keys() {
        if k != "deadLetterTargetArn" && k != "maxReceiveCount" {
            return Err(bad(&format!(
                "Only following attributes are supported: [deadLetterTargetArn, maxReceiveCount]. Found: {k}"
            )));
        }
    }
    let arn = obj
        .get("deadLetterTargetArn")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            bad("Redrive policy does not contain mandatory attribute: deadLetterTargetArn.")
        })?;
    let count = obj.get("maxReceiveCount").ok_or_else(|| {
        bad("Redrive policy does not contain mandatory attribute: maxReceiveCount.")
    })?;
    let n = json_u32(count).unwrap_or(-1);
    if !(1..=1000).contains(&n) {
        return Err(bad(&format!(
            "Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000 both inclusive."
        )));
    }
    if crate::urls::parse_queue_arn(arn).is_none() {
        return Err(bad("Invalid value for deadLetterTargetArn."));
    }
    Ok(RedrivePolicy {
        dead_letter_target_arn: arn.to_string(),
        max_receive_count: n as u32,
    })
}

pub(crate) fn parse_redrive_allow_policy(value: &str) -> Result<RedriveAllowPolicy, AwsError> {
    let bad = |reason: &str| invalid_value("RedriveAllowPolicy", value, reason);
    let doc: serde_json::Value = serde_json::from_str(value)
        .map_err(|_| bad("Redrive allow policy is not a valid JSON map."))?;
    let obj = doc
        .as_object()
        .ok_or_else(|| bad("Redrive allow policy is not a valid JSON map."))?;
    let permission = obj
        .get("redrivePermission")
        .and_then(|v| v.as_str())
        .ok_or_else(|| {
            bad("Redrive allow policy does not contain mandatory attribute: redrivePermission.")
        })?;
    let arns: Vec<String> = match obj.get("sourceQueueArns") {
        None => Vec::new(),
        Some(serde_json::Value::Array(a)) => a
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect::<Option<_>>()
            .ok_or_else(|| bad("sourceQueueArns must be a list of queue ARNs."))?,
        Some(_) => return Err(bad("sourceQueueArns must be a list of queue ARNs.")),
    };
    match permission {
        "allowAll" | "denyAll" => {
            if !arns.is_empty() {
                return Err(bad(&format!(
                    "sourceQueueArns cannot be specified when redrivePermission is {permission}."
                )));
            }
        }
        "byQueue" => {
            if arns.is_empty() || arns.len() > 10 {
                return Err(bad(
                    "sourceQueueArns must contain between 1 and 10 queue ARNs when redrivePermission is byQueue.",
                ));
            }
            if arns
                .iter()
                .any(|a| crate::urls::parse_queue_arn(a).is_none())
            {
                return Err(bad("sourceQueueArns contains an invalid queue ARN."));
            }
        }
        _ => {
            return Err(bad(
                "redrivePermission must be one of allowAll, denyAll or byQueue.",
            ));
        }
    }
    Ok(RedriveAllowPolicy {
        permission: permission.to_string(),
        source_arns: arns,
    })
}

/// Validate `attrs` and apply them to `cfg`. `creating` distinguishes
/// CreateQueue (where `FifoQueue` may be given) from SetQueueAttributes.
/// Cross-queue checks (dead-letter target exists, same type) are the caller's.
pub(crate) fn apply_attributes(
    cfg: &mut QueueConfig,
    attrs: &BTreeMap<String, String>,
    creating: bool,
) -> Result<(), AwsError> {
    // Names first, so an unknown name wins over a bad value.
    for name in attrs.keys() {
        let fifo_only = matches!(
            name.as_str(),
            "ContentBasedDeduplication" | "DeduplicationScope" | "FifoThroughputLimit"
        );
        if !SETTABLE.contains(&name.as_str()) || (fifo_only && !cfg.fifo) {
            return Err(unknown_attribute(name));
        }
    }
    for (name, value) in attrs {
        let v = value.as_str();
        match name.as_str() {
            "DelaySeconds" => cfg.delay_seconds = parse_int(name, v, 0, 900)?,
            "MaximumMessageSize" => {
                cfg.max_message_size = parse_int(name, v, 1024, MAX_MAX_MESSAGE_SIZE)?
            }
            "MessageRetentionPeriod" => cfg.retention_seconds = parse_int(name, v, 60, 1_209_600)?,
            "ReceiveMessageWaitTimeSeconds" => {
                cfg.receive_wait_seconds = parse_int(name, v, 0, 20)?
            }
            "VisibilityTimeout" => cfg.visibility_timeout = parse_int(name, v, 0, 43_200)?,
            "Policy" => {
                if v.is_empty() {
                    cfg.policy = None;
                } else {
                    let doc: serde_json::Value =
                        serde_json::from_str(v).map_err(|_| invalid_attribute_value(name))?;
                    if !doc.is_object() {
                        return Err(invalid_attribute_value(name));
                    }
                    cfg.policy = Some(doc.to_string());
                }
            }
            "RedrivePolicy" => {
                cfg.redrive = if v.is_empty() {
                    None
                } else {
                    Some(parse_redrive_policy(v)?)
                }
            }
            "RedriveAllowPolicy" => {
                cfg.redrive_allow = if v.is_empty() {
                    None
                } else {
                    Some(parse_redrive_allow_policy(v)?)
                }
            }
            "FifoQueue" => {
                let b = parse_bool(name, v)?;
                if b != cfg.fifo {
                    if creating {
                        return Err(invalid_attribute_value(name));
                    }
                    return Err(invalid_attribute_value_reason(
                        name,
                        "Modifying queue type is not supported.",
                    ));
                }
            }
            "ContentBasedDeduplication" => cfg.content_based_dedup = parse_bool(name, v)?,
            "DeduplicationScope" => match v {
                "messageGroup" | "queue" => cfg.dedup_scope = v.to_string(),
                _ => return Err(invalid_attribute_value(name)),
            },
            "FifoThroughputLimit" => match v {
                "perQueue" | "perMessageGroupId" => cfg.throughput_limit = v.to_string(),
                _ => return Err(invalid_attribute_value(name)),
            },
            "KmsMasterKeyId" => {
                if v.is_empty() {
                    cfg.kms_key = None;
                } else {
                    cfg.kms_key = Some(v.to_string());
                    cfg.sse = false;
                }
            }
            "KmsDataKeyReusePeriodSeconds" => {
                cfg.kms_reuse_seconds = parse_int(name, v, 60, 86_400)?
            }
            "SqsManagedSseEnabled" => {
                let b = parse_bool(name, v)?;
                if b && attrs.get("KmsMasterKeyId").is_some_and(|k| !k.is_empty()) {
                    return Err(invalid_attribute_value_reason(
                        name,
                        "You can use one type of server-side encryption (SSE) at one time. You can either enable KMS SSE or SQS SSE.",
                    ));
                }
                cfg.sse = b;
                if b {
                    cfg.kms_key = None;
                }
            }
            _ => return Err(unknown_attribute(name)),
        }
    }
    if cfg.fifo && cfg.throughput_limit == "perMessageGroupId" && cfg.dedup_scope == "queue" {
        return Err(invalid_attribute_value_reason(
            "FifoThroughputLimit",
            "The perMessageGroupId value is allowed only when the value for DeduplicationScope is messageGroup.",
        ));
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn attrs(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn names() {
        assert!(validate_queue_name("my-queue_1", false).is_ok());
        assert!(validate_queue_name(&"a".repeat(80), false).is_ok());
        assert!(validate_queue_name(&"a".repeat(81), false).is_err());
        assert!(validate_queue_name("", false).is_err());
        assert!(validate_queue_name("bad.name", false).is_err());
        assert!(validate_queue_name("q.fifo", true).is_ok());
        assert!(validate_queue_name(".fifo", true).is_err());
        assert!(validate_queue_name("q", true).is_err());
        assert!(validate_queue_name(&format!("{}.fifo", "a".repeat(75)), true).is_ok());
        assert!(validate_queue_name(&format!("{}.fifo", "a".repeat(76)), true).is_err());
        let e = validate_queue_name("bad name", false).unwrap_err();
        assert_eq!(e.code, "InvalidParameterValue");
    }

    #[test]
    fn ranges() {
        let mut c = QueueConfig::new(false);
        assert!(apply_attributes(&mut c, &attrs(&[("DelaySeconds", "900")]), true).is_ok());
        let e = apply_attributes(&mut c, &attrs(&[("DelaySeconds", "901")]), true).unwrap_err();
        assert_eq!(e.code, "InvalidAttributeValue");
        assert_eq!(e.message, "Invalid value for the parameter DelaySeconds.");
        assert!(apply_attributes(&mut c, &attrs(&[("MaximumMessageSize", "1023")]), true).is_err());
        assert!(
            apply_attributes(&mut c, &attrs(&[("MaximumMessageSize", "1048576")]), true).is_ok()
        );
        assert!(
            apply_attributes(&mut c, &attrs(&[("MessageRetentionPeriod", "59")]), true).is_err()
        );
        assert!(apply_attributes(&mut c, &attrs(&[("VisibilityTimeout", "43201")]), true).is_err());
        assert!(
            apply_attributes(
                &mut c,
                &attrs(&[("ReceiveMessageWaitTimeSeconds", "21")]),
                true
            )
            .is_err()
        );
        let e = apply_attributes(&mut c, &attrs(&[("Bogus", "1")]), true).unwrap_err();
        assert_eq!(e.code, "InvalidAttributeName");
        assert_eq!(e.message, "Unknown Attribute Bogus.");
        let e = apply_attributes(
            &mut c,
            &attrs(&[("ContentBasedDeduplication", "true")]),
            true,
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidAttributeName");
    }

    #[test]
    fn redrive_policies() {
        let p = parse_redrive_policy(
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":"3"}"#,
        )
        .unwrap();
        assert_eq!(p.max_receive_count, 3);
        assert_eq!(
            p.to_json(),
            r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:dlq","maxReceiveCount":3}"#
        );
        assert!(
            parse_redrive_policy(
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:0:d","maxReceiveCount":0}"#
            )
            .is_err()
        );
        assert!(parse_redrive_policy("nope").is_err());
        assert!(parse_redrive_allow_policy(r#"{"redrivePermission":"allowAll"}"#).is_ok());
        assert!(parse_redrive_allow_policy(r#"{"redrivePermission":"byQueue"}"#).is_err());
        let a = parse_redrive_allow_policy(
            r#"{"redrivePermission":"byQueue","sourceQueueArns":["arn:aws:sqs:us-east-1:0:s"]}"#,
        )
        .unwrap();
        assert!(a.allows("arn:aws:sqs:us-east-1:0:s"));
        assert!(!a.allows("arn:aws:sqs:us-east-1:0:t"));
    }

    #[test]
    fn fifo_settings() {
        let mut c = QueueConfig::new(true);
        let e = apply_attributes(
            &mut c,
            &attrs(&[("FifoThroughputLimit", "perMessageGroupId")]),
            true,
        )
        .unwrap_err();
        assert_eq!(e.code, "InvalidAttributeValue");
        assert!(
            apply_attributes(
                &mut c,
                &attrs(&[
                    ("FifoThroughputLimit", "perMessageGroupId"),
                    ("DeduplicationScope", "messageGroup")
                ]),
                true
            )
            .is_ok()
        );
        assert!(apply_attributes(&mut c, &attrs(&[("FifoQueue", "false")]), false).is_err());
    }
}
