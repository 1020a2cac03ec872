//! Service-level tests through `Service::call` with wire-shaped documents.

use std::sync::Arc;

use serde_json::{Value, json};
use stratus_core::{AwsError, Registry, RequestContext, Service};
use stratus_store::{MemoryStore, RetainingStore, Store};

use crate::service::LogsService;
use stratus_core::clock::ManualClock;

const DAY: i64 = 86_400_000;
const T0: i64 = 1_700_000_000_000;

struct Fixture {
    svc: Arc<LogsService>,
    clock: Arc<ManualClock>,
    ctx: RequestContext,
}

impl Fixture {
    fn new() -> Self {
        Self::with_store(Arc::new(MemoryStore), Arc::new(ManualClock::new(T0)))
    }

    fn with_store(store: Arc<dyn Store>, clock: Arc<ManualClock>) -> Self {
        let svc = LogsService::with_clock(store, clock.clone()).unwrap();
        Self {
            svc,
            clock,
            ctx: RequestContext::new("123456789012", "us-east-1"),
        }
    }

    async fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.svc.call(&self.ctx, op, input).await
    }

    async fn ok(&self, op: &str, input: Value) -> Value {
        self.call(op, input)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    async fn err(&self, op: &str, input: Value) -> AwsError {
        match self.call(op, input).await {
            Ok(v) => panic!("{op} should fail, got {v}"),
            Err(e) => e,
        }
    }

    async fn group_and_stream(&self, g: &str, s: &str) {
        self.ok("CreateLogGroup", json!({"logGroupName": g})).await;
        self.ok(
            "CreateLogStream",
            json!({"logGroupName": g, "logStreamName": s}),
        )
        .await;
    }

    async fn put(&self, g: &str, s: &str, events: &[(i64, &str)]) -> Value {
        let evs: Vec<Value> = events
            .iter()
            .map(|(t, m)| json!({"timestamp": t, "message": m}))
            .collect();
        self.ok(
            "PutLogEvents",
            json!({"logGroupName": g, "logStreamName": s, "logEvents": evs}),
        )
        .await
    }
}

