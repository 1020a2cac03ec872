//! InvokeWithResponseStream: the function runs as a buffered invocation and
//! its response goes out as PayloadChunk events of at most [`CHUNK`] bytes
//! followed by InvokeComplete (the protocol layer frames them as an event
//! stream).

use base64::Engine;
use bytes::Bytes;
use serde_json::{Value, json};
use stratus_core::{AwsError, Blob, RequestContext};

use crate::generated::*;
use crate::invoke::SYNC_LIMIT;
use crate::invoke::decode_client_context;
use crate::names::parse_function;
use crate::service::LambdaService;

/// Payload bytes per PayloadChunk event.
pub(crate) const CHUNK: usize = 32 * 1024;

/// The typed output holds one event of each kind; the wire gets the payload
/// as a list of PayloadChunk events (each at most [`CHUNK`] bytes), then
/// InvokeComplete.
pub(crate) fn split_chunks(mut out: Value) -> Value {
    let Some(stream) = out.get_mut("EventStream").map(Value::take) else {
        return out;
    };
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut events = Vec::new();
    if let Some(p) = stream["PayloadChunk"]["Payload"].as_str()
        && let Ok(bytes) = b64.decode(p)
    {
        for part in bytes.chunks(CHUNK) {
            events.push(json!({"PayloadChunk": {"Payload": b64.encode(part)}}));
        }
    }
    if let Some(done) = stream.get("InvokeComplete") {
        events.push(json!({ "InvokeComplete": done }));
    }
    out["EventStream"] = Value::Array(events);
    out
}

impl LambdaService {
    pub(crate) async fn op_invoke_stream(
        &self,
        ctx: &RequestContext,
        input: InvokeWithResponseStreamRequest,
    ) -> Result<InvokeWithResponseStreamResponse, AwsError> {
        let f = parse_function(ctx, &input.function_name, input.qualifier.as_deref())?;
        let payload = input.payload.map(|b| b.0).unwrap_or_default();
        if payload.len() > SYNC_LIMIT {
            return Err(AwsError::new(
                "RequestTooLargeException",
                format!(
                    "Request must be smaller than {SYNC_LIMIT} bytes for the InvokeFunction operation"
                ),
            ));
        }
        if !payload.is_empty() && serde_json::from_slice::<serde::de::IgnoredAny>(&payload).is_err()
        {
            return Err(AwsError::new(
                "InvalidRequestContentException",
                "Could not parse request body into json: Could not parse payload into json: Unexpected character: was expecting a JSON value",
            ));
        }
        match input.invocation_type.as_deref() {
            None | Some("RequestResponse") => {}
            Some("DryRun") => {
                let rec = self.function(&f)?;
                Self::config_for(&rec.lock(), &f)?;
                return Ok(InvokeWithResponseStreamResponse {
                    status_code: Some(204),
                    ..Default::default()
                });
            }
            Some(other) => {
                return Err(AwsError::new(
                    "InvalidParameterValueException",
                    format!("Unsupported invocation type {other} for InvokeWithResponseStream."),
                ));
            }
        }
        let client_context = decode_client_context(input.client_context);
        let done = self
            .execute(
                &f,
                Bytes::from(payload),
                client_context,
                ctx.request_id.clone(),
            )
            .await?;
        let log_result = done.log_result(input.log_type.as_deref());
        // A buffered response is one chunk; a failed invocation sends no
        // chunk and reports the error in InvokeComplete.
        let (chunk, complete) = match done.function_error {
            None => (
                Some(InvokeResponseStreamUpdate {
                    payload: Some(Blob(done.payload.to_vec())),
                }),
                InvokeWithResponseStreamCompleteEvent {
                    error_code: None,
                    error_details: None,
                    log_result,
                },
            ),
            Some(kind) => (
                None,
                InvokeWithResponseStreamCompleteEvent {
                    error_code: Some(kind),
                    error_details: Some(String::from_utf8_lossy(&done.payload).into_owned()),
                    log_result,
                },
            ),
        };
        Ok(InvokeWithResponseStreamResponse {
            status_code: Some(200),
            executed_version: Some(done.executed_version),
            event_stream: Some(InvokeWithResponseStreamResponseEvent {
                payload_chunk: chunk
                    .filter(|c| c.payload.as_ref().is_some_and(|p| !p.0.is_empty())),
                invoke_complete: Some(complete),
            }),
            response_stream_content_type: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn payloads_split_into_chunks_then_complete() {
        let b64 = base64::engine::general_purpose::STANDARD;
        let payload = vec![7u8; CHUNK * 2 + 5];
        let out = split_chunks(json!({"StatusCode": 200, "EventStream": {
            "PayloadChunk": {"Payload": b64.encode(&payload)},
            "InvokeComplete": {"LogResult": "eA=="}
        }}));
        let events = out["EventStream"].as_array().cloned().unwrap_or_default();
        assert_eq!(events.len(), 4);
        let sizes: Vec<usize> = events[..3]
            .iter()
            .map(|e| {
                b64.decode(e["PayloadChunk"]["Payload"].as_str().unwrap_or_default())
                    .map(|b| b.len())
                    .unwrap_or_default()
            })
            .collect();
        assert_eq!(sizes, vec![CHUNK, CHUNK, 5]);
        assert_eq!(events[3], json!({"InvokeComplete": {"LogResult": "eA=="}}));
    }
}
