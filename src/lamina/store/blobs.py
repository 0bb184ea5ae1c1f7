"""Content-addressed blob directory: each blob is stored once, named by its sha256."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

SET_ASIDE_PREFIX = ".collected-"


class BlobStore:
    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def path(self, sha256_hex: str) -> Path:
        return self.root / sha256_hex

    def exists(self, sha256_hex: str) -> bool:
        return self.path(sha256_hex).is_file()

    def put(self, data: bytes) -> str:
        """Store `data` durably (fsync, then atomic rename) and return its sha256 hex."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file():
            return digest
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, target)
        except BaseException:
            os.unlink(tmp)
            raise
        return digest

    def read(self, sha256_hex: str) -> bytes:
        return self.path(sha256_hex).read_bytes()

    def delete(self, sha256_hex: str) -> None:
        self.path(sha256_hex).unlink(missing_ok=True)

    def names(self) -> list[str]:
        """Every stored blob (a directory scan: call it off the event loop)."""
        return [entry.name for entry in os.scandir(self.root) if not entry.name.startswith(".")]

    def set_aside(self, sha256_hex: str) -> None:
        """Take a blob out of the store at once (a rename); `purge_set_aside` frees its space."""
        try:
            os.replace(self.path(sha256_hex), self.root / f"{SET_ASIDE_PREFIX}{sha256_hex}")
        except FileNotFoundError:
            pass

    def purge_set_aside(self) -> None:
        for entry in os.scandir(self.root):
            if entry.name.startswith(SET_ASIDE_PREFIX):
                Path(entry.path).unlink(missing_ok=True)

    def wipe(self) -> None:
        for entry in self.root.iterdir():
            entry.unlink(missing_ok=True)
