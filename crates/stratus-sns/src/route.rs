//! A route: one confirmed subscription compiled for delivery (parsed target,
//! filter policy, raw flag, dead-letter queue and HTTP policy), so a publish
//! does no parsing per subscriber.

use stratus_patterns::FilterPolicy;

use crate::delivery_policy::{self, EffectivePolicy, TopicPolicy};
use crate::subscription::{Protocol, Subscription};

/// An SQS queue named by ARN.
#[derive(Debug, Clone)]
pub(crate) struct QueueRef {
    pub arn: String,
    pub account: String,
    pub region: String,
    pub fifo: bool,
    /// A queue URL SQS resolves (it reads the account and name from the path).
    pub url: String,
}

impl QueueRef {
    pub(crate) fn parse(arn: &str) -> Option<Self> {
        let (region, account, name) = crate::arn::parse_queue(arn)?;
        Some(Self {
            arn: arn.to_string(),
            account: account.to_string(),
            region: region.to_string(),
            fifo: name.ends_with(".fifo"),
            url: crate::arn::queue_url(&format!("http://sqs.{region}.localhost"), account, name),
        })
    }
}

#[derive(Debug, Clone)]
pub(crate) enum Target {
    Sqs(QueueRef),
    Lambda {
        function: String,
        account: String,
        region: String,
    },
    Http {
        url: String,
    },
    Email {
        json: bool,
    },
    Sms,
    Application,
    Firehose,
}

pub(crate) struct Route {
    pub sub_arn: String,
    pub protocol: Protocol,
    pub endpoint: String,
    pub raw: bool,
    pub filter: Option<FilterPolicy>,
    pub target: Target,
    pub dlq: Option<QueueRef>,
    pub policy: EffectivePolicy,
}

impl Route {
    /// The route of `sub`, or `None` while it is pending (or gone).
    pub(crate) fn build(topic_policy: Option<&TopicPolicy>, sub: &Subscription) -> Option<Self> {
        let st = sub.state.lock();
        if st.pending || st.deleted {
            return None;
        }
        let target = match sub.protocol {
            Protocol::Sqs => Target::Sqs(QueueRef::parse(&sub.endpoint)?),
            Protocol::Lambda => {
                let (region, account) = crate::arn::parse_function(&sub.endpoint)?;
                Target::Lambda {
                    function: sub.endpoint.clone(),
                    account: account.to_string(),
                    region: region.to_string(),
                }
            }
            Protocol::Http | Protocol::Https => Target::Http {
                url: sub.endpoint.clone(),
            },
            Protocol::Email => Target::Email { json: false },
            Protocol::EmailJson => Target::Email { json: true },
            Protocol::Sms => Target::Sms,
            Protocol::Application => Target::Application,
            Protocol::Firehose => Target::Firehose,
        };
        Some(Self {
            sub_arn: sub.arn.clone(),
            protocol: sub.protocol,
            endpoint: sub.endpoint.clone(),
            raw: st
                .attrs
                .get("RawMessageDelivery")
                .is_some_and(|v| v == "true"),
            filter: st.filter.clone(),
            target,
            dlq: crate::subscription::redrive_target(&st.attrs).and_then(|a| QueueRef::parse(&a)),
            policy: delivery_policy::effective(topic_policy, st.delivery.as_ref()),
        })
    }
}
