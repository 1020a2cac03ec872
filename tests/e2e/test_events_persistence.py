"""EventBridge state survives a restart and a kill -9."""
import json
import time

from conftest import wait_until
from test_events_helpers import make_queue, receive


def test_state_survives_kill9(fresh_stratus):
    s = fresh_stratus()
    events, sqs = s.client("events"), s.client("sqs")
    bus_arn = events.create_event_bus(Name="orders", Tags=[{"Key": "k", "Value": "v"}])["EventBusArn"]
    url, arn = make_queue(sqs, "sink")
    events.put_rule(Name="r", EventBusName="orders", EventPattern='{"source": ["shop"]}', Description="keep me")
    events.put_targets(Rule="r", EventBusName="orders", Targets=[{
        "Id": "q", "Arn": arn, "InputTransformer": {"InputPathsMap": {"n": "$.detail.n"}, "InputTemplate": '{"n": <n>}'},
        "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}}])
    events.put_rule(Name="sched", ScheduleExpression="cron(0 12 * * ? *)", State="DISABLED")
    events.put_permission(EventBusName="orders", Action="events:PutEvents", Principal="111122223333", StatementId="s1")
    arch = events.create_archive(ArchiveName="orders-archive", EventSourceArn=bus_arn)["ArchiveArn"]
    conn = events.create_connection(Name="c", AuthorizationType="BASIC",
                                    AuthParameters={"BasicAuthParameters": {"Username": "u", "Password": "p"}})
    events.create_api_destination(Name="d", ConnectionArn=conn["ConnectionArn"],
                                  InvocationEndpoint="http://127.0.0.1:9/x", HttpMethod="POST")
    start = time.time() - 1
    events.put_events(Entries=[{"Source": "shop", "DetailType": "o", "Detail": json.dumps({"n": i}), "EventBusName": "orders"} for i in range(3)])
    assert len(receive(sqs, url, 3)) == 3
    events.start_replay(ReplayName="rp", EventSourceArn=arch, EventStartTime=start, EventEndTime=time.time() + 1,
                        Destination={"Arn": bus_arn})
    assert wait_until(lambda: events.describe_replay(ReplayName="rp")["State"] == "COMPLETED")
    assert len(receive(sqs, url, 3)) == 3

    s.kill9()
    s.start()
    events, sqs = s.client("events"), s.client("sqs")
    assert events.describe_event_bus(Name="orders")["Policy"]
    assert events.list_tags_for_resource(ResourceARN=bus_arn)["Tags"] == [{"Key": "k", "Value": "v"}]
    r = events.describe_rule(Name="r", EventBusName="orders")
    assert r["Description"] == "keep me" and r["State"] == "ENABLED"
    t = events.list_targets_by_rule(Rule="r", EventBusName="orders")["Targets"][0]
    assert t["RetryPolicy"] == {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 120}
    assert events.describe_rule(Name="sched")["State"] == "DISABLED"
    a = events.describe_archive(ArchiveName="orders-archive")
    assert a["EventCount"] == 3 and a["SizeBytes"] > 0
    assert events.describe_replay(ReplayName="rp")["State"] == "COMPLETED"
    assert events.describe_connection(Name="c")["ConnectionState"] == "AUTHORIZED"
    assert events.describe_api_destination(Name="d")["HttpMethod"] == "POST"
    # Delivery works after the restart, with the stored transformer.
    events.put_events(Entries=[{"Source": "shop", "DetailType": "o", "Detail": '{"n": 42}', "EventBusName": "orders"}])
    msgs = receive(sqs, url, 1)
    assert [json.loads(m["Body"]) for m in msgs] == [{"n": 42}]
    assert events.describe_archive(ArchiveName="orders-archive")["EventCount"] == 4

    s.restart()
    events = s.client("events")
    assert events.describe_archive(ArchiveName="orders-archive")["EventCount"] == 4
    events.delete_archive(ArchiveName="orders-archive")
    s.kill9()
    s.start()
    events = s.client("events")
    assert not events.list_archives()["Archives"]
    assert not events.list_rules(EventBusName="orders", NamePrefix="Events-Archive")["Rules"]
