"""Process mode: no mount namespace, so a function sees the real directories of its code,
layers and runtime, and a private directory stands in for /tmp (as TMPDIR)."""

from __future__ import annotations

from pathlib import Path

from ..environ import Paths
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
