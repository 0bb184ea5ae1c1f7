"""The loop-lag monitor reports a call that blocks the event loop, and warns about it once."""

from __future__ import annotations

import asyncio
import logging
import time

import requests

from lamina.observability.loop_lag import LoopLagMonitor


def test_a_blocked_loop_shows_as_lag_and_one_warning(caplog) -> None:
    async def scenario() -> dict[str, float]:
        monitor = LoopLagMonitor(sample_seconds=0.01, warn_ms=100, warn_every_seconds=60)
        await monitor.start()
        await asyncio.sleep(0.05)
        quiet = monitor.summary()
        for _ in range(3):
            time.sleep(0.25)  # a blocking call on the loop
            await asyncio.sleep(0.03)
        summary = monitor.summary()
        await monitor.close()
        return quiet, summary

    with caplog.at_level(logging.WARNING, logger="lamina.loop"):
        quiet, summary = asyncio.run(scenario())
    assert quiet["max"] < 100
    assert summary["max"] >= 200 and summary["recent_max"] >= 200 and summary["p99"] >= 200
    warnings = [r for r in caplog.records if r.name == "lamina.loop"]
    assert len(warnings) == 1  # rate-limited
    assert "blocked" in warnings[0].getMessage()


def test_health_reports_loop_lag(lam) -> None:
    health = requests.get(f"{lam.endpoint}/_lamina/health", timeout=10).json()
    assert set(health["loop_lag_ms"]) == {"max", "p99", "recent_max"}
    assert all(isinstance(v, float | int) and v >= 0 for v in health["loop_lag_ms"].values())
