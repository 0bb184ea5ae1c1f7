"""When Max Memory Used is measured on the host, given the figure lamina's Python runtime
reports with each response (`ReportedPeak`)."""

from __future__ import annotations

import types

import pytest

from lamina.sandbox import highwater
from lamina.sandbox.highwater import REMEASURE_S, ReportedPeak


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(highwater, "time", types.SimpleNamespace(monotonic=clock.monotonic))
    return clock


class Host:
    """The host's measurement, counted."""

    def __init__(self, mb: int) -> None:
        self.mb = mb
        self.readings = 0

    def measure(self) -> int:
        self.readings += 1
        return self.mb


def peak(host: Host, limit_mb: int = 512) -> ReportedPeak:
    reported = ReportedPeak(host.measure)
    reported.set_limit(limit_mb)
    return reported


def test_an_unchanged_report_is_not_measured_again_within_a_second(clock: Clock) -> None:
    host = Host(40)
    reported = peak(host)
    assert [reported.mb(b"30000") for _ in range(5)] == [40] * 5
    assert host.readings == 1
    clock.now += REMEASURE_S
    host.mb = 45  # e.g. a child process, or page cache, since
    assert reported.mb(b"30000") == 45
    assert host.readings == 2


def test_a_report_in_a_new_mb_is_measured(clock: Clock) -> None:
    host = Host(40)
    reported = peak(host)
    reported.mb(b"30000")
    assert reported.mb(b"30100") == 40 and host.readings == 1  # the same MB (30 MB rounded up)
    assert reported.mb(b"90000") == 88 and host.readings == 2  # more than the host saw: the report stands


def test_near_the_limit_every_invocation_is_measured(clock: Clock) -> None:
    host = Host(120)
    reported = peak(host, limit_mb=128)
    for _ in range(3):
        assert reported.mb(b"1000") == 120
    assert host.readings == 3


@pytest.mark.parametrize("garbage", [b"", b"-5", b"12a", b"9" * 40])
def test_a_garbled_report_is_measured_every_time(clock: Clock, garbage: bytes) -> None:
    host = Host(40)
    reported = peak(host)
    assert [reported.mb(garbage) for _ in range(2)] == [40, 40]
    assert host.readings == 2


def test_a_report_below_the_hosts_measurement_does_not_lower_it(clock: Clock) -> None:
    host = Host(300)
    reported = peak(host)
    assert reported.mb(b"1") == 300
    assert reported.mb(b"1") == 300 and host.readings == 1
