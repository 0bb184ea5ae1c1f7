"""Ephemeral storage (`/tmp`): a private ext4 file system per environment, in a sparse
image on the host's disk, sized to the function's EphemeralStorage.

Disk-backed like Lambda's /tmp: what a function keeps there does not count against its
MemorySize (the page cache is written back and reclaimed), filling it gives ENOSPC, and it
lives exactly as long as its environment.

`mkfs` runs once per size: the formatted image is kept as a template, and each disk is a
copy of it (a reflink where the file system can, else only its few hundred KB of data;
the rest stays a hole). The copy is bound to a loop device with one ioctl, then unlinked:
the loop device holds it. Its file system is mounted with the kernel's new mount API as a
detached mount, attached nowhere until the agent moves it onto the sandbox's /tmp, so no
host namespace ever shows it and a crash of lamina cannot leave a mount behind: when the
environment's namespace and lamina's fd are gone, the mount goes, the loop device clears
itself and the space is freed. Where disks cannot be made (no mkfs.ext4, no loop devices),
`/tmp` falls back to a tmpfs of the same size, whose pages do count against memory.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import os
import shutil
import subprocess
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from .isolation import loop, mounts

DEFAULT_SIZE_MB = 512
# No journal (nothing here must survive a crash), no reserved blocks, one inode per 64 KB;
# inode tables zeroed now (as holes), so no mount starts a background thread to zero them.
_MKFS = ("mkfs.ext4", "-F", "-q", "-m", "0", "-i", "65536", "-O", "^has_journal", "-E",
         "nodiscard,lazy_itable_init=0")
_FICLONE = 0x40049409
_NO_REFLINK = frozenset({errno.EOPNOTSUPP, errno.ENOTTY, errno.EXDEV, errno.EINVAL, errno.ENOSYS})
_WORKERS = 2  # disks of a burst are made on more than one core


def image_size_mb(size_mb: int) -> int:
    """The image holding `size_mb` of files: ext4's own metadata takes about 2.5% more."""
    return size_mb + size_mb // 40 + 2


class ScratchMaker:
    """Makes scratch disks on worker threads, from one template image per size."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._threads = ThreadPoolExecutor(max_workers=_WORKERS, thread_name_prefix="lamina-scratch")
        self._templates: dict[int, Path] = {}
        self._templates_lock = threading.Lock()

    def submit(self, size_mb: int) -> Future[ScratchDisk]:
        return self._threads.submit(self._create, size_mb)

    async def make(self, size_mb: int) -> ScratchDisk:
        """A disk, made off the event loop. Cancelled, the disk being made is closed once
        it is, rather than held by an fd nobody has until lamina exits."""
        future = self.submit(size_mb)
        try:
            return await asyncio.wrap_future(future)
        except asyncio.CancelledError:
            future.add_done_callback(_close_unclaimed)
            raise

    def _create(self, size_mb: int) -> ScratchDisk:
        return ScratchDisk.create(self._template(size_mb), self.directory, size_mb)

    def _template(self, size_mb: int) -> Path:
        with self._templates_lock:  # one mkfs per size, whoever asks first
            template = self._templates.get(size_mb)
            if template is None:
                template = _make_template(self.directory, size_mb)
                self._templates[size_mb] = template
            return template

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)


class ScratchDisk:
    """A detached mount of a fresh file system, ready to be attached at /tmp."""

    def __init__(self, fd: int, size_mb: int) -> None:
        self.fd = fd
        self.size_mb = size_mb

    @classmethod
    def create(cls, template: Path, directory: Path, size_mb: int) -> ScratchDisk:
        """Blocking (about a millisecond): run it in a thread."""
        image = directory / f"{uuid.uuid4().hex}.img"
        try:
            _copy_sparse(template, image)
            device = loop.attach(image)
        finally:
            image.unlink(missing_ok=True)
        try:
            return cls(mounts.detached_ext4(device.path), size_mb)
        finally:
            device.close()  # the mount holds the device now; without one it clears itself

    def take(self) -> int:
        """Hand the mount over (to be sent to the agent); the caller closes it."""
        fd, self.fd = self.fd, -1
        return fd

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def _close_unclaimed(future: Future[ScratchDisk]) -> None:
    if not future.cancelled() and future.exception() is None:
        future.result().close()


def _make_template(directory: Path, size_mb: int) -> Path:
    """A formatted image of `size_mb` whose root is world-writable and sticky, like /tmp."""
    directory.mkdir(parents=True, exist_ok=True)
    template = directory / f"template-{size_mb}.img"
    building = directory / f"template-{size_mb}.{uuid.uuid4().hex}.partial"
    try:
        with open(building, "wb") as f:
            f.truncate(image_size_mb(size_mb) << 20)
        done = subprocess.run([*_MKFS, str(building)], capture_output=True, timeout=60)
        if done.returncode != 0:
            raise OSError(f"mkfs.ext4 failed: {done.stderr.decode(errors='replace').strip()}")
        device = loop.attach(building)
        try:
            mount = mounts.detached_ext4(device.path)
        finally:
            device.close()
        try:
            root = os.open(".", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC, dir_fd=mount)
            try:
                os.fchmod(root, 0o1777)
            finally:
                os.close(root)
        finally:
            os.close(mount)  # unmounted here, written back to the image
        os.replace(building, template)
    finally:
        building.unlink(missing_ok=True)
    return template


def _copy_sparse(source: Path, target: Path) -> None:
    """`target` as a copy of `source` sharing its blocks (reflink) where the file system
    can, else with only its data extents written and its holes left as holes."""
    with open(source, "rb") as src, open(target, "xb") as dst:
        try:
            fcntl.ioctl(dst.fileno(), _FICLONE, src.fileno())
            return
        except OSError as error:
            if error.errno not in _NO_REFLINK:
                raise
        size = os.fstat(src.fileno()).st_size
        dst.truncate(size)
        offset = 0
        while offset < size:
            try:
                start = os.lseek(src.fileno(), offset, os.SEEK_DATA)
            except OSError as error:
                if error.errno == errno.ENXIO:  # only a hole is left
                    return
                raise
            end = os.lseek(src.fileno(), start, os.SEEK_HOLE)
            position = start
            while position < end:
                copied = os.copy_file_range(src.fileno(), dst.fileno(), end - position, position, position)
                if copied == 0:
                    raise OSError(errno.EIO, f"short copy of {source}")
                position += copied
            offset = end


def clear(directory: Path) -> None:
    """Remove the images a crashed lamina left in `directory` (the templates included:
    they are made again when first needed)."""
    shutil.rmtree(directory, ignore_errors=True)


def unsupported_reason(maker: ScratchMaker) -> str | None:
    """Why scratch disks cannot be made here (then /tmp is a tmpfs), or None."""
    if shutil.which("mkfs.ext4") is None:
        return "mkfs.ext4 is not installed"
    reason = loop.unsupported_reason()
    if reason:
        return reason
    try:  # also makes the template of the usual size, before the first environment needs it
        maker.submit(DEFAULT_SIZE_MB).result().close()
    except Exception as error:  # OSError from mkfs, the loop device or the mount API
        return str(error)
    return None
