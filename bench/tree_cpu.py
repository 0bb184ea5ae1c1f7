"""CPU time of a process and all its descendants, from /proc: robust to the wall-clock noise of
a shared machine. Only processes alive at both readings count, which suits warm workloads."""

from __future__ import annotations

import os

TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, utime+stime in seconds), or None if the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as file:
            text = file.read()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2:].split()  # the command name may hold spaces
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / TICK


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds per pid for `root` and every descendant."""
    stats = {pid: stat for pid in map(int, filter(str.isdigit, os.listdir("/proc")))
             if (stat := _stat(pid)) is not None}
    children: dict[int, list[int]] = {}
    for pid, (parent, _) in stats.items():
        children.setdefault(parent, []).append(pid)
    found, pending = {}, [root]
    while pending:
        pid = pending.pop()
        if pid in stats:
            found[pid] = stats[pid][1]
            pending.extend(children.get(pid, ()))
    return found


def cpu_between(before: dict[int, float], after: dict[int, float]) -> float:
    return sum(after[pid] - before[pid] for pid in after.keys() & before.keys())


def machine_busy_seconds() -> float:
    """CPU seconds every process on the machine has spent (short-lived ones and the kernel's
    included), from /proc/stat."""
    with open("/proc/stat") as f:
        user, nice, system, idle, iowait, irq, softirq, steal = map(int, f.readline().split()[1:9])
    return (user + nice + system + irq + softirq + steal) / TICK
