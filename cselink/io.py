"""Reading sources into DuckDB and writing outputs atomically.

Readers turn one source (a CSV, Parquet or ``.xlsx`` file, a pandas DataFrame or
a DuckDB relation) into a *raw* temporary table: the source's own columns,
renamed ``c0``, ``c1``, ... in file order, plus ``__cselink_row`` (the 1-based
data row of the file, header excluded). CSV columns are all read as VARCHAR so
that leading zeros in identifiers survive; Parquet and DataFrame columns keep
their declared types. :mod:`cselink.ingest` maps the raw table to the
canonical schema.

CSV reading is DuckDB ``read_csv`` over the file (no Python loop over rows):
Python only looks at the first few hundred kilobytes to find the encoding,
delimiter and header. Files that are not UTF-8 (cp1252, Latin-1, UTF-16) are
transcoded once to a private temporary UTF-8 copy, because DuckDB reads only
UTF-8 and Latin-1 without an extension. Rows the CSV parser cannot split into
the header's number of fields are kept aside (with DuckDB's ``store_rejects``)
and reported as rejects, so every row is accounted for.

Writers (:func:`write_csv_atomic`, :func:`write_text_atomic`,
:func:`write_json_atomic`) write a private (0600) temporary file in the target's
folder and ``os.replace`` it over the target, so a reader never sees half a file.
CSV output neutralises spreadsheet formulas (CSV injection).

Messages never contain cell values: only files, row numbers and column names.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import logging
import math
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from cselink._sql import quote_ident, quote_literal
from cselink.errors import InputDataError, UsageError, did_you_mean

logger = logging.getLogger(__name__)

#: Name of the row-number column of a raw table.
ROW_COLUMN = "__cselink_row"

#: Delimiters tried when a CSV file's delimiter is not declared, in order of preference.
CSV_DELIMITERS: tuple[str, ...] = (",", ";", "|", "\t")

#: Encodings a mapping may declare for a CSV file (detection may also find a mix).
CSV_ENCODINGS: tuple[str, ...] = ("utf-8", "utf-8-sig", "utf-16", "cp1252", "latin-1")

#: File formats and the extensions that imply them.
FORMAT_EXTENSIONS: dict[str, tuple[str, ...]] = {
    "csv": (".csv", ".tsv", ".txt", ".psv", ".tab"),
    "parquet": (".parquet", ".pq", ".parq"),
    "xlsx": (".xlsx", ".xlsm"),
}

_SNIFF_BYTES = 256 * 1024
_SNIFF_RECORDS = 500
_CHUNK = 8 * 1024 * 1024
_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_ZIP_MAGIC = b"PK\x03\x04"
_PARQUET_MAGIC = b"PAR1"
_OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # legacy .xls / .doc
# Characters that make a spreadsheet treat a cell as a formula (OWASP CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAX_COLUMNS = 16_384  # Excel's own limit; more columns than this is not an export


@dataclass(frozen=True, slots=True)
class RawSource:
    """A source read into a raw temporary table.

    Attributes:
        table: the temporary table: ``__cselink_row`` then ``c0``, ``c1``, ... (without
            ``__cselink_row`` when ``rowid_rows``: row ``rowid`` is data row ``rowid + 1``).
        headers: the source's column headers in order (``c<i>`` holds ``headers[i]``).
        types: the DuckDB type of each ``c<i>`` (all VARCHAR for CSV and xlsx).
        file: the file read, or None for a DataFrame or relation.
        format: ``csv``, ``parquet``, ``xlsx``, ``dataframe`` or ``relation``.
        encoding: the CSV encoding used (declared or detected), else None.
        delimiter: the CSV delimiter used (declared or sniffed), else None.
        malformed: a temporary table ``(row_number, reason)`` of rows the CSV parser could
            not read, or None when there were none.
        rowid_rows: the table has no row-number column; use :meth:`row_sql`.
        notes: things about the whole file worth a warning (e.g. mixed encodings).
    """

    table: str
    headers: tuple[str, ...]
    types: tuple[str, ...]
    file: str | None
    format: str
    encoding: str | None = None
    delimiter: str | None = None
    malformed: str | None = None
    rowid_rows: bool = False
    notes: tuple[str, ...] = ()

    def row_sql(self, alias: str) -> str:
        """SQL for the data-row number of a row of ``table`` aliased ``alias``."""
        if self.rowid_rows:
            return f"({alias}.rowid + 1)::BIGINT"
        return f"{alias}.{ROW_COLUMN}"

    def column(self, header: str) -> str:
        """The raw-table column (``c<i>``) holding a source header."""
        return f"c{self.headers.index(header)}"


def temp_name(kind: str) -> str:
    """A unique name for an internal temporary table or view."""
    return f"__cselink_{kind}_{uuid.uuid4().hex[:12]}"


def drop_temp(con: duckdb.DuckDBPyConnection, *names: str | None) -> None:
    """Drop internal temporary tables and views, ignoring ones that do not exist."""
    for name in names:
        if not name:
            continue
        for kind in ("TABLE", "VIEW"):
            try:
                # Raises for an object of the other kind, and is done otherwise.
                con.execute(f"DROP {kind} IF EXISTS {quote_ident(name)}")
                break
            except duckdb.Error:
                continue


# --------------------------------------------------------------------------- formats


def detect_format(path: Path, declared: str | None = None) -> str:
    """Decide a file's format from its declared format, extension and first bytes.

    Args:
        path: the file (must exist).
        declared: the format a mapping declares (``csv``, ``parquet`` or ``xlsx``), if any.

    Returns:
        ``csv``, ``parquet`` or ``xlsx``.

    Raises:
        InputDataError: the file is a legacy ``.xls`` workbook, or its content is not
            the declared format.
    """
    head = _read_head(path, 8)
    magic = "parquet" if head[:4] == _PARQUET_MAGIC else "xlsx" if head[:4] == _ZIP_MAGIC else None
    if head[:8] == _OLE_MAGIC:
        raise InputDataError(
            "legacy Excel .xls (or other OLE) file: save it as .xlsx or CSV", file=str(path)
        )
    suffix = path.suffix.lower()
    if suffix == ".xls":
        raise InputDataError(
            "legacy Excel .xls is not supported: save it as .xlsx or CSV", file=str(path)
        )
    if declared is not None:
        if declared == "csv" and magic is not None:
            raise InputDataError(
                "declared format 'csv' but the file is a "
                f"{'zip (.xlsx?)' if magic == 'xlsx' else magic} file",
                file=str(path),
            )
        if declared in ("parquet", "xlsx") and magic != declared:
            found = magic or "text or unknown"
            raise InputDataError(
                f"declared format {declared!r} but the file is not one (looks like {found})",
                file=str(path),
            )
        return declared
    by_ext = next((fmt for fmt, exts in FORMAT_EXTENSIONS.items() if suffix in exts), None)
    if by_ext is not None and by_ext != "csv" and magic != by_ext:
        raise InputDataError(
            f"file extension {suffix!r} says {by_ext} but the content is not "
            f"(looks like {magic or 'text or unknown'})",
            file=str(path),
        )
    if by_ext == "csv" and magic is not None:
        raise InputDataError(
            f"file extension {suffix!r} says CSV but the content is a "
            f"{'zip (.xlsx?)' if magic == 'xlsx' else magic} file",
            file=str(path),
        )
    return magic or by_ext or "csv"


def _read_head(path: Path, n: int) -> bytes:
    try:
        with path.open("rb") as fh:
            return fh.read(n)
    except OSError as exc:
        raise InputDataError(
            f"cannot read the file ({exc.strerror or type(exc).__name__})", file=str(path)
        ) from None


def check_readable_file(path: Path) -> None:
    """Raise a clear :class:`InputDataError` unless ``path`` is a readable, non-empty file."""
    if not path.exists():
        raise InputDataError("file not found", file=str(path))
    if path.is_dir():
        raise InputDataError("is a folder, not a file", file=str(path))
    if not os.access(path, os.R_OK):
        raise InputDataError("cannot read the file (permission denied)", file=str(path))
    if path.stat().st_size == 0:
        raise InputDataError("empty file", file=str(path))


# --------------------------------------------------------------------------- CSV


@dataclass(frozen=True, slots=True)
class _CsvLayout:
    encoding: str
    delimiter: str
    headers: tuple[str, ...]
    newlines: str  # newline_style() of the file ("" for UTF-16: not counted in bytes)
    sample_records: int  # records (header included) the sniffer saw in the sample


def newline_style(path: Path) -> str:
    """``lf``, ``crlf``, ``cr``, ``none`` or ``mixed``: how a file ends its lines.

    Counted over the whole file in bytes (fast). DuckDB reads one style per file and
    silently reads nothing, or fails, when they are mixed (files pasted together), so
    a mixed file is normalised first. Only valid for encodings where CR and LF are
    single bytes (not UTF-16).
    """
    crlf = cr = lf = 0
    prev_cr = False
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            has_lf = b"\n" in chunk
            if b"\r" not in chunk:  # the usual case: only the presence of LF matters
                lf += has_lf
                prev_cr = False
                continue
            crlf += chunk.count(b"\r\n") + (1 if prev_cr and chunk[:1] == b"\n" else 0)
            cr += chunk.count(b"\r")
            lf += chunk.count(b"\n")
            prev_cr = chunk[-1:] == b"\r"
    if cr == 0:
        return "lf" if lf else "none"
    if lf == 0:
        return "cr"
    if cr == lf == crlf:
        return "crlf"
    return "mixed"


def _cp1252_fallback(exc: UnicodeError) -> tuple[str, int]:
    """Codec error handler: decode bytes that are not UTF-8 as cp1252 (Latin-1 if undefined)."""
    if not isinstance(exc, UnicodeDecodeError):
        raise exc
    out = []
    for byte in exc.object[exc.start : exc.end]:
        try:
            out.append(bytes([byte]).decode("cp1252"))
        except UnicodeDecodeError:
            out.append(chr(byte))
    return "".join(out), exc.end


codecs.register_error("cselink_cp1252", _cp1252_fallback)

#: The pseudo-encoding of a file that mixes UTF-8 and cp1252 bytes (decoded per character).
MIXED_ENCODING = "utf-8+cp1252"

_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def _utf8_sequences(path: Path) -> int:
    """How many valid multi-byte UTF-8 sequences a file holds (approximate at chunk edges)."""
    count = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            count += len(_UTF8_MULTIBYTE.findall(chunk))
    return count


def detect_encoding(path: Path, declared: str | None = None) -> str:
    """Find a CSV file's text encoding, checking a declared one against the bytes.

    Strict UTF-8 is tried first (a UTF-8 BOM gives ``utf-8-sig``, a UTF-16 BOM
    ``utf-16``). A file that is not valid UTF-8 is cp1252 (what Windows tools write),
    or Latin-1 if it has bytes cp1252 leaves undefined; a file that mixes valid UTF-8
    characters with such bytes (rows pasted together from two systems) is
    :data:`MIXED_ENCODING`, decoded character by character.

    Args:
        path: the CSV file.
        declared: an encoding from the mapping, checked rather than trusted.

    Returns:
        One of :data:`CSV_ENCODINGS` or :data:`MIXED_ENCODING`.

    Raises:
        InputDataError: the bytes are not valid in the declared encoding (naming
            the line of the first bad byte), or a single-byte encoding is declared
            for a file that is UTF-8.
    """
    head = _read_head(path, 4)
    bom = (
        "utf-8-sig" if head.startswith(_UTF8_BOM) else "utf-16" if head[:2] in _UTF16_BOMS else None
    )
    if declared is not None:
        declared = declared.lower().replace("_", "-")
        if declared == "utf-16":
            if bom != "utf-16":
                raise InputDataError(
                    "declared encoding 'utf-16' but the file has no UTF-16 byte-order mark",
                    file=str(path),
                )
            return "utf-16"
        if bom == "utf-16":
            raise InputDataError(
                f"declared encoding {declared!r} but the file is UTF-16 (byte-order mark)",
                file=str(path),
            )
        if declared in ("utf-8", "utf-8-sig"):
            bad = _first_invalid(path, "utf-8")
            if bad is not None:
                raise InputDataError(
                    f"declared encoding {declared!r} but byte {bad[0]} is not valid UTF-8",
                    file=str(path),
                    row=bad[1],
                )
            return "utf-8-sig" if bom == "utf-8-sig" else "utf-8"
        bad = _first_invalid(path, declared)
        if bad is not None:
            raise InputDataError(
                f"declared encoding {declared!r} but byte {bad[0]} is not valid in it",
                file=str(path),
                row=bad[1],
            )
        if bom == "utf-8-sig" or (
            _first_invalid(path, "utf-8") is None and _utf8_sequences(path) > 0
        ):
            raise InputDataError(
                f"declared encoding {declared!r} but the file is UTF-8 (its accented "
                "characters would be misread): declare utf-8 or leave the encoding out",
                file=str(path),
            )
        return declared
    if bom == "utf-16":
        return "utf-16"
    if _first_invalid(path, "utf-8") is None:
        return bom or "utf-8"
    if _utf8_sequences(path) > 0:
        return MIXED_ENCODING
    if _first_invalid(path, "cp1252") is None:
        return "cp1252"
    return "latin-1"


def _first_invalid(path: Path, encoding: str) -> tuple[int, int | None] | None:
    """The offset and data row (approximate: by line) of the first byte invalid in encoding."""
    decoder = codecs.getincrementaldecoder(encoding)(errors="strict")
    offset = 0
    with path.open("rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            final = not chunk
            try:
                decoder.decode(chunk, final=final)
            except UnicodeDecodeError as exc:
                pos = max(offset + exc.start, 0)
                fh.seek(0)
                line = fh.read(pos).count(b"\n") + 1 if pos < 1 << 30 else None
                return pos, (line - 1 if line and line > 1 else None)
            if final:
                return None
            offset += len(chunk)


def _text_sample(path: Path, encoding: str) -> str:
    """The first part of the file decoded (newlines made LF), cut at a line end."""
    with path.open("rb") as fh:
        raw = fh.read(_SNIFF_BYTES + 1)
    whole = len(raw) <= _SNIFF_BYTES
    raw = raw[:_SNIFF_BYTES]
    if encoding == MIXED_ENCODING:
        text = raw.decode("utf-8", errors="cselink_cp1252")
    else:
        text = raw.decode(encoding, errors="replace")
    if text.startswith("\ufeff"):
        text = text[1:]
    # The sniffer only needs records: one newline style is enough for it.
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    if not whole:
        cut = max(text.rfind("\n"), 0)
        text = text[:cut]
    return text


def _records(sample: str, delimiter: str, limit: int) -> list[list[str]]:
    """Up to ``limit`` non-blank records of a sample, parsed as DuckDB will (RFC 4180 quotes)."""
    reader = csv.reader(
        io.StringIO(sample), delimiter=delimiter, quotechar='"', doublequote=True, strict=False
    )
    old_limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a sample field may be long; restored below
    records: list[list[str]] = []
    try:
        for record in reader:
            if not record or (len(record) == 1 and not record[0].strip()):
                continue
            records.append(record)
            if len(records) >= limit:
                break
    except csv.Error:
        pass
    finally:
        csv.field_size_limit(old_limit)
    return records


def _field_counts(sample: str, delimiter: str) -> list[int]:
    return [len(r) for r in _records(sample, delimiter, _SNIFF_RECORDS)]


def _header(sample: str, delimiter: str) -> list[str]:
    records = _records(sample, delimiter, 1)
    return records[0] if records else []


def sniff_delimiter(sample: str) -> tuple[str, dict[str, int]]:
    """Pick the delimiter among , ; | tab that splits the sample most consistently.

    Returns:
        The delimiter and, for each candidate, the number of header fields it gives.
    """
    scores: list[tuple[int, float, int, str]] = []
    header_counts: dict[str, int] = {}
    for delim in CSV_DELIMITERS:
        counts = _field_counts(sample, delim)
        if not counts:
            header_counts[delim] = 0
            continue
        header_counts[delim] = counts[0]
        rest = counts[1:] or counts
        consistent = sum(c == counts[0] for c in rest) / len(rest)
        scores.append((int(counts[0] > 1), round(consistent, 2), counts[0], delim))
    if not scores:
        return ",", header_counts
    best = max(scores, key=lambda s: (s[0], s[1], s[2], -CSV_DELIMITERS.index(s[3])))
    return best[3], header_counts


def _csv_layout(
    path: Path, *, encoding: str | None, delimiter: str | None, min_columns: int
) -> _CsvLayout:
    enc = detect_encoding(path, encoding)
    with path.open("rb") as fh:
        head = fh.read(_SNIFF_BYTES)
    # A stray NUL inside a field is kept (as recorded); many NULs mean a binary file.
    if enc != "utf-16" and (head.count(b"\x00") > len(head) // 100 or b"\x00" in head[:64]):
        odd = head[1::2]
        if len(head) > 8 and odd.count(0) > 0.9 * len(odd) and b"\x00" not in head[0::2]:
            raise InputDataError(
                "looks like UTF-16 text without a byte-order mark: save it as UTF-8 CSV",
                file=str(path),
            )
        raise InputDataError("binary content (NUL bytes): not a text CSV file", file=str(path))
    sample = _text_sample(path, enc)
    if not sample.strip():
        raise InputDataError("empty file (no header row)", file=str(path))
    if _looks_binary(sample):
        raise InputDataError(
            "binary content (control characters): not a text CSV file", file=str(path)
        )
    sniffed, header_counts = sniff_delimiter(sample)
    if delimiter is not None:
        delim = "\t" if delimiter.lower() in ("tab", "\\t") else delimiter
        if len(delim) != 1:
            raise InputDataError(
                f"delimiter must be one character, not {delimiter!r}", file=str(path)
            )
    else:
        delim = sniffed
    raw_header = _header(sample, delim)
    header = [h.strip().lstrip("\ufeff").strip() for h in raw_header]
    if not header:
        raise InputDataError("empty file (no header row)", file=str(path))
    if any("\n" in h for h in header):
        # An open quote in the header swallows the data rows into one column name.
        raise InputDataError(
            "a column name in the header spans lines (an unterminated quote in the header?)",
            file=str(path),
            row=0,
        )
    if len(header) > _MAX_COLUMNS:
        raise InputDataError(
            f"the header has {len(header)} columns (more than {_MAX_COLUMNS}): not an "
            "agency export",
            file=str(path),
            row=0,
        )
    if len(header) == 1 and min_columns > 1:
        better = {d: n for d, n in header_counts.items() if n > 1}
        shown = {"\t": "tab"}
        if delimiter is not None and better:
            alt = max(better, key=lambda d: better[d])
            raise InputDataError(
                f"the declared delimiter {shown.get(delim, delim)!r} finds one column, but "
                f"{shown.get(alt, alt)!r} finds {better[alt]}: wrong delimiter?",
                file=str(path),
                row=0,
            )
        raise InputDataError(
            "only one column found (tried delimiters , ; | tab): wrong delimiter, or not a "
            "delimited file?",
            file=str(path),
            row=0,
        )
    return _CsvLayout(
        encoding=enc,
        delimiter=delim,
        headers=tuple(header),
        newlines="" if enc == "utf-16" else newline_style(path),
        sample_records=len(_field_counts(sample, delim)),
    )


def _looks_binary(sample: str) -> bool:
    """True when a decoded sample is mostly control characters (a binary file decoded as text)."""
    probe = sample[:65536]
    if not probe:
        return False
    bad = sum(1 for ch in probe if (ord(ch) < 32 and ch not in "\t\r\n\f\v") or ch == "\ufffd")
    return bad / len(probe) > 0.10


def _transcode(path: Path, encoding: str, folder: Path, *, newlines: bool = False) -> Path:
    """Write a UTF-8 copy of a file (streamed, private folder).

    Args:
        path: the file.
        encoding: its encoding.
        folder: where to write the copy.
        newlines: also turn every CR LF and lone CR into LF.
    """
    target = folder / "source.csv"
    if encoding == MIXED_ENCODING:
        codec, errors = "utf-8", "cselink_cp1252"
    else:
        codec, errors = encoding, ("replace" if encoding == "latin-1" else "strict")
    with (
        path.open("r", encoding=codec, errors=errors, newline=None if newlines else "") as src,
        target.open("w", encoding="utf-8", newline="") as dst,
    ):
        shutil.copyfileobj(src, dst, _CHUNK)
    return target


def overlong_lines(
    path: Path, delimiter: str, limit: int, *, newlines: str | None = None
) -> list[tuple[int, int]]:
    """Byte ranges ``[start, end)`` of one-line records with more than ``limit`` fields.

    DuckDB records one reject entry, with a copy of the whole line, per surplus field,
    so a single row of 100,000 fields takes minutes to reject. Such lines are found
    here with vectorised byte counts (numpy, one pass) and replaced before DuckDB reads
    the file. Only lines that are certainly whole records are reported: they start
    outside any quoted field (an even number of quotes before them), hold an even
    number of quotes, and have more than ``limit`` delimiters outside quotes.
    """
    import numpy as np

    delim = ord(delimiter)
    newline = 13 if (newlines or newline_style(path)) == "cr" else 10
    if _longest_line(path, newline) <= limit:
        return []  # the usual case: no line is long enough to hold that many fields
    found: list[tuple[int, int]] = []
    quotes_before = 0  # quotes in the file before the current chunk
    line_start = 0  # offset where the current (unfinished) line starts
    line_delims = 0  # delimiters outside quotes seen so far on that line
    line_quotes = 0  # quotes seen so far on that line
    start_even = True  # the line started outside a quoted field
    offset = 0
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            a = np.frombuffer(chunk, dtype=np.uint8)
            q = np.flatnonzero(a == 34)
            d = np.flatnonzero(a == delim)
            n = np.flatnonzero(a == newline)
            outside = d[(np.searchsorted(q, d) + quotes_before) % 2 == 0]
            ends = np.append(n, len(a))  # the last piece runs on into the next chunk
            seg_d = np.diff(np.searchsorted(outside, ends), prepend=0)
            seg_q = np.diff(np.searchsorted(q, ends), prepend=0)
            seg_d[0] += line_delims
            seg_q[0] += line_quotes
            q_at_start = np.searchsorted(q, np.concatenate(([0], n + 1))) + quotes_before
            starts_even = q_at_start % 2 == 0
            starts_even[0] = start_even
            whole = np.arange(len(n))  # pieces that end at a newline
            bad = whole[
                (seg_d[: len(n)] > limit) & (seg_q[: len(n)] % 2 == 0) & starts_even[: len(n)]
            ]
            for j in bad:
                begin = line_start if j == 0 else offset + int(n[j - 1]) + 1
                found.append((begin, offset + int(n[j])))
            if len(n):
                line_start = offset + int(n[-1]) + 1
                line_delims, line_quotes = int(seg_d[-1]), int(seg_q[-1])
                start_even = bool(starts_even[-1])
            else:
                line_delims, line_quotes = int(seg_d[0]), int(seg_q[0])
            quotes_before += len(q)
            offset += len(a)
    if offset > line_start and line_delims > limit and line_quotes % 2 == 0 and start_even:
        found.append((line_start, offset))
    return found


def _longest_line(path: Path, newline: int) -> int:
    """The length in bytes of the longest line of a file (one vectorised pass)."""
    import numpy as np

    longest = 0
    run = 0  # length of the line running on from the previous chunk
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            n = np.flatnonzero(np.frombuffer(chunk, dtype=np.uint8) == newline)
            if len(n) == 0:
                run += len(chunk)
                continue
            longest = max(longest, run + int(n[0]))
            if len(n) > 1:
                longest = max(longest, int(np.diff(n).max()) - 1)
            run = len(chunk) - int(n[-1]) - 1
    return max(longest, run)


def _replace_ranges(
    path: Path, ranges: Sequence[tuple[int, int]], marker: bytes, target: Path
) -> Path:
    """Copy a file, putting ``marker`` in place of each byte range."""
    with path.open("rb") as src, target.open("wb") as dst:
        pos = 0
        for start, end in ranges:
            while pos < start:
                block = src.read(min(_CHUNK, start - pos))
                dst.write(block)
                pos += len(block)
            src.seek(end)
            pos = end
            dst.write(marker)
        shutil.copyfileobj(src, dst, _CHUNK)
    return target


_DUCKDB_CSV_PROBLEMS = (
    ("unterminated quote", "unterminated quote"),
    ("maximum line size", "a line longer than the maximum line size"),
    ("line size", "a line longer than the maximum line size"),
    ("invalid unicode", "invalid UTF-8"),
    ("encoding", "invalid text encoding"),
    ("too many columns", "more fields than the header"),
    ("missing columns", "fewer fields than the header"),
    ("quote", "a quoting problem"),
)


def duckdb_error_message(exc: BaseException) -> tuple[str, int | None]:
    """A value-free description of a DuckDB read error and the file line it names.

    DuckDB error text can quote the offending line (personal data), so only a
    known phrase and the line number are kept.
    """
    text = str(exc)
    lowered = text.lower()
    line = None
    match = re.search(r"line:?\s*(\d+)", text, flags=re.IGNORECASE)
    if match:
        line = int(match.group(1))
    for needle, said in _DUCKDB_CSV_PROBLEMS:
        if needle in lowered:
            return said, line
    return f"{type(exc).__name__.lstrip('_')}", line


_REJECT_REASONS = {
    "TOO MANY COLUMNS": "malformed row: more fields than the header",
    "MISSING COLUMNS": "malformed row: fewer fields than the header",
    "UNQUOTED VALUE": "malformed row: unterminated or stray quote",
    "LINE SIZE OVER MAXIMUM": "malformed row: longer than the maximum line size",
    "INVALID ENCODING": "malformed row: invalid text encoding",
    "INVALID UNICODE": "malformed row: invalid text encoding",
    "CAST ERROR": "malformed row: unreadable value",
}


def read_csv_raw(
    con: duckdb.DuckDBPyConnection,
    path: Path,
    *,
    encoding: str | None = None,
    delimiter: str | None = None,
    min_columns: int = 2,
    max_line_size: int = 8 * 1024 * 1024,
) -> RawSource:
    """Read a CSV file into a raw table, every column VARCHAR.

    Args:
        con: the DuckDB connection.
        path: the CSV file.
        encoding: declared encoding (default: detected).
        delimiter: declared delimiter (default: sniffed among , ; | tab).
        min_columns: how many columns the caller needs; one column found when more
            are needed is reported as a wrong delimiter.
        max_line_size: longest record, in bytes, before a row is rejected.

    Returns:
        The raw source; rows the parser could not split are in ``malformed``.

    Raises:
        InputDataError: unreadable, binary or empty file, undecodable bytes, a wrong
            delimiter, or a file DuckDB cannot parse at all.
    """
    check_readable_file(path)
    layout = _csv_layout(path, encoding=encoding, delimiter=delimiter, min_columns=min_columns)
    raw = temp_name("raw")
    scan = temp_name("rscan")
    errs = temp_name("rerr")
    stage = temp_name("csv")
    columns = {f"c{i}": "VARCHAR" for i in range(len(layout.headers))}
    tmpdir: str | None = None
    try:
        read_path = path
        if layout.encoding not in ("utf-8", "utf-8-sig") or layout.newlines == "mixed":
            tmpdir = tempfile.mkdtemp(prefix="cselink-")
            read_path = _transcode(
                path,
                layout.encoding,
                Path(tmpdir),
                newlines=layout.newlines == "mixed" or layout.encoding == "utf-16",
            )
        # A row with thousands of surplus fields is replaced by one with a single
        # surplus field: DuckDB rejects it in microseconds instead of minutes, and it
        # is still one rejected row ("more fields than the header").
        ncols = len(layout.headers)
        normalised = read_path != path and (layout.newlines == "mixed" or not layout.newlines)
        huge = overlong_lines(
            read_path,
            layout.delimiter,
            max(1000, 4 * ncols),
            newlines="lf" if normalised else layout.newlines,
        )
        if huge:
            tmpdir = tmpdir or tempfile.mkdtemp(prefix="cselink-")
            read_path = _replace_ranges(
                read_path,
                huge,
                # non-empty fields: DuckDB forgives a trailing empty one
                layout.delimiter.join(["-"] * (ncols + 1)).encode(),
                Path(tmpdir) / "wide.csv",
            )
        options = {
            "header": "true",
            "auto_detect": "false",
            "all_varchar": "true",
            "delim": quote_literal(layout.delimiter),
            "quote": quote_literal('"'),
            "escape": quote_literal('"'),
            "columns": "{" + ", ".join(f"{quote_literal(k)}: 'VARCHAR'" for k in columns) + "}",
            "store_rejects": "true",
            "rejects_table": quote_literal(errs),
            "rejects_scan": quote_literal(scan),
            "max_line_size": str(int(max_line_size)),
            "strict_mode": "true",
        }
        args = ", ".join(f"{k} = {v}" for k, v in options.items())
        sql = (
            f"CREATE TEMP TABLE {quote_ident(stage)} AS "
            f"SELECT * FROM read_csv({quote_literal(str(read_path))}, {args})"
        )
        try:
            con.execute(sql)
        except duckdb.OutOfMemoryException:
            raise  # not the file's fault: the ingest stage reports it (ResourceLimitError)
        except duckdb.Error as exc:
            said, line = duckdb_error_message(exc)
            raise InputDataError(
                f"cannot parse the CSV file: {said}",
                file=str(path),
                row=(line - 1 if line and line > 1 else None),
            ) from None
        n_bad = count_rows(con, errs)
        if n_bad == 0 and count_rows(con, stage) == 0 and layout.sample_records > 1:
            # DuckDB can read nothing, silently, from a file it misjudged: never let
            # data rows vanish without an error.
            raise InputDataError(
                "the CSV reader found no rows, although the file has data lines",
                file=str(path),
            )
        malformed = None
        if n_bad:
            malformed = temp_name("malformed")
            cases = " ".join(
                f"WHEN {quote_literal(k)} THEN {quote_literal(v)}"
                for k, v in _REJECT_REASONS.items()
            )
            con.execute(
                f"CREATE TEMP TABLE {quote_ident(malformed)} AS "
                f"SELECT (line - 1)::BIGINT AS row_number, "
                f"first(CASE upper(CAST(error_type AS VARCHAR)) {cases} "
                f"ELSE 'malformed row' END ORDER BY column_idx) AS reason "
                f"FROM {quote_ident(errs)} GROUP BY line ORDER BY line"
            )
            # Number the good rows around the rejected ones: the k-th good row gets the
            # k-th data-row number not taken by a malformed row.
            con.execute(
                f"CREATE TEMP TABLE {quote_ident(raw)} AS "
                f"WITH free AS (SELECT r AS n, row_number() OVER (ORDER BY r) AS k "
                f"FROM range(1, (SELECT count(*) FROM {quote_ident(stage)}) + "
                f"(SELECT count(*) FROM {quote_ident(malformed)}) + "
                f"(SELECT coalesce(max(row_number), 0) FROM {quote_ident(malformed)}) + 1) t(r) "
                f"WHERE r NOT IN (SELECT row_number FROM {quote_ident(malformed)})), "
                f"good AS (SELECT rowid + 1 AS k, * FROM {quote_ident(stage)}) "
                f"SELECT free.n::BIGINT AS {ROW_COLUMN}, good.* EXCLUDE (k) "
                f"FROM good JOIN free USING (k) ORDER BY free.n"
            )
        else:
            # The table read in file order (DuckDB preserves insertion order) is the raw
            # table itself: its rowid + 1 is the data-row number, so no copy is needed.
            raw, stage = stage, raw
    finally:
        drop_temp(con, stage, errs, scan)
        if tmpdir is not None:
            shutil.rmtree(tmpdir, ignore_errors=True)
    return RawSource(
        table=raw,
        headers=layout.headers,
        types=("VARCHAR",) * len(layout.headers),
        file=str(path),
        format="csv",
        encoding=layout.encoding,
        delimiter=layout.delimiter,
        malformed=malformed,
        rowid_rows=malformed is None,
        notes=tuple(
            note
            for note, applies in (
                (
                    "mixed text encodings: UTF-8 and cp1252 bytes (each character decoded "
                    "as found)",
                    layout.encoding == MIXED_ENCODING,
                ),
                ("mixed line endings (read as one style)", layout.newlines == "mixed"),
            )
            if applies
        ),
    )


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: Any = None) -> tuple[Any, ...]:
    """The first row of a query that returns exactly one row.

    Fetches the whole result: DuckDB 2.0 refuses new work on a connection whose last
    result was not read to the end (``fetchone`` leaves it open).
    """
    rows = con.execute(sql, params).fetchall()
    if not rows:  # pragma: no cover - only used for aggregates
        raise RuntimeError("query returned no row")
    return tuple(rows[0])


def count_rows(con: duckdb.DuckDBPyConnection, table: str) -> int:
    """The number of rows of a table (0 if it does not exist)."""
    try:
        return int(fetch_one(con, f"SELECT count(*) FROM {quote_ident(table)}")[0])
    except duckdb.CatalogException:
        return 0


# --------------------------------------------------------------------------- Parquet


def read_parquet_raw(con: duckdb.DuckDBPyConnection, path: Path) -> RawSource:
    """Read a Parquet file into a raw table (columns keep their Parquet types).

    Raises:
        InputDataError: the file is missing, empty or not readable Parquet.
    """
    check_readable_file(path)
    src = f"read_parquet({quote_literal(str(path))}, file_row_number = true)"
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {src}").fetchall()
    except duckdb.Error as exc:
        said, _ = duckdb_error_message(exc)
        raise InputDataError(f"not a readable Parquet file ({said})", file=str(path)) from None
    headers = [str(r[0]) for r in described if r[0] != "file_row_number"]
    types = [str(r[1]) for r in described if r[0] != "file_row_number"]
    _check_headers(headers, str(path))
    raw = temp_name("raw")
    select = ", ".join(f"{quote_ident(h)} AS c{i}" for i, h in enumerate(headers))
    try:
        con.execute(
            f"CREATE TEMP TABLE {quote_ident(raw)} AS SELECT "
            f"(file_row_number + 1)::BIGINT AS {ROW_COLUMN}"
            f"{', ' + select if select else ''} FROM {src} ORDER BY file_row_number"
        )
    except duckdb.OutOfMemoryException:
        raise  # not the file's fault: the ingest stage reports it (ResourceLimitError)
    except duckdb.Error as exc:
        said, _ = duckdb_error_message(exc)
        raise InputDataError(f"not a readable Parquet file ({said})", file=str(path)) from None
    return RawSource(
        table=raw, headers=tuple(headers), types=tuple(types), file=str(path), format="parquet"
    )


# --------------------------------------------------------------------------- xlsx


def _cell_text(value: Any) -> str | None:
    """An Excel cell as text: whole numbers without '.0', dates in ISO form."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time(0, 0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    return str(value)


