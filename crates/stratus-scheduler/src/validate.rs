//! Checks the protocol layer leaves to the service: the model's patterns and
//! Scheduler's own rules on schedules and targets.

use stratus_core::AwsError;

use crate::errors::{pattern, validation};
use crate::generated::{FlexibleTimeWindow, Target};

pub(crate) const NAME_PATTERN: &str = "[0-9a-zA-Z-_.]+";
const ROLE_PATTERN: &str = r"arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@\/-]+";
const DLQ_PATTERN: &str = r"arn:aws[a-z-]*:sqs:[a-z0-9\-]+:\d{12}:[a-zA-Z0-9\-_]+";
const KMS_PATTERN: &str = r"arn:aws[a-z-]*:kms:[a-z0-9\-]+:\d{12}:(key|alias)\/[0-9a-zA-Z-_]*";
pub(crate) const GROUP_ARN_PATTERN: &str =
    r"arn:aws[a-z-]*:scheduler:[a-z0-9\-]+:\d{12}:schedule-group\/[0-9a-zA-Z-_.]+";
const TOKEN_PATTERN: &str = "[a-zA-Z0-9-_]+";

fn name_chars(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
}

pub(crate) fn name(path: &str, value: &str) -> Result<(), AwsError> {
    if name_chars(value) {
        Ok(())
    } else {
        Err(pattern(path, value, NAME_PATTERN))
    }
}

pub(crate) fn client_token(value: Option<&str>) -> Result<(), AwsError> {
    match value {
        Some(t)
            if t.is_empty()
                || !t
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_')) =>
        {
            Err(pattern("clientToken", t, TOKEN_PATTERN))
        }
        _ => Ok(()),
    }
}

/// `arn:aws[a-z-]*:<service>:` followed by the remaining colon-separated parts.
fn arn_parts<'a>(arn: &'a str, service: &str, parts: usize) -> Option<Vec<&'a str>> {
    let fields: Vec<&str> = arn.splitn(parts, ':').collect();
    if fields.len() != parts || fields[0] != "arn" || fields[2] != service {
        return None;
    }
    let partition = fields[1];
    let ok = partition
        .strip_prefix("aws")
        .is_some_and(|rest| rest.bytes().all(|b| b.is_ascii_lowercase() || b == b'-'));
    ok.then_some(fields)
}

