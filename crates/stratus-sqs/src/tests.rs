//! Service-level tests through the `SqsApi` methods.

use std::collections::BTreeMap;
use std::sync::Arc;

use stratus_core::{AwsError, RequestContext};
use stratus_store::{MemoryStore, RetainingStore, Store};

use crate::generated::*;
use crate::service::SqsService;
use stratus_core::clock::ManualClock;

const T0: i64 = 1_700_000_000_000;

fn ctx() -> RequestContext {
    RequestContext::new("000000000000", "us-east-1")
}

fn svc_with(store: Arc<dyn Store>) -> (Arc<SqsService>, Arc<ManualClock>) {
    let clock = Arc::new(ManualClock::new(T0));
    let svc = SqsService::with_clock(store, clock.clone()).unwrap();
    (svc, clock)
}

fn svc() -> (Arc<SqsService>, Arc<ManualClock>) {
    svc_with(Arc::new(MemoryStore))
}

async fn create(s: &SqsService, name: &str, attrs: &[(&str, &str)]) -> Result<String, AwsError> {
    let attributes = (!attrs.is_empty()).then(|| {
        attrs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    s.create_queue(
        &ctx(),
        CreateQueueRequest {
            queue_name: name.into(),
            attributes,
            tags: None,
        },
    )
    .await
    .map(|r| r.queue_url.unwrap())
}

async fn send(s: &SqsService, url: &str, body: &str) -> SendMessageResult {
    s.send_message(
        &ctx(),
        SendMessageRequest {
            queue_url: url.into(),
            message_body: body.into(),
            ..Default::default()
        },
    )
    .await
    .unwrap()
}

async fn send_fifo(
    s: &SqsService,
    url: &str,
    body: &str,
    group: &str,
    dedup: Option<&str>,
) -> Result<SendMessageResult, AwsError> {
    s.send_message(
        &ctx(),
        SendMessageRequest {
            queue_url: url.into(),
            message_body: body.into(),
            message_group_id: Some(group.into()),
            message_deduplication_id: dedup.map(Into::into),
            ..Default::default()
        },
    )
    .await
}

async fn receive(s: &SqsService, url: &str, max: i32) -> Vec<Message> {
    s.receive_message(
        &ctx(),
        ReceiveMessageRequest {
            queue_url: url.into(),
            max_number_of_messages: Some(max),
            message_system_attribute_names: Some(vec!["All".into()]),
            message_attribute_names: Some(vec!["All".into()]),
            ..Default::default()
        },
    )
    .await
    .unwrap()
    .messages
    .unwrap_or_default()
}

async fn attrs(s: &SqsService, url: &str) -> BTreeMap<String, String> {
    s.get_queue_attributes(
        &ctx(),
        GetQueueAttributesRequest {
            queue_url: url.into(),
            attribute_names: Some(vec!["All".into()]),
        },
    )
    .await
    .unwrap()
    .attributes
    .unwrap_or_default()
}

#[tokio::test]
async fn create_is_idempotent_and_detects_conflicts() {
    let (s, _) = svc();
    let url = create(&s, "q1", &[("VisibilityTimeout", "60")])
        .await
        .unwrap();
    assert_eq!(url, "http://localhost:4566/000000000000/q1");
    assert_eq!(
        create(&s, "q1", &[("VisibilityTimeout", "60")])
            .await
            .unwrap(),
        url
    );
    assert_eq!(create(&s, "q1", &[]).await.unwrap(), url);
    let e = create(&s, "q1", &[("VisibilityTimeout", "61")])
        .await
        .unwrap_err();
    assert_eq!(e.code, "QueueNameExists");
    assert!(e.message.ends_with("attribute VisibilityTimeout"));
    let e = create(&s, "q.fifo", &[]).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let e = create(&s, "q2", &[("FifoQueue", "true")])
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let a = attrs(&s, &url).await;
    assert_eq!(a["VisibilityTimeout"], "60");
    assert_eq!(a["QueueArn"], "arn:aws:sqs:us-east-1:000000000000:q1");
    assert_eq!(a["MaximumMessageSize"], "1048576");
    assert_eq!(a["SqsManagedSseEnabled"], "true");
    assert!(!a.contains_key("FifoQueue"));
    // Host-form URLs work too.
    let host = "http://sqs.us-east-1.localhost:4566/000000000000/q1";
    assert_eq!(attrs(&s, host).await["VisibilityTimeout"], "60");
    let e = s
        .get_queue_attributes(
            &ctx(),
            GetQueueAttributesRequest {
                queue_url: "http://localhost:4566/000000000000/nope".into(),
                attribute_names: None,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "QueueDoesNotExist");
    let e = s
        .get_queue_attributes(
            &ctx(),
            GetQueueAttributesRequest {
                queue_url: url.clone(),
                attribute_names: Some(vec!["Nope".into()]),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        ("InvalidAttributeName", "Unknown Attribute Nope.")
    );
}

#[tokio::test]
async fn send_receive_delete_with_md5s() {
    let (s, clock) = svc();
    let url = create(&s, "q", &[]).await.unwrap();
    let mut ma = BTreeMap::new();
    ma.insert(
        "Name".to_string(),
        MessageAttributeValue {
            data_type: "String".into(),
            string_value: Some("John".into()),
            ..Default::default()
        },
    );
    let r = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: "hello".into(),
                message_attributes: Some(ma),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(
        r.md5_of_message_body.as_deref(),
        Some("5d41402abc4b2a76b9719d911017c592")
    );
    assert_eq!(
        r.md5_of_message_attributes.as_deref(),
        Some("2efa93bd500fbe2cc1e626c11a2dde6c")
    );
    let got = receive(&s, &url, 10).await;
    assert_eq!(got.len(), 1);
    let m = &got[0];
    assert_eq!(m.message_id, r.message_id);
    assert_eq!(
        m.md5_of_message_attributes.as_deref(),
        Some("2efa93bd500fbe2cc1e626c11a2dde6c")
    );
    let a = m.attributes.as_ref().unwrap();
    assert_eq!(a["ApproximateReceiveCount"], "1");
    assert_eq!(a["SentTimestamp"], T0.to_string());
    assert_eq!(a["SenderId"], "000000000000");
    let at = attrs(&s, &url).await;
    assert_eq!(
        (
            at["ApproximateNumberOfMessages"].as_str(),
            at["ApproximateNumberOfMessagesNotVisible"].as_str()
        ),
        ("0", "1")
    );
    assert!(receive(&s, &url, 10).await.is_empty());
    clock.advance_secs(31);
    let again = receive(&s, &url, 10).await;
    assert_eq!(
        again[0].attributes.as_ref().unwrap()["ApproximateReceiveCount"],
        "2"
    );
    assert_ne!(again[0].receipt_handle, m.receipt_handle);
    s.delete_message(
        &ctx(),
        DeleteMessageRequest {
            queue_url: url.clone(),
            receipt_handle: again[0].receipt_handle.clone().unwrap(),
        },
    )
    .await
    .unwrap();
    // Deleting again succeeds; garbage fails.
    s.delete_message(
        &ctx(),
        DeleteMessageRequest {
            queue_url: url.clone(),
            receipt_handle: again[0].receipt_handle.clone().unwrap(),
        },
    )
    .await
    .unwrap();
    let e = s
        .delete_message(
            &ctx(),
            DeleteMessageRequest {
                queue_url: url.clone(),
                receipt_handle: "garbage".into(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "ReceiptHandleIsInvalid");
    clock.advance_secs(100);
    assert!(receive(&s, &url, 10).await.is_empty());
}

#[tokio::test]
async fn send_validation() {
    let (s, _) = svc();
    let url = create(&s, "q", &[("MaximumMessageSize", "1024")])
        .await
        .unwrap();
    let big = "x".repeat(1025);
    let e = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: big,
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "One or more parameters are invalid. Reason: Message must be shorter than 1024 bytes."
    );
    let e = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: "a\u{0}b".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidMessageContents");
    let e = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: "a".into(),
                delay_seconds: Some(901),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
}

#[tokio::test]
async fn delays_and_visibility_changes() {
    let (s, clock) = svc();
    let url = create(&s, "q", &[("DelaySeconds", "5")]).await.unwrap();
    send(&s, &url, "a").await;
    assert_eq!(
        attrs(&s, &url).await["ApproximateNumberOfMessagesDelayed"],
        "1"
    );
    assert!(receive(&s, &url, 1).await.is_empty());
    clock.advance_secs(5);
    let m = receive(&s, &url, 1).await;
    assert_eq!(m.len(), 1);
    let rh = m[0].receipt_handle.clone().unwrap();
    s.change_message_visibility(
        &ctx(),
        ChangeMessageVisibilityRequest {
            queue_url: url.clone(),
            receipt_handle: rh.clone(),
            visibility_timeout: 0,
        },
    )
    .await
    .unwrap();
    let m2 = receive(&s, &url, 1).await;
    assert_eq!(m2.len(), 1);
    let rh2 = m2[0].receipt_handle.clone().unwrap();
    let e = s
        .change_message_visibility(
            &ctx(),
            ChangeMessageVisibilityRequest {
                queue_url: url.clone(),
                receipt_handle: rh2.clone(),
                visibility_timeout: 43_201,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    s.delete_message(
        &ctx(),
        DeleteMessageRequest {
            queue_url: url.clone(),
            receipt_handle: rh2.clone(),
        },
    )
    .await
    .unwrap();
    let e = s
        .change_message_visibility(
            &ctx(),
            ChangeMessageVisibilityRequest {
                queue_url: url.clone(),
                receipt_handle: rh2,
                visibility_timeout: 10,
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "MessageNotInflight");
}

#[tokio::test]
async fn batches() {
    let (s, _) = svc();
    let url = create(&s, "q", &[]).await.unwrap();
    let entry = |id: &str, body: &str| SendMessageBatchRequestEntry {
        id: id.into(),
        message_body: body.into(),
        ..Default::default()
    };
    let r = s
        .send_message_batch(
            &ctx(),
            SendMessageBatchRequest {
                queue_url: url.clone(),
                entries: vec![entry("a", "1"), entry("b", "\u{1}")],
            },
        )
        .await
        .unwrap();
    assert_eq!(r.successful.len(), 1);
    assert_eq!(r.failed[0].code, "InvalidMessageContents");
    assert!(r.failed[0].sender_fault);
    let e = s
        .send_message_batch(
            &ctx(),
            SendMessageBatchRequest {
                queue_url: url.clone(),
                entries: vec![],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "EmptyBatchRequest");
    let e = s
        .send_message_batch(
            &ctx(),
            SendMessageBatchRequest {
                queue_url: url.clone(),
                entries: (0..11).map(|i| entry(&format!("e{i}"), "x")).collect(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "TooManyEntriesInBatchRequest");
    let e = s
        .send_message_batch(
            &ctx(),
            SendMessageBatchRequest {
                queue_url: url.clone(),
                entries: vec![entry("a", "1"), entry("a", "2")],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "BatchEntryIdsNotDistinct");
    let e = s
        .send_message_batch(
            &ctx(),
            SendMessageBatchRequest {
                queue_url: url.clone(),
                entries: vec![entry("a b", "1")],
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidBatchEntryId");
    let m = receive(&s, &url, 10).await;
    let d = s
        .delete_message_batch(
            &ctx(),
            DeleteMessageBatchRequest {
                queue_url: url.clone(),
                entries: vec![
                    DeleteMessageBatchRequestEntry {
                        id: "x".into(),
                        receipt_handle: m[0].receipt_handle.clone().unwrap(),
                    },
                    DeleteMessageBatchRequestEntry {
                        id: "y".into(),
                        receipt_handle: "bad".into(),
                    },
                ],
            },
        )
        .await
        .unwrap();
    assert_eq!(d.successful.len(), 1);
    assert_eq!(d.failed[0].code, "ReceiptHandleIsInvalid");
}

#[tokio::test]
async fn fifo_dedup_and_groups() {
    let (s, clock) = svc();
    let url = create(&s, "f.fifo", &[("FifoQueue", "true")])
        .await
        .unwrap();
    let e = send_fifo(&s, &url, "a", "g", None).await.unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let e = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: "a".into(),
                message_deduplication_id: Some("d".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        (e.code.as_str(), e.message.as_str()),
        (
            "MissingParameter",
            "The request must contain the parameter MessageGroupId."
        )
    );
    let r1 = send_fifo(&s, &url, "a", "g", Some("d1")).await.unwrap();
    let r2 = send_fifo(&s, &url, "a-again", "g", Some("d1"))
        .await
        .unwrap();
    assert_eq!(r1.message_id, r2.message_id);
    assert_eq!(r1.sequence_number, r2.sequence_number);
    assert_eq!(r1.sequence_number.as_ref().unwrap().len(), 20);
    let r3 = send_fifo(&s, &url, "b", "g", Some("d2")).await.unwrap();
    assert!(r3.sequence_number > r1.sequence_number);
    send_fifo(&s, &url, "c", "h", Some("d3")).await.unwrap();
    let m = receive(&s, &url, 1).await;
    assert_eq!(m[0].body.as_deref(), Some("a"));
    assert_eq!(m[0].attributes.as_ref().unwrap()["MessageGroupId"], "g");
    // Group g locked: only h is available.
    let m2 = receive(&s, &url, 10).await;
    assert_eq!(m2.len(), 1);
    assert_eq!(m2[0].body.as_deref(), Some("c"));
    clock.advance_secs(301);
    // Dedup window over: the same id is accepted again.
    let r4 = send_fifo(&s, &url, "a", "g", Some("d1")).await.unwrap();
    assert_ne!(r4.message_id, r1.message_id);
    let e = s
        .send_message(
            &ctx(),
            SendMessageRequest {
                queue_url: url.clone(),
                message_body: "a".into(),
                message_group_id: Some("g".into()),
                message_deduplication_id: Some("z".into()),
                delay_seconds: Some(5),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
}

#[tokio::test]
async fn fifo_receive_attempt_id_replays() {
    let (s, _) = svc();
    let url = create(
        &s,
        "f.fifo",
        &[("FifoQueue", "true"), ("ContentBasedDeduplication", "true")],
    )
    .await
    .unwrap();
    send_fifo(&s, &url, "a", "g", None).await.unwrap();
    send_fifo(&s, &url, "b", "g", None).await.unwrap();
    let req = || ReceiveMessageRequest {
        queue_url: url.clone(),
        max_number_of_messages: Some(10),
        receive_request_attempt_id: Some("att".into()),
        ..Default::default()
    };
    let m1 = s
        .receive_message(&ctx(), req())
        .await
        .unwrap()
        .messages
        .unwrap();
    let m2 = s
        .receive_message(&ctx(), req())
        .await
        .unwrap()
        .messages
        .unwrap();
    assert_eq!(m1.len(), 2);
    assert_eq!(m1, m2);
}

#[tokio::test]
async fn dead_letter_queue_and_redrive() {
    let (s, clock) = svc();
    let dlq = create(&s, "dlq", &[]).await.unwrap();
    let dlq_arn = "arn:aws:sqs:us-east-1:000000000000:dlq";
    let policy = format!(r#"{{"deadLetterTargetArn":"{dlq_arn}","maxReceiveCount":2}}"#);
    let e = create(&s, "src", &[("RedrivePolicy", r#"{"deadLetterTargetArn":"arn:aws:sqs:us-east-1:000000000000:none","maxReceiveCount":2}"#)])
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let src = create(
        &s,
        "src",
        &[("RedrivePolicy", &policy), ("VisibilityTimeout", "1")],
    )
    .await
    .unwrap();
    let sent = send(&s, &src, "poison").await;
    for _ in 0..2 {
        assert_eq!(receive(&s, &src, 1).await.len(), 1);
        clock.advance_secs(2);
    }
    assert!(receive(&s, &src, 1).await.is_empty());
    let d = receive(&s, &dlq, 1).await;
    assert_eq!(d[0].message_id, sent.message_id);
    let a = d[0].attributes.as_ref().unwrap();
    assert_eq!(
        a["DeadLetterQueueSourceArn"],
        "arn:aws:sqs:us-east-1:000000000000:src"
    );
    assert_eq!(a["SentTimestamp"], T0.to_string());
    let srcs = s
        .list_dead_letter_source_queues(
            &ctx(),
            ListDeadLetterSourceQueuesRequest {
                queue_url: dlq.clone(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(srcs.queue_urls, vec![src.clone()]);
    // Redrive back to the source.
    clock.advance_secs(31);
    let e = s
        .start_message_move_task(
            &ctx(),
            StartMessageMoveTaskRequest {
                source_arn: "arn:aws:sqs:us-east-1:000000000000:src".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "InvalidParameterValue");
    let t = s
        .start_message_move_task(
            &ctx(),
            StartMessageMoveTaskRequest {
                source_arn: dlq_arn.into(),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(t.task_handle.is_some());
    let mut status = String::new();
    for _ in 0..100 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let l = s
            .list_message_move_tasks(
                &ctx(),
                ListMessageMoveTasksRequest {
                    source_arn: dlq_arn.into(),
                    max_results: Some(10),
                },
            )
            .await
            .unwrap();
        let r = &l.results.unwrap()[0];
        status = r.status.clone().unwrap();
        if status == "COMPLETED" {
            assert_eq!(r.approximate_number_of_messages_moved, Some(1));
            assert!(r.task_handle.is_none());
            break;
        }
    }
    assert_eq!(status, "COMPLETED");
    let back = receive(&s, &src, 1).await;
    assert_eq!(back[0].message_id, sent.message_id);
    assert_eq!(
        back[0].attributes.as_ref().unwrap()["ApproximateReceiveCount"],
        "1"
    );
    let e = s
        .cancel_message_move_task(
            &ctx(),
            CancelMessageMoveTaskRequest {
                task_handle: t.task_handle.unwrap(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(e.code, "UnsupportedOperation");
}

#[tokio::test]
async fn list_tags_permissions_purge() {
    let (s, clock) = svc();
    for n in ["a1", "a2", "a3", "b1"] {
        create(&s, n, &[]).await.unwrap();
    }
    let l = s
        .list_queues(
            &ctx(),
            ListQueuesRequest {
                queue_name_prefix: Some("a".into()),
                max_results: Some(2),
                next_token: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(l.queue_urls.as_ref().unwrap().len(), 2);
    let l2 = s
        .list_queues(
            &ctx(),
            ListQueuesRequest {
                queue_name_prefix: Some("a".into()),
                max_results: Some(2),
                next_token: l.next_token,
            },
        )
        .await
        .unwrap();
    assert_eq!(
        l2.queue_urls.unwrap(),
        vec!["http://localhost:4566/000000000000/a3".to_string()]
    );
    assert!(l2.next_token.is_none());
    let url = "http://localhost:4566/000000000000/a1".to_string();
    let mut tags = BTreeMap::new();
    tags.insert("k".to_string(), "v".to_string());
    s.tag_queue(
        &ctx(),
        TagQueueRequest {
            queue_url: url.clone(),
            tags,
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.list_queue_tags(
            &ctx(),
            ListQueueTagsRequest {
                queue_url: url.clone()
            }
        )
        .await
        .unwrap()
        .tags
        .unwrap()["k"],
        "v"
    );
    s.untag_queue(
        &ctx(),
        UntagQueueRequest {
            queue_url: url.clone(),
            tag_keys: vec!["k".into()],
        },
    )
    .await
    .unwrap();
    assert!(
        s.list_queue_tags(
            &ctx(),
            ListQueueTagsRequest {
                queue_url: url.clone()
            }
        )
        .await
        .unwrap()
        .tags
        .is_none()
    );
    let add = AddPermissionRequest {
        queue_url: url.clone(),
        label: "L".into(),
        aws_account_ids: vec!["111111111111".into()],
        actions: vec!["SendMessage".into()],
    };
    s.add_permission(&ctx(), add.clone()).await.unwrap();
    assert_eq!(
        s.add_permission(&ctx(), add).await.unwrap_err().code,
        "InvalidParameterValue"
    );
    let policy: serde_json::Value = serde_json::from_str(&attrs(&s, &url).await["Policy"]).unwrap();
    assert_eq!(policy["Statement"][0]["Action"], "SQS:SendMessage");
    s.remove_permission(
        &ctx(),
        RemovePermissionRequest {
            queue_url: url.clone(),
            label: "L".into(),
        },
    )
    .await
    .unwrap();
    assert!(!attrs(&s, &url).await.contains_key("Policy"));
    send(&s, &url, "x").await;
    s.purge_queue(
        &ctx(),
        PurgeQueueRequest {
            queue_url: url.clone(),
        },
    )
    .await
    .unwrap();
    let e = s
        .purge_queue(
            &ctx(),
            PurgeQueueRequest {
                queue_url: url.clone(),
            },
        )
        .await
        .unwrap_err();
    assert_eq!(
        e.message,
        "Only one PurgeQueue operation on a1 is allowed every 60 seconds."
    );
    assert!(receive(&s, &url, 10).await.is_empty());
    clock.advance_secs(61);
    s.purge_queue(
        &ctx(),
        PurgeQueueRequest {
            queue_url: url.clone(),
        },
    )
    .await
    .unwrap();
    s.delete_queue(
        &ctx(),
        DeleteQueueRequest {
            queue_url: url.clone(),
        },
    )
    .await
    .unwrap();
    assert_eq!(
        s.get_queue_url(
            &ctx(),
            GetQueueUrlRequest {
                queue_name: "a1".into(),
                queue_owner_aws_account_id: None
            }
        )
        .await
        .unwrap_err()
        .code,
        "QueueDoesNotExist"
    );
}

#[tokio::test]
async fn long_poll_wakes_on_send() {
    let (s, _) = svc();
    let url = create(&s, "q", &[]).await.unwrap();
    let s2 = s.clone();
    let u2 = url.clone();
    let poller = tokio::spawn(async move {
        let started = std::time::Instant::now();
        let r = s2
            .receive_message(
                &ctx(),
                ReceiveMessageRequest {
                    queue_url: u2,
                    wait_time_seconds: Some(5),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        (r.messages.unwrap_or_default().len(), started.elapsed())
    });
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    send(&s, &url, "hi").await;
    let (n, took) = poller.await.unwrap();
    assert_eq!(n, 1);
    assert!(took < std::time::Duration::from_secs(2));
}

#[tokio::test]
async fn persistence_round_trip() {
    let store = Arc::new(RetainingStore::default());
    let (s, clock) = svc_with(store.clone());
    let url = create(&s, "q", &[("VisibilityTimeout", "100")])
        .await
        .unwrap();
    let furl = create(&s, "f.fifo", &[("FifoQueue", "true")])
        .await
        .unwrap();
    let mut tags = BTreeMap::new();
    tags.insert("team".to_string(), "x".to_string());
    s.tag_queue(
        &ctx(),
        TagQueueRequest {
            queue_url: url.clone(),
            tags,
        },
    )
    .await
    .unwrap();
    let a = send(&s, &url, "a").await;
    send(&s, &url, "b").await;
    let f1 = send_fifo(&s, &furl, "f1", "g", Some("d")).await.unwrap();
    let got = receive(&s, &url, 1).await;
    let rh = got[0].receipt_handle.clone().unwrap();
    drop(s);
    clock.advance_secs(10);
    let s2 = SqsService::with_clock(store.clone(), clock.clone()).unwrap();
    let at = attrs(&s2, &url).await;
    assert_eq!(at["VisibilityTimeout"], "100");
    assert_eq!(
        (
            at["ApproximateNumberOfMessages"].as_str(),
            at["ApproximateNumberOfMessagesNotVisible"].as_str()
        ),
        ("1", "1")
    );
    assert_eq!(
        s2.list_queue_tags(
            &ctx(),
            ListQueueTagsRequest {
                queue_url: url.clone()
            }
        )
        .await
        .unwrap()
        .tags
        .unwrap()["team"],
        "x"
    );
    // The in-flight message's receipt handle still works.
    s2.delete_message(
        &ctx(),
        DeleteMessageRequest {
            queue_url: url.clone(),
            receipt_handle: rh,
        },
    )
    .await
    .unwrap();
    let m = receive(&s2, &url, 10).await;
    assert_eq!(m.len(), 1);
    assert_eq!(m[0].body.as_deref(), Some("b"));
    assert_ne!(m[0].message_id, a.message_id);
    // Dedup state survived.
    let dup = send_fifo(&s2, &furl, "f1", "g", Some("d")).await.unwrap();
    assert_eq!(dup.message_id, f1.message_id);
    let f = receive(&s2, &furl, 10).await;
    assert_eq!(f.len(), 1);
    assert_eq!(
        f[0].attributes.as_ref().unwrap()["SequenceNumber"],
        f1.sequence_number.clone().unwrap()
    );
    s2.delete_queue(
        &ctx(),
        DeleteQueueRequest {
            queue_url: furl.clone(),
        },
    )
    .await
    .unwrap();
    drop(s2);
    let s3 = SqsService::with_clock(store, clock).unwrap();
    let l = s3
        .list_queues(&ctx(), ListQueuesRequest::default())
        .await
        .unwrap();
    assert_eq!(l.queue_urls.unwrap(), vec![url.clone()]);
    let at = attrs(&s3, &url).await;
    assert_eq!(at["ApproximateNumberOfMessagesNotVisible"], "1");
}
