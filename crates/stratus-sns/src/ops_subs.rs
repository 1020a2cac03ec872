//! Subscription operations: Subscribe, ConfirmSubscription, Unsubscribe,
//! Get/SetSubscriptionAttributes, ListSubscriptions(ByTopic).

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use rand::RngCore;
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::arn;
use crate::errors::{invalid, subscription_not_found, topic_not_found};
use crate::generated::*;
use crate::message::ConfirmationKind;
use crate::pagination;
use crate::persist::{self, T_SUBS};
use crate::service::SnsService;
use crate::subscription::{self, Origin, Protocol, SubState, Subscription};

/// What Subscribe answers for a subscription awaiting confirmation.
const PENDING: &str = "pending confirmation";
/// What the List operations show instead of a pending subscription's ARN.
const PENDING_LISTED: &str = "PendingConfirmation";

/// A confirmation token: 128 random bytes, hex-encoded (AWS's are as long).
fn new_token() -> String {
    let mut b = [0u8; 128];
    rand::rng().fill_bytes(&mut b);
    hex::encode(b)
}

fn valid_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !s.contains(char::is_whitespace)
        }
        None => false,
    }
}

fn valid_phone(s: &str) -> bool {
    let digits = s.strip_prefix('+').unwrap_or(s);
    (7..=15).contains(&digits.len()) && digits.bytes().all(|b| b.is_ascii_digit())
}

impl SnsService {
    /// Check a subscription endpoint for its protocol.
    fn check_endpoint(
        &self,
        protocol: Protocol,
        endpoint: &str,
        topic_fifo: bool,
    ) -> Result<(), AwsError> {
        if topic_fifo && protocol != Protocol::Sqs {
            return Err(invalid(format!(
                "Invalid protocol type: {}",
                protocol.as_str()
            )));
        }
        match protocol {
            Protocol::Http if !endpoint.starts_with("http://") => {
                Err(invalid("Endpoint must match the specified protocol"))
            }
            Protocol::Https if !endpoint.starts_with("https://") => {
                Err(invalid("Endpoint must match the specified protocol"))
            }
            Protocol::Email | Protocol::EmailJson if !valid_email(endpoint) => {
                Err(invalid("Email address"))
            }
            Protocol::Sms if !valid_phone(endpoint) => {
                Err(invalid(format!("Invalid SMS endpoint: {endpoint}")))
            }
            Protocol::Sqs => {
                let (_, _, name) =
                    arn::parse_queue(endpoint).ok_or_else(|| invalid("SQS endpoint ARN"))?;
                if !topic_fifo && name.ends_with(".fifo") {
                    return Err(invalid(
                        "Invalid parameter: Endpoint Reason: FIFO SQS Queues can not be subscribed to standard SNS topics",
                    ));
                }
                Ok(())
            }
            Protocol::Lambda if arn::parse_function(endpoint).is_none() => {
                Err(invalid("Lambda endpoint ARN"))
            }
            Protocol::Firehose if !endpoint.starts_with("arn:aws:firehose:") => {
                Err(invalid("Firehose endpoint ARN"))
            }
            Protocol::Application => {
                let known = self
                    .state
                    .read()
                    .platform
                    .get(endpoint)
                    .is_some_and(|p| p.is_endpoint());
                if known {
                    Ok(())
                } else {
                    Err(invalid(format!(
                        "Application endpoint arn invalid:{endpoint}"
                    )))
                }
            }
            _ => Ok(()),
        }
    }

