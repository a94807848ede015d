"""Comparison vectors: candidate pairs -> one gamma per comparison.

Reads a pair table (``uid_l, uid_r, match_key``), ``records``, ``name_tokens`` and
``name_alts`` (other tables of the same shape can stand in for the last three: a look-up
passes small tables holding only the records of its candidate pairs); writes the gamma
table:

    uid_l, uid_r, match_key, gamma_<comparison>..., twin_given_names, fn_variant,
    dob_year_only, twin_evident, fn_l, sn_l, swapped

``fn_variant`` (forenames one typing slip apart, or the same name by sound: two spellings
of one name) and ``dob_year_only`` (a date of birth known only to its year, or missing) are
read by the twins-and-siblings guard, and so is ``twin_evident``: some agency holds two
children of either record's family born that day (``records.known_twin``, set by
:mod:`cselink.profile`), so a twin-like pair is the twins themselves.

Main names are compared with similarity levels; every other name a record is known by
(aliases, former surnames, surname parts, middle names: ``records.fn_set``/``sn_set``) is
compared by one list test per pair, and a forename/surname swap is recognised. String
similarities are computed once per DISTINCT pair of names and joined back. Which recorded
name matched is looked up for the reasons only (:mod:`cselink.explain`).
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from .._sql import quote_ident
from .levels import Comparison

#: The record columns record comparisons may read (as l.<column> / r.<column>).
_RECORD_COLUMNS = ("uid, dob, dob_year, dob_ymd, dob_swapped, sex, pc, pc_outward, pc_sector, "
                   "addr, addr_tokens, nhs, known_twin")

#: The record columns the name comparison reads.
_NAME_COLUMNS = "uid, fn, sn, fn_set, sn_set, mid"

#: Every ``records`` column the comparisons read: a stand-in records table needs these.
COMPARED_COLUMNS: tuple[str, ...] = tuple(dict.fromkeys(
    c.strip() for c in f"{_NAME_COLUMNS}, {_RECORD_COLUMNS}".split(",")))

#: Either record's family is known to have twins (records.known_twin, cselink.profile).
_TWIN_EVIDENT = "coalesce(l_known_twin OR r_known_twin, FALSE)"

#: Name facts kept beside the gammas: the main names (term frequencies) and the swap flag.
_EVIDENCE = ("fn_l", "sn_l", "swapped")

#: Polish/Czech/Russian surname endings that change with sex: Kowalski/Kowalska.
_STEM = "regexp_replace({}, '(sk|ck|dzk|ov|ev|in)(i|a|y)$', '\\1')"


def _other_names(part: str) -> str:
    """The record's set of ``part`` names when it holds more than its main name, else NULL.

    Most records hold one name of each part; carrying NULL for them keeps lists out of
    the pair joins, and the main names then settle "any name in common" by one equality.
    """
    return (f"CASE WHEN len({part}_set) > 1 OR {part} IS DISTINCT FROM {part}_set[1] "
            f"THEN {part}_set END AS {part}_more")


def _given_apart_sql(fn_l: str, mid_l: str, fn_r: str, mid_r: str) -> str:
    """True when two records share a given name (forename or middle name) and each has a
    given name the other lacks. Aliases do not count: a child known by an alias is one child.
    """
    gl = f"list_prepend({fn_l}, coalesce({mid_l}, []))"
    gr = f"list_prepend({fn_r}, coalesce({mid_r}, []))"
    # A CASE, not an AND: DuckDB evaluates the list tests only on the rows its WHEN
    # selects (pairs with a middle name), where an AND would evaluate every operand.
    # "Each has a given name the other lacks" is "neither set holds all of the other's".
    return (f"CASE WHEN {fn_l} IS NOT NULL AND {fn_r} IS NOT NULL "
            f"AND ({mid_l} IS NOT NULL OR {mid_r} IS NOT NULL) THEN coalesce("
            f"list_has_any({gl}, {gr}) AND NOT list_has_all({gr}, {gl}) "
            f"AND NOT list_has_all({gl}, {gr}), FALSE) ELSE FALSE END")


def _twin_given_names_sql(forename: Comparison | None) -> str:
    """True when the forenames agree only as twins' often do: one's middle name is the other's.

    Twins are often given each other's forename as a middle name (Jade Anne / Anne Marie).
    Such a pair shares a given name while each has a given name the other lacks
    (``fn_given_apart``, from :func:`_given_apart_sql`), and the main forenames clearly
    differ (no forename level above ``initial`` without the other names). One child who
    goes by a middle name in one agency (Jade Anne / Anne Jade, or Jade Anne / Anne) has
    no given name the other lacks, so it is not flagged. Reads ``fn_given_apart``,
    ``fn_l``, ``fn_r`` and the forename features.
    """
    if forename is None:
        return "FALSE"
    floor = forename.gamma_of("initial")
    similar = " OR ".join(f"({lv.condition})" for lv in forename.non_null_levels
                          if forename.gamma_of(lv.label) > floor
                          and lv.label != "exact_other_name")
    return f"(fn_given_apart AND NOT coalesce({similar}, FALSE))"


def _any_sql(part: str) -> str:
    """True when any name of ``part`` one record is known by is also one of the other's."""
    return (f"coalesce(CASE WHEN l.{part}_more IS NULL AND r.{part}_more IS NULL "
            f"THEN l.{part} = r.{part} ELSE list_has_any("
            f"coalesce(l.{part}_more, [l.{part}]), coalesce(r.{part}_more, [r.{part}])) END, "
            f"FALSE) AS {part}_any")


