//! Subscriptions: protocols, endpoints, attributes and their validation.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use stratus_core::AwsError;
use stratus_patterns::{FilterPolicy, FilterPolicyScope};

use crate::delivery_policy::{self, SubscriptionPolicy, TopicPolicy};
use crate::errors::{invalid, invalid_raw};
use crate::persist::SubscriptionRecord;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Protocol {
    Http,
    Https,
    Email,
    EmailJson,
    Sms,
    Sqs,
    Application,
    Lambda,
    Firehose,
}

impl Protocol {
    pub(crate) fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "http" => Self::Http,
            "https" => Self::Https,
            "email" => Self::Email,
            "email-json" => Self::EmailJson,
            "sms" => Self::Sms,
            "sqs" => Self::Sqs,
            "application" => Self::Application,
            "lambda" => Self::Lambda,
            "firehose" => Self::Firehose,
            _ => return None,
        })
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::Http => "http",
            Self::Https => "https",
            Self::Email => "email",
            Self::EmailJson => "email-json",
            Self::Sms => "sms",
            Self::Sqs => "sqs",
            Self::Application => "application",
            Self::Lambda => "lambda",
            Self::Firehose => "firehose",
        }
    }

    fn supports_raw(self) -> bool {
        matches!(self, Self::Http | Self::Https | Self::Sqs | Self::Firehose)
    }

    pub(crate) fn is_http(self) -> bool {
        matches!(self, Self::Http | Self::Https)
    }
}

pub(crate) struct SubState {
    /// Attributes as set.
    pub attrs: BTreeMap<String, String>,
    pub pending: bool,
    pub token: Option<String>,
    /// ConfirmationWasAuthenticated.
    pub authenticated: bool,
    /// Unsubscribing needs a signed request (AuthenticateOnUnsubscribe).
    pub auth_on_unsubscribe: bool,
    pub deleted: bool,
    pub filter: Option<FilterPolicy>,
    pub delivery: Option<SubscriptionPolicy>,
}

pub(crate) struct Subscription {
    pub arn: String,
    /// Store key (the topic's account/region, then the ARN).
    pub key: String,
    pub topic_arn: String,
    pub owner: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub created: i64,
    pub state: Mutex<SubState>,
}

impl Subscription {
    pub(crate) fn from_record(key: String, r: SubscriptionRecord) -> Option<Self> {
        let protocol = Protocol::parse(&r.protocol)?;
        let (filter, delivery) = compile(&r.attrs);
        Some(Self {
            arn: r.arn,
            key,
            topic_arn: r.topic_arn,
            owner: r.owner,
            protocol,
            endpoint: r.endpoint,
            created: r.created,
            state: Mutex::new(SubState {
                attrs: r.attrs,
                pending: r.pending,
                token: r.token,
                authenticated: r.authenticated,
                auth_on_unsubscribe: r.auth_on_unsubscribe,
                deleted: false,
                filter,
                delivery,
            }),
        })
    }

    pub(crate) fn record(&self, st: &SubState) -> SubscriptionRecord {
        SubscriptionRecord {
            arn: self.arn.clone(),
            topic_arn: self.topic_arn.clone(),
            owner: self.owner.clone(),
            protocol: self.protocol.as_str().to_string(),
            endpoint: self.endpoint.clone(),
            attrs: st.attrs.clone(),
            pending: st.pending,
            token: st.token.clone(),
            authenticated: st.authenticated,
            auth_on_unsubscribe: st.auth_on_unsubscribe,
            created: self.created,
        }
    }

    pub(crate) fn record_write(&self, st: &SubState) -> stratus_store::Write {
        stratus_store::Write::Put {
            table: crate::persist::T_SUBS,
            key: self.key.as_bytes().to_vec(),
            value: crate::persist::encode(&self.record(st)),
        }
    }

    /// GetSubscriptionAttributes.
    pub(crate) fn attributes(
        &self,
        st: &SubState,
        topic_policy: Option<&TopicPolicy>,
    ) -> BTreeMap<String, String> {
        let mut out = st.attrs.clone();
        out.insert("SubscriptionArn".into(), self.arn.clone());
        out.insert("TopicArn".into(), self.topic_arn.clone());
        out.insert("Owner".into(), self.owner.clone());
        out.insert("Protocol".into(), self.protocol.as_str().into());
        out.insert("Endpoint".into(), self.endpoint.clone());
        out.insert("PendingConfirmation".into(), st.pending.to_string());
        out.insert(
            "ConfirmationWasAuthenticated".into(),
            st.authenticated.to_string(),
        );
        out.insert(
            "SubscriptionPrincipal".into(),
            format!("arn:aws:iam::{}:root", self.owner),
        );
        out.entry("RawMessageDelivery".into())
            .or_insert_with(|| "false".into());
        if out.contains_key("FilterPolicy") {
            out.entry("FilterPolicyScope".into())
                .or_insert_with(|| "MessageAttributes".into());
        }
        out.insert(
            "EffectiveDeliveryPolicy".into(),
            delivery_policy::effective(topic_policy, st.delivery.as_ref()).to_subscription_json(),
        );
        out
    }
}