def read_xlsx_raw(
    con: duckdb.DuckDBPyConnection, path: Path, *, sheet: str | None = None
) -> RawSource:
    """Read the first (or a named) sheet of an ``.xlsx`` workbook with openpyxl.

    The first row is the header. Cells become text (whole numbers without ``.0``,
    dates ISO). Row numbers follow the sheet: sheet row ``r`` is data row ``r - 1``;
    wholly empty rows are skipped.

    Raises:
        InputDataError: the file is not a readable workbook, the sheet does not exist,
            or the sheet is empty.
    """
    import openpyxl  # imported here: only xlsx sources need it
    from openpyxl.utils.exceptions import InvalidFileException

    check_readable_file(path)
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except (
        InvalidFileException,
        OSError,
        KeyError,
        ValueError,
        TypeError,
        IndexError,
        EOFError,
    ) as exc:
        raise InputDataError(
            f"not a readable .xlsx workbook ({type(exc).__name__})", file=str(path)
        ) from None
    except Exception as exc:  # zipfile.BadZipFile, lxml errors: all mean "not a workbook"
        raise InputDataError(
            f"not a readable .xlsx workbook ({type(exc).__name__})", file=str(path)
        ) from None
    try:
        names = list(wb.sheetnames)
        if sheet is not None:
            if sheet not in names:
                hint = did_you_mean(sheet, names)
                raise InputDataError(f"no sheet {sheet!r} in the workbook{hint}", file=str(path))
            ws = wb[sheet]
        else:
            if not names:
                raise InputDataError("the workbook has no sheets", file=str(path))
            ws = wb[names[0]]
        try:
            headers, frame = _sheet_frame(ws, str(path))
        except InputDataError:
            raise
        except Exception as exc:  # a corrupt sheet part inside a valid zip
            raise InputDataError(
                f"not a readable .xlsx workbook ({type(exc).__name__})", file=str(path)
            ) from None
    finally:
        wb.close()
    return _register_frame(con, frame, headers, file=str(path), fmt="xlsx")


