"""Sustained `EnvironmentPool.invoke` throughput with N concurrent callers of one function
(each caller gets its own warm environment). Prints JSON, one object per concurrency.

    .venv/bin/python bench/sandbox_throughput.py [-n 20000] [--concurrency 1 8 64]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
import uuid
from pathlib import Path

from lamina.sandbox import EnvironmentPool, EnvironmentSpec, InvokeRequest

HANDLER = "def handler(event, context):\n    return {'ok': True}\n"
ARN = "arn:aws:lambda:us-east-1:000000000000:function:throughput"


async def run(count: int, concurrencies: list[int], runtime: str, sandbox: str) -> list[dict[str, object]]:
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        code.chmod(0o755)
        (code / "app.py").write_text(HANDLER)
        pool = EnvironmentPool(data_dir=Path(tmp) / "data", sandbox=sandbox)
        await pool.start()
        spec = EnvironmentSpec(key="throughput", account_id="000000000000", region="us-east-1",
                               function_name="throughput", function_version="$LATEST", runtime=runtime,
                               handler="app.handler", memory_mb=512, timeout_s=30, ephemeral_storage_mb=512,
                               code_dir=code)

        async def caller(calls: int) -> None:
            for _ in range(calls):
                result = await pool.invoke(spec, InvokeRequest(str(uuid.uuid4()), b"{}", ARN))
                assert result.error_type is None, result.payload

        results = []
        try:
            for concurrency in concurrencies:
                await asyncio.gather(*(caller(20) for _ in range(concurrency)))  # that many warm environments
                start = time.perf_counter()
                await asyncio.gather(*(caller(count // concurrency) for _ in range(concurrency)))
                elapsed = time.perf_counter() - start
                results.append({"benchmark": "sandbox_throughput", "runtime": runtime, "sandbox": pool.mode,
                                "concurrency": concurrency, "invocations": count // concurrency * concurrency,
                                "invocations_per_s": round(count // concurrency * concurrency / elapsed)})
        finally:
            await pool.close()
        return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-n", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 64])
    parser.add_argument("--runtime", default="python3.12")
    parser.add_argument("--sandbox", default="auto")
    args = parser.parse_args()
    import uvloop

    uvloop.install()
    for result in asyncio.run(run(args.n, args.concurrency, args.runtime, args.sandbox)):
        print(json.dumps(result))


if __name__ == "__main__":
    main()
