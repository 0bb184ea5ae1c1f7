"""A restart with the same data directory sees every function exactly as it was."""

from __future__ import annotations

import signal

import requests

from helpers import LaminaServer, create_python_function


def test_restart_keeps_functions(tmp_path):
    data_dir = tmp_path / "data"
    first = LaminaServer(data_dir).start()
    client = first.client()
    create_python_function(client, "kept", Tags={"a": "b"}, Environment={"Variables": {"STAGE": "prod"}})
    client.update_function_configuration(FunctionName="kept", MemorySize=256)
    client.get_waiter("function_updated_v2").wait(FunctionName="kept", WaiterConfig={"Delay": 0.1})
    before = client.get_function(FunctionName="kept")
    assert first.stop(signal.SIGTERM) == 0, "SIGTERM shuts down cleanly"

    second = LaminaServer(data_dir).start()
    try:
        after = second.client().get_function(FunctionName="kept")
        assert after["Configuration"] == before["Configuration"]
        assert after["Tags"] == before["Tags"]
        assert requests.get(after["Code"]["Location"], timeout=10).content == \
            requests.get(before["Code"]["Location"].replace(str(first.port), str(second.port)), timeout=10).content
    finally:
        second.stop()


def test_pending_function_activates_after_a_crash(tmp_path):
    data_dir = tmp_path / "data"
    first = LaminaServer(data_dir).start()
    create_python_function(first.client(), "early", wait=False)
    first.stop(signal.SIGKILL)
    second = LaminaServer(data_dir).start()
    try:
        client = second.client()
        client.get_waiter("function_active_v2").wait(FunctionName="early", WaiterConfig={"Delay": 0.1})
        assert client.get_function_configuration(FunctionName="early")["State"] == "Active"
    finally:
        second.stop()


def test_reset_exists_only_in_dev_mode(tmp_path):
    server = LaminaServer(tmp_path / "data", dev=False).start()
    try:
        assert requests.post(f"{server.endpoint}/_lamina/reset", timeout=10).status_code == 404
    finally:
        server.stop()
