//! `LambdaService`: state of every account and region, start-up loading, and
//! the `Service` / `LambdaApi` glue. Operations live in the `ops_*` modules.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, OnceLock, Weak};

use parking_lot::{Mutex, RwLock};
use serde_json::Value;
use stratus_core::{
    AwsError, BoxFuture, RawHttpRequest, RawHttpResponse, RegistryHandle, RequestContext, Service,
};
use stratus_model::ServiceModel;
use stratus_store::{Store, Write};

use crate::envs::EnvManager;
use crate::errors::{function_not_found, store_error};
use crate::generated::{self, *};
use crate::logs::LogShipper;
use crate::names::{FunctionRef, function_key};
use crate::persist::{self, T_ASYNC, T_CSC, T_ESM, T_FUNCTIONS, T_LAYERS};
use crate::state::{AsyncRec, EsmRec, FunctionRec, LayerRec};

const MODEL_JSON: &str = include_str!("../../../models/lambda/service-2.json");

/// Where Lambda keeps files and how it reaches Stratus.
#[derive(Debug, Clone)]
pub struct LambdaConfig {
    /// `<data-dir>/lambda`: code zips, unpacked trees, runtime clients,
    /// per-environment temp directories.
    pub data_dir: PathBuf,
    /// Remove `data_dir` on shutdown (memory store).
    pub ephemeral: bool,
    /// Scale factor for the asynchronous retry delays (1.0 = AWS's ~1 and ~2
    /// minutes). Read from `STRATUS_LAMBDA_ASYNC_RETRY_SCALE` by
    /// [`LambdaConfig::new`]; tests lower it.
    pub async_retry_scale: f64,
}

impl LambdaConfig {
    /// Lambda's directory inside a Stratus data directory.
    pub fn dir_in(stratus_data_dir: &std::path::Path) -> PathBuf {
        stratus_data_dir.join("lambda")
    }

    /// The configuration for a Stratus data directory (`<data_dir>/lambda`).
    pub fn new(data_dir: impl Into<PathBuf>, ephemeral: bool) -> Self {
        let async_retry_scale = std::env::var("STRATUS_LAMBDA_ASYNC_RETRY_SCALE")
            .ok()
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| *v >= 0.0)
            .unwrap_or(1.0);
        LambdaConfig {
            data_dir: data_dir.into(),
            ephemeral,
            async_retry_scale,
        }
    }
}

/// AWS Lambda.
pub struct LambdaService {
    model: ServiceModel,
    pub(crate) store: Arc<dyn Store>,
    pub(crate) durable: bool,
    pub(crate) registry: RegistryHandle,
    pub(crate) cfg: LambdaConfig,
    pub(crate) functions: RwLock<HashMap<String, Arc<Mutex<FunctionRec>>>>,
    pub(crate) layers: Mutex<HashMap<String, LayerRec>>,
    pub(crate) esms: Mutex<HashMap<String, EsmRec>>,
    /// Code signing configurations by ARN.
    pub(crate) cscs: Mutex<HashMap<String, crate::csc::CscRec>>,
    pub(crate) envs: EnvManager,
    pub(crate) logs: LogShipper,
    pub(crate) endpoint: OnceLock<String>,
    pub(crate) me: Weak<LambdaService>,
    pub(crate) pollers: Mutex<HashMap<String, tokio::task::JoinHandle<()>>>,
    pub(crate) async_queue: crate::asyncq::AsyncQueue,
    /// In-flight invocations per function key and per `account/region`.
    pub(crate) inflight: Mutex<HashMap<String, i32>>,
}

