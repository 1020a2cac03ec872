//! Shared vocabulary of Stratus.
//!
//! Every service crate implements [`Service`]; the HTTP front and other services
//! reach it only through [`Registry::call`], with a [`RequestContext`] naming the
//! account and region. Inputs and outputs cross that boundary as the model's
//! canonical JSON document (the shape `awsJson` would put on the wire), so the
//! same call works from HTTP, from another service, or from a test.

pub mod clock;
mod context;
mod error;
mod raw_http;
mod registry;

pub use context::{RequestContext, new_request_id};
pub use error::AwsError;
pub use raw_http::{RawAddress, RawCaller, RawHttpRequest, RawHttpResponse};
pub use registry::{BoxFuture, Registry, RegistryHandle, Service};
pub use serde_json::Value;

mod blob;
pub use blob::Blob;

/// Convert a canonical input document to a generated input type.
pub fn from_document<T: serde::de::DeserializeOwned>(value: Value) -> Result<T, AwsError> {
    serde_json::from_value(value)
        .map_err(|e| AwsError::new("SerializationException", format!("Invalid request: {e}")))
}

/// Convert a generated output type to its canonical document.
pub fn to_document<T: serde::Serialize>(value: &T) -> Result<Value, AwsError> {
    serde_json::to_value(value).map_err(|e| AwsError::internal(format!("output encoding: {e}")))
}
