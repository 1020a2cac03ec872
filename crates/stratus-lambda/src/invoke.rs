//! Invoke: resolving the version (aliases with weighted routing), the
//! concurrency limits, running the invocation in an environment, and the
//! START/END/REPORT log lines.

use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use bytes::Bytes;
use rand::Rng;
use stratus_core::{AwsError, Blob, RequestContext};
use stratus_lambda_runtime::{Event, Invocation, Outcome, Platform, ReportMetrics};

use crate::code;
use crate::envs::{EnvSpec, Environment, RunResult};
use crate::errors::{conflict, invalid_param};
use crate::generated::*;
use crate::logs::LogBatch;
use crate::names::{FunctionRef, now_millis, parse_function, qualified_arn};
use crate::ops_config::ACCOUNT_CONCURRENCY;
use crate::ops_functions::missing_qualifier;
use crate::service::LambdaService;
use crate::state::CodeRef;

/// Largest request or response payload of a synchronous invoke (6 MB).
pub(crate) const SYNC_LIMIT: usize = 6 * 1024 * 1024;
const ASYNC_LIMIT: usize = 256 * 1024;
const TAIL_BYTES: usize = 4096;

/// The result of running one invocation.
pub(crate) struct Executed {
    pub payload: Bytes,
    /// `Unhandled` when the function failed.
    pub function_error: Option<String>,
    pub executed_version: String,
    pub log_text: String,
}

impl Executed {
    /// `LogResult` for `LogType=Tail`: the last 4 KB of the log, base64.
    pub fn log_result(&self, log_type: Option<&str>) -> Option<String> {
        (log_type == Some("Tail")).then(|| {
            let bytes = self.log_text.as_bytes();
            let tail = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
            base64::engine::general_purpose::STANDARD.encode(tail)
        })
    }
}

/// The `ClientContext` header is base64 JSON; the runtime gets the JSON.
pub(crate) fn decode_client_context(cc: Option<String>) -> Option<String> {
    cc.and_then(|cc| {
        base64::engine::general_purpose::STANDARD
            .decode(cc.trim())
            .ok()
            .and_then(|b| String::from_utf8(b).ok())
    })
}

/// Releases a concurrency slot when dropped.
struct Slot<'a> {
    svc: &'a LambdaService,
    fn_key: String,
    account_key: String,
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut m = self.svc.inflight.lock();
        for k in [&self.fn_key, &self.account_key] {
            if let Some(v) = m.get_mut(k.as_str()) {
                *v -= 1;
            }
        }
    }
}

fn throttled(reason: &str) -> AwsError {
    let _ = reason;
    // 429 as on the wire, so in-process callers (Scheduler, EventBridge) see a throttle.
    AwsError::new("TooManyRequestsException", "Rate Exceeded.").with_status(429)
}

impl LambdaService {
    /// Choose the version an invocation runs: `$LATEST`, a version, or an
    /// alias's version (weighted between two when RoutingConfig says so).
    fn pick_version(
        &self,
        f: &FunctionRef,
    ) -> Result<(String, EnvSpec, i32, Option<i32>), AwsError> {
        let rec = self.function(f)?;
        let r = rec.lock();
        let q = f.qualifier.clone().unwrap_or_else(|| "$LATEST".into());
        let version = if r.version(&q).is_some() {
            q.clone()
        } else if let Some(alias) = r.aliases.get(&q) {
            let main = alias
                .function_version
                .clone()
                .unwrap_or_else(|| "$LATEST".into());
            let extra = alias
                .routing_config
                .as_ref()
                .and_then(|rc| rc.additional_version_weights.as_ref())
                .and_then(|w| w.iter().next().map(|(v, w)| (v.clone(), *w)));
            match extra {
                Some((v, w)) if rand::rng().random::<f64>() < w => v,
                _ => main,
            }
        } else {
            return Err(missing_qualifier(f, &q));
        };
        let Some(v) = r.version(&version) else {
            return Err(missing_qualifier(f, &version));
        };
        let c = &v.config;
        if c.state.as_deref() == Some("Failed") {
            return Err(conflict(format!(
                "The operation cannot be performed at this time. The function is currently in the following state: Failed ({})",
                c.state_reason.clone().unwrap_or_default()
            )));
        }
        let (code_dir, local_fp) = match &v.code {
            CodeRef::Zip { sha } => (
                code::unpacked(&self.code_dir(), sha)
                    .map_err(|e| AwsError::internal(format!("unpacking the code: {e}")))?,
                String::new(),
            ),
            CodeRef::Local { dir } => {
                let p = std::path::PathBuf::from(dir);
                let (t, n) = code::tree_fingerprint(&p);
                (p, format!(":{t}:{n}"))
            }
            CodeRef::None => return Err(invalid_param("The function has no code.")),
        };
        let layers = c.layers.clone().unwrap_or_default();
        let spec = EnvSpec {
            pool_key: format!("{}#{}", f.key(), version),
            fingerprint: format!("{}{}", c.revision_id.clone().unwrap_or_default(), local_fp),
            function_name: f.name.clone(),
            version: version.clone(),
            memory_mb: c.memory_size.unwrap_or(128),
            runtime: c.runtime.clone().unwrap_or_default(),
            handler: c.handler.clone().unwrap_or_default(),
            code_dir,
            layer_dirs: Vec::new(),
            variables: c
                .environment
                .as_ref()
                .and_then(|e| e.variables.clone())
                .unwrap_or_default()
                .into_iter()
                .collect(),
            region: f.region.clone(),
            account: f.account.clone(),
            log_group: c
                .logging_config
                .as_ref()
                .and_then(|l| l.log_group.clone())
                .unwrap_or_else(|| format!("/aws/lambda/{}", f.name)),
            endpoint: self
                .endpoint
                .get()
                .cloned()
                .unwrap_or_else(|| "http://127.0.0.1:4566".into()),
        };
        let timeout = c.timeout.unwrap_or(3);
        let reserved = r.reserved;
        drop(r);
        let mut spec = spec;
        spec.layer_dirs = self.layer_dirs(&layers);
        Ok((version, spec, timeout, reserved))
    }

