"""Unsupervised and supervised training of the Fellegi-Sunter model.

Unsupervised training follows the approach that scales (as in Splink):

1. **u** from seeded random record pairs, which are nearly all non-matches.
2. **m** by EM in *training sessions*. Each session takes the pairs that agree on one
   training rule (e.g. the same date of birth), holds u at its random-sampling value and
   estimates m for every comparison the rule does not touch; the comparisons it blocks on
   are left out of that session, since agreement on them was forced. Every comparison is
   estimated by at least one session, and estimates are averaged.
3. **the prior** P(match) over all record pairs from the first session:
   ``lambda_s * |pairs(rule)| / recall(rule) / |all pairs|``, where recall(rule) is the
   share of true matches that agree on the rule, from the m of the other sessions.

Scoring with m, u_random and this prior gives P(match | comparison vector) for any pair,
whatever blocking selected it. Training pairs are capped: when a rule gives more than
``max_training_pairs``, records are sampled (seeded) so the expected pair count fits; the
session's lambda is unchanged by such sampling.
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import duckdb
import numpy as np
import pandas as pd
from numpy.typing import NDArray

from .._sql import quote_ident
from ..blocking import rule_count_sql, rule_pairs_sql
from ..comparisons import COMPARISONS
from ..comparisons.vectors import comparison_sqls
from ..config import BlockingRule, Settings
from ..errors import ConvergenceWarning
from .em import PROBABILITY_FLOOR, fit_em, level_frequencies, match_posterior
from .fellegi_sunter import pattern_counts_sql, relatives_sql
from .model import Model

log = logging.getLogger(__name__)

#: A session whose EM finds fewer matches than this is not used (e.g. a single source
#: with no duplicates): m cannot be learnt from it.
MIN_SESSION_MATCHES = 10

#: Which comparison a blocking key forces agreement on.
_KEY_COMPARISON = {
    "fn": "forename", "fn_metaphone": "forename", "fn_nysiis": "forename",
    "fn_initial": "forename", "fn_alt": "forename",
    "sn": "surname", "sn_metaphone": "surname", "sn_nysiis": "surname", "sn_initial": "surname",
    "dob": "dob", "dob_swapped": "dob", "dob_year": "dob", "dob_md": "dob", "dob_ym": "dob",
    "dob_yd": "dob",
    "sex": "sex", "pc": "postcode", "pc_outward": "postcode", "pc_sector": "postcode",
    "nhs": "nhs_number", "addr_head": "address", "no_dob": "dob", "year_only": "dob",
}
#: Comparisons that read the same fields as another (a block on one forces the other).
_ALSO = {"postcode": ("location",), "address": ("location",)}


@dataclass(frozen=True, slots=True)
class Session:
    """What one EM training session found."""

    rule: str
    pairs: int
    sample_fraction: float
    estimated_rule_pairs: int
    lam: float
    excluded: tuple[str, ...]
    m: dict[str, NDArray[np.float64]]
    iterations: int
    converged: bool


def patterns_of(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[str], gammas_table: str,
    *, exclude: str | None = None,
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    """(patterns, counts) of the distinct gamma vectors of ``gammas_table``."""
    rows = con.execute(pattern_counts_sql(comparisons, gammas_table, exclude=exclude)).fetchnumpy()
    cols = [COMPARISONS[c].gamma_column for c in comparisons]
    if not len(rows["n"]):
        return np.zeros((0, len(cols)), dtype=np.int64), np.zeros(0)
    patterns = np.column_stack([np.asarray(rows[c], dtype=np.int64) for c in cols])
    return patterns, np.asarray(rows["n"], dtype=float)


def _gammas_for(
    con: duckdb.DuckDBPyConnection, comparisons: Sequence[str], pairs_table: str, out: str
) -> None:
    for stmt in comparison_sqls([COMPARISONS[c] for c in comparisons],
                                pairs_table=pairs_table, out_table=out, temporary=True,
                                evidence=False):
        con.execute(stmt)


#: Comparisons whose strongest level is plain equality of one ``records`` column:
#: (level label, the column compared, the column whose absence is the null level).
_EXACT_LEVELS: dict[str, tuple[str, str, str]] = {
    "forename": ("exact", "fn", "fn"), "surname": ("exact", "sn", "sn"),
    "dob": ("exact", "dob", "dob_year"), "postcode": ("exact", "pc", "pc"),
    "address": ("exact", "addr", "addr"), "sex": ("agree", "sex", "sex"),
    "nhs_number": ("agree", "nhs", "nhs"),
}


def exact_agreement_u(
    con: duckdb.DuckDBPyConnection, column: str, present: str, *, link_only: bool
) -> float | None:
    """P(two random records agree exactly on ``column`` | both have ``present``), counted
    from the value frequencies over every record pair rather than sampled.

    This is the u of the strongest level, the one that carries the most weight and that
    a random sample sees least often (two strangers share a date of birth about once in
    ten thousand pairs). None when there are no such pairs.
    """
    c, q = quote_ident(column), quote_ident(present)
    totals, sizes = (
        con.execute(
            f"SELECT sum(t * t - s2)::DOUBLE, sum(t * t)::DOUBLE FROM ("
            f"SELECT sum(n) AS t, sum(n * n) AS s2 FROM ("
            f"SELECT {c} AS v, source, count(*)::HUGEINT AS n FROM records "
            f"WHERE {q} IS NOT NULL AND {c} IS NOT NULL GROUP BY ALL) GROUP BY v)"
        ).fetchall()[0],
        con.execute(
            f"SELECT sum(n)::DOUBLE, sum(n * n)::DOUBLE FROM ("
            f"SELECT source, count(*)::HUGEINT AS n FROM records WHERE {q} IS NOT NULL "
            "GROUP BY source)").fetchall()[0],
    )
    if link_only:  # pairs across sources: all pairs less those within a source
        agree = totals[0] or 0.0
        pairs = (sizes[0] or 0.0) ** 2 - (sizes[1] or 0.0)
    else:  # ordered pairs of two different records
        t = con.execute(
            f"SELECT sum(n * (n - 1))::DOUBLE FROM (SELECT count(*)::HUGEINT AS n "
            f"FROM records WHERE {q} IS NOT NULL AND {c} IS NOT NULL GROUP BY {c})"
        ).fetchall()[0][0]
        agree = t or 0.0
        pairs = (sizes[0] or 0.0) * ((sizes[0] or 0.0) - 1)
    return agree / pairs if pairs > 0 else None


def _with_exact_u(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str],
    u: list[NDArray[np.float64]],
) -> list[NDArray[np.float64]]:
    """u with each plain-equality level's share counted exactly, the other levels
    rescaled to the rest (their shares among themselves stay as sampled)."""
    out = []
    for i, name in enumerate(comparisons):
        spec = _EXACT_LEVELS.get(name)
        comp = COMPARISONS[name]
        if spec is None or spec[0] not in {lv.label for lv in comp.non_null_levels}:
            out.append(u[i])
            continue
        p = exact_agreement_u(con, spec[1], spec[2], link_only=settings.link_type == "link")
        g = comp.gamma_of(spec[0])
        rest = u[i].copy()
        rest[g] = 0.0
        if p is None or rest.sum() <= 0:
            out.append(u[i])
            continue
        new = rest / rest.sum() * (1.0 - p)
        new[g] = p
        new = np.maximum(new, PROBABILITY_FLOOR)  # no level impossible (as sampled u)
        out.append(np.asarray(new / new.sum(), dtype=np.float64))
    return out


def estimate_u(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str]
) -> list[NDArray[np.float64]]:
    """u per comparison from ``settings.u_sample_pairs`` seeded random record pairs; the
    share of exact agreement (where a level is plain equality) is counted exactly from
    the value frequencies (:func:`exact_agreement_u`)."""
    rng = np.random.default_rng(settings.seed)
    rows = con.execute("SELECT uid, source FROM records ORDER BY uid").fetchnumpy()
    uids = np.asarray(rows["uid"], dtype=np.int64)
    n = settings.u_sample_pairs
    if len(uids) < 2:
        a = b = np.zeros(0, dtype=np.int64)
    else:
        # Draw twice as many as needed; in link mode keep the cross-source draws only.
        a = uids[rng.integers(0, len(uids), size=2 * n)]
        b = uids[rng.integers(0, len(uids), size=2 * n)]
        if settings.link_type == "link":
            _, codes = np.unique(np.asarray(rows["source"]).astype(str), return_inverse=True)
            code_of = np.full(int(uids.max()) + 1, -1, dtype=np.int64)
            code_of[uids] = codes
            cross = code_of[a] != code_of[b]
            a, b = a[cross], b[cross]
        a, b = a[:n], b[:n]
    keep = a != b
    frame = pd.DataFrame({"uid_l": np.minimum(a, b)[keep], "uid_r": np.maximum(a, b)[keep]})
    con.register("_u_df", frame)
    con.execute("CREATE OR REPLACE TEMP TABLE _u_pairs AS "  # pair keys are unique
                "SELECT DISTINCT uid_l, uid_r, NULL::VARCHAR AS match_key FROM _u_df")
    con.unregister("_u_df")
    _gammas_for(con, comparisons, "_u_pairs", "_u_gammas")
    patterns, counts = patterns_of(con, comparisons, "_u_gammas")
    con.execute("DROP TABLE _u_gammas")
    con.execute("DROP TABLE _u_pairs")
    log.info("estimated u from %d random pairs", len(frame))
    u = level_frequencies(patterns, counts, [COMPARISONS[c].n_levels for c in comparisons])
    return _with_exact_u(con, settings, comparisons, u)


def _all_pairs(con: duckdb.DuckDBPyConnection, link_only: bool) -> float:
    if not link_only:
        n = float(con.execute("SELECT count(*) FROM records").fetchall()[0][0])
        return n * (n - 1) / 2
    sizes = [float(x[0]) for x in con.execute(
        "SELECT count(*) FROM records GROUP BY source").fetchall()]
    return (sum(sizes) ** 2 - sum(s * s for s in sizes)) / 2


def _sampled(uid: str) -> str:
    """SQL: the record ``uid`` is in a session's seeded sample of records ($1 the seed,
    $2 the share kept, in millionths). Sampled pairs are those of two sampled records."""
    return f"hash({uid}, $1::BIGINT) % 1000000 < $2"


def _run_session(
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    comparisons: Sequence[str],
    rule: BlockingRule,
    u: Sequence[NDArray[np.float64]],
    m0: Sequence[NDArray[np.float64]],
    found_by: Mapping[tuple[str, ...], int] | None = None,
    guard: bool = True,
) -> Session | None:
    link_only = settings.link_type == "link"
    est = int(con.execute(rule_count_sql(rule, link_only=link_only)).fetchall()[0][0])
    if est == 0:
        return None
    frac = min(1.0, math.sqrt(settings.em.max_training_pairs / est))
    keys_table = "block_keys"
    sample = [settings.seed, int(frac * 1_000_000)]
    bit = found_by.get(tuple(rule.keys)) if found_by else None
    if bit is not None:
        # A blocking rule with these keys already made these pairs and compared them:
        # read their gammas (the same records sampled the same way) instead of again.
        kept = ("" if frac == 1.0 else
                f" AND {_sampled('uid_l')} AND {_sampled('uid_r')}")
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _train_gammas AS SELECT g.* FROM gammas g "
            "JOIN pairs p USING (uid_l, uid_r) "
            f"WHERE ((p.rules >> {int(bit)}) & 1) = 1{kept}",
            sample if kept else [],
        )
    else:
        if frac < 1.0:
            # Seeded sample of records (hash of uid and seed), so the session stays bounded.
            con.execute(
                "CREATE OR REPLACE TEMP TABLE _train_keys AS SELECT * FROM block_keys "
                f"WHERE {_sampled('uid')}", sample,
            )
            keys_table = "_train_keys"
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _train_pairs AS SELECT uid_l, uid_r, "
            "NULL::VARCHAR AS match_key FROM "
            f"({rule_pairs_sql(rule, link_only=link_only, keys_table=keys_table)})"
        )
        _gammas_for(con, comparisons, "_train_pairs", "_train_gammas")
    # Pairs the twins-and-siblings guard marks as relatives would teach EM that family
    # members are matches; they are left out of training when the guard is on.
    exclude = relatives_sql(comparisons) if guard else None
    patterns, counts = patterns_of(con, comparisons, "_train_gammas", exclude=exclude)
    con.execute("DROP TABLE IF EXISTS _train_gammas")
    con.execute("DROP TABLE IF EXISTS _train_pairs")
    con.execute("DROP TABLE IF EXISTS _train_keys")
    if counts.sum() == 0:
        return None
    forced = {_KEY_COMPARISON[k] for k in rule.keys if k in _KEY_COMPARISON}
    forced |= {x for c in list(forced) for x in _ALSO.get(c, ())}
    excluded = tuple(sorted(forced & set(comparisons)))
    masked = patterns.copy()
    for i, c in enumerate(comparisons):
        if c in excluded:
            masked[:, i] = -1
    masked, inverse = np.unique(masked, axis=0, return_inverse=True)
    merged = np.bincount(inverse.ravel(), weights=counts, minlength=len(masked))
    n_levels = [COMPARISONS[c].n_levels for c in comparisons]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        res = fit_em(masked, merged, n_levels, m0=m0, u0=u, lam0=0.5, fix_u=True,
                     max_iterations=settings.em.max_iterations, tolerance=settings.em.tolerance)
    if res.lam * counts.sum() < MIN_SESSION_MATCHES:
        # Too few matches among these pairs to say anything about m: leave it out.
        log.info("training session %s found about %.0f matches among %d pairs; skipped",
                    rule.name, res.lam * counts.sum(), int(counts.sum()))
        return None
    m = {c: res.m[i] for i, c in enumerate(comparisons) if c not in excluded}
    log.info("training session %s: %d pairs, lambda %.4f, %d iterations",
             rule.name, int(counts.sum()), res.lam, res.iterations)
    return Session(rule.name, int(counts.sum()), frac, est, res.lam, excluded, m,
                   res.iterations, res.converged)


def train_unsupervised(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str], *,
    found_by: Mapping[tuple[str, ...], int] | None = None, guard: bool = True,
) -> Model:
    """Train m, u and the prior without labels (see the module docstring).

    ``guard``: leave the pairs the twins-and-siblings guard marks out of EM (when the data
    holds households, see :mod:`cselink.profile`).

    ``found_by``: the keys of blocking rules that ran, each with its bit in ``pairs.rules``,
    when ``pairs`` and its ``gammas`` are built: a session on the same keys reads its
    pairs' gammas from there (the same model, fewer comparisons).
    """
    n_levels = [COMPARISONS[c].n_levels for c in comparisons]
    u = estimate_u(con, settings, comparisons)
    m0 = [np.asarray(4.0 ** np.arange(n), dtype=float) for n in n_levels]
    m0 = [x / x.sum() for x in m0]
    sessions = [
        s for s in (
            _run_session(con, settings, comparisons, rule, u, m0, found_by, guard)
            for rule in settings.em.training_rules
        ) if s is not None
    ]
    m: list[NDArray[np.float64]] = []
    for i, c in enumerate(comparisons):
        ests = [s.m[c] for s in sessions if c in s.m]
        if not ests:
            warnings.warn(f"no training session estimated m for {c!r}; using a default",
                          ConvergenceWarning, stacklevel=2)
            m.append(m0[i])
        else:
            m.append(np.mean(ests, axis=0))
    prior = _prior(con, settings, comparisons, sessions, m, u)
    return Model(
        comparisons=tuple(comparisons),
        m={c: tuple(map(float, m[i])) for i, c in enumerate(comparisons)},
        u={c: tuple(map(float, u[i])) for i, c in enumerate(comparisons)},
        prior=prior, method="em", settings_hash=settings.hash(),
        training={"sessions": [
            {"rule": s.rule, "pairs": s.pairs, "sample_fraction": s.sample_fraction,
             "lambda": s.lam, "excluded": list(s.excluded), "iterations": s.iterations,
             "converged": s.converged} for s in sessions
        ], "u_sample_pairs": settings.u_sample_pairs},
    )


def _prior(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str],
    sessions: Sequence[Session], m: Sequence[NDArray[np.float64]],
    u: Sequence[NDArray[np.float64]],
) -> float:
    """P(match) over all record pairs, from the first session whose rule recall is known."""
    total = _all_pairs(con, settings.link_type == "link")
    for s in sessions:
        recall = 1.0
        for c in s.excluded:
            i = comparisons.index(c)
            recall *= float(m[i][-1])  # agreement on the rule's keys ~ the top level
        if recall <= 0:
            continue
        matches = s.lam * s.estimated_rule_pairs / recall
        return float(np.clip(matches / max(total, 1.0), 1e-12, 0.5))
    return float(np.clip(1.0 / max(total, 1.0), 1e-12, 0.5))


def train_supervised(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str],
    truth_table: str,
) -> Model:
    """m from labelled true pairs among the candidates, u from random pairs, prior from counts.

    ``truth_table`` holds (uid_l, uid_r) of true matches, uid_l < uid_r.
    """
    n_levels = [COMPARISONS[c].n_levels for c in comparisons]
    cols = [COMPARISONS[c].gamma_column for c in comparisons]
    rows = con.execute(
        f"SELECT {', '.join(cols)}, count(*) AS n FROM gammas g "
        f"JOIN {truth_table} t USING (uid_l, uid_r) GROUP BY ALL"
    ).fetchnumpy()
    patterns = (np.column_stack([np.asarray(rows[c], dtype=np.int64) for c in cols])
                if len(rows["n"]) else np.zeros((0, len(cols)), dtype=np.int64))
    counts = np.asarray(rows["n"], dtype=float)
    m = level_frequencies(patterns, counts, n_levels)
    u = estimate_u(con, settings, comparisons)
    n_true = float(con.execute(f"SELECT count(*) FROM {truth_table}").fetchall()[0][0])
    prior = float(np.clip(n_true / max(_all_pairs(con, settings.link_type == "link"), 1.0),
                          1e-12, 0.5))
    return Model(
        comparisons=tuple(comparisons),
        m={c: tuple(map(float, m[i])) for i, c in enumerate(comparisons)},
        u={c: tuple(map(float, u[i])) for i, c in enumerate(comparisons)},
        prior=prior, method="supervised", settings_hash=settings.hash(),
        training={"labelled_matches": int(n_true),
                  "labelled_matches_in_candidates": int(counts.sum())},
    )


__all__ = ["estimate_u", "match_posterior", "train_supervised", "train_unsupervised"]