fn messages(v: &Value) -> Vec<String> {
    v["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn create_and_describe_groups() {
    let f = Fixture::new();
    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "/app/one", "tags": {"team": "a"}, "kmsKeyId": "arn:aws:kms:us-east-1:123456789012:key/k", "logGroupClass": "INFREQUENT_ACCESS"}),
    )
    .await;
    let e = f
        .err("CreateLogGroup", json!({"logGroupName": "/app/one"}))
        .await;
    assert_eq!(e.code, "ResourceAlreadyExistsException");
    assert_eq!(e.message, "The specified log group already exists");
    let e = f
        .err("CreateLogGroup", json!({"logGroupName": "bad:name"}))
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    assert!(
        e.message
            .contains("Member must satisfy regular expression pattern"),
        "{}",
        e.message
    );
    let e = f
        .err("CreateLogGroup", json!({"logGroupName": "aws/mine"}))
        .await;
    assert_eq!(e.code, "InvalidParameterException");

    let out = f.ok("DescribeLogGroups", json!({})).await;
    let g = &out["logGroups"][0];
    assert_eq!(g["logGroupName"], "/app/one");
    assert_eq!(
        g["arn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:/app/one:*"
    );
    assert_eq!(
        g["logGroupArn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:/app/one"
    );
    assert_eq!(g["creationTime"], T0);
    assert_eq!(g["storedBytes"], 0);
    assert_eq!(g["metricFilterCount"], 0);
    assert_eq!(g["logGroupClass"], "INFREQUENT_ACCESS");
    assert_eq!(g["kmsKeyId"], "arn:aws:kms:us-east-1:123456789012:key/k");
    assert!(g.get("retentionInDays").is_none());

    // Other accounts and regions see nothing.
    let other = RequestContext::new("210987654321", "us-east-1");
    let out = f
        .svc
        .call(&other, "DescribeLogGroups", json!({}))
        .await
        .unwrap();
    assert_eq!(out["logGroups"], json!([]));
}

#[tokio::test]
async fn describe_groups_prefix_pattern_and_pages() {
    let f = Fixture::new();
    for n in ["/a/1", "/a/2", "/a/3", "/b/DataLogs", "/b/datalogs", "c"] {
        f.ok("CreateLogGroup", json!({"logGroupName": n})).await;
    }
    let out = f
        .ok("DescribeLogGroups", json!({"logGroupNamePrefix": "/a/"}))
        .await;
    assert_eq!(out["logGroups"].as_array().unwrap().len(), 3);

    let out = f
        .ok(
            "DescribeLogGroups",
            json!({"logGroupNamePattern": "DataLogs"}),
        )
        .await;
    let groups = out["logGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["logGroupName"], "/b/DataLogs");
    // Pattern mode returns only name, ARN and creation time.
    assert!(groups[0].get("storedBytes").is_none());
    assert!(groups[0].get("arn").is_some());

    let e = f
        .err(
            "DescribeLogGroups",
            json!({"logGroupNamePattern": "x", "logGroupNamePrefix": "y"}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");

    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"limit": 4});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let out = f.ok("DescribeLogGroups", req).await;
        for g in out["logGroups"].as_array().unwrap() {
            names.push(g["logGroupName"].as_str().unwrap().to_string());
        }
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(
        names,
        ["/a/1", "/a/2", "/a/3", "/b/DataLogs", "/b/datalogs", "c"]
    );
    let e = f.err("DescribeLogGroups", json!({"limit": 51})).await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = f
        .err("DescribeLogGroups", json!({"nextToken": "garbage"}))
        .await;
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test]
async fn delete_group_and_deletion_protection() {
    let f = Fixture::new();
    f.group_and_stream("g", "s").await;
    f.put("g", "s", &[(T0, "hello")]).await;
    f.ok("DeleteLogGroup", json!({"logGroupName": "g"})).await;
    let e = f.err("DeleteLogGroup", json!({"logGroupName": "g"})).await;
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(e.message, "The specified log group does not exist.");
    // Re-created empty.
    f.group_and_stream("g", "s").await;
    let out = f
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s"}),
        )
        .await;
    assert_eq!(out["events"], json!([]));

    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "p", "deletionProtectionEnabled": true}),
    )
    .await;
    let e = f.err("DeleteLogGroup", json!({"logGroupName": "p"})).await;
    assert_eq!(e.code, "ValidationException");
    f.ok(
        "PutLogGroupDeletionProtection",
        json!({"logGroupIdentifier": "p", "deletionProtectionEnabled": false}),
    )
    .await;
    f.ok("DeleteLogGroup", json!({"logGroupName": "p"})).await;
}

