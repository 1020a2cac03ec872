//! Rules and their targets.

use std::collections::HashMap;

use serde_json::Value;
use stratus_core::{AwsError, RequestContext};
use stratus_patterns::Pattern;

use crate::generated::*;
use crate::persist::RuleRec;
use crate::schedule::Schedule;
use crate::service::EventsService;
use crate::state::{ARCHIVE_RULE_PREFIX, Bus, TargetKind};
use crate::transform::validate_target_input;
use crate::util::*;

pub(crate) const MAX_TARGETS_PER_RULE: usize = 5;
const MAX_RULES_PER_BUS: usize = 300;

fn limit_exceeded() -> AwsError {
    AwsError::new(
        "LimitExceededException",
        "The requested resource exceeds the maximum number allowed.",
    )
}

fn managed(rule: &RuleRec) -> AwsError {
    AwsError::new(
        "ManagedRuleException",
        format!(
            "Rule {} is managed by {} and can only be modified by it.",
            rule.name,
            rule.managed_by.as_deref().unwrap_or("an AWS service")
        ),
    )
}

/// The string values a pattern lists for a top-level field (condition keys
/// `events:source` and `events:detail-type`).
fn pattern_values(pattern: Option<&str>, field: &str) -> Vec<String> {
    let Some(v) = pattern.and_then(|p| serde_json::from_str::<Value>(p).ok()) else {
        return Vec::new();
    };
    match v.get(field) {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(|x| x.as_str().map(str::to_string))
            .collect(),
        _ => Vec::new(),
    }
}

fn rule_context(creator: &str, pattern: Option<&str>) -> HashMap<&'static str, Vec<String>> {
    let mut c = HashMap::new();
    c.insert("events:creatoraccount", vec![creator.to_string()]);
    let sources = pattern_values(pattern, "source");
    if !sources.is_empty() {
        c.insert("events:source", sources);
    }
    let types = pattern_values(pattern, "detail-type");
    if !types.is_empty() {
        c.insert("events:detail-type", types);
    }
    c
}

fn rule_out(r: &RuleRec) -> Rule {
    Rule {
        name: Some(r.name.clone()),
        arn: Some(rule_arn(&r.region, &r.account, &r.bus, &r.name)),
        event_pattern: r.pattern.clone(),
        state: Some(r.state.clone()),
        description: r.description.clone(),
        schedule_expression: r.schedule.clone(),
        role_arn: r.role_arn.clone(),
        managed_by: r.managed_by.clone(),
        event_bus_name: Some(r.bus.clone()),
    }
}

