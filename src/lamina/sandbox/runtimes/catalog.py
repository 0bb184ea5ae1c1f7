"""How each runtime family starts inside an environment, and which files it needs under
/var/runtime and /var/lang."""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from ..environ import Paths
from ..spec import EnvironmentSpec
from .detect import RuntimeInstall

PYTHON_RUNTIME_DIR = Path(__file__).parent / "python"
NODEJS_RUNTIME_DIR = Path(__file__).parent / "nodejs"
OLDEST_MANAGED_PYTHON = (3, 9)  # lamina's runtime loop supports 3.9 and later

# What Lambda's Python runtimes have in /var/runtime, so functions can `import boto3`
# without bundling it; taken read-only from lamina's own installation.
SDK_DISTRIBUTIONS = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")


def supported(installs: dict[str, RuntimeInstall]) -> dict[str, RuntimeInstall]:
    """The detected runtimes lamina can run (managed Python needs 3.9 or later)."""
    result = {}
    for runtime, install in installs.items():
        if install.family == "python":
            if tuple(int(p) for p in install.version.split(".")[:2]) < OLDEST_MANAGED_PYTHON:
                continue
        result[runtime] = install
    return result


@functools.cache
def sdk_entries() -> tuple[Path, ...]:
    """The top-level files and directories of the SDK distributions in site-packages
    (packages, single-module files and their .dist-info), to appear in /var/runtime."""
    entries: dict[str, Path] = {}
    for name in SDK_DISTRIBUTIONS:
        try:
            distribution = metadata.distribution(name)
        except metadata.PackageNotFoundError:
            continue
        for file in distribution.files or ():
            top = file.parts[0]
            if top in ("..", "__pycache__") or top.endswith(".pth"):
                continue
            entries.setdefault(top, Path(str(distribution.locate_file(top))))
    return tuple(path for path in entries.values() if path.exists())


@dataclass(frozen=True)
class Runtime:
    """One runtime as lamina runs it."""

    install: RuntimeInstall
    nodejs_dir: Path = NODEJS_RUNTIME_DIR

    @property
    def family(self) -> str:
        return self.install.family

    @property
    def id(self) -> str:
        return self.install.runtime

    @property
    def node_major(self) -> str:
        return self.install.version.split(".")[0] if self.family == "nodejs" else ""

    def _interpreter(self, paths: Paths) -> str:
        install = self.install
        assert install.executable is not None and install.prefix is not None
        try:
            relative = install.executable.relative_to(install.prefix)
        except ValueError:
            relative = Path("bin") / install.executable.name
        return f"{paths.lang}/{relative}"

    def argv(self, paths: Paths) -> list[str]:
        """The runtime process (empty for provided.*, whose bootstrap is looked up)."""
        if self.family == "python":
            return [self._interpreter(paths), f"{paths.runtime}/bootstrap.py"]
        if self.family == "nodejs":
            return [self._interpreter(paths), f"{paths.runtime}/bootstrap.mjs"]
        return []

    def bootstrap_candidates(self, paths: Paths) -> list[str]:
        return [f"{paths.task}/bootstrap", f"{paths.opt}/bootstrap"] if self.family == "provided" else []

    def command(self, spec: EnvironmentSpec, paths: Paths) -> list[str]:
        """argv for this function: managed runtimes honour AWS_LAMBDA_EXEC_WRAPPER."""
        argv = self.argv(paths)
        wrapper = spec.environment.get("AWS_LAMBDA_EXEC_WRAPPER")
        return [wrapper, *argv] if wrapper and argv else argv

    @property
    def prestartable(self) -> bool:
        """lamina's Python runtime can be started before the function is known."""
        return self.family == "python"

    @property
    def preload(self) -> tuple[str, ...]:
        """What a runtime forked from the agent imports before the fork (see agent/forked.py)."""
        return ("lamina_runtime.loop",) if self.family == "python" else ()

    def can_use_prestarted(self, spec: EnvironmentSpec) -> bool:
        """A running interpreter cannot honour a wrapper or PYTHON* variables read at start."""
        return self.prestartable and not any(
            name == "AWS_LAMBDA_EXEC_WRAPPER" or name.startswith("PYTHON") for name in spec.environment)

    def runtime_files(self, sdk_tree: Path | None = None) -> list[tuple[Path, str]]:
        """(host path, name under /var/runtime), in the order to bind them; the name "" is
        /var/runtime itself. `sdk_tree`: the SDK as one directory (see sandbox/sdk_tree.py)."""
        if self.family == "python":
            files = [(PYTHON_RUNTIME_DIR / "bootstrap.py", "bootstrap.py"),
                     (PYTHON_RUNTIME_DIR / "lamina_runtime", "lamina_runtime")]
            if sdk_tree is not None:
                return [(sdk_tree, ""), *files]
            return files + [(entry, entry.name) for entry in sdk_entries()]
        if self.family == "nodejs":
            return [(self.nodejs_dir, "")]
        return []

    @property
    def version_label(self) -> str:
        """The INIT_START `Runtime Version`, e.g. python:3.12.v1."""
        if self.family == "provided":
            return f"provided:{self.id.split('.', 1)[1]}.v1"
        parts = self.install.version.split(".")
        if self.family == "python":
            return f"python:{parts[0]}.{parts[1]}.v{parts[2] if len(parts) > 2 else 0}"
        return f"nodejs:{parts[0]}.v{parts[1] if len(parts) > 1 else 0}"

    def version_arn(self, region: str) -> str:
        digest = hashlib.sha256(f"{self.id}:{self.install.version}".encode()).hexdigest()
        return f"arn:aws:lambda:{region}::runtime:{digest}"
