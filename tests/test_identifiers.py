"""The identifier rules: Python and SQL forms agree with each other and with python-stdnum."""

from __future__ import annotations

import re
import string
from collections.abc import Iterator

import duckdb
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stdnum.gb import nhs as stdnum_nhs
from stdnum.gb import upn as stdnum_upn

from cselink.errors import UsageError
from cselink.identifiers import (
    POSTCODE,
    POSTCODE_IN_TEXT,
    POSTCODE_IN_TEXT_LENIENT,
    POSTCODE_PARTS,
    UPN_LETTERS,
    nhs_check_digit,
    nhs_check_digits,
    nhs_digits,
    nhs_digits_sql,
    nhs_number_is_valid,
    nhs_number_valid_sql,
    postcodes_in_text,
    upn_check_letter,
    upn_check_letters,
    upn_is_valid,
)

PLACEHOLDERS = [d * 10 for d in string.digits]

#: Strings of digits with the separators agencies type, of lengths around ten.
nhs_like = st.text(alphabet="0123456789 -", min_size=0, max_size=14)
#: Ten digits made valid by their check digit half of the time.
ten_digits = st.integers(0, 10**9 - 1).flatmap(
    lambda nine: st.sampled_from(
        [f"{nine:09d}{nhs_check_digit(f'{nine:09d}') % 10}", f"{nine:09d}{nine % 10}"]
    )
)


@pytest.fixture(scope="module")
def db() -> Iterator[duckdb.DuckDBPyConnection]:
    c = duckdb.connect()
    yield c
    c.close()


def sql_valid(db: duckdb.DuckDBPyConnection, values: list[str | None]) -> list[bool | None]:
    """Run the SQL form over ``values`` in DuckDB, keeping their order."""
    digits = nhs_digits_sql("v")
    rows = db.execute(
        f"SELECT {nhs_number_valid_sql('v', digits)} FROM unnest(?::VARCHAR[]) "
        "WITH ORDINALITY AS t(v, i) ORDER BY i",
        [values],
    ).fetchall()
    return [r[0] for r in rows]


def stdnum_valid_not_placeholder(value: str) -> bool:
    d = stdnum_nhs.compact(value)
    return stdnum_nhs.is_valid(value) and len(set(d)) > 1


# =========================================================================== NHS number


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(nhs_like, ten_digits), min_size=1, max_size=40))
def test_nhs_python_and_sql_agree(db: duckdb.DuckDBPyConnection, values: list[str]) -> None:
    assert sql_valid(db, values) == [nhs_number_is_valid(v) for v in values]


@settings(max_examples=500, deadline=None)
@given(st.one_of(nhs_like, ten_digits))
def test_nhs_agrees_with_stdnum_except_placeholders(value: str) -> None:
    assert nhs_number_is_valid(value) == stdnum_valid_not_placeholder(value)


def test_nhs_placeholders_rejected_everywhere(db: duckdb.DuckDBPyConnection) -> None:
    # Every number of one repeated digit passes modulus 11: the rule must reject them itself.
    assert all(stdnum_nhs.is_valid(p) for p in PLACEHOLDERS)
    spaced = ["000 000 0000", "111-111-1111"]
    assert not any(nhs_number_is_valid(p) for p in PLACEHOLDERS + spaced)
    assert not any(sql_valid(db, PLACEHOLDERS + spaced))


def test_nhs_known_examples(db: duckdb.DuckDBPyConnection) -> None:
    good = ["9434765919", "943 476 5919", "943-476-5870", "9434765870"]
    bad = ["9434765918", "943476591", "94347659190", "94347659a9", "", "9434765 91 9x"]
    assert all(stdnum_nhs.is_valid(v) for v in good)
    assert [nhs_number_is_valid(v) for v in good + bad] == [True] * 4 + [False] * 6
    assert sql_valid(db, good + bad + [None]) == [True] * 4 + [False] * 6 + [None]


