//! Function-level settings: resource policy, reserved and provisioned
//! concurrency, event invoke configs, tags and account settings.

use stratus_core::{AwsError, RequestContext};

use crate::errors::{conflict, invalid_param, not_found, precondition};
use crate::generated::*;
use crate::names::{FunctionRef, now_last_modified, parse_function, qualified_arn};
use crate::ops_functions::{missing_qualifier, new_revision, paginate, unqualified_arn};
use crate::service::LambdaService;
use crate::state::{FunctionRec, ProvisionedRec};

/// The account's concurrency limit and the part reservations may not take.
pub(crate) const ACCOUNT_CONCURRENCY: i32 = 1000;
const UNRESERVED_MINIMUM: i32 = 100;

fn principal_value(p: &str) -> serde_json::Value {
    if p == "*" {
        serde_json::json!("*")
    } else if p.ends_with(".amazonaws.com") || p.ends_with(".amazonaws.com.cn") {
        serde_json::json!({"Service": p})
    } else if p.len() == 12 && p.bytes().all(|b| b.is_ascii_digit()) {
        serde_json::json!({"AWS": format!("arn:aws:iam::{p}:root")})
    } else {
        serde_json::json!({"AWS": p})
    }
}

/// Check that a qualifier names an existing version or alias.
fn check_qualifier(rec: &FunctionRec, f: &FunctionRef) -> Result<String, AwsError> {
    let q = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
    if rec.version(&q).is_none() && !rec.aliases.contains_key(&q) {
        return Err(missing_qualifier(f, &q));
    }
    Ok(q)
}

fn check_destination(arn: &str) -> Result<(), AwsError> {
    // An empty destination clears it.
    let ok = arn.is_empty()
        || [
            "arn:aws:sqs:",
            "arn:aws:sns:",
            "arn:aws:lambda:",
            "arn:aws:events:",
            "arn:aws:s3:",
        ]
        .iter()
        .any(|p| arn.starts_with(p));
    if ok {
        Ok(())
    } else {
        Err(invalid_param(format!(
            "The destination ARN {arn} is invalid."
        )))
    }
}

fn check_destinations(d: Option<&DestinationConfig>) -> Result<(), AwsError> {
    if let Some(d) = d {
        if let Some(a) = d.on_success.as_ref().and_then(|s| s.destination.as_deref()) {
            check_destination(a)?;
        }
        if let Some(a) = d.on_failure.as_ref().and_then(|s| s.destination.as_deref()) {
            check_destination(a)?;
        }
    }
    Ok(())
}

fn epoch_now() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or_default()
}

