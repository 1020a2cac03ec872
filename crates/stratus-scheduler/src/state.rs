//! In-memory state: schedule groups and schedules per (account, region), and
//! the timer heap of upcoming fire times.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap};
use std::sync::Arc;

use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

use crate::expression::{Expression, Timing};
use crate::generated::{FlexibleTimeWindow, Target};

pub(crate) const DEFAULT_GROUP: &str = "default";
pub(crate) const DEFAULT_MAX_AGE_SECONDS: i32 = 86_400;
pub(crate) const DEFAULT_MAX_RETRIES: i32 = 185;

/// A schedule group as stored.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct GroupRecord {
    pub account: String,
    pub region: String,
    pub name: String,
    /// Epoch seconds.
    pub created: f64,
    pub modified: f64,
    /// In the order they were first added.
    #[serde(default)]
    pub tags: Vec<(String, String)>,
}

/// A schedule as stored: its definition plus its firing progress.
#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct ScheduleRecord {
    pub account: String,
    pub region: String,
    pub group: String,
    pub name: String,
    pub expression: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timezone: Option<String>,
    /// Epoch seconds, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_arn: Option<String>,
    pub target: Target,
    pub window: FlexibleTimeWindow,
    pub action_after_completion: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    pub created: f64,
    pub modified: f64,
    /// Epoch millis a rate without StartDate counts from (creation or last update).
    pub anchor: i64,
    /// The next occurrence (epoch millis, before any flexible-window offset);
    /// `None` once the schedule has no occurrences left.
    #[serde(default)]
    pub next: Option<i64>,
}

impl ScheduleRecord {
    pub(crate) fn arn(&self) -> String {
        schedule_arn(&self.region, &self.account, &self.group, &self.name)
    }

    pub(crate) fn enabled(&self) -> bool {
        self.state == "ENABLED"
    }
}

pub(crate) fn schedule_arn(region: &str, account: &str, group: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule/{group}/{name}")
}

pub(crate) fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:scheduler:{region}:{account}:schedule-group/{name}")
}

/// A schedule with its parsed expression and zone.
#[derive(Debug, Clone)]
pub(crate) struct Schedule {
    pub rec: ScheduleRecord,
    pub expr: Expression,
    pub tz: Tz,
    /// Bumped on every change; heap entries of older generations are stale.
    pub generation: u64,
}

impl Schedule {
    pub(crate) fn timing(&self) -> Timing<'_> {
        let millis = |s: f64| (s * 1000.0).round() as i64;
        Timing {
            expr: &self.expr,
            tz: self.tz,
            start: self.rec.start.map(millis),
            end: self.rec.end.map(millis),
            anchor: self.rec.anchor,
        }
    }
}

/// Identity of a schedule across the whole process.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct ScheduleKey {
    pub account: String,
    pub region: String,
    pub group: String,
    pub name: String,
}

impl ScheduleKey {
    pub(crate) fn of(rec: &ScheduleRecord) -> Self {
        ScheduleKey {
            account: rec.account.clone(),
            region: rec.region.clone(),
            group: rec.group.clone(),
            name: rec.name.clone(),
        }
    }
}

/// One planned firing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Planned {
    /// When to fire (occurrence plus flexible-window offset), epoch millis.
    pub fire_at: i64,
    /// The occurrence itself (`<aws.scheduler.scheduled-time>`).
    pub occurrence: i64,
    pub generation: u64,
    pub key: Arc<ScheduleKey>,
}

#[derive(Default)]
pub(crate) struct RegionState {
    pub groups: BTreeMap<String, GroupRecord>,
    /// Whether the implicit default group's record has been written.
    pub default_persisted: bool,
    /// Keyed by (group, name).
    pub schedules: BTreeMap<(String, String), Schedule>,
}

pub(crate) struct State {
    pub regions: HashMap<(String, String), RegionState>,
    pub heap: BinaryHeap<Reverse<Planned>>,
    pub next_generation: u64,
    /// Heap size that triggers dropping stale entries (updates and deletes
    /// leave their old plans behind until they come due).
    pub compact_at: usize,
}

const MIN_COMPACT_AT: usize = 1024;

impl Default for State {
    fn default() -> Self {
        State {
            regions: HashMap::new(),
            heap: BinaryHeap::new(),
            next_generation: 0,
            compact_at: MIN_COMPACT_AT,
        }
    }
}

impl State {
    pub(crate) fn region(&self, account: &str, region: &str) -> Option<&RegionState> {
        self.regions.get(&(account.to_string(), region.to_string()))
    }

    pub(crate) fn region_mut(&mut self, account: &str, region: &str) -> &mut RegionState {
        self.regions
            .entry((account.to_string(), region.to_string()))
            .or_default()
    }

    pub(crate) fn bump(&mut self) -> u64 {
        self.next_generation += 1;
        self.next_generation
    }

    /// Push a plan, first dropping stale plans when they have piled up.
    /// Amortized O(log n): a compaction at size n is followed by at least n pushes.
    pub(crate) fn push_plan(&mut self, planned: Planned) {
        if self.heap.len() >= self.compact_at {
            let heap = std::mem::take(&mut self.heap);
            let live: BinaryHeap<_> = heap
                .into_iter()
                .filter(|Reverse(p)| {
                    self.schedule(&p.key).is_some_and(|s| {
                        s.generation == p.generation && s.rec.next == Some(p.occurrence)
                    })
                })
                .collect();
            self.heap = live;
            self.compact_at = (self.heap.len() * 2).max(MIN_COMPACT_AT);
        }
        self.heap.push(Reverse(planned));
    }

    pub(crate) fn schedule(&self, key: &ScheduleKey) -> Option<&Schedule> {
        self.region(&key.account, &key.region)?
            .schedules
            .get(&(key.group.clone(), key.name.clone()))
    }

    pub(crate) fn schedule_mut(&mut self, key: &ScheduleKey) -> Option<&mut Schedule> {
        self.regions
            .get_mut(&(key.account.clone(), key.region.clone()))?
            .schedules
            .get_mut(&(key.group.clone(), key.name.clone()))
    }
}
