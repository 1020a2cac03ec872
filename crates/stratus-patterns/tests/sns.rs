//! SNS filter policies: validation texts (recorded from AWS by LocalStack's
//! suite and from AWS's documentation) and matching in both scopes.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::HashMap;

use stratus_patterns::{FilterPolicy, FilterPolicyError, FilterPolicyScope};

const ATTRS: FilterPolicyScope = FilterPolicyScope::MessageAttributes;
const BODY: FilterPolicyScope = FilterPolicyScope::MessageBody;

fn policy(text: &str, scope: FilterPolicyScope) -> FilterPolicy {
    FilterPolicy::parse(text, scope).unwrap_or_else(|e| panic!("{text}: {e}"))
}

/// `attrs` are `(name, type, value)`.
fn check_attrs(text: &str, attrs: &[(&str, &str, &str)], expected: bool) {
    let p = policy(text, ATTRS);
    assert_eq!(
        p.matches_attributes(attrs.iter().copied()),
        expected,
        "{text} vs {attrs:?}"
    );
    let map: HashMap<String, (String, String)> = attrs
        .iter()
        .map(|(n, t, v)| (n.to_string(), (t.to_string(), v.to_string())))
        .collect();
    assert_eq!(
        p.matches_attribute_map(&map),
        expected,
        "{text} vs {attrs:?} (map)"
    );
    assert_eq!(
        p.matches_message("ignored", attrs.iter().copied()),
        expected
    );
}

fn check_body(text: &str, body: &str, expected: bool) {
    let p = policy(text, BODY);
    assert_eq!(p.matches_body(body), expected, "{text} vs {body}");
    assert_eq!(p.matches_message(body, []), expected);
}

fn check_err(text: &str, scope: FilterPolicyScope, message: &str) {
    match FilterPolicy::parse(text, scope) {
        Ok(_) => panic!("{text} accepted, expected {message}"),
        Err(e) => {
            assert_eq!(e.code(), "InvalidParameter");
            assert_eq!(e.message(), message, "{text}");
        }
    }
}

