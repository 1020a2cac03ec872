"""Amazon CloudWatch Logs end to end: boto3, the AWS CLI and `stratus logs`
against the real binary.

Covers log groups (settings, pagination, retention with real expiry, tags,
deletion protection), log streams, PutLogEvents' rules, GetLogEvents' tokens,
FilterLogEvents with every kind of filter pattern, metric and subscription
filters, persistence across kill -9, and the `stratus logs` command."""
import json
import os
import select
import signal
import subprocess
import time

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, STRATUS_BIN

DAY = 86_400_000
HOUR = 3_600_000


def now_ms():
    return int(time.time() * 1000)


def expect_error(code, fn, *args, **kwargs):
    with pytest.raises(ClientError) as exc:
        fn(*args, **kwargs)
    err = exc.value.response["Error"]
    assert err["Code"] == code, err
    return err["Message"]


@pytest.fixture
def logs(stratus):
    return stratus.client("logs")


def make_stream(logs, group, stream="s", **group_args):
    logs.create_log_group(logGroupName=group, **group_args)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)


def put(logs, group, stream, events):
    return logs.put_log_events(logGroupName=group, logStreamName=stream,
                               logEvents=[{"timestamp": t, "message": m} for t, m in events])


def messages(events):
    return [e["message"] for e in events]


# --- log groups ---------------------------------------------------------------

