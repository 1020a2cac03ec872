use super::FilterPattern;

fn m(pattern: &str, message: &str) -> bool {
    FilterPattern::parse(pattern)
        .unwrap_or_else(|e| panic!("{pattern}: {e}"))
        .matches(message)
}

fn bad(pattern: &str) {
    assert!(
        FilterPattern::parse(pattern).is_err(),
        "{pattern} should not parse"
    );
}

#[test]
fn empty_matches_everything() {
    assert!(m("", "anything"));
    assert!(m("   ", ""));
    assert!(FilterPattern::parse("").unwrap().matches_all());
}

#[test]
fn single_term_is_case_sensitive_and_whole_word() {
    assert!(m("ERROR", "[ERROR 400] BAD REQUEST"));
    assert!(m("ERROR", "ERROR"));
    assert!(!m("ERROR", "error 400"));
    assert!(!m("ERROR", "ERRORS happened"));
    assert!(!m("RROR", "ERROR"));
    assert!(m("404", "GET /x 404 12"));
    assert!(m(
        "NullPointerException",
        "java.lang.NullPointerException: boom"
    ));
}

#[test]
fn several_terms_all_required() {
    assert!(m("ERROR ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS"));
    assert!(!m("ERROR ARGUMENTS", "[ERROR 400] BAD REQUEST"));
    // Order does not matter.
    assert!(m("ARGUMENTS ERROR", "[ERROR 419] MISSING ARGUMENTS"));
}

#[test]
fn quoted_phrase() {
    assert!(m(
        "\"INTERNAL SERVER ERROR\"",
        "[ERROR 500] INTERNAL SERVER ERROR"
    ));
    assert!(!m(
        "\"SERVER INTERNAL\"",
        "[ERROR 500] INTERNAL SERVER ERROR"
    ));
    assert!(m(
        "\"Task timed out\"",
        "2024 Task timed out after 3.00 seconds"
    ));
    assert!(m("\"[ERROR]\"", "x [ERROR] y"));
    assert!(m("\"say \\\"hi\\\"\"", "they say \"hi\" now"));
}

#[test]
fn alternatives() {
    assert!(m("?ERROR ?WARN", "WARN disk"));
    assert!(m("?ERROR ?WARN", "ERROR disk"));
    assert!(!m("?ERROR ?WARN", "INFO disk"));
    // `?` starts a group: (ERROR and Main) or (WARN and Deadlock).
    assert!(m("?ERROR Main ?WARN Deadlock", "WARN Deadlock found"));
    assert!(!m("?ERROR Main ?WARN Deadlock", "WARN Main"));
    assert!(m("?\"disk full\" ?oom", "the disk full again"));
}

#[test]
fn exclusions() {
    assert!(m("ERROR -ARGUMENTS", "[ERROR 400] BAD REQUEST"));
    assert!(!m("ERROR -ARGUMENTS", "[ERROR 419] MISSING ARGUMENTS"));
    assert!(m("-DEBUG", "INFO x"));
    assert!(!m("-DEBUG", "DEBUG x"));
    assert!(!m("ERROR -\"BAD REQUEST\"", "[ERROR 400] BAD REQUEST"));
}

#[test]
fn regex_terms() {
    assert!(m("%AUTHORIZED%", "[ERROR 401] UNAUTHORIZED REQUEST"));
    assert!(m("%AUTHORIZED%", "[SUCCESS 200] AUTHORIZED REQUEST"));
    assert!(m("%ERROR [0-9]{3}%", "[ERROR 401] x"));
    assert!(!m("%^ERROR%", "[ERROR 401] x"));
    assert!(m("%colou?r%", "a color"));
    assert!(m("%gray|grey%", "grey area"));
    bad("%(a|b)%");
    bad("%something!%");
    bad("%unterminated");
}

