//! Telemetry and Logs API records: what the environment reports, rendered in
//! each API's schema (`time`, `type`, `record`).

use serde_json::{Value, json};

/// Which subscription API a record is rendered for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Api {
    /// `2020-08-15/logs` (schema 2021-03-18).
    Logs,
    /// `2022-07-01/telemetry` (schema 2022-12-13).
    Telemetry,
}

/// The metrics of a `platform.report`.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportMetrics {
    pub duration_ms: f64,
    pub billed_duration_ms: u64,
    pub memory_size_mb: u64,
    pub max_memory_used_mb: u64,
    pub init_duration_ms: Option<f64>,
}

/// Platform events of the environment's lifecycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Platform {
    InitStart {
        runtime_version: String,
        runtime_version_arn: String,
        function_name: String,
        function_version: String,
    },
    InitRuntimeDone {
        status: String,
        error_type: Option<String>,
    },
    InitReport {
        status: String,
        error_type: Option<String>,
        duration_ms: f64,
    },
    Start {
        request_id: String,
        version: String,
        trace_id: String,
    },
    RuntimeDone {
        request_id: String,
        status: String,
        error_type: Option<String>,
        duration_ms: f64,
        produced_bytes: u64,
    },
    Report {
        request_id: String,
        status: String,
        error_type: Option<String>,
        metrics: ReportMetrics,
    },
    /// Logs API only (the Telemetry API has no `platform.end`).
    End {
        request_id: String,
    },
    Extension {
        name: String,
        events: Vec<String>,
    },
}

/// One thing to report.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Platform(Platform),
    /// A line the function wrote.
    Function(String),
    /// A line an extension process wrote.
    Extension(String),
}

/// `2022-10-12T00:00:15.064Z`, the records' time format.
pub fn now_rfc3339() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3fZ")
        .to_string()
}

fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

fn with_error(mut v: Value, error_type: &Option<String>) -> Value {
    if let Some(e) = error_type {
        v["errorType"] = json!(e);
    }
    v
}

impl Event {
    /// The subscription type that receives it: `platform`, `function`, `extension`.
    pub fn category(&self) -> &'static str {
        match self {
            Event::Platform(_) => "platform",
            Event::Function(_) => "function",
            Event::Extension(_) => "extension",
        }
    }

    /// `(type, record)` in `api`'s schema, or None when that API has no such record.
    pub fn render(&self, api: Api) -> Option<(&'static str, Value)> {
        let p = match self {
            Event::Function(line) => return Some(("function", json!(line))),
            Event::Extension(line) => return Some(("extension", json!(line))),
            Event::Platform(p) => p,
        };
        let tele = api == Api::Telemetry;
        Some(match p {
            Platform::InitStart {
                runtime_version,
                runtime_version_arn,
                function_name,
                function_version,
            } if tele => (
                "platform.initStart",
                json!({
                    "initializationType": "on-demand",
                    "phase": "init",
                    "runtimeVersion": runtime_version,
                    "runtimeVersionArn": runtime_version_arn,
                    "functionName": function_name,
                    "functionVersion": function_version,
                }),
            ),
            Platform::InitRuntimeDone { status, error_type } if tele => (
                "platform.initRuntimeDone",
                with_error(
                    json!({"initializationType": "on-demand", "phase": "init", "status": status}),
                    error_type,
                ),
            ),
            Platform::InitReport {
                status,
                error_type,
                duration_ms,
            } if tele => (
                "platform.initReport",
                with_error(
                    json!({
                        "initializationType": "on-demand",
                        "phase": "init",
                        "status": status,
                        "metrics": {"durationMs": round2(*duration_ms)},
                    }),
                    error_type,
                ),
            ),
            Platform::InitStart { .. }
            | Platform::InitRuntimeDone { .. }
            | Platform::InitReport { .. } => return None,
            Platform::Start {
                request_id,
                version,
                trace_id,
            } => {
                let mut v = json!({"requestId": request_id, "version": version});
                if tele && !trace_id.is_empty() {
                    v["tracing"] = json!({"type": "X-Amzn-Trace-Id", "value": trace_id});
                }
                ("platform.start", v)
            }
            Platform::RuntimeDone {
                request_id,
                status,
                error_type,
                duration_ms,
                produced_bytes,
            } => {
                let mut v = json!({"requestId": request_id, "status": status});
                if tele {
                    v["metrics"] = json!({
                        "durationMs": round2(*duration_ms),
                        "producedBytes": produced_bytes,
                    });
                    v = with_error(v, error_type);
                }
                ("platform.runtimeDone", v)
            }
            Platform::Report {
                request_id,
                status,
                error_type,
                metrics,
            } => {
                let mut m = json!({
                    "durationMs": round2(metrics.duration_ms),
                    "billedDurationMs": metrics.billed_duration_ms,
                    "memorySizeMB": metrics.memory_size_mb,
                    "maxMemoryUsedMB": metrics.max_memory_used_mb,
                });
                if let Some(i) = metrics.init_duration_ms {
                    m["initDurationMs"] = json!(round2(i));
                }
                let mut v = json!({"requestId": request_id, "metrics": m});
                if tele {
                    v["status"] = json!(status);
                    v = with_error(v, error_type);
                }
                ("platform.report", v)
            }
            Platform::End { request_id } if !tele => {
                ("platform.end", json!({"requestId": request_id}))
            }
            Platform::End { .. } => return None,
            Platform::Extension { name, events } => (
                "platform.extension",
                json!({"name": name, "state": "Ready", "events": events}),
            ),
        })
    }
}

