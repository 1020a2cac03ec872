//! Name, ARN and parameter rules. The HTTP front already checks lengths,
//! ranges and enums from the model; patterns are checked here, and everything
//! again for in-process callers (Lambda, EventBridge), which bypass the front.

use stratus_core::{AwsError, RequestContext};

use crate::errors::{constraint, invalid_parameter};

pub(crate) const GROUP_NAME_PATTERN: &str = r"[\.\-_/#A-Za-z0-9]+";
pub(crate) const STREAM_NAME_PATTERN: &str = "[^:*]*";

/// The retention periods PutRetentionPolicy accepts.
pub(crate) const RETENTION_DAYS: [i32; 22] = [
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
    3288, 3653,
];

pub(crate) const GROUP_CLASSES: [&str; 4] =
    ["STANDARD", "INFREQUENT_ACCESS", "DELIVERY", "ESSENTIALS"];

fn length(member: &str, value: &str, min: usize, max: usize) -> Result<(), AwsError> {
    let n = value.chars().count();
    if n < min || n > max {
        return Err(constraint(
            member,
            value,
            &format!("Member must have length between {min} and {max}, inclusive"),
        ));
    }
    Ok(())
}

pub(crate) fn check_group_name(member: &str, name: &str) -> Result<(), AwsError> {
    length(member, name, 1, 512)?;
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/' | '#'))
    {
        return Err(constraint(
            member,
            name,
            &format!("Member must satisfy regular expression pattern: {GROUP_NAME_PATTERN}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_stream_name(member: &str, name: &str) -> Result<(), AwsError> {
    length(member, name, 1, 512)?;
    if name.contains(':') || name.contains('*') {
        return Err(constraint(
            member,
            name,
            &format!("Member must satisfy regular expression pattern: {STREAM_NAME_PATTERN}"),
        ));
    }
    Ok(())
}

pub(crate) fn check_filter_name(name: &str) -> Result<(), AwsError> {
    length("filterName", name, 1, 512)?;
    if name.contains(':') || name.contains('*') {
        return Err(constraint(
            "filterName",
            name,
            "Member must satisfy regular expression pattern: [^:*]*",
        ));
    }
    Ok(())
}

pub(crate) fn check_limit(member: &str, limit: Option<i32>, max: i32) -> Result<usize, AwsError> {
    match limit {
        None => Ok(max as usize),
        Some(n) if (1..=max).contains(&n) => Ok(n as usize),
        Some(n) if n < 1 => Err(constraint(
            member,
            n,
            "Member must have value greater than or equal to 1",
        )),
        Some(n) => Err(constraint(
            member,
            n,
            &format!("Member must have value less than or equal to {max}"),
        )),
    }
}

pub(crate) fn check_tags(
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), AwsError> {
    for (k, v) in tags {
        if k.is_empty() || k.chars().count() > 128 {
            return Err(constraint(
                "tags",
                k,
                "Member must have length between 1 and 128, inclusive",
            ));
        }
        if v.chars().count() > 256 {
            return Err(constraint(
                "tags",
                v,
                "Member must have length less than or equal to 256",
            ));
        }
        if k.to_ascii_lowercase().starts_with("aws:") {
            return Err(invalid_parameter(format!(
                "Tag keys beginning with 'aws:' are reserved: {k}"
            )));
        }
    }
    Ok(())
}

/// `arn:aws:logs:{region}:{account}:log-group:{name}` (with `:*` for `arn`).
pub(crate) fn group_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{name}")
}

pub(crate) fn stream_arn(region: &str, account: &str, group: &str, stream: &str) -> String {
    format!("arn:aws:logs:{region}:{account}:log-group:{group}:log-stream:{stream}")
}

/// The log group a `logGroupIdentifier` or `resourceArn` names: a plain name,
/// or a log-group ARN with or without the trailing `:*`. ARNs of another
/// account or region name nothing here (state is isolated per account and
/// region), which the caller reports as not found.
pub(crate) enum GroupRef {
    Name(String),
    Elsewhere,
}

pub(crate) fn parse_group_identifier(ctx: &RequestContext, id: &str) -> Result<GroupRef, AwsError> {
    let Some(rest) = id.strip_prefix("arn:") else {
        return Ok(GroupRef::Name(id.to_string()));
    };
    let parts: Vec<&str> = rest.splitn(6, ':').collect();
    let [_partition, service, region, account, resource, tail] = parts.as_slice() else {
        return Err(invalid_parameter(format!("Invalid ARN: {id}")));
    };
    if *service != "logs" || *resource != "log-group" {
        return Err(invalid_parameter(format!("Invalid log group ARN: {id}")));
    }
    let name = tail.strip_suffix(":*").unwrap_or(tail);
    if name.contains(':') || name.is_empty() {
        return Err(invalid_parameter(format!("Invalid log group ARN: {id}")));
    }
    if *region != ctx.region || *account != ctx.account_id {
        return Ok(GroupRef::Elsewhere);
    }
    Ok(GroupRef::Name(name.to_string()))
}

/// Resolves the `logGroupName` / `logGroupIdentifier` pair of the read APIs.
pub(crate) fn resolve_group_param(
    ctx: &RequestContext,
    name: Option<&str>,
    identifier: Option<&str>,
) -> Result<GroupRef, AwsError> {
    match (name, identifier) {
        (Some(_), Some(_)) => Err(invalid_parameter(
            "LogGroup name and LogGroup ARN are mutually exclusive parameters.",
        )),
        (Some(n), None) => {
            check_group_name("logGroupName", n)?;
            Ok(GroupRef::Name(n.to_string()))
        }
        (None, Some(id)) => parse_group_identifier(ctx, id),
        (None, None) => Err(invalid_parameter(
            "Should provide either logGroupName or logGroupIdentifier.",
        )),
    }
}
