from __future__ import annotations

import time

import pytest

from helpers import LaminaServer, sandbox_processes_under


@pytest.fixture(scope="session", autouse=True)
def no_sandbox_process_outlives_its_pool(tmp_path_factory):
    """Every process an environment started is gone once its pool is: at the end of the
    session none of this session's sandboxes may be left (set up first, so checked last)."""
    basetemp = tmp_path_factory.getbasetemp()
    yield
    deadline = time.monotonic() + 10  # killed ones may take a moment to be reaped
    while (left := sandbox_processes_under(basetemp)) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not left, "sandbox processes outlived their pools:\n" + "\n".join(left)


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
