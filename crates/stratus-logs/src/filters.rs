//! Metric filters and subscription filters: stored with their group,
//! patterns validated with the filter-pattern engine. Stratus does not emit
//! metrics or deliver to subscription destinations (see the crate docs).

use stratus_core::{AwsError, RequestContext};

use crate::errors::{group_not_found, invalid_parameter, invalid_token, limit_exceeded, not_found};
use crate::generated::*;
use crate::names::{check_filter_name, check_group_name, check_limit};
use crate::pattern::FilterPattern;
use crate::persist::{MetricFilterRecord, SubscriptionFilterRecord, TransformRecord};
use crate::service::LogsService;
use crate::tokens;

const MAX_METRIC_FILTERS: usize = 100;
const MAX_SUBSCRIPTION_FILTERS: usize = 2;

fn parse_pattern(src: &str, what: &str) -> Result<FilterPattern, AwsError> {
    FilterPattern::parse(src).map_err(|e| invalid_parameter(format!("Invalid {what} pattern: {e}")))
}

/// A metric value is a number or a field the pattern extracts (`$.x`, `$name`).
fn check_metric_value(pattern: &FilterPattern, value: &str) -> Result<(), AwsError> {
    if value.parse::<f64>().is_ok_and(f64::is_finite) {
        return Ok(());
    }
    if value.starts_with('$') && pattern.can_extract(value) {
        return Ok(());
    }
    Err(invalid_parameter(format!(
        "Invalid metric value: {value}. It must be a number or a field that the filter pattern extracts."
    )))
}

