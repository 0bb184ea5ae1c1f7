"""Shared test helpers: deployment packages and a real lamina server process."""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import boto3
import requests
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config as BotoConfig
from botocore.credentials import Credentials

REPO = Path(__file__).resolve().parent.parent
ROLE = "arn:aws:iam::000000000000:role/lambda-role"


def make_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if name in executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, content)
    return buffer.getvalue()


PYTHON_HELLO = make_zip({"app.py": "def handler(event, context):\n    return {'hello': event}\n"})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LaminaServer:
    """A `lamina serve` child process on a free port."""

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, dev: bool = True,
                 port: int | None = None) -> None:
        self.data_dir = data_dir
        self.port = port or free_port()
        self.env = env or {}
        self.dev = dev
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"lamina-{self.port}.log"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60) -> LaminaServer:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        env.update(self.env)
        args = [sys.executable, "-m", "lamina", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.dev:
            args.append("--dev")
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen(args, env=env, stdout=self._log, stderr=subprocess.STDOUT, cwd=self.data_dir.parent)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"lamina exited with {self.process.returncode}:\n{self.log_path.read_text()}")
            try:
                if requests.get(f"{self.endpoint}/_lamina/health", timeout=1).status_code == 200:
                    return self
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"lamina did not become healthy:\n{self.log_path.read_text()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int:
        assert self.process is not None
        if self.process.poll() is None:
            self.process.send_signal(sig)
        code = self.process.wait(timeout)
        self._log.close()
        return code

    @property
    def access_key(self) -> tuple[str, str]:
        """(key id, secret) of the first configured access key; without keys any key is accepted."""
        configured = self.env.get("LAMINA_ACCESS_KEYS", "")
        if not configured:
            return "000000000000", "secret"
        key_id, secret, _account = configured.split(",")[0].split(":")
        return key_id, secret

    def reset(self) -> None:
        """The development reset, SigV4-signed by the server's own key (it needs one when keys are set)."""
        self.signed_post("/_lamina/reset", *self.access_key).raise_for_status()

    def signed_post(self, path: str, key_id: str, secret: str, body: bytes = b"",
                    token: str | None = None) -> requests.Response:
        request = AWSRequest(method="POST", url=f"{self.endpoint}{path}", data=body)
        SigV4Auth(Credentials(key_id, secret, token), "lambda", "us-east-1").add_auth(request)
        return requests.post(request.url, data=body, headers=dict(request.headers), timeout=30)

    def client(self, service: str = "lambda", account: str = "000000000000", region: str = "us-east-1",
               secret: str = "secret", retries: int = 0, validate: bool = True):
        """A boto3 client for this server; `validate=False` turns off boto3's own parameter
        checks so requests reach lamina's validation."""
        return boto3.client(service, endpoint_url=self.endpoint, region_name=region,
                            aws_access_key_id=account, aws_secret_access_key=secret,
                            config=BotoConfig(retries={"max_attempts": retries, "mode": "standard"},
                                              read_timeout=120, parameter_validation=validate))

    def cli(self, *args: str, account: str = "000000000000", region: str = "us-east-1",
            check: bool = True) -> subprocess.CompletedProcess:
        env = dict(os.environ, AWS_ACCESS_KEY_ID=account, AWS_SECRET_ACCESS_KEY="secret",
                   AWS_DEFAULT_REGION=region, AWS_PAGER="")
        aws = Path(sys.executable).parent / "aws"
        return subprocess.run([str(aws), *args, "--endpoint-url", self.endpoint, "--output", "json"],
                              env=env, capture_output=True, text=True, check=check, timeout=120)


def create_python_function(client, name: str = "hello", zip_bytes: bytes = PYTHON_HELLO, wait: bool = True,
                           **extra) -> dict:
    params = {"FunctionName": name, "Runtime": "python3.11", "Role": ROLE, "Handler": "app.handler",
              "Code": {"ZipFile": zip_bytes}, **extra}
    created = client.create_function(**params)
    if wait:
        client.get_waiter("function_active_v2").wait(FunctionName=name, WaiterConfig={"Delay": 0.1, "MaxAttempts": 300})
    return created


AGENT_MARK = "from agent.agent import main"  # in the command line of every sandbox agent


def sandbox_processes_under(directory: Path) -> list[str]:
    """Sandbox processes (bubblewrap, lamina's agent) still running for pools whose data is
    under `directory`: their command line or working directory names it. Processes of other
    test sessions on the machine have their own directories and are never counted."""
    prefix = str(directory).rstrip("/") + "/"
    ours = set()
    pid = os.getpid()
    while pid > 1:  # this process and its ancestors name the directory too (--basetemp)
        ours.add(pid)
        try:
            pid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            break
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) in ours:
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
            cwd = os.readlink(entry / "cwd")
            parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[1]
        except OSError:
            continue  # exited meanwhile, or a kernel thread
        command = b" ".join(argv).decode(errors="replace")
        if not (os.path.basename(argv[0]) == b"bwrap" or AGENT_MARK in command):
            continue
        if prefix in command or (cwd + "/").startswith(prefix):
            binds = [part for part in command.split() if part.startswith(prefix)]
            found.append(f"{entry.name} (parent {parent}, cwd {cwd}): {command[:120]} ... {' '.join(binds[:6])}")
    return found