def test_nhs_check_digits_vectorised_match_scalar() -> None:
    rng = np.random.default_rng(14)
    nine = rng.integers(0, 10, size=(2000, 9))
    vector = nhs_check_digits(nine)
    assert vector.tolist() == [nhs_check_digit("".join(map(str, row))) for row in nine]
    assert (vector == 10).any()  # nine digits with no valid number occur
    assert nhs_digits("943 476-5919\t") == "9434765919"


# =========================================================================== UPN

upn_rest = st.tuples(
    st.text(alphabet=string.digits, min_size=11, max_size=11),
    st.sampled_from(string.digits + UPN_LETTERS),
).map("".join)


@settings(max_examples=500, deadline=None)
@given(upn_rest)
def test_upn_check_letter_agrees_with_stdnum(rest: str) -> None:
    assert upn_check_letter(rest) == stdnum_upn.calc_check_digit(rest)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from(["801", "201", "919", "330"]), upn_rest, st.sampled_from(UPN_LETTERS))
def test_upn_validity_agrees_with_stdnum(la: str, rest: str, letter: str) -> None:
    # stdnum also checks the LA number against its list; these LA numbers are on it.
    upn = letter + la + rest[3:]
    assert upn_is_valid(upn) == stdnum_upn.is_valid(upn)


def test_upn_examples_and_vectorised_form() -> None:
    assert upn_is_valid("B801200005001") and not upn_is_valid("A801200005001")
    assert upn_is_valid("h801200001001")  # case and edge spaces as agencies type them
    assert not upn_is_valid("H80120000100") and not upn_is_valid("I801200001001")
    rng = np.random.default_rng(14)
    digits = rng.integers(0, 10, size=(500, 12))
    scalar = [upn_check_letter("".join(map(str, row))) for row in digits]
    assert upn_check_letters(digits).tolist() == scalar
    with pytest.raises(UsageError):
        upn_check_letter("80120000100I")


# =========================================================================== postcodes

#: One example of each of the six UK formats, written as agencies write them.
FORMATS = ["M1 1AE", "B33 8TH", "CR2 6XH", "DN55 1PT", "W1A 0AX", "EC1A 1BB"]


def sql_postcodes(db: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    return db.execute("SELECT regexp_extract_all(?, ?, 1)", [text, POSTCODE_IN_TEXT]).fetchone()[0]


def test_postcode_formats(db: duckdb.DuckDBPyConnection) -> None:
    for pc in FORMATS:
        compact = pc.replace(" ", "")
        assert re.fullmatch(POSTCODE, pc) and re.fullmatch(POSTCODE, compact.lower())
        assert re.match(POSTCODE_PARTS, compact)
        text = f"Flat 2, 10 High Street, Anytown {pc.lower()}"
        assert postcodes_in_text(text) == sql_postcodes(db, text) == [pc.lower()]
    for not_pc in ["1AB 2CD", "TA1 2A", "TAA 2AB", "TA12 AB", "TA1 2AB3", "XTA1 2AB"]:
        assert not postcodes_in_text(not_pc) and not sql_postcodes(db, not_pc)
    assert [m.groups() for m in re.finditer(POSTCODE_PARTS, "SW1A2AA")] == [
        ("SW", "1A", "2", "AA")
    ]


#: Text made of postcode-shaped pieces and arbitrary Unicode between them.
postcode_text = st.lists(
    st.one_of(st.from_regex(POSTCODE, fullmatch=True), st.text(max_size=4)), max_size=6
).map("".join)


@settings(max_examples=200, deadline=None)
@given(postcode_text)
def test_postcode_python_and_sql_agree(db: duckdb.DuckDBPyConnection, text: str) -> None:
    assert postcodes_in_text(text) == sql_postcodes(db, text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=string.ascii_letters + string.digits + " ,", max_size=30))
def test_lenient_postcode_folded_form_agrees(text: str) -> None:
    upper = re.compile(POSTCODE_IN_TEXT_LENIENT, re.IGNORECASE).findall(text)
    folded = re.compile(POSTCODE_IN_TEXT_LENIENT.lower()).findall(text.lower())
    assert [(a.lower(), b.lower()) for a, b in upper] == folded
