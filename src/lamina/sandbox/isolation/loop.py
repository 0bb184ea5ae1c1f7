"""Loop devices, attached with one ioctl and no `losetup` or `mount` process.

A free device comes from /dev/loop-control (which adds one when none is free); the image
is bound to it with `LOOP_CONFIGURE` (Linux >= 5.8) and the `AUTOCLEAR` flag, so the
device lets go of the image by itself when its last user (the file system mounted from it)
goes away, even when lamina dies.
"""

from __future__ import annotations

import errno
import fcntl
import os
import struct
from pathlib import Path

_LOOP_CONTROL = "/dev/loop-control"
_LOOP_CTL_GET_FREE = 0x4C82
_LOOP_CONFIGURE = 0x4C0A
_LO_FLAGS_AUTOCLEAR = 4
_LO_NAME_SIZE = 64
# struct loop_config: fd, block_size, then struct loop_info64 (device, inode, rdevice,
# offset, sizelimit; number, encrypt_type, encrypt_key_size, flags; file_name,
# crypt_name, encrypt_key; init[2]), then 8 reserved u64.
_LOOP_CONFIG = struct.Struct("=II QQQQQ IIII 64s64s32s 2Q 8Q")
_ATTEMPTS = 32  # another process may take the free device between asking and binding


class LoopDevice:
    """An open loop device bound to an image; `close` once something else holds it (a
    mount), and the device is released when that does."""

    def __init__(self, fd: int, path: str) -> None:
        self.fd = fd
        self.path = path

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _config(image_fd: int, image: Path) -> bytes:
    name = os.fsencode(image)[:_LO_NAME_SIZE - 1]
    return _LOOP_CONFIG.pack(image_fd, 0, 0, 0, 0, 0, 0, 0, 0, 0, _LO_FLAGS_AUTOCLEAR, name, b"", b"",
                             0, 0, *([0] * 8))


def attach(image: Path) -> LoopDevice:
    """Bind `image` (read-write) to a free loop device."""
    image_fd = os.open(image, os.O_RDWR | os.O_CLOEXEC)
    try:
        config = _config(image_fd, image)
        control = os.open(_LOOP_CONTROL, os.O_RDWR | os.O_CLOEXEC)
        try:
            for _ in range(_ATTEMPTS):
                path = f"/dev/loop{fcntl.ioctl(control, _LOOP_CTL_GET_FREE)}"
                try:
                    device = os.open(path, os.O_RDWR | os.O_CLOEXEC)
                except FileNotFoundError:  # the node is not there yet (udev is slow, or absent)
                    continue
                try:
                    fcntl.ioctl(device, _LOOP_CONFIGURE, config)
                except OSError as error:
                    os.close(device)
                    if error.errno == errno.EBUSY:
                        continue  # taken meanwhile by someone else
                    raise OSError(error.errno, f"LOOP_CONFIGURE {path}: {os.strerror(error.errno)}") from None
                return LoopDevice(device, path)
        finally:
            os.close(control)
        raise OSError(errno.EBUSY, f"no free loop device after {_ATTEMPTS} attempts")
    finally:
        os.close(image_fd)  # the device holds its own reference to the image


def unsupported_reason() -> str | None:
    if not os.path.exists(_LOOP_CONTROL):
        return f"{_LOOP_CONTROL} does not exist"
    return None
