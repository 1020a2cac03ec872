//! Topic access policies: the default AWS writes, AddPermission and
//! RemovePermission statements, and the check made when another account calls.
//!
//! The topic owner may always act on its topic (IAM identity policies are not
//! modelled). Another account is allowed an action when an `Allow` statement
//! names it (or `*`) as principal, covers the action (`SNS:Publish`, `SNS:*`,
//! `*`, case-insensitive) and the topic (`*`, the ARN, or a `*`/`?` pattern),
//! and its conditions hold; a matching `Deny` wins. Conditions understood:
//! `StringEquals`/`StringLike`/`ArnEquals`/`ArnLike` on `aws:SourceOwner`,
//! `aws:SourceAccount` and `aws:PrincipalAccount` (the caller's account); a
//! statement with any other condition does not apply.

use serde_json::{Value, json};

/// Actions AddPermission accepts, with the spelling the policy stores.
const ACTIONS: &[&str] = &[
    "AddPermission",
    "ConfirmSubscription",
    "CreateTopic",
    "DeleteTopic",
    "GetDataProtectionPolicy",
    "GetSubscriptionAttributes",
    "GetTopicAttributes",
    "ListSubscriptions",
    "ListSubscriptionsByTopic",
    "ListTagsForResource",
    "ListTopics",
    "Publish",
    "PutDataProtectionPolicy",
    "Receive",
    "RemovePermission",
    "SetSubscriptionAttributes",
    "SetTopicAttributes",
    "Subscribe",
    "TagResource",
    "Unsubscribe",
    "UntagResource",
];

/// The policy AWS gives a new topic: the owner's account may do everything.
pub(crate) fn default_policy(topic_arn: &str, owner: &str) -> String {
    json!({
        "Version": "2008-10-17",
        "Id": "__default_policy_ID",
        "Statement": [{
            "Sid": "__default_statement_ID",
            "Effect": "Allow",
            "Principal": {"AWS": "*"},
            "Action": [
                "SNS:GetTopicAttributes",
                "SNS:SetTopicAttributes",
                "SNS:AddPermission",
                "SNS:RemovePermission",
                "SNS:DeleteTopic",
                "SNS:Subscribe",
                "SNS:ListSubscriptionsByTopic",
                "SNS:Publish"
            ],
            "Resource": topic_arn,
            "Condition": {"StringEquals": {"AWS:SourceOwner": owner}}
        }]
    })
    .to_string()
}

/// Check a `Policy` attribute value (error: the reason).
pub(crate) fn validate(text: &str) -> Result<(), String> {
    let v: Value = serde_json::from_str(text).map_err(|_| "Invalid policy JSON".to_string())?;
    let obj = v.as_object().ok_or("Policy must be a JSON object")?;
    let statements = match obj.get("Statement") {
        Some(Value::Array(s)) => s.clone(),
        Some(s @ Value::Object(_)) => vec![s.clone()],
        _ => return Err("Policy is missing required element: Statement".into()),
    };
    for s in &statements {
        let s = s.as_object().ok_or("Statement must be a JSON object")?;
        match s.get("Effect").and_then(Value::as_str) {
            Some("Allow" | "Deny") => {}
            _ => return Err("Statement is missing a valid Effect".into()),
        }
        if !s.contains_key("Action") && !s.contains_key("NotAction") {
            return Err("Statement is missing required element: Action".into());
        }
        if !s.contains_key("Principal") && !s.contains_key("NotPrincipal") {
            return Err("Statement is missing required element: Principal".into());
        }
    }
    Ok(())
}

/// The canonical action name for AddPermission's `ActionName`, if valid.
pub(crate) fn action_name(name: &str) -> Option<&'static str> {
    ACTIONS
        .iter()
        .copied()
        .find(|a| a.eq_ignore_ascii_case(name))
}

/// Add a statement (AddPermission). `Err` carries the `Invalid parameter` detail.
pub(crate) fn add_statement(
    policy: &str,
    topic_arn: &str,
    label: &str,
    accounts: &[String],
    actions: &[&str],
) -> Result<String, String> {
    let mut v: Value = serde_json::from_str(policy).unwrap_or_else(|_| json!({}));
    let obj = v.as_object_mut().ok_or("Policy")?;
    let statements = obj
        .entry("Statement")
        .or_insert_with(|| Value::Array(Vec::new()));
    if let Value::Object(_) = statements {
        *statements = Value::Array(vec![statements.take()]);
    }
    let Value::Array(list) = statements else {
        return Err("Policy".into());
    };
    if list
        .iter()
        .any(|s| s.get("Sid").and_then(Value::as_str) == Some(label))
    {
        return Err("Statement already exists".into());
    }
    let principals: Vec<Value> = accounts
        .iter()
        .map(|a| {
            if a == "*" || a.starts_with("arn:") {
                Value::String(a.clone())
            } else {
                Value::String(format!("arn:aws:iam::{a}:root"))
            }
        })
        .collect();
    let actions: Vec<Value> = actions
        .iter()
        .map(|a| Value::String(format!("SNS:{a}")))
        .collect();
    let one_or_many = |mut v: Vec<Value>| {
        if v.len() == 1 {
            v.remove(0)
        } else {
            Value::Array(v)
        }
    };
    list.push(json!({
        "Sid": label,
        "Effect": "Allow",
        "Principal": {"AWS": one_or_many(principals)},
        "Action": one_or_many(actions),
        "Resource": topic_arn,
    }));
    Ok(v.to_string())
}