def test_create_describe_delete_log_group(logs, unique_name):
    name = "/app/" + unique_name("grp")
    before = now_ms()
    logs.create_log_group(logGroupName=name, tags={"team": "core"}, logGroupClass="INFREQUENT_ACCESS",
                          kmsKeyId=f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc")
    msg = expect_error("ResourceAlreadyExistsException", logs.create_log_group, logGroupName=name)
    assert msg == "The specified log group already exists"

    groups = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    assert len(groups) == 1
    g = groups[0]
    assert g["logGroupName"] == name
    assert g["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}:*"
    assert g["logGroupArn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{name}"
    assert before - 1000 <= g["creationTime"] <= now_ms() + 1000
    assert g["storedBytes"] == 0
    assert g["metricFilterCount"] == 0
    assert g["logGroupClass"] == "INFREQUENT_ACCESS"
    assert g["kmsKeyId"] == f"arn:aws:kms:{REGION}:{ACCOUNT}:key/abc"
    assert "retentionInDays" not in g

    logs.delete_log_group(logGroupName=name)
    msg = expect_error("ResourceNotFoundException", logs.delete_log_group, logGroupName=name)
    assert msg == "The specified log group does not exist."
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []


def test_log_group_name_rules(logs, unique_name):
    msg = expect_error("InvalidParameterException", logs.create_log_group, logGroupName="bad:name")
    assert "failed to satisfy constraint: Member must satisfy regular expression pattern" in msg
    expect_error("InvalidParameterException", logs.create_log_group, logGroupName="has space")
    # Every allowed character.
    name = unique_name("ok") + "._-/#Az09"
    logs.create_log_group(logGroupName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["logGroupName"] == name


def test_describe_log_groups_prefix_pattern_and_pages(logs, unique_name):
    base = unique_name("page")
    names = [f"{base}/{i:02d}" for i in range(7)] + [f"{base}/DataLogs", f"{base}/datalogs"]
    for n in names:
        logs.create_log_group(logGroupName=n)
    pages = list(logs.get_paginator("describe_log_groups").paginate(
        logGroupNamePrefix=base, PaginationConfig={"PageSize": 3}))
    assert [len(p["logGroups"]) for p in pages] == [3, 3, 3]
    seen = [g["logGroupName"] for p in pages for g in p["logGroups"]]
    assert seen == sorted(names)

    # A case-sensitive substring; only name, ARN and creation time come back.
    found = logs.describe_log_groups(logGroupNamePattern=base + "/Data")["logGroups"]
    assert [g["logGroupName"] for g in found] == [f"{base}/DataLogs"]
    assert set(found[0]) == {"logGroupName", "arn", "creationTime"}

    expect_error("InvalidParameterException", logs.describe_log_groups,
                 logGroupNamePrefix=base, logGroupNamePattern="x")
    expect_error("InvalidParameterException", logs.describe_log_groups, nextToken="not-a-token")


def test_list_log_groups(logs, unique_name):
    base = unique_name("lst")
    logs.create_log_group(logGroupName=f"/{base}/one", tags={"env": "prod"})
    logs.create_log_group(logGroupName=f"/{base}/two", tags={"env": "dev"}, logGroupClass="INFREQUENT_ACCESS")
    out = logs.list_log_groups(logGroupNamePattern=f"^/{base[:20]}")["logGroups"]
    assert [g for g in out if base in g["logGroupName"]] == [
        {"logGroupName": f"/{base}/one", "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/{base}/one",
         "logGroupClass": "STANDARD"},
        {"logGroupName": f"/{base}/two", "logGroupArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/{base}/two",
         "logGroupClass": "INFREQUENT_ACCESS"},
    ]
    out = logs.list_log_groups(logGroupTags=[{"key": "env", "values": ["dev"]}], logGroupClass="INFREQUENT_ACCESS")
    assert f"/{base}/two" in [g["logGroupName"] for g in out["logGroups"]]
    assert f"/{base}/one" not in [g["logGroupName"] for g in out["logGroups"]]


def test_deletion_protection(logs, unique_name):
    name = unique_name("protected")
    logs.create_log_group(logGroupName=name, deletionProtectionEnabled=True)
    assert logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["deletionProtectionEnabled"] is True
    msg = expect_error("ValidationException", logs.delete_log_group, logGroupName=name)
    assert "deletion protection" in msg
    logs.put_log_group_deletion_protection(logGroupIdentifier=name, deletionProtectionEnabled=False)
    logs.delete_log_group(logGroupName=name)


def test_accounts_and_regions_are_isolated(stratus, unique_name):
    name = unique_name("iso")
    a = stratus.client("logs", access_key="111111111111")
    b = stratus.client("logs", access_key="222222222222")
    west = stratus.client("logs", access_key="111111111111", region="eu-west-1")
    a.create_log_group(logGroupName=name)
    assert b.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    assert west.describe_log_groups(logGroupNamePrefix=name)["logGroups"] == []
    b.create_log_group(logGroupName=name)  # no clash
    g = a.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]
    assert g["arn"] == f"arn:aws:logs:{REGION}:111111111111:log-group:{name}:*"


# --- log streams ----------------------------------------------------------------

def test_log_streams_describe_order_and_delete(logs, unique_name):
    group = unique_name("streams")
    logs.create_log_group(logGroupName=group)
    t = now_ms()
    for name, ts in [("b", t - 2000), ("a", t - 1000), ("c", t - 3000)]:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        put(logs, group, name, [(ts, f"event {name}")])
    logs.create_log_stream(logGroupName=group, logStreamName="empty")
    msg = expect_error("ResourceAlreadyExistsException", logs.create_log_stream, logGroupName=group, logStreamName="a")
    assert msg == "The specified log stream already exists"
    expect_error("ResourceNotFoundException", logs.create_log_stream, logGroupName=group + "-none", logStreamName="a")
    expect_error("InvalidParameterException", logs.create_log_stream, logGroupName=group, logStreamName="x:y")

    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in streams] == ["a", "b", "c", "empty"]
    a = streams[0]
    assert a["firstEventTimestamp"] == t - 1000 and a["lastEventTimestamp"] == t - 1000
    assert abs(a["lastIngestionTime"] - now_ms()) < 60_000
    assert a["arn"] == f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:log-stream:a"
    assert a["storedBytes"] == 0
    assert len(a["uploadSequenceToken"]) == 56
    empty = streams[3]
    assert "firstEventTimestamp" not in empty and "uploadSequenceToken" not in empty

    by_time = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)["logStreams"]
    assert [s["logStreamName"] for s in by_time][:3] == ["a", "b", "c"]
    expect_error("InvalidParameterException", logs.describe_log_streams, logGroupName=group,
                 orderBy="LastEventTime", logStreamNamePrefix="a")

    pages = list(logs.get_paginator("describe_log_streams").paginate(
        logGroupIdentifier=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}:*", descending=True,
        PaginationConfig={"PageSize": 1}))
    assert [s["logStreamName"] for p in pages for s in p["logStreams"]] == ["empty", "c", "b", "a"]

    logs.delete_log_stream(logGroupName=group, logStreamName="a")
    msg = expect_error("ResourceNotFoundException", logs.delete_log_stream, logGroupName=group, logStreamName="a")
    assert msg == "The specified log stream does not exist."
    names = [s["logStreamName"] for s in logs.describe_log_streams(logGroupName=group, logStreamNamePrefix="b")["logStreams"]]
    assert names == ["b"]
    expect_error("ResourceNotFoundException", logs.describe_log_streams, logGroupName=group + "-none")


