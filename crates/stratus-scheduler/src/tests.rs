//! Service tests through the registry, with a real SQS service as the target.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Value, json};
use stratus_core::{AwsError, Registry, RegistryHandle, RequestContext, Service};
use stratus_sqs::SqsService;
use stratus_store::{MemoryStore, RetainingStore, SqliteStore, Store, StoreError, Write};

use crate::SchedulerService;

const ROLE: &str = "arn:aws:iam::000000000000:role/scheduler";

fn ctx() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

struct Env {
    registry: Arc<Registry>,
    scheduler: Arc<SchedulerService>,
}

impl Env {
    fn new(store: Arc<dyn Store>) -> Env {
        let handle = RegistryHandle::default();
        let mut registry = Registry::new();
        registry.register("sqs", SqsService::new(store.clone()).unwrap());
        let scheduler = SchedulerService::new(store, handle.clone()).unwrap();
        registry.register("scheduler", scheduler.clone());
        let registry = Arc::new(registry);
        handle.set(registry.clone());
        Env {
            registry,
            scheduler,
        }
    }

    fn memory() -> Env {
        Env::new(Arc::new(MemoryStore))
    }

    async fn call(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.registry.call("scheduler", &ctx(), op, input).await
    }

    async fn ok(&self, op: &str, input: Value) -> Value {
        self.call(op, input)
            .await
            .unwrap_or_else(|e| panic!("{op} failed: {e}"))
    }

    async fn err(&self, op: &str, input: Value) -> AwsError {
        match self.call(op, input).await {
            Ok(v) => panic!("{op} succeeded: {v}"),
            Err(e) => e,
        }
    }

    async fn queue(&self, name: &str) -> (String, String) {
        let out = self
            .registry
            .call("sqs", &ctx(), "CreateQueue", json!({ "QueueName": name }))
            .await
            .unwrap();
        let url = out["QueueUrl"].as_str().unwrap().to_string();
        (url, format!("arn:aws:sqs:us-east-1:000000000000:{name}"))
    }

    /// Long-poll a queue until a message arrives or `secs` pass.
    async fn receive(&self, url: &str, secs: u64) -> Option<Value> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
        while tokio::time::Instant::now() < deadline {
            let out = self
                .registry
                .call(
                    "sqs",
                    &ctx(),
                    "ReceiveMessage",
                    json!({ "QueueUrl": url, "WaitTimeSeconds": 1, "MessageAttributeNames": ["All"] }),
                )
                .await
                .unwrap();
            if let Some(m) = out["Messages"].as_array().and_then(|m| m.first()) {
                return Some(m.clone());
            }
        }
        None
    }
}

fn at_in(secs: i64) -> String {
    let t = chrono::Utc::now() + chrono::Duration::seconds(secs);
    format!("at({})", t.format("%Y-%m-%dT%H:%M:%S"))
}

fn schedule(name: &str, expr: &str, target: Value) -> Value {
    json!({
        "Name": name,
        "ScheduleExpression": expr,
        "FlexibleTimeWindow": { "Mode": "OFF" },
        "Target": target,
    })
}

