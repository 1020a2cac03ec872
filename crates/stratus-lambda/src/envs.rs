//! Execution environments: one runtime process (plus its external
//! extensions) behind its own Runtime API endpoint, cold-started on demand,
//! reused while warm, reaped when idle, and shut down through the Shutdown
//! phase (SHUTDOWN to the extensions, then the processes are killed).

mod extproc;

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use stratus_lambda_runtime::subscriptions::Hub;
use stratus_lambda_runtime::{
    Event, FunctionInfo, Invocation, Outcome, Platform, RuntimeApi, Signal,
};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;
use tokio::sync::mpsc::UnboundedReceiver;

use extproc::ExtProcess;

use crate::runtimes::{self, Launcher};
use crate::sandbox::{self, Sandbox};
use crate::service::LambdaService;

/// The init phase limit.
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// Idle environments older than this are stopped.
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// Largest response a runtime may post (6 MB as documented).
pub(crate) const MAX_RESPONSE: usize = 6 * 1024 * 1024;
/// The Shutdown phase limit with external extensions registered, and with
/// internal ones only (AWS: 2,000 ms and 500 ms).
const SHUTDOWN_EXTERNAL: Duration = Duration::from_millis(2000);
const SHUTDOWN_INTERNAL: Duration = Duration::from_millis(500);

/// Receives the lines written after an invocation (extensions' output during
/// the Shutdown phase), for the environment's log stream.
pub(crate) type LogSink = Arc<dyn Fn(&str, Vec<String>) + Send + Sync>;

/// Everything needed to start an environment for one function version.
#[derive(Debug, Clone)]
pub(crate) struct EnvSpec {
    pub pool_key: String,
    /// Changes whenever code or configuration change; idle environments with
    /// another fingerprint are discarded.
    pub fingerprint: String,
    pub function_name: String,
    pub version: String,
    pub memory_mb: i32,
    pub runtime: String,
    pub handler: String,
    pub code_dir: PathBuf,
    pub layer_dirs: Vec<PathBuf>,
    pub variables: Vec<(String, String)>,
    pub region: String,
    pub account: String,
    pub log_group: String,
    pub endpoint: String,
}

/// What the runtime did with one invocation.
pub(crate) enum RunResult {
    Done(Outcome),
    Timeout,
    Crashed(String),
}

/// Why an environment could not be started.
pub(crate) struct InitFailure {
    pub error_type: String,
    pub body: Bytes,
    pub logs: Vec<String>,
    pub duration_ms: f64,
}

pub(crate) struct Environment {
    pub fingerprint: String,
    /// Taken by the Shutdown phase (Drop).
    child: Option<Child>,
    extensions: Vec<ExtProcess>,
    api: Arc<RuntimeApi>,
    version: String,
    signals: UnboundedReceiver<Signal>,
    output: Arc<Mutex<Vec<String>>>,
    /// Count of end-of-invocation marks the runtime client wrote.
    marks: tokio::sync::watch::Receiver<u64>,
    /// Whether the runtime client writes marks (Stratus's own clients do).
    marked: bool,
    pub stream: String,
    /// Reported on the first invocation's REPORT line, then cleared.
    pub init_ms: Option<f64>,
    pub last_used: Instant,
    dir: PathBuf,
    /// The SHUTDOWN event's reason when this environment ends: `spindown`,
    /// `timeout` or `failure`.
    pub shutdown_reason: &'static str,
    /// An extension reported `/exit/error`: the environment is not reused.
    pub broken: bool,
    pub sink: Option<LogSink>,
    /// Mounts and memory limit of the processes; outlives them (Drop order).
    sandbox: Sandbox,
}

