"""Request ids: random UUIDv4 texts, never handed out twice, also across a fork."""

from __future__ import annotations

import os
import uuid

from lamina.context import new_request_id


def test_request_ids_are_uuid4_texts():
    for _ in range(1000):
        text = new_request_id()
        parsed = uuid.UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_request_ids_are_unique():
    assert len({new_request_id() for _ in range(20_000)}) == 20_000


def test_a_forked_child_does_not_repeat_its_parents_ids():
    new_request_id()  # the parent holds a batch
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    child = os.read(read, 64).decode()
    os.close(read)
    parents = {new_request_id() for _ in range(300)}
    assert child not in parents