def _sheet_frame(ws: Any, file: str) -> tuple[list[str], pd.DataFrame]:
    rows: Iterator[tuple[Any, ...]] = ws.iter_rows(values_only=True)
    header_row: tuple[Any, ...] | None = None
    for row in rows:
        if any(v is not None and str(v).strip() for v in row):
            header_row = row
            break
    if header_row is None:
        raise InputDataError("empty sheet (no header row)", file=file)
    width = len(header_row)
    while width and (header_row[width - 1] is None or not str(header_row[width - 1]).strip()):
        width -= 1
    headers = [
        (_cell_text(v) or "").strip() or f"column{i + 1}" for i, v in enumerate(header_row[:width])
    ]
    _check_headers(headers, file)
    data: list[list[str | None]] = [[] for _ in range(width)]
    numbers: list[int] = []
    for offset, row in enumerate(rows, start=1):
        cells = [_cell_text(v) for v in row[:width]]
        if not any(c is not None and c.strip() for c in cells):
            continue
        cells.extend([None] * (width - len(cells)))
        numbers.append(offset)
        for i, c in enumerate(cells):
            data[i].append(c)
    frame = pd.DataFrame({f"c{i}": pd.Series(col, dtype=object) for i, col in enumerate(data)})
    frame.insert(0, ROW_COLUMN, pd.Series(numbers, dtype="int64"))
    return headers, frame


