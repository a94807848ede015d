"""Memory bounded by default, a private spill folder, a clear error when a job does not fit,
and the audit's pair counts and peak memory (issue 15, points 2 and 4)."""

from __future__ import annotations

import gc
import json
import os
from pathlib import Path

import pandas as pd
import pytest

from cselink.cli import main
from cselink.config import Settings
from cselink.errors import ResourceLimitError
from cselink.pipeline import Linker
from cselink.resources import SPILL_PREFIX, default_memory_limit
from cselink.synthetic import SynthConfig, generate

#: The stages a Linker times (and names when one runs out of memory).
STAGES = {"ingest", "standardise", "profile", "blocking", "compare", "train", "score",
          "cluster", "explain"}


@pytest.fixture(scope="module")
def population(tmp_path_factory) -> list[Path]:
    """The canonical agency files of a small seeded population."""
    folder = tmp_path_factory.mktemp("population")
    generate(SynthConfig(people=600, seed=7, referrals=10), folder)
    return sorted((folder / "canonical").glob("*.csv"))


def _setting(linker: Linker, name: str) -> str:
    return str(linker.con.execute("SELECT current_setting(?)", [name]).fetchall()[0][0])


def _spill_folders() -> set[str]:
    import tempfile

    return {p.name for p in Path(tempfile.gettempdir()).glob(SPILL_PREFIX + "*")}


def test_default_limit_is_2_5gib_or_half_a_small_machine() -> None:
    assert default_memory_limit(64 * 2**30) == "2560MiB"
    assert default_memory_limit(4 * 2**30) == "2048MiB"
    assert default_memory_limit(8 * 2**30) == "2560MiB"
    assert default_memory_limit(2**30) == "512MiB"


def test_a_linker_is_bounded_by_default_and_spills_to_a_private_folder() -> None:
    frame = pd.DataFrame({"record_id": ["1", "2"], "forename": ["Jade", "Jayde"],
                          "surname": ["Brown", "Brown"], "dob": ["2010-03-04", "2010-03-04"]})
    before = _spill_folders()
    with Linker([frame], settings=Settings(link_type="dedupe")) as linker:
        # DuckDB reports the limit it set ("3.0 GiB"), never its own 80% of RAM.
        assert linker.limits.memory_limit == default_memory_limit()
        limit_mib = int(default_memory_limit().removesuffix("MiB"))
        reported = _setting(linker, "memory_limit")
        number, unit = reported.split()
        assert unit in {"MiB", "GiB"}
        assert abs(float(number) * (1024 if unit == "GiB" else 1) - limit_mib) < 1
        folder = linker.limits.temp_directory
        assert _setting(linker, "temp_directory") == str(folder)
        assert folder.is_dir() and folder.name.startswith(SPILL_PREFIX)
        assert folder.stat().st_mode & 0o777 == 0o700
        linker.cluster()
    assert not folder.exists()
    assert _spill_folders() <= before


def test_a_folder_the_user_gives_is_used_and_kept(tmp_path) -> None:
    frame = pd.DataFrame({"record_id": ["1"], "forename": ["Jade"], "surname": ["Brown"]})
    spill = tmp_path / "spill"
    spill.mkdir()
    with Linker([frame], settings=Settings(link_type="dedupe"), memory_limit="500MB",
                temp_directory=spill) as linker:
        assert _setting(linker, "temp_directory") == str(spill)
        assert linker.limits.memory_limit == "500MB" and not linker.limits.private
    assert spill.is_dir()


def test_a_job_that_does_not_fit_names_its_stage_and_the_setting(population) -> None:
    before = _spill_folders()
    with pytest.raises(ResourceLimitError) as info:
        with Linker(population, settings=Settings(link_type="dedupe"),
                    memory_limit="8MB") as linker:
            linker.cluster()
    err = info.value
    assert err.stage in STAGES
    text = str(err)
    assert f"the {err.stage} stage ran out of memory" in text
    assert "8MB" in text and "--memory-limit" in text and "memory_limit=" in text
    assert "\n" not in text
    gc.collect()
    assert _spill_folders() <= before


