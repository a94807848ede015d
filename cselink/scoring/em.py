"""Expectation-maximisation for the Fellegi-Sunter model over comparison-pattern counts.

Training never touches individual pairs: it runs on the table of DISTINCT gamma patterns
with their counts (a GROUP BY), so it costs the same for ten thousand pairs or a billion.

Model (Fellegi & Sunter 1969; EM after Winkler 1988): for a pattern gamma = (g_1..g_K),
    P(gamma | M) = prod_k m_k[g_k],   P(gamma | U) = prod_k u_k[g_k]
with a missing comparison (g_k = -1) contributing a factor 1 to both. With prior lambda:
    E-step: w(gamma) = lambda P(gamma|M) / (lambda P(gamma|M) + (1 - lambda) P(gamma|U))
    M-step: m_k[l] = sum n(gamma) w(gamma) [g_k = l] / sum n(gamma) w(gamma) [g_k >= 0]
            u_k[l] = the same with 1 - w(gamma);  lambda = sum n w / sum n
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from ..errors import ConvergenceWarning

log = logging.getLogger(__name__)

#: Smallest probability a level may take, so no weight is infinite.
PROBABILITY_FLOOR = 1e-6


@dataclass(frozen=True, slots=True)
class EMResult:
    """Parameters EM reached and how it got there."""

    m: list[NDArray[np.float64]]
    u: list[NDArray[np.float64]]
    lam: float
    iterations: int
    converged: bool
    max_change: float


def _normalise(counts: NDArray[np.float64]) -> NDArray[np.float64]:
    total = counts.sum()
    p = counts / total if total > 0 else np.full_like(counts, 1.0 / len(counts))
    p = np.maximum(p, PROBABILITY_FLOOR)
    return np.asarray(p / p.sum(), dtype=np.float64)


def level_frequencies(
    patterns: NDArray[np.int64], counts: NDArray[np.float64], n_levels: Sequence[int],
    weights: NDArray[np.float64] | None = None,
) -> list[NDArray[np.float64]]:
    """Share of each level per comparison among non-missing values, weighted by ``weights``."""
    w = counts if weights is None else counts * weights
    out = []
    for k, n in enumerate(n_levels):
        g = patterns[:, k]
        ok = g >= 0
        out.append(_normalise(np.bincount(g[ok], weights=w[ok], minlength=n)[:n].astype(float)))
    return out


def _log_likelihood(
    patterns: NDArray[np.int64], probs: Sequence[NDArray[np.float64]]
) -> NDArray[np.float64]:
    ll = np.zeros(patterns.shape[0])
    for k, p in enumerate(probs):
        g = patterns[:, k]
        ok = g >= 0
        ll[ok] += np.log(p[g[ok]])
    return ll


def match_posterior(
    patterns: NDArray[np.int64],
    m: Sequence[NDArray[np.float64]],
    u: Sequence[NDArray[np.float64]],
    lam: float,
) -> NDArray[np.float64]:
    """P(match | pattern) for each pattern row."""
    log_odds = (
        np.log(lam) - np.log1p(-lam) + _log_likelihood(patterns, m) - _log_likelihood(patterns, u)
    )
    return np.asarray(1.0 / (1.0 + np.exp(-np.clip(log_odds, -700, 700))), dtype=np.float64)


def fit_em(
    patterns: NDArray[np.int64],
    counts: NDArray[np.float64],
    n_levels: Sequence[int],
    *,
    m0: Sequence[NDArray[np.float64]],
    u0: Sequence[NDArray[np.float64]],
    lam0: float,
    fix_u: bool = False,
    max_iterations: int = 200,
    tolerance: float = 1e-6,
) -> EMResult:
    """Fit m, u and lambda by EM over distinct patterns.

    Args:
        patterns: (P, K) gamma values, -1 for missing.
        counts: (P,) how many pairs have each pattern.
        n_levels: non-null levels per comparison.
        m0, u0, lam0: starting values.
        fix_u: keep u at ``u0`` (e.g. a random-sampling estimate).
        max_iterations, tolerance: stop when no parameter moves more than ``tolerance``.

    Returns:
        The fitted parameters. A :class:`ConvergenceWarning` is issued when the iteration
        limit is reached first.
    """
    m = [np.asarray(x, dtype=float) for x in m0]
    u = [np.asarray(x, dtype=float) for x in u0]
    lam = float(min(max(lam0, 1e-9), 1 - 1e-9))
    change = np.inf
    it = 0
    for it in range(1, max_iterations + 1):
        w = match_posterior(patterns, m, u, lam)
        new_m = level_frequencies(patterns, counts, n_levels, w)
        new_u = u if fix_u else level_frequencies(patterns, counts, n_levels, 1.0 - w)
        new_lam = float(np.clip((counts * w).sum() / counts.sum(), 1e-9, 1 - 1e-9))
        change = max(
            [abs(new_lam - lam)]
            + [float(np.max(np.abs(a - b))) for a, b in zip(new_m, m, strict=True)]
            + [float(np.max(np.abs(a - b))) for a, b in zip(new_u, u, strict=True)]
        )
        m, u, lam = new_m, new_u, new_lam
        if change < tolerance:
            log.info("EM converged after %d iterations", it)
            return EMResult(m, u, lam, it, True, change)
    warnings.warn(
        f"EM stopped after {it} iterations without converging (largest change {change:.2e})",
        ConvergenceWarning,
        stacklevel=2,
    )
    return EMResult(m, u, lam, it, False, change)