#: Letters side by side on a keyboard row, each way round: "|qw|wq|we|...|".
_NEIGHBOURS = "|" + "|".join(
    pair for row in ("qwertyuiop", "asdfghjkl", "zxcvbnm") for i in range(len(row) - 1)
    for pair in (row[i:i + 2], row[i + 1] + row[i])) + "|"


def _doubled_sql(longer: str, shorter: str) -> str:
    """``longer`` is ``shorter`` with one letter typed twice (Emilyy / Emily)."""
    return (f"len(list_filter(range(1, length({longer})), lambda i: {longer}[i] = {longer}[i + 1] "
            f"AND {longer}[:i] || {longer}[i + 2:] = {shorter})) > 0")


def typo_sql(a: str, b: str) -> str:
    """True when two different names are one slip of the fingers apart: a neighbouring key
    (Kayla / Kayka), two letters transposed (Isabella / Iasbella) or a doubled letter.

    Different names of twins (Jayden / Jaylen, Leila / Layla) are rarely that close in
    that way, so the twins guard does not read such a pair as two children.
    """
    differ = (f"list_position(list_transform(range(1, length({a}) + 1), "
              f"lambda i: {a}[i] = {b}[i]), false)")
    return (
        f"CASE WHEN length({a}) = length({b}) AND hamming({a}, {b}) = 1 "
        f"THEN contains('{_NEIGHBOURS}', '|' || {a}[{differ}] || {b}[{differ}] || '|') "
        f"WHEN length({a}) = length({b}) AND hamming({a}, {b}) = 2 "
        f"THEN damerau_levenshtein({a}, {b}) = 1 "
        f"WHEN length({a}) = length({b}) + 1 THEN {_doubled_sql(a, b)} "
        f"WHEN length({b}) = length({a}) + 1 THEN {_doubled_sql(b, a)} ELSE FALSE END"
    )


#: Endings English short forms add to a clipped name (Alf-ie, Fredd-y, Ol-ly, Mo-o?): a
#: short form is a name clipped to its start, often with one of these and the last
#: consonant doubled (Alfie, Freddie, Ollie, Immy, Charlie, Sam, Max, Cal).
SHORT_FORM_ENDINGS: tuple[str, ...] = ("ie", "ey", "y", "i", "o")
#: The fewest letters a clipped name keeps (Ed, Al, Ol).
SHORT_FORM_MIN_STEM = 2


