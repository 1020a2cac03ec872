//! Topic operations: CreateTopic, DeleteTopic, Get/SetTopicAttributes,
//! ListTopics, Add/RemovePermission, tags and data protection policies.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::Value;
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::arn;
use crate::errors::{invalid, resource_not_found};
use crate::generated::*;
use crate::pagination;
use crate::persist::{T_DEDUP, T_SUBS, T_TOPICS};
use crate::service::SnsService;
use crate::topic::{Topic, check_attribute};

/// Tags per topic.
const MAX_TAGS: usize = 50;

/// The value an unset attribute is reported with, for CreateTopic's
/// "same attributes" comparison.
fn default_of(name: &str) -> &'static str {
    match name {
        "ContentBasedDeduplication" => "false",
        "SignatureVersion" => "1",
        "FifoThroughputScope" => "Topic",
        "TracingConfig" => "PassThrough",
        _ => "",
    }
}

/// Attribute values compare as JSON when they are JSON documents.
fn same_value(a: &str, b: &str) -> bool {
    if a == b {
        return true;
    }
    match (
        serde_json::from_str::<Value>(a),
        serde_json::from_str::<Value>(b),
    ) {
        (Ok(x @ Value::Object(_)), Ok(y @ Value::Object(_))) => x == y,
        _ => false,
    }
}

fn check_tags(tags: &[Tag]) -> Result<(), AwsError> {
    for t in tags {
        if t.key.is_empty() || t.key.len() > 128 || t.value.len() > 256 {
            return Err(invalid("Tags"));
        }
        if t.key.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid("Tags Reason: Tag keys must not start with 'aws:'"));
        }
    }
    Ok(())
}

fn check_data_protection(policy: &str) -> Result<(), AwsError> {
    match serde_json::from_str::<Value>(policy) {
        Ok(Value::Object(_)) => Ok(()),
        _ => Err(invalid(
            "DataProtectionPolicy Reason: Policy is not valid JSON",
        )),
    }
}

impl SnsService {
    pub(crate) async fn op_create_topic(
        &self,
        ctx: &RequestContext,
        input: CreateTopicInput,
    ) -> Result<CreateTopicResponse, AwsError> {
        let attrs = input.attributes.unwrap_or_default();
        let fifo_attr = attrs
            .get("FifoTopic")
            .is_some_and(|v| v.eq_ignore_ascii_case("true"));
        let name = input.name;
        if fifo_attr && !name.ends_with(".fifo") {
            return Err(invalid(
                "Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
            ));
        }
        if !arn::valid_topic_name(&name) || (name.ends_with(".fifo") && !fifo_attr) {
            return Err(invalid("Topic Name"));
        }
        let fifo = fifo_attr;
        let mut stored = BTreeMap::new();
        for (k, v) in &attrs {
            if let Some(v) = check_attribute(fifo, k, v, true)? {
                stored.insert(k.clone(), v);
            }
        }
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        if tags.len() > MAX_TAGS {
            return Err(tag_limit());
        }
        if let Some(p) = &input.data_protection_policy {
            check_data_protection(p)?;
        }
        let topic_arn = arn::topic_arn(&ctx.region, &ctx.account_id, &name);
        let write = {
            let mut state = self.state.write();
            if let Some(existing) = state.topics.get(&topic_arn) {
                let st = existing.state.lock();
                let differs = stored.iter().any(|(k, v)| {
                    !same_value(st.attrs.get(k).map_or(default_of(k), String::as_str), v)
                });
                if differs {
                    return Err(invalid(
                        "Attributes Reason: Topic already exists with different attributes",
                    ));
                }
                let tag_map: BTreeMap<String, String> = tags
                    .iter()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect();
                if !tags.is_empty() && tag_map != st.tags {
                    return Err(invalid(
                        "Tags Reason: Topic already exists with different tags",
                    ));
                }
                return Ok(CreateTopicResponse {
                    topic_arn: Some(topic_arn),
                });
            }
            let now = crate::clock::now_millis();
            stored
                .entry("Policy".into())
                .or_insert_with(|| crate::policy::default_policy(&topic_arn, &ctx.account_id));
            let archived = stored.contains_key("ArchivePolicy");
            let topic = Topic::new(&ctx.account_id, &ctx.region, &name, stored, now);
            let write = {
                let mut st = topic.state.lock();
                st.tags = tags.into_iter().map(|t| (t.key, t.value)).collect();
                st.data_protection = input.data_protection_policy;
                if archived {
                    st.archive_start = Some(now);
                }
                topic.record_write(&st)
            };
            state.topics.insert(topic_arn.clone(), Arc::new(topic));
            write
        };
        self.persist(vec![write]).await?;
        self.warm_keys();
        Ok(CreateTopicResponse {
            topic_arn: Some(topic_arn),
        })
    }

