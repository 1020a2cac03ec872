//! Code generation from AWS service models.
//!
//! For each service in [`TARGETS`] it writes one Rust file holding: a struct per
//! input/output structure (serde names are the model's member names, so the
//! structs read and write the canonical document directly), a trait with one
//! method per operation whose default answers "not implemented" with the
//! operation's name, a `dispatch` function from operation name to method, and a
//! typed client for in-process calls through the registry. Output is stable
//! (sorted) and formatted with rustfmt.

mod names;
mod render;

use std::path::{Path, PathBuf};

pub use render::render;

/// One generated file.
pub struct Target {
    /// Model path relative to the workspace root.
    pub model: &'static str,
    /// Output path relative to the workspace root.
    pub output: &'static str,
    /// Signing name used with the registry (`sqs`).
    pub service: &'static str,
    /// Prefix of the trait and client names (`Sqs` → `SqsApi`, `SqsClient`).
    pub prefix: &'static str,
}

pub const TARGETS: &[Target] = &[
    Target {
        model: "models/sqs/service-2.json",
        output: "crates/stratus-sqs/src/generated.rs",
        service: "sqs",
        prefix: "Sqs",
    },
    Target {
        model: "models/sts/service-2.json",
        output: "crates/stratus-sts/src/generated.rs",
        service: "sts",
        prefix: "Sts",
    },
    Target {
        model: "models/events/service-2.json",
        output: "crates/stratus-events/src/generated.rs",
        service: "events",
        prefix: "Events",
    },
    Target {
        model: "models/sns/service-2.json",
        output: "crates/stratus-sns/src/generated.rs",
        service: "sns",
        prefix: "Sns",
    },
    Target {
        model: "models/scheduler/service-2.json",
        output: "crates/stratus-scheduler/src/generated.rs",
        service: "scheduler",
        prefix: "Scheduler",
    },
    Target {
        model: "models/logs/service-2.json",
        output: "crates/stratus-logs/src/generated.rs",
        service: "logs",
        prefix: "Logs",
    },
    Target {
        model: "models/lambda/service-2.json",
        output: "crates/stratus-lambda/src/generated.rs",
        service: "lambda",
        prefix: "Lambda",
    },
];

pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}
