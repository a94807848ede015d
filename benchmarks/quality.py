"""Linkage quality of cselink beside its peers, on synthetic agency data and on FEBRL.

Run ``python -m benchmarks.quality`` (about 5,000 people per synthetic set) or
``python -m benchmarks.quality --full`` (larger sets). It writes
``benchmarks/results/quality.json`` (``quality_full.json`` with ``--full``), one PNG
precision-recall curve and one match-weight histogram per data set, and rebuilds
``benchmarks/results/SUMMARY.md``. ``--tasks febrl1,febrl2`` runs a subset (with
``--out`` elsewhere, to leave the committed results alone).

The tasks are :mod:`benchmarks.tasks`; every contender runs through
:func:`benchmarks.measure.run_measured` in a fresh process (so wall time and peak memory
are comparable) and returns every candidate pair it scored with a match probability;
:mod:`benchmarks.metrics` scores them all with the same code and
:mod:`benchmarks.render` writes the plots and the summary. A contender that fails stops
the benchmark with its error: no result file is written with a hole in it.

The referral-check figures (known-to-service recall, false-known rate) come from
:func:`cselink.check.run_check` and :func:`cselink.check.evaluate_against_truth` and
are reported only when that module exposes them, beside the same figures for today's
practice: an exact forename + surname + DOB look-up at each agency
(:func:`benchmarks.peers.exact_check`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import logging
import os
import shlex
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.measure import git_state, machine_info, run_measured
from benchmarks.metrics import THRESHOLD, Truth, check_tag_groups, evaluate, pr_curve
from benchmarks.peers import exact_check
from benchmarks.render import plot_pr, plot_weights, write_summary
from benchmarks.tasks import (
    CACHE_DIR,
    FEBRL_TASKS,
    PEER_RUNS,
    RESULTS_DIR,
    Task,
    ensure_synthetic,
    febrl_task,
    read_canonical,
    synthetic_agencies,
    synthetic_task,
)

logger = logging.getLogger(__name__)

#: Synthetic tasks by name: the difficulty of each.
SYNTHETIC_TASKS: dict[str, str] = {"synthetic-standard": "standard", "synthetic-hard": "hard"}

#: Every task, in run order.
ALL_TASKS: tuple[str, ...] = (*SYNTHETIC_TASKS, *FEBRL_TASKS)

#: People per synthetic data set: default and ``--full``.
DEFAULT_PEOPLE = 5_000


FULL_PEOPLE = 20_000


#: Seed of the synthetic populations.
DEFAULT_SEED = 20260


#: Seconds before one contender's run is abandoned.
RUN_TIMEOUT = 3_600.0


#: Contenders whose precision-recall curves are plotted.
CURVE_CONTENDERS: tuple[str, ...] = ("cselink", "cselink-native", "splink")


def referral_check(folder: Path, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Known-to-service figures of ``cselink.check`` on a synthetic folder's referrals.

    Reported only when :mod:`cselink.check` exposes ``run_check`` and
    ``evaluate_against_truth``; otherwise says why not.

    Raises:
        MeasuredRunError: the check failed.
    """
    try:
        check_module = importlib.import_module("cselink.check")  # cselink.check is the function
    except ImportError as exc:
        return {"available": False, "reason": f"cselink.check does not import: {exc}"}
    needed = ("run_check", "evaluate_against_truth")
    if not all(hasattr(check_module, name) for name in needed):
        return {"available": False, "reason": "cselink.check exposes no run_check/"
                "evaluate_against_truth"}
    agencies = synthetic_agencies(folder)
    sources = {a: str(folder / "canonical" / f"{a}.csv") for a in agencies}
    measured = run_measured("benchmarks.cselink_runner:cselink_check",
                            str(folder / "referrals.csv"), sources, timeout=timeout)
    figures = check_module.evaluate_against_truth(
        measured.result, read_canonical(folder / "referrals_truth.csv"),
        read_canonical(folder / "truth.csv"), agencies)
    exact = check_module.evaluate_against_truth(
        exact_check(read_canonical(folder / "referrals.csv"),
                    {a: read_canonical(folder / "canonical" / f"{a}.csv") for a in agencies}),
        read_canonical(folder / "referrals_truth.csv"), read_canonical(folder / "truth.csv"),
        agencies)
    return {"available": True, "figures": figures, "exact_figures": exact, **measured.costs()}


def run_task(
    task: Task, out_dir: Path | None, *, threshold: float = THRESHOLD,
    timeout: float = RUN_TIMEOUT, check_referrals: bool = True,
    progress: Callable[[str], None] | None = None, plot_prefix: str = "",
) -> dict[str, Any]:
    """Run every contender of a task, evaluate it and (with ``out_dir``) draw its plots
    (``<plot_prefix>pr_<task>.png`` and ``<plot_prefix>weights_<task>.png``).

    Raises:
        MeasuredRunError: a contender failed (the benchmark fails with it).
    """
    say = progress or (lambda _msg: None)
    truth = Truth(task.records, task.kind)
    result: dict[str, Any] = {
        "task": task.name, "kind": task.kind, "records": truth.n,
        "entities": len(truth.entities), "true_pairs": truth.n_true, "info": task.info,
        "contenders": {},
    }
    extras: dict[str, Any] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray, float, float]] = {}
    points: dict[str, tuple[float, float]] = {}
    for run in task.runs:
        say(f"{task.name}: {run.label} ...")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        measured = run_measured(run.func_path, *run.args, timeout=timeout, **run.kwargs)
        figures, scored = evaluate(measured.result, task, truth, threshold=threshold,
                                   extras=extras)
        figures["costs"] = measured.costs()
        if load is not None:
            figures["costs"]["load_average_before"] = round(load, 2)
        if "timings" in measured.result.attrs:
            figures["stage_seconds"] = measured.result.attrs["timings"]
        result["contenders"][run.label] = figures
        say(f"{task.name}: {run.label} F1 {figures['f1']:.4f} "
            f"wall {figures['costs']['wall_seconds']:.1f}s")
        if run.label in CURVE_CONTENDERS:
            precision, recall = pr_curve(scored, truth.n_true)
            curves[run.label] = (precision, recall, figures["precision"], figures["recall"])
        else:
            points[run.label] = (figures["precision"], figures["recall"])
        if run.label == "cselink" and out_dir is not None:
            path = plot_weights(task.name, scored["weight"], scored["is_true"],
                                out_dir / f"{plot_prefix}weights_{task.name}.png")
            result.setdefault("plots", []).append(path.name)
        del measured, scored
    if out_dir is not None and curves:
        path = plot_pr(task.name, curves, out_dir / f"{plot_prefix}pr_{task.name}.png", points)
        result.setdefault("plots", []).append(path.name)
    if check_referrals and task.folder is not None:
        say(f"{task.name}: referral check ...")
        result["referral_check"] = referral_check(task.folder, timeout)
    return result


