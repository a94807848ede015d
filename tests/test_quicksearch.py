"""The Python search path (:mod:`cselink.quicksearch`) against the SQL it stands in for.

The SQL of :mod:`cselink.standardise`, :mod:`cselink.comparisons` and
:mod:`cselink.scoring` is the definition; these tests hold the Python path to the same
records, name variants, gammas, scores and search results on every record and candidate
pair of a hard synthetic population (each kind of corruption the generator makes, twins,
namesakes), plus literal edge cases. A change made to one side only fails here.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from cselink import Linker
from cselink.blocking import key_hash, key_hash_sql
from cselink.comparisons import COMPARISONS
from cselink.config import BLOCKING_KEYS, BlockingRule, Settings
from cselink.profile import WITHOUT_HOUSEHOLDS
from cselink.quicksearch import (
    PairScorer,
    jaro_winkler,
    pair_gammas,
    standardise_rows,
    term_frequency_constants,
)
from cselink.synthetic import AGENCIES, SynthConfig, generate
from tests.conftest import build_index

INDEXED = [a for a in AGENCIES if a != "police"]


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("synthetic")
    generate(SynthConfig(people=1000, seed=11, difficulty="hard", referrals=30), out)
    return out


def _canonical(folder: Path, agency: str) -> pd.DataFrame:
    return pd.read_csv(folder / "canonical" / f"{agency}.csv", dtype=str, keep_default_na=False)


#: Literal records for what a generated population may not hold: NULL parts, a year-only,
#: a placeholder and a future date of birth, a postcode inside the address, an alias
#: without a surname, Singh as a middle name, a double-barrelled surname, a lone initial.
EDGE_CASES = pd.DataFrame([
    {"record_id": "e1", "forename": "Jade Anne", "middle_names": "Singh", "surname": "Kaur",
     "aliases": "JJ;Jade Brown", "former_surnames": "Smith;Smith-Jones", "dob": "2010-01-01",
     "sex": "F", "address": "12 High St, Taunton TA1 2AB", "postcode": ""},
    {"record_id": "e2", "forename": "", "surname": "Smith-Jones", "dob": "1900-01-01",
     "address": "", "postcode": "ta12ab"},
    {"record_id": "e3", "forename": "J", "surname": "", "dob": "2030-05-06", "sex": "U",
     "nhs_number": "943 476 5919"},
    {"record_id": "e4", "forename": "Mohammed", "surname": "Begum", "middle_names": "Ali",
     "dob": "2009-07-01", "aliases": "Mo", "address": "Flat 3, 7a Station Road"},
    {"record_id": "e5", "forename": "Łukasz", "surname": "Kowalski", "dob": "2011-12-03",
     "former_surnames": "Kowalska", "postcode": "SW1A 1AA", "address": "1 The Mall"},
    {"record_id": "e6"},
]).fillna("")


@pytest.fixture(scope="module", params=["profiled", "postcode_and_address_apart"])
def linked(folder: Path, request: pytest.FixtureRequest) -> Linker:
    """Every agency (and the edge cases) linked at threshold 0, tables kept: with the
    comparisons the data profile chooses (one location) and with the other shape the
    profile may choose (postcode and address apart), so every comparison of the library
    is held to the SQL."""
    sources = {a: _canonical(folder, a) for a in AGENCIES}
    sources["edge"] = EDGE_CASES
    comparisons = WITHOUT_HOUSEHOLDS if request.param == "postcode_and_address_apart" else ()
    linker = Linker(sources, settings=Settings(comparisons=comparisons))
    linker.predict(threshold=0.0)
    yield linker
    linker.close()


def _rows(con: duckdb.DuckDBPyConnection, sql: str) -> list[dict[str, Any]]:
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def test_key_hash_is_the_md5_duckdb_computes() -> None:
    con = duckdb.connect()
    keys = [(0, "p", ["jade", date(2010, 3, 4)]), (7, "q", [2011, "smth", 0]),
            (12, "p", ["o'brien", "TA1 2AB"]), (3, "q", [date(1999, 12, 31), "zoë"])]
    for rule, role, values in keys:
        exprs = [f"?::{type_}" for type_ in
                 ("DATE" if isinstance(v, date) else "BIGINT" if isinstance(v, int)
                  else "VARCHAR" for v in values)]
        (sql_value,) = con.execute(f"SELECT {key_hash_sql(rule, role, exprs)}",
                                   values).fetchone()
        assert key_hash(rule, role, values) == sql_value


def test_standardise_rows_gives_the_sql_records_and_variants(linked: Linker) -> None:
    con = linked.con
    inputs = _rows(con, "SELECT * FROM input_records ORDER BY uid")
    records, variants = standardise_rows(inputs)
    sql = {r["uid"]: r for r in _rows(con, "SELECT * FROM records")}
    assert len(records) == len(sql) > 1500
    for rec in records:
        want = sql[rec["uid"]]
        for col in ("fn", "sn", "mid", "dob", "dob_year", "dob_ymd", "dob_quality",
                    "dob_swapped", "sex", "pc", "pc_outward", "pc_sector", "addr", "addr_head",
                    "nhs", "fn_set", "sn_set"):
            assert rec[col] == want[col], (rec["uid"], col)
        assert set(rec["addr_tokens"] or ()) == set(want["addr_tokens"] or ()), rec["uid"]
    sql_variants = con.execute(
        "SELECT uid, kind, fn, sn, detail FROM name_variants ORDER BY uid, "
        "list_position(['primary', 'alias', 'former_surname', 'surname_part', "
        "'middle_name'], kind), fn, sn").fetchall()
    assert [tuple(v) for v in variants] == sql_variants
    kinds = {v[1] for v in variants}
    assert kinds == {"primary", "alias", "former_surname", "surname_part", "middle_name"}


def test_pair_gammas_and_scores_are_the_sql_ones_on_every_candidate_pair(
        linked: Linker) -> None:
    con = linked.con
    records = {r["uid"]: r for r in _rows(con, "SELECT * FROM records")}
    tf = {part: ({v: t for v, t in con.execute(f"SELECT value, tf FROM {table}").fetchall()},
                 *term_frequency_constants(con)[part])
          for part, table in (("forename", "tf_fn"), ("surname", "tf_sn"))}
    settings = linked.settings
    scorer = PairScorer(linked._model, tf=tf, tf_adjust=settings.tf_adjust,
                        tf_cap=settings.tf_weight_cap,
                        twins_probability=linked.twins_probability,
                        siblings_probability=linked.siblings_probability)
    scores = _rows(con, "SELECT s.*, g.twin_given_names, g.fn_variant, g.dob_year_only "
                        "FROM scores s JOIN gammas g USING (uid_l, uid_r)")
    assert len(scores) > 4000
    comps = linked.comparisons
    checked = {"swapped": 0, "possible_twins": 0, "twin_given_names": 0, "fn_variant": 0}
    for row in scores:
        g = pair_gammas(comps, records[row["uid_l"]], records[row["uid_r"]],
                        linked._learned_names())
        for col in (*(COMPARISONS[c].gamma_column for c in comps), "twin_given_names",
                    "fn_variant", "dob_year_only", "swapped", "fn_l", "sn_l"):
            assert g[col] == row[col], (row["uid_l"], row["uid_r"], col)
        s = scorer.score(g)
        assert s["possible_twins"] == row["possible_twins"]
        for col in (*(f"mw_{c}" for c in comps), "match_weight", "match_probability"):
            assert s[col] == pytest.approx(row[col], rel=1e-12, abs=1e-12), col
        for flag in checked:
            checked[flag] += bool(row[flag])
    # Each rule that is easy to get wrong was exercised.
    assert all(n > 0 for n in checked.values()), checked
    for c in comps:
        seen = {row[COMPARISONS[c].gamma_column] for row in scores}
        assert len(seen) >= 3, c


def test_jaro_winkler_is_duckdbs_bit_for_bit() -> None:
    rnd = random.Random(5)
    pairs = [("martha", "marhta"), ("dwayne", "duane"), ("dixon", "dicksonx"),
             ("dc", "dddbbce bdb"), ("cdeaabcec ", "caace aaec "), ("a", "a"), ("zoë", "zoe"),
             ("łukasz", "lukasz"), ("müller", "muller"), ("zoë", "zoë")]
    pairs += [("".join(rnd.choice("abcde ") for _ in range(rnd.randint(1, 14))),
               "".join(rnd.choice("abcde ") for _ in range(rnd.randint(1, 14))))
              for _ in range(20000)]
    con = duckdb.connect()
    want = con.execute("SELECT jaro_winkler_similarity(a, b) FROM (SELECT unnest(?) AS a, "
                       "unnest(?) AS b)", [[a for a, _ in pairs], [b for _, b in pairs]]
                       ).fetchall()
    for (a, b), (value,) in zip(pairs, want, strict=True):
        assert jaro_winkler(a, b) == value, (a, b)


@pytest.fixture(scope="module")
def index(folder: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    sources = {a: folder / "canonical" / f"{a}.csv" for a in INDEXED}
    return build_index(sources, tmp_path_factory.mktemp("index") / "index.duckdb")


def _both_paths(linker: Linker, queries: pd.DataFrame, *, prior: float | None = None,
                threshold: float = 0.0) -> pd.DataFrame:
    """The quick search of ``queries``, asserted equal to the SQL search of them."""
    model = replace(linker._model, prior=prior or 1.0 / linker._ensure_lookup()[0])
    quick = linker.search(queries, prior=prior, threshold=threshold)
    sql = linker._search_sql(queries, model, threshold)
    pd.testing.assert_frame_equal(quick.reset_index(drop=True), sql.reset_index(drop=True),
                                  rtol=1e-12)
    return quick


def test_quick_search_gives_the_sql_search_results(folder: Path, index: Path) -> None:
    """One referral at a time (the quick path) against the SQL search of the same one."""
    police = _canonical(folder, "police").drop(columns=["source"]).head(120)
    referrals = pd.read_csv(folder / "referrals.csv", dtype=str, keep_default_na=False)
    queries = [*(police.iloc[[i]] for i in range(len(police))),
               *(referrals.iloc[[i]] for i in range(len(referrals))),
               *(EDGE_CASES.iloc[[i]] for i in range(len(EDGE_CASES))),
               # A repeated record id: the ingest rejects the second, on both paths.
               pd.concat([police.iloc[[0]], police.iloc[[1]].assign(
                   record_id=police.iloc[0]["record_id"])])]
    reasons = set()
    with Linker.open(index, read_only=True) as linker:
        for q in queries:
            reasons.update(_both_paths(linker, q)["reasons"])
    text = " ".join(reasons)
    for phrase in ("matches alias", "matches former surname", "recorded the other way round",
                   "possible twins", "day and month of birth swapped"):
        assert phrase in text, phrase


def test_quick_search_of_a_few_queries_at_once(folder: Path, index: Path,
                                               tmp_path: Path) -> None:
    police = _canonical(folder, "police").drop(columns=["source"]).head(12)
    db = tmp_path / "copy.duckdb"
    shutil.copy(index, db)
    with Linker.open(db, read_only=True) as linker:
        quick = _both_paths(linker, police, prior=0.01, threshold=0.2)
    assert quick["query_id"].nunique() > 5


def test_quick_search_hashes_every_blocking_key_as_the_index_does(folder: Path,
                                                                  tmp_path: Path) -> None:
    """A rule on each key a rule may use: the quick path finds what the SQL path finds."""
    rules = tuple(
        BlockingRule(name=f"on_{key}", keys=(key, "sn_initial" if "dob" in key else "dob_year"))
        for key in BLOCKING_KEYS if key not in ("sn_initial", "dob_year"))
    settings = Settings(blocking=(*rules, BlockingRule(name="plain", keys=("sn_initial",
                                                                           "dob_year"))))
    sources = {a: folder / "canonical" / f"{a}.csv" for a in INDEXED}
    db = build_index(sources, tmp_path / "keys.duckdb", settings=settings)
    police = _canonical(folder, "police").drop(columns=["source"]).head(25)
    keys_used = set()
    with Linker.open(db, read_only=True) as linker:
        for i in range(len(police)):
            keys_used.update(_both_paths(linker, police.iloc[[i]])["match_key"])
    # Most rules were the first to find some candidate.
    assert len(keys_used) >= len(rules) // 2, sorted(keys_used)