# --- PutLogEvents -----------------------------------------------------------------

def test_put_log_events_rules(logs, unique_name):
    group = unique_name("put")
    make_stream(logs, group)
    t = now_ms()
    out = put(logs, group, "s", [(t - 10, "one"), (t - 5, "two")])
    assert len(out["nextSequenceToken"]) == 56
    assert "rejectedLogEventsInfo" not in out
    # Sequence tokens are ignored: a stale or made-up one is fine.
    logs.put_log_events(logGroupName=group, logStreamName="s", sequenceToken="123",
                        logEvents=[{"timestamp": t, "message": "three"}])

    msg = expect_error("InvalidParameterException", put, logs, group, "s", [(t, "b"), (t - 1, "a")])
    assert msg == "Log events in a single PutLogEvents request must be in chronological order."
    msg = expect_error("InvalidParameterException", put, logs, group, "s", [(t - DAY - 1000, "a"), (t, "b")])
    assert "cannot span more than 24 hours" in msg
    big = "x" * (1_048_576 - 26 + 1)
    msg = expect_error("InvalidParameterException", put, logs, group, "s", [(t, big)])
    assert msg == "Upload too large: 1048577 bytes exceeds limit of 1048576"
    # Exactly at the limit is fine: 2 events, sum of bytes + 26 each.
    half = 1_048_576 // 2 - 26
    put(logs, group, "s", [(t, "y" * half), (t, "z" * half)])

    msg = expect_error("ResourceNotFoundException", put, logs, group, "nope", [(t, "a")])
    assert msg == "The specified log stream does not exist."
    msg = expect_error("ResourceNotFoundException", put, logs, group + "-none", "s", [(t, "a")])
    assert msg == "The specified log group does not exist."

    # Too old (> 14 days) and too new (> 2 h ahead) are rejected by index; the rest is stored.
    out = put(logs, group, "s", [(t - 15 * DAY, "old"), (t - 15 * DAY + 1, "old2"), (t + 1, "kept"),
                                 (t + 3 * HOUR, "future")])
    assert out["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 2, "tooNewLogEventStartIndex": 3}
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert messages(got)[:3] == ["one", "two", "three"]
    assert messages(got)[-1] == "kept"
    assert "old" not in messages(got) and "future" not in messages(got)
    assert all(e["ingestionTime"] >= t - 60_000 for e in got)


def test_events_from_earlier_batches_are_merged_in_order(logs, unique_name):
    group = unique_name("merge")
    make_stream(logs, group)
    t = now_ms()
    put(logs, group, "s", [(t - 100, "c"), (t - 50, "d")])
    put(logs, group, "s", [(t - 300, "a"), (t - 200, "b")])
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert messages(got) == ["a", "b", "c", "d"]
    s = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert s["firstEventTimestamp"] == t - 300 and s["lastEventTimestamp"] == t - 50


# --- GetLogEvents -------------------------------------------------------------------

def test_get_log_events_tokens(logs, unique_name):
    group = unique_name("get")
    make_stream(logs, group)
    t = now_ms() - 1000
    put(logs, group, "s", [(t + i, f"m{i}") for i in range(10)])

    # Default: the newest events, oldest first.
    out = logs.get_log_events(logGroupName=group, logStreamName="s", limit=3)
    assert messages(out["events"]) == ["m7", "m8", "m9"]
    fwd, bwd = out["nextForwardToken"], out["nextBackwardToken"]
    assert fwd.startswith("f/") and bwd.startswith("b/")

    # At the end, the same forward token comes back.
    out = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=fwd)
    assert out["events"] == [] and out["nextForwardToken"] == fwd
    put(logs, group, "s", [(t + 20, "m10")])
    out = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=fwd)
    assert messages(out["events"]) == ["m10"]

    # Backwards to the head, then the same backward token.
    collected, token = [], bwd
    while True:
        out = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=token, limit=4)
        if not out["events"]:
            assert out["nextBackwardToken"] == token
            break
        collected = messages(out["events"]) + collected
        token = out["nextBackwardToken"]
    assert collected == [f"m{i}" for i in range(7)]

    # From the head, forwards.
    out = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True, limit=4)
    assert messages(out["events"]) == ["m0", "m1", "m2", "m3"]
    out = logs.get_log_events(logGroupName=group, logStreamName="s", nextToken=out["nextForwardToken"], limit=4)
    assert messages(out["events"]) == ["m4", "m5", "m6", "m7"]

    # startTime inclusive, endTime exclusive; the ARN identifier works too.
    out = logs.get_log_events(logGroupIdentifier=f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}",
                              logStreamName="s", startTime=t + 2, endTime=t + 5, startFromHead=True)
    assert messages(out["events"]) == ["m2", "m3", "m4"]

    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=group, logStreamName="s",
                 nextToken="f/garbage")
    expect_error("ResourceNotFoundException", logs.get_log_events, logGroupName=group, logStreamName="zz")
    expect_error("InvalidParameterException", logs.get_log_events, logGroupName=group,
                 logGroupIdentifier=group, logStreamName="s")


