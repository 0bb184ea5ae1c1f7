"""The bubblewrap command line for one execution environment.

The sandbox is built before the function is known (so it can be pre-started): a
read-only root with the system directories, a few /etc files, the runtime's interpreter
at /var/lang and its files at /var/runtime; empty mount points for /var/task, /opt and
/tmp, which the agent fills at assignment from fds the worker prepares; its own PID, mount,
IPC and UTS namespaces (and network namespace when isolated). The agent starts as PID 1
with just the capabilities it needs to attach those mounts and then drop to the
unprivileged sandbox user before any function code runs.
"""

from __future__ import annotations

import asyncio
import json
import os
import stat
from pathlib import Path

from ..runtimes.catalog import Runtime
from .agent_command import AgentCommand

SYSTEM_DIRS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
# /etc entries a runtime needs: name resolution, TLS roots, the dynamic linker's cache,
# time zones, MIME types and the Debian alternatives symlinks. Nothing else of the host.
ETC_ENTRIES = ("hosts", "resolv.conf", "nsswitch.conf", "host.conf", "gai.conf", "services", "protocols",
               "ssl", "ca-certificates", "ca-certificates.conf", "pki", "crypto-policies", "ld.so.cache",
               "ld.so.conf", "ld.so.conf.d", "localtime", "mime.types", "alternatives", "os-release")
AGENT_CAPABILITIES = ("CAP_SYS_ADMIN", "CAP_SETUID", "CAP_SETGID", "CAP_SETPCAP", "CAP_SYS_RESOURCE")


def system_binds() -> list[str]:
    args = []
    for directory in SYSTEM_DIRS:
        if os.path.islink(directory):
            args += ["--symlink", os.readlink(directory), directory]
        elif os.path.isdir(directory):
            args += ["--ro-bind", directory, directory]
    return args


def etc_arguments() -> tuple[list[str], list[int]]:
    """The host's /etc entries as a sandbox shows them, read now: a file (or what a link
    points to) is copied in by bubblewrap from an fd opened here (`--file`), a directory is
    bound read-only. A copy is no mount, and each mount costs bubblewrap a walk of the mount
    table: 17 binds were 40% of its CPU. Returns the arguments, for `with_etc`, and the fds
    they name, which the caller passes to bubblewrap and then closes. Opens files: call it
    where bubblewrap is started, off the event loop."""
    args: list[str] = []
    fds: list[int] = []
    try:
        for entry in ETC_ENTRIES:
            path = f"/etc/{entry}"
            try:
                info = os.stat(path)
                if stat.S_ISDIR(info.st_mode):
                    args += ["--ro-bind", path, path]
                    continue
                if not stat.S_ISREG(info.st_mode):
                    continue
                fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            except OSError:  # absent here (or unreadable): the sandbox goes without, as with --ro-bind-try
                continue
            fds.append(fd)
            args += ["--perms", f"{stat.S_IMODE(info.st_mode) & 0o755:04o}", "--file", str(fd), path]
    except BaseException:
        for fd in fds:
            os.close(fd)
        raise
    return args, fds


def with_etc(argv: list[str], etc_args: list[str]) -> list[str]:
    """`argv` (from `command`, maybe wrapped) with /etc's entries from `etc_arguments`."""
    at = next(i for i in range(len(argv) - 1) if argv[i] == "--dir" and argv[i + 1] == "/etc") + 2
    return argv[:at] + etc_args + argv[at:]


def command(bwrap: str, runtime: Runtime, network: str, agent: AgentCommand, etc_dir: Path,
            info_fd: int, sdk_tree: Path | None = None) -> list[str]:
    """The command line but for /etc's entries (see `with_etc`); `sdk_tree` from sandbox/sdk_tree.py."""
    args = [bwrap, "--die-with-parent", "--new-session", "--as-pid-1",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "localhost"]
    if network == "isolated":
        args.append("--unshare-net")  # only a loopback interface
    args += ["--cap-drop", "ALL"]
    for capability in AGENT_CAPABILITIES:
        args += ["--cap-add", capability]
    args += system_binds()
    args += ["--dir", "/etc"]  # its entries follow (with_etc)
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(etc_dir / "group"), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/var/task", "--dir", "/opt", "--dir", "/tmp"]
    install = runtime.install
    if install.prefix is not None:
        args += ["--ro-bind", str(install.prefix), "/var/lang"]
    args += ["--dir", "/var/runtime"]
    for source, name in runtime.runtime_files(sdk_tree):
        args += ["--ro-bind", str(source), f"/var/runtime/{name}" if name else "/var/runtime"]
    args += ["--dir", "/var/lamina"]  # explicitly: parents bwrap creates for a bind are private (0700)
    for source, target in agent.binds:
        args += ["--ro-bind", str(source), target]
    args += ["--remount-ro", "/", "--info-fd", str(info_fd), "--chdir", "/", "--"]
    return args + agent.argv


def write_etc(etc_dir: Path, uid: int, gid: int) -> None:
    """/etc/passwd and /etc/group of the sandbox: root and the function's user (named as
    on Lambda), nothing of the host's accounts."""
    etc_dir.mkdir(parents=True, exist_ok=True)
    (etc_dir / "passwd").write_text(f"root:x:0:0:root:/root:/sbin/nologin\n"
                                    f"sbx_user1051:x:{uid}:{gid}::/tmp:/sbin/nologin\n")
    (etc_dir / "group").write_text(f"root:x:0:\nsbx_user1051:x:{gid}:\n")


async def read_child_pid(fd: int, timeout_s: float) -> int | None:
    """From --info-fd: the sandbox's init (the agent) as the host sees it; None if
    bubblewrap gave up before starting it."""
    loop = asyncio.get_running_loop()
    done: asyncio.Future[bytes] = loop.create_future()
    buffer = bytearray()

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        buffer.extend(data)
        if (not data or b"}" in buffer) and not done.done():
            done.set_result(bytes(buffer))

    loop.add_reader(fd, readable)
    try:
        data = await asyncio.wait_for(done, timeout_s)
    finally:
        loop.remove_reader(fd)
    if b"}" not in data:
        return None
    return int(json.loads(data[:data.index(b"}") + 1])["child-pid"])