#[tokio::test]
async fn streams_lifecycle_and_ordering() {
    let f = Fixture::new();
    f.ok("CreateLogGroup", json!({"logGroupName": "g"})).await;
    for s in ["b", "a", "c"] {
        f.ok(
            "CreateLogStream",
            json!({"logGroupName": "g", "logStreamName": s}),
        )
        .await;
    }
    let e = f
        .err(
            "CreateLogStream",
            json!({"logGroupName": "g", "logStreamName": "a"}),
        )
        .await;
    assert_eq!(e.code, "ResourceAlreadyExistsException");
    assert_eq!(e.message, "The specified log stream already exists");
    let e = f
        .err(
            "CreateLogStream",
            json!({"logGroupName": "nope", "logStreamName": "a"}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = f
        .err(
            "CreateLogStream",
            json!({"logGroupName": "g", "logStreamName": "x:y"}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");

    f.put("g", "c", &[(T0 - 3000, "c1")]).await;
    f.put("g", "a", &[(T0 - 1000, "a1")]).await;
    f.put("g", "b", &[(T0 - 2000, "b1")]).await;

    let names = |v: &Value| -> Vec<String> {
        v["logStreams"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["logStreamName"].as_str().unwrap().to_string())
            .collect()
    };
    let out = f
        .ok("DescribeLogStreams", json!({"logGroupName": "g"}))
        .await;
    assert_eq!(names(&out), ["a", "b", "c"]);
    let s = &out["logStreams"][0];
    assert_eq!(s["firstEventTimestamp"], T0 - 1000);
    assert_eq!(s["lastEventTimestamp"], T0 - 1000);
    assert_eq!(s["lastIngestionTime"], T0);
    assert_eq!(s["storedBytes"], 0);
    assert_eq!(
        s["arn"],
        "arn:aws:logs:us-east-1:123456789012:log-group:g:log-stream:a"
    );
    assert_eq!(s["uploadSequenceToken"].as_str().unwrap().len(), 56);

    let out = f
        .ok(
            "DescribeLogStreams",
            json!({"logGroupName": "g", "orderBy": "LastEventTime", "descending": true}),
        )
        .await;
    assert_eq!(names(&out), ["a", "b", "c"]);
    let out = f
        .ok(
            "DescribeLogStreams",
            json!({"logGroupName": "g", "orderBy": "LastEventTime"}),
        )
        .await;
    assert_eq!(names(&out), ["c", "b", "a"]);
    let e = f
        .err(
            "DescribeLogStreams",
            json!({"logGroupName": "g", "orderBy": "LastEventTime", "logStreamNamePrefix": "a"}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");

    // Pages of one, descending by name, through the ARN identifier.
    let mut got = Vec::new();
    let mut token = None;
    loop {
        let mut req = json!({"logGroupIdentifier": "arn:aws:logs:us-east-1:123456789012:log-group:g:*", "limit": 1, "descending": true});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let out = f.ok("DescribeLogStreams", req).await;
        got.extend(names(&out));
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(got, ["c", "b", "a"]);

    f.ok(
        "DeleteLogStream",
        json!({"logGroupName": "g", "logStreamName": "a"}),
    )
    .await;
    let e = f
        .err(
            "DeleteLogStream",
            json!({"logGroupName": "g", "logStreamName": "a"}),
        )
        .await;
    assert_eq!(e.message, "The specified log stream does not exist.");
    let out = f
        .ok(
            "DescribeLogStreams",
            json!({"logGroupName": "g", "logStreamNamePrefix": "b"}),
        )
        .await;
    assert_eq!(names(&out), ["b"]);
    let out = f.ok("DescribeLogGroups", json!({})).await;
    assert_eq!(out["logGroups"][0]["storedBytes"], 4);
}

#[tokio::test]
async fn put_log_events_rules() {
    let f = Fixture::new();
    f.group_and_stream("g", "s").await;
    let out = f.put("g", "s", &[(T0 - 10, "one"), (T0 - 5, "two")]).await;
    assert_eq!(out["nextSequenceToken"].as_str().unwrap().len(), 56);
    assert!(out.get("rejectedLogEventsInfo").is_none());
    // Sequence tokens are ignored, whatever they say.
    f.ok(
        "PutLogEvents",
        json!({"logGroupName": "g", "logStreamName": "s", "sequenceToken": "bogus", "logEvents": [{"timestamp": T0, "message": "three"}]}),
    )
    .await;

    let e = f
        .err(
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": T0, "message": "b"}, {"timestamp": T0 - 1, "message": "a"}]}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    assert_eq!(
        e.message,
        "Log events in a single PutLogEvents request must be in chronological order."
    );

    let e = f
        .err(
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": T0 - DAY - 1000, "message": "a"}, {"timestamp": T0, "message": "b"}]}),
        )
        .await;
    assert!(
        e.message.contains("cannot span more than 24 hours"),
        "{}",
        e.message
    );

    let big = "x".repeat(1_048_576 - 26 + 1);
    let e = f
        .err(
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": T0, "message": big}]}),
        )
        .await;
    assert_eq!(
        e.message,
        "Upload too large: 1048577 bytes exceeds limit of 1048576"
    );

    let e = f
        .err("PutLogEvents", json!({"logGroupName": "g", "logStreamName": "nope", "logEvents": [{"timestamp": T0, "message": "a"}]}))
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(e.message, "The specified log stream does not exist.");
    let e = f
        .err("PutLogEvents", json!({"logGroupName": "nope", "logStreamName": "s", "logEvents": [{"timestamp": T0, "message": "a"}]}))
        .await;
    assert_eq!(e.message, "The specified log group does not exist.");
    let e = f
        .err(
            "PutLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "logEvents": []}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");

    // Too old, too new: rejected by index while the rest is stored.
    let out = f
        .put(
            "g",
            "s",
            &[
                (T0 - 15 * DAY, "old"),
                (T0 - 15 * DAY + 1, "old2"),
                (T0 + 1, "ok"),
                (T0 + 3 * 3_600_000, "new"),
            ],
        )
        .await;
    assert_eq!(out["rejectedLogEventsInfo"]["tooOldLogEventEndIndex"], 2);
    assert_eq!(out["rejectedLogEventsInfo"]["tooNewLogEventStartIndex"], 3);
    assert!(
        out["rejectedLogEventsInfo"]
            .get("expiredLogEventEndIndex")
            .is_none()
    );
    let out = f
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s", "startFromHead": true}),
        )
        .await;
    assert_eq!(messages(&out), ["one", "two", "three", "ok"]);

    // With a retention period, events before it are "expired".
    f.ok(
        "PutRetentionPolicy",
        json!({"logGroupName": "g", "retentionInDays": 1}),
    )
    .await;
    let out = f
        .put("g", "s", &[(T0 - 2 * DAY, "expired"), (T0 + 2, "fine")])
        .await;
    assert_eq!(out["rejectedLogEventsInfo"]["expiredLogEventEndIndex"], 1);
}

#[tokio::test]
async fn get_log_events_tokens() {
    let f = Fixture::new();
    f.group_and_stream("g", "s").await;
    let evs: Vec<(i64, String)> = (0..10).map(|i| (T0 - 100 + i, format!("m{i}"))).collect();
    let refs: Vec<(i64, &str)> = evs.iter().map(|(t, m)| (*t, m.as_str())).collect();
    f.put("g", "s", &refs).await;
    let base = json!({"logGroupName": "g", "logStreamName": "s"});
    let with = |extra: Value| {
        let mut v = base.clone();
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        v
    };

    // Default: the newest `limit` events, oldest first.
    let out = f.ok("GetLogEvents", with(json!({"limit": 3}))).await;
    assert_eq!(messages(&out), ["m7", "m8", "m9"]);
    let fwd = out["nextForwardToken"].as_str().unwrap().to_string();
    let bwd = out["nextBackwardToken"].as_str().unwrap().to_string();
    assert!(fwd.starts_with("f/") && bwd.starts_with("b/"));

    // Forward at the end: no events and the same token back.
    let out = f
        .ok("GetLogEvents", with(json!({"nextToken": fwd.clone()})))
        .await;
    assert_eq!(out["events"], json!([]));
    assert_eq!(out["nextForwardToken"], fwd.as_str());

    // New events show up from the saved forward token.
    f.put("g", "s", &[(T0, "m10")]).await;
    let out = f.ok("GetLogEvents", with(json!({"nextToken": fwd}))).await;
    assert_eq!(messages(&out), ["m10"]);

    // Backward pages walk to the head, then return the same token.
    let mut got = Vec::new();
    let mut token = bwd;
    loop {
        let out = f
            .ok(
                "GetLogEvents",
                with(json!({"nextToken": token.clone(), "limit": 3})),
            )
            .await;
        let page = messages(&out);
        let next = out["nextBackwardToken"].as_str().unwrap().to_string();
        if page.is_empty() {
            assert_eq!(next, token);
            break;
        }
        got.splice(0..0, page);
        token = next;
    }
    assert_eq!(got, ["m0", "m1", "m2", "m3", "m4", "m5", "m6"]);

    // From the head, forward pages.
    let out = f
        .ok(
            "GetLogEvents",
            with(json!({"startFromHead": true, "limit": 4})),
        )
        .await;
    assert_eq!(messages(&out), ["m0", "m1", "m2", "m3"]);
    let out = f
        .ok(
            "GetLogEvents",
            with(json!({"nextToken": out["nextForwardToken"], "limit": 4})),
        )
        .await;
    assert_eq!(messages(&out), ["m4", "m5", "m6", "m7"]);

    // Time range: start inclusive, end exclusive.
    let out = f
        .ok(
            "GetLogEvents",
            with(json!({"startTime": T0 - 98, "endTime": T0 - 95, "startFromHead": true})),
        )
        .await;
    assert_eq!(messages(&out), ["m2", "m3", "m4"]);

    let e = f
        .err("GetLogEvents", with(json!({"nextToken": "f/bad"})))
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = f
        .err(
            "GetLogEvents",
            json!({"logGroupName": "g", "logStreamName": "zz"}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");
    let e = f
        .err(
            "GetLogEvents",
            json!({"logGroupName": "g", "logGroupIdentifier": "g", "logStreamName": "s"}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test]
async fn filter_log_events_interleaves_and_pages() {
    let f = Fixture::new();
    f.group_and_stream("g", "app-1").await;
    f.ok(
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "app-2"}),
    )
    .await;
    f.ok(
        "CreateLogStream",
        json!({"logGroupName": "g", "logStreamName": "other"}),
    )
    .await;
    f.put(
        "g",
        "app-1",
        &[
            (T0 - 50, "ERROR a1"),
            (T0 - 30, "INFO a2"),
            (T0 - 10, "ERROR a3"),
        ],
    )
    .await;
    f.put("g", "app-2", &[(T0 - 40, "ERROR b1"), (T0 - 20, "INFO b2")])
        .await;
    f.put("g", "other", &[(T0 - 45, "ERROR o1")]).await;

    let out = f.ok("FilterLogEvents", json!({"logGroupName": "g"})).await;
    assert_eq!(
        messages(&out),
        [
            "ERROR a1", "ERROR o1", "ERROR b1", "INFO a2", "INFO b2", "ERROR a3"
        ]
    );
    let e0 = &out["events"][0];
    assert_eq!(e0["logStreamName"], "app-1");
    assert_eq!(e0["timestamp"], T0 - 50);
    assert_eq!(e0["ingestionTime"], T0);
    assert_eq!(e0["eventId"].as_str().unwrap().len(), 56);
    assert!(out.get("nextToken").is_none());

    let out = f
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "g", "filterPattern": "ERROR", "logStreamNamePrefix": "app"}),
        )
        .await;
    assert_eq!(messages(&out), ["ERROR a1", "ERROR b1", "ERROR a3"]);

    let out = f
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "g", "logStreamNames": ["app-2", "missing"]}),
        )
        .await;
    assert_eq!(messages(&out), ["ERROR b1", "INFO b2"]);

    // startTime inclusive, endTime inclusive.
    let out = f
        .ok(
            "FilterLogEvents",
            json!({"logGroupName": "g", "startTime": T0 - 45, "endTime": T0 - 20}),
        )
        .await;
    assert_eq!(
        messages(&out),
        ["ERROR o1", "ERROR b1", "INFO a2", "INFO b2"]
    );

    // Pages of two.
    let mut got = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"logGroupName": "g", "limit": 2});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let out = f.ok("FilterLogEvents", req).await;
        got.extend(messages(&out));
        match out.get("nextToken").and_then(Value::as_str) {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(got.len(), 6);
    assert_eq!(got[5], "ERROR a3");

    let e = f
        .err(
            "FilterLogEvents",
            json!({"logGroupName": "g", "filterPattern": "{ $.a = "}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = f
        .err(
            "FilterLogEvents",
            json!({"logGroupName": "g", "logStreamNames": ["a"], "logStreamNamePrefix": "a"}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = f
        .err("FilterLogEvents", json!({"logGroupName": "missing"}))
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn retention_hides_and_sweeps_old_events() {
    let store = Arc::new(RetainingStore::default());
    let f = Fixture::with_store(store.clone(), Arc::new(ManualClock::new(T0)));
    f.group_and_stream("g", "s").await;
    f.put(
        "g",
        "s",
        &[(T0 - 13 * DAY, "ancient"), (T0 - 13 * DAY + 5, "ancient2")],
    )
    .await;
    f.put("g", "s", &[(T0 - 1000, "recent")]).await;
    assert_eq!(store.rows("logs_events"), 3);

    f.ok(
        "PutRetentionPolicy",
        json!({"logGroupName": "g", "retentionInDays": 1}),
    )
    .await;
    let out = f.ok("DescribeLogGroups", json!({})).await;
    assert_eq!(out["logGroups"][0]["retentionInDays"], 1);
    assert_eq!(out["logGroups"][0]["storedBytes"], 6);
    // Expired immediately and deleted from the store.
    assert_eq!(store.rows("logs_events"), 1);
    let out = f.ok("FilterLogEvents", json!({"logGroupName": "g"})).await;
    assert_eq!(messages(&out), ["recent"]);

    // Time passes: reads hide it at once, the sweep removes it.
    f.clock.advance_millis(DAY);
    let out = f
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "g", "logStreamName": "s"}),
        )
        .await;
    assert_eq!(out["events"], json!([]));
    let h = f.svc.find_group(&f.ctx, "g").unwrap();
    f.svc.expire_group(&h).await;
    assert_eq!(store.rows("logs_events"), 0);

    let e = f
        .err(
            "PutRetentionPolicy",
            json!({"logGroupName": "g", "retentionInDays": 2}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    assert!(
        e.message
            .starts_with("Invalid retention value. Valid values are: [1, 3, 5, 7, 14"),
        "{}",
        e.message
    );
    f.ok("DeleteRetentionPolicy", json!({"logGroupName": "g"}))
        .await;
    let out = f.ok("DescribeLogGroups", json!({})).await;
    assert!(out["logGroups"][0].get("retentionInDays").is_none());
}

#[tokio::test]
async fn state_survives_a_restart() {
    let store = Arc::new(RetainingStore::default());
    let clock = Arc::new(ManualClock::new(T0));
    {
        let f = Fixture::with_store(store.clone(), clock.clone());
        f.ok(
            "CreateLogGroup",
            json!({"logGroupName": "/p/g", "tags": {"k": "v"}}),
        )
        .await;
        f.ok(
            "PutRetentionPolicy",
            json!({"logGroupName": "/p/g", "retentionInDays": 30}),
        )
        .await;
        for s in ["s1", "s2", "gone"] {
            f.ok(
                "CreateLogStream",
                json!({"logGroupName": "/p/g", "logStreamName": s}),
            )
            .await;
        }
        f.put("/p/g", "s1", &[(T0 - 5, "a"), (T0 - 4, "b")]).await;
        f.put("/p/g", "s1", &[(T0 - 9, "older")]).await;
        f.put("/p/g", "s2", &[(T0 - 3, "c")]).await;
        f.put("/p/g", "gone", &[(T0 - 3, "x")]).await;
        f.ok(
            "DeleteLogStream",
            json!({"logGroupName": "/p/g", "logStreamName": "gone"}),
        )
        .await;
        f.ok(
            "PutMetricFilter",
            json!({"logGroupName": "/p/g", "filterName": "errs", "filterPattern": "ERROR", "metricTransformations": [{"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}]}),
        )
        .await;
        f.ok("CreateLogGroup", json!({"logGroupName": "deleted"}))
            .await;
        f.ok("DeleteLogGroup", json!({"logGroupName": "deleted"}))
            .await;
    }
    let f = Fixture::with_store(store.clone(), clock);
    let out = f.ok("DescribeLogGroups", json!({})).await;
    let groups = out["logGroups"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["retentionInDays"], 30);
    assert_eq!(groups[0]["metricFilterCount"], 1);
    assert_eq!(groups[0]["storedBytes"], 8);
    let out = f
        .ok("ListTagsLogGroup", json!({"logGroupName": "/p/g"}))
        .await;
    assert_eq!(out["tags"], json!({"k": "v"}));
    let out = f
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "/p/g", "logStreamName": "s1", "startFromHead": true}),
        )
        .await;
    assert_eq!(messages(&out), ["older", "a", "b"]);
    let out = f
        .ok("DescribeLogStreams", json!({"logGroupName": "/p/g"}))
        .await;
    assert_eq!(out["logStreams"].as_array().unwrap().len(), 2);
    assert_eq!(out["logStreams"][0]["lastIngestionTime"], T0);
    // Event ids keep increasing after the restart.
    let before = f
        .ok("FilterLogEvents", json!({"logGroupName": "/p/g"}))
        .await;
    f.put("/p/g", "s2", &[(T0, "after")]).await;
    let after = f
        .ok("FilterLogEvents", json!({"logGroupName": "/p/g"}))
        .await;
    let ids: Vec<&str> = after["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["eventId"].as_str().unwrap())
        .collect();
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len());
    assert_eq!(before["events"].as_array().unwrap().len() + 1, ids.len());
    // The deleted stream's events are gone from the store.
    assert_eq!(store.rows("logs_events"), 5);
}

#[tokio::test]
async fn metric_and_subscription_filters() {
    let f = Fixture::new();
    f.ok("CreateLogGroup", json!({"logGroupName": "g"})).await;
    let mf = |name: &str, pattern: &str, value: &str| {
        json!({"logGroupName": "g", "filterName": name, "filterPattern": pattern,
               "metricTransformations": [{"metricName": "M", "metricNamespace": "NS", "metricValue": value}]})
    };
    f.ok("PutMetricFilter", mf("a", "ERROR", "1")).await;
    f.ok(
        "PutMetricFilter",
        mf("b", "[ip, user, status, size]", "$size"),
    )
    .await;
    f.ok("PutMetricFilter", mf("c", "{ $.latency > 0 }", "$.latency"))
        .await;
    let e = f
        .err("PutMetricFilter", mf("d", "[ip, user]", "$size"))
        .await;
    assert_eq!(e.code, "InvalidParameterException");
    let e = f.err("PutMetricFilter", mf("d", "{ $.x = ", "1")).await;
    assert_eq!(e.code, "InvalidParameterException");
    let out = f
        .ok("DescribeMetricFilters", json!({"logGroupName": "g"}))
        .await;
    assert_eq!(out["metricFilters"].as_array().unwrap().len(), 3);
    assert_eq!(out["metricFilters"][1]["filterName"], "b");
    assert_eq!(
        out["metricFilters"][1]["metricTransformations"][0]["metricValue"],
        "$size"
    );
    let out = f
        .ok(
            "DescribeMetricFilters",
            json!({"logGroupName": "g", "filterNamePrefix": "c"}),
        )
        .await;
    assert_eq!(out["metricFilters"].as_array().unwrap().len(), 1);
    let out = f.ok("DescribeMetricFilters", json!({"limit": 2})).await;
    assert_eq!(out["metricFilters"].as_array().unwrap().len(), 2);
    let out = f
        .ok(
            "DescribeMetricFilters",
            json!({"limit": 2, "nextToken": out["nextToken"]}),
        )
        .await;
    assert_eq!(out["metricFilters"][0]["filterName"], "c");
    f.ok(
        "DeleteMetricFilter",
        json!({"logGroupName": "g", "filterName": "a"}),
    )
    .await;
    let e = f
        .err(
            "DeleteMetricFilter",
            json!({"logGroupName": "g", "filterName": "a"}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");

    let out = f
        .ok(
            "TestMetricFilter",
            json!({"filterPattern": "[ip, user, status=4*, size]", "logEventMessages": ["1.1.1.1 bob 404 10", "1.1.1.1 bob 200 10"]}),
        )
        .await;
    assert_eq!(out["matches"].as_array().unwrap().len(), 1);
    assert_eq!(out["matches"][0]["eventNumber"], 1);
    assert_eq!(out["matches"][0]["extractedValues"]["$status"], "404");

    let sf = |name: &str| {
        json!({"logGroupName": "g", "filterName": name, "filterPattern": "",
               "destinationArn": "arn:aws:lambda:us-east-1:123456789012:function:f"})
    };
    f.ok("PutSubscriptionFilter", sf("one")).await;
    f.ok("PutSubscriptionFilter", sf("two")).await;
    f.ok("PutSubscriptionFilter", sf("two")).await;
    let e = f.err("PutSubscriptionFilter", sf("three")).await;
    assert_eq!(e.code, "LimitExceededException");
    let out = f
        .ok("DescribeSubscriptionFilters", json!({"logGroupName": "g"}))
        .await;
    let subs = out["subscriptionFilters"].as_array().unwrap();
    assert_eq!(subs.len(), 2);
    assert_eq!(subs[0]["distribution"], "ByLogStream");
    assert_eq!(
        subs[0]["destinationArn"],
        "arn:aws:lambda:us-east-1:123456789012:function:f"
    );
    f.ok(
        "DeleteSubscriptionFilter",
        json!({"logGroupName": "g", "filterName": "one"}),
    )
    .await;
    let e = f
        .err(
            "DeleteSubscriptionFilter",
            json!({"logGroupName": "g", "filterName": "one"}),
        )
        .await;
    assert_eq!(
        e.message,
        "The specified subscription filter does not exist."
    );
}

#[tokio::test]
async fn tags_by_arn_and_by_name() {
    let f = Fixture::new();
    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "g", "tags": {"a": "1"}}),
    )
    .await;
    let arn = "arn:aws:logs:us-east-1:123456789012:log-group:g";
    f.ok(
        "TagResource",
        json!({"resourceArn": arn, "tags": {"b": "2"}}),
    )
    .await;
    f.ok(
        "TagLogGroup",
        json!({"logGroupName": "g", "tags": {"c": "3"}}),
    )
    .await;
    let out = f
        .ok(
            "ListTagsForResource",
            json!({"resourceArn": format!("{arn}:*")}),
        )
        .await;
    assert_eq!(out["tags"], json!({"a": "1", "b": "2", "c": "3"}));
    f.ok(
        "UntagResource",
        json!({"resourceArn": arn, "tagKeys": ["a"]}),
    )
    .await;
    f.ok("UntagLogGroup", json!({"logGroupName": "g", "tags": ["b"]}))
        .await;
    let out = f.ok("ListTagsLogGroup", json!({"logGroupName": "g"})).await;
    assert_eq!(out["tags"], json!({"c": "3"}));
    let e = f
        .err(
            "ListTagsForResource",
            json!({"resourceArn": "arn:aws:logs:us-east-1:123456789012:log-group:nope"}),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");
    let many: serde_json::Map<String, Value> =
        (0..50).map(|i| (format!("k{i}"), json!("v"))).collect();
    let e = f
        .err("TagResource", json!({"resourceArn": arn, "tags": many}))
        .await;
    assert_eq!(e.code, "TooManyTagsException");
    let e = f
        .err(
            "TagResource",
            json!({"resourceArn": arn, "tags": {"aws:x": "1"}}),
        )
        .await;
    assert_eq!(e.code, "InvalidParameterException");
}

#[tokio::test]
async fn append_helper_creates_group_and_stream() {
    let f = Fixture::new();
    let mut registry = Registry::new();
    registry.register("logs", f.svc.clone());
    let client = crate::LogsClient {
        registry: &registry,
        ctx: &f.ctx,
    };
    let n = crate::append_events(
        &client,
        "/aws/lambda/fn",
        "2024/01/01/[$LATEST]abc",
        vec![
            (T0 - 1, "second".into()),
            (T0 - 2, "first".into()),
            (T0, String::new()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(n, 2);
    let n = crate::append_events(
        &client,
        "/aws/lambda/fn",
        "2024/01/01/[$LATEST]abc",
        vec![(T0, "third".into())],
    )
    .await
    .unwrap();
    assert_eq!(n, 1);
    let out = f
        .ok(
            "GetLogEvents",
            json!({"logGroupName": "/aws/lambda/fn", "logStreamName": "2024/01/01/[$LATEST]abc", "startFromHead": true}),
        )
        .await;
    assert_eq!(messages(&out), ["first", "second", "third"]);
}

#[tokio::test]
async fn insights_queries_are_not_implemented() {
    let f = Fixture::new();
    let e = f
        .err("StartQuery", json!({"logGroupName": "g", "startTime": 0, "endTime": 1, "queryString": "fields @message"}))
        .await;
    assert_eq!(e.code, "NotImplemented");
    assert_eq!(e.status, 501);
}

#[tokio::test]
async fn list_log_groups_patterns_tags_and_pages() {
    let f = Fixture::new();
    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "/aws/lambda/one", "tags": {"env": "prod"}}),
    )
    .await;
    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "/aws/lambda/two", "tags": {"env": "dev"}}),
    )
    .await;
    f.ok(
        "CreateLogGroup",
        json!({"logGroupName": "discovery-x", "logGroupClass": "INFREQUENT_ACCESS"}),
    )
    .await;
    f.ok("CreateLogGroup", json!({"logGroupName": "zzz"})).await;
    let names = |v: &Value| -> Vec<String> {
        v["logGroups"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| g["logGroupName"].as_str().unwrap().to_string())
            .collect()
    };
    let out = f
        .ok(
            "ListLogGroups",
            json!({"logGroupNamePattern": "^/aws/lambda|discovery"}),
        )
        .await;
    assert_eq!(
        names(&out),
        ["/aws/lambda/one", "/aws/lambda/two", "discovery-x"]
    );
    assert_eq!(
        out["logGroups"][0],
        json!({"logGroupName": "/aws/lambda/one", "logGroupArn": "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/one", "logGroupClass": "STANDARD"})
    );
    let out = f
        .ok("ListLogGroups", json!({"logGroupNamePattern": "^lambda"}))
        .await;
    assert_eq!(names(&out), Vec::<String>::new());
    let out = f
        .ok(
            "ListLogGroups",
            json!({"logGroupClass": "INFREQUENT_ACCESS"}),
        )
        .await;
    assert_eq!(names(&out), ["discovery-x"]);
    let out = f
        .ok(
            "ListLogGroups",
            json!({"logGroupTags": [{"key": "env", "values": ["dev"]}]}),
        )
        .await;
    assert_eq!(names(&out), ["/aws/lambda/two"]);
    let out = f.ok("ListLogGroups", json!({"limit": 3})).await;
    assert_eq!(names(&out).len(), 3);
    let out = f
        .ok(
            "ListLogGroups",
            json!({"limit": 3, "nextToken": out["nextToken"]}),
        )
        .await;
    assert_eq!(names(&out), ["zzz"]);
    assert!(out.get("nextToken").is_none());
}
