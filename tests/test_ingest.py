"""Tests of ingest: every source format, mappings, validation and row accounting.

All data is synthetic. Files are written to tmp_path and read through the real
DuckDB pipeline.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import logging
import os
import stat
from pathlib import Path

import duckdb
import openpyxl
import pandas as pd
import pytest

from cselink import io as cio
from cselink.errors import ConfigError, CselinkError, InputDataError, UsageError
from cselink.ingest import (
    REASON_DUPLICATE,
    REASON_MISSING_ID,
    REASON_NO_NAME,
    WARN_DOB,
    WARN_NHS,
    WARN_SEX,
    IngestReport,
    Source,
    load_sources,
    source_from_spec,
)
from cselink.mapping import Mapping

VALID_NHS = "9434765919"  # a published test number: passes modulus 11
VALID_NHS_2 = "4010232137"

INPUT_COLUMNS = [
    ("uid", "BIGINT"),
    ("source", "VARCHAR"),
    ("record_id", "VARCHAR"),
    ("row_number", "BIGINT"),
    ("forename", "VARCHAR"),
    ("middle_names", "VARCHAR"),
    ("surname", "VARCHAR"),
    ("aliases", "VARCHAR[]"),
    ("former_surnames", "VARCHAR[]"),
    ("dob", "DATE"),
    ("sex", "VARCHAR"),
    ("address", "VARCHAR"),
    ("postcode", "VARCHAR"),
    ("nhs_number", "VARCHAR"),
    ("nhs_number_valid", "BOOLEAN"),
]
REJECT_COLUMNS = [
    ("source", "VARCHAR"),
    ("row_number", "BIGINT"),
    ("record_id", "VARCHAR"),
    ("column", "VARCHAR"),
    ("reason", "VARCHAR"),
]

CANONICAL_HEADER = (
    "record_id,source,forename,middle_names,surname,aliases,former_surnames,dob,sex,"
    "address,postcode,nhs_number"
)
CANONICAL_ROWS = [
    f'007,edu, Jade ,Marie,Smith,"JJ; Jade Brown ;",Brown,2008-03-04,F,"1 High St, Taunton",'
    f"TA1 2AB,{VALID_NHS}",
    "0042,edu,Ryan,,O'Neil,,,2009-12-31,M,,,",
    "A-3,edu,Kayleigh,,,,,,,,,",
]


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    c.execute("SET enable_progress_bar = false")
    yield c
    c.close()


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def canonical_csv(tmp_path: Path, name: str = "edu.csv", delimiter: str = ",") -> Path:
    text = "\n".join([CANONICAL_HEADER, *CANONICAL_ROWS]) + "\n"
    if delimiter != ",":
        frame = pd.read_csv(pd.io.common.StringIO(text), dtype=str, keep_default_na=False)
        frame.to_csv(tmp_path / name, sep=delimiter, index=False)
        return tmp_path / name
    return write(tmp_path / name, text)


def records(con: duckdb.DuckDBPyConnection, table: str = "input_records") -> list[dict]:
    cur = con.execute(f"SELECT * FROM {table} ORDER BY uid")
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]


def rejects(con: duckdb.DuckDBPyConnection, table: str = "rejects") -> list[tuple]:
    return con.execute(
        f'SELECT source, row_number, record_id, "column", reason FROM {table} '
        "ORDER BY source, row_number"
    ).fetchall()


def load(con: duckdb.DuckDBPyConnection, *sources: Source, **kw) -> IngestReport:
    report = load_sources(con, list(sources), **kw)
    for s in report.sources:
        assert s.rows_read == s.rows_used + s.rows_rejected
    n_in = con.execute("SELECT count(*) FROM input_records").fetchall()[0][0]
    n_rej = con.execute("SELECT count(*) FROM rejects").fetchall()[0][0]
    assert (n_in, n_rej) == (report.rows_used, report.rows_rejected)
    return report


def mapping(**tables: dict) -> Mapping:
    return Mapping.from_dict(tables)


# --------------------------------------------------------------------------- canonical


def test_canonical_csv_contract(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    report = load(con, Source("edu", canonical_csv(tmp_path)))
    assert con.execute("DESCRIBE input_records").fetchall() == [
        (n, t, "YES", None, None, None) for n, t in INPUT_COLUMNS
    ]
    assert [(r[0], r[1]) for r in con.execute("DESCRIBE rejects").fetchall()] == REJECT_COLUMNS
    rows = records(con)
    assert [r["uid"] for r in rows] == [0, 1, 2]
    assert [r["record_id"] for r in rows] == ["007", "0042", "A-3"]  # leading zeros kept
    assert [r["row_number"] for r in rows] == [1, 2, 3]
    first = rows[0]
    assert first["source"] == "edu"
    assert first["forename"] == "Jade"  # trimmed
    assert first["middle_names"] == "Marie"
    assert first["aliases"] == ["JJ", "Jade Brown"]  # empty item dropped, items trimmed
    assert first["former_surnames"] == ["Brown"]
    assert first["dob"] == dt.date(2008, 3, 4)
    assert first["sex"] == "F"
    assert first["address"] == "1 High St, Taunton"
    assert first["postcode"] == "TA1 2AB"
    assert first["nhs_number"] == VALID_NHS and first["nhs_number_valid"] is True
    second = rows[1]
    assert second["surname"] == "O'Neil"
    assert second["middle_names"] is None  # empty -> NULL
    assert second["aliases"] is None and second["nhs_number_valid"] is None
    assert rows[2]["surname"] is None and rows[2]["dob"] is None
    src = report.source("edu")
    assert (src.rows_read, src.rows_used, src.rows_rejected) == (3, 3, 0)
    assert src.format == "csv" and src.encoding == "utf-8" and src.delimiter == ","
    assert rejects(con) == []


def test_same_records_from_csv_parquet_dataframe_and_relation(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    csv_path = canonical_csv(tmp_path)
    load(con, Source("edu", csv_path))
    expected = [{k: v for k, v in r.items()} for r in records(con)]

    pq = tmp_path / "edu.parquet"
    con.execute(
        f"COPY (SELECT * FROM read_csv('{csv_path}', all_varchar = true)) TO '{pq}' "
        "(FORMAT parquet)"
    )
    load(con, Source("edu", pq))
    assert records(con) == expected

    frame = pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    load(con, Source("edu", frame))
    assert records(con) == expected

    other = duckdb.connect()
    rel = other.sql(f"SELECT * FROM read_csv('{csv_path}', all_varchar = true)")
    load(con, Source("edu", rel))
    assert records(con) == expected
    other.close()


def test_parquet_native_types(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    pq = tmp_path / "health.parquet"
    con.execute(
        f"""COPY (SELECT * FROM (VALUES
              ('1', 'Amy', DATE '2010-05-06', ['Aims', ' ', 'A J'], 4010232137),
              ('2', 'Ben', NULL, NULL, NULL)) t(record_id, forename, dob, aliases, nhs_number))
            TO '{pq}' (FORMAT parquet)"""
    )
    report = load(con, Source("health", pq))
    rows = records(con)
    assert rows[0]["dob"] == dt.date(2010, 5, 6)
    assert rows[0]["aliases"] == ["Aims", "A J"]
    assert rows[0]["nhs_number"] == VALID_NHS_2 and rows[0]["nhs_number_valid"] is True
    assert rows[1]["dob"] is None
    assert report.source("health").format == "parquet"


def test_dataframe_float_ids_and_datetimes(con: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame(
        {
            "record_id": ["a", "b"],
            "surname": ["Khan", "Nowak"],
            "dob": pd.to_datetime(["2011-02-03", None]),
            "nhs_number": [float(VALID_NHS), None],  # a float column with a NaN
        }
    )
    load(con, Source("df", frame))
    rows = records(con)
    assert rows[0]["dob"] == dt.date(2011, 2, 3)
    assert rows[0]["nhs_number"] == VALID_NHS  # no trailing ".0"
    assert rows[1]["nhs_number"] is None


def test_dataframe_index_does_not_matter(con: duckdb.DuckDBPyConnection) -> None:
    frame = pd.DataFrame({"record_id": ["x", "y"], "surname": ["A", "B"]}, index=[10, 5])
    load(con, Source("df", frame))
    assert [(r["record_id"], r["row_number"]) for r in records(con)] == [("x", 1), ("y", 2)]


def test_dataframe_non_string_column_names(con: duckdb.DuckDBPyConnection) -> None:
    with pytest.raises(InputDataError, match="column names must be strings"):
        load_sources(con, [Source("df", pd.DataFrame({0: ["a"]}))])


def test_uids_follow_source_order_then_rows(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    a = write(tmp_path / "a.csv", "record_id,surname\n1,A\n2,B\n")
    b = write(tmp_path / "b.csv", "record_id,surname\n1,C\n")
    load(con, Source("b_first", b), Source("a_second", a))
    got = con.execute("SELECT uid, source, record_id FROM input_records ORDER BY uid").fetchall()
    assert got == [(0, "b_first", "1"), (1, "a_second", "1"), (2, "a_second", "2")]


def test_custom_table_names(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "record_id,surname\n1,A\n,B\n")
    report = load_sources(con, [Source("x", path)], table="my in", rejects_table="my rej")
    assert report.table == "my in"
    assert con.execute('SELECT count(*) FROM "my in"').fetchall() == [(1,)]
    assert con.execute('SELECT count(*) FROM "my rej"').fetchall() == [(1,)]


def test_reingest_replaces_tables(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = canonical_csv(tmp_path)
    load(con, Source("edu", path))
    load(con, Source("edu", path))
    assert con.execute("SELECT count(*) FROM input_records").fetchall() == [(3,)]
    leftovers = con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE table_name LIKE '__cselink%'"
    ).fetchall()
    assert leftovers == []


def test_source_column_in_file_is_reported_not_used(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    report = load(con, Source("education", canonical_csv(tmp_path)))
    assert {r["source"] for r in records(con)} == {"education"}
    assert report.warning_count("education", "source") == 3


def test_extra_columns_are_ignored_and_listed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", "record_id,surname,person_id,notes\n1,A,p1,n\n")
    report = load(con, Source("x", path))
    assert report.source("x").ignored_columns == ("person_id", "notes")


def test_canonical_headers_match_ignoring_case(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", "Record_ID,Forename,SURNAME\n1,Ann,Lee\n")
    load(con, Source("x", path))
    assert records(con)[0]["surname"] == "Lee"


# --------------------------------------------------------------------------- CSV dialects


@pytest.mark.parametrize("delimiter", [",", ";", "|", "\t"])
def test_delimiters_are_sniffed(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, delimiter: str
) -> None:
    path = canonical_csv(tmp_path, delimiter=delimiter)
    report = load(con, Source("edu", path))
    assert report.source("edu").delimiter == delimiter
    rows = records(con)
    assert rows[0]["address"] == "1 High St, Taunton"
    assert rows[0]["aliases"] == ["JJ", "Jade Brown"]
    assert [r["record_id"] for r in rows] == ["007", "0042", "A-3"]


def test_semicolon_file_with_commas_in_values(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "x.csv",
        "record_id;surname;address\n1;Lee;2, Low Rd, Bath\n2;Ng;Flat 3, 9 Hill St, Leeds\n",
    )
    report = load(con, Source("x", path))
    assert report.source("x").delimiter == ";"
    assert records(con)[1]["address"] == "Flat 3, 9 Hill St, Leeds"


def test_quotes_and_embedded_newlines(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    text = (
        "record_id,surname,address\n"
        '1,"O""Brien","Flat 1\nHigh St"\n'
        '2,"Smith, Jr","a ""quoted"" word"\n'
        "3,Lee,\n"
    )
    load(con, Source("x", write(tmp_path / "x.csv", text)))
    rows = records(con)
    assert rows[0]["surname"] == 'O"Brien'
    assert rows[0]["address"] == "Flat 1\nHigh St"
    assert rows[1]["surname"] == "Smith, Jr"
    assert [r["row_number"] for r in rows] == [1, 2, 3]  # records, not physical lines


def test_crlf_line_ends(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "record_id,surname\r\n1,Lee\r\n2,Ng\r\n")
    load(con, Source("x", path))
    assert [r["surname"] for r in records(con)] == ["Lee", "Ng"]


@pytest.mark.parametrize(
    ("encoding", "prefix", "expected_encoding"),
    [
        ("utf-8", b"", "utf-8"),
        ("utf-8", b"\xef\xbb\xbf", "utf-8-sig"),
        ("cp1252", b"", "cp1252"),
        ("utf-16", b"", "utf-16"),
    ],
)
def test_encodings_are_detected(
    con: duckdb.DuckDBPyConnection,
    tmp_path: Path,
    encoding: str,
    prefix: bytes,
    expected_encoding: str,
) -> None:
    text = "record_id,forename,surname\n1,Zoë,O’Brien\n2,José,Müller\n"
    path = tmp_path / "x.csv"
    path.write_bytes(prefix + text.encode(encoding))
    report = load(con, Source("x", path))
    assert report.source("x").encoding == expected_encoding
    rows = records(con)
    assert [r["record_id"] for r in rows] == ["1", "2"]  # BOM not in the first header
    assert [(r["forename"], r["surname"]) for r in rows] == [
        ("Zoë", "O’Brien"),
        ("José", "Müller"),
    ]


def test_latin1_bytes_undefined_in_cp1252(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(b"record_id,surname\n1,Ab\x81c\n2,M\xfcller\n")
    report = load(con, Source("x", path))
    assert report.source("x").encoding == "latin-1"
    assert records(con)[1]["surname"] == "Müller"


def test_mixed_utf8_and_cp1252_bytes(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        b"record_id,surname\n1," + "Zoë".encode() + b"\n2," + "José".encode("cp1252") + b"\n"
    )
    report = load(con, Source("x", path))
    assert report.source("x").encoding == "utf-8+cp1252"
    assert [r["surname"] for r in records(con)] == ["Zoë", "José"]
    assert any("mixed text encodings" in w.reason for w in report.warnings)


def test_declared_single_byte_encoding_for_a_utf8_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", "ID,SN\n1,Zoë\n")
    m = mapping(source={"encoding": "cp1252"}, columns={"record_id": "ID", "surname": "SN"})
    with pytest.raises(InputDataError, match="declared encoding 'cp1252' but the file is UTF-8"):
        load_sources(con, [Source("x", path, m)])


def test_stray_nul_is_kept_as_recorded(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes(
        b"record_id,surname\n" + b"".join(b"%d,Lee\n" % i for i in range(50)) + b"99,Le\x00e\n"
    )
    load(con, Source("x", path))
    assert records(con)[-1]["surname"] == "Le\x00e"


def test_headerless_file_is_not_quoted_back(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "001,Recordia,2010-01-02\n002,Jones,2011-02-03\n")
    with pytest.raises(InputDataError) as info:
        load_sources(con, [Source("x", path)])
    assert "the first row looks like data" in str(info.value)
    assert "Recordia" not in str(info.value)
    m = mapping(columns={"record_id": "ID", "surname": "SURNAME"})
    with pytest.raises(ConfigError) as cinfo:
        load_sources(con, [Source("x", path, m)])
    assert "header row missing" in str(cinfo.value)
    assert "Recordia" not in str(cinfo.value)


def test_headers_similar_to_a_name_are_not_suggested(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    # A header-less file whose first row holds no number or date: the only guard is
    # that a suggestion must be very close to the missing column's name.
    path = write(tmp_path / "x.csv", "Ford,Recor\nAnn,Lee\n")
    with pytest.raises(InputDataError) as info:
        load_sources(con, [Source("x", path)])
    assert "Recor" not in str(info.value) and "Ford" not in str(info.value)


def test_declared_encoding_is_used(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("ID,SN\n1,Müller\n".encode("latin-1"))
    m = mapping(source={"encoding": "latin-1"}, columns={"record_id": "ID", "surname": "SN"})
    report = load(con, Source("x", path, m))
    assert report.source("x").encoding == "latin-1"
    assert records(con)[0]["surname"] == "Müller"


def test_declared_utf8_but_file_is_not(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("ID,SN\n1,Lee\n2,Lee\n3,Müller\n".encode("cp1252"))
    m = mapping(source={"encoding": "utf-8"}, columns={"record_id": "ID", "surname": "SN"})
    with pytest.raises(InputDataError) as info:
        load_sources(con, [Source("x", path, m)])
    err = info.value
    assert err.file == str(path) and err.row == 3
    assert "not valid UTF-8" in str(err)
    assert "Müller" not in str(err) and "M\\xfc" not in str(err)


def test_declared_delimiter_is_used(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    # Sniffing would pick ',' (3 columns); the mapping says '|'.
    path = write(tmp_path / "x.csv", "ID|SN,X|A\n1|Lee,Y|a\n")
    m = mapping(source={"delimiter": "|"}, columns={"record_id": "ID", "surname": "SN,X"})
    load(con, Source("x", path, m))
    assert records(con)[0]["surname"] == "Lee,Y"


# --------------------------------------------------------------------------- xlsx


def make_xlsx(path: Path, sheets: dict[str, list[list]]) -> Path:
    wb = openpyxl.Workbook()
    wb.remove(wb.active)
    for title, rows in sheets.items():
        ws = wb.create_sheet(title)
        for row in rows:
            ws.append(row)
    wb.save(path)
    return path


def test_xlsx_first_sheet(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "social.xlsx",
        {
            "Extract": [
                ["record_id", "forename", "surname", "dob", "nhs_number", "aliases"],
                ["00123", "Amy", "Khan", dt.datetime(2010, 1, 31), int(VALID_NHS), "A; B"],
                [None, None, None, None, None, None],  # an empty row is skipped
                [456, "Ben", "Lee", "2011-02-03", None, None],
                [7.0, "Cat", "Ng", dt.date(2012, 3, 4), 1.5, None],
            ],
            "Other": [["x"], ["y"]],
        },
    )
    report = load(con, Source("social", path))
    rows = records(con)
    assert [r["record_id"] for r in rows] == ["00123", "456", "7"]
    assert [r["row_number"] for r in rows] == [1, 3, 4]  # sheet row - 1
    assert rows[0]["dob"] == dt.date(2010, 1, 31)
    assert rows[0]["nhs_number"] == VALID_NHS and rows[0]["nhs_number_valid"] is True
    assert rows[0]["aliases"] == ["A", "B"]
    assert rows[1]["dob"] == dt.date(2011, 2, 3)
    assert rows[2]["dob"] == dt.date(2012, 3, 4)
    assert rows[2]["nhs_number_valid"] is False
    assert report.source("social").format == "xlsx"


def test_xlsx_named_sheet_and_mapping(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = make_xlsx(
        tmp_path / "yj.xlsx",
        {
            "Cover": [["notes"], ["not data"]],
            "Extract": [["ID", "NAME", "DOB"], ["Y1", "SMITH, Jade", "04/03/2009"]],
        },
    )
    m = mapping(
        source={"sheet": "Extract"},
        columns={"record_id": "ID", "full_name": "NAME", "dob": "DOB"},
        dates={"dob_formats": ["%d/%m/%Y"]},
    )
    load(con, Source("yj", path, m))
    row = records(con)[0]
    assert (row["forename"], row["surname"], row["dob"]) == ("Jade", "SMITH", dt.date(2009, 3, 4))


def test_xlsx_missing_sheet(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "yj.xlsx", {"Extract": [["ID"], ["1"]]})
    m = mapping(source={"sheet": "Extarct"}, columns={"record_id": "ID"})
    with pytest.raises(InputDataError, match="no sheet 'Extarct'.*did you mean 'Extract'"):
        load_sources(con, [Source("yj", path, m)])


def test_xlsx_empty_sheet(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = make_xlsx(tmp_path / "e.xlsx", {"Sheet": []})
    with pytest.raises(InputDataError, match="empty sheet"):
        load_sources(con, [Source("e", path)])


def test_xlsx_formula_cells_read_as_cached_values(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = make_xlsx(
        tmp_path / "f.xlsx", {"S": [["record_id", "surname"], ["1", '=HYPERLINK("x")']]}
    )
    load(con, Source("f", path))
    # openpyxl wrote no cached value, so the formula cell is empty: never evaluated,
    # never passed on as text.
    assert records(con) == []
    assert rejects(con) == [("f", 1, "1", "surname", REASON_NO_NAME)]


# --------------------------------------------------------------------------- rejects


MESSY = (
    "record_id,forename,surname,aliases,dob,sex,nhs_number\n"
    "1,Amy,Khan,,2010-01-02,F,\n"  # 1 ok
    ",Ben,Lee,,,,\n"  # 2 missing id
    "  ,Cat,Ng,,,,\n"  # 3 blank id
    "1,Dup,Row,,,,\n"  # 4 duplicate of 1
    "4,,,,,,\n"  # 5 no name
    "5,,,  ;  ,,,\n"  # 6 aliases only separators -> no name
    "6,,,Kid K,,,\n"  # 7 alias only: kept
    "7,Eve,Moss,,31/02/2010,X,123\n"  # 8 bad optional fields: kept
    "8,Fay,Hall,,2010-01-02,M,too,many\n"  # 9 malformed: too many fields
    "9,Gus\n"  # 10 malformed: too few fields
    "10,Hal,Ives,,,,\n"  # 11 ok
    "4,Ian,Jay,,,,\n"  # 12 id 4 again, but the first 4 had no name: kept
)


def test_messy_file_accounts_for_every_row(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "messy.csv", MESSY)
    report = load(con, Source("messy", path), on_duplicate="reject")
    src = report.source("messy")
    assert src.rows_read == 12
    assert (src.rows_used, src.rows_rejected) == (5, 7)
    assert src.rows_read == src.rows_used + src.rows_rejected
    got = rejects(con)
    assert got == [
        ("messy", 2, None, "record_id", REASON_MISSING_ID),
        ("messy", 3, None, "record_id", REASON_MISSING_ID),
        ("messy", 4, "1", "record_id", REASON_DUPLICATE),
        ("messy", 5, "4", "forename, surname, aliases", REASON_NO_NAME),
        ("messy", 6, "5", "forename, surname, aliases", REASON_NO_NAME),
        ("messy", 9, None, None, "malformed row: more fields than the header"),
        ("messy", 10, None, None, "malformed row: fewer fields than the header"),
    ]
    rows = records(con)
    assert [(r["record_id"], r["row_number"]) for r in rows] == [
        ("1", 1),
        ("6", 7),
        ("7", 8),
        ("10", 11),
        ("4", 12),
    ]
    eve = rows[2]
    assert eve["dob"] is None and eve["sex"] == "U" and eve["nhs_number_valid"] is False
    assert report.warning_count("messy", "dob", WARN_DOB) == 1
    assert report.warning_count("messy", "sex", WARN_SEX) == 1
    assert report.warning_count("messy", "nhs_number", WARN_NHS) == 1
    assert src.rejected_by_reason[REASON_DUPLICATE] == 1
    # No personal value reaches the rejects table.
    flat = " ".join(str(v) for row in got for v in row)
    for value in ("Ben", "Lee", "Cat", "Dup", "Fay", "Gus", "Hall"):
        assert value not in flat
    json.dumps(report.to_dict())  # the report is plain data


def test_duplicate_ids_keep_every_row_under_a_key_naming_the_row(
        con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = write(tmp_path / "d.csv", "ID,SN\nA1,Lee\nA2,Ng\nA1,Lee\nA1,Moss\n")
    m = mapping(columns={"record_id": "ID", "surname": "SN"})
    with caplog.at_level(logging.WARNING, logger="cselink"):
        report = load(con, Source("d", path, m))  # on_duplicate="keep", the default
    assert [(r["record_id"], r["row_number"]) for r in records(con)] == [
        ("A1 (row 1)", 1), ("A2", 2), ("A1 (row 3)", 3), ("A1 (row 4)", 4)]
    assert rejects(con) == []
    (warning,) = [w for w in report.warnings if w.column == "record_id"]
    assert warning.count == 3 and warning.reason.endswith("(rows 1, 3, 4)")
    assert warning.header == "ID"
    assert any(r.getMessage().endswith("; ids: A1") for r in caplog.records)  # the log names it


def test_duplicates_raise_when_asked(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "d.csv", "ID,SN\nA1,Lee\nA2,Ng\nA1,Lee\nA1,Moss\n")
    m = mapping(columns={"record_id": "ID", "surname": "SN"})
    with pytest.raises(InputDataError) as info:
        load_sources(con, [Source("d", path, m)], on_duplicate="raise")
    err = info.value
    assert (err.file, err.row, err.column) == (str(path), 3, "ID")
    assert "duplicate record ids within source 'd'" in str(err)
    assert "2 rows repeat" in str(err) and "'A1'" in str(err)
    assert "Lee" not in str(err) and "Moss" not in str(err)


def test_missing_record_id_column(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "RecordID,forename,surname\n1,A,B\n")
    with pytest.raises(InputDataError) as info:
        load_sources(con, [Source("x", path)])
    err = info.value
    assert err.column == "record_id" and err.file == str(path)
    assert "missing required column 'record_id' (did you mean 'RecordID'?)" in str(err)


def test_mapping_names_unknown_columns(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "p.csv", "PNC ID,FIRST,LAST\n1,A,B\n")
    m = mapping(columns={"record_id": "PNC_ID", "forename": "FIRST", "surname": "SURNAME"})
    with pytest.raises(ConfigError) as info:
        load_sources(con, [Source("p", path, m)])
    err = info.value
    assert len(err.problems) == 2
    assert "did you mean 'PNC ID'" in err.problems[0]
    assert err.file == str(path) and err.column == "PNC_ID"


def test_duplicate_header_used_by_mapping(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "record_id,surname,surname\n1,A,B\n")
    with pytest.raises(InputDataError, match="'surname' appears more than once"):
        load_sources(con, [Source("x", path)])


def test_header_only_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "record_id,surname\n")
    report = load(con, Source("x", path))
    assert report.rows_read == 0
    assert report.warnings[0].reason == "no data rows"


# --------------------------------------------------------------------------- optional fields


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (VALID_NHS, True),
        ("943 476 5919", True),
        ("943-476-5919", True),
        (VALID_NHS_2, True),
        ("9434765918", False),  # wrong check digit
        ("943476591", False),  # nine digits
        ("94347659190", False),  # eleven digits
        ("0000000000", False),  # passes modulus 11 but is a placeholder
        ("1111111111", False),  # idem
        ("94347A5919", False),
        ("1000000010", False),  # check digit would be 10: never valid
        ("1000000060", True),  # check digit 11 means 0
    ],
)
def test_nhs_number_validation(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, value: str, valid: bool
) -> None:
    path = write(tmp_path / "h.csv", f"record_id,surname,nhs_number\n1,Lee,{value}\n")
    report = load(con, Source("h", path))
    row = records(con)[0]
    assert row["nhs_number"] == value  # kept as recorded
    assert row["nhs_number_valid"] is valid
    assert report.warning_count("h", "nhs_number") == (0 if valid else 1)


def test_iso_dates_with_time_are_accepted(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "x.csv",
        "record_id,surname,dob\n1,A,2010-01-02\n2,B,2010-01-02 00:00:00\n3,C,2010-01-02T13:45:00\n"
        "4,D,2010-01-02T13:45:00.123\n5,E,02/01/2010\n6,F,2010-02-30\n",
    )
    report = load(con, Source("x", path))
    dobs = [r["dob"] for r in records(con)]
    assert dobs[:4] == [dt.date(2010, 1, 2)] * 4
    assert dobs[4:] == [None, None]
    assert report.warning_count("x", "dob", WARN_DOB) == 2


def test_declared_date_formats_in_order(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "ID,SN,DOB\n1,A,04/03/2009\n2,B,20090304\n3,C,2009-03-04\n")
    m = mapping(
        columns={"record_id": "ID", "surname": "SN", "dob": "DOB"},
        dates={"dob_formats": ["%d/%m/%Y", "%Y%m%d"]},
    )
    load(con, Source("x", path, m))
    assert [r["dob"] for r in records(con)] == [dt.date(2009, 3, 4)] * 3


def day_month_file(tmp_path: Path, values: list[str]) -> Path:
    lines = ["ID,SN,DOB"] + [f"{i},S{i},{v}" for i, v in enumerate(values)]
    return write(tmp_path / "d.csv", "\n".join(lines) + "\n")


DMY_MDY = {"dob_formats": ["%m/%d/%Y", "%d/%m/%Y"]}
COLS = {"record_id": "ID", "surname": "SN", "dob": "DOB"}


def test_day_first_proved_by_data(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = day_month_file(tmp_path, ["25/12/2008", "03/04/2009", "01/02/2010"])
    report = load(con, Source("d", path, mapping(columns=COLS, dates=DMY_MDY)))
    (finding,) = report.date_orders
    assert finding.conclusion == "day_first"
    assert (finding.day_first_only, finding.month_first_only, finding.either) == (1, 0, 2)
    assert finding.formats_used == ("%d/%m/%Y",)
    # The mapping listed month-first first, but the data proved day-first for all values.
    assert [r["dob"] for r in records(con)] == [
        dt.date(2008, 12, 25),
        dt.date(2009, 4, 3),
        dt.date(2010, 2, 1),
    ]


def test_month_first_proved_by_data(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = day_month_file(tmp_path, ["12/25/2008", "03/04/2009"])
    dates = {"dob_formats": ["%d/%m/%Y", "%m/%d/%Y"]}
    report = load(con, Source("d", path, mapping(columns=COLS, dates=dates)))
    assert report.date_orders[0].conclusion == "month_first"
    assert [r["dob"] for r in records(con)] == [dt.date(2008, 12, 25), dt.date(2009, 3, 4)]
    assert report.to_dict()["date_orders"][0]["conclusion"] == "month_first"


def test_mixed_and_undetermined_date_orders(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = day_month_file(tmp_path, ["25/12/2008", "12/25/2008", "03/04/2009"])
    report = load(con, Source("d", path, mapping(columns=COLS, dates=DMY_MDY)))
    assert report.date_orders[0].conclusion == "mixed"
    assert report.warning_count("d", "dob") == 1
    assert [r["dob"] for r in records(con)] == [
        dt.date(2008, 12, 25),
        dt.date(2008, 12, 25),
        dt.date(2009, 3, 4),  # mapping order
    ]
    path = day_month_file(tmp_path, ["03/04/2009"])
    report = load(con, Source("d", path, mapping(columns=COLS, dates=DMY_MDY)))
    assert report.date_orders[0].conclusion == "undetermined"


def test_swapped_dates_hint(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = day_month_file(tmp_path, ["12/25/2008", "03/04/2009", "rubbish"])
    dates = {"dob_formats": ["%d/%m/%Y"]}
    report = load(con, Source("d", path, mapping(columns=COLS, dates=dates)))
    assert report.warning_count("d", "dob", WARN_DOB) == 2
    assert report.warning_count("d", "dob", "dates that parse only with day and month swapped") == 1


def test_sex_codes(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "ID,SN,G\n1,A,1\n2,B,female\n3,C,9\n4,D,7\n5,E,\n6,F, m \n")
    m = mapping(
        columns={"record_id": "ID", "surname": "SN", "sex": "G"},
        sex={"M": ["1", "M"], "F": ["2", "Female"], "U": ["9"]},
    )
    report = load(con, Source("s", path, m))
    assert [r["sex"] for r in records(con)] == ["M", "F", "U", "U", None, "M"]
    assert report.warning_count("s", "sex", WARN_SEX) == 1


def test_default_sex_codes(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "s.csv", "record_id,surname,sex\n1,A,Male\n2,B,f\n3,C,unknown\n4,D,2\n")
    report = load(con, Source("s", path))
    assert [r["sex"] for r in records(con)] == ["M", "F", "U", "U"]
    assert report.warning_count("s", "sex") == 1


# --------------------------------------------------------------------------- mappings


def test_full_name_orders(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "n.csv",
        'ID,NAME\n1,Jade Marie  Ann SMITH\n2,"SMITH, Jade Marie"\n3,Jade\n4,Jade SMITH\n'
        '5,"SMITH,"\n6," ,Jade"\n',
    )
    m = mapping(columns={"record_id": "ID", "full_name": "NAME"}, names={"order": "forename_first"})
    load(con, Source("n", path, m))
    got = [(r["forename"], r["middle_names"], r["surname"]) for r in records(con)]
    assert got == [
        ("Jade", "Marie Ann", "SMITH"),
        ("Jade", "Marie", "SMITH"),  # a comma always means surname first
        ("Jade", None, None),
        ("Jade", None, "SMITH"),
        (None, None, "SMITH"),
        ("Jade", None, None),
    ]
    m = mapping(columns={"record_id": "ID", "full_name": "NAME"}, names={"order": "surname_first"})
    load(con, Source("n", path, m))
    got = [(r["forename"], r["middle_names"], r["surname"]) for r in records(con)]
    assert got[0] == ("Marie", "Ann SMITH", "Jade")
    assert got[1] == ("Jade", "Marie", "SMITH")
    assert got[2] == (None, None, "Jade")
    assert got[3] == ("SMITH", None, "Jade")


def test_list_separators_and_former_surnames(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "p.csv", "ID,SN,AKA,PREV\n1,Lee,JJ| Jade B ||,Smith/Brown/\n")
    m = mapping(
        columns={"record_id": "ID", "surname": "SN", "aliases": "AKA", "former_surnames": "PREV"},
        names={"aliases_separator": "|", "former_surnames_separator": "/"},
    )
    load(con, Source("p", path, m))
    row = records(con)[0]
    assert row["aliases"] == ["JJ", "Jade B"]
    assert row["former_surnames"] == ["Smith", "Brown"]


def test_postcode_from_address(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(
        tmp_path / "a.csv",
        'ID,SN,ADDR\n1,A,"1 High St, Taunton TA1 2AB"\n2,B,"Flat 2, SW1A1AA"\n'
        '3,C,"9 Low Rd, Leeds ls6 1aa, UK"\n4,D,"No postcode here"\n5,E,\n',
    )
    m = mapping(
        columns={"record_id": "ID", "surname": "SN", "address": "ADDR"},
        address={"postcode_in_address": True},
    )
    report = load(con, Source("a", path, m))
    rows = records(con)
    assert [r["postcode"] for r in rows] == ["TA1 2AB", "SW1A1AA", "ls6 1aa", None, None]
    assert rows[0]["address"] == "1 High St, Taunton TA1 2AB"  # address kept as recorded
    assert report.warning_count("a", "postcode") == 1


def test_constants(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "g.csv", "ID,SN\n1,A\n2,B\n")
    m = mapping(
        columns={"record_id": "ID", "surname": "SN"}, constants={"sex": "F", "postcode": "ZZ99 3VZ"}
    )
    load(con, Source("girls_school", path, m))
    rows = records(con)
    assert {(r["sex"], r["postcode"]) for r in rows} == {("F", "ZZ99 3VZ")}


def test_mapping_declared_format_mismatch(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "ID,SN\n1,A\n")
    m = mapping(source={"format": "xlsx"}, columns={"record_id": "ID"})
    with pytest.raises(InputDataError, match="declared format 'xlsx' but the file is not one"):
        load_sources(con, [Source("x", path, m)])
    m = mapping(source={"format": "parquet"}, columns={"record_id": "ID"})
    with pytest.raises(InputDataError, match="declared format 'parquet'"):
        load_sources(con, [Source("x", path, m)])


def test_mapping_csv_declared_for_a_parquet_file(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    pq = tmp_path / "x.csv"
    con.execute(f"COPY (SELECT '1' AS record_id) TO '{pq}' (FORMAT parquet)")
    m = mapping(source={"format": "csv"}, columns={"record_id": "record_id"})
    with pytest.raises(InputDataError, match="declared format 'csv' but the file is a parquet"):
        load_sources(con, [Source("x", pq, m)])


SYNTHETIC = Path(__file__).resolve().parents[1] / "data" / "synthetic"
AGENCIES = ["education", "health", "police", "social_care", "youth_justice"]


@pytest.mark.skipif(not (SYNTHETIC / "mappings").is_dir(), reason="no synthetic sample")
def test_native_exports_with_mappings_equal_canonical_files(
    con: duckdb.DuckDBPyConnection,
) -> None:
    """The generator's contract: each agency's own export read through its mapping gives
    exactly the records of its canonical file (different delimiters, date formats, sex
    codes, list separators, a full-name column, a BOM, postcodes inside addresses)."""
    native = load_sources(
        con,
        [
            source_from_spec(f"{SYNTHETIC}/native/{a}.csv:{SYNTHETIC}/mappings/{a}.toml")
            for a in AGENCIES
        ],
        table="nat",
        rejects_table="nat_rej",
    )
    canonical = load_sources(
        con,
        [Source(a, SYNTHETIC / "canonical" / f"{a}.csv") for a in AGENCIES],
        table="can",
        rejects_table="can_rej",
    )
    assert [s.name for s in native.sources] == AGENCIES
    assert [s.rows_used for s in native.sources] == [s.rows_used for s in canonical.sources]
    assert native.rows_used > 0
    diff = con.execute(
        "SELECT count(*) FROM (SELECT * EXCLUDE (row_number) FROM nat "
        "EXCEPT ALL SELECT * EXCLUDE (row_number) FROM can)"
    ).fetchall()
    assert diff == [(0,)]


# --------------------------------------------------------------------------- file errors


def test_missing_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="file not found") as info:
        load_sources(con, [Source("x", tmp_path / "nope.csv")])
    assert info.value.file == str(tmp_path / "nope.csv")


def test_folder_instead_of_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    with pytest.raises(InputDataError, match="folder"):
        load_sources(con, [Source("x", tmp_path)])


@pytest.mark.parametrize("content", [b"", b"\xef\xbb\xbf", b"\n\n  \n"])
def test_empty_file(con: duckdb.DuckDBPyConnection, tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "e.csv"
    path.write_bytes(content)
    with pytest.raises(InputDataError, match="empty file") as info:
        load_sources(con, [Source("e", path)])
    assert info.value.file == str(path)


def test_binary_file(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(bytes(range(256)) * 10)
    with pytest.raises(InputDataError, match="binary content"):
        load_sources(con, [Source("b", path)])


def test_wrong_delimiter_one_column(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.csv", "record_id:forename:surname\n1:A:B\n")
    with pytest.raises(InputDataError, match="only one column found") as info:
        load_sources(con, [Source("x", path)])
    assert info.value.file == str(path)


def test_declared_delimiter_finds_one_column(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "x.csv", "ID,SN,DOB\n1,A,2010-01-01\n")
    m = mapping(source={"delimiter": ";"}, columns={"record_id": "ID", "surname": "SN"})
    with pytest.raises(
        InputDataError, match="declared delimiter ';' finds one column, but ',' finds 3"
    ):
        load_sources(con, [Source("x", path, m)])


def test_extension_content_mismatch(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = write(tmp_path / "x.parquet", "record_id,surname\n1,A\n")
    with pytest.raises(InputDataError, match="'.parquet' says parquet"):
        load_sources(con, [Source("x", path)])
    xl = make_xlsx(tmp_path / "y.xlsx", {"S": [["record_id"], ["1"]]})
    renamed = xl.rename(tmp_path / "y.csv")
    with pytest.raises(
        InputDataError, match=r"says CSV but the content is a zip \(\.xlsx\?\) file"
    ):
        load_sources(con, [Source("y", renamed)])


def test_legacy_xls(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = tmp_path / "old.xls"
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 100)
    with pytest.raises(InputDataError, match="legacy Excel .xls"):
        load_sources(con, [Source("old", path)])


def test_unterminated_quote_is_a_reject_not_a_crash(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(tmp_path / "q.csv", 'record_id,surname\n1,Lee\n2,"Ng\n3,Moss\n')
    report = load(con, Source("q", path))
    assert report.rows_used == 1
    assert rejects(con)[0][1] == 2 and rejects(con)[0][4].startswith("malformed row")


def test_errors_never_quote_values(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    secret = "Zebedee Quixotic-Secretname"
    cases = [
        f"record_id;forename\n1;{secret}\n",  # fine, but names are never logged
        f'record_id,forename\n1,"{secret}\n',
        f"ID,NAME\n1,{secret}\n",
    ]
    for i, text in enumerate(cases):
        path = write(tmp_path / f"c{i}.csv", text)
        try:
            load_sources(con, [Source("c", path)])
        except CselinkError as exc:
            assert secret not in str(exc)
            assert "Zebedee" not in str(exc)


def test_logs_never_hold_values(
    con: duckdb.DuckDBPyConnection, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG", logger="cselink")
    path = write(tmp_path / "m.csv", MESSY.replace("Eve", "Zebedee"))
    load(con, Source("m", path))
    assert "Zebedee" not in caplog.text
    assert "Moss" not in caplog.text


# --------------------------------------------------------------------------- API


def test_usage_errors(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    path = canonical_csv(tmp_path)
    with pytest.raises(UsageError, match="no sources"):
        load_sources(con, [])
    with pytest.raises(UsageError, match="more than once: a"):
        load_sources(con, [Source("a", path), Source("a", path)])
    with pytest.raises(UsageError, match="on_duplicate"):
        load_sources(con, [Source("a", path)], on_duplicate="drop")  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="data must be a path"):
        load_sources(con, [Source("a", 42)])  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="non-empty"):
        load_sources(con, [Source(" ", path)])


def test_source_from_spec(tmp_path: Path) -> None:
    path = canonical_csv(tmp_path)
    assert source_from_spec(str(path)) == Source("edu", path)
    assert source_from_spec(f"school={path}") == Source("school", path)
    toml = tmp_path / "m.toml"
    toml.write_text('[source]\nname = "education"\n[columns]\nrecord_id = "record_id"\n')
    src = source_from_spec(f"{path}:{toml}")
    assert src.name == "education" and src.mapping is not None
    assert src.mapping.origin == str(toml)
    src = source_from_spec(f"edu2={path}:{toml}")
    assert src.name == "edu2" and src.data == path
    odd = tmp_path / "a=b"
    odd.mkdir()
    assert source_from_spec(str(odd / "x.csv")).name == "x"
    with pytest.raises(UsageError):
        source_from_spec("  ")
    with pytest.raises(ConfigError, match="mapping file not found"):
        source_from_spec(f"{path}:{tmp_path / 'missing.toml'}")


def test_report_to_dict(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    report = load(con, Source("edu", canonical_csv(tmp_path)))
    data = report.to_dict()
    assert data["rows_read"] == 3 and data["rows_used"] == 3 and data["rows_rejected"] == 0
    assert data["sources"][0]["name"] == "edu"
    assert json.loads(json.dumps(data)) == data


def test_preserve_insertion_order_is_restored(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    con.execute("SET preserve_insertion_order = false")
    path = write(
        tmp_path / "x.csv", "record_id,surname\n" + "".join(f"{i},S{i}\n" for i in range(5000))
    )
    load(con, Source("x", path))
    got = con.execute(
        "SELECT count(*) FROM input_records WHERE record_id = CAST(row_number - 1 AS VARCHAR)"
    ).fetchall()
    assert got == [(5000,)]
    assert con.execute("SELECT current_setting('preserve_insertion_order')").fetchall() == [
        (False,)
    ]


@pytest.mark.slow
def test_one_million_rows_is_fast(con: duckdb.DuckDBPyConnection, tmp_path: Path) -> None:
    import time

    path = tmp_path / "big.csv"
    con.execute(
        f"""COPY (SELECT lpad(i::VARCHAR, 8, '0') AS record_id, 'Name' || (i % 5000) AS forename,
                  'Sur' || (i % 20000) AS surname,
                  CASE WHEN i % 4 = 0 THEN 'A B; C D' END AS aliases,
                  strftime(DATE '2000-01-01' + (i % 4000)::INTEGER, '%Y-%m-%d') AS dob,
                  CASE i % 3 WHEN 0 THEN 'M' WHEN 1 THEN 'F' ELSE 'U' END AS sex,
                  (i % 999) || ' High Street, Town' AS address,
                  CASE WHEN i % 2 = 0 THEN '{VALID_NHS}' END AS nhs_number
                FROM range(1000000) t(i)) TO '{path}' (HEADER)"""
    )
    start = time.perf_counter()
    report = load(con, Source("big", path))
    elapsed = time.perf_counter() - start
    assert report.rows_used == 1_000_000
    assert elapsed < 60, elapsed  # generous: the machine is shared; measured ~2-5 s


# --------------------------------------------------------------------------- io writers


def test_write_csv_atomic_neutralises_formulas(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {
            "text": ["=SUM(A1)", "+44 20", "-cmd", "@x", "\tx", "\rx", "plain", None],
            "num": [-1, 2, -3, 4, 5, 6, 7, 8],
            "flt": [-1.5, 0.0, 1.0, 2.5, -0.5, 1.0, 2.0, 3.0],
        }
    )
    path = cio.write_csv_atomic(frame, tmp_path / "out.csv")
    with path.open(newline="", encoding="utf-8") as fh:
        back = pd.DataFrame(list(csv.DictReader(fh)))
    assert back["text"].tolist() == [
        "'=SUM(A1)",
        "'+44 20",
        "'-cmd",
        "'@x",
        "'\tx",
        "'\rx",
        "plain",
        "",
    ]
    assert back["num"].tolist()[0] == "-1"  # numbers stay numbers
    assert back["flt"].tolist()[0] == "-1.5"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert frame["text"].iloc[0] == "=SUM(A1)"  # the caller's frame is untouched
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv"]  # no temp file left


def test_write_csv_atomic_replaces_existing(tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    target.write_text("old")
    os.chmod(target, 0o644)
    cio.write_csv_atomic(pd.DataFrame({"a": [1]}), target)
    assert target.read_text() == "a\n1\n"
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600


def test_write_into_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="output folder does not exist") as info:
        cio.write_text_atomic(tmp_path / "nope" / "x.txt", "hi")
    assert info.value.file == str(tmp_path / "nope")


def test_failed_write_leaves_target_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    target.write_text("{}\n")
    with pytest.raises(TypeError):
        cio.write_json_atomic(target, {"x": object()})
    assert target.read_text() == "{}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.json"]


def test_write_json_and_text_atomic(tmp_path: Path) -> None:
    path = cio.write_json_atomic(
        tmp_path / "r.json", {"b": 1, "when": dt.date(2024, 1, 2), "p": Path("/x"), "é": [1.5]}
    )
    assert json.loads(path.read_text(encoding="utf-8")) == {
        "b": 1,
        "when": "2024-01-02",
        "p": "/x",
        "é": [1.5],
    }
    assert path.read_text(encoding="utf-8").endswith("}\n")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    text = cio.write_text_atomic(tmp_path / "t.html", "<p>ok</p>")
    assert text.read_text() == "<p>ok</p>"
    assert stat.S_IMODE(os.stat(text).st_mode) == 0o600


def test_ensure_private_dir(tmp_path: Path) -> None:
    new = cio.ensure_private_dir(tmp_path / "a" / "b")
    assert new.is_dir() and stat.S_IMODE(os.stat(new).st_mode) == 0o700
    assert cio.ensure_private_dir(new) == new  # existing folder is fine
    afile = tmp_path / "f"
    afile.write_text("x")
    with pytest.raises(UsageError, match="not a folder") as info:
        cio.ensure_private_dir(afile)
    assert info.value.file == str(afile)
    with pytest.raises(UsageError, match="cannot create the output folder") as info:
        cio.ensure_private_dir(afile / "sub")
    assert info.value.file == str(afile / "sub")


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write anywhere")
def test_ensure_private_dir_not_writable(tmp_path: Path) -> None:
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UsageError, match="cannot write"):
        cio.ensure_private_dir(locked)


def test_sha256_file(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(b"abc")
    assert cio.sha256_file(path) == (
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    )
    with pytest.raises(InputDataError, match="cannot read"):
        cio.sha256_file(tmp_path / "missing")


def test_a_row_with_no_name_but_a_date_of_birth_or_address_is_kept(
    con: duckdb.DuckDBPyConnection, tmp_path: Path
) -> None:
    path = write(
        tmp_path / "noname.csv",
        "record_id,forename,surname,dob,address\n"
        "1,,,2010-01-02,\n"
        "2,,,,12 Oak Road\n"
        "3,,,,\n",
    )
    report = load(con, Source("n", path))
    assert report.source("n").rows_used == 2
    assert rejects(con) == [("n", 3, "3", "forename, surname", REASON_NO_NAME)]