impl LambdaService {
    /// Load state from `store`; `registry` reaches SQS, SNS, EventBridge and
    /// CloudWatch Logs once the server is up.
    pub fn new(
        store: Arc<dyn Store>,
        registry: RegistryHandle,
        cfg: LambdaConfig,
    ) -> Result<Arc<Self>, AwsError> {
        let model = ServiceModel::from_json(MODEL_JSON)
            .map_err(|e| AwsError::internal(format!("lambda model: {e}")))?;
        std::fs::create_dir_all(&cfg.data_dir)
            .map_err(|e| AwsError::internal(format!("creating {}: {e}", cfg.data_dir.display())))?;
        crate::runtimes::install_clients(&cfg.data_dir)
            .map_err(|e| AwsError::internal(format!("writing the runtime clients: {e}")))?;
        let durable = store.is_durable();
        let mut functions = HashMap::new();
        let mut layers = HashMap::new();
        let mut esms = HashMap::new();
        let mut cscs = HashMap::new();
        let mut pending_async = Vec::new();
        if durable {
            for (_, v) in store.scan(T_FUNCTIONS).map_err(store_error)? {
                if let Some(rec) = persist::decode::<FunctionRec>(&v) {
                    let key = function_key(&rec.account, &rec.region, &rec.name);
                    functions.insert(key, Arc::new(Mutex::new(rec)));
                }
            }
            for (_, v) in store.scan(T_LAYERS).map_err(store_error)? {
                if let Some(rec) = persist::decode::<LayerRec>(&v) {
                    let key = function_key(&rec.account, &rec.region, &rec.name);
                    layers.insert(key, rec);
                }
            }
            for (k, v) in store.scan(T_ESM).map_err(store_error)? {
                if let Some(rec) = persist::decode::<EsmRec>(&v) {
                    esms.insert(String::from_utf8_lossy(&k).into_owned(), rec);
                }
            }
            for (k, v) in store.scan(T_CSC).map_err(store_error)? {
                if let Some(rec) = persist::decode::<crate::csc::CscRec>(&v) {
                    cscs.insert(String::from_utf8_lossy(&k).into_owned(), rec);
                }
            }
            for (_, v) in store.scan(T_ASYNC).map_err(store_error)? {
                if let Some(rec) = persist::decode::<AsyncRec>(&v) {
                    pending_async.push(rec);
                }
            }
        }
        let svc = Arc::new_cyclic(|me: &Weak<LambdaService>| LambdaService {
            model,
            store,
            durable,
            registry: registry.clone(),
            envs: EnvManager::new(cfg.data_dir.clone()),
            logs: LogShipper::new(registry),
            cfg,
            functions: RwLock::new(functions),
            layers: Mutex::new(layers),
            esms: Mutex::new(esms),
            cscs: Mutex::new(cscs),
            endpoint: OnceLock::new(),
            me: me.clone(),
            pollers: Mutex::new(HashMap::new()),
            async_queue: crate::asyncq::AsyncQueue::default(),
            inflight: Mutex::new(HashMap::new()),
        });
        svc.start_background(pending_async);
        Ok(svc)
    }

    /// The URL functions use to reach Stratus (`AWS_ENDPOINT_URL`); set once
    /// the listener is bound.
    pub fn set_endpoint(&self, url: impl Into<String>) {
        let _ = self.endpoint.set(url.into());
    }

    fn start_background(&self, pending_async: Vec<AsyncRec>) {
        // Background work needs a runtime; constructing the service outside one
        // (unit tests of pure parts) just skips it.
        if tokio::runtime::Handle::try_current().is_err() {
            return;
        }
        if let Some(me) = self.me.upgrade() {
            crate::asyncq::start(&me, pending_async);
            crate::esm::start_all(&me);
            crate::envs::start_reaper(&me);
        }
    }

    pub(crate) fn function(&self, f: &FunctionRef) -> Result<Arc<Mutex<FunctionRec>>, AwsError> {
        self.functions
            .read()
            .get(&f.key())
            .cloned()
            .ok_or_else(|| function_not_found(&f.arn()))
    }

    /// Write the function's record through the store (before acknowledging).
    pub(crate) async fn save_function(&self, rec: &FunctionRec) -> Result<(), AwsError> {
        if !self.durable {
            return Ok(());
        }
        let key = function_key(&rec.account, &rec.region, &rec.name);
        self.apply(vec![persist::put(T_FUNCTIONS, &key, rec)]).await
    }

    pub(crate) async fn apply(&self, writes: Vec<Write>) -> Result<(), AwsError> {
        if !self.durable || writes.is_empty() {
            return Ok(());
        }
        self.store.apply(writes).await.map_err(store_error)
    }

    pub(crate) fn code_dir(&self) -> PathBuf {
        self.cfg.data_dir.clone()
    }
}

impl Service for LambdaService {
    fn model(&self) -> &ServiceModel {
        &self.model
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        if operation == "InvokeWithResponseStream" {
            return Box::pin(async move {
                generated::dispatch(self, ctx, operation, input)
                    .await
                    .map(crate::stream::split_chunks)
            });
        }
        Box::pin(generated::dispatch(self, ctx, operation, input))
    }

    fn shutdown(&self) {
        for (_, h) in self.pollers.lock().drain() {
            h.abort();
        }
        self.envs.shutdown_all();
        self.logs.flush_now();
        if self.cfg.ephemeral {
            let _ = std::fs::remove_dir_all(&self.cfg.data_dir);
        }
    }

