//! Managed runtimes: which interpreter runs a runtime identifier, and the
//! runtime clients Stratus ships (written to `<data>/runtimes/`).
//!
//! Rule: `pythonX.Y` runs on a `pythonX.Y` binary from PATH if there is one,
//! else on `python3` when its version is exactly X.Y; `nodejsNN.x` runs on
//! `node` whose major version is NN; `provided*` runs the package's
//! executable `bootstrap` (or one from a layer). Anything else — or a missing
//! interpreter — puts the function in state `Failed` with a reason naming
//! what is missing.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use parking_lot::Mutex;
use stratus_core::AwsError;

use crate::errors::invalid_param;

const PYTHON_BOOTSTRAP: &str = include_str!("bootstrap/python_bootstrap.py");
const NODE_BOOTSTRAP: &str = include_str!("bootstrap/node_bootstrap.js");

/// Runtimes AWS no longer accepts for new or updated functions.
const DEPRECATED: &[&str] = &[
    "nodejs",
    "nodejs4.3",
    "nodejs6.10",
    "nodejs8.10",
    "nodejs10.x",
    "nodejs12.x",
    "nodejs14.x",
    "nodejs16.x",
    "nodejs4.3-edge",
    "python2.7",
    "python3.6",
    "python3.7",
    "python3.8",
    "dotnetcore1.0",
    "dotnetcore2.0",
    "dotnetcore2.1",
    "dotnetcore3.1",
    "dotnet6",
    "ruby2.5",
    "ruby2.7",
    "java8",
    "go1.x",
    "provided",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Launcher {
    Python(PathBuf),
    Node(PathBuf),
    Provided,
}

pub(crate) fn check_supported(runtime: &str) -> Result<(), AwsError> {
    if DEPRECATED.contains(&runtime) {
        return Err(invalid_param(format!(
            "The runtime parameter of {runtime} is no longer supported for creating or updating AWS Lambda functions. We recommend you use a supported runtime while creating or updating functions."
        )));
    }
    Ok(())
}

/// A stable runtime version ARN per runtime and region.
pub(crate) fn runtime_version_arn(region: &str, runtime: &str) -> String {
    let (hex, _) = crate::code::sha256_b64(format!("stratus-runtime:{runtime}").as_bytes());
    format!("arn:aws:lambda:{region}::runtime:{hex}")
}

fn cache() -> &'static Mutex<HashMap<String, Result<Launcher, String>>> {
    static CACHE: OnceLock<Mutex<HashMap<String, Result<Launcher, String>>>> = OnceLock::new();
    CACHE.get_or_init(|| Mutex::new(HashMap::new()))
}

/// The interpreter for `runtime`, or a reason why Stratus cannot run it here.
pub(crate) fn resolve(runtime: &str) -> Result<Launcher, String> {
    if let Some(hit) = cache().lock().get(runtime) {
        return hit.clone();
    }
    let result = resolve_uncached(runtime);
    cache().lock().insert(runtime.to_string(), result.clone());
    result
}

fn resolve_uncached(runtime: &str) -> Result<Launcher, String> {
    if let Some(v) = runtime.strip_prefix("python") {
        let exact = format!("python{v}");
        if let Some(p) = which(&exact) {
            return Ok(Launcher::Python(real_python(&p, v).unwrap_or(p)));
        }
        let found = which("python3").map(|p| {
            let ver = version_of(
                &p,
                &["-c", "import sys;print('%d.%d'%sys.version_info[:2])"],
            );
            (p, ver)
        });
        return match found {
            Some((p, Some(ver))) if ver == v => {
                Ok(Launcher::Python(real_python(&p, v).unwrap_or(p)))
            }
            Some((_, ver)) => Err(format!(
                "Stratus cannot run {runtime}: no {exact} interpreter on PATH and python3 is version {}",
                ver.unwrap_or_else(|| "unknown".into())
            )),
            None => Err(format!(
                "Stratus cannot run {runtime}: neither {exact} nor python3 is on PATH"
            )),
        };
    }
    if let Some(major) = runtime
        .strip_prefix("nodejs")
        .and_then(|v| v.strip_suffix(".x"))
    {
        let Some(node) = which("node") else {
            return Err(format!("Stratus cannot run {runtime}: node is not on PATH"));
        };
        let ver = version_of(&node, &["--version"]).unwrap_or_default();
        let found_major = ver.trim_start_matches('v').split('.').next().unwrap_or("");
        if found_major == major {
            return Ok(Launcher::Node(node));
        }
        return Err(format!(
            "Stratus cannot run {runtime}: it needs node {major}.x on PATH, found node {ver}"
        ));
    }
    if runtime.starts_with("provided") {
        return Ok(Launcher::Provided);
    }
    Err(format!(
        "Stratus cannot run {runtime} functions: only python3.x, nodejsNN.x and provided.* runtimes are executed locally"
    ))
}

fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

pub(crate) fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The interpreter a `python` found on PATH really runs, when it is version
/// `version`. Version managers (pyenv, asdf) put shell-script shims on PATH
/// that pick the interpreter on every start, which costs a cold start ~100 ms;
/// asking the interpreter once for `sys.executable` skips the shim from then
/// on (a later change of the manager's selection applies after a restart).
fn real_python(bin: &Path, version: &str) -> Option<PathBuf> {
    let out = version_of(
        bin,
        &[
            "-c",
            "import sys;print('%d.%d'%sys.version_info[:2]);print(sys.executable)",
        ],
    )?;
    let mut lines = out.lines();
    let (found, exe) = (lines.next()?.trim(), PathBuf::from(lines.next()?.trim()));
    (found == version && exe.is_absolute() && is_executable(&exe)).then_some(exe)
}

fn version_of(bin: &Path, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(bin).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    (!text.is_empty()).then_some(text)
}

/// Stratus's managed runtime folder: the SDKs functions import without
/// packaging them (`stratus runtimes install` fills it; execution
/// environments put it last on PYTHONPATH / NODE_PATH).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ManagedRuntimes {
    /// `<lambda data>/runtimes`: also holds the runtime clients.
    pub root: PathBuf,
    /// `pip install --target` here: `boto3` and its dependencies.
    pub python: PathBuf,
    /// `npm install --prefix` here: the AWS SDK for JavaScript v3.
    pub node_prefix: PathBuf,
    /// `<node_prefix>/node_modules`, what NODE_PATH names.
    pub node_modules: PathBuf,
}

impl ManagedRuntimes {
    /// The folder inside Lambda's data directory (`<data-dir>/lambda`).
    pub fn in_lambda_dir(lambda_data: &Path) -> Self {
        let root = lambda_data.join("runtimes");
        let node_prefix = root.join("nodejs");
        ManagedRuntimes {
            python: root.join("python"),
            node_modules: node_prefix.join("node_modules"),
            node_prefix,
            root,
        }
    }
}

/// Write the runtime clients (replaced on every start so upgrades apply).
pub(crate) fn install_clients(data: &Path) -> std::io::Result<()> {
    let managed = ManagedRuntimes::in_lambda_dir(data);
    let dir = &managed.root;
    std::fs::create_dir_all(dir)?;
    std::fs::write(dir.join("python_bootstrap.py"), PYTHON_BOOTSTRAP)?;
    std::fs::write(dir.join("node_bootstrap.js"), NODE_BOOTSTRAP)?;
    std::fs::create_dir_all(&managed.python)?;
    std::fs::create_dir_all(&managed.node_modules)?;
    Ok(())
}
