//! Execution environments: one runtime process behind its own Runtime API
//! endpoint, cold-started on demand, reused while warm, reaped when idle.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use stratus_lambda_runtime::{Invocation, Outcome, RuntimeApi, Signal};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::mpsc::UnboundedReceiver;

use crate::runtimes::{self, Launcher};
use crate::service::LambdaService;

/// The init phase limit.
const INIT_LIMIT: Duration = Duration::from_secs(10);
/// Idle environments older than this are stopped.
const IDLE_LIMIT: Duration = Duration::from_secs(300);
/// Largest response a runtime may post (6 MB as documented).
pub(crate) const MAX_RESPONSE: usize = 6 * 1024 * 1024;

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
    child: Child,
    api: RuntimeApi,
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
}

impl Drop for Environment {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
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

impl Environment {
    /// Cold start: spawn the runtime and wait for its first `/next`.
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
        let id = uuid::Uuid::new_v4().simple().to_string();
        let dir = data.join("envs").join(&id);
        let tmp = dir.join("tmp");
        std::fs::create_dir_all(&tmp)
            .map_err(|e| fail("Runtime.Unknown", format!("temp dir: {e}"), Vec::new()))?;
        let stream = log_stream_name(&spec.version);
        let runtimes_dir = data.join("runtimes");
        let mut cmd = match &launcher {
            Launcher::Python(bin) => {
                let mut c = Command::new(bin);
                c.arg(runtimes_dir.join("python_bootstrap.py"));
                c
            }
            Launcher::Node(bin) => {
                let mut c = Command::new(bin);
                c.arg(runtimes_dir.join("node_bootstrap.js"));
                c
            }
            Launcher::Provided => {
                let own = spec.code_dir.join("bootstrap");
                let from_layer = spec
                    .layer_dirs
                    .iter()
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
                Command::new(bin)
            }
        };
        // PYTHONPATH / NODE_PATH: function code first, then layers (the /opt
        // locations AWS runtimes search), then Stratus's managed SDK folder.
        let mut py = vec![spec.code_dir.clone()];
        let mut node = Vec::new();
        for l in &spec.layer_dirs {
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
        let exec_env = format!("AWS_Lambda_{}", spec.runtime);
        let mut ld = spec
            .layer_dirs
            .iter()
            .map(|l| l.join("lib"))
            .collect::<Vec<_>>();
        ld.push(spec.code_dir.join("lib"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("LANG", "en_US.UTF-8")
            .env("TZ", ":UTC")
            .env("HOME", &tmp)
            .env("TMPDIR", &tmp)
            .env("LD_LIBRARY_PATH", join_paths(&ld));
        for (k, v) in &spec.variables {
            cmd.env(k, v);
        }
        cmd.env("AWS_LAMBDA_FUNCTION_NAME", &spec.function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", &spec.version)
            .env(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
                spec.memory_mb.to_string(),
            )
            .env("AWS_LAMBDA_LOG_GROUP_NAME", &spec.log_group)
            .env("AWS_LAMBDA_LOG_STREAM_NAME", &stream)
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .env("LAMBDA_TASK_ROOT", &spec.code_dir)
            .env("LAMBDA_RUNTIME_DIR", &runtimes_dir)
            .env("_HANDLER", &spec.handler)
            .env("AWS_REGION", &spec.region)
            .env("AWS_DEFAULT_REGION", &spec.region)
            .env("AWS_EXECUTION_ENV", exec_env)
            .env("AWS_ACCESS_KEY_ID", &spec.account)
            .env("AWS_SECRET_ACCESS_KEY", "stratus")
            .env("AWS_SESSION_TOKEN", "stratus-lambda-session")
            .env("AWS_ENDPOINT_URL", &spec.endpoint)
            .env("PYTHONPATH", join_paths(&py))
            .env("PYTHONUNBUFFERED", "1")
            .env("NODE_PATH", join_paths(&node))
            .current_dir(&spec.code_dir)
            .kill_on_drop(true);
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
        let spawned = cmd.spawn();
        // Our copies of the write end must go, or the reader never sees EOF.
        drop(cmd);
        let child = spawned.map_err(|e| {
            fail(
                "Runtime.InvalidEntrypoint",
                format!("could not start the runtime: {e}"),
                Vec::new(),
            )
        })?;
        let receiver =
            tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(reader))
                .map_err(|e| fail("Runtime.Unknown", format!("pipe: {e}"), Vec::new()))?;
        let output = Arc::new(Mutex::new(Vec::new()));
        let (mark_tx, marks) = tokio::sync::watch::channel(0u64);
        capture(receiver, output.clone(), mark_tx);
        let mut env = Environment {
            fingerprint: spec.fingerprint.clone(),
            child,
            api,
            signals,
            output,
            marks,
            marked: !matches!(launcher, Launcher::Provided),
            stream,
            init_ms: None,
            last_used: Instant::now(),
            dir,
        };
        let waited = tokio::time::timeout(INIT_LIMIT, async {
            tokio::select! {
                s = env.signals.recv() => match s {
                    Some(Signal::Ready) => Ok(()),
                    Some(Signal::InitError { error_type, body }) => Err((error_type.unwrap_or_else(|| "Runtime.Unknown".into()), body)),
                    None => Err(("Runtime.Unknown".to_string(), Bytes::new())),
                },
                status = env.child.wait() => {
                    let status = status.map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                    Err(("Runtime.ExitError".to_string(), Bytes::from(serde_json::json!({
                        "errorType": "Runtime.ExitError",
                        "errorMessage": format!("RequestId: Error: Runtime exited with error: {status}"),
                    }).to_string())))
                }
            }
        })
        .await;
        let duration_ms = started.elapsed().as_secs_f64() * 1000.0;
        match waited {
            Ok(Ok(())) => {
                env.init_ms = Some(duration_ms);
                Ok(env)
            }
            Ok(Err((error_type, body))) => {
                // Let the runtime's last words reach the pipe readers.
                let _ = tokio::time::timeout(Duration::from_millis(200), env.child.wait()).await;
                let logs = env.take_output();
                let body = if body.is_empty() {
                    fail(&error_type, "init failed".into(), Vec::new()).body
                } else {
                    body
                };
                Err(InitFailure {
                    error_type,
                    body,
                    logs,
                    duration_ms,
                })
            }
            Err(_) => {
                let logs = env.take_output();
                let mut f = fail(
                    "Sandbox.Timedout",
                    format!(
                        "INIT: Task timed out after {:.2} seconds",
                        INIT_LIMIT.as_secs_f64()
                    ),
                    logs,
                );
                f.duration_ms = duration_ms;
                Err(f)
            }
        }
    }

    pub fn take_output(&self) -> Vec<String> {
        std::mem::take(&mut *self.output.lock())
    }

    /// Run one invocation with a deadline.
    pub async fn run(&mut self, inv: Invocation, timeout: Duration) -> RunResult {
        let marks_before = *self.marks.borrow();
        let rx = self.api.invoke(inv).await;
        let result = tokio::time::timeout(timeout, async {
            tokio::select! {
                r = rx => match r {
                    Ok(o) => RunResult::Done(o),
                    Err(_) => RunResult::Crashed("Runtime exited without providing a reason".into()),
                },
                status = self.child.wait() => RunResult::Crashed(match status {
                    Ok(s) => format!("Runtime exited with error: {s}"),
                    Err(e) => format!("Runtime exited with error: {e}"),
                }),
            }
        })
        .await
        .unwrap_or(RunResult::Timeout);
        // Output written before the response is already in the pipe; wait for
        // the reader to pass the runtime's end mark (our clients write one), or
        // give it a moment otherwise.
        match &result {
            RunResult::Done(_) if self.marked => {
                let _ = tokio::time::timeout(
                    Duration::from_millis(250),
                    self.marks.wait_for(|n| *n > marks_before),
                )
                .await;
            }
            RunResult::Crashed(_) => {
                let _ = tokio::time::timeout(Duration::from_millis(100), self.child.wait()).await;
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            _ => {
                for _ in 0..3 {
                    tokio::task::yield_now().await;
                }
            }
        }
        self.last_used = Instant::now();
        result
    }

    /// Peak resident memory in MB (VmHWM), 0 when unknown.
    pub fn max_memory_mb(&self) -> u64 {
        let Some(pid) = self.child.id() else { return 0 };
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

/// The line our runtime clients write after an invocation's output.
const END_MARK: &str = "\u{1e}STRATUS-END\u{1e}";

fn capture<R: tokio::io::AsyncRead + Unpin + Send + 'static>(
    r: R,
    out: Arc<Mutex<Vec<String>>>,
    marks: tokio::sync::watch::Sender<u64>,
) {
    tokio::spawn(async move {
        let mut lines = BufReader::new(r).lines();
        while let Ok(Some(line)) = lines.next_line().await {
            if line == END_MARK {
                marks.send_modify(|n| *n += 1);
                continue;
            }
            // Runtimes write multi-line records with \r separators (one log event).
            out.lock().push(line.replace('\r', "\n"));
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
