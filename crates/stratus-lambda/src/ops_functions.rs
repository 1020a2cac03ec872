//! CreateFunction, GetFunction(Configuration), ListFunctions, DeleteFunction,
//! UpdateFunctionCode, UpdateFunctionConfiguration.

use std::collections::BTreeMap;
use std::sync::Arc;

use parking_lot::Mutex;
use stratus_core::{AwsError, RequestContext};

use crate::code;
use crate::errors::{conflict, function_not_found, invalid_param, not_found, precondition};
use crate::generated::*;
use crate::names::{
    FunctionRef, function_arn, is_version_number, now_last_modified, parse_function,
    parse_layer_version_arn, qualified_arn,
};
use crate::persist::{self, T_FUNCTIONS};
use crate::runtimes;
use crate::service::LambdaService;
use crate::state::{CodeRef, FunctionRec, VersionRec};

/// The bucket name that selects local-code mode (S3Key is a directory).
pub const LOCAL_CODE_BUCKET: &str = "stratus-local";
const ENV_LIMIT: usize = 4096;
const RESERVED_ENV: &[&str] = &[
    "_HANDLER",
    "_X_AMZN_TRACE_ID",
    "AWS_DEFAULT_REGION",
    "AWS_REGION",
    "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE",
    "AWS_LAMBDA_LOG_GROUP_NAME",
    "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API",
    "LAMBDA_TASK_ROOT",
    "LAMBDA_RUNTIME_DIR",
];

pub(crate) fn new_revision() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// A code package resolved from a request's code fields.
pub(crate) struct NewCode {
    pub code: CodeRef,
    pub sha_b64: String,
    pub size: i64,
}

impl LambdaService {
    pub(crate) fn resolve_code(
        &self,
        zip: Option<&stratus_core::Blob>,
        bucket: Option<&str>,
        key: Option<&str>,
        image: Option<&str>,
    ) -> Result<NewCode, AwsError> {
        if image.is_some() {
            return Err(invalid_param(
                "Stratus runs Zip functions only; container image functions (ImageUri) are not supported.",
            ));
        }
        if let Some(zip) = zip {
            if zip.0.len() > 50 * 1024 * 1024 {
                return Err(AwsError::new(
                    "RequestTooLargeException",
                    "Request must be smaller than 70167211 bytes for the CreateFunction operation",
                ));
            }
            let stored = code::store_zip(&self.code_dir(), &zip.0)?;
            return Ok(NewCode {
                code: CodeRef::Zip { sha: stored.sha },
                sha_b64: stored.sha_b64,
                size: stored.size,
            });
        }
        match (bucket, key) {
            (Some(LOCAL_CODE_BUCKET), Some(dir)) => {
                let path = std::path::Path::new(dir);
                if !path.is_absolute() || !path.is_dir() {
                    return Err(invalid_param(format!(
                        "Local code mode (S3Bucket {LOCAL_CODE_BUCKET}) needs S3Key to be an absolute path of an existing directory: {dir}"
                    )));
                }
                let (sha, _) = code::sha256_b64(dir.as_bytes());
                let (_, sha_b64) = code::sha256_b64(sha.as_bytes());
                Ok(NewCode {
                    code: CodeRef::Local {
                        dir: dir.to_string(),
                    },
                    sha_b64,
                    size: 0,
                })
            }
            (Some(bucket), Some(key)) => Err(invalid_param(format!(
                "Error occurred while GetObject. S3 Error Code: NoSuchBucket. S3 Error Message: The specified bucket does not exist (bucket {bucket}, key {key}: Stratus has no S3 yet; upload the package as ZipFile, or use S3Bucket \"{LOCAL_CODE_BUCKET}\" with an absolute directory as S3Key)"
            ))),
            _ => Err(invalid_param("Please provide a source for function code.")),
        }
    }

    pub(crate) fn check_layers(&self, layers: &[String]) -> Result<Vec<Layer>, AwsError> {
        if layers.len() > 5 {
            return Err(invalid_param("Cannot reference more than 5 layers."));
        }
        let all = self.layers.lock();
        let mut out = Vec::new();
        for arn in layers {
            let found = parse_layer_version_arn(arn).and_then(|(acct, region, name, v)| {
                all.get(&crate::names::function_key(&acct, &region, &name))
                    .and_then(|l| l.versions.get(&v))
                    .map(|lv| lv.code_size)
            });
            match found {
                Some(size) => out.push(Layer {
                    arn: Some(arn.clone()),
                    code_size: Some(size),
                    ..Default::default()
                }),
                None => {
                    return Err(invalid_param(format!(
                        "Layer version {arn} does not exist."
                    )));
                }
            }
        }
        Ok(out)
    }

