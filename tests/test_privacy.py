"""Data protection: no personal value in logs or on the console, no network, private outputs.

The whole pipeline runs through the CLI in-process (``cselink.cli.main``) with
``--debug`` and every ``cselink`` logger at DEBUG, on synthetic canonical files and on a
file of deliberately bad values (dates that do not parse, invalid NHS numbers, unknown
sex codes, repeated ids, rows with nothing to link on). Every distinct name, date of
birth, address, postcode and NHS number of the inputs (4 characters or more) must be
absent from what was logged or printed. The audit record built from a run holds no
such value and no folder names.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import socket
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from cselink.audit import (
    AUDIT_FORMAT,
    RUN_KEY,
    audit_inputs,
    build_audit,
    redact_argv,
    stable_part,
    write_audit,
)
from cselink.cli import main
from cselink.config import Settings
from cselink.errors import UsageError
from cselink.ingest import Source
from cselink.pipeline import Linker
from cselink.synthetic import SynthConfig, generate

PERSONAL = ["forename", "middle_names", "surname", "aliases", "former_surnames", "dob",
            "address", "postcode", "nhs_number"]
TEMP_NAME = re.compile(r"^\.|\.tmp$|\.part$|~$")


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Small synthetic canonical files, a file of bad values and a fast settings file."""
    folder = tmp_path_factory.mktemp("privacy")
    generate(SynthConfig.preset("standard", people=160, seed=20240611), folder / "synth")
    canonical = folder / "synth" / "canonical"
    bad = pd.read_csv(canonical / "education.csv", dtype=str, keep_default_na=False).head(40)
    bad.loc[0, "dob"] = "31/02/2010"  # no such day, and not ISO
    bad.loc[1, "dob"] = "2010-13-45"
    bad.loc[2, "dob"] = "sometime in 2011"
    bad.loc[3, "nhs_number"] = "1234567890"  # fails the check digit
    bad.loc[4, "nhs_number"] = "94347659"  # too short
    bad.loc[5, "nhs_number"] = "4444444444"  # one repeated digit
    bad.loc[6, "sex"] = "Q"
    bad.loc[7, "sex"] = "Boyish"
    bad.loc[9, "record_id"] = bad.loc[8, "record_id"]  # a repeated id
    bad.loc[10, "record_id"] = ""  # no id
    bad.loc[11, ["forename", "middle_names", "surname", "aliases", "former_surnames", "dob",
                 "address", "postcode", "nhs_number"]] = ""  # nothing to link on
    bad.loc[12, "surname"] = "=HYPERLINK(Quartermaine)"  # a spreadsheet formula
    bad.loc[13, "postcode"] = "NOT A POSTCODE"
    bad.to_csv(folder / "bad.csv", index=False)
    settings = folder / "fast.toml"
    settings.write_text("u_sample_pairs = 5000\n", encoding="utf-8")
    return {
        "education": canonical / "education.csv",
        "health": canonical / "health.csv",
        "police": canonical / "police.csv",
        "bad": folder / "bad.csv",
        "settings": settings,
    }


def personal_values(*files: Path) -> set[str]:
    """Every distinct personal value (and list item) of 4 characters or more in the files."""
    values: set[str] = set()
    for file in files:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        for col in PERSONAL:
            for value in frame[col].unique():
                for item in [value, *value.split(";")]:
                    item = item.strip()
                    if len(item) >= 4:
                        values.add(item)
    return values


def leaked(text: str, values: set[str]) -> list[str]:
    """The values that appear in ``text`` as whole words (not inside a longer word)."""
    return sorted(
        v for v in values
        if v in text and re.search(rf"(?<!\w){re.escape(v)}(?!\w)", text)
    )


@pytest.fixture
def fresh_cli_logging() -> Iterator[None]:
    """Let the CLI attach its handler to this test's (captured) stderr, then restore."""
    logger = logging.getLogger("cselink")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    logger.handlers = [h for h in logger.handlers if not getattr(h, "_cselink", False)]
    yield
    logger.handlers, logger.level, logger.propagate = saved[0], saved[1], saved[2]


# --------------------------------------------------------------------------- logs and console


