"""``suggest_mapping``: a mapping proposed from an export's headers and values.

The suggestion for each native synthetic export must ingest the file to exactly the
records its hand-written mapping gives; small hand-made files check each detection
(synonyms, date formats and day/month order, name order, sex codes, separators,
postcodes in addresses, encodings, delimiters, xlsx, Parquet) and that no value from
the file is ever copied into the suggestion.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from cselink.errors import InputDataError, UsageError
from cselink.ingest import Source, load_sources
from cselink.mapping import Mapping
from cselink.suggest import suggest_mapping

SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"
AGENCIES = ["education", "health", "police", "social_care", "youth_justice"]


def _ingest(path: Path, mapping: Mapping, name: str = "src") -> tuple[pd.DataFrame, pd.DataFrame]:
    con = duckdb.connect()
    try:
        load_sources(con, [Source(name, path, mapping)])
        records = con.execute("SELECT * FROM input_records ORDER BY uid").df()
        rejects = con.execute("SELECT * FROM rejects ORDER BY ALL").df()
    finally:
        con.close()
    return records, rejects


def _suggested(path: Path, tmp_path: Path, **kwargs: str) -> tuple[str, Mapping]:
    """The suggestion's text and the mapping read back from a TOML file."""
    text = suggest_mapping(path, **kwargs)
    toml = tmp_path / f"{path.stem}.suggested.toml"
    toml.write_text(text, encoding="utf-8")
    return text, Mapping.from_toml(toml)


def _section(text: str, table: str) -> str:
    """The lines of one [table] of the suggestion (comments included)."""
    match = re.search(rf"^\[{table}\]\n(.*?)(?=^\[|\Z)", text, flags=re.M | re.S)
    assert match, f"no [{table}] in the suggestion"
    return match.group(1)


def _values_of(frame: pd.DataFrame, columns: list[str]) -> set[str]:
    """Distinct cell values (and list items) of 4 characters or more."""
    out: set[str] = set()
    for col in columns:
        for value in frame[col].dropna().astype(str):
            for item in re.split(r"[;/|]", value) + [value]:
                item = item.strip()
                if len(item) >= 4:
                    out.add(item)
    return out


def _assert_no_values(text: str, values: set[str]) -> None:
    leaked = sorted(v for v in values if v in text)
    assert not leaked, f"{len(leaked)} values copied into the suggestion, e.g. {leaked[:3]}"


# --------------------------------------------------------------------------- native exports


@pytest.mark.parametrize("agency", AGENCIES)
def test_native_export_ingests_as_its_mapping_does(agency: str, tmp_path: Path) -> None:
    native = SYNTHETIC / "native" / f"{agency}.csv"
    reference = Mapping.from_toml(SYNTHETIC / "mappings" / f"{agency}.toml")
    text, suggested = _suggested(native, tmp_path)

    assert suggested.name == agency
    assert dict(suggested.columns) == dict(reference.columns)
    want_records, want_rejects = _ingest(native, reference, agency)
    got_records, got_rejects = _ingest(native, suggested, agency)
    assert len(want_records) > 50
    pd.testing.assert_frame_equal(got_records, want_records)
    pd.testing.assert_frame_equal(got_rejects, want_rejects)

    # The synthetic exports follow each column's convention exactly: nothing to check.
    assert "check:" not in _section(text, "dates")
    assert "check:" not in _section(text, "columns")
    raw = pd.read_csv(
        native,
        dtype=str,
        keep_default_na=False,
        sep=reference.delimiter,
        encoding=reference.encoding,
    )
    personal = [
        h for c, h in reference.columns.items() if c not in ("record_id", "sex", "nhs_number")
    ]
    values = _values_of(raw.replace("", None), personal)
    assert values
    _assert_no_values(text, values)