def _short_stem_sql(x: str) -> str:
    """The clipped start of a short form: its ending and then a doubled last letter
    dropped (freddie -> fred, ollie -> ol, alfie -> alf, sam -> sam)."""
    s = f"regexp_replace({x}, '({'|'.join(SHORT_FORM_ENDINGS)})$', '')"
    return (f"CASE WHEN length({s}) >= 2 AND right({s}, 1) = left(right({s}, 2), 1) "
            f"THEN left({s}, length({s}) - 1) ELSE {s} END")


#: The fewest letters a short form kept from the end of the name has (Bella, Beth, Drew).
SHORT_FORM_MIN_TAIL = 4


def short_form_sql(a: str, b: str) -> str:
    """True when the shorter of two names is a clipped form of the longer: its stem
    (:func:`_short_stem_sql`) starts the longer name (Alfie / Alfred, Ollie / Oliver,
    Cal / Callum, Max / Maximilian), or the short name as written ends it (Bella /
    Isabella, Tilda / Matilda, Xander / Alexander, Beth / Elizabeth). Most English short
    forms are made one of these two ways, and children are recorded under the one they
    use; a name table cannot list them all.
    """
    def stem_starts(s: str, t: str) -> str:
        stem = _short_stem_sql(s)
        return f"length({stem}) >= {SHORT_FORM_MIN_STEM} AND starts_with({t}, {stem})"

    def tail_ends(s: str, t: str) -> str:
        return (f"length({s}) >= {SHORT_FORM_MIN_TAIL} AND length({s}) < length({t}) "
                f"AND ends_with({t}, {s})")

    # A CASE, so the stems (four regular expressions) are worked out only for the names
    # that share their first letters, as a kept stem must.
    n = SHORT_FORM_MIN_STEM
    clipped = (f"CASE WHEN left({a}, {n}) = left({b}, {n}) AND length({a}) < length({b}) "
               f"THEN {stem_starts(a, b)} WHEN left({a}, {n}) = left({b}, {n}) "
               f"AND length({b}) < length({a}) THEN {stem_starts(b, a)} ELSE FALSE END")
    return f"coalesce(({clipped}) OR ({tail_ends(a, b)}) OR ({tail_ends(b, a)}), FALSE)"


def name_features_sql(
    prefix: str, *, pairs_table: str = "pairs", records_table: str = "records",
    tokens_table: str = "name_tokens", alts_table: str = "name_alts",
) -> str:
    """Similarity features of each DISTINCT pair of main names of one part (fn or sn).

    Both parts get Jaro-Winkler and sounds-alike; forenames also nickname (``fn_alt``: a
    pair ``name_alts`` holds, or a clipped short form, :func:`short_form_sql`) and typing
    slip (``fn_typo``), surnames the Polish/Czech ending (``sn_stem``): the features
    :func:`gammas_sql` reads.
    """
    p, rec = quote_ident(pairs_table), quote_ident(records_table)
    tok, alts = quote_ident(tokens_table), quote_ident(alts_table)
    if prefix == "fn":
        extra = (f"(na.name IS NOT NULL OR {short_form_sql('d.a', 'd.b')}) AS fn_alt, "
                 f"CASE WHEN jaro_winkler_similarity(d.a, d.b) "
                 f">= 0.80 THEN coalesce({typo_sql('d.a', 'd.b')}, FALSE) ELSE FALSE END "
                 "AS fn_typo")
        alt_join = f"LEFT JOIN {alts} na ON na.name = d.a AND na.alt = d.b"
    else:
        stem = f"{_STEM.format('d.a')} = {_STEM.format('d.b')} AND d.a <> d.b"
        extra, alt_join = f"coalesce({stem}, FALSE) AS {prefix}_stem", ""
    return f"""
    CREATE OR REPLACE TEMP TABLE _{prefix}_feat AS
    SELECT d.a, d.b,
           jaro_winkler_similarity(d.a, d.b) AS {prefix}_jw,
           coalesce(ta.metaphone = tb.metaphone OR ta.nysiis = tb.nysiis, FALSE) AS {prefix}_phon,
           {extra}
    FROM (SELECT DISTINCT l.{prefix} AS a, r.{prefix} AS b FROM {p} p
          JOIN (SELECT uid, {prefix} FROM {rec}) l ON l.uid = p.uid_l
          JOIN (SELECT uid, {prefix} FROM {rec}) r ON r.uid = p.uid_r
          WHERE l.{prefix} IS NOT NULL AND r.{prefix} IS NOT NULL AND l.{prefix} <> r.{prefix}) d
    {alt_join}
    LEFT JOIN {tok} ta ON ta.name = d.a
    LEFT JOIN {tok} tb ON tb.name = d.b
    """


