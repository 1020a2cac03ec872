//! Service-level tests: SNS and SQS in one registry, called as the HTTP front
//! would call them (canonical JSON documents).

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use rsa::pkcs1v15::VerifyingKey;
use rsa::signature::Verifier;
use serde_json::{Value, json};
use stratus_core::{AwsError, Registry, RegistryHandle, RequestContext, Service};
use stratus_sqs::SqsService;
use stratus_store::{MemoryStore, RetainingStore, Store};
use x509_cert::der::DecodePem;

use crate::service::SnsService;

const ACCOUNT: &str = "000000000000";
const REGION: &str = "us-east-1";

struct Env {
    registry: Arc<Registry>,
    sns: Arc<SnsService>,
    ctx: RequestContext,
}

fn env_with(store: Arc<dyn Store>) -> Env {
    let handle = RegistryHandle::default();
    let mut registry = Registry::new();
    registry.register("sqs", SqsService::new(store.clone()).unwrap());
    let sns = SnsService::with_key_bits(store, handle.clone(), 1024).unwrap();
    registry.register("sns", sns.clone());
    let registry = Arc::new(registry);
    handle.set(registry.clone());
    let mut ctx = RequestContext::new(ACCOUNT, REGION);
    ctx.endpoint = "http://127.0.0.1:4566".into();
    Env { registry, sns, ctx }
}

fn env() -> Env {
    env_with(Arc::new(MemoryStore))
}

impl Env {
    async fn sns(&self, op: &str, input: Value) -> Result<Value, AwsError> {
        self.registry.call("sns", &self.ctx, op, input).await
    }

    async fn ok(&self, op: &str, input: Value) -> Value {
        self.sns(op, input)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    async fn sqs(&self, op: &str, input: Value) -> Value {
        self.registry
            .call("sqs", &self.ctx, op, input)
            .await
            .unwrap_or_else(|e| panic!("{op}: {e}"))
    }

    async fn topic(&self, name: &str, attrs: Value) -> String {
        let out = self
            .ok("CreateTopic", json!({"Name": name, "Attributes": attrs}))
            .await;
        out["TopicArn"].as_str().unwrap().to_string()
    }

    /// A queue and its ARN.
    async fn queue(&self, name: &str) -> (String, String) {
        let mut attrs = json!({});
        if name.ends_with(".fifo") {
            attrs = json!({"FifoQueue": "true"});
        }
        let url = self
            .sqs(
                "CreateQueue",
                json!({"QueueName": name, "Attributes": attrs}),
            )
            .await["QueueUrl"]
            .as_str()
            .unwrap()
            .to_string();
        (url, format!("arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"))
    }

    async fn subscribe(&self, topic: &str, protocol: &str, endpoint: &str, attrs: Value) -> String {
        let out = self
            .ok(
                "Subscribe",
                json!({"TopicArn": topic, "Protocol": protocol, "Endpoint": endpoint, "Attributes": attrs}),
            )
            .await;
        out["SubscriptionArn"].as_str().unwrap().to_string()
    }

    async fn receive(&self, url: &str) -> Vec<Value> {
        let out = self
            .sqs(
                "ReceiveMessage",
                json!({"QueueUrl": url, "MaxNumberOfMessages": 10, "MessageAttributeNames": ["All"]}),
            )
            .await;
        out["Messages"].as_array().cloned().unwrap_or_default()
    }

    async fn receive_all(&self, url: &str) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let batch = self.receive(url).await;
            if batch.is_empty() {
                return all;
            }
            for m in &batch {
                self.sqs(
                    "DeleteMessage",
                    json!({"QueueUrl": url, "ReceiptHandle": m["ReceiptHandle"]}),
                )
                .await;
            }
            all.extend(batch);
        }
    }
}

