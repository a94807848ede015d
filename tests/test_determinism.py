"""Determinism: the same inputs and options give byte-identical output files.

``cselink link``, ``cselink dedupe`` and ``cselink synth`` run twice, each time in its
own fresh folder with its own copy of the inputs (so no path, folder name or file time
can leak into an output), once in-process and once in a new interpreter with another
string-hash seed, and every file written is compared byte for byte. An audit
record (``*.audit.json``) is compared without its ``run`` part (start time, timings).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from cselink.audit import audit_inputs, build_audit, stable_part
from cselink.cli import main
from cselink.config import Settings
from cselink.ingest import Source
from cselink.pipeline import Linker
from cselink.synthetic import SynthConfig, generate

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Synthetic canonical files, a file with bad rows and a fast settings file, in one folder."""
    folder = tmp_path_factory.mktemp("determinism")
    generate(SynthConfig.preset("standard", people=160, seed=7), folder / "synth")
    out = folder / "inputs"
    out.mkdir()
    for name in ("education", "health", "police"):
        shutil.copy(folder / "synth" / "canonical" / f"{name}.csv", out / f"{name}.csv")
    bad = pd.read_csv(out / "education.csv", dtype=str, keep_default_na=False).head(80)
    bad.loc[1, "record_id"] = bad.loc[0, "record_id"]  # kept, as 'ID (row N)'
    bad.loc[3, "record_id"] = ""  # rejected
    bad.loc[2, "dob"] = "not a date"
    bad.to_csv(out / "bad.csv", index=False)
    (out / "fast.toml").write_text("u_sample_pairs = 5000\n", encoding="utf-8")
    return out


def files_of(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` by relative path; audits without their ``run`` part."""
    out = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        if path.name.endswith(".audit.json"):
            data = json.dumps(stable_part(json.loads(data)), sort_keys=True).encode()
        out[path.relative_to(folder).as_posix()] = data
    return out


def run_twice(inputs: Path, tmp_path: Path, argv: list[str]) -> tuple[dict, dict]:
    """Run ``argv`` (``{inp}``/``{out}`` filled in) in two fresh folders; their outputs.

    The first run is in-process, the second a new interpreter with another string-hash
    seed, so an output that depends on set or dict order of strings differs.
    """
    results = []
    for run in ("first", "second"):
        src = tmp_path / run / "in"
        shutil.copytree(inputs, src)
        out = tmp_path / run / "out"
        out.mkdir()
        filled = [a.format(inp=src, out=out) for a in argv]
        if run == "first":
            assert main(filled) == 0, filled
        else:
            run_elsewhere(filled, tmp_path / run)
        results.append(files_of(out))
    return results[0], results[1]


def run_elsewhere(argv: list[str], cwd: Path) -> None:
    """Run the CLI in a new interpreter (this checkout's cselink, another hash seed)."""
    env = {
        **os.environ,
        "PYTHONHASHSEED": "20240611",
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "cselink", *argv], env=env, cwd=cwd, capture_output=True,
        text=True, timeout=300, check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]


def assert_same(first: dict[str, bytes], second: dict[str, bytes]) -> None:
    assert sorted(first) == sorted(second)
    differ = [name for name in first if first[name] != second[name]]
    assert not differ, f"outputs differ between identical runs: {differ}"


def test_link_is_byte_identical(inputs: Path, tmp_path: Path) -> None:
    first, second = run_twice(inputs, tmp_path, [
        "link", "{inp}/bad.csv", "{inp}/health.csv", "--out", "{out}/links.csv",
        "--threshold", "0", "--settings", "{inp}/fast.toml", "--save-model",
        "{out}/model.json", "-q",
    ])
    assert {"links.csv", "links.rejects.csv", "model.json"} <= set(first)
    assert first["links.csv"].count(b"\n") > 5
    assert_same(first, second)


def test_dedupe_is_byte_identical(inputs: Path, tmp_path: Path) -> None:
    first, second = run_twice(inputs, tmp_path, [
        "dedupe", "{inp}/education.csv", "{inp}/police.csv", "{inp}/bad.csv", "--out",
        "{out}/clusters.csv", "--pairs-out", "{out}/pairs.parquet", "--settings",
        "{inp}/fast.toml", "--save-model", "{out}/model.json", "-q",
    ])
    assert {"clusters.csv", "clusters.rejects.csv", "pairs.parquet", "model.json"} <= set(first)
    clusters = pd.read_csv(tmp_path / "first" / "out" / "clusters.csv")
    assert clusters["cluster_id"].nunique() < len(clusters)  # some records were linked
    assert_same(first, second)


def test_synth_is_byte_identical(tmp_path: Path) -> None:
    runs = []
    for run, seed in (("a", 3), ("b", 3), ("c", 4)):
        out = tmp_path / run
        argv = ["synth", "--people", "150", "--seed", str(seed), "--out", str(out), "-q"]
        if run == "b":
            run_elsewhere(argv, tmp_path)
        else:
            assert main(argv) == 0
        runs.append(files_of(out))
    assert len(runs[0]) >= 20
    assert_same(runs[0], runs[1])
    # The comparison can tell: another seed changes the files.
    assert runs[2]["canonical/education.csv"] != runs[0]["canonical/education.csv"]


def test_audit_is_identical_but_for_its_run_part(inputs: Path, tmp_path: Path) -> None:
    audits = []
    for run in ("first", "second"):
        src = tmp_path / run
        shutil.copytree(inputs, src)
        sources = [Source("education", src / "education.csv"), Source("bad", src / "bad.csv")]
        settings = Settings.from_toml(src / "fast.toml").with_(link_type="dedupe")
        with Linker(sources, settings=settings) as linker:
            linker.cluster(0.5)
            audits.append(build_audit(
                command="dedupe",
                argv=["dedupe", str(src / "education.csv"), str(src / "bad.csv"), "--out",
                      str(src / "c.csv")],
                inputs=audit_inputs(sources, src / "fast.toml"),
                ingest=linker.ingest_report, model=linker.model,
                thresholds={"threshold": 0.5}, timings=linker.timings,
            ))
    first, second = (json.dumps(stable_part(a), sort_keys=True) for a in audits)
    assert first == second
    assert audits[0]["rows"]["rejected"] >= 1