/// Remove the statement with `label` (RemovePermission); `None` if absent.
pub(crate) fn remove_statement(policy: &str, label: &str) -> Option<String> {
    let mut v: Value = serde_json::from_str(policy).ok()?;
    let list = v.get_mut("Statement")?.as_array_mut()?;
    let before = list.len();
    list.retain(|s| s.get("Sid").and_then(Value::as_str) != Some(label));
    (list.len() != before).then(|| v.to_string())
}

/// May `caller` (another account) perform `action` on `topic_arn`?
pub(crate) fn allows(policy: &str, caller: &str, action: &str, topic_arn: &str) -> bool {
    let Ok(v) = serde_json::from_str::<Value>(policy) else {
        return false;
    };
    let statements: Vec<&Value> = match v.get("Statement") {
        Some(Value::Array(s)) => s.iter().collect(),
        Some(s @ Value::Object(_)) => vec![s],
        _ => return false,
    };
    let mut allowed = false;
    for s in statements {
        if !applies(s, caller, action, topic_arn) {
            continue;
        }
        match s.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return false,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    allowed
}

fn applies(s: &Value, caller: &str, action: &str, topic_arn: &str) -> bool {
    let principal_ok = match s.get("Principal") {
        Some(Value::String(p)) => p == "*",
        Some(Value::Object(p)) => p.get("AWS").is_some_and(|aws| {
            strings(aws).iter().any(|p| {
                *p == "*"
                    || *p == caller
                    || *p == format!("arn:aws:iam::{caller}:root")
                    || p.starts_with(&format!("arn:aws:iam::{caller}:"))
            })
        }),
        _ => false,
    };
    let wanted = format!("sns:{action}");
    let action_ok = s.get("Action").is_some_and(|a| {
        strings(a).iter().any(|a| {
            *a == "*" || a.eq_ignore_ascii_case("sns:*") || a.eq_ignore_ascii_case(&wanted)
        })
    });
    let resource_ok = match s.get("Resource") {
        None => true,
        Some(r) => strings(r).iter().any(|r| glob(r, topic_arn)),
    };
    principal_ok && action_ok && resource_ok && conditions_hold(s.get("Condition"), caller)
}

fn conditions_hold(cond: Option<&Value>, caller: &str) -> bool {
    let Some(cond) = cond else {
        return true;
    };
    let Some(ops) = cond.as_object() else {
        return false;
    };
    ops.iter().all(|(op, keys)| {
        let Some(keys) = keys.as_object() else {
            return false;
        };
        keys.iter().all(|(key, values)| {
            let about_caller = [
                "aws:sourceowner",
                "aws:sourceaccount",
                "aws:principalaccount",
            ]
            .contains(&key.to_ascii_lowercase().as_str());
            if !about_caller {
                return false;
            }
            let values = strings(values);
            match op.as_str() {
                "StringEquals" | "ArnEquals" => values.contains(&caller),
                "StringLike" | "ArnLike" => values.iter().any(|v| glob(v, caller)),
                _ => false,
            }
        })
    })
}

fn strings(v: &Value) -> Vec<&str> {
    match v {
        Value::String(s) => vec![s.as_str()],
        Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// IAM-style wildcard match (`*` any run, `?` one character).
fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let (mut star, mut mark) = (None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            pi += 1;
            mark = ti;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const ARN: &str = "arn:aws:sns:us-east-1:111111111111:t";

    #[test]
    fn default_policy_grants_only_the_owner() {
        let p = default_policy(ARN, "111111111111");
        assert!(validate(&p).is_ok());
        assert!(allows(&p, "111111111111", "Publish", ARN));
        assert!(!allows(&p, "222222222222", "Publish", ARN));
    }

    #[test]
    fn add_and_remove_permission() {
        let p = default_policy(ARN, "111111111111");
        let p = add_statement(&p, ARN, "grant", &["222222222222".into()], &["Publish"]).unwrap();
        assert!(allows(&p, "222222222222", "Publish", ARN));
        assert!(!allows(&p, "222222222222", "Subscribe", ARN));
        assert_eq!(
            add_statement(&p, ARN, "grant", &["3".into()], &["Publish"]).unwrap_err(),
            "Statement already exists"
        );
        let v: Value = serde_json::from_str(&p).unwrap();
        assert_eq!(
            v["Statement"][1]["Principal"]["AWS"],
            "arn:aws:iam::222222222222:root"
        );
        assert_eq!(v["Statement"][1]["Action"], "SNS:Publish");
        let p = remove_statement(&p, "grant").unwrap();
        assert!(!allows(&p, "222222222222", "Publish", ARN));
        assert!(remove_statement(&p, "grant").is_none());
        assert_eq!(action_name("publish"), Some("Publish"));
        assert_eq!(action_name("Frobnicate"), None);
    }

    #[test]
    fn wildcards_and_denies() {
        let p = r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"sns:*","Resource":"arn:aws:sns:*:111111111111:*"},
                   {"Effect":"Deny","Principal":{"AWS":"333333333333"},"Action":"SNS:Publish","Resource":"*"}]}"#;
        assert!(allows(p, "222222222222", "Publish", ARN));
        assert!(!allows(p, "333333333333", "Publish", ARN));
        assert!(allows(p, "333333333333", "Subscribe", ARN));
        assert!(validate("{}").is_err());
        assert!(glob("a*c?e", "abbbcde"));
        assert!(!glob("a*c", "abd"));
    }
}