impl Drop for Environment {
    fn drop(&mut self) {
        let runtime = self.child.take();
        let extensions = std::mem::take(&mut self.extensions);
        let dir = std::mem::take(&mut self.dir);
        let registered = self.api.extensions().registered();
        let handle = tokio::runtime::Handle::try_current();
        let (Ok(handle), false) = (handle, registered.is_empty()) else {
            kill(runtime, extensions, &dir);
            return;
        };
        // The Shutdown phase runs after the caller moved on.
        let api = self.api.clone();
        let reason = self.shutdown_reason;
        let output = self.output.clone();
        let sink = self.sink.take();
        let stream = self.stream.clone();
        let limit = if registered.iter().any(|r| r.external) {
            SHUTDOWN_EXTERNAL
        } else {
            SHUTDOWN_INTERNAL
        };
        handle.spawn(async move {
            let mut runtime = runtime;
            // The runtime goes first; extensions get SHUTDOWN and their time.
            if let Some(c) = runtime.as_mut() {
                let _ = c.start_kill();
            }
            if !api.shutdown(reason, limit).await {
                tracing::debug!(
                    reason,
                    "extensions did not finish the Shutdown phase in time"
                );
            }
            kill(runtime, extensions, &dir);
            // Let the readers pass the extensions' last lines on.
            tokio::time::sleep(Duration::from_millis(20)).await;
            let lines = std::mem::take(&mut *output.lock());
            if let Some(sink) = sink
                && !lines.is_empty()
            {
                sink(&stream, lines);
            }
        });
    }
}

