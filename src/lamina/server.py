"""Process assembly: build every service from the settings, wire them to the front door,
and run the HTTP server until SIGTERM."""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path
from typing import Any

import uvloop
from botocore.loaders import Loader
from botocore.model import ServiceModel

from lamina import __version__
from lamina.api.app import App
from lamina.api.http_server import ConnectionLimits, HttpServer
from lamina.api.internal import InternalRoutes
from lamina.api.invoke_route import InvokeRoute
from lamina.api.json_protocol import JsonProtocolAdapter
from lamina.api.lambda_operations import lambda_operations
from lamina.api.lambda_rest import RestJsonAdapter
from lamina.api.logs_operations import logs_operations
from lamina.api.sigv4 import Authenticator
from lamina.api.states_operations import states_operations
from lamina.config import Config
from lamina.control.aliases import AliasService
from lamina.control.code_urls import CodeUrlSigner
from lamina.control.concurrency import ConcurrencyService
from lamina.control.event_invoke_configs import EventInvokeConfigService
from lamina.control.functions import FunctionService
from lamina.control.layers import LayerService
from lamina.control.packages import CodeCache
from lamina.control.policies import PolicyService
from lamina.control.versions import VersionService
from lamina.credentials import SessionCredentials
from lamina.events.service import EventSourceMappingService
from lamina.invoke.async_dispatch import AsyncDispatcher
from lamina.invoke.async_history import AsyncHistory
from lamina.invoke.async_queue import AsyncQueue
from lamina.invoke.async_status import async_status
from lamina.invoke.destinations import Senders
from lamina.invoke.limits import ConcurrencyLimiter
from lamina.invoke.outbox import Outbox
from lamina.invoke.provisioned import ProvisionedConcurrency
from lamina.invoke.service import InvokeService
from lamina.invoke.specs import SpecBuilder
from lamina.observability.log_store import LogStore
from lamina.observability.logs_service import LogsService
from lamina.observability.loop_lag import LoopLagMonitor
from lamina.observability.metrics import Metrics
from lamina.sandbox.pool import EnvironmentPool
from lamina.sandbox.runtimes.detect import detect_runtimes
from lamina.states.service.stepfunctions import StepFunctions
from lamina.store.blobs import BlobStore
from lamina.store.group_commit import GroupCommitter
from lamina.store.state import StateStore

log = logging.getLogger("lamina")


def load_service_model(name: str) -> ServiceModel:
    return ServiceModel(Loader().load_service_model(name, "service-2"), service_name=name)


def _server_secret(data_dir: Path) -> bytes:
    """A per-installation secret (signs code download URLs); kept across restarts."""
    path = data_dir / "secret"
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(secrets.token_bytes(32))
    return path.read_bytes()


