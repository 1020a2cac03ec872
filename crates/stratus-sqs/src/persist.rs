//! Record formats and keys in the store.
//!
//! Tables: `sqs_queues` (key `account/region/name`), `sqs_messages` (key
//! `account/region/name/` + 8-byte big-endian internal id), `sqs_dedup` (key
//! `account/region/name/` + dedup key) and `sqs_tasks` (key task id). Every
//! value starts with a format version byte followed by JSON.

use std::collections::BTreeMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::attributes::QueueConfig;
use crate::message::{AttrData, AttrValue, Msg, MsgExtra, MsgState};

pub(crate) const T_QUEUES: &str = "sqs_queues";
pub(crate) const T_MESSAGES: &str = "sqs_messages";
pub(crate) const T_DEDUP: &str = "sqs_dedup";
pub(crate) const T_TASKS: &str = "sqs_tasks";
const VERSION: u8 = 1;

pub(crate) fn queue_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

pub(crate) fn message_prefix(queue_key: &str) -> Vec<u8> {
    let mut k = queue_key.as_bytes().to_vec();
    k.push(b'/');
    k
}

pub(crate) fn message_key(prefix: &[u8], id: u64) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + 8);
    k.extend_from_slice(prefix);
    k.extend_from_slice(&id.to_be_bytes());
    k
}

pub(crate) fn dedup_key(prefix: &[u8], key: &str) -> Vec<u8> {
    let mut k = prefix.to_vec();
    k.extend_from_slice(key.as_bytes());
    k
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

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct QueueRecord {
    pub account: String,
    pub region: String,
    pub name: String,
    pub uid: u64,
    pub cfg: QueueConfig,
    pub tags: BTreeMap<String, String>,
    pub created: i64,
    pub last_modified: i64,
    pub last_purge: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct AttrRecord {
    n: String,
    t: String,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    s: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none", default)]
    b: Option<String>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct MsgRecord {
    mid: String,
    body: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    attrs: Vec<AttrRecord>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    trace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dedup: Option<String>,
    #[serde(default)]
    seq: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    dlq_src: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sender: Option<String>,
    sent: i64,
    base: i64,
    vis: i64,
    first: i64,
    last: i64,
    nonce: u64,
    rc: u32,
    state: u8,
}

pub(crate) fn msg_to_record(m: &Msg) -> MsgRecord {
    let b64 = base64::engine::general_purpose::STANDARD;
    let e = m.extra.as_deref();
    MsgRecord {
        mid: hex::encode(m.message_id),
        body: m.body.to_string(),
        attrs: e
            .map(|e| {
                e.attrs
                    .iter()
                    .map(|(n, v)| AttrRecord {
                        n: n.to_string(),
                        t: v.data_type.to_string(),
                        s: match &v.data {
                            AttrData::Str(s) => Some(s.to_string()),
                            AttrData::Bin(_) => None,
                        },
                        b: match &v.data {
                            AttrData::Bin(b) => Some(b64.encode(b)),
                            AttrData::Str(_) => None,
                        },
                    })
                    .collect()
            })
            .unwrap_or_default(),
        trace: e.and_then(|e| e.trace_header.as_deref().map(str::to_string)),
        group: e.and_then(|e| e.group_id.as_deref().map(str::to_string)),
        dedup: e.and_then(|e| e.dedup_id.as_deref().map(str::to_string)),
        seq: e.map(|e| e.seq).unwrap_or(0),
        dlq_src: e.and_then(|e| e.dlq_source_arn.as_deref().map(str::to_string)),
        sender: e.and_then(|e| e.sender_id.as_deref().map(str::to_string)),
        sent: m.sent_at,
        base: m.retention_base,
        vis: m.visible_at,
        first: m.first_receive,
        last: m.last_receive,
        nonce: m.nonce,
        rc: m.receive_count,
        state: m.state as u8,
    }
}

/// Rebuild a message; its state is re-derived from the visibility deadline.
pub(crate) fn record_to_msg(r: MsgRecord, now: i64) -> Option<Msg> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let mid: [u8; 16] = hex::decode(&r.mid).ok()?.try_into().ok()?;
    let mut attrs = Vec::with_capacity(r.attrs.len());
    for a in r.attrs {
        let data = match (a.s, a.b) {
            (Some(s), _) => AttrData::Str(s.into()),
            (None, Some(b)) => AttrData::Bin(b64.decode(b).ok()?.into_boxed_slice()),
            (None, None) => return None,
        };
        attrs.push((
            a.n.into_boxed_str(),
            AttrValue {
                data_type: a.t.into(),
                data,
            },
        ));
    }
    let has_extra = !attrs.is_empty()
        || r.trace.is_some()
        || r.group.is_some()
        || r.dedup.is_some()
        || r.seq != 0
        || r.dlq_src.is_some()
        || r.sender.is_some();
    let extra = has_extra.then(|| {
        let md5_attrs = (!attrs.is_empty())
            .then(|| crate::md5::md5_of_attributes(attrs.iter().map(|(n, v)| (&**n, v))));
        Box::new(MsgExtra {
            attrs,
            md5_attrs,
            trace_header: r.trace.map(Into::into),
            group_id: r.group.map(Into::into),
            dedup_id: r.dedup.map(Into::into),
            seq: r.seq,
            dlq_source_arn: r.dlq_src.map(Into::into),
            sender_id: r.sender.map(Into::into),
        })
    });
    let state = if r.vis <= now {
        MsgState::Visible
    } else if r.state == MsgState::InFlight as u8 {
        MsgState::InFlight
    } else {
        MsgState::Delayed
    };
    Some(Msg {
        message_id: mid,
        md5_body: crate::md5::md5_bytes(r.body.as_bytes()),
        body: r.body.into_boxed_str(),
        extra,
        sent_at: r.sent,
        retention_base: r.base,
        visible_at: r.vis,
        first_receive: r.first,
        last_receive: r.last,
        nonce: r.nonce,
        receive_count: r.rc,
        generation: 0,
        state,
    })
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct DedupRecord {
    pub exp: i64,
    pub mid: String,
    pub seq: u64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct TaskRecord {
    pub id: String,
    pub handle: String,
    pub source_arn: String,
    pub destination_arn: Option<String>,
    pub rate: Option<i32>,
    pub status: String,
    pub moved: i64,
    pub to_move: i64,
    pub started: i64,
    pub failure: Option<String>,
}
