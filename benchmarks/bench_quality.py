"""Smoke test of the quality benchmark at a tiny size, so it cannot rot.

Runs :func:`benchmarks.quality.run_quality` end to end on 300 synthetic people and a
FEBRL4 slice (every contender in a fresh process, as the full run does) and checks the
structure and sanity of what it writes. Splink runs only where it is installed (CI
installs the [test] extra only). The evaluation code is checked against
:mod:`cselink.evaluation` on hand-made pairs.
"""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pandas as pd
import pytest

from benchmarks import metrics, quality, render, tasks
from cselink.evaluation import cluster_pairs, pair_metrics

pytest.importorskip("recordlinkage")

HAS_SPLINK = importlib.util.find_spec("splink") is not None
#: recordlinkage runs through the same harness path as exact, so the smoke run skips it
#: to stay fast; bench_peers.py covers the peer itself.
PEERS = ["exact"] + (["splink"] if HAS_SPLINK else [])


@pytest.fixture(scope="module")
def smoke(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, object]:
    out = tmp_path_factory.mktemp("quality")
    result = quality.run_quality(
        people=250, seed=3, tasks=("synthetic-standard", "febrl4", "febrl1"), peers=PEERS,
        out_dir=out, name="smoke", cache_dir=out / "cache", febrl_limit=200,
        timeout=300,
    )
    return result, out


def _task(result: dict, name: str) -> dict:
    return next(t for t in result["tasks"] if t["task"] == name)


def test_quality_writes_json_plots_and_summary(smoke) -> None:
    result, out = smoke
    written = json.loads((out / "smoke.json").read_text())
    assert written["benchmark"] == "quality"
    assert written["machine"]["libraries"]["duckdb"]
    assert [t["task"] for t in written["tasks"]] == ["synthetic-standard", "febrl4", "febrl1"]
    for task in written["tasks"]:
        assert sorted(task["plots"]) == [f"smoke_pr_{task['task']}.png",
                                         f"smoke_weights_{task['task']}.png"]
        for plot in task["plots"]:
            assert (out / plot).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "smoke.json").stat().st_size < 400_000  # no per-pair dumps
    summary = render.write_summary(out)
    text = summary.read_text()
    assert "### synthetic-standard (dedupe)" in text and "### febrl4 (link)" in text
    assert "### febrl1 (dedupe)" in text
    assert "Recall by corruption tag" in text
    assert "Recall by community" in text


def test_every_contender_ran_with_sane_figures(smoke) -> None:
    result, _ = smoke
    for task in result["tasks"]:
        expected = {*PEERS, "cselink"}
        if task["task"].startswith("synthetic"):
            expected.add("cselink-native")
        assert set(task["contenders"]) == expected, task["task"]
        for label, c in task["contenders"].items():
            assert "error" not in c, (task["task"], label, c.get("error"))
            for key in ("precision", "recall", "f1", "pairs_completeness"):
                assert 0.0 <= c[key] <= 1.0
            assert c["pairs_completeness"] >= c["recall"]
            assert c["true_positives"] + c["false_negatives"] == task["true_pairs"]
            assert c["costs"]["wall_seconds"] >= c["costs"]["call_seconds"] > 0
            assert c["costs"]["peak_rss_mib"] > 10
            if task["kind"] == "dedupe":
                assert 0.0 <= c["clusters"]["f1"] <= 1.0
                if c["clustering"] == "connected components":  # only adds links
                    assert c["clusters"]["recall"] >= c["recall"] - 1e-9
                else:
                    assert label.startswith("cselink"), label
        cs, exact = task["contenders"]["cselink"], task["contenders"]["exact"]
        assert cs["f1"] >= 0.9, (task["task"], cs["f1"])
        assert cs["f1"] >= exact["f1"] + 0.1, task["task"]
        assert cs["precision"] >= 0.9


def test_synthetic_breakdowns(smoke) -> None:
    task = _task(smoke[0], "synthetic-standard")
    cs = task["contenders"]["cselink"]
    native = task["contenders"]["cselink-native"]
    assert abs(cs["f1"] - native["f1"]) < 0.05  # same records, read through mappings
    groups = cs["recall_by_group"]
    assert set(groups) == set(metrics.TAG_GROUPS) | {
        "two or more fields differ", "no field differs"}
    assert groups["no field differs"]["recall"] >= 0.95
    assert 0 < groups["no field differs"]["true_pairs"] < task["true_pairs"]
    from cselink.synthetic import TAGS

    assert set(cs["recall_by_tag"]) == set(TAGS)
    comm = cs["recall_by_community"]
    assert sum(c["true_pairs"] for c in comm.values()) == task["true_pairs"]
    assert "white_british" in comm
    rel = cs["related_false_links"]
    assert set(rel) == {"twin", "sibling", "namesake", "unrelated"}
    assert rel["sibling"]["record_pairs"] > 0
    assert cs["false_positives"] == sum(r["false_links"] for r in rel.values())
    check = task["referral_check"]
    if check.get("available"):
        assert "figures" in check, check.get("error")
        assert 0.0 <= check["figures"]["known_recall"] <= 1.0
        exact = check["exact_figures"]
        assert exact["held"] == check["figures"]["held"]
        # Today's look-up cannot find a young person held under another name, and it
        # never reports "possible".
        assert exact["mean_possible"] == 0.0
        # Whoever the exact look-up finds, the check finds too (and more).
        assert exact["missed"] >= check["figures"]["missed"]


