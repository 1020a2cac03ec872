//! Lambda's error shapes, by model name.

use stratus_core::AwsError;

pub(crate) fn invalid_param(msg: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValueException", msg)
}

pub(crate) fn not_found(msg: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", msg)
}

pub(crate) fn conflict(msg: impl Into<String>) -> AwsError {
    AwsError::new("ResourceConflictException", msg)
}

pub(crate) fn precondition(msg: impl Into<String>) -> AwsError {
    AwsError::new("PreconditionFailedException", msg)
}

/// Model-level constraint failures Lambda reports as `ValidationException`.
pub(crate) fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", msg).with_status(400)
}

pub(crate) fn function_not_found(arn: &str) -> AwsError {
    not_found(format!("Function not found: {arn}"))
}

pub(crate) fn store_error(e: impl std::fmt::Display) -> AwsError {
    AwsError::internal(format!("storage failure: {e}"))
}
