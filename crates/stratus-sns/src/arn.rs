//! ARNs SNS reads and makes: topics, subscriptions, SQS queues, Lambda
//! functions and mobile-push resources.

/// The parts of `arn:partition:service:region:account:resource`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub(crate) fn parse(arn: &str) -> Option<Arn<'_>> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let partition = parts.next()?;
    let service = parts.next()?;
    let region = parts.next()?;
    let account = parts.next()?;
    let resource = parts.next()?;
    if partition.is_empty() || service.is_empty() || resource.is_empty() {
        return None;
    }
    Some(Arn {
        service,
        region,
        account,
        resource,
    })
}

/// A topic ARN: `(region, account, name)`.
pub(crate) fn parse_topic(arn: &str) -> Option<(&str, &str, &str)> {
    let a = parse(arn)?;
    if a.service != "sns" || a.region.is_empty() || !is_account(a.account) {
        return None;
    }
    if a.resource.contains(':') || a.resource.contains('/') || !valid_topic_name(a.resource) {
        return None;
    }
    Some((a.region, a.account, a.resource))
}

/// A subscription ARN: `(topic ARN, id)` (`<topic arn>:<uuid>`).
pub(crate) fn parse_subscription(arn: &str) -> Option<(&str, &str)> {
    let (topic, id) = arn.rsplit_once(':')?;
    parse_topic(topic)?;
    if id.is_empty() {
        return None;
    }
    Some((topic, id))
}

/// An SQS queue ARN: `(region, account, name)`.
pub(crate) fn parse_queue(arn: &str) -> Option<(&str, &str, &str)> {
    let a = parse(arn)?;
    if a.service != "sqs" || a.region.is_empty() || !is_account(a.account) {
        return None;
    }
    let name = a.resource;
    let valid = !name.is_empty()
        && name.len() <= 80
        && name
            .strip_suffix(".fifo")
            .unwrap_or(name)
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    valid.then_some((a.region, a.account, name))
}

/// A Lambda function ARN (optionally qualified): `(region, account)`.
pub(crate) fn parse_function(arn: &str) -> Option<(&str, &str)> {
    let a = parse(arn)?;
    if a.service != "lambda" || a.region.is_empty() || !is_account(a.account) {
        return None;
    }
    let rest = a.resource.strip_prefix("function:")?;
    let name = rest.split(':').next().unwrap_or("");
    (!name.is_empty()).then_some((a.region, a.account))
}

pub(crate) fn is_account(s: &str) -> bool {
    s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Topic names: 1–256 of `[A-Za-z0-9_-]`, plus `.fifo` for FIFO topics.
pub(crate) fn valid_topic_name(name: &str) -> bool {
    let base = name.strip_suffix(".fifo").unwrap_or(name);
    !base.is_empty()
        && name.len() <= 256
        && base
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

pub(crate) fn topic_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:sns:{region}:{account}:{name}")
}

pub(crate) fn queue_url(endpoint: &str, account: &str, name: &str) -> String {
    format!("{}/{account}/{name}", endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_subscriptions() {
        assert_eq!(
            parse_topic("arn:aws:sns:us-east-1:123456789012:my-topic"),
            Some(("us-east-1", "123456789012", "my-topic"))
        );
        assert_eq!(
            parse_topic("arn:aws:sns:us-east-1:123456789012:t.fifo"),
            Some(("us-east-1", "123456789012", "t.fifo"))
        );
        assert_eq!(parse_topic("arn:aws:sns:us-east-1:123:t"), None);
        assert_eq!(parse_topic("arn:aws:sqs:us-east-1:123456789012:t"), None);
        assert_eq!(parse_topic("not-an-arn"), None);
        assert_eq!(
            parse_subscription("arn:aws:sns:us-east-1:123456789012:t:abc"),
            Some(("arn:aws:sns:us-east-1:123456789012:t", "abc"))
        );
        assert_eq!(
            parse_subscription("arn:aws:sns:us-east-1:123456789012:t"),
            None
        );
    }

    #[test]
    fn endpoints() {
        assert_eq!(
            parse_queue("arn:aws:sqs:eu-west-1:123456789012:q.fifo"),
            Some(("eu-west-1", "123456789012", "q.fifo"))
        );
        assert_eq!(parse_queue("arn:aws:sqs:eu-west-1:123456789012:a/b"), None);
        assert_eq!(
            parse_function("arn:aws:lambda:us-east-1:123456789012:function:f:prod"),
            Some(("us-east-1", "123456789012"))
        );
        assert_eq!(
            parse_function("arn:aws:lambda:us-east-1:123456789012:layer:f"),
            None
        );
        assert!(valid_topic_name("a_b-C9"));
        assert!(!valid_topic_name(".fifo"));
        assert!(!valid_topic_name("a.b"));
        assert!(!valid_topic_name(&"x".repeat(257)));
    }
}
