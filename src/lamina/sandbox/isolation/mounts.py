"""Detached mounts of a function's code and layers (read-only) and of its /tmp disk, made
on the host side.

The kernel's new mount API (Linux >= 5.12 for `mount_setattr`) lets the worker clone a
directory tree into a mount that is attached nowhere and pass its fd into a running
sandbox, whose agent attaches it with `move_mount`. That is what lets an environment be
started before anyone knows which function it will run.
"""

from __future__ import annotations

import ctypes
import os
from pathlib import Path

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long

# Syscall numbers shared by every architecture (the post-5.0 unified table).
_OPEN_TREE, _FSOPEN, _FSCONFIG, _FSMOUNT, _MOUNT_SETATTR = 428, 430, 431, 432, 442
_AT_FDCWD = -100
_AT_EMPTY_PATH = 0x1000
_AT_RECURSIVE = 0x8000
_OPEN_TREE_CLONE = 1
_O_CLOEXEC = os.O_CLOEXEC
_FSOPEN_CLOEXEC = 1
_FSMOUNT_CLOEXEC = 1
_FSCONFIG_SET_STRING = 1
_FSCONFIG_CMD_CREATE = 6
_MOUNT_ATTR_RDONLY = 0x1
_MOUNT_ATTR_NOSUID = 0x2
_MOUNT_ATTR_NODEV = 0x4
_READ_ONLY = _MOUNT_ATTR_RDONLY | _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV


class _MountAttr(ctypes.Structure):
    _fields_ = [("attr_set", ctypes.c_uint64), ("attr_clr", ctypes.c_uint64),
                ("propagation", ctypes.c_uint64), ("userns_fd", ctypes.c_uint64)]


def _check(result: int, what: str) -> int:
    if result < 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{what}: {os.strerror(errno)}")
    return result


def _make_read_only(fd: int) -> None:
    attr = _MountAttr(_READ_ONLY, 0, 0, 0)
    _check(_libc.syscall(_MOUNT_SETATTR, fd, b"", _AT_EMPTY_PATH | _AT_RECURSIVE, ctypes.byref(attr),
                         ctypes.sizeof(attr)), "mount_setattr")


def detached_bind(path: Path) -> int:
    """A read-only, nosuid, nodev copy of the tree at `path`, attached nowhere."""
    fd = _check(_libc.syscall(_OPEN_TREE, _AT_FDCWD, os.fsencode(path),
                              _OPEN_TREE_CLONE | _O_CLOEXEC | _AT_RECURSIVE), f"open_tree {path}")
    try:
        _make_read_only(fd)
    except OSError:
        os.close(fd)
        raise
    return fd


def detached_ext4(device: str) -> int:
    """The ext4 file system on block device `device`, mounted (nosuid, nodev) but attached
    nowhere: it never appears in any mount namespace until the agent moves it onto /tmp,
    and it is gone when the last fd or namespace holding it is."""
    fs = _check(_libc.syscall(_FSOPEN, b"ext4", _FSOPEN_CLOEXEC), "fsopen ext4")
    try:
        _check(_libc.syscall(_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"source", device.encode(), 0),
               "fsconfig source")
        _check(_libc.syscall(_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0), f"mount ext4 from {device}")
        return _check(_libc.syscall(_FSMOUNT, fs, _FSMOUNT_CLOEXEC, _MOUNT_ATTR_NOSUID | _MOUNT_ATTR_NODEV),
                      "fsmount ext4")
    finally:
        os.close(fs)


def _escape(path: Path) -> bytes:
    return os.fsencode(path).replace(b"\\", b"\\\\").replace(b":", b"\\:").replace(b",", b"\\,")


def detached_layers(layers: tuple[Path, ...]) -> int:
    """The layers merged as Lambda extracts them into /opt: in order, a later layer's
    files over an earlier one's. One layer is a plain bind; several are a read-only
    overlay with the last layer on top."""
    if len(layers) == 1:
        return detached_bind(layers[0])
    fs = _check(_libc.syscall(_FSOPEN, b"overlay", _FSOPEN_CLOEXEC), "fsopen overlay")
    try:
        lower = b":".join(_escape(layer) for layer in reversed(layers))
        _check(_libc.syscall(_FSCONFIG, fs, _FSCONFIG_SET_STRING, b"lowerdir", lower, 0), "fsconfig lowerdir")
        _check(_libc.syscall(_FSCONFIG, fs, _FSCONFIG_CMD_CREATE, None, None, 0), "fsconfig create")
        return _check(_libc.syscall(_FSMOUNT, fs, _FSMOUNT_CLOEXEC, _READ_ONLY), "fsmount overlay")
    finally:
        os.close(fs)


def unsupported_reason() -> str | None:
    """Why detached mounts cannot be made here, or None when they can."""
    try:
        os.close(detached_bind(Path("/usr")))
    except OSError as error:
        return f"the kernel's mount API is not usable ({error})"
    return None
