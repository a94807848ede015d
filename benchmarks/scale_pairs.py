"""Candidate pairs per record, per blocking rule, and their growth with size (issue 15).

Reads the audit files of ``cselink dedupe`` runs (``OUT.audit.json``: pair counts per
rule, stage timings, peak resident memory) and prints Markdown tables: per run the
records, candidate pairs, pairs per record, wall time, peak memory and the peak after
each stage; per rule
the pairs per record at each size and the growth exponent ``b`` in
``pairs ~ records ** b`` between the smallest and the largest run (1 is linear: pairs
per record constant; 2 is a rule whose blocks grow with the data).

Usage::

    python -m benchmarks.scale_pairs LABEL=OUT.audit.json[:WALL_SECONDS] ...

``WALL_SECONDS`` is the whole command's wall time as measured outside it (e.g. by
``/usr/bin/time``); without it the sum of the stage timings is shown.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True, slots=True)
class Run:
    """One dedupe run, as its audit records it."""

    label: str
    audit: dict[str, Any]
    wall_seconds: float | None

    @property
    def records(self) -> int:
        return int(self.audit["pairs"]["records"])

    @property
    def seconds(self) -> float:
        if self.wall_seconds is not None:
            return self.wall_seconds
        return float(sum(self.audit["run"]["timings_seconds"].values()))


def read_run(spec: str) -> Run:
    """``LABEL=PATH[:WALL_SECONDS]`` -> :class:`Run`."""
    label, _, rest = spec.partition("=")
    path, _, wall = rest.partition(":")
    audit = json.loads(Path(path).read_text())
    if not audit.get("pairs"):
        raise SystemExit(f"{path}: the audit has no pair counts (not a blocking run)")
    return Run(label, audit, float(wall) if wall else None)


def _growth(small: int, large: int, n_small: int, n_large: int) -> str:
    if small <= 0 or large <= 0 or n_large == n_small:
        return "-"
    return f"{math.log(large / small) / math.log(n_large / n_small):.2f}"


def markdown(runs: Sequence[Run]) -> str:
    """The runs' table and the per-rule table, smallest run first."""
    runs = sorted(runs, key=lambda r: r.records)
    lines = ["| run | records | candidate pairs | pairs per record | wall time (s) | "
             "peak RSS (MiB) | slowest stages (s) |", "|---|---:|---:|---:|---:|---:|---|"]
    for r in runs:
        pairs = r.audit["pairs"]
        stages = sorted(r.audit["run"]["timings_seconds"].items(), key=lambda kv: -kv[1])
        slowest = ", ".join(f"{k} {v:.1f}" for k, v in stages[:4])
        lines.append(
            f"| {r.label} | {r.records:,} | {pairs['candidate_pairs']:,} | "
            f"{pairs['pairs_per_record']:.2f} | {r.seconds:.1f} | "
            f"{r.audit['run']['peak_rss_bytes'] / 2**20:,.0f} | {slowest} |")
    first, last = runs[0], runs[-1]
    lines += ["", "Pairs per record found by each rule (a pair found by several rules counts "
              "for each), and the growth exponent of its pairs from the smallest run to the "
              "largest; 'skipped' marks a rule left out as too broad (its estimate shown).",
              "", "| rule | " + " | ".join(r.label for r in runs) + " | growth |",
              "|---|" + "---:|" * len(runs) + "---:|"]
    by_rule = [{s["rule"]: s for s in r.audit["pairs"]["rules"]} for r in runs]
    for name in by_rule[-1]:
        cells = []
        for r, rules in zip(runs, by_rule, strict=True):
            s = rules.get(name)
            if s is None:
                cells.append("-")
            elif s["skipped"]:
                cells.append(f"skipped (~{s['estimated_pairs'] / r.records:.2f})")
            else:
                cells.append(f"{s['pairs_per_record']:.3f}")
        a, b = by_rule[0].get(name), by_rule[-1].get(name)
        growth = (_growth(a["pairs"], b["pairs"], first.records, last.records)
                  if a and b and not a["skipped"] and not b["skipped"] else "-")
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {growth} |")
    total = _growth(first.audit["pairs"]["candidate_pairs"], last.audit["pairs"][
        "candidate_pairs"], first.records, last.records)
    lines.append("| **all (distinct pairs)** | " + " | ".join(
        f"{r.audit['pairs']['pairs_per_record']:.3f}" for r in runs) + f" | {total} |")
    staged = [r for r in runs if r.audit["run"].get("peak_rss_after_stage_bytes")]
    if staged:
        stages = list(staged[-1].audit["run"]["peak_rss_after_stage_bytes"])
        lines += ["", "Peak resident memory of the process after each stage (MiB): the stage "
                  "where it rises set the peak.", "",
                  "| run | memory limit | " + " | ".join(stages) + " |",
                  "|---|---|" + "---:|" * len(stages)]
        for r in staged:
            after = r.audit["run"]["peak_rss_after_stage_bytes"]
            lines.append(f"| {r.label} | {r.audit['run']['memory_limit']} | " + " | ".join(
                f"{after[k] / 2**20:,.0f}" if k in after else "-" for k in stages) + " |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Print the Markdown tables for the runs named on the command line."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args:
        raise SystemExit(__doc__)
    sys.stdout.write(markdown([read_run(a) for a in args]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