    pub(crate) async fn op_create_function(
        &self,
        ctx: &RequestContext,
        input: CreateFunctionRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        if f.qualifier.is_some() {
            return Err(invalid_param(
                "Function name cannot be qualified when creating a function.",
            ));
        }
        if input.package_type.as_deref() == Some("Image") {
            return Err(invalid_param(
                "Stratus runs Zip functions only; PackageType Image is not supported.",
            ));
        }
        let (Some(runtime), Some(handler)) = (input.runtime.clone(), input.handler.clone()) else {
            return Err(invalid_param(
                "Runtime and Handler are mandatory parameters for functions created with deployment packages.",
            ));
        };
        runtimes::check_supported(&runtime)?;
        validate_common(
            input.timeout,
            input.environment.as_ref(),
            input.ephemeral_storage.as_ref(),
            input.architectures.as_deref(),
        )?;
        if let Some(csc) = &input.code_signing_config_arn {
            self.check_csc_exists(ctx, csc)?;
        }
        if self.functions.read().contains_key(&f.key()) {
            return Err(conflict(format!("Function already exist: {}", f.name)));
        }
        let layers = match &input.layers {
            Some(l) => Some(self.check_layers(l)?),
            None => None,
        };
        let code = self.resolve_code(
            input.code.zip_file.as_ref(),
            input.code.s3_bucket.as_deref(),
            input.code.s3_key.as_deref(),
            input.code.image_uri.as_deref(),
        )?;
        let arn = f.arn();
        let mut config = FunctionConfiguration {
            function_name: Some(f.name.clone()),
            function_arn: Some(arn.clone()),
            runtime: Some(runtime.clone()),
            role: Some(input.role.clone()),
            handler: Some(handler),
            code_size: Some(code.size),
            description: Some(input.description.clone().unwrap_or_default()),
            timeout: Some(input.timeout.unwrap_or(3)),
            memory_size: Some(input.memory_size.unwrap_or(128)),
            last_modified: Some(now_last_modified()),
            code_sha256: Some(code.sha_b64.clone()),
            version: Some("$LATEST".into()),
            environment: input.environment.as_ref().map(|e| EnvironmentResponse {
                variables: Some(e.variables.clone().unwrap_or_default()),
                error: None,
            }),
            dead_letter_config: input.dead_letter_config.clone(),
            kms_key_arn: input.kms_key_arn.clone(),
            tracing_config: Some(TracingConfigResponse {
                mode: Some(
                    input
                        .tracing_config
                        .as_ref()
                        .and_then(|t| t.mode.clone())
                        .unwrap_or_else(|| "PassThrough".into()),
                ),
            }),
            revision_id: Some(new_revision()),
            layers,
            package_type: Some("Zip".into()),
            architectures: Some(
                input
                    .architectures
                    .clone()
                    .unwrap_or_else(|| vec!["x86_64".into()]),
            ),
            ephemeral_storage: Some(
                input
                    .ephemeral_storage
                    .clone()
                    .unwrap_or(EphemeralStorage { size: 512 }),
            ),
            snap_start: Some(SnapStartResponse {
                apply_on: Some("None".into()),
                optimization_status: Some("Off".into()),
            }),
            runtime_version_config: Some(RuntimeVersionConfig {
                runtime_version_arn: Some(runtimes::runtime_version_arn(&ctx.region, &runtime)),
                error: None,
            }),
            logging_config: Some(logging_config(input.logging_config.as_ref(), &f.name)),
            vpc_config: input.vpc_config.as_ref().map(|v| VpcConfigResponse {
                subnet_ids: v.subnet_ids.clone(),
                security_group_ids: v.security_group_ids.clone(),
                ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack,
                vpc_id: Some(String::new()),
            }),
            file_system_configs: input.file_system_configs.clone(),
            ..Default::default()
        };
        set_runtime_state(&mut config, &runtime);
        let mut rec = FunctionRec {
            account: f.account.clone(),
            region: f.region.clone(),
            name: f.name.clone(),
            latest: VersionRec {
                config: config.clone(),
                code: code.code,
            },
            versions: BTreeMap::new(),
            last_version: 0,
            aliases: BTreeMap::new(),
            policies: BTreeMap::new(),
            policy_revision: BTreeMap::new(),
            reserved: None,
            provisioned: BTreeMap::new(),
            invoke_configs: BTreeMap::new(),
            urls: BTreeMap::new(),
            tags: input.tags.clone().unwrap_or_default(),
            code_signing_config: input.code_signing_config_arn.clone(),
            recursion: None,
        };
        let mut response = config;
        if input.publish == Some(true) {
            response = publish(&mut rec, None);
        }
        {
            let mut all = self.functions.write();
            if all.contains_key(&f.key()) {
                return Err(conflict(format!("Function already exist: {}", f.name)));
            }
            all.insert(f.key(), Arc::new(Mutex::new(rec.clone())));
        }
        if let Err(e) = self.save_function(&rec).await {
            self.functions.write().remove(&f.key());
            return Err(e);
        }
        // As on AWS, the create response reports the function still being set
        // up; every later read sees it Active (or Failed).
        if response.state.as_deref() == Some("Active") {
            response.state = Some("Pending".into());
            response.state_reason = Some("The function is being created.".into());
            response.state_reason_code = Some("Creating".into());
        }
        response.last_update_status = None;
        Ok(response)
    }

