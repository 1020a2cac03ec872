//! Errors on the wire. Services name the error shape; the model supplies the
//! wire code, status and fault.

use stratus_core::AwsError;
use stratus_model::{Protocol, ServiceModel};

use crate::xml::XmlWriter;
use crate::{HttpResponse, json};

/// What the model says about one error.
struct WireError<'a> {
    /// Code on the query protocol (and in `x-amzn-query-error`).
    query_code: &'a str,
    status: u16,
    sender: bool,
}

fn wire_error<'a>(
    model: &'a ServiceModel,
    query_model: Option<&'a ServiceModel>,
    err: &'a AwsError,
) -> WireError<'a> {
    let from = |m: &'a ServiceModel| {
        m.error_shape(&err.code)
            .and_then(|s| s.error.as_ref())
            .map(|info| WireError {
                query_code: info.code.as_deref().unwrap_or(&err.code),
                status: info.http_status_code.unwrap_or(err.status),
                sender: info.sender_fault.unwrap_or(err.sender_fault),
            })
    };
    query_model
        .and_then(from)
        .or_else(|| from(model))
        .unwrap_or(WireError {
            query_code: &err.code,
            status: err.status,
            sender: err.sender_fault,
        })
}

/// Encode `err` for `protocol`. `query_model` is the query edition of an
/// `awsQueryCompatible` service, which knows the legacy error codes.
pub fn encode_error(
    model: &ServiceModel,
    query_model: Option<&ServiceModel>,
    protocol: Protocol,
    err: &AwsError,
    request_id: &str,
) -> HttpResponse {
    let wire = wire_error(model, query_model, err);
    let fault = if wire.sender { "Sender" } else { "Receiver" };
    match protocol {
        Protocol::AwsJson1_0 | Protocol::AwsJson1_1 | Protocol::RestJson1 => {
            let type_name = if model.is_query_compatible() {
                format!(
                    "com.amazonaws.{}#{}",
                    model.metadata.endpoint_prefix, err.code
                )
            } else {
                err.code.clone()
            };
            let body = serde_json::json!({ "__type": type_name, "message": err.message });
            let content_type = if protocol == Protocol::RestJson1 {
                "application/json"
            } else {
                json::content_type(protocol)
            };
            let mut resp = HttpResponse::new(
                wire.status,
                content_type,
                serde_json::to_vec(&body).unwrap_or_default(),
            )
            .header("x-amzn-RequestId", request_id);
            if protocol == Protocol::RestJson1 {
                resp = resp.header("x-amzn-ErrorType", err.code.as_str());
            }
            if model.is_query_compatible() {
                resp = resp.header("x-amzn-query-error", format!("{};{fault}", wire.query_code));
            }
            resp
        }
        Protocol::AwsQuery => {
            let ns = query_model
                .or(Some(model))
                .and_then(|m| m.metadata.xml_namespace.clone())
                .unwrap_or_default();
            let mut w = XmlWriter::new();
            w.open_ns("ErrorResponse", &ns);
            w.open("Error");
            w.text_element("Type", fault);
            w.text_element("Code", wire.query_code);
            w.text_element("Message", &err.message);
            w.empty("Detail");
            w.close("Error");
            w.text_element("RequestId", request_id);
            w.close("ErrorResponse");
            HttpResponse::new(wire.status, "text/xml", w.finish())
                .header("x-amzn-RequestId", request_id)
        }
        Protocol::RestXml => {
            let mut w = XmlWriter::new();
            w.open("Error");
            w.text_element("Code", wire.query_code);
            w.text_element("Message", &err.message);
            w.text_element("RequestId", request_id);
            w.close("Error");
            HttpResponse::new(wire.status, "application/xml", w.finish())
                .header("x-amz-request-id", request_id)
        }
    }
}
