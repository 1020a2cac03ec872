//! Serving function URLs: the request becomes AWS's payload format 2.0 event,
//! the function's answer becomes the HTTP response, with the URL's auth type,
//! resource-policy check and CORS settings applied.

use base64::Engine;
use bytes::Bytes;
use serde_json::{Map, Value, json};
use stratus_core::{RawAddress, RawCaller, RawHttpRequest, RawHttpResponse};

use crate::names::now_millis;
use crate::service::LambdaService;
use crate::state::UrlRec;
use crate::urls::{URL_DOMAIN, cors_of};

/// The synchronous invoke payload limit applies to the event.
const EVENT_LIMIT: usize = 6 * 1024 * 1024;

/// The URL id a host names: `<url-id>.lambda-url.<region>.localhost` (or
/// AWS's own `.on.aws` suffix, for clients that set the Host header).
pub(crate) fn url_id_of_host(host: &str) -> Option<&str> {
    let (id, rest) = host.split_once(".lambda-url.")?;
    let (_region, domain) = rest.split_once('.')?;
    (domain == URL_DOMAIN || domain == "on.aws").then_some(id)
}

fn message(status: u16, text: &str) -> RawHttpResponse {
    RawHttpResponse::new(
        status,
        "application/json",
        json!({ "Message": text }).to_string(),
    )
}

/// Text bodies reach the function as they are, others base64-encoded.
fn is_text(content_type: Option<&str>) -> bool {
    let Some(ct) = content_type else { return true };
    let ct = ct
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    ct.starts_with("text/")
        || ct.ends_with("+json")
        || ct.ends_with("+xml")
        || [
            "application/json",
            "application/javascript",
            "application/xml",
            "application/x-www-form-urlencoded",
            "application/x-yaml",
            "application/yaml",
            "application/graphql",
        ]
        .contains(&ct.as_str())
}

/// `%XX` and `+` decoding of one query component.
fn decode_component(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = |c: u8| (c as char).to_digit(16);
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(h), Some(l)) => {
                        out.push((h * 16 + l) as u8);
                        i += 2;
                    }
                    _ => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Query parameters with repeated names joined by commas, as AWS does.
fn query_parameters(raw: &str) -> Map<String, Value> {
    let mut params: Vec<(String, String)> = Vec::new();
    for pair in raw.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (k, v) = (decode_component(k), decode_component(v));
        match params.iter_mut().find(|(n, _)| *n == k) {
            Some((_, existing)) => {
                existing.push(',');
                existing.push_str(&v);
            }
            None => params.push((k, v)),
        }
    }
    params
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect()
}

/// Whether one statement of a resource policy lets `account` (or, for
/// `None`, anyone) call `lambda:InvokeFunctionUrl` under `auth_type`.
fn statement_allows(st: &Value, account: Option<&str>, auth_type: &str) -> bool {
    if st["Effect"] != "Allow" {
        return false;
    }
    let action_ok = match &st["Action"] {
        Value::String(a) => matches!(a.as_str(), "lambda:InvokeFunctionUrl" | "lambda:*" | "*"),
        Value::Array(a) => a.iter().any(|a| {
            matches!(
                a.as_str(),
                Some("lambda:InvokeFunctionUrl" | "lambda:*" | "*")
            )
        }),
        _ => false,
    };
    if !action_ok {
        return false;
    }
    let principal = &st["Principal"];
    let public = principal == "*" || principal["AWS"] == "*";
    let principal_ok = public
        || account.is_some_and(|acct| {
            let aws = principal["AWS"].as_str().unwrap_or_default();
            aws == acct || aws == format!("arn:aws:iam::{acct}:root")
        });
    if !principal_ok {
        return false;
    }
    match st["Condition"]["StringEquals"]["lambda:FunctionUrlAuthType"].as_str() {
        Some(t) => t == auth_type,
        None => true,
    }
}

