"""serverless-offline as a benchmark peer: installed from npm into a cache outside the repo,
serving one python3.11 function on its Lambda invoke port."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from common import free_port, wait_for_port

# Outside the repo by default; bench/.peers/ is git-ignored for those who prefer it there.
CACHE = Path(os.environ.get("LAMINA_BENCH_PEERS", Path.home() / ".cache" / "lamina-bench" / "peers")).resolve()
PACKAGES = {"serverless": "3", "serverless-offline": "13"}
SERVICE, STAGE, FUNCTION = "peerbench", "dev", "echo"
NAME = f"{SERVICE}-{STAGE}-{FUNCTION}"

SERVERLESS_YML = f"""\
service: {SERVICE}
frameworkVersion: "3"
provider:
  name: aws
  runtime: python3.11
  region: us-east-1
  stage: {STAGE}
functions:
  {FUNCTION}:
    handler: app.handler
plugins:
  - serverless-offline
"""

# The framework must never prompt, phone home or print upgrade notices.
QUIET_ENV = {"SLS_TELEMETRY_DISABLED": "1", "SLS_TRACKING_DISABLED": "1", "SLS_NOTIFICATIONS_MODE": "off",
             "SLS_DEPRECATION_DISABLE": "*", "SLS_INTERACTIVE_SETUP_DISABLE": "1", "CI": "1",
             "NO_UPDATE_NOTIFIER": "1", "AWS_ACCESS_KEY_ID": "000000000000", "AWS_SECRET_ACCESS_KEY": "x"}


class PeerUnavailable(Exception):
    """Why the peer cannot run here; reported in the JSON instead of failing the benchmark."""


def installed_versions() -> dict[str, str] | None:
    versions = {}
    for package, major in PACKAGES.items():
        manifest = CACHE / "node_modules" / package / "package.json"
        if not manifest.exists():
            return None
        version = json.loads(manifest.read_text())["version"]
        if version.split(".")[0] != major:
            return None
        versions[package] = version
    return versions


def install(timeout: float = 900) -> dict[str, str]:
    """Install the pinned majors into CACHE once; later runs reuse them."""
    if not (shutil.which("node") and shutil.which("npm")):
        raise PeerUnavailable("node or npm not found on PATH")
    versions = installed_versions()
    if versions:
        return versions
    CACHE.mkdir(parents=True, exist_ok=True)
    manifest = {"name": "lamina-bench-peers", "version": "0.0.0", "private": True,
                "dependencies": {package: major for package, major in PACKAGES.items()}}
    (CACHE / "package.json").write_text(json.dumps(manifest, indent=2) + "\n")
    try:
        done = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"], cwd=CACHE,
                              env={**os.environ, **QUIET_ENV}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as error:
        raise PeerUnavailable(f"npm install timed out after {timeout:.0f} s") from error
    if done.returncode != 0:
        ping = subprocess.run(["npm", "ping"], env={**os.environ, **QUIET_ENV}, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=60)
        reason = "npm registry unreachable" if ping.returncode != 0 else "npm install failed"
        first_lines = " | ".join(line for line in done.stderr.splitlines() if line.strip())[:300]
        raise PeerUnavailable(f"{reason}: {first_lines}")
    versions = installed_versions()
    if not versions:
        raise PeerUnavailable("npm install finished but the packages are missing")
    return versions


class ServerlessOffline:
    """`serverless offline start` in a throwaway service directory, stopped with its whole
    process group (it keeps one python3 child per concurrent function instance)."""

    def __init__(self, handler_source: str, startup_timeout: float = 240) -> None:
        self.handler_source = handler_source
        self.port = free_port()
        self.startup_timeout = startup_timeout
        self.directory = Path(tempfile.mkdtemp(prefix="lamina-bench-sls-"))

    def __enter__(self) -> ServerlessOffline:
        (self.directory / "serverless.yml").write_text(SERVERLESS_YML)
        (self.directory / "app.py").write_text(self.handler_source)
        (self.directory / "node_modules").symlink_to(CACHE / "node_modules")
        env = {**os.environ, **QUIET_ENV}
        # serverless-offline puts $VIRTUAL_ENV/bin first on PATH; the peer gets the system python3.
        env.pop("VIRTUAL_ENV", None)
        self.log = open(self.directory / "offline.log", "wb")
        self.process = subprocess.Popen(
            ["node", str(CACHE / "node_modules" / "serverless" / "bin" / "serverless.js"), "offline", "start",
             "--host", "127.0.0.1", "--lambdaPort", str(self.port), "--httpPort", str(free_port()),
             "--websocketPort", str(free_port()), "--albPort", str(free_port()),
             "--noPrependStageInUrl", "--noTimeout",
             "--terminateIdleLambdaTime", "3600"],
            cwd=self.directory, env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__()
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise PeerUnavailable(f"serverless offline exited with {self.process.returncode}: {self.log_tail()}")
            try:
                wait_for_port(self.port, timeout=1)
                return
            except RuntimeError:
                continue
        raise PeerUnavailable(f"serverless offline not listening after {self.startup_timeout:.0f} s")

    def __exit__(self, *_: object) -> None:
        # The group also holds the python3 children, which may outlive node.
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(self.process.pid, sig)
            except ProcessLookupError:
                break
            try:
                self.process.wait(30)
                break
            except subprocess.TimeoutExpired:
                continue
        self.log.close()

    def log_tail(self) -> str:
        self.log.flush()
        return (self.directory / "offline.log").read_text(errors="replace")[-400:]

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"
