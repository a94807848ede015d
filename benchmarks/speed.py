"""Speed and memory of cselink beside Splink: dedupe at growing sizes, FEBRL4, look-ups.

Run ``python -m benchmarks.speed [--sizes 10000,100000,1000000]``. It writes
``benchmarks/results/speed.json`` and ``speed_scaling.png`` / ``lookup_latency.png``
and rebuilds ``benchmarks/results/SUMMARY.md``. Measurements, one at a time (the
machine has two cores and other users):

1. **Dedupe at each size** (records in the five canonical agency CSVs of a seeded
   standard-difficulty synthetic population, generated once into ``/tmp/cselink-bench``):
   read the files, train unsupervised, score every candidate pair, cluster at 0.5.
   cselink runs :func:`benchmarks.cselink_runner.cselink_dedupe_summary`; Splink runs
   :func:`splink_dedupe_summary` (the peer's best configuration from
   :mod:`benchmarks.peers`, then the same connected components). Both return counts
   only. Each run is a fresh process: whole-process wall time, time of the call, peak
   resident memory, candidate pairs per second of the call.
   Splink's blocking plan is counted on the data at each size and every rule over
   :data:`benchmarks.peers.KEY_PAIR_BUDGET` pairs is tightened by a key
   (:func:`benchmarks.peers.blocking_plan`): unchanged up to 100k records, about 17
   pairs a record at 1M. Splink is skipped at a size when its run there is estimated (a
   straight-line fit of its wall time and peak memory on candidate pairs at the sizes
   already measured, evaluated at the pair count of that plan) to exceed
   ``--splink-max-seconds`` (600) or ``--splink-max-gib`` (12); the estimate and the plan
   are reported.
2. **Growth exponent**: the slope of log(wall time) on log(records) over the sizes.
3. **FEBRL4 link**, cselink (``Settings()`` as shipped) and Splink, ```--repeat`` times interleaved:
   median whole-process wall time and the ratio (target: cselink <= 0.5 x Splink).
4. **Single-referral look-up latency**: a persisted index of the largest size
   (:func:`benchmarks.cselink_runner.build_index`), reopened with ``Linker.open`` and
   searched with one referral at a time (``--lookups`` referrals from the population's
   ``referrals.csv``): median, p95, p99. If the largest index cannot be built within
   ``--index-timeout`` seconds the next smaller size is used, and the results say so.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import shlex
import statistics
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.measure import MeasuredRunTimeout, git_state, machine_info, run_measured
from benchmarks.metrics import components
from benchmarks.render import plot_latency, plot_scaling, write_summary
from benchmarks.tasks import (
    CACHE_DIR,
    CSELINK_LINK,
    RESULTS_DIR,
    ensure_synthetic,
    febrl4_task,
    read_canonical,
    synthetic_agencies,
)

logger = logging.getLogger(__name__)

#: Record counts measured by default.
DEFAULT_SIZES: tuple[int, ...] = (10_000, 100_000, 1_000_000)

#: Records per person of a standard-difficulty population (about 1.95), to size it.
RECORDS_PER_PERSON = 1.95

#: Seed of the speed populations.
SPEED_SEED = 7

#: Splink is skipped where it is estimated to take longer or use more memory than this.
SPLINK_MAX_SECONDS = 600.0
SPLINK_MAX_GIB = 12.0

#: Seconds before a dedupe run is abandoned.
DEDUPE_TIMEOUT = 3_600.0

#: Seconds allowed to build the look-up index before falling back to a smaller size.
INDEX_TIMEOUT = 1_800.0

#: The FEBRL4 link speed target: cselink's wall time at most this share of Splink's.
FEBRL4_TARGET_RATIO = 0.5


def speed_folder(records: int, seed: int = SPEED_SEED, cache_dir: Path = CACHE_DIR) -> Path:
    """The cached standard-difficulty population of about ``records`` agency records."""
    people = max(50, round(records / RECORDS_PER_PERSON))
    return ensure_synthetic("standard", people, seed, cache_dir)


def canonical_paths(folder: Path) -> dict[str, str]:
    """Agency name -> canonical CSV path of a synthetic folder."""
    return {a: str(folder / "canonical" / f"{a}.csv") for a in synthetic_agencies(folder)}


def splink_dedupe_summary(paths: dict[str, str], *, threshold: float = 0.5) -> dict[str, Any]:
    """The speed task for Splink: read the CSVs, dedupe with the Splink peer, cluster.

    Runs in the measured child. Returns counts only (like
    :func:`benchmarks.cselink_runner.cselink_dedupe_summary`).
    """
    from benchmarks.peers import splink_dedupe

    frame = pd.concat([read_canonical(p) for p in paths.values()], ignore_index=True)
    pairs = splink_dedupe(frame)
    keys = pd.Index(pairs["source_l"] + ":" + pairs["record_id_l"]).append(
        pd.Index(pairs["source_r"] + ":" + pairs["record_id_r"]))
    all_keys = pd.Index(frame["source"] + ":" + frame["record_id"])
    codes = all_keys.get_indexer(keys)
    a, b = codes[: len(pairs)], codes[len(pairs):]
    linked = pairs["match_probability"].to_numpy() >= threshold
    labels = components(len(frame), a[linked], b[linked])
    return {
        "records": len(frame),
        "candidate_pairs": int(pairs.attrs.get("candidate_pairs", len(pairs))),
        "links": int(linked.sum()),
        "clusters": int(len(np.unique(labels))),
    }


def splink_blocking_plan(paths: dict[str, str]) -> dict[str, int]:
    """The blocking plan the Splink peer runs on these files: rule -> pairs.

    Every rule of :func:`benchmarks.peers.blocking_plan` (tightened where over budget,
    with the swapped-name and, on data with aliases, the alias rule), named by its
    columns joined with ``+``, counted by group-by.
    """
    from benchmarks import peers

    frame = pd.concat([read_canonical(p) for p in paths.values()], ignore_index=True)
    prepared = peers.prepare_records(frame)
    plan = peers.blocking_plan([prepared], variants=peers._has_alias_columns(frame))
    return {"+".join(key): count for key, count in plan.items()}


def splink_pair_estimate(paths: dict[str, str]) -> int:
    """Pairs the Splink peer's blocking plan gives on these files (sum over its rules).

    Pairs two rules share are counted twice, and alias rules once per shared name, so
    this is a little above Splink's distinct candidate pairs (8.4M against 7.75M at
    100k records).
    """
    return int(sum(splink_blocking_plan(paths).values()))


def _fit_line(x: Sequence[float], y: Sequence[float], at: float) -> float:
    """A straight line through the points (proportional with one point), evaluated at ``at``."""
    if len(x) == 1:
        return float(y[0]) * at / max(float(x[0]), 1.0)
    slope, intercept = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return float(max(slope * at + intercept, max(y)))


def growth_exponent(records: Sequence[int], seconds: Sequence[float]) -> float | None:
    """Slope of log(seconds) on log(records); None with fewer than two sizes."""
    if len(records) < 2:
        return None
    slope, _ = np.polyfit(np.log(np.asarray(records, float)), np.log(np.asarray(seconds, float)),
                          1)
    return round(float(slope), 3)


def _load() -> float | None:
    """The one-minute load average (the machine is shared: this says how busy it was)."""
    return round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None


def _measured_row(measured: Any, load_before: float | None = None) -> dict[str, Any]:
    row = dict(measured.result)
    row.update(measured.costs())
    row["load_average"] = [load_before, _load()]
    row["pairs_per_second"] = round(row["candidate_pairs"] / max(row["call_seconds"], 1e-9))
    row["records_per_second"] = round(row["records"] / max(row["wall_seconds"], 1e-9))
    return row


def measure_sizes(
    sizes: Sequence[int], *, seed: int, cache_dir: Path, splink: bool, threshold: float,
    splink_max_seconds: float, splink_max_gib: float, timeout: float,
    say: Callable[[str], None],
) -> list[dict[str, Any]]:
    """Dedupe at every size with cselink and (where affordable) Splink, one run at a time."""
    rows: list[dict[str, Any]] = []
    splink_points: list[tuple[int, float, float]] = []  # (pairs, wall s, peak MiB)
    for size in sizes:
        folder = speed_folder(size, seed, cache_dir)
        paths = canonical_paths(folder)
        row: dict[str, Any] = {"target_records": size, "folder": str(folder)}
        say(f"dedupe {size:,}: cselink ...")
        load = _load()
        measured = run_measured("benchmarks.cselink_runner:cselink_dedupe_summary", paths,
                                threshold=threshold, timeout=timeout)
        row["cselink"] = _measured_row(measured, load)
        row["records"] = row["cselink"]["records"]
        say(f"dedupe {size:,}: cselink {row['cselink']['wall_seconds']:.1f}s "
            f"{row['cselink']['peak_rss_mib']:.0f} MiB")
        if splink:
            row["splink"] = _splink_at(paths, splink_points, threshold=threshold,
                                       max_seconds=splink_max_seconds, max_gib=splink_max_gib,
                                       timeout=timeout, say=say, size=size)
        row.setdefault("records", sum(len(read_canonical(p)) for p in paths.values()))
        rows.append(row)
    return rows


def _splink_at(
    paths: dict[str, str], points: list[tuple[int, float, float]], *, threshold: float,
    max_seconds: float, max_gib: float, timeout: float, say: Callable[[str], None], size: int,
) -> dict[str, Any]:
    """Run Splink at one size unless the estimate from earlier sizes is over budget."""
    estimate: dict[str, Any] = {}
    if points:
        plan = splink_blocking_plan(paths)
        pairs = sum(plan.values())
        est_s = _fit_line([p[0] for p in points], [p[1] for p in points], pairs)
        est_mib = _fit_line([p[0] for p in points], [p[2] for p in points], pairs)
        estimate = {"blocking_pairs_counted": pairs, "blocking_plan": plan,
                    "estimated_wall_seconds": round(est_s),
                    "estimated_peak_gib": round(est_mib / 1024, 1)}
        if est_s > max_seconds or est_mib / 1024 > max_gib:
            say(f"dedupe {size:,}: splink skipped (estimated {est_s:.0f}s, "
                f"{est_mib / 1024:.1f} GiB)")
            return {"skipped": f"estimated {est_s / 60:.0f} min and {est_mib / 1024:.1f} GiB "
                    f"(limits {max_seconds / 60:.0f} min, {max_gib:.0f} GiB)", **estimate}
    say(f"dedupe {size:,}: splink ...")
    load = _load()
    measured = run_measured("benchmarks.speed:splink_dedupe_summary", paths,
                            threshold=threshold, timeout=timeout)
    row = {**_measured_row(measured, load), **estimate}
    points.append((row["candidate_pairs"], row["wall_seconds"], row["peak_rss_mib"]))
    say(f"dedupe {size:,}: splink {row['wall_seconds']:.1f}s {row['peak_rss_mib']:.0f} MiB")
    return row


def measure_febrl4(repeat: int, *, splink: bool, timeout: float,
                   say: Callable[[str], None], limit: int | None = None) -> dict[str, Any]:
    """FEBRL4 link, cselink and Splink interleaved ``repeat`` times; medians and ratio.

    ``limit`` keeps only the entities numbered below it (smoke tests).
    """
    task = febrl4_task(peers=(), limit=limit)
    left, right = task.runs[-1].args
    runs: dict[str, tuple[str, dict[str, Any]]] = {
        "cselink": (CSELINK_LINK, {})}
    if splink:
        runs["splink"] = ("benchmarks.peers:splink_link", {})
    out: dict[str, Any] = {name: {"wall_seconds": [], "call_seconds": [], "peak_rss_mib": [],
                                  "load_average": []} for name in runs}
    for i in range(repeat):
        for name, (path, kwargs) in runs.items():
            say(f"febrl4 link {i + 1}/{repeat}: {name} ...")
            out[name]["load_average"].append(_load())
            measured = run_measured(path, left, right, timeout=timeout, **kwargs)
            for key, value in measured.costs().items():
                if key in out[name]:
                    out[name][key].append(value)
            out[name]["candidate_pairs"] = len(measured.result)
            del measured
    for name in runs:
        for key in ("wall_seconds", "call_seconds", "peak_rss_mib"):
            out[name][f"median_{key}"] = round(statistics.median(out[name][key]), 3)
    if splink:
        ratio = out["cselink"]["median_wall_seconds"] / out["splink"]["median_wall_seconds"]
        out["ratio_wall"] = round(ratio, 3)
        out["ratio_call"] = round(out["cselink"]["median_call_seconds"]
                                  / out["splink"]["median_call_seconds"], 3)
        out["target_ratio"] = FEBRL4_TARGET_RATIO
        out["target_met"] = bool(ratio <= FEBRL4_TARGET_RATIO)
    out["repeat"] = repeat
    out["records"] = len(left) + len(right)
    return out


def _hit_rate(folder: Path, best: list[tuple[Any, ...]]) -> dict[str, Any]:
    """Share of referrals of a held person whose best candidate is one of their records."""
    rt = read_canonical(folder / "referrals_truth.csv").set_index("referral_id")["person_id"]
    truth = read_canonical(folder / "truth.csv")
    owner = dict(zip(truth["source"] + ":" + truth["record_id"], truth["person_id"],
                     strict=True))
    held = set(truth["person_id"])
    hits = total = 0
    for referral_id, source, record_id, _prob in best:
        person = rt.get(referral_id, "")
        if person and person in held:
            total += 1
            hits += int(source is not None and owner.get(f"{source}:{record_id}") == person)
    return {"held_referrals": total, "best_is_theirs": round(hits / total, 4) if total else None}


def measure_lookup(
    sizes: Sequence[int], lookups: int, *, seed: int, cache_dir: Path, index_timeout: float,
    timeout: float, say: Callable[[str], None], splink_lookups: int = 0,
) -> dict[str, Any]:
    """Build a persisted index of the largest size that builds in time; time ``lookups``
    single-referral searches against it, and Splink's look-up of the first
    ``splink_lookups`` of those referrals against the same records (0: not run)."""
    notes: list[str] = []
    for size in sorted(sizes, reverse=True):
        folder = speed_folder(size, seed, cache_dir)
        database = Path(cache_dir) / f"index-{folder.name}.duckdb"
        say(f"look-up: building the index of {size:,} records ...")
        try:
            build = run_measured("benchmarks.cselink_runner:build_index",
                                 canonical_paths(folder), str(database), timeout=index_timeout)
        except MeasuredRunTimeout as exc:
            notes.append(f"index of {size:,} records not built: {str(exc).splitlines()[0]}")
            say(notes[-1])
            continue
        referrals = read_canonical(folder / "referrals.csv").head(lookups)
        say(f"look-up: {len(referrals)} searches ...")
        load = _load()
        searched = run_measured("benchmarks.cselink_runner:search_latency", str(database),
                                referrals, timeout=timeout)
        seconds = np.asarray(searched.result["seconds"])
        database.unlink(missing_ok=True)
        peer: dict[str, Any] = {}
        if splink_lookups > 0:
            peer = _splink_lookup(folder, referrals.head(splink_lookups), seconds,
                                  timeout=timeout, say=say)
        return {
            "target_records": size,
            "index": {**build.result, **build.costs()},
            "searches": len(seconds),
            "median_ms": round(float(np.median(seconds)) * 1000, 1),
            "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1),
            "p99_ms": round(float(np.percentile(seconds, 99)) * 1000, 1),
            "max_ms": round(float(seconds.max()) * 1000, 1),
            "open_seconds": searched.result["open_seconds"],
            "search_process": searched.costs(),
            "load_average": [load, _load()],
            "hit_rate": _hit_rate(folder, searched.result["best"]),
            **({"splink": peer} if peer else {}),
            "notes": notes,
            "ms_all": [round(float(s) * 1000, 2) for s in seconds],
        }
    raise MeasuredRunTimeout("no look-up index could be built in time: " + "; ".join(notes))


def _splink_lookup(folder: Path, referrals: pd.DataFrame, cselink_seconds: np.ndarray, *,
                   timeout: float, say: Callable[[str], None]) -> dict[str, Any]:
    """Splink's look-up latency (:func:`benchmarks.peers.splink_lookup_latency`) over the
    same referrals, in its own measured process, with the ratio of the medians over them."""
    say(f"look-up: Splink, {len(referrals)} searches ...")
    run = run_measured("benchmarks.peers:splink_lookup_latency", canonical_paths(folder),
                       referrals, timeout=timeout)
    seconds = np.asarray(run.result["seconds"])
    mine = float(np.median(cselink_seconds[: len(seconds)]))
    return {
        "searches": len(seconds),
        "median_ms": round(float(np.median(seconds)) * 1000, 1),
        "p95_ms": round(float(np.percentile(seconds, 95)) * 1000, 1),
        "build_seconds": run.result["build_seconds"],
        "median_candidates": float(np.median(run.result["candidates"])),
        "process": run.costs(),
        "cselink_median_ms_same_referrals": round(mine * 1000, 1),
        "ratio_median": round(mine / float(np.median(seconds)), 4),
    }


def run_speed(
    *,
    sizes: Sequence[int] = DEFAULT_SIZES,
    seed: int = SPEED_SEED,
    splink: bool = True,
    febrl_repeat: int = 3,
    febrl_limit: int | None = None,
    lookups: int = 1000,
    lookup: bool = True,
    splink_lookups: int = 100,
    dedupe: bool = True,
    out_dir: Path | None = RESULTS_DIR,
    name: str = "speed",
    cache_dir: Path = CACHE_DIR,
    threshold: float = 0.5,
    splink_max_seconds: float = SPLINK_MAX_SECONDS,
    splink_max_gib: float = SPLINK_MAX_GIB,
    index_timeout: float = INDEX_TIMEOUT,
    timeout: float = DEDUPE_TIMEOUT,
    command: str | None = None,
    notes: Sequence[str] = (),
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the speed benchmark and (with ``out_dir``) write ``<name>.json`` and plots.

    Args:
        sizes: target record counts for the dedupe runs (ascending).
        seed: seed of the populations.
        splink: run Splink beside cselink.
        febrl_repeat: FEBRL4 link runs per contender (0 skips FEBRL4).
        febrl_limit: keep only FEBRL4 entities numbered below this (smoke tests).
        lookups: referrals searched one at a time.
        lookup: measure look-up latency.
        splink_lookups: of those referrals, how many Splink looks up too (with ``splink``).
        dedupe: measure the dedupe runs (without them, ``sizes`` only sizes the index).
        out_dir: results folder; None writes nothing.
        name: results file stem.
        cache_dir: data and index cache.
        threshold: link threshold of the dedupe runs.
        splink_max_seconds: skip Splink where estimated slower than this.
        splink_max_gib: skip Splink where estimated to need more memory than this.
        index_timeout: seconds allowed to build one look-up index.
        timeout: seconds allowed for one dedupe run.
        command: the command line to record.
        notes: free-text notes to keep with the results (e.g. a size that could not run).
        progress: called with a short line as each run starts and ends.
    """
    say = progress or (lambda _msg: None)
    sizes = sorted(sizes)
    started = dt.datetime.now(dt.UTC)
    output: dict[str, Any] = {
        "benchmark": "speed",
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": None,
        "threshold": threshold,
        "settings": {"sizes": list(sizes), "seed": seed, "splink": splink, "dedupe": dedupe,
                     "splink_max_seconds": splink_max_seconds, "splink_max_gib": splink_max_gib,
                     "febrl_repeat": febrl_repeat, "lookups": lookups,
                     "splink_lookups": splink_lookups},
        "git": git_state(),
        "machine": machine_info(),
        "dedupe": [],
        "growth": {},
        "notes": list(notes),
    }

    def save() -> None:
        # Written after every phase, so a long run that is stopped keeps what it measured
        # ("finished" stays null until the end).
        if out_dir is None:
            return
        out_dir.mkdir(parents=True, exist_ok=True)
        plain = {k: v for k, v in output.items() if k != "lookup"}
        if "lookup" in output:
            plain["lookup"] = {k: v for k, v in output["lookup"].items() if k != "ms_all"}
        (out_dir / f"{name}.json").write_text(json.dumps(plain, indent=1) + "\n",
                                             encoding="utf-8")

    if dedupe:
        rows = measure_sizes(sizes, seed=seed, cache_dir=cache_dir, splink=splink,
                             threshold=threshold, splink_max_seconds=splink_max_seconds,
                             splink_max_gib=splink_max_gib, timeout=timeout, say=say)
        output["dedupe"] = rows
        for contender in ("cselink", "splink"):
            pts = [(r["records"], r[contender]) for r in rows
                   if isinstance(r.get(contender), dict) and "wall_seconds" in r[contender]]
            if len(pts) >= 2:
                output["growth"][contender] = {
                    "sizes": [p[0] for p in pts],
                    "wall_exponent": growth_exponent([p[0] for p in pts],
                                                     [p[1]["wall_seconds"] for p in pts]),
                    "call_exponent": growth_exponent([p[0] for p in pts],
                                                     [p[1]["call_seconds"] for p in pts]),
                }
        save()
    if febrl_repeat > 0:
        output["febrl4_link"] = measure_febrl4(febrl_repeat, splink=splink, timeout=timeout,
                                               say=say, limit=febrl_limit)
        save()
    if lookup and lookups > 0:
        output["lookup"] = measure_lookup(sizes, lookups, seed=seed, cache_dir=cache_dir,
                                          index_timeout=index_timeout, timeout=timeout, say=say,
                                          splink_lookups=splink_lookups if splink else 0)
    output["finished"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        plots = []
        if output["dedupe"]:
            plots.append(plot_scaling(output["dedupe"], out_dir / f"{name}_scaling.png").name)
        lk = output.get("lookup", {})
        if lk.get("ms_all"):
            plots.append(plot_latency(lk["ms_all"], lk["index"]["records"],
                                      out_dir / f"{name}_lookup_latency.png").name)
        output["plots"] = plots
    save()
    if "lookup" in output:
        output["lookup"].pop("ms_all", None)  # plotted; too long for the JSON
    if out_dir is not None and out_dir.resolve() == RESULTS_DIR.resolve():
        write_summary(out_dir)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.speed [--sizes ...] [options]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=",".join(str(s) for s in DEFAULT_SIZES),
                        help="comma-separated record counts")
    parser.add_argument("--seed", type=int, default=SPEED_SEED)
    parser.add_argument("--no-splink", action="store_true")
    parser.add_argument("--repeat", type=int, default=3, help="FEBRL4 runs per contender")
    parser.add_argument("--lookups", type=int, default=1000)
    parser.add_argument("--no-lookup", action="store_true")
    parser.add_argument("--splink-lookups", type=int, default=100,
                        help="referrals Splink looks up too (0: none)")
    parser.add_argument("--no-dedupe", action="store_true",
                        help="skip the dedupe runs (--sizes then only sizes the look-up index)")
    parser.add_argument("--splink-max-seconds", type=float, default=SPLINK_MAX_SECONDS)
    parser.add_argument("--splink-max-gib", type=float, default=SPLINK_MAX_GIB)
    parser.add_argument("--index-timeout", type=float, default=INDEX_TIMEOUT)
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default="speed")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--note", action="append", default=[],
                        help="a note to keep with the results (repeatable)")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    command = "python -m benchmarks.speed " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    run_speed(
        sizes=[int(s.replace("_", "")) for s in opts.sizes.split(",") if s],
        seed=opts.seed, splink=not opts.no_splink, febrl_repeat=opts.repeat,
        lookups=opts.lookups, lookup=not opts.no_lookup, dedupe=not opts.no_dedupe,
        splink_lookups=opts.splink_lookups,
        out_dir=opts.out, name=opts.name,
        cache_dir=opts.cache, splink_max_seconds=opts.splink_max_seconds,
        splink_max_gib=opts.splink_max_gib, index_timeout=opts.index_timeout,
        command=command.strip(), notes=opts.note,
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"wrote {opts.out / (opts.name + '.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
