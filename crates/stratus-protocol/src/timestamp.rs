//! Timestamps travel as epoch seconds in the canonical document; each protocol
//! has its own wire format.

use chrono::{DateTime, SecondsFormat, Utc};

pub fn to_iso8601(epoch: f64) -> String {
    let dt = from_epoch(epoch);
    if epoch.fract() == 0.0 {
        dt.to_rfc3339_opts(SecondsFormat::Secs, true)
    } else {
        dt.to_rfc3339_opts(SecondsFormat::Millis, true)
    }
}

pub fn to_http_date(epoch: f64) -> String {
    from_epoch(epoch)
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string()
}

fn from_epoch(epoch: f64) -> DateTime<Utc> {
    let secs = epoch.floor() as i64;
    let nanos = ((epoch - epoch.floor()) * 1e9).round() as u32;
    DateTime::from_timestamp(secs, nanos.min(999_999_999)).unwrap_or_default()
}

/// Parse any of the formats AWS clients send: epoch seconds, ISO 8601, HTTP date.
pub fn parse(text: &str) -> Option<f64> {
    let t = text.trim();
    if let Ok(n) = t.parse::<f64>() {
        return Some(n);
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Some(dt.timestamp_millis() as f64 / 1000.0);
    }
    if let Ok(dt) = DateTime::parse_from_rfc2822(t) {
        return Some(dt.timestamp_millis() as f64 / 1000.0);
    }
    // ISO 8601 without a zone designator, as some clients send.
    chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%dT%H:%M:%S%.f")
        .ok()
        .map(|n| n.and_utc().timestamp_millis() as f64 / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_round_trip() {
        assert_eq!(to_iso8601(0.0), "1970-01-01T00:00:00Z");
        assert_eq!(to_iso8601(1.5), "1970-01-01T00:00:01.500Z");
        assert_eq!(to_http_date(0.0), "Thu, 01 Jan 1970 00:00:00 GMT");
        assert_eq!(parse("1970-01-01T00:00:01.500Z"), Some(1.5));
        assert_eq!(parse("Thu, 01 Jan 1970 00:00:10 GMT"), Some(10.0));
        assert_eq!(parse("42"), Some(42.0));
    }
}