def test_running_out_of_memory_at_ingest_is_not_blamed_on_the_file(population) -> None:
    with pytest.raises(ResourceLimitError) as info:
        Linker(population, settings=Settings(link_type="dedupe"), memory_limit="1MB")
    assert info.value.stage == "ingest"
    assert not any(str(p) in str(info.value) for p in population)


def test_the_cli_says_which_stage_did_not_fit_in_one_line(population, tmp_path,
                                                           capsys) -> None:
    code = main(["dedupe", *map(str, population), "--out", str(tmp_path / "c.csv"),
                 "--memory-limit", "8MB"])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    errors = [line for line in err.splitlines() if not line.startswith("cselink: WARNING")]
    assert len(errors) == 1  # warnings about the data may come before it, one line each
    assert "stage ran out of memory" in errors[0] and "--memory-limit" in errors[0]


def _numbers_only(section: dict) -> None:
    for rule in section["rules"]:
        assert isinstance(rule["rule"], str) and isinstance(rule["skipped"], bool)
        for key in ("estimated_pairs", "pairs", "new_pairs"):
            assert isinstance(rule[key], int) and rule[key] >= 0
        assert isinstance(rule["pairs_per_record"], float)


def test_the_dedupe_audit_has_pairs_per_rule_timings_and_peak_memory(population,
                                                                      tmp_path) -> None:
    out = tmp_path / "clusters.csv"
    assert main(["dedupe", *map(str, population), "--out", str(out), "-q",
                 "--memory-limit", "1GB"]) == 0
    audit = json.loads(out.with_name("clusters.audit.json").read_text())
    records = len(pd.read_csv(out))
    pairs = audit["pairs"]
    assert pairs["records"] == records
    _numbers_only(pairs)
    live = [r for r in pairs["rules"] if not r["skipped"]]
    assert live and pairs["candidate_pairs"] == sum(r["new_pairs"] for r in pairs["rules"])
    assert pairs["candidate_pairs"] >= max(r["pairs"] for r in live) > 0
    assert pairs["pairs_per_record"] == pytest.approx(pairs["candidate_pairs"] / records,
                                                      abs=1e-4)
    assert all(r["pairs"] == 0 for r in pairs["rules"] if r["skipped"])
    run = audit["run"]
    assert set(run["timings_seconds"]) >= {"ingest", "standardise", "blocking", "compare",
                                          "score", "cluster"}
    assert run["memory_limit"] == "1GB"
    # The process has at least loaded pandas and DuckDB; far below the 4 GB budget here.
    assert isinstance(run["peak_rss_bytes"], int)
    assert 50 * 2**20 < run["peak_rss_bytes"] < 4 * 2**30
    # The peak after each stage, in the order the stages ran: it can only rise.
    after = run["peak_rss_after_stage_bytes"]
    assert list(after) == list(run["timings_seconds"])
    assert list(after.values()) == sorted(after.values())
    assert 0 < max(after.values()) <= run["peak_rss_bytes"]


def test_the_check_audit_has_pairs_per_rule_and_peak_memory(tmp_path) -> None:
    folder = tmp_path / "synth"
    generate(SynthConfig(people=300, seed=5, referrals=10), folder)
    out = tmp_path / "check"
    sources = [f"--source={p.stem}={p}" for p in sorted((folder / "canonical").glob("*.csv"))]
    assert main(["check", "--referrals", str(folder / "referrals.csv"), *sources,
                 "--out", str(out), "-q"]) == 0
    audit = json.loads((out / "audit.json").read_text())
    _numbers_only(audit["pairs"])
    assert audit["pairs"]["records"] > 0 and audit["pairs"]["candidate_pairs"] > 0
    assert audit["run"]["memory_limit"] == default_memory_limit()
    assert audit["run"]["peak_rss_bytes"] > 0


def test_spill_folder_permissions_hold_whatever_the_umask() -> None:
    old = os.umask(0)
    try:
        frame = pd.DataFrame({"record_id": ["1"], "forename": ["Jade"]})
        with Linker([frame], settings=Settings(link_type="dedupe")) as linker:
            assert linker.limits.temp_directory.stat().st_mode & 0o777 == 0o700
    finally:
        os.umask(old)
