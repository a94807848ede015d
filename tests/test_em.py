"""EM recovers known m, u and lambda from data simulated with fixed parameters."""

from __future__ import annotations

import numpy as np
import pytest

from cselink.scoring.em import fit_em, level_frequencies


def _simulate(rng: np.random.Generator, n: int, lam: float, m: list, u: list) -> tuple:
    is_match = rng.random(n) < lam
    cols = []
    for mk, uk in zip(m, u, strict=True):
        gm = rng.choice(len(mk), size=n, p=mk)
        gu = rng.choice(len(uk), size=n, p=uk)
        cols.append(np.where(is_match, gm, gu))
    g = np.column_stack(cols)
    patterns, counts = np.unique(g, axis=0, return_counts=True)
    return patterns.astype(np.int64), counts.astype(float)


def test_em_recovers_simulated_parameters() -> None:
    rng = np.random.default_rng(7)
    m = [np.array([0.05, 0.15, 0.8]), np.array([0.1, 0.9]), np.array([0.05, 0.1, 0.85]),
         np.array([0.2, 0.8])]
    u = [np.array([0.85, 0.1, 0.05]), np.array([0.9, 0.1]), np.array([0.7, 0.2, 0.1]),
         np.array([0.6, 0.4])]
    lam = 0.2
    patterns, counts = _simulate(rng, 200_000, lam, m, u)
    n_levels = [len(x) for x in m]
    flat = [np.full(n, 1.0 / n) for n in n_levels]
    start_m = [np.linspace(1, 3, n) / np.linspace(1, 3, n).sum() for n in n_levels]
    res = fit_em(patterns, counts, n_levels, m0=start_m, u0=flat, lam0=0.5)
    assert res.converged
    assert abs(res.lam - lam) < 0.01
    for est, true in zip(res.m, m, strict=True):
        assert np.max(np.abs(est - true)) < 0.02
    for est, true in zip(res.u, u, strict=True):
        assert np.max(np.abs(est - true)) < 0.02


def test_missing_levels_carry_no_weight() -> None:
    patterns = np.array([[0, -1], [1, -1], [1, 1]], dtype=np.int64)
    counts = np.array([10.0, 30.0, 60.0])
    freq = level_frequencies(patterns, counts, [2, 2])
    assert np.allclose(freq[0], [0.1, 0.9])
    assert freq[1][1] > 0.99  # only the pattern with a value counts


def test_em_agrees_with_recordlinkage_ecm_on_binary_vectors() -> None:
    """Oracle: recordlinkage's ECM on the same binary vectors gives the same m and u."""
    import pandas as pd
    import recordlinkage

    rng = np.random.default_rng(3)
    m = [np.array([0.1, 0.9]), np.array([0.2, 0.8]), np.array([0.05, 0.95])]
    u = [np.array([0.9, 0.1]), np.array([0.7, 0.3]), np.array([0.8, 0.2])]
    patterns, counts = _simulate(rng, 20_000, 0.3, m, u)
    rows = np.repeat(patterns, counts.astype(int), axis=0)
    index = pd.MultiIndex.from_arrays([np.arange(len(rows)), np.arange(len(rows))])
    features = pd.DataFrame(rows, index=index, columns=["a", "b", "c"])
    ecm = recordlinkage.ECMClassifier(binarize=None)
    ecm.fit(features)
    start = [np.array([0.3, 0.7])] * 3
    res = fit_em(patterns, counts, [2, 2, 2], m0=start, u0=[np.array([0.6, 0.4])] * 3, lam0=0.5)
    ours = np.array([x[1] for x in res.m])
    theirs = np.array([ecm.m_probs[c][1] for c in ["a", "b", "c"]])
    assert np.max(np.abs(ours - theirs)) < 0.01


def test_exact_agreement_u_counts_every_pair() -> None:
    """The exact-level u equals a brute-force count over all (cross-source) record pairs."""
    import itertools

    import duckdb
    import pandas as pd

    from cselink.scoring.training import exact_agreement_u

    rng = np.random.default_rng(3)
    n = 60
    frame = pd.DataFrame({
        "source": rng.choice(["a", "b", "c"], size=n),
        "v": rng.choice(["x", "y", "z", None], size=n, p=[0.5, 0.2, 0.1, 0.2]),
    })
    con = duckdb.connect()
    con.register("_f", frame)
    con.execute("CREATE TABLE records AS SELECT source, v, v AS p FROM _f")
    rows = list(frame.itertuples(index=False))
    for link_only in (False, True):
        pairs = [(x, y) for x, y in itertools.combinations(rows, 2)
                 if x.v is not None and y.v is not None
                 and (not link_only or x.source != y.source)]
        expected = sum(x.v == y.v for x, y in pairs) / len(pairs)
        got = exact_agreement_u(con, "v", "p", link_only=link_only)
        assert got == pytest.approx(expected)
    # No record has the value: no pairs to count.
    con.execute("CREATE OR REPLACE TABLE records AS SELECT 'a' AS source, NULL AS v, NULL AS p")
    assert exact_agreement_u(con, "v", "p", link_only=False) is None