    fn take_slot(&self, f: &FunctionRef, reserved: Option<i32>) -> Result<Slot<'_>, AwsError> {
        let fn_key = f.key();
        let account_key = format!("{}/{}", f.account, f.region);
        let mut m = self.inflight.lock();
        let used_fn = m.get(&fn_key).copied().unwrap_or(0);
        let used_acct = m.get(&account_key).copied().unwrap_or(0);
        if let Some(limit) = reserved
            && used_fn >= limit
        {
            return Err(throttled(
                "ReservedFunctionConcurrentInvocationLimitExceeded",
            ));
        }
        if used_acct >= ACCOUNT_CONCURRENCY {
            return Err(throttled("ConcurrentInvocationLimitExceeded"));
        }
        *m.entry(fn_key.clone()).or_insert(0) += 1;
        *m.entry(account_key.clone()).or_insert(0) += 1;
        Ok(Slot {
            svc: self,
            fn_key,
            account_key,
        })
    }

    /// Start `count` environments for a version in the background
    /// (provisioned concurrency).
    pub(crate) fn prewarm(&self, f: &FunctionRef, version: &str, count: usize) {
        let mut f = f.clone();
        f.qualifier = Some(version.to_string());
        let Ok((_, spec, _, _)) = self.pick_version(&f) else {
            return;
        };
        let Some(me) = self.me.upgrade() else { return };
        tokio::spawn(async move {
            let have = me.envs.warm_count(&f.key(), &spec.version);
            for _ in have..count {
                match Environment::start(&spec, me.envs.data()).await {
                    Ok(mut env) => {
                        // Provisioned environments initialise ahead of time;
                        // their first REPORT carries no Init Duration.
                        env.init_ms = None;
                        me.envs.give_back(&spec.pool_key, env)
                    }
                    Err(e) => {
                        tracing::warn!(function = %spec.function_name, error = %e.error_type, "provisioned environment failed to start");
                        return;
                    }
                }
            }
        });
    }

    /// Run one invocation synchronously.
    pub(crate) async fn execute(
        &self,
        f: &FunctionRef,
        payload: Bytes,
        client_context: Option<String>,
        request_id: String,
    ) -> Result<Executed, AwsError> {
        let (version, spec, timeout_s, reserved) = self.pick_version(f)?;
        let _slot = self.take_slot(f, reserved)?;
        let invoked_arn = match &f.qualifier {
            Some(q) => qualified_arn(&f.region, &f.account, &f.name, q),
            None => crate::names::function_arn(&f.region, &f.account, &f.name),
        };
        let mut lines: Vec<String> = Vec::new();
        let env = match self.envs.take(&spec) {
            Some(env) => Ok(env),
            None => Environment::start(&spec, self.envs.data()).await,
        };
        let mut env = match env {
            Ok(env) => env,
            Err(fail) => {
                // The invoke reports the init error, as AWS does after a failed init.
                lines.push(format!(
                    "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
                    spec.runtime,
                    crate::runtimes::runtime_version_arn(&f.region, &spec.runtime)
                ));
                lines.extend(fail.logs);
                lines.push(format!(
                    "INIT_REPORT Init Duration: {:.2} ms\tPhase: init\tStatus: error\tError Type: {}",
                    fail.duration_ms, fail.error_type
                ));
                lines.push(format!("START RequestId: {request_id} Version: {version}"));
                lines.push(format!("END RequestId: {request_id}"));
                lines.push(format!(
                    "REPORT RequestId: {request_id}\tDuration: {:.2} ms\tBilled Duration: {} ms\tMemory Size: {} MB\tMax Memory Used: 0 MB\tStatus: error\tError Type: {}",
                    fail.duration_ms,
                    fail.duration_ms.ceil() as u64,
                    spec.memory_mb,
                    fail.error_type
                ));
                let stream = format!(
                    "{}/[{version}]{}",
                    chrono::Utc::now().format("%Y/%m/%d"),
                    uuid::Uuid::new_v4().simple()
                );
                let text = self.ship(f, &spec, &stream, lines);
                return Ok(Executed {
                    payload: fail.body,
                    function_error: Some("Unhandled".into()),
                    executed_version: version,
                    log_text: text,
                });
            }
        };
        if env.sink.is_none() {
            env.sink = Some(self.log_sink(f, &spec));
        }
        let init_ms = env.init_ms.take();
        if init_ms.is_some() {
            lines.push(format!(
                "INIT_START Runtime Version: {}\tRuntime Version ARN: {}",
                spec.runtime,
                crate::runtimes::runtime_version_arn(&f.region, &spec.runtime)
            ));
        }
        lines.extend(env.take_output());
        lines.push(format!("START RequestId: {request_id} Version: {version}"));
        let started = Instant::now();
        let timeout = Duration::from_secs(timeout_s.max(1) as u64);
        let deadline_ms = now_millis() + timeout.as_millis() as u64;
        let payload = if payload.is_empty() {
            Bytes::from_static(b"{}")
        } else {
            payload
        };
        let (result, extensions_done) = env
            .run(
                Invocation {
                    request_id: request_id.clone(),
                    deadline_ms,
                    invoked_function_arn: invoked_arn,
                    trace_id: format!(
                        "Root=1-{:08x}-{};Parent={};Sampled=0;Lineage=1:{}:0",
                        now_millis() / 1000,
                        &uuid::Uuid::new_v4().simple().to_string()[..24],
                        &uuid::Uuid::new_v4().simple().to_string()[..16],
                        &uuid::Uuid::new_v4().simple().to_string()[..8],
                    ),
                    client_context,
                    cognito_identity: None,
                    payload,
                },
                timeout,
            )
            .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        lines.extend(env.take_output());
        let mem = env.max_memory_mb();
        let (out_payload, function_error, mut status, mut keep) = match result {
            RunResult::Done(Outcome::Response(body)) => (body, None, None, true),
            RunResult::Done(Outcome::Error { body, .. }) => (body, Some("Unhandled".to_string()), None, true),
            RunResult::Done(Outcome::ResponseTooLarge { .. }) => (
                Bytes::from(
                    serde_json::json!({
                        "errorMessage": format!("Response payload size exceeded maximum allowed payload size ({SYNC_LIMIT} bytes)."),
                        "errorType": "Function.ResponseSizeTooLarge",
                    })
                    .to_string(),
                ),
                Some("Unhandled".to_string()),
                None,
                true,
            ),
            RunResult::Timeout => {
                let msg = format!("Task timed out after {:.2} seconds", timeout.as_secs_f64());
                lines.push(format!(
                    "{} {request_id} {msg}",
                    chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S%.3fZ")
                ));
                (
                    Bytes::from(
                        serde_json::json!({
                            "errorType": "Sandbox.Timedout",
                            "errorMessage": format!("RequestId: {request_id} Error: {msg}"),
                        })
                        .to_string(),
                    ),
                    Some("Unhandled".to_string()),
                    Some("timeout"),
                    false,
                )
            }
            RunResult::Crashed(why) => {
                lines.push(format!("RequestId: {request_id} Error: {why}\nRuntime.ExitError"));
                (
                    Bytes::from(
                        serde_json::json!({
                            "errorType": "Runtime.ExitError",
                            "errorMessage": format!("RequestId: {request_id} Error: {why}"),
                        })
                        .to_string(),
                    ),
                    Some("Unhandled".to_string()),
                    Some("error"),
                    false,
                )
            }
        };
        if !extensions_done && status.is_none() {
            // An extension kept working past the deadline: the environment is
            // reset, as after a timeout, though the runtime's answer stands.
            status = Some("timeout");
            keep = false;
        }
        env.shutdown_reason = match status {
            Some("timeout") => "timeout",
            Some(_) => "failure",
            None if env.broken => "failure",
            None => "spindown",
        };
        keep = keep && !env.broken;
        lines.push(format!("END RequestId: {request_id}"));
        let billed = duration_ms.ceil().max(1.0) as u64;
        let report_status = match (status, &function_error) {
            (Some("timeout"), _) => "timeout",
            (Some(_), _) => "failure",
            (None, Some(_)) => "error",
            (None, None) => "success",
        };
        env.emit(Event::Platform(Platform::End {
            request_id: request_id.clone(),
        }));
        env.emit(Event::Platform(Platform::Report {
            request_id: request_id.clone(),
            status: report_status.into(),
            error_type: match status {
                Some("error") => Some("Runtime.ExitError".into()),
                Some("timeout") => Some("Sandbox.Timedout".into()),
                _ => None,
            },
            metrics: ReportMetrics {
                duration_ms,
                billed_duration_ms: billed,
                memory_size_mb: spec.memory_mb.max(0) as u64,
                max_memory_used_mb: mem,
                init_duration_ms: init_ms,
            },
        }));
        let mut report = format!(
            "REPORT RequestId: {request_id}\tDuration: {duration_ms:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {} MB\tMax Memory Used: {mem} MB",
            spec.memory_mb
        );
        if let Some(init) = init_ms {
            report.push_str(&format!("\tInit Duration: {init:.2} ms"));
        }
        if let Some(s) = status {
            report.push_str(&format!("\tStatus: {s}"));
            if s == "error" {
                report.push_str("\tError Type: Runtime.ExitError");
            }
        }
        lines.push(report);
        let stream = env.stream.clone();
        if keep {
            self.envs.give_back(&spec.pool_key, env);
        }
        let text = self.ship(f, &spec, &stream, lines);
        Ok(Executed {
            payload: out_payload,
            function_error,
            executed_version: version,
            log_text: text,
        })
    }

    /// Where an environment's late lines (extensions during the Shutdown
    /// phase) go: its own log stream.
    fn log_sink(&self, f: &FunctionRef, spec: &EnvSpec) -> crate::envs::LogSink {
        let me = self.me.clone();
        let f = f.clone();
        let spec = spec.clone();
        Arc::new(move |stream: &str, lines: Vec<String>| {
            if let Some(svc) = me.upgrade() {
                svc.ship(&f, &spec, stream, lines);
            }
        })
    }

    /// Send the lines to CloudWatch Logs; returns them as text (for Tail).
    fn ship(&self, f: &FunctionRef, spec: &EnvSpec, stream: &str, lines: Vec<String>) -> String {
        let text = lines.join("\n") + "\n";
        let now = now_millis();
        self.logs.send(LogBatch {
            account: f.account.clone(),
            region: f.region.clone(),
            group: spec.log_group.clone(),
            stream: stream.to_string(),
            events: lines.into_iter().map(|l| (now, l)).collect(),
        });
        text
    }

    pub(crate) async fn op_invoke(
        &self,
        ctx: &RequestContext,
        input: InvocationRequest,
    ) -> Result<InvocationResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let payload = input.payload.map(|b| b.0).unwrap_or_default();
        let kind = input
            .invocation_type
            .as_deref()
            .unwrap_or("RequestResponse");
        let limit = if kind == "Event" {
            ASYNC_LIMIT
        } else {
            SYNC_LIMIT
        };
        if payload.len() > limit {
            return Err(AwsError::new(
                "RequestTooLargeException",
                format!(
                    "Request must be smaller than {limit} bytes for the InvokeFunction operation"
                ),
            ));
        }
        if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err()
        {
            return Err(AwsError::new(
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value",
            ));
        }
        match kind {
            "DryRun" => {
                let rec = self.function(&f)?;
                let r = rec.lock();
                Self::config_for(&r, &f)?;
                Ok(InvocationResponse {
                    status_code: Some(204),
                    ..Default::default()
                })
            }
            "Event" => {
                {
                    let rec = self.function(&f)?;
                    let r = rec.lock();
                    Self::config_for(&r, &f)?;
                }
                self.enqueue_async(&f, &payload, 0).await?;
                Ok(InvocationResponse {
                    status_code: Some(202),
                    ..Default::default()
                })
            }
            _ => {
                let client_context = decode_client_context(input.client_context);
                let done = self
                    .execute(
                        &f,
                        Bytes::from(payload),
                        client_context,
                        ctx.request_id.clone(),
                    )
                    .await?;
                let log_result = done.log_result(input.log_type.as_deref());
                Ok(InvocationResponse {
                    status_code: Some(200),
                    function_error: done.function_error,
                    log_result,
                    payload: Some(Blob(done.payload.to_vec())),
                    executed_version: Some(done.executed_version),
                    durable_execution_arn: None,
                })
            }
        }
    }

    pub(crate) async fn op_invoke_async(
        &self,
        ctx: &RequestContext,
        input: InvokeAsyncRequest,
    ) -> Result<InvokeAsyncResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, None)?;
        self.function(&f)?;
        self.enqueue_async(&f, &input.invoke_args.0, 0).await?;
        Ok(InvokeAsyncResponse { status: Some(202) })
    }
}
