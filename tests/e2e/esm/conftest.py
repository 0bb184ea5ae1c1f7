"""Event source mapping tests: one SQS/Kinesis/DynamoDB/Secrets Manager endpoint (moto's
server) and one lamina pointed at it, shared by the package; each test resets lamina and
uses sources of its own."""

from __future__ import annotations

import pytest
from esm_helpers import BROKER_ARN, rabbitmq_url

from aws_endpoint import LocalAws
from helpers import LaminaServer

TRANSITION_SECONDS = 1.5


@pytest.fixture(scope="session")
def aws():
    endpoint = LocalAws().start()
    yield endpoint
    endpoint.stop()


def esm_environment(aws: LocalAws) -> dict[str, str]:
    return {**aws.environment, "LAMINA_ESM_TRANSITION_SECONDS": str(TRANSITION_SECONDS),
            "LAMINA_MQ_BROKER_URLS": f"{BROKER_ARN}={rabbitmq_url()}"}


@pytest.fixture(scope="session")
def esm_server(tmp_path_factory, aws):
    server = LaminaServer(tmp_path_factory.mktemp("esm") / "data", env=esm_environment(aws)).start()
    yield server
    server.stop()


@pytest.fixture
def lam(esm_server):
    esm_server.reset()
    return esm_server


@pytest.fixture
def client(lam):
    return lam.client()
