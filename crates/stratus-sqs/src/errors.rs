//! Constructors for the AWS errors SQS returns, with AWS's wording.

use stratus_core::AwsError;

pub(crate) fn queue_does_not_exist() -> AwsError {
    AwsError::new("QueueDoesNotExist", "The specified queue does not exist.")
}

/// `InvalidParameterValue` with a free-form message.
pub(crate) fn invalid_parameter(message: impl Into<String>) -> AwsError {
    AwsError::new("InvalidParameterValue", message)
}

/// `Value X for parameter P is invalid. Reason: R`.
pub(crate) fn invalid_value(
    parameter: &str,
    value: impl std::fmt::Display,
    reason: &str,
) -> AwsError {
    invalid_parameter(format!(
        "Value {value} for parameter {parameter} is invalid. Reason: {reason}"
    ))
}

pub(crate) fn invalid_attribute_value(name: &str) -> AwsError {
    AwsError::new(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}."),
    )
}

pub(crate) fn invalid_attribute_value_reason(name: &str, reason: &str) -> AwsError {
    AwsError::new(
        "InvalidAttributeValue",
        format!("Invalid value for the parameter {name}. Reason: {reason}"),
    )
}

pub(crate) fn unknown_attribute(name: &str) -> AwsError {
    AwsError::new("InvalidAttributeName", format!("Unknown Attribute {name}."))
}

pub(crate) fn missing_parameter(name: &str) -> AwsError {
    AwsError::new(
        "MissingParameter",
        format!("The request must contain the parameter {name}."),
    )
}

pub(crate) fn receipt_handle_invalid(handle: &str) -> AwsError {
    AwsError::new(
        "ReceiptHandleIsInvalid",
        format!("The input receipt handle \"{handle}\" is not a valid receipt handle."),
    )
}

pub(crate) fn message_not_inflight() -> AwsError {
    AwsError::new(
        "MessageNotInflight",
        "Message does not exist or is not available for visibility timeout change.",
    )
}

pub(crate) fn store_failure(e: stratus_store::StoreError) -> AwsError {
    tracing::error!(error = %e, "sqs: store write failed");
    AwsError::internal(format!("Stratus could not persist the change: {e}"))
}

pub(crate) fn resource_not_found(message: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", message)
}
