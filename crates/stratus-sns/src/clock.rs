//! Time: epoch milliseconds and the ISO 8601 form SNS messages carry.

use chrono::{DateTime, SecondsFormat, Utc};

pub(crate) fn now_millis() -> i64 {
    Utc::now().timestamp_millis()
}

/// `2012-05-02T00:54:06.655Z`.
pub(crate) fn iso_millis(ms: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    #[test]
    fn formats_with_millis_and_z() {
        assert_eq!(
            super::iso_millis(1_335_920_046_655),
            "2012-05-02T00:54:06.655Z"
        );
        assert_eq!(super::iso_millis(0), "1970-01-01T00:00:00.000Z");
    }
}