# --- FilterLogEvents --------------------------------------------------------------------

def test_filter_log_events_streams_time_and_pages(logs, unique_name):
    group = unique_name("filter")
    make_stream(logs, group, "app-1")
    logs.create_log_stream(logGroupName=group, logStreamName="app-2")
    logs.create_log_stream(logGroupName=group, logStreamName="other")
    t = now_ms() - 10_000
    put(logs, group, "app-1", [(t + 0, "ERROR a1"), (t + 20, "INFO a2"), (t + 40, "ERROR a3")])
    put(logs, group, "app-2", [(t + 10, "ERROR b1"), (t + 30, "INFO b2")])
    put(logs, group, "other", [(t + 5, "ERROR o1")])

    out = logs.filter_log_events(logGroupName=group)
    assert messages(out["events"]) == ["ERROR a1", "ERROR o1", "ERROR b1", "INFO a2", "INFO b2", "ERROR a3"]
    e = out["events"][0]
    assert e["logStreamName"] == "app-1" and e["timestamp"] == t
    assert len(e["eventId"]) == 56 and e["ingestionTime"] >= t
    assert "nextToken" not in out

    out = logs.filter_log_events(logGroupName=group, filterPattern="ERROR", logStreamNamePrefix="app")
    assert messages(out["events"]) == ["ERROR a1", "ERROR b1", "ERROR a3"]
    out = logs.filter_log_events(logGroupName=group, logStreamNames=["app-2"])
    assert messages(out["events"]) == ["ERROR b1", "INFO b2"]
    # Both ends inclusive.
    out = logs.filter_log_events(logGroupName=group, startTime=t + 5, endTime=t + 30)
    assert messages(out["events"]) == ["ERROR o1", "ERROR b1", "INFO a2", "INFO b2"]

    pages = list(logs.get_paginator("filter_log_events").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 4}))
    assert [len(p["events"]) for p in pages] == [4, 2]
    ids = [e["eventId"] for p in pages for e in p["events"]]
    assert len(set(ids)) == 6 and ids == sorted(ids)

    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=group,
                 logStreamNames=["a"], logStreamNamePrefix="a")
    expect_error("InvalidParameterException", logs.filter_log_events, logGroupName=group, filterPattern="{ $.a = ")
    expect_error("ResourceNotFoundException", logs.filter_log_events, logGroupName=group + "-none")


FILTER_MESSAGES = [
    "[ERROR 400] BAD REQUEST",
    "[ERROR 419] MISSING ARGUMENTS",
    "[WARN 300] slow response",
    "[INFO 200] UNAUTHORIZED attempt logged",
    json.dumps({"level": "error", "latency": 250, "user": {"name": "ann", "admin": True},
                "tags": ["a", "b"], "items": [{"id": 7}], "src": None}),
    json.dumps({"level": "info", "latency": 12, "user": {"name": "bob", "admin": False}, "items": []}),
    '127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /index.html HTTP/1.0" 404 2326',
    '10.0.0.2 - jane [10/Oct/2000:13:56:01 -0700] "POST /api HTTP/1.1" 200 512',
]


