"""AWS API clients for the pollers: boto3, configured the way the AWS SDKs are
(AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL and the usual credential chain).

boto3 blocks, so every call runs on a thread pool of the pollers' own: SQS long polls hold
a thread for up to 20 s each, and must not starve the loop's default executor (which
the rest of lamina uses for file work).
"""

from __future__ import annotations

import asyncio
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any

from lamina.sdk_clients import SdkClients

# Threads for blocking AWS calls; also the size of each client's connection pool.
POLLER_THREADS = 96


class DaemonThreadPool(Executor):
    """A thread pool whose threads never hold up the process's exit: a 20 s long poll in
    flight at shutdown is abandoned (its messages come back after their visibility
    timeout), where ThreadPoolExecutor would join it."""

    def __init__(self, max_workers: int, name: str) -> None:
        self._max_workers = max_workers
        self._name = name
        self._work: queue.SimpleQueue = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        self._lock = threading.Lock()
        self._closed = False

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future:
        if self._closed:
            raise RuntimeError("the pool is shut down")
        future: Future = Future()
        self._work.put((future, fn, args, kwargs))
        with self._lock:
            if self._idle == 0 and len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._serve, name=f"{self._name}-{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            else:
                self._idle -= 1  # that idle thread takes this job
        return future

    def _serve(self) -> None:
        while True:
            item = self._work.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(fn(*args, **kwargs))
                except BaseException as error:
                    future.set_exception(error)
            with self._lock:
                self._idle += 1

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._closed = True
        for _ in self._threads:
            self._work.put(None)


class AwsClients:
    def __init__(self, threads: int = POLLER_THREADS) -> None:
        self.threads = threads
        self._executor = DaemonThreadPool(threads, "lamina-esm")
        self._clients = SdkClients(read_timeout=40, max_pool_connections=threads)

    def client(self, service: str, region: str) -> Any:
        return self._clients.client(service, region)

    def submit(self, fn: Callable[[], Any]) -> asyncio.Future:
        """Run a blocking function on the pollers' threads."""
        return asyncio.get_running_loop().run_in_executor(self._executor, fn)

    async def call(self, service: str, region: str, operation: str, **params: Any) -> Any:
        client = self.client(service, region)
        return await self.submit(lambda: getattr(client, operation)(**params))

    def close(self) -> None:
        # Long polls still running finish on their own; nobody waits for them.
        self._executor.shutdown(wait=False)
