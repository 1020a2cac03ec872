//! In-memory state: buses with their rules, archives, replays, connections, API
//! destinations, endpoints; and the compiled per-bus snapshot that PutEvents
//! reads without taking the state lock for long.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use serde_json::Value;
use stratus_patterns::{Pattern, RuleSet};

use crate::generated::Target;
use crate::persist::{
    ApiDestRec, ArchiveRec, BusRec, ConnectionRec, EndpointRec, ReplayRec, RuleRec,
};
use crate::util::{bus_arn, parse_arn, rule_arn};

/// `ManagedBy` of the rules archives create.
pub(crate) const ARCHIVE_MANAGER: &str = "prod.vhs.events.aws.internal";
pub(crate) const ARCHIVE_RULE_PREFIX: &str = "Events-Archive-";
pub(crate) const DEFAULT_MAX_RETRIES: u32 = 185;
pub(crate) const DEFAULT_MAX_AGE_SECS: u32 = 86_400;

pub(crate) fn key3(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

/// Where a target delivers.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TargetKind {
    Sqs {
        account: String,
        region: String,
        name: String,
        fifo: bool,
    },
    Sns,
    Lambda,
    States,
    Logs {
        account: String,
        region: String,
        group: String,
    },
    Bus {
        account: String,
        region: String,
        name: String,
    },
    ApiDestination {
        account: String,
        region: String,
        name: String,
    },
    Unsupported(String),
}

impl TargetKind {
    pub(crate) fn classify(arn: &str) -> TargetKind {
        let Some(a) = parse_arn(arn) else {
            return TargetKind::Unsupported(arn.to_string());
        };
        let (account, region) = (a.account.to_string(), a.region.to_string());
        match a.service {
            "sqs" => TargetKind::Sqs {
                fifo: a.resource.ends_with(".fifo"),
                name: a.resource.to_string(),
                account,
                region,
            },
            "sns" => TargetKind::Sns,
            "lambda" => TargetKind::Lambda,
            "states" => TargetKind::States,
            "logs" => {
                let group = a
                    .resource
                    .strip_prefix("log-group:")
                    .map(|g| g.trim_end_matches(":*").to_string())
                    .unwrap_or_default();
                TargetKind::Logs {
                    account,
                    region,
                    group,
                }
            }
            "events" => {
                if let Some(name) = a.resource.strip_prefix("event-bus/") {
                    TargetKind::Bus {
                        account,
                        region,
                        name: name.to_string(),
                    }
                } else if let Some(rest) = a.resource.strip_prefix("api-destination/") {
                    let name = rest.split('/').next().unwrap_or_default().to_string();
                    TargetKind::ApiDestination {
                        account,
                        region,
                        name,
                    }
                } else {
                    TargetKind::Unsupported(arn.to_string())
                }
            }
            _ => TargetKind::Unsupported(arn.to_string()),
        }
    }

    /// Index of the delivery worker for this kind.
    pub(crate) fn lane(&self) -> usize {
        match self {
            TargetKind::Sqs { .. } => 0,
            TargetKind::Sns => 1,
            TargetKind::Lambda => 2,
            TargetKind::States => 3,
            TargetKind::Logs { .. } => 4,
            TargetKind::Bus { .. } => 5,
            TargetKind::ApiDestination { .. } => 6,
            TargetKind::Unsupported(_) => 7,
        }
    }
}

pub(crate) const LANES: usize = 8;

/// A target ready for delivery.
#[derive(Debug)]
pub(crate) struct TargetRt {
    pub target: Target,
    pub kind: TargetKind,
    pub max_retries: u32,
    pub max_age_secs: u32,
    /// The target as JSON, for pending-delivery rows (built once here rather
    /// than per event).
    pub json: String,
}

impl TargetRt {
    pub(crate) fn new(target: Target) -> Self {
        let kind = TargetKind::classify(&target.arn);
        let rp = target.retry_policy.as_ref();
        Self {
            json: serde_json::to_string(&target).unwrap_or_default(),
            max_retries: rp
                .and_then(|r| r.maximum_retry_attempts)
                .map(|n| n.max(0) as u32)
                .unwrap_or(DEFAULT_MAX_RETRIES),
            max_age_secs: rp
                .and_then(|r| r.maximum_event_age_in_seconds)
                .map(|n| n.max(0) as u32)
                .unwrap_or(DEFAULT_MAX_AGE_SECS),
            kind,
            target,
        }
    }
}