#[tokio::test]
async fn crud_and_defaults() {
    let env = Env::memory();
    let target = json!({ "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE });
    let out = env
        .ok(
            "CreateSchedule",
            schedule("s1", "rate(1 hour)", target.clone()),
        )
        .await;
    assert_eq!(
        out["ScheduleArn"],
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/s1"
    );
    let got = env.ok("GetSchedule", json!({ "Name": "s1" })).await;
    assert_eq!(got["GroupName"], "default");
    assert_eq!(got["State"], "ENABLED");
    assert_eq!(got["ScheduleExpressionTimezone"], "UTC");
    assert_eq!(got["ActionAfterCompletion"], "NONE");
    assert_eq!(got["Target"]["RetryPolicy"]["MaximumRetryAttempts"], 185);
    assert_eq!(
        got["Target"]["RetryPolicy"]["MaximumEventAgeInSeconds"],
        86400
    );
    assert_eq!(got["FlexibleTimeWindow"]["Mode"], "OFF");
    assert!(got["CreationDate"].as_f64().is_some());

    // UpdateSchedule replaces everything.
    let mut upd = schedule("s1", "cron(0 12 * * ? *)", target.clone());
    upd["State"] = json!("DISABLED");
    upd["ScheduleExpressionTimezone"] = json!("Europe/Paris");
    upd["Description"] = json!("noon in Paris");
    env.ok("UpdateSchedule", upd).await;
    let got = env.ok("GetSchedule", json!({ "Name": "s1" })).await;
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["ScheduleExpression"], "cron(0 12 * * ? *)");
    assert_eq!(got["ScheduleExpressionTimezone"], "Europe/Paris");
    assert_eq!(got["Description"], "noon in Paris");

    let list = env
        .ok("ListSchedules", json!({ "State": "DISABLED" }))
        .await;
    assert_eq!(list["Schedules"].as_array().unwrap().len(), 1);
    assert_eq!(list["Schedules"][0]["Target"]["Arn"], target["Arn"]);
    let list = env.ok("ListSchedules", json!({ "State": "ENABLED" })).await;
    assert!(list["Schedules"].as_array().unwrap().is_empty());

    env.ok("DeleteSchedule", json!({ "Name": "s1" })).await;
    let e = env.err("GetSchedule", json!({ "Name": "s1" })).await;
    assert_eq!(e.code, "ResourceNotFoundException");
    assert_eq!(e.message, "Schedule s1 does not exist.");
}

#[tokio::test]
async fn validation_and_conflicts() {
    let env = Env::memory();
    let target = json!({ "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE });
    env.ok(
        "CreateSchedule",
        schedule("dup", "rate(5 minutes)", target.clone()),
    )
    .await;
    let e = env
        .err(
            "CreateSchedule",
            schedule("dup", "rate(5 minutes)", target.clone()),
        )
        .await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("ConflictException", "Schedule dup already exists.")
    );

    let e = env
        .err(
            "CreateSchedule",
            schedule("bad", "rate(5 fortnights)", target.clone()),
        )
        .await;
    assert_eq!(e.code, "ValidationException");
    assert_eq!(e.message, "Invalid Schedule Expression rate(5 fortnights)");

    let e = env
        .err(
            "CreateSchedule",
            schedule("bad", "cron(0 12 * * * *)", target.clone()),
        )
        .await;
    assert_eq!(e.code, "ValidationException");

    let mut s = schedule("tz", "rate(5 minutes)", target.clone());
    s["ScheduleExpressionTimezone"] = json!("Mars/Olympus");
    assert_eq!(
        env.err("CreateSchedule", s).await.code,
        "ValidationException"
    );

    let mut s = schedule("g", "rate(5 minutes)", target.clone());
    s["GroupName"] = json!("nope");
    let e = env.err("CreateSchedule", s).await;
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "ResourceNotFoundException",
            "Schedule group nope does not exist."
        )
    );

    let bad_role = json!({ "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": "role" });
    let e = env
        .err("CreateSchedule", schedule("r", "rate(5 minutes)", bad_role))
        .await;
    assert!(e.message.contains("at 'target.roleArn'"), "{}", e.message);

    let mut s = schedule("old", "rate(5 minutes)", target.clone());
    s["StartDate"] = json!(chrono::Utc::now().timestamp() - 3600);
    let e = env.err("CreateSchedule", s).await;
    assert_eq!(
        e.message,
        "The StartDate you specify cannot be earlier than 5 minutes ago."
    );

    let e = env
        .err(
            "CreateSchedule",
            schedule("bad name", "rate(5 minutes)", target.clone()),
        )
        .await;
    assert!(
        e.message
            .contains("Member must satisfy regular expression pattern")
    );

    let e = env
        .err(
            "UpdateSchedule",
            schedule("missing", "rate(5 minutes)", target),
        )
        .await;
    assert_eq!(e.message, "Schedule missing does not exist.");

    let e = env
        .err("DeleteScheduleGroup", json!({ "Name": "default" }))
        .await;
    assert_eq!(e.code, "ValidationException");
}