@pytest.mark.parametrize("pattern,expected", [
    ("", list(range(8))),
    ("ERROR", [0, 1]),
    ("ERROR ARGUMENTS", [1]),
    ('"BAD REQUEST"', [0]),
    ("?WARN ?INFO", [2, 3]),
    ("ERROR -ARGUMENTS", [0]),
    ("AUTHORIZED", []),
    ("%AUTHORIZED%", [3]),
    ("%ERROR 4[0-9]+%", [0, 1]),
    ('{ $.level = "error" }', [4]),
    ('{ $.level = "err*" }', [4]),
    ("{ $.latency > 100 }", [4]),
    ("{ $.latency <= 12 }", [5]),
    ('{ $.level = "info" || $.latency > 200 }', [4, 5]),
    ('{ ($.level = "info") && ($.user.admin IS FALSE) }', [5]),
    ("{ $.user.admin IS TRUE }", [4]),
    ("{ $.src IS NULL }", [4]),
    ("{ $.src NOT EXISTS }", [5]),
    ('{ $.tags[1] = "b" }', [4]),
    ("{ $.items[0].id = 7 }", [4]),
    ('{ $.user.name = %^b.b$% }', [5]),
    ("[ip, identity, user, timestamp, request, status_code, bytes]", [6, 7]),
    ("[ip, identity, user, timestamp, request, status_code=4*, bytes]", [6]),
    ("[ip, ..., status_code, bytes > 1000]", [6]),
    ('[..., request = "POST *", status_code = 200 || status_code = 201, bytes]', [7]),
    ("[ip = 10.0.0.2, ...]", [7]),
])
def test_filter_patterns(logs, unique_name, pattern, expected):
    group = unique_name("pat")
    make_stream(logs, group)
    t = now_ms() - 1000
    put(logs, group, "s", [(t + i, m) for i, m in enumerate(FILTER_MESSAGES)])
    out = logs.filter_log_events(logGroupName=group, filterPattern=pattern)
    assert messages(out["events"]) == [FILTER_MESSAGES[i] for i in expected]


# --- retention ---------------------------------------------------------------------------

def test_retention_expires_old_events(logs, unique_name):
    group = unique_name("ret")
    make_stream(logs, group)
    t = now_ms()
    # 13 days old is accepted while the group keeps everything...
    out = put(logs, group, "s", [(t - 13 * DAY, "ancient"), (t - 13 * DAY + 1, "ancient2")])
    assert "rejectedLogEventsInfo" not in out
    put(logs, group, "s", [(t - 1000, "recent")])
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 21

    # ...and gone once the group keeps one day.
    logs.put_retention_policy(logGroupName=group, retentionInDays=1)
    g = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]
    assert g["retentionInDays"] == 1
    assert g["storedBytes"] == 6
    assert messages(logs.filter_log_events(logGroupName=group)["events"]) == ["recent"]
    got = logs.get_log_events(logGroupName=group, logStreamName="s", startFromHead=True)["events"]
    assert messages(got) == ["recent"]
    s = logs.describe_log_streams(logGroupName=group)["logStreams"][0]
    assert s["firstEventTimestamp"] == t - 1000

    # New events older than the retention period are rejected as expired.
    out = put(logs, group, "s", [(t - 2 * DAY, "expired"), (t, "fine")])
    assert out["rejectedLogEventsInfo"] == {"expiredLogEventEndIndex": 1}

    msg = expect_error("InvalidParameterException", logs.put_retention_policy, logGroupName=group, retentionInDays=2)
    assert msg.startswith("Invalid retention value. Valid values are: [1, 3, 5, 7, 14, 30")
    expect_error("ResourceNotFoundException", logs.put_retention_policy, logGroupName=group + "-none",
                 retentionInDays=1)
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


# --- tags --------------------------------------------------------------------------------

def test_tags_by_arn_and_legacy_apis(logs, unique_name):
    group = unique_name("tags")
    logs.create_log_group(logGroupName=group, tags={"a": "1"})
    arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    logs.tag_resource(resourceArn=arn, tags={"b": "2"})
    logs.tag_log_group(logGroupName=group, tags={"c": "3"})
    assert logs.list_tags_for_resource(resourceArn=arn + ":*")["tags"] == {"a": "1", "b": "2", "c": "3"}
    logs.untag_resource(resourceArn=arn, tagKeys=["a"])
    logs.untag_log_group(logGroupName=group, tags=["b"])
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"c": "3"}
    expect_error("ResourceNotFoundException", logs.list_tags_for_resource, resourceArn=arn + "-none")
    expect_error("TooManyTagsException", logs.tag_resource, resourceArn=arn,
                 tags={f"k{i}": "v" for i in range(50)})
    expect_error("InvalidParameterException", logs.tag_resource, resourceArn=arn, tags={"aws:x": "1"})


# --- metric and subscription filters -------------------------------------------------------