/// The compiled filter and delivery policy of validated attributes.
pub(crate) fn compile(
    attrs: &BTreeMap<String, String>,
) -> (Option<FilterPolicy>, Option<SubscriptionPolicy>) {
    let scope = attrs
        .get("FilterPolicyScope")
        .and_then(|s| FilterPolicyScope::parse(s))
        .unwrap_or_default();
    let filter = attrs
        .get("FilterPolicy")
        .and_then(|p| FilterPolicy::parse(p, scope).ok());
    let delivery = attrs
        .get("DeliveryPolicy")
        .and_then(|p| delivery_policy::parse_subscription_policy(p).ok());
    (filter, delivery)
}

/// Where an attribute change comes from: the wording of errors differs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Origin {
    Subscribe,
    SetAttributes,
}

fn reason(origin: Origin, detail: &str) -> AwsError {
    match origin {
        Origin::Subscribe => invalid(format!("Attributes Reason: {detail}")),
        Origin::SetAttributes => invalid(detail),
    }
}

/// Apply attribute changes to `attrs` after validating them for a
/// subscription of `protocol` on a topic (`fifo`). An empty value removes an
/// attribute where AWS allows it.
pub(crate) fn apply_attributes(
    attrs: &mut BTreeMap<String, String>,
    changes: &[(&str, &str)],
    protocol: Protocol,
    fifo: bool,
    origin: Origin,
) -> Result<(), AwsError> {
    let mut next = attrs.clone();
    for &(name, value) in changes {
        match name {
            "RawMessageDelivery" => {
                let v = value.to_ascii_lowercase();
                if v != "true" && v != "false" {
                    return Err(reason(
                        origin,
                        &format!(
                            "RawMessageDelivery: Invalid value [{value}]. Must be true or false."
                        ),
                    ));
                }
                if v == "true" && !protocol.supports_raw() {
                    return Err(reason(
                        origin,
                        &format!(
                            "Delivery protocol [{}] does not support raw message delivery.",
                            protocol.as_str()
                        ),
                    ));
                }
                next.insert(name.into(), v);
            }
            "FilterPolicy" | "DeliveryPolicy" | "RedrivePolicy" | "ReplayPolicy"
                if value.is_empty() =>
            {
                next.remove(name);
            }
            "FilterPolicy" | "FilterPolicyScope" => {
                next.insert(name.into(), value.into());
            }
            "DeliveryPolicy" => {
                delivery_policy::parse_subscription_policy(value)
                    .map_err(|e| reason(origin, &format!("DeliveryPolicy: {e}")))?;
                next.insert(name.into(), value.into());
            }
            "RedrivePolicy" => {
                check_redrive(value, fifo)
                    .map_err(|e| reason(origin, &format!("RedrivePolicy: {e}")))?;
                next.insert(name.into(), value.into());
            }
            "SubscriptionRoleArn" => {
                if !value.starts_with("arn:") {
                    return Err(reason(origin, "SubscriptionRoleArn"));
                }
                next.insert(name.into(), value.into());
            }
            "ReplayPolicy" => {
                if !fifo {
                    return Err(reason(
                        origin,
                        "ReplayPolicy: Replay is only supported for FIFO topics",
                    ));
                }
                if serde_json::from_str::<serde_json::Value>(value).map_or(true, |v| !v.is_object())
                {
                    return Err(reason(origin, "ReplayPolicy: Invalid JSON"));
                }
                next.insert(name.into(), value.into());
            }
            other => {
                return Err(match origin {
                    Origin::Subscribe => invalid(format!(
                        "Attributes Reason: Invalid attribute name: {other}"
                    )),
                    Origin::SetAttributes => invalid("AttributeName"),
                });
            }
        }
    }
    // The filter policy is checked against the scope it will run with.
    let scope_text = next.get("FilterPolicyScope").cloned();
    let scope = match scope_text.as_deref() {
        None => FilterPolicyScope::default(),
        Some(s) => FilterPolicyScope::parse(s).ok_or_else(|| match origin {
            Origin::Subscribe => invalid(format!(
                "Attributes Reason: FilterPolicyScope: Invalid filter policy scope: {s}"
            )),
            Origin::SetAttributes => invalid(format!(
                "FilterPolicyScope: Invalid filter policy scope: {s}"
            )),
        })?,
    };
    if let Some(policy) = next.get("FilterPolicy")
        && let Err(e) = FilterPolicy::parse(policy, scope)
    {
        return Err(invalid_raw(match origin {
            Origin::Subscribe => e.subscribe_message(),
            Origin::SetAttributes => e.message(),
        }));
    }
    *attrs = next;
    Ok(())
}