def run_quality(
    *,
    people: int = DEFAULT_PEOPLE,
    seed: int = DEFAULT_SEED,
    tasks: Sequence[str] = ALL_TASKS,
    peers: Sequence[str] = tuple(PEER_RUNS),
    native: bool = True,
    check_referrals: bool = True,
    out_dir: Path | None = RESULTS_DIR,
    name: str = "quality",
    cache_dir: Path = CACHE_DIR,
    febrl_limit: int | None = None,
    threshold: float = THRESHOLD,
    timeout: float = RUN_TIMEOUT,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the quality benchmark and (with ``out_dir``) write ``<name>.json`` and the plots.

    Args:
        people: people per synthetic data set.
        seed: seed of the synthetic data sets.
        tasks: the tasks to run, in this order (names of :data:`ALL_TASKS`).
        peers: peers to run beside cselink (names of :data:`PEER_RUNS`).
        native: also run cselink on the native agency exports.
        check_referrals: add the referral-check figures where ``cselink.check`` has them.
        out_dir: results folder; None writes nothing.
        name: results file stem.
        cache_dir: synthetic data cache.
        febrl_limit: keep only FEBRL entities numbered below this (smoke tests).
        threshold: link threshold.
        timeout: seconds per contender run.
        command: the command line to record.
        progress: called with a short line as each run starts and ends.

    Returns:
        The results (as written to JSON).
    """
    check_tag_groups()
    unknown = [p for p in peers if p not in PEER_RUNS]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; choose from {list(PEER_RUNS)}")
    unknown = [t for t in tasks if t not in ALL_TASKS]
    if unknown:
        raise ValueError(f"unknown tasks {unknown}; choose from {list(ALL_TASKS)}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)

    def make(task_name: str) -> Task:
        if task_name in SYNTHETIC_TASKS:
            folder = ensure_synthetic(SYNTHETIC_TASKS[task_name], people, seed, cache_dir)
            return synthetic_task(folder, task_name, peers=peers, native=native)
        return febrl_task(task_name, peers, limit=febrl_limit)

    started = dt.datetime.now(dt.UTC)
    prefix = "" if name == "quality" else f"{name}_"
    results = [run_task(make(t), out_dir, threshold=threshold, timeout=timeout,
                        check_referrals=check_referrals, progress=progress, plot_prefix=prefix)
               for t in tasks]
    output = {
        "benchmark": "quality",
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "threshold": threshold,
        "settings": {"people": people, "seed": seed, "tasks": list(tasks),
                     "peers": list(peers), "febrl_limit": febrl_limit},
        "git": git_state(),
        "machine": machine_info(),
        "tasks": results,
    }
    if out_dir is not None:
        (out_dir / f"{name}.json").write_text(json.dumps(output, indent=1) + "\n",
                                             encoding="utf-8")
        if out_dir.resolve() == RESULTS_DIR.resolve():
            write_summary(out_dir)
    return output


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.quality [--full] [options]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help=f"{FULL_PEOPLE:,} people per synthetic set (default "
                        f"{DEFAULT_PEOPLE:,})")
    parser.add_argument("--people", type=int, default=None, help="override people per set")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--tasks", default=",".join(ALL_TASKS),
                        help="comma-separated tasks to run, in order")
    parser.add_argument("--peers", default=",".join(PEER_RUNS),
                        help="comma-separated peers to run (empty for none)")
    parser.add_argument("--no-febrl", action="store_true", help="leave out the FEBRL tasks")
    parser.add_argument("--no-native", action="store_true")
    parser.add_argument("--no-check", action="store_true", help="skip the referral check")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--summary-only", action="store_true",
                        help="only rebuild SUMMARY.md from the JSON files in --out")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if opts.summary_only:
        print(f"wrote {write_summary(opts.out)}", file=sys.stderr)
        return 0
    people = opts.people or (FULL_PEOPLE if opts.full else DEFAULT_PEOPLE)
    name = opts.name or ("quality_full" if opts.full else "quality")
    command = "python -m benchmarks.quality " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    run_quality(
        people=people, seed=opts.seed,
        tasks=[t for t in opts.tasks.split(",") if t and not (
            opts.no_febrl and t in FEBRL_TASKS)],
        peers=[p for p in opts.peers.split(",") if p],
        native=not opts.no_native, check_referrals=not opts.no_check, out_dir=opts.out,
        name=name, cache_dir=opts.cache, threshold=opts.threshold, command=command.strip(),
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"wrote {opts.out / (name + '.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