def test_metric_filters(logs, unique_name):
    group = unique_name("mf")
    logs.create_log_group(logGroupName=group)

    def mf(name, pattern, value):
        logs.put_metric_filter(logGroupName=group, filterName=name, filterPattern=pattern, metricTransformations=[
            {"metricName": "M", "metricNamespace": "NS-" + group, "metricValue": value, "defaultValue": 0}])

    mf("errors", "ERROR", "1")
    mf("bytes", "[ip, user, status, size]", "$size")
    mf("latency", "{ $.latency > 0 }", "$.latency")
    expect_error("InvalidParameterException", mf, "bad", "[ip, user]", "$size")
    expect_error("InvalidParameterException", mf, "bad", "{ $.x = ", "1")
    filters = logs.describe_metric_filters(logGroupName=group)["metricFilters"]
    assert [f["filterName"] for f in filters] == ["bytes", "errors", "latency"]
    assert filters[0]["metricTransformations"][0] == {
        "metricName": "M", "metricNamespace": "NS-" + group, "metricValue": "$size", "defaultValue": 0.0}
    assert filters[0]["logGroupName"] == group
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["metricFilterCount"] == 3
    found = logs.describe_metric_filters(metricName="M", metricNamespace="NS-" + group)["metricFilters"]
    assert len(found) == 3
    pages = list(logs.get_paginator("describe_metric_filters").paginate(
        logGroupName=group, PaginationConfig={"PageSize": 2}))
    assert [len(p["metricFilters"]) for p in pages] == [2, 1]

    logs.delete_metric_filter(logGroupName=group, filterName="errors")
    expect_error("ResourceNotFoundException", logs.delete_metric_filter, logGroupName=group, filterName="errors")

    out = logs.test_metric_filter(filterPattern="[ip, user, status=4*, size]",
                                  logEventMessages=["1.2.3.4 bob 404 10", "1.2.3.4 bob 200 10", "short"])
    assert out["matches"] == [{"eventNumber": 1, "eventMessage": "1.2.3.4 bob 404 10", "extractedValues": {
        "$ip": "1.2.3.4", "$user": "bob", "$status": "404", "$size": "10"}}]


def test_subscription_filters(logs, unique_name):
    group = unique_name("sf")
    logs.create_log_group(logGroupName=group)
    dest = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:shipper"
    logs.put_subscription_filter(logGroupName=group, filterName="one", filterPattern="ERROR", destinationArn=dest)
    logs.put_subscription_filter(logGroupName=group, filterName="two", filterPattern="", destinationArn=dest,
                                 distribution="Random")
    logs.put_subscription_filter(logGroupName=group, filterName="two", filterPattern="WARN", destinationArn=dest)
    expect_error("LimitExceededException", logs.put_subscription_filter, logGroupName=group, filterName="three",
                 filterPattern="", destinationArn=dest)
    subs = logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"]
    assert [(s["filterName"], s["filterPattern"], s["distribution"]) for s in subs] == [
        ("one", "ERROR", "ByLogStream"), ("two", "WARN", "ByLogStream")]
    assert subs[0]["destinationArn"] == dest and subs[0]["logGroupName"] == group
    logs.delete_subscription_filter(logGroupName=group, filterName="one")
    msg = expect_error("ResourceNotFoundException", logs.delete_subscription_filter, logGroupName=group,
                       filterName="one")
    assert msg == "The specified subscription filter does not exist."
    expect_error("ResourceNotFoundException", logs.put_subscription_filter, logGroupName=group + "-none",
                 filterName="x", filterPattern="", destinationArn=dest)


def test_insights_queries_answer_not_implemented(logs):
    with pytest.raises(ClientError) as exc:
        logs.start_query(logGroupName="x", startTime=0, endTime=1, queryString="fields @message")
    assert exc.value.response["Error"]["Code"] == "NotImplemented"
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


# --- the AWS CLI -----------------------------------------------------------------------------

