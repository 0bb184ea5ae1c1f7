"""Who is on the other end of a Runtime API connection.

With host networking every environment's agent listens on the same loopback interface,
so a function could otherwise connect to another environment's Runtime API and take its
events. The agent accepts a connection only when the client socket is held by a process
of its own PID namespace: find the client socket's inode in /proc/net/tcp (the host's
table, since the network namespace is shared), then look for it among the open files of
the processes this namespace can see.
"""

from __future__ import annotations

import os


def _socket_inode(client_port: int, server_port: int) -> str | None:
    wanted_local = f"0100007F:{client_port:04X}"
    wanted_remote = f"0100007F:{server_port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            fields = line.split()
            if fields[1] == wanted_local and fields[2] == wanted_remote:
                return fields[9]
    return None


def held_by_this_sandbox(client_port: int, server_port: int) -> bool:
    inode = _socket_inode(client_port, server_port)
    if inode is None or inode == "0":
        return False
    needle = f"socket:[{inode}]"
    own = str(os.getpid())
    for pid in os.listdir("/proc"):
        if not pid.isdigit() or pid == own:
            continue
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == needle:
                    return True
            except OSError:
                continue
    return False