/// Whether the request may invoke, per AWS's function URL auth model:
/// `AWS_IAM` needs a SigV4 signature and either the function's own account
/// (identity policies are not modelled: same-account callers are allowed) or
/// a resource-policy statement for the caller's account; `NONE` needs a
/// public `lambda:InvokeFunctionUrl` statement (the one the console adds).
fn authorized(
    req: &RawHttpRequest,
    url: &UrlRec,
    fn_account: &str,
    statements: &[Value],
) -> Result<Option<(String, String)>, RawHttpResponse> {
    let forbidden = || message(403, "Forbidden");
    if url.auth_type == "AWS_IAM" {
        let RawCaller::Signed {
            access_key,
            account_id,
            ..
        } = &req.caller
        else {
            return Err(forbidden());
        };
        if account_id != fn_account
            && !statements
                .iter()
                .any(|s| statement_allows(s, Some(account_id), "AWS_IAM"))
        {
            return Err(forbidden());
        }
        return Ok(Some((access_key.clone(), account_id.clone())));
    }
    if statements.iter().any(|s| statement_allows(s, None, "NONE")) {
        Ok(None)
    } else {
        Err(forbidden())
    }
}

fn origin_allowed(allowed: &[String], origin: &str) -> Option<String> {
    if allowed.iter().any(|o| o == "*") {
        return Some("*".to_string());
    }
    allowed
        .iter()
        .any(|o| o.eq_ignore_ascii_case(origin))
        .then(|| origin.to_string())
}

/// The answer to a CORS preflight (`OPTIONS` with `Origin` and
/// `Access-Control-Request-Method`), given without invoking the function.
fn preflight(req: &RawHttpRequest, cors: &crate::generated::Cors) -> RawHttpResponse {
    let mut resp = RawHttpResponse {
        status: 200,
        headers: Vec::new(),
        body: Vec::new(),
    };
    let origin = req.header("origin").unwrap_or_default();
    let method = req
        .header("access-control-request-method")
        .unwrap_or_default();
    let allowed_origin = origin_allowed(cors.allow_origins.as_deref().unwrap_or_default(), origin);
    let methods = cors.allow_methods.clone().unwrap_or_default();
    let method_ok = methods
        .iter()
        .any(|m| m == "*" || m.eq_ignore_ascii_case(method));
    if let (Some(o), true) = (allowed_origin, method_ok) {
        resp.headers.push(("access-control-allow-origin".into(), o));
        resp.headers
            .push(("access-control-allow-methods".into(), methods.join(",")));
        if let Some(h) = cors.allow_headers.as_ref().filter(|h| !h.is_empty()) {
            resp.headers
                .push(("access-control-allow-headers".into(), h.join(",")));
        }
        if let Some(age) = cors.max_age {
            resp.headers
                .push(("access-control-max-age".into(), age.to_string()));
        }
        if cors.allow_credentials == Some(true) {
            resp.headers
                .push(("access-control-allow-credentials".into(), "true".into()));
        }
    }
    resp.headers.push(("vary".into(), "Origin".into()));
    resp
}

/// CORS headers on an actual response; the URL's settings replace whatever
/// CORS headers the function returned.
fn apply_cors(resp: &mut RawHttpResponse, req: &RawHttpRequest, cors: &crate::generated::Cors) {
    resp.headers
        .retain(|(n, _)| !n.to_ascii_lowercase().starts_with("access-control-"));
    let Some(origin) = req.header("origin") else {
        return;
    };
    let Some(o) = origin_allowed(cors.allow_origins.as_deref().unwrap_or_default(), origin) else {
        return;
    };
    resp.headers.push(("access-control-allow-origin".into(), o));
    if let Some(h) = cors.expose_headers.as_ref().filter(|h| !h.is_empty()) {
        resp.headers
            .push(("access-control-expose-headers".into(), h.join(",")));
    }
    if cors.allow_credentials == Some(true) {
        resp.headers
            .push(("access-control-allow-credentials".into(), "true".into()));
    }
    resp.headers.push(("vary".into(), "Origin".into()));
}

