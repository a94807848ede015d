"""Clipped short forms (Alfie / Alfred, Bella / Isabella): the SQL rule through real DuckDB,
literal pairs both ways round, and the quick search's Python rule held to it."""

from __future__ import annotations

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cselink.comparisons.vectors import short_form_sql
from cselink.quicksearch import is_short_form

CASES = [
    ("alfie", "alfred", True), ("ollie", "oliver", True), ("freddie", "frederick", True),
    ("cal", "callum", True), ("max", "maximilian", True), ("immy", "imogen", True),
    ("charlie", "charlotte", True), ("bella", "isabella", True), ("tilda", "matilda", True),
    ("xander", "alexander", True), ("beth", "elizabeth", True), ("drew", "andrew", True),
    # Not clipped forms: different names, a two-letter tail, the same length.
    ("ian", "brian", False), ("ana", "diana", False), ("mia", "amelia", False),
    ("jo", "jordan", False), ("ella", "ellie", False), ("oscar", "oskar", False),
    ("a", "alan", False), ("jade", "jade", False),
]


def _sql(con: duckdb.DuckDBPyConnection, a: str, b: str) -> bool:
    return bool(con.execute(f"SELECT {short_form_sql('a', 'b')} FROM (SELECT ?::VARCHAR AS a, "
                            "?::VARCHAR AS b)", [a, b]).fetchall()[0][0])


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_short_forms(a: str, b: str, expected: bool) -> None:
    con = duckdb.connect()
    assert _sql(con, a, b) is expected and _sql(con, b, a) is expected
    assert is_short_form(a, b) is expected and is_short_form(b, a) is expected


def test_missing_names_are_not_short_forms() -> None:
    con = duckdb.connect()
    sql = short_form_sql("NULL", "'alf'")
    assert con.execute(f"SELECT {sql}").fetchall()[0][0] is False


_NAMES = st.text(alphabet="abeilmnorsty", min_size=1, max_size=9)


@settings(max_examples=300, deadline=None)
@given(_NAMES, _NAMES)
def test_the_python_rule_is_the_sql_rule(a: str, b: str) -> None:
    con = duckdb.connect()
    assert is_short_form(a, b) is _sql(con, a, b)
