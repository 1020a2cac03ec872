//! Function names, ARNs and qualifiers as the API accepts and returns them.

use stratus_core::{AwsError, RequestContext};

use crate::errors::{invalid_param, not_found};

/// A function reference resolved against the caller's account and region.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FunctionRef {
    pub account: String,
    pub region: String,
    pub name: String,
    pub qualifier: Option<String>,
}

impl FunctionRef {
    pub fn key(&self) -> String {
        function_key(&self.account, &self.region, &self.name)
    }
    pub fn arn(&self) -> String {
        function_arn(&self.region, &self.account, &self.name)
    }
}

pub(crate) fn function_key(account: &str, region: &str, name: &str) -> String {
    format!("{account}/{region}/{name}")
}

pub(crate) fn function_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}")
}

pub(crate) fn qualified_arn(region: &str, account: &str, name: &str, qualifier: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:function:{name}:{qualifier}")
}

pub(crate) fn layer_arn(region: &str, account: &str, name: &str) -> String {
    format!("arn:aws:lambda:{region}:{account}:layer:{name}")
}

/// Parse `name`, `name:qualifier`, `account:function:name[:q]` or a full ARN.
/// `explicit` is the separate `Qualifier` parameter; both given and different
/// is an error, as on AWS.
pub(crate) fn parse_function(
    ctx: &RequestContext,
    input: &str,
    explicit: Option<&str>,
) -> Result<FunctionRef, AwsError> {
    let mut account = ctx.account_id.clone();
    let mut region = ctx.region.clone();
    let parts: Vec<&str> = input.split(':').collect();
    let (name, qualifier) = if input.starts_with("arn:") {
        // arn:aws:lambda:region:account:function:name[:qualifier]
        if parts.len() < 7 || parts[2] != "lambda" || parts[5] != "function" {
            return Err(invalid_param(format!("Invalid function ARN: {input}")));
        }
        region = parts[3].to_string();
        account = parts[4].to_string();
        (parts[6].to_string(), parts.get(7).map(|s| s.to_string()))
    } else if parts.len() >= 3 && parts[1] == "function" {
        account = parts[0].to_string();
        (parts[2].to_string(), parts.get(3).map(|s| s.to_string()))
    } else {
        (parts[0].to_string(), parts.get(1).map(|s| s.to_string()))
    };
    if region != ctx.region || account != ctx.account_id {
        // Cross-account/region references address another partition of state;
        // Stratus keeps state per caller account and region, so such a function
        // simply is not found from here.
        return Err(not_found(format!(
            "Function not found: {}",
            function_arn(&region, &account, &name)
        )));
    }
    let qualifier = match (qualifier, explicit.filter(|q| !q.is_empty())) {
        (Some(a), Some(b)) if a != b => {
            return Err(invalid_param(
                "The derived qualifier from the function name does not match the specified qualifier.",
            ));
        }
        (Some(a), _) => Some(a),
        (None, b) => b.map(str::to_string),
    };
    Ok(FunctionRef {
        account,
        region,
        name,
        qualifier,
    })
}

/// Whether a qualifier names a published version (digits only).
pub(crate) fn is_version_number(q: &str) -> bool {
    !q.is_empty() && q.bytes().all(|b| b.is_ascii_digit())
}

/// Parse a layer name or ARN into its name; layers of other accounts are
/// addressed by ARN only.
pub(crate) fn layer_name(ctx: &RequestContext, input: &str) -> (String, String, String) {
    if input.starts_with("arn:") {
        let parts: Vec<&str> = input.split(':').collect();
        if parts.len() >= 7 {
            return (
                parts[4].to_string(),
                parts[3].to_string(),
                parts[6].to_string(),
            );
        }
    }
    (
        ctx.account_id.clone(),
        ctx.region.clone(),
        input.to_string(),
    )
}

/// `arn:aws:lambda:region:account:layer:name:version` → parts.
pub(crate) fn parse_layer_version_arn(arn: &str) -> Option<(String, String, String, u64)> {
    let parts: Vec<&str> = arn.split(':').collect();
    if parts.len() != 8 || parts[0] != "arn" || parts[2] != "lambda" || parts[5] != "layer" {
        return None;
    }
    let version = parts[7].parse().ok()?;
    Some((
        parts[4].to_string(),
        parts[3].to_string(),
        parts[6].to_string(),
        version,
    ))
}

/// `YYYY-MM-DDThh:mm:ss.sss+0000`, the format of `LastModified`.
pub(crate) fn now_last_modified() -> String {
    chrono::Utc::now()
        .format("%Y-%m-%dT%H:%M:%S%.3f+0000")
        .to_string()
}

pub(crate) fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}
