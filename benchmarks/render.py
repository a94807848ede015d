"""Rendering of benchmark results: plots, Markdown sections and ``SUMMARY.md``.

Common layer of ``benchmarks/``: reads results (dicts and arrays) and writes pictures and
text; it runs nothing, so both :mod:`benchmarks.quality` and :mod:`benchmarks.speed` call
:func:`write_summary` without importing each other.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.metrics import THRESHOLD
from benchmarks.tasks import RESULTS_DIR


def fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return lines


def pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Line styles of the plotted contenders (same colour for one contender in every plot).
_STYLES: dict[str, dict[str, Any]] = {
    "cselink": {"color": "C0", "linewidth": 2.2},
    "cselink-native": {"color": "C2", "linewidth": 1.2, "linestyle": "--"},
    "splink": {"color": "C1", "linewidth": 1.6},
    "recordlinkage": {"color": "C4"},
    "exact": {"color": "C3"},
}


def plot_pr(task: str, curves: dict[str, tuple[np.ndarray, np.ndarray, float, float]],
            path: Path, points: dict[str, tuple[float, float]] | None = None) -> Path:
    """Precision-recall curves (one line per contender; a dot at the threshold), and the
    other contenders' precision and recall at the threshold as crosses."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    lows = []
    for label, (precision, recall, p_at, r_at) in curves.items():
        style = _STYLES.get(label, {})
        ax.plot(recall, precision, label=label, **style)
        ax.plot([r_at], [p_at], "o", color=style.get("color"))
        lows.append(min(float(np.min(precision)) if len(precision) else 1.0, p_at))
    for label, (p_at, r_at) in (points or {}).items():
        ax.plot([r_at], [p_at], "x", markersize=9, mew=2,
                color=_STYLES.get(label, {}).get("color"), label=f"{label} (at {THRESHOLD})")
        lows.append(p_at)
    ax.set_xlabel("recall (share of true pairs)")
    ax.set_ylabel("precision")
    ax.set_title(f"{task}: precision-recall (dot: threshold {THRESHOLD})")
    ax.set_ylim(max(0.0, min(lows, default=0.0) - 0.02), 1.005)
    ax.set_xlim(0.0, 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_weights(task: str, weight: np.ndarray, is_true: np.ndarray, path: Path) -> Path:
    """Histogram of cselink's match weights for true and false candidate pairs."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ok = np.isfinite(weight)
    if ok.any():
        bins = np.linspace(float(np.min(weight[ok])), float(np.max(weight[ok])), 80)
        ax.hist(weight[ok & ~is_true], bins=bins, alpha=0.6, label="false pairs", color="C3")
        ax.hist(weight[ok & is_true], bins=bins, alpha=0.6, label="true pairs", color="C0")
        ax.axvline(0.0, color="k", linestyle="--", linewidth=1, label="probability 0.5")
    ax.set_yscale("log")
    ax.set_xlabel("match weight (bits)")
    ax.set_ylabel("candidate pairs (log scale)")
    ax.set_title(f"{task}: cselink match weights")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_scaling(rows: list[dict[str, Any]], path: Path) -> Path:
    """Log-log wall time against records, cselink and Splink."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    for name in ("cselink", "splink"):
        pts = [(r["records"], r[name]["wall_seconds"]) for r in rows
               if isinstance(r.get(name), dict) and "wall_seconds" in r[name]]
        if pts:
            x, y = zip(*pts, strict=True)
            ax.plot(x, y, "o-", label=name)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("records")
    ax.set_ylabel("whole-process wall time (s)")
    ax.set_title("dedupe: wall time by size")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_latency(ms: Sequence[float], records: int, path: Path) -> Path:
    """Histogram of single-referral search latency."""
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ax.hist(ms, bins=60, color="C0")
    ax.axvline(float(np.median(ms)), color="k", linestyle="--", label="median")
    ax.axvline(float(np.percentile(ms, 95)), color="C3", linestyle=":", label="p95")
    ax.set_xlabel("search latency (ms)")
    ax.set_ylabel("referrals")
    ax.set_title(f"one referral against an index of {records:,} records")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def quality_markdown(result: dict[str, Any], file_name: str) -> list[str]:
    """The Markdown section of one quality results file."""
    lines = [f"## Quality (`{file_name}`)", ""]
    lines += [f"Command: `{result.get('command') or 'python -m benchmarks.quality'}`  ",
              f"Run: {result['started']} to {result['finished']}; commit "
              f"`{(result['git'].get('commit') or '?')[:10]}`"
              + (" (cselink/ had uncommitted changes)" if result["git"].get("cselink_dirty")
                 else "") + f"; threshold {result['threshold']}.", ""]
    for task in result["tasks"]:
        info = "; ".join(
            f"{k.replace('_', ' ')}: " + (", ".join(f"{a} {n:,}" for a, n in v.items())
                                          if isinstance(v, dict) else str(v))
            for k, v in task["info"].items() if k != "folder")
        lines += [f"### {task['task']} ({task['kind']})", "",
                  f"{task['records']:,} records, {task['entities']:,} people/entities, "
                  f"{task['true_pairs']:,} true pairs. {info}.", ""]
        cont = task["contenders"]
        rows = []
        for label, c in cont.items():
            cl = c.get("clusters", {})
            rows.append([label, c["precision"], c["recall"], c["f1"], c["pairs_completeness"],
                         cl.get("precision"), cl.get("recall"), cl.get("f1"),
                         c["candidate_pairs"], f"{c['costs']['wall_seconds']:.1f}",
                         round(c["costs"]["peak_rss_mib"]),
                         fmt(c["costs"].get("load_average_before"), 1)])
        lines += table(["contender", "precision", "recall", "F1", "pairs compl.",
                         "cluster P", "cluster R", "cluster F1", "candidates", "wall s",
                         "peak MiB", "load avg"], rows)
        lines.append("")
        ok = cont
        if ok and "recall_by_group" in next(iter(ok.values())):
            groups = list(next(iter(ok.values()))["recall_by_group"])
            lines += ["Recall at the threshold by what differs between the pair's records "
                      "(pairwise; cluster recall in the JSON):", ""]
            rows = [[g, next(iter(ok.values()))["recall_by_group"][g]["true_pairs"]]
                    + [v["recall_by_group"][g]["recall"] for v in ok.values()] for g in groups]
            lines += table(["pairs where", "true pairs", *ok], rows)
            lines.append("")
            comms = list(next(iter(ok.values()))["recall_by_community"])
            lines += ["Recall by community (bias check, pairwise):", ""]
            rows = [[g, next(iter(ok.values()))["recall_by_community"][g]["true_pairs"]]
                    + [v["recall_by_community"][g]["recall"] for v in ok.values()]
                    for g in comms]
            lines += table(["community", "true pairs", *ok], rows)
            lines.append("")
            rel = next(iter(ok.values())).get("related_false_links")
            if rel:
                lines += ["False links between different people, by relation (pairwise links "
                          "at the threshold; in brackets: record pairs merged into one "
                          "cluster):", ""]
                rows = []
                for r in ("twin", "sibling", "namesake", "unrelated"):
                    row: list[Any] = [r, rel[r].get("record_pairs")]
                    for v in ok.values():
                        x = v["related_false_links"][r]
                        merged = x.get("cluster_merged_record_pairs")
                        row.append(f"{x['false_links']:,}" + (
                            f" ({merged:,})" if merged is not None else ""))
                    rows.append(row)
                lines += table(["relation", "record pairs", *ok], rows)
                lines.append("")
            tag_rows = [[t, next(iter(ok.values()))["recall_by_tag"][t]["true_pairs"]]
                        + [v["recall_by_tag"][t]["recall"] for v in ok.values()]
                        for t in next(iter(ok.values()))["recall_by_tag"]]
            lines += ["Recall by corruption tag (pairwise, a true pair counts under a tag "
                      "when either record carries it), every contender side by side:", ""]
            lines += table(["tag (either record)", "true pairs", *ok], tag_rows)
            lines.append("")
        check = task.get("referral_check")
        if check is not None:
            lines += ["Referral check (from `cselink.check`, not built here):", ""]
            if not check.get("available"):
                lines += [f"not reported: {check.get('reason')}", ""]
            else:
                keys = ["referrals", "held", "known_recall", "missed", "false_known",
                        "known_precision", "known_recall_other_name", "mean_possible"]
                rows = [["cselink check", *(check["figures"].get(k) for k in keys),
                         f"{check['wall_seconds']:.1f}"]]
                if "exact_figures" in check:  # results from before the baseline lack it
                    rows.append(["exact forename+surname+DOB look-up",
                                 *(check["exact_figures"].get(k) for k in keys), ""])
                lines += table(["", *keys, "wall s"], rows)
                lines.append("")
        for plot in task.get("plots", []):
            lines.append(f"![{plot}]({plot})")
        lines.append("")
    return lines


def speed_markdown(result: dict[str, Any], file_name: str) -> list[str]:
    """The Markdown section of one speed results file."""
    lines = [f"## Speed (`{file_name}`)", "",
             f"Command: `{result.get('command') or 'python -m benchmarks.speed'}`  ",
             f"Run: {result['started']} to {result.get('finished')}; commit "
             f"`{(result['git'].get('commit') or '?')[:10]}`"
             + (" (cselink/ had uncommitted changes)" if result["git"].get("cselink_dirty")
                else "") + ".", "",
             *[f"Note: {n}  " for n in result.get("notes", [])],
             "",
             ]
    if result.get("dedupe"):
        lines += ["### Dedupe (read CSVs, train, score, cluster at "
                  f"{result['threshold']}), one fresh process per run", ""]
    rows: list[list[Any]] = []
    for r in result.get("dedupe", []):
        for name in ("cselink", "splink"):
            c = r.get(name)
            if c is None:
                continue
            if "wall_seconds" in c:
                rows.append([f"{r['records']:,}", name, f"{c['wall_seconds']:.1f}",
                             f"{c['call_seconds']:.1f}", round(c["peak_rss_mib"]),
                             c["candidate_pairs"], c["pairs_per_second"], c["links"],
                             c["clusters"], "/".join(fmt(x, 1) for x in c.get(
                                 "load_average", []))])
            else:
                rows.append([f"{r['records']:,}", name, c["skipped"]] + [""] * 7)
    if rows:
        lines += table(["records", "contender", "wall s", "call s", "peak MiB",
                         "candidate pairs", "pairs/s (call)", "links", "clusters",
                         "load avg before/after"], rows)
        lines.append("")
    for name, g in result.get("growth", {}).items():
        lines.append(f"Growth exponent ({name}, log-log slope of time on records over "
                     f"{', '.join(f'{s:,}' for s in g['sizes'])}): wall "
                     f"{fmt(g['wall_exponent'])}, call {fmt(g['call_exponent'])}.  ")
    lines.append("")
    febrl = result.get("febrl4_link")
    if febrl:
        lines += [f"### FEBRL4 link ({febrl.get('records', 10_000):,} records), whole-process "
                  f"wall time (median of {febrl['repeat']})", ""]
        rows = [[name, f"{febrl[name]['median_wall_seconds']:.2f}",
                 f"{febrl[name]['median_call_seconds']:.2f}",
                 round(febrl[name]["median_peak_rss_mib"]), febrl[name]["candidate_pairs"],
                 ", ".join(f"{x:.1f}" for x in febrl[name]["wall_seconds"])]
                for name in ("cselink", "splink") if name in febrl]
        lines += table(["contender", "wall s", "call s", "peak MiB", "candidate pairs",
                         "all runs (wall s)"], rows)
        if "ratio_wall" in febrl:
            lines += ["", f"cselink / Splink wall-time ratio: **{febrl['ratio_wall']:.2f}** "
                      f"(call time only: {febrl['ratio_call']:.2f}); target <= "
                      f"{febrl['target_ratio']}: **{'met' if febrl['target_met'] else 'not met'}"
                      "**."]
        lines.append("")
    lk = result.get("lookup")
    if lk:
        lines += ["### Single-referral look-up (`Linker.open(index).search(referral)`)", ""]
        idx = lk["index"]
        lines += table(
            ["index records", "searches", "median ms", "p95 ms", "p99 ms", "max ms",
             "open s", "index build s", "first search s", "index MiB",
             "best candidate is theirs"],
            [[idx["records"], lk["searches"], *(f"{lk[k]:.0f}" for k in (
                "median_ms", "p95_ms", "p99_ms", "max_ms")),
              f"{lk['open_seconds']:.2f}", f"{idx['build_seconds']:.1f}",
              f"{idx['first_search_seconds']:.1f}", f"{idx['index_mib']:.0f}",
              lk["hit_rate"]["best_is_theirs"]]])
        peer = lk.get("splink")
        if peer:
            lines.append(
                f"\nSplink 5 (`predict_between`, the records in a DuckDB table, term "
                f"frequencies cached) over the first {peer['searches']} of these referrals: "
                f"median {peer['median_ms']:.0f} ms, p95 {peer['p95_ms']:.0f} ms (train "
                f"{peer['build_seconds']:.0f} s); cselink over the same referrals "
                f"{peer['cselink_median_ms_same_referrals']:.0f} ms: ratio of medians "
                f"**{peer['ratio_median']:.3f}**.")
        for note in lk.get("notes", []):
            lines.append(f"\nNote: {note}")
        lines.append("")
    for plot in result.get("plots", []):
        lines.append(f"![{plot}]({plot})")
    lines.append("")
    return lines


def write_summary(results_dir: Path = RESULTS_DIR) -> Path:
    """Rebuild ``SUMMARY.md`` from every results JSON in the folder."""
    lines = ["# cselink benchmark results", "",
             "Written by `python -m benchmarks.quality` and `python -m benchmarks.speed` from "
             "the JSON files beside this one (see `benchmarks/README.md` for what each figure "
             "means and how the peers are configured). Every contender ran in a fresh "
             "process on the same machine; wall time is the whole process (interpreter start, "
             "imports, reading, training, scoring).", ""]
    machine = None
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        machine = machine or data.get("machine")
        if data.get("benchmark") == "quality":
            lines += quality_markdown(data, path.name)
        elif data.get("benchmark") == "speed":
            lines += speed_markdown(data, path.name)
    if machine:
        lines += ["## Machine", "", "```", json.dumps(machine, indent=1), "```", ""]
    out = results_dir / "SUMMARY.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out