    /// The configuration a qualifier selects (`$LATEST`, a version or an alias).
    pub(crate) fn config_for(
        rec: &FunctionRec,
        f: &FunctionRef,
    ) -> Result<FunctionConfiguration, AwsError> {
        let q = f.qualifier.as_deref().unwrap_or("$LATEST");
        if let Some(v) = rec.version(q) {
            return Ok(v.config.clone());
        }
        if let Some(alias) = rec.aliases.get(q) {
            let v = alias.function_version.as_deref().unwrap_or("$LATEST");
            if let Some(v) = rec.version(v) {
                let mut c = v.config.clone();
                c.function_arn = Some(qualified_arn(&f.region, &f.account, &f.name, q));
                return Ok(c);
            }
        }
        Err(function_not_found(&qualified_arn(
            &f.region, &f.account, &f.name, q,
        )))
    }

    pub(crate) async fn op_get_function(
        &self,
        ctx: &RequestContext,
        input: GetFunctionRequest,
    ) -> Result<GetFunctionResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let rec = rec.lock().clone();
        let config = Self::config_for(&rec, &f)?;
        let q = f.qualifier.as_deref().unwrap_or("$LATEST");
        let code_ref = rec
            .version(q)
            .or_else(|| {
                rec.aliases
                    .get(q)
                    .and_then(|a| rec.version(a.function_version.as_deref().unwrap_or("")))
            })
            .map(|v| v.code.clone());
        let endpoint = self
            .endpoint
            .get()
            .cloned()
            .unwrap_or_else(|| ctx.endpoint.clone());
        let location = match code_ref {
            Some(CodeRef::Zip { sha }) => {
                Some(format!("{endpoint}/_stratus/lambda/code/{sha}.zip"))
            }
            Some(CodeRef::Local { dir }) => Some(format!("file://{dir}")),
            _ => None,
        };
        Ok(GetFunctionResponse {
            configuration: Some(config),
            code: Some(FunctionCodeLocation {
                repository_type: Some("S3".into()),
                location,
                ..Default::default()
            }),
            tags: (!rec.tags.is_empty()).then(|| rec.tags.clone()),
            concurrency: rec.reserved.map(|r| Concurrency {
                reserved_concurrent_executions: Some(r),
            }),
            ..Default::default()
        })
    }

    pub(crate) async fn op_get_function_configuration(
        &self,
        ctx: &RequestContext,
        input: GetFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let rec = rec.lock();
        Self::config_for(&rec, &f)
    }

    pub(crate) async fn op_list_functions(
        &self,
        ctx: &RequestContext,
        input: ListFunctionsRequest,
    ) -> Result<ListFunctionsResponse, AwsError> {
        let prefix = format!("{}/{}/", ctx.account_id, ctx.region);
        let mut recs: Vec<(String, Arc<Mutex<FunctionRec>>)> = self
            .functions
            .read()
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        recs.sort_by(|a, b| a.0.cmp(&b.0));
        let all_versions = input.function_version.as_deref() == Some("ALL");
        let mut items = Vec::new();
        for (_, r) in recs {
            let r = r.lock();
            items.push(r.latest.config.clone());
            if all_versions {
                items.extend(r.versions.values().map(|v| v.config.clone()));
            }
        }
        let (page, next) = paginate(items, input.marker.as_deref(), input.max_items)?;
        Ok(ListFunctionsResponse {
            functions: Some(page),
            next_marker: next,
        })
    }

    pub(crate) async fn op_delete_function(
        &self,
        ctx: &RequestContext,
        input: DeleteFunctionRequest,
    ) -> Result<DeleteFunctionResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        match f.qualifier.as_deref() {
            None | Some("$LATEST") => {
                let removed = self.functions.write().remove(&f.key());
                if removed.is_none() {
                    return Err(function_not_found(&f.arn()));
                }
                if self.durable {
                    self.apply(vec![persist::delete(T_FUNCTIONS, &f.key())])
                        .await?;
                }
                self.envs.discard_function(&f.key());
            }
            Some(q) if is_version_number(q) => {
                let snapshot = {
                    let mut r = rec.lock();
                    let n: u64 = q.parse().unwrap_or_default();
                    if let Some(alias) = r
                        .aliases
                        .values()
                        .find(|a| a.function_version.as_deref() == Some(q))
                    {
                        // AWS refuses while an alias points at the version.
                        return Err(conflict(format!(
                            "Unable to delete version because the following aliases reference it: [{}]",
                            alias.name.clone().unwrap_or_default()
                        )));
                    }
                    if r.versions.remove(&n).is_none() {
                        return Err(function_not_found(&qualified_arn(
                            &f.region, &f.account, &f.name, q,
                        )));
                    }
                    r.clone()
                };
                self.save_function(&snapshot).await?;
                self.envs.discard_version(&f.key(), q);
            }
            Some(_) => {
                return Err(invalid_param(
                    "Deletion of aliases is not currently supported.",
                ));
            }
        }
        Ok(DeleteFunctionResponse {
            status_code: Some(204),
        })
    }

    pub(crate) async fn op_update_function_code(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionCodeRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let code = self.resolve_code(
            input.zip_file.as_ref(),
            input.s3_bucket.as_deref(),
            input.s3_key.as_deref(),
            input.image_uri.as_deref(),
        )?;
        if input.dry_run == Some(true) {
            let mut c = rec.lock().latest.config.clone();
            c.code_sha256 = Some(code.sha_b64);
            c.code_size = Some(code.size);
            return Ok(c);
        }
        let (snapshot, mut response) = {
            let mut r = rec.lock();
            check_revision(input.revision_id.as_deref(), &r.latest.config)?;
            let c = &mut r.latest.config;
            c.code_sha256 = Some(code.sha_b64);
            c.code_size = Some(code.size);
            if let Some(a) = &input.architectures {
                c.architectures = Some(a.clone());
            }
            c.last_modified = Some(now_last_modified());
            c.revision_id = Some(new_revision());
            r.latest.code = code.code;
            let response = if input.publish == Some(true) {
                publish(&mut r, None)
            } else {
                r.latest.config.clone()
            };
            (r.clone(), response)
        };
        self.save_function(&snapshot).await?;
        self.envs.discard_version(&f.key(), "$LATEST");
        if response.version.as_deref() == Some("$LATEST") {
            in_progress(&mut response);
        }
        Ok(response)
    }

    pub(crate) async fn op_update_function_configuration(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionConfigurationRequest,
    ) -> Result<FunctionConfiguration, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        validate_common(
            input.timeout,
            input.environment.as_ref(),
            input.ephemeral_storage.as_ref(),
            None,
        )?;
        if let Some(r) = &input.runtime {
            runtimes::check_supported(r)?;
        }
        let layers = match &input.layers {
            Some(l) => Some(self.check_layers(l)?),
            None => None,
        };
        let (snapshot, mut response) = {
            let mut r = rec.lock();
            check_revision(input.revision_id.as_deref(), &r.latest.config)?;
            let name = r.name.clone();
            let c = &mut r.latest.config;
            if let Some(v) = &input.role {
                c.role = Some(v.clone());
            }
            if let Some(v) = &input.handler {
                c.handler = Some(v.clone());
            }
            if let Some(v) = &input.description {
                c.description = Some(v.clone());
            }
            if let Some(v) = input.timeout {
                c.timeout = Some(v);
            }
            if let Some(v) = input.memory_size {
                c.memory_size = Some(v);
            }
            if let Some(v) = &input.environment {
                c.environment = Some(EnvironmentResponse {
                    variables: Some(v.variables.clone().unwrap_or_default()),
                    error: None,
                });
            }
            if let Some(v) = &input.runtime {
                c.runtime = Some(v.clone());
                c.runtime_version_config = Some(RuntimeVersionConfig {
                    runtime_version_arn: Some(runtimes::runtime_version_arn(&ctx.region, v)),
                    error: None,
                });
            }
            if let Some(v) = &input.dead_letter_config {
                c.dead_letter_config = Some(v.clone());
            }
            if let Some(v) = &input.kms_key_arn {
                c.kms_key_arn = Some(v.clone());
            }
            if let Some(v) = &input.tracing_config {
                c.tracing_config = Some(TracingConfigResponse {
                    mode: v.mode.clone(),
                });
            }
            if layers.is_some() {
                c.layers = layers.clone().filter(|l| !l.is_empty());
            }
            if let Some(v) = &input.ephemeral_storage {
                c.ephemeral_storage = Some(v.clone());
            }
            if let Some(v) = &input.logging_config {
                c.logging_config = Some(logging_config(Some(v), &name));
            }
            if let Some(v) = &input.file_system_configs {
                c.file_system_configs = Some(v.clone());
            }
            if let Some(v) = &input.vpc_config {
                c.vpc_config = Some(VpcConfigResponse {
                    subnet_ids: v.subnet_ids.clone(),
                    security_group_ids: v.security_group_ids.clone(),
                    ipv6_allowed_for_dual_stack: v.ipv6_allowed_for_dual_stack,
                    vpc_id: Some(String::new()),
                });
            }
            let runtime = c.runtime.clone().unwrap_or_default();
            set_runtime_state(c, &runtime);
            c.last_modified = Some(now_last_modified());
            c.revision_id = Some(new_revision());
            (r.clone(), r.latest.config.clone())
        };
        self.save_function(&snapshot).await?;
        self.envs.discard_version(&f.key(), "$LATEST");
        in_progress(&mut response);
        Ok(response)
    }
}