/// Everything the event needs besides the request itself.
pub(crate) struct EventContext<'a> {
    pub url_id: &'a str,
    pub region: &'a str,
    pub path: &'a str,
    pub request_id: &'a str,
    pub iam: Option<(String, String)>,
    pub now_ms: u64,
}

/// AWS's payload format 2.0 for function URLs.
pub(crate) fn build_event(req: &RawHttpRequest, c: &EventContext<'_>) -> Value {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut cookies: Vec<Value> = Vec::new();
    for (name, value) in &req.headers {
        if name == "cookie" {
            cookies.extend(
                value
                    .split(';')
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(|c| Value::String(c.to_string())),
            );
            continue;
        }
        match headers.iter_mut().find(|(n, _)| n == name) {
            Some((_, v)) => {
                v.push(',');
                v.push_str(value);
            }
            None => headers.push((name.clone(), value.clone())),
        }
    }
    let headers: Map<String, Value> = headers
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    let time = chrono::DateTime::<chrono::Utc>::from_timestamp_millis(c.now_ms as i64)
        .unwrap_or_default()
        .format("%d/%b/%Y:%H:%M:%S %z")
        .to_string();
    let domain = format!("{}.lambda-url.{}.{URL_DOMAIN}", c.url_id, c.region);
    let mut ctx = json!({
        "accountId": c.iam.as_ref().map_or("anonymous", |(_, a)| a.as_str()),
        "apiId": c.url_id,
        "domainName": domain,
        "domainPrefix": c.url_id,
        "http": {
            "method": req.method,
            "path": c.path,
            "protocol": req.protocol,
            "sourceIp": req.source_ip,
            "userAgent": req.header("user-agent").unwrap_or_default(),
        },
        "requestId": c.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": time,
        "timeEpoch": c.now_ms,
    });
    if let Some((key, account)) = &c.iam {
        ctx["authorizer"] = json!({"iam": {
            "accessKey": key,
            "accountId": account,
            "callerId": key,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": format!("arn:aws:iam::{account}:root"),
            "userId": account,
        }});
    }
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": c.path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": ctx,
        "isBase64Encoded": false,
    });
    if !cookies.is_empty() {
        event["cookies"] = Value::Array(cookies);
    }
    if !req.query.is_empty() {
        event["queryStringParameters"] = Value::Object(query_parameters(&req.query));
    }
    if !req.body.is_empty() {
        let text = is_text(req.header("content-type"))
            .then(|| std::str::from_utf8(&req.body).ok())
            .flatten();
        match text {
            Some(t) => event["body"] = Value::String(t.to_string()),
            None => {
                event["body"] =
                    Value::String(base64::engine::general_purpose::STANDARD.encode(&req.body));
                event["isBase64Encoded"] = Value::Bool(true);
            }
        }
    }
    event
}

/// The HTTP response a function's result maps to: an object with
/// `statusCode` is taken apart; anything else is a 200 JSON body.
pub(crate) fn map_response(payload: &[u8]) -> Option<RawHttpResponse> {
    let parsed: Option<Value> = serde_json::from_slice(payload).ok();
    let Some(Value::Object(obj)) = parsed.filter(|v| v.get("statusCode").is_some()) else {
        return Some(RawHttpResponse::new(
            200,
            "application/json",
            payload.to_vec(),
        ));
    };
    let status = match &obj["statusCode"] {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
    .and_then(|n| u16::try_from(n).ok())
    .filter(|n| (100..=599).contains(n))?;
    let mut headers = Vec::new();
    if let Some(Value::Object(h)) = obj.get("headers") {
        for (k, v) in h {
            let v = match v {
                Value::String(s) => s.clone(),
                Value::Null => continue,
                other => other.to_string(),
            };
            let valid = !k.is_empty()
                && k.bytes().all(|b| b.is_ascii_graphic() && b != b':')
                && !v.bytes().any(|b| b == b'\r' || b == b'\n');
            if valid {
                headers.push((k.to_ascii_lowercase(), v));
            }
        }
    }
    if let Some(Value::Array(cookies)) = obj.get("cookies") {
        for c in cookies.iter().filter_map(Value::as_str) {
            if !c.bytes().any(|b| b == b'\r' || b == b'\n') {
                headers.push(("set-cookie".into(), c.to_string()));
            }
        }
    }
    if !headers.iter().any(|(n, _)| n == "content-type") {
        headers.push(("content-type".into(), "application/json".into()));
    }
    let body = match obj.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => {
            if obj.get("isBase64Encoded") == Some(&Value::Bool(true)) {
                base64::engine::general_purpose::STANDARD
                    .decode(s.trim())
                    .ok()?
            } else {
                s.clone().into_bytes()
            }
        }
        Some(other) => other.to_string().into_bytes(),
    };
    Some(RawHttpResponse {
        status,
        headers,
        body,
    })
}