fn kill(runtime: Option<Child>, extensions: Vec<ExtProcess>, dir: &std::path::Path) {
    if let Some(mut c) = runtime {
        let _ = c.start_kill();
    }
    for mut x in extensions {
        let _ = x.child.start_kill();
    }
    if !dir.as_os_str().is_empty() {
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Waits for the process to exit; never resolves when there is none.
async fn exited(child: &mut Option<Child>) -> std::io::Result<std::process::ExitStatus> {
    match child.as_mut() {
        Some(c) => c.wait().await,
        None => std::future::pending().await,
    }
}

/// Name of a registered external extension whose process has exited.
fn crashed_extension(extensions: &mut [ExtProcess], registered: &[String]) -> Option<String> {
    extensions
        .iter_mut()
        .filter(|x| registered.contains(&x.name))
        .find_map(|x| matches!(x.child.try_wait(), Ok(Some(_))).then(|| x.name.clone()))
}

fn log_stream_name(version: &str) -> String {
    format!(
        "{}/[{version}]{}",
        chrono::Utc::now().format("%Y/%m/%d"),
        uuid::Uuid::new_v4().simple()
    )
}

fn join_paths(parts: &[PathBuf]) -> String {
    parts
        .iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(":")
}

/// How init ended when it did not succeed.
struct InitError {
    error_type: String,
    body: Bytes,
    /// `error` (reported) or `failure` (crash, timeout) for the init records.
    status: &'static str,
}

impl InitError {
    fn new(error_type: impl Into<String>, body: Bytes, status: &'static str) -> Self {
        InitError {
            error_type: error_type.into(),
            body,
            status,
        }
    }
}

fn extension_error_body(name: &str, error_type: &str, body: Bytes) -> Bytes {
    let is_json = serde_json::from_slice::<serde_json::Value>(&body)
        .is_ok_and(|v| v.get("errorMessage").is_some());
    if is_json {
        return body;
    }
    Bytes::from(
        serde_json::json!({
            "errorMessage": format!("RequestId: Error: extension {name} failed: {error_type}"),
            "errorType": error_type,
        })
        .to_string(),
    )
}

impl Environment {
    /// Cold start: start the external extensions and wait for them to
    /// register, spawn the runtime, and wait until it and every registered
    /// extension asked for work.
    pub async fn start(spec: &EnvSpec, data: &std::path::Path) -> Result<Environment, InitFailure> {
        let started = Instant::now();
        let fail = |t: &str, m: String, logs: Vec<String>| {
            InitFailure {
            error_type: t.to_string(),
            body: Bytes::from(
                serde_json::json!({"errorMessage": m, "errorType": t, "requestId": "", "stackTrace": []})
                    .to_string(),
            ),
            logs,
            duration_ms: started.elapsed().as_secs_f64() * 1000.0,
        }
        };
        let launcher = runtimes::resolve(&spec.runtime)
            .map_err(|m| fail("Runtime.InvalidRuntime", m, Vec::new()))?;
        let (api, signals) = RuntimeApi::bind(MAX_RESPONSE)
            .await
            .map_err(|e| fail("Runtime.Unknown", format!("Runtime API: {e}"), Vec::new()))?;
        api.set_function_info(FunctionInfo {
            function_name: spec.function_name.clone(),
            function_version: spec.version.clone(),
            handler: spec.handler.clone(),
            account_id: spec.account.clone(),
        });
        api.emit(Event::Platform(Platform::InitStart {
            runtime_version: spec.runtime.clone(),
            runtime_version_arn: runtimes::runtime_version_arn(&spec.region, &spec.runtime),
            function_name: spec.function_name.clone(),
            function_version: spec.version.clone(),
        }));
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = data.join("envs").join(&id);
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| fail("Runtime.Unknown", format!("temp dir: {e}"), Vec::new()))?;
        let sandbox = Sandbox::new(
            &dir,
            &tmp,
            spec.memory_mb,
            &spec.layer_dirs,
            &[data, &spec.code_dir],
        );
        let stream = log_stream_name(&spec.version);
        let runtimes_dir = data.join("runtimes");
        let mut cmd = match &launcher {
            Launcher::Python(bin) => {
                let mut c = sandbox.command(bin);
                c.arg(runtimes_dir.join("python_bootstrap.py"));
                c
            }
            Launcher::Node(bin) => {
                let mut c = sandbox.command(bin);
                c.arg(runtimes_dir.join("node_bootstrap.js"));
                c
            }
            Launcher::Provided => {
                let own = spec.code_dir.join("bootstrap");
                // /opt/bootstrap is the last layer's that has one.
                let from_layer = spec
                    .layer_dirs
                    .iter()
                    .rev()
                    .map(|d| d.join("bootstrap"))
                    .find(|p| runtimes::is_executable(p));
                let bin = if runtimes::is_executable(&own) {
                    own
                } else if let Some(p) = from_layer {
                    p
                } else {
                    return Err(fail(
                        "Runtime.InvalidEntrypoint",
                        "Couldn't find valid bootstrap(s): [/var/task/bootstrap /opt/bootstrap]"
                            .into(),
                        Vec::new(),
                    ));
                };
                sandbox.command(&bin)
            }
        };
        let vars = process_env(spec, &runtimes_dir, &tmp, &stream, &api.address());
        cmd.env_clear();
        for (k, v) in &vars {
            cmd.env(k, v);
        }
        cmd.current_dir(&spec.code_dir).kill_on_drop(true);
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mark_tx, marks) = tokio::sync::watch::channel(0u64);
        let mut env = Environment {
            fingerprint: spec.fingerprint.clone(),
            child: None,
            extensions: Vec::new(),
            api: Arc::new(api),
            version: spec.version.clone(),
            signals,
            output: output.clone(),
            marks,
            marked: !matches!(launcher, Launcher::Provided),
            stream,
            init_ms: None,
            last_used: Instant::now(),
            dir,
            shutdown_reason: "failure",
            broken: false,
            sink: None,
            sandbox,
        };
        // Extension init: external extensions start first and register.
        let found = extproc::discover(&spec.layer_dirs);
        env.api
            .extensions()
            .expect_external(found.iter().map(|(n, _)| n.clone()).collect());
        for (name, path) in &found {
            match extproc::spawn(
                &env.sandbox,
                name,
                path,
                &vars,
                &spec.code_dir,
                output.clone(),
                env.api.hub(),
            ) {
                Ok(p) => env.extensions.push(p),
                Err(e) => {
                    return Err(fail(
                        "Extension.LaunchError",
                        format!("could not start extension {name}: {e}"),
                        Vec::new(),
                    ));
                }
            }
        }
        // stdout and stderr share one pipe, so lines keep the order they were
        // written in (as in the Lambda log stream).
        let (reader, writer) = std::io::pipe()
            .map_err(|e| fail("Runtime.Unknown", format!("pipe: {e}"), Vec::new()))?;
        let writer2 = writer
            .try_clone()
            .map_err(|e| fail("Runtime.Unknown", format!("pipe: {e}"), Vec::new()))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2));
        let waited = tokio::time::timeout(INIT_LIMIT, async {
            env.await_registrations().await?;
            // Runtime init.
            let spawned = cmd.spawn();
            // Our copies of the write end must go, or the reader never sees EOF.
            drop(cmd);
            let child = spawned.map_err(|e| {
                InitError::new(
                    "Runtime.InvalidEntrypoint",
                    fail(
                        "Runtime.InvalidEntrypoint",
                        format!("could not start the runtime: {e}"),
                        Vec::new(),
                    )
                    .body,
                    "failure",
                )
            })?;
            env.child = Some(child);
            let receiver =
                tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(reader))
                    .map_err(|e| {
                        InitError::new(
                            "Runtime.Unknown",
                            Bytes::from(format!("pipe: {e}")),
                            "failure",
                        )
                    })?;
            capture(
                receiver,
                output.clone(),
                Some(mark_tx),
                Some((env.api.hub(), false)),
            );
            env.await_runtime_ready().await?;
            env.await_extensions_ready().await
        })
        .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        let outcome = match waited {
            Ok(r) => r,
            Err(_) => Err(InitError::new(
                "Sandbox.Timedout",
                fail(
                    "Sandbox.Timedout",
                    format!(
                        "INIT: Task timed out after {:.2} seconds",
                        INIT_LIMIT.as_secs_f64()
                    ),
                    Vec::new(),
                )
                .body,
                "failure",
            )),
        };
        match outcome {
            Ok(()) => {
                env.api.init_done();
                env.api.emit(Event::Platform(Platform::InitReport {
                    status: "success".into(),
                    error_type: None,
                    duration_ms,
                }));
                env.init_ms = Some(duration_ms);
                env.shutdown_reason = "spindown";
                Ok(env)
            }
            Err(e) => {
                env.api.emit(Event::Platform(Platform::InitReport {
                    status: e.status.into(),
                    error_type: Some(e.error_type.clone()),
                    duration_ms,
                }));
                // Let the processes' last words reach the pipe readers.
                let _ =
                    tokio::time::timeout(Duration::from_millis(200), exited(&mut env.child)).await;
                let logs = env.take_output();
                let body = if e.body.is_empty() {
                    fail(&e.error_type, "init failed".into(), Vec::new()).body
                } else {
                    e.body
                };
                Err(InitFailure {
                    error_type: e.error_type,
                    body,
                    logs,
                    duration_ms,
                })
            }
        }
    }

    /// Wait until every started external extension registered (or exited).
    async fn await_registrations(&mut self) -> Result<(), InitError> {
        loop {
            let registered: Vec<String> = self
                .api
                .extensions()
                .registered()
                .into_iter()
                .map(|r| r.name)
                .collect();
            let pending = self
                .extensions
                .iter_mut()
                .filter(|x| !registered.contains(&x.name))
                .any(|x| matches!(x.child.try_wait(), Ok(None)));
            if !pending {
                return Ok(());
            }
            tokio::select! {
                _ = self.api.extensions().changed() => {}
                s = self.signals.recv() => self.extension_signal(s)?,
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    /// Wait for the runtime's first `/next` (or its init error or exit).
    async fn await_runtime_ready(&mut self) -> Result<(), InitError> {
        loop {
            let r = tokio::select! {
                s = self.signals.recv() => match s {
                    Some(Signal::Ready) => Ok(true),
                    Some(Signal::InitError { error_type, body }) => Err(InitError::new(
                        error_type.unwrap_or_else(|| "Runtime.Unknown".into()),
                        body,
                        "error",
                    )),
                    other => self.extension_signal(other).map(|_| false),
                },
                status = exited(&mut self.child) => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    Err(InitError::new("Runtime.ExitError", Bytes::from(serde_json::json!({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": format!("RequestId: Error: Runtime exited with error: {status}"),
                    }).to_string()), "failure"))
                }
            };
            match r {
                Ok(true) => break,
                Ok(false) => continue,
                Err(e) => {
                    self.api.emit(Event::Platform(Platform::InitRuntimeDone {
                        status: e.status.into(),
                        error_type: Some(e.error_type.clone()),
                    }));
                    return Err(e);
                }
            }
        }
        self.api.emit(Event::Platform(Platform::InitRuntimeDone {
            status: "success".into(),
            error_type: None,
        }));
        Ok(())
    }

    /// Wait until every registered extension called `/event/next`.
    async fn await_extensions_ready(&mut self) -> Result<(), InitError> {
        loop {
            if self.api.extensions().all_idle() {
                return Ok(());
            }
            let names: Vec<String> = self
                .api
                .extensions()
                .registered()
                .into_iter()
                .map(|r| r.name)
                .collect();
            if let Some(name) = crashed_extension(&mut self.extensions, &names) {
                return Err(InitError::new(
                    "Extension.Crash",
                    extension_error_body(&name, "Extension.Crash", Bytes::new()),
                    "failure",
                ));
            }
            tokio::select! {
                _ = self.api.extensions().changed() => {}
                s = self.signals.recv() => { self.extension_signal(s)?; }
                _ = tokio::time::sleep(Duration::from_millis(20)) => {}
            }
        }
    }

    /// During init, an extension's init or exit error fails the init.
    fn extension_signal(&mut self, s: Option<Signal>) -> Result<(), InitError> {
        match s {
            Some(Signal::ExtensionInitError {
                name,
                error_type,
                body,
            })
            | Some(Signal::ExtensionExitError {
                name,
                error_type,
                body,
            }) => {
                let body = extension_error_body(&name, &error_type, body);
                Err(InitError::new(error_type, body, "error"))
            }
            Some(Signal::InitError { error_type, body }) => Err(InitError::new(
                error_type.unwrap_or_else(|| "Runtime.Unknown".into()),
                body,
                "error",
            )),
            Some(Signal::Ready) => Ok(()),
            None => Err(InitError::new("Runtime.Unknown", Bytes::new(), "failure")),
        }
    }

    pub fn take_output(&self) -> Vec<String> {
        std::mem::take(&mut *self.output.lock())
    }

    /// Report a platform event to the Logs/Telemetry subscribers.
    pub fn emit(&self, event: Event) {
        self.api.emit(event);
    }

    /// Run one invocation with a deadline. The second value is false when an
    /// extension did not finish its INVOKE work (back in `/event/next`) by
    /// the deadline.
    pub async fn run(&mut self, inv: Invocation, timeout: Duration) -> (RunResult, bool) {
        let started = Instant::now();
        let marks_before = *self.marks.borrow();
        let request_id = inv.request_id.clone();
        self.api.emit(Event::Platform(Platform::Start {
            request_id: request_id.clone(),
            version: self.version.clone(),
            trace_id: inv.trace_id.clone(),
        }));
        let rx = self.api.invoke(inv).await;
        let result = tokio::time::timeout(timeout, async {
            tokio::select! {
                r = rx => match r {
                    Ok(o) => RunResult::Done(o),
                    Err(_) => RunResult::Crashed("Runtime exited without providing a reason".into()),
                },
                status = exited(&mut self.child) => RunResult::Crashed(match status {
                    Ok(s) => format!("Runtime exited with error: {}", sandbox::describe_exit(s)),
                    Err(e) => format!("Runtime exited with error: {e}"),
                }),
            }
        })
        .await
        .unwrap_or(RunResult::Timeout);
        let runtime_ms = started.elapsed().as_secs_f64() * 1000.0;
        let (status, error_type, produced) = match &result {
            RunResult::Done(Outcome::Response(b)) => ("success", None, b.len()),
            RunResult::Done(Outcome::Error { error_type, body }) => (
                "error",
                Some(error_type.clone().unwrap_or_else(|| "Unhandled".into())),
                body.len(),
            ),
            RunResult::Done(Outcome::ResponseTooLarge { size }) => {
                ("error", Some("Function.ResponseSizeTooLarge".into()), *size)
            }
            RunResult::Timeout => ("timeout", None, 0),
            RunResult::Crashed(_) => ("failure", Some("Runtime.ExitError".into()), 0),
        };
        // Output written before the response is already in the pipe; wait for
        // the reader to pass the runtime's end mark (our clients write one), or
        // give it a moment otherwise. Only then is `platform.runtimeDone`
        // reported, so subscribers get the invoke's `function` lines before it
        // (as on AWS), however late the reader task was scheduled.
        match &result {
            RunResult::Done(_) if self.marked => {
                let _ = tokio::time::timeout(
                    Duration::from_millis(250),
                    self.marks.wait_for(|n| *n > marks_before),
                )
                .await;
            }
            RunResult::Crashed(_) => {
                let _ =
                    tokio::time::timeout(Duration::from_millis(100), exited(&mut self.child)).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            _ => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
            }
        }
        self.api.emit(Event::Platform(Platform::RuntimeDone {
            request_id,
            status: status.into(),
            error_type,
            duration_ms: runtime_ms,
            produced_bytes: produced as u64,
        }));
        // The invoke ends when every extension is back in /event/next.
        let left = timeout.saturating_sub(started.elapsed());
        let extensions_done = matches!(result, RunResult::Done(_))
            && tokio::time::timeout(left, self.api.extensions().wait_idle())
                .await
                .is_ok();
        let extensions_done = extensions_done || self.api.extensions().all_idle();
        while let Ok(s) = self.signals.try_recv() {
            if let Signal::ExtensionExitError {
                name, error_type, ..
            } = s
            {
                tracing::debug!(extension = %name, %error_type, "extension exit error; the environment will not be reused");
                self.broken = true;
            }
        }
        let names: Vec<String> = self
            .api
            .extensions()
            .registered()
            .into_iter()
            .map(|r| r.name)
            .collect();
        if crashed_extension(&mut self.extensions, &names).is_some() {
            self.broken = true;
        }
        self.last_used = Instant::now();
        (result, extensions_done)
    }

    /// Peak memory in MB: the cgroup's when the sandbox limits memory, else
    /// the runtime process's peak RSS (VmHWM); 0 when unknown.
    pub fn max_memory_mb(&self) -> u64 {
        if let Some(mb) = self.sandbox.peak_memory_mb() {
            return mb;
        }
        let Some(pid) = self.child.as_ref().and_then(Child::id) else {
            return 0;
        };
        let Ok(status) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            return 0;
        };
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmHWM:"))
            .and_then(|v| v.split_whitespace().next()?.parse::<u64>().ok())
            .map(|kb| kb.div_ceil(1024))
            .unwrap_or(0)
    }
}

