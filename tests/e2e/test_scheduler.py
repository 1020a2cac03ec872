"""EventBridge Scheduler end to end: schedule groups, tags, schedules and their
errors through boto3 and the AWS CLI, and schedules that actually fire — `at`
in UTC and in a time zone, `rate`, `cron`, universal targets, automatic
deletion after completion, retries into a dead-letter queue — plus state and
in-flight deliveries that survive kill -9."""
import datetime
import json
import signal
import time
from zoneinfo import ZoneInfo

import pytest
from botocore.exceptions import ClientError

from conftest import ACCOUNT, REGION, wait_until

ROLE = f"arn:aws:iam::{ACCOUNT}:role/scheduler-role"
OFF = {"Mode": "OFF"}


def err(excinfo):
    return excinfo.value.response["Error"]


def status(excinfo):
    return excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def at_expr(seconds, tz=datetime.timezone.utc):
    """`at(...)` at least `seconds` from now in `tz` (rounded up to the whole
    second: an `at` time already past when the schedule is created never
    fires, so rounding down could leave a slow CreateSchedule too late), and
    the instant it names (UTC)."""
    when = datetime.datetime.now(tz) + datetime.timedelta(seconds=seconds)
    if when.microsecond:
        when = when.replace(microsecond=0) + datetime.timedelta(seconds=1)
    return f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})", when.astimezone(datetime.timezone.utc)


def queue_arn(name):
    return f"arn:aws:sqs:{REGION}:{ACCOUNT}:{name}"


@pytest.fixture
def scheduler(stratus):
    return stratus.client("scheduler")


@pytest.fixture
def queue(sqs, unique_name):
    """Make a queue: returns (url, arn)."""
    def make(prefix="q"):
        name = unique_name(prefix)
        url = sqs.create_queue(QueueName=name)["QueueUrl"]
        return url, queue_arn(name)
    return make