impl LogsService {
    pub(crate) async fn op_put_metric_filter(
        &self,
        ctx: &RequestContext,
        input: PutMetricFilterRequest,
    ) -> Result<(), AwsError> {
        check_filter_name(&input.filter_name)?;
        let pattern = parse_pattern(&input.filter_pattern, "metric filter")?;
        if input.metric_transformations.len() != 1 {
            return Err(crate::errors::constraint(
                "metricTransformations",
                input.metric_transformations.len(),
                "Member must have length less than or equal to 1",
            ));
        }
        let mut transformations = Vec::new();
        for t in input.metric_transformations {
            check_metric_value(&pattern, &t.metric_value)?;
            if let Some(d) = &t.dimensions {
                if d.len() > 3 {
                    return Err(limit_exceeded(
                        "A metric filter can have at most 3 dimensions.",
                    ));
                }
                if t.default_value.is_some() {
                    return Err(invalid_parameter(
                        "A metric filter with dimensions cannot have a default value.",
                    ));
                }
            }
            transformations.push(TransformRecord {
                name: t.metric_name,
                namespace: t.metric_namespace,
                value: t.metric_value,
                default: t.default_value,
                dimensions: t.dimensions,
                unit: t.unit,
            });
        }
        let h = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            if !st.metric_filters.contains_key(&input.filter_name)
                && st.metric_filters.len() >= MAX_METRIC_FILTERS
            {
                return Err(limit_exceeded("Resource limit exceeded."));
            }
            st.metric_filters.insert(
                input.filter_name.clone(),
                MetricFilterRecord {
                    name: input.filter_name,
                    pattern: input.filter_pattern,
                    transformations,
                    created: self.now(),
                    on_transformed: input.apply_on_transformed_logs.unwrap_or(false),
                    field_selection: input.field_selection_criteria,
                    system_dimensions: input.emit_system_field_dimensions.unwrap_or_default(),
                },
            );
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) fn op_describe_metric_filters(
        &self,
        ctx: &RequestContext,
        input: DescribeMetricFiltersRequest,
    ) -> Result<DescribeMetricFiltersResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 50)?;
        if input.metric_name.is_some() != input.metric_namespace.is_some() {
            return Err(invalid_parameter(
                "metricName and metricNamespace must be specified together.",
            ));
        }
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_list_token("mf", t).ok_or_else(invalid_token)?),
            None => None,
        };
        let handles = match &input.log_group_name {
            Some(name) => vec![self.group(ctx, name)?],
            None => {
                let scope = Self::scope(ctx);
                self.groups
                    .read()
                    .range(scope.clone()..)
                    .take_while(|(k, _)| k.starts_with(&scope))
                    .map(|(_, h)| h.clone())
                    .collect()
            }
        };
        // The prefix only applies together with a group name, as on AWS.
        let prefix = input
            .log_group_name
            .as_ref()
            .and(input.filter_name_prefix.as_deref())
            .unwrap_or_default();
        let mut out: Vec<(String, MetricFilter)> = Vec::new();
        let mut next_token = None;
        'groups: for h in handles {
            let st = h.state.lock();
            for f in st.metric_filters.values() {
                let sort_key = format!("{}:{}", h.name, f.name);
                if !f.name.starts_with(prefix)
                    || after.as_deref().is_some_and(|a| sort_key.as_str() <= a)
                {
                    continue;
                }
                if let (Some(n), Some(ns)) = (&input.metric_name, &input.metric_namespace)
                    && !f
                        .transformations
                        .iter()
                        .any(|t| t.name == *n && t.namespace == *ns)
                {
                    continue;
                }
                if out.len() == limit {
                    next_token = out.last().map(|(k, _)| tokens::list_token("mf", k));
                    break 'groups;
                }
                out.push((sort_key, describe_metric_filter(&h.name, f)));
            }
        }
        Ok(DescribeMetricFiltersResponse {
            metric_filters: Some(out.into_iter().map(|(_, f)| f).collect()),
            next_token,
        })
    }

    pub(crate) async fn op_delete_metric_filter(
        &self,
        ctx: &RequestContext,
        input: DeleteMetricFilterRequest,
    ) -> Result<(), AwsError> {
        check_filter_name(&input.filter_name)?;
        let h = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            if st.metric_filters.remove(&input.filter_name).is_none() {
                return Err(not_found("The specified metric filter does not exist."));
            }
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_put_subscription_filter(
        &self,
        ctx: &RequestContext,
        input: PutSubscriptionFilterRequest,
    ) -> Result<(), AwsError> {
        check_group_name("logGroupName", &input.log_group_name)?;
        check_filter_name(&input.filter_name)?;
        parse_pattern(&input.filter_pattern, "subscription filter")?;
        if !input.destination_arn.starts_with("arn:") {
            return Err(invalid_parameter(format!(
                "Invalid destinationArn: {}",
                input.destination_arn
            )));
        }
        let distribution = input
            .distribution
            .unwrap_or_else(|| "ByLogStream".to_string());
        if distribution != "ByLogStream" && distribution != "Random" {
            return Err(crate::errors::constraint(
                "distribution",
                &distribution,
                "Member must satisfy enum value set: [Random, ByLogStream]",
            ));
        }
        let h = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            if !st.subscription_filters.contains_key(&input.filter_name)
                && st.subscription_filters.len() >= MAX_SUBSCRIPTION_FILTERS
            {
                return Err(limit_exceeded("Resource limit exceeded."));
            }
            st.subscription_filters.insert(
                input.filter_name.clone(),
                SubscriptionFilterRecord {
                    name: input.filter_name,
                    pattern: input.filter_pattern,
                    destination: input.destination_arn,
                    role: input.role_arn,
                    distribution,
                    created: self.now(),
                    on_transformed: input.apply_on_transformed_logs.unwrap_or(false),
                    field_selection: input.field_selection_criteria,
                    system_fields: input.emit_system_fields.unwrap_or_default(),
                },
            );
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) fn op_describe_subscription_filters(
        &self,
        ctx: &RequestContext,
        input: DescribeSubscriptionFiltersRequest,
    ) -> Result<DescribeSubscriptionFiltersResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 50)?;
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_list_token("sf", t).ok_or_else(invalid_token)?),
            None => None,
        };
        let h = self.group(ctx, &input.log_group_name)?;
        let st = h.state.lock();
        let prefix = input.filter_name_prefix.as_deref().unwrap_or_default();
        let mut out = Vec::new();
        let mut next_token = None;
        for f in st.subscription_filters.values() {
            if !f.name.starts_with(prefix) || after.as_deref().is_some_and(|a| f.name.as_str() <= a)
            {
                continue;
            }
            if out.len() == limit {
                next_token = out
                    .last()
                    .and_then(|s: &SubscriptionFilter| s.filter_name.as_deref())
                    .map(|n| tokens::list_token("sf", n));
                break;
            }
            out.push(SubscriptionFilter {
                filter_name: Some(f.name.clone()),
                log_group_name: Some(h.name.clone()),
                filter_pattern: Some(f.pattern.clone()),
                destination_arn: Some(f.destination.clone()),
                role_arn: f.role.clone(),
                distribution: Some(f.distribution.clone()),
                apply_on_transformed_logs: Some(f.on_transformed),
                creation_time: Some(f.created),
                field_selection_criteria: f.field_selection.clone(),
                emit_system_fields: (!f.system_fields.is_empty()).then(|| f.system_fields.clone()),
            });
        }
        Ok(DescribeSubscriptionFiltersResponse {
            subscription_filters: Some(out),
            next_token,
        })
    }

    pub(crate) async fn op_delete_subscription_filter(
        &self,
        ctx: &RequestContext,
        input: DeleteSubscriptionFilterRequest,
    ) -> Result<(), AwsError> {
        check_filter_name(&input.filter_name)?;
        let h = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = h.state.lock();
            if st.deleted {
                return Err(group_not_found());
            }
            if st.subscription_filters.remove(&input.filter_name).is_none() {
                return Err(not_found(
                    "The specified subscription filter does not exist.",
                ));
            }
            h.record_write(&st)
        };
        self.persist(vec![write]).await
    }
}

