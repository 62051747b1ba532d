"""Keeping numba's on-disk cache of the compiled density in step with its sources.

numba caches each compiled function (``cache=True``) under the name of its own
source file and invalidates the entry when that file changes, but not when a
function it calls from another file changes: after an edit of
:mod:`mixedfit.fast.rowlik` or of the buffer's slots (:mod:`mixedfit.fast.buffer`),
the cached callbacks would still run the old kernel, reading the buffer with the old
slots. :func:`refresh` removes the cached machine code of this package whenever any
of its sources differ from those it was compiled from (a hash of all of them is kept
next to the cache); every module that compiles with numba calls it before its first
definition.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

__all__ = ["refresh"]

_STAMP = "mixedfit-fast-sources.sha256"
_done = False


def _sources() -> list[Path]:
    return sorted(Path(__file__).parent.glob("*.py"))


def _placeholder() -> None:
    """Stands for a function of each source: numba's locators read its first line number
    (a locator given no function fails, and no folder would be found)."""


def _cache_dirs(sources: list[Path]) -> set[Path]:
    """The folders where numba keeps (or would keep) this package's cache: the first of
    its locators that accepts each source, as numba itself chooses."""
    from numba.core import caching  # deferred: numba loads only with the compiled modules

    dirs: set[Path] = set()
    for path in sources:
        for cls in caching.CacheImpl._locator_classes:
            try:
                loc = cls.from_function(_placeholder, str(path))
                if loc is None:
                    continue
                loc.ensure_cache_path()
            except Exception:  # noqa: BLE001 - a locator that does not apply here
                continue
            dirs.add(Path(loc.get_cache_path()))
            break
    return dirs


def refresh() -> None:
    """Drop this package's cached machine code if any of its sources changed since it was
    compiled (once per process)."""
    global _done
    if _done:
        return
    _done = True
    sources = _sources()
    digest = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()
    stems = {p.stem for p in sources}
    for folder in _cache_dirs(sources):
        stamp = folder / _STAMP
        try:
            if stamp.exists() and stamp.read_text().strip() == digest:
                continue
            for entry in folder.iterdir():
                if entry.suffix in (".nbi", ".nbc") and entry.name.split(".")[0] in stems:
                    entry.unlink(missing_ok=True)
            stamp.write_text(digest)
        except OSError:  # a read-only cache: numba recompiles in memory as needed
            continue
