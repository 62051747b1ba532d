"""Screenshots of the built site, opened from disk, into docs/images/screenshots/.

Run from the repository root after building the site (``make docs-outputs`` does
both)::

    python docs/screenshots.py                    # build/site -> docs/images/screenshots
    python docs/screenshots.py --site build/site --width 1000 --out /tmp/shots

Each page is taken by headless Chromium (Debian's ``chromium`` package) in a window
1200 px wide (a width at which Material alone hides the navigation), from a
``file://`` URL as a reader opening ``build/site/index.html`` gets it, and saved as
a 256-colour PNG. Without Chromium
the script says so and exits with status 0, so that the rest of
``make docs-outputs`` holds.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
OUT = DOCS / "images" / "screenshots"
MAX_BYTES = 400_000

#: screenshot name -> page of the site, and the height of the window: the top of
#: the page, down to its first tables (the notebook: to its first plot; headless
#: Chromium does not scroll to an anchor before it takes the picture)
PAGES = {
    "notebook-getting-started": ("notebooks/getting-started.html", 3300),
    "getting-started": ("getting-started.html", 1500),
    "results": ("results.html", 1300),
    "interpreting": ("interpreting.html", 900),
}


def chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if path := shutil.which(name):
            return path
    return None


def shoot(browser: str, url: str, path: Path, width: int, height: int) -> None:
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             f"--user-data-dir={profile}", "--force-device-scale-factor=1",
             "--virtual-time-budget=3000", f"--window-size={width},{height}",
             f"--screenshot={path}", url],
            check=True, capture_output=True, timeout=120)
    from PIL import Image

    with Image.open(path) as img:
        small = img.convert("RGB").quantize(colors=256, method=Image.Quantize.MEDIANCUT)
    small.save(path, optimize=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--site", type=Path, default=ROOT / "build" / "site")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, help="one height for every page")
    args = parser.parse_args(argv)
    browser = chromium()
    if browser is None:
        print("docs/screenshots.py: no chromium on PATH; screenshots left as they are "
              "(apt-get install chromium)")
        return 0
    if not (args.site / "index.html").exists():
        print(f"docs/screenshots.py: {args.site} has no index.html; build the site first "
              "(make docs)", file=sys.stderr)
        return 1
    args.out.mkdir(parents=True, exist_ok=True)
    for name, (page, height) in PAGES.items():
        url = (args.site / page).resolve().as_uri()
        path = args.out / f"{name}.png"
        shoot(browser, url, path, args.width, args.height or height)
        size = path.stat().st_size
        print(f"{path}: {size / 1000:.0f} kB ({url})")
        if size > MAX_BYTES:
            print(f"{path} is over {MAX_BYTES // 1000} kB", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