/// How an update response looks while AWS is still applying it.
fn in_progress(c: &mut FunctionConfiguration) {
    c.last_update_status = Some("InProgress".into());
    c.last_update_status_reason = Some("The function is being created.".into());
    c.last_update_status_reason_code = Some("Creating".into());
}

pub(crate) fn check_revision(
    given: Option<&str>,
    c: &FunctionConfiguration,
) -> Result<(), AwsError> {
    if let Some(g) = given
        && c.revision_id.as_deref() != Some(g)
    {
        return Err(precondition(
            "The Revision Id provided does not match the latest Revision Id. Call the GetFunction/GetAlias API to retrieve the latest Revision Id",
        ));
    }
    Ok(())
}

/// Active, or Failed with a reason when Stratus cannot run the runtime here.
fn set_runtime_state(c: &mut FunctionConfiguration, runtime: &str) {
    c.last_update_status = Some("Successful".into());
    c.last_update_status_reason = None;
    c.last_update_status_reason_code = None;
    match runtimes::resolve(runtime) {
        Ok(_) => {
            c.state = Some("Active".into());
            c.state_reason = None;
            c.state_reason_code = None;
        }
        Err(reason) => {
            c.state = Some("Failed".into());
            c.state_reason = Some(reason);
            c.state_reason_code = Some("InvalidRuntime".into());
        }
    }
}

