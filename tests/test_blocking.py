"""Blocking: rules are equi-joins, pairs are ordered, a subset of the cross join, and bounded."""

from __future__ import annotations

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cselink.config import BlockingRule, Settings
from cselink.errors import PairExplosionError
from cselink.pipeline import Linker

NAMES = ["Jade", "Jayde", "Rob", "Robert", "Amir", "Smith", "Khan", None]
DOBS = ["2010-03-04", "2010-04-03", "2010-03-05", "2011-03-04", None]


def _frame(rows: list[tuple]) -> pd.DataFrame:
    return pd.DataFrame(
        [{"record_id": str(i), "forename": f, "surname": s, "dob": d, "postcode": p}
         for i, (f, s, d, p) in enumerate(rows)]
    )


records = st.lists(
    st.tuples(st.sampled_from(NAMES), st.sampled_from(NAMES), st.sampled_from(DOBS),
              st.sampled_from(["TA1 2AB", "TA1 2AD", "M14 5PQ", None])),
    min_size=2, max_size=12,
)


@settings(max_examples=25, deadline=None)
@given(records)
def test_pairs_are_ordered_distinct_and_within_the_cross_join(rows: list[tuple]) -> None:
    with Linker({"a": _frame(rows)}) as linker:
        linker._ensure_gammas()
        pairs = linker.con.execute("SELECT uid_l, uid_r FROM pairs").fetchall()
        n = linker.con.execute("SELECT count(*) FROM records").fetchone()[0]
    assert all(a < b for a, b in pairs)
    assert len(set(pairs)) == len(pairs)
    assert len(pairs) <= n * (n - 1) // 2


def test_link_mode_pairs_cross_sources_only() -> None:
    left = _frame([("Jade", "Smith", "2010-03-04", None), ("Jade", "Smith", "2010-03-04", None)])
    right = _frame([("Jade", "Smith", "2010-03-04", None)])
    with Linker({"l": left, "r": right}, settings=Settings(link_type="link")) as linker:
        linker._ensure_gammas()
        rows = linker.con.execute(
            "SELECT l.source, r.source FROM pairs p JOIN records l ON l.uid = p.uid_l "
            "JOIN records r ON r.uid = p.uid_r").fetchall()
    assert rows == [("l", "r"), ("l", "r")]


def test_swapped_day_month_and_nickname_rules_find_their_pairs() -> None:
    frame = _frame([
        ("Jade", "Smith", "2010-03-04", None),
        ("Jayde", "Brown", "2010-04-03", None),   # swapped DOB, changed surname
        ("Rob", "Khan", "2011-06-07", None),
        ("Robert", "Patel", "2011-06-07", None),  # nickname, changed surname
    ])
    with Linker({"a": frame}) as linker:
        linker._ensure_gammas()
        keys = dict(((a, b), k) for a, b, k in linker.con.execute(
            "SELECT uid_l, uid_r, match_key FROM pairs").fetchall())
    assert keys[(0, 1)] == "swapped_dob+forename_initial"
    assert keys[(2, 3)] == "dob+nickname"


def test_a_rule_that_would_explode_stops_before_materialising() -> None:
    frame = _frame([("Jade", "Smith", "2010-03-04", None)] * 50)
    settings_ = Settings(blocking=(BlockingRule(name="everyone-born-that-day", keys=("dob",)),),
                         max_pairs=100)
    with Linker({"a": frame}, settings=settings_) as linker, pytest.raises(PairExplosionError,
                                                                          match="everyone"):
        linker._ensure_gammas()
