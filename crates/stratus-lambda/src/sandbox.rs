//! Isolation of an execution environment's processes, where the host allows it.
//!
//! When Stratus runs as root and `unshare` is on the PATH, every process of an
//! environment (runtime and external extensions) starts in a private mount
//! namespace where
//! - `/opt` holds the function's layers, merged in order as AWS extracts them
//!   (a read-only overlay of the layer folders; one layer is bind-mounted, no
//!   layer leaves an empty `/opt`), so `/opt/python`, `/opt/nodejs/node_modules`,
//!   `/opt/extensions` and `/opt/bin` are where code expects them;
//! - `/tmp` is the environment's own folder.
//!
//! When a memory cgroup can be created (cgroup v2 with the memory controller,
//! or the v1 memory hierarchy), the processes join one with the function's
//! MemorySize as its limit: the kernel stops a function that goes over, as
//! Lambda does, and `Max Memory Used` is the cgroup's peak.
//!
//! Otherwise processes start as they are and layers are reached through the
//! path mapping (PYTHONPATH, NODE_PATH, ...) that works in both cases. The
//! wrapper is a small `sh` script run by `unshare`, which keeps this crate free
//! of `unsafe` (no pre-exec hooks); the script moves itself into the cgroup
//! before it `exec`s the program, so nothing runs outside the limit.
//! `STRATUS_LAMBDA_SANDBOX=off` turns all of it off.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tokio::process::Command;

/// What the host lets Stratus do, probed once.
#[derive(Debug, Clone, Default)]
pub(crate) struct Capabilities {
    /// `unshare` works and we may mount (root).
    pub namespaces: Option<PathBuf>,
    /// Where per-environment memory cgroups are created, and how.
    pub memory: Option<CgroupRoot>,
}

#[derive(Debug, Clone)]
pub(crate) struct CgroupRoot {
    pub dir: PathBuf,
    pub v2: bool,
}

/// `$4` lists (one per line) the folders right under `/tmp` that hold what
/// the environment needs from the host (Stratus's data, the code, layers):
/// they are mounted again at their own paths inside the private `/tmp`.
const SCRIPT: &str = r#"cg=$1; opt=$2; tmp=$3; keep=$4; stage=$5; shift 5
if [ -n "$cg" ]; then echo $$ > "$cg/cgroup.procs" || exit 97; fi
case "$opt" in
  overlay:*) mount -t overlay stratus-layers -o "lowerdir=${opt#overlay:}" /opt || exit 98 ;;
  bind:*) mount --bind "${opt#bind:}" /opt && mount -o remount,bind,ro /opt || exit 98 ;;
esac
if [ -n "$tmp" ]; then
  if [ -n "$keep" ]; then mount --bind /tmp "$stage" || exit 98; fi
  mount --bind "$tmp" /tmp || exit 98
  IFS='
'
  for p in $keep; do
    mkdir -p "/tmp/$p" && mount --bind "$stage/$p" "/tmp/$p" || exit 98
  done
  unset IFS
fi
exec "$@""#;

/// Where the host's `/tmp` is reached while the private one is assembled.
const STAGE: &str = "/run/stratus-sandbox-stage";

pub(crate) fn capabilities() -> &'static Capabilities {
    static CAPS: OnceLock<Capabilities> = OnceLock::new();
    CAPS.get_or_init(|| {
        let caps = probe();
        tracing::info!(
            namespaces = caps.namespaces.is_some(),
            memory_limits = caps.memory.is_some(),
            "Lambda sandbox: /opt and /tmp per environment {}; memory limits {}",
            if caps.namespaces.is_some() {
                "mounted"
            } else {
                "by path mapping (needs root and unshare)"
            },
            if caps.memory.is_some() {
                "enforced"
            } else {
                "not enforced (no writable memory cgroup)"
            }
        );
        caps
    })
}

fn probe() -> Capabilities {
    if std::env::var("STRATUS_LAMBDA_SANDBOX").is_ok_and(|v| v == "off") || !is_root() {
        return Capabilities::default();
    }
    if std::fs::create_dir_all(STAGE).is_err() {
        return Capabilities {
            namespaces: None,
            memory: memory_root(),
        };
    }
    let namespaces = find_in_path("unshare").filter(|unshare| {
        std::process::Command::new(unshare)
            .args(["--mount", "--propagation", "private", "true"])
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    });
    Capabilities {
        namespaces,
        memory: memory_root(),
    }
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|l| l.split_whitespace().nth(1).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| crate::runtimes::is_executable(p))
}

