//! Record formats and keys in the store.
//!
//! Tables (keys start with `account/region/`): `events_buses` (`.../bus`),
//! `events_rules` (`.../bus/rule`, targets inside), `events_archives`,
//! `events_archived` (`.../archive/` + 8-byte big-endian ingestion millis +
//! 8-byte sequence; the value is the event JSON), `events_replays`,
//! `events_connections`, `events_api_destinations`, `events_endpoints`. Every
//! value starts with a format version byte; records are JSON after it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::generated::{
    ConnectivityResourceParameters, CreateConnectionAuthRequestParameters, DeadLetterConfig,
    EndpointEventBus, LogConfig, ReplayDestination, ReplicationConfig, RoutingConfig, Target,
};

pub(crate) const T_BUSES: &str = "events_buses";
pub(crate) const T_RULES: &str = "events_rules";
pub(crate) const T_ARCHIVES: &str = "events_archives";
pub(crate) const T_ARCHIVED: &str = "events_archived";
pub(crate) const T_REPLAYS: &str = "events_replays";
pub(crate) const T_CONNECTIONS: &str = "events_connections";
pub(crate) const T_API_DESTINATIONS: &str = "events_api_destinations";
pub(crate) const T_ENDPOINTS: &str = "events_endpoints";
const VERSION: u8 = 1;

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // Serialization of these plain records cannot fail.
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

pub(crate) fn encode_raw(text: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(text.len() + 1);
    out.push(VERSION);
    out.extend_from_slice(text.as_bytes());
    out
}

pub(crate) fn decode_raw(bytes: &[u8]) -> Option<&str> {
    match bytes.split_first() {
        Some((&VERSION, rest)) => std::str::from_utf8(rest).ok(),
        _ => None,
    }
}

pub(crate) fn archived_key(prefix: &[u8], ms: i64, seq: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 16);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&ms.to_be_bytes());
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// `(ms, seq)` from the tail of an archived-event key.
pub(crate) fn archived_key_parts(key: &[u8]) -> Option<(i64, u64)> {
    if key.len() < 16 {
        return None;
    }
    let tail = &key[key.len() - 16..];
    let ms = i64::from_be_bytes(tail[..8].try_into().ok()?);
    let seq = u64::from_be_bytes(tail[8..].try_into().ok()?);
    Some((ms, seq))
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct BusRec {
    pub account: String,
    pub region: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub kms: Option<String>,
    #[serde(default)]
    pub dead_letter: Option<DeadLetterConfig>,
    #[serde(default)]
    pub log_config: Option<LogConfig>,
    /// The resource policy as JSON text.
    #[serde(default)]
    pub policy: Option<String>,
    #[serde(default)]
    pub event_source_name: Option<String>,
    pub created: i64,
    pub modified: i64,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct RuleRec {
    pub account: String,
    pub region: String,
    pub bus: String,
    pub name: String,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub schedule: Option<String>,
    pub state: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub role_arn: Option<String>,
    #[serde(default)]
    pub managed_by: Option<String>,
    /// Account that created the rule (differs from `account` for rules put on
    /// another account's bus).
    pub created_by: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub targets: Vec<Target>,
    pub created: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct ArchiveRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub source_arn: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub pattern: Option<String>,
    /// 0 = keep forever.
    #[serde(default)]
    pub retention_days: i32,
    #[serde(default)]
    pub kms: Option<String>,
    pub created: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct ReplayRec {
    pub account: String,
    pub region: String,
    pub name: String,
    #[serde(default)]
    pub description: Option<String>,
    pub source_arn: String,
    pub start_ms: i64,
    pub end_ms: i64,
    pub destination: ReplayDestination,
    pub state: String,
    #[serde(default)]
    pub state_reason: Option<String>,
    #[serde(default)]
    pub last_replayed: Option<i64>,
    pub replay_start: i64,
    #[serde(default)]
    pub replay_end: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct ConnectionRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub uuid: String,
    #[serde(default)]
    pub description: Option<String>,
    pub auth_type: String,
    pub auth: CreateConnectionAuthRequestParameters,
    #[serde(default)]
    pub connectivity: Option<ConnectivityResourceParameters>,
    #[serde(default)]
    pub kms: Option<String>,
    pub state: String,
    #[serde(default)]
    pub state_reason: Option<String>,
    pub created: i64,
    pub modified: i64,
    #[serde(default)]
    pub last_authorized: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct ApiDestRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub uuid: String,
    #[serde(default)]
    pub description: Option<String>,
    pub connection_arn: String,
    pub endpoint: String,
    pub method: String,
    #[serde(default)]
    pub rate: Option<i32>,
    pub created: i64,
    pub modified: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct EndpointRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub endpoint_id: String,
    #[serde(default)]
    pub description: Option<String>,
    pub routing: RoutingConfig,
    #[serde(default)]
    pub replication: Option<ReplicationConfig>,
    pub buses: Vec<EndpointEventBus>,
    #[serde(default)]
    pub role_arn: Option<String>,
    pub created: i64,
    pub modified: i64,
}
