"""Known contacts: the age level, the weak-name rule, contacts.csv / shared_contacts.csv, CLI."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from cselink import cli
from cselink.check import CheckOptions, _sample_sources, run_check, write_outputs
from cselink.contacts import (
    AGE,
    CONTACT_RESULT_COLUMNS,
    SHARED_CONTACT_COLUMNS,
    age_gamma_sql,
    load_contacts,
)
from cselink.errors import InputDataError
from cselink.synthetic import SynthConfig, generate

PANEL = dt.date(2025, 6, 14)


# --------------------------------------------------------------------------- the age level

AGE_CASES = [
    # dob, age_lo, age_hi, expected level (panel date 2025-06-14)
    ("2005-06-15", 18, 21, "in_range"),      # 19 the day before the birthday
    ("2005-06-14", 20, 20, "in_range"),      # 20 on the birthday
    ("2005-06-15", 20, 22, "within_two_years"),  # 19: one year under the range
    ("2002-01-01", 18, 21, "within_two_years"),  # 23: two years over the range
    ("2001-01-01", 18, 21, "different"),     # 24: three over
    ("1995-01-01", 18, 21, "different"),     # 30
    ("2010-01-01", 18, 21, "different"),     # 15: three under
    (None, 18, 21, "missing"),
    ("2005-06-15", None, None, "missing"),
]


def test_age_level_through_duckdb(con: duckdb.DuckDBPyConnection) -> None:
    rows = pd.DataFrame(AGE_CASES, columns=["dob", "age_lo", "age_hi", "expected"])
    rows["age_lo"] = rows["age_lo"].astype("Int64")
    rows["age_hi"] = rows["age_hi"].astype("Int64")
    con.register("cases", rows)
    sql = age_gamma_sql(dob="CAST(dob AS DATE)", age_lo="age_lo", age_hi="age_hi",
                        panel_date="$panel")
    got = con.execute(f"SELECT {sql} FROM cases", {"panel": PANEL}).fetchall()
    labels = [AGE.level_of(int(g)).label for (g,) in got]
    assert labels == [e for *_, e in AGE_CASES]


# --------------------------------------------------------------------------- a checked sample


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("contacts_sample")
    generate(SynthConfig(people=1500, seed=11), folder)
    return folder


def _age_at(dob: str) -> int:
    d = dt.date.fromisoformat(dob)
    return PANEL.year - d.year - ((PANEL.month, PANEL.day) < (d.month, d.day))


def _contacts(sample: Path) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Contacts built from the sample's police records, and what each one is."""
    refs = pd.read_csv(sample / "referrals.csv", dtype=str, keep_default_na=False)
    people = pd.read_csv(sample / "people.csv", dtype=str, keep_default_na=False)
    truth = pd.read_csv(sample / "truth.csv", dtype=str, keep_default_na=False)
    police = set(truth.loc[truth["source"] == "police", "person_id"])
    held = people[people["person_id"].isin(police) & (people["dob"] != "")]
    street = held[held["aliases"].str.split(";").map(
        lambda a: any(x and " " not in x for x in a))]
    street_person = street.iloc[0]
    street_name = next(x for x in street_person["aliases"].split(";") if x and " " not in x)
    full = held[~held["person_id"].isin([street_person["person_id"]])].iloc[0]
    r1, r2, r3 = refs["record_id"].iloc[:3]
    age = _age_at(full["dob"])
    rows = [
        # the same person on two referrals, by full name with an age range, then an age
        {"referral_id": r1, "contact_id": "C1", "forename": full["forename"],
         "surname": full["surname"], "age": f"{age - 1}-{age + 1}"},
        {"referral_id": r2, "contact_id": "K7", "forename": full["forename"],
         "surname": full["surname"], "age": str(age)},
        # a street name alone: no date of birth, age or place
        {"referral_id": r1, "contact_id": "C2", "aliases": street_name},
        # a relative's likeness: the surname only with another forename, another age
        {"referral_id": r3, "contact_id": "C1", "forename": "Zebedee",
         "surname": full["surname"], "age": str(age + 15)},
        # nobody: a name nobody holds
        {"referral_id": r3, "contact_id": "C2", "forename": "Quillon", "surname": "Vantablack",
         "age": "30-35", "relationship": "adult associate"},
    ]
    frame = pd.DataFrame(rows).reindex(columns=[
        "referral_id", "contact_id", "forename", "surname", "aliases", "dob", "age", "sex",
        "address", "postcode", "relationship"]).fillna("")
    return frame, {"full": full, "street": street_person, "refs": (r1, r2, r3)}


