"""boto3 clients for the AWS services lamina itself calls (destinations, event sources, code
in S3), configured the way the AWS SDKs are: AWS_ENDPOINT_URL_<SERVICE> / AWS_ENDPOINT_URL
and the usual credential chain. With no credentials at all, a placeholder key is used:
local endpoints (moto, LocalStack, self-hosted brokers' APIs) accept any key."""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config as BotoConfig


class SdkClients:
    def __init__(self, *, read_timeout: float, max_attempts: int = 3, max_pool_connections: int = 10) -> None:
        self._config = BotoConfig(retries={"max_attempts": max_attempts, "mode": "standard"}, connect_timeout=5,
                                  read_timeout=read_timeout, max_pool_connections=max_pool_connections)
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def client(self, service: str, region: str) -> Any:
        """One client per service and region, shared (boto3 clients are thread-safe)."""
        with self._lock:
            client = self._clients.get((service, region))
            if client is None:
                session = boto3.Session(region_name=region)
                if session.get_credentials() is None:
                    session = boto3.Session(region_name=region, aws_access_key_id="lamina",
                                            aws_secret_access_key="lamina")
                client = self._clients[(service, region)] = session.client(service, config=self._config)
            return client
