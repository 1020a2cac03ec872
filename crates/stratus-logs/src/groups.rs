//! Log group operations: create, delete, describe, retention and deletion
//! protection.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use stratus_core::{AwsError, RequestContext};
use stratus_store::Write;

use crate::errors::{constraint, group_exists, invalid_parameter, invalid_token};
use crate::generated::*;
use crate::names::{
    GROUP_CLASSES, GroupRef, RETENTION_DAYS, check_group_name, check_limit, check_tags, group_arn,
    parse_group_identifier,
};
use crate::persist::{self, T_EVENTS, T_GROUPS, T_STREAMS};
use crate::service::LogsService;
use crate::state::{GroupHandle, GroupState};
use crate::tokens;

impl LogsService {
    pub(crate) async fn op_create_log_group(
        &self,
        ctx: &RequestContext,
        input: CreateLogGroupRequest,
    ) -> Result<(), AwsError> {
        let name = input.log_group_name;
        check_group_name("logGroupName", &name)?;
        if name.starts_with("aws/") {
            return Err(invalid_parameter(
                "Log group names starting with 'aws/' are reserved for AWS services.",
            ));
        }
        let class = input
            .log_group_class
            .unwrap_or_else(|| "STANDARD".to_string());
        if !GROUP_CLASSES.contains(&class.as_str()) {
            return Err(constraint(
                "logGroupClass",
                &class,
                &format!(
                    "Member must satisfy enum value set: [{}]",
                    GROUP_CLASSES.join(", ")
                ),
            ));
        }
        let tags = input.tags.unwrap_or_default();
        check_tags(&tags)?;
        if tags.len() > 50 {
            return Err(constraint(
                "tags",
                tags.len(),
                "Member must have length less than or equal to 50",
            ));
        }
        let key = persist::group_key(&ctx.account_id, &ctx.region, &name);
        let write = {
            let mut groups = self.groups.write();
            if groups.contains_key(&key) {
                return Err(group_exists());
            }
            let handle = Arc::new(GroupHandle {
                key: key.clone(),
                account: ctx.account_id.clone(),
                region: ctx.region.clone(),
                name,
                state: Mutex::new(GroupState {
                    created: self.now(),
                    retention: None,
                    kms_key_id: input.kms_key_id,
                    class,
                    deletion_protection: input.deletion_protection_enabled.unwrap_or(false),
                    tags,
                    streams: BTreeMap::new(),
                    metric_filters: BTreeMap::new(),
                    subscription_filters: BTreeMap::new(),
                    stored_bytes: 0,
                    deleted: false,
                }),
            });
            let w = handle.record_write(&handle.state.lock());
            groups.insert(key, handle);
            w
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_delete_log_group(
        &self,
        ctx: &RequestContext,
        input: DeleteLogGroupRequest,
    ) -> Result<(), AwsError> {
        let handle = self.group(ctx, &input.log_group_name)?;
        let writes = {
            let mut groups = self.groups.write();
            let mut st = handle.state.lock();
            if st.deleted {
                return Err(crate::errors::group_not_found());
            }
            if st.deletion_protection {
                return Err(AwsError::new(
                    "ValidationException",
                    "Cannot delete log group with deletion protection enabled. Disable deletion protection first.",
                ));
            }
            st.deleted = true;
            groups.remove(&handle.key);
            let mut writes = vec![
                Write::Delete {
                    table: T_GROUPS,
                    key: handle.key.as_bytes().to_vec(),
                },
                Write::DeletePrefix {
                    table: T_STREAMS,
                    prefix: persist::stream_prefix(&handle.key),
                },
            ];
            for s in std::mem::take(&mut st.streams).into_values() {
                writes.push(Write::DeletePrefix {
                    table: T_EVENTS,
                    prefix: persist::event_prefix(s.uid),
                });
            }
            writes
        };
        self.persist(writes).await
    }

    pub(crate) fn op_describe_log_groups(
        &self,
        ctx: &RequestContext,
        input: DescribeLogGroupsRequest,
    ) -> Result<DescribeLogGroupsResponse, AwsError> {
        let limit = check_limit("limit", input.limit, 50)?;
        if input.log_group_name_prefix.is_some() && input.log_group_name_pattern.is_some() {
            return Err(invalid_parameter(
                "LogGroup name prefix and LogGroup name pattern are mutually exclusive parameters.",
            ));
        }
        if let Some(p) = &input.log_group_name_prefix {
            check_group_name("logGroupNamePrefix", p)?;
        }
        let pattern = input.log_group_name_pattern.as_deref();
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_list_token("groups", t).ok_or_else(invalid_token)?),
            None => None,
        };
        // logGroupIdentifiers restricts the answer to those groups.
        let wanted: Option<Vec<String>> = match &input.log_group_identifiers {
            Some(ids) => {
                let mut names = Vec::new();
                for id in ids {
                    if let GroupRef::Name(n) = parse_group_identifier(ctx, id)? {
                        names.push(n);
                    }
                }
                Some(names)
            }
            None => None,
        };
        let scope = Self::scope(ctx);
        let start = format!(
            "{scope}{}",
            input.log_group_name_prefix.as_deref().unwrap_or_default()
        );
        let groups = self.groups.read();
        let mut out = Vec::new();
        let mut next_token = None;
        for (key, h) in groups.range(start.clone()..) {
            if !key.starts_with(&start) {
                break;
            }
            let name = &key[scope.len()..];
            if after.as_deref().is_some_and(|a| name <= a) {
                continue;
            }
            if pattern.is_some_and(|p| !name.contains(p)) {
                continue;
            }
            if wanted
                .as_ref()
                .is_some_and(|w| !w.iter().any(|n| n == name))
            {
                continue;
            }
            let st = h.state.lock();
            if input
                .log_group_class
                .as_ref()
                .is_some_and(|c| *c != st.class)
            {
                continue;
            }
            if out.len() == limit {
                next_token = out
                    .last()
                    .and_then(|g: &LogGroup| g.log_group_name.as_deref())
                    .map(|n| tokens::list_token("groups", n));
                break;
            }
            out.push(describe_group(h, &st, pattern.is_some()));
        }
        Ok(DescribeLogGroupsResponse {
            log_groups: Some(out),
            next_token,
        })
    }

