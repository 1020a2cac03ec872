//! External extensions: the executables in each layer's `extensions/` folder
//! (AWS's `/opt/extensions`), started before the runtime with its environment.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;

use parking_lot::Mutex;
use stratus_lambda_runtime::subscriptions::Hub;
use tokio::process::Child;

use crate::runtimes;
use crate::sandbox::Sandbox;

/// AWS's limit on extensions per function.
const MAX_EXTENSIONS: usize = 10;

/// One started extension process.
pub(crate) struct ExtProcess {
    pub name: String,
    pub child: Child,
}

/// Executables in `<layer>/extensions/`, by file name; a later layer's file
/// replaces an earlier one's with the same name (as files in /opt do).
pub(crate) fn discover(layer_dirs: &[PathBuf]) -> Vec<(String, PathBuf)> {
    let mut found: Vec<(String, PathBuf)> = Vec::new();
    for layer in layer_dirs {
        let Ok(entries) = std::fs::read_dir(layer.join("extensions")) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            if !path.is_file() || !runtimes::is_executable(&path) {
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            found.retain(|(n, _)| *n != name);
            found.push((name, path));
        }
    }
    found.sort_by(|a, b| a.0.cmp(&b.0));
    found.truncate(MAX_EXTENSIONS);
    found
}

/// Start one extension with the function's environment; its output goes to
/// `output` (the function's log stream) and to `extension` subscribers.
pub(crate) fn spawn(
    sandbox: &Sandbox,
    name: &str,
    path: &Path,
    vars: &[(String, OsString)],
    cwd: &Path,
    output: Arc<Mutex<Vec<String>>>,
    hub: Arc<Hub>,
) -> std::io::Result<ExtProcess> {
    let mut cmd = sandbox.command(path);
    cmd.env_clear();
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let (reader, writer) = std::io::pipe()?;
    let writer2 = writer.try_clone()?;
    cmd.current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::from(writer2))
        .kill_on_drop(true);
    let spawned = cmd.spawn();
    drop(cmd);
    let child = spawned?;
    let receiver =
        tokio::net::unix::pipe::Receiver::from_owned_fd(std::os::fd::OwnedFd::from(reader))?;
    super::capture(receiver, output, None, Some((hub, true)));
    Ok(ExtProcess {
        name: name.to_string(),
        child,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn finds_executables_in_layer_extension_folders() {
        let base = std::env::temp_dir().join(format!("stratus-ext-{}", uuid::Uuid::new_v4()));
        let l1 = base.join("l1");
        let l2 = base.join("l2");
        for (dir, name, exec) in [
            (&l1, "b-ext", true),
            (&l1, "notes.txt", false),
            (&l2, "a-ext", true),
            (&l2, "b-ext", true),
        ] {
            let d = dir.join("extensions");
            std::fs::create_dir_all(&d).unwrap();
            let p = d.join(name);
            std::fs::write(&p, "#!/bin/sh\n").unwrap();
            let mode = if exec { 0o755 } else { 0o644 };
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        }
        let found = discover(&[l1.clone(), l2.clone(), base.join("missing")]);
        let names: Vec<_> = found.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, vec!["a-ext", "b-ext"]);
        assert!(found[1].1.starts_with(&l2), "the later layer wins");
        std::fs::remove_dir_all(&base).unwrap();
    }
}