/// The environment variables of the runtime and of the extensions.
fn process_env(
    spec: &EnvSpec,
    runtimes_dir: &std::path::Path,
    tmp: &std::path::Path,
    stream: &str,
    api_address: &str,
) -> Vec<(String, OsString)> {
    // PYTHONPATH / NODE_PATH: function code first, then layers (the /opt
    // locations AWS runtimes search), then Stratus's managed SDK folder.
    // Later layers come first: AWS extracts layers into /opt in order, so a
    // later layer's file replaces an earlier one's.
    let mut py = vec![spec.code_dir.clone()];
    let mut node = Vec::new();
    for l in spec.layer_dirs.iter().rev() {
        py.push(l.join("python"));
        if let Some(v) = spec.runtime.strip_prefix("python") {
            py.push(
                l.join("python/lib")
                    .join(format!("python{v}"))
                    .join("site-packages"),
            );
        }
        node.push(l.join("nodejs/node_modules"));
        node.push(l.join(format!(
            "nodejs/node{}/node_modules",
            spec.runtime
                .trim_start_matches("nodejs")
                .trim_end_matches(".x")
        )));
    }
    py.push(runtimes_dir.join("python"));
    node.push(runtimes_dir.join("nodejs/node_modules"));
    let mut ld = spec
        .layer_dirs
        .iter()
        .rev()
        .map(|l| l.join("lib"))
        .collect::<Vec<_>>();
    ld.push(spec.code_dir.join("lib"));
    let mut vars: Vec<(String, OsString)> = Vec::new();
    let mut set = |k: &str, v: OsString| {
        vars.retain(|(n, _)| n != k);
        vars.push((k.to_string(), v));
    };
    set("PATH", std::env::var_os("PATH").unwrap_or_default());
    set("LANG", "en_US.UTF-8".into());
    set("TZ", ":UTC".into());
    set("HOME", tmp.into());
    set("TMPDIR", tmp.into());
    set("LD_LIBRARY_PATH", join_paths(&ld).into());
    for (k, v) in &spec.variables {
        set(k, v.into());
    }
    set("AWS_LAMBDA_FUNCTION_NAME", (&spec.function_name).into());
    set("AWS_LAMBDA_FUNCTION_VERSION", (&spec.version).into());
    set(
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
        spec.memory_mb.to_string().into(),
    );
    set("AWS_LAMBDA_LOG_GROUP_NAME", (&spec.log_group).into());
    set("AWS_LAMBDA_LOG_STREAM_NAME", stream.into());
    set("AWS_LAMBDA_RUNTIME_API", api_address.into());
    set("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".into());
    set("LAMBDA_TASK_ROOT", (&spec.code_dir).into());
    set("LAMBDA_RUNTIME_DIR", runtimes_dir.into());
    set("_HANDLER", (&spec.handler).into());
    set("AWS_REGION", (&spec.region).into());
    set("AWS_DEFAULT_REGION", (&spec.region).into());
    set(
        "AWS_EXECUTION_ENV",
        format!("AWS_Lambda_{}", spec.runtime).into(),
    );
    set("AWS_ACCESS_KEY_ID", (&spec.account).into());
    set("AWS_SECRET_ACCESS_KEY", "stratus".into());
    set("AWS_SESSION_TOKEN", "stratus-lambda-session".into());
    set("AWS_ENDPOINT_URL", (&spec.endpoint).into());
    set("PYTHONPATH", join_paths(&py).into());
    set("PYTHONUNBUFFERED", "1".into());
    set("NODE_PATH", join_paths(&node).into());
    vars
}

