//! Service-level tests: EventBridge wired to a real in-process SQS.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stratus_core::{Registry, RegistryHandle, RequestContext, Service};
use stratus_store::{MemoryStore, RetainingStore, Store};

use crate::service::EventsService;

struct World {
    reg: Arc<Registry>,
    events: Arc<EventsService>,
}

impl World {
    fn new(store: Arc<dyn Store>) -> Self {
        let handle = RegistryHandle::default();
        let mut reg = Registry::new();
        reg.register(
            "sqs",
            stratus_sqs::SqsService::new(Arc::new(MemoryStore)).unwrap(),
        );
        let events = EventsService::new(store, handle.clone()).unwrap();
        reg.register("events", events.clone());
        let reg = Arc::new(reg);
        handle.set(reg.clone());
        World { reg, events }
    }

    async fn call(
        &self,
        acct: &str,
        svc: &str,
        op: &str,
        doc: Value,
    ) -> Result<Value, stratus_core::AwsError> {
        let ctx = RequestContext::new(acct, "us-east-1");
        self.reg.call(svc, &ctx, op, doc).await
    }

    async fn ok(&self, acct: &str, svc: &str, op: &str, doc: Value) -> Value {
        match self.call(acct, svc, op, doc).await {
            Ok(v) => v,
            Err(e) => panic!("{op}: {e}"),
        }
    }

    async fn queue(&self, acct: &str, name: &str, fifo: bool) -> String {
        let mut doc = json!({"QueueName": name});
        if fifo {
            doc["Attributes"] = json!({"FifoQueue": "true"});
        }
        self.ok(acct, "sqs", "CreateQueue", doc).await;
        format!("arn:aws:sqs:us-east-1:{acct}:{name}")
    }

