"""What a function can and cannot see or touch."""

from __future__ import annotations

import json

import pytest

from helpers import create_python_function, make_zip

PROBE = """
import os, json
def attempt(fn):
    try:
        return ['ok', fn()]
    except Exception as e:
        return ['denied', type(e).__name__]
def handler(event, context):
    out = {}
    out['data_dir'] = attempt(lambda: os.listdir(event['data_dir']))
    out['home'] = attempt(lambda: os.listdir('/root'))
    out['write_task'] = attempt(lambda: open('/var/task/new.txt', 'w').write('x'))
    out['pids'] = sorted(int(p) for p in os.listdir('/proc') if p.isdigit())
    out['uid'] = os.getuid()
    out['tmp_write'] = attempt(lambda: open('/tmp/mine-' + event['tag'], 'w').write('x'))
    out['tmp_listing'] = sorted(os.listdir('/tmp'))
    out['other_code'] = attempt(lambda: os.listdir(event['other_code']))
    return out
"""


@pytest.fixture
def probe(client, lam):
    create_python_function(client, "probe-a", zip_bytes=make_zip({"app.py": PROBE}))
    create_python_function(client, "probe-b", zip_bytes=make_zip({"app.py": PROBE}))
    code_dirs = sorted(str(p) for p in (lam.data_dir / "code").iterdir())

    def run(name: str, tag: str) -> dict:
        event = {"data_dir": str(lam.data_dir), "tag": tag, "other_code": code_dirs[0]}
        response = client.invoke(FunctionName=name, Payload=json.dumps(event))
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        return body

    return run


def test_function_cannot_read_lamina_data_or_home(probe):
    result = probe("probe-a", "a")
    assert result["data_dir"][0] == "denied"
    assert result["home"][0] == "denied"
    assert result["other_code"][0] == "denied"


def test_function_cannot_write_its_code(probe):
    assert probe("probe-a", "a")["write_task"] == ["denied", "OSError"]


def test_function_sees_only_its_own_processes(probe):
    assert len(probe("probe-a", "a")["pids"]) <= 4


def test_function_runs_unprivileged(probe):
    assert probe("probe-a", "a")["uid"] != 0


def test_functions_do_not_share_tmp(probe):
    probe("probe-a", "a")
    listing = probe("probe-b", "b")["tmp_listing"]
    assert "mine-b" in listing and "mine-a" not in listing
