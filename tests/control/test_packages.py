"""Extracting a deployment package while another extraction of the same content finishes."""

from __future__ import annotations

from pathlib import Path

from helpers import make_zip
from lamina.control.packages import CodeCache
from lamina.store.blobs import BlobStore


class _RacingBlobs(BlobStore):
    """Lets a rival extraction of the same blob finish while the first one is staging:
    what two deploys of the same code at once do."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.cache: CodeCache | None = None
        self.raced = False

    def path(self, sha256_hex: str) -> Path:
        if self.cache is not None and not self.raced:
            self.raced = True
            self.cache.extract(sha256_hex)
        return super().path(sha256_hex)


def test_losing_the_extraction_race_returns_the_winners_tree(tmp_path: Path) -> None:
    blobs = _RacingBlobs(tmp_path / "blobs")
    blob = blobs.put(make_zip({"handler.py": "def handler(e, c):\n    return 1\n", "pkg/mod.py": "X = 1\n"}))
    cache = CodeCache(tmp_path / "code", blobs)
    blobs.cache = cache

    target = cache.extract(blob)

    assert blobs.raced
    assert (target / "handler.py").read_text().startswith("def handler")
    assert (target / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert [p.name for p in (tmp_path / "code").iterdir()] == [blob]  # no staging left behind
