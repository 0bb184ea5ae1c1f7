"""Cold start of `EnvironmentPool.invoke`: a function never invoked before, to its result.

Prints JSON with p50/p99 in milliseconds for two cases: a spare environment is ready (the
normal case: the pool keeps one started per runtime in use), and none is (the sandbox and
the runtime start inside the invocation, as when many cold starts arrive at once).

    .venv/bin/python bench/sandbox_cold.py [-n 100] [--runtime python3.12] [--sandbox auto]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from lamina.sandbox import EnvironmentPool, EnvironmentSpec, InvokeRequest

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"


def percentile(samples: list[float], q: float) -> float:
    return samples[min(len(samples) - 1, int(q * len(samples)))]


async def measure(pool: EnvironmentPool, code: Path, runtime: str, count: int, with_spare: bool) -> dict[str, float]:
    samples = []
    init = []
    for index in range(count):
        if with_spare:
            await pool.prewarm(runtime)  # outside the measurement: the spare is started in the background
        spec = EnvironmentSpec(key=f"cold-{index}-{uuid.uuid4().hex}", account_id="000000000000", region="us-east-1",
                               function_name=f"cold{index}", function_version="$LATEST", runtime=runtime,
                               handler="app.handler", memory_mb=512, timeout_s=30, ephemeral_storage_mb=512,
                               code_dir=code)
        request = InvokeRequest(str(uuid.uuid4()), b"{}", f"arn:aws:lambda:us-east-1:000000000000:function:cold{index}")
        start = time.perf_counter()
        result = await pool.invoke(spec, request)
        samples.append((time.perf_counter() - start) * 1000)
        assert result.error_type is None, result.payload
        init.append(result.init_duration_ms or 0.0)
        await pool.retire(spec.key)
    samples.sort()
    return {"p50_ms": round(percentile(samples, 0.5), 2), "p99_ms": round(percentile(samples, 0.99), 2),
            "mean_ms": round(statistics.fmean(samples), 2), "init_duration_p50_ms": round(sorted(init)[len(init) // 2], 2)}


async def run(count: int, runtime: str, sandbox: str) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        code.chmod(0o755)
        (code / "app.py").write_text(HANDLER)
        results: dict[str, object] = {"benchmark": "sandbox_cold", "runtime": runtime, "invocations": count}
        for label, spares in (("with_spare", 1), ("without_spare", 0)):
            pool = EnvironmentPool(data_dir=Path(tmp) / f"data-{label}", sandbox=sandbox, spares_per_runtime=spares)
            await pool.start()
            try:
                results[label] = await measure(pool, code, runtime, count, with_spare=bool(spares))
                results["sandbox"] = pool.mode
            finally:
                await pool.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=100)
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    print(json.dumps(asyncio.run(run(args.n, args.runtime, args.sandbox))))


if __name__ == "__main__":
    main()