/// A directory under which a child cgroup with a memory limit can be made.
fn memory_root() -> Option<CgroupRoot> {
    let pid = std::process::id();
    let v2 = Path::new("/sys/fs/cgroup");
    let has_v2_memory = std::fs::read_to_string(v2.join("cgroup.controllers"))
        .is_ok_and(|c| c.split_whitespace().any(|x| x == "memory"));
    let candidates = if has_v2_memory {
        // The memory controller must be enabled for the children of the root
        // and of our own group.
        let _ = std::fs::write(v2.join("cgroup.subtree_control"), "+memory");
        vec![(v2.join(format!("stratus-{pid}")), true)]
    } else {
        vec![(
            Path::new("/sys/fs/cgroup/memory").join(format!("stratus-{pid}")),
            false,
        )]
    };
    for (dir, is_v2) in candidates {
        if std::fs::create_dir_all(&dir).is_err() {
            continue;
        }
        if is_v2 {
            let _ = std::fs::write(dir.join("cgroup.subtree_control"), "+memory");
        }
        // Prove a child with a limit can be made.
        let probe = dir.join("probe");
        let ok = std::fs::create_dir(&probe).is_ok()
            && std::fs::write(probe.join(limit_file(is_v2)), "67108864").is_ok();
        let _ = std::fs::remove_dir(&probe);
        if ok {
            return Some(CgroupRoot { dir, v2: is_v2 });
        }
        let _ = std::fs::remove_dir(&dir);
    }
    None
}

fn limit_file(v2: bool) -> &'static str {
    if v2 {
        "memory.max"
    } else {
        "memory.limit_in_bytes"
    }
}

/// How `/opt` is made from the layers: the overlay's `lowerdir` lists the
/// last layer first (later layers win, as when AWS extracts them in order).
fn opt_spec(layers: &[PathBuf], empty: &Path) -> Option<String> {
    let usable = |p: &Path| {
        let s = p.to_string_lossy();
        !s.contains([':', ',']) && !s.is_empty()
    };
    match layers {
        [] => Some(format!("bind:{}", empty.display())),
        [one] => Some(format!("bind:{}", one.display())),
        many if many.iter().all(|p| usable(p)) => Some(format!(
            "overlay:{}",
            many.iter()
                .rev()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(":")
        )),
        _ => None,
    }
}

/// The first components under `/tmp` of `paths`, one per line, no duplicates.
fn kept_under_tmp<'a>(paths: impl Iterator<Item = &'a Path>) -> String {
    let mut out: Vec<String> = Vec::new();
    for p in paths {
        let absolute = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
        if let Ok(rest) = absolute.strip_prefix("/tmp")
            && let Some(std::path::Component::Normal(first)) = rest.components().next()
        {
            let first = first.to_string_lossy().into_owned();
            if !first.contains('\n') && !out.contains(&first) {
                out.push(first);
            }
        }
    }
    out.join("\n")
}

/// The isolation of one execution environment.
pub(crate) struct Sandbox {
    caps: &'static Capabilities,
    cgroup: Option<PathBuf>,
    opt: Option<String>,
    tmp: PathBuf,
    keep: String,
}

impl Sandbox {
    /// `env_dir` is the environment's own folder (its `tmp` is `/tmp`);
    /// `needed` are the host folders the processes use (data, code).
    pub fn new(
        env_dir: &Path,
        tmp: &Path,
        memory_mb: i32,
        layers: &[PathBuf],
        needed: &[&Path],
    ) -> Sandbox {
        let mut sb = Self::with_capabilities(capabilities(), env_dir, tmp, memory_mb, layers);
        sb.keep = kept_under_tmp(
            needed
                .iter()
                .copied()
                .chain(layers.iter().map(PathBuf::as_path)),
        );
        sb
    }

    fn with_capabilities(
        caps: &'static Capabilities,
        env_dir: &Path,
        tmp: &Path,
        memory_mb: i32,
        layers: &[PathBuf],
    ) -> Sandbox {
        let cgroup = caps.memory.as_ref().and_then(|root| {
            let name = env_dir.file_name()?.to_string_lossy().into_owned();
            let dir = root.dir.join(name);
            std::fs::create_dir(&dir).ok()?;
            let bytes = i64::from(memory_mb.max(128)) * 1024 * 1024;
            match std::fs::write(dir.join(limit_file(root.v2)), bytes.to_string()) {
                Ok(()) => {
                    if !root.v2 {
                        // Without swap accounting this file is absent; fine.
                        let _ = std::fs::write(
                            dir.join("memory.memsw.limit_in_bytes"),
                            bytes.to_string(),
                        );
                    } else {
                        let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                    }
                    Some(dir)
                }
                Err(e) => {
                    tracing::debug!(error = %e, "could not set the memory limit");
                    let _ = std::fs::remove_dir(&dir);
                    None
                }
            }
        });
        let empty = env_dir.join("opt-empty");
        let opt = caps.namespaces.as_ref().and_then(|_| {
            if layers.is_empty() {
                std::fs::create_dir_all(&empty).ok()?;
            }
            opt_spec(layers, &empty)
        });
        Sandbox {
            caps,
            cgroup,
            opt,
            tmp: tmp.to_path_buf(),
            keep: String::new(),
        }
    }