fn check_redrive(value: &str, fifo: bool) -> Result<(), String> {
    let v: serde_json::Value =
        serde_json::from_str(value).map_err(|_| "Invalid JSON".to_string())?;
    let target = v
        .get("deadLetterTargetArn")
        .and_then(serde_json::Value::as_str)
        .ok_or("deadLetterTargetArn is missing")?;
    let (_, _, name) = crate::arn::parse_queue(target)
        .ok_or_else(|| format!("deadLetterTargetArn is an invalid arn: {target}"))?;
    match (fifo, name.ends_with(".fifo")) {
        (true, false) => {
            Err("The dead-letter queue of a FIFO topic subscription must be a FIFO queue".into())
        }
        (false, true) => Err(
            "The dead-letter queue of a standard topic subscription must be a standard queue"
                .into(),
        ),
        _ => Ok(()),
    }
}

/// The dead-letter queue ARN of a subscription's `RedrivePolicy`.
pub(crate) fn redrive_target(attrs: &BTreeMap<String, String>) -> Option<String> {
    let v: serde_json::Value = serde_json::from_str(attrs.get("RedrivePolicy")?).ok()?;
    Some(v.get("deadLetterTargetArn")?.as_str()?.to_string())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn filter_policy_errors_use_aws_wording() {
        let mut a = BTreeMap::new();
        let e = apply_attributes(
            &mut a,
            &[("FilterPolicy", "{")],
            Protocol::Sqs,
            false,
            Origin::SetAttributes,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: FilterPolicy: failed to parse JSON."
        );
        let e = apply_attributes(
            &mut a,
            &[("FilterPolicy", "{")],
            Protocol::Sqs,
            false,
            Origin::Subscribe,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Attributes Reason: FilterPolicy: failed to parse JSON."
        );
        apply_attributes(
            &mut a,
            &[
                ("FilterPolicy", r#"{"a":{"b":["x"]}}"#),
                ("FilterPolicyScope", "MessageBody"),
            ],
            Protocol::Sqs,
            false,
            Origin::Subscribe,
        )
        .unwrap();
        // Switching back to the attributes scope would make the nested policy invalid.
        assert!(
            apply_attributes(
                &mut a,
                &[("FilterPolicyScope", "MessageAttributes")],
                Protocol::Sqs,
                false,
                Origin::SetAttributes
            )
            .is_err()
        );
        assert_eq!(a["FilterPolicyScope"], "MessageBody");
    }

    #[test]
    fn raw_delivery_and_redrive() {
        let mut a = BTreeMap::new();
        let e = apply_attributes(
            &mut a,
            &[("RawMessageDelivery", "true")],
            Protocol::Lambda,
            false,
            Origin::SetAttributes,
        )
        .unwrap_err();
        assert_eq!(
            e.message,
            "Invalid parameter: Delivery protocol [lambda] does not support raw message delivery."
        );
        apply_attributes(
            &mut a,
            &[("RawMessageDelivery", "True")],
            Protocol::Sqs,
            false,
            Origin::SetAttributes,
        )
        .unwrap();
        assert_eq!(a["RawMessageDelivery"], "true");
        assert!(
            apply_attributes(
                &mut a,
                &[(
                    "RedrivePolicy",
                    r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:d.fifo"}"#
                )],
                Protocol::Sqs,
                false,
                Origin::SetAttributes
            )
            .is_err()
        );
        apply_attributes(
            &mut a,
            &[(
                "RedrivePolicy",
                r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:123456789012:d"}"#,
            )],
            Protocol::Sqs,
            false,
            Origin::SetAttributes,
        )
        .unwrap();
        assert_eq!(
            redrive_target(&a).unwrap(),
            "arn:aws:sqs:us-east-1:123456789012:d"
        );
        assert!(
            apply_attributes(
                &mut a,
                &[("Bogus", "1")],
                Protocol::Sqs,
                false,
                Origin::SetAttributes
            )
            .is_err()
        );
    }
}
