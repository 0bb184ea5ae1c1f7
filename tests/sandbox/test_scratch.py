"""/tmp as a function sees it (a private ext4 disk of EphemeralStorage), and the scratch
disks behind it: copies of one template per size, on loop devices that go away with
their environment, whatever happens to lamina."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lamina.sandbox import scratch

from .conftest import Harness, body, requires_bwrap

pytestmark = requires_bwrap

TMP_REPORT = {"app.py": """
    import os
    def handler(event, context):
        if event.get("write"):
            open("/tmp/" + event["write"], "w").write("x")
        fs = os.statvfs("/tmp")
        st = os.stat("/tmp")
        fstype = [line.split()[2] for line in open("/proc/mounts") if line.split()[1] == "/tmp"]
        return {"fstype": fstype, "size_mb": fs.f_blocks * fs.f_frsize // 2**20,
                "mode": oct(st.st_mode & 0o7777), "owner": st.st_uid, "files": sorted(os.listdir("/tmp"))}
"""}


def _loop_devices_of(directory: Path) -> list[str]:
    """Loop devices whose image lies in `directory` (deleted images included)."""
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if backing.read_text().startswith(f"{directory}/"):
                found.append(backing.parent.parent.name)
        except OSError:
            continue  # cleared meanwhile
    return found


def _eventually_none(directory: Path) -> list[str]:
    """The loop devices still bound to images of `directory` once they have had up to 30 s
    to go (releasing them follows the sandbox's end asynchronously)."""
    deadline = time.monotonic() + 30
    while (left := _loop_devices_of(directory)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


def _host_mounts_of(directory: Path) -> list[str]:
    devices = {f"/dev/{name}" for name in _loop_devices_of(directory)}
    with open("/proc/self/mounts") as table:
        return [line for line in table if line.split()[0] in devices or str(directory) in line]


@pytest.mark.parametrize("size_mb", [512, 64, 2048])
def test_tmp_is_ext4_of_the_ephemeral_storage_size(sandbox: Harness, size_mb: int) -> None:
    out = body(sandbox.invoke(sandbox.function(TMP_REPORT, ephemeral_storage_mb=size_mb)))
    assert out["fstype"] == ["ext4"]
    assert size_mb <= out["size_mb"] <= size_mb * 1.05 + 4
    assert out["mode"] == "0o1777" and out["owner"] == 0
    assert out["files"] == ["lost+found"]


def test_every_environment_gets_an_empty_disk(sandbox: Harness) -> None:
    """Disks are copies of one template: what one environment writes reaches no other,
    however many are made one after another or at once."""
    spec = sandbox.function(TMP_REPORT, ephemeral_storage_mb=128)
    first = body(sandbox.invoke(spec, {"write": "first"}))
    assert first["files"] == ["first", "lost+found"]
    for index in range(3):  # each a new function, so a new environment
        other = body(sandbox.invoke(sandbox.function(TMP_REPORT, ephemeral_storage_mb=128),
                                    {"write": f"other{index}"}))
        assert other["files"] == ["lost+found", f"other{index}"]
    at_once = sandbox.invoke_concurrently(sandbox.function(TMP_REPORT, ephemeral_storage_mb=128), 4,
                                          {"write": "mine"})
    assert [body(result)["files"] for result in at_once] == [["lost+found", "mine"]] * 4


def test_disks_never_appear_on_the_host_and_go_with_their_environments(fresh_sandbox) -> None:
    harness = fresh_sandbox(sandbox="bwrap")
    directory = harness.pool.host.scratch_dir
    specs = [harness.function(TMP_REPORT) for _ in range(3)]
    for spec in specs:
        assert body(harness.invoke(spec, {"write": "kept"}))["files"] == ["kept", "lost+found"]
    assert len(_loop_devices_of(directory)) >= 3  # theirs, and the spare's
    assert _host_mounts_of(directory) == []
    assert sorted(path.name for path in directory.iterdir()) == ["template-512.img"]
    harness.run(harness.pool.close())
    assert _eventually_none(directory) == []


def test_a_crash_leaves_no_disk_behind(tmp_path: Path) -> None:
    """A process holding scratch disks that dies without closing them leaves no mount and
    no loop device behind."""
    directory = tmp_path / "scratch"
    if (reason := scratch.unsupported_reason(scratch.ScratchMaker(directory))) is not None:
        pytest.skip(reason)
    program = (f"import os; from pathlib import Path; from lamina.sandbox import scratch\n"
               f"maker = scratch.ScratchMaker(Path({str(directory)!r}))\n"
               f"disks = [maker.submit(64).result() for _ in range(3)]\n"
               f"print(len(disks), flush=True)\n"
               f"os._exit(9)\n")
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, timeout=120)
    assert done.returncode == 9 and done.stdout.strip() == "3", done.stderr
    assert _eventually_none(directory) == []
    assert _host_mounts_of(directory) == []
    scratch.clear(directory)  # and the next start removes what the crash left
    assert not directory.exists()


def test_a_disk_made_and_dropped_unused_leaves_nothing(tmp_path: Path) -> None:
    directory = tmp_path / "scratch"
    maker = scratch.ScratchMaker(directory)
    if (reason := scratch.unsupported_reason(maker)) is not None:
        pytest.skip(reason)
    disk = maker.submit(32).result()
    fs = os.fstatvfs(disk.fd)
    assert 32 <= fs.f_blocks * fs.f_frsize // 2**20 <= 40
    assert os.listdir(f"/proc/self/fd/{disk.fd}") == ["lost+found"]
    disk.close()
    maker.close()
    assert _eventually_none(directory) == []
