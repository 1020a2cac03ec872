//! Function URL configurations: Create/Get/Update/Delete/ListFunctionUrlConfigs.
//! Serving the URLs is `url_http`.

use stratus_core::{AwsError, RequestContext};

use crate::errors::{conflict, invalid_param, not_found, validation};
use crate::generated::*;
use crate::names::{FunctionRef, parse_function, qualified_arn};
use crate::ops_functions::{missing_qualifier, paginate, unqualified_arn};
use crate::service::LambdaService;
use crate::state::{FunctionRec, UrlRec};

/// Function URLs answer on `<url-id>.lambda-url.<region>.<URL_DOMAIN>`;
/// `*.localhost` names resolve to the loopback address on most systems.
pub(crate) const URL_DOMAIN: &str = "localhost";

/// `CreationTime` / `LastModifiedTime`: ISO-8601 with microseconds, as AWS writes them.
fn now_iso() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.6fZ")
        .to_string()
}

/// The URL key of a function record: "" for the unqualified function, else
/// the alias name. The model's pattern allows only alias-like names
/// (no `$LATEST`, no version numbers).
fn url_qualifier(f: &FunctionRef) -> Result<String, AwsError> {
    let Some(q) = f.qualifier.as_deref() else {
        return Ok(String::new());
    };
    let ok = !q.is_empty()
        && q.len() <= 128
        && q.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        && !q.bytes().all(|b| b.is_ascii_digit());
    if !ok {
        return Err(validation(format!(
            "1 validation error detected: Value '{q}' at 'qualifier' failed to satisfy constraint: Member must satisfy regular expression pattern: ((?!^\\d+$)^[0-9a-zA-Z-_]+$)"
        )));
    }
    Ok(q.to_string())
}

fn check_auth_type(a: &str) -> Result<(), AwsError> {
    match a {
        "NONE" | "AWS_IAM" => Ok(()),
        _ => Err(validation(format!(
            "1 validation error detected: Value '{a}' at 'authType' failed to satisfy constraint: Member must satisfy enum value set: [AWS_IAM, NONE]"
        ))),
    }
}

fn check_invoke_mode(m: Option<&str>) -> Result<(), AwsError> {
    match m {
        None | Some("BUFFERED") | Some("RESPONSE_STREAM") => Ok(()),
        Some(m) => Err(validation(format!(
            "1 validation error detected: Value '{m}' at 'invokeMode' failed to satisfy constraint: Member must satisfy enum value set: [BUFFERED, RESPONSE_STREAM]"
        ))),
    }
}

fn check_cors(c: Option<&Cors>) -> Result<(), AwsError> {
    let Some(c) = c else { return Ok(()) };
    for m in c.allow_methods.iter().flatten() {
        let known = [
            "*", "GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS",
        ];
        if !known.contains(&m.as_str()) {
            return Err(invalid_param(format!(
                "Invalid CORS configuration: AllowMethods contains an invalid HTTP method: {m}"
            )));
        }
    }
    if let Some(age) = c.max_age
        && !(0..=86400).contains(&age)
    {
        return Err(validation(format!(
            "1 validation error detected: Value '{age}' at 'cors.maxAge' failed to satisfy constraint: Member must have value less than or equal to 86400"
        )));
    }
    Ok(())
}

/// A stored record's CORS settings in the generated shape.
pub(crate) fn cors_of(u: &UrlRec) -> Option<Cors> {
    u.cors
        .clone()
        .and_then(|v| serde_json::from_value::<Cors>(v).ok())
}

impl LambdaService {
    /// `http://<url-id>.lambda-url.<region>.localhost:<port>/` with the port
    /// Stratus listens on.
    pub(crate) fn function_url(&self, region: &str, url_id: &str) -> String {
        let port = self
            .endpoint
            .get()
            .and_then(|e| {
                e.rsplit_once(':')
                    .map(|(_, p)| p.trim_end_matches('/').to_string())
            })
            .unwrap_or_else(|| "4566".into());
        format!("http://{url_id}.lambda-url.{region}.{URL_DOMAIN}:{port}/")
    }

    fn url_view(&self, r: &FunctionRec, q: &str, u: &UrlRec) -> FunctionUrlConfig {
        let arn = if q.is_empty() {
            crate::names::function_arn(&r.region, &r.account, &r.name)
        } else {
            qualified_arn(&r.region, &r.account, &r.name, q)
        };
        FunctionUrlConfig {
            function_url: self.function_url(&r.region, &u.url_id),
            function_arn: arn,
            creation_time: u.created.clone(),
            last_modified_time: u.last_modified.clone(),
            cors: cors_of(u),
            auth_type: u.auth_type.clone(),
            invoke_mode: Some(u.invoke_mode.clone().unwrap_or_else(|| "BUFFERED".into())),
        }
    }

