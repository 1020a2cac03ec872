"""Lambda functions as targets of EventBridge rules and EventBridge Scheduler
schedules: the function really runs and receives what AWS sends it (the event
envelope, a constant Input, a transformed input, the schedule's Input)."""
import datetime
import json
import time

from conftest import ACCOUNT, REGION
from lambda_fixtures.helpers import create_function, zip_files

RECORDER = """
import json, os
def handler(event, context):
    with open(os.environ["OUT"], "a") as f:
        f.write(json.dumps({"event": event, "arn": context.invoked_function_arn}) + "\\n")
"""


def recorder(stratus, unique_name, out):
    lam = stratus.client("lambda")
    name = unique_name("fn")
    fn = create_function(lam, name, zip_files({"app.py": RECORDER}),
                         Environment={"Variables": {"OUT": str(out)}})
    return lam, name, fn["FunctionArn"]


def recorded(out, count, timeout=30.0):
    """The first `count` invocations written by the recorder function (waits for them)."""
    deadline = time.time() + timeout
    lines = []
    while time.time() < deadline:
        lines = out.read_text().splitlines() if out.exists() else []
        if len(lines) >= count:
            break
        time.sleep(0.1)
    return [json.loads(line) for line in lines]


def test_rule_targets_invoke_the_function_with_the_event(stratus, unique_name, tmp_path):
    out = tmp_path / "calls.jsonl"
    lam, name, fn_arn = recorder(stratus, unique_name, out)
    alias_arn = lam.create_alias(FunctionName=name, Name="live",
                                 FunctionVersion=lam.publish_version(FunctionName=name)["Version"])["AliasArn"]
    events = stratus.client("events")
    source = unique_name("src")
    rule = unique_name("r")
    events.put_rule(Name=rule, EventPattern=json.dumps({"source": [source]}))
    events.put_targets(Rule=rule, Targets=[
        {"Id": "whole", "Arn": fn_arn},
        {"Id": "constant", "Arn": fn_arn, "Input": json.dumps({"fixed": True})},
        {"Id": "shaped", "Arn": alias_arn,
         "InputTransformer": {"InputPathsMap": {"n": "$.detail.n", "src": "$.source"},
                              "InputTemplate": '{"number": <n>, "from": "<src>", "rule": "<aws.events.rule-name>"}'}},
    ])
    put = events.put_events(Entries=[{"Source": source, "DetailType": "order", "Detail": json.dumps({"n": 7})}])
    assert put["FailedEntryCount"] == 0
    calls = recorded(out, 3)
    assert len(calls) == 3, calls
    by_shape = {}
    for call in calls:
        ev = call["event"]
        key = "whole" if "detail-type" in ev else "constant" if "fixed" in ev else "shaped"
        by_shape[key] = call
    assert set(by_shape) == {"whole", "constant", "shaped"}
    whole = by_shape["whole"]["event"]
    assert list(whole) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert whole["id"] == put["Entries"][0]["EventId"]
    assert whole["source"] == source and whole["detail"] == {"n": 7}
    assert whole["account"] == ACCOUNT and whole["region"] == REGION
    assert by_shape["constant"]["event"] == {"fixed": True}
    assert by_shape["shaped"]["event"] == {"number": 7, "from": source, "rule": rule}
    # The alias target runs the alias (the function sees the qualified ARN).
    assert by_shape["shaped"]["arn"] == alias_arn
    assert by_shape["whole"]["arn"] == fn_arn
    # Exactly one invocation per target.
    time.sleep(1.0)
    assert len(recorded(out, 0)) == 3


def test_schedule_invokes_the_function_with_its_input(stratus, unique_name, tmp_path):
    out = tmp_path / "calls.jsonl"
    _, _, fn_arn = recorder(stratus, unique_name, out)
    scheduler = stratus.client("scheduler")
    name = unique_name("sched")
    when = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=2)).replace(microsecond=0)
    scheduler.create_schedule(
        Name=name, ScheduleExpression=f"at({when.strftime('%Y-%m-%dT%H:%M:%S')})",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": fn_arn, "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/scheduler",
                "Input": json.dumps({"job": "nightly", "schedule": "<aws.scheduler.schedule-arn>",
                                     "attempt": "<aws.scheduler.attempt-number>"})})
    calls = recorded(out, 1, timeout=15)
    assert len(calls) == 1, "the schedule did not invoke the function"
    assert calls[0]["event"] == {
        "job": "nightly",
        "schedule": f"arn:aws:scheduler:{REGION}:{ACCOUNT}:schedule/default/{name}",
        "attempt": "1",
    }
    assert calls[0]["arn"] == fn_arn
