"""EventBridge targets served by other Stratus services: SNS and CloudWatch Logs."""
import json

from conftest import wait_until
from test_events_helpers import make_queue, receive


def test_sns_topic_target(stratus, unique_name):
    events, sqs, sns = stratus.client("events"), stratus.client("sqs"), stratus.client("sns")
    source = unique_name("src")
    topic = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    url, arn = make_queue(sqs, unique_name("sub"))
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"})
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "topic", "Arn": topic,
                                            "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"},
                                                                 "InputTemplate": '{"n": <n>}'}}])
    events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"n": 3}'}])
    msgs = receive(sqs, url, 1)
    assert [json.loads(m["Body"]) for m in msgs] == [{"n": 3}]


def test_cloudwatch_logs_target(stratus, unique_name):
    events, logs = stratus.client("events"), stratus.client("logs")
    source = unique_name("src")
    group = "/aws/events/" + unique_name("g")
    logs.create_log_group(logGroupName=group)
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "logs", "Arn": f"arn:aws:logs:us-east-1:000000000000:log-group:{group}"}])
    out = events.put_events(Entries=[{"Source": source, "DetailType": "t", "Detail": '{"k": "v"}'}])
    event_id = out["Entries"][0]["EventId"]

    def logged():
        found = logs.filter_log_events(logGroupName=group).get("events", [])
        return found if found else None

    found = wait_until(logged, timeout=10)
    assert found, "no log event written"
    assert found[0]["logStreamName"] == event_id
    assert json.loads(found[0]["message"])["id"] == event_id
