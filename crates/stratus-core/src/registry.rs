use std::collections::HashMap;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, OnceLock};

use serde_json::Value;
use stratus_model::ServiceModel;

use crate::{AwsError, RawHttpRequest, RawHttpResponse, RequestContext};

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One AWS service. Implementations know nothing of HTTP: they receive the
/// operation name and its validated input document and return the output document.
pub trait Service: Send + Sync + 'static {
    /// The model that drives parsing, validation and serialization.
    fn model(&self) -> &ServiceModel;

    /// For `awsQueryCompatible` services: the query-protocol edition of the model,
    /// which carries the query wire names and error codes.
    fn query_model(&self) -> Option<&ServiceModel> {
        None
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>>;

    /// The error code this service answers with when input breaks a model
    /// constraint (length, range, enum, required), where it differs from Coral's
    /// `ValidationException` (CloudWatch Logs: `InvalidParameterException`).
    /// The message keeps Coral's "1 validation error detected: ..." text.
    fn validation_error_code(&self) -> Option<&'static str> {
        None
    }

    /// Health line for `/_stratus/health`.
    fn status(&self) -> &'static str {
        "running"
    }

    /// Called once on shutdown, after the last request finished: flush state.
    fn shutdown(&self) {}

    /// Read-only documents a service serves over plain HTTP GET at
    /// `/_stratus/<service>/<path>` (for example the SNS signing certificate):
    /// `(content type, body)`, or `None` for 404. `path` has no leading slash;
    /// `query` is the raw query string.
    fn internal_get(&self, _path: &str, _query: &str) -> Option<(String, Vec<u8>)> {
        None
    }

    /// Whether raw HTTP for `host` (the `Host` header without its port) is
    /// this service's: the front then hands such requests, whatever their
    /// path, to [`Service::raw_http`] instead of the AWS API router. Called on
    /// every request, so keep it a cheap string test.
    fn owns_host(&self, _host: &str) -> bool {
        false
    }

    /// Answer a raw HTTP request addressed to a host this service owns, or to
    /// `/_stratus/<service>/...` with any method. `None` means "not mine":
    /// path-form GETs then fall back to [`Service::internal_get`], the rest
    /// get a 404.
    fn raw_http<'a>(&'a self, _req: RawHttpRequest) -> BoxFuture<'a, Option<RawHttpResponse>> {
        Box::pin(async { None })
    }
}

/// All services of one Stratus process, by signing name (`sqs`, `sts`, ...).
///
/// This is the internal interface: the HTTP front and services calling each
/// other use the same [`Registry::call`].
#[derive(Default)]
pub struct Registry {
    services: HashMap<String, Arc<dyn Service>>,
}

impl Registry {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn register(&mut self, name: impl Into<String>, service: Arc<dyn Service>) {
        self.services.insert(name.into(), service);
    }

    pub fn get(&self, name: &str) -> Option<&Arc<dyn Service>> {
        self.services.get(name)
    }

    pub fn services(&self) -> impl Iterator<Item = (&String, &Arc<dyn Service>)> {
        self.services.iter()
    }

    pub async fn call(
        &self,
        service: &str,
        ctx: &RequestContext,
        operation: &str,
        input: Value,
    ) -> Result<Value, AwsError> {
        let svc = self
            .services
            .get(service)
            .ok_or_else(|| AwsError::internal(format!("service {service} is not enabled")))?;
        svc.call(ctx, operation, input).await
    }
}

/// A late-bound handle to the registry, for services that call other services
/// (the registry is built after them).
#[derive(Clone, Default)]
pub struct RegistryHandle(Arc<OnceLock<Arc<Registry>>>);

impl RegistryHandle {
    pub fn set(&self, registry: Arc<Registry>) {
        let _ = self.0.set(registry);
    }
    pub fn get(&self) -> Option<&Arc<Registry>> {
        self.0.get()
    }
}
