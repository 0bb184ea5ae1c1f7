"""Memory, pids and CPU limits for execution environments: one cgroup per environment.

lamina nests its cgroups under the server process's own cgroup of each controller:
`<own>/lamina-<server pid>-<pool>/env-<environment id>`, so that an operator's limits on
the server also bound its functions and neither several servers nor several pools in one
process collide. What a dead server left behind is removed at the next start. cgroup v2 (unified)
and v1 (one hierarchy per controller) are both handled; whichever the host mounts for the
memory controller decides.

Per environment: memory limit at MemorySize with no swap, `pids.max` 1024, and a CPU
share proportional to memory (1,769 MB = one vCPU's worth of weight).
"""

from __future__ import annotations

import logging
import os
import signal
import time
import uuid
from pathlib import Path

log = logging.getLogger(__name__)

PIDS_MAX = 1024
MB = 1024 * 1024
_V1_CONTROLLERS = ("memory", "pids", "cpu")


class CgroupUnavailable(Exception):
    """cgroups cannot be used here; the message says why."""


def cpu_share(memory_mb: int, full: int) -> int:
    """A weight proportional to memory, `full` being the weight of one vCPU (1,769 MB)."""
    return max(1, round(full * memory_mb / 1769))


def _write(path: Path, value: str) -> None:
    with open(path, "w") as f:
        f.write(value)


def _mounts() -> list[tuple[str, str, str, str]]:
    """(mount point, root within the hierarchy, fstype, super options) from mountinfo."""
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            left, _, right = line.partition(" - ")
            fields, tail = left.split(), right.split()
            mounts.append((fields[4], fields[3], tail[0], tail[2] if len(tail) > 2 else ""))
    return mounts


def _own_paths() -> dict[str, str]:
    """controller -> this process's cgroup path ("" is the v2 entry)."""
    paths = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, controllers, path = line.rstrip("\n").split(":", 2)
            for controller in controllers.split(",") if controllers else [""]:
                paths[controller] = path
    return paths


def _join(mount_point: str, mount_root: str, path: str) -> Path:
    relative = os.path.relpath(path, mount_root) if mount_root != "/" else path.lstrip("/")
    return Path(mount_point) / relative if relative != "." else Path(mount_point)