#[test]
fn attribute_matching() {
    let p = r#"{"customer_interests": ["rugby", "tennis"]}"#;
    check_attrs(p, &[("customer_interests", "String", "rugby")], true);
    check_attrs(
        p,
        &[(
            "customer_interests",
            "String.Array",
            r#"["rugby", "tennis"]"#,
        )],
        true,
    );
    check_attrs(
        p,
        &[("customer_interests", "String.Array", r#"["baseball"]"#)],
        false,
    );
    check_attrs(p, &[("customer_interests", "String", "baseball")], false);
    check_attrs(p, &[], false);
    check_attrs(p, &[("customer_interests", "Binary", "rugby")], false);

    let num = r#"{"attr1": [{"numeric": [">", 0, "<=", 100]}]}"#;
    check_attrs(num, &[("attr1", "Number", "99")], true);
    check_attrs(num, &[("attr1", "Number", "111")], false);
    check_attrs(num, &[("attr1", "String", "99")], false);
    check_attrs(r#"{"price": [100]}"#, &[("price", "Number", "100.0")], true);
    check_attrs(
        r#"{"price": [100]}"#,
        &[("price", "Number.float", "1e2")],
        true,
    );
    check_attrs(
        r#"{"a": [10, "x"]}"#,
        &[("a", "String.Array", r#"["y", 10]"#)],
        true,
    );

    // null or anything-but: an absent attribute still does not match.
    let p = r#"{"attr1": [null, {"anything-but": "whatever"}]}"#;
    check_attrs(p, &[], false);
    check_attrs(p, &[("attr1", "String", "x")], true);
    check_attrs(p, &[("attr1", "String", "whatever")], false);

    check_attrs(
        r#"{"store": [{"exists": true}]}"#,
        &[("store", "Number", "99"), ("def", "Number", "99")],
        true,
    );
    check_attrs(
        r#"{"store": [{"exists": true}]}"#,
        &[("attr1", "Number", "111")],
        false,
    );
    check_attrs(
        r#"{"store": [{"exists": false}]}"#,
        &[("def", "Number", "99")],
        true,
    );
    check_attrs(
        r#"{"store": [{"exists": false}]}"#,
        &[("store", "String", "x")],
        false,
    );

    check_attrs(
        r#"{"k": [{"prefix": "auto-"}]}"#,
        &[("k", "String", "auto-x")],
        true,
    );
    check_attrs(
        r#"{"k": [{"suffix": "-x"}]}"#,
        &[("k", "String", "auto-x")],
        true,
    );
    check_attrs(
        r#"{"k": [{"equals-ignore-case": "AUTO"}]}"#,
        &[("k", "String", "auto")],
        true,
    );
    check_attrs(
        r#"{"k": [{"anything-but": {"prefix": "test-"}}]}"#,
        &[("k", "String", "prod-1")],
        true,
    );
    check_attrs(
        r#"{"k": [{"anything-but": {"prefix": "test-"}}]}"#,
        &[("k", "String", "test-1")],
        false,
    );
    check_attrs(
        r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#,
        &[("ip", "String", "10.1.2.3")],
        true,
    );
    check_attrs(r#"{"a.b": ["v"]}"#, &[("a.b", "String", "v")], true);

    let or = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}"#;
    check_attrs(
        or,
        &[
            ("source", "String", "aws.cloudwatch"),
            ("namespace", "String", "AWS/EC2"),
        ],
        true,
    );
    check_attrs(or, &[("source", "String", "aws.cloudwatch")], false);

    // The empty policy accepts everything.
    check_attrs("{}", &[], true);
}

#[test]
fn body_matching() {
    let p = r#"{"object": {"key": [{"prefix": "auto-"}]}}"#;
    check_body(p, r#"{"object": {"key": "auto-test"}}"#, true);
    check_body(p, r#"{"object": {"key": "hardcodedvalue"}}"#, false);
    check_body(p, r#"{"object.key": "auto-test"}"#, true);
    check_body(p, "not json", false);
    check_body(p, r#"["auto-test"]"#, false);
    let arr = r#"{"headers": {"route-to": ["queue1"]}}"#;
    check_body(
        arr,
        r#"{"headers": {"route-to": ["queue1", "queue2"]}}"#,
        true,
    );
    check_body(arr, r#"{"headers": {"route-to": ["queue2"]}}"#, false);
    let s3 = r#"{"Records": {"s3": {"object": {"key": [{"prefix": "auto-"}]}}, "eventName": [{"prefix": "ObjectCreated:"}]}}"#;
    check_body(
        s3,
        r#"{"Records": [{"eventName": "ObjectCreated:Put", "s3": {"object": [[{"key": "auto-insurance-2314.xml"}]]}}, {"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "home-insurance-2314.xml"}}}]}"#,
        true,
    );
    check_body(
        s3,
        r#"{"Records": [{"eventName": "ObjectRemoved:Delete", "s3": {"object": {"key": "auto-insurance-2314.xml"}}}, {"eventName": "ObjectCreated:Put", "s3": {"object": {"key": "home.xml"}}}]}"#,
        false,
    );
}

#[test]
fn recorded_validation_errors() {
    let fp = |r: &str| format!("Invalid parameter: FilterPolicy: {r}");
    check_err(
        r#"{"key": [["value"]]}"#,
        ATTRS,
        &fp("Match value must be String, number, true, false, or null"),
    );
    check_err(
        r#"{"key": [{"wrong-operator": true}]}"#,
        ATTRS,
        &fp("Unrecognized match type wrong-operator"),
    );
    check_err(
        r#"{"key": [{"suffix": "value", "prefix": "value2"}]}"#,
        ATTRS,
        &fp("Only one key allowed in match expression"),
    );
    check_err(
        r#"{"key": [{"suffix": 100}]}"#,
        ATTRS,
        &fp("suffix match pattern must be a string"),
    );
    check_err(
        r#"{"key": [{"suffix": null}]}"#,
        ATTRS,
        &fp("suffix match pattern must be a string"),
    );
    check_err(
        r#"{"key": [{"suffix": []}]}"#,
        ATTRS,
        &fp("suffix match pattern must be a string"),
    );
    check_err(
        r#"{"key": [{"suffix": ["test", "test2"]}]}"#,
        ATTRS,
        &fp("suffix match pattern must be a string"),
    );
    check_err(
        r#"{"key": {"suffix": "value"}}"#,
        ATTRS,
        &fp("\"suffix\" must be an object or an array"),
    );
    check_err(
        r#"{"key": {"suffix": "value", "prefix": "value"}}"#,
        ATTRS,
        &fp("\"suffix\" must be an object or an array"),
    );
    check_err(
        r#"{"key": {"not-an-operator": "value"}}"#,
        ATTRS,
        &fp("\"not-an-operator\" must be an object or an array"),
    );
    check_err(
        r#"{"key": [{"numeric": []}]}"#,
        ATTRS,
        &fp("Invalid member in numeric match: ]"),
    );
    check_err(
        r#"{"key": [{"numeric": ["operator"]}]}"#,
        ATTRS,
        &fp("Unrecognized numeric range operator: operator"),
    );
    check_err(
        r#"{"key": [{"numeric": [1, "<="]}]}"#,
        ATTRS,
        &fp("Invalid member in numeric match: 1"),
    );
    check_err(
        r#"{"key": [{"numeric": ["=", "000"]}]}"#,
        ATTRS,
        &fp("Value of equals must be numeric"),
    );
    check_err(
        r#"{"key": [{"numeric": [">="]}]}"#,
        ATTRS,
        &fp("Value of >= must be numeric"),
    );
    check_err(
        r#"{"key": [{"numeric": ["<", 100, ">", 10]}]}"#,
        ATTRS,
        &fp("Too many elements in numeric expression"),
    );
    check_err(
        r#"{"key": [{"numeric": [">=", 1, ">", 2]}]}"#,
        ATTRS,
        &fp("Bad numeric range operator: >"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 3, "<", 1]}]}"#,
        ATTRS,
        &fp("Bottom must be less than top"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 20, "<="]}]}"#,
        ATTRS,
        &fp("Value of <= must be numeric"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 20, 30]}]}"#,
        ATTRS,
        &fp("Bad value in numeric range: 30"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 20, "test"]}]}"#,
        ATTRS,
        &fp("Bad numeric range operator: test"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", "20", "<", "30"]}]}"#,
        ATTRS,
        &fp("Value of > must be numeric"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 20, "<", "30"]}]}"#,
        ATTRS,
        &fp("Value of < must be numeric"),
    );
    check_err(
        r#"{"key": [{"numeric": [">", 20, "<", 30, "<", 50]}]}"#,
        ATTRS,
        &fp("Too many terms in numeric range expression"),
    );
    check_err(
        r#"{"key": [{"exists": null}]}"#,
        ATTRS,
        &fp("exists match pattern must be either true or false."),
    );
    check_err(
        r#"{"key": [{"exists": "no"}]}"#,
        ATTRS,
        &fp("exists match pattern must be either true or false."),
    );
    check_err(
        r#"{"key": [{"anything-but": {"wrong-operator": null}}]}"#,
        ATTRS,
        &fp("Unsupported anything-but pattern: wrong-operator"),
    );
    check_err(
        r#"{"key": [{"anything-but": {"suffix": "test"}}]}"#,
        ATTRS,
        &fp("Unsupported anything-but pattern: suffix"),
    );
    check_err(
        r#"{"key": [{"anything-but": {"exists": false}}]}"#,
        ATTRS,
        &fp("Unsupported anything-but pattern: exists"),
    );
    check_err(
        r#"{"key": [{"anything-but": {"prefix": false}}]}"#,
        ATTRS,
        &fp("prefix match pattern must be a string"),
    );
    check_err(
        r#"{"key": [{"wildcard": "a*"}]}"#,
        ATTRS,
        &fp("Unrecognized match type wildcard"),
    );
    check_err("{invalidjson}", ATTRS, &fp("failed to parse JSON."));
    check_err(
        r#"{"key_a": "value_one"}"#,
        BODY,
        &fp("\"key_a\" must be an object or an array"),
    );
    // Accepted forms.
    for ok in [
        r#"{"key": [{"anything-but": {"prefix": "test-"}}]}"#,
        r#"{"key": [{"anything-but": ["test", "test2"]}]}"#,
        r#"{"key": [{"anything-but": "test"}]}"#,
    ] {
        policy(ok, ATTRS);
    }
}

