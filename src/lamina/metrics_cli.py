"""`lamina metrics [--function NAME]`: the AWS/Lambda metrics lamina counts (Invocations,
Errors, Throttles, Duration, IteratorAge, the async and provisioned-concurrency metrics),
per function."""

from __future__ import annotations

import json

from lamina.cli_client import fetch_view


def print_metrics(function: str | None, *, endpoint_url: str | None = None, region: str | None = None,
                  as_json: bool = False) -> None:
    functions = fetch_view("/_lamina/metrics", function, endpoint_url, region)["functions"]
    if as_json:
        print(json.dumps(functions, indent=2))
        return
    print(f"{'FUNCTION':<40} {'METRIC':<44} {'SUM':>14} {'SAMPLES':>9} {'AVERAGE':>12} {'MAXIMUM':>12}")
    for name, metrics in functions.items():
        for metric, value in metrics.items():
            average = value["sum"] / value["samples"] if value["samples"] else 0.0
            maximum = value["max"] if value["max"] is not None else 0.0
            print(f"{name:<40} {metric:<44} {value['sum']:>14.2f} {value['samples']:>9} {average:>12.2f} "
                  f"{maximum:>12.2f}")