# --------------------------------------------------------------------------- in-memory


def _check_headers(headers: Sequence[str], file: str | None) -> None:
    if len(headers) > _MAX_COLUMNS:
        raise InputDataError(f"{len(headers)} columns (more than {_MAX_COLUMNS})", file=file)


def _register_frame(
    con: duckdb.DuckDBPyConnection,
    frame: pd.DataFrame,
    headers: Sequence[str],
    *,
    file: str | None,
    fmt: str,
) -> RawSource:
    view = temp_name("view")
    raw = temp_name("raw")
    con.register(view, frame)
    try:
        con.execute(
            f"CREATE TEMP TABLE {quote_ident(raw)} AS SELECT * FROM {quote_ident(view)} "
            f"ORDER BY {ROW_COLUMN}"
        )
    finally:
        con.unregister(view)
    types = tuple(
        str(r[1])
        for r in con.execute(f"DESCRIBE {quote_ident(raw)}").fetchall()
        if r[0] != ROW_COLUMN
    )
    return RawSource(table=raw, headers=tuple(headers), types=types, file=file, format=fmt)


def read_dataframe_raw(con: duckdb.DuckDBPyConnection, df: pd.DataFrame) -> RawSource:
    """Read a pandas DataFrame into a raw table; row ``i`` (0-based position) is row ``i + 1``.

    Raises:
        InputDataError: a column name is not a string, or appears twice.
    """
    headers = [c.strip() if isinstance(c, str) else c for c in df.columns]
    bad = [repr(c) for c in headers if not isinstance(c, str)]
    if bad:
        raise InputDataError(f"DataFrame column names must be strings (found {', '.join(bad)})")
    _check_headers(headers, None)
    frame = df.copy(deep=False)
    frame.columns = [f"c{i}" for i in range(len(headers))]
    frame = frame.reset_index(drop=True)
    frame.insert(0, ROW_COLUMN, pd.RangeIndex(1, len(frame) + 1).to_numpy(dtype="int64"))
    return _register_frame(con, frame, headers, file=None, fmt="dataframe")


