"""Activities through boto3: a worker thread polling GetActivityTask and answering by task
token, heartbeats and their timeout, and the long poll that ends with no task."""

from __future__ import annotations

import json
import threading

import pytest
from botocore.exceptions import ClientError
from sfn_helpers import create_machine, finished, history, types, wait_for_event

from helpers import LaminaServer

POLL_SECONDS = 1


@pytest.fixture(scope="module")
def activity_server(tmp_path_factory):
    server = LaminaServer(tmp_path_factory.mktemp("activities") / "data",
                          env={"LAMINA_STATES_ACTIVITY_POLL_SECONDS": str(POLL_SECONDS)}).start()
    yield server
    server.stop()


@pytest.fixture
def sfn(activity_server):
    activity_server.reset()
    return activity_server.client("stepfunctions")


def activity_task(activity_arn: str, **extra) -> dict:
    return {"Type": "Task", "Resource": activity_arn, **extra}


class Worker(threading.Thread):
    """Polls one activity until stopped; answers each task with `answer(input)`."""

    def __init__(self, server: LaminaServer, activity_arn: str, answer) -> None:
        super().__init__(daemon=True)
        self.sfn = server.client("stepfunctions")
        self.activity_arn = activity_arn
        self.answer = answer
        self.stopping = threading.Event()
        self.handled: list[dict] = []
        self.errors: list[BaseException] = []

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                task = self.sfn.get_activity_task(activityArn=self.activity_arn, workerName="worker-1")
                if not task.get("taskToken"):
                    continue
                event = json.loads(task["input"])
                self.handled.append(event)
                self.sfn.send_task_heartbeat(taskToken=task["taskToken"])
                self.answer(self.sfn, task["taskToken"], event)
        except BaseException as e:  # surfaced by the test
            self.errors.append(e)

    def finish(self) -> None:
        self.stopping.set()
        self.join(timeout=POLL_SECONDS + 30)
        assert not self.is_alive()
        assert not self.errors, self.errors


def succeed_upper(sfn, token: str, event: dict) -> None:
    sfn.send_task_success(taskToken=token, output=json.dumps({"upper": event["word"].upper()}))


def test_a_worker_thread_does_the_activity(sfn, activity_server):
    activity = sfn.create_activity(name="shout")["activityArn"]
    worker = Worker(activity_server, activity, succeed_upper)
    worker.start()
    try:
        definition = {"StartAt": "Each", "States": {"Each": {
            "Type": "Map", "ItemsPath": "$.words", "MaxConcurrency": 2,
            "ItemSelector": {"word.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"StartAt": "Shout", "States": {
                "Shout": activity_task(activity, HeartbeatSeconds=60, TimeoutSeconds=120, End=True)}},
            "End": True}}}
        execution = sfn.start_execution(stateMachineArn=create_machine(sfn, "shouting", definition),
                                        input=json.dumps({"words": ["a", "bc", "def"]}))["executionArn"]
        described = finished(sfn, execution)
    finally:
        worker.finish()
    assert described["status"] == "SUCCEEDED", described
    assert json.loads(described["output"]) == [{"upper": "A"}, {"upper": "BC"}, {"upper": "DEF"}]
    assert sorted(e["word"] for e in worker.handled) == ["a", "bc", "def"]
    events = history(sfn, execution)
    assert types(events).count("ActivityScheduled") == 3
    started = [e for e in events if e["type"] == "ActivityStarted"]
    assert [e["activityStartedEventDetails"]["workerName"] for e in started] == ["worker-1"] * 3
    scheduled = next(e for e in events if e["type"] == "ActivityScheduled")["activityScheduledEventDetails"]
    assert (scheduled["resource"], scheduled["heartbeatInSeconds"], scheduled["timeoutInSeconds"]) == (
        activity, 60, 120)


def test_a_scheduled_task_waits_for_a_worker(sfn):
    activity = sfn.create_activity(name="later")["activityArn"]
    machine = create_machine(sfn, "queued", {"StartAt": "A", "States": {"A": activity_task(activity, End=True)}})
    execution = sfn.start_execution(stateMachineArn=machine, input='{"word": "x"}')["executionArn"]
    wait_for_event(sfn, execution, "ActivityScheduled")
    assert "ActivityStarted" not in types(history(sfn, execution))
    task = sfn.get_activity_task(activityArn=activity)
    assert json.loads(task["input"]) == {"word": "x"}
    sfn.send_task_failure(taskToken=task["taskToken"], error="Unreadable", cause="bad word")
    described = finished(sfn, execution)
    assert (described["status"], described["error"], described["cause"]) == ("FAILED", "Unreadable", "bad word")
    failed = wait_for_event(sfn, execution, "ActivityFailed")
    assert failed["activityFailedEventDetails"] == {"error": "Unreadable", "cause": "bad word"}


def test_a_silent_worker_times_out_on_heartbeat(sfn):
    activity = sfn.create_activity(name="silent")["activityArn"]
    machine = create_machine(sfn, "heartbeat", {"StartAt": "A", "States": {
        "A": activity_task(activity, HeartbeatSeconds=1, End=True)}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    token = None
    while token is None:
        token = sfn.get_activity_task(activityArn=activity).get("taskToken")
    described = finished(sfn, execution)
    assert (described["status"], described["error"]) == ("FAILED", "States.HeartbeatTimeout")
    assert "ActivityTimedOut" in types(history(sfn, execution))
    with pytest.raises(ClientError) as e:
        sfn.send_task_success(taskToken=token, output="{}")
    assert e.value.response["Error"]["Code"] == "TaskTimedOut"


def test_a_poll_with_nothing_to_do_ends_without_a_task(sfn):
    activity = sfn.create_activity(name="idle")["activityArn"]
    answered = sfn.get_activity_task(activityArn=activity, workerName="w")
    assert answered.get("taskToken") is None


def test_an_aborted_execution_takes_its_task_back(sfn):
    activity = sfn.create_activity(name="abandoned")["activityArn"]
    machine = create_machine(sfn, "abandon", {"StartAt": "A", "States": {"A": activity_task(activity, End=True)}})
    execution = sfn.start_execution(stateMachineArn=machine)["executionArn"]
    wait_for_event(sfn, execution, "ActivityScheduled")
    sfn.stop_execution(executionArn=execution)
    assert sfn.get_activity_task(activityArn=activity).get("taskToken") is None
