//! Event buses, their resource policies (PutPermission/RemovePermission) and
//! tagging of buses and rules.

use std::collections::HashMap;

use serde_json::{Value, json};
use stratus_core::{AwsError, RequestContext};

use crate::generated::*;
use crate::persist::{BusRec, T_BUSES, T_RULES};
use crate::policy;
use crate::service::EventsService;
use crate::state::{Bus, key3};
use crate::util::*;

const POLICY_LIMIT: usize = 10_240;

fn event_bus_out(b: &Bus) -> EventBus {
    EventBus {
        name: Some(b.rec.name.clone()),
        arn: Some(b.arn()),
        description: b.rec.description.clone(),
        policy: b.rec.policy.clone(),
        creation_time: Some(secs(b.rec.created)),
        last_modified_time: Some(secs(b.rec.modified)),
        managed_by: None,
    }
}

fn tags_vec(tags: &std::collections::BTreeMap<String, String>) -> Vec<Tag> {
    tags.iter()
        .map(|(k, v)| Tag {
            key: k.clone(),
            value: v.clone(),
        })
        .collect()
}

impl EventsService {
    pub(crate) async fn op_create_event_bus(
        &self,
        ctx: &RequestContext,
        input: CreateEventBusRequest,
    ) -> Result<CreateEventBusResponse, AwsError> {
        let name = input.name.clone();
        if name == DEFAULT_BUS {
            return Err(already_exists(format!("Event bus {name} already exists.")));
        }
        if name.contains('/') {
            return Err(validation(format!("Event bus name {name} is not valid.")));
        }
        if name.starts_with("aws.") && input.event_source_name.is_none() {
            return Err(validation("Event bus name must not start with 'aws.'."));
        }
        let key = key3(&ctx.account_id, &ctx.region, &name);
        let now = now_ms();
        let (arn, writes) = {
            let mut st = self.state.write();
            if st.buses.contains_key(&key) {
                return Err(already_exists(format!("Event bus {name} already exists.")));
            }
            let rec = BusRec {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: name.clone(),
                description: input.description.clone(),
                kms: input.kms_key_identifier.clone(),
                dead_letter: input.dead_letter_config.clone(),
                log_config: input.log_config.clone(),
                policy: None,
                event_source_name: input.event_source_name.clone(),
                created: now,
                modified: now,
                tags: input
                    .tags
                    .iter()
                    .flatten()
                    .map(|t| (t.key.clone(), t.value.clone()))
                    .collect(),
            };
            let bus = Bus::new(rec);
            let arn = bus.arn();
            let w = if self.durable {
                vec![Self::bus_write(&bus)]
            } else {
                Vec::new()
            };
            st.buses.insert(key, bus);
            (arn, w)
        };
        self.persist(writes).await?;
        Ok(CreateEventBusResponse {
            event_bus_arn: Some(arn),
            description: input.description,
            kms_key_identifier: input.kms_key_identifier,
            dead_letter_config: input.dead_letter_config,
            log_config: input.log_config,
        })
    }