fn logging_config(given: Option<&LoggingConfig>, name: &str) -> LoggingConfig {
    let mut lc = given.cloned().unwrap_or_default();
    if lc.log_format.is_none() {
        lc.log_format = Some("Text".into());
    }
    if lc.log_group.is_none() {
        lc.log_group = Some(format!("/aws/lambda/{name}"));
    }
    if lc.log_format.as_deref() == Some("JSON") {
        lc.application_log_level
            .get_or_insert_with(|| "INFO".into());
        lc.system_log_level.get_or_insert_with(|| "INFO".into());
    }
    lc
}

fn validate_common(
    timeout: Option<i32>,
    env: Option<&Environment>,
    storage: Option<&EphemeralStorage>,
    architectures: Option<&[String]>,
) -> Result<(), AwsError> {
    if let Some(t) = timeout
        && t > 900
    {
        return Err(crate::errors::validation(format!(
            "1 validation error detected: Value '{t}' at 'timeout' failed to satisfy constraint: Member must have value less than or equal to 900"
        )));
    }
    if let Some(s) = storage
        && !(512..=10240).contains(&s.size)
    {
        return Err(crate::errors::validation(format!(
            "1 validation error detected: Value '{}' at 'ephemeralStorage.size' failed to satisfy constraint: Member must have value {} to 10240",
            s.size,
            if s.size < 512 {
                "greater than or equal to 512 and less than or equal"
            } else {
                "less than or equal"
            }
        )));
    }
    if let Some(a) = architectures
        && a.len() != 1
    {
        return Err(crate::errors::validation(
            "1 validation error detected: Value at 'architectures' failed to satisfy constraint: Member must have length less than or equal to 1",
        ));
    }
    if let Some(vars) = env.and_then(|e| e.variables.as_ref()) {
        let reserved: Vec<&str> = vars
            .keys()
            .filter(|k| RESERVED_ENV.contains(&k.as_str()))
            .map(String::as_str)
            .collect();
        if !reserved.is_empty() {
            return Err(invalid_param(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided contains reserved keys that are currently not supported for modification. Reserved keys used in this request: {}",
                reserved.join(", ")
            )));
        }
        let text = serde_json::to_string(vars).unwrap_or_default();
        if text.len() > ENV_LIMIT {
            return Err(invalid_param(format!(
                "Lambda was unable to configure your environment variables because the environment variables you have provided exceeded the 4KB limit. String measured: {text}"
            )));
        }
    }
    Ok(())
}

