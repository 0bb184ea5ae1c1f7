"""Cgroups left by a lamina server that died (kill -9): the next server removes them, and kills
what still runs in them, so that no sandbox outlives its server for long."""

from __future__ import annotations

import subprocess
import time

import pytest

from lamina.sandbox.cgroups import CgroupTree, CgroupUnavailable


def _dead_pid() -> int:
    gone = subprocess.Popen(["true"])
    gone.wait()
    return gone.pid


def test_a_new_tree_kills_and_removes_what_a_dead_server_left() -> None:
    try:
        first = CgroupTree.create()
    except CgroupUnavailable as error:
        pytest.skip(f"no cgroups here: {error}")
    orphan = subprocess.Popen(["sleep", "60"])
    stale = first.roots["memory"].parent / f"lamina-{_dead_pid()}-0badc0de"
    environment = stale / "env-orphan"
    try:
        environment.mkdir(parents=True)
        (environment / "cgroup.procs").write_text(str(orphan.pid))
        second = CgroupTree.create()
        try:
            assert orphan.wait(timeout=5) == -9
            assert not stale.exists()
        finally:
            second.close()
    finally:
        orphan.kill()
        orphan.wait()
        for leftover in (environment, stale):
            for _ in range(50):
                try:
                    leftover.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.05)
        first.close()
