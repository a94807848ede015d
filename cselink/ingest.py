"""Ingest: read every source, apply its mapping, validate, and account for every row.

Writes two tables (contracts in :mod:`cselink.schema`):

``input_records``
    uid BIGINT (0..n-1, by source order then row_number), source, record_id,
    row_number BIGINT (1-based data row of the file), forename, middle_names, surname,
    aliases VARCHAR[], former_surnames VARCHAR[], dob DATE, sex ('M'|'F'|'U'|NULL),
    address, postcode, nhs_number VARCHAR, nhs_number_valid BOOLEAN
``rejects``
    source, row_number, record_id, column, reason (never a personal value)

Values are kept as recorded (trimmed; empty -> NULL). Ingest only does what the
mapping defines: split a full name, split list columns, parse dates with the
declared formats, map sex codes, extract a postcode from the address, fill
constants. Standardising is the engine's job.

A row is rejected when it has no record_id, nothing to link on (no name, alias,
date of birth, NHS number, address or postcode), repeats an earlier record_id of its
source, or could not be parsed from the file. A bad optional value (a date that does
not parse, an unknown sex code, an NHS number that fails its check digit) keeps the row,
with the value NULL (or ``nhs_number_valid`` false) and a warning count in the
:class:`IngestReport`. Always ``rows_read == rows_used + rows_rejected``.

Everything per row is DuckDB SQL over the raw table; Python only builds the SQL.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import duckdb
import pandas as pd

from cselink import io as cio
from cselink._sql import quote_ident
from cselink.errors import ConfigError, InputDataError, UsageError, did_you_mean
from cselink.identifiers import POSTCODE_IN_TEXT, nhs_digits_sql, nhs_number_valid_sql
from cselink.mapping import (
    HEADER_HINT_CUTOFF,
    JOIN_SEPARATORS,
    Mapping,
    headers_look_like_data,
    is_day_first,
    swap_day_month,
)
from cselink.schema import INPUT_TABLE, LIST_COLUMNS, REJECTS_TABLE

logger = logging.getLogger(__name__)

__all__ = [
    "DateOrderFinding",
    "IngestReport",
    "IngestWarning",
    "Source",
    "SourceReport",
    "load_sources",
    "source_from_spec",
]

OnDuplicate = Literal["keep", "reject", "raise"]

#: Whitespace trimmed from every value (spaces, tabs, line ends, no-break space, BOM),
#: as an RE2 character class. A regex test first is much faster than ``trim(x, chars)``
#: on values that need no trimming (almost all of them).
_WS = r"[\s\x0b\x{00A0}\x{200B}\x{FEFF}]"
_EDGE_WS = f"^{_WS}|{_WS}$"
_TRIM_WS = f"^{_WS}+|{_WS}+$"


def _trimmed(expr: str) -> str:
    """SQL: ``expr`` without leading/trailing whitespace, empty -> NULL."""
    return (
        f"NULLIF(CASE WHEN regexp_matches({expr}, '{_EDGE_WS}') "
        f"THEN regexp_replace({expr}, '{_TRIM_WS}', '', 'g') ELSE {expr} END, '')"
    )


#: Formats always tried after the declared ones: an ISO date is never ambiguous.
_ISO_DATE = "%Y-%m-%d"

_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")

# Reasons written to the rejects table.
REASON_MISSING_ID = "missing record_id"
REASON_NO_NAME = (
    "nothing to link on (no name, alias, date of birth, NHS number, address or postcode)"
)
REASON_DUPLICATE = "duplicate record_id"
#: Warning for a record id on more than one row (``on_duplicate="keep"``); the ids follow.
WARN_DUPLICATE = "rows share a record id; every row kept, its id given as 'ID (row N)'"
#: How many duplicated ids a warning names (the count says how many rows there are).
_DUPLICATE_IDS_SHOWN = 20

# Reasons of warning counts.
WARN_DOB = "unparseable date of birth (set to NULL)"
WARN_SEX = "unmapped sex code (set to U)"
WARN_NHS = "invalid NHS number (length, check digit or placeholder; not used as evidence)"
WARN_POSTCODE = "no UK postcode found in the address"
WARN_SOURCE = "value differs from the source name (the source name is used)"
WARN_SWAPPED = "dates that parse only with day and month swapped"
WARN_EMPTY = "no data rows"
WARN_MIXED = "dates in both day-first and month-first order"


# --------------------------------------------------------------------------- public types


@dataclass(frozen=True, slots=True)
class Source:
    """One input: a file, DataFrame or DuckDB relation, and how to map it.

    Attributes:
        name: the source name written to the ``source`` column.
        data: a path (CSV, Parquet, xlsx), a pandas DataFrame or a DuckDB relation.
        mapping: the source mapping; None means the file has canonical columns.
    """

    name: str
    data: str | Path | pd.DataFrame | duckdb.DuckDBPyRelation
    mapping: Mapping | None = None


@dataclass(frozen=True, slots=True)
class IngestWarning:
    """How many used rows of a source had an unusable value in one column, and why."""

    source: str
    column: str
    header: str | None
    reason: str
    count: int


@dataclass(frozen=True, slots=True)
class DateOrderFinding:
    """What the data says about day/month order when a mapping allows both.

    ``day_first_only`` counts values only the day-first format reads (first part
    over 12), ``month_first_only`` values only the month-first one reads, ``either``
    values both read. ``conclusion`` is ``day_first`` or ``month_first`` (the
    other format was dropped), ``mixed`` (both kept, in the mapping's order) or
    ``undetermined`` (no value decides; the mapping's order is used).
    """

    source: str
    header: str
    day_first: str
    month_first: str
    day_first_only: int
    month_first_only: int
    either: int
    conclusion: str
    formats_used: tuple[str, ...]


@dataclass(slots=True)
class SourceReport:
    """What ingest did with one source."""

    name: str
    file: str | None
    format: str
    encoding: str | None
    delimiter: str | None
    rows_read: int = 0
    rows_used: int = 0
    rows_rejected: int = 0
    columns: dict[str, str] = field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()
    rejected_by_reason: dict[str, int] = field(default_factory=dict)


@dataclass(slots=True)
class IngestReport:
    """Counts per source, warnings and date-order findings of one :func:`load_sources` call.

    Invariant: for every source ``rows_read == rows_used + rows_rejected``.
    """

    sources: list[SourceReport] = field(default_factory=list)
    warnings: list[IngestWarning] = field(default_factory=list)
    date_orders: list[DateOrderFinding] = field(default_factory=list)
    table: str = INPUT_TABLE
    rejects_table: str = REJECTS_TABLE

    @property
    def rows_read(self) -> int:
        """Data rows read over all sources."""
        return sum(s.rows_read for s in self.sources)

    @property
    def rows_used(self) -> int:
        """Rows written to the input table."""
        return sum(s.rows_used for s in self.sources)

    @property
    def rows_rejected(self) -> int:
        """Rows written to the rejects table."""
        return sum(s.rows_rejected for s in self.sources)

    def source(self, name: str) -> SourceReport:
        """The report of one source by name."""
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)

    def warning_count(self, source: str, column: str, reason: str | None = None) -> int:
        """The number of warnings of a source and canonical column (and reason)."""
        return sum(
            w.count
            for w in self.warnings
            if w.source == source and w.column == column and (reason is None or w.reason == reason)
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as plain JSON-ready data."""
        return {
            "table": self.table,
            "rejects_table": self.rejects_table,
            "rows_read": self.rows_read,
            "rows_used": self.rows_used,
            "rows_rejected": self.rows_rejected,
            "sources": [_plain(asdict(s)) for s in self.sources],
            "warnings": [_plain(asdict(w)) for w in self.warnings],
            "date_orders": [_plain(asdict(d)) for d in self.date_orders],
        }


def _plain(obj: Any) -> Any:
    """Tuples as lists, recursively, so the dict equals its JSON round trip."""
    if isinstance(obj, dict):
        return {k: _plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_plain(v) for v in obj]
    return obj


# --------------------------------------------------------------------------- specs


def source_from_spec(spec: str) -> Source:
    """Parse the CLI form ``NAME=PATH[:MAPPING.toml]`` (or a bare ``PATH[:MAPPING.toml]``).

    Without ``NAME=``, the name is the mapping's source name, else the file stem.

    Raises:
        UsageError: an empty spec, name or path.
        ConfigError: the mapping does not load.
    """
    text = spec.strip()
    if not text:
        raise UsageError("empty source: expected NAME=PATH[:MAPPING.toml]")
    name: str | None = None
    head, sep, rest = text.partition("=")
    if sep and _SOURCE_NAME.match(head.strip()) and "/" not in head and "\\" not in head:
        name, text = head.strip(), rest.strip()
    mapping: Mapping | None = None
    path_part, colon, map_part = text.rpartition(":")
    if colon and map_part.lower().endswith(".toml") and path_part:
        mapping = Mapping.from_toml(map_part)
        text = path_part
    if not text:
        raise UsageError(f"no file in source {spec!r}: expected NAME=PATH[:MAPPING.toml]")
    path = Path(text).expanduser()
    if name is None:
        name = (mapping.source_name() if mapping else None) or path.stem
    return Source(name=name, data=path, mapping=mapping)


# --------------------------------------------------------------------------- loading


def load_sources(
    con: duckdb.DuckDBPyConnection,
    sources: Sequence[Source],
    *,
    table: str = INPUT_TABLE,
    rejects_table: str = REJECTS_TABLE,
    on_duplicate: OnDuplicate = "keep",
    first_uid: int = 0,
    summarise: bool = True,
) -> IngestReport:
    """Read, map and validate sources into ``table`` and ``rejects_table``.

    Args:
        con: the DuckDB connection the tables are written to.
        sources: the sources, in the order that numbers their uids.
        table: name of the table of usable records (replaced).
        rejects_table: name of the table of rejected rows (replaced).
        on_duplicate: ``"keep"`` keeps every row of a record_id that more than one row
            of a source has, each under the key ``ID (row N)`` (N its row in the file),
            so both are searched and the outputs tell them apart, and warns naming the
            ids; ``"reject"`` sends the repeats to the rejects table (the first is kept);
            ``"raise"`` makes them an :class:`InputDataError`.
        first_uid: the uid of the first usable row (the others follow in order).
        summarise: count rows, warnings and rejects per source into the report. Without
            it (a search, which discards the report) the report is empty and
            ``on_duplicate`` must not be ``"raise"``.

    Returns:
        The counts, warnings and date-order findings.

    Raises:
        UsageError: no sources, a repeated source name or a bad argument.
        InputDataError: a file that cannot be read, a missing required column.
        ConfigError: a mapping naming columns the file does not have.
    """
    if not sources:
        raise UsageError("no sources given")
    if on_duplicate not in ("keep", "reject", "raise"):
        raise UsageError(
            f"on_duplicate must be 'keep', 'reject' or 'raise', not {on_duplicate!r}")
    if table == rejects_table:
        raise UsageError("the input and rejects tables must have different names")
    if not summarise and on_duplicate == "raise":
        raise UsageError("on_duplicate='raise' needs summarise=True")
    names = [s.name for s in sources]
    for s in sources:
        if not isinstance(s, Source):
            raise UsageError(f"expected a Source, got {type(s).__name__}")
        if not isinstance(s.name, str) or not s.name.strip():
            raise UsageError("a source name must be a non-empty string")
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"source name given more than once: {', '.join(dupes)}")

    report = IngestReport(table=table, rejects_table=rejects_table)
    temps: list[str | None] = []
    stages: list[str] = []
    # Row numbers rely on tables keeping the order rows were read in.
    ordered = bool(cio.fetch_one(con, "SELECT current_setting('preserve_insertion_order')")[0])
    if not ordered:
        con.execute("SET preserve_insertion_order = true")
    try:
        for index, src in enumerate(sources):
            raw = _read(con, src)
            temps.extend([raw.table, raw.malformed])
            stage = cio.temp_name("stage")
            temps.append(stage)
            _stage_source(con, src, index, raw, stage, report, on_duplicate,
                          summarise=summarise)
            stages.append(stage)
        _write_outputs(con, stages, table, rejects_table, first_uid=first_uid)
    finally:
        cio.drop_temp(con, *temps)
        if not ordered:
            con.execute("SET preserve_insertion_order = false")
    for done in report.sources:
        if done.rows_read != done.rows_used + done.rows_rejected:  # pragma: no cover
            raise RuntimeError(f"ingest lost rows of source {done.name!r}")
    logger.info(
        "ingested %d sources: %d rows read, %d used, %d rejected",
        len(report.sources),
        report.rows_read,
        report.rows_used,
        report.rows_rejected,
    )
    return report


def _read(con: duckdb.DuckDBPyConnection, src: Source) -> cio.RawSource:
    mapping = src.mapping
    data = src.data
    if isinstance(data, pd.DataFrame):
        return cio.read_dataframe_raw(con, data)
    if isinstance(data, duckdb.DuckDBPyRelation):
        return cio.read_relation_raw(con, data)
    if not isinstance(data, str | Path):
        raise UsageError(
            f"source {src.name!r}: data must be a path, a pandas DataFrame or a DuckDB "
            f"relation, not {type(data).__name__}"
        )
    path = Path(data).expanduser()
    cio.check_readable_file(path)
    fmt = cio.detect_format(path, mapping.format if mapping else None)
    if fmt == "parquet":
        return cio.read_parquet_raw(con, path)
    if fmt == "xlsx":
        return cio.read_xlsx_raw(con, path, sheet=mapping.sheet if mapping else None)
    needed = 2 if mapping is None else max(1, len(mapping.headers()))
    return cio.read_csv_raw(
        con,
        path,
        encoding=mapping.encoding if mapping else None,
        delimiter=mapping.delimiter if mapping else None,
        min_columns=needed,
    )


def _resolve_mapping(src: Source, raw: cio.RawSource) -> Mapping:
    """The mapping in force, checked against the source's headers."""
    headers = list(raw.headers)
    dup = sorted({h for h in headers if headers.count(h) > 1})
    if src.mapping is None:
        mapping = Mapping.canonical(headers)
        if "record_id" not in mapping.columns:
            hint = (
                " (the first row looks like data: is the header row missing?)"
                if headers_look_like_data(headers)
                else did_you_mean("record_id", headers, cutoff=HEADER_HINT_CUTOFF)
            )
            raise InputDataError(
                f"missing required column 'record_id'{hint}",
                file=raw.file,
                column="record_id",
            )
        used = set(mapping.columns.values())
        if "source" in headers:
            used.add("source")
    else:
        mapping = src.mapping
        problems = mapping.missing_columns(headers)
        if problems:
            where = f" (mapping {mapping.origin})" if mapping.origin else ""
            raise ConfigError(
                f"the mapping names columns the file does not have{where}: " + "; ".join(problems),
                problems,
                file=raw.file,
                column=next((h for h in mapping.headers() if h not in set(headers)), None),
            )
        used = set(mapping.headers())
    clash = sorted(h for h in dup if h in used)
    if clash:
        raise InputDataError(
            f"column header {clash[0]!r} appears more than once",
            file=raw.file,
            column=clash[0],
        )
    return mapping


class _Sql:
    """Builds the value expressions of one source over its raw table (alias ``r``)."""

    def __init__(self, raw: cio.RawSource, mapping: Mapping) -> None:
        self.raw = raw
        self.mapping = mapping
        self.params: dict[str, Any] = {}
        self._constants: dict[str, str] = {}
        self._n = 0

    def param(self, value: Any) -> str:
        self._n += 1
        key = f"p{self._n}"
        self.params[key] = value
        return f"${key}"

    def type_of(self, canonical: str) -> str | None:
        header = self.mapping.columns.get(canonical)
        if canonical in self.mapping.join:
            return "VARCHAR"  # joined as text (see ref)
        if header is None:
            return "VARCHAR" if canonical in self.mapping.constants else None
        return self.raw.types[self.raw.headers.index(header)].upper()

    def ref(self, canonical: str) -> str | None:
        """The raw column (or constant) of a canonical column, before conversion."""
        header = self.mapping.columns.get(canonical)
        if header is not None and canonical in self.mapping.join:
            # [join]: the non-empty values of every column, in order, as one text.
            sep = (JOIN_SEPARATORS[canonical] if canonical in JOIN_SEPARATORS
                   else self.mapping.separator(canonical))
            parts = ", ".join(
                _trimmed(f"CAST(r.{quote_ident(self.raw.column(h))} AS VARCHAR)")
                for h in (header, *self.mapping.join[canonical]))
            return f"NULLIF(concat_ws({self.param(sep)}, {parts}), '')"
        if header is not None:
            return "r." + quote_ident(self.raw.column(header))
        if canonical in self.mapping.constants:
            if canonical not in self._constants:
                self._constants[canonical] = self.param(self.mapping.constants[canonical])
            return f"CAST({self._constants[canonical]} AS VARCHAR)"
        return None

    def params_for(self, statement: str) -> dict[str, Any]:
        """The parameters a statement uses (DuckDB rejects unused ones)."""
        return {k: v for k, v in self.params.items() if re.search(rf"\${k}\b", statement)}

    def text(self, canonical: str) -> str:
        """The value as trimmed VARCHAR, empty -> NULL."""
        ref = self.ref(canonical)
        if ref is None:
            return "CAST(NULL AS VARCHAR)"
        typ = self.type_of(canonical) or "VARCHAR"
        if typ.endswith("[]"):
            sep = self.param(
                self.mapping.separator(canonical) if canonical in LIST_COLUMNS else " "
            )
            as_text = f"array_to_string(CAST({ref} AS VARCHAR[]), {sep})"
        elif typ in ("DOUBLE", "FLOAT", "REAL"):
            as_text = (
                f"CASE WHEN NOT isfinite({ref}) THEN NULL "
                f"WHEN {ref} = trunc({ref}) AND abs({ref}) < 1e15 "
                f"THEN CAST(CAST({ref} AS BIGINT) AS VARCHAR) ELSE CAST({ref} AS VARCHAR) END"
            )
        elif typ == "DATE":
            as_text = f"strftime({ref}, '%Y-%m-%d')"
        elif typ == "VARCHAR":
            as_text = ref
        else:
            as_text = f"CAST({ref} AS VARCHAR)"
        return _trimmed(as_text)

    def items(self, canonical: str) -> str:
        """A list column: split on the separator, items trimmed, empty items dropped.

        The result may be an empty list; the caller turns that into NULL.
        """
        ref = self.ref(canonical)
        if ref is None:
            return "CAST(NULL AS VARCHAR[])"
        typ = self.type_of(canonical) or "VARCHAR"
        if typ.endswith("[]"):
            parts = f"CAST({ref} AS VARCHAR[])"
        else:
            sep = self.param(self.mapping.separator(canonical))
            parts = f"string_split({self.text(canonical)}, {sep})"
        return (
            f"list_filter(list_transform({parts}, lambda s: {_trimmed('s')}), "
            f"lambda s: s IS NOT NULL)"
        )


def _stage_source(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    index: int,
    raw: cio.RawSource,
    stage: str,
    report: IngestReport,
    on_duplicate: OnDuplicate,
    *,
    summarise: bool = True,
) -> None:
    mapping = _resolve_mapping(src, raw)
    sql = _Sql(raw, mapping)
    rt = quote_ident(raw.table)
    cols = mapping.columns

    # ---- date formats, after checking the data for day/month order
    dob_type = sql.type_of("dob")
    formats = list(mapping.dob_formats)
    findings: list[DateOrderFinding] = []
    if dob_type is not None and not _is_temporal(dob_type):
        formats, findings = _date_order(con, sql, src.name, formats, rt)
    tried = formats + ([_ISO_DATE] if _ISO_DATE not in formats else [])

    full = "full_name" in cols
    # ---- name parts: from a full name (split in t1/t2) or from their own columns
    if full:
        names_t0 = f"{sql.text('full_name')} AS fn"
        names_t1 = (
            "strpos(fn, ',') > 0 AS fn_comma, "
            "CASE WHEN strpos(fn, ',') > 0 "
            "THEN NULLIF(trim(substr(fn, 1, strpos(fn, ',') - 1)), '') END AS fn_head, "
            # translate() is much cheaper than a regex: commas and ASCII white space
            # become spaces, and the empty items between repeated spaces are dropped.
            "list_filter(string_split(translate(CASE WHEN strpos(fn, ',') > 0 "
            "THEN substr(fn, strpos(fn, ',') + 1) ELSE fn END, $fn_seps, $fn_spaces), ' '), "
            "lambda s: s <> '') AS fn_tail"
        )
        t1_items = [names_t1]
        t2_items = [_full_name_sql(mapping.name_order)]
        t2_drop = ["fn", "fn_comma", "fn_head", "fn_tail"]
        sql.params["fn_seps"] = ",\t\n\r\x0b\x0c\u00a0"
        sql.params["fn_spaces"] = " " * len(sql.params["fn_seps"])
    else:
        names_t0 = (
            f"{sql.text('forename')} AS forename, {sql.text('middle_names')} AS middle_names, "
            f"{sql.text('surname')} AS surname"
        )
        t1_items, t2_items, t2_drop = [], [], []

    # ---- date of birth
    dob_native = "CAST(NULL AS DATE)"
    if dob_type is None:
        dob_text = "CAST(NULL AS VARCHAR)"
        dob = "CAST(NULL AS DATE)"
    elif _is_temporal(dob_type):
        dob_text = sql.text("dob")
        dob_native = f"CAST({sql.ref('dob')} AS DATE)"
        dob = "dob_native"
    else:
        dob_text = sql.text("dob")
        dob = (
            f"coalesce(CAST(try_strptime(dob_text, {sql.param(tried)}::VARCHAR[]) AS DATE), "
            f"CASE WHEN regexp_matches(dob_text, '^\\d{{4}}-\\d{{2}}-\\d{{2}}[T ]') "
            f"THEN CAST(TRY_CAST(dob_text AS TIMESTAMP) AS DATE) END)"
        )

    # ---- sex
    codes = mapping.effective_sex_codes
    whens = " ".join(
        f"WHEN list_contains({sql.param([c.upper() for c in cl])}::VARCHAR[], upper(sex_text)) "
        f"THEN '{k}'"
        for k, cl in codes.items()
        if cl
    )
    sex = f"CASE WHEN sex_text IS NULL THEN NULL {whens} ELSE 'U' END"
    every_code = sql.param([c.upper() for cl in codes.values() for c in cl])
    sex_known = f"(sex_text IS NULL OR list_contains({every_code}::VARCHAR[], upper(sex_text)))"

    # ---- postcode: the column, else (when configured) the last UK postcode in the address
    extract = mapping.postcode_in_address and ("address" in cols or "address" in mapping.constants)
    if extract:
        found = f"regexp_extract_all(address, {sql.param(POSTCODE_IN_TEXT)}, 1)"
        postcode = "coalesce(postcode_text, CASE WHEN len(pc_found) > 0 THEN pc_found[-1] END)"
    else:
        found = "CAST(NULL AS VARCHAR[])"
        postcode = "postcode_text"

    # ---- the file's own source column (canonical files), for a warning only
    file_source = "CAST(NULL AS VARCHAR)"
    if src.mapping is None and "source" in raw.headers:
        file_source = _trimmed(f"CAST(r.{quote_ident(raw.column('source'))} AS VARCHAR)")

    record_header = cols["record_id"]
    name_headers = (
        ", ".join(cols[c] for c in ("full_name", "forename", "surname", "aliases") if c in cols)
        or "forename, surname"
    )
    nhs_valid = nhs_number_valid_sql("nhs_number", "nhs_digits")
    t1_items += [
        f"{nhs_digits_sql('nhs_number')} AS nhs_digits",
        f"{found} AS pc_found",
    ]
    t2_drop += ["alias_items", "former_items", "pc_found"]
    t2_items += [
        "CASE WHEN len(alias_items) > 0 THEN alias_items END AS aliases",
        "CASE WHEN len(former_items) > 0 THEN former_items END AS former_surnames",
        f"{postcode} AS postcode",
    ]

    stage_sql = f"""
CREATE TEMP TABLE {quote_ident(stage)} AS
WITH t0 AS (  -- each raw value once: trimmed text, empty -> NULL
    SELECT {raw.row_sql("r")} AS row_number,
           {sql.text("record_id")} AS record_id,
           {names_t0},
           {sql.items("aliases")} AS alias_items,
           {sql.items("former_surnames")} AS former_items,
           {dob_text} AS dob_text,
           {dob_native} AS dob_native,
           {sql.text("sex")} AS sex_text,
           {sql.text("address")} AS address,
           {sql.text("postcode")} AS postcode_text,
           {sql.text("nhs_number")} AS nhs_number,
           {file_source} AS file_source
    FROM {rt} AS r
), t1 AS (  -- helpers computed once: full-name pieces, NHS digits, postcodes in the address
    SELECT *, {", ".join(t1_items)}
    FROM t0
), t2 AS (  -- name parts, lists (empty -> NULL), postcode
    SELECT * EXCLUDE ({", ".join(t2_drop)}), {", ".join(t2_items)}
    FROM t1
), t3 AS (  -- parse and validate
    SELECT *,
           {dob} AS dob,
           {sex} AS sex,
           {sex_known} AS sex_known,
           {nhs_valid} AS nhs_number_valid,
           CASE WHEN record_id IS NULL THEN 'id'
                -- A record with no name can still be linked by its date of birth, NHS
                -- number or address; only a row with none of them is unusable.
                WHEN forename IS NULL AND surname IS NULL AND aliases IS NULL
                     AND dob_text IS NULL AND dob_native IS NULL AND nhs_number IS NULL
                     AND address IS NULL AND postcode_text IS NULL THEN 'name'
           END AS problem
    FROM t2
)
SELECT {index}::INTEGER AS source_index,
       {sql.param(src.name)}::VARCHAR AS source,
       row_number::BIGINT AS row_number, record_id, forename, middle_names, surname,
       aliases, former_surnames, dob_text, dob, sex_text, sex, sex_known, address,
       postcode_text, postcode, nhs_number, nhs_number_valid, file_source,
       CASE WHEN problem = 'id' THEN {sql.param(REASON_MISSING_ID)}
            WHEN problem = 'name' THEN {sql.param(REASON_NO_NAME)}
       END::VARCHAR AS reason,
       CASE WHEN problem = 'name' THEN {sql.param(name_headers)}
            ELSE {sql.param(record_header)} END::VARCHAR AS reject_column
FROM t3
"""
    logger.debug("stage SQL for source %s:\n%s", src.name, stage_sql)
    try:
        con.execute(stage_sql, sql.params_for(stage_sql))
    except (
        duckdb.ConversionException,
        duckdb.InvalidInputException,
        duckdb.OutOfRangeException,
    ) as exc:
        said, _ = cio.duckdb_error_message(exc)
        raise InputDataError(f"cannot map the source ({said})", file=raw.file) from None

    duplicated: dict[str, list[int]] = {}
    if not (isinstance(src.data, pd.DataFrame) and len(src.data) < 2):  # one row: no repeat
        if on_duplicate == "keep":
            duplicated = _key_duplicates(con, stage)
        else:
            _reject_duplicates(con, stage)
    if raw.malformed:
        con.execute(
            f"INSERT INTO {quote_ident(stage)} (source_index, source, row_number, reason, "
            f"reject_column) SELECT $i, $s, row_number, reason, NULL "
            f"FROM {quote_ident(raw.malformed)}",
            {"i": index, "s": src.name},
        )

    if summarise:
        _summarise(con, src, raw, mapping, stage, report, findings, on_duplicate, duplicated)


def _key_duplicates(con: duckdb.DuckDBPyConnection, stage: str) -> dict[str, list[int]]:
    """Give every usable row of a record_id that several rows share the key
    ``ID (row N)``: both rows are kept and searched, and the outputs name the row.

    Returns:
        Each duplicated id (sorted) with its rows' numbers (record ids, never values).
    """
    st = quote_ident(stage)
    ids = {str(r[0]): [int(n) for n in r[1]] for r in con.execute(
        f"SELECT record_id, list(row_number ORDER BY row_number) FROM {st} "
        "WHERE reason IS NULL GROUP BY record_id HAVING count(*) > 1 ORDER BY record_id"
    ).fetchall()}
    if ids:
        con.execute(
            f"UPDATE {st} SET record_id = record_id || ' (row ' || row_number || ')' "
            "WHERE reason IS NULL AND list_contains($ids::VARCHAR[], record_id)",
            {"ids": list(ids)},
        )
    return ids


def _reject_duplicates(con: duckdb.DuckDBPyConnection, stage: str) -> None:
    """Reject every usable row whose record_id an earlier usable row of the source has.

    A separate step rather than a window in the stage query: duplicates are rare, and
    the aggregate that finds them is much cheaper than a window over every row.
    """
    st = quote_ident(stage)
    dups = cio.temp_name("dups")
    try:
        con.execute(
            f"CREATE TEMP TABLE {quote_ident(dups)} AS SELECT record_id, "
            f"min(row_number) AS first_row FROM {st} WHERE reason IS NULL "
            f"GROUP BY record_id HAVING count(*) > 1"
        )
        if cio.count_rows(con, dups):
            con.execute(
                f"UPDATE {st} SET reason = $r FROM {quote_ident(dups)} AS d "
                f"WHERE {st}.reason IS NULL AND {st}.record_id = d.record_id "
                f"AND {st}.row_number > d.first_row",
                {"r": REASON_DUPLICATE},
            )
    finally:
        cio.drop_temp(con, dups)


def _is_temporal(typ: str) -> bool:
    return typ == "DATE" or typ.startswith("TIMESTAMP")


def _full_name_sql(order: str) -> str:
    """Name parts from the pieces of ``fn`` (see t1 of the stage SQL).

    ``fn_head`` is the text before the first comma ("SURNAME, Forename Middle": a comma
    always means surname first), ``fn_tail`` the words after it (or all the words).
    Without a comma the order decides: "Forename Middle SURNAME" (forename_first) or
    "SURNAME Forename Middle" (surname_first).
    """
    if order == "surname_first":
        return """
        CASE WHEN fn_comma THEN fn_tail[1] ELSE fn_tail[2] END AS forename,
        NULLIF(array_to_string(CASE WHEN fn_comma THEN fn_tail[2:] ELSE fn_tail[3:] END, ' '),
               '') AS middle_names,
        CASE WHEN fn_comma THEN fn_head ELSE fn_tail[1] END AS surname"""
    return """
        fn_tail[1] AS forename,
        CASE WHEN fn_comma THEN NULLIF(array_to_string(fn_tail[2:], ' '), '')
             WHEN len(fn_tail) > 2
             THEN array_to_string(list_slice(fn_tail, 2, len(fn_tail) - 1), ' ')
        END AS middle_names,
        CASE WHEN fn_comma THEN fn_head
             WHEN len(fn_tail) > 1 THEN fn_tail[-1] END AS surname"""


def _date_order(
    con: duckdb.DuckDBPyConnection,
    sql: _Sql,
    source: str,
    formats: list[str],
    rt: str,
) -> tuple[list[str], list[DateOrderFinding]]:
    """Resolve day-first/month-first format pairs from the data.

    When the mapping lists both ``%d/%m/...`` and ``%m/%d/...``, a value whose first
    part is over 12 proves day first (and vice versa). A proven order drops the other
    format; otherwise the mapping's order stands.
    """
    findings = []
    header = sql.mapping.columns.get("dob", "dob")
    for fmt in list(formats):
        if not is_day_first(fmt) or swap_day_month(fmt) not in formats or fmt not in formats:
            continue
        other = swap_day_month(fmt)
        text = sql.text("dob")
        row = cio.fetch_one(
            con,
            f"""SELECT
                count(*) FILTER (WHERE d IS NOT NULL AND m IS NULL),
                count(*) FILTER (WHERE d IS NULL AND m IS NOT NULL),
                count(*) FILTER (WHERE d IS NOT NULL AND m IS NOT NULL)
            FROM (SELECT try_strptime(v, $day) AS d, try_strptime(v, $month) AS m
                  FROM (SELECT DISTINCT {text} AS v FROM {rt} AS r) WHERE v IS NOT NULL)""",
            {"day": fmt, "month": other},
        )
        day_only, month_only, either = (int(x) for x in row)
        if day_only and not month_only:
            conclusion = "day_first"
            formats = [f for f in formats if f != other]
        elif month_only and not day_only:
            conclusion = "month_first"
            formats = [f for f in formats if f != fmt]
        elif day_only and month_only:
            conclusion = "mixed"
        else:
            conclusion = "undetermined"
        findings.append(
            DateOrderFinding(
                source=source,
                header=header,
                day_first=fmt,
                month_first=other,
                day_first_only=day_only,
                month_first_only=month_only,
                either=either,
                conclusion=conclusion,
                formats_used=tuple(formats),
            )
        )
        logger.info(
            "source %s: dates %s and %s -> %s (%d day-first only, %d month-first only)",
            source,
            fmt,
            other,
            conclusion,
            day_only,
            month_only,
        )
    return formats, findings


def _summarise(
    con: duckdb.DuckDBPyConnection,
    src: Source,
    raw: cio.RawSource,
    mapping: Mapping,
    stage: str,
    report: IngestReport,
    findings: list[DateOrderFinding],
    on_duplicate: OnDuplicate,
    duplicated: dict[str, list[int]] | None = None,
) -> None:
    st = quote_ident(stage)
    cols = mapping.columns
    counts = cio.fetch_one(
        con,
        f"""SELECT count(*),
                   count(*) FILTER (WHERE reason IS NULL),
                   count(*) FILTER (WHERE reason IS NULL AND dob_text IS NOT NULL
                                    AND dob IS NULL),
                   count(*) FILTER (WHERE reason IS NULL AND NOT sex_known),
                   count(*) FILTER (WHERE reason IS NULL AND nhs_number_valid = FALSE),
                   count(*) FILTER (WHERE reason IS NULL AND postcode_text IS NULL
                                    AND address IS NOT NULL AND postcode IS NULL),
                   count(*) FILTER (WHERE reason IS NULL AND file_source IS NOT NULL
                                    AND file_source <> source)
            FROM {st}""",
    )
    read, used, bad_dob, bad_sex, bad_nhs, no_pc, other_source = (int(c) for c in counts)
    by_reason = dict(
        (str(k), int(v))
        for k, v in con.execute(
            f"SELECT reason, count(*) FROM {st} WHERE reason IS NOT NULL "
            f"GROUP BY reason ORDER BY reason"
        ).fetchall()
    )
    if on_duplicate == "raise" and by_reason.get(REASON_DUPLICATE):
        dup_rows = con.execute(
            f"SELECT row_number, record_id FROM {st} WHERE reason = $r ORDER BY row_number LIMIT 5",
            {"r": REASON_DUPLICATE},
        ).fetchall()
        ids = ", ".join(repr(str(r[1])) for r in dup_rows)
        n = by_reason[REASON_DUPLICATE]
        raise InputDataError(
            f"duplicate record ids within source {src.name!r}: {n} row"
            f"{'s repeat' if n > 1 else ' repeats'} an earlier record_id ({ids}"
            f"{', ...' if n > len(dup_rows) else ''})",
            file=raw.file,
            row=int(dup_rows[0][0]),
            column=cols["record_id"],
        )

    def warn(column: str, reason: str, count: int, said: str = "") -> None:
        if count:
            header = cols.get(column)
            if column == "postcode" and header is None:
                header = cols.get("address")
            if column == "source":
                header = "source"
            report.warnings.append(IngestWarning(src.name, column, header, reason, count))
            logger.warning(
                "source %s, column %s: %d x %s%s", src.name, header or column, count, reason,
                said,
            )

    if read == 0:
        warn("record_id", WARN_EMPTY, 1)
    for note in raw.notes:
        report.warnings.append(IngestWarning(src.name, "(file)", None, note, 1))
        logger.warning("source %s: %s", src.name, note)
    warn("dob", WARN_DOB, bad_dob)
    if bad_dob:
        swapped = _swapped_date_count(con, st, mapping)
        warn("dob", WARN_SWAPPED, swapped)
    for f in findings:
        if f.conclusion == "mixed":
            warn("dob", WARN_MIXED, min(f.day_first_only, f.month_first_only))
    warn("sex", WARN_SEX, bad_sex)
    warn("nhs_number", WARN_NHS, bad_nhs)
    warn("postcode", WARN_POSTCODE, no_pc if mapping.postcode_in_address else 0)
    warn("source", WARN_SOURCE, other_source)
    if duplicated:  # the ids are named: a coordinator must find both rows
        # The log line names the ids; the report (and so the audit, which holds no
        # record id) names the rows.
        more = ", ..." if len(duplicated) > _DUPLICATE_IDS_SHOWN else ""
        ids = ", ".join(list(duplicated)[:_DUPLICATE_IDS_SHOWN]) + more
        rows = sorted(n for numbers in duplicated.values() for n in numbers)
        shown = ", ".join(map(str, rows[:_DUPLICATE_IDS_SHOWN * 2]))
        more = ", ..." if len(rows) > _DUPLICATE_IDS_SHOWN * 2 else ""
        warn("record_id", f"{WARN_DUPLICATE} (rows {shown}{more})", len(rows),
             said=f"; ids: {ids}")

    report.date_orders.extend(findings)
    used_headers = set(mapping.headers()) | ({"source"} if src.mapping is None else set())
    report.sources.append(
        SourceReport(
            name=src.name,
            file=raw.file,
            format=raw.format,
            encoding=raw.encoding,
            delimiter=raw.delimiter,
            rows_read=read,
            rows_used=used,
            rows_rejected=read - used,
            columns=dict(cols),
            ignored_columns=tuple(h for h in raw.headers if h not in used_headers),
            rejected_by_reason=by_reason,
        )
    )


def _swapped_date_count(con: duckdb.DuckDBPyConnection, st: str, mapping: Mapping) -> int:
    """How many unparsed dates would parse with day and month swapped (a hint to fix a mapping)."""
    swapped = [
        swap_day_month(f)
        for f in mapping.dob_formats
        if "%d" in f and "%m" in f and not f.startswith(("%Y", "%y"))
    ]
    swapped = [f for f in swapped if f not in mapping.dob_formats]
    if not swapped:
        return 0
    row = cio.fetch_one(
        con,
        f"SELECT count(*) FROM {st} WHERE reason IS NULL AND dob_text IS NOT NULL "
        f"AND dob IS NULL AND try_strptime(dob_text, $f::VARCHAR[]) IS NOT NULL",
        {"f": swapped},
    )
    return int(row[0])


#: The input table's columns and types (the contract in :mod:`cselink.schema`).
INPUT_SCHEMA: tuple[tuple[str, str], ...] = (
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
)

#: The rejects table's columns and types.
REJECTS_SCHEMA: tuple[tuple[str, str], ...] = (
    ("source", "VARCHAR"),
    ("row_number", "BIGINT"),
    ("record_id", "VARCHAR"),
    ("column", "VARCHAR"),
    ("reason", "VARCHAR"),
)


def _write_outputs(
    con: duckdb.DuckDBPyConnection, stages: Sequence[str], table: str, rejects_table: str,
    *, first_uid: int = 0,
) -> None:
    """Write the input and rejects tables from the staged sources, in source then row order.

    uid numbers the used rows ``first_uid``.. in that order. A source whose used rows are
    exactly rows 1..k (no rejects, no gaps: the usual case) gets ``offset + row - 1``
    without sorting; any other source is numbered by a window over its own rows.
    """
    columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in INPUT_SCHEMA)
    values = ", ".join(f"{c}::{t}" for c, t in INPUT_SCHEMA if c != "uid")
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(table)} ({columns})")
    rej_columns = ", ".join(f"{quote_ident(c)} {t}" for c, t in REJECTS_SCHEMA)
    con.execute(f"CREATE OR REPLACE TABLE {quote_ident(rejects_table)} ({rej_columns})")
    offset = int(first_uid)
    for stage in stages:
        st = quote_ident(stage)
        n, low, high = cio.fetch_one(
            con,
            f"SELECT count(*), min(row_number), max(row_number) FROM {st} WHERE reason IS NULL",
        )
        if n:
            if low == 1 and high == n:
                uid, order = "row_number - 1 + $offset", ""
            else:
                uid, order = (
                    "row_number() OVER (ORDER BY row_number) - 1 + $offset",
                    ("ORDER BY row_number"),
                )
            con.execute(
                f"INSERT INTO {quote_ident(table)} SELECT ({uid})::BIGINT, {values} "
                f"FROM {st} WHERE reason IS NULL {order}",
                {"offset": offset},
            )
            offset += int(n)
        con.execute(
            f"INSERT INTO {quote_ident(rejects_table)} SELECT source, row_number, record_id, "
            f"reject_column, reason FROM {st} WHERE reason IS NOT NULL ORDER BY row_number"
        )


def input_rows_sql(table: str) -> str:
    """SELECT the canonical columns of an ingested table, lists ``;``-joined, in uid
    order: the rows :meth:`Linker.search` takes (referrals, contacts)."""
    return f"""
        SELECT record_id, forename, middle_names, surname,
               array_to_string(aliases, ';') AS aliases,
               array_to_string(former_surnames, ';') AS former_surnames,
               strftime(dob, '%Y-%m-%d') AS dob, sex, address, postcode, nhs_number
        FROM {quote_ident(table)} ORDER BY uid
    """
