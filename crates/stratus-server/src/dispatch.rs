//! One request through the front: identity → route → decode → validate → call → encode.

use std::time::Instant;

use http::HeaderMap;
use stratus_core::{AwsError, RequestContext, new_request_id};
use stratus_model::{Protocol, ServiceModel};
use stratus_protocol::{
    HttpRequest, HttpResponse, decode_input, encode_error, encode_output, parse_form,
    validate_input,
};

use crate::identity::{self, DEFAULT_REGION};
use crate::routing::{self, Target};
use crate::server::Shared;
use crate::sigv4::{self, SignedRequest};

pub struct Incoming<'a> {
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

pub async fn handle(shared: &Shared, req: Incoming<'_>) -> HttpResponse {
    let started = Instant::now();
    let request_id = new_request_id();
    let sig = sigv4::parse(req.headers, req.query);
    let form = routing::is_query_request(req.method, req.headers, req.query)
        .then(|| parse_form(req.query, req.body));
    let target = shared.router.route(
        req.method,
        req.path,
        req.query,
        req.headers,
        sig.as_ref().map(|s| s.service.as_str()),
        form.as_deref(),
    );
    let target = match target {
        Ok(t) => t,
        Err(err) => return unrouted_error(&err, &request_id, form.is_some()),
    };
    let signed = SignedRequest {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
        body: req.body,
    };
    let model = target.service.model();
    let query_model = target.service.query_model();
    let wire_model = wire_model(&target, model, query_model);
    if let Err(err) = identity::check(shared.auth, &shared.credentials, sig.as_ref(), &signed) {
        return finish(
            shared,
            &target,
            &err.code.clone(),
            started,
            encode_error(model, query_model, target.protocol, &err, &request_id),
        );
    }
    let access_key = sig
        .as_ref()
        .map(|s| s.access_key.clone())
        .unwrap_or_default();
    let region = sig
        .as_ref()
        .map(|s| s.region.as_str())
        .filter(|r| !r.is_empty())
        .unwrap_or(DEFAULT_REGION);
    let host = req
        .headers
        .get("host")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let ctx = RequestContext {
        account_id: identity::account_for(&access_key).to_string(),
        region: region.to_string(),
        request_id: request_id.clone(),
        access_key,
        endpoint: format!("http://{host}"),
    };
    let form = form.map(|f| queue_url_from_path(&target, &ctx, req.path, f));
    let http_req = HttpRequest {
        method: req.method,
        path: req.path,
        query: req.query,
        headers: req.headers,
        body: req.body,
    };
    let result = async {
        let input = decode_input(
            wire_model,
            target.protocol,
            &target.operation,
            &http_req,
            form.as_deref(),
        )?;
        validate_input(model, &target.operation, &input).map_err(|e| {
            let mut err = e.to_aws(model);
            if let Some(code) = target.service.validation_error_code()
                && err.code == "ValidationException"
            {
                err.code = code.to_string();
            }
            err
        })?;
        target.service.call(&ctx, &target.operation, input).await
    }
    .await;
    let (code, resp) = match result {
        Ok(output) => (
            "200".to_string(),
            encode_output(
                wire_model,
                target.protocol,
                &target.operation,
                &output,
                &request_id,
            ),
        ),
        Err(err) => {
            let resp = encode_error(model, query_model, target.protocol, &err, &request_id);
            (err.code, resp)
        }
    };
    finish(shared, &target, &code, started, resp)
}

/// The model whose wire names apply: a query request to an `awsQueryCompatible`
/// service speaks the query edition.
fn wire_model<'a>(
    target: &Target,
    model: &'a ServiceModel,
    query_model: Option<&'a ServiceModel>,
) -> &'a ServiceModel {
    match (target.protocol, query_model) {
        (Protocol::AwsQuery, Some(qm)) => qm,
        _ => model,
    }
}

fn finish(
    shared: &Shared,
    target: &Target,
    code: &str,
    started: Instant,
    resp: HttpResponse,
) -> HttpResponse {
    let elapsed = started.elapsed();
    shared
        .metrics
        .record(&target.service_name, &target.operation, code, elapsed);
    tracing::debug!(
        service = %target.service_name,
        operation = %target.operation,
        status = resp.status,
        code,
        latency_us = elapsed.as_micros() as u64,
        "request"
    );
    resp
}

/// Errors before a service is known: answer in the shape the client most likely reads.
fn unrouted_error(err: &AwsError, request_id: &str, query: bool) -> HttpResponse {
    let status = err.status;
    if query {
        let body = format!(
            "<ErrorResponse><Error><Type>Sender</Type><Code>{}</Code><Message>{}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>",
            xml_escape(&err.code),
            xml_escape(&err.message)
        );
        return HttpResponse::new(status, "text/xml", body.into_bytes())
            .header("x-amzn-RequestId", request_id);
    }
    let body = serde_json::json!({"__type": err.code, "message": err.message});
    HttpResponse::new(
        status,
        "application/json",
        serde_json::to_vec(&body).unwrap_or_default(),
    )
    .header("x-amzn-RequestId", request_id)
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Older SQS clients POST query requests to the queue URL itself and leave
/// `QueueUrl` out; AWS takes the queue from the path then.
fn queue_url_from_path(
    target: &Target,
    ctx: &RequestContext,
    path: &str,
    mut form: Vec<(String, String)>,
) -> Vec<(String, String)> {
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    if target.service_name == "sqs"
        && segments.len() == 2
        && !form.iter().any(|(k, _)| k == "QueueUrl")
    {
        form.push(("QueueUrl".to_string(), format!("{}{}", ctx.endpoint, path)));
    }
    form
}
