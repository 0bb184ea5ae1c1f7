from __future__ import annotations

import pytest

from helpers import LaminaServer


@pytest.fixture(scope="session")
def server(tmp_path_factory) -> LaminaServer:
    """One lamina for the whole session; `lam` resets it before each test."""
    instance = LaminaServer(tmp_path_factory.mktemp("lamina") / "data").start()
    yield instance
    instance.stop()


@pytest.fixture
def lam(server: LaminaServer) -> LaminaServer:
    server.reset()
    return server


@pytest.fixture
def client(lam: LaminaServer):
    return lam.client()


@pytest.fixture
def raw_client(lam: LaminaServer):
    """A client that sends whatever it is given, for server-side validation tests."""
    return lam.client(validate=False)


def pytest_addoption(parser: pytest.Parser) -> None:
    # Here, not in tests/robustness/: pytest reads options only from the root conftest.
    parser.addoption("--long", action="store_true", default=False,
                     help="tests/robustness fuzzer: many more examples per operation, with a random seed")
