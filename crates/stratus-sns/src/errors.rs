//! SNS errors with AWS's codes and wording.
//!
//! Codes are the model's error shape names; the protocol layer turns them into
//! the wire codes (`InvalidParameter`, `NotFound`, ...).

use stratus_core::AwsError;

/// `InvalidParameter`: `Invalid parameter: <detail>`.
pub(crate) fn invalid(detail: impl std::fmt::Display) -> AwsError {
    AwsError::new(
        "InvalidParameterException",
        format!("Invalid parameter: {detail}"),
    )
}

/// `InvalidParameter` with a message used verbatim.
pub(crate) fn invalid_raw(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterException", message)
}

/// `ParameterValueInvalid` (message attribute problems).
pub(crate) fn invalid_value(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValueException", message)
}

pub(crate) fn topic_not_found() -> AwsError {
    AwsError::new("NotFoundException", "Topic does not exist")
}

pub(crate) fn subscription_not_found() -> AwsError {
    AwsError::new("NotFoundException", "Subscription does not exist")
}

pub(crate) fn endpoint_not_found() -> AwsError {
    AwsError::new("NotFoundException", "Endpoint does not exist")
}

pub(crate) fn application_not_found() -> AwsError {
    AwsError::new("NotFoundException", "PlatformApplication does not exist")
}

pub(crate) fn resource_not_found() -> AwsError {
    AwsError::new("ResourceNotFoundException", "Resource does not exist")
}

/// `AuthorizationError`, worded as IAM words a missing resource-policy grant.
pub(crate) fn not_authorized(account: &str, action: &str, resource: &str) -> AwsError {
    AwsError::new(
        "AuthorizationErrorException",
        format!(
            "User: arn:aws:iam::{account}:root is not authorized to perform: SNS:{action} on resource: {resource} because no resource-based policy allows the SNS:{action} action"
        ),
    )
}

/// Failures stored in the store.
pub(crate) fn store_failed(e: impl std::fmt::Display) -> AwsError {
    AwsError::new("InternalErrorException", format!("Internal error: {e}")).with_status(500)
}
