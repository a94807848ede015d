"""Tests of source mappings: TOML parsing, validation (all problems at once), round trips."""

from __future__ import annotations

from pathlib import Path

import pytest

from cselink.errors import ConfigError, CselinkError, did_you_mean
from cselink.mapping import (
    DEFAULT_SEX_CODES,
    Mapping,
    is_day_first,
    swap_day_month,
)

FULL_TOML = """
[source]
name = "police"
format = "csv"
encoding = "cp1252"
delimiter = ";"

[columns]
record_id = "PNC_ID"
full_name = "NAME"
aliases = "AKA"
former_surnames = "PREVIOUS_SURNAMES"
dob = "DOB"
sex = "GENDER"
address = "ADDRESS"
nhs_number = "NHS_NO"

[names]
order = "surname_first"
aliases_separator = "|"
former_surnames_separator = ","

[dates]
dob_formats = ["%d/%m/%Y", "%Y%m%d"]

[sex]
M = ["M", "Male", "1"]
F = ["F", "Female", "2"]
U = ["U", "Unknown", "9", "0", "X"]

[address]
postcode_in_address = true

[constants]
postcode = "ZZ99 3VZ"
"""


def write(tmp_path: Path, text: str, name: str = "map.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(data: dict) -> tuple[str, ...]:
    with pytest.raises(ConfigError) as info:
        Mapping.from_dict(data)
    return info.value.problems


def test_full_mapping_parses(tmp_path: Path) -> None:
    m = Mapping.from_toml(write(tmp_path, FULL_TOML))
    assert m.name == "police"
    assert m.format == "csv"
    assert m.encoding == "cp1252"
    assert m.delimiter == ";"
    assert m.columns["record_id"] == "PNC_ID"
    assert m.columns["full_name"] == "NAME"
    assert m.name_order == "surname_first"
    assert m.aliases_separator == "|"
    assert m.separator("former_surnames") == ","
    assert m.dob_formats == ("%d/%m/%Y", "%Y%m%d")
    assert m.sex_codes == {
        "M": ("M", "Male", "1"),
        "F": ("F", "Female", "2"),
        "U": ("U", "Unknown", "9", "0", "X"),
    }
    assert m.postcode_in_address is True
    assert m.constants == {"postcode": "ZZ99 3VZ"}
    assert m.origin == str(tmp_path / "map.toml")
    assert m.source_name() == "police"


def test_round_trip_through_dict(tmp_path: Path) -> None:
    m = Mapping.from_toml(write(tmp_path, FULL_TOML))
    again = Mapping.from_dict(m.to_dict())
    assert again == m
    assert Mapping.from_dict(again.to_dict()).to_dict() == m.to_dict()


def test_minimal_mapping_defaults() -> None:
    m = Mapping.from_dict({"columns": {"record_id": "ID", "surname": "SN"}})
    assert m.name is None and m.format is None and m.encoding is None
    assert m.dob_formats == ("%Y-%m-%d",)
    assert m.aliases_separator == ";"
    assert m.name_order == "forename_first"
    assert m.sex_codes is None
    assert m.effective_sex_codes == DEFAULT_SEX_CODES
    assert m.postcode_in_address is False
    assert Mapping.from_dict(m.to_dict()) == m


def test_spellings_are_normalised() -> None:
    m = Mapping.from_dict(
        {
            "source": {"format": "XLSX", "sheet": "Extract"},
            "columns": {"record_id": "ID"},
        }
    )
    assert m.format == "xlsx" and m.sheet == "Extract"
    m = Mapping.from_dict(
        {"source": {"encoding": "Windows-1252", "delimiter": "tab"}, "columns": {"record_id": "ID"}}
    )
    assert m.encoding == "cp1252" and m.delimiter == "\t"
    m = Mapping.from_dict({"source": {"encoding": "UTF8"}, "columns": {"record_id": "ID"}})
    assert m.encoding == "utf-8"
    m = Mapping.from_dict({"dates": {"dob_formats": "%d.%m.%Y"}, "columns": {"record_id": "ID"}})
    assert m.dob_formats == ("%d.%m.%Y",)


def test_toml_syntax_error_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[columns]\nrecord_id = "ID"\nsurname = \n')
    with pytest.raises(ConfigError) as info:
        Mapping.from_toml(path)
    err = info.value
    assert err.row == 3
    assert err.file == str(path)
    assert "does not parse" in str(err)
    assert str(path) in str(err) and "row 3" in str(err)


def test_toml_unclosed_table_header(tmp_path: Path) -> None:
    path = write(tmp_path, '[columns\nrecord_id = "ID"\n')
    with pytest.raises(ConfigError) as info:
        Mapping.from_toml(path)
    assert info.value.row == 1


def test_missing_mapping_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="mapping file not found") as info:
        Mapping.from_toml(tmp_path / "nope.toml")
    assert info.value.file == str(tmp_path / "nope.toml")


def test_mapping_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_bytes(b'[columns]\nrecord_id = "\xff\xfe"\n')
    with pytest.raises(ConfigError, match="not UTF-8"):
        Mapping.from_toml(path)


def test_mapping_path_is_folder(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="folder"):
        Mapping.from_toml(tmp_path)


def test_all_problems_collected_with_suggestions() -> None:
    problems = problems_of(
        {
            "colums": {"record_id": "ID"},
            "names": {"ordr": "surname_first"},
            "dates": {"dob_format": ["%d/%m/%Y"]},
            "sex": {"Male": ["M"]},
        }
    )
    text = "\n".join(problems)
    assert "unknown table [colums] (did you mean 'columns'?)" in text
    assert "unknown key 'ordr' in [names] (did you mean 'order'?)" in text
    assert "unknown key 'dob_format' in [dates] (did you mean 'dob_formats'?)" in text
    assert "unknown key 'Male' in [sex]" in text
    assert "[columns] record_id is required" in text
    assert len(problems) == 5