def test_exact_check_finds_exact_names_only() -> None:
    from benchmarks.peers import exact_check

    referrals = pd.DataFrame({"record_id": ["R1", "R2"], "forename": ["Jade ", "Amir"],
                              "surname": ["smith", "Khan"], "dob": ["2010-03-04"] * 2})
    agency = pd.DataFrame({"record_id": ["e1", "e2", "e3"],
                           "forename": ["JADE", "Jade", "Amir"],
                           "surname": ["Smith", "Brown", "Khan"],
                           "dob": ["2010-03-04", "2010-03-04", "2010-04-03"]})
    out = exact_check(referrals, {"education": agency})
    assert out.sort_values("referral_id").to_dict("records") == [
        {"referral_id": "R1", "source": "education", "record_id": "e1", "status": "known"},
        {"referral_id": "R2", "source": "education", "record_id": "", "status": "not_found"}]


def test_febrl_link_truth_matches_loader() -> None:
    from benchmarks.febrl import load_febrl4

    _, _, truth = load_febrl4()
    task = tasks.febrl4_task(peers=())
    t = metrics.Truth(task.records, task.kind)
    keys = t.records["key"].to_numpy()
    pairs = {tuple(sorted((keys[a], keys[b]))) for a, b in zip(t.true_a, t.true_b, strict=True)}
    assert pairs == truth


@pytest.mark.parametrize("name", ["febrl1", "febrl2", "febrl3"])
def test_febrl_dedupe_truth_matches_loader(name: str) -> None:
    from benchmarks.febrl import load_febrl_dedupe

    _, truth = load_febrl_dedupe(name)
    task = tasks.febrl_task(name, peers=())
    assert task.kind == "dedupe" and [r.label for r in task.runs] == ["cselink"]
    t = metrics.Truth(task.records, task.kind)
    keys = t.records["key"].to_numpy()
    pairs = {tuple(sorted((keys[a], keys[b]))) for a, b in zip(t.true_a, t.true_b, strict=True)}
    assert pairs == truth


def test_every_contender_gets_recall_by_tag(smoke) -> None:
    task = _task(smoke[0], "synthetic-standard")
    from cselink.synthetic import TAGS

    for label, c in task["contenders"].items():
        assert set(c["recall_by_tag"]) == set(TAGS), label
        assert set(c["recall_by_group"]) >= set(metrics.TAG_GROUPS), label


def test_evaluation_agrees_with_cselink_evaluation() -> None:
    rng = np.random.default_rng(11)
    n = 200
    entity = rng.integers(0, 80, size=n).astype(str)
    records = pd.DataFrame({"key": [f"r{i:03d}" for i in range(n)], "entity": entity})
    task = tasks.Task("toy", "dedupe", records, [], False)
    truth = metrics.Truth(records, "dedupe")
    a = rng.integers(0, n, size=600)
    b = rng.integers(0, n, size=600)
    same = entity[a] == entity[b]
    prob = np.clip(np.where(same, 0.8, 0.2) + rng.normal(0, 0.3, size=600), 0, 1)
    pairs = pd.DataFrame({"source_l": "s", "record_id_l": records["key"].to_numpy()[a],
                          "source_r": "s", "record_id_r": records["key"].to_numpy()[b],
                          "match_probability": prob})
    pairs = pairs[a != b]
    figures, _ = metrics.evaluate(pairs, task, truth)
    true_pairs = {(records["key"][i], records["key"][j]) for i, j in
                  zip(truth.true_a, truth.true_b, strict=True)}
    links = pairs[pairs["match_probability"] >= 0.5]
    ref = pair_metrics(links, true_pairs, candidates=pairs)
    assert (figures["true_positives"], figures["false_positives"],
            figures["false_negatives"]) == (ref.true_positives, ref.false_positives,
                                            ref.false_negatives)
    assert figures["pairs_completeness"] == pytest.approx(ref.pairs_completeness, abs=1e-5)
    labels = metrics.components(n, *truth.code(links["record_id_l"], links["record_id_r"]))
    clusters = pd.DataFrame({"record_id": records["key"], "cluster_id": labels})
    ref_c = pair_metrics(cluster_pairs(clusters), true_pairs)
    assert figures["clusters"]["true_positives"] == ref_c.true_positives
    assert figures["clusters"]["false_positives"] == ref_c.false_positives
    assert figures["clustering"] == "connected components"
    # A contender's own clusters, when it returns them, are scored instead.
    own = pd.DataFrame({"source": "s", "record_id": records["key"],
                        "cluster_id": entity})  # the true clusters
    pairs.attrs.update(clusters=own, cluster_threshold=0.5)
    figures, _ = metrics.evaluate(pairs, task, truth)
    assert figures["clustering"] == "own"
    assert figures["clusters"]["precision"] == figures["clusters"]["recall"] == 1.0