#[tokio::test]
async fn groups_tags_and_paging() {
    let env = Env::memory();
    let out = env
        .ok(
            "CreateScheduleGroup",
            json!({ "Name": "team", "Tags": [{ "Key": "env", "Value": "dev" }] }),
        )
        .await;
    let arn = out["ScheduleGroupArn"].as_str().unwrap().to_string();
    assert_eq!(
        arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule-group/team"
    );
    let e = env
        .err("CreateScheduleGroup", json!({ "Name": "team" }))
        .await;
    assert_eq!(e.code, "ConflictException");

    env.ok(
        "TagResource",
        json!({ "ResourceArn": arn, "Tags": [{ "Key": "owner", "Value": "me" }, { "Key": "env", "Value": "prod" }] }),
    )
    .await;
    let tags = env
        .ok("ListTagsForResource", json!({ "ResourceArn": arn }))
        .await;
    assert_eq!(
        tags["Tags"],
        json!([{ "Key": "env", "Value": "prod" }, { "Key": "owner", "Value": "me" }])
    );
    env.ok(
        "UntagResource",
        json!({ "ResourceArn": arn, "TagKeys": ["env"] }),
    )
    .await;
    let tags = env
        .ok("ListTagsForResource", json!({ "ResourceArn": arn }))
        .await;
    assert_eq!(tags["Tags"], json!([{ "Key": "owner", "Value": "me" }]));
    let e = env
        .err(
            "ListTagsForResource",
            json!({ "ResourceArn": "arn:aws:scheduler:us-east-1:000000000000:schedule-group/nope" }),
        )
        .await;
    assert_eq!(e.code, "ResourceNotFoundException");

    let groups = env.ok("ListScheduleGroups", json!({})).await;
    let names: Vec<&str> = groups["ScheduleGroups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["Name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["default", "team"]);

    let target = json!({ "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE });
    for i in 0..5 {
        let mut s = schedule(&format!("job-{i}"), "rate(1 day)", target.clone());
        s["GroupName"] = json!("team");
        env.ok("CreateSchedule", s).await;
    }
    env.ok("CreateSchedule", schedule("other", "rate(1 day)", target))
        .await;
    // Pages of two over the group's five schedules.
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({ "GroupName": "team", "MaxResults": 2 });
        if let Some(t) = &token {
            req["NextToken"] = json!(t);
        }
        let page = env.ok("ListSchedules", req).await;
        for s in page["Schedules"].as_array().unwrap() {
            seen.push(s["Name"].as_str().unwrap().to_string());
        }
        match page["NextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => break,
        }
    }
    assert_eq!(seen, ["job-0", "job-1", "job-2", "job-3", "job-4"]);
    let pre = env
        .ok("ListSchedules", json!({ "NamePrefix": "oth" }))
        .await;
    assert_eq!(pre["Schedules"].as_array().unwrap().len(), 1);

    env.ok("DeleteScheduleGroup", json!({ "Name": "team" }))
        .await;
    let all = env.ok("ListSchedules", json!({})).await;
    assert_eq!(all["Schedules"].as_array().unwrap().len(), 1);
    let e = env
        .err(
            "GetSchedule",
            json!({ "Name": "job-0", "GroupName": "team" }),
        )
        .await;
    assert_eq!(e.message, "Schedule group team does not exist.");
}

#[tokio::test]
async fn at_schedule_delivers_to_sqs_with_context() {
    let env = Env::memory();
    let (url, arn) = env.queue("at-target").await;
    let target = json!({
        "Arn": arn,
        "RoleArn": ROLE,
        "Input": "{\"arn\":\"<aws.scheduler.schedule-arn>\",\"t\":\"<aws.scheduler.scheduled-time>\",\"n\":<aws.scheduler.attempt-number>}",
    });
    let mut s = schedule("once", &at_in(1), target);
    s["ActionAfterCompletion"] = json!("DELETE");
    env.ok("CreateSchedule", s).await;
    let msg = env.receive(&url, 6).await.expect("the at schedule fired");
    let body: Value = serde_json::from_str(msg["Body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body["arn"],
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/once"
    );
    assert_eq!(body["n"], 1);
    assert!(body["t"].as_str().unwrap().ends_with('Z'));
    // DELETE after completion.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let e = env.err("GetSchedule", json!({ "Name": "once" })).await;
    assert_eq!(e.code, "ResourceNotFoundException");
}

#[tokio::test]
async fn rate_without_start_fires_at_once_and_universal_target() {
    let env = Env::memory();
    let (url, _) = env.queue("universal").await;
    let input = json!({ "QueueUrl": url, "MessageBody": "hello <aws.scheduler.execution-id>" });
    let target = json!({
        "Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage",
        "RoleArn": ROLE,
        "Input": input.to_string(),
    });
    env.ok("CreateSchedule", schedule("every", "rate(1 hour)", target))
        .await;
    let msg = env.receive(&url, 5).await.expect("fired at creation");
    let body = msg["Body"].as_str().unwrap();
    assert!(body.starts_with("hello "), "{body}");
    assert_eq!(body.len(), "hello ".len() + 16);
    // And not again within the hour.
    assert!(env.receive(&url, 1).await.is_none());
}

#[tokio::test]
async fn failed_target_lands_in_the_dlq() {
    let env = Env::memory();
    let (dlq_url, dlq_arn) = env.queue("dlq").await;
    let target = json!({
        "Arn": "arn:aws:sqs:us-east-1:000000000000:does-not-exist",
        "RoleArn": ROLE,
        "Input": "payload",
        "RetryPolicy": { "MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60 },
        "DeadLetterConfig": { "Arn": dlq_arn },
    });
    env.ok("CreateSchedule", schedule("failing", &at_in(1), target))
        .await;
    let msg = env.receive(&dlq_url, 6).await.expect("dead letter");
    assert_eq!(msg["Body"], "payload");
    let attrs = &msg["MessageAttributes"];
    let get = |k: &str| {
        attrs[k]["StringValue"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(get("ERROR_CODE"), "QueueDoesNotExist");
    assert_eq!(get("EXHAUSTED_RETRY_CONDITION"), "MaximumRetryAttempts");
    assert_eq!(get("RETRY_ATTEMPTS"), "0");
    assert_eq!(
        get("TARGET_ARN"),
        "arn:aws:sqs:us-east-1:000000000000:does-not-exist"
    );
    assert_eq!(
        get("SCHEDULE_ARN"),
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/failing"
    );
    assert_eq!(get("IS_PAYLOAD_TRUNCATED"), "false");
    assert_eq!(get("EXECUTION_ID").len(), 16);
}

#[tokio::test]
async fn state_survives_a_restart_without_refiring() {
    let dir = std::env::temp_dir().join(format!("stratus-sched-{}", uuid::Uuid::new_v4()));
    let (url, arn) = {
        let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir).unwrap());
        let env = Env::new(store.clone());
        let (url, arn) = env.queue("persist").await;
        env.ok(
            "CreateScheduleGroup",
            json!({ "Name": "kept", "Tags": [{ "Key": "a", "Value": "b" }] }),
        )
        .await;
        let mut s = schedule(
            "later",
            "rate(7 days)",
            json!({ "Arn": arn, "RoleArn": ROLE }),
        );
        s["GroupName"] = json!("kept");
        s["State"] = json!("DISABLED");
        env.ok("CreateSchedule", s).await;
        env.ok(
            "CreateSchedule",
            schedule(
                "once",
                &at_in(1),
                json!({ "Arn": arn, "RoleArn": ROLE, "Input": "x" }),
            ),
        )
        .await;
        assert!(
            env.receive(&url, 6).await.is_some(),
            "fired before the restart"
        );
        // The message can be received while the delivery task is still
        // finishing (its SQS call awaits the store commit); a delivery stopped
        // there keeps its pending row and is made again after the restart (at
        // least once). Wait until it has ended, so that a second message could
        // only come from the schedule firing twice.
        for _ in 0..500 {
            if store.scan(crate::pending::T_PENDING).unwrap().is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert!(
            store.scan(crate::pending::T_PENDING).unwrap().is_empty(),
            "the delivery did not end"
        );
        env.scheduler.shutdown();
        store.close();
        (url, arn)
    };
    let store: Arc<dyn Store> = Arc::new(SqliteStore::open(&dir).unwrap());
    let env = Env::new(store.clone());
    let got = env
        .ok(
            "GetSchedule",
            json!({ "Name": "later", "GroupName": "kept" }),
        )
        .await;
    assert_eq!(got["State"], "DISABLED");
    assert_eq!(got["Target"]["Arn"], arn);
    let tags = env
        .ok(
            "ListTagsForResource",
            json!({ "ResourceArn": "arn:aws:scheduler:us-east-1:000000000000:schedule-group/kept" }),
        )
        .await;
    assert_eq!(tags["Tags"], json!([{ "Key": "a", "Value": "b" }]));
    env.ok("GetSchedule", json!({ "Name": "once" })).await;
    // The message received before the restart is only invisible: purge it so
    // that nothing but a second firing could show up.
    env.registry
        .call("sqs", &ctx(), "PurgeQueue", json!({ "QueueUrl": url }))
        .await
        .unwrap();
    assert!(env.receive(&url, 2).await.is_none(), "no second firing");
    store.close();
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn stale_plans_are_compacted() {
    let env = Env::memory();
    let target = json!({ "Arn": "arn:aws:sqs:us-east-1:000000000000:q", "RoleArn": ROLE });
    env.ok(
        "CreateSchedule",
        schedule("busy", "rate(1 day)", target.clone()),
    )
    .await;
    for _ in 0..3000 {
        env.ok(
            "UpdateSchedule",
            schedule("busy", "rate(1 day)", target.clone()),
        )
        .await;
    }
    let heap = env.scheduler.state.lock().heap.len();
    assert!(heap <= 1024, "heap holds {heap} plans for one schedule");
}

/// A service that fails its first `failures` calls with a server error.
struct Flaky {
    model: stratus_model::ServiceModel,
    failures: usize,
    calls: parking_lot::Mutex<Vec<Value>>,
}

impl Service for Flaky {
    fn model(&self) -> &stratus_model::ServiceModel {
        &self.model
    }
    fn call<'a>(
        &'a self,
        _ctx: &'a RequestContext,
        _operation: &'a str,
        input: Value,
    ) -> stratus_core::BoxFuture<'a, Result<Value, AwsError>> {
        let mut calls = self.calls.lock();
        calls.push(input);
        let fail = calls.len() <= self.failures;
        Box::pin(async move {
            if fail {
                Err(AwsError::internal("try again"))
            } else {
                Ok(json!({}))
            }
        })
    }
}

fn flaky_env(failures: usize) -> (Env, Arc<Flaky>) {
    flaky_env_with(Arc::new(MemoryStore), failures)
}

fn flaky_env_with(store: Arc<dyn Store>, failures: usize) -> (Env, Arc<Flaky>) {
    let handle = RegistryHandle::default();
    let mut registry = Registry::new();
    registry.register("sqs", SqsService::new(store.clone()).unwrap());
    let flaky = Arc::new(Flaky {
        model: stratus_model::ServiceModel::from_json(include_str!(
            "../../../models/scheduler/service-2.json"
        ))
        .unwrap(),
        failures,
        calls: parking_lot::Mutex::new(Vec::new()),
    });
    registry.register("flaky", flaky.clone());
    let scheduler = SchedulerService::new(store, handle.clone()).unwrap();
    registry.register("scheduler", scheduler.clone());
    let registry = Arc::new(registry);
    handle.set(registry.clone());
    (
        Env {
            registry,
            scheduler,
        },
        flaky,
    )
}

#[tokio::test]
async fn server_errors_are_retried_with_attempt_numbers() {
    let (env, flaky) = flaky_env(2);
    let target = json!({
        "Arn": "arn:aws:scheduler:::aws-sdk:flaky:doThing",
        "RoleArn": ROLE,
        "Input": "{\"attempt\": <aws.scheduler.attempt-number>, \"id\": \"<aws.scheduler.execution-id>\"}",
        "RetryPolicy": { "MaximumRetryAttempts": 5 },
    });
    env.ok("CreateSchedule", schedule("retry", "rate(1 day)", target))
        .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(8);
    while flaky.calls.lock().len() < 3 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let calls = flaky.calls.lock().clone();
    assert_eq!(calls.len(), 3, "two failures then a success");
    let attempts: Vec<i64> = calls
        .iter()
        .map(|c| c["attempt"].as_i64().unwrap())
        .collect();
    assert_eq!(attempts, [1, 2, 3]);
    // One execution id per occurrence, shared by its retries.
    assert!(calls.iter().all(|c| c["id"] == calls[0]["id"]));
}

#[tokio::test]
async fn exhausted_retries_report_the_condition() {
    let (env, flaky) = flaky_env(usize::MAX);
    let (dlq_url, dlq_arn) = env.queue("retry-dlq").await;
    let target = json!({
        "Arn": "arn:aws:scheduler:::aws-sdk:flaky:doThing",
        "RoleArn": ROLE,
        "Input": "{}",
        "RetryPolicy": { "MaximumRetryAttempts": 1 },
        "DeadLetterConfig": { "Arn": dlq_arn },
    });
    env.ok(
        "CreateSchedule",
        schedule("gives-up", "rate(1 day)", target),
    )
    .await;
    let msg = env.receive(&dlq_url, 8).await.expect("dead letter");
    let attrs = &msg["MessageAttributes"];
    assert_eq!(attrs["RETRY_ATTEMPTS"]["StringValue"], "1");
    assert_eq!(
        attrs["EXHAUSTED_RETRY_CONDITION"]["StringValue"],
        "MaximumRetryAttempts"
    );
    assert_eq!(attrs["ERROR_CODE"]["StringValue"], "InternalFailure");
    assert_eq!(flaky.calls.lock().len(), 2);
}

#[tokio::test]
async fn updating_the_target_keeps_a_rate_cadence() {
    let env = Env::memory();
    let (url, arn) = env.queue("cadence").await;
    let target = json!({ "Arn": arn, "RoleArn": ROLE, "Input": "tick" });
    env.ok("CreateSchedule", schedule("hourly", "rate(1 hour)", target))
        .await;
    assert!(env.receive(&url, 5).await.is_some(), "fires at creation");
    env.registry
        .call("sqs", &ctx(), "PurgeQueue", json!({ "QueueUrl": url }))
        .await
        .unwrap();
    let target = json!({ "Arn": arn, "RoleArn": ROLE, "Input": "tock" });
    env.ok("UpdateSchedule", schedule("hourly", "rate(1 hour)", target))
        .await;
    let extra = env.receive(&url, 2).await;
    assert!(extra.is_none(), "no extra firing on update: {extra:?}");
    // A new expression starts a new cadence, from now.
    let target = json!({ "Arn": arn, "RoleArn": ROLE, "Input": "new" });
    env.ok(
        "UpdateSchedule",
        schedule("hourly", "rate(2 hours)", target),
    )
    .await;
    let msg = env
        .receive(&url, 5)
        .await
        .expect("fires on the new cadence");
    assert_eq!(msg["Body"], "new");
}

// ---- durable in-flight deliveries (pending.rs) ----

const FLAKY_TARGET: &str = "arn:aws:scheduler:::aws-sdk:flaky:doThing";

/// A durable test store that also records the tables each batch touched.
#[derive(Default)]
struct Recording {
    inner: RetainingStore,
    batches: parking_lot::Mutex<Vec<Vec<&'static str>>>,
}

impl Store for Recording {
    fn apply(&self, batch: Vec<Write>) -> stratus_core::BoxFuture<'_, Result<(), StoreError>> {
        let tables = batch
            .iter()
            .map(|w| match w {
                Write::Put { table, .. }
                | Write::Delete { table, .. }
                | Write::DeletePrefix { table, .. } => *table,
            })
            .collect();
        self.batches.lock().push(tables);
        self.inner.apply(batch)
    }

    fn scan(&self, table: &str) -> Result<stratus_store::Rows, StoreError> {
        self.inner.scan(table)
    }

    fn is_durable(&self) -> bool {
        true
    }
}

fn pending_rows(store: &dyn Store) -> Vec<crate::delivery::Invocation> {
    store
        .scan(crate::pending::T_PENDING)
        .unwrap()
        .iter()
        .map(|(_, v)| crate::persist::decode(v).unwrap())
        .collect()
}

async fn wait_for(what: &str, secs: u64, mut done: impl FnMut() -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while !done() {
        assert!(tokio::time::Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn flaky_target(retry: Value) -> Value {
    json!({
        "Arn": FLAKY_TARGET,
        "RoleArn": ROLE,
        "Input": "{\"attempt\": <aws.scheduler.attempt-number>, \"id\": \"<aws.scheduler.execution-id>\"}",
        "RetryPolicy": retry,
    })
}

#[tokio::test]
async fn a_firing_is_recorded_with_its_pending_delivery() {
    let store = Arc::new(Recording::default());
    // No registry is ever bound: the delivery waits for it, so the row stays
    // as the firing wrote it.
    let scheduler = SchedulerService::new(store.clone(), RegistryHandle::default()).unwrap();
    let before = chrono::Utc::now().timestamp_millis();
    scheduler
        .call(
            &ctx(),
            "CreateSchedule",
            schedule("now", "rate(1 day)", flaky_target(json!({}))),
        )
        .await
        .unwrap();
    wait_for("the firing's pending row", 5, || {
        store.inner.rows(crate::pending::T_PENDING) == 1
    })
    .await;
    let rows = pending_rows(store.as_ref());
    let inv = &rows[0];
    assert_eq!(
        inv.schedule_arn,
        "arn:aws:scheduler:us-east-1:000000000000:schedule/default/now"
    );
    assert_eq!(
        (inv.account.as_str(), inv.region.as_str()),
        ("000000000000", "us-east-1")
    );
    assert_eq!(inv.target.arn, FLAKY_TARGET);
    assert_eq!(inv.attempt, 1);
    assert_eq!(inv.execution_id.len(), 16);
    assert!(inv.first_ms >= before && inv.due_ms == inv.first_ms);
    assert!(inv.occurrence >= before - 1000 && inv.occurrence <= inv.first_ms);
    // One batch holds both the advanced schedule and its pending delivery.
    let batches = store.batches.lock().clone();
    let firing: Vec<_> = batches
        .iter()
        .filter(|b| b.contains(&crate::pending::T_PENDING))
        .collect();
    assert_eq!(firing.len(), 1, "{batches:?}");
    assert!(
        firing[0].contains(&crate::persist::T_SCHEDULES),
        "{batches:?}"
    );
    scheduler.shutdown();
}

#[tokio::test]
async fn a_pending_retry_resumes_after_a_restart() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let retry = json!({ "MaximumRetryAttempts": 5, "MaximumEventAgeInSeconds": 3600 });
    let first_id = {
        let (env, flaky) = flaky_env_with(store.clone(), usize::MAX);
        env.ok(
            "CreateSchedule",
            schedule("resume", "rate(1 day)", flaky_target(retry)),
        )
        .await;
        // The first attempt fails and the retry is recorded (attempt 2).
        wait_for("the retry's rewritten row", 5, || {
            pending_rows(store.as_ref())
                .first()
                .is_some_and(|r| r.attempt == 2)
        })
        .await;
        // The process stops before the retry is made.
        env.scheduler.shutdown();
        let calls = flaky.calls.lock().clone();
        assert_eq!(calls.len(), 1, "{calls:?}");
        assert_eq!(calls[0]["attempt"], 1);
        calls[0]["id"].as_str().unwrap().to_string()
    };
    let rows = pending_rows(store.as_ref());
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].execution_id, first_id);

    // Restart: the target works now.
    let (env, flaky) = flaky_env_with(store.clone(), 0);
    wait_for("the resumed attempt", 5, || !flaky.calls.lock().is_empty()).await;
    let call = flaky.calls.lock()[0].clone();
    assert_eq!(call["attempt"], 2, "the attempt number continues");
    assert_eq!(
        call["id"],
        first_id.as_str(),
        "one execution id per occurrence"
    );
    // Delivered: the row is deleted, and the schedule does not fire again.
    wait_for("the row's deletion", 5, || {
        store.scan(crate::pending::T_PENDING).unwrap().is_empty()
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(flaky.calls.lock().len(), 1);
    env.scheduler.shutdown();
}

#[tokio::test]
async fn a_delivered_occurrence_leaves_no_pending_row() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let (env, flaky) = flaky_env_with(store.clone(), 1);
    env.ok(
        "CreateSchedule",
        schedule(
            "ok",
            "rate(1 day)",
            flaky_target(json!({ "MaximumRetryAttempts": 3 })),
        ),
    )
    .await;
    wait_for("a failure then a success", 5, || {
        flaky.calls.lock().len() == 2
    })
    .await;
    wait_for("the row's deletion", 5, || {
        store.scan(crate::pending::T_PENDING).unwrap().is_empty()
    })
    .await;
    env.scheduler.shutdown();
    // Nothing is left to resume after a restart.
    let (_env, flaky) = flaky_env_with(store, 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(flaky.calls.lock().is_empty());
}

#[tokio::test]
async fn event_age_counts_from_the_first_attempt_across_restarts() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let now = chrono::Utc::now().timestamp_millis();
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:age-dlq";
    let mut target: crate::generated::Target = serde_json::from_value(flaky_target(json!({
        "MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 60
    })))
    .unwrap();
    target.dead_letter_config = Some(crate::generated::DeadLetterConfig {
        arn: Some(dlq_arn.to_string()),
    });
    // Fired an hour ago, then the process stopped while a retry was pending.
    let inv = crate::delivery::Invocation {
        schedule_arn: "arn:aws:scheduler:us-east-1:000000000000:schedule/default/old".into(),
        account: "000000000000".into(),
        region: "us-east-1".into(),
        target,
        occurrence: now - 3_600_000,
        execution_id: "0123456789abcdef".into(),
        first_ms: now - 3_600_000,
        attempt: 2,
        due_ms: now + 1_000,
    };
    store.apply(vec![crate::pending::put(&inv)]).await.unwrap();
    let (env, flaky) = flaky_env_with(store.clone(), usize::MAX);
    let (dlq_url, _) = env.queue("age-dlq").await;
    let msg = env.receive(&dlq_url, 8).await.expect("dead letter");
    let attrs = &msg["MessageAttributes"];
    assert_eq!(
        attrs["EXHAUSTED_RETRY_CONDITION"]["StringValue"],
        "MaximumEventAgeInSeconds"
    );
    assert_eq!(attrs["RETRY_ATTEMPTS"]["StringValue"], "1");
    assert_eq!(attrs["EXECUTION_ID"]["StringValue"], "0123456789abcdef");
    assert_eq!(flaky.calls.lock()[0]["attempt"], 2);
    assert_eq!(flaky.calls.lock().len(), 1);
    wait_for("the row's deletion", 5, || {
        store.scan(crate::pending::T_PENDING).unwrap().is_empty()
    })
    .await;
    env.scheduler.shutdown();
}
