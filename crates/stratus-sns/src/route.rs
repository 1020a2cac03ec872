//! A route: one confirmed subscription compiled for delivery (parsed target,
//! filter policy, raw flag, dead-letter queue and HTTP policy), so a publish
//! does no parsing per subscriber.

use std::time::{Duration, Instant};

use parking_lot::Mutex;
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

/// `throttlePolicy.maxReceivesPerSecond`: HTTP/S deliveries of one
/// subscription are spaced at least `interval` apart.
pub(crate) struct Throttle {
    interval: Duration,
    next: Mutex<Instant>,
}

impl Throttle {
    fn new(per_second: u64) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1) as u32,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Wait for this delivery's slot.
    pub(crate) async fn wait(&self) {
        let slot = {
            let mut next = self.next.lock();
            let slot = (*next).max(Instant::now());
            *next = slot + self.interval;
            slot
        };
        tokio::time::sleep_until(slot.into()).await;
    }
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
    pub throttle: Option<Throttle>,
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
        let policy = delivery_policy::effective(topic_policy, st.delivery.as_ref());
        let throttle = if sub.protocol.is_http() {
            policy.max_receives_per_second.map(Throttle::new)
        } else {
            None
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
            policy,
            throttle,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn throttle_spaces_deliveries() {
        let t = Throttle::new(4);
        let start = tokio::time::Instant::now();
        for _ in 0..5 {
            t.wait().await;
        }
        // The first goes at once, the next four 250 ms apart.
        assert!(start.elapsed() >= Duration::from_millis(1000));
        assert!(start.elapsed() < Duration::from_millis(1100));
    }
}