def read_relation_raw(con: duckdb.DuckDBPyConnection, rel: duckdb.DuckDBPyRelation) -> RawSource:
    """Read a DuckDB relation (from any connection) into a raw table, in its row order."""
    table = rel.to_arrow_table()
    headers = [str(c).strip() for c in table.column_names]
    _check_headers(headers, None)
    renamed = table.rename_columns([f"c{i}" for i in range(len(headers))])
    view = temp_name("view")
    raw = temp_name("rawr")
    con.register(view, renamed)
    try:
        con.execute(f"CREATE TEMP TABLE {quote_ident(raw)} AS SELECT * FROM {quote_ident(view)}")
    finally:
        con.unregister(view)
    final = temp_name("raw")
    try:
        con.execute(
            f"CREATE TEMP TABLE {quote_ident(final)} AS "
            f"SELECT (rowid + 1)::BIGINT AS {ROW_COLUMN}, * FROM {quote_ident(raw)}"
        )
    finally:
        drop_temp(con, raw)
    types = tuple(
        str(r[1])
        for r in con.execute(f"DESCRIBE {quote_ident(final)}").fetchall()
        if r[0] != ROW_COLUMN
    )
    return RawSource(table=final, headers=tuple(headers), types=types, file=None, format="relation")


# --------------------------------------------------------------------------- writers


