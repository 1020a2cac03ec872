//! Constructors for the errors CloudWatch Logs returns, with AWS's wording.

use stratus_core::AwsError;

pub(crate) fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterException", message)
}

/// The Coral-style validation message CloudWatch Logs sends as
/// `InvalidParameterException` (not `ValidationException`).
pub(crate) fn constraint(
    member: &str,
    value: impl std::fmt::Display,
    constraint: &str,
) -> AwsError {
    invalid_parameter(format!(
        "1 validation error detected: Value '{value}' at '{member}' failed to satisfy constraint: {constraint}"
    ))
}

pub(crate) fn group_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        "The specified log group does not exist.",
    )
}

pub(crate) fn stream_not_found() -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        "The specified log stream does not exist.",
    )
}

pub(crate) fn not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", message)
}

pub(crate) fn group_exists() -> AwsError {
    AwsError::new(
        "ResourceAlreadyExistsException",
        "The specified log group already exists",
    )
}

pub(crate) fn stream_exists() -> AwsError {
    AwsError::new(
        "ResourceAlreadyExistsException",
        "The specified log stream already exists",
    )
}

pub(crate) fn limit_exceeded(message: impl Into<String>) -> AwsError {
    AwsError::new("LimitExceededException", message)
}

pub(crate) fn invalid_token() -> AwsError {
    invalid_parameter("The specified nextToken is invalid.")
}

pub(crate) fn store_failure(e: stratus_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "logs: store write failed");
    AwsError::new(
        "ServiceUnavailableException",
        format!("Stratus could not persist the change: {e}"),
    )
}
