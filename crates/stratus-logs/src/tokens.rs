//! Opaque tokens: event ids, GetLogEvents' forward/backward tokens, the
//! deprecated sequence tokens and the pagination tokens of the list APIs.
//!
//! Event ids and stream positions are 56 digits, like AWS's: the timestamp
//! (20 digits) then the event's sequence number (36 digits), so they sort
//! like the events.

use base64::Engine;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::URL_SAFE_NO_PAD;

pub(crate) fn position(key: (i64, u64)) -> String {
    format!("{:020}{:036}", key.0.max(0), key.1)
}

fn parse_position(s: &str) -> Option<(i64, u64)> {
    if s.len() != 56 || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let ts = s[..20].parse::<i64>().ok()?;
    let seq = s[20..].parse::<u64>().ok()?;
    Some((ts, seq))
}

pub(crate) fn event_id(key: (i64, u64)) -> String {
    position(key)
}

/// A GetLogEvents token: forward tokens continue after the key, backward
/// tokens before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PageToken {
    Forward((i64, u64)),
    Backward((i64, u64)),
}

impl PageToken {
    pub(crate) fn encode(self) -> String {
        match self {
            PageToken::Forward(k) => format!("f/{}/s", position(k)),
            PageToken::Backward(k) => format!("b/{}/s", position(k)),
        }
    }

    pub(crate) fn parse(s: &str) -> Option<PageToken> {
        let (dir, rest) = s.split_at_checked(2)?;
        let digits = rest.strip_suffix("/s").unwrap_or(rest);
        let k = parse_position(digits)?;
        match dir {
            "f/" => Some(PageToken::Forward(k)),
            "b/" => Some(PageToken::Backward(k)),
            _ => None,
        }
    }
}

/// The deprecated `nextSequenceToken` / `uploadSequenceToken`.
pub(crate) fn sequence_token(seq: u64) -> String {
    format!("{seq:056}")
}

/// FilterLogEvents' token: the key of the last event returned.
pub(crate) fn filter_token(key: (i64, u64)) -> String {
    B64.encode(format!("filter/{}", position(key)))
}

pub(crate) fn parse_filter_token(s: &str) -> Option<(i64, u64)> {
    let raw = String::from_utf8(B64.decode(s).ok()?).ok()?;
    parse_position(raw.strip_prefix("filter/")?)
}

/// List pagination: the sort key of the last item returned.
pub(crate) fn list_token(kind: &str, last: &str) -> String {
    B64.encode(format!("{kind}/{last}"))
}

pub(crate) fn parse_list_token(kind: &str, s: &str) -> Option<String> {
    let raw = String::from_utf8(B64.decode(s).ok()?).ok()?;
    raw.strip_prefix(kind)?
        .strip_prefix('/')
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_round_trip() {
        let k = (1_700_000_000_123, 42);
        assert_eq!(
            PageToken::parse(&PageToken::Forward(k).encode()),
            Some(PageToken::Forward(k))
        );
        assert_eq!(
            PageToken::parse(&PageToken::Backward(k).encode()),
            Some(PageToken::Backward(k))
        );
        assert_eq!(event_id(k).len(), 56);
        assert!(event_id((1, 2)) < event_id((2, 1)));
        assert_eq!(parse_filter_token(&filter_token(k)), Some(k));
        assert_eq!(
            parse_list_token("g", &list_token("g", "/aws/x")),
            Some("/aws/x".to_string())
        );
        assert_eq!(parse_list_token("s", &list_token("g", "x")), None);
        assert_eq!(PageToken::parse("f/123"), None);
        assert_eq!(PageToken::parse("x"), None);
        assert_eq!(sequence_token(7).len(), 56);
    }
}