    pub(crate) async fn op_delete_topic(
        &self,
        ctx: &RequestContext,
        input: DeleteTopicInput,
    ) -> Result<(), AwsError> {
        arn::parse_topic(&input.topic_arn).ok_or_else(|| invalid("TopicArn"))?;
        // Deleting a topic that does not exist is not an error.
        let Some(topic) = self.state.read().topics.get(&input.topic_arn).cloned() else {
            return Ok(());
        };
        self.authorize(ctx, &topic, "DeleteTopic")?;
        let mut writes = vec![Write::Delete {
            table: T_TOPICS,
            key: topic.key.as_bytes().to_vec(),
        }];
        {
            let mut state = self.state.write();
            state.topics.remove(&topic.arn);
            let mut st = topic.state.lock();
            st.deleted = true;
            for (arn, sub) in std::mem::take(&mut st.subs) {
                state.subs.remove(&arn);
                let mut ss = sub.state.lock();
                ss.deleted = true;
                if let Some(token) = &ss.token {
                    state.tokens.remove(token);
                }
                writes.push(Write::Delete {
                    table: T_SUBS,
                    key: sub.key.as_bytes().to_vec(),
                });
            }
            topic.rebuild_fanout(&st);
        }
        let mut prefix = topic.key.as_bytes().to_vec();
        prefix.push(b'/');
        writes.push(Write::DeletePrefix {
            table: T_DEDUP,
            prefix,
        });
        self.persist(writes).await
    }