impl LambdaService {
    /// A request to a function URL, by host or by `/url/<url-id>/...`.
    pub(crate) async fn serve_url(&self, req: RawHttpRequest) -> Option<RawHttpResponse> {
        let (url_id, path) = match &req.address {
            RawAddress::Host(host) => (url_id_of_host(host)?.to_string(), req.path.clone()),
            RawAddress::Path => {
                let rest = req.path.strip_prefix("/url/")?;
                let (id, path) = match rest.split_once('/') {
                    Some((id, p)) => (id, format!("/{p}")),
                    None => (rest, "/".to_string()),
                };
                (id.to_string(), path)
            }
        };
        let Some((f, q, url)) = self.url_by_id(&url_id) else {
            return Some(message(404, "Not Found"));
        };
        let cors = cors_of(&url);
        let is_preflight = req.method == "OPTIONS"
            && req.header("origin").is_some()
            && req.header("access-control-request-method").is_some();
        if let (true, Some(c)) = (is_preflight, &cors) {
            return Some(preflight(&req, c));
        }
        let statements = self
            .function(&f)
            .ok()
            .map(|rec| rec.lock().policies.get(&q).cloned().unwrap_or_default())
            .unwrap_or_default();
        let iam = match authorized(&req, &url, &f.account, &statements) {
            Ok(iam) => iam,
            Err(resp) => return Some(resp),
        };
        let request_id = uuid::Uuid::new_v4().to_string();
        let event = build_event(
            &req,
            &EventContext {
                url_id: &url_id,
                region: &f.region,
                path: &path,
                request_id: &request_id,
                iam,
                now_ms: now_millis(),
            },
        );
        let payload = event.to_string();
        if payload.len() > EVENT_LIMIT {
            return Some(message(413, "Request Entity Too Large"));
        }
        let mut resp = match self
            .execute(&f, Bytes::from(payload), None, request_id.clone())
            .await
        {
            Ok(done) if done.function_error.is_none() => {
                map_response(&done.payload).unwrap_or_else(|| message(502, "Internal Server Error"))
            }
            Ok(_) => message(502, "Internal Server Error"),
            Err(e) if e.code == "TooManyRequestsException" => message(429, "Rate Exceeded."),
            Err(e) => {
                tracing::warn!(url = %url_id, error = %e.message, "function URL invocation failed");
                message(502, "Internal Server Error")
            }
        };
        if let Some(c) = &cors {
            apply_cors(&mut resp, &req, c);
        }
        resp.headers.push(("x-amzn-requestid".into(), request_id));
        Some(resp)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req(headers: &[(&str, &str)], query: &str, body: &[u8]) -> RawHttpRequest {
        RawHttpRequest {
            method: "POST".into(),
            path: "/a/b".into(),
            query: query.into(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_string()))
                .collect(),
            body: body.to_vec(),
            address: RawAddress::Host("x.lambda-url.us-east-1.localhost".into()),
            caller: RawCaller::Anonymous,
            source_ip: "127.0.0.1".into(),
            protocol: "HTTP/1.1".into(),
        }
    }