    pub(crate) async fn op_put_retention_policy(
        &self,
        ctx: &RequestContext,
        input: PutRetentionPolicyRequest,
    ) -> Result<(), AwsError> {
        let days = input.retention_in_days;
        if !RETENTION_DAYS.contains(&days) {
            let valid: Vec<String> = RETENTION_DAYS.iter().map(i32::to_string).collect();
            return Err(invalid_parameter(format!(
                "Invalid retention value. Valid values are: [{}]",
                valid.join(", ")
            )));
        }
        let handle = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = handle.state.lock();
            if st.deleted {
                return Err(crate::errors::group_not_found());
            }
            st.retention = Some(days);
            handle.record_write(&st)
        };
        self.persist(vec![write]).await?;
        // Drop what the new period already excludes (reads hide it anyway).
        self.expire_group(&handle).await;
        Ok(())
    }

    pub(crate) async fn op_delete_retention_policy(
        &self,
        ctx: &RequestContext,
        input: DeleteRetentionPolicyRequest,
    ) -> Result<(), AwsError> {
        let handle = self.group(ctx, &input.log_group_name)?;
        let write = {
            let mut st = handle.state.lock();
            if st.deleted {
                return Err(crate::errors::group_not_found());
            }
            st.retention = None;
            handle.record_write(&st)
        };
        self.persist(vec![write]).await
    }

    pub(crate) async fn op_put_log_group_deletion_protection(
        &self,
        ctx: &RequestContext,
        input: PutLogGroupDeletionProtectionRequest,
    ) -> Result<(), AwsError> {
        let r = parse_group_identifier(ctx, &input.log_group_identifier)?;
        if let GroupRef::Name(n) = &r {
            check_group_name("logGroupIdentifier", n)?;
        }
        let handle = self.group_by_ref(ctx, r)?;
        let write = {
            let mut st = handle.state.lock();
            if st.deleted {
                return Err(crate::errors::group_not_found());
            }
            st.deletion_protection = input.deletion_protection_enabled;
            handle.record_write(&st)
        };
        self.persist(vec![write]).await
    }
}