#[test]
fn json_string_equality_and_wildcards() {
    let msg = r#"{"eventType":"UpdateTrail","level":"error","user":{"name":"ann"},"code":200}"#;
    assert!(m(r#"{ $.eventType = "UpdateTrail" }"#, msg));
    assert!(m(r#"{$.eventType="UpdateTrail"}"#, msg));
    assert!(m("{ $.eventType = UpdateTrail }", msg));
    assert!(!m(r#"{ $.eventType = "Update" }"#, msg));
    assert!(m(r#"{ $.eventType = "Update*" }"#, msg));
    assert!(m(r#"{ $.eventType = "*Trail" }"#, msg));
    assert!(m(r#"{ $.eventType = "U*T*l" }"#, msg));
    assert!(m(r#"{ $.eventType != "DeleteTrail" }"#, msg));
    assert!(!m(r#"{ $.eventType != "UpdateTrail" }"#, msg));
    assert!(m(r#"{ $.user.name = "ann" }"#, msg));
    assert!(m(r#"{ $.user.name = * }"#, msg));
    assert!(!m(r#"{ $.missing = * }"#, msg));
    // A missing property never matches, not even with !=.
    assert!(!m(r#"{ $.missing != "x" }"#, msg));
    // Not JSON: no match.
    assert!(!m(r#"{ $.level = "error" }"#, "level=error"));
}

#[test]
fn json_numbers() {
    let msg = r#"{"latency":150,"bandwidth":75.5,"code":404,"neg":-3}"#;
    assert!(m("{ $.latency > 100 }", msg));
    assert!(!m("{ $.latency < 100 }", msg));
    assert!(m("{ $.latency >= 150 }", msg));
    assert!(m("{ $.latency <= 150 }", msg));
    assert!(m("{ $.latency = 150 }", msg));
    assert!(m("{ $.latency = 150.0 }", msg));
    assert!(m("{ $.latency != 151 }", msg));
    assert!(m("{ $.bandwidth > 75 }", msg));
    assert!(m("{ $.neg < -2 }", msg));
    assert!(m("{ $.code = 4* }", msg));
    assert!(m("{ $.latency > 1e2 }", msg));
    bad("{ $.latency > abc }");
}

#[test]
fn json_and_or_parentheses() {
    let msg = r#"{"a":1,"b":"x","c":true}"#;
    assert!(m(r#"{ $.a = 1 && $.b = "x" }"#, msg));
    assert!(!m(r#"{ $.a = 2 && $.b = "x" }"#, msg));
    assert!(m(r#"{ $.a = 2 || $.b = "x" }"#, msg));
    assert!(m(r#"{ ($.a = 2 || $.b = "x") && $.c IS TRUE }"#, msg));
    assert!(!m(r#"{ ($.a = 2 || $.b = "y") && $.c IS TRUE }"#, msg));
    // && binds tighter than ||.
    assert!(m(r#"{ $.a = 1 || $.a = 2 && $.b = "nope" }"#, msg));
    assert!(m(r#"{ (($.a = 1)) }"#, msg));
}

#[test]
fn json_null_exists_booleans() {
    let msg = r#"{"src":null,"ok":true,"bad":false}"#;
    assert!(m("{ $.src IS NULL }", msg));
    assert!(!m("{ $.ok IS NULL }", msg));
    assert!(!m("{ $.nothing IS NULL }", msg));
    assert!(m("{ $.nothing NOT EXISTS }", msg));
    assert!(!m("{ $.src NOT EXISTS }", msg));
    assert!(m("{ $.ok IS TRUE }", msg));
    assert!(m("{ $.bad IS FALSE }", msg));
    assert!(!m("{ $.bad IS TRUE }", msg));
    assert!(m("{ $.ok EXISTS }", msg));
    assert!(!m("{ $.src = * }", msg));
}

#[test]
fn json_arrays() {
    let msg = r#"{"users":[{"email":"John.Doe@example.com","id":1},{"email":"x@y","id":2}],"tags":["a","b"]}"#;
    assert!(m(r#"{ $.users[0].email = "John.Doe@example.com" }"#, msg));
    assert!(!m(r#"{ $.users[1].email = "John.Doe@example.com" }"#, msg));
    assert!(m("{ $.users[1].id = 2 }", msg));
    assert!(m("{ $.users[*].id = 2 }", msg));
    assert!(!m("{ $.users[5].id = 2 }", msg));
    assert!(m(r#"{ $.tags[1] = "b" }"#, msg));
    assert!(m(r#"{ $.tags = "b" }"#, msg));
    assert!(m(r#"{ $['users'][0].id = 1 }"#, msg));
}

#[test]
fn json_regex_values() {
    let msg = r#"{"path":"/api/v1/users","status":503}"#;
    assert!(m("{ $.path = %^/api/v[0-9]+/% }", msg));
    assert!(!m("{ $.path != %users% }", msg));
    assert!(m("{ $.status = %5[0-9]{2}% }", msg));
}

#[test]
fn json_parse_errors() {
    bad("{ $.a = 1");
    bad("{ a = 1 }");
    bad("{ $.a }");
    bad("{ $.a IS MAYBE }");
    bad("{ $.a = 1 } trailing");
    bad("{ ($.a = 1 }");
}

#[test]
fn delimited_basic() {
    let line =
        r#"127.0.0.1 - frank [10/Oct/2000:13:25:15 -0700] "GET /apache_pb.gif HTTP/1.0" 404 1534"#;
    let all = "[ip, user, username, timestamp, request, status_code, bytes]";
    assert!(m(all, line));
    assert!(m(
        "[ip, user, username, timestamp, request, status_code=404, bytes]",
        line
    ));
    assert!(!m(
        "[ip, user, username, timestamp, request, status_code=200, bytes]",
        line
    ));
    assert!(m("[ip, user, ..., status_code=4*, size>1000]", line));
    assert!(!m("[ip, user, ..., status_code=4*, size>2000]", line));
    assert!(m("[..., status_code != 200, bytes]", line));
    assert!(m("[ip=127.0.0.1, ...]", line));
    assert!(m(
        r#"[ip, user, username, timestamp, request="GET *", ...]"#,
        line
    ));
    assert!(m("[ip, ..., size >= 1534]", line));
    assert!(m("[ip, ..., status_code = %4[0-9]{2}%, size]", line));
    // Wrong column count without an ellipsis.
    assert!(!m("[ip, user, username]", line));
    assert!(!m("[a, b, c, d, e, f, g, h]", line));
}

#[test]
fn delimited_and_or_within_a_field() {
    let line = "ERROR 503 12";
    assert!(m("[level, code = 5* && code != 500, n]", line));
    assert!(!m("[level, code = 5* && code != 503, n]", line));
    assert!(m("[level, code = 404 || code = 503, n]", line));
    assert!(!m("[level, code = 404 || code = 500, n]", line));
    bad("[level, code = 404 || other = 3, n]");
}

#[test]
fn delimited_extract_values() {
    let p = FilterPattern::parse("[ip, user, ..., status, size]").unwrap();
    let got = p.extract("1.2.3.4 bob x y 200 99").unwrap();
    assert_eq!(got.get("$ip").map(String::as_str), Some("1.2.3.4"));
    assert_eq!(got.get("$user").map(String::as_str), Some("bob"));
    assert_eq!(got.get("$status").map(String::as_str), Some("200"));
    assert_eq!(got.get("$size").map(String::as_str), Some("99"));
    assert_eq!(got.len(), 4);
    assert!(p.extract("too short").is_none());
    assert!(p.can_extract("$size"));
    assert!(!p.can_extract("$nope"));
}

#[test]
fn json_extract_values() {
    let p = FilterPattern::parse("{ $.latency > 10 }").unwrap();
    let got = p.extract(r#"{"latency": 42}"#).unwrap();
    assert_eq!(got.get("$.latency").map(String::as_str), Some("42"));
    assert!(p.extract(r#"{"latency": 1}"#).is_none());
}

#[test]
fn delimited_parse_errors() {
    bad("[a, , b]");
    bad("[a, b");
    bad("[a > x]");
    bad("[a] extra");
}

#[test]
fn terms_parse_errors() {
    bad("\"unterminated");
    bad("? ");
}
