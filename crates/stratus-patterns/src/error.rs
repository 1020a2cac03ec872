//! Error types: AWS-shaped errors for invalid patterns and filter policies, and a
//! plain error for events that are not valid JSON.

/// An event pattern was rejected.
///
/// EventBridge answers `InvalidEventPatternException` with the message
/// `Event pattern is not valid. Reason: <reason>` (AWS appends a second line with
/// the parser position; this crate reproduces the first line only).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event pattern is not valid. Reason: {reason}")]
pub struct PatternError {
    reason: String,
}

impl PatternError {
    /// The AWS error code for every rejected pattern.
    pub const CODE: &'static str = "InvalidEventPatternException";

    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// `InvalidEventPatternException`.
    pub fn code(&self) -> &'static str {
        Self::CODE
    }

    /// The reason alone, e.g. `Empty arrays are not allowed`.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The full AWS message (first line), e.g.
    /// `Event pattern is not valid. Reason: Empty arrays are not allowed`.
    pub fn message(&self) -> String {
        self.to_string()
    }
}

/// An event could not be read as JSON.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Event is not valid JSON: {reason}")]
pub struct EventError {
    reason: String,
}

impl EventError {
    pub(crate) fn new(reason: impl Into<String>) -> Self {
        Self {
            reason: reason.into(),
        }
    }

    /// What was wrong with the event text.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// An SNS filter policy was rejected (`InvalidParameter`, HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterPolicyError {
    /// The policy text is not acceptable: `Invalid parameter: FilterPolicy: <reason>`.
    #[error("Invalid parameter: FilterPolicy: {reason}")]
    Invalid {
        /// e.g. `Filter policy is too complex`.
        reason: String,
    },
    /// A nested policy was given for the `MessageAttributes` scope.
    #[error(
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy"
    )]
    NestedInAttributesScope,
}

impl FilterPolicyError {
    /// The AWS error code: `InvalidParameter`.
    pub const CODE: &'static str = "InvalidParameter";

    pub(crate) fn invalid(reason: impl Into<String>) -> Self {
        Self::Invalid {
            reason: reason.into(),
        }
    }

    /// `InvalidParameter`.
    pub fn code(&self) -> &'static str {
        Self::CODE
    }

    /// The message as `SetSubscriptionAttributes` words it
    /// (`Invalid parameter: FilterPolicy: ...`).
    pub fn message(&self) -> String {
        self.to_string()
    }

    /// The message as `Subscribe` (policy given in `Attributes`) words it:
    /// `Invalid parameter: Attributes Reason: FilterPolicy: ...`.
    pub fn subscribe_message(&self) -> String {
        match self {
            Self::Invalid { reason } => {
                format!("Invalid parameter: Attributes Reason: FilterPolicy: {reason}")
            }
            Self::NestedInAttributesScope => self.to_string(),
        }
    }
}
