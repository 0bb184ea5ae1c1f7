"""Deployment packages: checking uploaded zips and extracting them once per content."""

from __future__ import annotations

import base64
import errno
import hashlib
import io
import os
import shutil
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lamina.errors import InvalidParameterValueException
from lamina.store.blobs import BlobStore

ZIPPED_LIMIT = 52_428_800
TOTAL_CODE_SIZE_LIMIT = 80_530_636_800  # per account and region
UNZIPPED_LIMIT = 262_144_000
_UNZIP_FAILED = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class CodePackage:
    blob: str  # sha256 hex of the zip: its name in the blob store
    size: int
    unzipped_size: int

    @property
    def code_sha256(self) -> str:
        """AWS reports the base64 (not hex) sha256 of the zip."""
        return base64.b64encode(bytes.fromhex(self.blob)).decode()

    def to_doc(self) -> dict:
        return {"blob": self.blob, "size": self.size, "unzipped_size": self.unzipped_size}

    @classmethod
    def from_doc(cls, doc: dict) -> CodePackage:
        return cls(doc["blob"], doc["size"], doc["unzipped_size"])


def _member_path(info: zipfile.ZipInfo) -> PurePosixPath | None:
    """The entry's relative path, or None for entries that would land outside the root."""
    path = PurePosixPath(info.filename)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        return None
    return path


def unzipped_size(data: bytes) -> int:
    """Check that `data` is a zip we can extract and return its extracted size."""
    if len(data) > ZIPPED_LIMIT:
        raise InvalidParameterValueException(f"Zipped size must be smaller than {ZIPPED_LIMIT} bytes")
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            if any(_member_path(i) is None for i in infos):
                raise InvalidParameterValueException(_UNZIP_FAILED)
            # Sizes from the headers first, so a zip bomb is refused before it is inflated;
            # extraction never produces more than these declared sizes.
            size = sum(i.file_size for i in infos)
            if size > UNZIPPED_LIMIT:
                raise InvalidParameterValueException(
                    f"Unzipped size must be smaller than {UNZIPPED_LIMIT} bytes")
            if archive.testzip() is not None:
                raise InvalidParameterValueException(_UNZIP_FAILED)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, EOFError, ValueError, OSError):
        raise InvalidParameterValueException(_UNZIP_FAILED) from None
    return size


class CodeCache:
    """Extracted packages, one read-only directory per zip content, shared by every function
    version (and later every layer) that uses it."""

    def __init__(self, root: Path, blobs: BlobStore) -> None:
        self.root = root
        self.blobs = blobs
        root.mkdir(parents=True, exist_ok=True)

    def path(self, blob: str) -> Path:
        return self.root / blob

    def extract(self, blob: str) -> Path:
        """Idempotent; a half-written extraction is never visible under the final name."""
        return self._extract(self.path(blob), (blob,))

    def layers_path(self, blobs: tuple[str, ...]) -> Path:
        return self.root / ("opt-" + hashlib.sha256("/".join(blobs).encode()).hexdigest())

    def extract_layers(self, blobs: tuple[str, ...]) -> Path:
        """One merged `/opt` tree per ordered set of layers: later layers overwrite earlier
        files. Built once and shared by every environment using that set."""
        return self._extract(self.layers_path(blobs), blobs)

    def _extract(self, target: Path, blobs: tuple[str, ...]) -> Path:
        if target.is_dir():
            return target
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=".extract-"))
        try:
            for blob in blobs:
                with zipfile.ZipFile(self.blobs.path(blob)) as archive:
                    for info in archive.infolist():
                        _extract_member(archive, info, staging)
            os.chmod(staging, 0o755)
            os.rename(staging, target)
        except OSError as error:
            shutil.rmtree(staging, ignore_errors=True)
            # Another extraction of the same content won the race: renaming onto its
            # non-empty directory fails with ENOTEMPTY (EEXIST on some filesystems).
            if error.errno not in (errno.EEXIST, errno.ENOTEMPTY) or not target.is_dir():
                raise
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def remove(self, blob: str) -> None:
        shutil.rmtree(self.path(blob), ignore_errors=True)

    def wipe(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)
        self.root.mkdir(parents=True, exist_ok=True)


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, root: Path) -> None:
    relative = _member_path(info)
    if relative is None:
        return
    destination = root.joinpath(*relative.parts)
    # Never write through a symlink an earlier entry created.
    parent = destination.parent
    if not parent.resolve().is_relative_to(root.resolve()):
        return
    mode = info.external_attr >> 16
    if info.is_dir():
        destination.mkdir(mode=0o755, parents=True, exist_ok=True)
        return
    parent.mkdir(mode=0o755, parents=True, exist_ok=True)
    if destination.is_symlink() or destination.is_file():
        destination.unlink()  # a later layer replaces an earlier one's file
    if stat.S_ISLNK(mode):
        os.symlink(archive.read(info).decode(), destination)
        return
    with archive.open(info) as source, open(destination, "wb") as sink:
        shutil.copyfileobj(source, sink, 1 << 20)
    # Keep the executable bit (a `bootstrap` needs it); everything is readable by the sandbox user.
    os.chmod(destination, 0o755 if mode & 0o111 else 0o644)