def test_unknown_column_key_suggests() -> None:
    problems = problems_of({"columns": {"record_id": "ID", "surnam": "SN", "dob_col": "D"}})
    assert any("'surnam'" in p and "did you mean 'surname'" in p for p in problems)
    assert any("'dob_col'" in p for p in problems)


def test_source_column_is_not_mappable() -> None:
    problems = problems_of({"columns": {"record_id": "ID", "source": "AGENCY"}})
    assert any("[source] name or [constants]" in p for p in problems)


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        ({"source": {"format": "xls"}}, "format must be one of"),
        ({"source": {"encoding": "ebcdic"}}, "encoding must be one of"),
        ({"source": {"delimiter": "::"}}, "delimiter must be one of"),
        ({"source": {"name": ""}}, "name must be a non-empty string"),
        ({"source": {"format": "csv", "sheet": "S1"}}, "sheet is only for format 'xlsx'"),
        ({"names": {"order": "surname-first"}}, "did you mean 'surname_first'"),
        ({"names": {"aliases_separator": ""}}, "aliases_separator must be a non-empty"),
        ({"dates": {"dob_formats": []}}, "non-empty list"),
        ({"dates": {"dob_formats": ["dd/mm/yyyy"]}}, "has no % directives"),
        ({"dates": {"dob_formats": ["%d/%m/%Q"]}}, "unknown directive '%Q'"),
        ({"dates": {"dob_formats": ["%d/%m"]}}, "has no year"),
        ({"dates": {"dob_formats": ["%d/%m/%Y", "%d/%m/%Y"]}}, "lists a format twice"),
        ({"sex": {"M": ["1"], "F": ["1"]}}, "listed under both M and F"),
        ({"sex": {"M": [True]}}, "[sex] M must be a list of codes"),
        ({"address": {"postcode_in_address": "yes"}}, "must be true or false"),
        ({"address": {"postcode_in_address": True}}, "needs an address column"),
        ({"constants": {"record_id": "1"}}, "unknown key 'record_id' in [constants]"),
        ({"constants": {"sex": 1.5}}, "[constants] sex must be a string"),
        ({"columns": {"record_id": ""}}, "record_id must name a column"),
        (
            {"columns": {"record_id": "ID", "full_name": "N", "surname": "S"}},
            "full_name cannot be combined with surname",
        ),
        (
            {"columns": {"record_id": "ID", "sex": "G"}, "constants": {"sex": "F"}},
            "[constants] sex is also mapped",
        ),
        (
            {"source": {"name": "a"}, "constants": {"source": "b"}},
            "[constants] source differs from [source] name",
        ),
        ({"columns": "ID"}, "[columns] must be a table"),
    ],
)
def test_invalid_values(data: dict, expected: str) -> None:
    data = {"columns": {"record_id": "ID"}, **data} if "columns" not in data else data
    problems = problems_of(data)
    assert any(expected in p for p in problems), problems


def test_config_error_message_lists_problems_and_is_cselink_error() -> None:
    with pytest.raises(CselinkError) as info:
        Mapping.from_dict({"columns": {}, "names": {"order": "x"}}, origin="m.toml")
    err = info.value
    assert isinstance(err, ConfigError)
    assert err.file == "m.toml"
    assert "2 problems" in str(err)
    assert "record_id is required" in str(err) and "order must be" in str(err)


def test_sex_codes_accept_numbers_and_single_values() -> None:
    m = Mapping.from_dict({"columns": {"record_id": "ID"}, "sex": {"M": 1, "F": [2, "f"]}})
    assert m.sex_codes == {"M": ("1",), "F": ("2", "f")}


def test_constant_source_names_the_source() -> None:
    m = Mapping.from_dict({"columns": {"record_id": "ID"}, "constants": {"source": "health"}})
    assert m.source_name() == "health"


def test_missing_columns_with_hints() -> None:
    m = Mapping.from_dict({"columns": {"record_id": "PNC_ID", "surname": "LAST", "dob": "DOB"}})
    problems = m.missing_columns(["PNC ID", "LAST", "D.O.B"])
    assert len(problems) == 2
    assert "column 'PNC_ID' (mapped to record_id) is not in the file" in problems[0]
    assert "did you mean 'PNC ID'" in problems[0]


def test_canonical_mapping_matches_case_insensitively() -> None:
    m = Mapping.canonical(["Record_ID", "forename", "SURNAME", "source", "extra"])
    assert m.columns == {"record_id": "Record_ID", "forename": "forename", "surname": "SURNAME"}


def test_did_you_mean() -> None:
    assert did_you_mean("record_id", ["RecordID", "Name"]) == " (did you mean 'RecordID'?)"
    assert did_you_mean("record_id", ["Record ID"]) == " (did you mean 'Record ID'?)"
    assert did_you_mean("record_id", ["zzz"]) == ""


def test_day_month_helpers() -> None:
    assert swap_day_month("%d/%m/%Y") == "%m/%d/%Y"
    assert swap_day_month("%m-%d-%y") == "%d-%m-%y"
    assert is_day_first("%d/%m/%Y") and not is_day_first("%m/%d/%Y")
    assert not is_day_first("%Y%m%d") and not is_day_first("%d %Y")
