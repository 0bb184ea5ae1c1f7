"""Step Functions benchmarks through the service (issue 7): state transitions per second of
durable Standard executions, for a chain of Pass states and for a chain of Lambda tasks (a
trivial Python function, invoked in-process), plus Express Pass chains for comparison.
Prints one JSON document; asserts nothing.

    .venv/bin/python bench/states.py [--pass-states 100] [--pass-executions 500] [--clients 16]
                                     [--lambda-states 100] [--lambda-executions 8]

A transition is one state entered and left. Elapsed time is the span of the executions'
own start and stop dates (server clocks), so client polling does not count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from common import Lamina

ROLE = "arn:aws:iam::000000000000:role/bench"
TRIVIAL = "def handler(event, context):\n    return event\n"


def chain(length: int, state: dict[str, Any]) -> dict[str, Any]:
    states = {}
    for i in range(length):
        states[f"S{i}"] = {**state, **({"Next": f"S{i + 1}"} if i + 1 < length else {"End": True})}
    return {"StartAt": "S0", "States": states}


async def _post_all(port: int, target: str, bodies: list[bytes], clients: int) -> list[dict[str, Any]]:
    """POST every body (JSON 1.0, `X-Amz-Target: AWSStepFunctions.<target>`) over `clients` keep-alive
    connections; the answers in order."""
    answers: list[dict[str, Any]] = [{}] * len(bodies)
    queue = list(enumerate(bodies))[::-1]

    async def client() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            index, body = queue.pop()
            writer.write((f"POST / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                          f"Content-Type: application/x-amz-json-1.0\r\nX-Amz-Target: AWSStepFunctions.{target}\r\n"
                          f"Content-Length: {len(body)}\r\n\r\n").encode() + body)
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            answers[index] = json.loads(await reader.readexactly(length))
        writer.close()

    await asyncio.gather(*(client() for _ in range(clients)))
    return answers


def post_all(port: int, target: str, bodies: list[bytes], clients: int) -> list[dict[str, Any]]:
    return asyncio.run(_post_all(port, target, bodies, clients))


def wait_until_done(sfn, machine_arn: str) -> list[dict[str, Any]]:
    while sfn.list_executions(stateMachineArn=machine_arn, statusFilter="RUNNING", maxResults=1)["executions"]:
        time.sleep(0.05)
    pages = sfn.get_paginator("list_executions").paginate(stateMachineArn=machine_arn)
    return [e for page in pages for e in page["executions"]]


def summarise(executions: list[dict[str, Any]], transitions_each: int) -> dict[str, Any]:
    statuses = {e["status"] for e in executions}
    start = min(e["startDate"] for e in executions)
    stop = max(e["stopDate"] for e in executions)
    seconds = (stop - start).total_seconds()
    transitions = transitions_each * len(executions)
    return {"executions": len(executions), "statuses": sorted(statuses), "transitions": transitions,
            "seconds": round(seconds, 3), "transitions_per_second": round(transitions / seconds)}


def standard_pass_chain(lamina: Lamina, states: int, executions: int, clients: int) -> dict[str, Any]:
    sfn = lamina.client("stepfunctions")
    arn = sfn.create_state_machine(name="pass-chain", roleArn=ROLE, definition=json.dumps(
        chain(states, {"Type": "Pass", "Result": 1, "ResultPath": "$.last"})))["stateMachineArn"]
    body = json.dumps({"stateMachineArn": arn, "input": "{}"}).encode()
    post_all(lamina.port, "StartExecution", [body] * executions, clients)
    return {"states_per_execution": states, "clients": clients, **summarise(wait_until_done(sfn, arn), states)}


def express_pass_chain(lamina: Lamina, states: int, executions: int, clients: int) -> dict[str, Any]:
    sfn = lamina.client("stepfunctions")
    arn = sfn.create_state_machine(name="pass-chain-express", roleArn=ROLE, type="EXPRESS", definition=json.dumps(
        chain(states, {"Type": "Pass", "Result": 1, "ResultPath": "$.last"})))["stateMachineArn"]
    body = json.dumps({"stateMachineArn": arn, "input": "{}"}).encode()
    started = time.perf_counter()
    answers = post_all(lamina.port, "StartSyncExecution", [body] * executions, clients)
    seconds = time.perf_counter() - started
    transitions = states * executions
    return {"states_per_execution": states, "clients": clients, "executions": executions,
            "statuses": sorted({a.get("status", a.get("__type", "?")) for a in answers}),
            "transitions": transitions, "seconds": round(seconds, 3),
            "transitions_per_second": round(transitions / seconds)}


def standard_lambda_chain(lamina: Lamina, states: int, executions: int) -> dict[str, Any]:
    """`executions` run at once, each a chain of `states` lambda:invoke tasks; the function's
    environments are warmed first so the figure is the steady state, not cold starts."""
    lamina.create_python_function("trivial", TRIVIAL)
    lam = lamina.client()
    with ThreadPoolExecutor(executions) as pool:
        list(pool.map(lambda _: lamina.client().invoke(FunctionName="trivial", Payload=b"{}"), range(executions)))
    lam.invoke(FunctionName="trivial", Payload=b"{}")
    sfn = lamina.client("stepfunctions")
    task = {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "trivial", "Payload.$": "$"}, "OutputPath": "$.Payload"}
    arn = sfn.create_state_machine(name="lambda-chain", roleArn=ROLE,
                                   definition=json.dumps(chain(states, task)))["stateMachineArn"]
    body = json.dumps({"stateMachineArn": arn, "input": '{"ping": 1}'}).encode()
    post_all(lamina.port, "StartExecution", [body] * executions, executions)
    return {"states_per_execution": states, "concurrent_executions": executions,
            **summarise(wait_until_done(sfn, arn), states)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pass-states", type=int, default=100)
    parser.add_argument("--pass-executions", type=int, default=500)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--lambda-states", type=int, default=100)
    parser.add_argument("--lambda-executions", type=int, default=8)
    args = parser.parse_args()
    with Lamina() as lamina:
        results = {
            "standard_pass_chain": standard_pass_chain(lamina, args.pass_states, args.pass_executions,
                                                       args.clients),
            "standard_lambda_chain": standard_lambda_chain(lamina, args.lambda_states, args.lambda_executions),
            "express_pass_chain": express_pass_chain(lamina, args.pass_states, args.pass_executions,
                                                     args.clients),
        }
    print(json.dumps({"benchmark": "states", "results": results}, indent=2))


if __name__ == "__main__":
    main()