/// The line our runtime clients write after an invocation's output.
const END_MARK: &str = "\u{1e}STRATUS-END\u{1e}";

/// Read a process's output lines into `out`; with a hub, also report each
/// line to the subscribers (`function`, or `extension` when the flag is set).
fn capture<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    r: R,
    out: Arc<Mutex<Vec<String>>>,
    marks: Option<tokio::sync::watch::Sender<u64>>,
    hub: Option<(Arc<Hub>, bool)>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line == END_MARK {
                if let Some(m) = &marks {
                    m.send_modify(|n| *n += 1);
                }
                continue;
            }
            // Runtimes write multi-line records with \r separators (one log event).
            let line = line.replace('\r', "\n");
            if let Some((hub, is_extension)) = &hub {
                hub.emit(if *is_extension {
                    Event::Extension(line.clone())
                } else {
                    Event::Function(line.clone())
                });
            }
            out.lock().push(line);
        }
    });
}

/// The pools of idle environments, per function version.
pub(crate) struct EnvManager {
    data: PathBuf,
    idle: Mutex<HashMap<String, Vec<Environment>>>,
}

impl EnvManager {
    pub fn new(data: PathBuf) -> Self {
        EnvManager {
            data,
            idle: Mutex::new(HashMap::new()),
        }
    }

