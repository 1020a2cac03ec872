//! awsQuery responses of the SQS query edition, as AWS writes them.

use serde_json::json;
use stratus_model::{Protocol, ServiceModel};

use crate::encode_output;

fn sqs_query() -> ServiceModel {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../models/sqs-query/service-2.json"
    ))
    .unwrap_or_default();
    ServiceModel::from_json(&text).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn receive_message_uses_flattened_names() {
    let model = sqs_query();
    let out = json!({"Messages": [{
        "MessageId": "m1", "ReceiptHandle": "r1", "MD5OfBody": "x", "Body": "a<b",
        "Attributes": {"SentTimestamp": "1"},
        "MessageAttributes": {"k": {"DataType": "String", "StringValue": "v"}}
    }]});
    let resp = encode_output(&model, Protocol::AwsQuery, "ReceiveMessage", &out, "rid");
    let body = String::from_utf8(resp.body).unwrap_or_default();
    assert_eq!(
        body,
        "<ReceiveMessageResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\">\
<ReceiveMessageResult><Message><MessageId>m1</MessageId><ReceiptHandle>r1</ReceiptHandle>\
<MD5OfBody>x</MD5OfBody><Body>a&lt;b</Body><Attribute><Name>SentTimestamp</Name><Value>1</Value></Attribute>\
<MessageAttribute><Name>k</Name><Value><StringValue>v</StringValue><DataType>String</DataType></Value></MessageAttribute>\
</Message></ReceiveMessageResult><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></ReceiveMessageResponse>"
    );
}

#[test]
fn list_queues_and_tags() {
    let model = sqs_query();
    let resp = encode_output(
        &model,
        Protocol::AwsQuery,
        "ListQueues",
        &json!({"QueueUrls": ["u1", "u2"]}),
        "rid",
    );
    let body = String::from_utf8(resp.body).unwrap_or_default();
    assert!(
        body.contains(
            "<ListQueuesResult><QueueUrl>u1</QueueUrl><QueueUrl>u2</QueueUrl></ListQueuesResult>"
        ),
        "{body}"
    );
    let resp = encode_output(
        &model,
        Protocol::AwsQuery,
        "ListQueueTags",
        &json!({"Tags": {"a": "1"}}),
        "rid",
    );
    let body = String::from_utf8(resp.body).unwrap_or_default();
    assert!(
        body.contains("<Tag><Key>a</Key><Value>1</Value></Tag>"),
        "{body}"
    );
}

#[test]
fn operations_without_output_have_no_result_element() {
    let model = sqs_query();
    let resp = encode_output(&model, Protocol::AwsQuery, "DeleteQueue", &json!({}), "rid");
    let body = String::from_utf8(resp.body).unwrap_or_default();
    assert_eq!(
        body,
        "<DeleteQueueResponse xmlns=\"http://queue.amazonaws.com/doc/2012-11-05/\"><ResponseMetadata><RequestId>rid</RequestId></ResponseMetadata></DeleteQueueResponse>"
    );
}
