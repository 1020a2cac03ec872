//! AWS service models as data.
//!
//! Loads a botocore `service-2.json` (kept under `models/`) into typed structs.
//! The protocol layer walks these to parse, validate and serialize; the codegen
//! reads them to emit each service's typed inputs and outputs.

use std::collections::{BTreeMap, HashMap};

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    AwsJson1_0,
    AwsJson1_1,
    AwsQuery,
    RestJson1,
    RestXml,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    pub api_version: String,
    pub endpoint_prefix: String,
    pub protocol: String,
    #[serde(default)]
    pub json_version: Option<String>,
    #[serde(default)]
    pub target_prefix: Option<String>,
    #[serde(default)]
    pub signing_name: Option<String>,
    #[serde(default)]
    pub xml_namespace: Option<String>,
    #[serde(default)]
    pub aws_query_compatible: Option<serde_json::Value>,
    pub service_id: String,
    #[serde(default)]
    pub global_endpoint: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Http {
    pub method: String,
    pub request_uri: String,
    #[serde(default)]
    pub response_code: Option<u16>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShapeRef {
    pub shape: String,
    #[serde(default)]
    pub location: Option<String>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub flattened: Option<bool>,
    #[serde(default)]
    pub result_wrapper: Option<String>,
    #[serde(default)]
    pub xml_attribute: Option<bool>,
    #[serde(default)]
    pub xml_namespace: Option<serde_json::Value>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub idempotency_token: Option<bool>,
    #[serde(default)]
    pub json_value: Option<bool>,
    #[serde(default)]
    pub streaming: Option<bool>,
    /// botocore spells it `eventpayload`, all lower case.
    #[serde(default, alias = "eventpayload")]
    pub event_payload: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    pub name: String,
    pub http: Http,
    #[serde(default)]
    pub input: Option<ShapeRef>,
    #[serde(default)]
    pub output: Option<ShapeRef>,
    #[serde(default)]
    pub errors: Vec<ShapeRef>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorInfo {
    #[serde(default)]
    pub code: Option<String>,
    #[serde(default)]
    pub http_status_code: Option<u16>,
    #[serde(default)]
    pub sender_fault: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Shape {
    #[serde(rename = "type")]
    pub kind: ShapeKind,
    #[serde(default)]
    /// In model order: wire output keeps it.
    pub members: IndexMap<String, ShapeRef>,
    #[serde(default)]
    pub required: Vec<String>,
    #[serde(default)]
    pub member: Option<ShapeRef>,
    #[serde(default)]
    pub key: Option<ShapeRef>,
    #[serde(default)]
    pub value: Option<ShapeRef>,
    #[serde(default)]
    pub flattened: Option<bool>,
    #[serde(default, rename = "enum")]
    pub enum_values: Option<Vec<String>>,
    #[serde(default)]
    pub min: Option<f64>,
    #[serde(default)]
    pub max: Option<f64>,
    #[serde(default)]
    pub pattern: Option<String>,
    #[serde(default)]
    pub timestamp_format: Option<String>,
    #[serde(default)]
    pub location_name: Option<String>,
    #[serde(default)]
    pub exception: Option<bool>,
    #[serde(default)]
    pub error: Option<ErrorInfo>,
    #[serde(default)]
    pub payload: Option<String>,
    #[serde(default)]
    pub sensitive: Option<bool>,
    #[serde(default)]
    pub xml_namespace: Option<serde_json::Value>,
    #[serde(default)]
    pub event: Option<bool>,
    #[serde(default)]
    pub eventstream: Option<bool>,
    #[serde(default)]
    pub document: Option<bool>,
    #[serde(default)]
    pub union: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ShapeKind {
    Structure,
    List,
    Map,
    String,
    Integer,
    Long,
    Boolean,
    Blob,
    Timestamp,
    Double,
    Float,
    Byte,
    Short,
    Character,
}

#[derive(Debug, Clone)]
pub struct ServiceModel {
    pub metadata: Metadata,
    pub operations: BTreeMap<String, Operation>,
    pub shapes: HashMap<String, Shape>,
}

#[derive(Debug)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "invalid service model: {}", self.0)
    }
}
impl std::error::Error for ModelError {}

#[derive(Deserialize)]
struct RawModel {
    metadata: Metadata,
    operations: BTreeMap<String, Operation>,
    shapes: HashMap<String, Shape>,
}

impl ServiceModel {
    /// Parse a `service-2.json` document.
    pub fn from_json(text: &str) -> Result<Self, ModelError> {
        let raw: RawModel = serde_json::from_str(text).map_err(|e| ModelError(e.to_string()))?;
        let shapes = raw.shapes;
        let model = ServiceModel {
            metadata: raw.metadata,
            operations: raw.operations,
            shapes,
        };
        model.check()?;
        Ok(model)
    }

    fn check(&self) -> Result<(), ModelError> {
        for (name, shape) in &self.shapes {
            let refs = shape
                .members
                .values()
                .chain(shape.member.iter())
                .chain(shape.key.iter())
                .chain(shape.value.iter());
            for r in refs {
                if !self.shapes.contains_key(&r.shape) {
                    return Err(ModelError(format!(
                        "{name} refers to missing shape {}",
                        r.shape
                    )));
                }
            }
        }
        Ok(())
    }

    pub fn protocol(&self) -> Protocol {
        match self.metadata.protocol.as_str() {
            "json" if self.metadata.json_version.as_deref() == Some("1.0") => Protocol::AwsJson1_0,
            "json" => Protocol::AwsJson1_1,
            "query" | "ec2" => Protocol::AwsQuery,
            "rest-json" => Protocol::RestJson1,
            _ => Protocol::RestXml,
        }
    }

    pub fn signing_name(&self) -> &str {
        self.metadata
            .signing_name
            .as_deref()
            .unwrap_or(&self.metadata.endpoint_prefix)
    }

    pub fn shape(&self, name: &str) -> Option<&Shape> {
        self.shapes.get(name)
    }

    pub fn operation(&self, name: &str) -> Option<&Operation> {
        self.operations.get(name)
    }

    /// The error shape named `code`, if the model declares it as an exception.
    pub fn error_shape(&self, code: &str) -> Option<&Shape> {
        self.shapes.get(code).filter(|s| s.exception == Some(true))
    }

    pub fn is_query_compatible(&self) -> bool {
        self.metadata.aws_query_compatible.is_some()
    }
}

impl Shape {
    /// Members in model order.
    pub fn ordered_members(&self) -> impl Iterator<Item = (&String, &ShapeRef)> {
        self.members.iter()
    }

    pub fn is_required(&self, member: &str) -> bool {
        self.required.iter().any(|r| r == member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loads_every_committed_model() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
        for name in ["sqs", "sqs-query", "sts", "lambda", "s3", "events"] {
            let text =
                std::fs::read_to_string(format!("{dir}/{name}/service-2.json")).unwrap_or_default();
            let model = ServiceModel::from_json(&text);
            assert!(model.is_ok(), "{name}: {:?}", model.err());
        }
    }

    #[test]
    fn protocols_are_recognised() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../models");
        let load = |n: &str| {
            ServiceModel::from_json(
                &std::fs::read_to_string(format!("{dir}/{n}/service-2.json")).unwrap_or_default(),
            )
            .map(|m| m.protocol())
            .ok()
        };
        assert_eq!(load("sqs"), Some(Protocol::AwsJson1_0));
        assert_eq!(load("events"), Some(Protocol::AwsJson1_1));
        assert_eq!(load("sts"), Some(Protocol::AwsQuery));
        assert_eq!(load("lambda"), Some(Protocol::RestJson1));
        assert_eq!(load("s3"), Some(Protocol::RestXml));
    }
}