impl LambdaService {
    pub(crate) async fn op_add_permission(
        &self,
        ctx: &RequestContext,
        input: AddPermissionRequest,
    ) -> Result<AddPermissionResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let (snapshot, statement) = {
            let mut r = rec.lock();
            let q = match &f.qualifier {
                Some(_) => check_qualifier(&r, &f)?,
                None => String::new(),
            };
            let current = r.policy_revision.get(&q).cloned();
            if let Some(rev) = &input.revision_id
                && current.as_deref() != Some(rev)
            {
                return Err(precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
                ));
            }
            let resource = if q.is_empty() {
                unqualified_arn(&f)
            } else {
                qualified_arn(&f.region, &f.account, &f.name, &q)
            };
            let statements = r.policies.entry(q.clone()).or_default();
            if statements
                .iter()
                .any(|s| s["Sid"] == input.statement_id.as_str())
            {
                return Err(conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    input.statement_id
                )));
            }
            let mut st = serde_json::json!({
                "Sid": input.statement_id,
                "Effect": "Allow",
                "Principal": principal_value(&input.principal),
                "Action": input.action,
                "Resource": resource,
            });
            let mut cond = serde_json::Map::new();
            if let Some(a) = &input.source_arn {
                cond.insert("ArnLike".into(), serde_json::json!({"AWS:SourceArn": a}));
            }
            let mut eq = serde_json::Map::new();
            if let Some(a) = &input.source_account {
                eq.insert("AWS:SourceAccount".into(), a.clone().into());
            }
            if let Some(a) = &input.principal_org_id {
                eq.insert("aws:PrincipalOrgID".into(), a.clone().into());
            }
            if let Some(a) = &input.event_source_token {
                eq.insert("lambda:EventSourceToken".into(), a.clone().into());
            }
            if let Some(a) = &input.function_url_auth_type {
                eq.insert("lambda:FunctionUrlAuthType".into(), a.clone().into());
            }
            if !eq.is_empty() {
                cond.insert("StringEquals".into(), eq.into());
            }
            if !cond.is_empty() {
                st["Condition"] = cond.into();
            }
            statements.push(st.clone());
            r.policy_revision.insert(q, new_revision());
            (r.clone(), st)
        };
        self.save_function(&snapshot).await?;
        Ok(AddPermissionResponse {
            statement: Some(statement.to_string()),
        })
    }

    pub(crate) async fn op_remove_permission(
        &self,
        ctx: &RequestContext,
        input: RemovePermissionRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            let q = match &f.qualifier {
                Some(_) => check_qualifier(&r, &f)?,
                None => String::new(),
            };
            if let Some(rev) = &input.revision_id
                && r.policy_revision.get(&q) != Some(rev)
            {
                return Err(precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetPolicy API to retrieve the latest Revision Id",
                ));
            }
            let statements = r.policies.entry(q.clone()).or_default();
            let before = statements.len();
            statements.retain(|s| s["Sid"] != input.statement_id.as_str());
            if statements.len() == before {
                return Err(not_found(format!(
                    "Statement {} is not found in resource policy.",
                    input.statement_id
                )));
            }
            if statements.is_empty() {
                r.policies.remove(&q);
            }
            r.policy_revision.insert(q, new_revision());
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_get_policy(
        &self,
        ctx: &RequestContext,
        input: GetPolicyRequest,
    ) -> Result<GetPolicyResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let r = rec.lock();
        let q = match &f.qualifier {
            Some(_) => check_qualifier(&r, &f)?,
            None => String::new(),
        };
        let Some(statements) = r.policies.get(&q).filter(|s| !s.is_empty()) else {
            return Err(not_found("The resource you requested does not exist."));
        };
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": statements,
        });
        Ok(GetPolicyResponse {
            policy: Some(doc.to_string()),
            revision_id: r.policy_revision.get(&q).cloned(),
        })
    }

    /// Sum of reserved concurrency in an account and region, without `except`.
    fn reserved_total(&self, account: &str, region: &str, except: &str) -> i32 {
        let prefix = format!("{account}/{region}/");
        self.functions
            .read()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix) && k.as_str() != except)
            .filter_map(|(_, r)| r.lock().reserved)
            .sum()
    }

    pub(crate) async fn op_put_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: PutFunctionConcurrencyRequest,
    ) -> Result<Concurrency, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let others = self.reserved_total(&f.account, &f.region, &f.key());
        if others + input.reserved_concurrent_executions > ACCOUNT_CONCURRENCY - UNRESERVED_MINIMUM
        {
            return Err(invalid_param(format!(
                "Specified ReservedConcurrentExecutions for function decreases account's UnreservedConcurrentExecution below its minimum value of [{UNRESERVED_MINIMUM}]."
            )));
        }
        let snapshot = {
            let mut r = rec.lock();
            r.reserved = Some(input.reserved_concurrent_executions);
            r.clone()
        };
        self.save_function(&snapshot).await?;
        Ok(Concurrency {
            reserved_concurrent_executions: Some(input.reserved_concurrent_executions),
        })
    }

    pub(crate) async fn op_get_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: GetFunctionConcurrencyRequest,
    ) -> Result<GetFunctionConcurrencyResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        Ok(GetFunctionConcurrencyResponse {
            reserved_concurrent_executions: rec.lock().reserved,
        })
    }

    pub(crate) async fn op_delete_function_concurrency(
        &self,
        ctx: &RequestContext,
        input: DeleteFunctionConcurrencyRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            r.reserved = None;
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_put_provisioned(
        &self,
        ctx: &RequestContext,
        input: PutProvisionedConcurrencyConfigRequest,
    ) -> Result<PutProvisionedConcurrencyConfigResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, Some(&input.qualifier))?;
        let rec = self.function(&f)?;
        if input.qualifier == "$LATEST" {
            return Err(invalid_param(
                "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
            ));
        }
        let (snapshot, version) = {
            let mut r = rec.lock();
            let q = check_qualifier(&r, &f)?;
            let version = r
                .aliases
                .get(&q)
                .and_then(|a| a.function_version.clone())
                .unwrap_or_else(|| q.clone());
            r.provisioned.insert(
                q,
                ProvisionedRec {
                    requested: input.provisioned_concurrent_executions,
                    last_modified: now_last_modified(),
                },
            );
            (r.clone(), version)
        };
        self.save_function(&snapshot).await?;
        self.prewarm(
            &f,
            &version,
            input.provisioned_concurrent_executions.max(0) as usize,
        );
        Ok(PutProvisionedConcurrencyConfigResponse {
            requested_provisioned_concurrent_executions: Some(
                input.provisioned_concurrent_executions,
            ),
            allocated_provisioned_concurrent_executions: Some(0),
            available_provisioned_concurrent_executions: Some(0),
            status: Some("IN_PROGRESS".into()),
            status_reason: None,
            last_modified: Some(now_last_modified()),
        })
    }

    fn provisioned_view(
        &self,
        rec: &FunctionRec,
        q: &str,
        p: &ProvisionedRec,
    ) -> ProvisionedConcurrencyConfigListItem {
        let version = rec
            .aliases
            .get(q)
            .and_then(|a| a.function_version.clone())
            .unwrap_or_else(|| q.to_string());
        let key = crate::names::function_key(&rec.account, &rec.region, &rec.name);
        let warm = self.envs.warm_count(&key, &version) as i32;
        let ready = warm >= p.requested;
        ProvisionedConcurrencyConfigListItem {
            function_arn: Some(qualified_arn(&rec.region, &rec.account, &rec.name, q)),
            requested_provisioned_concurrent_executions: Some(p.requested),
            available_provisioned_concurrent_executions: Some(warm.min(p.requested)),
            allocated_provisioned_concurrent_executions: Some(warm.min(p.requested)),
            status: Some(if ready { "READY" } else { "IN_PROGRESS" }.into()),
            status_reason: None,
            last_modified: Some(p.last_modified.clone()),
        }
    }

    pub(crate) async fn op_get_provisioned(
        &self,
        ctx: &RequestContext,
        input: GetProvisionedConcurrencyConfigRequest,
    ) -> Result<GetProvisionedConcurrencyConfigResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, Some(&input.qualifier))?;
        let rec = self.function(&f)?;
        let r = rec.lock().clone();
        let p = r.provisioned.get(&input.qualifier).ok_or_else(|| {
            AwsError::new(
                "ProvisionedConcurrencyConfigNotFoundException",
                "No Provisioned Concurrency Config found for this function",
            )
        })?;
        let v = self.provisioned_view(&r, &input.qualifier, p);
        Ok(GetProvisionedConcurrencyConfigResponse {
            requested_provisioned_concurrent_executions: v
                .requested_provisioned_concurrent_executions,
            available_provisioned_concurrent_executions: v
                .available_provisioned_concurrent_executions,
            allocated_provisioned_concurrent_executions: v
                .allocated_provisioned_concurrent_executions,
            status: v.status,
            status_reason: v.status_reason,
            last_modified: v.last_modified,
        })
    }

    pub(crate) async fn op_delete_provisioned(
        &self,
        ctx: &RequestContext,
        input: DeleteProvisionedConcurrencyConfigRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, Some(&input.qualifier))?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            if r.provisioned.remove(&input.qualifier).is_none() {
                return Err(AwsError::new(
                    "ProvisionedConcurrencyConfigNotFoundException",
                    "No Provisioned Concurrency Config found for this function",
                ));
            }
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_list_provisioned(
        &self,
        ctx: &RequestContext,
        input: ListProvisionedConcurrencyConfigsRequest,
    ) -> Result<ListProvisionedConcurrencyConfigsResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let r = rec.lock().clone();
        let items: Vec<_> = r
            .provisioned
            .iter()
            .map(|(q, p)| self.provisioned_view(&r, q, p))
            .collect();
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListProvisionedConcurrencyConfigsResponse {
            provisioned_concurrency_configs: Some(page),
            next_marker: next,
        })
    }

    async fn store_invoke_config(
        &self,
        ctx: &RequestContext,
        function_name: &str,
        qualifier: Option<&str>,
        merge: bool,
        settings: InvokeSettings,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        let InvokeSettings {
            retries,
            max_age,
            dest,
        } = settings;
        let f = parse_function(ctx, function_name, qualifier)?;
        let rec = self.function(&f)?;
        check_destinations(dest.as_ref())?;
        let (snapshot, cfg) = {
            let mut r = rec.lock();
            let q = check_qualifier(&r, &f)?;
            let arn = qualified_arn(&f.region, &f.account, &f.name, &q);
            let mut cfg = if merge {
                r.invoke_configs.get(&q).cloned().ok_or_else(|| {
                    not_found(format!(
                        "The function {arn} doesn't have an EventInvokeConfig"
                    ))
                })?
            } else {
                FunctionEventInvokeConfig::default()
            };
            cfg.function_arn = Some(arn);
            cfg.last_modified = Some(epoch_now());
            if retries.is_some() || !merge {
                cfg.maximum_retry_attempts = retries.or(cfg.maximum_retry_attempts);
            }
            if max_age.is_some() || !merge {
                cfg.maximum_event_age_in_seconds = max_age.or(cfg.maximum_event_age_in_seconds);
            }
            if let Some(d) = dest {
                let mut merged = if merge {
                    cfg.destination_config.clone().unwrap_or_default()
                } else {
                    DestinationConfig::default()
                };
                if d.on_success.is_some() {
                    merged.on_success = d.on_success;
                }
                if d.on_failure.is_some() {
                    merged.on_failure = d.on_failure;
                }
                cfg.destination_config = Some(merged);
            } else if !merge {
                cfg.destination_config = Some(DestinationConfig {
                    on_success: Some(OnSuccess::default()),
                    on_failure: Some(OnFailure::default()),
                });
            }
            r.invoke_configs.insert(q, cfg.clone());
            (r.clone(), cfg)
        };
        self.save_function(&snapshot).await?;
        Ok(cfg)
    }

    pub(crate) async fn op_put_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: PutFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        self.store_invoke_config(
            ctx,
            &input.function_name,
            input.qualifier.as_deref(),
            false,
            InvokeSettings {
                retries: input.maximum_retry_attempts,
                max_age: input.maximum_event_age_in_seconds,
                dest: input.destination_config,
            },
        )
        .await
    }

    pub(crate) async fn op_update_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let exists = {
            let rec = self.function(&f)?;
            let r = rec.lock();
            r.invoke_configs
                .contains_key(f.qualifier.as_deref().unwrap_or("$LATEST"))
        };
        self.store_invoke_config(
            ctx,
            &input.function_name,
            input.qualifier.as_deref(),
            exists,
            InvokeSettings {
                retries: input.maximum_retry_attempts,
                max_age: input.maximum_event_age_in_seconds,
                dest: input.destination_config,
            },
        )
        .await
    }

    pub(crate) async fn op_get_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: GetFunctionEventInvokeConfigRequest,
    ) -> Result<FunctionEventInvokeConfig, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let r = rec.lock();
        let q = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        r.invoke_configs.get(&q).cloned().ok_or_else(|| {
            not_found(format!(
                "The function {} doesn't have an EventInvokeConfig",
                qualified_arn(&f.region, &f.account, &f.name, &q)
            ))
        })
    }

    pub(crate) async fn op_delete_event_invoke_config(
        &self,
        ctx: &RequestContext,
        input: DeleteFunctionEventInvokeConfigRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let q = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        let snapshot = {
            let mut r = rec.lock();
            if r.invoke_configs.remove(&q).is_none() {
                return Err(not_found(format!(
                    "The function {} doesn't have an EventInvokeConfig",
                    qualified_arn(&f.region, &f.account, &f.name, &q)
                )));
            }
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_list_event_invoke_configs(
        &self,
        ctx: &RequestContext,
        input: ListFunctionEventInvokeConfigsRequest,
    ) -> Result<ListFunctionEventInvokeConfigsResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let items: Vec<_> = rec.lock().invoke_configs.values().cloned().collect();
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListFunctionEventInvokeConfigsResponse {
            function_event_invoke_configs: Some(page),
            next_marker: next,
        })
    }

    /// Tags live on functions (unqualified ARN) and event source mappings.
    fn tag_target(&self, ctx: &RequestContext, arn: &str) -> Result<TagTarget, AwsError> {
        if let Some(uuid) = arn.split(":event-source-mapping:").nth(1) {
            if self.esms.lock().contains_key(uuid) {
                return Ok(TagTarget::Esm(uuid.to_string()));
            }
            return Err(not_found(format!(
                "The resource you requested does not exist. (Service: Lambda, Status Code: 404) {arn}"
            )));
        }
        let f = parse_function(ctx, arn, None)?;
        if f.qualifier.is_some() {
            return Err(invalid_param(
                "Tags on function aliases and versions are not supported. Please specify a function ARN.",
            ));
        }
        self.function(&f)?;
        Ok(TagTarget::Function(f))
    }

    pub(crate) async fn op_tag_resource(
        &self,
        ctx: &RequestContext,
        input: TagResourceRequest,
    ) -> Result<(), AwsError> {
        match self.tag_target(ctx, &input.resource)? {
            TagTarget::Function(f) => {
                let rec = self.function(&f)?;
                let snapshot = {
                    let mut r = rec.lock();
                    r.tags.extend(input.tags);
                    r.clone()
                };
                self.save_function(&snapshot).await
            }
            TagTarget::Esm(id) => self.tag_esm(&id, input.tags, &[]).await,
        }
    }

    pub(crate) async fn op_untag_resource(
        &self,
        ctx: &RequestContext,
        input: UntagResourceRequest,
    ) -> Result<(), AwsError> {
        match self.tag_target(ctx, &input.resource)? {
            TagTarget::Function(f) => {
                let rec = self.function(&f)?;
                let snapshot = {
                    let mut r = rec.lock();
                    for k in &input.tag_keys {
                        r.tags.remove(k);
                    }
                    r.clone()
                };
                self.save_function(&snapshot).await
            }
            TagTarget::Esm(id) => self.tag_esm(&id, Default::default(), &input.tag_keys).await,
        }
    }

    pub(crate) async fn op_list_tags(
        &self,
        ctx: &RequestContext,
        input: ListTagsRequest,
    ) -> Result<ListTagsResponse, AwsError> {
        let tags = match self.tag_target(ctx, &input.resource)? {
            TagTarget::Function(f) => self.function(&f)?.lock().tags.clone(),
            TagTarget::Esm(id) => self
                .esms
                .lock()
                .get(&id)
                .map(|e| e.tags.clone())
                .unwrap_or_default(),
        };
        Ok(ListTagsResponse { tags: Some(tags) })
    }

    pub(crate) async fn op_get_account_settings(
        &self,
        ctx: &RequestContext,
        _input: GetAccountSettingsRequest,
    ) -> Result<GetAccountSettingsResponse, AwsError> {
        let prefix = format!("{}/{}/", ctx.account_id, ctx.region);
        let (count, size) = {
            let all = self.functions.read();
            let mut count = 0i64;
            let mut size = 0i64;
            for (_, r) in all.iter().filter(|(k, _)| k.starts_with(&prefix)) {
                let r = r.lock();
                count += 1;
                size += r.latest.config.code_size.unwrap_or_default();
                size += r
                    .versions
                    .values()
                    .map(|v| v.config.code_size.unwrap_or_default())
                    .sum::<i64>();
            }
            (count, size)
        };
        let reserved = self.reserved_total(&ctx.account_id, &ctx.region, "");
        Ok(GetAccountSettingsResponse {
            account_limit: Some(AccountLimit {
                total_code_size: Some(80_530_636_800),
                code_size_unzipped: Some(262_144_000),
                code_size_zipped: Some(52_428_800),
                concurrent_executions: Some(ACCOUNT_CONCURRENCY),
                unreserved_concurrent_executions: Some(ACCOUNT_CONCURRENCY - reserved),
            }),
            account_usage: Some(AccountUsage {
                total_code_size: Some(size),
                function_count: Some(count),
            }),
        })
    }
}

/// The settable fields of an event invoke config.
struct InvokeSettings {
    retries: Option<i32>,
    max_age: Option<i32>,
    dest: Option<DestinationConfig>,
}

enum TagTarget {
    Function(FunctionRef),
    Esm(String),
}
