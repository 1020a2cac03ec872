//! Small shared helpers: ARNs, clock, AWS error constructors, pagination.

use base64::Engine;
use stratus_core::{AwsError, RequestContext};

pub(crate) const DEFAULT_BUS: &str = "default";

pub(crate) fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// Epoch seconds as the canonical document carries timestamps.
pub(crate) fn secs(ms: i64) -> f64 {
    ms as f64 / 1000.0
}

/// ISO 8601 with seconds and `Z`, as event `time` fields are written.
pub(crate) fn iso_secs(ms: i64) -> String {
    // `to_rfc3339_opts` writes directly; `format(...)` re-parses its pattern on
    // every call, which showed in PutEvents profiles.
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap_or_default()
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

pub(crate) fn bus_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:events:{region}:{account}:event-bus/{name}")
}

pub(crate) fn rule_arn(region: &str, account: &str, bus: &str, name: &str) -> String {
    if bus == DEFAULT_BUS {
        format!("arn:aws:events:{region}:{account}:rule/{name}")
    } else {
        format!("arn:aws:events:{region}:{account}:rule/{bus}/{name}")
    }
}

/// `arn:aws:<service>:<region>:<account>:<resource>` split into its parts.
pub(crate) struct Arn<'a> {
    pub service: &'a str,
    pub region: &'a str,
    pub account: &'a str,
    pub resource: &'a str,
}

pub(crate) fn parse_arn(arn: &str) -> Option<Arn<'_>> {
    let mut it = arn.splitn(6, ':');
    if it.next()? != "arn" {
        return None;
    }
    let _partition = it.next()?;
    Some(Arn {
        service: it.next()?,
        region: it.next()?,
        account: it.next()?,
        resource: it.next()?,
    })
}

/// An event bus named by name or ARN, resolved to its owner and region.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct BusRef {
    pub account: String,
    pub region: String,
    pub name: String,
}

impl BusRef {
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.account, self.region, self.name)
    }
    pub fn arn(&self) -> String {
        bus_arn(&self.region, &self.account, &self.name)
    }
}

/// `EventBusName` accepts a name or an ARN (possibly of another account's bus).
pub(crate) fn resolve_bus(
    ctx: &RequestContext,
    name_or_arn: Option<&str>,
) -> Result<BusRef, AwsError> {
    let v = name_or_arn.filter(|s| !s.is_empty()).unwrap_or(DEFAULT_BUS);
    if v.starts_with("arn:") {
        let arn = parse_arn(v)
            .filter(|a| a.service == "events")
            .and_then(|a| {
                a.resource
                    .strip_prefix("event-bus/")
                    .map(|n| (a.account, a.region, n))
            });
        let Some((account, region, name)) = arn else {
            return Err(validation(format!(
                "Parameter {v} is not valid. Reason: Provided Arn is not in correct format."
            )));
        };
        return Ok(BusRef {
            account: account.to_string(),
            region: region.to_string(),
            name: name.to_string(),
        });
    }
    Ok(BusRef {
        account: ctx.account_id.clone(),
        region: ctx.region.clone(),
        name: v.to_string(),
    })
}

pub(crate) fn validation(msg: impl Into<String>) -> AwsError {
    AwsError::new("ValidationException", msg).with_status(400)
}

pub(crate) fn not_found(msg: impl Into<String>) -> AwsError {
    AwsError::new("ResourceNotFoundException", msg)
}

pub(crate) fn already_exists(msg: impl Into<String>) -> AwsError {
    AwsError::new("ResourceAlreadyExistsException", msg)
}

pub(crate) fn bus_not_found(name: &str) -> AwsError {
    not_found(format!("Event bus {name} does not exist."))
}

pub(crate) fn rule_not_found(rule: &str, bus: &str) -> AwsError {
    not_found(format!("Rule {rule} does not exist on EventBus {bus}."))
}

pub(crate) fn store_error(e: stratus_store::StoreError) -> AwsError {
    AwsError::new(
        "InternalException",
        format!("An internal error occurred: {e}"),
    )
    .with_status(500)
}

/// Pagination over a sorted list of names: the token is the last name returned,
/// opaque to clients.
pub(crate) fn page<T>(
    items: Vec<(String, T)>,
    next_token: Option<&str>,
    limit: Option<i32>,
    default_limit: usize,
) -> Result<(Vec<T>, Option<String>), AwsError> {
    let b64 = base64::engine::general_purpose::STANDARD;
    let after = match next_token.filter(|t| !t.is_empty()) {
        Some(t) => Some(
            b64.decode(t)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(|| validation("The NextToken provided is invalid."))?,
        ),
        None => None,
    };
    let limit = limit.map(|l| l.max(1) as usize).unwrap_or(default_limit);
    let mut out = Vec::new();
    let mut last = None;
    let mut more = false;
    for (name, item) in items {
        if after.as_deref().is_some_and(|a| name.as_str() <= a) {
            continue;
        }
        if out.len() == limit {
            more = true;
            break;
        }
        last = Some(name);
        out.push(item);
    }
    let token = if more {
        last.map(|n| b64.encode(n))
    } else {
        None
    };
    Ok((out, token))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn bus_names_and_arns() {
        let ctx = RequestContext::new("111111111111", "us-east-1");
        let b = resolve_bus(&ctx, None).unwrap();
        assert_eq!(b.name, "default");
        assert_eq!(b.account, "111111111111");
        let b = resolve_bus(
            &ctx,
            Some("arn:aws:events:eu-west-1:222222222222:event-bus/central"),
        )
        .unwrap();
        assert_eq!(
            (b.account.as_str(), b.region.as_str(), b.name.as_str()),
            ("222222222222", "eu-west-1", "central")
        );
        assert!(resolve_bus(&ctx, Some("arn:aws:sqs:eu-west-1:2:q")).is_err());
        assert_eq!(
            rule_arn("r", "a", "default", "x"),
            "arn:aws:events:r:a:rule/x"
        );
        assert_eq!(rule_arn("r", "a", "b", "x"), "arn:aws:events:r:a:rule/b/x");
    }

    #[test]
    fn pages() {
        let items: Vec<(String, u32)> = (0..5).map(|i| (format!("n{i}"), i)).collect();
        let (a, t) = page(items.clone(), None, Some(2), 100).unwrap();
        assert_eq!(a, vec![0, 1]);
        let (b, t) = page(items.clone(), t.as_deref(), Some(2), 100).unwrap();
        assert_eq!(b, vec![2, 3]);
        let (c, t) = page(items.clone(), t.as_deref(), Some(2), 100).unwrap();
        assert_eq!(c, vec![4]);
        assert!(t.is_none());
        assert!(page(items, Some("!!"), None, 100).is_err());
    }
}

#[cfg(test)]
mod time_tests {
    #[test]
    fn iso_secs_is_utc_seconds_with_z() {
        assert_eq!(super::iso_secs(1_714_557_600_123), "2024-05-01T10:00:00Z");
        assert_eq!(super::iso_secs(0), "1970-01-01T00:00:00Z");
    }
}
