//! Unit tests of the pattern language, all through one `check` helper.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
use common::{check, check_err};

#[test]
fn exact_values() {
    check(
        r#"{"source": ["aws.ec2"]}"#,
        r#"{"source": "aws.ec2"}"#,
        true,
    );
    check(
        r#"{"source": ["aws.ec2"]}"#,
        r#"{"source": "aws.ec2x"}"#,
        false,
    );
    check(r#"{"source": ["a", "b"]}"#, r#"{"source": "b"}"#, true);
    check(
        r#"{"source": ["aws.ec2"]}"#,
        r#"{"other": "aws.ec2"}"#,
        false,
    );
    check(r#"{"n": [5]}"#, r#"{"n": 5}"#, true);
    check(r#"{"n": [5]}"#, r#"{"n": 5.0}"#, true);
    check(r#"{"n": [300]}"#, r#"{"n": 3.0e2}"#, true);
    check(r#"{"n": [5]}"#, r#"{"n": "5"}"#, false);
    check(r#"{"n": ["5"]}"#, r#"{"n": 5}"#, false);
    check(r#"{"n": [-0.0]}"#, r#"{"n": 0}"#, true);
    check(r#"{"b": [true]}"#, r#"{"b": true}"#, true);
    check(r#"{"b": [true]}"#, r#"{"b": "true"}"#, false);
    check(r#"{"b": [false]}"#, r#"{"b": true}"#, false);
    check(r#"{"x": [null]}"#, r#"{"x": null}"#, true);
    check(r#"{"x": [null]}"#, r#"{}"#, false);
    check(r#"{"x": [null]}"#, r#"{"x": ""}"#, false);
    check(r#"{"x": [""]}"#, r#"{"x": ""}"#, true);
    check(r#"{"x": [""]}"#, r#"{"x": null}"#, false);
    check(
        r#"{"s": ["caf\u00e9 \ud83d\ude80"]}"#,
        r#"{"s": "café 🚀"}"#,
        true,
    );
    check(r#"{"s": ["a\"b"]}"#, r#"{"s": "a\u0022b"}"#, true);
    check(r#"{"KEY": ["v"]}"#, r#"{"key": "v"}"#, false);
}

#[test]
fn nested_and_dotted_paths() {
    check(
        r#"{"detail": {"state": ["running"]}, "source": ["aws.ec2"]}"#,
        r#"{"source": "aws.ec2", "detail": {"state": "running", "other": {"deep": [1, 2]}}}"#,
        true,
    );
    check(
        r#"{"detail": {"state": ["running"]}}"#,
        r#"{"detail": "{\"state\": \"running\"}"}"#,
        false,
    );
    check(
        r#"{"detail": {"state": {"status": ["on"]}}}"#,
        r#"{"detail": {"state.status": "on"}}"#,
        true,
    );
    check(
        r#"{"detail": {"state.status": ["on"]}}"#,
        r#"{"detail": {"state": {"status": "on"}}}"#,
        true,
    );
    check(
        r#"{"a": {"b": ["x"]}}"#,
        r#"{"a": {"b": {"c": "x"}}}"#,
        false,
    );
    check(r#"{"a": {"b": ["x"]}}"#, r#"{"a": "x"}"#, false);
}

#[test]
fn arrays_on_both_sides() {
    check(r#"{"r": ["a", "b"]}"#, r#"{"r": ["c", "b"]}"#, true);
    check(r#"{"r": ["a"]}"#, r#"{"r": ["c", "d"]}"#, false);
    check(r#"{"r": ["a"]}"#, r#"{"r": []}"#, false);
    check(r#"{"r": ["a"]}"#, r#"{"r": [["x", ["a"]]]}"#, true);
    check(
        r#"{"e": {"n": ["Anna"]}}"#,
        r#"{"e": [{"n": "John"}, {"n": "Anna"}]}"#,
        true,
    );
    // Two fields must come from the same array element.
    let p = r#"{"e": {"first": ["Anna"], "last": ["Jones"]}}"#;
    check(
        p,
        r#"{"e": [{"first": "Anna", "last": "Smith"}, {"first": "Peter", "last": "Jones"}]}"#,
        false,
    );
    check(
        p,
        r#"{"e": [{"first": "Anna", "last": "Jones"}, {"first": "Peter", "last": "Smith"}]}"#,
        true,
    );
    check(
        p,
        r#"{"e": [[{"first": "Anna", "last": "Smith"}], [{"first": "Anna", "last": "Jones"}]]}"#,
        true,
    );
    check(
        p,
        r#"{"e": [[{"first": "Anna"}, {"last": "Jones"}]]}"#,
        false,
    );
    // The same with escaped strings (unescaped copies, not slices of the
    // event's text) and operators evaluated after the lookups.
    let p = r#"{"e": {"first": [{"prefix": "An"}], "last": [{"anything-but": "Smith"}]}}"#;
    check(
        p,
        r#"{"e": [{"first": "\u0041nna", "last": "Smi\u0074h"}, {"first": "Peter", "last": "J\"ones"}]}"#,
        false,
    );
    check(
        p,
        r#"{"e": [{"first": "Peter", "last": "Smith"}, {"first": "\u0041nna", "last": "J\"ones"}]}"#,
        true,
    );
    check(
        r#"{"e": {"first": [{"wildcard": "A*a"}], "last": ["J\"ones"]}}"#,
        r#"{"e": [{"first": "Ann\u0061", "last": "x"}, {"first": "Zoe", "last": "J\"ones"}]}"#,
        false,
    );
    // A duplicate key (JSON text only: a parsed value keeps the last one)
    // gives a field a value outside arrays, which only the wildcard (evaluated
    // after the lookups) accepts, and one inside, which the prefix (looked
    // up) accepts: the value outside combines with any element.
    use stratus_patterns::{Pattern, RuleSet};
    let p = r#"{"e": {"a": [{"prefix": "x"}, {"wildcard": "*y"}], "b": ["1"]}}"#;
    let pattern = Pattern::parse(p).unwrap();
    let mut rs = RuleSet::new();
    rs.insert("noise", Pattern::parse(r#"{"e": {"b": ["2"]}}"#).unwrap());
    rs.insert("target", pattern.clone());
    for (ev, want) in [
        (
            r#"{"e": {"a": "zy"}, "e": [{"a": "x1"}, {"b": "1"}]}"#,
            true,
        ),
        (
            r#"{"e": {"a": "zz"}, "e": [{"a": "x1"}, {"b": "1"}]}"#,
            false,
        ),
        (r#"{"e": {"a": "zz"}, "e": [{"a": "x1", "b": "1"}]}"#, true),
    ] {
        assert_eq!(pattern.matches_json(ev).unwrap(), want, "{ev}");
        assert_eq!(
            rs.matches_json(ev).unwrap().contains(&"target"),
            want,
            "{ev}"
        );
    }
    // Fields in different arrays combine freely.
    check(
        r#"{"a": {"x": ["1"]}, "b": {"y": ["2"]}}"#,
        r#"{"a": [{"x": "0"}, {"x": "1"}], "b": [{"y": "2"}]}"#,
        true,
    );
    // A field outside arrays combines with any element.
    check(
        r#"{"k": ["v"], "e": {"a": ["1"], "b": ["2"]}}"#,
        r#"{"k": "v", "e": [{"a": "1"}, {"a": "1", "b": "2"}]}"#,
        true,
    );
    // Three fields, nested arrays.
    check(
        r#"{"o": {"i": {"x": ["1"], "y": ["2"]}, "z": ["3"]}}"#,
        r#"{"o": [{"z": "3", "i": [{"x": "1"}, {"y": "2"}]}, {"z": "3", "i": [{"x": "1", "y": "2"}]}]}"#,
        true,
    );
    check(
        r#"{"o": {"i": {"x": ["1"], "y": ["2"]}, "z": ["3"]}}"#,
        r#"{"o": [{"z": "3", "i": [{"x": "1"}, {"y": "2"}]}, {"z": "4", "i": [{"x": "1", "y": "2"}]}]}"#,
        false,
    );
}

#[test]
fn prefix_suffix() {
    check(
        r#"{"t": [{"prefix": "2022-"}]}"#,
        r#"{"t": "2022-07-13"}"#,
        true,
    );
    check(
        r#"{"t": [{"prefix": "2022-"}]}"#,
        r#"{"t": "2021-07-13"}"#,
        false,
    );
    check(r#"{"t": [{"prefix": "2"}]}"#, r#"{"t": 2022}"#, false);
    check(r#"{"t": [{"prefix": ""}]}"#, r#"{"t": "anything"}"#, true);
    check(
        r#"{"t": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        r#"{"t": "eventbridge"}"#,
        true,
    );
    check(
        r#"{"t": [{"prefix": {"equals-ignore-case": "EventB"}}]}"#,
        r#"{"t": "sns"}"#,
        false,
    );
    check(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": "a.png"}"#, true);
    check(r#"{"f": [{"suffix": ".png"}]}"#, r#"{"f": "a.PNG"}"#, false);
    check(
        r#"{"f": [{"suffix": {"equals-ignore-case": ".png"}}]}"#,
        r#"{"f": "a.PNG"}"#,
        true,
    );
    check(r#"{"f": [{"suffix": ""}]}"#, r#"{"f": ""}"#, true);
    check(r#"{"f": [{"suffix": "ab"}]}"#, r#"{"f": "b"}"#, false);
    check(r#"{"f": [{"prefix": "é"}]}"#, r#"{"f": "éa"}"#, true);
}

#[test]
fn equals_ignore_case() {
    check(
        r#"{"n": [{"equals-ignore-case": "alice"}]}"#,
        r#"{"n": "ALIce"}"#,
        true,
    );
    check(
        r#"{"n": [{"equals-ignore-case": "alice"}]}"#,
        r#"{"n": "alicia"}"#,
        false,
    );
    check(
        r#"{"n": [{"equals-ignore-case": "ÉTÉ"}]}"#,
        r#"{"n": "été"}"#,
        true,
    );
    check(
        r#"{"n": [{"equals-ignore-case": ""}]}"#,
        r#"{"n": "x"}"#,
        false,
    );
    check(
        r#"{"n": [{"equals-ignore-case": "1"}]}"#,
        r#"{"n": 1}"#,
        false,
    );
}

#[test]
fn anything_but() {
    let p = r#"{"s": [{"anything-but": "init"}]}"#;
    check(p, r#"{"s": "running"}"#, true);
    check(p, r#"{"s": "init"}"#, false);
    check(p, r#"{"s": null}"#, true);
    check(p, r#"{"s": 5}"#, true);
    check(p, r#"{}"#, false);
    check(p, r#"{"s": ["init", "x"]}"#, true);
    check(p, r#"{"s": ["init"]}"#, false);
    check(
        r#"{"s": [{"anything-but": ["a", "b"]}]}"#,
        r#"{"s": "b"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": ["a", "b"]}]}"#,
        r#"{"s": "c"}"#,
        true,
    );
    check(
        r#"{"n": [{"anything-but": [100, 200]}]}"#,
        r#"{"n": 200.0}"#,
        false,
    );
    check(
        r#"{"n": [{"anything-but": [100, 200]}]}"#,
        r#"{"n": 300}"#,
        true,
    );
    check(r#"{"n": [{"anything-but": 0}]}"#, r#"{"n": 789}"#, true);
    check(r#"{"n": [{"anything-but": 123}]}"#, r#"{"n": "123"}"#, true);
    check(
        r#"{"s": [{"anything-but": {"prefix": "init"}}]}"#,
        r#"{"s": "initial"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": {"prefix": ["a", "b"]}}]}"#,
        r#"{"s": "cat"}"#,
        true,
    );
    check(
        r#"{"s": [{"anything-but": {"suffix": ".txt"}}]}"#,
        r#"{"s": "a.txt"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": {"suffix": [".a", ".b"]}}]}"#,
        r#"{"s": "x.c"}"#,
        true,
    );
    check(
        r#"{"s": [{"anything-but": {"equals-ignore-case": "X"}}]}"#,
        r#"{"s": "x"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}"#,
        r#"{"s": "b"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": {"equals-ignore-case": ["a", "B"]}}]}"#,
        r#"{"s": "c"}"#,
        true,
    );
    check(
        r#"{"s": [{"anything-but": {"wildcard": "*/lib/*"}}]}"#,
        r#"{"s": "/usr/lib/x"}"#,
        false,
    );
    check(
        r#"{"s": [{"anything-but": {"wildcard": ["*/lib/*", "*.so"]}}]}"#,
        r#"{"s": "/usr/bin/x"}"#,
        true,
    );
    check(
        r#"{"s": [{"anything-but": {"wildcard": ["*/lib/*", "*.so"]}}]}"#,
        r#"{"s": "a.so"}"#,
        false,
    );
}

#[test]
fn numeric() {
    let p = r#"{"c": [{"numeric": [">", 0, "<=", 5]}]}"#;
    check(p, r#"{"c": 5}"#, true);
    check(p, r#"{"c": 0}"#, false);
    check(p, r#"{"c": 0.000001}"#, true);
    check(p, r#"{"c": 5.1}"#, false);
    check(p, r#"{"c": "3"}"#, false);
    check(p, r#"{"c": null}"#, false);
    check(p, r#"{"c": [9, 3]}"#, true);
    check(
        r#"{"c": [{"numeric": ["=", 3.018e2]}]}"#,
        r#"{"c": 301.8}"#,
        true,
    );
    check(r#"{"c": [{"numeric": [">=", 10]}]}"#, r#"{"c": 10}"#, true);
    check(r#"{"c": [{"numeric": ["<", 10]}]}"#, r#"{"c": 10}"#, false);
    check(
        r#"{"c": [{"numeric": ["<=", -1]}]}"#,
        r#"{"c": -1e0}"#,
        true,
    );
    check(
        r#"{"c": [{"numeric": [">", 100]}]}"#,
        r#"{"c": 101.0}"#,
        true,
    );
    check(
        r#"{"c": [{"numeric": [">", 100]}, {"anything-but": "101"}]}"#,
        r#"{"c": "101"}"#,
        false,
    );
}

#[test]
fn exists() {
    check(
        r#"{"d": {"c": [{"exists": true}]}}"#,
        r#"{"d": {"c": 1}}"#,
        true,
    );
    check(
        r#"{"d": {"c": [{"exists": true}]}}"#,
        r#"{"d": {"c": null}}"#,
        true,
    );
    check(
        r#"{"d": {"c": [{"exists": true}]}}"#,
        r#"{"d": {"c": {"x": 1}}}"#,
        false,
    );
    check(
        r#"{"d": {"c": [{"exists": true}]}}"#,
        r#"{"d": {"c": []}}"#,
        false,
    );
    check(r#"{"d": {"c": [{"exists": true}]}}"#, r#"{"d": {}}"#, false);
    check(r#"{"d": {"c": [{"exists": false}]}}"#, r#"{"d": {}}"#, true);
    check(r#"{"d": {"c": [{"exists": false}]}}"#, r#"{}"#, true);
    check(
        r#"{"d": {"c": [{"exists": false}]}}"#,
        r#"{"d": {"c": {"c1": 100}}}"#,
        true,
    );
    check(
        r#"{"d": {"c": [{"exists": false}]}}"#,
        r#"{"d": {"c": 1}}"#,
        false,
    );
    check(
        r#"{"d": {"c": [{"exists": false}]}, "s": ["x"]}"#,
        r#"{"s": "x"}"#,
        true,
    );
    check(
        r#"{"d": {"c": [{"exists": false}]}, "s": ["x"]}"#,
        r#"{"s": "y"}"#,
        false,
    );
    let either = r#"{"d": {"c": [{"exists": true}, {"exists": false}]}}"#;
    check(either, r#"{"d": {"c": 1}}"#, true);
    check(either, r#"{"d": {}}"#, true);
    check(
        r#"{"d": {"c": ["v", {"exists": false}]}}"#,
        r#"{"d": {"c": "w"}}"#,
        false,
    );
    check(
        r#"{"d": {"c": ["v", {"exists": false}]}}"#,
        r#"{"d": {"c": "v"}}"#,
        true,
    );
    let num_or_absent = r#"{"a": [{"numeric": [">", 1]}, {"exists": false}]}"#;
    check(num_or_absent, r#"{"a": 5}"#, true);
    check(num_or_absent, r#"{"a": 0}"#, false);
    check(num_or_absent, r#"{"b": 0}"#, true);
    check(
        r#"{"a": [{"numeric": [">", 1]}], "b": [{"exists": false}]}"#,
        r#"{"a": 5}"#,
        true,
    );
    check(
        r#"{"a": [{"numeric": [">", 1]}], "b": [{"exists": false}]}"#,
        r#"{"a": 5, "b": 1}"#,
        false,
    );
}

#[test]
fn cidr() {
    let p = r#"{"ip": [{"cidr": "10.0.0.0/24"}]}"#;
    check(p, r#"{"ip": "10.0.0.255"}"#, true);
    check(p, r#"{"ip": "10.0.1.0"}"#, false);
    check(p, r#"{"ip": "10.0.0.256"}"#, false);
    check(p, r#"{"ip": 123}"#, false);
    let v6 = r#"{"ip": [{"cidr": "2001:db8:1234:1a00::/64"}]}"#;
    check(v6, r#"{"ip": "2001:db8:1234:1a00:ffff::1"}"#, true);
    check(
        v6,
        r#"{"ip": "2001:0db8:123f:1a01:0000:0000:0000:0000"}"#,
        false,
    );
    check(v6, r#"{"ip": "10.0.0.1"}"#, false);
    check(
        r#"{"ip": ["2001:db8::1"]}"#,
        r#"{"ip": "2001:0db8:0:0:0:0:0:1"}"#,
        true,
    );
    check(r#"{"ip": ["10.0.0.1"]}"#, r#"{"ip": "10.0.0.1"}"#, true);
}

#[test]
fn wildcard() {
    let p = r#"{"a": [{"wildcard": "arn:aws:events:us-east-1:*:event-bus/*"}]}"#;
    check(
        p,
        r#"{"a": "arn:aws:events:us-east-1:123456789012:event-bus/my"}"#,
        true,
    );
    check(
        p,
        r#"{"a": "arn:aws:events:us-west-2:123456789012:event-bus/my"}"#,
        false,
    );
    check(r#"{"a": [{"wildcard": ""}]}"#, r#"{"a": ""}"#, true);
    check(r#"{"a": [{"wildcard": ""}]}"#, r#"{"a": "x"}"#, false);
    check(r#"{"a": [{"wildcard": "a\\*b"}]}"#, r#"{"a": "a*b"}"#, true);
    check(
        r#"{"a": [{"wildcard": "a\\*b"}]}"#,
        r#"{"a": "axxb"}"#,
        false,
    );
    check(r#"{"a": [{"wildcard": "*"}]}"#, r#"{"a": 5}"#, false);
    check(
        r#"{"f": [{"wildcard": "/Users/*/dir/dir/dir/dir/dir/doc.txt"}]}"#,
        r#"{"f": "/Users/u/dir/dir/dir/dir/dir/doc.txt"}"#,
        true,
    );
}

#[test]
fn or_relationship() {
    let p = r#"{"source": ["aws.cloudwatch"], "$or": [{"metricName": ["CPU"]}, {"namespace": ["AWS/EC2"]}]}"#;
    check(
        p,
        r#"{"source": "aws.cloudwatch", "metricName": "CPU"}"#,
        true,
    );
    check(
        p,
        r#"{"source": "aws.cloudwatch", "namespace": "AWS/EC2"}"#,
        true,
    );
    check(
        p,
        r#"{"source": "aws.cloudwatch", "namespace": "AWS/ES"}"#,
        false,
    );
    check(p, r#"{"source": "aws.other", "metricName": "CPU"}"#, false);
    let nested = r#"{"detail": {"$or": [{"c": [{"numeric": [">", 0, "<=", 5]}]}, {"d": [{"numeric": ["<", 10]}]}]}}"#;
    check(nested, r#"{"detail": {"d": 3}}"#, true);
    check(nested, r#"{"detail": {"c": 30, "d": 30}}"#, false);
    let deep = r#"{"$or": [{"a": ["1"]}, {"b": ["2"], "$or": [{"c": ["3"]}, {"d": ["4"]}]}]}"#;
    check(deep, r#"{"b": "2", "d": "4"}"#, true);
    check(deep, r#"{"b": "2"}"#, false);
    // "$or" that is not an OR is an ordinary field name.
    check(r#"{"$or": {"x": ["1"]}}"#, r#"{"$or": {"x": "1"}}"#, true);
    check(
        r#"{"$or": [{"cidr": "10.0.0.0/24"}]}"#,
        r#"{"$or": "10.0.0.7"}"#,
        true,
    );
}

#[test]
fn duplicate_keys_keep_last() {
    check(
        r#"{"l": [{"prefix": "us-"}], "l": [{"anything-but": "us-east"}]}"#,
        r#"{"l": "eu-central-1"}"#,
        true,
    );
}

#[test]
fn rejected_patterns() {
    check_err(r#"{"resources": []}"#, "Empty arrays are not allowed");
    check_err(
        r#"{"string": "my-value"}"#,
        "\"string\" must be an object or an array",
    );
    check_err(r#"[]"#, "Filter is not an object");
    check_err(r#"{}"#, "Empty objects are not allowed");
    check_err(r#"{"a": {}}"#, "Empty objects are not allowed");
    check_err(
        r#"{"a": [["x"]]}"#,
        "Match value must be String, number, true, false, or null",
    );
    check_err(r#"{"a": [{}]}"#, "Match expression name not found");
    check_err(
        r#"{"a": [{"EXISTS": true}]}"#,
        "Unrecognized match type EXISTS",
    );
    check_err(
        r#"{"a": [{"prefix": 1}]}"#,
        "prefix match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"prefix": "x", "suffix": "y"}]}"#,
        "Only one key allowed in match expression",
    );
    check_err(
        r#"{"a": [{"prefix": {"foo": "x"}}]}"#,
        "Unsupported prefix pattern: foo",
    );
    check_err(
        r#"{"a": [{"suffix": {"equals-ignore-case": 1}}]}"#,
        "equals-ignore-case match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"numeric": 10}]}"#,
        "Value of numeric must be an array.",
    );
    check_err(
        r#"{"a": [{"numeric": []}]}"#,
        "Invalid member in numeric match: ]",
    );
    check_err(
        r#"{"a": [{"numeric": [1, "<="]}]}"#,
        "Invalid member in numeric match: 1",
    );
    check_err(
        r#"{"a": [{"numeric": ["operator"]}]}"#,
        "Unrecognized numeric range operator: operator",
    );
    check_err(
        r#"{"a": [{"numeric": ["=", "000"]}]}"#,
        "Value of equals must be numeric",
    );
    check_err(
        r#"{"a": [{"numeric": [">", 0, "<"]}]}"#,
        "Value of < must be numeric",
    );
    check_err(
        r#"{"a": [{"numeric": ["<", 100, ">", 10]}]}"#,
        "Too many elements in numeric expression",
    );
    check_err(
        r#"{"a": [{"numeric": [">=", 1, ">", 2]}]}"#,
        "Bad numeric range operator: >",
    );
    check_err(
        r#"{"a": [{"numeric": [">", 3, "<", 1]}]}"#,
        "Bottom must be less than top",
    );
    check_err(
        r#"{"a": [{"numeric": [">", 20, 30]}]}"#,
        "Bad value in numeric range: 30",
    );
    check_err(
        r#"{"a": [{"numeric": [">", 20, "<", 30, "<", 50]}]}"#,
        "Too many terms in numeric range expression",
    );
    check_err(
        r#"{"a": [{"numeric": [">", 6e9]}]}"#,
        "Value must be between -5.0E9 and 5.0E9, inclusive",
    );
    check_err(
        r#"{"a": [{"exists": "no"}]}"#,
        "exists match pattern must be either true or false.",
    );
    check_err(
        r#"{"a": [{"anything-but": null}]}"#,
        "Value of anything-but must be an array or single string/number value.",
    );
    check_err(
        r#"{"a": [{"anything-but": ["x", null]}]}"#,
        "Inside anything but list, start|null|boolean is not supported.",
    );
    check_err(
        r#"{"a": [{"anything-but": ["x", 1]}]}"#,
        "Inside anything but list, either all values are number or string, mixed type is not supported",
    );
    check_err(
        r#"{"a": [{"anything-but": {"foo": "x"}}]}"#,
        "Unsupported anything-but pattern: foo",
    );
    check_err(
        r#"{"a": [{"anything-but": {"prefix": ""}}]}"#,
        "Null prefix/suffix not allowed",
    );
    check_err(
        r#"{"a": [{"anything-but": {"suffix": 123}}]}"#,
        "prefix/suffix match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"anything-but": {"wildcard": [1]}}]}"#,
        "wildcard match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"anything-but": {"wildcard": "a**"}}]}"#,
        "Consecutive wildcard characters at pos 2",
    );
    check_err(
        r#"{"a": [{"anything-but": {"equals-ignore-case": [1]}}]}"#,
        "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
    );
    check_err(
        r#"{"a": [{"cidr": ["x"]}]}"#,
        "prefix match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"cidr": "xx.11.xx/8"}]}"#,
        "Nonstandard IP address: xx.11.xx",
    );
    check_err(
        r#"{"a": [{"cidr": "10.0.0.256/8"}]}"#,
        "Invalid IP address: 10.0.0.256",
    );
    check_err(
        r#"{"a": [{"cidr": "10.0.0.0"}]}"#,
        "Malformed CIDR, one '/' required",
    );
    check_err(
        r#"{"a": [{"wildcard": 1}]}"#,
        "wildcard match pattern must be a string",
    );
    check_err(
        r#"{"a": [{"wildcard": "a\\b"}]}"#,
        "Invalid escape character at pos 2",
    );
    check_err(
        r#"{"a": [{"equals-ignore-case": 1}]}"#,
        "equals-ignore-case match pattern must be a string",
    );
    check_err(
        r#"{"$or": [{"a": ["1"]}, {"b": ["2"]}, ["c"]]}"#,
        "Only JSON object is allowed in array of $or relationship.",
    );
    check_err(
        r#"{"$or": [{"a": ["1"]}]}"#,
        "There must have at least 2 Objects in $or relationship.",
    );
}

#[test]
fn invalid_events_are_errors() {
    let p = stratus_patterns::Pattern::parse(r#"{"a": ["1"]}"#).unwrap();
    assert!(p.matches_json("{").is_err());
    assert!(p.matches_json(r#"{"a": "1"} trailing"#).is_err());
    assert!(!p.matches_json(r#"["a"]"#).unwrap());
}

#[test]
fn rule_set_management() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    rs.insert("a", Pattern::parse(r#"{"s": ["x"]}"#).unwrap());
    rs.insert("b", Pattern::parse(r#"{"s": [{"prefix": "x"}]}"#).unwrap());
    rs.insert(
        "c",
        Pattern::parse(r#"{"t": [{"exists": false}]}"#).unwrap(),
    );
    assert_eq!(
        rs.matches_json(r#"{"s": "x"}"#).unwrap(),
        vec!["a", "b", "c"]
    );
    assert!(
        rs.insert("a", Pattern::parse(r#"{"s": ["y"]}"#).unwrap())
            .is_some()
    );
    assert_eq!(rs.matches_json(r#"{"s": "x", "t": 1}"#).unwrap(), vec!["b"]);
    assert!(rs.remove("b").is_some());
    assert_eq!(rs.len(), 2);
    assert_eq!(rs.matches_json(r#"{"s": "y"}"#).unwrap(), vec!["a", "c"]);
    assert_eq!(rs.names().collect::<Vec<_>>(), vec!["a", "c"]);
}

/// All fields share one lookup table: the same text under another field or
/// another operator must not cross over, and rules that need no indexed hit
/// (`exists: false`, `anything-but`, `numeric` only) must still be evaluated.
#[test]
fn rule_set_shared_tables_and_unindexed_rules() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    let rules = [
        ("exact-a", r#"{"a": ["value"]}"#),
        ("exact-b", r#"{"b": ["value"]}"#),
        ("prefix-a", r#"{"a": [{"prefix": "val"}]}"#),
        ("suffix-a", r#"{"a": [{"suffix": "lue"}]}"#),
        ("eqic-a", r#"{"a": [{"equals-ignore-case": "VALUE"}]}"#),
        ("long-a", r#"{"a": ["a-much-longer-value-than-eight"]}"#),
        ("long-prefix", r#"{"a": [{"prefix": "a-much-longer-"}]}"#),
        ("nested-key", r#"{"detail": {"instance-id": ["i-1"]}}"#),
        ("absent-c", r#"{"c": [{"exists": false}]}"#),
        ("not-x-on-c", r#"{"c": [{"anything-but": "x"}]}"#),
        ("num-d", r#"{"d": [{"numeric": [">", 5]}]}"#),
    ];
    for (name, text) in rules {
        rs.insert(name, Pattern::parse(text).unwrap());
    }
    let m = |ev: &str| rs.matches_json(ev).unwrap();
    assert_eq!(
        m(r#"{"a": "value"}"#),
        vec!["exact-a", "prefix-a", "suffix-a", "eqic-a", "absent-c"]
    );
    assert_eq!(m(r#"{"b": "value"}"#), vec!["exact-b", "absent-c"]);
    assert_eq!(m(r#"{"a": "VaLuE"}"#), vec!["eqic-a", "absent-c"]);
    assert_eq!(
        m(r#"{"a": "a-much-longer-value-than-eight"}"#),
        vec!["long-a", "long-prefix", "absent-c"]
    );
    assert_eq!(
        m(r#"{"a": "a-much-longer-value-than-eighT"}"#),
        vec!["long-prefix", "absent-c"]
    );
    assert_eq!(
        m(r#"{"detail": {"instance-id": "i-1"}, "c": "y"}"#),
        vec!["nested-key", "not-x-on-c"]
    );
    assert_eq!(
        m(r#"{"detail.instance-id": "i-1", "c": "x"}"#),
        vec!["nested-key"]
    );
    assert_eq!(m(r#"{"d": 6}"#), vec!["absent-c", "num-d"]);
    assert_eq!(m(r#"{"d": 5, "c": null}"#), vec!["not-x-on-c"]);
}

/// A kept leaf is parsed as an IP address once, when the first `cidr` test
/// reads it, and the cached result serves the other `cidr` tests of the same
/// event: several ranges over one field, IPv4 and IPv6, array elements,
/// values that are not addresses, and a field also tested by `prefix`.
#[test]
fn rule_set_cidr_tests_share_one_parse() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    let rules = [
        ("net-10", r#"{"ip": [{"cidr": "10.0.0.0/8"}]}"#),
        ("net-10-1", r#"{"ip": [{"cidr": "10.1.0.0/16"}]}"#),
        ("net-192", r#"{"ip": [{"cidr": "192.168.0.0/16"}]}"#),
        ("net-v6", r#"{"ip": [{"cidr": "2001:db8::/32"}]}"#),
        ("prefix-10", r#"{"ip": [{"prefix": "10."}]}"#),
        (
            "net-and-src",
            r#"{"src": ["a"], "ip": [{"cidr": "10.1.2.0/24"}]}"#,
        ),
    ];
    for (name, text) in rules {
        rs.insert(name, Pattern::parse(text).unwrap());
    }
    let m = |ev: &str| rs.matches_json(ev).unwrap();
    assert_eq!(
        m(r#"{"ip": "10.1.2.3", "src": "a"}"#),
        vec!["net-10", "net-10-1", "prefix-10", "net-and-src"]
    );
    assert_eq!(m(r#"{"ip": "10.2.0.1"}"#), vec!["net-10", "prefix-10"]);
    assert_eq!(
        m(r#"{"ip": ["not-an-ip", "192.168.1.1", "2001:db8::5", 10]}"#),
        vec!["net-192", "net-v6"]
    );
    assert_eq!(m(r#"{"ip": "10.0.0.256"}"#), vec!["prefix-10"]);
    assert_eq!(m(r#"{"ip": true}"#), Vec::<&str>::new());
    // The same answers when the events come one after another (nothing
    // cached from one event leaks into the next).
    for _ in 0..2 {
        assert_eq!(m(r#"{"ip": "192.168.0.9"}"#), vec!["net-192"]);
        assert_eq!(
            m(r#"{"ip": "10.1.9.9"}"#),
            vec!["net-10", "net-10-1", "prefix-10"]
        );
    }
}

/// Branches that share tests: a hit is recorded once per test, and each
/// branch is looked at under one of its tests (the least shared) and then
/// checked on the others, the least shared first. Covers branches with one,
/// two and three indexed tests, tests shared between rules (also by a rule's
/// two `$or` branches), hits inside and outside arrays, and rules added after
/// an evaluation (the choice of test is then made again).
#[test]
fn rule_set_shared_tests_and_anchors() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    let rules = [
        ("src", r#"{"source": ["s"]}"#),
        ("src-type", r#"{"source": ["s"], "type": ["t"]}"#),
        ("src-type-2", r#"{"source": ["s"], "type": ["t"]}"#),
        (
            "src-type-x",
            r#"{"source": ["s"], "type": ["t"], "x": [1]}"#,
        ),
        ("src-x", r#"{"source": ["s", "s2"], "x": [1, 2]}"#),
        (
            "or",
            r#"{"source": ["s"], "$or": [{"type": ["t"]}, {"x": [2]}]}"#,
        ),
        (
            "type-num",
            r#"{"type": ["t"], "n": [{"numeric": [">", 5]}]}"#,
        ),
        ("arr", r#"{"items": {"a": ["p"], "b": ["q"]}}"#),
    ];
    for (name, text) in rules {
        rs.insert(name, Pattern::parse(text).unwrap());
    }
    fn m(rs: &RuleSet, ev: &str) -> Vec<String> {
        let names = rs.matches_json(ev).unwrap();
        names.into_iter().map(str::to_string).collect()
    }
    assert_eq!(m(&rs, r#"{"source": "s"}"#), vec!["src"]);
    assert_eq!(
        m(&rs, r#"{"source": "s", "type": "t"}"#),
        vec!["src", "src-type", "src-type-2", "or"]
    );
    assert_eq!(
        m(&rs, r#"{"source": "s", "type": "t", "x": 1, "n": 6}"#),
        vec![
            "src",
            "src-type",
            "src-type-2",
            "src-type-x",
            "src-x",
            "or",
            "type-num"
        ]
    );
    assert_eq!(
        m(&rs, r#"{"source": "s2", "type": "t", "x": [3, 2]}"#),
        vec!["src-x"]
    );
    assert_eq!(
        m(&rs, r#"{"source": "s", "x": 2}"#),
        vec!["src", "src-x", "or"]
    );
    assert_eq!(
        m(&rs, r#"{"type": "t", "x": 1, "n": 5}"#),
        Vec::<&str>::new()
    );
    // The same tests inside arrays: one element must carry both values.
    assert_eq!(
        m(&rs, r#"{"items": [{"a": "p"}, {"b": "q"}]}"#),
        Vec::<&str>::new()
    );
    assert_eq!(m(&rs, r#"{"items": [{"a": "p", "b": "q"}]}"#), vec!["arr"]);
    assert_eq!(
        m(&rs, r#"{"source": ["x", "s"], "type": ["t"]}"#),
        vec!["src", "src-type", "src-type-2", "or"]
    );
    // More rules on the same tests after evaluations; then a replacement
    // and a removal.
    for i in 0..20 {
        rs.insert(
            format!("more-{i}"),
            Pattern::parse(r#"{"type": ["t"], "x": [1]}"#).unwrap(),
        );
    }
    let got = m(&rs, r#"{"type": "t", "x": 1}"#);
    assert_eq!(got.len(), 20);
    assert!(got.iter().all(|n| n.starts_with("more-")));
    assert_eq!(
        m(&rs, r#"{"source": "s", "type": "t"}"#),
        vec!["src", "src-type", "src-type-2", "or"]
    );
    rs.insert(
        "src",
        Pattern::parse(r#"{"source": ["s"], "x": [9]}"#).unwrap(),
    );
    assert!(rs.remove("src-type-2").is_some());
    assert_eq!(
        m(&rs, r#"{"source": "s", "type": "t"}"#),
        vec!["src-type", "or"]
    );
    assert_eq!(m(&rs, r#"{"source": "s", "x": 9}"#), vec!["src"]);
}

/// `exists: true` next to indexed value tests is an ordinary indexed test
/// (shared by the rules that have it, never their anchor while they have a
/// value test): present, absent, inside arrays (array consistency), and a
/// rule made of `exists: true` alone.
#[test]
fn rule_set_exists_beside_indexed_tests() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    let rules = [
        (
            "flag-tag",
            r#"{"s": ["x"], "d": {"flag": [{"exists": true}], "tag": ["a"]}}"#,
        ),
        (
            "flag-tag-2",
            r#"{"d": {"flag": [{"exists": true}], "tag": ["a"]}}"#,
        ),
        ("flag-only", r#"{"d": {"flag": [{"exists": true}]}}"#),
        (
            "flag-b",
            r#"{"d": {"flag": [{"exists": true}], "tag": ["b"]}}"#,
        ),
        (
            "item",
            r#"{"items": {"flag": [{"exists": true}], "k": ["v"]}}"#,
        ),
        (
            "flag-not-tag",
            r#"{"d": {"flag": [{"exists": true}], "tag": [{"exists": false}]}}"#,
        ),
    ];
    for (name, text) in rules {
        rs.insert(name, Pattern::parse(text).unwrap());
    }
    fn m(rs: &RuleSet, ev: &str) -> Vec<String> {
        let names = rs.matches_json(ev).unwrap();
        names.into_iter().map(str::to_string).collect()
    }
    assert_eq!(
        m(&rs, r#"{"s": "x", "d": {"flag": false, "tag": "a"}}"#),
        vec!["flag-tag", "flag-tag-2", "flag-only"]
    );
    assert_eq!(
        m(&rs, r#"{"s": "x", "d": {"tag": "a"}}"#),
        Vec::<&str>::new()
    );
    assert_eq!(
        m(&rs, r#"{"d": {"flag": null, "tag": ["c", "b"]}}"#),
        vec!["flag-only", "flag-b"]
    );
    assert_eq!(
        m(&rs, r#"{"d": {"flag": {"x": 1}, "tag": "a"}}"#),
        Vec::<&str>::new()
    );
    assert_eq!(
        m(&rs, r#"{"d": {"flag": [1, 2]}}"#),
        vec!["flag-only", "flag-not-tag"]
    );
    // One element of the array must have both.
    assert_eq!(
        m(&rs, r#"{"items": [{"flag": 1}, {"k": "v"}]}"#),
        Vec::<&str>::new()
    );
    assert_eq!(
        m(&rs, r#"{"items": [{"k": "w"}, {"flag": 1, "k": "v"}]}"#),
        vec!["item"]
    );
}

/// More nested intervals on one field than the engine indexes (the rest are
/// evaluated per candidate): every rule still answers as its range says.
#[test]
fn many_nested_ranges_on_one_field() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    for i in 0..600u32 {
        let num = format!(
            r#"{{"n": [{{"numeric": [">", {i}, "<=", {}]}}], "ip": [{{"cidr": "10.0.{}.{}/24"}}]}}"#,
            2000 - i,
            i / 256,
            i % 256
        );
        rs.insert(format!("r{i}"), Pattern::parse(&num).unwrap());
    }
    for (v, last_octets) in [
        (0u32, 0u32),
        (1, 5),
        (300, 255),
        (599, 300),
        (1000, 511),
        (1700, 100),
    ] {
        let ip = format!("10.0.{}.{}", last_octets / 256, last_octets % 256);
        let ev = format!(r#"{{"n": {v}, "ip": "{ip}"}}"#);
        let mut got = rs.matches_json(&ev).unwrap();
        got.sort_unstable();
        // Rule i: i < v <= 2000 - i, and its block (10.0.x.y up to the end of
        // that /24) holds the address.
        let mut want: Vec<String> = (0..600u32)
            .filter(|&i| i < v && v <= 2000 - i)
            .filter(|&i| i / 256 == last_octets / 256 && i % 256 <= last_octets % 256)
            .map(|i| format!("r{i}"))
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "event {ev}");
    }
}

/// Many prefixes and suffixes of a few lengths on one field (each length's
/// keys are screened before they are looked up): every rule still answers
/// as `starts_with` / `ends_with` say.
#[test]
fn many_prefixes_and_suffixes_on_one_field() {
    use stratus_patterns::{Pattern, RuleSet};
    let region = |i: u32| ["us-east-1", "eu-central-1", "ap-southeast-2"][(i % 3) as usize];
    let mut rs = RuleSet::new();
    let mut keys = Vec::new();
    for i in 0..150u32 {
        let (op, key) = if i % 2 == 0 {
            ("prefix", format!("arn:aws:ec2:{}:{}", region(i), i / 6))
        } else {
            ("suffix", format!("{}/i-{:x}", i % 7, i / 2))
        };
        let p = format!(r#"{{"r": [{{"{op}": "{key}"}}]}}"#);
        rs.insert(format!("r{i}"), Pattern::parse(&p).unwrap());
        keys.push((op, key));
    }
    let mut checked = 0;
    for i in 0..150u32 {
        for v in [
            format!("arn:aws:ec2:{}:{}:instance/i-{:x}", region(i), i / 6, i),
            format!(
                "arn:aws:ec2:{}:{}{}/i-{:x}",
                region(i + 1),
                i / 6,
                i % 7,
                i / 2
            ),
            format!("x{}", i % 7),
        ] {
            let ev = format!(r#"{{"r": "{v}"}}"#);
            let mut got = rs.matches_json(&ev).unwrap();
            got.sort_unstable();
            let mut want: Vec<String> = keys
                .iter()
                .enumerate()
                .filter(|(_, (op, k))| match *op {
                    "prefix" => v.starts_with(k.as_str()),
                    _ => v.ends_with(k.as_str()),
                })
                .map(|(j, _)| format!("r{j}"))
                .collect();
            want.sort_unstable();
            checked += usize::from(!want.is_empty());
            assert_eq!(got, want, "event {ev}");
        }
    }
    assert!(checked > 100, "too few matching events: {checked}");
}

/// Leaves of fields that only rules of another `source` test are skipped
/// once `source` has been read; every case where that could go wrong (the
/// field before `source`, `source` twice or in an array, `exists: false`)
/// answers as the rules one by one do.
#[test]
fn rules_of_other_sources_do_not_change_answers() {
    use stratus_patterns::{Pattern, RuleSet};
    let rules = [
        r#"{"source": ["a"], "detail": {"x": ["1"]}}"#,
        r#"{"source": ["b"], "detail": {"x": ["1"]}}"#,
        r#"{"source": ["a"], "detail": {"y": [{"exists": false}]}}"#,
        r#"{"source": ["b"], "detail": {"y": [{"exists": false}]}}"#,
        r#"{"source": ["b"], "detail": {"v": ["3"]}}"#,
        r#"{"detail": {"z": ["2"]}}"#,
        r#"{"source": ["a"], "detail": {"w": [{"numeric": [">", 2, "<", 4]}]}}"#,
    ];
    let mut rs = RuleSet::new();
    let singles: Vec<Pattern> = rules.iter().map(|r| Pattern::parse(r).unwrap()).collect();
    for (i, p) in singles.iter().enumerate() {
        rs.insert(format!("r{i}"), p.clone());
    }
    let events = [
        r#"{"source": "a", "detail": {"x": "1", "z": "2", "w": 3}}"#,
        r#"{"source": "b", "detail": {"x": "1", "z": "2", "y": 1, "w": "3"}}"#,
        r#"{"source": "a", "detail": {"x": "1", "v": "3", "y": 0}, "source": "b"}"#,
        r#"{"source": ["a", "b"], "detail": {"x": "1", "v": "3"}}"#,
        r#"{"detail": {"v": "3", "y": null}, "source": "b"}"#,
        r#"{"source": "c", "detail": {"x": "1", "z": "2"}}"#,
        r#"{"detail": {"x": "1"}}"#,
    ];
    for ev in events {
        assert_as_one_by_one(&rs, &singles, ev);
    }
    // The duplicate key: both values count, as a streaming reader sees them.
    let dup = rs.matches_json(events[2]).unwrap();
    assert!(dup.contains(&"r0") && dup.contains(&"r4"), "{dup:?}");
    // Read after `source`, `v` is needed by a rule of `b` only.
    let only_a = rs
        .matches_json(r#"{"source": "a", "detail": {"v": "3", "y": 1}}"#)
        .unwrap();
    assert!(only_a.is_empty(), "{only_a:?}");
}

/// The gate's field sets span several 64-bit words when there are more
/// than 64 fields: rules on fields past the first word still answer.
#[test]
fn gate_with_more_than_64_fields() {
    use stratus_patterns::{Pattern, RuleSet};
    let mut rs = RuleSet::new();
    for i in 0..150u32 {
        let p = format!(
            r#"{{"source": ["s{}"], "detail": {{"f{i}": ["v"]}}}}"#,
            i % 5
        );
        rs.insert(format!("r{i}"), Pattern::parse(&p).unwrap());
    }
    for src in 0..6u32 {
        let fields: Vec<String> = (0..150).map(|i| format!(r#""f{i}": "v""#)).collect();
        let ev = format!(
            r#"{{"source": "s{src}", "detail": {{{}}}}}"#,
            fields.join(", ")
        );
        let mut got = rs.matches_json(&ev).unwrap();
        got.sort_unstable();
        let mut want: Vec<String> = (0..150u32)
            .filter(|i| i % 5 == src)
            .map(|i| format!("r{i}"))
            .collect();
        want.sort_unstable();
        assert_eq!(got, want, "source s{src}");
    }
}

/// The rule set's answer for `ev` is that of its rules (named `r<i>` after
/// `singles[i]`) matched one by one.
fn assert_as_one_by_one(
    rs: &stratus_patterns::RuleSet,
    singles: &[stratus_patterns::Pattern],
    ev: &str,
) {
    let mut got = rs.matches_json(ev).unwrap();
    got.sort_unstable();
    let want: Vec<String> = singles
        .iter()
        .enumerate()
        .filter(|(_, p)| p.matches_json(ev).unwrap())
        .map(|(i, _)| format!("r{i}"))
        .collect();
    assert_eq!(got, want, "event {ev}");
}

/// Once `source` has been read, objects and arrays that only rules of other
/// sources test are skipped unread; the answers stay those of the rules one
/// by one, also for arrays of objects, `exists: false` below a container,
/// a second `source` after a skipped container, and escaped or bracketed
/// strings inside the skipped text.
#[test]
fn containers_of_other_sources_are_skipped() {
    use stratus_patterns::{Pattern, RuleSet};
    let rules = [
        r#"{"source": ["a"], "detail": {"items": {"sku": ["k1"], "qty": [{"numeric": [">", 1]}]}}}"#,
        r#"{"source": ["a"], "detail": {"tags": ["t"]}}"#,
        r#"{"source": ["b"], "detail": {"user": {"name": [{"prefix": "u"}]}}}"#,
        r#"{"source": ["b"], "detail": {"meta": {"gone": [{"exists": false}]}}}"#,
        r#"{"source": ["b"], "resources": [{"wildcard": "arn:*:x"}]}"#,
        r#"{"detail": {"user": {"email": [{"suffix": "@e.com"}]}}}"#,
    ];
    let mut rs = RuleSet::new();
    let singles: Vec<Pattern> = rules.iter().map(|r| Pattern::parse(r).unwrap()).collect();
    for (i, p) in singles.iter().enumerate() {
        rs.insert(format!("r{i}"), p.clone());
    }
    let detail = r#"{"items": [{"sku": "k1", "qty": 2}, {"sku": "k2", "qty": 0, "x": "]}\"["}],
        "tags": ["t", "u\"]"], "user": {"name": "ux", "email": "z@e.com"},
        "meta": {"gone": 1, "deep": [[{"a": "}"}]]}}"#;
    let events = [
        format!(r#"{{"source": "a", "resources": ["arn:1:x"], "detail": {detail}}}"#),
        format!(r#"{{"source": "b", "resources": ["arn:1:x"], "detail": {detail}}}"#),
        format!(r#"{{"source": "c", "resources": ["arn:1:x"], "detail": {detail}}}"#),
        r#"{"source": "b", "detail": {"meta": {"deep": 1}, "user": {}}}"#.to_string(),
        format!(r#"{{"source": "b", "detail": {detail}, "source": "a"}}"#),
        format!(r#"{{"detail": {detail}, "source": "a"}}"#),
    ];
    for ev in &events {
        assert_as_one_by_one(&rs, &singles, ev);
    }
    assert_eq!(rs.matches_json(&events[0]).unwrap().len(), 3);
    assert_eq!(rs.matches_json(&events[3]).unwrap(), vec!["r3"]);
    // Broken JSON inside a container that is skipped is still an error.
    let broken = r#"{"source": "b", "detail": {"items": [{"sku": "k1"]}, "user": {}}}"#;
    assert!(rs.matches_json(broken).is_err());
}