/// Publish `$LATEST` as a new version unless it is unchanged since the last
/// one (then the last version is returned, as AWS does).
pub(crate) fn publish(rec: &mut FunctionRec, description: Option<String>) -> FunctionConfiguration {
    if let Some((_, last)) = rec.versions.iter().next_back()
        && same_code_and_config(&last.config, &rec.latest.config)
    {
        return last.config.clone();
    }
    rec.last_version += 1;
    let n = rec.last_version;
    let mut config = rec.latest.config.clone();
    config.version = Some(n.to_string());
    config.function_arn = Some(qualified_arn(
        &rec.region,
        &rec.account,
        &rec.name,
        &n.to_string(),
    ));
    config.revision_id = Some(new_revision());
    config.last_modified = Some(now_last_modified());
    config.last_update_status = Some("Successful".into());
    if let Some(d) = description {
        config.description = Some(d);
    }
    rec.versions.insert(
        n,
        VersionRec {
            config: config.clone(),
            code: rec.latest.code.clone(),
        },
    );
    // The unpublished $LATEST gets a new revision too.
    rec.latest.config.revision_id = Some(new_revision());
    config
}

fn same_code_and_config(a: &FunctionConfiguration, b: &FunctionConfiguration) -> bool {
    let norm = |c: &FunctionConfiguration| {
        let mut c = c.clone();
        c.version = None;
        c.function_arn = None;
        c.revision_id = None;
        c.last_modified = None;
        c.description = None;
        c.state = None;
        c.last_update_status = None;
        c.last_update_status_reason = None;
        c.last_update_status_reason_code = None;
        c
    };
    norm(a) == norm(b)
}

/// Marker-based paging: the marker is the index of the next item.
pub(crate) fn paginate<T>(
    items: Vec<T>,
    marker: Option<&str>,
    max_items: Option<i32>,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let start = match marker {
        Some(m) => m
            .parse::<usize>()
            .map_err(|_| invalid_param(format!("Invalid marker: {m}")))?,
        None => 0,
    };
    let max = max_items.unwrap_or(50).clamp(1, 10_000) as usize;
    let total = items.len();
    let page: Vec<T> = items.into_iter().skip(start).take(max).collect();
    let next = (start + max < total).then(|| (start + max).to_string());
    Ok((page, next))
}

pub(crate) fn unqualified_arn(f: &FunctionRef) -> String {
    function_arn(&f.region, &f.account, &f.name)
}

pub(crate) fn missing_qualifier(f: &FunctionRef, q: &str) -> AwsError {
    not_found(format!(
        "Function not found: {}",
        qualified_arn(&f.region, &f.account, &f.name, q)
    ))
}
