//! Event bus resource policies: building them from PutPermission, and deciding
//! whether another account may act on a bus or its rules.
//!
//! Evaluation follows IAM's resource-policy logic for the cross-account case:
//! an explicit `Deny` wins, otherwise some `Allow` statement must match the
//! principal, action, resource and conditions. Supported condition operators:
//! `StringEquals`, `StringNotEquals`, `StringEqualsIgnoreCase`, `StringLike`,
//! `StringNotLike`, `ArnEquals`, `ArnLike`, `ArnNotEquals`, `ArnNotLike`, `Null`,
//! `Bool`, each with the `IfExists` suffix and the `ForAllValues:`/`ForAnyValue:`
//! prefixes. Policy variables `${aws:PrincipalAccount}` and
//! `${aws:SourceAccount}` are substituted. Unknown operators never match.

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// What is being asked for.
pub(crate) struct Request<'a> {
    /// The calling account.
    pub principal_account: &'a str,
    /// `events:PutEvents`, `events:PutRule`, ...
    pub action: &'a str,
    /// The bus or rule ARN.
    pub resource: &'a str,
    /// Condition keys (lower-cased) and their values; absent keys are missing.
    pub context: HashMap<&'static str, Vec<String>>,
}

#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    Allow,
    /// No statement allows it.
    ImplicitDeny,
    ExplicitDeny,
}

fn as_list(v: &Value) -> Vec<&Value> {
    match v {
        Value::Array(a) => a.iter().collect(),
        other => vec![other],
    }
}

/// IAM wildcard match: `*` any run, `?` one character; case-sensitive.
pub(crate) fn glob(pattern: &str, s: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = s.chars().collect();
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
        } else if let Some(sp) = star {
            pi = sp + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == '*' {
        pi += 1;
    }
    pi == p.len()
}

fn principal_matches(stmt: &Map<String, Value>, account: &str) -> bool {
    let Some(p) = stmt.get("Principal") else {
        return false;
    };
    let one = |v: &Value| -> bool {
        let Some(s) = v.as_str() else { return false };
        s == "*"
            || s == account
            || s == format!("arn:aws:iam::{account}:root")
            || s.starts_with(&format!("arn:aws:iam::{account}:"))
    };
    match p {
        Value::String(s) => s == "*",
        Value::Object(m) => m
            .get("AWS")
            .is_some_and(|v| as_list(v).into_iter().any(one)),
        _ => false,
    }
}

fn action_matches(stmt: &Map<String, Value>, action: &str) -> bool {
    let lower = action.to_ascii_lowercase();
    let hit = |v: &Value| {
        v.as_str()
            .is_some_and(|a| glob(&a.to_ascii_lowercase(), &lower))
    };
    match (stmt.get("Action"), stmt.get("NotAction")) {
        (Some(a), _) => as_list(a).into_iter().any(hit),
        (None, Some(na)) => !as_list(na).into_iter().any(hit),
        _ => false,
    }
}

fn resource_matches(stmt: &Map<String, Value>, resource: &str) -> bool {
    let hit = |v: &Value| v.as_str().is_some_and(|r| glob(r, resource));
    match (stmt.get("Resource"), stmt.get("NotResource")) {
        (Some(r), _) => as_list(r).into_iter().any(hit),
        (None, Some(nr)) => !as_list(nr).into_iter().any(hit),
        (None, None) => true,
    }
}

fn substitute(s: &str, req: &Request<'_>) -> String {
    s.replace("${aws:PrincipalAccount}", req.principal_account)
        .replace("${aws:SourceAccount}", req.principal_account)
}

fn context_value(req: &Request<'_>, key: &str) -> Option<Vec<String>> {
    let k = key.to_ascii_lowercase();
    match k.as_str() {
        "aws:principalaccount" => Some(vec![req.principal_account.to_string()]),
        "aws:principalarn" => Some(vec![format!("arn:aws:iam::{}:root", req.principal_account)]),
        _ => req
            .context
            .iter()
            .find(|(ck, _)| ck.eq_ignore_ascii_case(&k))
            .map(|(_, v)| v.clone()),
    }
}

fn compare(op: &str, expected: &str, actual: &str) -> Option<bool> {
    Some(match op {
        "stringequals" | "arnequals" => expected == actual,
        "stringnotequals" | "arnnotequals" => expected != actual,
        "stringequalsignorecase" => expected.eq_ignore_ascii_case(actual),
        "stringnotequalsignorecase" => !expected.eq_ignore_ascii_case(actual),
        "stringlike" | "arnlike" => glob(expected, actual),
        "stringnotlike" | "arnnotlike" => !glob(expected, actual),
        "bool" => expected.eq_ignore_ascii_case(actual),
        _ => return None,
    })
}

fn negated(op: &str) -> bool {
    op.contains("not")
}

