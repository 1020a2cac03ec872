//! In-memory working state: log groups, their streams and events.

use std::collections::BTreeMap;

use parking_lot::Mutex;
use stratus_store::Write;

use crate::persist::{
    self, GroupRecord, MetricFilterRecord, StreamRecord, SubscriptionFilterRecord, T_GROUPS,
    T_STREAMS,
};

pub(crate) const DAY_MS: i64 = 86_400_000;

/// A stored event. Events of a stream are kept sorted by (`ts`, `seq`);
/// `seq` is unique across the service, so the order is total.
#[derive(Debug, Clone)]
pub(crate) struct Event {
    pub ts: i64,
    pub seq: u64,
    pub ingest: i64,
    pub msg: Box<str>,
}

impl Event {
    pub(crate) fn key(&self) -> (i64, u64) {
        (self.ts, self.seq)
    }
}

#[derive(Debug)]
pub(crate) struct Stream {
    pub uid: u64,
    pub created: i64,
    pub events: Vec<Event>,
    pub last_ingest: Option<i64>,
    /// Sequence number of the latest upload (for the deprecated sequence tokens).
    pub last_seq: u64,
}

impl Stream {
    pub(crate) fn new(uid: u64, created: i64) -> Self {
        Self {
            uid,
            created,
            events: Vec::new(),
            last_ingest: None,
            last_seq: 0,
        }
    }

    pub(crate) fn record(&self, name: &str) -> StreamRecord {
        StreamRecord {
            name: name.to_string(),
            uid: self.uid,
            created: self.created,
        }
    }

    /// Adds a batch that is itself sorted. Appending is the common case;
    /// a batch older than what is stored is merged.
    pub(crate) fn insert_sorted(&mut self, batch: Vec<Event>) {
        let Some(first) = batch.first() else {
            return;
        };
        let in_order = self.events.last().is_none_or(|l| l.key() <= first.key());
        self.events.extend(batch);
        if !in_order {
            // Stable sort of nearly-sorted data: two runs, merged in linear time.
            self.events.sort_by_key(Event::key);
        }
    }

    /// Index of the first event with key > `k`.
    pub(crate) fn after(&self, k: (i64, u64)) -> usize {
        self.events.partition_point(|e| e.key() <= k)
    }

    /// Index of the first event with key >= `k`.
    pub(crate) fn at_or_after(&self, k: (i64, u64)) -> usize {
        self.events.partition_point(|e| e.key() < k)
    }

    /// Index of the first event with timestamp >= `ts`.
    pub(crate) fn first_at_or_after_time(&self, ts: i64) -> usize {
        self.events.partition_point(|e| e.ts < ts)
    }

    /// Removes events with a timestamp before `cutoff`; returns them.
    pub(crate) fn expire_before(&mut self, cutoff: i64) -> Vec<Event> {
        let n = self.first_at_or_after_time(cutoff);
        self.events.drain(..n).collect()
    }
}

#[derive(Debug)]
pub(crate) struct GroupState {
    pub created: i64,
    pub retention: Option<i32>,
    pub kms_key_id: Option<String>,
    pub class: String,
    pub deletion_protection: bool,
    pub tags: BTreeMap<String, String>,
    pub streams: BTreeMap<String, Stream>,
    pub metric_filters: BTreeMap<String, MetricFilterRecord>,
    pub subscription_filters: BTreeMap<String, SubscriptionFilterRecord>,
    /// UTF-8 bytes of the stored messages.
    pub stored_bytes: i64,
    /// Set under the lock when the group is deleted, so writers holding an
    /// old handle stop.
    pub deleted: bool,
}

impl GroupState {
    /// Events with a timestamp before this are past the retention period.
    pub(crate) fn retention_cutoff(&self, now: i64) -> Option<i64> {
        self.retention.map(|d| now - i64::from(d) * DAY_MS)
    }
}

pub(crate) struct GroupHandle {
    /// `account:region:name`: the key in the service map and the store.
    pub key: String,
    pub account: String,
    pub region: String,
    pub name: String,
    pub state: Mutex<GroupState>,
}

impl GroupHandle {
    pub(crate) fn record(&self, st: &GroupState) -> GroupRecord {
        GroupRecord {
            account: self.account.clone(),
            region: self.region.clone(),
            name: self.name.clone(),
            created: st.created,
            retention: st.retention,
            kms_key_id: st.kms_key_id.clone(),
            class: st.class.clone(),
            deletion_protection: st.deletion_protection,
            tags: st.tags.clone(),
            metric_filters: st.metric_filters.values().cloned().collect(),
            subscription_filters: st.subscription_filters.values().cloned().collect(),
        }
    }

    pub(crate) fn record_write(&self, st: &GroupState) -> Write {
        Write::Put {
            table: T_GROUPS,
            key: self.key.as_bytes().to_vec(),
            value: persist::encode(&self.record(st)),
        }
    }

    pub(crate) fn stream_write(&self, name: &str, stream: &Stream) -> Write {
        Write::Put {
            table: T_STREAMS,
            key: persist::stream_key(&self.key, name).into_bytes(),
            value: persist::encode(&stream.record(name)),
        }
    }
}
