//! InvokeWithResponseStream: the function runs as a buffered invocation and
//! its response goes out as PayloadChunk events followed by InvokeComplete
//! (the protocol layer frames them as an event stream).

use base64::Engine;
use bytes::Bytes;
use stratus_core::{AwsError, Blob, RequestContext};

use crate::generated::*;
use crate::names::parse_function;
use crate::service::LambdaService;

const SYNC_LIMIT: usize = 6 * 1024 * 1024;
const TAIL_BYTES: usize = 4096;

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
        let client_context = input.client_context.and_then(|cc| {
            base64::engine::general_purpose::STANDARD
                .decode(cc.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        });
        let done = self
            .execute(
                &f,
                Bytes::from(payload),
                client_context,
                ctx.request_id.clone(),
            )
            .await?;
        let log_result = (input.log_type.as_deref() == Some("Tail")).then(|| {
            let bytes = done.log_text.as_bytes();
            let tail = &bytes[bytes.len().saturating_sub(TAIL_BYTES)..];
            base64::engine::general_purpose::STANDARD.encode(tail)
        });
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