    pub fn data(&self) -> &std::path::Path {
        &self.data
    }

    /// A warm environment with the current fingerprint, if any.
    pub fn take(&self, spec: &EnvSpec) -> Option<Environment> {
        let mut idle = self.idle.lock();
        let list = idle.get_mut(&spec.pool_key)?;
        // Stale environments (older code or configuration) are dropped, which kills them.
        list.retain(|e| e.fingerprint == spec.fingerprint);
        list.pop()
    }

    pub fn give_back(&self, pool_key: &str, env: Environment) {
        self.idle
            .lock()
            .entry(pool_key.to_string())
            .or_default()
            .push(env);
    }

    pub fn warm_count(&self, fn_key: &str, version: &str) -> usize {
        self.idle
            .lock()
            .get(&format!("{fn_key}#{version}"))
            .map_or(0, Vec::len)
    }

    pub fn discard_version(&self, fn_key: &str, version: &str) {
        let removed = self.idle.lock().remove(&format!("{fn_key}#{version}"));
        drop(removed);
    }

    pub fn discard_function(&self, fn_key: &str) {
        let prefix = format!("{fn_key}#");
        let removed: Vec<_> = {
            let mut idle = self.idle.lock();
            let keys: Vec<String> = idle
                .keys()
                .filter(|k| k.starts_with(&prefix))
                .cloned()
                .collect();
            keys.into_iter().filter_map(|k| idle.remove(&k)).collect()
        };
        drop(removed);
    }

    pub fn shutdown_all(&self) {
        let all: Vec<_> = self.idle.lock().drain().collect();
        drop(all);
        let _ = std::fs::remove_dir_all(self.data.join("envs"));
        sandbox::cleanup();
    }

    fn reap(&self) {
        let stale: Vec<Environment> = {
            let mut idle = self.idle.lock();
            let mut out = Vec::new();
            for list in idle.values_mut() {
                let (keep, old): (Vec<_>, Vec<_>) = std::mem::take(list)
                    .into_iter()
                    .partition(|e| e.last_used.elapsed() < IDLE_LIMIT);
                *list = keep;
                out.extend(old);
            }
            idle.retain(|_, l| !l.is_empty());
            out
        };
        if !stale.is_empty() {
            tracing::debug!(count = stale.len(), "stopping idle Lambda environments");
        }
    }
}

pub(crate) fn start_reaper(svc: &Arc<LambdaService>) {
    let weak = Arc::downgrade(svc);
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(Duration::from_secs(30)).await;
            let Some(svc) = weak.upgrade() else { return };
            svc.envs.reap();
        }
    });
}