def neutralise_formulas(df: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``df`` whose text cells cannot be run as spreadsheet formulas.

    A string cell beginning with ``= + - @``, tab or carriage return gets a leading
    ``'`` (OWASP's advice for CSV injection). Numbers stay numbers.
    """
    out = df.copy()
    for col in out.columns:
        series = out[col]
        if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
            continue
        is_str = series.map(lambda v: isinstance(v, str))
        text = series.where(is_str, "")
        risky = is_str & text.str.startswith(_FORMULA_START)
        if risky.any():
            out[col] = series.where(~risky, "'" + text)
    return out


def _atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    target = Path(path)
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError("output folder does not exist", file=str(folder))
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    except OSError as exc:
        raise UsageError(
            f"cannot write in the output folder ({exc.strerror})", file=str(folder)
        ) from None
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as exc:
        Path(tmp).unlink(missing_ok=True)
        raise UsageError(f"cannot write the file ({exc.strerror})", file=str(target)) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return target


def write_parquet_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write ``df`` as Parquet atomically, owner-only (0600 from the start)."""
    import io as _io

    buffer = _io.BytesIO()
    df.to_parquet(buffer, index=False)
    return _atomic_write_bytes(path, buffer.getvalue())


def write_csv_atomic(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a DataFrame as UTF-8 CSV, atomically, private (0600) and CSV-injection safe.

    Args:
        df: the table to write (the index is not written).
        path: the target file; its folder must exist.

    Returns:
        The path written.

    Raises:
        UsageError: the folder does not exist or cannot be written.
    """
    safe = neutralise_formulas(df)
    # The csv module quotes a field holding "\n" but not one holding a lone "\r" when
    # lines end in "\n"; such a field would split its row for most readers. Quote every
    # text field then (numbers stay unquoted).
    has_cr = any(
        safe[c].map(lambda v: isinstance(v, str) and "\r" in v).any()
        for c in safe.columns
        if pd.api.types.is_object_dtype(safe[c]) or pd.api.types.is_string_dtype(safe[c])
    )
    quoting = csv.QUOTE_NONNUMERIC if has_cr else csv.QUOTE_MINIMAL
    text = safe.to_csv(index=False, lineterminator="\n", quoting=quoting)
    return _atomic_write_bytes(path, text.encode("utf-8"))


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write UTF-8 text atomically to a private (0600) file."""
    return _atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(obj: Any) -> Any:
    if isinstance(obj, Path):
        return str(obj)
    if isinstance(obj, dt.date | dt.datetime):
        return obj.isoformat()
    if hasattr(obj, "item"):  # numpy scalars
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, set | frozenset):
        return sorted(obj)
    raise TypeError(f"cannot write a {type(obj).__name__} as JSON")


