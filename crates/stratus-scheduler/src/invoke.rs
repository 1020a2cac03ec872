//! Calling a schedule's target through the registry: templated targets (SQS,
//! SNS, Lambda, Step Functions, EventBridge) and universal targets
//! (`arn:aws:scheduler:::aws-sdk:<service>:<apiAction>`).

use base64::Engine;
use serde_json::{Value, json};
use stratus_core::{AwsError, Registry, RequestContext};

use crate::generated::Target;

/// A target ARN's parts; region and account fall back to the schedule's.
struct Arn<'a> {
    service: &'a str,
    region: String,
    account: String,
    resource: &'a str,
}

fn parse_arn<'a>(arn: &'a str, region: &str, account: &str) -> Option<Arn<'a>> {
    let f: Vec<&str> = arn.splitn(6, ':').collect();
    if f.len() != 6 || f[0] != "arn" {
        return None;
    }
    let or = |v: &str, d: &str| {
        if v.is_empty() {
            d.to_string()
        } else {
            v.to_string()
        }
    };
    Some(Arn {
        service: f[2],
        region: or(f[3], region),
        account: or(f[4], account),
        resource: f[5],
    })
}

fn failure(code: &str, message: impl Into<String>) -> AwsError {
    AwsError::new(code, message)
}

/// Registry name of an SDK service name used in universal target ARNs.
fn registry_name(sdk: &str) -> &str {
    match sdk {
        "sfn" => "states",
        "eventbridge" => "events",
        "cloudwatchlogs" => "logs",
        "cloudwatch" => "monitoring",
        other => other,
    }
}

/// `sendMessage` → `SendMessage`.
fn operation_name(action: &str) -> String {
    let mut c = action.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

async fn call(
    registry: &Registry,
    service: &str,
    ctx: &RequestContext,
    operation: &str,
    input: Value,
) -> Result<Value, AwsError> {
    if registry.get(service).is_none() {
        return Err(failure(
            "ServiceNotEnabled",
            format!("The {service} service is not running in this Stratus instance."),
        ));
    }
    registry.call(service, ctx, operation, input).await
}

/// Invoke `target` once with the rendered `input`.
pub(crate) async fn invoke(
    registry: &Registry,
    target: &Target,
    schedule_region: &str,
    schedule_account: &str,
    input: &str,
) -> Result<(), AwsError> {
    let arn = parse_arn(&target.arn, schedule_region, schedule_account).ok_or_else(|| {
        failure(
            "ValidationException",
            format!("Invalid target ARN {}", target.arn),
        )
    })?;
    // Universal target ARNs carry no region or account: they run in the schedule's.
    let ctx = RequestContext::new(arn.account.clone(), arn.region.clone());
    match arn.service {
        "sqs" => {
            let mut doc = json!({
                "QueueUrl": format!("{}/{}/{}", ctx.endpoint, arn.account, arn.resource),
                "MessageBody": input,
            });
            if let Some(group) = target
                .sqs_parameters
                .as_ref()
                .and_then(|p| p.message_group_id.as_ref())
            {
                doc["MessageGroupId"] = json!(group);
            }
            call(registry, "sqs", &ctx, "SendMessage", doc).await?;
        }
        "sns" => {
            let doc = json!({ "TopicArn": target.arn, "Message": input });
            call(registry, "sns", &ctx, "Publish", doc).await?;
        }
        "lambda" => {
            let payload = base64::engine::general_purpose::STANDARD.encode(input);
            let doc = json!({
                "FunctionName": target.arn,
                "InvocationType": "Event",
                "Payload": payload,
            });
            call(registry, "lambda", &ctx, "Invoke", doc).await?;
        }
        "states" => {
            let doc = json!({ "stateMachineArn": target.arn, "input": input });
            call(registry, "states", &ctx, "StartExecution", doc).await?;
        }
        "events" => {
            let params = target.event_bridge_parameters.as_ref().ok_or_else(|| {
                failure(
                    "ValidationException",
                    "EventBridgeParameters are required for an EventBridge target.",
                )
            })?;
            let doc = json!({ "Entries": [{
                "EventBusName": target.arn,
                "Source": params.source,
                "DetailType": params.detail_type,
                "Detail": input,
            }]});
            let out = call(registry, "events", &ctx, "PutEvents", doc).await?;
            if out["FailedEntryCount"].as_i64().unwrap_or(0) > 0 {
                let entry = &out["Entries"][0];
                return Err(failure(
                    entry["ErrorCode"].as_str().unwrap_or("PutEventsFailed"),
                    entry["ErrorMessage"]
                        .as_str()
                        .unwrap_or("The event was not accepted."),
                ));
            }
        }
        "scheduler" if arn.resource.starts_with("aws-sdk:") => {
            let mut parts = arn.resource.splitn(3, ':').skip(1);
            let (Some(sdk), Some(action)) = (parts.next(), parts.next()) else {
                return Err(failure(
                    "ValidationException",
                    format!("Invalid universal target ARN {}", target.arn),
                ));
            };
            let doc: Value = serde_json::from_str(input).map_err(|e| {
                failure(
                    "ValidationException",
                    format!("The universal target input must be a JSON object: {e}"),
                )
            })?;
            if !doc.is_object() {
                return Err(failure(
                    "ValidationException",
                    "The universal target input must be a JSON object.",
                ));
            }
            call(
                registry,
                registry_name(sdk),
                &ctx,
                &operation_name(action),
                doc,
            )
            .await?;
        }
        other => {
            return Err(failure(
                "ServiceNotEnabled",
                format!(
                    "Stratus Scheduler cannot invoke {other} targets ({}).",
                    target.arn
                ),
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(operation_name("sendMessage"), "SendMessage");
        assert_eq!(registry_name("sfn"), "states");
        assert_eq!(registry_name("sqs"), "sqs");
        let a = parse_arn("arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "r", "a");
        assert!(a.is_some_and(|a| a.resource == "aws-sdk:sqs:sendMessage" && a.region == "r"));
        let q = parse_arn("arn:aws:sqs:eu-west-1:123456789012:q", "r", "a");
        assert!(q.is_some_and(|q| q.region == "eu-west-1" && q.account == "123456789012"));
    }
}