    /// A command that runs `program` inside the sandbox; arguments, variables
    /// and the working directory are added by the caller as usual.
    pub fn command(&self, program: &Path) -> Command {
        let Some(unshare) = &self.caps.namespaces else {
            return Command::new(program);
        };
        let mut cmd = Command::new(unshare);
        let opt = self.opt.clone().unwrap_or_default();
        let cgroup: OsString = self
            .cgroup
            .as_ref()
            .map(|p| p.as_os_str().to_owned())
            .unwrap_or_default();
        // The program itself may live under /tmp too (a virtualenv's python).
        let keep = [
            self.keep.as_str(),
            &kept_under_tmp(std::iter::once(program)),
        ]
        .iter()
        .flat_map(|k| k.lines())
        .fold(Vec::<&str>::new(), |mut acc, k| {
            if !acc.contains(&k) {
                acc.push(k);
            }
            acc
        })
        .join("\n");
        cmd.args(["--mount", "--propagation", "private", "--", "/bin/sh", "-c"])
            .arg(SCRIPT)
            .arg("stratus-sandbox")
            .arg(cgroup)
            .arg(opt)
            .arg(&self.tmp)
            .arg(keep)
            .arg(STAGE)
            .arg(program);
        cmd
    }

    /// Peak memory of the environment's processes in MB, when a cgroup counts it.
    pub fn peak_memory_mb(&self) -> Option<u64> {
        let dir = self.cgroup.as_ref()?;
        let file = if dir.join("memory.peak").exists() {
            "memory.peak"
        } else {
            "memory.max_usage_in_bytes"
        };
        let bytes: u64 = std::fs::read_to_string(dir.join(file))
            .ok()?
            .trim()
            .parse()
            .ok()?;
        Some(bytes.div_ceil(1024 * 1024))
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        // The processes are being killed as the environment goes; the group
        // can only be removed once they are gone.
        if let Some(dir) = self.cgroup.take() {
            std::thread::spawn(move || {
                for _ in 0..50 {
                    if std::fs::remove_dir(&dir).is_ok() || !dir.exists() {
                        return;
                    }
                    std::thread::sleep(std::time::Duration::from_millis(100));
                }
                tracing::debug!(dir = %dir.display(), "could not remove an environment's cgroup");
            });
        }
    }
}

/// An exit status as Lambda words it (its runtime is written in Go):
/// `exit status 1`, `signal: killed`, `signal: segmentation fault`.
pub(crate) fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    match status.signal() {
        Some(6) => "signal: aborted".into(),
        Some(9) => "signal: killed".into(),
        Some(11) => "signal: segmentation fault".into(),
        Some(15) => "signal: terminated".into(),
        Some(n) => format!("signal: {n}"),
        None => status.to_string(),
    }
}

/// Removes this process's cgroup folder at shutdown (environments are gone).
pub(crate) fn cleanup() {
    if let Some(root) = &capabilities().memory {
        let _ = std::fs::remove_dir(&root.dir);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn opt_is_an_overlay_with_the_last_layer_on_top() {
        let empty = Path::new("/e");
        assert_eq!(opt_spec(&[], empty).unwrap(), "bind:/e");
        assert_eq!(
            opt_spec(&[PathBuf::from("/l/1")], empty).unwrap(),
            "bind:/l/1"
        );
        assert_eq!(
            opt_spec(
                &[
                    PathBuf::from("/l/1"),
                    PathBuf::from("/l/2"),
                    PathBuf::from("/l/3")
                ],
                empty
            )
            .unwrap(),
            "overlay:/l/3:/l/2:/l/1"
        );
        // Paths the overlay options cannot carry fall back to the mapping.
        assert!(opt_spec(&[PathBuf::from("/a:b"), PathBuf::from("/c")], empty).is_none());
    }

    #[test]
    fn host_folders_under_tmp_are_kept_by_their_first_component() {
        let keep = kept_under_tmp(
            [
                Path::new("/tmp/pytest-of-root/p1/data"),
                Path::new("/tmp/pytest-of-root/p2/code"),
                Path::new("/tmp/stratus-lambda-1/runtimes"),
                Path::new("/var/lib/stratus"),
                Path::new("/tmp"),
            ]
            .into_iter(),
        );
        assert_eq!(keep, "pytest-of-root\nstratus-lambda-1");
    }

    #[test]
    fn without_capabilities_the_program_runs_as_is() {
        static NONE: Capabilities = Capabilities {
            namespaces: None,
            memory: None,
        };
        let dir = std::env::temp_dir().join(format!("stratus-sb-{}", uuid::Uuid::new_v4()));
        let sb = Sandbox::with_capabilities(&NONE, &dir, &dir.join("tmp"), 128, &[]);
        let cmd = sb.command(Path::new("/bin/true"));
        assert_eq!(cmd.as_std().get_program(), "/bin/true");
        assert!(sb.cgroup.is_none());
        assert!(sb.peak_memory_mb().is_none());
    }
}
