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
    assert keys[(0, 1)] == "swapped_dob+forename"
    assert keys[(2, 3)] == "dob+nickname"


def test_a_record_without_a_usable_dob_is_paired_on_its_full_name() -> None:
    tight = tuple(r for r in Settings().blocking if r.max_pairs_per_record is None)
    frame = _frame([
        ("Jade", "Smith", "2010-03-04", "TA1 2AB"),
        ("Jade", "Smith", None, "LS6 1AB"),          # no DOB, moved
        ("Jade", "Smith", "1900-01-01", "M1 1AE"),   # placeholder DOB, moved
        ("Jade", "Smith", "2011-09-21", "B5 1AB"),   # a namesake, with a DOB
    ])
    with Linker({"a": frame}, settings=Settings(blocking=tight)) as linker:
        linker._ensure_gammas()
        keys = dict(((a, b), k) for a, b, k in linker.con.execute(
            "SELECT uid_l, uid_r, match_key FROM pairs").fetchall())
    assert keys == {(0, 1): "full_name+no_dob", (0, 2): "full_name+no_dob",
                    (1, 2): "full_name+no_dob", (1, 3): "full_name+no_dob",
                    (2, 3): "full_name+no_dob"}


def test_pairs_and_rule_statistics_agree() -> None:
    frame = _frame([("Jade", "Smith", "2010-03-04", "TA1 2AB"),
                    ("Jade", "Smith", "2010-03-04", "TA1 2AB"),
                    ("Jayde", "Smyth", "2010-04-03", "TA1 2AB"),
                    ("Rob", "Khan", "2011-06-07", None)])
    with Linker({"a": frame}) as linker:
        linker._ensure_gammas()
        stats = linker.blocking_stats
        n_pairs = linker.con.execute("SELECT count(*) FROM pairs").fetchall()[0][0]
        per_rule = dict(linker.con.execute(
            "SELECT match_key, count(*) FROM pairs GROUP BY ALL").fetchall())
    assert sum(s.new_pairs for s in stats) == n_pairs == 3
    assert {s.rule: s.new_pairs for s in stats if s.new_pairs} == per_rule
    assert all(s.pairs >= s.new_pairs for s in stats)
    assert next(s for s in stats if s.rule == "dob+surname").pairs == 1


def test_a_rule_that_would_explode_stops_before_materialising() -> None:
    frame = _frame([("Jade", "Smith", "2010-03-04", None)] * 50)
    settings_ = Settings(blocking=(BlockingRule(name="everyone-born-that-day", keys=("dob",)),),
                         max_pairs=100)
    with Linker({"a": frame}, settings=settings_) as linker, pytest.raises(PairExplosionError,
                                                                          match="everyone"):
        linker._ensure_gammas()


def _pairs_of(frame: pd.DataFrame, rules: tuple[BlockingRule, ...]) -> dict[tuple[int, int], str]:
    with Linker({"a": frame}, settings=Settings(blocking=rules)) as linker:
        linker._ensure_gammas()
        return dict(((a, b), k) for a, b, k in linker.con.execute(
            "SELECT uid_l, uid_r, match_key FROM pairs").fetchall())


def test_a_record_with_only_a_year_of_birth_pairs_within_that_year() -> None:
    tight = tuple(r for r in Settings().blocking if r.max_pairs_per_record is None)
    frame = _frame([
        ("Jade", "Smith", "2010-01-01", "TA1 2AB"),    # 1 January: a year-only marker
        ("Jade", "Smith", "2010-09-21", "LS6 1AB"),    # born that year
        ("Jade", "Smith", "2013-05-17", "B5 1AB"),     # a namesake born three years later
    ])
    keys = _pairs_of(frame, tight)
    assert keys == {(0, 1): "full_name+year_only"}


def test_nicknames_meet_main_forenames_not_two_middle_names() -> None:
    rules = (BlockingRule(name="dob+nickname", keys=("dob", "fn_alt")),)
    frame = pd.DataFrame([
        {"record_id": "0", "forename": "Amy", "middle_names": "Grace", "surname": "Khan",
         "dob": "2010-03-04"},
        {"record_id": "1", "forename": "Lily", "middle_names": "Grace", "surname": "Ward",
         "dob": "2010-03-04"},   # only the middle names agree: a stranger
        {"record_id": "2", "forename": "Grace", "surname": "Brown", "dob": "2010-03-04"},
    ])   # 2 goes by the forename the others have as a middle name
    assert _pairs_of(frame, rules) == {(0, 2): "dob+nickname", (1, 2): "dob+nickname"}


@given(st.lists(st.integers(0, 3_000_000), min_size=0, max_size=40),
       st.integers(0, 1_000_000), st.integers(1, 50))
def test_rule_groups_cover_every_rule_once_in_order_and_stay_small(
        estimates: list[int], n_records: int, max_rules: int) -> None:
    from cselink.blocking import INSERT_GROUP_ROWS, _insert_groups

    live = list(range(len(estimates)))
    groups = _insert_groups(live, estimates, n_records, max_rules)
    assert [i for g in groups for i in g] == live
    for g in groups:
        assert 1 <= len(g) <= max_rules
        # a rule alone may be large; rules share a statement only while they stay small
        assert len(g) == 1 or sum(estimates[i] + n_records for i in g) <= INSERT_GROUP_ROWS


def test_duckdb_memory_limit_is_read_in_bytes() -> None:
    import duckdb

    from cselink.blocking import _memory_limit_bytes

    con = duckdb.connect()
    con.execute("SET memory_limit = '200MB'")
    assert 190 * 2**20 < _memory_limit_bytes(con) < 200 * 10**6 + 1
    con.execute("SET memory_limit = '2GB'")
    assert 1.8 * 2**30 <= _memory_limit_bytes(con) <= 2 * 10**9
