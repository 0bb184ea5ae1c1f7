"""Issue 10, "Proof": fuzz every operation of every model lamina serves (Lambda, Step Functions,
CloudWatch Logs) against a real `lamina serve`, and require that nothing takes it down:

- no 5xx for any request (bad input is the caller's error: 4xx with AWS's code). The one 5xx
  allowed is 501 `UnsupportedOperationException` from an operation lamina does not implement;
- no traceback in the server's log;
- the server healthy after each operation's batch (`/_lamina/health` answers 200 promptly);
- no request left unanswered (a timeout means the server froze), bar the long poll's own wait.

CI runs a fixed seed with a few examples per operation; `pytest tests/robustness/test_fuzz_models.py
--long` runs many more with a random seed.
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from http.client import HTTPException
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from robustness.model_fuzz import (
    RawRequest,
    RawResponse,
    Resources,
    ServedModel,
    every_operation,
    mutations_for,
    printable,
    probe_params,
    send,
    serialize,
    served_model,
    shape_value,
    sign,
)

from helpers import PYTHON_HELLO, ROLE, LaminaServer, free_port, make_zip

KEY_ID, SECRET, ACCOUNT = "AKIDFUZZEXAMPLE", "fuzz-secret", "000000000000"
ACTIVITY_POLL_SECONDS = 1.0

# Examples per operation (each example sends one request per applicable mutation).
CI_EXAMPLES, LONG_EXAMPLES, UNIMPLEMENTED_EXAMPLES = 6, 100, 1
REQUEST_TIMEOUT = 20.0  # seconds; beyond it the server counts as frozen
INVOKE_TIMEOUT = 60.0  # a first invoke starts an environment, on a machine shared with other tests
HEALTH_BOUND = 2.0

PASS_DEFINITION = json.dumps({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": True}}})


UNTIED = "(not tied to a request)"


@dataclass
class Failure:
    operation: str
    mutation: str
    problem: str
    request: str
    evidence: str = ""

    def __str__(self) -> str:
        lines = self.evidence.splitlines()
        shown = lines[:1] + ["..."] + lines[-7:] if len(lines) > 9 else lines
        evidence = "".join(f"\n      {line}" for line in shown)
        return f"{self.operation} [{self.mutation}]: {self.problem}\n    {self.request}{evidence}"


class ServerLog:
    """The part of the server's log written since the last read, and its tracebacks by
    request id (the front door logs "unhandled error in request <id>" before each one)."""

    _UNHANDLED = re.compile(r"unhandled error in request ([0-9a-f-]{36})")

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = path.stat().st_size if path.exists() else 0

    def read_new(self) -> str:
        with self.path.open("rb") as f:
            f.seek(self.offset)
            data = f.read()
        self.offset += len(data)
        return data.decode("utf-8", "replace")

    def tracebacks(self, text: str) -> list[tuple[str | None, str]]:
        """(request id or None, the log record) of each traceback in `text`."""
        found = []
        records = re.split(r"(?m)^(?=\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ )", text)
        for record in records:
            if "Traceback (most recent call last)" in record:
                match = self._UNHANDLED.search(record)
                found.append((match.group(1) if match else None, record.strip()))
        return found


@dataclass
class Fuzzer:
    server: LaminaServer
    resources: Resources
    log: ServerLog
    host: str = field(init=False)

    def __post_init__(self) -> None:
        self.host = f"127.0.0.1:{self.server.port}"

    def healthy(self) -> bool:
        request = RawRequest("GET", "/_lamina/health", "", {}, b"", signed=False)
        try:
            return send("127.0.0.1", self.server.port, request, HEALTH_BOUND).status == 200
        except (OSError, HTTPException):
            return False

    def exchange(self, service: ServedModel, operation: str, request: RawRequest) -> RawResponse | str:
        if request.signed:
            sign(request, self.host, service.model.signing_name, KEY_ID, SECRET)
        timeout = {"GetActivityTask": ACTIVITY_POLL_SECONDS + REQUEST_TIMEOUT,
                   "Invoke": INVOKE_TIMEOUT, "InvokeAsync": INVOKE_TIMEOUT}.get(operation, REQUEST_TIMEOUT)
        try:
            return send("127.0.0.1", self.server.port, request, timeout)
        except TimeoutError:
            return f"no answer within {timeout:.0f} s (the server froze)"
        except (OSError, HTTPException) as error:
            return f"no answer: {type(error).__name__}: {error}"


def _problem(response: RawResponse | str) -> str | None:
    if isinstance(response, str):
        return response
    if response.status >= 500 and not (response.status == 501
                                       and response.error_type == "UnsupportedOperationException"):
        return f"HTTP {response.status} {response.error_type}: {response.body[:300]!r}"
    return None


def _is_unimplemented(response: RawResponse | str) -> bool:
    return isinstance(response, RawResponse) and response.error_type == "UnsupportedOperationException" \
        and response.status == 501


@pytest.fixture(scope="module")
def fuzzer(tmp_path_factory) -> Fuzzer:
    # Every request must be signed by this key, so signatures are checked, not waved through.
    # No request may leave the machine: AWS endpoints (S3 code, event sources) point at a closed port.
    nowhere = f"http://127.0.0.1:{free_port()}"
    env = {"LAMINA_ACCESS_KEYS": f"{KEY_ID}:{SECRET}:{ACCOUNT}",
           "LAMINA_STATES_ACTIVITY_POLL_SECONDS": str(ACTIVITY_POLL_SECONDS),
           # Bounds what provisioned or reserved concurrency a fuzzed request can ask for.
           "LAMINA_CONCURRENCY_LIMIT": "110",
           "AWS_ENDPOINT_URL": nowhere}
    server = LaminaServer(tmp_path_factory.mktemp("fuzz") / "data", env=env, dev=False).start()
    resources = _create_resources(server)
    yield Fuzzer(server, resources, ServerLog(server.log_path))
    server.stop()


def _clients(server: LaminaServer):
    return (server.client("lambda", account=KEY_ID, secret=SECRET),
            server.client("stepfunctions", account=KEY_ID, secret=SECRET),
            server.client("logs", account=KEY_ID, secret=SECRET))


def _create_resources(server: LaminaServer) -> Resources:
    """One resource of each kind, so fuzzed requests can reach past "not found"."""
    lam, sfn, logs = _clients(server)
    function = lam.create_function(FunctionName="fuzz", Runtime="python3.11", Role=ROLE, Handler="app.handler",
                                   Code={"ZipFile": PYTHON_HELLO})["FunctionArn"]
    layer = lam.publish_layer_version(LayerName="fuzz", Content={"ZipFile": make_zip({"x.txt": "x"})})
    machine = sfn.create_state_machine(name="fuzz", definition=PASS_DEFINITION, roleArn=ROLE)["stateMachineArn"]
    activity = sfn.create_activity(name="fuzz")["activityArn"]
    execution = sfn.start_execution(stateMachineArn=machine, input="{}")["executionArn"]
    logs.create_log_group(logGroupName="fuzz")
    logs.create_log_stream(logGroupName="fuzz", logStreamName="fuzz")
    return Resources({
        "FunctionName": ["fuzz", function, f"{function}:$LATEST"], "Resource": [function],
        "LayerName": ["fuzz", layer["LayerArn"]], "Arn": [layer["LayerVersionArn"]],
        "Role": [ROLE], "roleArn": [ROLE], "Handler": ["app.handler"],
        "stateMachineArn": [machine], "activityArn": [activity], "executionArn": [execution],
        "resourceArn": [machine, activity], "definition": [PASS_DEFINITION], "input": ["{}", '{"a": [1]}'],
        "logGroupName": ["fuzz"], "logStreamName": ["fuzz"], "logGroupIdentifier": ["fuzz"],
    })


def _ensure_resources(server: LaminaServer) -> None:
    """Put back what an earlier operation's batch deleted (creating what exists just fails)."""
    lam, sfn, logs = _clients(server)
    for create in (lambda: lam.create_function(FunctionName="fuzz", Runtime="python3.11", Role=ROLE,
                                               Handler="app.handler", Code={"ZipFile": PYTHON_HELLO}),
                   lambda: sfn.create_state_machine(name="fuzz", definition=PASS_DEFINITION, roleArn=ROLE),
                   lambda: sfn.create_activity(name="fuzz"),
                   lambda: logs.create_log_group(logGroupName="fuzz"),
                   lambda: logs.create_log_stream(logGroupName="fuzz", logStreamName="fuzz")):
        try:
            create()
        except Exception:  # already there, or its own error: either way the batch goes on
            pass


