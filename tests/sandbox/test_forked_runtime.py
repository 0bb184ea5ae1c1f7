"""In a sandbox, lamina's Python runtime is a fork of the agent (no second interpreter start):
a function must not be able to tell it from a runtime started on its own, which is what a
function with a PYTHON* variable gets."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import pytest

from lamina.sandbox.isolation import agent_command

from .conftest import NEWEST_PYTHON, PYTHONS, Harness, body, log_text, requires_bwrap

pytestmark = requires_bwrap

FINGERPRINT = """
    import builtins, os, resource, signal, sys
    import __main__

    def _signals():
        found = {}
        for number in range(1, signal.NSIG):
            try:
                handler = signal.getsignal(number)
            except ValueError:
                continue
            found[number] = handler if isinstance(handler, int) else getattr(handler, "__name__", repr(handler))
        return found

    def _status():
        fields = {}
        with open("/proc/self/status") as status:
            for line in status:
                key, _, value = line.partition(":")
                if key in ("Uid", "Gid", "Groups", "CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb", "NoNewPrivs",
                           "Seccomp", "SigIgn", "SigBlk"):
                    fields[key] = value.split()
        return fields

    def handler(event, context):
        umask = os.umask(0o22)
        os.umask(umask)
        return {
            "argv": sys.argv, "main": getattr(__main__, "__file__", None), "flags": list(sys.flags),
            "path": sys.path, "signals": _signals(), "status": _status(), "umask": umask,
            "builtins": sorted(name for name in ("exit", "quit", "help", "copyright", "license", "credits")
                               if hasattr(builtins, name)),
            "fds": len(os.listdir("/proc/self/fd")),  # how many: their numbers may differ
            "oom": open("/proc/self/oom_score_adj").read(),
            "parent": os.getppid(), "session": os.getsid(0) == os.getpid(), "cwd": os.getcwd(),
            "stdout": [sys.stdout.encoding, sys.stdout.errors, sys.stdout.line_buffering, sys.stdout.isatty()],
            "nofile": resource.getrlimit(resource.RLIMIT_NOFILE), "bytecode": sys.dont_write_bytecode,
            "agent": [name for name in sys.modules if name == "agent" or name.startswith("agent.")],
        }
"""


@pytest.mark.parametrize("runtime", PYTHONS)
def test_a_forked_runtime_looks_like_one_started_on_its_own(sandbox: Harness, runtime: str) -> None:
    forked = sandbox.function({"app.py": FINGERPRINT}, runtime=runtime)
    started = sandbox.function({"app.py": FINGERPRINT}, runtime=runtime, environment={"PYTHON_LAMINA_TEST": "1"})
    seen_forked, seen_started = body(sandbox.invoke(forked)), body(sandbox.invoke(started))
    assert seen_forked["argv"] == ["/var/runtime/bootstrap.py"]
    assert seen_forked["main"] == "/var/runtime/bootstrap.py"
    assert seen_forked["agent"] == []
    assert seen_forked["oom"] == "0\n"
    assert seen_forked["parent"] == 1  # the agent, as PID 1 of the sandbox
    assert seen_forked["status"]["CapEff"] == ["0000000000000000"]
    assert seen_forked["status"]["NoNewPrivs"] == ["1"]
    assert seen_forked == seen_started


def test_a_bundled_package_named_like_the_agent_is_the_functions(sandbox: Harness) -> None:
    spec = sandbox.function({
        "agent/__init__.py": "WHOSE = 'the function'\n",
        "app.py": "import agent\ndef handler(event, context):\n    return [agent.WHOSE, agent.__file__]\n",
    })
    assert body(sandbox.invoke(spec)) == ["the function", "/var/task/agent/__init__.py"]


def test_exit_during_init_runs_atexit_callbacks_and_reports_the_status(sandbox: Harness) -> None:
    spec = sandbox.function({"app.py": """
        import atexit, sys
        atexit.register(print, "atexit ran")
        sys.exit(3)
    """})
    result = sandbox.invoke(spec)
    assert result.error_type == "Runtime.ExitError"
    assert body(result)["errorMessage"].endswith("Runtime exited with error: exit status 3")
    assert "atexit ran" in log_text(result)


def test_every_spare_gets_ready_though_its_runtime_is_ready_as_soon_as_its_agent(
        fresh_sandbox: object, caplog: pytest.LogCaptureFixture) -> None:
    # A forked runtime says it is waiting at once, often in the same read as the agent's
    # READY: neither may count as a frame out of turn.
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=1)  # type: ignore[operator]
    with caplog.at_level(logging.WARNING, logger="lamina.sandbox"):
        for index in range(20):
            harness.run(harness.pool.prewarm(NEWEST_PYTHON))
            spec = harness.function({"app.py": f"def handler(event, context):\n    return {index}\n"})
            result = harness.invoke(spec)
            assert body(result) == index
            harness.run(harness.pool.retire(spec.key))
    assert [record.getMessage() for record in caplog.records] == []


def test_an_interpreter_that_cannot_run_the_agent_keeps_the_agent_on_laminas(tmp_path: Path) -> None:
    # e.g. a Python built without libffi, which has no ctypes
    broken = tmp_path / "python3.12"
    broken.write_text("#!/bin/sh\necho 'ModuleNotFoundError: No module named _ctypes' >&2\nexit 1\n")
    broken.chmod(0o755)
    assert not agent_command.runs_the_agent(broken)
    assert agent_command.runs_the_agent(Path(sys.executable))


def test_without_ctypes_a_python_runtime_starts_and_is_not_forked(
        fresh_sandbox: object, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(agent_command, "runs_the_agent", lambda python: False)
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=1)  # type: ignore[operator]
    host = harness.pool.host
    assert host is not None and host.agent_runtimes == frozenset()
    runtime = harness.pool.runtimes[NEWEST_PYTHON]
    assert not host.forks_runtime(runtime) and host.agent_for(runtime) is host.agent
    spec = harness.function({"app.py": FINGERPRINT})
    seen = body(harness.invoke(spec))
    assert seen["argv"] == ["/var/runtime/bootstrap.py"] and seen["agent"] == []
