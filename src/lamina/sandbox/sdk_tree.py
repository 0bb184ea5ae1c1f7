"""/var/runtime's AWS SDK as one directory to bind, instead of one bind per package.

Each bind mount costs bubblewrap a walk of the sandbox's mount table: the SDK's 14 entries
(boto3, botocore, ... and their .dist-info) were a third of its CPU per sandbox start. Once
the SDK is compiled for every managed Python (`precompile.compile_sdk`), lamina hard-links
its files, bytecode included, into `<data_dir>/sandbox/sdk/<digest>`, where the digest names
the SDK's files and the Pythons: an upgrade of either makes a new tree. Where links cannot be
made (the data directory on another file system than lamina's installation), the entries
stay bound one by one.

The tree also holds empty mount points for lamina's own runtime files (`bootstrap.py`,
`lamina_runtime/`), which are bound over it from the source: a tree of links would go stale
as that source is edited.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

from .runtimes import catalog

log = logging.getLogger(__name__)

_LAMINA_FILES = ("bootstrap.py",)
_LAMINA_DIRS = ("lamina_runtime",)


def _digest(pythons: Iterable[Path]) -> str:
    names = sorted(str(entry) for entry in catalog.sdk_entries())
    return hashlib.sha256("\n".join([*names, "", *sorted(map(str, pythons))]).encode()).hexdigest()[:24]


def existing(work_dir: Path, pythons: Iterable[Path]) -> Path | None:
    """The tree for this SDK and these Pythons, if an earlier start made it."""
    tree = work_dir / "sdk" / _digest(pythons)
    return tree if tree.is_dir() else None


def build(work_dir: Path, pythons: Iterable[Path]) -> Path | None:
    """Make the tree (blocking: run it off the event loop) and remove older ones; None when
    hard links cannot be made here."""
    pythons = list(pythons)
    root = work_dir / "sdk"
    tree = root / _digest(pythons)
    if tree.is_dir():
        return tree
    entries = catalog.sdk_entries()
    if not entries:
        return None
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{tree.name}.{os.getpid()}"
    shutil.rmtree(partial, ignore_errors=True)
    try:
        for entry in entries:
            _link(entry, partial / entry.name)
            if entry.is_file() and entry.suffix == ".py":  # a top-level module: its bytecode is beside it
                for pyc in (entry.parent / "__pycache__").glob(f"{entry.stem}.*.pyc"):
                    _link(pyc, partial / "__pycache__" / pyc.name)
        for name in _LAMINA_FILES:
            (partial / name).touch()
        for name in _LAMINA_DIRS:
            (partial / name).mkdir()
        partial.rename(tree)
    except OSError as error:
        shutil.rmtree(partial, ignore_errors=True)
        if error.errno in (errno.EXDEV, errno.EPERM, errno.EMLINK):
            log.info("the SDK stays bound package by package: cannot link it into %s: %s", root, error)
            return None
        raise
    for old in root.iterdir():  # older SDKs' trees, and what a crash left half made
        if old != tree:
            shutil.rmtree(old, ignore_errors=True)
    return tree


def _link(source: Path, target: Path) -> None:
    """`source` (a file or a directory tree) as hard links at `target`."""
    if source.is_file():
        target.parent.mkdir(parents=True, exist_ok=True)
        os.link(source, target)
        return
    for directory, _dirs, files in os.walk(source):
        here = target / os.path.relpath(directory, source)
        here.mkdir(parents=True, exist_ok=True)
        for name in files:
            os.link(os.path.join(directory, name), here / name)