#: Names agree across fields (a forename recorded as the other's surname) at this
#: Jaro-Winkler similarity or more.
CROSS_JW = 0.92


def _cross_sql(a: str, b: str) -> str:
    """Jaro-Winkler of two names in different fields, where their first letters agree.

    Computed per pair, so only where it can matter: names that agree this closely almost
    always share their first letter, and most candidate pairs' crossed names do not.
    """
    return f"CASE WHEN {a}[1] = {b}[1] THEN coalesce(jaro_winkler_similarity({a}, {b}), 0) END"


def _name_gamma_sqls(forename: Comparison | None, surname: Comparison | None,
                     ) -> tuple[str, str, str, str, str]:
    """(forename gamma, surname gamma, swapped, crossed, left-over typo): SQL over one
    pair's name columns, with ``g_fn0``/``g_sn0`` the levels of the names as recorded;
    ``crossed``: some name agrees across fields, whether or not more names agree so than in
    place; the typo flag: the two names left over by one crossed name are one slip apart.

    Names recorded in each other's fields are recognised when more of them agree crossed
    (``x_fs``: l's forename ~ r's surname, ``x_sf``: the reverse) than in place:
    both crossed (Smith Jade / Jade Smith, or with a typo) lifts both names to the
    near-miss level, no higher, since common names swap into other people's names too
    easily for more; one crossed (Lodge Adele / Gillian Lodge: a shared family name) counts
    as a near-miss surname, and the two names left over are compared as forenames (a
    nickname or spelling variant, ``x_alt_sf`` / ``x_alt_fs``; the same spelling, nearly or
    roughly: Ahmed Aysha / Aisha Ahmed is one girl, Smith Jade / Kayla Smith two).
    """
    if forename is None or surname is None:
        return ("g_fn0" if forename else "NULL::INTEGER",
                "g_sn0" if surname else "NULL::INTEGER", "FALSE", "FALSE", "FALSE")
    fj, sj = forename.gamma_of("jaro_winkler_at_least_0.92"), surname.gamma_of(
        "jaro_winkler_at_least_0.92")
    similar = forename.gamma_of("similar_or_sounds_alike")
    # A forename is also crossed when it is one of the other record's recorded surnames
    # (x_fs_any / x_sf_any: Maisie Pilwell, alias Maisie Kent / Kent Maisie).
    a = f"(coalesce(x_fs >= {CROSS_JW}, FALSE) OR x_fs_any)"
    b = f"(coalesce(x_sf >= {CROSS_JW}, FALSE) OR x_sf_any)"
    straight = f"(g_fn0 >= {fj})::INT + (g_sn0 >= {sj})::INT"
    use = f"({a})::INT + ({b})::INT > {straight}"

    nickname = forename.gamma_of("nickname_or_spelling")

    def left_over(x: str, y: str, alt: str) -> str:
        # The forename ladder without "another recorded name": a spelling variant
        # (Aysha / Aisha) is as good a forename here as in place.
        jw = f"jaro_winkler_similarity({x}, {y})"
        return (f"CASE WHEN {x} IS NULL OR {y} IS NULL THEN -1 WHEN {alt} THEN {nickname} "
                f"WHEN {jw} >= 0.92 THEN {fj} WHEN {jw} >= 0.80 THEN {similar} ELSE 0 END")

    g_fn = (f"CASE WHEN NOT ({use}) THEN g_fn0 WHEN {a} AND {b} THEN greatest(g_fn0, {fj}) "
            f"WHEN {a} THEN {left_over('sn_l', 'fn_r', 'x_alt_sf')} "
            f"ELSE {left_over('fn_l', 'sn_r', 'x_alt_fs')} END")
    g_sn = f"CASE WHEN {use} THEN greatest(g_sn0, {sj}) ELSE g_sn0 END"
    # The two names left over one typing slip apart (Rubel Karim / Karim Runel) are a
    # typo, as fn_typo says of forenames in place: the twins guard reads both.
    def slip(x: str, y: str) -> str:
        return f"(jaro_winkler_similarity({x}, {y}) >= 0.80 AND {typo_sql(x, y)})"

    left_typo = (f"coalesce(CASE WHEN ({use}) AND NOT ({a} AND {b}) THEN CASE WHEN {a} "
                 f"THEN {slip('sn_l', 'fn_r')} ELSE {slip('fn_l', 'sn_r')} END END, FALSE)")
    return g_fn, g_sn, use, f"({a} OR {b})", left_typo


