"""The native path on exports laid out unlike the generator's: suggested mappings for two
agency exports and a referral form, then ``cselink check --referrals FILE:MAPPING.toml``,
with no hand edits. The records are a handful of made-up children, so the check also
runs on the shipped default model (too few matches to train on)."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pandas as pd

from cselink.cli import main
from cselink.mapping import Mapping

SCHOOL = ("PupilRef,FORENAME,FORENAME2,SURNAME,PreferredSurname,DateOfBirth,Gender,"
          "Address1,Address2,Town,Post Code\n") + """\
S001,Jayde,Anne,Smith,Brown,03/04/2009,F,1 High Street,,Taunton,TA1 1AA
S002,Tom,,Hill,,12/07/2008,M,2 Low Road,Flat 3,Bath,BA1 2BB
S003,Amir,Ali,Khan,,01/02/2010,M,9 Mill Lane,,Taunton,TA2 3CC
S004,Chloe,,Price,Evans,25/12/2009,F,5 Oak Close,,Yeovil,BA20 1XY
"""
POLICE = """Nominal Ref;Name;AKA;Birth Date;Sex;Street Address;Locality
PN-17;BROWN, Jade;JB;2009-03-04;F;1 HIGH STREET;TAUNTON
PN-18;HUGHES, Liam;;2007-11-30;M;12 CHURCH ROAD;BRIDGWATER
PN-19;PRICE, Chloe;Clo;2009-12-25;F;5 OAK CLOSE;YEOVIL
"""
REFERRALS = ("Referral ID,Date of Referral,Child's First Name,Child's Surname,Known As,"
             "Date of Birth,Gender,Home Address,Postcode,Referring Agency\n") + """\
R1,2026-10-01,Jade,Brown,,2009-03-04,Female,1 High St Taunton,TA1 1AA,Police
R2,2026-10-02,Sam,Jones,,2011-05-05,Male,4 Green Way,BS1 4DD,School
"""


def _suggested(path: Path) -> tuple[Path, dict]:
    toml = path.with_suffix(".toml")
    assert main(["mapping", "suggest", str(path), "--out", str(toml)]) == 0
    return toml, tomllib.loads(toml.read_text())


def test_suggestions_read_second_forenames_towns_and_preferred_surnames(tmp_path) -> None:
    school = tmp_path / "school.csv"
    school.write_text(SCHOOL)
    _, data = _suggested(school)
    assert data["columns"]["middle_names"] == "FORENAME2"
    assert data["columns"]["former_surnames"] == "PreferredSurname"  # forename + it
    assert "aliases" not in data["columns"]  # not as whole-name aliases
    assert data["columns"]["address"] == "Address1"
    assert data["join"]["address"] == ["Address2", "Town"]
    police = tmp_path / "police.csv"
    police.write_text(POLICE)
    _, data = _suggested(police)
    assert data["columns"]["full_name"] == "Name" and data["names"]["order"] == "surname_first"
    assert data["columns"]["aliases"] == "AKA"
    assert data["columns"]["address"] == "Street Address"
    assert data["join"]["address"] == ["Locality"]
    referrals = tmp_path / "referrals.csv"
    referrals.write_text(REFERRALS)
    toml, data = _suggested(referrals)
    assert data["columns"]["record_id"] == "Referral ID"
    assert data["columns"]["forename"] == "Child's First Name"
    assert data["columns"]["dob"] == "Date of Birth"
    assert "--referrals" in toml.read_text()
    # The suggestion round-trips through Mapping, [join] included.
    mapping = Mapping.from_toml(tmp_path / "school.toml")
    assert Mapping.from_dict(mapping.to_dict()) == mapping


def test_check_with_suggested_mappings_end_to_end(tmp_path, capsys) -> None:
    files = {"school": SCHOOL, "police": POLICE, "referrals": REFERRALS}
    specs = {}
    for name, text in files.items():
        path = tmp_path / f"{name}.csv"
        path.write_text(text)
        toml, _ = _suggested(path)
        specs[name] = f"{path}:{toml}"
    out = tmp_path / "panel"
    code = main(["check", "--referrals", specs["referrals"],
                 "--source", f"education={specs['school']}",
                 "--source", f"police={specs['police']}", "--out", str(out)])
    captured = capsys.readouterr()
    assert code == 0, captured.err
    results = pd.read_csv(out / "results.csv", dtype=str, keep_default_na=False)
    best = results.set_index(["referral_id", "source", "record_id"])["status"]
    # Jade Brown: known to the school as Jayde Smith (preferred surname Brown, day and
    # month of birth swapped) and to the police under her own name.
    assert best.loc[("R1", "education", "S001")] in {"known", "possible"}
    assert best.loc[("R1", "police", "PN-17")] == "known"
    assert set(results.loc[results["referral_id"] == "R2", "status"]) == {"not_found"}
    assert (out / "audit.json").is_file() and (out / "report.html").is_file()
    assert "default model" in captured.err
