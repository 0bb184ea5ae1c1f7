"""Provisioned concurrency: environments kept initialised for a version (or the version an
alias points to), used first by its invocations; traffic beyond them spills over to
on-demand environments. Allocation follows every change of the configs, of the versions
they point to, and of aliases being moved."""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from lamina.control.concurrency import ConcurrencyService
from lamina.control.function_model import Function
from lamina.control.functions import FunctionService
from lamina.sandbox.spec import EnvironmentSpec

if TYPE_CHECKING:
    from lamina.invoke.specs import SpecBuilder

log = logging.getLogger("lamina.invoke")


class ProvisioningPool(Protocol):
    async def provision(self, spec: EnvironmentSpec, count: int) -> tuple[int, str | None]: ...

    async def unprovision(self, key: str) -> None: ...


@dataclass
class Allocation:
    spec: EnvironmentSpec
    allocated: int = 0
    in_use: int = 0


class ProvisionedConcurrency:
    def __init__(self, functions: FunctionService, concurrency: ConcurrencyService, pool: ProvisioningPool,
                 specs: SpecBuilder) -> None:
        self.functions = functions
        self.concurrency = concurrency
        self.pool = pool
        self.specs = specs
        self._active: dict[tuple[tuple[str, str, str], str], Allocation] = {}  # (function, version) -> envs
        self._reconciling: dict[tuple[str, str, str], asyncio.Task] = {}
        self._again: set[tuple[str, str, str]] = set()
        concurrency.listeners.append(self.changed)
        functions.listeners.append(lambda function, _: self.changed(function))

    async def start(self) -> None:
        for function in list(self.functions.functions.values()):
            if function.provisioned:
                self.changed(function)

    async def close(self) -> None:
        tasks = list(self._reconciling.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------ the invoke path (O(1))

    def take(self, function: Function, version_key: str) -> Allocation | None:
        allocation = self._active.get((function.key, version_key))
        if allocation is None or allocation.in_use >= allocation.allocated:
            return None  # none configured, or all busy: spill over to on-demand
        allocation.in_use += 1
        return allocation

    def give_back(self, allocation: Allocation) -> None:
        allocation.in_use -= 1

    # ------------------------------------------------------------ allocation

    def changed(self, function: Function) -> None:
        """Reconcile one function in the background, one reconciliation at a time."""
        if not function.provisioned and not any(key == function.key for key, _ in self._active):
            return
        if function.key in self._reconciling:
            self._again.add(function.key)
            return
        task = asyncio.get_running_loop().create_task(self._reconcile(function))
        self._reconciling[function.key] = task
        task.add_done_callback(lambda _: self._done(function))

    def _done(self, function: Function) -> None:
        self._reconciling.pop(function.key, None)
        if function.key in self._again:
            self._again.discard(function.key)
            self.changed(self.functions.functions.get(function.key, function))

    async def _reconcile(self, function: Function) -> None:
        current = self.functions.functions.get(function.key) is function
        wanted: dict[str, tuple[str, EnvironmentSpec | None]] = {}
        for qualifier in list(function.provisioned) if current else []:
            version_key = self.concurrency.version_of(function, qualifier)
            version = function.versions.get(version_key)
            spec = None
            if version is not None and version.live is not None:
                spec = self.specs.spec_for(function, version_key, version.live, provisioned=True)
            wanted[version_key] = (qualifier, spec)
        for (key, version_key), allocation in list(self._active.items()):
            if key != function.key:
                continue
            target = wanted.get(version_key)
            if target is None or target[1] is None or target[1].key != allocation.spec.key:
                del self._active[(key, version_key)]
                await self.pool.unprovision(allocation.spec.key)
        for version_key, (qualifier, spec) in wanted.items():
            config = function.provisioned.get(qualifier)
            if config is None:
                continue
            if spec is None:
                await self.concurrency.record_allocation(function, qualifier, config, "FAILED", 0,
                                                         f"Version {version_key} is not active.")
                continue
            allocation = self._active.setdefault((function.key, version_key), Allocation(spec))
            ready, reason = await self.pool.provision(spec, config.requested)
            allocation.allocated = ready
            status = "READY" if ready >= config.requested else "FAILED"
            if status == "FAILED":
                log.warning("provisioned concurrency of %s:%s: %d of %d ready: %s", function.name, qualifier, ready,
                            config.requested, reason)
            await self.concurrency.record_allocation(function, qualifier, config, status, ready, reason)