def receive(sqs, url, timeout=10.0):
    """The first message to arrive within `timeout` seconds, with the time it arrived."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        wait = max(1, min(5, int(deadline - time.time())))
        out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=wait, MessageAttributeNames=["All"])
        if out.get("Messages"):
            m = out["Messages"][0]
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
            return m, datetime.datetime.now(datetime.timezone.utc)
    return None, None



def schedule_gone(client, name):
    """True once GetSchedule answers ResourceNotFoundException (a DELETE-after-completion schedule fired)."""
    try:
        client.get_schedule(Name=name)
        return False
    except ClientError as e:
        return e.response["Error"]["Code"] == "ResourceNotFoundException"

def test_schedule_groups_and_tags(scheduler, unique_name):
    name = unique_name("grp")
    arn = scheduler.create_schedule_group(Name=name, Tags=[{"Key": "team", "Value": "core"}])["ScheduleGroupArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule-group/{name}"

    got = scheduler.get_schedule_group(Name=name)
    assert (got["Arn"], got["Name"], got["State"]) == (arn, name, "ACTIVE")
    assert got["CreationDate"] <= got["LastModificationDate"]

    with pytest.raises(ClientError) as e:
        scheduler.create_schedule_group(Name=name)
    assert err(e)["Code"] == "ConflictException"
    assert err(e)["Message"] == f"Schedule group {name} already exists."
    assert status(e) == 409

    scheduler.tag_resource(ResourceArn=arn, Tags=[{"Key": "env", "Value": "dev"}, {"Key": "team", "Value": "infra"}])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [
        {"Key": "team", "Value": "infra"}, {"Key": "env", "Value": "dev"}]
    scheduler.untag_resource(ResourceArn=arn, TagKeys=["team"])
    assert scheduler.list_tags_for_resource(ResourceArn=arn)["Tags"] == [{"Key": "env", "Value": "dev"}]

    # The default group is always there, and listed with the others.
    assert scheduler.get_schedule_group(Name="default")["State"] == "ACTIVE"
    names = [g["Name"] for g in scheduler.get_paginator("list_schedule_groups").paginate().build_full_result()["ScheduleGroups"]]
    assert "default" in names and name in names
    prefixed = scheduler.list_schedule_groups(NamePrefix=name)["ScheduleGroups"]
    assert [g["Name"] for g in prefixed] == [name]

    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule_group(Name="default")
    assert err(e)["Code"] == "ValidationException"

    scheduler.delete_schedule_group(Name=name)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule_group(Name=name)
    assert err(e)["Code"] == "ResourceNotFoundException"
    assert err(e)["Message"] == f"Schedule group {name} does not exist."
    assert status(e) == 404
    with pytest.raises(ClientError) as e:
        scheduler.list_tags_for_resource(ResourceArn=arn)
    assert err(e)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        scheduler.tag_resource(ResourceArn=f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/x",
                               Tags=[{"Key": "a", "Value": "b"}])
    assert err(e)["Code"] == "ValidationException"


def test_schedule_crud_defaults_and_update(scheduler, unique_name):
    group = unique_name("g")
    scheduler.create_schedule_group(Name=group)
    name = unique_name("s")
    target = {"Arn": queue_arn("somewhere"), "RoleArn": ROLE, "Input": "{\"hello\": 1}"}
    arn = scheduler.create_schedule(Name=name, GroupName=group, ScheduleExpression="rate(10 minutes)",
                                    FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5},
                                    Target=target, Description="every ten")["ScheduleArn"]
    assert arn == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/{group}/{name}"

    got = scheduler.get_schedule(Name=name, GroupName=group)
    assert got["Arn"] == arn
    assert got["GroupName"] == group
    assert got["ScheduleExpression"] == "rate(10 minutes)"
    assert got["ScheduleExpressionTimezone"] == "UTC"
    assert got["State"] == "ENABLED"
    assert got["ActionAfterCompletion"] == "NONE"
    assert got["Description"] == "every ten"
    assert got["FlexibleTimeWindow"] == {"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 5}
    assert got["Target"]["Input"] == target["Input"]
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 86400, "MaximumRetryAttempts": 185}

    # UpdateSchedule replaces the whole definition: the description goes away.
    start = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    end = start + datetime.timedelta(days=30)
    scheduler.update_schedule(Name=name, GroupName=group, ScheduleExpression="cron(30 8 ? * MON-FRI *)",
                              ScheduleExpressionTimezone="America/New_York", State="DISABLED",
                              StartDate=start, EndDate=end, FlexibleTimeWindow=OFF,
                              Target={"Arn": queue_arn("elsewhere"), "RoleArn": ROLE,
                                      "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 600}})
    got = scheduler.get_schedule(Name=name, GroupName=group)
    assert got["ScheduleExpression"] == "cron(30 8 ? * MON-FRI *)"
    assert got["ScheduleExpressionTimezone"] == "America/New_York"
    assert got["State"] == "DISABLED"
    assert "Description" not in got
    assert abs(got["StartDate"].timestamp() - start.timestamp()) < 1
    assert abs(got["EndDate"].timestamp() - end.timestamp()) < 1
    assert got["Target"]["Arn"] == queue_arn("elsewhere")
    assert got["Target"]["RetryPolicy"] == {"MaximumEventAgeInSeconds": 600, "MaximumRetryAttempts": 3}
    assert got["LastModificationDate"] >= got["CreationDate"]

    summaries = scheduler.list_schedules(GroupName=group)["Schedules"]
    assert [(s["Name"], s["State"], s["Target"]["Arn"]) for s in summaries] == [
        (name, "DISABLED", queue_arn("elsewhere"))]

    scheduler.delete_schedule(Name=name, GroupName=group)
    with pytest.raises(ClientError) as e:
        scheduler.get_schedule(Name=name, GroupName=group)
    assert err(e)["Message"] == f"Schedule {name} does not exist."
    with pytest.raises(ClientError) as e:
        scheduler.delete_schedule(Name=name, GroupName=group)
    assert err(e)["Code"] == "ResourceNotFoundException"


def test_schedule_errors(scheduler, unique_name):
    target = {"Arn": queue_arn("q"), "RoleArn": ROLE}

    def create(**kw):
        args = dict(Name=unique_name("e"), ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow=OFF, Target=target)
        args.update(kw)
        with pytest.raises(ClientError) as e:
            scheduler.create_schedule(**args)
        return e

    for bad in ["rate(0 minutes)", "rate(5 seconds)", "cron(0 12 * * * *)", "cron(0 12 * *)",
                "at(2030-02-30T10:00:00)", "every 5 minutes"]:
        e = create(ScheduleExpression=bad)
        assert err(e)["Code"] == "ValidationException", bad
        assert err(e)["Message"] == f"Invalid Schedule Expression {bad}"
        assert status(e) == 400

    e = create(GroupName=unique_name("missing"))
    assert err(e)["Code"] == "ResourceNotFoundException"
    assert err(e)["Message"].startswith("Schedule group ")

    e = create(ScheduleExpressionTimezone="Mars/Olympus_Mons")
    assert err(e)["Code"] == "ValidationException"

    e = create(Target={"Arn": queue_arn("q"), "RoleArn": "not-a-role"})
    assert err(e)["Code"] == "ValidationException"
    assert "at 'target.roleArn' failed to satisfy constraint" in err(e)["Message"]

    e = create(StartDate=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1))
    assert err(e)["Message"] == "The StartDate you specify cannot be earlier than 5 minutes ago."

    e = create(Target={**target, "RetryPolicy": {"MaximumRetryAttempts": 186}})
    assert err(e)["Code"] == "ValidationException"
    assert "maximumRetryAttempts" in err(e)["Message"]

    e = create(FlexibleTimeWindow={"Mode": "FLEXIBLE"})
    assert err(e)["Code"] == "ValidationException"

    e = create(Target={"Arn": f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f", "RoleArn": ROLE, "Input": "not json"})
    assert err(e)["Code"] == "ValidationException"

    name = unique_name("dup")
    scheduler.create_schedule(Name=name, ScheduleExpression="rate(5 minutes)", FlexibleTimeWindow=OFF,
                              Target=target, State="DISABLED")
    e = create(Name=name)
    assert err(e)["Code"] == "ConflictException"
    assert err(e)["Message"] == f"Schedule {name} already exists."
    assert status(e) == 409

    with pytest.raises(ClientError) as e:
        scheduler.update_schedule(Name=unique_name("nope"), ScheduleExpression="rate(5 minutes)",
                                  FlexibleTimeWindow=OFF, Target=target)
    assert err(e)["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as e:
        scheduler.list_schedules(GroupName=unique_name("nogroup"))
    assert err(e)["Code"] == "ResourceNotFoundException"


def test_list_schedules_filters_and_pages(scheduler, unique_name):
    group = unique_name("pg")
    scheduler.create_schedule_group(Name=group)
    target = {"Arn": queue_arn("q"), "RoleArn": ROLE}
    for i in range(7):
        scheduler.create_schedule(Name=f"job-{i}", GroupName=group, ScheduleExpression="rate(1 day)",
                                  FlexibleTimeWindow=OFF, Target=target,
                                  State="DISABLED" if i % 2 else "ENABLED")
    scheduler.create_schedule(Name="other-0", GroupName=group, ScheduleExpression="rate(1 day)",
                              FlexibleTimeWindow=OFF, Target=target)

    pages = list(scheduler.get_paginator("list_schedules").paginate(
        GroupName=group, NamePrefix="job-", PaginationConfig={"PageSize": 3}))
    assert [len(p["Schedules"]) for p in pages] == [3, 3, 1]
    assert [s["Name"] for p in pages for s in p["Schedules"]] == [f"job-{i}" for i in range(7)]

    disabled = scheduler.list_schedules(GroupName=group, State="DISABLED")["Schedules"]
    assert sorted(s["Name"] for s in disabled) == ["job-1", "job-3", "job-5"]

    # Deleting the group deletes its schedules.
    scheduler.delete_schedule_group(Name=group)
    everywhere = scheduler.get_paginator("list_schedules").paginate().build_full_result()["Schedules"]
    assert not [s for s in everywhere if s["GroupName"] == group]


def test_at_schedule_delivers_to_sqs_on_time(scheduler, sqs, queue, unique_name):
    url, arn = queue()
    name = unique_name("at")
    expr, when = at_expr(3)
    scheduler.create_schedule(
        Name=name, ScheduleExpression=expr, FlexibleTimeWindow=OFF,
        Target={"Arn": arn, "RoleArn": ROLE,
                "Input": json.dumps({"arn": "<aws.scheduler.schedule-arn>",
                                     "time": "<aws.scheduler.scheduled-time>",
                                     "attempt": "<aws.scheduler.attempt-number>",
                                     "execution": "<aws.scheduler.execution-id>"})})
    msg, arrived = receive(sqs, url, timeout=12)
    assert msg is not None, "the at() schedule did not deliver"
    body = json.loads(msg["Body"])
    assert body["arn"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    assert body["time"] == when.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert body["attempt"] == "1"
    assert len(body["execution"]) == 16
    # Delivered at the scheduled second, not before and not much after.
    assert when - datetime.timedelta(milliseconds=100) <= arrived <= when + datetime.timedelta(seconds=3)
    # One-time: nothing more, and the schedule (ActionAfterCompletion NONE) stays.
    assert receive(sqs, url, timeout=2)[0] is None
    assert scheduler.get_schedule(Name=name)["ScheduleExpression"] == expr


def test_at_schedule_in_a_time_zone(scheduler, sqs, queue, unique_name):
    url, arn = queue()
    tz = "Asia/Kolkata"  # UTC+05:30: a wrong zone would be hours off
    expr, when = at_expr(3, ZoneInfo(tz))
    scheduler.create_schedule(Name=unique_name("tz"), ScheduleExpression=expr, ScheduleExpressionTimezone=tz,
                              FlexibleTimeWindow=OFF, Target={"Arn": arn, "RoleArn": ROLE, "Input": "namaste"})
    msg, arrived = receive(sqs, url, timeout=12)
    assert msg is not None and msg["Body"] == "namaste"
    assert when - datetime.timedelta(milliseconds=100) <= arrived <= when + datetime.timedelta(seconds=3)


def test_action_after_completion_delete(scheduler, sqs, queue, unique_name):
    url, arn = queue()
    name = unique_name("del")
    scheduler.create_schedule(Name=name, ScheduleExpression=at_expr(2)[0], FlexibleTimeWindow=OFF,
                              ActionAfterCompletion="DELETE", Target={"Arn": arn, "RoleArn": ROLE, "Input": "bye"})
    assert scheduler.get_schedule(Name=name)["ActionAfterCompletion"] == "DELETE"
    msg, _ = receive(sqs, url, timeout=10)
    assert msg is not None and msg["Body"] == "bye"

    assert wait_until(lambda: schedule_gone(scheduler, name), timeout=5)


def test_universal_target_and_rate_starts_at_once(scheduler, sqs, queue, unique_name):
    url, _ = queue()
    name = unique_name("utp")
    # A rate schedule without StartDate invokes its target right away.
    scheduler.create_schedule(
        Name=name, ScheduleExpression="rate(1 hour)", FlexibleTimeWindow=OFF,
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sqs:sendMessage", "RoleArn": ROLE,
                "Input": json.dumps({"QueueUrl": url, "MessageBody": "via universal target",
                                     "MessageAttributes": {"kind": {"DataType": "String", "StringValue": "utp"}}})})
    msg, _ = receive(sqs, url, timeout=10)
    assert msg is not None
    assert msg["Body"] == "via universal target"
    assert msg["MessageAttributes"]["kind"]["StringValue"] == "utp"
    assert receive(sqs, url, timeout=2)[0] is None, "rate(1 hour) fired twice"
    scheduler.delete_schedule(Name=name)


def test_fifo_queue_target_with_message_group(scheduler, sqs, unique_name):
    name = unique_name("f") + ".fifo"
    url = sqs.create_queue(QueueName=name, Attributes={"FifoQueue": "true",
                                                       "ContentBasedDeduplication": "true"})["QueueUrl"]
    scheduler.create_schedule(Name=unique_name("fifo"), ScheduleExpression=at_expr(2)[0], FlexibleTimeWindow=OFF,
                              Target={"Arn": queue_arn(name), "RoleArn": ROLE, "Input": "ordered",
                                      "SqsParameters": {"MessageGroupId": "grp-1"}})
    out = None
    deadline = time.time() + 10
    while time.time() < deadline and not out:
        out = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=2, AttributeNames=["MessageGroupId"]).get("Messages")
    assert out, "no message on the FIFO queue"
    assert out[0]["Body"] == "ordered"
    assert out[0]["Attributes"]["MessageGroupId"] == "grp-1"


def test_failing_target_goes_to_dead_letter_queue(scheduler, sqs, queue, unique_name):
    dlq_url, dlq_arn = queue("dlq")
    name = unique_name("fail")
    missing = queue_arn(unique_name("missing"))
    scheduler.create_schedule(
        Name=name, ScheduleExpression=at_expr(2)[0], FlexibleTimeWindow=OFF,
        Target={"Arn": missing, "RoleArn": ROLE, "Input": "lost payload",
                "RetryPolicy": {"MaximumRetryAttempts": 0, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq_arn}})
    msg, _ = receive(sqs, dlq_url, timeout=12)
    assert msg is not None, "nothing in the dead-letter queue"
    assert msg["Body"] == "lost payload"
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert attrs["TARGET_ARN"] == missing
    assert attrs["SCHEDULE_ARN"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    assert attrs["ERROR_CODE"] == "QueueDoesNotExist"
    assert attrs["ERROR_MESSAGE"]
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attrs["RETRY_ATTEMPTS"] == "0"
    assert attrs["IS_PAYLOAD_TRUNCATED"] == "false"
    assert len(attrs["EXECUTION_ID"]) == 16
    assert attrs["SCHEDULED_TIME"].endswith("Z")
    assert all(v["DataType"] == "String" for v in msg["MessageAttributes"].values())


def test_eventbridge_and_sns_templated_targets(stratus, scheduler, sqs, queue, unique_name):
    events, sns = stratus.client("events"), stratus.client("sns")
    ev_url, ev_arn = queue("ev")
    source = "com.example." + unique_name("src").replace("-", "")
    rule = unique_name("rule")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": ev_arn}])
    sns_url, sns_arn = queue("sn")
    topic = sns.create_topic(Name=unique_name("topic"))["TopicArn"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=sns_arn, Attributes={"RawMessageDelivery": "true"})

    expr = at_expr(2)[0]
    scheduler.create_schedule(
        Name=unique_name("ev"), ScheduleExpression=expr, FlexibleTimeWindow=OFF,
        Target={"Arn": f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default", "RoleArn": ROLE,
                "Input": json.dumps({"order": 42}),
                "EventBridgeParameters": {"DetailType": "Order Due", "Source": source}})
    scheduler.create_schedule(Name=unique_name("sns"), ScheduleExpression=expr, FlexibleTimeWindow=OFF,
                              Target={"Arn": topic, "RoleArn": ROLE, "Input": "published by a schedule"})

    msg, _ = receive(sqs, ev_url, timeout=12)
    assert msg is not None, "PutEvents target did not reach the rule's queue"
    event = json.loads(msg["Body"])
    assert (event["source"], event["detail-type"], event["detail"]) == (source, "Order Due", {"order": 42})
    msg, _ = receive(sqs, sns_url, timeout=12)
    assert msg is not None and msg["Body"] == "published by a schedule"


def test_lambda_target_errors_reach_the_dead_letter_queue(scheduler, sqs, queue, unique_name):
    dlq_url, dlq_arn = queue("ldlq")
    function = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:{unique_name('nofn')}"
    scheduler.create_schedule(
        Name=unique_name("lam"), ScheduleExpression=at_expr(2)[0], FlexibleTimeWindow=OFF,
        Target={"Arn": function, "RoleArn": ROLE, "Input": json.dumps({"x": 1}),
                "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 60},
                "DeadLetterConfig": {"Arn": dlq_arn}})
    msg, _ = receive(sqs, dlq_url, timeout=12)
    assert msg is not None, "nothing in the dead-letter queue"
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert attrs["TARGET_ARN"] == function
    assert attrs["ERROR_CODE"] == "ResourceNotFoundException"
    # A missing function is not retried, and the policy allowed retries: not exhausted.
    assert attrs["RETRY_ATTEMPTS"] == "0"
    assert "EXHAUSTED_RETRY_CONDITION" not in attrs
    assert json.loads(msg["Body"]) == {"x": 1}


@pytest.mark.slow
def test_cron_every_minute_fires_on_the_minute(scheduler, sqs, queue, unique_name):
    url, arn = queue()
    name = unique_name("cron")
    scheduler.create_schedule(Name=name, ScheduleExpression="cron(* * * * ? *)", FlexibleTimeWindow=OFF,
                              Target={"Arn": arn, "RoleArn": ROLE, "Input": "<aws.scheduler.scheduled-time>"})
    msg, arrived = receive(sqs, url, timeout=70)
    scheduler.delete_schedule(Name=name)
    assert msg is not None, "cron(* * * * ? *) did not fire within a minute"
    scheduled = datetime.datetime.strptime(msg["Body"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert scheduled.second == 0
    assert scheduled <= arrived <= scheduled + datetime.timedelta(seconds=3)


def test_cli_create_get_list_delete(stratus, unique_name):
    name = unique_name("cli")
    target = json.dumps({"Arn": queue_arn("cli-q"), "RoleArn": ROLE})
    out = stratus.cli("scheduler", "create-schedule", "--name", name, "--schedule-expression", "rate(5 minutes)",
                      "--flexible-time-window", '{"Mode": "OFF"}', "--target", target, "--state", "DISABLED").json
    assert out["ScheduleArn"].endswith(f":schedule/default/{name}")
    got = stratus.cli("scheduler", "get-schedule", "--name", name).json
    assert got["State"] == "DISABLED" and got["ScheduleExpression"] == "rate(5 minutes)"
    listed = stratus.cli("scheduler", "list-schedules", "--name-prefix", name).json
    assert [s["Name"] for s in listed["Schedules"]] == [name]
    stratus.cli("scheduler", "delete-schedule", "--name", name)
    missing = stratus.cli("scheduler", "get-schedule", "--name", name, check=False)
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_state_survives_kill9_without_double_firing(fresh_stratus, unique_name):
    s = fresh_stratus()
    sched, sqs = s.client("scheduler"), s.client("sqs")
    qname = unique_name("pq")
    url = sqs.create_queue(QueueName=qname)["QueueUrl"]
    arn = queue_arn(qname)
    group = unique_name("pg")
    sched.create_schedule_group(Name=group, Tags=[{"Key": "keep", "Value": "me"}])
    sched.create_schedule(Name="weekly", GroupName=group, ScheduleExpression="cron(0 9 ? * MON *)",
                          ScheduleExpressionTimezone="Europe/Berlin", FlexibleTimeWindow=OFF,
                          Target={"Arn": arn, "RoleArn": ROLE, "Input": "weekly"})
    sched.create_schedule(Name="fired", ScheduleExpression=at_expr(1)[0], FlexibleTimeWindow=OFF,
                          Target={"Arn": arn, "RoleArn": ROLE, "Input": "fired-once"})
    msg, _ = receive(sqs, url, timeout=10)
    assert msg is not None and msg["Body"] == "fired-once"
    # Acknowledged but due while the process is down: fires once after the restart.
    sched.create_schedule(Name="missed", ScheduleExpression=at_expr(2)[0], FlexibleTimeWindow=OFF,
                          Target={"Arn": arn, "RoleArn": ROLE, "Input": "missed-then-caught-up"})
    assert s.kill9() == -signal.SIGKILL
    time.sleep(3)
    s.start()
    sched, sqs = s.client("scheduler"), s.client("sqs")

    got = sched.get_schedule(Name="weekly", GroupName=group)
    assert got["ScheduleExpression"] == "cron(0 9 ? * MON *)"
    assert got["ScheduleExpressionTimezone"] == "Europe/Berlin"
    group_arn = sched.get_schedule_group(Name=group)["Arn"]
    assert sched.list_tags_for_resource(ResourceArn=group_arn)["Tags"] == [{"Key": "keep", "Value": "me"}]
    assert {x["Name"] for x in sched.list_schedules()["Schedules"]} == {"weekly", "fired", "missed"}

    bodies = []
    deadline = time.time() + 6
    while time.time() < deadline:
        m, _ = receive(sqs, url, timeout=1)
        if m:
            bodies.append(m["Body"])
    assert bodies == ["missed-then-caught-up"], "the already-fired schedule must not fire again"


def test_pending_retry_survives_kill9_and_reaches_the_dead_letter_queue(fresh_stratus, unique_name):
    """An occurrence that fired before kill -9 and was still being retried is
    carried on after the restart, with its attempt count and execution id.

    The target is a universal target to an STS operation Stratus does not
    implement: it answers 501, a server error, so every attempt fails and is
    retried. ActionAfterCompletion DELETE removes the at() schedule in the same
    store write that records the firing and its pending delivery, so once
    GetSchedule says the schedule is gone the firing is committed; after the
    kill nothing but that pending delivery can produce the dead letter."""
    s = fresh_stratus()
    sched, sqs = s.client("scheduler"), s.client("sqs")
    dlq_name = unique_name("dlq")
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    name = unique_name("pend")
    target_input = json.dumps({"RoleArn": ROLE, "RoleSessionName":
                               "try-<aws.scheduler.attempt-number>-<aws.scheduler.execution-id>"})
    sched.create_schedule(
        Name=name, ScheduleExpression=at_expr(1)[0], FlexibleTimeWindow=OFF, ActionAfterCompletion="DELETE",
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sts:assumeRole", "RoleArn": ROLE, "Input": target_input,
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
                "DeadLetterConfig": {"Arn": queue_arn(dlq_name)}})

    assert wait_until(lambda: schedule_gone(sched, name), timeout=10, interval=0.02), \
        "the at() schedule did not fire"
    time.sleep(0.3)  # the first attempt fails; its retry waits 0.5-1 s
    assert s.kill9() == -signal.SIGKILL
    s.start()
    sched, sqs = s.client("scheduler"), s.client("sqs")
    assert "scheduler: resuming pending deliveries" in s.log()

    msg, _ = receive(sqs, dlq_url, timeout=20)
    assert msg is not None, f"the pending delivery was lost across kill -9\n{s.log()}"
    attrs = {k: v["StringValue"] for k, v in msg["MessageAttributes"].items()}
    assert attrs["ERROR_CODE"] == "NotImplemented"
    assert attrs["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attrs["RETRY_ATTEMPTS"] == "3"
    assert attrs["SCHEDULE_ARN"] == f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}"
    # The body is the last attempt's input: attempt 4, and the occurrence's one execution id.
    assert json.loads(msg["Body"])["RoleSessionName"] == f"try-4-{attrs['EXECUTION_ID']}"

    # Dead-lettered once: the pending row is gone, so another restart sends nothing.
    time.sleep(0.5)
    s.restart()
    sqs = s.client("sqs")
    again, _ = receive(sqs, dlq_url, timeout=3)
    assert again is None, f"dead-lettered twice: {again}"
