"""Process mode: no mount namespace, so a function sees the real directories of its code,
layers and runtime, and a private directory stands in for /tmp (as TMPDIR)."""

from __future__ import annotations

import shutil
from pathlib import Path

from ..environ import Paths
from ..runtimes import catalog
from ..runtimes.catalog import Runtime
from ..spec import EnvironmentSpec


def paths(environment_dir: Path, spec: EnvironmentSpec, runtime: Runtime, runtime_dirs: dict[str, Path]) -> Paths:
    tmp = environment_dir / "tmp"
    tmp.mkdir(parents=True, exist_ok=True)
    opt = environment_dir / "opt"
    if len(spec.layer_dirs) == 1:
        opt = spec.layer_dirs[0]
    else:
        merge_layers(spec.layer_dirs, opt)
    runtime_dir = runtime_dirs.get(runtime.family, environment_dir / "runtime")
    runtime_dir.mkdir(parents=True, exist_ok=True)
    prefix = runtime.install.prefix
    return Paths(task=str(spec.code_dir), opt=str(opt), runtime=str(runtime_dir),
                 lang=str(prefix) if prefix else "/var/lang", tmp=str(tmp))


def merge_layers(layers: tuple[Path, ...], target: Path) -> None:
    """Layers merged into one directory of symlinks, later layers on top."""
    target.mkdir(parents=True, exist_ok=True)
    for layer in layers:
        for source in sorted(layer.rglob("*")):
            destination = target / source.relative_to(layer)
            if source.is_dir() and not source.is_symlink():
                if destination.is_symlink():
                    destination.unlink()
                destination.mkdir(exist_ok=True)
            else:
                if destination.is_symlink() or destination.exists():
                    destination.unlink()
                destination.symlink_to(source)


def runtime_dirs(work_dir: Path, nodejs_dir: Path) -> dict[str, Path]:
    """Process mode: /var/runtime for Python as a directory of symlinks (lamina's runtime
    loop and the SDK); Node.js uses its runtime directory as is."""
    python = work_dir / "runtime-python"
    shutil.rmtree(python, ignore_errors=True)
    python.mkdir(parents=True)
    entries = [(catalog.PYTHON_RUNTIME_DIR / "bootstrap.py", "bootstrap.py"),
               (catalog.PYTHON_RUNTIME_DIR / "lamina_runtime", "lamina_runtime")]
    for source, name in entries + [(entry, entry.name) for entry in catalog.sdk_entries()]:
        (python / name).symlink_to(source)
    return {"python": python, "nodejs": nodejs_dir}
