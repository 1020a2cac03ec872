//! Model-driven AWS wire protocols.
//!
//! Turns an HTTP request into an operation name plus its input document, and an
//! output document or [`AwsError`] back into an HTTP response, for the five AWS
//! protocols: awsJson1_0, awsJson1_1, awsQuery, restJson1 and restXml. Every
//! decision (wire names, list and map layout, timestamp formats, error codes and
//! statuses) is read from the service model; no service spells a wire format.
//!
//! The document exchanged with services is the model's canonical JSON form: the
//! shape awsJson puts on the wire (structures as objects keyed by member name,
//! blobs as base64 strings, timestamps as epoch seconds).

mod error_codec;
mod eventstream;
mod json;
mod message;
mod query;
mod rest;
mod timestamp;
mod validate;
mod xml;
mod xml_in;

#[cfg(test)]
mod query_output_tests;

pub use error_codec::encode_error;
pub use message::{HttpRequest, HttpResponse};
pub use query::parse_form;
pub use rest::{RestRoute, RestRouter};
pub use validate::{ValidationError, ValidationKind, validate_input};

use stratus_core::{AwsError, Value};
use stratus_model::{Protocol, ServiceModel};

/// A request could not be read as the protocol demands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecodeError(pub AwsError);

/// Decode the input of `operation` from `req` as `protocol` says.
///
/// `model` is the model whose wire names apply (for a query request to an
/// `awsQueryCompatible` service, its query edition). Validation is separate
/// ([`validate_input`]) so callers can map validation failures per service.
pub fn decode_input(
    model: &ServiceModel,
    protocol: Protocol,
    operation: &str,
    req: &HttpRequest<'_>,
    form: Option<&[(String, String)]>,
) -> Result<Value, AwsError> {
    let op = model
        .operation(operation)
        .ok_or_else(|| AwsError::unknown_operation(operation))?;
    match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => json::decode_body(model, op, req.body),
        Protocol::AwsQuery => {
            let owned;
            let params = match form {
                Some(f) => f,
                None => {
                    owned = parse_form(req.query, req.body);
                    &owned
                }
            };
            query::decode(model, op, params)
        }
        Protocol::RestJson1 | Protocol::RestXml => rest::decode(model, protocol, op, req),
    }
}

/// Encode a successful output document.
pub fn encode_output(
    model: &ServiceModel,
    protocol: Protocol,
    operation: &str,
    output: &Value,
    request_id: &str,
) -> HttpResponse {
    let Some(op) = model.operation(operation) else {
        return encode_error(
            model,
            None,
            protocol,
            &AwsError::unknown_operation(operation),
            request_id,
        );
    };
    match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 => {
            json::encode_output(model, protocol, op, output, request_id)
        }
        Protocol::AwsQuery => xml::encode_query_output(model, op, output, request_id),
        Protocol::RestJson1 | Protocol::RestXml => {
            rest::encode_output(model, protocol, op, output, request_id)
        }
    }
}
