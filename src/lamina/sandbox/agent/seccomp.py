"""A seccomp filter for everything in the sandbox: no new namespaces, no kernel keyrings,
no eBPF, perf or userfaultfd, and only the native system call ABI.

Without new user namespaces an unprivileged process can mount nothing and gain no
capability; the other calls are the kernel's usual attack surface and no function needs
them. `clone3` answers ENOSYS so that C libraries fall back to `clone`, whose flags can be
checked. Installed by the agent before it starts any runtime (so pre-started runtimes are
covered too); it keeps what the agent itself still needs (mount, move_mount, setuid).
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

_ARCHES = {  # machine -> (AUDIT_ARCH, syscall numbers)
    "x86_64": (0xC000003E, {"clone": 56, "unshare": 272, "setns": 308, "keyctl": 250, "add_key": 248,
                            "request_key": 249, "bpf": 321, "perf_event_open": 298, "userfaultfd": 323}),
    "aarch64": (0xC00000B7, {"clone": 220, "unshare": 97, "setns": 268, "keyctl": 219, "add_key": 217,
                             "request_key": 218, "bpf": 280, "perf_event_open": 241, "userfaultfd": 282}),
}
_CLONE3 = 435
_X32_SYSCALL_BIT = 0x40000000
_NAMESPACE_FLAGS = 0x7E020000  # CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET

_LD_W_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_ALLOW = 0x7FFF0000
_KILL_PROCESS = 0x80000000
_ERRNO = 0x00050000
_PR_SET_SECCOMP = 22
_SECCOMP_MODE_FILTER = 2


def _assemble(program: list[tuple]) -> bytes:
    """(opcode, k, jump-if-true label, jump-if-false label) and ("label", name) entries
    into struct sock_filter[] (jumps are relative to the next instruction)."""
    labels: dict[str, int] = {}
    index = 0
    for entry in program:
        if entry[0] == "label":
            labels[entry[1]] = index
        else:
            index += 1
    out = []
    index = 0
    for entry in program:
        if entry[0] == "label":
            continue
        code, k, true, false = entry
        jt = labels[true] - index - 1 if true else 0
        jf = labels[false] - index - 1 if false else 0
        out.append(struct.pack("=HBBI", code, jt, jf, k))
        index += 1
    return b"".join(out)


def program(machine: str) -> bytes:
    arch, numbers = _ARCHES[machine]
    denied = [numbers[name] for name in ("unshare", "setns", "keyctl", "add_key", "request_key", "bpf",
                                         "perf_event_open", "userfaultfd")]
    code: list[tuple] = [
        (_LD_W_ABS, 4, None, None),  # seccomp_data.arch
        (_JEQ, arch, None, "kill"),
        (_LD_W_ABS, 0, None, None),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        code.append((_JGE, _X32_SYSCALL_BIT, "kill", None))
    code += [(_JEQ, number, "eperm", None) for number in denied]
    code += [
        (_JEQ, _CLONE3, "enosys", None),
        (_JEQ, numbers["clone"], "clone", None),
        (_RET, _ALLOW, None, None),
        ("label", "clone"),
        (_LD_W_ABS, 16, None, None),  # low 32 bits of args[0]: clone's flags
        (_JSET, _NAMESPACE_FLAGS, "eperm", None),
        (_RET, _ALLOW, None, None),
        ("label", "eperm"),
        (_RET, _ERRNO | errno.EPERM, None, None),
        ("label", "enosys"),
        (_RET, _ERRNO | errno.ENOSYS, None, None),
        ("label", "kill"),
        (_RET, _KILL_PROCESS, None, None),
    ]
    return _assemble(code)


class _Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install() -> bool:
    """Filter this process and all it starts from now on; False where the architecture is
    not known (the sandbox then relies on its other layers)."""
    machine = os.uname().machine
    if machine not in _ARCHES:
        return False
    filters = ctypes.create_string_buffer(program(machine))
    fprog = _Program(len(filters.raw) // 8, ctypes.addressof(filters))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_SECCOMP, _SECCOMP_MODE_FILTER, ctypes.byref(fprog), 0, 0) != 0:
        error = ctypes.get_errno()
        raise OSError(error, f"prctl(PR_SET_SECCOMP): {os.strerror(error)}")
    return True
