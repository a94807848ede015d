"""Pairwise quality measures against truth: precision, recall, F1, pairs completeness.

Pairs are unordered: ``(a, b)`` and ``(b, a)`` are the same pair. A record key is
whatever identifies a record across sources: ``record_id`` alone when ids are
unique across the files, else ``source:record_id``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass

import pandas as pd


@dataclass(frozen=True, slots=True)
class PairMetrics:
    """Pairwise confusion counts and the measures derived from them."""

    true_positives: int
    false_positives: int
    false_negatives: int
    precision: float
    recall: float
    f1: float
    #: share of true pairs found by blocking (None when no candidates were given)
    pairs_completeness: float | None
    #: 1 - candidates / all possible pairs (None unless both were given)
    reduction_ratio: float | None

    def to_dict(self) -> dict[str, float | int | None]:
        """The metrics as a plain dict (for JSON)."""
        return asdict(self)


PairLike = Iterable[tuple[str, str]] | pd.DataFrame


def _pair_set(pairs: PairLike) -> set[tuple[str, str]]:
    if isinstance(pairs, pd.DataFrame):
        cols = list(pairs.columns)
        left, right = (
            ("record_id_l", "record_id_r") if "record_id_l" in cols else (cols[0], cols[1])
        )
        it: Iterable[tuple[str, str]] = zip(
            pairs[left].astype(str), pairs[right].astype(str), strict=True
        )
    else:
        it = pairs
    out: set[tuple[str, str]] = set()
    for a, b in it:
        a, b = str(a), str(b)
        if a != b:
            out.add((a, b) if a < b else (b, a))
    return out


def pair_metrics(
    predicted: PairLike,
    truth: PairLike,
    *,
    candidates: PairLike | None = None,
    total_pairs: int | None = None,
) -> PairMetrics:
    """Compare predicted links with true links.

    Args:
        predicted: the pairs the linker accepted.
        truth: every true pair.
        candidates: the pairs blocking produced (for pairs completeness).
        total_pairs: the number of comparable pairs with no blocking (for reduction ratio).

    Returns:
        The confusion counts with precision, recall, F1 and, where given, pairs completeness
        and reduction ratio. Ratios with an empty denominator are 0.0.

    Examples:
        >>> m = pair_metrics([("a", "b")], [("b", "a"), ("c", "d")])
        >>> (m.precision, m.recall)
        (1.0, 0.5)
    """
    pred, true = _pair_set(predicted), _pair_set(truth)
    tp = len(pred & true)
    fp = len(pred - true)
    fn = len(true - pred)
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    completeness = reduction = None
    if candidates is not None:
        cand = _pair_set(candidates)
        completeness = len(cand & true) / len(true) if true else 0.0
        if total_pairs:
            reduction = 1.0 - len(cand) / total_pairs
    return PairMetrics(tp, fp, fn, precision, recall, f1, completeness, reduction)


def cluster_pairs(
    clusters: pd.DataFrame, key: str = "record_id", by: str = "cluster_id"
) -> set[tuple[str, str]]:
    """Every within-cluster pair of a cluster table (for scoring a dedupe against pair truth)."""
    out: set[tuple[str, str]] = set()
    for _, members in clusters.groupby(by)[key]:
        ids = sorted(members.astype(str))
        for i, a in enumerate(ids):
            for b in ids[i + 1 :]:
                out.add((a, b))
    return out
