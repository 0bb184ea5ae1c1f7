"""Ephemeral storage (`/tmp`): a private ext4 file system per environment, in a sparse
image on the host's disk, sized to the function's EphemeralStorage.

Disk-backed like Lambda's /tmp: what a function keeps there does not count against its
MemorySize (the page cache is written back and reclaimed), filling it gives ENOSPC, and it
lives exactly as long as its environment. The image file is unlinked as soon as it is
mounted: the loop device holds it, and when the environment's mount namespace goes away the
loop device is released and the space freed, whatever happens to lamina.

Disks are made on one dedicated thread that has a private mount namespace, so the mount
a disk is cloned from never appears in the host's namespace, not even for a moment: a crash
of lamina cannot leave one behind. Where images cannot be made (no mkfs.ext4, no loop
devices), `/tmp` falls back to a tmpfs of the same size, whose pages do count against memory.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .isolation import mounts

DEFAULT_SIZE_MB = 512
# No journal (nothing here must survive a crash), no reserved blocks, one inode per 64 KB.
_MKFS = ("mkfs.ext4", "-F", "-q", "-m", "0", "-i", "65536", "-O", "^has_journal", "-E",
         "nodiscard,lazy_itable_init=1")


def image_size_mb(size_mb: int) -> int:
    """The image holding `size_mb` of files: ext4's own metadata takes about 2.5% more."""
    return size_mb + size_mb // 40 + 2


_CLONE_NEWNS = 0x00020000
_MS_REC, _MS_PRIVATE = 0x4000, 1 << 18
_libc = ctypes.CDLL(None, use_errno=True)


def _enter_private_mount_namespace() -> None:
    """Runs on the scratch thread: from now on its mounts (and its children's) are its own."""
    if _libc.unshare(_CLONE_NEWNS) != 0 or \
            _libc.mount(None, b"/", None, ctypes.c_ulong(_MS_REC | _MS_PRIVATE), None) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"private mount namespace: {os.strerror(errno)}")


class ScratchMaker:
    """Makes scratch disks on its own thread, in its own mount namespace."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="lamina-scratch",
                                          initializer=_enter_private_mount_namespace)

    def submit(self, size_mb: int):
        return self._thread.submit(ScratchDisk.create, self.directory, size_mb)

    def close(self) -> None:
        self._thread.shutdown(wait=False, cancel_futures=True)


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


def unsupported_reason(maker: ScratchMaker) -> str | None:
    """Why scratch disks cannot be made here (then /tmp is a tmpfs), or None."""
    if shutil.which("mkfs.ext4") is None or shutil.which("mount") is None:
        return "mkfs.ext4 or mount is not installed"
    try:
        maker.submit(16).result().close()
    except Exception as error:  # OSError, or the thread's namespace could not be made
        return str(error)
    return None