    pub(crate) async fn op_subscribe(
        &self,
        ctx: &RequestContext,
        input: SubscribeInput,
    ) -> Result<SubscribeResponse, AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "Subscribe")?;
        let protocol = Protocol::parse(&input.protocol).ok_or_else(|| {
            invalid(format!(
                "Amazon SNS does not support this protocol string: {}",
                input.protocol
            ))
        })?;
        let endpoint = input.endpoint.unwrap_or_default();
        if endpoint.is_empty() {
            return Err(invalid("Endpoint"));
        }
        self.check_endpoint(protocol, &endpoint, topic.fifo)?;
        let requested = input.attributes.unwrap_or_default();
        let mut attrs = BTreeMap::new();
        let changes: Vec<(&str, &str)> = requested
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        subscription::apply_attributes(
            &mut attrs,
            &changes,
            protocol,
            topic.fifo,
            Origin::Subscribe,
        )?;
        if protocol == Protocol::Firehose && !attrs.contains_key("SubscriptionRoleArn") {
            return Err(invalid(
                "Invalid parameter: SubscriptionRoleArn Reason: Firehose subscriptions require a SubscriptionRoleArn",
            ));
        }
        let return_arn = input.return_subscription_arn.unwrap_or(false);
        // Subscribe is idempotent per (protocol, endpoint).
        let existing = {
            let st = topic.state.lock();
            st.subs
                .values()
                .find(|s| s.protocol == protocol && s.endpoint == endpoint)
                .cloned()
        };
        if let Some(sub) = existing {
            let pending = {
                let ss = sub.state.lock();
                let differs = attrs.iter().any(|(k, v)| ss.attrs.get(k) != Some(v));
                if differs {
                    return Err(invalid(
                        "Attributes Reason: Subscription already exists with different attributes",
                    ));
                }
                ss.pending
            };
            if pending {
                // AWS sends the confirmation again.
                self.spawn_confirmation(ctx, &sub, ConfirmationKind::Subscribe);
            }
            return Ok(SubscribeResponse {
                subscription_arn: Some(if pending && !return_arn {
                    PENDING.into()
                } else {
                    sub.arn.clone()
                }),
            });
        }
        let pending = match protocol {
            Protocol::Http | Protocol::Https | Protocol::Email | Protocol::EmailJson => true,
            // The queue's owner must confirm a subscription another account made.
            Protocol::Sqs => {
                arn::parse_queue(&endpoint).is_some_and(|(_, acct, _)| acct != ctx.account_id)
            }
            _ => false,
        };
        let sub_arn = format!("{}:{}", topic.arn, uuid::Uuid::new_v4());
        let token = pending.then(new_token);
        let (filter, delivery) = subscription::compile(&attrs);
        let sub = Arc::new(Subscription {
            key: persist::scoped_key(&topic.account, &topic.region, &sub_arn),
            arn: sub_arn.clone(),
            topic_arn: topic.arn.clone(),
            owner: ctx.account_id.clone(),
            protocol,
            endpoint,
            created: crate::clock::now_millis(),
            state: Mutex::new(SubState {
                attrs,
                pending,
                token: token.clone(),
                authenticated: !pending,
                auth_on_unsubscribe: false,
                deleted: false,
                filter,
                delivery,
            }),
        });
        let write = sub.record_write(&sub.state.lock());
        {
            let mut state = self.state.write();
            let mut st = topic.state.lock();
            if st.deleted {
                return Err(topic_not_found());
            }
            st.subs.insert(sub_arn.clone(), sub.clone());
            if !pending {
                topic.rebuild_fanout(&st);
            }
            state.subs.insert(sub_arn.clone(), sub.clone());
            if let Some(token) = token {
                state.tokens.insert(token, sub_arn.clone());
            }
        }
        self.persist(vec![write]).await?;
        if pending {
            self.spawn_confirmation(ctx, &sub, ConfirmationKind::Subscribe);
        }
        Ok(SubscribeResponse {
            subscription_arn: Some(if pending && !return_arn {
                PENDING.into()
            } else {
                sub_arn
            }),
        })
    }

    pub(crate) async fn op_confirm_subscription(
        &self,
        ctx: &RequestContext,
        input: ConfirmSubscriptionInput,
    ) -> Result<ConfirmSubscriptionResponse, AwsError> {
        // The token is the credential: confirmation links are opened without
        // AWS credentials, so the topic is found by its ARN alone.
        arn::parse_topic(&input.topic_arn).ok_or_else(|| invalid("TopicArn"))?;
        let (topic, sub) = {
            let state = self.state.read();
            let topic = state
                .topics
                .get(&input.topic_arn)
                .cloned()
                .ok_or_else(topic_not_found)?;
            let sub = state
                .tokens
                .get(&input.token)
                .and_then(|arn| state.subs.get(arn))
                .filter(|s| s.topic_arn == topic.arn)
                .cloned()
                .ok_or_else(|| invalid("Token"))?;
            (topic, sub)
        };
        let write = {
            let st = topic.state.lock();
            let mut ss = sub.state.lock();
            if ss.deleted {
                return Err(invalid("Token"));
            }
            let changed = ss.pending;
            if changed {
                // ConfirmationWasAuthenticated: the confirming request was signed.
                ss.authenticated = !ctx.access_key.is_empty();
            }
            ss.pending = false;
            if input
                .authenticate_on_unsubscribe
                .as_deref()
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
            {
                ss.auth_on_unsubscribe = true;
            }
            let w = sub.record_write(&ss);
            drop(ss);
            if changed {
                topic.rebuild_fanout(&st);
            }
            w
        };
        self.persist(vec![write]).await?;
        Ok(ConfirmSubscriptionResponse {
            subscription_arn: Some(sub.arn.clone()),
        })
    }

    pub(crate) async fn op_unsubscribe(
        &self,
        ctx: &RequestContext,
        input: UnsubscribeInput,
    ) -> Result<(), AwsError> {
        let sub = self.subscription(&input.subscription_arn)?;
        // Unsubscribe links are opened without credentials (unless the
        // subscription was confirmed with AuthenticateOnUnsubscribe).
        let anonymous = ctx.access_key.is_empty() && !sub.state.lock().auth_on_unsubscribe;
        if !anonymous {
            self.authorize_subscription(ctx, &sub, "Unsubscribe")?;
        }
        let confirmed_http = sub.protocol.is_http() && !sub.state.lock().pending;
        self.remove_subscription(&sub).await?;
        if confirmed_http {
            self.spawn_confirmation(ctx, &sub, ConfirmationKind::Unsubscribe);
        }
        Ok(())
    }

    async fn remove_subscription(&self, sub: &Arc<Subscription>) -> Result<(), AwsError> {
        {
            let mut state = self.state.write();
            state.subs.remove(&sub.arn);
            let topic = state.topics.get(&sub.topic_arn).cloned();
            let mut ss = sub.state.lock();
            ss.deleted = true;
            if let Some(token) = &ss.token {
                state.tokens.remove(token);
            }
            drop(ss);
            if let Some(topic) = topic {
                let mut st = topic.state.lock();
                st.subs.remove(&sub.arn);
                topic.rebuild_fanout(&st);
            }
        }
        self.persist(vec![Write::Delete {
            table: T_SUBS,
            key: sub.key.as_bytes().to_vec(),
        }])
        .await
    }

    pub(crate) async fn op_get_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: GetSubscriptionAttributesInput,
    ) -> Result<GetSubscriptionAttributesResponse, AwsError> {
        let sub = self.subscription(&input.subscription_arn)?;
        self.authorize_subscription(ctx, &sub, "GetSubscriptionAttributes")?;
        let topic = self.topic_of(&sub).ok_or_else(subscription_not_found)?;
        let delivery = topic.state.lock().delivery.clone();
        let ss = sub.state.lock();
        Ok(GetSubscriptionAttributesResponse {
            attributes: Some(sub.attributes(&ss, delivery.as_ref())),
        })
    }

    pub(crate) async fn op_set_subscription_attributes(
        &self,
        ctx: &RequestContext,
        input: SetSubscriptionAttributesInput,
    ) -> Result<(), AwsError> {
        let sub = self.subscription(&input.subscription_arn)?;
        self.authorize_subscription(ctx, &sub, "SetSubscriptionAttributes")?;
        let topic = self.topic_of(&sub).ok_or_else(subscription_not_found)?;
        let value = input.attribute_value.unwrap_or_default();
        let write = {
            let st = topic.state.lock();
            let mut ss = sub.state.lock();
            let mut attrs = ss.attrs.clone();
            subscription::apply_attributes(
                &mut attrs,
                &[(input.attribute_name.as_str(), value.as_str())],
                sub.protocol,
                topic.fifo,
                Origin::SetAttributes,
            )?;
            let (filter, delivery) = subscription::compile(&attrs);
            ss.attrs = attrs;
            ss.filter = filter;
            ss.delivery = delivery;
            let w = sub.record_write(&ss);
            drop(ss);
            topic.rebuild_fanout(&st);
            w
        };
        self.persist(vec![write]).await
    }

    fn listed(sub: &Subscription) -> crate::generated::Subscription {
        crate::generated::Subscription {
            subscription_arn: Some(if sub.state.lock().pending {
                PENDING_LISTED.into()
            } else {
                sub.arn.clone()
            }),
            owner: Some(sub.owner.clone()),
            protocol: Some(sub.protocol.as_str().into()),
            endpoint: Some(sub.endpoint.clone()),
            topic_arn: Some(sub.topic_arn.clone()),
        }
    }

    pub(crate) async fn op_list_subscriptions(
        &self,
        ctx: &RequestContext,
        input: ListSubscriptionsInput,
    ) -> Result<ListSubscriptionsResponse, AwsError> {
        let after = pagination::decode(input.next_token.as_deref())?;
        let mut subs: Vec<(String, crate::generated::Subscription)> = {
            let state = self.state.read();
            state
                .subs
                .values()
                .filter(|s| {
                    let topic = state.topics.get(&s.topic_arn);
                    topic.is_some_and(|t| {
                        t.region == ctx.region
                            && (t.account == ctx.account_id || s.owner == ctx.account_id)
                    })
                })
                .map(|s| (s.arn.clone(), Self::listed(s)))
                .collect()
        };
        subs.sort_by(|a, b| a.0.cmp(&b.0));
        let (subscriptions, next_token) =
            pagination::page(subs, after.as_deref(), pagination::PAGE);
        Ok(ListSubscriptionsResponse {
            subscriptions: Some(subscriptions),
            next_token,
        })
    }

    pub(crate) async fn op_list_subscriptions_by_topic(
        &self,
        ctx: &RequestContext,
        input: ListSubscriptionsByTopicInput,
    ) -> Result<ListSubscriptionsByTopicResponse, AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "ListSubscriptionsByTopic")?;
        let after = pagination::decode(input.next_token.as_deref())?;
        let subs: Vec<(String, crate::generated::Subscription)> = topic
            .state
            .lock()
            .subs
            .values()
            .map(|s| (s.arn.clone(), Self::listed(s)))
            .collect();
        let (subscriptions, next_token) =
            pagination::page(subs, after.as_deref(), pagination::PAGE);
        Ok(ListSubscriptionsByTopicResponse {
            subscriptions: Some(subscriptions),
            next_token,
        })
    }
}
