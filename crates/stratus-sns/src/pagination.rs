//! `NextToken`s: the last key of the previous page, opaque to clients.

use base64::Engine;
use stratus_core::AwsError;

use crate::errors::invalid;

/// Items per page of ListTopics, ListSubscriptions and friends.
pub(crate) const PAGE: usize = 100;

pub(crate) fn encode(last_key: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(last_key.as_bytes())
}

pub(crate) fn decode(token: Option<&str>) -> Result<Option<String>, AwsError> {
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| invalid("NextToken"))
}

/// One page of `sorted` (ascending by key) after `after`: the items and the
/// next token.
pub(crate) fn page<T>(
    sorted: Vec<(String, T)>,
    after: Option<&str>,
    size: usize,
) -> (Vec<T>, Option<String>) {
    let start = match after {
        Some(a) => sorted.partition_point(|(k, _)| k.as_str() <= a),
        None => 0,
    };
    let mut rest = sorted.into_iter().skip(start);
    let items: Vec<(String, T)> = rest.by_ref().take(size).collect();
    let more = rest.next().is_some();
    let next = if more {
        items.last().map(|(k, _)| encode(k))
    } else {
        None
    };
    (items.into_iter().map(|(_, v)| v).collect(), next)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn pages() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("k{i}"), i)).collect();
        let (p1, t1) = page(items.clone(), None, 2);
        assert_eq!(p1, [0, 1]);
        let after = decode(t1.as_deref()).unwrap();
        let (p2, t2) = page(items.clone(), after.as_deref(), 2);
        assert_eq!(p2, [2, 3]);
        let (p3, t3) = page(items, decode(t2.as_deref()).unwrap().as_deref(), 2);
        assert_eq!(p3, [4]);
        assert!(t3.is_none());
        assert!(decode(Some("!!!")).is_err());
    }
}