# --------------------------------------------------------------------------- headers


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("UPN", "record_id"),
        ("PNC_ID", "record_id"),
        ("PersonID", "record_id"),
        ("Child Ref", "record_id"),
        ("NHS_NO", "nhs_number"),
        ("NHS Number", "nhs_number"),
        ("DOB", "dob"),
        ("DateOfBirth", "dob"),
        ("Child Date of Birth", "dob"),
        ("Gender", "sex"),
        ("KnownAs", "aliases"),
        ("AKA", "aliases"),
        ("Street name / alias", "aliases"),
        ("PreviousNames", "former_surnames"),
        ("Maiden Name", "former_surnames"),
        ("FAMILY_NAME", "surname"),
        ("GIVEN_NAME", "forename"),
        ("Child First Name", "forename"),
        ("OTHER_GIVEN_NAMES", "middle_names"),
        ("Home Address", "address"),
        ("Post Code", "postcode"),
    ],
)
def test_header_synonyms(header: str, canonical: str, tmp_path: Path) -> None:
    values = {
        "record_id": ["R1", "R2", "R3"],
        "nhs_number": ["9434765919", "943 476 5870", "4010232137"],
        "dob": ["2010-01-02", "2011-02-03", "2012-03-04"],
        "sex": ["M", "F", "M"],
        "aliases": ["Jay", "Bee", "Cee"],
        "former_surnames": ["Brown", "Green", "Black"],
        "surname": ["Smith", "Jones", "Khan"],
        "forename": ["Jade", "Tom", "Amir"],
        "middle_names": ["Rose", "Lee", "Ali"],
        "address": ["1 Oak Road, Leeds", "2 Elm Street, York", "3 Ash Way, Hull"],
        "postcode": ["LS8 2EA", "YO1 7HH", "HU1 1AA"],
    }
    frame = pd.DataFrame({"REC": ["a1", "a2", "a3"], header: values[canonical]})
    if canonical == "record_id":
        frame = frame.drop(columns="REC").assign(Notes=["x", "x", "x"])
    path = tmp_path / "export.csv"
    frame.to_csv(path, index=False)
    _, mapping = _suggested(path, tmp_path)
    assert mapping.columns.get(canonical) == header