fn region_ok(r: &str) -> bool {
    !r.is_empty()
        && r.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn account_ok(a: &str) -> bool {
    a.len() == 12 && a.bytes().all(|b| b.is_ascii_digit())
}

fn role_arn_ok(arn: &str) -> bool {
    let Some(f) = arn_parts(arn, "iam", 6) else {
        return false;
    };
    let Some(role) = f[5].strip_prefix("role/") else {
        return false;
    };
    f[3].is_empty()
        && account_ok(f[4])
        && !role.is_empty()
        && role.chars().all(|c| {
            c.is_alphanumeric() || matches!(c, '_' | '+' | '=' | ',' | '.' | '@' | '/' | '-')
        })
}

fn dlq_arn_ok(arn: &str) -> bool {
    let Some(f) = arn_parts(arn, "sqs", 6) else {
        return false;
    };
    region_ok(f[3])
        && account_ok(f[4])
        && !f[5].is_empty()
        && f[5]
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
}

fn kms_arn_ok(arn: &str) -> bool {
    let Some(f) = arn_parts(arn, "kms", 6) else {
        return false;
    };
    let rest = f[5]
        .strip_prefix("key/")
        .or_else(|| f[5].strip_prefix("alias/"));
    region_ok(f[3])
        && account_ok(f[4])
        && rest.is_some_and(|r| {
            r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        })
}

/// A schedule group ARN: `(region, account, group name)`.
pub(crate) fn group_arn(arn: &str) -> Result<(String, String, String), AwsError> {
    let parsed = arn_parts(arn, "scheduler", 6).and_then(|f| {
        let name = f[5].strip_prefix("schedule-group/")?;
        (region_ok(f[3]) && account_ok(f[4]) && name_chars(name))
            .then(|| (f[3].to_string(), f[4].to_string(), name.to_string()))
    });
    parsed.ok_or_else(|| pattern("resourceArn", arn, GROUP_ARN_PATTERN))
}

pub(crate) fn kms_key(arn: Option<&str>) -> Result<(), AwsError> {
    match arn {
        Some(a) if !kms_arn_ok(a) => Err(pattern("kmsKeyArn", a, KMS_PATTERN)),
        _ => Ok(()),
    }
}

pub(crate) fn flexible_window(w: &FlexibleTimeWindow) -> Result<(), AwsError> {
    if w.mode == "FLEXIBLE" && w.maximum_window_in_minutes.is_none() {
        return Err(validation(
            "MaximumWindowInMinutes must be specified when FlexibleTimeWindow Mode is FLEXIBLE.",
        ));
    }
    Ok(())
}

/// Templated targets whose Input must be well-formed JSON (Lambda, Step
/// Functions, EventBridge), per the Target reference.
fn needs_json_input(arn: &str) -> bool {
    let service = arn.split(':').nth(2).unwrap_or_default();
    matches!(service, "lambda" | "states" | "events")
}

pub(crate) fn target(t: &Target) -> Result<(), AwsError> {
    if !role_arn_ok(&t.role_arn) {
        return Err(pattern("target.roleArn", &t.role_arn, ROLE_PATTERN));
    }
    if let Some(arn) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref())
        && !dlq_arn_ok(arn)
    {
        return Err(pattern("target.deadLetterConfig.arn", arn, DLQ_PATTERN));
    }
    if let Some(input) = &t.input {
        if input.len() > 256 * 1024 {
            return Err(validation("The maximum size of the Input field is 256 KB."));
        }
        if needs_json_input(&t.arn) && serde_json::from_str::<serde_json::Value>(input).is_err() {
            return Err(validation(format!(
                "Invalid Input for target {}: the input must be a well-formed JSON.",
                t.arn
            )));
        }
    }
    if t.event_bridge_parameters.is_some() && !t.arn.contains(":events:") {
        return Err(validation(
            "EventBridgeParameters can only be used with an EventBridge event bus target.",
        ));
    }
    if t.sqs_parameters.is_some() && !t.arn.contains(":sqs:") {
        return Err(validation(
            "SqsParameters can only be used with an Amazon SQS queue target.",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name("name", "my-schedule_1.v2").is_ok());
        assert!(name("name", "bad name").is_err());
        assert!(name("name", "a/b").is_err());
    }

    #[test]
    fn arns() {
        assert!(role_arn_ok(
            "arn:aws:iam::123456789012:role/service-role/my-role"
        ));
        assert!(!role_arn_ok("arn:aws:iam:us-east-1:123456789012:role/r"));
        assert!(!role_arn_ok("arn:aws:iam::12345:role/r"));
        assert!(!role_arn_ok("role/r"));
        assert!(dlq_arn_ok("arn:aws:sqs:us-east-1:123456789012:dlq-1"));
        assert!(!dlq_arn_ok("arn:aws:sqs:us-east-1:123456789012:q.fifo"));
        assert!(kms_arn_ok("arn:aws:kms:us-east-1:123456789012:key/abc-123"));
        assert!(!kms_arn_ok("arn:aws:kms:us-east-1:123456789012:thing/abc"));
        let (region, account, group) =
            group_arn("arn:aws:scheduler:eu-west-1:123456789012:schedule-group/g1")
                .unwrap_or_default();
        assert_eq!(
            (region.as_str(), account.as_str(), group.as_str()),
            ("eu-west-1", "123456789012", "g1")
        );
        assert!(group_arn("arn:aws:scheduler:eu-west-1:123456789012:schedule/default/s").is_err());
    }
}
