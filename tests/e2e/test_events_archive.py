"""EventBridge archives and replays."""
import json
import time

import pytest
from botocore.exceptions import ClientError

from conftest import wait_until
from test_events_helpers import make_queue, receive


@pytest.fixture
def events(stratus):
    return stratus.client("events")


def test_archive_and_replay_round_trip(events, sqs, unique_name):
    source = unique_name("src")
    bus = unique_name("bus")
    bus_arn = events.create_event_bus(Name=bus)["EventBusArn"]
    q1_url, q1_arn = make_queue(sqs, unique_name("q1"))
    q2_url, q2_arn = make_queue(sqs, unique_name("q2"))
    r1, r2 = unique_name("r1"), unique_name("r2")
    r1_arn = events.put_rule(Name=r1, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))["RuleArn"]
    events.put_rule(Name=r2, EventBusName=bus, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=r1, EventBusName=bus, Targets=[{"Id": "q", "Arn": q1_arn}])
    events.put_targets(Rule=r2, EventBusName=bus, Targets=[{"Id": "q", "Arn": q2_arn}])
    name = unique_name("arch")[:48]
    arch = events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, Description="orders",
                                 EventPattern=json.dumps({"detail": {"keep": [True]}}), RetentionDays=7)
    assert arch["ArchiveArn"] == f"arn:aws:events:us-east-1:000000000000:archive/{name}" and arch["State"] == "ENABLED"
    managed = events.describe_rule(Name=f"Events-Archive-{name}", EventBusName=bus)
    assert managed["ManagedBy"] == "prod.vhs.events.aws.internal"
    assert json.loads(managed["EventPattern"])["replay-name"] == [{"exists": False}]
    with pytest.raises(ClientError) as e:
        events.delete_rule(Name=f"Events-Archive-{name}", EventBusName=bus)
    assert e.value.response["Error"]["Code"] == "ManagedRuleException"

    start = time.time() - 1
    sent = events.put_events(Entries=[
        {"Source": source, "DetailType": "t", "Detail": json.dumps({"keep": True, "i": i}), "EventBusName": bus} for i in range(3)
    ] + [{"Source": source, "DetailType": "t", "Detail": json.dumps({"keep": False}), "EventBusName": bus}])
    assert sent["FailedEntryCount"] == 0
    assert len(receive(sqs, q1_url, 4)) == 4 and len(receive(sqs, q2_url, 4)) == 4
    d = events.describe_archive(ArchiveName=name)
    assert d["EventCount"] == 3 and d["SizeBytes"] > 100 and d["RetentionDays"] == 7
    assert d["EventSourceArn"] == bus_arn and d["Description"] == "orders"
    assert [a["ArchiveName"] for a in events.list_archives(EventSourceArn=bus_arn)["Archives"]] == [name]

    # Replay to one rule only.
    replay = unique_name("rp")[:64]
    end = time.time() + 1
    out = events.start_replay(ReplayName=replay, EventSourceArn=arch["ArchiveArn"], EventStartTime=start,
                              EventEndTime=end, Destination={"Arn": bus_arn, "FilterArns": [r1_arn]})
    assert out["State"] == "STARTING" and out["ReplayArn"].endswith(f":replay/{replay}")
    msgs = receive(sqs, q1_url, 3)
    replayed = [json.loads(m["Body"]) for m in msgs]
    assert len(replayed) == 3
    assert all(e["replay-name"] == replay for e in replayed)
    assert sorted(e["id"] for e in replayed) == sorted(x["EventId"] for x in sent["Entries"][:3])
    assert not receive(sqs, q2_url, 1, timeout=1)
    assert wait_until(lambda: events.describe_replay(ReplayName=replay)["State"] == "COMPLETED")
    dr = events.describe_replay(ReplayName=replay)
    assert dr["Destination"] == {"Arn": bus_arn, "FilterArns": [r1_arn]}
    assert dr["EventSourceArn"] == arch["ArchiveArn"]
    for k in ("EventStartTime", "EventEndTime", "EventLastReplayedTime", "ReplayStartTime", "ReplayEndTime"):
        assert k in dr, k
    # Replayed events are not archived again.
    assert events.describe_archive(ArchiveName=name)["EventCount"] == 3
    assert [r["ReplayName"] for r in events.list_replays(NamePrefix=replay)["Replays"]] == [replay]
    with pytest.raises(ClientError) as e:
        events.cancel_replay(ReplayName=replay)
    assert e.value.response["Error"]["Code"] == "IllegalStatusException"
    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName=replay, EventSourceArn=arch["ArchiveArn"], EventStartTime=start,
                            EventEndTime=end, Destination={"Arn": bus_arn})
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"

    # Replay to all rules.
    replay2 = unique_name("rp2")[:64]
    events.start_replay(ReplayName=replay2, EventSourceArn=arch["ArchiveArn"], EventStartTime=start,
                        EventEndTime=end, Destination={"Arn": bus_arn})
    assert len(receive(sqs, q1_url, 3)) == 3 and len(receive(sqs, q2_url, 3)) == 3

    with pytest.raises(ClientError) as e:
        events.start_replay(ReplayName=unique_name("bad"), EventSourceArn=arch["ArchiveArn"], EventStartTime=end,
                            EventEndTime=start, Destination={"Arn": bus_arn})
    assert e.value.response["Error"]["Code"] == "ValidationException"

    events.update_archive(ArchiveName=name, RetentionDays=1, EventPattern=json.dumps({"source": [source]}))
    assert events.describe_archive(ArchiveName=name)["RetentionDays"] == 1
    events.delete_archive(ArchiveName=name)
    with pytest.raises(ClientError) as e:
        events.describe_archive(ArchiveName=name)
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert not events.list_rules(EventBusName=bus, NamePrefix="Events-Archive-")["Rules"]


def test_archive_errors(events, unique_name):
    name = unique_name("a")[:48]
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName=name, EventSourceArn="arn:aws:events:us-east-1:000000000000:event-bus/none-such")
    assert e.value.response["Error"]["Code"] == "ResourceNotFoundException"
    bus_arn = "arn:aws:events:us-east-1:000000000000:event-bus/default"
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName=name, EventSourceArn=bus_arn, EventPattern='{"source": "x"}')
    assert e.value.response["Error"]["Code"] == "InvalidEventPatternException"
    events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)
    with pytest.raises(ClientError) as e:
        events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)
    assert e.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    events.delete_archive(ArchiveName=name)