def test_headers_about_other_people_are_not_mapped(tmp_path: Path) -> None:
    path = tmp_path / "family.csv"
    pd.DataFrame(
        {
            "ID": ["1", "2"],
            "Forename": ["Jade", "Tom"],
            "Surname": ["Smith", "Jones"],
            "Mother Surname": ["Brown", "Green"],
            "School Name": ["Oak Primary", "Elm High"],
            "Referral Date": ["2024-01-05", "2024-02-06"],
        }
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert dict(mapping.columns) == {
        "record_id": "ID",
        "forename": "Forename",
        "surname": "Surname",
    }
    assert '"Mother Surname"' in text and '"Referral Date"' in text  # listed as not mapped


def test_columns_guessed_from_values_are_marked_check(tmp_path: Path) -> None:
    path = tmp_path / "coded.csv"
    pd.DataFrame(
        {
            "F1": ["K1", "K2", "K3", "K4"],
            "F2": ["9434765919", "4010232137", "9434765870", "9999818218"],
            "F3": ["LS8 2EA", "YO1 7HH", "HU1 1AA", "M14 5WX"],
            "F4": ["Male", "Female", "Female", "Male"],
            "F5": ["21/08/2010", "13/01/2011", "02/02/2012", "30/11/2009"],
        }
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert dict(mapping.columns) == {
        "record_id": "F1",
        "nhs_number": "F2",
        "postcode": "F3",
        "sex": "F4",
        "dob": "F5",
    }
    columns = _section(text, "columns")
    assert columns.count("check: chosen from what the values look like") == 5
    records, _ = _ingest(path, mapping)
    assert records["dob"].astype(str).tolist() == [
        "2010-08-21",
        "2011-01-13",
        "2012-02-02",
        "2009-11-30",
    ]


def test_repeated_ids_and_headers_are_flagged(tmp_path: Path) -> None:
    path = tmp_path / "dups.csv"
    path.write_text("ID,Surname,Surname,DOB\n1,Ab,Cd,20100101\n1,Ef,Gh,20100102\n2,Ij,Kl,\n")
    text, mapping = _suggested(path, tmp_path)
    assert "surname" not in mapping.columns
    assert "1 header(s) appear more than once" in text
    assert "1 ids repeat an earlier one" in text
    assert mapping.dob_formats == ("%Y%m%d",)


def test_headerless_file_is_refused_without_quoting_it(tmp_path: Path) -> None:
    path = tmp_path / "noheader.csv"
    path.write_text("1,Jade Smith,2010-01-02\n2,Tom Jones,2011-02-03\n")
    with pytest.raises(InputDataError) as info:
        suggest_mapping(path)
    assert "header row missing" in str(info.value)
    assert "Jade" not in str(info.value) and "2010" not in str(info.value)


def test_headers_are_quoted_as_toml(tmp_path: Path) -> None:
    path = tmp_path / "odd.csv"
    path.write_text('"Ref ""A""",Surname\\x,Forename\nR1,Smith,Jade\nR2,Jones,Tom\n')
    text, mapping = _suggested(path, tmp_path)
    assert mapping.columns["surname"] == "Surname\\x"
    assert mapping.columns["record_id"] == 'Ref "A"'
    records, _ = _ingest(path, mapping)
    assert records["surname"].tolist() == ["Smith", "Jones"]


# --------------------------------------------------------------------------- dates


@pytest.mark.parametrize(
    ("dobs", "formats", "check"),
    [
        # a first part over 12 proves day first
        (["21/08/2010", "03/04/2011", "13/01/2012"], ("%d/%m/%Y",), False),
        # a second part over 12 proves month first
        (["08/21/2010", "03/04/2011", "01/13/2012"], ("%m/%d/%Y",), False),
        # nothing over 12: day first assumed, marked check
        (["01/02/2010", "03/04/2011", "05/06/2012"], ("%d/%m/%Y",), True),
        # both orders: both kept, marked check
        (["21/08/2010", "08/21/2010", "05/06/2012"], ("%d/%m/%Y", "%m/%d/%Y"), True),
        (["20100821", "20110304", "20121301"], ("%Y%m%d",), True),  # one impossible date
        (["2010-08-21T00:00:00", "2011-03-04T10:30:00"], ("%Y-%m-%dT%H:%M:%S",), False),
        (["2010-08-21 00:00:00", "2011-03-04 10:30:00"], ("%Y-%m-%d %H:%M:%S",), False),
        (["5-Apr-2009", "21-Aug-2010", "13-Jan-2012"], ("%d-%b-%Y",), False),
        (["5 April 2009", "21 August 2010"], ("%d %B %Y",), False),
        (["2010-08-21", "2011-03-04"], ("%Y-%m-%d",), False),
        (["21.08.2010", "03.04.2011"], ("%d.%m.%Y",), False),
        (["21/08/10", "03/04/11"], ("%d/%m/%y",), True),  # two-digit years: check
    ],
)
def test_date_formats_from_values(
    dobs: list[str], formats: tuple[str, ...], check: bool, tmp_path: Path
) -> None:
    path = tmp_path / "dates.csv"
    pd.DataFrame(
        {"ID": [f"r{i}" for i in range(len(dobs))], "Surname": ["Ab"] * len(dobs), "DOB": dobs}
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.dob_formats == formats
    assert ("check:" in _section(text, "dates")) is check
    _assert_no_values(text, set(dobs))
    records, _ = _ingest(path, mapping)
    read = records["dob"].notna().sum()
    assert read == len(dobs) - (1 if "20121301" in dobs else 0)


def test_dates_mixed_with_junk_are_counted_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "junk.csv"
    dobs = ["21/08/2010", "13/01/2012", "2010-01-05", "unknown", "31/02/2011"]
    pd.DataFrame({"ID": list("abcde"), "DOB": dobs, "Surname": ["Ab"] * 5}).to_csv(
        path, index=False
    )
    text, mapping = _suggested(path, tmp_path)
    assert mapping.dob_formats[0] == "%d/%m/%Y"
    assert "2 of 5 dates (40.0%) read with none of these formats" in text
    assert "unknown" not in text and "31/02" not in text


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("names", "order", "forenames", "surnames"),
    [
        (
            ["SMITH, Jade Rose", "O'NEILL, Tom"],
            "surname_first",
            ["Jade", "Tom"],
            ["SMITH", "O'NEILL"],
        ),
        (
            ["Jade Rose SMITH", "Tom O'NEILL", "Amir KHAN"],
            "forename_first",
            ["Jade", "Tom", "Amir"],
            ["SMITH", "O'NEILL", "KHAN"],
        ),
        (
            ["SMITH Jade Rose", "O'NEILL Tom", "KHAN Amir"],
            "surname_first",
            ["Jade", "Tom", "Amir"],
            ["SMITH", "O'NEILL", "KHAN"],
        ),
    ],
)
def test_full_name_order_from_values(
    names: list[str], order: str, forenames: list[str], surnames: list[str], tmp_path: Path
) -> None:
    path = tmp_path / "names.csv"
    pd.DataFrame({"YP_REF": [f"y{i}" for i in range(len(names))], "Full Name": names}).to_csv(
        path, index=False
    )
    text, mapping = _suggested(path, tmp_path)
    assert mapping.columns["full_name"] == "Full Name"
    assert mapping.name_order == order
    assert "check:" not in _section(text, "names")
    records, _ = _ingest(path, mapping)
    assert records["forename"].tolist() == forenames
    assert records["surname"].tolist() == surnames
    _assert_no_values(text, set(names) | {"SMITH", "Jade", "KHAN", "Amir"})


def test_full_name_order_that_cannot_be_told_is_marked_check(tmp_path: Path) -> None:
    path = tmp_path / "names.csv"
    pd.DataFrame({"ID": ["1", "2"], "Name": ["Jade Smith", "Tom Jones"]}).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.name_order == "forename_first"
    assert "check: the order of the names cannot be told" in text


def test_name_parts_win_over_a_full_name(tmp_path: Path) -> None:
    path = tmp_path / "both.csv"
    pd.DataFrame(
        {"ID": ["1"], "Name": ["Jade Smith"], "Forename": ["Jade"], "Surname": ["Smith"]}
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert "full_name" not in mapping.columns
    assert mapping.columns["forename"] == "Forename"
    assert "looks like a full name but the name parts are mapped" in text


@pytest.mark.parametrize("sep", [";", "/", "|"])
def test_list_separators_from_values(sep: str, tmp_path: Path) -> None:
    path = tmp_path / "aliases.csv"
    pd.DataFrame(
        {
            "PNC_ID": ["p1", "p2", "p3"],
            "SURNAME": ["SMITH", "JONES", "KHAN"],
            "AKA": [f"TINY{sep}JADE BROWN", "", "AMIR ALI"],
            "PREVIOUS_SURNAMES": [f"BROWN{sep}GREEN", "", ""],
        }
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.aliases_separator == sep
    assert mapping.former_surnames_separator == sep
    records, _ = _ingest(path, mapping)
    assert list(records["aliases"][0]) == ["TINY", "JADE BROWN"]
    assert list(records["former_surnames"][0]) == ["BROWN", "GREEN"]
    _assert_no_values(text, {"TINY", "JADE BROWN", "BROWN", "GREEN", "AMIR ALI"})


# --------------------------------------------------------------------------- sex, address


def test_sex_codes_seen_and_unknown_codes_not_shown(tmp_path: Path) -> None:
    path = tmp_path / "sex.csv"
    pd.DataFrame(
        {
            "ID": [str(i) for i in range(7)],
            "Gender": ["Male", "male", "Female", "Not known", "X", "Jadeish", "Trans"],
        }
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.sex_codes == {"M": ("Male",), "F": ("Female",), "U": ("Not known", "X")}
    assert "2 other codes (2 rows) are not recognised" in text
    assert "Jadeish" not in text and "Trans" not in text


def test_numeric_sex_codes_are_read_as_nhs_codes_with_a_check(tmp_path: Path) -> None:
    path = tmp_path / "nhs_sex.csv"
    pd.DataFrame({"ID": ["1", "2", "3", "4"], "SEX": ["1", "2", "9", "1"]}).to_csv(
        path, index=False
    )
    text, mapping = _suggested(path, tmp_path)
    assert mapping.sex_codes == {"M": ("1",), "F": ("2",), "U": ("9",)}
    assert "check: numeric codes read as the NHS Data Dictionary" in text


def test_postcode_found_in_the_address(tmp_path: Path) -> None:
    path = tmp_path / "addr.csv"
    pd.DataFrame(
        {
            "PersonID": ["1", "2", "3"],
            "Address": [
                "1 Oak Road, Leeds, LS8 2EA",
                "Flat 2, 9 Elm Street, York YO1 7HH",
                "3 Ash Way, Hull",
            ],
        }
    ).to_csv(path, index=False)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.postcode_in_address is True
    assert "67% of the addresses end with one" in text
    records, _ = _ingest(path, mapping)
    assert records["postcode"].tolist() == ["LS8 2EA", "YO1 7HH", None]
    _assert_no_values(text, {"LS8 2EA", "YO1 7HH", "Oak Road", "Elm Street"})


def test_no_postcode_anywhere(tmp_path: Path) -> None:
    path = tmp_path / "addr.csv"
    pd.DataFrame({"ID": ["1", "2"], "Address": ["1 Oak Road, Leeds", "9 Elm Street"]}).to_csv(
        path, index=False
    )
    text, mapping = _suggested(path, tmp_path)
    assert mapping.postcode_in_address is False
    assert "no postcode in the addresses" in text


# --------------------------------------------------------------------------- file kinds


def test_cp1252_semicolon_file(tmp_path: Path) -> None:
    path = tmp_path / "windows.csv"
    path.write_bytes(
        "ID;Surname;Forename;DOB\r\n1;Bront\u00eb;Zo\u00eb;21/08/2010\r\n"
        "2;M\u00fcller;Jos\u00e9;03/04/2011\r\n".encode("cp1252")
    )
    text, mapping = _suggested(path, tmp_path)
    assert mapping.encoding == "cp1252"
    assert mapping.delimiter == ";"
    records, _ = _ingest(path, mapping)
    assert records["surname"].tolist() == ["Bront\u00eb", "M\u00fcller"]
    assert "Bront" not in text


def test_tab_separated_utf8_bom_file(tmp_path: Path) -> None:
    path = tmp_path / "tabs.tsv"
    path.write_bytes("\ufeffYJ_REF\tFULL_NAME\tDOB\ny1\tSMITH, Jade\t2010-08-21\n".encode())
    _, mapping = _suggested(path, tmp_path)
    assert (mapping.encoding, mapping.delimiter) == ("utf-8-sig", "\t")
    records, _ = _ingest(path, mapping)
    assert records[["forename", "surname"]].values.tolist() == [["Jade", "SMITH"]]


def test_xlsx_named_sheet_with_date_cells(tmp_path: Path) -> None:
    path = tmp_path / "book.xlsx"
    wb = openpyxl.Workbook()
    wb.active.title = "Notes"
    wb.active.append(["Something else"])
    ws = wb.create_sheet("Extract")
    ws.append(["UPN", "Surname", "Forename", "Date of Birth", "Gender"])
    ws.append(["A1", "Smith", "Jade", dt.datetime(2010, 8, 21), "F"])
    ws.append(["A2", "Jones", "Tom", dt.datetime(2011, 3, 4, 10, 30), "M"])
    wb.save(path)
    text, mapping = _suggested(path, tmp_path, sheet="Extract")
    assert (mapping.format, mapping.sheet) == ("xlsx", "Extract")
    records, _ = _ingest(path, mapping)
    assert records["dob"].astype(str).tolist() == ["2010-08-21", "2011-03-04"]
    assert "Smith" not in text
    with pytest.raises(UsageError):
        suggest_mapping(SYNTHETIC / "native" / "police.csv", sheet="Extract")


def test_parquet_with_typed_columns(tmp_path: Path) -> None:
    path = tmp_path / "typed.parquet"
    frame = pd.DataFrame(
        {
            "PersonID": ["a", "b"],
            "NHS_NO": pd.array([9434765919, None], dtype="Int64"),
            "DOB": [dt.date(2010, 1, 2), dt.date(2011, 3, 4)],
            "LastName": ["Smith", "Jones"],
        }
    )
    frame.to_parquet(path)
    text, mapping = _suggested(path, tmp_path)
    assert mapping.format == "parquet"
    assert dict(mapping.columns) == {
        "record_id": "PersonID",
        "nhs_number": "NHS_NO",
        "dob": "DOB",
        "surname": "LastName",
    }
    assert "holds dates already" in text
    assert "[dates]" not in tomllib.loads(text) or not tomllib.loads(text).get("dates")
    records, _ = _ingest(path, mapping)
    assert records["nhs_number"].tolist()[0] == "9434765919"


def test_header_only_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "empty.csv"
    path.write_text("PNC_ID,SURNAME,DOB\n")
    with pytest.raises(InputDataError, match="no data rows"):
        suggest_mapping(path)
