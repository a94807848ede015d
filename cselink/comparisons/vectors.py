"""Comparison vectors: candidate pairs -> one gamma per comparison.

Reads a pair table (``uid_l, uid_r, match_key``), ``records``, ``name_tokens`` and
``name_alts`` (other tables of the same shape can stand in for the last three: a look-up
passes small tables holding only the records of its candidate pairs); writes the gamma
table:

    uid_l, uid_r, match_key, gamma_<comparison>..., fn_l, sn_l, swapped

Main names are compared with similarity levels; every other name a record is known by
(aliases, former surnames, surname parts, middle names: ``records.fn_set``/``sn_set``) is
compared by one list test per pair, and a forename/surname swap is recognised. String
similarities are computed once per DISTINCT pair of names and joined back. Which recorded
name matched is looked up for the reasons only (:mod:`cselink.explain`).
"""

from __future__ import annotations

from collections.abc import Sequence

from .._sql import quote_ident
from .levels import Comparison

#: The record columns record comparisons may read (as l.<column> / r.<column>).
_RECORD_COLUMNS = ("uid, dob, dob_year, dob_ymd, dob_swapped, sex, pc, pc_outward, pc_sector, "
                   "addr, addr_tokens, nhs")

#: The record columns names_sql reads.
_NAME_COLUMNS = "uid, fn, sn, fn_set, sn_set"

#: Every ``records`` column the comparisons read: a stand-in records table needs these.
COMPARED_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    c.strip() for c in f"{_NAME_COLUMNS}, {_RECORD_COLUMNS}".split(",")))

#: Name facts kept beside the gammas: the main names (term frequencies) and the swap flag.
_EVIDENCE = ("fn_l", "sn_l", "swapped")

#: Polish/Czech/Russian surname endings that change with sex: Kowalski/Kowalska.
_STEM = "regexp_replace({}, '(sk|ck|dzk|ov|ev|in)(i|a|y)$', '\\1')"


def names_sql(pairs_table: str, *, records_table: str = "records") -> str:
    """One row per pair: the main names, whether any recorded names agree, and swaps."""
    p, rec = quote_ident(pairs_table), quote_ident(records_table)
    cols = _NAME_COLUMNS
    return f"""
    CREATE OR REPLACE TEMP TABLE _names AS
    SELECT p.uid_l, p.uid_r, l.fn AS fn_l, r.fn AS fn_r, l.sn AS sn_l, r.sn AS sn_r,
           coalesce(list_has_any(l.fn_set, r.fn_set), FALSE) AS fn_any,
           coalesce(list_has_any(l.sn_set, r.sn_set), FALSE) AS sn_any,
           coalesce(l.fn = r.sn AND l.sn = r.fn AND l.fn <> l.sn, FALSE) AS swap
    FROM {p} p
    JOIN (SELECT {cols} FROM {rec}) l ON l.uid = p.uid_l
    JOIN (SELECT {cols} FROM {rec}) r ON r.uid = p.uid_r
    """


def name_features_sql(
    prefix: str, *, tokens_table: str = "name_tokens", alts_table: str = "name_alts"
) -> str:
    """Similarity features of each DISTINCT pair of main names of one part (fn or sn)."""
    tok, alts = quote_ident(tokens_table), quote_ident(alts_table)
    stem = f"{_STEM.format('d.a')} = {_STEM.format('d.b')} AND d.a <> d.b"
    return f"""
    CREATE OR REPLACE TEMP TABLE _{prefix}_feat AS
    SELECT d.a, d.b,
           jaro_winkler_similarity(d.a, d.b) AS {prefix}_jw,
           na.name IS NOT NULL AS {prefix}_alt,
           coalesce(ta.metaphone = tb.metaphone OR ta.nysiis = tb.nysiis, FALSE) AS {prefix}_phon,
           coalesce({stem}, FALSE) AS {prefix}_stem
    FROM (SELECT DISTINCT {prefix}_l AS a, {prefix}_r AS b FROM _names
          WHERE {prefix}_l IS NOT NULL AND {prefix}_r IS NOT NULL) d
    LEFT JOIN {alts} na ON na.name = d.a AND na.alt = d.b
    LEFT JOIN {tok} ta ON ta.name = d.a
    LEFT JOIN {tok} tb ON tb.name = d.b
    """


