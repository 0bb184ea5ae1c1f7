"""Ephemeral storage (`/tmp`): a private ext4 file system per environment, in a sparse
image on the host's disk, sized to the function's EphemeralStorage.

Disk-backed like Lambda's /tmp: what a function keeps there does not count against its
MemorySize (the page cache is written back and reclaimed), filling it gives ENOSPC, and it
lives exactly as long as its environment. The image file is unlinked as soon as it is
mounted: the loop device holds it, and when the environment's mount namespace goes away the
loop device is released and the space freed, whatever happens to lamina. Where images
cannot be made (no mkfs.ext4, no loop devices), `/tmp` falls back to a tmpfs of the same
size, whose pages do count against memory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

from .isolation import mounts

DEFAULT_SIZE_MB = 512
# No journal (nothing here must survive a crash), no reserved blocks, one inode per 64 KB.
_MKFS = ("mkfs.ext4", "-F", "-q", "-m", "0", "-i", "65536", "-O", "^has_journal", "-E",
         "nodiscard,lazy_itable_init=1")


def image_size_mb(size_mb: int) -> int:
    """The image holding `size_mb` of files: ext4's own metadata takes about 2.5% more."""
    return size_mb + size_mb // 40 + 2


class ScratchDisk:
    """A detached mount of a fresh file system, ready to be attached at /tmp."""

    def __init__(self, fd: int, size_mb: int) -> None:
        self.fd = fd
        self.size_mb = size_mb

    @classmethod
    def create(cls, directory: Path, size_mb: int) -> ScratchDisk:
        """Blocking (about 20 ms): run it in a thread."""
        directory.mkdir(parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        image, mountpoint = directory / f"{name}.img", directory / f"{name}.mnt"
        try:
            with open(image, "wb") as f:
                f.truncate(image_size_mb(size_mb) << 20)
            subprocess.run([*_MKFS, str(image)], check=True, capture_output=True, timeout=60)
            mountpoint.mkdir()
            subprocess.run(["mount", "-o", "loop,nosuid,nodev", str(image), str(mountpoint)], check=True,
                           capture_output=True, timeout=60)
            try:
                os.chmod(mountpoint, 0o1777)
                fd = mounts.detached_clone(mountpoint)
            finally:
                subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=60)
        except subprocess.CalledProcessError as error:
            raise OSError(f"{error.cmd[0]} failed: {error.stderr.decode(errors='replace').strip()}") from None
        finally:
            image.unlink(missing_ok=True)
            if mountpoint.exists():
                mountpoint.rmdir()
        return cls(fd, size_mb)

    def take(self) -> int:
        """Hand the mount over (to be sent to the agent); the caller closes it."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def clear(directory: Path) -> None:
    """Remove what a crashed lamina left in `directory`: a mount caught between being made
    and being detached, and its image."""
    if directory.exists():
        for mountpoint in directory.glob("*.mnt"):
            if os.path.ismount(mountpoint):
                subprocess.run(["umount", "-l", str(mountpoint)], capture_output=True, timeout=60)
    shutil.rmtree(directory, ignore_errors=True)


def unsupported_reason(directory: Path) -> str | None:
    """Why scratch disks cannot be made here (then /tmp is a tmpfs), or None."""
    if shutil.which("mkfs.ext4") is None or shutil.which("mount") is None:
        return "mkfs.ext4 or mount is not installed"
    try:
        ScratchDisk.create(directory, 16).close()
    except OSError as error:
        return str(error)
    return None
