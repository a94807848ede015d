"""Clustering: connected components, with strong non-matches kept apart (real DuckDB)."""

from __future__ import annotations

import duckdb
import pandas as pd
import pytest

from cselink import Settings
from cselink.clustering import cluster_pairs
from cselink.errors import ConfigError


def _con(scores: list[tuple[int, int, float, bool]], n: int) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect()
    con.execute(f"CREATE TABLE records AS SELECT range AS uid FROM range({n})")
    frame = pd.DataFrame(scores, columns=["uid_l", "uid_r", "match_probability",
                                          "possible_twins"])
    con.register("_s", frame)
    con.execute("CREATE TABLE scores AS SELECT * FROM _s")
    return con


def _clusters(con: duckdb.DuckDBPyConnection, **kwargs: float | None) -> list[int]:
    cluster_pairs(con, 0.5, **kwargs)
    return [c for (c,) in con.execute("SELECT cluster_id FROM clusters ORDER BY uid").fetchall()]


def test_a_chain_through_a_strong_non_match_is_split_at_its_weakest_link() -> None:
    # 0-1 and 2-3 are strong; 1-2 is a weaker link that chains them; 0 and 3 were
    # compared and found to be two people. 4 links to nobody.
    scores = [(0, 1, 0.999, False), (2, 3, 0.99, False), (1, 2, 0.6, False),
              (0, 3, 0.00001, False)]
    assert _clusters(_con(scores, 5)) == [0, 0, 0, 0, 4]
    assert _clusters(_con(scores, 5), cannot_link_below=0.001) == [0, 0, 2, 2, 4]


def test_possible_twins_and_pairs_above_the_cut_do_not_split() -> None:
    chain = [(0, 1, 0.999, False), (1, 2, 0.99, False)]
    twins = _con([*chain, (0, 2, 0.0001, True)], 3)
    assert _clusters(twins, cannot_link_below=0.001) == [0, 0, 0]
    weak = _con([*chain, (0, 2, 0.01, False)], 3)
    assert _clusters(weak, cannot_link_below=0.001) == [0, 0, 0]
    assert _clusters(weak, cannot_link_below=0.05) == [0, 0, 2]


def test_split_is_deterministic_whatever_the_row_order() -> None:
    scores = [(0, 1, 0.9, False), (1, 2, 0.8, False), (2, 3, 0.95, False),
              (3, 4, 0.7, False), (0, 4, 0.0, False), (1, 3, 0.0, False)]
    first = _clusters(_con(scores, 5), cannot_link_below=0.001)
    again = _clusters(_con(scores[::-1], 5), cannot_link_below=0.001)
    assert first == again
    # Every cannot-link pair ends in two clusters; every cluster is joined by links.
    assert first[0] != first[4] and first[1] != first[3]


def test_cannot_link_below_is_validated_in_settings_files() -> None:
    assert Settings.from_dict({"cannot_link_below": 0}).cannot_link_below == 0
    with pytest.raises(ConfigError, match="cannot_link_below"):
        Settings.from_dict({"cannot_link_below": 1.5})