    #[test]
    fn hosts_name_their_url_id() {
        assert_eq!(
            url_id_of_host("abc.lambda-url.us-east-1.localhost"),
            Some("abc")
        );
        assert_eq!(
            url_id_of_host("abc.lambda-url.eu-west-1.on.aws"),
            Some("abc")
        );
        assert_eq!(url_id_of_host("localhost"), None);
        assert_eq!(url_id_of_host("abc.lambda-url.us-east-1.example"), None);
    }

    #[test]
    fn event_has_cookies_joined_headers_and_parameters() {
        let r = req(
            &[
                ("cookie", "a=1; b=2"),
                ("x-m", "1"),
                ("x-m", "2"),
                ("content-type", "application/json"),
            ],
            "p=1&p=2&q=a%20b+c",
            b"{\"k\":1}",
        );
        let e = build_event(
            &r,
            &EventContext {
                url_id: "id",
                region: "us-east-1",
                path: "/a/b",
                request_id: "rid",
                iam: None,
                now_ms: 1_583_348_638_390,
            },
        );
        assert_eq!(e["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(e["headers"]["x-m"], "1,2");
        assert!(e["headers"].get("cookie").is_none());
        assert_eq!(
            e["queryStringParameters"],
            json!({"p": "1,2", "q": "a b c"})
        );
        assert_eq!(e["body"], "{\"k\":1}");
        assert_eq!(e["isBase64Encoded"], false);
        assert_eq!(e["requestContext"]["accountId"], "anonymous");
        assert_eq!(e["requestContext"]["time"], "04/Mar/2020:19:03:58 +0000");
        assert!(e["requestContext"].get("authorizer").is_none());
    }

    #[test]
    fn binary_bodies_are_base64() {
        let r = req(
            &[("content-type", "application/octet-stream")],
            "",
            &[0, 159, 1],
        );
        let e = build_event(
            &r,
            &EventContext {
                url_id: "id",
                region: "us-east-1",
                path: "/",
                request_id: "rid",
                iam: Some(("AK".into(), "111122223333".into())),
                now_ms: 0,
            },
        );
        assert_eq!(e["isBase64Encoded"], true);
        assert_eq!(e["body"], "AJ8B");
        assert!(e.get("queryStringParameters").is_none());
        assert_eq!(
            e["requestContext"]["authorizer"]["iam"]["accountId"],
            "111122223333"
        );
    }

    #[test]
    fn responses_map_as_aws_documents() {
        let plain = map_response(b"{\"a\":1}").unwrap();
        assert_eq!(plain.status, 200);
        assert_eq!(plain.body, b"{\"a\":1}");
        let s = map_response(
            br#"{"statusCode":201,"headers":{"X-A":"b"},"cookies":["c=1"],"body":"aGk=","isBase64Encoded":true}"#,
        )
        .unwrap();
        assert_eq!(s.status, 201);
        assert_eq!(s.body, b"hi");
        assert!(s.headers.contains(&("x-a".into(), "b".into())));
        assert!(s.headers.contains(&("set-cookie".into(), "c=1".into())));
        assert!(map_response(br#"{"statusCode":"x"}"#).is_none());
    }

    #[test]
    fn policy_statements_grant_url_access() {
        let public = json!({"Effect": "Allow", "Principal": "*", "Action": "lambda:InvokeFunctionUrl",
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}}});
        assert!(statement_allows(&public, None, "NONE"));
        assert!(!statement_allows(&public, None, "AWS_IAM"));
        let other = json!({"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
            "Action": "lambda:InvokeFunctionUrl"});
        assert!(statement_allows(&other, Some("111122223333"), "AWS_IAM"));
        assert!(!statement_allows(&other, Some("444455556666"), "AWS_IAM"));
        assert!(!statement_allows(&other, None, "NONE"));
    }
}
