"""The comparisons cselink knows, as level tables (strongest level first).

Name comparisons (``forename``, ``surname``) read columns that
:mod:`cselink.comparisons.vectors` computes per pair: the main names ``fn_l, fn_r``, their
similarity features ``fn_jw, fn_alt, fn_phon`` (once per DISTINCT pair of names), and
``fn_any``: true when any name one record is known by (main name, alias, middle name) is
also a name of the other (and the ``sn_`` twins, plus ``sn_stem``; surnames include former
surnames and parts of double-barrelled names). Record comparisons read the two ``records``
rows as ``l.`` and ``r.``.
"""

from __future__ import annotations

from typing import Final

from .levels import Comparison, ComparisonLevel

L = ComparisonLevel

FORENAME: Final = Comparison(
    name="forename",
    description="first given name, best over every name recorded",
    levels=(
        L(label="missing", condition="(fn_l IS NULL OR fn_r IS NULL) AND NOT fn_any",
          is_null=True, description="forename missing"),
        L(label="exact", condition="fn_l = fn_r", tf=True, description="same forename"),
        L(label="exact_other_name", condition="fn_any",
          description="forename matches another recorded name"),
        L(label="nickname_or_spelling", condition="fn_alt",
          description="forename is a nickname or spelling variant"),
        L(label="jaro_winkler_at_least_0.92", condition="fn_jw >= 0.92",
          description="forename spelt slightly differently"),
        L(label="similar_or_sounds_alike", condition="fn_jw >= 0.80 OR fn_phon",
          description="forename similar or sounds alike"),
        L(label="initial", condition="(length(fn_l) = 1 OR length(fn_r) = 1) "
                                     "AND fn_l[1] = fn_r[1]",
          description="forename initial agrees"),
        L(label="different", condition="TRUE", description="forenames differ"),
    ),
)

SURNAME: Final = Comparison(
    name="surname",
    description="surname, best over aliases, former surnames and parts of double-barrelled names",
    levels=(
        L(label="missing", condition="(sn_l IS NULL OR sn_r IS NULL) AND NOT sn_any",
          is_null=True, description="surname missing"),
        L(label="exact", condition="sn_l = sn_r", tf=True, description="same surname"),
        L(label="exact_other_name", condition="sn_any",
          description="surname matches another recorded surname"),
        L(label="jaro_winkler_at_least_0.92", condition="sn_jw >= 0.92 OR sn_stem",
          description="surname spelt slightly differently"),
        L(label="similar_or_sounds_alike", condition="sn_jw >= 0.80 OR sn_phon",
          description="surname similar or sounds alike"),
        L(label="different", condition="TRUE", description="surnames differ"),
    ),
)


DOB: Final = Comparison(
    name="dob",
    description="date of birth; placeholders count as missing, year-only dates as the year",
    levels=(
        L(label="missing", condition="l.dob_year IS NULL OR r.dob_year IS NULL", is_null=True,
          description="date of birth missing or a placeholder"),
        L(label="exact", condition="l.dob = r.dob", description="same date of birth"),
        L(label="day_month_swapped", condition="l.dob = r.dob_swapped",
          description="day and month of birth swapped"),
        L(label="one_edit",
          # Hamming on fixed-width yyyymmdd: one digit wrong, or two digits transposed
          # (same digits, two places differ); much cheaper than Damerau-Levenshtein.
          condition="hamming(l.dob_ymd, r.dob_ymd) <= 1 OR (hamming(l.dob_ymd, r.dob_ymd) = 2 "
                    "AND list_sort(string_split(l.dob_ymd, '')) = "
                    "list_sort(string_split(r.dob_ymd, '')))",
          description="date of birth differs by one digit or two swapped digits"),
        L(label="same_year_and_month",
          condition="year(l.dob) = year(r.dob) AND month(l.dob) = month(r.dob)",
          description="same year and month of birth"),
        L(label="year_off_by_one",
          condition="abs(year(l.dob) - year(r.dob)) = 1 AND month(l.dob) = month(r.dob) "
                    "AND day(l.dob) = day(r.dob)",
          description="year of birth off by one"),
        L(label="same_year", condition="l.dob_year = r.dob_year",
          description="same year of birth"),
        L(label="different", condition="TRUE", description="dates of birth differ"),
    ),
)

POSTCODE: Final = Comparison(
    name="postcode",
    description="postcode: full, sector (TA1 2), district (TA1), two characters swapped, or "
                "one character apart",
    levels=(
        L(label="missing", condition="l.pc IS NULL OR r.pc IS NULL", is_null=True,
          description="postcode missing"),
        L(label="exact", condition="l.pc = r.pc", description="same postcode"),
        L(label="sector", condition="l.pc_sector = r.pc_sector",
          description="same postcode sector"),
        L(label="district", condition="l.pc_outward = r.pc_outward",
          description="same postcode district"),
        # Two neighbouring characters keyed the wrong way round (2169 / 2196): a slip of
        # the fingers, far rarer between strangers than one wrong character.
        L(label="transposed",
          condition="levenshtein(l.pc, r.pc) = 2 AND damerau_levenshtein(l.pc, r.pc) = 1",
          description="postcode with two characters swapped"),
        L(label="one_edit", condition="levenshtein(l.pc, r.pc) <= 1",
          description="postcode differs by one character"),
        L(label="different", condition="TRUE", description="postcodes differ"),
    ),
)

