use std::fmt;

/// An AWS error as a value.
///
/// `code` is the error shape's name in the service model (for example
/// `QueueDoesNotExist`); the protocol layer looks up the wire code, HTTP status
/// and fault from the model, so services never spell wire details. Errors that are
/// not modelled (common errors such as `ValidationException` or `InvalidAction`)
/// carry their status here.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AwsError {
    pub code: String,
    pub message: String,
    pub status: u16,
    pub sender_fault: bool,
}

impl AwsError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
            status: 400,
            sender_fault: true,
        }
    }

    pub fn with_status(mut self, status: u16) -> Self {
        self.status = status;
        self.sender_fault = status < 500;
        self
    }

    pub fn internal(message: impl Into<String>) -> Self {
        Self::new("InternalFailure", message).with_status(500)
    }

    pub fn not_implemented(service: &str, operation: &str) -> Self {
        Self::new(
            "NotImplemented",
            format!(
                "The operation {operation} of service {service} is not implemented by Stratus."
            ),
        )
        .with_status(501)
    }

    pub fn unknown_operation(operation: &str) -> Self {
        Self::new(
            "InvalidAction",
            format!("The action {operation} is not valid for this endpoint."),
        )
    }
}

impl fmt::Display for AwsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for AwsError {}
