//! Record formats and keys in the store.
//!
//! Tables:
//! - `logs_groups`: key `account:region:group` → version byte + JSON [`GroupRecord`]
//!   (settings, tags, metric and subscription filters).
//! - `logs_streams`: key `account:region:group:stream` → version byte + JSON
//!   [`StreamRecord`]. Neither group nor stream names can contain `:`, so the
//!   group's streams share the prefix `account:region:group:`.
//! - `logs_events`: key = stream uid (8 bytes) + timestamp (8) + sequence (8),
//!   all big-endian, so one stream's events are contiguous and sorted by
//!   (timestamp, sequence); value = version byte + ingestion time (8 bytes) +
//!   the UTF-8 message. Binary, because events are the bulk of the data.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) const T_GROUPS: &str = "logs_groups";
pub(crate) const T_STREAMS: &str = "logs_streams";
pub(crate) const T_EVENTS: &str = "logs_events";
const VERSION: u8 = 1;

pub(crate) fn group_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}:{region}:{name}")
}

pub(crate) fn stream_key(group_key: &str, stream: &str) -> String {
    format!("{group_key}:{stream}")
}

pub(crate) fn stream_prefix(group_key: &str) -> Vec<u8> {
    format!("{group_key}:").into_bytes()
}

pub(crate) fn event_prefix(stream_uid: u64) -> Vec<u8> {
    stream_uid.to_be_bytes().to_vec()
}

/// Timestamps are validated non-negative before they are stored.
pub(crate) fn event_key(stream_uid: u64, ts: i64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(24);
    k.extend_from_slice(&stream_uid.to_be_bytes());
    k.extend_from_slice(&(ts.max(0) as u64).to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

pub(crate) fn decode_event_key(k: &[u8]) -> Option<(u64, i64, u64)> {
    if k.len() != 24 {
        return None;
    }
    let uid = u64::from_be_bytes(k[0..8].try_into().ok()?);
    let ts = u64::from_be_bytes(k[8..16].try_into().ok()?);
    let seq = u64::from_be_bytes(k[16..24].try_into().ok()?);
    Some((uid, i64::try_from(ts).ok()?, seq))
}

pub(crate) fn encode_event_value(ingest: i64, message: &str) -> Vec<u8> {
    let mut v = Vec::with_capacity(9 + message.len());
    v.push(VERSION);
    v.extend_from_slice(&ingest.to_be_bytes());
    v.extend_from_slice(message.as_bytes());
    v
}

pub(crate) fn decode_event_value(v: &[u8]) -> Option<(i64, String)> {
    let (&version, rest) = v.split_first()?;
    if version != VERSION || rest.len() < 8 {
        return None;
    }
    let ingest = i64::from_be_bytes(rest[0..8].try_into().ok()?);
    let msg = String::from_utf8(rest[8..].to_vec()).ok()?;
    Some((ingest, msg))
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Serialization of these plain structs cannot fail.
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

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct TransformRecord {
    pub name: String,
    pub namespace: String,
    pub value: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dimensions: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct MetricFilterRecord {
    pub name: String,
    pub pattern: String,
    pub transformations: Vec<TransformRecord>,
    pub created: i64,
    #[serde(default)]
    pub on_transformed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selection: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_dimensions: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
pub(crate) struct SubscriptionFilterRecord {
    pub name: String,
    pub pattern: String,
    pub destination: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub role: Option<String>,
    pub distribution: String,
    pub created: i64,
    #[serde(default)]
    pub on_transformed: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field_selection: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub system_fields: Vec<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct GroupRecord {
    pub account: String,
    pub region: String,
    pub name: String,
    pub created: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
    pub class: String,
    #[serde(default)]
    pub deletion_protection: bool,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub metric_filters: Vec<MetricFilterRecord>,
    #[serde(default)]
    pub subscription_filters: Vec<SubscriptionFilterRecord>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct StreamRecord {
    pub name: String,
    pub uid: u64,
    pub created: i64,
}
