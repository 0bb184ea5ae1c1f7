"""The SDK as one tree of hard links for /var/runtime (sandbox/sdk_tree.py), and what a
sandboxed function sees through it."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from lamina.sandbox import sdk_tree
from lamina.sandbox.runtimes import catalog

from .conftest import Harness, body, requires_bwrap


@pytest.fixture
def fake_sdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    site = tmp_path / "site-packages"
    (site / "sdkpkg" / "__pycache__").mkdir(parents=True)
    (site / "sdkpkg" / "__init__.py").write_text("VALUE = 1\n")
    (site / "sdkpkg" / "__pycache__" / "__init__.cpython-311.pyc").write_bytes(b"pyc")
    (site / "sdkpkg-1.0.dist-info").mkdir()
    (site / "sdkpkg-1.0.dist-info" / "METADATA").write_text("Name: sdkpkg\n")
    (site / "single.py").write_text("X = 2\n")
    (site / "__pycache__").mkdir()
    (site / "__pycache__" / "single.cpython-311.pyc").write_bytes(b"pyc")
    (site / "__pycache__" / "unrelated.cpython-311.pyc").write_bytes(b"pyc")
    entries = (site / "sdkpkg", site / "sdkpkg-1.0.dist-info", site / "single.py")
    monkeypatch.setattr(catalog, "sdk_entries", lambda: entries)
    return site


def test_the_tree_links_the_sdk_and_its_bytecode_with_mount_points_for_the_runtime(
        fake_sdk: Path, tmp_path: Path) -> None:
    work_dir = tmp_path / "sandbox"
    pythons = [Path("/usr/bin/python3.11")]
    assert sdk_tree.existing(work_dir, pythons) is None
    tree = sdk_tree.build(work_dir, pythons)
    assert tree is not None and sdk_tree.existing(work_dir, pythons) == tree
    found = sorted(str(path.relative_to(tree)) for path in tree.rglob("*"))
    assert found == ["__pycache__", "__pycache__/single.cpython-311.pyc", "bootstrap.py", "lamina_runtime", "sdkpkg",
                     "sdkpkg-1.0.dist-info", "sdkpkg-1.0.dist-info/METADATA", "sdkpkg/__init__.py", "sdkpkg/__pycache__",
                     "sdkpkg/__pycache__/__init__.cpython-311.pyc", "single.py"]
    assert os.stat(tree / "sdkpkg" / "__init__.py").st_ino == os.stat(fake_sdk / "sdkpkg" / "__init__.py").st_ino
    assert (tree / "bootstrap.py").read_bytes() == b"" and not any((tree / "lamina_runtime").iterdir())

    # Another set of Pythons is another tree; the old one goes.
    newer = sdk_tree.build(work_dir, [*pythons, Path("/usr/bin/python3.12")])
    assert newer is not None and newer != tree and not tree.exists()
    assert sorted(p.name for p in (work_dir / "sdk").iterdir()) == [newer.name]


def test_without_hard_links_the_sdk_stays_bound_entry_by_entry(
        fake_sdk: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def cross_device(source: object, target: object) -> None:
        raise OSError(errno.EXDEV, "Invalid cross-device link")

    monkeypatch.setattr(os, "link", cross_device)
    work_dir = tmp_path / "sandbox"
    assert sdk_tree.build(work_dir, [Path("/usr/bin/python3.11")]) is None
    assert list((work_dir / "sdk").iterdir()) == []  # nothing half made is left


@requires_bwrap
def test_a_sandbox_sees_the_sdk_through_one_bind(fresh_sandbox: object) -> None:
    harness: Harness = fresh_sandbox(sandbox="bwrap", spares_per_runtime=0)  # type: ignore[operator]
    assert harness.pool._compiler is not None
    harness.run(harness.pool._compiler)  # the SDK is compiled, then linked
    host = harness.pool.host
    assert host is not None
    if host.sdk_tree is None and os.stat(host.work_dir).st_dev != os.stat(catalog.sdk_entries()[0]).st_dev:
        pytest.skip("the data directory is on another file system than lamina's installation: no hard links")
    assert host.sdk_tree is not None
    spec = harness.function({"app.py": """
        import os
        def handler(event, context):
            import boto3, six
            runtime_mounts = [line.split()[4] for line in open("/proc/self/mountinfo")
                              if line.split()[4].startswith("/var/runtime")]
            return [boto3.__file__, six.__file__, sorted(runtime_mounts), os.access("/var/runtime/boto3", os.W_OK)]
    """})
    assert body(harness.invoke(spec)) == [
        "/var/runtime/boto3/__init__.py", "/var/runtime/six.py",
        ["/var/runtime", "/var/runtime/bootstrap.py", "/var/runtime/lamina_runtime"], False]
