//! Architecture invariants from ARCHITECTURE.md, checked on every test run.

use std::collections::BTreeMap;
use std::path::Path;

/// Crate name → names of its normal (non-dev) dependencies.
fn dependencies() -> BTreeMap<String, Vec<String>> {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut out = BTreeMap::new();
    for entry in std::fs::read_dir(&crates).into_iter().flatten().flatten() {
        let manifest = entry.path().join("Cargo.toml");
        let Ok(text) = std::fs::read_to_string(&manifest) else {
            continue;
        };
        let mut section = String::new();
        let mut deps = Vec::new();
        for line in text.lines() {
            let line = line.trim();
            if line.starts_with('[') {
                section = line.trim_matches(|c| c == '[' || c == ']').to_string();
                continue;
            }
            if section == "dependencies"
                && let Some((name, _)) = line.split_once('=')
            {
                let name = name.trim().trim_end_matches(".workspace").to_string();
                if !name.is_empty() && !name.starts_with('#') {
                    deps.push(name);
                }
            }
        }
        let name = entry.file_name().to_string_lossy().to_string();
        out.insert(name, deps);
    }
    out
}

const SERVICES: &[&str] = &[
    "stratus-sqs",
    "stratus-sts",
    "stratus-sns",
    "stratus-events",
    "stratus-scheduler",
    "stratus-logs",
    "stratus-lambda",
];

#[test]
fn services_do_not_know_the_wire_protocols() {
    for (name, deps) in dependencies() {
        if SERVICES.contains(&name.as_str()) {
            for forbidden in ["stratus-server", "stratus-protocol", "axum"] {
                assert!(
                    !deps.iter().any(|d| d == forbidden),
                    "{name} depends on {forbidden}: services must not know the wire protocols"
                );
            }
        }
    }
}

#[test]
fn engines_are_pure() {
    let deps = dependencies();
    let Some(patterns) = deps.get("stratus-patterns") else {
        return;
    };
    for d in patterns {
        assert!(
            !matches!(
                d.as_str(),
                "tokio"
                    | "hyper"
                    | "hyper-util"
                    | "reqwest"
                    | "stratus-store"
                    | "stratus-core"
                    | "rusqlite"
                    | "mio"
            ),
            "stratus-patterns depends on {d}: engines do no I/O and need no runtime or store"
        );
    }
}

#[test]
fn only_the_store_links_a_database_driver() {
    for (name, deps) in dependencies() {
        if name != "stratus-store" {
            for driver in ["rusqlite", "tokio-postgres", "postgres", "sqlx"] {
                assert!(
                    !deps.iter().any(|d| d == driver),
                    "{name} depends on {driver}: only stratus-store talks to a database"
                );
            }
        }
    }
}