#: Dice overlap of the address word sets (each set holds distinct words); list_filter with
#: list_contains is several times faster in DuckDB than list_intersect.
_DICE_SQL = (
    "2 * len(list_filter(l.addr_tokens, lambda t: list_contains(r.addr_tokens, t))) / "
    "(len(l.addr_tokens) + len(r.addr_tokens))"
)
#: Typo-tolerant similarity of the whole address string.
_JW_SQL = "jaro_winkler_similarity(l.addr, r.addr)"
_ADDRESS_FEATURES = (("addr_dice", _DICE_SQL), ("addr_jw", _JW_SQL))
_DICE, _JW = "addr_dice", "addr_jw"

ADDRESS: Final = Comparison(
    name="address",
    features=_ADDRESS_FEATURES,
    description="address words in common (Dice), or the whole address nearly the same",
    levels=(
        L(label="missing", condition="l.addr IS NULL OR r.addr IS NULL", is_null=True,
          description="address missing"),
        L(label="exact", condition="l.addr = r.addr", description="same address"),
        L(label="most_words", condition=f"{_DICE} >= 0.75 OR {_JW} >= 0.93",
          description="address mostly the same"),
        L(label="some_words", condition=f"{_DICE} >= 0.45 OR {_JW} >= 0.85",
          description="address partly the same"),
        L(label="different", condition="TRUE", description="addresses differ"),
    ),
)

_PC_MISSING = "(l.pc IS NULL OR r.pc IS NULL)"
_ADDR_MISSING = "(l.addr IS NULL OR r.addr IS NULL)"

LOCATION: Final = Comparison(
    name="location",
    features=_ADDRESS_FEATURES,
    description="address and postcode as one piece of evidence (a household's two views), "
                "so that siblings' shared home is not counted twice",
    levels=(
        L(label="missing", condition=f"{_PC_MISSING} AND {_ADDR_MISSING}", is_null=True,
          description="address and postcode missing"),
        L(label="same_address",
          condition=f"NOT {_ADDR_MISSING} AND (l.addr = r.addr OR {_DICE} >= 0.75 "
                    f"OR {_JW} >= 0.93) AND ({_PC_MISSING} OR l.pc = r.pc)",
          description="same address"),
        L(label="same_postcode", condition=f"NOT {_PC_MISSING} AND l.pc = r.pc",
          description="same postcode"),
        L(label="similar_address",
          condition=f"NOT {_ADDR_MISSING} AND ({_DICE} >= 0.75 OR {_JW} >= 0.93)",
          description="address nearly the same"),
        L(label="same_sector", condition=f"NOT {_PC_MISSING} AND l.pc_sector = r.pc_sector "
                                         f"OR NOT {_ADDR_MISSING} AND {_DICE} >= 0.45",
          description="same postcode sector or partly the same address"),
        L(label="same_district",
          condition=f"NOT {_PC_MISSING} AND (l.pc_outward = r.pc_outward "
                    "OR damerau_levenshtein(l.pc, r.pc) <= 1)",
          description="same postcode district"),
        L(label="different", condition="TRUE", description="lives elsewhere"),
    ),
)

SEX: Final = Comparison(
    name="sex",
    description="sex recorded",
    levels=(
        L(label="missing", condition="l.sex IS NULL OR r.sex IS NULL", is_null=True,
          description="sex not recorded"),
        L(label="agree", condition="l.sex = r.sex", description="same sex"),
        L(label="different", condition="TRUE", description="sex differs"),
    ),
)

NHS_NUMBER: Final = Comparison(
    name="nhs_number",
    description="NHS number (valid check digit only)",
    levels=(
        L(label="missing", condition="l.nhs IS NULL OR r.nhs IS NULL", is_null=True,
          description="no valid NHS number on both"),
        L(label="agree", condition="l.nhs = r.nhs", description="same NHS number"),
        L(label="different", condition="TRUE", description="NHS numbers differ"),
    ),
)

#: Every comparison by name.
COMPARISONS: Final[dict[str, Comparison]] = {
    c.name: c for c in (FORENAME, SURNAME, DOB, LOCATION, POSTCODE, ADDRESS, SEX, NHS_NUMBER)
}
#: Comparisons evaluated over name variants rather than record columns.
NAME_COMPARISONS: Final[frozenset[str]] = frozenset({"forename", "surname"})