def write_json_atomic(path: str | Path, obj: Any) -> Path:
    """Write an object as indented UTF-8 JSON, atomically, to a private (0600) file."""
    text = json.dumps(obj, indent=2, ensure_ascii=False, default=_json_default, allow_nan=False)
    return write_text_atomic(path, text + "\n")


def ensure_private_dir(path: str | Path) -> Path:
    """Create an output folder readable only by its owner (0700), or check an existing one.

    An existing folder keeps its mode (it may be the user's own folder) but must be
    writable.

    Raises:
        UsageError: the folder cannot be created, is a file, or cannot be written.
    """
    folder = Path(path)
    if folder.exists():
        if not folder.is_dir():
            raise UsageError("output path exists and is not a folder", file=str(folder))
    else:
        try:
            folder.mkdir(parents=True, mode=0o700)
            os.chmod(folder, 0o700)
        except OSError as exc:
            raise UsageError(
                f"cannot create the output folder ({exc.strerror})", file=str(folder)
            ) from None
    if not os.access(folder, os.W_OK | os.X_OK):
        raise UsageError("cannot write in the output folder (permission denied)", file=str(folder))
    return folder


def sha256_file(path: str | Path) -> str:
    """The SHA-256 of a file's bytes, as hex (to tie an index or report to its inputs)."""
    digest = hashlib.sha256()
    try:
        with Path(path).open("rb") as fh:
            for chunk in iter(lambda: fh.read(_CHUNK), b""):
                digest.update(chunk)
    except OSError as exc:
        raise InputDataError(f"cannot read the file ({exc.strerror})", file=str(path)) from None
    return digest.hexdigest()
