"""Standardise: turn ingested records into clean keys and name variants.

Reads ``input_records`` (see :mod:`cselink.schema`) and writes:

``records``
    uid, source, record_id, fn, sn, dob, dob_year, dob_ymd (yyyymmdd text), dob_quality
    ('full' | 'year_only' | 'placeholder' | 'missing'), dob_swapped, sex, pc, pc_outward,
    pc_sector, addr, addr_tokens, nhs (valid NHS numbers only)
``name_variants``
    uid, kind, fn, sn, detail: every name the record may be known by. ``kind`` is one of
    :data:`VARIANT_KINDS`; ``detail`` holds the raw alias or former surname it came from.
``name_tokens``
    name, metaphone, nysiis, soundex: phonetic codes, one row per distinct name token.

Python runs once per DISTINCT raw value (cleaning, phonetics, postcodes) and the results
are joined back in DuckDB, so the cost follows the number of distinct values, not rows.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import duckdb
import pandas as pd

from .._sql import quote_ident
from ..schema import RECORDS_TABLE, VARIANTS_TABLE
from .address import address_tokens, normalise_postcode, postcode_in_text
from .names import (
    RELIGIOUS_SURNAMES,
    clean_forename,
    clean_surname,
    middle_tokens,
    name_tokens,
    split_full_name,
    surname_parts,
)
from .phonetic import phonetic_codes

__all__ = ["VARIANT_KINDS", "standardise"]

#: Kinds of name variant, strongest evidence first.
VARIANT_KINDS: Final[tuple[str, ...]] = (
    "primary",
    "alias",
    "former_surname",
    "surname_part",
    "middle_name",
)

#: Dates recorded when the date of birth is unknown; they never count as agreement.
PLACEHOLDER_DATES: Final[tuple[str, ...]] = ("1900-01-01", "1901-01-01", "1899-12-31")

#: Month-day pairs that stand for "only the year is known".
YEAR_ONLY_MARKERS: Final[tuple[tuple[int, int], ...]] = ((1, 1), (7, 1))


#: The table holding every Python mapping of a standardise run (see :func:`_write_maps`).
_MAPS_TABLE = "_std_maps"
#: Its value columns: up to three texts and one list per mapped raw value.
_TEXT_SLOTS, _LIST_SLOT = ("s1", "s2", "s3"), "l1"


def _column_sql(expr: str, name: str, sql_type: str, values: Sequence[Any]) -> str:
    """``expr AS name``, typed as pandas and DuckDB type a column of Python ``values``.

    ``sql_type`` when some value is present; an all-None column (or none at all) is
    DuckDB's NULL type and a column of empty lists a list of it, as a registered pandas
    column would be, so the tables keep the types they had.
    """
    col = quote_ident(name)
    if sql_type.endswith("[]"):
        if any(v for v in values if v is not None):
            return f"{expr}::{sql_type} AS {col}"
        if values and all(v is not None for v in values):
            return f"[] AS {col}"
        return f"NULL AS {col}"
    if any(v is not None for v in values):
        return f"{expr}::{sql_type} AS {col}"
    return f"NULL AS {col}"


def _write_frame(
    con: duckdb.DuckDBPyConnection,
    name: str,
    rows: Sequence[Sequence[Any]],
    columns: Sequence[tuple[str, str]],
    *,
    temporary: bool = True,
) -> None:
    """Write ``rows`` as table ``name`` of the given (column, SQL type) pairs (see
    :func:`_column_sql` for the types of empty columns)."""
    frame = pd.DataFrame(list(rows), columns=[c for c, _ in columns])
    if frame.empty:
        frame = frame.astype(object)
    view = f"_{name}_df"
    con.register(view, frame)
    try:
        cols = ", ".join(_column_sql(quote_ident(c), c, t, [r[i] for r in rows])
                         for i, (c, t) in enumerate(columns))
        kind = "TEMP TABLE" if temporary else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {quote_ident(name)} AS SELECT {cols} "
                    f"FROM {quote_ident(view)}")
    finally:
        con.unregister(view)


def _write_maps(
    con: duckdb.DuckDBPyConnection,
    maps: Sequence[tuple[str, str, Callable[[str], Sequence[Any]], Mapping[str, bool]]],
) -> None:
    """Apply each map's function to each of its distinct raw values; a table per map.

    ``maps`` holds, per map: the table to write, the SQL of its distinct non-null raw
    values (one column), the function, and its output columns (True for a list). The
    table is ``(raw, <outputs>)``. All maps go through one query and one frame
    (:data:`_MAPS_TABLE`, dropped after): a statement costs DuckDB about a millisecond
    to plan however small its input, which was most of standardising one referral.
    """
    union = " UNION ALL ".join(f"SELECT {i} AS m, * FROM ({values})"
                               for i, (_, values, _, _) in enumerate(maps))
    rows: list[tuple[Any, ...]] = []
    for m, raw in con.execute(union).fetchall():
        _, _, func, cols = maps[m]
        texts: list[Any] = [None] * len(_TEXT_SLOTS)
        items = None
        slot = 0
        for value, listed in zip(func(raw), cols.values(), strict=True):
            if listed:
                items = value
            else:
                texts[slot] = value
                slot += 1
        rows.append((m, raw, *texts, items))
    _write_frame(con, _MAPS_TABLE, rows, [
        ("m", "INTEGER"), ("raw", "VARCHAR"), *((c, "VARCHAR") for c in _TEXT_SLOTS),
        (_LIST_SLOT, "VARCHAR[]")])
    by_map: list[list[tuple[Any, ...]]] = [[] for _ in maps]
    for row in rows:
        by_map[row[0]].append(row)
    for m, (table, _, _, cols) in enumerate(maps):
        mine = by_map[m]
        out, slot = [_column_sql("raw", "raw", "VARCHAR", [r[1] for r in mine])], 0
        for name, listed in cols.items():
            if listed:
                column, index, sql_type = _LIST_SLOT, 2 + len(_TEXT_SLOTS), "VARCHAR[]"
            else:
                column, index, sql_type = _TEXT_SLOTS[slot], 2 + slot, "VARCHAR"
                slot += 1
            out.append(_column_sql(column, name, sql_type, [r[index] for r in mine]))
        con.execute(f"CREATE OR REPLACE TEMP TABLE {table} AS SELECT {', '.join(out)} "
                    f"FROM {_MAPS_TABLE} WHERE m = {int(m)}")
    con.execute(f"DROP TABLE {_MAPS_TABLE}")


# The per-value functions of the maps below; cselink.quicksearch calls the same ones for a
# few referrals, so both paths clean a value alike.
def _forename_row(raw: str) -> tuple[str | None, list[str]]:
    return clean_forename(raw), name_tokens(raw)[1:]


def _surname_row(raw: str) -> tuple[str | None, list[str]]:
    parts = surname_parts(raw)
    return ("".join(parts) if parts else None), (parts if len(parts) > 1 else [])


def _middle_row(raw: str) -> tuple[list[str]]:
    return (middle_tokens(None, raw),)


def _postcode_row(raw: str) -> tuple[str | None, str | None, str | None]:
    return tuple(normalise_postcode(raw))  # type: ignore[return-value]


def _address_row(raw: str) -> tuple[list[str]]:
    return (address_tokens(raw),)


def _address_postcode_row(raw: str) -> tuple[str | None, str | None, str | None]:
    found = postcode_in_text(raw) if address_tokens(raw) else None
    return tuple(normalise_postcode(found))  # type: ignore[return-value]


def standardise(
    con: duckdb.DuckDBPyConnection,
    *,
    source_table: str = "input_records",
    records_table: str = RECORDS_TABLE,
    variants_table: str = VARIANTS_TABLE,
    tokens_table: str = "name_tokens",
    temporary: bool = False,
    year_only_markers: Sequence[tuple[int, int]] = YEAR_ONLY_MARKERS,
) -> None:
    """Build ``records``, ``name_variants`` and ``name_tokens`` from ``source_table``.

    Args:
        con: the connection holding ``source_table``.
        source_table: the ingested records (contract in :mod:`cselink.schema`).
        records_table, variants_table, tokens_table: where to write (other names let a
            query be standardised beside a persisted index without touching it).
        temporary: write the three tables as TEMP tables.
        year_only_markers: (month, day) pairs recorded when only the year of birth is known;
            such a date agrees on its year only, never as an exact date.
    """
    src = quote_ident(source_table)
    rec, var = quote_ident(records_table), quote_ident(variants_table)
    kind = "TEMP TABLE" if temporary else "TABLE"
    # name, SQL of the distinct raw values, function, output columns (True: a list).
    specs: list[tuple[str, str, Callable[[str], Sequence[Any]], dict[str, bool]]] = [
        ("_fn_map", f"SELECT DISTINCT forename FROM {src} WHERE forename IS NOT NULL",
         _forename_row, {"fn": False, "fn_rest": True}),
        ("_sn_map", f"SELECT DISTINCT surname FROM {src} WHERE surname IS NOT NULL",
         _surname_row, {"sn": False, "sn_parts": True}),
        ("_mid_map", f"SELECT DISTINCT middle_names FROM {src} WHERE middle_names IS NOT NULL",
         _middle_row, {"mid": True}),
        ("_alias_map", f"SELECT DISTINCT a FROM (SELECT unnest(aliases) AS a FROM {src}) "
         "WHERE a IS NOT NULL", split_full_name, {"fn": False, "sn": False}),
        ("_former_map", f"SELECT DISTINCT f FROM (SELECT unnest(former_surnames) AS f "
         f"FROM {src}) WHERE f IS NOT NULL", lambda raw: (clean_surname(raw),), {"sn": False}),
        ("_pc_map", f"SELECT DISTINCT postcode FROM {src} WHERE postcode IS NOT NULL",
         _postcode_row, {"pc": False, "pc_outward": False, "pc_sector": False}),
        ("_addr_map", f"SELECT DISTINCT address FROM {src} WHERE address IS NOT NULL",
         _address_row, {"tokens": True}),
        # A postcode written inside the address stands in for a missing postcode only.
        ("_addr_pc_map", f"SELECT DISTINCT address FROM {src} WHERE address IS NOT NULL "
         "AND postcode IS NULL", _address_postcode_row,
         {"pc": False, "pc_outward": False, "pc_sector": False}),
    ]
    _write_maps(con, specs)
    placeholders = ", ".join(f"DATE '{d}'" for d in PLACEHOLDER_DATES)
    markers = " OR ".join(
        f"(month(i.dob) = {int(m)} AND day(i.dob) = {int(d)})" for m, d in year_only_markers
    ) or "FALSE"
    # The records' columns first (a temporary table, unordered), then the name variants
    # from it, then ``records`` written once, in uid order, with each record's name sets.
    base_table = "_std_records_base"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {base_table} AS
        WITH base AS (
            SELECT i.uid, i.source, i.record_id, i.sex, i.nhs_number, i.nhs_number_valid,
                   fm.fn, fm.fn_rest, sm.sn, sm.sn_parts,
                   list_concat(coalesce(fm.fn_rest, []), coalesce(mm.mid, [])) AS mid,
                   i.aliases, i.former_surnames,
                   CASE
                     WHEN i.dob IS NULL THEN 'missing'
                     WHEN i.dob IN ({placeholders}) OR i.dob < DATE '1850-01-01'
                          OR i.dob > current_date THEN 'placeholder'
                     WHEN {markers} THEN 'year_only'
                     ELSE 'full' END AS dob_quality,
                   i.dob AS dob_in,
                   coalesce(pm.pc, apm.pc) AS pc,
                   coalesce(pm.pc_outward, apm.pc_outward) AS pc_outward,
                   coalesce(pm.pc_sector, apm.pc_sector) AS pc_sector,
                   am.tokens AS addr_tokens
            FROM {src} i
            LEFT JOIN _fn_map fm ON fm.raw = i.forename
            LEFT JOIN _sn_map sm ON sm.raw = i.surname
            LEFT JOIN _mid_map mm ON mm.raw = i.middle_names
            LEFT JOIN _pc_map pm ON pm.raw = i.postcode
            LEFT JOIN _addr_map am ON am.raw = i.address
            LEFT JOIN _addr_pc_map apm ON apm.raw = i.address AND i.postcode IS NULL
        )
        SELECT uid, source, record_id, fn, sn, sn_parts, mid, aliases, former_surnames,
               CASE WHEN dob_quality = 'full' THEN dob_in END AS dob,
               CASE WHEN dob_quality IN ('full', 'year_only') THEN year(dob_in) END AS dob_year,
               CASE WHEN dob_quality = 'full' THEN strftime(dob_in, '%Y%m%d') END AS dob_ymd,
               dob_quality,
               CASE WHEN dob_quality = 'full' AND day(dob_in) <= 12
                         AND day(dob_in) <> month(dob_in)
                    THEN make_date(year(dob_in), day(dob_in), month(dob_in)) END AS dob_swapped,
               CASE WHEN sex IN ('M', 'F') THEN sex END AS sex,
               pc, pc_outward, pc_sector,
               CASE WHEN len(addr_tokens) > 0 THEN array_to_string(addr_tokens, ' ') END AS addr,
               CASE WHEN len(addr_tokens) > 0 THEN list_distinct(addr_tokens) END AS addr_tokens,
               nullif(regexp_extract(array_to_string(addr_tokens, ' '),
                                     '([0-9]+[a-z]?) ([a-z]{{2,}})', 0), '') AS addr_head,
               CASE WHEN nhs_number_valid THEN regexp_replace(nhs_number, '[^0-9]', '', 'g')
                    END AS nhs
        FROM base
        """
    )
    out_records = rec
    rec = base_table
    rel = ", ".join(f"'{s}'" for s in sorted(RELIGIOUS_SURNAMES))
    con.execute(
        f"""
        CREATE OR REPLACE {kind} {var} AS
        WITH v AS (
            SELECT uid, 0 AS k, fn, sn, NULL::VARCHAR AS detail FROM {rec}
            UNION ALL
            SELECT r.uid, 1, am.fn, CASE WHEN am.sn IS NULL THEN r.sn ELSE am.sn END, a.a
            FROM (SELECT uid, unnest(aliases) AS a FROM {rec}) a
            JOIN {rec} r USING (uid) JOIN _alias_map am ON am.raw = a.a
            UNION ALL
            SELECT r.uid, 2, r.fn, fm.sn, f.f
            FROM (SELECT uid, unnest(former_surnames) AS f FROM {rec}) f
            JOIN {rec} r USING (uid) JOIN _former_map fm ON fm.raw = f.f
            UNION ALL
            SELECT uid, 3, fn, unnest(sn_parts), NULL FROM {rec} WHERE len(sn_parts) > 1
            UNION ALL
            SELECT uid, 3, fn, m, NULL
            FROM (SELECT uid, fn, sn, unnest(mid) AS m FROM {rec})
            WHERE (m IN ({rel}) AND sn NOT IN ({rel})) OR (sn IN ({rel}) AND m NOT IN ({rel}))
            UNION ALL
            SELECT uid, 4, unnest(mid), sn, NULL FROM {rec}
        )
        SELECT uid, kind, fn, sn, detail
        FROM (
            SELECT uid,
                   ['primary', 'alias', 'former_surname', 'surname_part', 'middle_name'][min(k) + 1]
                       AS kind,
                   min(k) AS k, fn, sn, arg_min(detail, k) AS detail
            FROM v
            WHERE fn IS NOT NULL OR sn IS NOT NULL
            GROUP BY uid, fn, sn
        )
        ORDER BY uid, k, fn, sn
        """
    )
    # Every forename and surname each record is known by, for "matches another recorded
    # name" in one list test per pair instead of a join of every variant with every other.
    con.execute(
        f"""
        CREATE OR REPLACE {kind} {out_records} AS
        SELECT r.*, coalesce(s.fn_set, []) AS fn_set, coalesce(s.sn_set, []) AS sn_set,
               -- set by the data profile (cselink.profile): some agency holds two
               -- children of this family born the same day (twins)
               FALSE AS known_twin
        FROM {base_table} r
        LEFT JOIN (
            SELECT uid, list_sort(list_distinct(list(fn))) AS fn_set,
                   list_sort(list_distinct(list(sn))) AS sn_set
            FROM {var} GROUP BY uid
        ) s USING (uid)
        ORDER BY r.uid
        """
    )
    names = con.execute(
        f"SELECT DISTINCT n FROM (SELECT fn AS n FROM {var} UNION SELECT sn "
        f"FROM {var}) WHERE n IS NOT NULL").fetchall()
    _write_frame(con, tokens_table, [(n, *phonetic_codes(n)) for (n,) in names],
                 [("name", "VARCHAR"), ("metaphone", "VARCHAR"), ("nysiis", "VARCHAR"),
                  ("soundex", "VARCHAR")], temporary=temporary)
    for t in (*(name for name, _, _, _ in specs), base_table):
        con.execute(f"DROP TABLE IF EXISTS {t}")