impl EventsService {
    /// Find the bus (and check cross-account permission for `action` on the rule).
    fn rule_bus<'s>(
        &self,
        ctx: &RequestContext,
        st: &'s mut crate::state::State,
        b: &BusRef,
        rule: &str,
        action: &str,
        creator_and_pattern: Option<(&str, Option<&str>)>,
    ) -> Result<&'s mut Bus, AwsError> {
        let bus = Self::bus_entry(st, b).ok_or_else(|| bus_not_found(&b.name))?;
        if b.account != ctx.account_id {
            let arn = rule_arn(&b.region, &b.account, &b.name, rule);
            let (creator, pattern) = match creator_and_pattern {
                Some(cp) => cp,
                None => match bus.rules.get(rule) {
                    Some(r) => (r.created_by.as_str(), r.pattern.as_deref()),
                    None => (ctx.account_id.as_str(), None),
                },
            };
            let context = rule_context(creator, pattern);
            self.authorize(
                ctx,
                &b.account,
                bus.snap.policy.as_ref(),
                action,
                &arn,
                context,
            )?;
        }
        Ok(bus)
    }

    pub(crate) async fn op_put_rule(
        &self,
        ctx: &RequestContext,
        input: PutRuleRequest,
    ) -> Result<PutRuleResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        if input.event_pattern.is_none() && input.schedule_expression.is_none() {
            return Err(validation(
                "Parameter(s) EventPattern or ScheduleExpression must be specified.",
            ));
        }
        if let Some(p) = &input.event_pattern {
            Pattern::parse(p)
                .map_err(|e| AwsError::new("InvalidEventPatternException", e.message()))?;
        }
        if let Some(s) = &input.schedule_expression {
            Schedule::parse(s)
                .map_err(|_| validation("Parameter ScheduleExpression is not valid."))?;
            if b.name != DEFAULT_BUS {
                return Err(validation(
                    "ScheduleExpression is supported only on the default event bus.",
                ));
            }
        }
        let (arn, writes) = {
            let mut st = self.state.write();
            let bus = self.rule_bus(
                ctx,
                &mut st,
                &b,
                &input.name,
                "events:PutRule",
                Some((&ctx.account_id, input.event_pattern.as_deref())),
            )?;
            let now = now_ms();
            let rec = match bus.rules.get_mut(&input.name) {
                Some(r) => {
                    if r.managed_by.is_some() {
                        return Err(managed(r));
                    }
                    r.pattern = input.event_pattern.clone();
                    r.schedule = input.schedule_expression.clone();
                    if let Some(s) = &input.state {
                        r.state = s.clone();
                    }
                    r.description = input.description.clone();
                    r.role_arn = input.role_arn.clone();
                    for t in input.tags.iter().flatten() {
                        r.tags.insert(t.key.clone(), t.value.clone());
                    }
                    r.clone()
                }
                None => {
                    if bus.rules.len() >= MAX_RULES_PER_BUS {
                        return Err(limit_exceeded());
                    }
                    let r = RuleRec {
                        account: b.account.clone(),
                        region: b.region.clone(),
                        bus: b.name.clone(),
                        name: input.name.clone(),
                        pattern: input.event_pattern.clone(),
                        schedule: input.schedule_expression.clone(),
                        state: input.state.clone().unwrap_or_else(|| "ENABLED".into()),
                        description: input.description.clone(),
                        role_arn: input.role_arn.clone(),
                        managed_by: None,
                        created_by: ctx.account_id.clone(),
                        tags: input
                            .tags
                            .iter()
                            .flatten()
                            .map(|t| (t.key.clone(), t.value.clone()))
                            .collect(),
                        targets: Vec::new(),
                        created: now,
                    };
                    bus.rules.insert(r.name.clone(), r.clone());
                    r
                }
            };
            bus.rebuild();
            let mut w = Vec::new();
            if self.durable {
                w.push(Self::bus_write(bus));
                w.push(Self::rule_write(&rec));
            }
            (rule_arn(&rec.region, &rec.account, &rec.bus, &rec.name), w)
        };
        self.persist(writes).await?;
        Ok(PutRuleResponse {
            rule_arn: Some(arn),
        })
    }

    pub(crate) async fn op_describe_rule(
        &self,
        ctx: &RequestContext,
        input: DescribeRuleRequest,
    ) -> Result<DescribeRuleResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let mut st = self.state.write();
        let bus = self.rule_bus(ctx, &mut st, &b, &input.name, "events:DescribeRule", None)?;
        let r = bus
            .rules
            .get(&input.name)
            .ok_or_else(|| rule_not_found(&input.name, &b.name))?;
        Ok(DescribeRuleResponse {
            name: Some(r.name.clone()),
            arn: Some(rule_arn(&r.region, &r.account, &r.bus, &r.name)),
            event_pattern: r.pattern.clone(),
            schedule_expression: r.schedule.clone(),
            state: Some(r.state.clone()),
            description: r.description.clone(),
            role_arn: r.role_arn.clone(),
            managed_by: r.managed_by.clone(),
            event_bus_name: Some(r.bus.clone()),
            created_by: Some(r.created_by.clone()),
        })
    }

    async fn set_rule_state(
        &self,
        ctx: &RequestContext,
        name: &str,
        bus_name: Option<&str>,
        state: &str,
        action: &str,
    ) -> Result<(), AwsError> {
        let b = resolve_bus(ctx, bus_name)?;
        let writes = {
            let mut st = self.state.write();
            let bus = self.rule_bus(ctx, &mut st, &b, name, action, None)?;
            let r = bus
                .rules
                .get_mut(name)
                .ok_or_else(|| rule_not_found(name, &b.name))?;
            if r.managed_by.is_some() {
                return Err(managed(r));
            }
            r.state = state.to_string();
            let w = if self.durable {
                vec![Self::rule_write(r)]
            } else {
                Vec::new()
            };
            bus.rebuild();
            w
        };
        self.persist(writes).await
    }

    pub(crate) async fn op_enable_rule(
        &self,
        ctx: &RequestContext,
        input: EnableRuleRequest,
    ) -> Result<(), AwsError> {
        self.set_rule_state(
            ctx,
            &input.name,
            input.event_bus_name.as_deref(),
            "ENABLED",
            "events:EnableRule",
        )
        .await
    }

    pub(crate) async fn op_disable_rule(
        &self,
        ctx: &RequestContext,
        input: DisableRuleRequest,
    ) -> Result<(), AwsError> {
        self.set_rule_state(
            ctx,
            &input.name,
            input.event_bus_name.as_deref(),
            "DISABLED",
            "events:DisableRule",
        )
        .await
    }

    pub(crate) async fn op_delete_rule(
        &self,
        ctx: &RequestContext,
        input: DeleteRuleRequest,
    ) -> Result<(), AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let writes = {
            let mut st = self.state.write();
            let bus = self.rule_bus(ctx, &mut st, &b, &input.name, "events:DeleteRule", None)?;
            // Deleting a rule that does not exist succeeds, as on AWS.
            let Some(r) = bus.rules.get(&input.name) else {
                return Ok(());
            };
            if r.managed_by.is_some() && input.force != Some(true) {
                return Err(managed(r));
            }
            if !r.targets.is_empty() {
                return Err(validation("Rule can't be deleted since it has targets."));
            }
            let w = if self.durable {
                vec![Self::rule_delete(r)]
            } else {
                Vec::new()
            };
            bus.rules.remove(&input.name);
            bus.rebuild();
            w
        };
        self.persist(writes).await
    }

    pub(crate) async fn op_list_rules(
        &self,
        ctx: &RequestContext,
        input: ListRulesRequest,
    ) -> Result<ListRulesResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let items = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            if b.account != ctx.account_id {
                let arn = bus.arn();
                self.authorize(
                    ctx,
                    &b.account,
                    bus.snap.policy.as_ref(),
                    "events:ListRules",
                    &arn,
                    HashMap::new(),
                )?;
            }
            bus.rules
                .values()
                .filter(|r| {
                    input
                        .name_prefix
                        .as_deref()
                        .is_none_or(|p| r.name.starts_with(p))
                })
                .map(|r| (r.name.clone(), rule_out(r)))
                .collect::<Vec<_>>()
        };
        let (rules, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListRulesResponse {
            rules: Some(rules),
            next_token,
        })
    }

    pub(crate) async fn op_put_targets(
        &self,
        ctx: &RequestContext,
        input: PutTargetsRequest,
    ) -> Result<PutTargetsResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        for t in &input.targets {
            validate_target_input(t).map_err(validation)?;
            match TargetKind::classify(&t.arn) {
                TargetKind::Sqs { fifo: true, .. }
                    if t.sqs_parameters
                        .as_ref()
                        .and_then(|p| p.message_group_id.as_ref())
                        .is_none() =>
                {
                    return Err(validation(format!(
                        "Parameter(s) SqsParameters must be specified for target: {}.",
                        t.id
                    )));
                }
                TargetKind::Unsupported(_) if parse_arn(&t.arn).is_none() => {
                    return Err(validation(format!(
                        "Parameter {} is not valid. Reason: Provided Arn is not in correct format.",
                        t.arn
                    )));
                }
                _ => {}
            }
            if let Some(dlq) = t.dead_letter_config.as_ref().and_then(|d| d.arn.as_deref()) {
                match TargetKind::classify(dlq) {
                    TargetKind::Sqs { fifo: false, .. } => {}
                    _ => {
                        return Err(validation(format!(
                            "Parameter DeadLetterConfig.Arn is not valid for target {}. Reason: The dead-letter queue must be a standard SQS queue ARN.",
                            t.id
                        )));
                    }
                }
            }
        }
        let mut seen = std::collections::HashSet::new();
        for t in &input.targets {
            if !seen.insert(t.id.as_str()) {
                return Err(validation(format!(
                    "The target id {} is specified more than once.",
                    t.id
                )));
            }
        }
        let writes = {
            let mut st = self.state.write();
            let bus = self.rule_bus(ctx, &mut st, &b, &input.rule, "events:PutTargets", None)?;
            let r = bus
                .rules
                .get_mut(&input.rule)
                .ok_or_else(|| rule_not_found(&input.rule, &b.name))?;
            if r.managed_by.is_some() {
                return Err(managed(r));
            }
            let mut targets = r.targets.clone();
            for t in &input.targets {
                match targets.iter_mut().find(|x| x.id == t.id) {
                    Some(x) => *x = t.clone(),
                    None => targets.push(t.clone()),
                }
            }
            if targets.len() > MAX_TARGETS_PER_RULE {
                return Err(limit_exceeded());
            }
            r.targets = targets;
            let w = if self.durable {
                vec![Self::rule_write(r)]
            } else {
                Vec::new()
            };
            bus.rebuild();
            w
        };
        self.persist(writes).await?;
        Ok(PutTargetsResponse {
            failed_entry_count: Some(0),
            failed_entries: Some(Vec::new()),
        })
    }

    pub(crate) async fn op_remove_targets(
        &self,
        ctx: &RequestContext,
        input: RemoveTargetsRequest,
    ) -> Result<RemoveTargetsResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let writes = {
            let mut st = self.state.write();
            let bus = self.rule_bus(ctx, &mut st, &b, &input.rule, "events:RemoveTargets", None)?;
            let r = bus
                .rules
                .get_mut(&input.rule)
                .ok_or_else(|| rule_not_found(&input.rule, &b.name))?;
            if r.managed_by.is_some() && input.force != Some(true) {
                return Err(managed(r));
            }
            r.targets.retain(|t| !input.ids.contains(&t.id));
            let w = if self.durable {
                vec![Self::rule_write(r)]
            } else {
                Vec::new()
            };
            bus.rebuild();
            w
        };
        self.persist(writes).await?;
        Ok(RemoveTargetsResponse {
            failed_entry_count: Some(0),
            failed_entries: Some(Vec::new()),
        })
    }

    pub(crate) async fn op_list_targets_by_rule(
        &self,
        ctx: &RequestContext,
        input: ListTargetsByRuleRequest,
    ) -> Result<ListTargetsByRuleResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let mut items = {
            let mut st = self.state.write();
            let bus = self.rule_bus(
                ctx,
                &mut st,
                &b,
                &input.rule,
                "events:ListTargetsByRule",
                None,
            )?;
            let r = bus
                .rules
                .get(&input.rule)
                .ok_or_else(|| rule_not_found(&input.rule, &b.name))?;
            r.targets
                .iter()
                .map(|t| (t.id.clone(), t.clone()))
                .collect::<Vec<_>>()
        };
        items.sort_by(|a, b| a.0.cmp(&b.0));
        let (targets, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListTargetsByRuleResponse {
            targets: Some(targets),
            next_token,
        })
    }

    pub(crate) async fn op_list_rule_names_by_target(
        &self,
        ctx: &RequestContext,
        input: ListRuleNamesByTargetRequest,
    ) -> Result<ListRuleNamesByTargetResponse, AwsError> {
        let b = resolve_bus(ctx, input.event_bus_name.as_deref())?;
        let items = {
            let mut st = self.state.write();
            let bus = Self::bus_entry(&mut st, &b).ok_or_else(|| bus_not_found(&b.name))?;
            bus.rules
                .values()
                .filter(|r| r.targets.iter().any(|t| t.arn == input.target_arn))
                .map(|r| (r.name.clone(), r.name.clone()))
                .collect::<Vec<_>>()
        };
        let (names, next_token) = page(items, input.next_token.as_deref(), input.limit, 100)?;
        Ok(ListRuleNamesByTargetResponse {
            rule_names: Some(names),
            next_token,
        })
    }

    /// Create or replace the managed rule that feeds an archive.
    pub(crate) fn archive_rule(
        account: &str,
        region: &str,
        bus: &str,
        archive: &str,
        pattern: Option<&str>,
    ) -> RuleRec {
        // The archive rule never matches replayed events.
        let mut p: Value = pattern
            .and_then(|p| serde_json::from_str(p).ok())
            .filter(Value::is_object)
            .unwrap_or_else(|| Value::Object(Default::default()));
        if let Value::Object(m) = &mut p {
            m.insert("replay-name".into(), serde_json::json!([{"exists": false}]));
        }
        RuleRec {
            account: account.into(),
            region: region.into(),
            bus: bus.into(),
            name: format!("{ARCHIVE_RULE_PREFIX}{archive}"),
            pattern: Some(p.to_string()),
            schedule: None,
            state: "ENABLED".into(),
            description: None,
            role_arn: None,
            managed_by: Some(crate::state::ARCHIVE_MANAGER.into()),
            created_by: account.into(),
            tags: Default::default(),
            targets: Vec::new(),
            created: now_ms(),
        }
    }
}