fn condition_matches(cond: &Value, req: &Request<'_>) -> bool {
    let Some(ops) = cond.as_object() else {
        return false;
    };
    for (op_name, entries) in ops {
        let mut op = op_name.to_ascii_lowercase();
        let (for_all, for_any) = if let Some(r) = op.strip_prefix("forallvalues:") {
            let r = r.to_string();
            op = r;
            (true, false)
        } else if let Some(r) = op.strip_prefix("foranyvalue:") {
            let r = r.to_string();
            op = r;
            (false, true)
        } else {
            (false, false)
        };
        let if_exists = op.ends_with("ifexists");
        if if_exists {
            op.truncate(op.len() - "ifexists".len());
        }
        let Some(entries) = entries.as_object() else {
            return false;
        };
        for (key, expected) in entries {
            let expected: Vec<String> = as_list(expected)
                .into_iter()
                .map(|v| match v {
                    Value::String(s) => substitute(s, req),
                    other => other.to_string(),
                })
                .collect();
            let actual = context_value(req, key);
            if op == "null" {
                let want_null = expected.iter().any(|e| e.eq_ignore_ascii_case("true"));
                if actual.is_none() != want_null {
                    return false;
                }
                continue;
            }
            let Some(actual) = actual.filter(|a| !a.is_empty()) else {
                if if_exists || for_all {
                    continue;
                }
                return false;
            };
            let value_ok = |a: &str| -> Option<bool> {
                if negated(&op) {
                    // Negated operators: no expected value may match positively.
                    let mut all = true;
                    for e in &expected {
                        all &= compare(&op, e, a)?;
                    }
                    Some(all)
                } else {
                    let mut any = false;
                    for e in &expected {
                        any |= compare(&op, e, a)?;
                    }
                    Some(any)
                }
            };
            let ok = if for_any {
                actual.iter().any(|a| value_ok(a) == Some(true))
            } else {
                // Single-valued keys and ForAllValues: every value must pass.
                actual.iter().all(|a| value_ok(a) == Some(true))
            };
            if !ok {
                return false;
            }
        }
    }
    true
}

/// Evaluate `policy` (a JSON policy document) for `req`.
pub(crate) fn evaluate(policy: Option<&Value>, req: &Request<'_>) -> Decision {
    let Some(stmts) = policy.and_then(|p| p.get("Statement")) else {
        return Decision::ImplicitDeny;
    };
    let mut allowed = false;
    for s in as_list(stmts) {
        let Some(stmt) = s.as_object() else { continue };
        if !principal_matches(stmt, req.principal_account)
            || !action_matches(stmt, req.action)
            || !resource_matches(stmt, req.resource)
        {
            continue;
        }
        if let Some(c) = stmt.get("Condition")
            && !condition_matches(c, req)
        {
            continue;
        }
        match stmt.get("Effect").and_then(Value::as_str) {
            Some("Deny") => return Decision::ExplicitDeny,
            Some("Allow") => allowed = true,
            _ => {}
        }
    }
    if allowed {
        Decision::Allow
    } else {
        Decision::ImplicitDeny
    }
}

/// AWS's wording for a refused cross-account call.
pub(crate) fn denied_message(req: &Request<'_>, d: &Decision) -> String {
    let why = match d {
        Decision::ExplicitDeny => "with an explicit deny in a resource-based policy".to_string(),
        _ => format!(
            "because no resource-based policy allows the {} action",
            req.action
        ),
    };
    format!(
        "User: arn:aws:iam::{}:root is not authorized to perform: {} on resource: {} {why}",
        req.principal_account, req.action, req.resource
    )
}