class Lamina:
    """Every service of one lamina process."""

    def __init__(self, config: Config) -> None:
        self.config = config
        data_dir = config.data_dir
        data_dir.mkdir(parents=True, exist_ok=True)
        self.store = StateStore(data_dir / "lamina.db")
        self.blobs = BlobStore(data_dir / "blobs")
        self.code = CodeCache(data_dir / "code", self.blobs)
        self.runtimes = detect_runtimes()
        secret = _server_secret(data_dir)
        code_urls = CodeUrlSigner(secret)
        self.sessions = SessionCredentials(secret)
        self.layers = LayerService(self.store, self.blobs, code_urls)
        self.functions = FunctionService(config, self.store, self.blobs, self.code, self.runtimes, code_urls,
                                         self.layers)
        self.concurrency = ConcurrencyService(config, self.functions)
        self.logs = LogStore(self.store)
        self.pool = EnvironmentPool.from_config(config, runtimes=self.runtimes)
        limiter = ConcurrencyLimiter(config.concurrency_limit, self.concurrency.reserved_total)
        self.concurrency.listeners.append(limiter.reservations_changed)
        self.functions.listeners.append(limiter.reservations_changed)
        self.metrics = Metrics(self.store)
        self.loop_lag = LoopLagMonitor()
        specs = SpecBuilder(self.code, self.sessions, platform_environment(config))
        self.invoke = InvokeService(self.functions, self.pool, specs, self.logs, limiter, self.metrics)
        self.provisioned = ProvisionedConcurrency(self.functions, self.concurrency, self.pool, specs)
        self.invoke.provisioned = self.provisioned
        self.commits = GroupCommitter(self.store)
        self.async_history = AsyncHistory(self.store)
        self.async_queue = AsyncQueue(self.store, self.commits)
        self.outbox = Outbox(self.store, self.commits, Senders(self._invoke_destination), self.metrics,
                             self.async_history)
        self.dispatcher = AsyncDispatcher(self.async_queue, self.outbox, self.async_history, self.metrics,
                                          self.functions, self.invoke, config.async_retry_base_seconds)
        self.invoke.async_events = self.dispatcher
        self.states = StepFunctions(self.store, self.commits, self.invoke, config.states_activity_poll_seconds)
        self.event_source_mappings = EventSourceMappingService(config, self.store, self.commits, self.functions,
                                                               self.invoke, self.metrics, self.outbox)
        lambda_model = load_service_model("lambda")
        operations = lambda_operations(
            self.functions, self.invoke, VersionService(self.functions), AliasService(self.functions), self.layers,
            PolicyService(self.functions), self.concurrency, EventInvokeConfigService(self.functions),
            self.event_source_mappings)
        rest = RestJsonAdapter(lambda_model, operations)
        json_services = {
            "Logs_20140328": JsonProtocolAdapter(load_service_model("logs"), logs_operations(LogsService(self.logs))),
            "AWSStepFunctions": JsonProtocolAdapter(load_service_model("stepfunctions"),
                                                    states_operations(self.states)),
        }
        authenticator = Authenticator(config, self.sessions)
        internal = InternalRoutes(self.health, self.blobs, code_urls, self.reset if config.dev else None,
                                  authenticator, {"/_lamina/async": self.async_status,
                                                  "/_lamina/metrics": self.metrics_view})
        self.app = App(authenticator, rest, internal, json_services,
                       InvokeRoute(lambda_model.operation_model("Invoke"), operations["Invoke"]))

    async def start(self) -> None:
        await self.loop_lag.start()
        await self.store.open()
        await self.commits.start()
        await self.layers.start()
        await self.functions.start()
        await self.logs.start()
        await self.metrics.start()
        await self.pool.start()
        for function in self.functions.functions.values():
            if function.latest.live is not None:
                self.invoke.prepare(function, function.latest.live)
        await self.provisioned.start()
        await self.outbox.start()
        await self.dispatcher.start()
        await self.states.start()
        await self.event_source_mappings.start()
        log.info("lamina %s ready on %s:%d (data in %s; runtimes: %s)", __version__, self.config.host,
                 self.config.port, self.config.data_dir, ", ".join(self.functions.offered_runtimes))

    async def close(self) -> None:
        """Stop the services in the reverse order of their dependencies."""
        for name, service in (("step functions", self.states), ("event source mappings", self.event_source_mappings),
                              ("async dispatch", self.dispatcher), ("outbox", self.outbox),
                              ("provisioned concurrency", self.provisioned), ("environments", self.pool),
                              ("functions", self.functions), ("logs", self.logs), ("metrics", self.metrics),
                              ("commits", self.commits), ("store", self.store), ("loop lag", self.loop_lag)):
            log.debug("stopping %s", name)
            await service.close()
        log.info("lamina stopped")

    async def reset(self) -> None:
        """Development reset: every account starts empty again."""
        await self.states.reset()
        await self.event_source_mappings.reset()
        await self.functions.reset()
        self.layers.reset()
        self.dispatcher.wipe()
        self.outbox.wipe()
        self.metrics.wipe()
        await self.logs.wipe()
        await self.store.wipe()

    async def _invoke_destination(self, account_id: str, region: str, name: str, qualifier: str | None,
                                  payload: bytes) -> None:
        """A Lambda function as a destination gets the record as an asynchronous event."""
        await self.dispatcher.accept_internal(account_id, region, name, qualifier, payload)

    async def async_status(self, account_id: str, region: str, function: str | None) -> dict[str, Any]:
        return await async_status(self.async_queue, self.outbox, self.async_history, self.metrics, account_id,
                                  region, function)

    async def metrics_view(self, account_id: str, region: str, function: str | None) -> dict[str, Any]:
        return {"functions": self.metrics.snapshot(account_id, region, function),
                "loop_lag_ms": self.loop_lag.summary()}

    def health(self) -> dict[str, Any]:
        return {"status": "ok", "version": __version__, "runtimes": self.functions.offered_runtimes,
                "sandbox": self.pool.mode, "loop_lag_ms": self.loop_lag.summary(),
                "logs": {"buffered_bytes": self.logs.buffered_bytes, "dropped_events": self.logs.dropped_events}}


def platform_environment(config: Config) -> dict[str, str]:
    """What every function's environment gets so SDK calls from inside reach the right
    place: lamina itself for the services it serves, the operator's endpoints for the rest."""
    host = "127.0.0.1" if config.host in ("0.0.0.0", "::", "") else config.host
    own = f"http://{host}:{config.port}"
    return {**config.aws_endpoints, "AWS_ENDPOINT_URL_LAMBDA": own, "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS": own,
            "AWS_ENDPOINT_URL_SFN": own}


def serve(config: Config) -> None:
    logging.basicConfig(level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The AWS SDK's debug output holds canonical requests and signatures: never at lamina's debug level.
    for quiet in ("botocore", "boto3", "urllib3", "aiobotocore", "s3transfer"):
        logging.getLogger(quiet).setLevel(max(logging.INFO, logging.getLogger().level))
    lamina = Lamina(config)
    limits = ConnectionLimits(header_timeout_s=config.http_header_timeout_seconds,
                              body_timeout_s=config.http_body_timeout_seconds,
                              keep_alive_s=config.http_keep_alive_seconds,
                              max_per_client=config.http_max_connections_per_client)
    server = HttpServer(lamina.app, admission=lamina.app, limits=limits)
    uvloop.run(server.serve(config.host, config.port, on_startup=lamina.start, on_shutdown=lamina.close))
