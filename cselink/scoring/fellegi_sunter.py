"""Fellegi-Sunter scoring in SQL: gammas -> per-comparison weights, match weight, probability.

    mw_k = log2(m_k[g_k] / u_k[g_k])            (0 when g_k is missing)
    match_weight = log2(lambda / (1 - lambda)) + sum_k mw_k
    match_probability = 2^w / (1 + 2^w)

Term-frequency adjustment (as in Splink): an exact name agreement on a common name is
weaker evidence than on a rare one. For exact levels the weight gains
    log2(u_exact / tf(value)),  u_exact = sum_v tf(v)^2
i.e. the chance two random records share THIS name instead of any name, clamped to
+-cap bits. ``tf_fn`` / ``tf_sn`` hold tf per distinct forename / surname.

The twins-and-siblings guard (after the Ministry of Justice's person-matching service,
which gives such pairs a fixed low probability): same surname, same address or postcode,
clearly different forenames and no shared NHS number is what twins (same date of birth)
and siblings look like, and sometimes one young person recorded under another forename.
Such a pair's weight is at most the guard's odds, learned from the data
(:func:`cselink.profile.estimate_twins_probability`), less the weight of a sex
disagreement.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from .._sql import quote_ident
from ..comparisons import COMPARISONS
from ..schema import GAMMAS_TABLE, SCORES_TABLE
from .model import Model

_TF_COLUMNS = {"forename": ("fn_l", "tf_fn"), "surname": ("sn_l", "tf_sn")}


def tf_tables_sql() -> list[str]:
    """Term-frequency tables of forenames and surnames over ``records``."""
    return [
        f"""
        CREATE OR REPLACE TABLE {table} AS
        SELECT {col} AS value, count(*) / sum(count(*)) OVER () AS tf
        FROM records WHERE {col} IS NOT NULL GROUP BY {col}
        """
        for col, table in (("fn", "tf_fn"), ("sn", "tf_sn"))
    ]


def _num(value: float) -> str:
    """A DOUBLE literal. A bare 1.25 is a DECIMAL in DuckDB, and sums of DECIMALs of
    different scales widen to 128-bit arithmetic: ten times slower over millions of pairs."""
    return f"'{value!r}'::DOUBLE"


def _weight_case(model: Model, name: str) -> str:
    c = COMPARISONS[name]
    whens = " ".join(
        f"WHEN {g} THEN {_num(model.weight(name, g))}" for g in range(c.n_levels)
    )
    return f"CASE {quote_ident(c.gamma_column)} {whens} ELSE 0.0::DOUBLE END"


def scores_sql(
    model: Model,
    *,
    gammas_table: str = GAMMAS_TABLE,
    out_table: str = SCORES_TABLE,
    tf_adjust: bool = True,
    tf_cap: float = 6.0,
    twins_probability: float | None = 0.001,
    siblings_probability: float | None = None,
    temporary: bool = False,
    swapped_column: bool = True,
) -> str:
    """The scores table: gammas plus mw_<comparison>, match_weight, match_probability.

    ``swapped_column``: the gammas carry ``swapped`` (names matched across fields), which
    limits their term-frequency adjustment to a penalty. ``twins_probability`` caps a pair
    the guard marks that was born the same day, ``siblings_probability`` (default the
    same) one born apart; None turns the guard off.
    """
    g, out = quote_ident(gammas_table), quote_ident(out_table)
    mw_cols, joins = [], []
    swapped = swapped_column
    for name in model.comparisons:
        c = COMPARISONS[name]
        expr = _weight_case(model, name)
        if tf_adjust and name in _TF_COLUMNS:
            value_col, table = _TF_COLUMNS[name]
            exact = [str(c.gamma_of(lv.label)) for lv in c.non_null_levels if lv.tf]
            alias, consts = f"t_{name}", f"c_{name}"
            joins.append(f"LEFT JOIN {table} {alias} ON {alias}.value = g.{value_col}")
            # u of an exact agreement (sum of tf^2) and the smallest tf, computed once.
            joins.append(f"CROSS JOIN (SELECT sum(tf * tf) AS u_exact, min(tf) AS tf_min "
                         f"FROM {table}) {consts}")
            adj = (
                f"greatest(least(log2({consts}.u_exact / coalesce({alias}.tf, {consts}.tf_min)), "
                f"{_num(tf_cap)}), {_num(-tf_cap)})"
            )
            # A name that agrees only across fields (Nguyen Lachlan / Lachlan Nguyen) earns
            # no bonus for being rare, but pays for being common: common names swap into
            # other people's names easily.
            crossed = (f"WHEN coalesce(g.swapped, FALSE) AND {quote_ident(c.gamma_column)} = "
                       f"{c.gamma_of('jaro_winkler_at_least_0.92')} THEN least({adj}, 0.0::DOUBLE) "
                       if swapped else "")
            expr = (
                f"({expr}) + CASE WHEN {quote_ident(c.gamma_column)} IN ({', '.join(exact)}) "
                f"THEN {adj} {crossed}ELSE 0.0::DOUBLE END"
            )
        mw_cols.append(f"{expr} AS {quote_ident('mw_' + name)}")
    total = " + ".join(quote_ident("mw_" + n) for n in model.comparisons) or "0.0"
    twins = relatives_sql(model.comparisons) if twins_probability is not None else None
    twins = twins or "FALSE"
    siblings_probability = siblings_probability or twins_probability
    cap_twins, cap_siblings = (
        (math.log2(p / (1 - p)) if p else 0.0) for p in (twins_probability, siblings_probability)
    )
    # The learned odds are those of a pair born the same day with no twins in sight; a pair
    # born apart (siblings), or of a family some agency shows to have twins, keeps the floor.
    if "dob" in model.comparisons:
        # A family some agency shows to have twins (twin_evident) settles it: twins.
        same_day = (f"gamma_dob = {COMPARISONS['dob'].gamma_of('exact')} "
                    "AND NOT coalesce(twin_evident, FALSE)")
        cap = f"CASE WHEN {same_day} THEN {_num(cap_twins)} ELSE {_num(cap_siblings)} END"
    else:
        cap = _num(cap_siblings)
    sex = " + least(mw_sex, 0.0::DOUBLE)" if "sex" in model.comparisons else ""
    return f"""
    CREATE OR REPLACE {"TEMP TABLE" if temporary else "TABLE"} {out} AS
    WITH w AS (
        SELECT g.*, {", ".join(mw_cols)}
        FROM {g} g {" ".join(joins)}
    ), t AS (
        SELECT *, {_num(model.prior_weight)} + {total} AS raw_weight, {twins} AS possible_twins
        FROM w
    )
    SELECT *, 1.0 / (1.0 + pow(2.0, -match_weight)) AS match_probability
    FROM (SELECT * EXCLUDE (raw_weight),
                 CASE WHEN possible_twins THEN least(raw_weight, {cap}{sex})
                      ELSE raw_weight END AS match_weight
          FROM t)
    """


def relatives_sql(comparisons: Sequence[str]) -> str | None:
    """The twins-and-siblings guard as SQL over gamma columns (None if it cannot apply).

    Same surname, the same home (address or postcode), no shared NHS number, and either
    clearly different forenames, or dates of birth clearly apart with a forename that only
    agrees through a middle name, nickname or near spelling, or the same date of birth with
    forenames that only sound alike or that agree only because one's middle name is the
    other's forename while each is known by a forename the other lacks (``twin_given_names``:
    twins named after each other, Jade Anne / Anne Marie; Jade Anne / Anne Jade is one
    child going by a middle name): that is what twins and siblings look like, not one
    person recorded twice. Forenames one typing slip apart or that sound the same
    (``fn_variant``: a neighbouring key, a transposition, a doubled letter; Freddie /
    Freddy, Oscar / Oskar) are two spellings of one name, not twins' names, nor is a date of
    birth known only to its year read as born apart. Reads the gamma columns,
    ``twin_given_names``, ``fn_variant`` and ``dob_year_only``.
    """
    comps = set(comparisons)
    if not {"forename", "surname"} <= comps:
        return None
    fc, sc = COMPARISONS["forename"], COMPARISONS["surname"]
    place = []
    if "postcode" in comps:
        place.append(f"gamma_postcode = {COMPARISONS['postcode'].gamma_of('exact')}")
    if "address" in comps:
        place.append(f"gamma_address >= {COMPARISONS['address'].gamma_of('most_words')}")
    if "location" in comps:
        place.append(f"gamma_location >= {COMPARISONS['location'].gamma_of('similar_address')}")
    if not place:
        return None
    nhs = (f" AND gamma_nhs_number <> {COMPARISONS['nhs_number'].gamma_of('agree')}"
           if "nhs_number" in comps else "")
    different = f"gamma_forename BETWEEN 0 AND {fc.gamma_of('initial')}"
    if "dob" in comps:
        # Siblings: born at clearly different times, and the forename only agrees by a
        # middle name, a nickname or a near spelling (families reuse names).
        dc = COMPARISONS["dob"]
        # A date known only to its year (dob_year_only: 01/01, or a year alone) agrees
        # with any date of that year as far as it goes: it does not put them apart.
        near = ", ".join(str(dc.gamma_of(x)) for x in ("same_year", "same_year_and_month"))
        apart = (f"(gamma_dob = {dc.gamma_of('different')} OR (gamma_dob IN ({near}) "
                 "AND NOT coalesce(dob_year_only, FALSE)))")
        # Twins: the same date of birth, forenames that only sound alike (Jayden, Jaylen),
        # or one twin's forename is the other's middle name (twin_given_names, see
        # cselink.comparisons.vectors).
        # A forename one slip of the fingers from the other (Kayla / Kayka), or the same
        # name by sound (Ruby / Rubie), is one name written two ways (fn_variant): twins
        # are given different names, and sound-alike pairs are a small minority of them.
        different = (f"({different} OR ({apart} AND gamma_forename BETWEEN 0 "
                     f"AND {fc.gamma_of('exact_other_name')}) OR (gamma_dob = "
                     f"{dc.gamma_of('exact')} AND ((gamma_forename BETWEEN 0 AND "
                     f"{fc.gamma_of('similar_or_sounds_alike')} "
                     f"AND NOT coalesce(fn_variant, FALSE)) "
                     f"OR coalesce(twin_given_names, FALSE))))")
    # The same family name, in any recorded form (Kowalski/Kowalska twins, a former surname).
    return (
        f"(gamma_surname >= {sc.gamma_of('jaro_winkler_at_least_0.92')} "
        f"AND ({' OR '.join(place)}) AND {different}{nhs})"
    )


def pattern_counts_sql(
    comparisons: Sequence[str], gammas_table: str = GAMMAS_TABLE, *, exclude: str | None = None
) -> str:
    """Distinct gamma patterns with their pair counts: all EM needs.

    ``exclude`` is a SQL condition on gamma columns for pairs to leave out (e.g. pairs the
    twins-and-siblings guard already knows are two people).
    """
    cols = ", ".join(quote_ident(COMPARISONS[c].gamma_column) for c in comparisons)
    where = f" WHERE NOT {exclude}" if exclude else ""
    return (
        f"SELECT {cols}, count(*) AS n FROM {quote_ident(gammas_table)}{where} "
        f"GROUP BY ALL ORDER BY ALL"
    )