    fn owns_host(&self, host: &str) -> bool {
        crate::url_http::url_id_of_host(host).is_some()
    }

    /// Function URLs: `<url-id>.lambda-url.<region>.localhost` or
    /// `/_stratus/lambda/url/<url-id>/...`.
    fn raw_http<'a>(&'a self, req: RawHttpRequest) -> BoxFuture<'a, Option<RawHttpResponse>> {
        Box::pin(self.serve_url(req))
    }

    fn internal_get(&self, path: &str, _query: &str) -> Option<(String, Vec<u8>)> {
        // `code/<sha>.zip`: the download location GetFunction hands out.
        let sha = path.strip_prefix("code/")?.strip_suffix(".zip")?;
        if sha.len() != 64 || !sha.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        crate::code::read_zip(&self.cfg.data_dir, sha)
            .ok()
            .map(|b| ("application/zip".to_string(), b))
    }
}

macro_rules! ops {
    ($($method:ident($req:ty) -> $resp:ty => $imp:ident;)*) => {
        impl LambdaApi for LambdaService {
            $(
                async fn $method(&self, ctx: &RequestContext, input: $req) -> Result<$resp, AwsError> {
                    self.$imp(ctx, input).await
                }
            )*
        }
    };
}

ops! {
    create_function(CreateFunctionRequest) -> FunctionConfiguration => op_create_function;
    get_function(GetFunctionRequest) -> GetFunctionResponse => op_get_function;
    get_function_configuration(GetFunctionConfigurationRequest) -> FunctionConfiguration => op_get_function_configuration;
    list_functions(ListFunctionsRequest) -> ListFunctionsResponse => op_list_functions;
    delete_function(DeleteFunctionRequest) -> DeleteFunctionResponse => op_delete_function;
    update_function_code(UpdateFunctionCodeRequest) -> FunctionConfiguration => op_update_function_code;
    update_function_configuration(UpdateFunctionConfigurationRequest) -> FunctionConfiguration => op_update_function_configuration;
    publish_version(PublishVersionRequest) -> FunctionConfiguration => op_publish_version;
    list_versions_by_function(ListVersionsByFunctionRequest) -> ListVersionsByFunctionResponse => op_list_versions_by_function;
    create_alias(CreateAliasRequest) -> AliasConfiguration => op_create_alias;
    get_alias(GetAliasRequest) -> AliasConfiguration => op_get_alias;
    update_alias(UpdateAliasRequest) -> AliasConfiguration => op_update_alias;
    delete_alias(DeleteAliasRequest) -> () => op_delete_alias;
    list_aliases(ListAliasesRequest) -> ListAliasesResponse => op_list_aliases;
    publish_layer_version(PublishLayerVersionRequest) -> PublishLayerVersionResponse => op_publish_layer_version;
    get_layer_version(GetLayerVersionRequest) -> GetLayerVersionResponse => op_get_layer_version;
    get_layer_version_by_arn(GetLayerVersionByArnRequest) -> GetLayerVersionResponse => op_get_layer_version_by_arn;
    list_layers(ListLayersRequest) -> ListLayersResponse => op_list_layers;
    list_layer_versions(ListLayerVersionsRequest) -> ListLayerVersionsResponse => op_list_layer_versions;
    delete_layer_version(DeleteLayerVersionRequest) -> () => op_delete_layer_version;
    add_layer_version_permission(AddLayerVersionPermissionRequest) -> AddLayerVersionPermissionResponse => op_add_layer_version_permission;
    remove_layer_version_permission(RemoveLayerVersionPermissionRequest) -> () => op_remove_layer_version_permission;
    get_layer_version_policy(GetLayerVersionPolicyRequest) -> GetLayerVersionPolicyResponse => op_get_layer_version_policy;
    add_permission(AddPermissionRequest) -> AddPermissionResponse => op_add_permission;
    remove_permission(RemovePermissionRequest) -> () => op_remove_permission;
    get_policy(GetPolicyRequest) -> GetPolicyResponse => op_get_policy;
    put_function_concurrency(PutFunctionConcurrencyRequest) -> Concurrency => op_put_function_concurrency;
    get_function_concurrency(GetFunctionConcurrencyRequest) -> GetFunctionConcurrencyResponse => op_get_function_concurrency;
    delete_function_concurrency(DeleteFunctionConcurrencyRequest) -> () => op_delete_function_concurrency;
    put_provisioned_concurrency_config(PutProvisionedConcurrencyConfigRequest) -> PutProvisionedConcurrencyConfigResponse => op_put_provisioned;
    get_provisioned_concurrency_config(GetProvisionedConcurrencyConfigRequest) -> GetProvisionedConcurrencyConfigResponse => op_get_provisioned;
    delete_provisioned_concurrency_config(DeleteProvisionedConcurrencyConfigRequest) -> () => op_delete_provisioned;
    list_provisioned_concurrency_configs(ListProvisionedConcurrencyConfigsRequest) -> ListProvisionedConcurrencyConfigsResponse => op_list_provisioned;
    put_function_event_invoke_config(PutFunctionEventInvokeConfigRequest) -> FunctionEventInvokeConfig => op_put_event_invoke_config;
    update_function_event_invoke_config(UpdateFunctionEventInvokeConfigRequest) -> FunctionEventInvokeConfig => op_update_event_invoke_config;
    get_function_event_invoke_config(GetFunctionEventInvokeConfigRequest) -> FunctionEventInvokeConfig => op_get_event_invoke_config;
    delete_function_event_invoke_config(DeleteFunctionEventInvokeConfigRequest) -> () => op_delete_event_invoke_config;
    list_function_event_invoke_configs(ListFunctionEventInvokeConfigsRequest) -> ListFunctionEventInvokeConfigsResponse => op_list_event_invoke_configs;
    tag_resource(TagResourceRequest) -> () => op_tag_resource;
    untag_resource(UntagResourceRequest) -> () => op_untag_resource;
    list_tags(ListTagsRequest) -> ListTagsResponse => op_list_tags;
    get_account_settings(GetAccountSettingsRequest) -> GetAccountSettingsResponse => op_get_account_settings;
    invoke(InvocationRequest) -> InvocationResponse => op_invoke;
    invoke_async(InvokeAsyncRequest) -> InvokeAsyncResponse => op_invoke_async;
    create_event_source_mapping(CreateEventSourceMappingRequest) -> EventSourceMappingConfiguration => op_create_esm;
    get_event_source_mapping(GetEventSourceMappingRequest) -> EventSourceMappingConfiguration => op_get_esm;
    update_event_source_mapping(UpdateEventSourceMappingRequest) -> EventSourceMappingConfiguration => op_update_esm;
    delete_event_source_mapping(DeleteEventSourceMappingRequest) -> EventSourceMappingConfiguration => op_delete_esm;
    list_event_source_mappings(ListEventSourceMappingsRequest) -> ListEventSourceMappingsResponse => op_list_esms;
    invoke_with_response_stream(InvokeWithResponseStreamRequest) -> InvokeWithResponseStreamResponse => op_invoke_stream;
    create_function_url_config(CreateFunctionUrlConfigRequest) -> CreateFunctionUrlConfigResponse => op_create_url;
    get_function_url_config(GetFunctionUrlConfigRequest) -> GetFunctionUrlConfigResponse => op_get_url;
    update_function_url_config(UpdateFunctionUrlConfigRequest) -> UpdateFunctionUrlConfigResponse => op_update_url;
    delete_function_url_config(DeleteFunctionUrlConfigRequest) -> () => op_delete_url;
    list_function_url_configs(ListFunctionUrlConfigsRequest) -> ListFunctionUrlConfigsResponse => op_list_urls;
    create_code_signing_config(CreateCodeSigningConfigRequest) -> CreateCodeSigningConfigResponse => op_create_csc;
    get_code_signing_config(GetCodeSigningConfigRequest) -> GetCodeSigningConfigResponse => op_get_csc;
    list_code_signing_configs(ListCodeSigningConfigsRequest) -> ListCodeSigningConfigsResponse => op_list_cscs;
    update_code_signing_config(UpdateCodeSigningConfigRequest) -> UpdateCodeSigningConfigResponse => op_update_csc;
    delete_code_signing_config(DeleteCodeSigningConfigRequest) -> DeleteCodeSigningConfigResponse => op_delete_csc;
    list_functions_by_code_signing_config(ListFunctionsByCodeSigningConfigRequest) -> ListFunctionsByCodeSigningConfigResponse => op_list_functions_by_csc;
    put_function_code_signing_config(PutFunctionCodeSigningConfigRequest) -> PutFunctionCodeSigningConfigResponse => op_put_function_csc;
    get_function_code_signing_config(GetFunctionCodeSigningConfigRequest) -> GetFunctionCodeSigningConfigResponse => op_get_function_csc;
    delete_function_code_signing_config(DeleteFunctionCodeSigningConfigRequest) -> () => op_delete_function_csc;
}
