"""Settings: defaults that run on a laptop, overridden by `lamina.toml`, then by `LAMINA_*`
environment variables, then by command-line flags.

Every setting is declared once in `SETTINGS`; its environment variable is `LAMINA_<NAME>` and
its key in `lamina.toml` is `<name>`. `lamina settings` prints the table (the README lists it).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class AccessKey:
    access_key_id: str
    secret_access_key: str
    account_id: str


@dataclass(frozen=True)
class Setting:
    name: str
    default: Any
    kind: type
    help: str

    @property
    def env_var(self) -> str:
        return "LAMINA_" + self.name.upper()


SETTINGS: tuple[Setting, ...] = (
    Setting("host", "127.0.0.1", str, "Address the API listens on."),
    Setting("port", 9600, int, "Port the API listens on."),
    Setting("data_dir", "~/.lamina", str, "Directory for the SQLite state, code blobs and environments."),
    Setting("default_account", "000000000000", str,
            "Account used when the access key id is not a 12-digit number (or no key is sent)."),
    Setting("default_region", "us-east-1", str, "Region used when a request carries no credential scope."),
    Setting("access_keys", "", str,
            "Comma-separated `key:secret:account` triples. When set, every request must carry a valid "
            "SigV4 signature by one of these keys; when empty, any key is accepted."),
    Setting("dev", False, bool, "Development mode: exposes `POST /_lamina/reset`, which wipes all state."),
    Setting("max_timeout", 900, int, "Largest function `Timeout` accepted, in seconds (AWS allows up to 900)."),
    Setting("concurrency_limit", 1000, int, "Concurrent executions allowed per account and region."),
    Setting("async_retry_base_seconds", 60.0, float,
            "Spacing of asynchronous retries after function errors: retry n waits about n times this "
            "(AWS: about 1 minute, then 2)."),
    Setting("states_activity_poll_seconds", 60.0, float,
            "How long GetActivityTask holds a poll open before answering with no task (AWS: 60)."),
    Setting("idle_environment_seconds", 600, int, "Idle execution environments are reaped after this long."),
    Setting("max_environments", 0, int,
            "Most execution environments alive at once on this host; beyond them, and while memory or threads "
            "run short, invocations that need a new one get 429 `TooManyRequestsException`. 0: one per 64 MB "
            "of memory above the host's reserve (a tenth, at least 512 MB), at most one per 16 threads the "
            "kernel allows."),
    Setting("sandbox", "auto", str,
            "Isolation mode: `bwrap` (namespaces + cgroups), `process` (no isolation, warns at start) "
            "or `auto` (bwrap where it works)."),
    Setting("sandbox_uid", 64000, int, "Unprivileged uid (and gid) functions run as under bwrap."),
    Setting("log_level", "info", str, "Log level of the lamina server itself."),
    Setting("esm_transition_seconds", 0.5, float,
            "Least time an event source mapping spends in a transitional state (`Creating`, `Updating`, "
            "`Enabling`, `Disabling`, `Deleting`) before it settles, so clients can observe it as on AWS."),
    Setting("mq_broker_urls", "", str,
            "Comma-separated `broker-arn=amqp://host:port` pairs: the AMQP endpoint of a self-hosted RabbitMQ "
            "for an Amazon MQ broker ARN used as an event source. Other broker ARNs are resolved through the "
            "Amazon MQ API (DescribeBroker); credentials always come from the mapping's BASIC_AUTH secret in "
            "Secrets Manager."),
    Setting("http_header_timeout_seconds", 20.0, float,
            "A request head must arrive within this long of its first byte (of the connection's start, for "
            "its first request); else the client gets 408 and the connection is closed."),
    Setting("http_body_timeout_seconds", 20.0, float,
            "A request body that sends nothing for this long gets 408 and the connection is closed."),
    Setting("http_keep_alive_seconds", 75.0, float,
            "Idle keep-alive connections are closed after this long (longer than SDKs keep idle connections)."),
    Setting("http_max_connections_per_client", 2048, int,
            "Open connections allowed per client address; more are answered `429 TooManyRequestsException` "
            "(with `Retry-After`, which SDKs retry) and closed."),
)

_BY_NAME = {s.name: s for s in SETTINGS}


@dataclass(frozen=True)
class Config:
    host: str = "127.0.0.1"
    port: int = 9600
    data_dir: Path = Path("~/.lamina").expanduser()
    default_account: str = "000000000000"
    default_region: str = "us-east-1"
    access_keys: tuple[AccessKey, ...] = ()
    dev: bool = False
    max_timeout: int = 900
    concurrency_limit: int = 1000
    async_retry_base_seconds: float = 60.0
    states_activity_poll_seconds: float = 60.0
    idle_environment_seconds: int = 600
    max_environments: int = 0
    sandbox: str = "auto"
    sandbox_uid: int = 64000
    log_level: str = "info"
    esm_transition_seconds: float = 0.5
    mq_broker_urls: str = ""
    http_header_timeout_seconds: float = 20.0
    http_body_timeout_seconds: float = 20.0
    http_keep_alive_seconds: float = 75.0
    http_max_connections_per_client: int = 2048
    # Operator-provided AWS endpoint settings (AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_<SERVICE>),
    # passed on to functions so SDK calls from inside them reach the same places.
    aws_endpoints: dict[str, str] = field(default_factory=dict)

    @property
    def keys_by_id(self) -> dict[str, AccessKey]:
        return {k.access_key_id: k for k in self.access_keys}


def _coerce(setting: Setting, value: Any) -> Any:
    if setting.kind is bool:
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in ("1", "true", "yes", "on")
    if setting.kind is int:
        return int(value)
    if setting.kind is float:
        return float(value)
    return str(value)


def parse_access_keys(value: str | list | None) -> tuple[AccessKey, ...]:
    if not value:
        return ()
    items = value if isinstance(value, list) else [v for v in str(value).split(",") if v.strip()]
    keys = []
    for item in items:
        if isinstance(item, dict):
            keys.append(AccessKey(item["access_key_id"], item["secret_access_key"], str(item["account_id"])))
            continue
        parts = str(item).strip().split(":")
        if len(parts) != 3 or not all(parts):
            raise ValueError(f"access key {item!r} is not of the form key:secret:account")
        keys.append(AccessKey(parts[0], parts[1], parts[2]))
    return tuple(keys)


def load_config(overrides: dict[str, Any] | None = None, config_file: str | None = None,
                environ: dict[str, str] | None = None) -> Config:
    environ = dict(os.environ if environ is None else environ)
    values: dict[str, Any] = {s.name: s.default for s in SETTINGS}

    path = config_file or environ.get("LAMINA_CONFIG")
    if path is None and Path("lamina.toml").is_file():
        path = "lamina.toml"
    if path:
        with open(path, "rb") as f:
            table = tomllib.load(f)
        for key, value in table.items():
            if key not in _BY_NAME:
                raise ValueError(f"{path}: unknown setting {key!r}")
            values[key] = value if key == "access_keys" else _coerce(_BY_NAME[key], value)

    for setting in SETTINGS:
        if setting.env_var in environ:
            values[setting.name] = _coerce(setting, environ[setting.env_var])
    for key, value in (overrides or {}).items():
        if value is not None:
            values[key] = _coerce(_BY_NAME[key], value)

    values["data_dir"] = Path(os.path.expanduser(values["data_dir"])).resolve()
    values["access_keys"] = parse_access_keys(values["access_keys"])
    if values["sandbox"] not in ("auto", "bwrap", "process"):
        raise ValueError(f"sandbox must be auto, bwrap or process, not {values['sandbox']!r}")
    endpoints = {k: v for k, v in environ.items() if k == "AWS_ENDPOINT_URL" or k.startswith("AWS_ENDPOINT_URL_")}
    known = {f.name for f in dataclasses.fields(Config)}
    return Config(**{k: v for k, v in values.items() if k in known}, aws_endpoints=endpoints)
