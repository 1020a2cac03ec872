//! AWS Security Token Service, as far as tools need it before anything else.
//!
//! Supported: `GetCallerIdentity`. The caller is the account selected by the
//! access key (see the HTTP front); Stratus reports it as that account's root
//! user. Every other STS operation answers "not implemented" with its name.

mod generated;

use std::sync::{Arc, OnceLock};

use generated::{GetCallerIdentityRequest, GetCallerIdentityResponse, StsApi};
use stratus_core::{AwsError, BoxFuture, RequestContext, Service, Value};
use stratus_model::ServiceModel;

pub use generated::StsClient;

static MODEL: OnceLock<Option<ServiceModel>> = OnceLock::new();

fn model() -> Option<&'static ServiceModel> {
    MODEL
        .get_or_init(|| {
            ServiceModel::from_json(include_str!("../../../models/sts/service-2.json")).ok()
        })
        .as_ref()
}

pub struct StsService {
    model: &'static ServiceModel,
}

impl StsService {
    /// `None` only if the committed model is broken (a test guards against it).
    pub fn new() -> Option<Arc<Self>> {
        model().map(|model| Arc::new(Self { model }))
    }
}

impl StsApi for StsService {
    async fn get_caller_identity(
        &self,
        ctx: &RequestContext,
        _input: GetCallerIdentityRequest,
    ) -> Result<GetCallerIdentityResponse, AwsError> {
        Ok(GetCallerIdentityResponse {
            account: Some(ctx.account_id.clone()),
            arn: Some(format!("arn:aws:iam::{}:root", ctx.account_id)),
            user_id: Some(ctx.account_id.clone()),
        })
    }
}

impl Service for StsService {
    fn model(&self) -> &ServiceModel {
        self.model
    }

    fn call<'a>(
        &'a self,
        ctx: &'a RequestContext,
        operation: &'a str,
        input: Value,
    ) -> BoxFuture<'a, Result<Value, AwsError>> {
        Box::pin(generated::dispatch(self, ctx, operation, input))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_loads() {
        assert!(StsService::new().is_some());
    }

    #[tokio::test]
    async fn caller_identity_names_the_account() {
        let svc = StsService::new().unwrap_or_else(|| panic!("model"));
        let ctx = RequestContext::new("123456789012", "eu-west-1");
        let out = svc
            .call(&ctx, "GetCallerIdentity", serde_json::json!({}))
            .await
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(out["Account"], "123456789012");
        assert_eq!(out["Arn"], "arn:aws:iam::123456789012:root");
    }
}