    pub(crate) async fn op_update_event_bus(
        &self,
        ctx: &RequestContext,
        input: UpdateEventBusRequest,
    ) -> Result<UpdateEventBusResponse, AwsError> {
        let b = resolve_bus(ctx, input.name.as_deref())?;
        if b.account != ctx.account_id {
            return Err(AwsError::new(
                "AccessDeniedException",
                "You can only update event buses of your own account.",
            ));
        }
        let (out, writes) = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            if input.description.is_some() {
                bus.rec.description = input.description.clone();
            }
            if input.kms_key_identifier.is_some() {
                bus.rec.kms = input.kms_key_identifier.clone().filter(|k| !k.is_empty());
            }
            if input.dead_letter_config.is_some() {
                bus.rec.dead_letter = input.dead_letter_config.clone();
            }
            if input.log_config.is_some() {
                bus.rec.log_config = input.log_config.clone();
            }
            bus.rec.modified = now_ms();
            let out = UpdateEventBusResponse {
                arn: Some(bus.arn()),
                name: Some(bus.rec.name.clone()),
                kms_key_identifier: bus.rec.kms.clone(),
                description: bus.rec.description.clone(),
                dead_letter_config: bus.rec.dead_letter.clone(),
                log_config: bus.rec.log_config.clone(),
            };
            (
                out,
                if self.durable {
                    vec![Self::bus_write(bus)]
                } else {
                    Vec::new()
                },
            )
        };
        self.persist(writes).await?;
        Ok(out)
    }

    pub(crate) async fn op_delete_event_bus(
        &self,
        ctx: &RequestContext,
        input: DeleteEventBusRequest,
    ) -> Result<(), AwsError> {
        if input.name == DEFAULT_BUS {
            return Err(validation("Cannot delete event bus default."));
        }
        let key = key3(&ctx.account_id, &ctx.region, &input.name);
        let writes = {
            let mut st = self.state.write();
            let Some(bus) = st.buses.remove(&key) else {
                return Ok(());
            };
            let mut w = self.del_write(T_BUSES, &key);
            if self.durable {
                w.push(stratus_store::Write::DeletePrefix {
                    table: T_RULES,
                    prefix: format!("{key}/").into_bytes(),
                });
            }
            drop(bus);
            w
        };
        self.persist(writes).await
    }

    pub(crate) async fn op_describe_event_bus(
        &self,
        ctx: &RequestContext,
        input: DescribeEventBusRequest,
    ) -> Result<DescribeEventBusResponse, AwsError> {
        let b = resolve_bus(ctx, input.name.as_deref())?;
        let mut st = self.state.write();
        let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
        if b.account != ctx.account_id {
            let arn = bus.arn();
            self.authorize(
                ctx,
                &b.account,
                bus.snap.policy.as_ref(),
                "events:DescribeEventBus",
                &arn,
                HashMap::new(),
            )?;
        }
        Ok(DescribeEventBusResponse {
            name: Some(bus.rec.name.clone()),
            arn: Some(bus.arn()),
            description: bus.rec.description.clone(),
            kms_key_identifier: bus.rec.kms.clone(),
            dead_letter_config: bus.rec.dead_letter.clone(),
            policy: bus.rec.policy.clone(),
            log_config: bus.rec.log_config.clone(),
            creation_time: Some(secs(bus.rec.created)),
            last_modified_time: Some(secs(bus.rec.modified)),
            managed_by: None,
        })
    }

    pub(crate) async fn op_list_event_buses(
        &self,
        ctx: &RequestContext,
        input: ListEventBusesRequest,
    ) -> Result<ListEventBusesResponse, AwsError> {
        let items = {
            let mut st = self.state.write();
            let default = BusRef {
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name: DEFAULT_BUS.into(),
            };
            Self::bus_entry(&mut st, &default);
            let mut items: Vec<(String, EventBus)> = st
                .buses
                .values()
                .filter(|b| b.rec.account == ctx.account_id && b.rec.region == ctx.region)
                .filter(|b| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| b.rec.name.starts_with(p))
                })
                .map(|b| (b.rec.name.clone(), event_bus_out(b)))
                .collect();
            items.sort_by(|a, b| a.0.cmp(&b.0));
            items
        };
        let (buses, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListEventBusesResponse {
            event_buses: Some(buses),
            next_token,
        })
    }

    pub(crate) async fn op_put_permission(
        &self,
        ctx: &RequestContext,
        input: PutPermissionRequest,
    ) -> Result<(), AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        if b.account != ctx.account_id {
            return Err(AwsError::new(
                "AccessDeniedException",
                "You can only change the policy of your own event buses.",
            ));
        }
        let writes = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            let arn = bus.arn();
            let new_policy = if let Some(p) = &input.policy {
                let v: Value = serde_json::from_str(p).map_err(|_| {
                    validation(
                        "Parameter Policy is not valid. Reason: The policy is not valid JSON.",
                    )
                })?;
                if !v
                    .get("Statement")
                    .is_some_and(|s| s.is_array() || s.is_object())
                {
                    return Err(validation(
                        "Parameter Policy is not valid. Reason: The policy must contain a Statement.",
                    ));
                }
                v
            } else {
                let action = input.action.as_deref().ok_or_else(|| {
                    validation("Parameter(s) Action, Principal, StatementId must be specified when Policy is not provided.")
                })?;
                let principal = input.principal.as_deref().ok_or_else(|| {
                    validation("Parameter(s) Action, Principal, StatementId must be specified when Policy is not provided.")
                })?;
                let sid = input.statement_id.as_deref().ok_or_else(|| {
                    validation("Parameter(s) Action, Principal, StatementId must be specified when Policy is not provided.")
                })?;
                if action != "events:PutEvents" {
                    return Err(validation(
                        "Provided value in parameter 'action' is not supported. Supported values are: [events:PutEvents]",
                    ));
                }
                if principal != "*"
                    && !(principal.len() == 12 && principal.bytes().all(|c| c.is_ascii_digit()))
                {
                    return Err(validation(
                        "Parameter Principal is not valid. Reason: Principal must be a 12-digit account ID or *.",
                    ));
                }
                if principal == "*" && input.condition.is_none() {
                    // AWS lets "*" through only with a condition (an organization).
                    return Err(validation(
                        "Parameter Principal is not valid. Reason: A condition is required when the principal is *.",
                    ));
                }
                let cond = input
                    .condition
                    .as_ref()
                    .map(|c| (c.r#type.as_str(), c.key.as_str(), c.value.as_str()));
                let stmt = policy::statement(sid, principal, action, &arn, cond);
                let mut doc: Value = bus
                    .rec
                    .policy
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .unwrap_or_else(|| json!({"Version": "2012-10-17", "Statement": []}));
                if let Some(Value::Array(stmts)) = doc.get_mut("Statement") {
                    stmts.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
                    stmts.push(stmt);
                }
                doc
            };
            let text = new_policy.to_string();
            if text.len() > POLICY_LIMIT {
                return Err(AwsError::new(
                    "PolicyLengthExceededException",
                    "The policy is too long.",
                ));
            }
            bus.rec.policy = Some(text);
            bus.rec.modified = now_ms();
            bus.rebuild();
            if self.durable {
                vec![Self::bus_write(bus)]
            } else {
                Vec::new()
            }
        };
        self.persist(writes).await
    }

    pub(crate) async fn op_remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionRequest,
    ) -> Result<(), AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let writes = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            if input.remove_all_permissions == Some(true) {
                bus.rec.policy = None;
            } else {
                let sid = input
                    .statement_id
                    .as_deref()
                    .ok_or_else(|| validation("Parameter StatementId must be specified unless RemoveAllPermissions is true."))?;
                let mut doc: Value = bus
                    .rec
                    .policy
                    .as_deref()
                    .and_then(|p| serde_json::from_str(p).ok())
                    .ok_or_else(|| not_found("EventBus does not have a policy."))?;
                let Some(Value::Array(stmts)) = doc.get_mut("Statement") else {
                    return Err(not_found("Statement with the provided id does not exist."));
                };
                let before = stmts.len();
                stmts.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(sid));
                if stmts.len() == before {
                    return Err(not_found("Statement with the provided id does not exist."));
                }
                bus.rec.policy = if stmts.is_empty() {
                    None
                } else {
                    Some(doc.to_string())
                };
            }
            bus.rec.modified = now_ms();
            bus.rebuild();
            if self.durable {
                vec![Self::bus_write(bus)]
            } else {
                Vec::new()
            }
        };
        self.persist(writes).await
    }

    /// Tags of a bus or a rule named by ARN: `(bus ref, Some(rule) | None)`.
    fn tag_target(arn: &str) -> Result<(BusRef, Option<String>), AwsError> {
        let a = parse_arn(arn)
            .filter(|a| a.service == "events")
            .ok_or_else(|| validation("Parameter ResourceARN is not valid. Reason: Provided Arn is not in correct format."))?;
        if let Some(name) = a.resource.strip_prefix("event-bus/") {
            return Ok((
                BusRef {
                    account: a.account.into(),
                    region: a.region.into(),
                    name: name.into(),
                },
                None,
            ));
        }
        if let Some(rest) = a.resource.strip_prefix("rule/") {
            let (bus, rule) = match rest.split_once('/') {
                Some((b, r)) => (b.to_string(), r.to_string()),
                None => (DEFAULT_BUS.to_string(), rest.to_string()),
            };
            return Ok((
                BusRef {
                    account: a.account.into(),
                    region: a.region.into(),
                    name: bus,
                },
                Some(rule),
            ));
        }
        Err(not_found(format!("Resource {arn} does not exist.")))
    }

    async fn with_tags(
        &self,
        ctx: &RequestContext,
        arn: &str,
        f: impl FnOnce(&mut std::collections::BTreeMap<String, String>) -> Result<bool, AwsError>,
    ) -> Result<Vec<Tag>, AwsError> {
        let (b, rule) = Self::tag_target(arn)?;
        if b.account != ctx.account_id {
            return Err(not_found(match &rule {
                Some(r) => format!("Rule {r} does not exist on EventBus {}.", b.name),
                None => format!("Event bus {} does not exist.", b.name),
            }));
        }
        let (tags, writes) = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            match rule {
                Some(r) => {
                    let rec = bus
                        .rules
                        .get_mut(&r)
                        .ok_or_else(|| rule_not_found(&r, &b.name))?;
                    let changed = f(&mut rec.tags)?;
                    let w = if changed && self.durable {
                        vec![Self::rule_write(rec)]
                    } else {
                        Vec::new()
                    };
                    (tags_vec(&rec.tags), w)
                }
                None => {
                    let changed = f(&mut bus.rec.tags)?;
                    let w = if changed && self.durable {
                        vec![Self::bus_write(bus)]
                    } else {
                        Vec::new()
                    };
                    (tags_vec(&bus.rec.tags), w)
                }
            }
        };
        self.persist(writes).await?;
        Ok(tags)
    }

    pub(crate) async fn op_tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<TagResourceResponse, AwsError> {
        self.with_tags(ctx, &input.resource_arn, |tags| {
            let mut next = tags.clone();
            for t in &input.tags {
                next.insert(t.key.clone(), t.value.clone());
            }
            if next.len() > 50 {
                return Err(AwsError::new(
                    "LimitExceededException",
                    "The number of tags exceeds the limit of 50.",
                ));
            }
            *tags = next;
            Ok(true)
        })
        .await?;
        Ok(TagResourceResponse {})
    }

    pub(crate) async fn op_untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<UntagResourceResponse, AwsError> {
        self.with_tags(ctx, &input.resource_arn, |tags| {
            for k in &input.tag_keys {
                tags.remove(k);
            }
            Ok(true)
        })
        .await?;
        Ok(UntagResourceResponse {})
    }

    pub(crate) async fn op_list_tags_for_resource(
        &self,
        ctx: &RequestContext,
        input: ListTagsForResourceRequest,
    ) -> Result<ListTagsForResourceResponse, AwsError> {
        let tags = self
            .with_tags(ctx, &input.resource_arn, |_| Ok(false))
            .await?;
        Ok(ListTagsForResourceResponse { tags: Some(tags) })
    }
}
