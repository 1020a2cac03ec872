//! `cargo run -p stratus-codegen` rewrites every generated file;
//! `cargo test -p stratus-codegen` fails when a committed file is stale.

use std::process::ExitCode;

fn main() -> ExitCode {
    let root = stratus_codegen::workspace_root();
    let mut ok = true;
    for target in stratus_codegen::TARGETS {
        match stratus_codegen::render(&root, target) {
            Ok(text) => {
                let path = root.join(target.output);
                if let Err(e) = std::fs::write(&path, text) {
                    eprintln!("{}: {e}", path.display());
                    ok = false;
                } else {
                    println!("wrote {}", path.display());
                }
            }
            Err(e) => {
                eprintln!("{}: {e}", target.model);
                ok = false;
            }
        }
    }
    if ok {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}