@pytest.fixture(scope="module")
def checked(sample: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    frame, what = _contacts(sample)
    folder = tmp_path_factory.mktemp("contacts_run")
    frame.to_csv(folder / "contacts.csv", index=False)
    result = run_check(sample / "referrals.csv", _sample_sources(sample),
                       options=CheckOptions(panel_date=PANEL),
                       contacts=folder / "contacts.csv")
    paths = write_outputs(result, folder / "out")
    truth = pd.read_csv(sample / "truth.csv", dtype=str, keep_default_na=False)
    return {"result": result, "paths": paths, "what": what, "truth": truth, "folder": folder}


def _status(rows: pd.DataFrame, ref: str, contact: str, source: str) -> set[str]:
    sel = rows[(rows["referral_id"] == ref) & (rows["contact_id"] == contact)
               & (rows["source"] == source)]
    return set(sel["status"])


def test_contacts_csv_shape_and_not_found_rows(checked: dict[str, Any]) -> None:
    result = checked["result"]
    rows = pd.read_csv(checked["paths"]["contacts_csv"], dtype=str, keep_default_na=False)
    assert tuple(rows.columns) == CONTACT_RESULT_COLUMNS
    r3 = checked["what"]["refs"][2]
    nobody = rows[(rows["referral_id"] == r3) & (rows["contact_id"] == "C2")]
    # one not_found row per source, with an empty record_id, for a contact nobody holds
    assert sorted(nobody["source"]) == sorted(result.sources)
    assert set(nobody["status"]) == {"not_found"}
    assert set(nobody["record_id"]) == {""}
    # every contact x source has a row
    cells = rows.groupby(["referral_id", "contact_id", "source"]).size()
    assert len(cells) == 5 * len(result.sources)
    assert set(rows["status"]) <= {"known", "possible", "not_found"}
    assert (rows.loc[rows["status"] == "not_found", "record_id"] == "").all()


def test_full_name_and_age_finds_the_police_record(checked: dict[str, Any]) -> None:
    rows = checked["result"].contacts.rows
    truth = checked["truth"]
    full = checked["what"]["full"]
    r1 = checked["what"]["refs"][0]
    police_ids = set(truth.loc[(truth["source"] == "police")
                               & (truth["person_id"] == full["person_id"]), "record_id"])
    mine = rows[(rows["referral_id"] == r1) & (rows["contact_id"] == "C1")
                & (rows["source"] == "police")]
    assert police_ids & set(mine.loc[mine["status"] != "not_found", "record_id"])


def test_street_name_alone_is_never_known(checked: dict[str, Any]) -> None:
    rows = checked["result"].contacts.rows
    r1 = checked["what"]["refs"][0]
    mine = rows[(rows["referral_id"] == r1) & (rows["contact_id"] == "C2")]
    assert len(mine) and "known" not in set(mine["status"])
    # ...but it is looked up: the police record holding the street name is listed
    truth = checked["truth"]
    street = checked["what"]["street"]
    held = set(truth.loc[(truth["source"] == "police")
                         & (truth["person_id"] == street["person_id"]), "record_id"])
    assert held & set(mine["record_id"])


def test_shared_contacts_link_the_same_person_not_the_relative(checked: dict[str, Any]) -> None:
    shared = pd.read_csv(checked["paths"]["shared_contacts_csv"], dtype=str,
                         keep_default_na=False)
    assert tuple(shared.columns) == SHARED_CONTACT_COLUMNS
    r1, r2, r3 = checked["what"]["refs"]
    mentions = set(zip(shared["referral_id"], shared["contact_id"], strict=True))
    assert {(r1, "C1"), (r2, "K7")} <= mentions
    ids = shared.set_index(["referral_id", "contact_id"])["shared_id"]
    assert ids[(r1, "C1")] == ids[(r2, "K7")]
    assert (r3, "C1") not in mentions  # same surname, other forename and age: a relative
    assert (shared["local_authority"] != "").all()


def test_outputs_are_private(checked: dict[str, Any]) -> None:
    for key in ("contacts_csv", "shared_contacts_csv"):
        mode = stat.S_IMODE(os.stat(checked["paths"][key]).st_mode)
        assert mode == 0o600, key


# --------------------------------------------------------------------------- input checks


def test_bad_rows_are_rejected_with_reasons(con: duckdb.DuckDBPyConnection,
                                            tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    pd.DataFrame([
        {"referral_id": "R1", "contact_id": "C1", "forename": "Ghost", "age": "18-21"},
        {"referral_id": "R1", "contact_id": "C1", "forename": "Ghost", "age": "19"},
        {"referral_id": "R9", "contact_id": "C1", "forename": "Dee", "age": "19"},
        {"referral_id": "", "contact_id": "C3", "forename": "Jay", "age": "19"},
        {"referral_id": "R1", "contact_id": "C4", "forename": "", "age": "19"},
        {"referral_id": "R1", "contact_id": "C5", "forename": "Tink", "age": "about twenty"},
    ]).to_csv(path, index=False)
    loaded = load_contacts(con, path, ["R1", "R2"])
    assert loaded.info["contact_id"].tolist() == ["C1", "C5"]
    got = loaded.rejects[["row_number", "column", "reason"]].values.tolist()
    assert got[0] == [2, "contact_id", "repeats an earlier referral_id and contact_id"]
    assert got[1] == [3, "referral_id", "names a referral that is not being checked"]
    assert got[2] == [4, "referral_id", "no referral_id"]
    assert got[3][0] == 5 and "nothing to link on" in got[3][2]
    assert loaded.warnings == [("age", "not a number of years or a range such as 18-21", 1)]
    first = loaded.info.iloc[0]
    assert (first["age_lo"], first["age_hi"]) == (18, 21)
    assert len(loaded) + len(loaded.rejects) == 6  # nothing silently dropped


def test_missing_contact_id_column_names_file_and_column(con: duckdb.DuckDBPyConnection,
                                                         tmp_path: Path) -> None:
    path = tmp_path / "contacts.csv"
    pd.DataFrame([{"referral_id": "R1", "forename": "Ghost"}]).to_csv(path, index=False)
    with pytest.raises(InputDataError) as err:
        load_contacts(con, path, ["R1"])
    assert err.value.column == "contact_id" and err.value.file == str(path)


def test_contacts_mapping(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    pd.DataFrame([{"Ref": "R1", "Person": "P1", "Name": "SMITH, Jay", "StreetNames": "Ghost/Dee",
                   "ApproxAge": "20 to 22", "DateOfBirth": "", "Rel": "adult"}]
                 ).to_csv(path, index=False)
    mapping = tmp_path / "contacts.toml"
    mapping.write_text(
        '[columns]\nreferral_id = "Ref"\ncontact_id = "Person"\nfull_name = "Name"\n'
        'aliases = "StreetNames"\nage = "ApproxAge"\ndob = "DateOfBirth"\n'
        'relationship = "Rel"\n[names]\naliases_separator = "/"\n'
        '[dates]\ndob_formats = ["%d/%m/%Y"]\n', encoding="utf-8")
    loaded = load_contacts(con, f"{path}:{mapping}", ["R1"])
    q = loaded.queries.iloc[0]
    assert (q["forename"], q["surname"], q["aliases"]) == ("Jay", "SMITH", "Ghost;Dee")
    assert (loaded.info.iloc[0]["age_lo"], loaded.info.iloc[0]["age_hi"]) == (20, 22)


# --------------------------------------------------------------------------- CLI


def test_cli_check_with_contacts(checked: dict[str, Any], sample: Path, tmp_path: Path,
                                 capsys: pytest.CaptureFixture[str],
                                 caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    argv = ["check", "--referrals", str(sample / "referrals.csv"),
            "--contacts", str(checked["folder"] / "contacts.csv"),
            "--panel-date", PANEL.isoformat(), "--out", str(tmp_path / "out"), "--quiet"]
    for src in _sample_sources(sample):
        argv += ["--source", f"{src.name}={src.data}:{src.mapping.origin}"]
    assert cli.main(argv) == 0
    rows = pd.read_csv(tmp_path / "out" / "contacts.csv", dtype=str, keep_default_na=False)
    assert tuple(rows.columns) == CONTACT_RESULT_COLUMNS
    assert (tmp_path / "out" / "shared_contacts.csv").is_file()
    audit = (tmp_path / "out" / "audit.json").read_text(encoding="utf-8")
    assert '"contacts"' in audit
    # no names in the audit, the logs or the terminal
    frame, _ = _contacts(sample)
    out = capsys.readouterr()
    names = [n for n in (*frame["forename"], *frame["surname"], *frame["aliases"]) if n]
    for name in names:
        assert name not in audit
        assert name not in caplog.text
        assert name not in out.out + out.err


def test_cli_bad_contacts_file_exits_2(sample: Path, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    bad = tmp_path / "contacts.csv"
    pd.DataFrame([{"referral_id": "R0001", "name": "Ghost"}]).to_csv(bad, index=False)
    src = _sample_sources(sample)[0]
    code = cli.main(["check", "--referrals", str(sample / "referrals.csv"),
                     "--source", f"{src.name}={src.data}:{src.mapping.origin}",
                     "--contacts", str(bad), "--out", str(tmp_path / "out"), "--quiet"])
    assert code == 2
    err = capsys.readouterr().err
    assert "contacts.csv" in err and "contact_id" in err and "Traceback" not in err


def test_mapping_suggest_recognises_a_contacts_export(con: duckdb.DuckDBPyConnection,
                                                      tmp_path: Path) -> None:
    from cselink.suggest import suggest_mapping

    path = tmp_path / "export.csv"
    pd.DataFrame([
        {"ReferralRef": "R1", "ContactID": "1", "Forename": "Jay", "Surname": "Smith",
         "Street Name / alias": "Ghost", "Approx Age": "18-21", "DOB": "",
         "Gender": "Male", "Postcode": "M8 6UY", "Relationship": "older boyfriend"},
        {"ReferralRef": "R2", "ContactID": "1", "Forename": "", "Surname": "",
         "Street Name / alias": "Little D", "Approx Age": "25", "DOB": "03/04/2001",
         "Gender": "Male", "Postcode": "", "Relationship": "associate"},
    ]).to_csv(path, index=False)
    mapping = tmp_path / "export.toml"
    mapping.write_text(suggest_mapping(path), encoding="utf-8")
    loaded = load_contacts(con, f"{path}:{mapping}", ["R1", "R2"])
    assert loaded.info[["referral_id", "contact_id"]].values.tolist() == [["R1", "1"],
                                                                          ["R2", "1"]]
    assert loaded.queries["aliases"].tolist() == ["Ghost", "Little D"]
    assert loaded.info["age_lo"].tolist() == [18, 24]


def test_report_has_the_contacts_sections(checked: dict[str, Any]) -> None:
    html = Path(checked["paths"]["report"]).read_text(encoding="utf-8")
    assert "Contacts named on more than one referral" in html
    assert "Known contacts" in html
    section = html.split('id="shared-contacts"')[1].split("</section>")[0]
    assert "<svg" in section and "<circle" in section and "<line" in section
    assert "<script" not in html


def test_synthetic_contacts_are_deterministic_with_truth() -> None:
    from cselink.synthetic import generate_frames

    a = generate_frames(SynthConfig(people=600, seed=5, contacts=True))
    b = generate_frames(SynthConfig(people=600, seed=5, contacts=True))
    assert generate_frames(SynthConfig(people=600, seed=5)).contacts is None
    assert a.contacts is not None and a.contacts_truth is not None
    pd.testing.assert_frame_equal(a.contacts, b.contacts)
    assert tuple(a.contacts.columns) == (
        "referral_id", "contact_id", "forename", "surname", "aliases", "dob", "age", "sex",
        "address", "postcode", "relationship")
    truth = a.contacts_truth
    assert set(truth["kind"]) <= {"adult", "peer", "unknown"}
    assert len(truth) == len(a.contacts)
    # adults held by police are in the agency files and the truth
    adults = set(truth.loc[truth["kind"] == "adult", "person_id"])
    police = a.truth[a.truth["source"] == "police"]
    assert adults & set(police["person_id"])
    assert set(police["record_id"]) == set(a.canonical["police"]["record_id"])
    # a group is named on more than one referral
    groups = truth[truth["group_id"] != ""].groupby("group_id")["referral_id"].nunique()
    assert (groups > 1).any()
