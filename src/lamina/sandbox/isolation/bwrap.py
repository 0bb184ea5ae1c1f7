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

import os
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


def command(bwrap: str, runtime: Runtime, network: str, agent: AgentCommand, etc_dir: Path,
            info_fd: int) -> list[str]:
    args = [bwrap, "--die-with-parent", "--new-session", "--as-pid-1",
            "--unshare-pid", "--unshare-ipc", "--unshare-uts", "--hostname", "localhost"]
    if network == "isolated":
        args.append("--unshare-net")  # only a loopback interface
    args += ["--cap-drop", "ALL"]
    for capability in AGENT_CAPABILITIES:
        args += ["--cap-add", capability]
    args += system_binds()
    args += ["--dir", "/etc"]
    for entry in ETC_ENTRIES:
        args += ["--ro-bind-try", f"/etc/{entry}", f"/etc/{entry}"]
    args += ["--ro-bind", str(etc_dir / "passwd"), "/etc/passwd", "--ro-bind", str(etc_dir / "group"), "/etc/group"]
    args += ["--proc", "/proc", "--dev", "/dev", "--dir", "/var/task", "--dir", "/opt", "--dir", "/tmp"]
    install = runtime.install
    if install.prefix is not None:
        args += ["--ro-bind", str(install.prefix), "/var/lang"]
    args += ["--dir", "/var/runtime"]
    for source, name in runtime.runtime_files():
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
