"""A screenshot of the pre-panel check report that ``cselink demo`` writes.

Run ``python -m benchmarks.screenshot`` (options: ``--out``, ``--width``, ``--height``,
``--panel-date``, ``--chromium``). It runs ``cselink demo`` on the shipped synthetic sample
into a temporary folder, with a fixed panel date so the report is the same each time, and
renders its ``report.html`` with headless Chromium (``--screenshot``, as
``tests/test_check.py`` does) into ``benchmarks/results/report.png``. The demo's folder,
which holds the synthetic records, is deleted afterwards.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from benchmarks.tasks import RESULTS_DIR
from cselink.cli import main as cselink_main

#: The panel date of the demo run (the report shows "turning 18" relative to it).
PANEL_DATE = "2026-11-01"

#: Where Chromium is looked for, in order, when ``--chromium`` is not given.
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "chrome")


def find_chromium() -> str | None:
    """The path of a Chromium (or Chrome) executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        found = shutil.which(name)
        if found:
            return found
    return None


def render(html: Path, png: Path, *, chromium: str, width: int = 1200,
           height: int = 2000, timeout: float = 120.0) -> Path:
    """Render ``html`` to ``png`` with headless Chromium (no network, a throw-away profile).

    Raises:
        RuntimeError: Chromium wrote no image.
    """
    png.parent.mkdir(parents=True, exist_ok=True)
    png.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="cselink-chromium-") as profile:
        subprocess.run(
            [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
             "--disable-background-networking", "--no-first-run",
             f"--user-data-dir={profile}", f"--screenshot={png}",
             f"--window-size={width},{height}", html.resolve().as_uri()],
            capture_output=True, timeout=timeout, check=False,
        )
    if not png.is_file() or png.stat().st_size == 0:
        raise RuntimeError(f"chromium wrote no screenshot of {html}")
    return png


def screenshot_demo(png: Path, *, chromium: str, panel_date: str = PANEL_DATE,
                    width: int = 1200, height: int = 2000) -> Path:
    """Run ``cselink demo`` into a temporary folder and screenshot its report to ``png``."""
    with tempfile.TemporaryDirectory(prefix="cselink-demo-") as tmp:
        out = Path(tmp) / "demo"
        code = cselink_main(["demo", "--out", str(out), "--panel-date", panel_date, "--quiet"])
        if code != 0:
            raise RuntimeError(f"cselink demo exited with {code}")
        return render(out / "report.html", png, chromium=chromium, width=width, height=height)


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.screenshot [--out PNG]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=RESULTS_DIR / "report.png")
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=2000)
    parser.add_argument("--panel-date", default=PANEL_DATE)
    parser.add_argument("--chromium", default=None, help="path of the Chromium executable")
    opts = parser.parse_args(argv)
    chromium = opts.chromium or find_chromium()
    if chromium is None:
        print("chromium not found; install it or pass --chromium", file=sys.stderr)
        return 2
    png = screenshot_demo(opts.out, chromium=chromium, panel_date=opts.panel_date,
                          width=opts.width, height=opts.height)
    print(f"wrote {png}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
