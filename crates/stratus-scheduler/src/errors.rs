//! The errors Scheduler answers with, worded as the API reference and the
//! service word them.

use stratus_core::AwsError;
use stratus_store::StoreError;

pub(crate) fn validation(message: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", message)
}

/// Coral's wording for a member that fails its model pattern (the protocol
/// layer checks lengths and enums but leaves patterns to the service).
pub(crate) fn pattern(path: &str, value: &str, pattern: &str) -> AwsError {
    validation(format!(
        "1 validation error detected: Value '{value}' at '{path}' failed to satisfy constraint: \
         Member must satisfy regular expression pattern: {pattern}"
    ))
}

pub(crate) fn schedule_not_found(name: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        format!("Schedule {name} does not exist."),
    )
}

pub(crate) fn group_not_found(name: &str) -> AwsError {
    AwsError::new(
        "ResourceNotFoundException",
        format!("Schedule group {name} does not exist."),
    )
}

pub(crate) fn schedule_exists(name: &str) -> AwsError {
    AwsError::new(
        "ConflictException",
        format!("Schedule {name} already exists."),
    )
}

pub(crate) fn group_exists(name: &str) -> AwsError {
    AwsError::new(
        "ConflictException",
        format!("Schedule group {name} already exists."),
    )
}

pub(crate) fn invalid_expression(expr: &str) -> AwsError {
    validation(format!("Invalid Schedule Expression {expr}"))
}

pub(crate) fn store(e: StoreError) -> AwsError {
    tracing::error!(error = %e, "scheduler: store write failed");
    AwsError::new(
        "InternalServerException",
        "Unexpected error occurred while processing the request.",
    )
    .with_status(500)
}
