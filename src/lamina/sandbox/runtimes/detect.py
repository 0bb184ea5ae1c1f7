"""Which Lambda runtimes this machine can run.

Managed Python runtimes come from the Python interpreters installed here (one per minor
version), `nodejs<N>.x` from the Node.js present, and the OS-only runtimes
(`provided.al2023`, `provided.al2`) need nothing but the function's own `bootstrap`.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date
from pathlib import Path

PROVIDED = ("provided.al2023", "provided.al2")

# Runtimes AWS no longer lets you create functions with, and the date creation was blocked.
# (AWS Lambda runtime deprecation schedule; runtimes absent here are accepted for creation.)
CREATE_BLOCKED_ON: dict[str, date] = {
    "nodejs": date(2016, 10, 31), "nodejs4.3": date(2018, 12, 15), "nodejs4.3-edge": date(2018, 12, 15),
    "nodejs6.10": date(2019, 4, 30), "nodejs8.10": date(2020, 1, 6), "nodejs10.x": date(2021, 7, 30),
    "nodejs12.x": date(2023, 3, 31), "nodejs14.x": date(2023, 12, 4), "nodejs16.x": date(2024, 6, 12),
    "python2.7": date(2021, 7, 15), "python3.6": date(2022, 7, 18), "python3.7": date(2023, 12, 4),
    "python3.8": date(2024, 10, 14), "dotnetcore1.0": date(2019, 7, 30), "dotnetcore2.0": date(2019, 5, 30),
    "dotnetcore2.1": date(2021, 12, 20), "dotnetcore3.1": date(2023, 3, 31), "dotnet6": date(2025, 1, 20),
    "ruby2.5": date(2021, 7, 30), "ruby2.7": date(2023, 12, 7), "go1.x": date(2024, 1, 8),
    "java8": date(2024, 1, 8), "provided": date(2024, 1, 8),
}


def blocked_for_create(runtime: str, today: date | None = None) -> bool:
    blocked = CREATE_BLOCKED_ON.get(runtime)
    return blocked is not None and (today or date.today()) >= blocked


@dataclass(frozen=True)
class RuntimeInstall:
    """One runtime lamina can run: `executable` is the interpreter (None for provided.*)
    and `prefix` the installation directory it needs visible inside the sandbox."""

    runtime: str
    family: str  # "python" | "nodejs" | "provided"
    version: str = ""
    executable: Path | None = None
    prefix: Path | None = None


_PY_PROBE = "import sys;print(sys.executable);print(sys.base_prefix);print('%d.%d.%d'%sys.version_info[:3])"


def _probe_python(candidate: str) -> RuntimeInstall | None:
    try:
        out = subprocess.run([candidate, "-I", "-S", "-c", _PY_PROBE], capture_output=True, text=True,
                             timeout=10, check=True).stdout.split("\n")
    except (OSError, subprocess.SubprocessError):
        return None
    executable, prefix, version = Path(out[0]).resolve(), Path(out[1]), out[2]
    major, minor, _ = version.split(".")
    return RuntimeInstall(f"python{major}.{minor}", "python", version, executable, prefix)


def _python_candidates() -> list[str]:
    """Interpreters named python3.N: system locations first, then PATH, then pyenv's
    versions (pyenv's shims are skipped: they are slow scripts in front of those)."""
    patterns = ["/usr/bin/python3.*", "/usr/local/bin/python3.*"]
    patterns += [os.path.join(d, "python3.*") for d in os.environ.get("PATH", "").split(os.pathsep) if d]
    patterns.append(os.path.expanduser("~/.pyenv/versions/*/bin/python3.*"))
    found: dict[str, str] = {}
    for pattern in patterns:
        for path in sorted(glob.glob(pattern)):
            real = os.path.realpath(path)
            if (re.fullmatch(r"python3\.\d+", os.path.basename(path)) and os.access(path, os.X_OK)
                    and "/shims/" not in real):
                found.setdefault(real, path)
    return list(found.values())


def _probe_node() -> RuntimeInstall | None:
    node = shutil.which("node") or shutil.which("nodejs")
    if not node:
        return None
    try:
        version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10,
                                 check=True).stdout.strip().lstrip("v")
    except (OSError, subprocess.SubprocessError):
        return None
    executable = Path(node).resolve()
    return RuntimeInstall(f"nodejs{version.split('.')[0]}.x", "nodejs", version, executable,
                          executable.parent.parent)


def detect_runtimes() -> dict[str, RuntimeInstall]:
    """Probe the machine; the first interpreter found for a runtime id wins."""
    runtimes: dict[str, RuntimeInstall] = {}
    with ThreadPoolExecutor(max_workers=8) as pool:
        probes = list(pool.map(_probe_python, _python_candidates()))
        node = pool.submit(_probe_node).result()
    for found in [*probes, node]:
        if found is not None:
            runtimes.setdefault(found.runtime, found)
    for runtime in PROVIDED:
        runtimes[runtime] = RuntimeInstall(runtime, "provided")
    return dict(sorted(runtimes.items()))