/// The statement PutPermission adds for its Principal/Action/Condition form.
pub(crate) fn statement(
    sid: &str,
    principal: &str,
    action: &str,
    bus_arn: &str,
    condition: Option<(&str, &str, &str)>,
) -> Value {
    let principal = if principal == "*" {
        json!("*")
    } else {
        json!({"AWS": format!("arn:aws:iam::{principal}:root")})
    };
    let mut s = json!({
        "Sid": sid,
        "Effect": "Allow",
        "Principal": principal,
        "Action": action,
        "Resource": bus_arn,
    });
    if let Some((ty, key, value)) = condition
        && let Value::Object(m) = &mut s
    {
        m.insert("Condition".into(), json!({ ty: { key: value } }));
    }
    s
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn req<'a>(
        acct: &'a str,
        action: &'a str,
        resource: &'a str,
        ctx: &[(&'static str, &str)],
    ) -> Request<'a> {
        let mut context: HashMap<&'static str, Vec<String>> = HashMap::new();
        for (k, v) in ctx {
            context.entry(k).or_default().push(v.to_string());
        }
        Request {
            principal_account: acct,
            action,
            resource,
            context,
        }
    }

    fn central() -> Value {
        json!({"Version":"2012-10-17","Statement":[
          {"Sid":"WebStoreCrossAccountPublish","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
           "Action":"events:PutEvents","Resource":"arn:aws:events:us-east-1:222222222222:event-bus/central-event-bus",
           "Condition":{"StringEquals":{"events:detail-type":"newOrderCreated","events:source":"com.exampleCorp.webStore"}}},
          {"Sid":"InvoiceProcessingRuleCreation","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},
           "Action":["events:PutRule","events:DeleteRule","events:DescribeRule","events:DisableRule","events:EnableRule","events:PutTargets","events:RemoveTargets"],
           "Resource":"arn:aws:events:us-east-1:222222222222:rule/central-event-bus/*",
           "Condition":{"StringEqualsIfExists":{"events:creatorAccount":"${aws:PrincipalAccount}","events:source":"com.exampleCorp.webStore"}}}
        ]})
    }

    #[test]
    fn blog_policy() {
        let p = central();
        let bus = "arn:aws:events:us-east-1:222222222222:event-bus/central-event-bus";
        let ok = req(
            "111111111111",
            "events:PutEvents",
            bus,
            &[
                ("events:source", "com.exampleCorp.webStore"),
                ("events:detail-type", "newOrderCreated"),
            ],
        );
        assert_eq!(evaluate(Some(&p), &ok), Decision::Allow);
        let wrong_type = req(
            "111111111111",
            "events:PutEvents",
            bus,
            &[
                ("events:source", "com.exampleCorp.webStore"),
                ("events:detail-type", "other"),
            ],
        );
        assert_eq!(evaluate(Some(&p), &wrong_type), Decision::ImplicitDeny);
        let other_acct = req(
            "333333333333",
            "events:PutEvents",
            bus,
            &[
                ("events:source", "com.exampleCorp.webStore"),
                ("events:detail-type", "newOrderCreated"),
            ],
        );
        assert_eq!(evaluate(Some(&p), &other_acct), Decision::ImplicitDeny);
        let rule = "arn:aws:events:us-east-1:222222222222:rule/central-event-bus/Inv";
        let put_rule = req(
            "333333333333",
            "events:PutRule",
            rule,
            &[
                ("events:creatorAccount", "333333333333"),
                ("events:source", "com.exampleCorp.webStore"),
            ],
        );
        assert_eq!(evaluate(Some(&p), &put_rule), Decision::Allow);
        let bad_source = req(
            "333333333333",
            "events:PutRule",
            rule,
            &[
                ("events:creatorAccount", "333333333333"),
                ("events:source", "com.other"),
            ],
        );
        assert_eq!(evaluate(Some(&p), &bad_source), Decision::ImplicitDeny);
        let no_source = req(
            "333333333333",
            "events:PutTargets",
            rule,
            &[("events:creatorAccount", "333333333333")],
        );
        assert_eq!(evaluate(Some(&p), &no_source), Decision::Allow);
        let not_creator = req(
            "333333333333",
            "events:PutTargets",
            rule,
            &[("events:creatorAccount", "444444444444")],
        );
        assert_eq!(evaluate(Some(&p), &not_creator), Decision::ImplicitDeny);
        let other_bus_rule = req(
            "333333333333",
            "events:PutRule",
            "arn:aws:events:us-east-1:222222222222:rule/x/Inv",
            &[("events:creatorAccount", "333333333333")],
        );
        assert_eq!(evaluate(Some(&p), &other_bus_rule), Decision::ImplicitDeny);
        assert!(
            denied_message(&wrong_type, &Decision::ImplicitDeny)
                .contains("because no resource-based policy allows the events:PutEvents action")
        );
    }

    #[test]
    fn deny_wins_and_wildcards() {
        let p = json!({"Statement":[
            {"Effect":"Allow","Principal":"*","Action":"events:*","Resource":"*"},
            {"Effect":"Deny","Principal":{"AWS":"444444444444"},"Action":"events:PutEvents","Resource":"*"}
        ]});
        assert_eq!(
            evaluate(Some(&p), &req("555555555555", "events:PutEvents", "x", &[])),
            Decision::Allow
        );
        assert_eq!(
            evaluate(Some(&p), &req("444444444444", "events:PutEvents", "x", &[])),
            Decision::ExplicitDeny
        );
        assert_eq!(
            evaluate(None, &req("1", "events:PutEvents", "x", &[])),
            Decision::ImplicitDeny
        );
        assert!(glob("arn:*:rule/b/*", "arn:aws:rule/b/x"));
        assert!(!glob("a?c", "abbc"));
    }

    #[test]
    fn statement_form() {
        let s = statement(
            "s1",
            "111111111111",
            "events:PutEvents",
            "arn:bus",
            Some(("StringEquals", "aws:PrincipalOrgID", "o-1")),
        );
        assert_eq!(s["Principal"]["AWS"], "arn:aws:iam::111111111111:root");
        assert_eq!(s["Condition"]["StringEquals"]["aws:PrincipalOrgID"], "o-1");
        assert_eq!(
            statement("s", "*", "events:PutEvents", "b", None)["Principal"],
            "*"
        );
    }
}
