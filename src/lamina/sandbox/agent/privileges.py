"""What the agent does while it still holds the capabilities bubblewrap left it:
attach the function's mounts, mount its private /tmp, then drop to the sandbox user for
good. The worker prepares the mounts outside (detached, read-only) and passes their fds.
"""

from __future__ import annotations

import ctypes
import os

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

_SYS_MOVE_MOUNT = 429  # the same number on every architecture (new syscalls are unified)
_MOVE_MOUNT_F_EMPTY_PATH = 0x4
_AT_FDCWD = -100
_MS_NOSUID = 0x2
_MS_NODEV = 0x4
_PR_SET_PDEATHSIG = 1
_PR_SET_DUMPABLE = 4
_PR_CAPBSET_DROP = 24
_PR_SET_CHILD_SUBREAPER = 36
_PR_SET_NO_NEW_PRIVS = 38


def _fail(what: str) -> OSError:
    errno = ctypes.get_errno()
    return OSError(errno, f"{what}: {os.strerror(errno)}")


def _prctl(option: int, value: int) -> int:
    return _libc.prctl(ctypes.c_int(option), ctypes.c_ulong(value), ctypes.c_ulong(0),
                       ctypes.c_ulong(0), ctypes.c_ulong(0))


def move_mount(fd: int, target: str) -> None:
    if _libc.syscall(_SYS_MOVE_MOUNT, fd, b"", _AT_FDCWD, target.encode(), _MOVE_MOUNT_F_EMPTY_PATH) < 0:
        raise _fail(f"move_mount onto {target}")


def mount_tmpfs(target: str, size_mb: int) -> None:
    options = f"size={size_mb}m,mode=1777".encode()
    if _libc.mount(b"tmpfs", target.encode(), b"tmpfs", ctypes.c_ulong(_MS_NOSUID | _MS_NODEV), options) < 0:
        raise _fail(f"mount tmpfs on {target}")


def forbid_privilege_gain() -> None:
    """Nothing the agent starts, now or later, can gain a privilege through exec: set
    no_new_privs and empty the capability bounding set. The agent keeps the capabilities
    it already has (it still needs them to attach mounts) until `drop_privileges`."""
    if _prctl(_PR_SET_NO_NEW_PRIVS, 1) != 0:
        raise _fail("prctl(PR_SET_NO_NEW_PRIVS)")
    with open("/proc/sys/kernel/cap_last_cap") as f:
        last_cap = int(f.read())
    for cap in range(last_cap + 1):
        if _prctl(_PR_CAPBSET_DROP, cap) != 0:
            raise _fail(f"prctl(PR_CAPBSET_DROP, {cap})")


def drop_privileges(uid: int, gid: int) -> None:
    """Become the sandbox user for good, with no capabilities left, and not dumpable, so
    that the function cannot ptrace the agent or read its memory."""
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)
    if _prctl(_PR_SET_DUMPABLE, 0) != 0:
        raise _fail("prctl(PR_SET_DUMPABLE)")


def protect_from_oom_killer() -> None:
    """The OOM killer of the memory cgroup should take the runtime, never the agent that
    reports what happened. Needs CAP_SYS_RESOURCE; without it the agent stays a candidate."""
    try:
        with open("/proc/self/oom_score_adj", "w") as f:
            f.write("-1000")
    except OSError:
        pass


def reset_oom_score(pid: int) -> None:
    """Undo the agent's protection for a runtime it started: the runtime must remain the
    OOM killer's candidate. Done from the agent once the child has exec'd (before that it
    shares the agent's non-dumpable state and its /proc files belong to root), or by a
    runtime forked from the agent (no exec) for itself, while it is still root."""
    try:
        with open(f"/proc/{pid}/oom_score_adj", "w") as f:
            f.write("0")
    except OSError:
        pass


def make_dumpable() -> None:
    """A change of user leaves a process non-dumpable (its /proc files root's) until it
    execs; a runtime forked from the agent has no exec, so it says so itself."""
    if _prctl(_PR_SET_DUMPABLE, 1) != 0:
        raise _fail("prctl(PR_SET_DUMPABLE)")


def become_subreaper() -> None:
    """Without a PID namespace (process mode) orphans of the runtime come back to the agent."""
    _prctl(_PR_SET_CHILD_SUBREAPER, 1)


def die_with_parent() -> None:
    _prctl(_PR_SET_PDEATHSIG, 9)