def test_aws_cli_round_trip(stratus, unique_name):
    group = "/cli/" + unique_name("g")
    stratus.cli("logs", "create-log-group", "--log-group-name", group, "--tags", "env=dev")
    stratus.cli("logs", "create-log-stream", "--log-group-name", group, "--log-stream-name", "s1")
    t = now_ms()
    events = json.dumps([{"timestamp": t - 2, "message": "hello from the cli"},
                         {"timestamp": t - 1, "message": '{"level":"warn"}'}])
    out = stratus.cli("logs", "put-log-events", "--log-group-name", group, "--log-stream-name", "s1",
                      "--log-events", events).json
    assert len(out["nextSequenceToken"]) == 56
    out = stratus.cli("logs", "filter-log-events", "--log-group-name", group,
                      "--filter-pattern", '{ $.level = "warn" }').json
    assert messages(out["events"]) == ['{"level":"warn"}']
    out = stratus.cli("logs", "get-log-events", "--log-group-name", group, "--log-stream-name", "s1",
                      "--start-from-head").json
    assert messages(out["events"]) == ["hello from the cli", '{"level":"warn"}']
    out = stratus.cli("logs", "describe-log-streams", "--log-group-name", group).json
    assert out["logStreams"][0]["logStreamName"] == "s1"
    stratus.cli("logs", "put-retention-policy", "--log-group-name", group, "--retention-in-days", "7")
    out = stratus.cli("logs", "describe-log-groups", "--log-group-name-prefix", group).json
    assert out["logGroups"][0]["retentionInDays"] == 7
    assert stratus.cli("logs", "list-tags-log-group", "--log-group-name", group).json["tags"] == {"env": "dev"}
    bad = stratus.cli("logs", "create-log-group", "--log-group-name", group, check=False)
    assert bad.returncode != 0 and "ResourceAlreadyExistsException" in bad.stderr
    stratus.cli("logs", "delete-log-group", "--log-group-name", group)


# --- persistence ---------------------------------------------------------------------------

def test_state_survives_kill9(fresh_stratus, unique_name):
    s = fresh_stratus()
    logs = s.client("logs")
    group = "/persist/" + unique_name("g")
    logs.create_log_group(logGroupName=group, tags={"k": "v"})
    logs.put_retention_policy(logGroupName=group, retentionInDays=30)
    for name in ["s1", "s2", "gone"]:
        logs.create_log_stream(logGroupName=group, logStreamName=name)
    t = now_ms()
    put(logs, group, "s1", [(t - 50 + i, f"line {i}") for i in range(50)])
    put(logs, group, "s1", [(t - 100, "older")])
    put(logs, group, "s2", [(t - 3, "other stream")])
    put(logs, group, "gone", [(t - 3, "deleted")])
    logs.delete_log_stream(logGroupName=group, logStreamName="gone")
    logs.put_metric_filter(logGroupName=group, filterName="errs", filterPattern="ERROR", metricTransformations=[
        {"metricName": "Errors", "metricNamespace": "App", "metricValue": "1"}])
    logs.put_subscription_filter(logGroupName=group, filterName="sub", filterPattern="",
                                 destinationArn=f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f")
    logs.create_log_group(logGroupName=group + "-deleted")
    logs.delete_log_group(logGroupName=group + "-deleted")
    before = logs.filter_log_events(logGroupName=group)["events"]
    stored = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"]

    s.kill9()
    s.start()
    logs = s.client("logs")
    groups = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in groups] == [group]
    assert groups[0]["retentionInDays"] == 30
    assert groups[0]["metricFilterCount"] == 1
    assert groups[0]["storedBytes"] == stored
    assert logs.list_tags_log_group(logGroupName=group)["tags"] == {"k": "v"}
    assert [x["logStreamName"] for x in logs.describe_log_streams(logGroupName=group)["logStreams"]] == ["s1", "s2"]
    assert logs.filter_log_events(logGroupName=group)["events"] == before
    got = logs.get_log_events(logGroupName=group, logStreamName="s1", startFromHead=True)["events"]
    assert messages(got) == ["older"] + [f"line {i}" for i in range(50)]
    assert logs.describe_subscription_filters(logGroupName=group)["subscriptionFilters"][0]["filterName"] == "sub"

    # Writing continues with fresh event ids.
    put(logs, group, "s2", [(now_ms(), "after restart")])
    ids = [e["eventId"] for e in logs.filter_log_events(logGroupName=group)["events"]]
    assert len(ids) == len(set(ids)) == len(before) + 1

    # A clean stop keeps everything too.
    s.restart()
    assert len(s.client("logs").filter_log_events(logGroupName=group)["events"]) == len(before) + 1


def test_retention_expiry_survives_restart(fresh_stratus, unique_name):
    s = fresh_stratus()
    logs = s.client("logs")
    group = unique_name("ret-restart")
    make_stream(logs, group)
    t = now_ms()
    put(logs, group, "s", [(t - 10 * DAY, "old"), (t - 10 * DAY + 1, "old2")])
    put(logs, group, "s", [(t, "new")])
    logs.put_retention_policy(logGroupName=group, retentionInDays=3)
    s.kill9()
    s.start()
    logs = s.client("logs")
    assert messages(logs.filter_log_events(logGroupName=group)["events"]) == ["new"]
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["storedBytes"] == 3