    pub(crate) async fn op_get_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: GetTopicAttributesInput,
    ) -> Result<GetTopicAttributesResponse, AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "GetTopicAttributes")?;
        let st = topic.state.lock();
        Ok(GetTopicAttributesResponse {
            attributes: Some(topic.attributes(&st, crate::clock::now_millis())),
        })
    }

    pub(crate) async fn op_set_topic_attributes(
        &self,
        ctx: &RequestContext,
        input: SetTopicAttributesInput,
    ) -> Result<(), AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "SetTopicAttributes")?;
        let name = input.attribute_name;
        let value = input.attribute_value.unwrap_or_default();
        let checked = check_attribute(topic.fifo, &name, &value, false)?;
        let write = {
            let mut st = topic.state.lock();
            match checked {
                Some(v) => {
                    st.attrs.insert(name.clone(), v);
                }
                None => {
                    st.attrs.remove(&name);
                }
            }
            match name.as_str() {
                "DeliveryPolicy" => {
                    st.delivery = st
                        .attrs
                        .get("DeliveryPolicy")
                        .and_then(|p| crate::delivery_policy::parse_topic_policy(p).ok());
                    topic.rebuild_fanout(&st);
                }
                "ArchivePolicy" => {
                    st.archive_start = if st.attrs.contains_key("ArchivePolicy") {
                        st.archive_start.or(Some(crate::clock::now_millis()))
                    } else {
                        None
                    };
                }
                _ => {}
            }
            topic.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_list_topics(
        &self,
        ctx: &RequestContext,
        input: ListTopicsInput,
    ) -> Result<ListTopicsResponse, AwsError> {
        let after = pagination::decode(input.next_token.as_deref())?;
        let mut arns: Vec<(String, Topic_)> = self
            .state
            .read()
            .topics
            .values()
            .filter(|t| t.account == ctx.account_id && t.region == ctx.region)
            .map(|t| {
                (
                    t.arn.clone(),
                    Topic_ {
                        topic_arn: Some(t.arn.clone()),
                    },
                )
            })
            .collect();
        arns.sort_by(|a, b| a.0.cmp(&b.0));
        let (topics, next_token) = pagination::page(arns, after.as_deref(), pagination::PAGE);
        Ok(ListTopicsResponse {
            topics: Some(topics),
            next_token,
        })
    }

    pub(crate) async fn op_add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionInput,
    ) -> Result<(), AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "AddPermission")?;
        if input.aws_account_id.is_empty() {
            return Err(invalid("AWSAccountId"));
        }
        if input.action_name.is_empty() {
            return Err(invalid("ActionName"));
        }
        let mut actions = Vec::new();
        for a in &input.action_name {
            let name = crate::policy::action_name(a)
                .ok_or_else(|| invalid("Policy statement action out of service scope!"))?;
            actions.push(name);
        }
        let write = {
            let mut st = topic.state.lock();
            let current = st.attrs.get("Policy").cloned().unwrap_or_default();
            let next = crate::policy::add_statement(
                &current,
                &topic.arn,
                &input.label,
                &input.aws_account_id,
                &actions,
            )
            .map_err(invalid)?;
            st.attrs.insert("Policy".into(), next);
            topic.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionInput,
    ) -> Result<(), AwsError> {
        let topic = self.topic_for(ctx, &input.topic_arn, "RemovePermission")?;
        let write = {
            let mut st = topic.state.lock();
            let current = st.attrs.get("Policy").cloned().unwrap_or_default();
            match crate::policy::remove_statement(&current, &input.label) {
                Some(next) => {
                    st.attrs.insert("Policy".into(), next);
                    Some(topic.record_write(&st))
                }
                // Removing a label that is not there changes nothing.
                None => None,
            }
        };
        self.persist(write.into_iter().collect()).await
    }

    /// The topic a tagging or data-protection call names.
    fn tagged_topic(
        &self,
        ctx: &RequestContext,
        resource_arn: &str,
        action: &str,
    ) -> Result<Arc<Topic>, AwsError> {
        let (region, _, _) =
            arn::parse_topic(resource_arn).ok_or_else(|| invalid("ResourceArn"))?;
        if region != ctx.region {
            return Err(resource_not_found());
        }
        let topic = self
            .state
            .read()
            .topics
            .get(resource_arn)
            .cloned()
            .ok_or_else(resource_not_found)?;
        self.authorize(ctx, &topic, action)?;
        Ok(topic)
    }

    pub(crate) async fn op_tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, AwsError> {
        check_tags(&input.tags)?;
        let topic = self.tagged_topic(ctx, &input.resource_arn, "TagResource")?;
        let write = {
            let mut st = topic.state.lock();
            let mut next = st.tags.clone();
            for t in input.tags {
                next.insert(t.key, t.value);
            }
            if next.len() > MAX_TAGS {
                return Err(tag_limit());
            }
            st.tags = next;
            topic.record_write(&st)
        };
        self.persist(vec![write]).await?;
        Ok(TagResourceResponse {})
    }

    pub(crate) async fn op_untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, AwsError> {
        let topic = self.tagged_topic(ctx, &input.resource_arn, "UntagResource")?;
        let write = {
            let mut st = topic.state.lock();
            for k in &input.tag_keys {
                st.tags.remove(k);
            }
            topic.record_write(&st)
        };
        self.persist(vec![write]).await?;
        Ok(UntagResourceResponse {})
    }

    pub(crate) async fn op_list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        let topic = self.tagged_topic(ctx, &input.resource_arn, "ListTagsForResource")?;
        let st = topic.state.lock();
        Ok(ListTagsForResourceResponse {
            tags: Some(
                st.tags
                    .iter()
                    .map(|(k, v)| Tag {
                        key: k.clone(),
                        value: v.clone(),
                    })
                    .collect(),
            ),
        })
    }

    pub(crate) async fn op_put_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: PutDataProtectionPolicyInput,
    ) -> Result<(), AwsError> {
        let topic = self.topic_for(ctx, &input.resource_arn, "PutDataProtectionPolicy")?;
        check_data_protection(&input.data_protection_policy)?;
        let write = {
            let mut st = topic.state.lock();
            st.data_protection = Some(input.data_protection_policy);
            topic.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_get_data_protection_policy(
        &self,
        ctx: &RequestContext,
        input: GetDataProtectionPolicyInput,
    ) -> Result<GetDataProtectionPolicyResponse, AwsError> {
        let topic = self.topic_for(ctx, &input.resource_arn, "GetDataProtectionPolicy")?;
        let st = topic.state.lock();
        Ok(GetDataProtectionPolicyResponse {
            data_protection_policy: st.data_protection.clone(),
        })
    }
}

fn tag_limit() -> AwsError {
    AwsError::new(
        "TagLimitExceededException",
        "Could not complete request: tag quota of per resource exceeded",
    )
}

// The generated shape `Topic` shares its name with the service's own type.
use crate::generated::Topic as Topic_;