fn body_json(m: &Value) -> Value {
    serde_json::from_str(m["Body"].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn create_topic_is_idempotent_and_reports_attributes() {
    let e = env();
    let arn = e.topic("t1", json!({"DisplayName": "Hello"})).await;
    assert_eq!(arn, "arn:aws:sns:us-east-1:000000000000:t1");
    assert_eq!(e.topic("t1", json!({"DisplayName": "Hello"})).await, arn);
    let err = e
        .sns(
            "CreateTopic",
            json!({"Name": "t1", "Attributes": {"DisplayName": "Other"}}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    assert_eq!(
        err.message,
        "Invalid parameter: Attributes Reason: Topic already exists with different attributes"
    );
    let attrs = e.ok("GetTopicAttributes", json!({"TopicArn": arn})).await["Attributes"].clone();
    assert_eq!(attrs["DisplayName"], "Hello");
    assert_eq!(attrs["Owner"], ACCOUNT);
    assert_eq!(attrs["SubscriptionsConfirmed"], "0");
    let policy: Value = serde_json::from_str(attrs["Policy"].as_str().unwrap()).unwrap();
    assert_eq!(policy["Id"], "__default_policy_ID");
    assert_eq!(policy["Statement"][0]["Resource"], arn);
    assert!(
        attrs["EffectiveDeliveryPolicy"]
            .as_str()
            .unwrap()
            .contains("\"numRetries\":3")
    );
    for (name, attrs, msg) in [
        ("a.b", json!({}), "Invalid parameter: Topic Name"),
        ("x.fifo", json!({}), "Invalid parameter: Topic Name"),
        (
            "x",
            json!({"FifoTopic": "true"}),
            "Invalid parameter: Fifo Topic names must end with .fifo and must be made up of only uppercase and lowercase ASCII letters, numbers, underscores, and hyphens, and must be between 1 and 256 characters long.",
        ),
    ] {
        let err = e
            .sns("CreateTopic", json!({"Name": name, "Attributes": attrs}))
            .await
            .unwrap_err();
        assert_eq!(err.message, msg);
    }
    let err = e
        .sns(
            "GetTopicAttributes",
            json!({"TopicArn": "arn:aws:sns:us-east-1:000000000000:nope"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        (err.code.as_str(), err.message.as_str()),
        ("NotFoundException", "Topic does not exist")
    );
}

#[tokio::test]
async fn sqs_delivery_carries_a_verifiable_envelope() {
    let e = env();
    let topic = e.topic("env", json!({})).await;
    let (url, qarn) = e.queue("env-q").await;
    let sub = e.subscribe(&topic, "sqs", &qarn, json!({})).await;
    assert!(sub.starts_with(&format!("{topic}:")));
    let out = e
        .ok(
            "Publish",
            json!({"TopicArn": topic, "Message": "hello \"world\"", "Subject": "Greeting",
                   "MessageAttributes": {"color": {"DataType": "String", "StringValue": "blue"},
                                         "n": {"DataType": "Number", "StringValue": "42"}}}),
        )
        .await;
    let msgs = e.receive(&url).await;
    assert_eq!(msgs.len(), 1);
    let raw = msgs[0]["Body"].as_str().unwrap();
    // AWS's layout: two-space indent, ` : ` separators, this field order.
    let order = [
        "Type",
        "MessageId",
        "TopicArn",
        "Subject",
        "Message",
        "Timestamp",
        "SignatureVersion",
        "Signature",
        "SigningCertURL",
        "UnsubscribeURL",
        "MessageAttributes",
    ];
    let mut last = 0;
    for f in order {
        let at = raw
            .find(&format!("\n  \"{f}\" : "))
            .unwrap_or_else(|| panic!("{f} missing in {raw}"));
        assert!(at > last, "{f} out of order");
        last = at;
    }
    let body = body_json(&msgs[0]);
    assert_eq!(body["Type"], "Notification");
    assert_eq!(body["MessageId"], out["MessageId"]);
    assert_eq!(body["Message"], "hello \"world\"");
    assert_eq!(body["SignatureVersion"], "1");
    assert_eq!(
        body["MessageAttributes"]["n"],
        json!({"Type": "Number", "Value": "42"})
    );
    assert_eq!(
        body["UnsubscribeURL"],
        format!("http://127.0.0.1:4566/?Action=Unsubscribe&SubscriptionArn={sub}")
    );
    let ts = body["Timestamp"].as_str().unwrap();
    assert_eq!(ts.len(), 24);
    assert!(ts.ends_with('Z'));
    // The certificate served at SigningCertURL verifies the signature.
    let cert_url = body["SigningCertURL"].as_str().unwrap();
    let path = cert_url
        .strip_prefix("http://127.0.0.1:4566/_stratus/sns/")
        .unwrap();
    let (ctype, pem) = e.sns.internal_get(path, "").unwrap();
    assert_eq!(ctype, "application/x-pem-file");
    let cert = x509_cert::Certificate::from_pem(&pem).unwrap();
    let spki = cert.tbs_certificate.subject_public_key_info;
    let key = <rsa::RsaPublicKey as rsa::pkcs8::DecodePublicKey>::from_public_key_der(
        &x509_cert::der::Encode::to_der(&spki).unwrap(),
    )
    .unwrap();
    let canonical = crate::signing::notification_string(
        body["Message"].as_str().unwrap(),
        body["MessageId"].as_str().unwrap(),
        body["Subject"].as_str(),
        ts,
        &topic,
    );
    let sig = base64::engine::general_purpose::STANDARD
        .decode(body["Signature"].as_str().unwrap())
        .unwrap();
    let sig = rsa::pkcs1v15::Signature::try_from(sig.as_slice()).unwrap();
    VerifyingKey::<sha1::Sha1>::new(key)
        .verify(canonical.as_bytes(), &sig)
        .unwrap();
    assert!(
        e.sns
            .internal_get("SimpleNotificationService-0.pem", "")
            .is_none()
    );
}

#[tokio::test]
async fn raw_delivery_and_message_structure() {
    let e = env();
    let topic = e.topic("raw", json!({})).await;
    let (raw_url, raw_arn) = e.queue("raw-q").await;
    let (env_url, env_arn) = e.queue("env-q").await;
    e.subscribe(
        &topic,
        "sqs",
        &raw_arn,
        json!({"RawMessageDelivery": "true"}),
    )
    .await;
    e.subscribe(&topic, "sqs", &env_arn, json!({})).await;
    e.ok(
        "Publish",
        json!({"TopicArn": topic, "MessageStructure": "json",
               "Message": "{\"default\":\"for everyone\",\"sqs\":\"for queues\",\"email\":\"for mail\"}",
               "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"},
                                     "b": {"DataType": "Binary", "BinaryValue": "AAE="}}}),
    )
    .await;
    let raw = e.receive(&raw_url).await;
    assert_eq!(raw[0]["Body"], "for queues");
    assert_eq!(raw[0]["MessageAttributes"]["k"]["StringValue"], "v");
    assert_eq!(raw[0]["MessageAttributes"]["b"]["BinaryValue"], "AAE=");
    let wrapped = e.receive(&env_url).await;
    assert_eq!(body_json(&wrapped[0])["Message"], "for queues");
    let err = e
        .sns(
            "Publish",
            json!({"TopicArn": topic, "MessageStructure": "json", "Message": "{\"sqs\":\"x\"}"}),
        )
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Invalid parameter: Message Structure - No default entry in JSON message body"
    );
    let err = e
        .sns(
            "Publish",
            json!({"TopicArn": topic, "Message": "x".repeat(262_145)}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Message too long");
    let err = e
        .sns(
            "Publish",
            json!({"TopicArn": topic, "Message": "x", "Subject": "a".repeat(101)}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Subject");
}

#[tokio::test]
async fn filter_policies_in_both_scopes() {
    let e = env();
    let topic = e.topic("filters", json!({})).await;
    let (attr_url, attr_arn) = e.queue("attr-q").await;
    let (body_url, body_arn) = e.queue("body-q").await;
    e.subscribe(
        &topic,
        "sqs",
        &attr_arn,
        json!({"FilterPolicy": "{\"color\":[\"red\",{\"prefix\":\"bl\"}],\"size\":[{\"numeric\":[\">\",10]}]}"}),
    )
    .await;
    e.subscribe(
        &topic,
        "sqs",
        &body_arn,
        json!({"FilterPolicy": "{\"order\":{\"status\":[{\"anything-but\":\"cancelled\"}]}}",
               "FilterPolicyScope": "MessageBody"}),
    )
    .await;
    let publish = |color: &str, size: &str, body: &str| {
        json!({"TopicArn": topic, "Message": body,
               "MessageAttributes": {"color": {"DataType": "String", "StringValue": color},
                                     "size": {"DataType": "Number", "StringValue": size}}})
    };
    e.ok(
        "Publish",
        publish("blue", "11", r#"{"order":{"status":"new"}}"#),
    )
    .await;
    e.ok(
        "Publish",
        publish("green", "11", r#"{"order":{"status":"cancelled"}}"#),
    )
    .await;
    e.ok("Publish", publish("red", "5", "not json")).await;
    let attr = e.receive_all(&attr_url).await;
    assert_eq!(attr.len(), 1);
    assert!(
        body_json(&attr[0])["Message"]
            .as_str()
            .unwrap()
            .contains("new")
    );
    let body = e.receive_all(&body_url).await;
    assert_eq!(body.len(), 1);
    assert!(
        body_json(&body[0])["Message"]
            .as_str()
            .unwrap()
            .contains("new")
    );
    let err = e
        .sns(
            "Subscribe",
            json!({"TopicArn": topic, "Protocol": "sqs", "Endpoint": attr_arn,
                   "Attributes": {"FilterPolicy": "{\"a\": []}"}}),
        )
        .await
        .unwrap_err();
    assert!(
        err.message
            .starts_with("Invalid parameter: Attributes Reason: FilterPolicy: "),
        "{}",
        err.message
    );
}

#[tokio::test]
async fn fifo_topics_order_deduplicate_and_sequence() {
    let e = env();
    let topic = e.topic("orders.fifo", json!({"FifoTopic": "true"})).await;
    let (url, qarn) = e.queue("orders-q.fifo").await;
    e.subscribe(&topic, "sqs", &qarn, json!({"RawMessageDelivery": "true"}))
        .await;
    let err = e
        .sns("Publish", json!({"TopicArn": topic, "Message": "m"}))
        .await
        .unwrap_err();
    assert_eq!(
        err.message,
        "Invalid parameter: The MessageGroupId parameter is required for FIFO topics"
    );
    let err = e
        .sns(
            "Publish",
            json!({"TopicArn": topic, "Message": "m", "MessageGroupId": "g"}),
        )
        .await
        .unwrap_err();
    assert!(err.message.contains("ContentBasedDeduplication"));
    let mut seqs = Vec::new();
    for i in 0..5 {
        let out = e
            .ok(
                "Publish",
                json!({"TopicArn": topic, "Message": format!("m{i}"), "MessageGroupId": "g",
                       "MessageDeduplicationId": format!("d{i}")}),
            )
            .await;
        seqs.push(out["SequenceNumber"].as_str().unwrap().to_string());
    }
    // A duplicate within the window is accepted and not delivered.
    let dup = e
        .ok(
            "Publish",
            json!({"TopicArn": topic, "Message": "again", "MessageGroupId": "g", "MessageDeduplicationId": "d0"}),
        )
        .await;
    assert_eq!(dup["SequenceNumber"], seqs[0]);
    assert!(seqs.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(seqs[0].len(), 20);
    let bodies: Vec<String> = e
        .receive_all(&url)
        .await
        .iter()
        .map(|m| m["Body"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(bodies, ["m0", "m1", "m2", "m3", "m4"]);
    let err = e
        .sns(
            "Subscribe",
            json!({"TopicArn": topic, "Protocol": "http", "Endpoint": "http://x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "InvalidParameterException");
    let std_topic = e.topic("plain", json!({})).await;
    let err = e
        .sns(
            "Subscribe",
            json!({"TopicArn": std_topic, "Protocol": "sqs", "Endpoint": qarn}),
        )
        .await
        .unwrap_err();
    assert!(
        err.message
            .contains("FIFO SQS Queues can not be subscribed to standard SNS topics")
    );
}

#[tokio::test]
async fn content_based_deduplication_and_batches() {
    let e = env();
    let topic = e
        .topic(
            "cbd.fifo",
            json!({"FifoTopic": "true", "ContentBasedDeduplication": "true"}),
        )
        .await;
    let (url, qarn) = e.queue("cbd-q.fifo").await;
    e.subscribe(&topic, "sqs", &qarn, json!({})).await;
    let out = e
        .ok(
            "PublishBatch",
            json!({"TopicArn": topic, "PublishBatchRequestEntries": [
                {"Id": "a", "Message": "same", "MessageGroupId": "g"},
                {"Id": "b", "Message": "same", "MessageGroupId": "g"},
                {"Id": "c", "Message": "other", "MessageGroupId": "g"},
                {"Id": "d", "Message": "no group"}
            ]}),
        )
        .await;
    assert_eq!(out["Successful"].as_array().unwrap().len(), 3);
    assert_eq!(out["Failed"][0]["Id"], "d");
    assert_eq!(out["Failed"][0]["Code"], "InvalidParameter");
    assert_eq!(
        out["Successful"][0]["MessageId"],
        out["Successful"][1]["MessageId"]
    );
    let msgs = e.receive_all(&url).await;
    assert_eq!(msgs.len(), 2);
    let body = body_json(&msgs[0]);
    assert_eq!(body["Message"], "same");
    assert!(body["SequenceNumber"].as_str().is_some());
    let err = e
        .sns("PublishBatch", json!({"TopicArn": topic, "PublishBatchRequestEntries": [
            {"Id": "x", "Message": "1", "MessageGroupId": "g"}, {"Id": "x", "Message": "2", "MessageGroupId": "g"}]}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "BatchEntryIdsNotDistinctException");
    let many: Vec<Value> = (0..11)
        .map(|i| json!({"Id": format!("i{i}"), "Message": "m", "MessageGroupId": "g"}))
        .collect();
    let err = e
        .sns(
            "PublishBatch",
            json!({"TopicArn": topic, "PublishBatchRequestEntries": many}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "TooManyEntriesInBatchRequestException");
}

#[tokio::test]
async fn failed_deliveries_go_to_the_dead_letter_queue() {
    let e = env();
    let topic = e.topic("dlq-topic", json!({})).await;
    let (dlq_url, dlq_arn) = e.queue("the-dlq").await;
    let missing = format!("arn:aws:sqs:{REGION}:{ACCOUNT}:does-not-exist");
    e.subscribe(
        &topic,
        "sqs",
        &missing,
        json!({"RedrivePolicy": format!("{{\"deadLetterTargetArn\":\"{dlq_arn}\"}}")}),
    )
    .await;
    e.ok("Publish", json!({"TopicArn": topic, "Message": "lost"}))
        .await;
    let msgs = e.receive(&dlq_url).await;
    assert_eq!(msgs.len(), 1);
    assert_eq!(body_json(&msgs[0])["Message"], "lost");
    assert_eq!(
        msgs[0]["MessageAttributes"]["ErrorCode"]["StringValue"],
        "QueueDoesNotExist"
    );
}

#[tokio::test]
async fn subscriptions_list_paginate_and_unsubscribe() {
    let e = env();
    let topic = e.topic("lists", json!({})).await;
    let mut arns = Vec::new();
    for i in 0..150 {
        let (_, q) = e.queue(&format!("lq{i}")).await;
        arns.push(e.subscribe(&topic, "sqs", &q, json!({})).await);
    }
    // Subscribing again returns the same subscription.
    let (_, q0) = e.queue("lq0").await;
    assert_eq!(e.subscribe(&topic, "sqs", &q0, json!({})).await, arns[0]);
    let p1 = e
        .ok("ListSubscriptionsByTopic", json!({"TopicArn": topic}))
        .await;
    assert_eq!(p1["Subscriptions"].as_array().unwrap().len(), 100);
    let p2 = e
        .ok(
            "ListSubscriptionsByTopic",
            json!({"TopicArn": topic, "NextToken": p1["NextToken"]}),
        )
        .await;
    assert_eq!(p2["Subscriptions"].as_array().unwrap().len(), 50);
    assert!(p2.get("NextToken").is_none());
    let attrs = e.ok("GetTopicAttributes", json!({"TopicArn": topic})).await;
    assert_eq!(attrs["Attributes"]["SubscriptionsConfirmed"], "150");
    e.ok("Unsubscribe", json!({"SubscriptionArn": arns[0]}))
        .await;
    let err = e
        .sns(
            "GetSubscriptionAttributes",
            json!({"SubscriptionArn": arns[0]}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "NotFoundException");
    let sub = e
        .ok(
            "GetSubscriptionAttributes",
            json!({"SubscriptionArn": arns[1]}),
        )
        .await;
    assert_eq!(sub["Attributes"]["PendingConfirmation"], "false");
    assert_eq!(sub["Attributes"]["RawMessageDelivery"], "false");
    e.ok("DeleteTopic", json!({"TopicArn": topic})).await;
    let all = e.ok("ListSubscriptions", json!({})).await;
    assert!(all["Subscriptions"].as_array().unwrap().is_empty());
    // Deleting again is not an error.
    e.ok("DeleteTopic", json!({"TopicArn": topic})).await;
}

#[tokio::test]
async fn email_subscriptions_confirm_with_the_recorded_token() {
    let e = env();
    let topic = e.topic("mail", json!({"DisplayName": "Mailer"})).await;
    let out = e
        .subscribe(&topic, "email", "user@example.com", json!({}))
        .await;
    assert_eq!(out, "pending confirmation");
    let mut emails = Vec::new();
    for _ in 0..100 {
        emails = e
            .sns
            .outbox
            .list(crate::outbox::Kind::Email, "to=user%40example.com");
        if !emails.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(emails[0]["Type"], "SubscriptionConfirmation");
    let token = emails[0]["Token"].as_str().unwrap().to_string();
    let listed = e
        .ok("ListSubscriptionsByTopic", json!({"TopicArn": topic}))
        .await;
    assert_eq!(
        listed["Subscriptions"][0]["SubscriptionArn"],
        "PendingConfirmation"
    );
    let err = e
        .sns(
            "ConfirmSubscription",
            json!({"TopicArn": topic, "Token": "bogus"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Token");
    let confirmed = e
        .ok(
            "ConfirmSubscription",
            json!({"TopicArn": topic, "Token": token}),
        )
        .await;
    assert!(
        confirmed["SubscriptionArn"]
            .as_str()
            .unwrap()
            .starts_with(&topic)
    );
    e.ok(
        "Publish",
        json!({"TopicArn": topic, "Message": "news", "Subject": "Hi"}),
    )
    .await;
    let emails = e.sns.outbox.list(crate::outbox::Kind::Email, "");
    let note = emails.iter().find(|m| m["Type"] == "Notification").unwrap();
    assert_eq!(note["Subject"], "Hi");
    assert_eq!(note["From"], "Mailer <no-reply@sns.amazonaws.com>");
    assert!(note["Body"].as_str().unwrap().starts_with("news\n"));
}

#[tokio::test]
async fn state_survives_a_restart() {
    let store: Arc<dyn Store> = Arc::new(RetainingStore::default());
    let (topic, sub, cert) = {
        let e = env_with(store.clone());
        let topic = e.topic("kept.fifo", json!({"FifoTopic": "true"})).await;
        e.ok(
            "TagResource",
            json!({"ResourceArn": topic, "Tags": [{"Key": "team", "Value": "a"}]}),
        )
        .await;
        let (_, q) = e.queue("kept-q.fifo").await;
        let sub = e
            .subscribe(&topic, "sqs", &q, json!({"RawMessageDelivery": "true"}))
            .await;
        e.ok(
            "Publish",
            json!({"TopicArn": topic, "Message": "1", "MessageGroupId": "g", "MessageDeduplicationId": "once"}),
        )
        .await;
        let keys = e.sns.keys().await.unwrap();
        (topic, sub, keys.cert_file_name())
    };
    let e = env_with(store);
    let tags = e
        .ok("ListTagsForResource", json!({"ResourceArn": topic}))
        .await;
    assert_eq!(tags["Tags"][0], json!({"Key": "team", "Value": "a"}));
    let attrs = e
        .ok("GetSubscriptionAttributes", json!({"SubscriptionArn": sub}))
        .await;
    assert_eq!(attrs["Attributes"]["RawMessageDelivery"], "true");
    assert_eq!(e.sns.keys().await.unwrap().cert_file_name(), cert);
    // The deduplication window survives too; sequence numbers keep growing.
    let out = e
        .ok(
            "Publish",
            json!({"TopicArn": topic, "Message": "1", "MessageGroupId": "g", "MessageDeduplicationId": "once"}),
        )
        .await;
    let first_seq = out["SequenceNumber"].as_str().unwrap().to_string();
    let out = e
        .ok(
            "Publish",
            json!({"TopicArn": topic, "Message": "2", "MessageGroupId": "g", "MessageDeduplicationId": "twice"}),
        )
        .await;
    assert!(out["SequenceNumber"].as_str().unwrap() > first_seq.as_str());
}

#[tokio::test]
async fn permissions_govern_other_accounts() {
    let e = env();
    let topic = e.topic("shared", json!({})).await;
    let other = RequestContext::new("111111111111", REGION);
    let publish = json!({"TopicArn": topic, "Message": "hi"});
    let err = e
        .registry
        .call("sns", &other, "Publish", publish.clone())
        .await
        .unwrap_err();
    assert_eq!(err.code, "AuthorizationErrorException");
    e.ok(
        "AddPermission",
        json!({"TopicArn": topic, "Label": "p", "AWSAccountId": ["111111111111"], "ActionName": ["Publish"]}),
    )
    .await;
    e.registry
        .call("sns", &other, "Publish", publish.clone())
        .await
        .unwrap();
    let err = e
        .sns("AddPermission", json!({"TopicArn": topic, "Label": "p", "AWSAccountId": ["1"], "ActionName": ["Publish"]}))
        .await
        .unwrap_err();
    assert_eq!(err.message, "Invalid parameter: Statement already exists");
    e.ok("RemovePermission", json!({"TopicArn": topic, "Label": "p"}))
        .await;
    assert!(
        e.registry
            .call("sns", &other, "Publish", publish)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn sms_and_platform_settings_are_stored() {
    let e = env();
    e.ok(
        "SetSMSAttributes",
        json!({"attributes": {"DefaultSMSType": "Transactional"}}),
    )
    .await;
    let got = e.ok("GetSMSAttributes", json!({})).await;
    assert_eq!(got["attributes"]["DefaultSMSType"], "Transactional");
    assert!(
        e.sns("SetSMSAttributes", json!({"attributes": {"Bogus": "1"}}))
            .await
            .is_err()
    );
    let out = e
        .ok(
            "Publish",
            json!({"PhoneNumber": "+15555550100", "Message": "code 1"}),
        )
        .await;
    assert!(out["MessageId"].is_string());
    e.ok(
        "CreateSMSSandboxPhoneNumber",
        json!({"PhoneNumber": "+15555550101"}),
    )
    .await;
    let sms = e
        .sns
        .outbox
        .list(crate::outbox::Kind::Sms, "to=%2B15555550101");
    let otp = sms[0]["OneTimePassword"].as_str().unwrap().to_string();
    let err = e
        .sns(
            "VerifySMSSandboxPhoneNumber",
            json!({"PhoneNumber": "+15555550101", "OneTimePassword": "x"}),
        )
        .await
        .unwrap_err();
    assert_eq!(err.code, "VerificationException");
    e.ok(
        "VerifySMSSandboxPhoneNumber",
        json!({"PhoneNumber": "+15555550101", "OneTimePassword": otp}),
    )
    .await;
    let listed = e.ok("ListSMSSandboxPhoneNumbers", json!({})).await;
    assert_eq!(listed["PhoneNumbers"][0]["Status"], "Verified");
    let app = e
        .ok(
            "CreatePlatformApplication",
            json!({"Name": "app", "Platform": "GCM", "Attributes": {"PlatformCredential": "secret"}}),
        )
        .await["PlatformApplicationArn"]
        .as_str()
        .unwrap()
        .to_string();
    let attrs = e
        .ok(
            "GetPlatformApplicationAttributes",
            json!({"PlatformApplicationArn": app}),
        )
        .await;
    assert!(attrs["Attributes"].get("PlatformCredential").is_none());
    assert_eq!(attrs["Attributes"]["Enabled"], "true");
    let ep = e
        .ok(
            "CreatePlatformEndpoint",
            json!({"PlatformApplicationArn": app, "Token": "device-1"}),
        )
        .await["EndpointArn"]
        .as_str()
        .unwrap()
        .to_string();
    let again = e
        .ok(
            "CreatePlatformEndpoint",
            json!({"PlatformApplicationArn": app, "Token": "device-1"}),
        )
        .await;
    assert_eq!(again["EndpointArn"], ep);
    e.ok("Publish", json!({"TargetArn": ep, "Message": "push"}))
        .await;
    e.ok(
        "SetEndpointAttributes",
        json!({"EndpointArn": ep, "Attributes": {"Enabled": "false"}}),
    )
    .await;
    let err = e
        .sns("Publish", json!({"TargetArn": ep, "Message": "push"}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "EndpointDisabledException");
    e.ok(
        "DeletePlatformApplication",
        json!({"PlatformApplicationArn": app}),
    )
    .await;
    let err = e
        .sns("GetEndpointAttributes", json!({"EndpointArn": ep}))
        .await
        .unwrap_err();
    assert_eq!(err.code, "NotFoundException");
}
