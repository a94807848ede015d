"""Fields and rules the pre-panel check shares with the contacts' look-up.

The referral source's name, the identity evidence a link must carry, how a record's
fields are shown, and the place (local authority or postcode area) of a postcode district.
Split from :mod:`cselink.check` so that :mod:`cselink.contacts` uses them without importing
the job that calls it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pandas as pd

from .comparisons import COMPARISONS
from .schema import CANONICAL_COLUMNS

#: The source name of the referrals in the check's tables.
REFERRAL_SOURCE: Final[str] = "referral"

#: Fields shown side by side in the report and written in results.json, as recorded.
DISPLAY_FIELDS: Final[tuple[str, ...]] = tuple(
    c for c in CANONICAL_COLUMNS if c not in ("record_id", "source")
)


def identity_evidence_sql(comparisons: Sequence[str]) -> str:
    """SQL over a scored pair: true when the pair says something about the young person.

    The date of birth agrees (exactly, day and month swapped, one digit apart, year off
    by one, or same year and month) or the NHS number does, and the NHS numbers do not
    conflict. Brothers and sisters share a surname and a home, which is most of what a
    pair of records holds; a link without this evidence may join two children of one
    household. Chains through another agency's record and the linked groups behind the
    lists use only links that carry it.

    Measured on synthetic data (the default thresholds, 3 x 5,000 people): requiring it
    of chains lists a third fewer possible candidates and misses no more agencies;
    requiring it of direct ``known`` statuses too (on top of the engine's own
    twins-and-siblings guard) cost 1.3 points of known recall (1.7 on hard data) for no
    fewer false ``known``, so direct statuses follow the match probability alone.
    """
    terms = []
    if "dob" in comparisons:
        dob = COMPARISONS["dob"]
        floor = dob.gamma_of("same_year_and_month")
        year = dob.gamma_of("year_off_by_one")
        terms.append(f"(gamma_dob >= {min(floor, year)})")
    nhs_agree = nhs_differ = None
    if "nhs_number" in comparisons:
        nhs = COMPARISONS["nhs_number"]
        nhs_agree = f"gamma_nhs_number = {nhs.gamma_of('agree')}"
        nhs_differ = f"gamma_nhs_number = {nhs.gamma_of('different')}"
    if not terms and nhs_agree is None:
        return "TRUE"
    evidence = " OR ".join(terms + ([f"({nhs_agree})"] if nhs_agree else []))
    if nhs_differ:
        return f"(({evidence}) AND NOT ({nhs_differ}))"
    return f"({evidence})"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    return isinstance(value, float) and value != value


def _as_list(value: Any) -> list[str]:
    if _is_missing(value):
        return []
    if isinstance(value, str):
        return [value]
    return [str(v) for v in value if v is not None and str(v).strip()]


def _text(value: Any) -> str | None:
    if _is_missing(value):
        return None
    text = str(value).strip()
    return text or None


def _fields(row: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for f in DISPLAY_FIELDS:
        if f in ("aliases", "former_surnames"):
            out[f] = _as_list(row[f])
        else:
            out[f] = _text(row[f])
    return out


def _postcode_area(district: str | None) -> str | None:
    """The postcode area: the leading letters of the district (E1W -> E, BD21 -> BD)."""
    if not district:
        return None
    head = ""
    for ch in district.strip().upper():
        if not ch.isalpha():
            break
        head += ch
    return head or None


def _place(district: str | None, lookup: Mapping[str, str] | None) -> str | None:
    """The local authority of a postcode district (lookup), else its postcode area."""
    if not district:
        return None
    if lookup:
        return lookup.get(district.upper().replace(" ", ""))
    return _postcode_area(district)


def _split_reasons(text: Any) -> list[str]:
    value = _text(text)
    return [r for r in value.split("; ") if r] if value else []