class EnvironmentCgroup:
    """The cgroup(s) of one environment."""

    def __init__(self, dirs: dict[str, Path], version: int) -> None:
        self.dirs = dirs  # controller -> directory (v2: one directory under every key)
        self.version = version
        memory = dirs["memory"]
        peak = memory / ("memory.peak" if version == 2 else "memory.max_usage_in_bytes")
        self._peak_fd = os.open(peak, os.O_RDONLY | os.O_CLOEXEC) if peak.exists() else None
        self._current = memory / ("memory.current" if version == 2 else "memory.usage_in_bytes")

    def entering(self, argv: list[str]) -> list[str]:
        """`argv`, run by a shell that first moves itself into this cgroup and then execs it:
        the sandbox's every process (bubblewrap itself, its setup child, the agent) starts
        inside, so its memory is counted from the first page and killing the cgroup kills
        them all. The move happens in the child, off the event loop (a cgroup v1 migration
        takes milliseconds)."""
        script = 'for d do [ "$d" = -- ] && break; echo $$ >"$d/cgroup.procs" || exit 125; shift; done; shift; exec "$@"'
        return ["/bin/sh", "-c", script, "sh", *sorted({str(d) for d in self.dirs.values()}), "--", *argv]

    def set_memory(self, memory_mb: int) -> None:
        limit = str(memory_mb * MB)
        memory = self.dirs["memory"]
        if self.version == 2:
            _write(memory / "memory.max", limit)
            if (memory / "memory.swap.max").exists():
                _write(memory / "memory.swap.max", "0")
            return
        # v1: memory+swap must stay >= memory; equal means no swap. Order the writes so
        # that this holds after each one, whether the limit goes up or down.
        memsw = memory / "memory.memsw.limit_in_bytes"
        current = int((memory / "memory.limit_in_bytes").read_text())
        order = ["memory.limit_in_bytes", "memory.memsw.limit_in_bytes"]
        if memory_mb * MB > current:
            order.reverse()
        for name in order:
            if name != "memory.memsw.limit_in_bytes" or memsw.exists():
                _write(memory / name, limit)

    def set_cpu(self, memory_mb: int | None) -> None:
        """A share proportional to `memory_mb`; None gives the least share there is (a spare
        starting in the background yields to functions at work)."""
        if self.version == 2:
            weight = 1 if memory_mb is None else min(10000, cpu_share(memory_mb, 100))
            _write(self.dirs["cpu"] / "cpu.weight", str(weight))
        else:
            shares = 2 if memory_mb is None else max(2, cpu_share(memory_mb, 1024))
            _write(self.dirs["cpu"] / "cpu.shares", str(shares))

    def peak_mb(self) -> int:
        """Peak memory of everything in the sandbox since it started, in MB (rounded up)."""
        if self._peak_fd is not None:
            value = int(os.pread(self._peak_fd, 32, 0))
        else:
            value = int(self._current.read_text())
        return -(-value // MB)

    def pids_refused(self) -> int:
        """How many forks and clones the pids limit has refused (pids.events "max")."""
        return _counter(self.dirs["pids"] / "pids.events", "max")

    def oom_kills(self) -> int:
        memory = self.dirs["memory"]
        name = "memory.events" if self.version == 2 else "memory.oom_control"
        return _counter(memory / name, "oom_kill")

    def pids(self) -> list[int]:
        try:
            return [int(p) for p in (self.dirs["memory"] / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def kill(self) -> None:
        """SIGKILL everything inside (normally the PID namespace already died with its init)."""
        if self.version == 2 and (self.dirs["memory"] / "cgroup.kill").exists():
            _write(self.dirs["memory"] / "cgroup.kill", "1")
            return
        for _ in range(100):  # a fork bomb may keep adding processes for a moment
            pids = self.pids()
            if not pids:
                return
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass

    def remove(self) -> bool:
        """rmdir the cgroup(s); False while processes are still exiting."""
        if self._peak_fd is not None:
            os.close(self._peak_fd)
            self._peak_fd = None
        removed = True
        for directory in set(self.dirs.values()):
            try:
                directory.rmdir()
            except FileNotFoundError:
                pass
            except OSError:
                removed = False
        return removed


class CgroupTree:
    """lamina's subtree of cgroups for this server process."""

    def __init__(self, version: int, roots: dict[str, Path]) -> None:
        self.version = version
        self.roots = roots  # controller -> lamina-<pid> directory

    @classmethod
    def create(cls) -> CgroupTree:
        mounts = _mounts()
        own = _own_paths()
        unified = [m for m in mounts if m[2] == "cgroup2"]
        v1_memory = [m for m in mounts if m[2] == "cgroup" and "memory" in m[3].split(",")]
        if v1_memory:
            return cls._create_v1(mounts, own)
        if unified:
            return cls._create_v2(unified[0], own)
        raise CgroupUnavailable("no cgroup hierarchy with the memory controller is mounted")

    @classmethod
    def _create_v1(cls, mounts: list[tuple[str, str, str, str]], own: dict[str, str]) -> CgroupTree:
        roots = {}
        for controller in _V1_CONTROLLERS:
            mount = next((m for m in mounts if m[2] == "cgroup" and controller in m[3].split(",")), None)
            if mount is None:
                raise CgroupUnavailable(f"cgroup v1 controller {controller!r} is not mounted")
            if controller not in own:
                raise CgroupUnavailable(f"this process has no cgroup v1 {controller!r} entry")
            base = _join(mount[0], mount[1], own[controller])
            roots[controller] = base / _tree_name()
        tree = cls(1, roots)
        tree._remove_stale()
        try:
            for root in roots.values():
                root.mkdir(exist_ok=True)
        except OSError as error:
            raise CgroupUnavailable(f"cannot create cgroups: {error}") from None
        return tree

    @classmethod
    def _create_v2(cls, mount: tuple[str, str, str, str], own: dict[str, str]) -> CgroupTree:
        base = _join(mount[0], mount[1], own.get("", "/"))
        needed = {"memory", "pids", "cpu"}
        available = set((base / "cgroup.controllers").read_text().split())
        if not needed <= available:
            raise CgroupUnavailable(f"cgroup v2 controllers {sorted(needed - available)} are not available in {base}")
        root = base / _tree_name()
        tree = cls(2, dict.fromkeys(_V1_CONTROLLERS, root))
        tree._remove_stale()
        enable = " ".join("+" + c for c in sorted(needed))
        try:
            if own.get("", "/") != "/":
                # "No internal processes": the server leaves its cgroup for a leaf of its own
                # so that controllers can be enabled for the environments beside it.
                server = base / f"lamina-{os.getpid()}-server"
                server.mkdir(exist_ok=True)
                _write(server / "cgroup.procs", str(os.getpid()))
                _write(base / "cgroup.subtree_control", enable)
            root.mkdir(exist_ok=True)
            _write(root / "cgroup.subtree_control", enable)
        except OSError as error:
            raise CgroupUnavailable(f"cannot delegate cgroup v2 controllers under {base}: {error}") from None
        return tree

    def _remove_stale(self) -> None:
        """Remove what earlier, dead lamina servers left behind, killing the processes still
        in it: a sandbox started in the instant before its server was killed (-9) can miss
        bubblewrap's --die-with-parent and live on as an orphan."""
        for root in set(self.roots.values()):
            for stale in root.parent.glob("lamina-*"):
                pid = stale.name.split("-")[1]
                if not pid.isdigit() or int(pid) == os.getpid() or Path(f"/proc/{pid}").exists():
                    continue
                for child in sorted(stale.glob("*/"), reverse=True):
                    if child.is_dir():
                        _kill_members(child)
                        _remove_when_empty(child)
                try:
                    stale.rmdir()
                except OSError as error:
                    log.warning("could not remove stale cgroup %s: %s", stale, error)

    def environment(self, environment_id: str, memory_mb: int, cpu_memory_mb: int | None) -> EnvironmentCgroup:
        dirs = {}
        for controller, root in self.roots.items():
            directory = root / f"env-{environment_id}"
            directory.mkdir(exist_ok=True)
            dirs[controller] = directory
        cgroup = EnvironmentCgroup(dirs, self.version)
        cgroup.set_memory(memory_mb)
        cgroup.set_cpu(cpu_memory_mb)
        _write(dirs["pids"] / "pids.max", str(PIDS_MAX))
        if self.version == 1:
            _write(dirs["memory"] / "memory.swappiness", "0")
        return cgroup

    def close(self) -> None:
        """Remove this pool's cgroups (its environments' must be gone already). On v2 the
        server's own leaf stays: the server still lives in it."""
        for root in set(self.roots.values()):
            for child in root.glob("env-*"):
                try:
                    child.rmdir()
                except OSError:
                    pass
            try:
                root.rmdir()
            except OSError as error:
                log.warning("could not remove cgroup %s: %s", root, error)


STALE_EXIT_WAIT_S = 2.0  # for killed orphans to be reaped before their cgroup can go


def _kill_members(cgroup: Path) -> None:
    try:
        pids = (cgroup / "cgroup.procs").read_text().split()
    except OSError:
        return
    for member in pids:
        try:
            os.kill(int(member), signal.SIGKILL)
        except (ProcessLookupError, PermissionError, ValueError):
            pass
    if pids:
        log.warning("killed %d processes left in %s by a dead lamina server", len(pids), cgroup)


def _remove_when_empty(cgroup: Path) -> None:
    deadline = time.monotonic() + STALE_EXIT_WAIT_S
    while True:
        try:
            cgroup.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            if time.monotonic() >= deadline:
                return  # the stale tree's own rmdir reports it
            time.sleep(0.02)


def _tree_name() -> str:
    return f"lamina-{os.getpid()}-{uuid.uuid4().hex[:8]}"


def _counter(path: Path, key: str) -> int:
    """One counter of a cgroup's `key value` lines file (0 if the file or the key is missing)."""
    try:
        for line in path.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except OSError:
        pass
    return 0
