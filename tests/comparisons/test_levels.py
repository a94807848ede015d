"""Literal level tables: (left record, right record) -> expected level, through DuckDB."""

from __future__ import annotations

import pytest

from tests.conftest import levels_of

P = {"forename": "Jade", "surname": "Smith", "dob": "2010-03-04"}

CASES = [
    # forename
    ("forename", {"forename": "Jade"}, {"forename": "JADE"}, "exact"),
    ("forename", {"forename": "Zoë"}, {"forename": "Zoe"}, "exact"),
    ("forename", {"forename": "Rob"}, {"forename": "Robert"}, "nickname_or_spelling"),
    ("forename", {"forename": "Mohammed"}, {"forename": "Muhammad"}, "nickname_or_spelling"),
    ("forename", {"forename": "Kayleigh"}, {"forename": "Kaylee"}, "nickname_or_spelling"),
    ("forename", {"forename": "Robert"}, {"forename": "Robin"}, "different"),
    ("forename", {"forename": "Jonathon"}, {"forename": "Jonathan"}, "nickname_or_spelling"),
    # A dropped last letter reads as a clipped spelling (cselink.comparisons.vectors
    # short_form_sql); two letters changed inside the name is a near spelling.
    ("forename", {"forename": "Chantelle"}, {"forename": "Chantell"}, "nickname_or_spelling"),
    ("forename", {"forename": "Chantelle"}, {"forename": "Chantalle"},
     "jaro_winkler_at_least_0.92"),
    ("forename", {"forename": "J"}, {"forename": "Jade"}, "initial"),
    ("forename", {"forename": "Jade"}, {"forename": "Priya"}, "different"),
    ("forename", {"forename": "Unknown"}, {"forename": "Jade"}, "missing"),
    ("forename", {"forename": "Baby Girl"}, {"forename": "Jade"}, "missing"),
    ("forename", {"forename": "Jade", "middle_names": "Louise"}, {"forename": "Louise"},
     "exact_other_name"),
    ("forename", {"forename": "Jade", "aliases": ["Shorty"]}, {"forename": "Shorty"},
     "exact_other_name"),
    # surname
    ("surname", {"surname": "O'Brien"}, {"surname": "O Brien"}, "exact"),
    ("surname", {"surname": "O\u2019Brien"}, {"surname": "OBRIEN"}, "exact"),
    ("surname", {"surname": "Brown", "former_surnames": ["Smith"]}, {"surname": "Smith"},
     "exact_other_name"),
    ("surname", {"surname": "Smith-Jones"}, {"surname": "Jones"}, "exact_other_name"),
    ("surname", {"surname": "Smith Jones"}, {"surname": "Smith"}, "exact_other_name"),
    ("surname", {"surname": "Green", "aliases": ["Jade Brown"]}, {"surname": "Brown"},
     "exact_other_name"),
    ("surname", {"surname": "Kowalski"}, {"surname": "Kowalska"}, "jaro_winkler_at_least_0.92"),
    ("surname", {"surname": "Robinson"}, {"surname": "Robinsen"}, "jaro_winkler_at_least_0.92"),
    ("surname", {"surname": "Smith"}, {"surname": "Smyth"}, "similar_or_sounds_alike"),
    ("surname", {"surname": "Hussain"}, {"surname": "Hussein"}, "jaro_winkler_at_least_0.92"),
    ("surname", {"surname": "Philips"}, {"surname": "Fillips"}, "similar_or_sounds_alike"),
    ("surname", {"surname": "Smith"}, {"surname": "Okafor"}, "different"),
    ("surname", {"surname": None}, {"surname": "Okafor"}, "missing"),
    # date of birth
    ("dob", {"dob": "2010-03-04"}, {"dob": "2010-03-04"}, "exact"),
    ("dob", {"dob": "2010-03-04"}, {"dob": "2010-04-03"}, "day_month_swapped"),
    ("dob", {"dob": "2010-03-14"}, {"dob": "2010-03-15"}, "one_edit"),
    ("dob", {"dob": "2010-03-04"}, {"dob": "2010-03-28"}, "same_year_and_month"),
    ("dob", {"dob": "2010-03-24"}, {"dob": "2011-03-24"}, "one_edit"),
    ("dob", {"dob": "2010-03-24"}, {"dob": "2009-03-24"}, "year_off_by_one"),
    ("dob", {"dob": "2010-03-24"}, {"dob": "2010-08-01"}, "same_year"),
    ("dob", {"dob": "2010-01-01"}, {"dob": "2010-01-01"}, "same_year"),
    ("dob", {"dob": "2010-01-01"}, {"dob": "2010-06-30"}, "same_year"),
    ("dob", {"dob": "1900-01-01"}, {"dob": "1900-01-01"}, "missing"),
    ("dob", {"dob": None}, {"dob": "2010-03-04"}, "missing"),
    ("dob", {"dob": "2010-03-24"}, {"dob": "2006-11-02"}, "different"),
    # postcode
    ("postcode", {"postcode": "TA1 2AB"}, {"postcode": "ta12ab"}, "exact"),
    ("postcode", {"postcode": "TA1 2AB"}, {"postcode": "TA1 2AB"}, "exact"),
    ("postcode", {"postcode": "B11 0AB"}, {"postcode": "B11 OAB"}, "exact"),
    ("postcode", {"postcode": "TA1 2AB"}, {"postcode": "TA1 2XY"}, "sector"),
    ("postcode", {"postcode": "TA1 2AB"}, {"postcode": "TA1 5XY"}, "district"),
    ("postcode", {"postcode": "2000"}, {"postcode": "2001"}, "one_edit"),
    ("postcode", {"postcode": "TA1 2AB"}, {"postcode": "M14 5PQ"}, "different"),
    ("postcode", {"postcode": None}, {"postcode": "M14 5PQ"}, "missing"),
    ("postcode", {"address": "12 Oak Rd, Taunton TA1 2AB"}, {"postcode": "TA1 2AB"}, "exact"),
    # address
    ("address", {"address": "12 Oak Rd, Taunton"}, {"address": "12 OAK ROAD TAUNTON"}, "exact"),
    ("address", {"address": "Flat 2, 12 Oak Road, Taunton"}, {"address": "12 Oak Road, Taunton"},
     "most_words"),
    ("address", {"address": "12 Oak Road, Taunton"}, {"address": "40 Oak Road, Bristol"},
     "some_words"),
    ("address", {"address": "12 Oak Road"}, {"address": "3 Mill Lane"}, "different"),
    ("address", {"address": "NFA"}, {"address": "3 Mill Lane"}, "missing"),
    # location: address and postcode as one
    ("location", {"address": "12 Oak Rd, Taunton", "postcode": "TA1 2AB"},
     {"address": "12 OAK ROAD TAUNTON", "postcode": "ta1 2ab"}, "same_address"),
    ("location", {"address": "12 Oak Rd, Taunton", "postcode": "TA1 2AB"},
     {"address": "12 Oak Rd, Taunton", "postcode": None}, "same_address"),
    ("location", {"address": "Flat 1, 3 Mill Lane", "postcode": "TA1 2AB"},
     {"address": "40 Oak Road", "postcode": "TA1 2AB"}, "same_postcode"),
    ("location", {"address": "12 Oak Rd, Taunton", "postcode": "TA1 2AB"},
     {"address": "12 Oak Road Taunton", "postcode": "TA1 9ZZ"}, "similar_address"),
    ("location", {"address": "3 Mill Lane", "postcode": "TA1 2AB"},
     {"address": "9 Park View", "postcode": "TA1 2XY"}, "same_sector"),
    ("location", {"address": "3 Mill Lane", "postcode": "TA1 2AB"},
     {"address": "9 Park View", "postcode": "TA1 5XY"}, "same_district"),
    ("location", {"address": "3 Mill Lane", "postcode": "TA1 2AB"},
     {"address": "9 Park View", "postcode": "M14 5PQ"}, "different"),
    ("location", {"address": None, "postcode": None},
     {"address": "9 Park View", "postcode": "M14 5PQ"}, "missing"),
    # sex and NHS number
    ("sex", {"sex": "F"}, {"sex": "F"}, "agree"),
    ("sex", {"sex": "F"}, {"sex": "M"}, "different"),
    ("sex", {"sex": "U"}, {"sex": "M"}, "missing"),
    ("nhs_number", {"nhs_number": "943 476 5919"}, {"nhs_number": "9434765919"}, "agree"),
    ("nhs_number", {"nhs_number": "9434765919"}, {"nhs_number": "4010232137"}, "different"),
    ("nhs_number", {"nhs_number": "9434765918"}, {"nhs_number": "9434765918"}, "missing"),
]


@pytest.mark.parametrize(("comparison", "left", "right", "expected"), CASES)
def test_level_table(comparison: str, left: dict, right: dict, expected: str) -> None:
    base_l = {k: v for k, v in P.items() if k not in left}
    base_r = {k: v for k, v in P.items() if k not in right}
    got = levels_of({**base_l, **left}, {**base_r, **right})
    assert got[comparison] == expected
    # Every comparison is symmetric.
    assert levels_of({**base_r, **right}, {**base_l, **left}) == got


def test_swapped_forename_and_surname_is_a_near_match_not_exact() -> None:
    got = levels_of({"forename": "Smith", "surname": "Jade"},
                    {"forename": "Jade", "surname": "Smith"})
    assert got["forename"] == "jaro_winkler_at_least_0.92"
    assert got["surname"] == "jaro_winkler_at_least_0.92"
