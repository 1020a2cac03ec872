//! Record formats and keys in the store.
//!
//! Tables (every value is a format version byte followed by JSON):
//! - `sns_topics`: key `account/region/name` → [`TopicRecord`];
//! - `sns_subscriptions`: key `account/region/<subscription arn>` (the topic's
//!   account and region) → [`SubscriptionRecord`];
//! - `sns_dedup`: key `account/region/name/<scope>/<dedup id>` → [`DedupRecord`]
//!   (FIFO topics, kept for the 5-minute window);
//! - `sns_platform`: key `account/region/<arn>` → [`PlatformRecord`] (mobile
//!   push applications and endpoints);
//! - `sns_sms`: key `account/region` → [`SmsRecord`];
//! - `sns_keys`: key `signing` → [`KeyRecord`] (the signing key and certificate).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub(crate) const T_TOPICS: &str = "sns_topics";
pub(crate) const T_SUBS: &str = "sns_subscriptions";
pub(crate) const T_DEDUP: &str = "sns_dedup";
pub(crate) const T_PLATFORM: &str = "sns_platform";
pub(crate) const T_SMS: &str = "sns_sms";
pub(crate) const T_KEYS: &str = "sns_keys";
const VERSION: u8 = 1;

pub(crate) fn scoped_key(account: &str, region: &str, rest: &str) -> String {
    format!("{account}/{region}/{rest}")
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Vec<u8> {
    let mut out = vec![VERSION];
    // These plain structs always serialize.
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
pub(crate) struct TopicRecord {
    pub account: String,
    pub region: String,
    pub name: String,
    pub fifo: bool,
    pub attrs: BTreeMap<String, String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_protection: Option<String>,
    pub created: i64,
    /// FIFO sequence numbers below this were possibly handed out.
    #[serde(default)]
    pub seq_reserved: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub archive_start: Option<i64>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct SubscriptionRecord {
    pub arn: String,
    pub topic_arn: String,
    pub owner: String,
    pub protocol: String,
    pub endpoint: String,
    pub attrs: BTreeMap<String, String>,
    pub pending: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    #[serde(default)]
    pub authenticated: bool,
    /// Confirmed with `AuthenticateOnUnsubscribe=true`.
    #[serde(default)]
    pub auth_on_unsubscribe: bool,
    pub created: i64,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct DedupRecord {
    pub exp: i64,
    pub mid: String,
    pub seq: String,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct PlatformRecord {
    /// `app` or `endpoint`.
    pub kind: String,
    pub arn: String,
    pub account: String,
    pub region: String,
    pub attrs: BTreeMap<String, String>,
    /// Application: its platform (`GCM`, `APNS`, ...). Endpoint: its application ARN.
    pub parent: String,
}

#[derive(Serialize, Deserialize, Debug, Clone, Default)]
pub(crate) struct SmsRecord {
    pub attributes: BTreeMap<String, String>,
    #[serde(default)]
    pub opted_out: Vec<String>,
    /// Sandbox destination numbers: number → (status, one-time password).
    #[serde(default)]
    pub sandbox: BTreeMap<String, (String, String)>,
}

#[derive(Serialize, Deserialize, Debug, Clone)]
pub(crate) struct KeyRecord {
    /// PKCS#8 PEM of the RSA private key.
    pub key_pem: String,
    /// PEM of the self-signed certificate.
    pub cert_pem: String,
}
