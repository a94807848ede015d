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

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._sql import quote_ident
from .comparisons import COMPARISONS
from .schema import VARIANTS_TABLE

_KIND_WORDS = {
    "alias": "alias",
    "former_surname": "former surname",
    "surname_part": "part of the double-barrelled surname",
    "middle_name": "middle name",
}


#: The reasons that always come first (weights above any comparison's), with their texts.
_SWAPPED_WEIGHT, _TWINS_WEIGHT = 1000.0, 2000.0
_SWAPPED_TEXT = "forename and surname recorded the other way round"
_TWINS_TEXT = "possible twins: same surname, date of birth and home but different forenames"
_SIBLINGS_TEXT = "possible siblings: same surname and home but different forenames"
_RELATIVES_TEXT = "possible twins or siblings: same surname and home but different forenames"


def _variant_match_sql(col: str, gamma: str, level: int, variants: str) -> str:
    """Per output pair: (side, kind, value) of the shared non-main name in column ``col``."""
    chosen = "CASE WHEN vl.kind <> 'primary' THEN {l} ELSE {r} END"
    pick = (
        "struct_pack("
        f"side := {chosen.format(l=repr('l'), r=repr('r'))}, "
        f"kind := {chosen.format(l='vl.kind', r='vr.kind')}, "
        "value := " + chosen.format(l=f"coalesce(vl.detail, vl.{col})",
                                    r=f"coalesce(vr.detail, vr.{col})") + ")"
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


def evidence_sql(variants_table: str = VARIANTS_TABLE) -> str:
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


#: Name levels whose reason quotes the two main names where they differ.
_QUOTED_LEVELS = frozenset({"exact_other_name", "nickname_or_spelling",
                            "jaro_winkler_at_least_0.92", "similar_or_sounds_alike", "initial",
                            "different"})
_NAME_COLUMNS = {"forename": ("fn_name_l", "fn_name_r"), "surname": ("sn_name_l", "sn_name_r")}
#: The columns the reasons read besides a scores row's own: both records' main names and
#: the households of a learned forename pair.
REASON_NAME_COLUMNS: tuple[str, ...] = (*_NAME_COLUMNS["forename"], *_NAME_COLUMNS["surname"],
                                        "fn_learned")
#: The reason of a forename pair learned from the data (:mod:`cselink.profile`).
_LEARNED_TEXT = "forenames '{l}' and '{r}' written both ways for {n} young people in these records"


#: The two main names where they differ, after a level's words.
_QUOTED_NAMES = " ('{l}' / '{r}')"
_FIELD = re.compile(r"\{(\w+)\}")


def _sql_literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _template_sql(template: str, **columns: str) -> str:
    """A ``str.format`` template as SQL concatenation, each field a SQL expression: the
    same words :func:`_level_text` formats in Python."""
    parts = _FIELD.split(template)  # literal, field, literal, field, ..., literal
    return " || ".join(_sql_literal(p) if i % 2 == 0 else columns[p]
                       for i, p in enumerate(parts) if i % 2 or p)


def _level_text_sql(name: str, label: str, description: str) -> str:
    """SQL for the words of one level; :func:`_level_text` is the same in Python."""
    text = _sql_literal(description)
    if label == "exact_other_name" and name in _NAME_COLUMNS:
        # Which recorded name matched (from _evidence), else the plain words.
        phrase = _kind_phrase(name, "fn_ev" if name == "forename" else "sn_ev")
        text = f"coalesce({phrase}, {text})"
    if name in _NAME_COLUMNS and label in _QUOTED_LEVELS:
        left, right = _NAME_COLUMNS[name]
        quoted = _template_sql(_QUOTED_NAMES, l=left, r=right)
        text = (f"{text} || CASE WHEN {left} IS NOT NULL AND {right} IS NOT NULL "
                f"AND {left} <> {right} THEN {quoted} ELSE '' END")
        if label == "nickname_or_spelling" and name == "forename":
            learned = _template_sql(_LEARNED_TEXT, l=left, r=right, n="fn_learned::VARCHAR")
            text = f"CASE WHEN fn_learned IS NOT NULL THEN {learned} ELSE {text} END"
    return text


def _level_text(name: str, label: str, description: str, row: Mapping[str, Any],
                source_l: str, source_r: str) -> str:
    """The words of one level for one row, as :func:`_level_text_sql` gives them."""
    text = description
    if label == "exact_other_name" and name in _NAME_COLUMNS:
        ev = row.get("fn_ev" if name == "forename" else "sn_ev")
        text = _kind_text(name, ev, source_l, source_r) or text
    if name in _NAME_COLUMNS and label in _QUOTED_LEVELS:
        left, right = (row.get(c) for c in _NAME_COLUMNS[name])
        if (label == "nickname_or_spelling" and name == "forename"
                and _present(row.get("fn_learned"))):
            return _LEARNED_TEXT.format(l=left, r=right, n=int(row["fn_learned"]))
        if _present(left) and _present(right) and left != right:
            text = text + _QUOTED_NAMES.format(l=left, r=right)
    return text


def reasons_sql(comparisons: Sequence[str]) -> str:
    """A SQL expression giving the ``reasons`` text of a scored pair.

    Reads the gamma and ``mw_`` columns, ``swapped``, ``possible_twins``, the evidence
    structs ``fn_ev`` / ``sn_ev``, both records' main names (``fn_name_l``, ``fn_name_r``,
    ``sn_name_l``, ``sn_name_r``), ``fn_learned`` (the households of a forename pair
    learned from the data, else NULL) and ``source_l`` / ``source_r``.
    """
    items = []
    for name in comparisons:
        c = COMPARISONS[name]
        whens = [f"WHEN {c.gamma_of(lv.label)} THEN "
                 f"{_level_text_sql(name, lv.label, lv.description)}"
                 for lv in c.non_null_levels]
        gamma = quote_ident(c.gamma_column)
        text_expr = f"CASE {gamma} {' '.join(whens)} END"
        items.append(f"struct_pack(w := {quote_ident('mw_' + name)}, t := {text_expr})")
    items.append(
        f"struct_pack(w := {_SWAPPED_WEIGHT}, t := CASE WHEN swapped THEN "
        f"'{_SWAPPED_TEXT}' END)"
    )
    if "dob" in comparisons:
        dob = (f"{quote_ident(COMPARISONS['dob'].gamma_column)} = "
               f"{COMPARISONS['dob'].gamma_of('exact')}")
        twins = (f"CASE WHEN possible_twins AND {dob} THEN '{_TWINS_TEXT}' "
                 f"WHEN possible_twins THEN '{_SIBLINGS_TEXT}' END")
    else:
        twins = f"CASE WHEN possible_twins THEN '{_RELATIVES_TEXT}' END"
    items.append(f"struct_pack(w := {_TWINS_WEIGHT}, t := {twins})")
    lst = "[" + ", ".join(items) + "]"
    return (
        f"array_to_string(list_transform(list_reverse_sort(list_filter({lst}, "
        "lambda x: x.t IS NOT NULL)), lambda x: x.t), '; ')"
    )


def _kind_text(field: str, ev: Any, source_l: str, source_r: str) -> str | None:
    """:func:`_kind_phrase` in Python: None where the SQL gives NULL."""
    if not isinstance(ev, Mapping) or ev.get("value") is None:
        return None
    kind = _KIND_WORDS.get(ev.get("kind") or "", "another name")
    source = source_l if ev.get("side") == "l" else source_r
    return f"{field} matches {kind} '{ev['value']}' recorded by {source}"


def _present(value: Any) -> bool:
    """A non-NULL value as pandas hands it over (NULL is None or NaN)."""
    return value is not None and not (isinstance(value, float) and math.isnan(value))


def reasons_text(row: Mapping[str, Any], comparisons: Sequence[str], *, source_l: str,
                 source_r: str) -> str:
    """What :func:`reasons_sql` gives for one scored pair, computed in Python.

    For a handful of pairs (a search) this is much cheaper than planning the SQL
    expression. ``row`` holds the gamma and ``mw_`` columns, ``swapped``,
    ``possible_twins``, the evidence structs ``fn_ev`` / ``sn_ev`` (None when absent) and
    the names :func:`reasons_sql` reads; ``source_l`` / ``source_r`` name the sides as
    ``reasons_sql`` reads them.
    The order is DuckDB's ``list_reverse_sort`` over (weight, text): a NULL or NaN weight
    first, then the highest weight, ties broken by the text, highest first.
    """
    items: list[tuple[float, str]] = []
    for name in comparisons:
        c = COMPARISONS[name]
        gamma = row[c.gamma_column]
        if not _present(gamma):
            continue
        lv = c.level_of(int(gamma))
        if not lv.is_null:
            items.append((float(row[f"mw_{name}"]),
                          _level_text(name, lv.label, lv.description, row, source_l, source_r)))
    if _present(row.get("swapped")) and bool(row["swapped"]):
        items.append((_SWAPPED_WEIGHT, _SWAPPED_TEXT))
    if _present(row.get("possible_twins")) and bool(row["possible_twins"]):
        if "dob" in comparisons:
            dob = COMPARISONS["dob"]
            twins = row[dob.gamma_column] == dob.gamma_of("exact")
            items.append((_TWINS_WEIGHT, _TWINS_TEXT if twins else _SIBLINGS_TEXT))
        else:
            items.append((_TWINS_WEIGHT, _RELATIVES_TEXT))
    # -0.0 and 0.0 tie in DuckDB's sort; NaN stands for NULL (both sort first).
    items.sort(key=lambda it: (math.isnan(it[0]), 0.0 if math.isnan(it[0]) else it[0] + 0.0,
                               it[1]), reverse=True)
    return "; ".join(t for _, t in items)