# --- `stratus logs` -------------------------------------------------------------------------

def stratus_logs(stratus, *args, timeout=30):
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)
    return subprocess.run([STRATUS_BIN, "logs", *args, "--endpoint", stratus.endpoint],
                          env=env, capture_output=True, text=True, timeout=timeout)


def test_stratus_logs_prints_a_function_group(stratus, logs, unique_name):
    fn = unique_name("fn")
    group = f"/aws/lambda/{fn}"
    make_stream(logs, group, "2024/01/01/[$LATEST]abc")
    t = now_ms() - 5000
    put(logs, group, "2024/01/01/[$LATEST]abc", [(t, "START RequestId: 1\n"), (t + 1, "hello world\n"),
                                                   (t + 2, "END RequestId: 1\n")])
    out = stratus_logs(stratus, fn)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 3
    assert lines[1].endswith(" 2024/01/01/[$LATEST]abc hello world")
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime((t + 1) / 1000))
    assert lines[1].startswith(stamp)

    # The full group name works too, with a filter pattern.
    out = stratus_logs(stratus, group, "--filter-pattern", "hello")
    assert [l.split(" ", 2)[2] for l in out.stdout.splitlines()] == ["hello world"]
    # --since limits how far back it reads.
    put(logs, group, "2024/01/01/[$LATEST]abc", [(now_ms() - 3 * HOUR, "three hours ago")])
    assert "three hours ago" not in stratus_logs(stratus, fn).stdout
    assert "three hours ago" in stratus_logs(stratus, fn, "--since", "4h").stdout

    missing = stratus_logs(stratus, unique_name("nofn"))
    assert missing.returncode == 1
    assert "does not exist" in missing.stderr


def test_stratus_logs_follow(stratus, logs, unique_name):
    fn = unique_name("follow")
    group = f"/aws/lambda/{fn}"
    make_stream(logs, group)
    put(logs, group, "s", [(now_ms() - 1000, "before follow")])
    env = dict(os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)
    proc = subprocess.Popen([STRATUS_BIN, "logs", fn, "--follow", "--endpoint", stratus.endpoint],
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        def next_line(timeout=10):
            ready, _, _ = select.select([proc.stdout], [], [], timeout)
            assert ready, "no output from stratus logs --follow"
            return proc.stdout.readline()

        assert next_line().rstrip().endswith(" s before follow")
        for i in range(3):
            put(logs, group, "s", [(now_ms(), f"live {i}")])
            assert next_line().rstrip().endswith(f" s live {i}")
        # Same-millisecond events across polls are neither lost nor repeated.
        t = now_ms()
        put(logs, group, "s", [(t, "same-ms a")])
        assert next_line().rstrip().endswith(" s same-ms a")
        put(logs, group, "s", [(t, "same-ms b")])
        assert next_line().rstrip().endswith(" s same-ms b")
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise
    assert code == 0
    assert proc.stdout.read() == ""


def test_stratus_logs_signs_its_requests(fresh_stratus, unique_name):
    s = fresh_stratus(store="memory", extra_args=["--auth", "verify", "--credentials", "AKIDLOGS:s3cret"])
    logs = s.client("logs", access_key="AKIDLOGS", secret_key="s3cret")
    group = "/signed/" + unique_name("g")
    make_stream(logs, group)
    put(logs, group, "s", [(now_ms() - 1000, "signed line")])
    base = dict(os.environ, AWS_DEFAULT_REGION=REGION)
    ok = subprocess.run([STRATUS_BIN, "logs", group, "--endpoint", s.endpoint], capture_output=True, text=True,
                        timeout=30, env=dict(base, AWS_ACCESS_KEY_ID="AKIDLOGS", AWS_SECRET_ACCESS_KEY="s3cret"))
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.rstrip().endswith(" s signed line")
    bad = subprocess.run([STRATUS_BIN, "logs", group, "--endpoint", s.endpoint], capture_output=True, text=True,
                         timeout=30, env=dict(base, AWS_ACCESS_KEY_ID="AKIDLOGS", AWS_SECRET_ACCESS_KEY="wrong"))
    assert bad.returncode == 1
    assert "SignatureDoesNotMatch" in bad.stderr or "InvalidSignature" in bad.stderr, bad.stderr