def test_no_personal_values_in_logs_or_console(
    data: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str], fresh_cli_logging: None,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cselink")
    fast = ["--settings", str(data["settings"]), "--debug"]
    runs = [
        ["link", str(data["education"]), str(data["health"]), "--out",
         str(tmp_path / "links.csv"), "--threshold", "0", *fast],
        ["dedupe", str(data["education"]), str(data["police"]), str(data["bad"]), "--out",
         str(tmp_path / "clusters.csv"), "--pairs-out", str(tmp_path / "pairs.csv"), *fast],
        ["link", str(data["bad"]), str(data["health"]), "--out",
         str(tmp_path / "bad_links.json"), *fast],
    ]
    for argv in runs:
        assert main(argv) == 0, argv[0]
    captured = capsys.readouterr()

    # The bad file really exercised the warning and reject paths, at DEBUG.
    messages = [r.getMessage() for r in caplog.records]
    assert any(r.levelno == logging.DEBUG for r in caplog.records)
    assert any("unparseable date of birth" in m for m in messages)
    assert any("invalid NHS number" in m for m in messages)
    assert any("unmapped sex code" in m for m in messages)
    assert any("rejected" in m for m in messages)
    assert "cselink: DEBUG:" in captured.err  # the CLI's own handler wrote to stderr
    rejects = pd.read_csv(tmp_path / "clusters.rejects.csv", dtype=str)
    assert set(rejects["reason"]) >= {"missing record_id"}
    # A repeated id keeps both rows and is named (an id, not a personal value).
    assert any("rows share a record id" in m for m in messages)

    values = personal_values(data["education"], data["health"], data["police"], data["bad"])
    assert len(values) > 500
    text = "\n".join([caplog.text, *messages, captured.out, captured.err])
    found = leaked(text, values)
    assert not found, f"{len(found)} personal values in logs/console, e.g. {found[:5]}"

    # The rejects file names rows by number, record id and column only; so do audit
    # records, when the CLI writes them beside the outputs.
    for path in [tmp_path / "clusters.rejects.csv", *tmp_path.glob("*.audit.json")]:
        text = path.read_text(encoding="utf-8")
        found = leaked(text, values)
        assert not found, f"personal values in {path.name}: {found[:5]}"
        assert str(data["bad"].parent) not in text, f"a folder name in {path.name}"


def test_reasons_name_the_matched_recorded_name_only_in_the_results_file(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, fresh_cli_logging: None,
) -> None:
    """Decision: the results file is the product a coordinator checks, so a reason quotes
    the recorded name that matched ("former surname 'X'"), as the issue asks; the file is
    0600. Logs and console output never do (checked here at DEBUG)."""
    caplog.set_level(logging.DEBUG, logger="cselink")
    out = tmp_path / "links.csv"
    assert main(["link", str(data["education"]), str(data["health"]), "--out", str(out),
                 "--threshold", "0", "--settings", str(data["settings"]), "--debug"]) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    reasons = "\n".join(pd.read_csv(out, dtype=str)["reasons"].dropna())
    assert "recorded by" in reasons
    text = "\n".join([caplog.text, *capsys.readouterr()])
    found = leaked(text, personal_values(data["education"], data["health"]))
    assert not found, f"personal values in the output: {found[:5]}"


def test_bad_input_error_names_place_not_values(
    data: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture, fresh_cli_logging: None,
) -> None:
    caplog.set_level(logging.DEBUG, logger="cselink")
    broken = tmp_path / "broken.csv"
    frame = pd.read_csv(data["police"], dtype=str, keep_default_na=False).head(5)
    frame.drop(columns="record_id").to_csv(broken, index=False)  # no id column at all
    code = main(["dedupe", str(broken), "--out", str(tmp_path / "x.csv"), "--debug"])
    assert code == 2
    text = "\n".join([caplog.text, *capsys.readouterr()])
    assert "record_id" in text
    found = leaked(text, personal_values(data["police"]))
    assert not found, f"personal values in an error message: {found[:5]}"


# --------------------------------------------------------------------------- network


