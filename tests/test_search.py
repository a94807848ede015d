"""Look-ups against a persisted index (``Linker.open(...).search``) and reopening an index.

One synthetic population (300 people, seed 3) is generated per module. The index holds the
agencies' canonical files except police; the police records are the queries, so every
query has an answer worked out another way: linking all the agencies in one run.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from cselink import Linker
from cselink.comparisons import COMPARISONS
from cselink.config import BlockingRule, Settings
from cselink.errors import UsageError
from cselink.explain import evidence_sql, reasons_sql, reasons_text
from cselink.synthetic import AGENCIES, SynthConfig, generate
from tests.conftest import WARM_UP, build_index

INDEXED = [a for a in AGENCIES if a != "police"]
KEY = ["query_id", "source", "record_id"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(SynthConfig(people=300, seed=3, referrals=20), out)
    return out


def _canonical(folder: Path, agency: str) -> pd.DataFrame:
    return pd.read_csv(folder / "canonical" / f"{agency}.csv", dtype=str, keep_default_na=False)


@pytest.fixture(scope="module")
def unsearched(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index file, trained, never searched (no look-up tables yet)."""
    sources = {a: folder / "canonical" / f"{a}.csv" for a in INDEXED}
    return build_index(sources, tmp_path_factory.mktemp("index") / "index.duckdb",
                       searched=False)