#[test]
fn subscribe_wording() {
    let e = FilterPolicy::parse(r#"{"key": [{"suffix": 100}]}"#, ATTRS).unwrap_err();
    assert_eq!(
        e.subscribe_message(),
        "Invalid parameter: Attributes Reason: FilterPolicy: suffix match pattern must be a string"
    );
}

#[test]
fn limits() {
    let fp = |r: &str| format!("Invalid parameter: FilterPolicy: {r}");
    let too_complex = fp("Filter policy is too complex");
    let values = |n: usize| -> String {
        let v: Vec<String> = (0..n).map(|i| format!("\"value{i}\"")).collect();
        format!("[{}]", v.join(","))
    };
    check_err(
        &format!(r#"{{"key": {}}}"#, values(151)),
        ATTRS,
        &too_complex,
    );
    policy(&format!(r#"{{"key": {}}}"#, values(150)), ATTRS);
    check_err(
        &format!(r#"{{"key1": {}, "key2": {}}}"#, values(100), values(51)),
        ATTRS,
        &too_complex,
    );
    check_err(
        r#"{"key1": ["value1"], "key2": ["value2"], "key3": ["value3"], "key4": ["value4"], "key5": ["value5"], "key6": ["value6"]}"#,
        ATTRS,
        &fp("Filter policy can not have more than 5 keys"),
    );
    // (4 * 6) + (4 * 4 * 4) + (4 * 4 * 4) = 152
    check_err(
        r#"{"source": ["aws.cloudwatch", "aws.events", "aws.test", "aws.test2"],
            "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "t1", "t2", "t3", "t4"]},
                    {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                     "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4]}]}]}"#,
        ATTRS,
        &too_complex,
    );
    // (3 * 6) + (3 * 4 * 4) + (3 * 4 * 7) = 150: accepted.
    policy(
        r#"{"source": ["aws.cloudwatch", "aws.events", "aws.test"],
            "$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestVal", "TestVal2", "TestVal3", "TestVal4"]},
                    {"metricType": ["MetricType", "TestType", "TestType2", "TestType3"],
                     "$or": [{"metricId": [1234, 4321, 5678, 9012]}, {"spaceId": [1, 2, 3, 4, 5, 6, 7]}]}]}"#,
        ATTRS,
    );
    // Nested body policy: (3*4*2) + (3*4*6) + (2*4*2) + (2*4*6) = 160.
    check_err(
        r#"{"$or": [{"metricName": ["CPUUtilization", "ReadLatency", "TestValue"]}, {"namespace": ["AWS/EC2", "AWS/ES"]}],
            "detail": {"scope": ["Service", "Test"],
                       "$or": [{"source": ["aws.cloudwatch"]}, {"type": ["CloudWatch Alarm State Change", "TestValue", "TestValue2"]}]}}"#,
        BODY,
        &too_complex,
    );
    // AWS's documented example: 3 x 4 x 2 x 3 x 1 x 3 = 216.
    check_err(
        r#"{"key_a": {"key_b": {"key_c": ["value_one", "value_two", "value_three", "value_four"]}},
            "key_d": {"key_e": ["value_one", "value_two", "value_three"]},
            "key_f": ["value_one", "value_two", "value_three"]}"#,
        BODY,
        &too_complex,
    );
    // Nested policies need the MessageBody scope.
    let nested = r#"{"object": {"key": [{"prefix": "auto-"}]}}"#;
    assert_eq!(
        FilterPolicy::parse(nested, ATTRS).unwrap_err(),
        FilterPolicyError::NestedInAttributesScope
    );
    check_err(
        nested,
        ATTRS,
        "Invalid parameter: Filter policy scope MessageAttributes does not support nested filter policy",
    );
    policy(nested, BODY);
}

#[test]
fn scope_names() {
    assert_eq!(FilterPolicyScope::parse("MessageBody"), Some(BODY));
    assert_eq!(FilterPolicyScope::parse("RandomValue"), None);
    assert_eq!(FilterPolicyScope::default().as_str(), "MessageAttributes");
}
