//! PublishVersion, ListVersionsByFunction and aliases (with weighted routing).

use stratus_core::{AwsError, RequestContext};

use crate::errors::{conflict, invalid_param, not_found};
use crate::generated::*;
use crate::names::{parse_function, qualified_arn};
use crate::ops_functions::{check_revision, new_revision, paginate, publish};
use crate::service::LambdaService;
use crate::state::FunctionRec;

fn check_routing(
    rec: &FunctionRec,
    version: &str,
    routing: Option<&AliasRoutingConfiguration>,
) -> Result<(), AwsError> {
    if rec.version(version).is_none() {
        return Err(not_found(format!(
            "Function not found: {}",
            qualified_arn(&rec.region, &rec.account, &rec.name, version)
        )));
    }
    let Some(weights) = routing.and_then(|r| r.additional_version_weights.as_ref()) else {
        return Ok(());
    };
    if weights.len() > 1 {
        return Err(invalid_param(
            "Number of items in AdditionalVersionWeights cannot be greater than 1",
        ));
    }
    for (v, w) in weights {
        if !(0.0..=1.0).contains(w) {
            return Err(invalid_param(format!(
                "Invalid weight {w} for version {v}: weights must be between 0.0 and 1.0"
            )));
        }
        if v == version {
            return Err(invalid_param(format!(
                "Invalid function version {v}. Function version {v} is already included in routing configuration."
            )));
        }
        if version == "$LATEST" || v == "$LATEST" {
            return Err(invalid_param(
                "$LATEST is not supported for an alias pointing to more than 1 version",
            ));
        }
        if rec.version(v).is_none() {
            return Err(invalid_param(format!(
                "Function version {v} does not exist."
            )));
        }
    }
    Ok(())
}

impl LambdaService {
    pub(crate) async fn op_publish_version(
        &self,
        ctx: &RequestContext,
        input: PublishVersionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let (snapshot, config) = {
            let mut r = rec.lock();
            check_revision(input.revision_id.as_deref(), &r.latest.config)?;
            if let Some(sha) = &input.code_sha256
                && r.latest.config.code_sha256.as_deref() != Some(sha)
            {
                return Err(invalid_param(format!(
                    "CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST ({}). Please try again with the CodeSHA256 in $LATEST.",
                    r.latest.config.code_sha256.clone().unwrap_or_default()
                )));
            }
            let c = publish(&mut r, input.description.clone());
            (r.clone(), c)
        };
        self.save_function(&snapshot).await?;
        Ok(config)
    }

    pub(crate) async fn op_list_versions_by_function(
        &self,
        ctx: &RequestContext,
        input: ListVersionsByFunctionRequest,
    ) -> Result<ListVersionsByFunctionResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let items: Vec<FunctionConfiguration> = {
            let r = rec.lock();
            std::iter::once(r.latest.config.clone())
                .chain(r.versions.values().map(|v| v.config.clone()))
                .collect()
        };
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListVersionsByFunctionResponse {
            versions: Some(page),
            next_marker: next,
        })
    }

    pub(crate) async fn op_create_alias(
        &self,
        ctx: &RequestContext,
        input: CreateAliasRequest,
    ) -> Result<AliasConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let (snapshot, alias) = {
            let mut r = rec.lock();
            let arn = qualified_arn(&f.region, &f.account, &f.name, &input.name);
            if r.aliases.contains_key(&input.name) {
                return Err(conflict(format!("Alias already exists: {arn}")));
            }
            check_routing(&r, &input.function_version, input.routing_config.as_ref())?;
            let alias = AliasConfiguration {
                alias_arn: Some(arn),
                name: Some(input.name.clone()),
                function_version: Some(input.function_version.clone()),
                description: Some(input.description.clone().unwrap_or_default()),
                routing_config: input.routing_config.clone(),
                revision_id: Some(new_revision()),
            };
            r.aliases.insert(input.name.clone(), alias.clone());
            (r.clone(), alias)
        };
        self.save_function(&snapshot).await?;
        Ok(alias)
    }

    pub(crate) async fn op_get_alias(
        &self,
        ctx: &RequestContext,
        input: GetAliasRequest,
    ) -> Result<AliasConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let r = rec.lock();
        r.aliases.get(&input.name).cloned().ok_or_else(|| {
            not_found(format!(
                "Alias not found: {}",
                qualified_arn(&f.region, &f.account, &f.name, &input.name)
            ))
        })
    }

    pub(crate) async fn op_update_alias(
        &self,
        ctx: &RequestContext,
        input: UpdateAliasRequest,
    ) -> Result<AliasConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let (snapshot, alias) = {
            let mut r = rec.lock();
            let Some(mut alias) = r.aliases.get(&input.name).cloned() else {
                return Err(not_found(format!(
                    "Alias not found: {}",
                    qualified_arn(&f.region, &f.account, &f.name, &input.name)
                )));
            };
            if let Some(rev) = &input.revision_id
                && alias.revision_id.as_deref() != Some(rev)
            {
                return Err(crate::errors::precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
                ));
            }
            if let Some(v) = &input.function_version {
                alias.function_version = Some(v.clone());
            }
            if let Some(d) = &input.description {
                alias.description = Some(d.clone());
            }
            if let Some(rc) = &input.routing_config {
                alias.routing_config = Some(rc.clone());
            }
            let version = alias.function_version.clone().unwrap_or_default();
            check_routing(&r, &version, alias.routing_config.as_ref())?;
            alias.revision_id = Some(new_revision());
            r.aliases.insert(input.name.clone(), alias.clone());
            (r.clone(), alias)
        };
        self.save_function(&snapshot).await?;
        Ok(alias)
    }

    pub(crate) async fn op_delete_alias(
        &self,
        ctx: &RequestContext,
        input: DeleteAliasRequest,
    ) -> Result<(), AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            if r.aliases.remove(&input.name).is_none() {
                // AWS answers 204 for a missing alias too.
                return Ok(());
            }
            // The alias's function URL goes with it, as on AWS.
            r.urls.remove(&input.name);
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_list_aliases(
        &self,
        ctx: &RequestContext,
        input: ListAliasesRequest,
    ) -> Result<ListAliasesResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let items: Vec<AliasConfiguration> = rec
            .lock()
            .aliases
            .values()
            .filter(|a| {
                input.function_version.is_none() || a.function_version == input.function_version
            })
            .cloned()
            .collect();
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListAliasesResponse {
            aliases: Some(page),
            next_marker: next,
        })
    }
}