@pytest.fixture(scope="module")
def index(unsearched: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of ``unsearched`` that has been searched once (look-up tables built)."""
    db = tmp_path_factory.mktemp("searched") / "index.duckdb"
    shutil.copy(unsearched, db)
    with Linker.open(db) as linker:
        linker.search(WARM_UP)
    return db


@pytest.fixture(scope="module")
def queries(folder: Path) -> pd.DataFrame:
    return _canonical(folder, "police").drop(columns=["source"])


@pytest.fixture(scope="module")
def found(index: Path, queries: pd.DataFrame) -> pd.DataFrame:
    with Linker.open(index) as linker:
        return linker.search(queries)


def test_search_scores_the_pairs_a_full_link_scores_the_same_way(
        folder: Path, queries: pd.DataFrame, found: pd.DataFrame) -> None:
    sources = {a: _canonical(folder, a) for a in [*INDEXED, "police"]}
    with Linker(sources) as linker:
        linked = linker.predict(threshold=0.0)
    police_l, police_r = linked["source_l"] == "police", linked["source_r"] == "police"
    cross = linked[police_l ^ police_r]
    flip = police_l[police_l ^ police_r]
    both = pd.DataFrame({
        "query_id": cross["record_id_l"].where(flip, cross["record_id_r"]),
        "source": cross["source_r"].where(flip, cross["source_l"]),
        "record_id": cross["record_id_r"].where(flip, cross["record_id_l"]),
        **{c: cross[c] for c in cross.columns if c.startswith("gamma_")},
    })
    assert len(both) > len(queries)  # most police records have a candidate elsewhere
    merged = both.merge(found, on=KEY, how="left", suffixes=("_link", "_search"),
                        indicator=True)
    # Every pair the full run blocks, a search blocks too (it uses every rule).
    assert (merged["_merge"] == "both").all()
    for c in (c for c in both.columns if c.startswith("gamma_")):
        assert (merged[f"{c}_link"].astype(int) == merged[f"{c}_search"].astype(int)).all(), c


def test_search_gives_each_candidate_once(found: pd.DataFrame) -> None:
    assert len(found) and not found.duplicated(KEY).any()


def test_search_orders_candidates_best_first(found: pd.DataFrame) -> None:
    for _, group in found.groupby("query_id", sort=False):
        assert group["match_weight"].is_monotonic_decreasing


def test_search_reads_only_the_lookup_tables(index: Path, queries: pd.DataFrame,
                                             found: pd.DataFrame, tmp_path: Path) -> None:
    db = tmp_path / "index.duckdb"
    shutil.copy(index, db)
    con = duckdb.connect(str(db))
    for table in ("records", "name_variants", "block_keys", "input_records", "name_tokens"):
        con.execute(f"ALTER TABLE {table} RENAME TO hidden_{table}")
    con.close()
    with Linker.open(db) as linker:
        again = linker.search(queries)
    pd.testing.assert_frame_equal(again, found)


def test_search_on_a_read_only_index(index: Path, unsearched: Path, queries: pd.DataFrame,
                                     found: pd.DataFrame) -> None:
    with Linker.open(index, read_only=True) as linker:
        pd.testing.assert_frame_equal(linker.search(queries), found)
    with Linker.open(unsearched, read_only=True) as linker, \
            pytest.raises(UsageError, match="read_only"):
        linker.search(queries.head(1))


def test_search_reasons_call_the_query_the_referral(index: Path, folder: Path) -> None:
    target = _canonical(folder, "education").iloc[0]
    query = {"record_id": "R1", "forename": target["forename"], "surname": "Zzyxq",
             "former_surnames": target["surname"], "dob": target["dob"],
             "address": target["address"], "postcode": target["postcode"]}
    with Linker.open(index) as linker:
        out = linker.search(query)
    row = out[(out["source"] == "education") & (out["record_id"] == target["record_id"])]
    assert len(row) == 1
    assert "surname matches former surname" in row["reasons"].iloc[0]
    assert "recorded by the referral" in row["reasons"].iloc[0]
    assert not out["reasons"].str.contains("__query__").any()


def test_search_prior_defaults_to_one_in_the_indexed_records(index: Path,
                                                              queries: pd.DataFrame) -> None:
    some = queries.head(5)
    with Linker.open(index) as linker:
        n = int(linker.con.execute("SELECT count(*) FROM records").fetchall()[0][0])
        default = linker.search(some)
        raised = linker.search(some, prior=0.2)
        for bad in (0.0, 1.0, -0.1, 2.0):
            with pytest.raises(UsageError, match="prior"):
                linker.search(some, prior=bad)
    both = default.merge(raised, on=KEY, suffixes=("", "_raised"))
    plain = both[~both["possible_twins"].astype(bool)]
    assert len(plain)
    shift = math.log2(0.2 / 0.8) - math.log2((1 / n) / (1 - 1 / n))
    assert (plain["match_weight_raised"] - plain["match_weight"] - shift).abs().max() < 1e-9
    assert (both["match_probability_raised"] >= both["match_probability"]).all()


def test_reopened_index_reuses_its_scores(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.duckdb"
    sources = {a: folder / "canonical" / f"{a}.csv" for a in INDEXED}
    with Linker(sources, database=db) as linker:
        first = linker.predict(threshold=0.5)
    with Linker.open(db) as linker:
        again = linker.predict(threshold=0.5)
        assert not {"blocking", "compare", "score", "train"} & set(linker.timings)
    pd.testing.assert_frame_equal(again, first)
    with Linker.open(db, read_only=True) as linker:
        pd.testing.assert_frame_equal(linker.predict(threshold=0.5), first)

    # A model trained again is a new model: its scores are computed, once.
    with Linker.open(db) as linker:
        linker.fit()
        linker.predict(threshold=0.5)
        assert "score" in linker.timings
    with Linker.open(db) as linker:
        linker.predict(threshold=0.5)
        assert "score" not in linker.timings


def test_reingested_index_never_reuses_stale_scores(folder: Path, tmp_path: Path) -> None:
    db = tmp_path / "index.duckdb"
    full = {a: _canonical(folder, a) for a in INDEXED}
    with Linker(full, database=db) as linker:
        linker.predict(threshold=0.5)
        model = linker.model
    fewer = {a: frame.head(len(frame) // 2) for a, frame in full.items()}
    with Linker(fewer, database=db, model=model) as linker:
        pass
    with Linker.open(db) as linker:
        reopened = linker.predict(threshold=0.0)
        assert "score" in linker.timings
    with Linker(fewer, model=model) as linker:
        fresh = linker.predict(threshold=0.0)
    pd.testing.assert_frame_equal(reopened, fresh)


def test_read_only_index_without_scores_says_so(unsearched: Path) -> None:
    with Linker.open(unsearched, read_only=True) as linker, \
            pytest.raises(UsageError, match="read_only"):
        linker.predict()


def test_search_of_an_in_memory_linker_needs_no_file(folder: Path) -> None:
    frame = _canonical(folder, "health")
    with Linker({"health": frame, "education": _canonical(folder, "education")},
                settings=Settings()) as linker:
        out = linker.search(frame.drop(columns=["source"]).head(3))
        comparisons = linker.comparisons
    assert set(out["query_id"]) <= set(frame["record_id"].head(3))
    # each record finds itself, with the highest weight among its candidates
    best = out.groupby("query_id").head(1)
    assert (best["record_id"] == best["query_id"]).all() and (best["source"] == "health").all()
    assert set(c for c in out.columns if c.startswith("gamma_")) == {
        COMPARISONS[c].gamma_column for c in comparisons}


def test_search_leaves_the_connection_as_it_found_it(index: Path, queries: pd.DataFrame) -> None:
    with Linker.open(index) as linker:
        state = "SELECT current_database(), current_setting('search_path'), " \
                "current_setting('threads')"
        before = linker.con.execute(state).fetchall()
        linker.search(queries.head(1))
        assert linker.con.execute(state).fetchall() == before
        names = {r[0] for r in linker.con.execute(
            "SELECT database_name FROM duckdb_databases()").fetchall()}
        assert "cselink_query" not in names


def test_search_leaves_out_the_rules_a_dedupe_skips(folder: Path, index: Path) -> None:
    with Linker.open(index) as opened:
        model = opened.model
    education = _canonical(folder, "education")
    target = education.iloc[0]
    # Shares only the date of birth with the target record.
    query = {"record_id": "R1", "forename": "Qwxyz", "surname": "Zyxwq", "dob": target["dob"]}
    for cap, found in ((None, True), (1e-6, False)):
        rules = (BlockingRule(name="full_name", keys=("fn", "sn")),
                 BlockingRule(name="dob_only", keys=("dob",), max_pairs_per_record=cap))
        with Linker({"education": education}, settings=Settings(blocking=rules),
                    model=model) as linker:
            out = linker.search(query)
        hit = bool(((out["source"] == "education")
                    & (out["record_id"] == target["record_id"])).any())
        assert hit is found, cap


def test_search_reasons_in_python_are_the_sql_reasons(folder: Path) -> None:
    """``reasons_text`` (a search's reasons) gives what ``reasons_sql`` gives, row by row."""
    sources = {a: _canonical(folder, a) for a in AGENCIES}
    with Linker(sources) as linker:
        linker.predict(threshold=0.0)
        con, comps = linker.con, linker.comparisons
        con.execute("CREATE OR REPLACE TEMP TABLE _out AS SELECT * FROM scores")
        con.execute(evidence_sql())
        names, learned_join = linker._reason_names_sql()
        rows = con.execute(
            f"SELECT *, {reasons_sql(comps)} AS sql_reasons FROM ("
            f"SELECT s.*, l.source AS source_l, r.source AS source_r, e.fn_ev, e.sn_ev, {names} "
            "FROM scores s JOIN records l ON l.uid = s.uid_l JOIN records r ON r.uid = s.uid_r "
            f"LEFT JOIN _evidence e ON e.uid_l = s.uid_l AND e.uid_r = s.uid_r {learned_join})"
        ).df()
    # Every kind of reason is there: a recorded other name, names swapped, relatives.
    assert rows["fn_ev"].notna().any() and rows["sn_ev"].notna().any()
    assert rows["swapped"].fillna(False).astype(bool).any()
    assert rows["possible_twins"].astype(bool).any()
    for row in rows.to_dict(orient="records"):
        assert reasons_text(row, comps, source_l=row["source_l"],
                            source_r=row["source_r"]) == row["sql_reasons"]