    async fn receive(&self, acct: &str, name: &str, want: usize) -> Vec<Value> {
        let url = format!("http://localhost:4566/{acct}/{name}");
        let mut got = Vec::new();
        for _ in 0..100 {
            let out = self
                .ok(acct, "sqs", "ReceiveMessage", json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"]}))
                .await;
            for m in out
                .get("Messages")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default()
            {
                got.push(m);
            }
            if got.len() >= want {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        got
    }
}

const A: &str = "111111111111";
const B: &str = "222222222222";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn put_events_reaches_an_sqs_target_with_the_envelope() {
    let w = World::new(Arc::new(MemoryStore));
    let q = w.queue(A, "q1", false).await;
    w.ok(
        A,
        "events",
        "PutRule",
        json!({"Name": "r1", "EventPattern": r#"{"source":["my.app"]}"#}),
    )
    .await;
    w.ok(
        A,
        "events",
        "PutTargets",
        json!({"Rule": "r1", "Targets": [{"Id": "t", "Arn": q}]}),
    )
    .await;
    let out = w
        .ok(A, "events", "PutEvents", json!({"Entries": [
            {"Source": "my.app", "DetailType": "thing", "Detail": "{\"a\": 1}", "Resources": ["arn:x"]},
            {"Source": "other", "DetailType": "thing", "Detail": "{}"},
            {"DetailType": "thing", "Detail": "{}"},
            {"Source": "my.app", "DetailType": "thing", "Detail": "[1]"}
        ]}))
        .await;
    assert_eq!(out["FailedEntryCount"], 2);
    assert_eq!(out["Entries"][2]["ErrorCode"], "InvalidArgument");
    assert_eq!(
        out["Entries"][2]["ErrorMessage"],
        "Parameter Source is not valid. Reason: Source is a required argument."
    );
    assert_eq!(out["Entries"][3]["ErrorCode"], "MalformedDetail");
    let msgs = w.receive(A, "q1", 1).await;
    assert_eq!(msgs.len(), 1);
    let ev: Value = serde_json::from_str(msgs[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(ev["id"], out["Entries"][0]["EventId"]);
    assert_eq!(ev["version"], "0");
    assert_eq!(ev["detail-type"], "thing");
    assert_eq!(ev["account"], A);
    assert_eq!(ev["region"], "us-east-1");
    assert_eq!(ev["resources"], json!(["arn:x"]));
    assert_eq!(ev["detail"], json!({"a": 1}));
    assert!(ev["time"].as_str().unwrap().ends_with('Z'));
    let keys: Vec<&String> = ev.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "version",
            "id",
            "detail-type",
            "source",
            "account",
            "time",
            "region",
            "resources",
            "detail"
        ]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transformer_fifo_and_dlq() {
    let w = World::new(Arc::new(MemoryStore));
    let q = w.queue(A, "t.fifo", true).await;
    let dlq = w.queue(A, "dlq", false).await;
    w.ok(
        A,
        "events",
        "PutRule",
        json!({"Name": "r", "EventPattern": r#"{"source":["s"]}"#}),
    )
    .await;
    let err = w
        .call(
            A,
            "events",
            "PutTargets",
            json!({"Rule": "r", "Targets": [{"Id": "f", "Arn": q}]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "ValidationException");
    w.ok(A, "events", "PutTargets", json!({"Rule": "r", "Targets": [
        {"Id": "f", "Arn": q, "SqsParameters": {"MessageGroupId": "g1"},
         "InputTransformer": {"InputPathsMap": {"v": "$.detail.v"}, "InputTemplate": "{\"value\": <v>, \"rule\": \"<aws.events.rule-name>\"}"}},
        {"Id": "gone", "Arn": format!("arn:aws:sqs:us-east-1:{A}:missing"), "DeadLetterConfig": {"Arn": dlq}}
    ]})).await;
    w.ok(
        A,
        "events",
        "PutEvents",
        json!({"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{\"v\": 42}"}]}),
    )
    .await;
    let msgs = w.receive(A, "t.fifo", 1).await;
    assert_eq!(
        serde_json::from_str::<Value>(msgs[0]["Body"].as_str().unwrap()).unwrap(),
        json!({"value": 42, "rule": "r"})
    );
    let dead = w.receive(A, "dlq", 1).await;
    assert_eq!(dead.len(), 1);
    let attrs = &dead[0]["MessageAttributes"];
    assert_eq!(attrs["ERROR_CODE"]["StringValue"], "NO_RESOURCE");
    assert_eq!(attrs["RETRY_ATTEMPTS"]["StringValue"], "0");
    assert!(attrs.get("EXHAUSTED_RETRY_CONDITION").is_none());
    assert_eq!(
        attrs["RULE_ARN"]["StringValue"],
        format!("arn:aws:events:us-east-1:{A}:rule/r")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_account_policy_is_enforced() {
    let w = World::new(Arc::new(MemoryStore));
    w.ok(B, "events", "CreateEventBus", json!({"Name": "central"}))
        .await;
    let bus = format!("arn:aws:events:us-east-1:{B}:event-bus/central");
    let put = json!({"Entries": [{"Source": "shop", "DetailType": "order", "Detail": "{}", "EventBusName": bus}]});
    let out = w.ok(A, "events", "PutEvents", put.clone()).await;
    assert_eq!(out["Entries"][0]["ErrorCode"], "AccessDeniedException");
    w.ok(B, "events", "PutPermission", json!({"EventBusName": "central", "Action": "events:PutEvents", "Principal": A, "StatementId": "a"})).await;
    let out = w.ok(A, "events", "PutEvents", put).await;
    assert_eq!(out["FailedEntryCount"], 0);
    let err = w
        .call(
            A,
            "events",
            "PutRule",
            json!({"Name": "x", "EventBusName": bus, "EventPattern": r#"{"source":["shop"]}"#}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "AccessDeniedException");
    assert!(err.message.contains("events:PutRule"), "{}", err.message);
    w.ok(
        B,
        "events",
        "RemovePermission",
        json!({"EventBusName": "central", "StatementId": "a"}),
    )
    .await;
    let d = w
        .ok(B, "events", "DescribeEventBus", json!({"Name": "central"}))
        .await;
    assert!(d.get("Policy").is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_archives_and_replays_survive_a_restart() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let q;
    {
        let w = World::new(store.clone());
        q = w.queue(A, "q", false).await;
        w.ok(
            A,
            "events",
            "CreateEventBus",
            json!({"Name": "b", "Tags": [{"Key": "k", "Value": "v"}]}),
        )
        .await;
        w.ok(
            A,
            "events",
            "PutRule",
            json!({"Name": "r", "EventBusName": "b", "EventPattern": r#"{"source":["s"]}"#}),
        )
        .await;
        w.ok(
            A,
            "events",
            "PutTargets",
            json!({"Rule": "r", "EventBusName": "b", "Targets": [{"Id": "t", "Arn": q}]}),
        )
        .await;
        w.ok(A, "events", "CreateArchive", json!({"ArchiveName": "arch", "EventSourceArn": format!("arn:aws:events:us-east-1:{A}:event-bus/b")})).await;
        w.ok(
            A,
            "events",
            "PutEvents",
            json!({"Entries": [
                {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "b"},
                {"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "b"}
            ]}),
        )
        .await;
        let a = w
            .ok(
                A,
                "events",
                "DescribeArchive",
                json!({"ArchiveName": "arch"}),
            )
            .await;
        assert_eq!(a["EventCount"], 2);
        let rules = w
            .ok(A, "events", "ListRules", json!({"EventBusName": "b"}))
            .await;
        assert_eq!(rules["Rules"].as_array().unwrap().len(), 2);
        assert_eq!(rules["Rules"][0]["Name"], "Events-Archive-arch");
        assert_eq!(
            rules["Rules"][0]["ManagedBy"],
            "prod.vhs.events.aws.internal"
        );
        assert_eq!(w.receive(A, "q", 2).await.len(), 2);
    }
    let w = World::new(store);
    w.ok(A, "sqs", "CreateQueue", json!({"QueueName": "q"}))
        .await;
    let a = w
        .ok(
            A,
            "events",
            "DescribeArchive",
            json!({"ArchiveName": "arch"}),
        )
        .await;
    assert_eq!(a["EventCount"], 2);
    let t = w
        .ok(
            A,
            "events",
            "ListTargetsByRule",
            json!({"Rule": "r", "EventBusName": "b"}),
        )
        .await;
    assert_eq!(t["Targets"][0]["Arn"], q);
    let tags = w
        .ok(
            A,
            "events",
            "ListTagsForResource",
            json!({"ResourceARN": format!("arn:aws:events:us-east-1:{A}:event-bus/b")}),
        )
        .await;
    assert_eq!(tags["Tags"], json!([{"Key": "k", "Value": "v"}]));
    let now = crate::util::now_ms() as f64 / 1000.0;
    w.ok(A, "events", "StartReplay", json!({
        "ReplayName": "rp", "EventSourceArn": format!("arn:aws:events:us-east-1:{A}:archive/arch"),
        "EventStartTime": now - 600.0, "EventEndTime": now + 1.0,
        "Destination": {"Arn": format!("arn:aws:events:us-east-1:{A}:event-bus/b")}
    }))
    .await;
    let msgs = w.receive(A, "q", 2).await;
    assert_eq!(msgs.len(), 2);
    let ev: Value = serde_json::from_str(msgs[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(ev["replay-name"], "rp");
    for _ in 0..100 {
        let r = w
            .ok(A, "events", "DescribeReplay", json!({"ReplayName": "rp"}))
            .await;
        if r["State"] == "COMPLETED" {
            assert!(r.get("EventLastReplayedTime").is_some());
            // Replayed events are not archived again.
            let a = w
                .ok(
                    A,
                    "events",
                    "DescribeArchive",
                    json!({"ArchiveName": "arch"}),
                )
                .await;
            assert_eq!(a["EventCount"], 2);
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("replay did not complete");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rule_validation_and_pagination() {
    let w = World::new(Arc::new(MemoryStore));
    let e = w
        .call(
            A,
            "events",
            "PutRule",
            json!({"Name": "r", "EventPattern": "{\"source\": []}"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidEventPatternException");
    assert!(e.message.starts_with("Event pattern is not valid. Reason:"));
    let e = w
        .call(
            A,
            "events",
            "PutRule",
            json!({"Name": "r", "ScheduleExpression": "rate(1 minutes)"}),
        )
        .await
        .unwrap_err();
    assert_eq!(e.message, "Parameter ScheduleExpression is not valid.");
    let e = w
        .call(A, "events", "PutRule", json!({"Name": "r"}))
        .await
        .unwrap_err();
    assert_eq!(e.code, "ValidationException");
    for i in 0..5 {
        w.ok(
            A,
            "events",
            "PutRule",
            json!({"Name": format!("r{i}"), "ScheduleExpression": "cron(0 12 * * ? *)"}),
        )
        .await;
    }
    let p1 = w.ok(A, "events", "ListRules", json!({"Limit": 2})).await;
    assert_eq!(p1["Rules"].as_array().unwrap().len(), 2);
    let p2 = w
        .ok(
            A,
            "events",
            "ListRules",
            json!({"Limit": 2, "NextToken": p1["NextToken"]}),
        )
        .await;
    assert_eq!(p2["Rules"][0]["Name"], "r2");
    w.ok(A, "events", "DisableRule", json!({"Name": "r0"}))
        .await;
    assert_eq!(
        w.ok(A, "events", "DescribeRule", json!({"Name": "r0"}))
            .await["State"],
        "DISABLED"
    );
    let e = w
        .call(A, "events", "DescribeRule", json!({"Name": "nope"}))
        .await
        .unwrap_err();
    assert_eq!(e.message, "Rule nope does not exist on EventBus default.");
    let t = w
        .ok(A, "events", "TestEventPattern", json!({"EventPattern": r#"{"detail":{"n":[{"numeric":[">",1]}]}}"#,
            "Event": r#"{"id":"1","account":"1","source":"s","time":"2024-01-01T00:00:00Z","region":"r","detail-type":"d","detail":{"n":2}}"#}))
        .await;
    assert_eq!(t["Result"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn archive_retention_expires_old_events() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let handle = RegistryHandle::default();
    let svc = EventsService::new(store.clone(), handle).unwrap();
    let ctx = RequestContext::new(A, "us-east-1");
    let bus = format!("arn:aws:events:us-east-1:{A}:event-bus/default");
    svc.call(
        &ctx,
        "CreateArchive",
        json!({"ArchiveName": "short", "EventSourceArn": bus, "RetentionDays": 1}),
    )
    .await
    .unwrap();
    svc.call(
        &ctx,
        "CreateArchive",
        json!({"ArchiveName": "forever", "EventSourceArn": bus}),
    )
    .await
    .unwrap();
    svc.call(
        &ctx,
        "PutEvents",
        json!({"Entries": [{"Source": "s", "DetailType": "d", "Detail": "{}"}]}),
    )
    .await
    .unwrap();
    let count = |name: &str| {
        let st = svc.state.read();
        st.archives
            .get(&format!("{A}/us-east-1/{name}"))
            .map(|a| a.events.len())
            .unwrap_or(0)
    };
    assert_eq!((count("short"), count("forever")), (1, 1));
    let now = crate::util::now_ms();
    // Not yet a day old.
    assert!(svc.expire_archived(now + 3_600_000).is_empty());
    let writes = svc.expire_archived(now + 86_400_000 + 1000);
    assert_eq!(writes.len(), 1);
    store.apply(writes).await.unwrap();
    assert_eq!((count("short"), count("forever")), (0, 1));
    let d = svc
        .call(&ctx, "DescribeArchive", json!({"ArchiveName": "short"}))
        .await
        .unwrap();
    assert_eq!(d["EventCount"], 0);
    assert_eq!(d["SizeBytes"], 0);
    // The deletion is durable: a restart does not bring the event back.
    let again = EventsService::new(store, RegistryHandle::default()).unwrap();
    let d = again
        .call(&ctx, "DescribeArchive", json!({"ArchiveName": "short"}))
        .await
        .unwrap();
    assert_eq!(d["EventCount"], 0);
    let d = again
        .call(&ctx, "DescribeArchive", json!({"ArchiveName": "forever"}))
        .await
        .unwrap();
    assert_eq!(d["EventCount"], 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scheduled_rules_fire_through_tick() {
    let w = World::new(Arc::new(MemoryStore));
    let q = w.queue(A, "ticks", false).await;
    w.ok(
        A,
        "events",
        "PutRule",
        json!({"Name": "every", "ScheduleExpression": "rate(1 minute)"}),
    )
    .await;
    w.ok(
        A,
        "events",
        "PutTargets",
        json!({"Rule": "every", "Targets": [{"Id": "t", "Arn": q}]}),
    )
    .await;
    let now = crate::util::now_ms();
    // Drive the scheduler by hand: first sight computes the next time, then it fires when due.
    w.events.tick(now).await;
    w.events.tick(now + 61_000).await;
    let msgs = w.receive(A, "ticks", 1).await;
    assert_eq!(msgs.len(), 1);
    let ev: Value = serde_json::from_str(msgs[0]["Body"].as_str().unwrap()).unwrap();
    assert_eq!(ev["detail-type"], "Scheduled Event");
    assert_eq!(ev["source"], "aws.events");
    assert_eq!(
        ev["resources"],
        json!([format!("arn:aws:events:us-east-1:{A}:rule/every")])
    );
}

/// PutEvents answers after the first attempt of its SQS deliveries, so the
/// message is there for a single ReceiveMessage right after; a target whose
/// queue is missing does not hold the call up (its failure is handled later).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_target_is_receivable_when_put_events_returns() {
    let w = World::new(Arc::new(MemoryStore));
    let q = w.queue(A, "now", false).await;
    w.ok(
        A,
        "events",
        "PutRule",
        json!({"Name": "now", "EventPattern": r#"{"source":["now.app"]}"#}),
    )
    .await;
    w.ok(
        A,
        "events",
        "PutTargets",
        json!({"Rule": "now", "Targets": [
            {"Id": "ok", "Arn": q},
            {"Id": "gone", "Arn": format!("arn:aws:sqs:us-east-1:{A}:missing"),
             "RetryPolicy": {"MaximumRetryAttempts": 5}}
        ]}),
    )
    .await;
    let url = format!("http://localhost:4566/{A}/now");
    for i in 0..20 {
        let started = std::time::Instant::now();
        w.ok(
            A,
            "events",
            "PutEvents",
            json!({"Entries": [{"Source": "now.app", "DetailType": "t", "Detail": format!("{{\"i\": {i}}}")}]}),
        )
        .await;
        assert!(started.elapsed() < Duration::from_secs(2));
        let out = w
            .ok(
                A,
                "sqs",
                "ReceiveMessage",
                json!({"QueueUrl": url, "MaxNumberOfMessages": 10}),
            )
            .await;
        let msgs = out["Messages"].as_array().cloned().unwrap_or_default();
        assert_eq!(msgs.len(), 1, "event {i} not receivable at once: {out}");
        let ev: Value = serde_json::from_str(msgs[0]["Body"].as_str().unwrap()).unwrap();
        assert_eq!(ev["detail"]["i"], i);
        w.ok(
            A,
            "sqs",
            "DeleteMessage",
            json!({"QueueUrl": url, "ReceiptHandle": msgs[0]["ReceiptHandle"]}),
        )
        .await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_pending_rows_are_dropped_at_start() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    store
        .apply(vec![stratus_store::Write::Put {
            table: crate::pending::T_PENDING,
            key: b"garbage".to_vec(),
            value: b"not a pending delivery".to_vec(),
        }])
        .await
        .unwrap();
    let _svc = EventsService::new(store.clone(), RegistryHandle::default()).unwrap();
    for _ in 0..100 {
        if store.scan(crate::pending::T_PENDING).unwrap().is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the unreadable pending row is still there");
}