def gammas_sql(
    comparisons: Sequence[Comparison], *, pairs_table: str, out_table: str,
    temporary: bool = False, evidence: bool = True, records_table: str = "records",
    alts_table: str = "name_alts",
) -> str:
    """The gamma table, in one pass over the pairs: each pair joins its two records once.

    Name similarities come from ``_fn_feat`` / ``_sn_feat`` (one row per DISTINCT pair of
    different main names, see :func:`name_features_sql`); equal names need no look-up.
    """
    p, out = quote_ident(pairs_table), quote_ident(out_table)
    rec, alts = quote_ident(records_table), quote_ident(alts_table)
    by_name = {c.name: c for c in comparisons}
    g_fn, g_sn, swapped, crossed, left_typo = _name_gamma_sqls(by_name.get("forename"),
                                                               by_name.get("surname"))
    cols = []
    for c in comparisons:
        if c.name == "forename":
            cols.append(f"({g_fn})::TINYINT AS gamma_forename")
        elif c.name == "surname":
            cols.append(f"({g_sn})::TINYINT AS gamma_surname")
        else:
            cols.append(f"({c.gamma_sql()})::TINYINT AS {quote_ident(c.gamma_column)}")
    evidence_sql = {"fn_l": "fn_l", "sn_l": "sn_l", "swapped": f"{swapped} AS swapped"}
    evidence_cols = "".join(f", {evidence_sql[k]}" for k in (_EVIDENCE if evidence else ()))
    features = {name: sql for c in comparisons for name, sql in c.features}
    feature_cols = "".join(f", {sql} AS {quote_ident(name)}" for name, sql in features.items())
    record_cols = (f"{_RECORD_COLUMNS}, fn, sn, {_other_names('fn')}, {_other_names('sn')}, "
                   "CASE WHEN len(mid) > 0 THEN mid END AS mid_more")
    # Not evidence: the twins-and-siblings guard reads it, in training too.
    # A name that agrees across fields (crossed) explains a shared middle name: not twins
    # (Adam Nathaniel Anderson / Anderson Nathaniel Adamm).
    twins = (f", ({_twin_given_names_sql(by_name.get('forename'))} AND NOT coalesce({crossed}, "
             "FALSE)) AS twin_given_names")
    # The record columns travel flat (l_dob, r_dob, ...): packing each record into a struct
    # costs three times the join itself over millions of pairs.
    flat = ", ".join(f"{side}.{col} AS {side}_{col}" for col in _RECORD_COLUMNS.split(", ")
                     for side in "lr")
    same = "coalesce({0}_l = {0}_r, FALSE)"
    forename, surname = by_name.get("forename"), by_name.get("surname")
    g0 = "".join(f", ({c.gamma_sql()}) AS g_{c.name[0]}n0" for c in (forename, surname) if c)
    return f"""
    CREATE OR REPLACE {"TEMP TABLE" if temporary else "TABLE"} {out} AS
    SELECT uid_l, uid_r, match_key, {_flat(", ".join(cols))}{twins},
           (fn_typo OR fn_phon OR {left_typo}) AS fn_variant,
           (l_dob IS NULL OR r_dob IS NULL) AS dob_year_only,
           {_TWIN_EVIDENT} AS twin_evident{_flat(evidence_cols)}
    FROM (SELECT *{g0} FROM (
        SELECT p.*,
               CASE WHEN {same.format('fn')} THEN 1.0 ELSE f.fn_jw END AS fn_jw,
               coalesce(f.fn_alt, {same.format('fn')}) AS fn_alt,
               coalesce(f.fn_phon, {same.format('fn')}) AS fn_phon,
               coalesce(f.fn_typo, FALSE) AS fn_typo,
               CASE WHEN {same.format('sn')} THEN 1.0 ELSE s.sn_jw END AS sn_jw,
               coalesce(s.sn_phon, {same.format('sn')}) AS sn_phon,
               coalesce(s.sn_stem, FALSE) AS sn_stem,
               xa.name IS NOT NULL AS x_alt_sf, xb.name IS NOT NULL AS x_alt_fs
        FROM (
            SELECT p.uid_l, p.uid_r, p.match_key, {flat}{feature_cols},
                   l.fn AS fn_l, r.fn AS fn_r, l.sn AS sn_l, r.sn AS sn_r,
                   {_any_sql('fn')}, {_any_sql('sn')},
                   {_given_apart_sql('l.fn', 'l.mid_more', 'r.fn', 'r.mid_more')}
                       AS fn_given_apart,
                   {_cross_sql('l.fn', 'r.sn')} AS x_fs, {_cross_sql('l.sn', 'r.fn')} AS x_sf,
                   coalesce(list_contains(r.sn_more, l.fn), FALSE) AS x_fs_any,
                   coalesce(list_contains(l.sn_more, r.fn), FALSE) AS x_sf_any
            FROM {p} p
            JOIN (SELECT {record_cols} FROM {rec}) l ON l.uid = p.uid_l
            JOIN (SELECT {record_cols} FROM {rec}) r ON r.uid = p.uid_r
        ) p
        LEFT JOIN _fn_feat f ON f.a = p.fn_l AND f.b = p.fn_r
        LEFT JOIN _sn_feat s ON s.a = p.sn_l AND s.b = p.sn_r
        LEFT JOIN {alts} xa ON xa.name = p.sn_l AND xa.alt = p.fn_r
        LEFT JOIN {alts} xb ON xb.name = p.fn_l AND xb.alt = p.sn_r
    ))
    """


_SIDE_COLUMN = re.compile(r"\b([lr])\.([a-z_][a-z0-9_]*)\b")


def _flat(sql: str) -> str:
    """Level conditions read records as ``l.<column>``/``r.<column>``; here they are flat."""
    return _SIDE_COLUMN.sub(r"\1_\2", sql)


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
    tables = {"pairs_table": pairs_table, "records_table": records_table,
              "tokens_table": tokens_table, "alts_table": alts_table}
    return [name_features_sql("fn", **tables), name_features_sql("sn", **tables),
            gammas_sql(comparisons, pairs_table=pairs_table, out_table=out_table,
                       temporary=temporary, evidence=evidence, records_table=records_table,
                       alts_table=alts_table),
            "DROP TABLE _fn_feat", "DROP TABLE _sn_feat"]