impl LogsService {
    /// ListLogGroups: the newer listing, with `^prefix|substring` patterns
    /// (case-sensitive), class and tag filters; name, ARN and class only.
    pub(crate) fn op_list_log_groups(
        &self,
        ctx: &RequestContext,
        input: ListLogGroupsRequest,
    ) -> Result<ListLogGroupsResponse, AwsError> {
        let limit = match input.limit {
            None => 50,
            Some(_) => check_limit("limit", input.limit, 1000)?,
        };
        let alternatives: Vec<&str> = input
            .log_group_name_pattern
            .as_deref()
            .map(|p| p.split('|').collect())
            .unwrap_or_default();
        let name_ok = |name: &str| {
            alternatives.is_empty()
                || alternatives.iter().any(|a| match a.strip_prefix('^') {
                    Some(prefix) => name.starts_with(prefix),
                    None => name.contains(a),
                })
        };
        let after = match &input.next_token {
            Some(t) => Some(tokens::parse_list_token("list", t).ok_or_else(invalid_token)?),
            None => None,
        };
        let tag_filters = input.log_group_tags.unwrap_or_default();
        let scope = Self::scope(ctx);
        let groups = self.groups.read();
        let mut out = Vec::new();
        let mut next_token = None;
        for (key, h) in groups.range(scope.clone()..) {
            if !key.starts_with(&scope) {
                break;
            }
            let name = &key[scope.len()..];
            if after.as_deref().is_some_and(|a| name <= a) || !name_ok(name) {
                continue;
            }
            let st = h.state.lock();
            if input
                .log_group_class
                .as_ref()
                .is_some_and(|c| *c != st.class)
            {
                continue;
            }
            let tags_ok = tag_filters
                .iter()
                .all(|f| match (st.tags.get(&f.key), &f.values) {
                    (None, _) => false,
                    (Some(_), None) => true,
                    (Some(v), Some(values)) => values.is_empty() || values.contains(v),
                });
            if !tags_ok {
                continue;
            }
            if out.len() == limit {
                next_token = out
                    .last()
                    .and_then(|g: &LogGroupSummary| g.log_group_name.as_deref())
                    .map(|n| tokens::list_token("list", n));
                break;
            }
            out.push(LogGroupSummary {
                log_group_name: Some(h.name.clone()),
                log_group_arn: Some(group_arn(&h.region, &h.account, &h.name)),
                log_group_class: Some(st.class.clone()),
            });
        }
        Ok(ListLogGroupsResponse {
            log_groups: Some(out),
            next_token,
        })
    }
}

/// One DescribeLogGroups entry. With `logGroupNamePattern` AWS returns only
/// the name, ARN and creation time.
fn describe_group(h: &GroupHandle, st: &GroupState, pattern_mode: bool) -> LogGroup {
    let arn = group_arn(&h.region, &h.account, &h.name);
    if pattern_mode {
        return LogGroup {
            log_group_name: Some(h.name.clone()),
            creation_time: Some(st.created),
            arn: Some(format!("{arn}:*")),
            ..Default::default()
        };
    }
    LogGroup {
        log_group_name: Some(h.name.clone()),
        creation_time: Some(st.created),
        retention_in_days: st.retention,
        metric_filter_count: Some(st.metric_filters.len() as i32),
        arn: Some(format!("{arn}:*")),
        stored_bytes: Some(st.stored_bytes),
        kms_key_id: st.kms_key_id.clone(),
        log_group_class: Some(st.class.clone()),
        log_group_arn: Some(arn),
        deletion_protection_enabled: Some(st.deletion_protection),
        ..Default::default()
    }
}