    /// The function and URL key an operation addresses, checking the alias.
    fn url_target(
        &self,
        ctx: &RequestContext,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(FunctionRef, String), AwsError> {
        let f = parse_function(ctx, name, qualifier)?;
        let q = url_qualifier(&f)?;
        let rec = self.function(&f)?;
        if !q.is_empty() && !rec.lock().aliases.contains_key(&q) {
            return Err(missing_qualifier(&f, &q));
        }
        Ok((f, q))
    }

    pub(crate) async fn op_create_url(
        &self,
        ctx: &RequestContext,
        input: CreateFunctionUrlConfigRequest,
    ) -> Result<CreateFunctionUrlConfigResponse, AwsError> {
        check_auth_type(&input.auth_type)?;
        check_invoke_mode(input.invoke_mode.as_deref())?;
        check_cors(input.cors.as_ref())?;
        let (f, q) = self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let (snapshot, view) = {
            let mut r = rec.lock();
            if r.urls.contains_key(&q) {
                let arn = if q.is_empty() {
                    unqualified_arn(&f)
                } else {
                    qualified_arn(&f.region, &f.account, &f.name, &q)
                };
                return Err(conflict(format!(
                    "Failed to create function url config for [functionArn = {arn}]. Error message:  FunctionUrlConfig exists for this Lambda function"
                )));
            }
            let now = now_iso();
            let u = UrlRec {
                url_id: uuid::Uuid::new_v4().simple().to_string(),
                auth_type: input.auth_type.clone(),
                cors: input
                    .cors
                    .as_ref()
                    .and_then(|c| serde_json::to_value(c).ok()),
                invoke_mode: Some(
                    input
                        .invoke_mode
                        .clone()
                        .unwrap_or_else(|| "BUFFERED".into()),
                ),
                created: now.clone(),
                last_modified: now,
            };
            let view = self.url_view(&r, &q, &u);
            r.urls.insert(q, u);
            (r.clone(), view)
        };
        self.save_function(&snapshot).await?;
        Ok(CreateFunctionUrlConfigResponse {
            function_url: view.function_url,
            function_arn: view.function_arn,
            auth_type: view.auth_type,
            cors: view.cors,
            creation_time: view.creation_time,
            invoke_mode: view.invoke_mode,
        })
    }

    pub(crate) async fn op_get_url(
        &self,
        ctx: &RequestContext,
        input: GetFunctionUrlConfigRequest,
    ) -> Result<GetFunctionUrlConfigResponse, AwsError> {
        let (f, q) = self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let r = rec.lock();
        let u = r
            .urls
            .get(&q)
            .ok_or_else(|| not_found("The resource you requested does not exist."))?;
        let v = self.url_view(&r, &q, u);
        Ok(GetFunctionUrlConfigResponse {
            function_url: v.function_url,
            function_arn: v.function_arn,
            auth_type: v.auth_type,
            cors: v.cors,
            creation_time: v.creation_time,
            last_modified_time: v.last_modified_time,
            invoke_mode: v.invoke_mode,
        })
    }

    pub(crate) async fn op_update_url(
        &self,
        ctx: &RequestContext,
        input: UpdateFunctionUrlConfigRequest,
    ) -> Result<UpdateFunctionUrlConfigResponse, AwsError> {
        if let Some(a) = &input.auth_type {
            check_auth_type(a)?;
        }
        check_invoke_mode(input.invoke_mode.as_deref())?;
        check_cors(input.cors.as_ref())?;
        let (f, q) = self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let (snapshot, v) = {
            let mut r = rec.lock();
            let Some(mut u) = r.urls.get(&q).cloned() else {
                return Err(not_found("The resource you requested does not exist."));
            };
            if let Some(a) = input.auth_type {
                u.auth_type = a;
            }
            if let Some(c) = &input.cors {
                u.cors = serde_json::to_value(c).ok();
            }
            if let Some(m) = input.invoke_mode {
                u.invoke_mode = Some(m);
            }
            u.last_modified = now_iso();
            let v = self.url_view(&r, &q, &u);
            r.urls.insert(q, u);
            (r.clone(), v)
        };
        self.save_function(&snapshot).await?;
        Ok(UpdateFunctionUrlConfigResponse {
            function_url: v.function_url,
            function_arn: v.function_arn,
            auth_type: v.auth_type,
            cors: v.cors,
            creation_time: v.creation_time,
            last_modified_time: v.last_modified_time,
            invoke_mode: v.invoke_mode,
        })
    }

    pub(crate) async fn op_delete_url(
        &self,
        ctx: &RequestContext,
        input: DeleteFunctionUrlConfigRequest,
    ) -> Result<(), AwsError> {
        let (f, q) = self.url_target(ctx, &input.function_name, input.qualifier.as_deref())?;
        let rec = self.function(&f)?;
        let snapshot = {
            let mut r = rec.lock();
            if r.urls.remove(&q).is_none() {
                return Err(not_found("The resource you requested does not exist."));
            }
            r.clone()
        };
        self.save_function(&snapshot).await
    }

    pub(crate) async fn op_list_urls(
        &self,
        ctx: &RequestContext,
        input: ListFunctionUrlConfigsRequest,
    ) -> Result<ListFunctionUrlConfigsResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        let rec = self.function(&f)?;
        let all: Vec<FunctionUrlConfig> = {
            let r = rec.lock();
            r.urls
                .iter()
                .map(|(q, u)| self.url_view(&r, q, u))
                .collect()
        };
        let (page, next) = paginate(all, input.marker.as_deref(), input.max_items)?;
        Ok(ListFunctionUrlConfigsResponse {
            function_url_configs: page,
            next_marker: next,
        })
    }

    /// The function, URL key and record a URL id names.
    pub(crate) fn url_by_id(&self, url_id: &str) -> Option<(FunctionRef, String, UrlRec)> {
        let all = self.functions.read();
        for rec in all.values() {
            let r = rec.lock();
            if let Some((q, u)) = r.urls.iter().find(|(_, u)| u.url_id == url_id) {
                return Some((
                    FunctionRef {
                        account: r.account.clone(),
                        region: r.region.clone(),
                        name: r.name.clone(),
                        qualifier: (!q.is_empty()).then(|| q.clone()),
                    },
                    q.clone(),
                    u.clone(),
                ));
            }
        }
        None
    }
}
