"""Explain: the reasons for each scored pair, in words a panel coordinator can check.

Builds a SQL expression over a scores row (joined with both records' sources as
``source_l`` / ``source_r``) that lists the evidence, strongest first: e.g.
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


def _kind_phrase(field: str, value_col: str) -> str:
    """'surname matches former surname 'X' recorded by police' for a variant match."""
    kinds = " ".join(f"WHEN '{k}' THEN '{w}'" for k, w in _KIND_WORDS.items())

    def side(s: str) -> str:
        value = f"coalesce(detail_{s}, upper({value_col}[1]) || {value_col}[2:])"
        return (
            f"'{field} matches ' || CASE kind_{s} {kinds} ELSE 'another name' END || "
            f"' ''' || {value} || ''' recorded by ' || source_{s}"
        )

    return (
        f"CASE WHEN kind_l <> 'primary' THEN {side('l')} "
        f"WHEN kind_r <> 'primary' THEN {side('r')} END"
    )


def reasons_sql(comparisons: Sequence[str]) -> str:
    """A SQL expression giving the ``reasons`` text of a scored pair."""
    items = []
    for name in comparisons:
        c = COMPARISONS[name]
        whens = []
        for lv in c.non_null_levels:
            text = text_plain = "'" + lv.description.replace("'", "''") + "'"
            if lv.label == "exact_other_name" and name in ("forename", "surname"):
                # Which recorded name matched; a swap says so in its own reason.
                text = _kind_phrase(name, "fn_l" if name == "forename" else "sn_l")
                text = f"coalesce({text}, CASE WHEN NOT swapped THEN {text_plain} END)"
            whens.append(f"WHEN {c.gamma_of(lv.label)} THEN {text}")
        gamma = quote_ident(c.gamma_column)
        text_expr = f"CASE {gamma} {' '.join(whens)} END"
        items.append(
            f"struct_pack(w := {quote_ident('mw_' + name)}, t := {text_expr})"
        )
    items.append(
        "struct_pack(w := 1000.0, t := CASE WHEN swapped THEN "
        "'forename and surname recorded the other way round' END)"
    )
    items.append(
        "struct_pack(w := 2000.0, t := CASE WHEN possible_twins AND "
        f"{quote_ident(COMPARISONS['dob'].gamma_column)} = {COMPARISONS['dob'].gamma_of('exact')} "
        "THEN 'possible twins: same surname, date of birth and home but different forenames' "
        "WHEN possible_twins THEN "
        "'possible siblings: same surname and home but different forenames' END)"
    )
    lst = "[" + ", ".join(items) + "]"
    return (
        f"array_to_string(list_transform(list_reverse_sort(list_filter({lst}, "
        "lambda x: x.t IS NOT NULL)), lambda x: x.t), '; ')"
    )
