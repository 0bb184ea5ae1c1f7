"""Warm invoke latency of `EnvironmentPool.invoke` with a trivial Python handler.

Prints JSON: p50/p99/p99.9/mean in microseconds over N sequential invocations of one
warm environment (the caller's own work, e.g. request ids, is done before timing).

    .venv/bin/python bench/sandbox_warm.py [-n 20000] [--runtime python3.12] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
import uuid

from common import BENCH_ARN, pool_with_function

from lamina.sandbox import InvokeRequest

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def percentile(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


async def run(count: int, runtime: str, sandbox: str) -> dict[str, object]:
    async with pool_with_function(HANDLER, runtime, sandbox) as (pool, spec):
        requests = [InvokeRequest(str(uuid.uuid4()), b"{}", BENCH_ARN) for _ in range(count + 1000)]
        for request in requests[:1000]:  # warm-up: cold start, then caches
            await pool.invoke(spec, request)
        samples = []
        clock = time.perf_counter_ns
        for request in requests[1000:]:
            start = clock()
            result = await pool.invoke(spec, request)
            samples.append((clock() - start) / 1000)
            assert result.error_type is None, result.payload
    mode = pool.mode
    samples.sort()
    return {"benchmark": "sandbox_warm", "runtime": runtime, "sandbox": mode, "invocations": count,
            "p50_us": round(percentile(samples, 0.50), 1), "p99_us": round(percentile(samples, 0.99), 1),
            "p99.9_us": round(percentile(samples, 0.999), 1), "mean_us": round(statistics.fmean(samples), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--sandbox", default="auto")
    parser.add_argument("--loop", choices=["uvloop", "asyncio"], default="uvloop")
    args = parser.parse_args()
    if args.loop == "uvloop":
        import uvloop

        uvloop.install()
    result = asyncio.run(run(args.n, args.runtime, args.sandbox))
    result["loop"] = args.loop
    print(json.dumps(result))


if __name__ == "__main__":
    main()
