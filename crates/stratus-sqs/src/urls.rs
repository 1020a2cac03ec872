//! Queue URLs and ARNs.

/// `(account, name)` from a queue URL in path form
/// (`http://localhost:4566/000000000000/q`) or host form
/// (`https://sqs.us-east-1.amazonaws.com/000000000000/q`): the last two path
/// segments. A bare queue name yields `(None, name)`.
pub(crate) fn parse_queue_url(url: &str) -> Option<(Option<&str>, &str)> {
    let path = match url.find("://") {
        Some(i) => {
            let rest = &url[i + 3..];
            match rest.find('/') {
                Some(j) => &rest[j..],
                None => return None,
            }
        }
        None => url,
    };
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.trim_end_matches('/');
    let mut segs = path.rsplit('/').filter(|s| !s.is_empty());
    let name = segs.next()?;
    let account = segs.next();
    if url.contains("://") && account.is_none() {
        return None;
    }
    Some((account, name))
}

/// `(region, account, name)` from `arn:aws:sqs:region:account:name`.
pub(crate) fn parse_queue_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    if parts.next()? != "sqs" {
        return None;
    }
    let region = parts.next()?;
    let account = parts.next()?;
    let name = parts.next()?;
    if region.is_empty() || account.is_empty() || name.is_empty() {
        return None;
    }
    Some((region, account, name))
}

pub(crate) fn queue_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sqs:{region}:{account}:{name}")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn url_forms() {
        assert_eq!(
            parse_queue_url("http://localhost:4566/000000000000/q"),
            Some((Some("000000000000"), "q"))
        );
        assert_eq!(
            parse_queue_url("https://sqs.us-east-1.localhost:4566/123456789012/q.fifo/"),
            Some((Some("123456789012"), "q.fifo"))
        );
        assert_eq!(parse_queue_url("q"), Some((None, "q")));
        assert_eq!(parse_queue_url("http://localhost:4566"), None);
        assert_eq!(parse_queue_url("http://localhost:4566/q"), None);
    }

    #[test]
    fn arns() {
        assert_eq!(
            parse_queue_arn("arn:aws:sqs:us-east-1:000000000000:dlq"),
            Some(("us-east-1", "000000000000", "dlq"))
        );
        assert_eq!(parse_queue_arn("arn:aws:sns:us-east-1:0:x"), None);
    }
}