@pytest.mark.timeout(600)
@pytest.mark.parametrize(("service_name", "operation_name"), every_operation(),
                         ids=[f"{s}.{o}" for s, o in every_operation()])
def test_no_request_takes_the_server_down(fuzzer: Fuzzer, request: pytest.FixtureRequest,
                                          service_name: str, operation_name: str) -> None:
    long_run = bool(request.config.getoption("--long"))
    service = served_model(service_name)
    operation = service.model.operation_model(operation_name)
    mutations = mutations_for(service, operation)
    _ensure_resources(fuzzer.server)
    fuzzer.log.read_new()

    probe = serialize(service, operation, probe_params(operation), fuzzer.host)
    implemented = not _is_unimplemented(fuzzer.exchange(service, operation_name, probe))
    examples = (LONG_EXAMPLES if long_run else CI_EXAMPLES) if implemented else UNIMPLEMENTED_EXAMPLES
    failures: list[Failure] = []
    answers: Counter[str] = Counter()  # what the server answered, shown with -s
    input_values = shape_value(operation.input_shape, fuzzer.resources) if operation.input_shape else st.just({})

    @settings(max_examples=examples, derandomize=not long_run, deadline=None, database=None,
              phases=(Phase.explicit, Phase.generate), suppress_health_check=list(HealthCheck))
    @given(st.data())
    def batch(data: st.DataObject) -> None:
        params = data.draw(input_values, label="params")
        sent: dict[str, tuple[str, RawRequest]] = {}
        for mutation_name, mutation in mutations.items():
            try:
                raw = serialize(service, operation, params, fuzzer.host)
            except Exception:  # values botocore's serializer itself refuses: nothing to send
                continue
            mutation(data.draw, operation, raw)
            response = fuzzer.exchange(service, operation_name, raw)
            if isinstance(response, RawResponse):
                answers[f"{response.status} {response.error_type}"] += 1
                if response.request_id:
                    sent[response.request_id] = (mutation_name, raw)
            problem = _problem(response)
            if problem:
                failures.append(Failure(operation_name, mutation_name, problem, printable(raw)))
        for request_id, record in fuzzer.log.tracebacks(fuzzer.log.read_new()):
            mutation_name, raw = sent.get(request_id or "", (UNTIED, None))
            failures.append(Failure(operation_name, mutation_name, "traceback in the server log",
                                    printable(raw) if raw else "", record))

    started = time.monotonic()
    batch()
    elapsed = time.monotonic() - started
    print(f"{service_name}.{operation_name}: {sum(answers.values())} answers in {elapsed:.1f} s: {dict(answers)}")

    # A failing response and its traceback are one failure: keep the traceback as evidence.
    merged: dict[tuple[str, str], Failure] = {}
    for failure in failures:
        key = (failure.mutation, failure.request)
        if key in merged:
            merged[key].evidence = merged[key].evidence or failure.evidence
            merged[key].problem = merged[key].problem if "HTTP" in merged[key].problem else failure.problem
        else:
            merged[key] = failure
    real = list(merged.values())

    alive = fuzzer.server.process is not None and fuzzer.server.process.poll() is None
    assert alive, f"lamina exited during {operation_name}'s batch:\n{fuzzer.server.log_path.read_text()[-3000:]}"
    assert fuzzer.healthy(), f"/_lamina/health did not answer 200 within {HEALTH_BOUND} s after {operation_name}"
    if real:
        shown = "\n".join(str(f) for f in _one_per_mutation(real))
        pytest.fail(f"{len(real)} failing requests of {service_name}.{operation_name} "
                    f"(batch took {elapsed:.1f} s):\n{shown}", pytrace=False)


def _one_per_mutation(failures: list[Failure]) -> list[Failure]:
    seen: dict[str, Failure] = {}
    for failure in failures:
        seen.setdefault(f"{failure.mutation}|{failure.problem[:40]}", failure)
    return list(seen.values())


def test_health_probe_answers(fuzzer: Fuzzer) -> None:
    """The health probe the batches rely on works (a fuzzer whose probe always failed would
    flag every batch; one that always passed would prove nothing)."""
    assert fuzzer.healthy()
    closed = Fuzzer(LaminaServer(fuzzer.server.data_dir, port=free_port()), fuzzer.resources, fuzzer.log)
    assert not closed.healthy()

