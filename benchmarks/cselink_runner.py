"""The cselink side of the benchmarks: what the harness calls in a fresh process.

Every function here is meant to run through :func:`benchmarks.measure.run_measured`
(``"benchmarks.cselink_runner:cselink_link"`` and so on), so cselink pays for its own
imports, file reading and training, exactly as each peer does.

One configuration on every data set: ``Settings()`` as shipped (only the link type
set), with no profile and no override. Whatever a data set needs, the engine works out
from the data; a benchmark that needed a setting to score well would measure the
setting, not the product.

Pair-returning functions give the peers' output shape (:data:`PEER_OUTPUT_COLUMNS`)
plus ``match_weight``, one row per scored candidate pair, with ``attrs["peer"]``,
``attrs["candidate_pairs"]`` and ``attrs["timings"]`` (seconds per pipeline stage).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from benchmarks.tasks import PEER_OUTPUT_COLUMNS
from cselink import Linker, Settings
from cselink.ingest import Source, source_from_spec
from cselink.schema import SCORES_TABLE

#: The probability at which :func:`cselink_dedupe` clusters (the benchmarks' threshold).
CLUSTER_THRESHOLD = 0.5

#: Columns of the pair frames returned here: the peers' columns plus the match weight.
RUNNER_OUTPUT_COLUMNS: tuple[str, ...] = (*PEER_OUTPUT_COLUMNS, "match_weight")


def _sources(sources: Mapping[str, Any] | Sequence[Any]) -> Mapping[str, Any] | list[Any]:
    """Spec strings (``NAME=PATH[:MAPPING.toml]``) become :class:`Source` objects."""
    if isinstance(sources, Mapping):
        return dict(sources)
    return [source_from_spec(s) if isinstance(s, str) and "=" in s else s for s in sources]


def _pairs(linker: Linker) -> pd.DataFrame:
    """Every scored candidate pair, in the runner's output shape."""
    pairs = linker.predict(0.0)
    out = pairs.loc[:, list(RUNNER_OUTPUT_COLUMNS)].reset_index(drop=True)
    out.attrs["peer"] = "cselink"
    out.attrs["candidate_pairs"] = len(out)
    out.attrs["timings"] = {k: round(v, 3) for k, v in linker.timings.items()}
    return out


def cselink_link(
    left: pd.DataFrame | str | Path, right: pd.DataFrame | str | Path
) -> pd.DataFrame:
    """Link two sources, unsupervised; every candidate pair with its probability and weight.

    Each source is named by its frame's ``source`` column (so ``source_l``/``source_r``
    equal the peers'), else by its file stem, else ``source_1``/``source_2``; the left
    records are always in ``record_id_l``.
    """
    names: list[str] = []
    for i, data in enumerate((left, right)):
        name = f"source_{i + 1}"
        if isinstance(data, pd.DataFrame) and "source" in data.columns and len(data):
            name = str(data["source"].iloc[0])
        elif isinstance(data, str | Path):
            name = Path(data).stem
        names.append(name if name not in names else f"{name}_2")
    with Linker({names[0]: left, names[1]: right}, settings=Settings(link_type="link")) as linker:
        out = _pairs(linker)
    # Make sure left is left whatever order the engine keeps within a pair.
    swap = (out["source_l"] != names[0]).to_numpy()
    if swap.any():
        for col in ("source", "record_id"):
            left_col, right_col = out[f"{col}_l"].copy(), out[f"{col}_r"].copy()
            out.loc[swap, f"{col}_l"] = right_col[swap]
            out.loc[swap, f"{col}_r"] = left_col[swap]
    return out


def cselink_dedupe(sources: Mapping[str, Any] | Sequence[Any]) -> pd.DataFrame:
    """Link and deduplicate one or more sources; every candidate pair (within and across).

    Args:
        sources: name -> DataFrame or file path, or a list of file paths and
            ``NAME=PATH[:MAPPING.toml]`` specs (native agency exports with their mapping).
    """
    with Linker(_sources(sources), settings=Settings()) as linker:
        out = _pairs(linker)
        # cselink's own clusters (strong non-matches kept apart), for the cluster figures.
        out.attrs["clusters"] = linker.cluster(CLUSTER_THRESHOLD)
        out.attrs["cluster_threshold"] = CLUSTER_THRESHOLD
        return out


