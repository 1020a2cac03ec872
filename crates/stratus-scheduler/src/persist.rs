//! Record formats and keys in the store.
//!
//! Tables: `scheduler_groups` (key `account/region/group`) and
//! `scheduler_schedules` (key `account/region/group/name`). Names cannot contain
//! `/`, so keys are unambiguous and a group's schedules share the prefix
//! `account/region/group/`. Values are a format version byte followed by JSON.
//! In-flight deliveries live in `scheduler_pending` (see `pending.rs`).

use serde::{Deserialize, Serialize};
use stratus_store::Write;

use crate::state::{GroupRecord, ScheduleRecord};

pub(crate) const T_GROUPS: &str = "scheduler_groups";
pub(crate) const T_SCHEDULES: &str = "scheduler_schedules";
const VERSION: u8 = 1;

pub(crate) fn group_key(account: &str, region: &str, name: &str) -> Vec<u8> {
    format!("{account}/{region}/{name}").into_bytes()
}

pub(crate) fn schedule_key(account: &str, region: &str, group: &str, name: &str) -> Vec<u8> {
    format!("{account}/{region}/{group}/{name}").into_bytes()
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // These plain records always serialize.
    if let Ok(json) = serde_json::to_vec(v) {
        out.extend(json);
    }
    out
}

pub(crate) fn decode<T: for<'de> Deserialize<'de>>(bytes: &[u8]) -> Option<T> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => serde_json::from_slice(rest).ok(),
        _ => None,
    }
}

pub(crate) fn put_group(g: &GroupRecord) -> Write {
    Write::Put {
        table: T_GROUPS,
        key: group_key(&g.account, &g.region, &g.name),
        value: encode(g),
    }
}

pub(crate) fn delete_group(account: &str, region: &str, name: &str) -> Write {
    Write::Delete {
        table: T_GROUPS,
        key: group_key(account, region, name),
    }
}

pub(crate) fn put_schedule(s: &ScheduleRecord) -> Write {
    Write::Put {
        table: T_SCHEDULES,
        key: schedule_key(&s.account, &s.region, &s.group, &s.name),
        value: encode(s),
    }
}

pub(crate) fn delete_schedule(account: &str, region: &str, group: &str, name: &str) -> Write {
    Write::Delete {
        table: T_SCHEDULES,
        key: schedule_key(account, region, group, name),
    }
}

/// Every schedule of a group.
pub(crate) fn delete_group_schedules(account: &str, region: &str, group: &str) -> Write {
    Write::DeletePrefix {
        table: T_SCHEDULES,
        prefix: format!("{account}/{region}/{group}/").into_bytes(),
    }
}
