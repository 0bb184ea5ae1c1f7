"""The invoke path's per-function counters read back as the metrics they always were
(Invocations, Errors, Throttles, Duration, the provisioned-concurrency counts), before and
after they are written, and across a restart."""

from __future__ import annotations

import asyncio

from lamina.observability.metrics import Metrics
from lamina.store.state import StateStore

A, R = "000000000000", "us-east-1"


def test_counters_read_back_as_metrics(tmp_path) -> None:
    async def scenario() -> None:
        store = StateStore(tmp_path / "state.db")
        metrics = Metrics(store)
        await store.open()
        await metrics.start()
        counters = metrics.counters((A, R, "f"))
        counters.invoked(3.5, False, False, False)
        counters.invoked(1.25, True, True, True)
        counters.invoked(0.5, False, True, False)
        counters.throttles += 1
        metrics.add(A, R, "f", "AsyncEventAge", 10.0)  # counted the general way, alongside
        expected = {"f": {
            "AsyncEventAge": {"sum": 10.0, "samples": 1, "max": 10.0},
            "Duration": {"sum": 5.25, "samples": 3, "max": 3.5},
            "Errors": {"sum": 1.0, "samples": 1, "max": 1.0},
            "Invocations": {"sum": 3.0, "samples": 3, "max": 1.0},
            "ProvisionedConcurrencyInvocations": {"sum": 1.0, "samples": 1, "max": 1.0},
            "ProvisionedConcurrencySpilloverInvocations": {"sum": 1.0, "samples": 1, "max": 1.0},
            "Throttles": {"sum": 1.0, "samples": 1, "max": 1.0},
        }}
        assert metrics.snapshot(A, R) == expected
        assert metrics.snapshot(A, R, "other") == {}
        await metrics.flush()
        assert metrics.snapshot(A, R) == expected
        metrics.counters((A, R, "f")).invoked(7.0, False, False, False)
        await metrics.close()
        await store.close()

        store = StateStore(tmp_path / "state.db")
        metrics = Metrics(store)
        await store.open()
        await metrics.start()
        after = metrics.snapshot(A, R)["f"]
        assert after["Invocations"] == {"sum": 4.0, "samples": 4, "max": 1.0}
        assert after["Duration"] == {"sum": 12.25, "samples": 4, "max": 7.0}
        metrics.wipe()
        assert metrics.snapshot(A, R) == {}
        await metrics.close()
        await store.close()

    asyncio.run(scenario())