/// A rule as delivery sees it.
#[derive(Debug)]
pub(crate) struct RuleRt {
    pub name: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub role_arn: Option<String>,
    pub targets: Vec<Arc<TargetRt>>,
    /// Key of the archive this managed rule feeds.
    pub archive: Option<String>,
}

/// What PutEvents needs of one bus, rebuilt on every rule or policy change.
#[derive(Default)]
pub(crate) struct Snapshot {
    pub ruleset: RuleSet,
    /// Every enabled rule (pattern or schedule) by name.
    pub rules: HashMap<String, Arc<RuleRt>>,
    pub policy: Option<Value>,
}

pub(crate) struct Bus {
    pub rec: BusRec,
    pub rules: BTreeMap<String, RuleRec>,
    pub snap: Arc<Snapshot>,
}

impl Bus {
    pub(crate) fn new(rec: BusRec) -> Self {
        let mut b = Bus {
            rec,
            rules: BTreeMap::new(),
            snap: Arc::new(Snapshot::default()),
        };
        b.rebuild();
        b
    }

    pub(crate) fn arn(&self) -> String {
        bus_arn(&self.rec.region, &self.rec.account, &self.rec.name)
    }

    /// Recompile the snapshot after a change.
    pub(crate) fn rebuild(&mut self) {
        let mut snap = Snapshot {
            policy: self
                .rec
                .policy
                .as_deref()
                .and_then(|p| serde_json::from_str(p).ok()),
            ..Default::default()
        };
        for r in self.rules.values() {
            if r.state == "DISABLED" {
                continue;
            }
            let archive = (r.managed_by.as_deref() == Some(ARCHIVE_MANAGER))
                .then(|| r.name.strip_prefix(ARCHIVE_RULE_PREFIX))
                .flatten()
                .map(|a| key3(&r.account, &r.region, a));
            let rt = Arc::new(RuleRt {
                name: r.name.clone(),
                arn: rule_arn(&r.region, &r.account, &r.bus, &r.name),
                account: r.account.clone(),
                region: r.region.clone(),
                role_arn: r.role_arn.clone(),
                targets: r
                    .targets
                    .iter()
                    .cloned()
                    .map(|t| Arc::new(TargetRt::new(t)))
                    .collect(),
                archive,
            });
            if let Some(p) = &r.pattern {
                match Pattern::parse(p) {
                    Ok(p) => {
                        snap.ruleset.insert(r.name.clone(), p);
                    }
                    Err(e) => {
                        tracing::warn!(rule = %r.name, error = %e, "events: stored pattern no longer parses")
                    }
                }
            }
            snap.rules.insert(r.name.clone(), rt);
        }
        self.snap = Arc::new(snap);
    }
}

pub(crate) struct Archive {
    pub rec: ArchiveRec,
    /// `(ingestion ms, seq)` → event JSON.
    pub events: BTreeMap<(i64, u64), Arc<str>>,
    pub size: i64,
}

pub(crate) struct Replay {
    pub rec: ReplayRec,
    pub cancel: Arc<AtomicBool>,
}

#[derive(Default)]
pub(crate) struct State {
    pub buses: HashMap<String, Bus>,
    pub archives: BTreeMap<String, Archive>,
    pub replays: BTreeMap<String, Replay>,
    pub connections: BTreeMap<String, ConnectionRec>,
    pub api_destinations: BTreeMap<String, ApiDestRec>,
    pub endpoints: BTreeMap<String, EndpointRec>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn target_kinds() {
        assert_eq!(
            TargetKind::classify("arn:aws:sqs:us-east-1:111111111111:q.fifo"),
            TargetKind::Sqs {
                account: "111111111111".into(),
                region: "us-east-1".into(),
                name: "q.fifo".into(),
                fifo: true
            }
        );
        assert_eq!(
            TargetKind::classify("arn:aws:logs:us-east-1:1:log-group:/aws/events/x:*"),
            TargetKind::Logs {
                account: "1".into(),
                region: "us-east-1".into(),
                group: "/aws/events/x".into()
            }
        );
        assert_eq!(
            TargetKind::classify("arn:aws:events:us-east-1:1:api-destination/d/abc"),
            TargetKind::ApiDestination {
                account: "1".into(),
                region: "us-east-1".into(),
                name: "d".into()
            }
        );
        assert_eq!(
            TargetKind::classify("arn:aws:events:eu-west-1:2:event-bus/b"),
            TargetKind::Bus {
                account: "2".into(),
                region: "eu-west-1".into(),
                name: "b".into()
            }
        );
        assert!(matches!(
            TargetKind::classify("arn:aws:kinesis:us-east-1:1:stream/s"),
            TargetKind::Unsupported(_)
        ));
    }
}
