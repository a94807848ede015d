"""End to end on the shipped multi-agency sample (native exports through their mappings).

Floors are the figures measured when this test was written, less a margin. The sample was
remade by a generator that no longer shares the matcher's name tables (issue 12); measured
then: precision 0.9884, recall 0.9947 (surname differs: 0.972), 11 twin and 3 sibling
record pairs linked.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pandas as pd
import pytest

from cselink import Linker
from cselink.evaluation import pair_metrics
from cselink.ingest import source_from_spec

DATA = Path(__file__).resolve().parents[1] / "data" / "synthetic"
AGENCIES = ["education", "health", "police", "social_care", "youth_justice"]
SURNAME_DIFFERS = {"surname_changed", "stale_surname", "surname_half", "alias_as_main",
                   "former_surname_listed", "title_surname"}


@pytest.fixture(scope="module")
def linked() -> tuple[set[tuple[str, str]], pd.DataFrame, pd.DataFrame]:
    specs = [f"{a}={DATA}/native/{a}.csv:{DATA}/mappings/{a}.toml" for a in AGENCIES]
    with Linker([source_from_spec(s) for s in specs]) as linker:
        pairs = linker.predict(0.5)
        assert linker.ingest_report.rows_rejected == 0
        pairs.attrs["known_twin"] = [f"{s}:{r}" for s, r in linker.con.execute(
            "SELECT source, record_id FROM records WHERE known_twin").fetchall()]
    truth = pd.read_csv(DATA / "truth.csv", dtype=str, keep_default_na=False)
    truth["key"] = truth["source"] + ":" + truth["record_id"]
    found = {tuple(sorted(p)) for p in zip(pairs["source_l"] + ":" + pairs["record_id_l"],
                                           pairs["source_r"] + ":" + pairs["record_id_r"],
                                           strict=True)}
    return found, truth, pairs


def _true_pairs(truth: pd.DataFrame) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for _, keys in truth.groupby("person_id")["key"]:
        out.update(itertools.combinations(sorted(keys), 2))
    return out


def test_precision_and_recall_floors(linked) -> None:
    found, truth, _ = linked
    m = pair_metrics(found, _true_pairs(truth))
    assert m.precision >= 0.975
    assert m.recall >= 0.975


def test_records_under_another_surname_are_linked(linked) -> None:
    found, truth, _ = linked
    tags = dict(zip(truth["key"], truth["corruptions"].str.split(";"), strict=True))
    hard = [p for p in _true_pairs(truth) if SURNAME_DIFFERS & (set(tags[p[0]]) | set(tags[p[1]]))]
    assert len(hard) > 200
    recall = sum(p in found for p in hard) / len(hard)
    assert recall >= 0.95


def test_twins_and_siblings_are_not_linked(linked) -> None:
    """Twins of a family some agency shows to have twins (it holds both) are never linked;
    the others are the pairs the data cannot tell from one child under another forename,
    scored by the share the data shows to be one child (cselink.profile). Measured on this
    sample: 11 twin record pairs linked (against 48 true pairs of one child recorded under
    another forename that the guard no longer holds back), 3 sibling pairs."""
    found, truth, linker_pairs = linked
    keys = truth.groupby("person_id")["key"].apply(list).to_dict()
    relations = pd.read_csv(DATA / "relations.csv", dtype=str)
    known = set(linker_pairs.attrs["known_twin"])
    for relation, limit in (("twin", 12), ("sibling", 10)):
        rel = relations[relations["relation"] == relation]
        linked_pairs = [
            tuple(sorted((x, y)))
            for a, b in zip(rel["person_id_a"], rel["person_id_b"], strict=True)
            for x in keys.get(a, []) for y in keys.get(b, []) if tuple(sorted((x, y))) in found
        ]
        assert len(linked_pairs) <= limit, relation
        if relation == "twin":
            assert not [p for p in linked_pairs if p[0] in known or p[1] in known]


def test_reasons_name_the_alias_or_former_surname_that_matched(linked) -> None:
    _, _, pairs = linked
    reasons = " | ".join(pairs["reasons"])
    assert "surname matches former surname '" in reasons
    assert "recorded by" in reasons
