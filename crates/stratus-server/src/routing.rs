//! Which service and operation a request addresses, and in which protocol.

use std::collections::HashMap;
use std::sync::Arc;

use http::HeaderMap;
use stratus_core::{AwsError, Registry, Service};
use stratus_model::Protocol;
use stratus_protocol::RestRouter;

/// A resolved request target.
pub struct Target {
    pub service: Arc<dyn Service>,
    pub service_name: String,
    pub protocol: Protocol,
    pub operation: String,
}

/// A service with the name it is registered under.
type Named = (String, Arc<dyn Service>);

/// Routing tables built once from the registered services' models.
pub struct Router {
    /// `X-Amz-Target` prefix (`AmazonSQS`) → service.
    targets: HashMap<String, Named>,
    /// Query `Action` → services that define it.
    actions: HashMap<String, Vec<Named>>,
    /// Signing name → service.
    by_signing_name: HashMap<String, Named>,
    rest: Vec<(String, Arc<dyn Service>, RestRouter)>,
}

impl Router {
    pub fn new(registry: &Registry) -> Self {
        let mut r = Router {
            targets: HashMap::new(),
            actions: HashMap::new(),
            by_signing_name: HashMap::new(),
            rest: Vec::new(),
        };
        let mut names: Vec<_> = registry.services().collect();
        names.sort_by(|a, b| a.0.cmp(b.0));
        for (name, svc) in names {
            let model = svc.model();
            r.by_signing_name.insert(
                model.signing_name().to_string(),
                (name.clone(), svc.clone()),
            );
            if let Some(prefix) = &model.metadata.target_prefix {
                r.targets
                    .insert(prefix.clone(), (name.clone(), svc.clone()));
            }
            let query_model = match model.protocol() {
                Protocol::AwsQuery => Some(model),
                _ => svc.query_model(),
            };
            if let Some(qm) = query_model {
                for op in qm.operations.keys() {
                    r.actions
                        .entry(op.clone())
                        .or_default()
                        .push((name.clone(), svc.clone()));
                }
            }
            if matches!(model.protocol(), Protocol::RestJson1 | Protocol::RestXml) {
                r.rest
                    .push((name.clone(), svc.clone(), RestRouter::new(model)));
            }
        }
        r
    }

    /// Resolve the target. `signing_service` is the credential scope's service,
    /// `form` the parsed query parameters when the request is a query request.
    pub fn route(
        &self,
        method: &str,
        path: &str,
        query: &str,
        headers: &HeaderMap,
        signing_service: Option<&str>,
        form: Option<&[(String, String)]>,
    ) -> Result<Target, AwsError> {
        if let Some(target) = headers.get("x-amz-target").and_then(|v| v.to_str().ok()) {
            let (prefix, op) = target.rsplit_once('.').unwrap_or((target, ""));
            let (name, svc) = self.targets.get(prefix).ok_or_else(|| {
                AwsError::new(
                    "UnknownOperationException",
                    format!("Unknown target {target}"),
                )
            })?;
            let protocol = svc.model().protocol();
            return Ok(Target {
                service: svc.clone(),
                service_name: name.clone(),
                protocol,
                operation: op.to_string(),
            });
        }
        if let Some(params) = form
            && let Some((_, action)) = params.iter().find(|(k, _)| k == "Action")
        {
            let candidates = self.actions.get(action.as_str());
            let chosen = candidates.and_then(|c| {
                signing_service
                    .and_then(|s| c.iter().find(|(_, svc)| svc.model().signing_name() == s))
                    .or_else(|| c.first())
            });
            let Some((name, svc)) =
                chosen.or_else(|| signing_service.and_then(|s| self.by_signing_name.get(s)))
            else {
                return Err(AwsError::unknown_operation(action));
            };
            return Ok(Target {
                service: svc.clone(),
                service_name: name.clone(),
                protocol: Protocol::AwsQuery,
                operation: action.clone(),
            });
        }
        let mut rest: Vec<&(String, Arc<dyn Service>, RestRouter)> = self.rest.iter().collect();
        if let Some(s) = signing_service {
            // Prefer the service the client signed for.
            rest.sort_by_key(|(_, svc, _)| svc.model().signing_name() != s);
        }
        for (name, svc, router) in rest {
            if let Some(op) = router.route(method, path, query) {
                return Ok(Target {
                    service: svc.clone(),
                    service_name: name.clone(),
                    protocol: svc.model().protocol(),
                    operation: op.to_string(),
                });
            }
        }
        Err(AwsError::new(
            "UnknownOperationException",
            format!("No service of Stratus handles {method} {path}"),
        )
        .with_status(404))
    }
}

/// Whether a request carries query-protocol parameters.
pub fn is_query_request(method: &str, headers: &HeaderMap, query: &str) -> bool {
    let form_body = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|ct| ct.starts_with("application/x-www-form-urlencoded"));
    (method == "POST" && form_body) || query.contains("Action=")
}