def test_no_socket_is_opened(
    data: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    attempts: list[str] = []

    def refuse(name: str):  # noqa: ANN202 - a stand-in with any signature
        def _refuse(*args: object, **kwargs: object) -> None:
            attempts.append(name)
            raise OSError(f"network use during a cselink run ({name})")
        return _refuse

    monkeypatch.setattr(socket.socket, "connect", refuse("socket.connect"))
    monkeypatch.setattr(socket.socket, "connect_ex", refuse("socket.connect_ex"))
    monkeypatch.setattr(socket, "create_connection", refuse("socket.create_connection"))
    monkeypatch.setattr(socket, "getaddrinfo", refuse("socket.getaddrinfo"))
    # DuckDB installs extensions under ~/.duckdb: an empty home shows whether it tried.
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    fast = ["--settings", str(data["settings"]), "-q"]
    assert main(["link", str(data["education"]), str(data["health"]), "--out",
                 str(tmp_path / "l.csv"), *fast]) == 0
    assert main(["dedupe", str(data["education"]), str(data["bad"]), "--out",
                 str(tmp_path / "d.csv"), *fast]) == 0
    assert attempts == []
    assert list(home.iterdir()) == [], "something was installed in the home folder"


# --------------------------------------------------------------------------- output files


def test_outputs_are_private_and_replaced_whole(data: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    stale = "STALE-CONTENT-" * 20_000 + "\n"  # longer than any new output
    targets = ["links.csv", "links.rejects.csv", "model.json", "clusters.parquet",
               "pairs.json"]
    for name in targets:
        (out / name).write_text(stale, encoding="utf-8")
        (out / name).chmod(0o644)
    fast = ["--settings", str(data["settings"]), "-q"]
    assert main(["link", str(data["bad"]), str(data["health"]), "--out", str(out / "links.csv"),
                 "--save-model", str(out / "model.json"), *fast]) == 0
    assert main(["dedupe", str(data["education"]), str(data["police"]), "--out",
                 str(out / "clusters.parquet"), "--pairs-out", str(out / "pairs.json"),
                 "--model", str(out / "model.json"), *fast]) == 0

    names = sorted(p.name for p in out.iterdir())
    assert [n for n in names if TEMP_NAME.search(n)] == [], f"temporary files left: {names}"
    for name in targets:
        path = out / name
        assert path.stat().st_mode & 0o777 == 0o600, name
        assert b"STALE-CONTENT" not in path.read_bytes(), name
    assert list(pd.read_csv(out / "links.csv").columns)[:2] == ["source_l", "record_id_l"]
    assert list(pd.read_parquet(out / "clusters.parquet").columns) == [
        "source", "record_id", "cluster_id"]
    assert isinstance(json.loads((out / "pairs.json").read_text(encoding="utf-8")), list)
    assert json.loads((out / "model.json").read_text(encoding="utf-8"))["method"] == "em"


# --------------------------------------------------------------------------- audit


def test_audit_records_files_and_counts_but_no_data(data: dict[str, Path], tmp_path: Path) -> None:
    sources = [Source("education", data["education"]), Source("bad", data["bad"])]
    settings = Settings.from_toml(data["settings"]).with_(link_type="dedupe")
    argv = ["dedupe", str(data["education"]), str(data["bad"]), "--out",
            str(tmp_path / "c.csv"), "--settings", str(data["settings"]), "--threshold", "0.8"]
    with Linker(sources, settings=settings) as linker:
        linker.cluster(0.8)
        audit = build_audit(
            command="dedupe", argv=argv, inputs=audit_inputs(sources, data["settings"], None),
            ingest=linker.ingest_report, model=linker.model, thresholds={"threshold": 0.8},
            timings=linker.timings,
        )
    path = write_audit(tmp_path / "c.audit.json", audit)
    assert path.stat().st_mode & 0o777 == 0o600
    text = path.read_text(encoding="utf-8")
    assert json.loads(text) == json.loads(json.dumps(audit, default=str))

    assert audit["format"] == AUDIT_FORMAT
    assert audit["argv"] == ["dedupe", "education.csv", "bad.csv", "--out", "c.csv",
                             "--settings", "fast.toml", "--threshold", "0.8"]
    assert [i["file"] for i in audit["inputs"]] == ["education.csv", "bad.csv", "fast.toml"]
    for entry, file in zip(audit["inputs"], [data["education"], data["bad"], data["settings"]],
                           strict=True):
        assert entry["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert entry["bytes"] == file.stat().st_size
    rows = audit["rows"]
    bad = next(s for s in rows["sources"] if s["source"] == "bad")
    assert bad["read"] == 40 and bad["read"] == bad["used"] + bad["rejected"]
    assert "duplicate record_id" not in bad["rejected_by_reason"]  # both rows kept
    (dup,) = [w for w in rows["warnings"] if w["source"] == "bad" and w["column"] == "record_id"]
    assert dup["count"] == 2 and "(rows " in dup["reason"]  # rows, not ids, in the audit
    assert rows["read"] == rows["used"] + rows["rejected"]
    assert {w["column"] for w in rows["warnings"] if w["source"] == "bad"} >= {
        "dob", "sex", "nhs_number"}
    assert audit["model"]["method"] == "em"
    assert audit["model"]["settings_hash"] == settings.hash()
    assert audit["thresholds"] == {"threshold": 0.8}
    assert set(audit[RUN_KEY]["timings_seconds"]) >= {"ingest", "train"}
    assert audit[RUN_KEY]["started_utc"].endswith("+00:00")
    assert RUN_KEY not in stable_part(audit)

    assert str(tmp_path) not in text and str(data["bad"].parent) not in text
    found = leaked(text, personal_values(data["education"], data["bad"]))
    assert not found, f"personal values in the audit: {found[:5]}"
    ids = set(pd.read_csv(data["bad"], dtype=str)["record_id"].dropna())
    assert not [i for i in ids if i in text], "record ids in the audit"


def test_redact_argv_reduces_every_path() -> None:
    argv = ["check", "--referrals", "/cases/Jade Smith/referrals.csv",
            "--source", "police=/x/y/police.csv:/x/maps/police.toml",
            "--source", r"health=C:\data\health.parquet", "--out=/srv/out/run1",
            "--threshold", "0.5", "--panel-date", "2024-06-11", "-q"]
    assert redact_argv(argv) == [
        "check", "--referrals", "referrals.csv", "--source", "police=police.csv:police.toml",
        "--source", "health=health.parquet", "--out=run1", "--threshold", "0.5",
        "--panel-date", "2024-06-11", "-q"]


def test_write_audit_refuses_other_documents(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        write_audit(tmp_path / "a.json", {"rows": 1})
    assert not (tmp_path / "a.json").exists()