/// The record announcing a subscription (sent to the subscriber itself).
pub fn subscription_record(api: Api, name: &str, types: &[String]) -> (&'static str, Value) {
    let kind = match api {
        Api::Logs => "platform.logsSubscription",
        Api::Telemetry => "platform.telemetrySubscription",
    };
    (
        kind,
        json!({"name": name, "state": "Subscribed", "types": types}),
    )
}

/// The record telling a subscriber that records were dropped.
pub fn dropped_record(records: u64, bytes: u64) -> Value {
    json!({
        "time": now_rfc3339(),
        "type": "platform.logsDropped",
        "record": {
            "reason": "Consumer seems to have fallen behind as it has not acknowledged receipt of logs.",
            "droppedRecords": records,
            "droppedBytes": bytes,
        },
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    fn report() -> Event {
        Event::Platform(Platform::Report {
            request_id: "r".into(),
            status: "success".into(),
            error_type: None,
            metrics: ReportMetrics {
                duration_ms: 12.3456,
                billed_duration_ms: 13,
                memory_size_mb: 128,
                max_memory_used_mb: 40,
                init_duration_ms: Some(100.0),
            },
        })
    }

    #[test]
    fn report_in_both_schemas() {
        let (t, v) = report().render(Api::Telemetry).unwrap();
        assert_eq!(t, "platform.report");
        assert_eq!(v["status"], "success");
        assert_eq!(v["metrics"]["durationMs"], 12.35);
        assert_eq!(v["metrics"]["billedDurationMs"], 13);
        assert_eq!(v["metrics"]["memorySizeMB"], 128);
        assert_eq!(v["metrics"]["maxMemoryUsedMB"], 40);
        assert_eq!(v["metrics"]["initDurationMs"], 100.0);
        let (_, v) = report().render(Api::Logs).unwrap();
        assert!(v.get("status").is_none());
        assert_eq!(v["metrics"]["memorySizeMB"], 128);
    }

    #[test]
    fn init_records_are_telemetry_only_and_end_logs_only() {
        let init = Event::Platform(Platform::InitRuntimeDone {
            status: "error".into(),
            error_type: Some("Runtime.X".into()),
        });
        let (t, v) = init.render(Api::Telemetry).unwrap();
        assert_eq!(t, "platform.initRuntimeDone");
        assert_eq!(v["errorType"], "Runtime.X");
        assert_eq!(v["phase"], "init");
        assert!(init.render(Api::Logs).is_none());
        let end = Event::Platform(Platform::End {
            request_id: "r".into(),
        });
        assert!(end.render(Api::Telemetry).is_none());
        assert_eq!(end.render(Api::Logs).unwrap().0, "platform.end");
    }

    #[test]
    fn start_carries_tracing_and_lines_are_strings() {
        let s = Event::Platform(Platform::Start {
            request_id: "r".into(),
            version: "$LATEST".into(),
            trace_id: "Root=1-a".into(),
        });
        let (_, v) = s.render(Api::Telemetry).unwrap();
        assert_eq!(v["tracing"]["value"], "Root=1-a");
        assert_eq!(v["version"], "$LATEST");
        let (t, v) = Event::Function("hello".into()).render(Api::Logs).unwrap();
        assert_eq!((t, v), ("function", json!("hello")));
        assert_eq!(Event::Extension("x".into()).category(), "extension");
        let (t, v) = subscription_record(Api::Logs, "ext", &["platform".into()]);
        assert_eq!(t, "platform.logsSubscription");
        assert_eq!(v["state"], "Subscribed");
        assert_eq!(dropped_record(3, 30)["record"]["droppedRecords"], 3);
    }
}
