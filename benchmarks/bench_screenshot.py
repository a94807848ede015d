"""Smoke test of the report screenshot step (``python -m benchmarks.screenshot``).

Renders a small page with the same headless Chromium call the script makes, so the step
cannot rot; the full run (``cselink demo`` then the screenshot) is the script itself.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks import screenshot

CHROMIUM = screenshot.find_chromium()


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_render_writes_a_png(tmp_path: Path) -> None:
    assert CHROMIUM is not None
    html = tmp_path / "report.html"
    html.write_text("<!doctype html><title>t</title><h1>Pre-panel check</h1>"
                    "<table><tr><td>known</td></tr></table>", encoding="utf-8")
    png = screenshot.render(html, tmp_path / "out" / "report.png", chromium=CHROMIUM,
                            width=400, height=300)
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_main_says_when_chromium_is_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty PATH: no chromium on it
    assert screenshot.main(["--out", str(tmp_path / "report.png")]) == 2
    assert not (tmp_path / "report.png").exists()
    assert "chromium" in capsys.readouterr().err
