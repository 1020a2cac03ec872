//! What Stratus keeps per function, layer and event source mapping. The
//! records serialize as the durable format (see `persist`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::generated::{
    AliasConfiguration, EventSourceMappingConfiguration, FunctionConfiguration,
    FunctionEventInvokeConfig,
};

/// Where a version's code lives.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind")]
pub(crate) enum CodeRef {
    /// A zip stored under `<data>/lambda/code/<sha256 hex>.zip`.
    Zip { sha: String },
    /// Local-code mode: a directory run in place.
    Local { dir: String },
    /// No code (image functions are not runnable in Stratus).
    None,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct VersionRec {
    pub config: FunctionConfiguration,
    pub code: CodeRef,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct ProvisionedRec {
    pub requested: i32,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub(crate) struct UrlRec {
    pub url_id: String,
    pub auth_type: String,
    pub cors: Option<Value>,
    pub invoke_mode: Option<String>,
    pub created: String,
    pub last_modified: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct FunctionRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub latest: VersionRec,
    #[serde(default)]
    pub versions: BTreeMap<u64, VersionRec>,
    #[serde(default)]
    pub last_version: u64,
    #[serde(default)]
    pub aliases: BTreeMap<String, AliasConfiguration>,
    /// Resource-policy statements by qualifier ("" for the unqualified function).
    #[serde(default)]
    pub policies: BTreeMap<String, Vec<Value>>,
    #[serde(default)]
    pub policy_revision: BTreeMap<String, String>,
    #[serde(default)]
    pub reserved: Option<i32>,
    #[serde(default)]
    pub provisioned: BTreeMap<String, ProvisionedRec>,
    #[serde(default)]
    pub invoke_configs: BTreeMap<String, FunctionEventInvokeConfig>,
    #[serde(default)]
    pub urls: BTreeMap<String, UrlRec>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub code_signing_config: Option<String>,
    #[serde(default)]
    pub recursion: Option<String>,
}

impl FunctionRec {
    /// The version record a version qualifier names (`$LATEST` or a number).
    pub fn version(&self, v: &str) -> Option<&VersionRec> {
        if v == "$LATEST" {
            return Some(&self.latest);
        }
        v.parse::<u64>().ok().and_then(|n| self.versions.get(&n))
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerVersionRec {
    pub version: u64,
    pub sha: String,
    pub code_size: i64,
    pub description: Option<String>,
    pub created: String,
    pub compatible_runtimes: Option<Vec<String>>,
    pub compatible_architectures: Option<Vec<String>>,
    pub license: Option<String>,
    #[serde(default)]
    pub policy: Vec<Value>,
    #[serde(default)]
    pub policy_revision: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct LayerRec {
    pub account: String,
    pub region: String,
    pub name: String,
    pub last_version: u64,
    pub versions: BTreeMap<u64, LayerVersionRec>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct EsmRec {
    pub account: String,
    pub region: String,
    pub config: EventSourceMappingConfiguration,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

/// A queued asynchronous invocation (durable until processed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct AsyncRec {
    pub id: String,
    pub account: String,
    pub region: String,
    pub function: String,
    pub qualifier: Option<String>,
    pub payload_b64: String,
    pub attempt: u32,
    pub enqueued_ms: u64,
    pub not_before_ms: u64,
}
