"""The README's examples run: every ```python block, and every ```bash block made only of
``cselink`` commands (run in-process through ``cli.main``), in a temporary folder holding
the synthetic sample's canonical files (police.csv, education.csv, health.csv)."""

from __future__ import annotations

import re
import shlex
import shutil
from pathlib import Path

import pytest

from cselink.cli import main

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"^```{lang}\n(.*?)^```", README, flags=re.S | re.M)


def _cselink_lines(block: str) -> list[str] | None:
    """The commands of a block made only of runnable ``cselink`` commands, else None."""
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("#")]
    if lines and all(ln.startswith("cselink ") and "[" not in ln and "..." not in ln
                     for ln in lines):
        return lines
    return None


PYTHON = _blocks("python")
COMMANDS = [lines for b in _blocks("bash") if (lines := _cselink_lines(b))]


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("police", "education", "health"):
        shutil.copy(ROOT / "data" / "synthetic" / "canonical" / f"{name}.csv", tmp_path)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_readme_has_examples_to_run() -> None:
    assert len(PYTHON) >= 3 and COMMANDS


@pytest.mark.parametrize("index", range(len(PYTHON)))
def test_python_block_runs(folder: Path, index: int) -> None:
    code = compile(PYTHON[index], f"README.md python block {index + 1}", "exec")
    exec(code, {"__name__": "__readme__"})  # noqa: S102 - the README's own example


@pytest.mark.parametrize("index", range(len(COMMANDS)))
def test_command_block_runs(folder: Path, index: int) -> None:
    for line in COMMANDS[index]:
        assert main(shlex.split(line)[1:]) == 0, line
