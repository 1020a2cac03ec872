//! Layers: PublishLayerVersion, GetLayerVersion(ByArn), ListLayers,
//! ListLayerVersions, DeleteLayerVersion and layer-version permissions.

use stratus_core::{AwsError, RequestContext};

use crate::code;
use crate::errors::{conflict, invalid_param, not_found, precondition};
use crate::generated::*;
use crate::names::{
    function_key, layer_arn, layer_name, now_last_modified, parse_layer_version_arn,
};
use crate::ops_functions::{new_revision, paginate};
use crate::persist::{self, T_LAYERS};
use crate::service::LambdaService;
use crate::state::{LayerRec, LayerVersionRec};

fn item(rec: &LayerRec, v: &LayerVersionRec) -> LayerVersionsListItem {
    LayerVersionsListItem {
        layer_version_arn: Some(format!(
            "{}:{}",
            layer_arn(&rec.region, &rec.account, &rec.name),
            v.version
        )),
        version: Some(v.version as i64),
        description: v.description.clone(),
        created_date: Some(v.created.clone()),
        compatible_architectures: v.compatible_architectures.clone(),
        compatible_runtimes: v.compatible_runtimes.clone(),
        license_info: v.license.clone(),
    }
}

fn full(rec: &LayerRec, v: &LayerVersionRec, endpoint: &str) -> GetLayerVersionResponse {
    let arn = layer_arn(&rec.region, &rec.account, &rec.name);
    GetLayerVersionResponse {
        content: Some(LayerVersionContentOutput {
            location: Some(format!("{endpoint}/_stratus/lambda/code/{}.zip", v.sha)),
            code_sha256: Some(code::read_zip_sha_b64(&v.sha)),
            code_size: Some(v.code_size),
            ..Default::default()
        }),
        layer_version_arn: Some(format!("{arn}:{}", v.version)),
        layer_arn: Some(arn),
        description: v.description.clone(),
        created_date: Some(v.created.clone()),
        version: Some(v.version as i64),
        compatible_architectures: v.compatible_architectures.clone(),
        compatible_runtimes: v.compatible_runtimes.clone(),
        license_info: v.license.clone(),
    }
}

fn matches(v: &LayerVersionRec, runtime: Option<&str>, arch: Option<&str>) -> bool {
    runtime.is_none_or(|r| {
        v.compatible_runtimes
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == r))
    }) && arch.is_none_or(|a| {
        v.compatible_architectures
            .as_ref()
            .is_some_and(|l| l.iter().any(|x| x == a))
    })
}

impl LambdaService {
    fn endpoint_url(&self, ctx: &RequestContext) -> String {
        self.endpoint
            .get()
            .cloned()
            .unwrap_or_else(|| ctx.endpoint.clone())
    }

