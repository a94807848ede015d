"""Explain: the reasons for each scored pair, in words a panel coordinator can check.

:func:`evidence_sql` finds, for the output pairs only, which recorded name matched when a
forename or surname agreed through another name (an alias, a former surname, a part of a
double-barrelled surname, a middle name). :func:`reasons_sql` builds a SQL expression over a
scores row (joined with both records' sources as ``source_l`` / ``source_r`` and that
evidence as ``fn_ev`` / ``sn_ev``) listing the evidence, strongest first: e.g.
"surname matches former surname 'Williams' recorded by social_care; day and month of
birth swapped; same postcode sector".
"""

from __future__ import annotations

from collections.abc import Sequence

from ._sql import quote_ident
from .comparisons import COMPARISONS

_KIND_WORDS = {
    "alias": "alias",
    "former_surname": "former surname",
    "surname_part": "part of the double-barrelled surname",
    "middle_name": "middle name",
}


def _variant_match_sql(col: str, gamma: str, level: int, variants: str) -> str:
    """Per output pair: (side, kind, value) of the shared non-main name in column ``col``."""
    chosen = "CASE WHEN vl.kind <> 'primary' THEN {l} ELSE {r} END"
    pick = (
        "struct_pack("
        f"side := {chosen.format(l=repr('l'), r=repr('r'))}, "
        f"kind := {chosen.format(l='vl.kind', r='vr.kind')}, "
        f"value := {chosen.format(l=f'coalesce(vl.detail, vl.{col})', r=f'coalesce(vr.detail, vr.{col})')})"
    )
    order = (
        "struct_pack(a := (vl.kind <> 'primary')::INT + (vr.kind <> 'primary')::INT, "
        f"b := vl.kind, c := vr.kind, d := vl.{col})"
    )
    return (
        f"SELECT o.uid_l, o.uid_r, arg_min({pick}, {order}) AS ev "
        f"FROM _out o JOIN {variants} vl ON vl.uid = o.uid_l "
        f"JOIN {variants} vr ON vr.uid = o.uid_r AND vr.{col} = vl.{col} "
        f"WHERE o.{gamma} = {level} AND NOT (vl.kind = 'primary' AND vr.kind = 'primary') "
        "GROUP BY o.uid_l, o.uid_r"
    )


def evidence_sql(variants_table: str = "name_variants") -> str:
    """SQL creating ``_evidence(uid_l, uid_r, fn_ev, sn_ev)`` for the pairs in ``_out``.

    It reads ``variants_table`` (``name_variants``, or a table holding the variants of at
    least the records of ``_out``) for the output pairs only, so its cost does not grow
    with the number of candidate pairs.
    """
    fc, sc = COMPARISONS["forename"], COMPARISONS["surname"]
    var = quote_ident(variants_table)
    fn = _variant_match_sql("fn", "gamma_forename", fc.gamma_of("exact_other_name"), var)
    sn = _variant_match_sql("sn", "gamma_surname", sc.gamma_of("exact_other_name"), var)
    return f"""
    CREATE OR REPLACE TEMP TABLE _evidence AS
    SELECT o.uid_l, o.uid_r, f.ev AS fn_ev, s.ev AS sn_ev
    FROM _out o
    LEFT JOIN ({fn}) f ON f.uid_l = o.uid_l AND f.uid_r = o.uid_r
    LEFT JOIN ({sn}) s ON s.uid_l = o.uid_l AND s.uid_r = o.uid_r
    """


def _kind_phrase(field: str, ev: str) -> str:
    """"surname matches former surname 'X' recorded by police" from an evidence struct."""
    kinds = " ".join(f"WHEN '{k}' THEN '{w}'" for k, w in _KIND_WORDS.items())
    quote = "''''"  # a SQL literal holding one apostrophe
    source = f"CASE WHEN {ev}.side = 'l' THEN source_l ELSE source_r END"
    return (
        f"'{field} matches ' || CASE {ev}.kind {kinds} ELSE 'another name' END || ' ' || "
        f"{quote} || {ev}.value || {quote} || ' recorded by ' || {source}"
    )


def reasons_sql(comparisons: Sequence[str]) -> str:
    """A SQL expression giving the ``reasons`` text of a scored pair."""
    items = []
    for name in comparisons:
        c = COMPARISONS[name]
        whens = []
        for lv in c.non_null_levels:
            text = "'" + lv.description.replace("'", "''") + "'"
            if lv.label == "exact_other_name" and name in ("forename", "surname"):
                # Which recorded name matched (from _evidence), else the plain words.
                phrase = _kind_phrase(name, "fn_ev" if name == "forename" else "sn_ev")
                text = f"coalesce({phrase}, {text})"
            whens.append(f"WHEN {c.gamma_of(lv.label)} THEN {text}")
        gamma = quote_ident(c.gamma_column)
        text_expr = f"CASE {gamma} {' '.join(whens)} END"
        items.append(f"struct_pack(w := {quote_ident('mw_' + name)}, t := {text_expr})")
    items.append(
        "struct_pack(w := 1000.0, t := CASE WHEN swapped THEN "
        "'forename and surname recorded the other way round' END)"
    )
    if "dob" in comparisons:
        dob = (f"{quote_ident(COMPARISONS['dob'].gamma_column)} = "
               f"{COMPARISONS['dob'].gamma_of('exact')}")
        twins = (f"CASE WHEN possible_twins AND {dob} THEN 'possible twins: same surname, date "
                 "of birth and home but different forenames' WHEN possible_twins THEN "
                 "'possible siblings: same surname and home but different forenames' END")
    else:
        twins = ("CASE WHEN possible_twins THEN 'possible twins or siblings: same surname "
                 "and home but different forenames' END")
    items.append(f"struct_pack(w := 2000.0, t := {twins})")
    lst = "[" + ", ".join(items) + "]"
    return (
        f"array_to_string(list_transform(list_reverse_sort(list_filter({lst}, "
        "lambda x: x.t IS NOT NULL)), lambda x: x.t), '; ')"
    )
