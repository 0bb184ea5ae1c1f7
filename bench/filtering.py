"""Event filtering throughput: records/s through `RecordFilter.matches` for typical patterns.

    .venv/bin/python bench/filtering.py [--records N]

Prints one JSON document. Each scenario compiles its FilterCriteria once, then times
`matches` over a batch of records as Lambda delivers them (payloads still encoded), taking
the best of a few rounds. Half the records of each batch match, so both outcomes count.
"""

from __future__ import annotations

import argparse
import base64
import json
import platform
import sys
import time
from collections.abc import Callable
from typing import Any

from lamina.events.filtering import compile_filters

Record = dict[str, Any]


def sqs(index: int) -> Record:
    body = {
        "orderId": f"o-{index}",
        "status": "PAID" if index % 2 else "NEW",
        "amount": index % 200,
        "items": 3,
    }
    return {
        "messageId": f"m-{index}",
        "receiptHandle": "AQEB...",
        "body": json.dumps(body),
        "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "1545082649183", "SenderId": "AIDA"},
        "messageAttributes": {
            "Type": {"stringValue": "Order" if index % 2 else "Refund", "dataType": "String"}
        },
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:000000000000:orders",
        "awsRegion": "us-east-1",
    }


def kinesis(index: int) -> Record:
    data = {"device": f"{'AB' if index % 2 else 'CD'}{index:06d}", "temperature": 40 + index % 40}
    return {
        "kinesis": {
            "kinesisSchemaVersion": "1.0",
            "partitionKey": str(index % 8),
            "sequenceNumber": str(49590338271490256608559692538361571095921575989136588898 + index),
            "data": base64.b64encode(json.dumps(data).encode()).decode(),
            "approximateArrivalTimestamp": 1545084650.987,
        },
        "eventSource": "aws:kinesis",
        "eventName": "aws:kinesis:record",
        "awsRegion": "us-east-1",
    }


def dynamodb(index: int) -> Record:
    return {
        "eventID": str(index),
        "eventName": "INSERT" if index % 2 else "MODIFY",
        "eventSource": "aws:dynamodb",
        "dynamodb": {
            "Keys": {"Id": {"N": str(index)}},
            "NewImage": {"Id": {"N": str(index)}, "Kind": {"S": "order#" + str(index)}},
            "SizeBytes": 26,
            "StreamViewType": "NEW_IMAGE",
        },
    }


def kafka(index: int) -> Record:
    value = json.dumps({"source_ip": f"10.0.{index % 2}.{index % 250}", "path": f"/api/v{index % 3}/orders"})
    return {
        "topic": "access",
        "partition": index % 4,
        "offset": index,
        "timestamp": 1545084650987,
        "timestampType": "CREATE_TIME",
        "value": base64.b64encode(value.encode()).decode(),
        "headers": [],
    }


SCENARIOS: list[tuple[str, str, Callable[[int], Record], list[dict[str, Any]]]] = [
    ("sqs metadata exact", "sqs", sqs, [{"messageAttributes": {"Type": {"stringValue": ["Order"]}}}]),
    (
        "sqs json body exact+numeric",
        "sqs",
        sqs,
        [{"body": {"status": ["PAID"], "amount": [{"numeric": [">=", 0]}]}}],
    ),
    (
        "sqs json body $or+anything-but+exists",
        "sqs",
        sqs,
        [{"body": {"$or": [{"status": [{"anything-but": ["NEW"]}]}, {"refund": [{"exists": True}]}]}}],
    ),
    (
        "sqs five filters, OR",
        "sqs",
        sqs,
        [{"body": {"status": [s]}} for s in ("A", "B", "C", "D")] + [{"body": {"status": ["PAID"]}}],
    ),
    ("kinesis data prefix", "kinesis", kinesis, [{"data": {"device": [{"prefix": "AB"}]}}]),
    (
        "dynamodb eventName+image prefix",
        "dynamodb",
        dynamodb,
        [{"eventName": ["INSERT"], "dynamodb": {"NewImage": {"Kind": {"S": [{"prefix": "order#"}]}}}}],
    ),
    (
        "kafka value cidr+wildcard",
        "kafka",
        kafka,
        [{"value": {"source_ip": [{"cidr": "10.0.1.0/24"}], "path": [{"wildcard": "/api/*/orders"}]}}],
    ),
]


def run(records_per_scenario: int, rounds: int) -> dict[str, Any]:
    results = []
    for name, source, make_record, patterns in SCENARIOS:
        criteria = {"Filters": [{"Pattern": json.dumps(pattern)} for pattern in patterns]}
        started = time.perf_counter()
        record_filter = compile_filters(criteria, source)
        compile_us = (time.perf_counter() - started) * 1e6
        records = [make_record(index) for index in range(records_per_scenario)]
        matches = record_filter.matches
        best = float("inf")
        matched = 0
        for _ in range(rounds):
            started = time.perf_counter()
            matched = sum(1 for record in records if matches(record))
            best = min(best, time.perf_counter() - started)
        results.append(
            {
                "scenario": name,
                "source": source,
                "records": records_per_scenario,
                "matched": matched,
                "records_per_second": round(records_per_scenario / best),
                "microseconds_per_record": round(best / records_per_scenario * 1e6, 2),
                "compile_microseconds": round(compile_us, 1),
            }
        )
    return {
        "benchmark": "event filtering",
        "python": sys.version.split()[0],
        "machine": platform.machine(),
        "rounds": rounds,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    arguments = parser.parse_args()
    print(json.dumps(run(arguments.records, arguments.rounds), indent=2))


if __name__ == "__main__":
    main()
