//! awsJson1_0 / awsJson1_1: the body is the canonical document itself.

use stratus_core::{AwsError, Value};
use stratus_model::{Operation, Protocol, ServiceModel};

use crate::HttpResponse;

pub fn content_type(protocol: Protocol) -> &'static str {
    match protocol {
        Protocol::AwsJson1_0 => "application/x-amz-json-1.0",
        _ => "application/x-amz-json-1.1",
    }
}

pub fn decode_body(_model: &ServiceModel, op: &Operation, body: &[u8]) -> Result<Value, AwsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Object(Default::default()));
    }
    let value: Value = serde_json::from_slice(body).map_err(|e| {
        AwsError::new(
            "SerializationException",
            format!("Could not parse the request body of {}: {e}", op.name),
        )
    })?;
    if !value.is_object() {
        return Err(AwsError::new(
            "SerializationException",
            format!("The request body of {} must be a JSON object", op.name),
        ));
    }
    Ok(value)
}

pub fn encode_output(
    _model: &ServiceModel,
    protocol: Protocol,
    op: &Operation,
    output: &Value,
    request_id: &str,
) -> HttpResponse {
    let body = if op.output.is_some() {
        serde_json::to_vec(output).unwrap_or_else(|_| b"{}".to_vec())
    } else {
        b"{}".to_vec()
    };
    HttpResponse::new(200, content_type(protocol), body).header("x-amzn-RequestId", request_id)
}
