"""Regenerate the broken-input corpus in this folder (deterministic; synthetic values only).

Run ``python3 tests/data/bad/make_corpus.py``. Each file is one way a real agency
export goes wrong; ``tests/test_bad_inputs.py`` holds the message each must give.
The planted surname ``Zebedee`` must never appear in a message or a log.
"""

from __future__ import annotations

import io
import random
import re
import zipfile
from pathlib import Path

import duckdb
import openpyxl

HERE = Path(__file__).resolve().parent
rng = random.Random(20240601)


def put(name: str, data: bytes | str) -> None:
    path = HERE / name
    path.write_bytes(data.encode("utf-8") if isinstance(data, str) else data)


FIXED_TIME = (2024, 6, 1, 0, 0, 0)


def fixed_zip(data: bytes) -> bytes:
    """The same zip with fixed entry times and document dates, so the corpus is reproducible."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-06-01T00:00:00Z", body)
            entry = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            entry.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(entry, body)
    return out.getvalue()


def xlsx_bytes(rows: list[list[object]], title: str = "Extract") -> bytes:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.title = title
    for row in rows:
        ws.append(row)
    buf = io.BytesIO()
    wb.save(buf)
    return fixed_zip(buf.getvalue())


def parquet_bytes(sql: str) -> bytes:
    tmp = HERE / "_tmp.parquet"
    con = duckdb.connect()
    con.execute(f"COPY ({sql}) TO '{tmp}' (FORMAT parquet)")
    con.close()
    data = tmp.read_bytes()
    tmp.unlink()
    return data


GOOD = "record_id,forename,surname,dob\n1,Amy,Zebedee,2010-01-02\n2,Ben,Lee,2011-03-04\n"

# --- empty and not-text files
put("empty.csv", b"")
put("bom_only.csv", b"\xef\xbb\xbf")
put("blank_lines.csv", "\n\n   \n\t\n")
put("binary_garbage.csv", bytes(rng.randrange(256) for _ in range(4096)))
put(
    "png_renamed.csv",
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(rng.randrange(256) for _ in range(2000)),
)
put(
    "mostly_control_chars.csv",
    "".join(chr(rng.choice([1, 2, 3, 7, 27, 30])) for _ in range(3000)) + "\n",
)
put("nul_in_header.csv", b"record_id\x00,surname\n1,Lee\n")
put("utf16_without_bom.csv", GOOD.encode("utf-16-le"))

# --- a file in another format than its name says
buf = io.BytesIO()
with zipfile.ZipFile(buf, "w") as zf:
    zf.writestr(zipfile.ZipInfo("data.csv", date_time=FIXED_TIME), GOOD)
put("zip_as_csv.csv", buf.getvalue())
put("parquet_as_csv.csv", parquet_bytes("SELECT '1' AS record_id, 'Zebedee' AS surname"))
put("csv_as_parquet.parquet", GOOD)
put("csv_as_xlsx.xlsx", GOOD)
put("legacy.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(512))

# --- truncated files
pq = parquet_bytes("SELECT i::VARCHAR AS record_id, 'Zebedee' AS surname FROM range(1000) t(i)")
put("truncated.parquet", pq[: len(pq) // 2])
xl = xlsx_bytes([["record_id", "surname"], ["1", "Zebedee"]])
put("truncated.xlsx", xl[: len(xl) // 2])
put("garbage.xlsx", b"PK\x03\x04" + bytes(rng.randrange(256) for _ in range(3000)))
put("truncated_mid_quote.csv", 'record_id,surname,address\n1,Lee,"1 High St"\n2,Zebedee,"Flat 2\n')
put("truncated_mid_row.csv", "record_id,forename,surname\n1,Amy,Lee\n2,Ben,Ng\n3,Zebe")

# --- structure problems
put("wrong_delimiter_colon.csv", "record_id:forename:surname\n1:Amy:Zebedee\n")
put("no_header.csv", "001,Amy,Zebedee,2010-01-02\n002,Ben,Lee,2011-03-04\n")
put("missing_record_id.csv", "RecordID,forename,surname\n1,Amy,Zebedee\n")
put("duplicate_headers.csv", "record_id,surname,surname\n1,Zebedee,Lee\n")
put("header_17000_columns.csv", ",".join(f"c{i}" for i in range(17000)) + "\n1\n")
put(
    "row_100000_fields.csv",
    "record_id,forename,surname\n1,Amy,Lee\n2,"
    + ",".join("Zebedee" if i == 0 else "x" for i in range(100_000))
    + "\n3,Cat,Ng\n",
)
put("all_rows_malformed.csv", "record_id,forename,surname\n1,Zebedee\n2\n3,a,b,c,d\n")
put("quote_inside_field.csv", 'record_id,surname\n1,O"Zebedee\n2,Lee\n')
put("unterminated_quote_in_header.csv", 'record_id,"surname\n1,Zebedee\n2,Lee\n')
put("header_only_no_newline.csv", "record_id,surname")
put("cr_only_newlines.csv", "record_id,surname\r1,Zebedee\r2,Lee\r")
put("mixed_newlines.csv", "record_id,surname\r\n1,Zebedee\n2,Lee\r\n3,Ng\n")

# --- encodings
put(
    "mixed_encoding.csv",
    b"record_id,surname\n1," + "Zoë".encode() + b"\n2," + "Zebedée".encode("cp1252") + b"\n",
)
put("cp1252_declared_utf8.csv", "ID,SN\n1,Lee\n2,Zebedée\n".encode("cp1252"))
put(
    "utf8_declared_utf8.toml",
    '[source]\nencoding = "utf-8"\n[columns]\nrecord_id = "ID"\nsurname = "SN"\n',
)

# --- values: kept as recorded, or counted as warnings
put(
    "formulas.csv",
    "record_id,forename,surname\n1,=cmd|' /C calc'!A0,Zebedee\n2,+1+1,@SUM(A1)\n"
    '3,-2,=HYPERLINK("http://x")\n',
)
put("control_chars.csv", "record_id,forename,surname\n1,Am\x1by,Zebedee\x07\n2,Ben\x0c,Lee\n")
put(
    "garbage_dates_and_nhs.csv",
    "record_id,surname,dob,nhs_number,sex\n"
    "1,Zebedee,31/02/2010,12345,Q\n2,Lee,not a date,9434765918,M\n3,Ng,2010-13-01,0000000000,\n",
)
put(
    "wrong_types.parquet",
    parquet_bytes(
        "SELECT 123::BIGINT AS record_id, 'Zebedee' AS surname, 20100102 AS dob, TRUE AS sex, "
        "[1, 2] AS aliases, 1.5::DOUBLE AS nhs_number"
    ),
)
put(
    "blob_names.parquet",
    parquet_bytes("SELECT '1' AS record_id, '\\xFF\\xFEZebedee'::BLOB AS surname"),
)
put(
    "huge_and_nested.parquet",
    parquet_bytes(
        "SELECT '1' AS record_id, {'a': 'Zebedee', 'b': 2} AS surname, MAP {'k': 'v'} AS forename"
    ),
)

# --- xlsx problems
put("empty_sheet.xlsx", xlsx_bytes([]))
put(
    "xlsx_formula_injection.xlsx",
    xlsx_bytes([["record_id", "forename", "surname"], ["1", "=1+1", "Zebedee"], [2, "@x", "Lee"]]),
)
put("xlsx_for_missing_sheet.xlsx", xlsx_bytes([["ID", "SN"], ["1", "Zebedee"]], title="Extract"))
put("missing_sheet.toml", '[source]\nsheet = "Extarct"\n[columns]\nrecord_id = "ID"\n')

# --- mappings that do not fit their file
put("mapping_unknown_columns.csv", "PNC ID,FIRST,LAST\n1,Amy,Zebedee\n")
put(
    "mapping_unknown_columns.toml",
    '[columns]\nrecord_id = "PNC_ID"\nforename = "FIRST"\nsurname = "SURNAME"\n',
)
put("mapping_bad_toml.toml", '[columns]\nrecord_id = "ID"\nsurname = \n')
put("mapping_wrong_delimiter.csv", "ID;SN;DOB\n1;Zebedee;2010-01-02\n")
put(
    "comma_delimiter.toml",
    '[source]\ndelimiter = ","\n[columns]\nrecord_id = "ID"\nsurname = "SN"\n',
)
put("declared_xlsx.toml", '[source]\nformat = "xlsx"\n[columns]\nrecord_id = "record_id"\n')
put(
    "mapping_typos.toml",
    '[source]\nformt = "csv"\n[colums]\nrecord_id = "ID"\n[dates]\ndob_formats = ["%d/%m/%Q"]\n',
)
