"""numba's cache of the compiled density is dropped when any of its sources changes."""

from __future__ import annotations

from pathlib import Path

import pytest

from mixedfit.fast import cache


def test_cache_folder_of_the_package_is_found() -> None:
    # the folder numba writes mixedfit.fast's machine code to (a locator needs a
    # function's first line: with none, no folder was found and nothing was ever dropped)
    dirs = cache._cache_dirs(cache._sources())
    assert dirs, "no cache folder found: refresh() would never drop stale machine code"
    assert all(d.is_dir() for d in dirs)


def test_refresh_drops_stale_entries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = tmp_path / "kernelx.py"
    src.write_text("x = 1\n")
    other = tmp_path / "callbacksx.py"
    other.write_text("y = 1\n")
    folder = tmp_path / "__pycache__"
    folder.mkdir()
    monkeypatch.setattr(cache, "_sources", lambda: sorted(tmp_path.glob("*.py")))
    monkeypatch.setattr(cache, "_cache_dirs", lambda sources: {folder})

    def entries() -> set[str]:
        return {p.name for p in folder.iterdir() if p.suffix in (".nbi", ".nbc")}

    def run() -> None:
        monkeypatch.setattr(cache, "_done", False)
        cache.refresh()

    made = {"callbacksx.logp_cfunc-32.py311.nbi", "callbacksx.logp_cfunc-32.py311.1.nbc",
            "kernelx.f-3.py311.nbi"}
    for name in made | {"unrelated.g-1.py311.nbi"}:
        (folder / name).write_text("")
    run()  # first run: no stamp, so the entries of the package's sources go
    assert entries() == {"unrelated.g-1.py311.nbi"}
    for name in made:
        (folder / name).write_text("")
    run()  # sources unchanged: the cache stays
    assert entries() == made | {"unrelated.g-1.py311.nbi"}
    src.write_text("x = 2\n")  # one source changed: every entry of the package goes,
    run()  # callbacksx's too, although its own file did not change
    assert entries() == {"unrelated.g-1.py311.nbi"}
