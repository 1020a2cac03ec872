//! Code signing configurations: stored and attached to functions as on AWS.
//! Stratus has no AWS Signer, so deployments are never checked against them
//! (an `Enforce` policy does not reject unsigned code).

use std::collections::BTreeMap;

use rand::Rng;
use serde::{Deserialize, Serialize};
use stratus_core::{AwsError, RequestContext};

use crate::errors::{conflict, invalid_param, not_found};
use crate::generated::*;
use crate::names::{now_last_modified, parse_function};
use crate::ops_functions::paginate;
use crate::persist::{self, T_CSC};
use crate::service::LambdaService;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct CscRec {
    pub account: String,
    pub region: String,
    pub config: CodeSigningConfig,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// `csc-` and 17 lower-case letters and digits, as AWS's ids look.
fn new_id() -> String {
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    let tail: String = (0..17)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect();
    format!("csc-{tail}")
}

fn csc_missing(arn: &str) -> AwsError {
    AwsError::new(
        "CodeSigningConfigNotFoundException",
        format!(
            "The code signing configuration cannot be found. Check that the provided configuration is not deleted: {arn}."
        ),
    )
}

fn resource_missing() -> AwsError {
    not_found("The resource you requested does not exist.")
}

fn check_policies(p: &CodeSigningPolicies) -> Result<(), AwsError> {
    match p.untrusted_artifact_on_deployment.as_deref() {
        None | Some("Warn") | Some("Enforce") => Ok(()),
        Some(v) => Err(invalid_param(format!(
            "Value {v} for UntrustedArtifactOnDeployment is not valid: use Warn or Enforce."
        ))),
    }
}

fn check_publishers(p: &AllowedPublishers) -> Result<(), AwsError> {
    for arn in &p.signing_profile_version_arns {
        let parts: Vec<&str> = arn.split(':').collect();
        if parts.len() < 6 || parts[0] != "arn" || parts[2] != "signer" {
            return Err(invalid_param(format!(
                "Signing profile version ARN {arn} is not valid."
            )));
        }
    }
    Ok(())
}

impl LambdaService {
    /// Table key of a configuration: its ARN (it names account and region).
    fn csc_key(ctx: &RequestContext, arn: &str) -> Option<String> {
        let parts: Vec<&str> = arn.split(':').collect();
        let ok = parts.len() == 7
            && parts[0] == "arn"
            && parts[2] == "lambda"
            && parts[3] == ctx.region
            && parts[4] == ctx.account_id
            && parts[5] == "code-signing-config";
        ok.then(|| arn.to_string())
    }

    async fn save_csc(&self, rec: &CscRec) -> Result<(), AwsError> {
        self.apply(vec![persist::put(
            T_CSC,
            &rec.config.code_signing_config_arn,
            rec,
        )])
        .await
    }

    pub(crate) async fn op_create_csc(
        &self,
        ctx: &RequestContext,
        input: CreateCodeSigningConfigRequest,
    ) -> Result<CreateCodeSigningConfigResponse, AwsError> {
        check_publishers(&input.allowed_publishers)?;
        let policies = input.code_signing_policies.unwrap_or_default();
        check_policies(&policies)?;
        let id = new_id();
        let arn = format!(
            "arn:aws:lambda:{}:{}:code-signing-config:{id}",
            ctx.region, ctx.account_id
        );
        let config = CodeSigningConfig {
            code_signing_config_id: id,
            code_signing_config_arn: arn.clone(),
            description: Some(input.description.unwrap_or_default()),
            allowed_publishers: input.allowed_publishers,
            code_signing_policies: CodeSigningPolicies {
                untrusted_artifact_on_deployment: Some(
                    policies
                        .untrusted_artifact_on_deployment
                        .unwrap_or_else(|| "Warn".into()),
                ),
            },
            last_modified: now_last_modified(),
        };
        let rec = CscRec {
            account: ctx.account_id.clone(),
            region: ctx.region.clone(),
            config: config.clone(),
            tags: input.tags.unwrap_or_default(),
        };
        self.save_csc(&rec).await?;
        self.cscs.lock().insert(arn, rec);
        Ok(CreateCodeSigningConfigResponse {
            code_signing_config: config,
        })
    }

    fn csc(&self, ctx: &RequestContext, arn: &str) -> Result<CscRec, AwsError> {
        Self::csc_key(ctx, arn)
            .and_then(|k| self.cscs.lock().get(&k).cloned())
            .ok_or_else(resource_missing)
    }

    pub(crate) async fn op_get_csc(
        &self,
        ctx: &RequestContext,
        input: GetCodeSigningConfigRequest,
    ) -> Result<GetCodeSigningConfigResponse, AwsError> {
        Ok(GetCodeSigningConfigResponse {
            code_signing_config: self.csc(ctx, &input.code_signing_config_arn)?.config,
        })
    }

    pub(crate) async fn op_list_cscs(
        &self,
        ctx: &RequestContext,
        input: ListCodeSigningConfigsRequest,
    ) -> Result<ListCodeSigningConfigsResponse, AwsError> {
        let mut all: Vec<CodeSigningConfig> = self
            .cscs
            .lock()
            .values()
            .filter(|r| r.account == ctx.account_id && r.region == ctx.region)
            .map(|r| r.config.clone())
            .collect();
        all.sort_by(|a, b| a.code_signing_config_arn.cmp(&b.code_signing_config_arn));
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        Ok(ListCodeSigningConfigsResponse {
            next_marker: next,
            code_signing_configs: Some(page),
        })
    }

    pub(crate) async fn op_update_csc(
        &self,
        ctx: &RequestContext,
        input: UpdateCodeSigningConfigRequest,
    ) -> Result<UpdateCodeSigningConfigResponse, AwsError> {
        let mut rec = self.csc(ctx, &input.code_signing_config_arn)?;
        if let Some(p) = input.allowed_publishers {
            check_publishers(&p)?;
            rec.config.allowed_publishers = p;
        }
        if let Some(p) = input.code_signing_policies {
            check_policies(&p)?;
            if p.untrusted_artifact_on_deployment.is_some() {
                rec.config.code_signing_policies = p;
            }
        }
        if let Some(d) = input.description {
            rec.config.description = Some(d);
        }
        rec.config.last_modified = now_last_modified();
        self.save_csc(&rec).await?;
        let config = rec.config.clone();
        self.cscs
            .lock()
            .insert(config.code_signing_config_arn.clone(), rec);
        Ok(UpdateCodeSigningConfigResponse {
            code_signing_config: config,
        })
    }

    /// Unqualified ARNs of the functions that use a configuration.
    fn functions_using(&self, arn: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .functions
            .read()
            .values()
            .filter_map(|rec| {
                let r = rec.lock();
                (r.code_signing_config.as_deref() == Some(arn))
                    .then(|| crate::names::function_arn(&r.region, &r.account, &r.name))
            })
            .collect();
        out.sort();
        out
    }

    pub(crate) async fn op_delete_csc(
        &self,
        ctx: &RequestContext,
        input: DeleteCodeSigningConfigRequest,
    ) -> Result<DeleteCodeSigningConfigResponse, AwsError> {
        let rec = self.csc(ctx, &input.code_signing_config_arn)?;
        let arn = rec.config.code_signing_config_arn;
        if !self.functions_using(&arn).is_empty() {
            return Err(conflict(
                "The code signing configuration cannot be deleted because it is used by one or more functions.",
            ));
        }
        self.apply(vec![persist::delete(T_CSC, &arn)]).await?;
        self.cscs.lock().remove(&arn);
        Ok(DeleteCodeSigningConfigResponse {})
    }

    pub(crate) async fn op_list_functions_by_csc(
        &self,
        ctx: &RequestContext,
        input: ListFunctionsByCodeSigningConfigRequest,
    ) -> Result<ListFunctionsByCodeSigningConfigResponse, AwsError> {
        let rec = self.csc(ctx, &input.code_signing_config_arn)?;
        let all = self.functions_using(&rec.config.code_signing_config_arn);
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        Ok(ListFunctionsByCodeSigningConfigResponse {
            next_marker: next,
            function_arns: Some(page),
        })
    }

    /// CreateFunction and PutFunctionCodeSigningConfig name a configuration
    /// that must exist.
    pub(crate) fn check_csc_exists(&self, ctx: &RequestContext, arn: &str) -> Result<(), AwsError> {
        Self::csc_key(ctx, arn)
            .filter(|k| self.cscs.lock().contains_key(k))
            .map(|_| ())
            .ok_or_else(|| csc_missing(arn))
    }

    pub(crate) async fn op_put_function_csc(
        &self,
        ctx: &RequestContext,
        input: PutFunctionCodeSigningConfigRequest,
    ) -> Result<PutFunctionCodeSigningConfigResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        self.check_csc_exists(ctx, &input.code_signing_config_arn)?;
        let snapshot = {
            let mut r = rec.lock();
            r.code_signing_config = Some(input.code_signing_config_arn.clone());
            r.clone()
        };
        self.save_function(&snapshot).await?;
        Ok(PutFunctionCodeSigningConfigResponse {
            code_signing_config_arn: input.code_signing_config_arn,
            function_name: f.name,
        })
    }

    pub(crate) async fn op_get_function_csc(
        &self,
        ctx: &RequestContext,
        input: GetFunctionCodeSigningConfigRequest,
    ) -> Result<GetFunctionCodeSigningConfigResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let arn = rec.lock().code_signing_config.clone().unwrap_or_default();
        Ok(GetFunctionCodeSigningConfigResponse {
            code_signing_config_arn: arn,
            function_name: f.name,
        })
    }

    pub(crate) async fn op_delete_function_csc(
        &self,
        ctx: &RequestContext,
        input: DeleteFunctionCodeSigningConfigRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            if r.code_signing_config.take().is_none() {
                // Nothing attached: nothing to write.
                return Ok(());
            }
            r.clone()
        };
        self.save_function(&snapshot).await
    }
}