    pub(crate) async fn op_publish_layer_version(
        &self,
        ctx: &RequestContext,
        input: PublishLayerVersionRequest,
    ) -> Result<PublishLayerVersionResponse, AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let Some(zip) = &input.content.zip_file else {
            return Err(invalid_param(
                "Stratus has no S3 yet: publish layer content as ZipFile.",
            ));
        };
        let stored = code::store_zip(&self.code_dir(), &zip.0)?;
        let key = function_key(&account, &region, &name);
        let (snapshot, out) = {
            let mut all = self.layers.lock();
            let rec = all.entry(key.clone()).or_insert_with(|| LayerRec {
                account: account.clone(),
                region: region.clone(),
                name: name.clone(),
                last_version: 0,
                versions: Default::default(),
            });
            rec.last_version += 1;
            let v = LayerVersionRec {
                version: rec.last_version,
                sha: stored.sha.clone(),
                code_size: stored.size,
                description: Some(input.description.clone().unwrap_or_default()),
                created: now_last_modified(),
                compatible_runtimes: input.compatible_runtimes.clone(),
                compatible_architectures: input.compatible_architectures.clone(),
                license: input.license_info.clone(),
                policy: Vec::new(),
                policy_revision: new_revision(),
            };
            let r = full(rec, &v, &self.endpoint_url(ctx));
            rec.versions.insert(v.version, v);
            (rec.clone(), r)
        };
        self.apply(vec![persist::put(T_LAYERS, &key, &snapshot)])
            .await?;
        Ok(PublishLayerVersionResponse {
            content: out.content,
            layer_arn: out.layer_arn,
            layer_version_arn: out.layer_version_arn,
            description: out.description,
            created_date: out.created_date,
            version: out.version,
            compatible_architectures: out.compatible_architectures,
            compatible_runtimes: out.compatible_runtimes,
            license_info: out.license_info,
        })
    }

    fn layer_version(
        &self,
        account: &str,
        region: &str,
        name: &str,
        version: u64,
        ctx: &RequestContext,
    ) -> Result<GetLayerVersionResponse, AwsError> {
        let all = self.layers.lock();
        all.get(&function_key(account, region, name))
            .and_then(|l| {
                l.versions
                    .get(&version)
                    .map(|v| full(l, v, &self.endpoint_url(ctx)))
            })
            .ok_or_else(|| not_found("The resource you requested does not exist."))
    }

    pub(crate) async fn op_get_layer_version(
        &self,
        ctx: &RequestContext,
        input: GetLayerVersionRequest,
    ) -> Result<GetLayerVersionResponse, AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        self.layer_version(
            &account,
            &region,
            &name,
            input.version_number.max(0) as u64,
            ctx,
        )
    }

    pub(crate) async fn op_get_layer_version_by_arn(
        &self,
        ctx: &RequestContext,
        input: GetLayerVersionByArnRequest,
    ) -> Result<GetLayerVersionResponse, AwsError> {
        let (account, region, name, version) = parse_layer_version_arn(&input.arn)
            .ok_or_else(|| invalid_param(format!("Invalid layer version ARN: {}", input.arn)))?;
        self.layer_version(&account, &region, &name, version, ctx)
    }

    pub(crate) async fn op_list_layers(
        &self,
        ctx: &RequestContext,
        input: ListLayersRequest,
    ) -> Result<ListLayersResponse, AwsError> {
        let prefix = format!("{}/{}/", ctx.account_id, ctx.region);
        let all = self.layers.lock();
        let mut keys: Vec<&String> = all.keys().filter(|k| k.starts_with(&prefix)).collect();
        keys.sort();
        let mut items = Vec::new();
        for k in keys {
            let Some(rec) = all.get(k) else { continue };
            let latest = rec.versions.values().rev().find(|v| {
                matches(
                    v,
                    input.compatible_runtime.as_deref(),
                    input.compatible_architecture.as_deref(),
                )
            });
            if let Some(v) = latest {
                items.push(LayersListItem {
                    layer_name: Some(rec.name.clone()),
                    layer_arn: Some(layer_arn(&rec.region, &rec.account, &rec.name)),
                    latest_matching_version: Some(item(rec, v)),
                });
            }
        }
        drop(all);
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListLayersResponse {
            layers: Some(page),
            next_marker: next,
        })
    }

    pub(crate) async fn op_list_layer_versions(
        &self,
        ctx: &RequestContext,
        input: ListLayerVersionsRequest,
    ) -> Result<ListLayerVersionsResponse, AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let items: Vec<LayerVersionsListItem> = {
            let all = self.layers.lock();
            match all.get(&function_key(&account, &region, &name)) {
                Some(rec) => rec
                    .versions
                    .values()
                    .rev()
                    .filter(|v| {
                        matches(
                            v,
                            input.compatible_runtime.as_deref(),
                            input.compatible_architecture.as_deref(),
                        )
                    })
                    .map(|v| item(rec, v))
                    .collect(),
                None => Vec::new(),
            }
        };
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListLayerVersionsResponse {
            layer_versions: Some(page),
            next_marker: next,
        })
    }

    pub(crate) async fn op_delete_layer_version(
        &self,
        ctx: &RequestContext,
        input: DeleteLayerVersionRequest,
    ) -> Result<(), AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let key = function_key(&account, &region, &name);
        let snapshot = {
            let mut all = self.layers.lock();
            let Some(rec) = all.get_mut(&key) else {
                return Ok(());
            };
            if rec
                .versions
                .remove(&(input.version_number.max(0) as u64))
                .is_none()
            {
                return Ok(());
            }
            rec.clone()
        };
        // The record stays (even without versions) so version numbers keep increasing.
        self.apply(vec![persist::put(T_LAYERS, &key, &snapshot)])
            .await
    }

    pub(crate) async fn op_add_layer_version_permission(
        &self,
        ctx: &RequestContext,
        input: AddLayerVersionPermissionRequest,
    ) -> Result<AddLayerVersionPermissionResponse, AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let key = function_key(&account, &region, &name);
        let (snapshot, statement, revision) = {
            let mut all = self.layers.lock();
            let arn = format!(
                "{}:{}",
                layer_arn(&region, &account, &name),
                input.version_number
            );
            let v = all
                .get_mut(&key)
                .and_then(|l| l.versions.get_mut(&(input.version_number.max(0) as u64)))
                .ok_or_else(|| not_found(format!("Layer version {arn} does not exist.")))?;
            if let Some(rev) = &input.revision_id
                && rev != &v.policy_revision
            {
                return Err(precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
                ));
            }
            if v.policy
                .iter()
                .any(|s| s["Sid"] == input.statement_id.as_str())
            {
                return Err(conflict(format!(
                    "The statement id ({}) provided already exists. Please provide a new statement id, or remove the existing statement.",
                    input.statement_id
                )));
            }
            let principal = if input.principal == "*" {
                serde_json::json!("*")
            } else {
                serde_json::json!({"AWS": format!("arn:aws:iam::{}:root", input.principal)})
            };
            let mut st = serde_json::json!({
                "Sid": input.statement_id,
                "Effect": "Allow",
                "Principal": principal,
                "Action": input.action,
                "Resource": arn,
            });
            if let Some(org) = &input.organization_id {
                st["Condition"] = serde_json::json!({"StringEquals": {"aws:PrincipalOrgID": org}});
            }
            v.policy.push(st.clone());
            v.policy_revision = new_revision();
            let rev = v.policy_revision.clone();
            (all.get(&key).cloned(), st, rev)
        };
        if let Some(s) = snapshot {
            self.apply(vec![persist::put(T_LAYERS, &key, &s)]).await?;
        }
        Ok(AddLayerVersionPermissionResponse {
            statement: Some(statement.to_string()),
            revision_id: Some(revision),
        })
    }

    pub(crate) async fn op_remove_layer_version_permission(
        &self,
        ctx: &RequestContext,
        input: RemoveLayerVersionPermissionRequest,
    ) -> Result<(), AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let key = function_key(&account, &region, &name);
        let snapshot = {
            let mut all = self.layers.lock();
            let v = all
                .get_mut(&key)
                .and_then(|l| l.versions.get_mut(&(input.version_number.max(0) as u64)))
                .ok_or_else(|| not_found("The resource you requested does not exist."))?;
            if let Some(rev) = &input.revision_id
                && rev != &v.policy_revision
            {
                return Err(precondition(
                    "The Revision Id provided does not match the latest Revision Id. Call the GetLayerPolicy API to retrieve the latest Revision Id",
                ));
            }
            let before = v.policy.len();
            v.policy.retain(|s| s["Sid"] != input.statement_id.as_str());
            if v.policy.len() == before {
                return Err(not_found(format!(
                    "Statement {} is not found in resource policy.",
                    input.statement_id
                )));
            }
            v.policy_revision = new_revision();
            all.get(&key).cloned()
        };
        if let Some(s) = snapshot {
            self.apply(vec![persist::put(T_LAYERS, &key, &s)]).await?;
        }
        Ok(())
    }

    pub(crate) async fn op_get_layer_version_policy(
        &self,
        ctx: &RequestContext,
        input: GetLayerVersionPolicyRequest,
    ) -> Result<GetLayerVersionPolicyResponse, AwsError> {
        let (account, region, name) = layer_name(ctx, &input.layer_name);
        let all = self.layers.lock();
        let v = all
            .get(&function_key(&account, &region, &name))
            .and_then(|l| l.versions.get(&(input.version_number.max(0) as u64)))
            .ok_or_else(|| not_found("The resource you requested does not exist."))?;
        if v.policy.is_empty() {
            return Err(not_found(
                "No policy is associated with the given resource.",
            ));
        }
        let doc = serde_json::json!({
            "Version": "2012-10-17",
            "Id": "default",
            "Statement": v.policy,
        });
        Ok(GetLayerVersionPolicyResponse {
            policy: Some(doc.to_string()),
            revision_id: Some(v.policy_revision.clone()),
        })
    }

    /// Unpacked directories of a function's layers, in order.
    pub(crate) fn layer_dirs(&self, layers: &[Layer]) -> Vec<std::path::PathBuf> {
        let shas: Vec<String> = {
            let all = self.layers.lock();
            layers
                .iter()
                .filter_map(|l| l.arn.as_deref().and_then(parse_layer_version_arn))
                .filter_map(|(a, r, n, v)| {
                    all.get(&function_key(&a, &r, &n))
                        .and_then(|l| l.versions.get(&v))
                        .map(|lv| lv.sha.clone())
                })
                .collect()
        };
        shas.iter()
            .filter_map(|sha| code::unpacked(&self.code_dir(), sha).ok())
            .collect()
    }
}