def name_gammas_sql(forename: Comparison | None, surname: Comparison | None) -> str:
    """Per pair, the forename and surname levels, with forename/surname swaps allowed for.

    A swap (Smith Jade / Jade Smith) lifts both names to the near-miss level, no higher:
    common names swap into other people's names too easily for more.
    """
    def gamma(c: Comparison | None) -> str:
        if c is None:
            return "NULL::INTEGER"
        swap_level = c.gamma_of("jaro_winkler_at_least_0.92")
        return (f"CASE WHEN swap THEN greatest({c.gamma_sql()}, {swap_level}) "
                f"ELSE {c.gamma_sql()} END")

    raised = []
    for c in (forename, surname):
        if c is not None:
            raised.append(f"({c.gamma_sql()}) < {c.gamma_of('jaro_winkler_at_least_0.92')}")
    swapped = f"swap AND ({' OR '.join(raised)})" if raised else "FALSE"
    return f"""
    CREATE OR REPLACE TEMP TABLE _name_gammas AS
    SELECT uid_l, uid_r, fn_l, sn_l,
           {gamma(forename)} AS g_fn, {gamma(surname)} AS g_sn, {swapped} AS swapped
    FROM (
        SELECT n.*, f.fn_jw, f.fn_alt, f.fn_phon, s.sn_jw, s.sn_phon, s.sn_stem
        FROM _names n
        LEFT JOIN _fn_feat f ON f.a = n.fn_l AND f.b = n.fn_r
        LEFT JOIN _sn_feat s ON s.a = n.sn_l AND s.b = n.sn_r
    )
    """


def gammas_sql(
    comparisons: Sequence[Comparison], *, pairs_table: str, out_table: str,
    temporary: bool = False, evidence: bool = True, records_table: str = "records",
) -> str:
    """The gamma table: record comparisons on ``l``/``r`` plus the best name combination."""
    p, out = quote_ident(pairs_table), quote_ident(out_table)
    rec = quote_ident(records_table)
    cols = []
    for c in comparisons:
        if c.name == "forename":
            cols.append("b.g_fn AS gamma_forename")
        elif c.name == "surname":
            cols.append("b.g_sn AS gamma_surname")
        else:
            cols.append(f"({c.gamma_sql()})::TINYINT AS {quote_ident(c.gamma_column)}")
    evidence_cols = "".join(f", b.{k} AS {k}" for k in (_EVIDENCE if evidence else ()))
    features = {name: sql for c in comparisons for name, sql in c.features}
    feature_cols = "".join(f", {sql} AS {quote_ident(name)}" for name, sql in features.items())
    # The inner query carries each record as a struct (l, r), so the level conditions read
    # l.<column> / r.<column> unchanged, and computes every feature once per pair.
    return f"""
    CREATE OR REPLACE {"TEMP TABLE" if temporary else "TABLE"} {out} AS
    SELECT p.uid_l, p.uid_r, p.match_key, {", ".join(cols)}{evidence_cols}
    FROM (
        SELECT p.uid_l, p.uid_r, p.match_key, l, r{feature_cols}
        FROM {p} p
        JOIN (SELECT {_RECORD_COLUMNS} FROM {rec}) l ON l.uid = p.uid_l
        JOIN (SELECT {_RECORD_COLUMNS} FROM {rec}) r ON r.uid = p.uid_r
    ) p
    LEFT JOIN _name_gammas b ON b.uid_l = p.uid_l AND b.uid_r = p.uid_r
    """


def comparison_sqls(
    comparisons: Sequence[Comparison], *, pairs_table: str = "pairs", out_table: str = "gammas",
    temporary: bool = False, evidence: bool = True, records_table: str = "records",
    tokens_table: str = "name_tokens", alts_table: str = "name_alts",
) -> list[str]:
    """Every statement, in order, that turns ``pairs_table`` into ``out_table``.

    ``pairs_table`` needs ``uid_l, uid_r, match_key`` (match_key may be NULL).
    ``records_table``, ``tokens_table`` and ``alts_table`` default to the pipeline's
    tables; any tables of the same columns that hold every record (and every main name)
    of the pairs give the same gammas, which is how a look-up avoids the full tables.
    """
    by_name = {c.name: c for c in comparisons}
    names = {"tokens_table": tokens_table, "alts_table": alts_table}
    stmts = [names_sql(pairs_table, records_table=records_table),
             name_features_sql("fn", **names), name_features_sql("sn", **names),
             name_gammas_sql(by_name.get("forename"), by_name.get("surname")),
             gammas_sql(comparisons, pairs_table=pairs_table, out_table=out_table,
                        temporary=temporary, evidence=evidence, records_table=records_table),
             "DROP TABLE _names", "DROP TABLE _fn_feat", "DROP TABLE _sn_feat",
             "DROP TABLE _name_gammas"]
    return stmts