def cselink_dedupe_summary(
    sources: Mapping[str, Any] | Sequence[Any],
    *,
    threshold: float = 0.5,
) -> dict[str, Any]:
    """The speed task: dedupe the sources and cluster at ``threshold``; counts only.

    This is what ``cselink dedupe`` does (train, score every candidate pair, connected
    components), without writing the output file. Returns record, pair, link and
    cluster counts and the stage timings, so nothing large is pickled back.
    """
    with Linker(_sources(sources), settings=Settings()) as linker:
        clusters = linker.cluster(threshold)
        counts = linker.con.execute(
            f"SELECT count(*), count(*) FILTER (WHERE match_probability >= ?) "
            f"FROM {SCORES_TABLE}",
            [threshold],
        ).fetchall()
        candidates, links = counts[0]
        timings = {k: round(v, 3) for k, v in linker.timings.items()}
    return {
        "records": len(clusters),
        "candidate_pairs": int(candidates),
        "links": int(links),
        "clusters": int(clusters["cluster_id"].nunique()),
        "timings": timings,
    }


def build_index(sources: Mapping[str, Any] | Sequence[Any], database: str | Path) -> dict[str, Any]:
    """Build a persisted look-up index: ingest, standardise, train, then one warm-up search.

    The first :meth:`Linker.search` on an index builds its look-up tables
    (:mod:`cselink.lookup`, kept in the file), so the build runs one search to leave the
    index ready; its time is reported as ``first_search_seconds``.
    """
    path = Path(database)
    if path.exists():
        path.unlink()
    started = time.perf_counter()
    with Linker(_sources(sources), settings=Settings(), database=path) as linker:
        linker.fit()
        records = int(linker.con.execute("SELECT count(*) FROM records").fetchall()[0][0])
        timings = dict(linker.timings)
    built = time.perf_counter() - started
    with Linker.open(path) as linker:
        t0 = time.perf_counter()
        linker.search({"forename": "Warm", "surname": "Up", "dob": "2010-01-01"})
        first = time.perf_counter() - t0
    return {
        "records": records,
        "build_seconds": round(built, 3),
        "first_search_seconds": round(first, 3),
        "timings": {k: round(v, 3) for k, v in timings.items()},
        "index_mib": round(path.stat().st_size / 2**20, 1),
    }


def search_latency(database: str | Path, referrals: pd.DataFrame) -> dict[str, Any]:
    """Open the index once and search each referral on its own, timing every call.

    Args:
        database: an index made by :func:`build_index`.
        referrals: canonical referral rows (``record_id`` is the referral id).

    Returns:
        ``open_seconds``, ``seconds`` (one per referral, in order), and ``best``: the
        best candidate per referral as ``(referral_id, source, record_id, probability)``
        tuples (None for a referral with no candidate), for a hit-rate check.
    """
    queries = referrals.drop(columns=[c for c in ("source",) if c in referrals.columns])
    t0 = time.perf_counter()
    linker = Linker.open(database)
    opened = time.perf_counter() - t0
    seconds: list[float] = []
    best: list[tuple[str, str | None, str | None, float | None]] = []
    try:
        for row in queries.to_dict(orient="records"):
            t = time.perf_counter()
            found = linker.search(row)
            seconds.append(time.perf_counter() - t)
            if len(found):
                top = found.iloc[0]
                best.append((str(row["record_id"]), str(top["source"]), str(top["record_id"]),
                             float(top["match_probability"])))
            else:
                best.append((str(row["record_id"]), None, None, None))
    finally:
        linker.close()
    return {
        "open_seconds": round(opened, 4),
        "seconds": seconds,
        "median_seconds": statistics.median(seconds) if seconds else None,
        "best": best,
    }


def cselink_check(
    referrals: str | Path, sources: Mapping[str, str | Path] | Sequence[Source]
) -> pd.DataFrame:
    """The pre-panel check (``cselink.check.run_check``) with default options; results.csv rows.

    Only used when :mod:`cselink.check` exposes ``run_check``; the check itself is not
    part of the benchmarks.
    """
    import importlib

    check_module = importlib.import_module("cselink.check")  # cselink.check is the function

    if isinstance(sources, Mapping):
        agency = [Source(name, Path(path)) for name, path in sources.items()]
    else:
        agency = list(sources)
    result = check_module.run_check(str(referrals), agency)
    return result.results.reset_index(drop=True)