fn describe_metric_filter(group: &str, f: &MetricFilterRecord) -> MetricFilter {
    MetricFilter {
        filter_name: Some(f.name.clone()),
        filter_pattern: Some(f.pattern.clone()),
        metric_transformations: Some(
            f.transformations
                .iter()
                .map(|t| MetricTransformation {
                    metric_name: t.name.clone(),
                    metric_namespace: t.namespace.clone(),
                    metric_value: t.value.clone(),
                    default_value: t.default,
                    dimensions: t.dimensions.clone(),
                    unit: t.unit.clone(),
                })
                .collect(),
        ),
        creation_time: Some(f.created),
        log_group_name: Some(group.to_string()),
        apply_on_transformed_logs: Some(f.on_transformed),
        field_selection_criteria: f.field_selection.clone(),
        emit_system_field_dimensions: (!f.system_dimensions.is_empty())
            .then(|| f.system_dimensions.clone()),
    }
}

/// TestMetricFilter: which of the messages match, with the values the
/// pattern extracts from each.
pub(crate) fn test_metric_filter(
    input: TestMetricFilterRequest,
) -> Result<TestMetricFilterResponse, AwsError> {
    let pattern = parse_pattern(&input.filter_pattern, "metric filter")?;
    if input.log_event_messages.is_empty() || input.log_event_messages.len() > 50 {
        return Err(crate::errors::constraint(
            "logEventMessages",
            input.log_event_messages.len(),
            "Member must have length between 1 and 50, inclusive",
        ));
    }
    let matches = input
        .log_event_messages
        .into_iter()
        .enumerate()
        .filter_map(|(i, msg)| {
            let values = pattern.extract(&msg)?;
            Some(MetricFilterMatchRecord {
                event_number: Some(i as i64 + 1),
                event_message: Some(msg),
                extracted_values: Some(values),
            })
        })
        .collect();
    Ok(TestMetricFilterResponse {
        matches: Some(matches),
    })
}
