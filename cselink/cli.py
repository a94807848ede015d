"""The ``cselink`` command line: thin wiring of the Python API.

Exit status: 0 on success, 2 on bad usage or input (one line naming the file, row and
column; no traceback unless ``--debug``), 1 on an unexpected failure.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import sys
import time
import traceback
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ._version import __version__
from .errors import CselinkError, InputDataError, UsageError

log = logging.getLogger("cselink")

#: Output table formats by file suffix (an empty suffix writes CSV).
_TABLE_SUFFIXES = (".csv", ".parquet", ".json")

#: What the progress display calls each pipeline stage (cselink._progress).
_STAGE_TEXT = {
    "ingest": "Reading the sources",
    "standardise": "Standardising names, dates and addresses",
    "blocking": "Finding candidate pairs",
    "compare": "Comparing candidate pairs",
    "train": "Training the model",
    "score": "Scoring the pairs",
    "explain": "Writing the reasons",
    "cluster": "Clustering",
}


class _Progress:
    """Stage names and counts with a rich spinner on stderr, only when it is a terminal.

    Pipeline stages arrive through :func:`cselink._progress.listening`; the command adds
    its own steps (:meth:`step`) and counts (:meth:`note`). Silent when disabled.
    """

    def __init__(self, enabled: bool) -> None:
        self._bar: Any = None
        self._task: Any = None
        self._text = ""
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self._bar = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                                     TimeElapsedColumn(), console=console)

    def step(self, stage: str) -> None:
        """Mark the step before as done and start ``stage`` (a pipeline stage or text)."""
        if self._bar is None:
            return
        self._finish()
        self._text = _STAGE_TEXT.get(stage, stage)
        self._task = self._bar.add_task(self._text, total=1)

    def note(self, text: str) -> None:
        """Add a count to the current step's line (``Reading the sources: 1,200 records``)."""
        if self._bar is not None and self._task is not None:
            self._text = f"{self._text}: {text}"
            self._bar.update(self._task, description=self._text)

    def _finish(self) -> None:
        if self._task is not None:
            self._bar.update(self._task, completed=1)
            self._task = None

    @contextmanager
    def shown(self) -> Iterator[_Progress]:
        """Draw while the block runs, the pipeline's stages included."""
        from ._progress import listening

        if self._bar is None:
            yield self
            return
        with self._bar, listening(self.step):
            try:
                yield self
            finally:
                self._finish()


def _progress(args: argparse.Namespace) -> _Progress:
    return _Progress(not args.quiet)


def _settings(args: argparse.Namespace, link_type: str) -> object:
    from .config import Settings

    settings = Settings.from_toml(args.settings) if args.settings else Settings()
    changes: dict[str, object] = {"link_type": link_type}
    if args.threshold is not None:
        changes["threshold"] = args.threshold
    if getattr(args, "no_twins_guard", False):
        changes["twins_probability"] = None
    return settings.with_(**changes)


def _check_table_out(path: Path) -> None:
    """The output folder exists and the suffix is one :func:`_write_table` writes."""
    _check_out(path)
    if path.suffix and path.suffix.lower() not in _TABLE_SUFFIXES:
        raise UsageError(f"cannot write {path.suffix} files; name the output .csv, "
                         ".parquet or .json", file=str(path))


def _write_table(frame: pd.DataFrame, path: Path) -> None:
    from .io import write_csv_atomic, write_json_atomic, write_parquet_atomic

    suffix = path.suffix.lower()
    if suffix == ".parquet":
        write_parquet_atomic(frame, path)
    elif suffix == ".json":
        write_json_atomic(path, frame.to_dict(orient="records"))
    else:
        write_csv_atomic(frame, path)


def _check_out(path: Path) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise UsageError("output folder does not exist", file=str(parent))


def _write_rejects(linker: object, out: Path) -> None:
    from .io import write_csv_atomic

    rejects = linker.con.execute("SELECT * FROM rejects ORDER BY ALL").df()  # type: ignore[attr-defined]
    if len(rejects):
        path = out.with_name(out.stem + ".rejects.csv")
        write_csv_atomic(rejects, path)
        log.warning("%d input rows rejected; see %s", len(rejects), path)


def _write_audit(args: argparse.Namespace, out: Path, sources: Sequence[object],
                 linker: object, threshold: float | None) -> None:
    from .audit import audit_inputs, build_audit, write_audit

    settings = linker.settings  # type: ignore[attr-defined]
    audit = build_audit(
        command=args.command, argv=args.argv,
        inputs=audit_inputs(sources, args.settings, args.model,  # type: ignore[arg-type]
                            getattr(args, "truth", None)),
        ingest=linker.ingest_report, model=linker.model,  # type: ignore[attr-defined]
        thresholds={"threshold": settings.threshold if threshold is None else threshold},
        timings=linker.timings, started=args.started,  # type: ignore[attr-defined]
        records=linker.ingest_report.rows_used,  # type: ignore[attr-defined]
        blocking=linker.blocking_stats,  # type: ignore[attr-defined]
        memory_limit=linker.limits.memory_limit,  # type: ignore[attr-defined]
        peak_rss=linker.peak_rss,  # type: ignore[attr-defined]
    )
    write_audit(out.with_name(out.stem + ".audit.json"), audit)


def _sources(specs: Sequence[str]) -> list[object]:
    from .ingest import source_from_spec

    return [source_from_spec(s) for s in specs]


def cmd_link(args: argparse.Namespace) -> int:
    from .pipeline import Linker

    out = Path(args.out)
    _check_table_out(out)
    settings = _settings(args, "link")
    sources = _sources([args.left, args.right])
    with _progress(args).shown() as progress, \
            Linker(sources, settings=settings,  # type: ignore[arg-type]
                   model=args.model, memory_limit=args.memory_limit) as linker:
        progress.note(f"{linker.ingest_report.rows_used:,} records")
        if args.truth:
            linker.fit(truth=_read_pairs(Path(args.truth)))
        pairs = linker.predict(args.threshold)
        progress.note(f"{len(pairs):,} pairs")
        progress.step(f"Writing {out.name}")
        _write_table(pairs, out)
        _write_rejects(linker, out)
        _write_audit(args, out, sources, linker, args.threshold)
        if args.save_model:
            linker.save_model(args.save_model)
        log.info("wrote %d pairs to %s", len(pairs), out)
    return 0


def cmd_dedupe(args: argparse.Namespace) -> int:
    from .pipeline import Linker

    out = Path(args.out)
    _check_table_out(out)
    if args.pairs_out:
        _check_table_out(Path(args.pairs_out))
    settings = _settings(args, "dedupe")
    sources = _sources(args.files)
    with _progress(args).shown() as progress, \
            Linker(sources, settings=settings, model=args.model,  # type: ignore[arg-type]
                   memory_limit=args.memory_limit) as linker:
        progress.note(f"{linker.ingest_report.rows_used:,} records")
        clusters = linker.cluster(args.threshold)
        progress.note(f"{clusters['cluster_id'].nunique():,} clusters")
        progress.step(f"Writing {out.name}")
        _write_table(clusters, out)
        if args.pairs_out:
            _write_table(linker.predict(args.threshold), Path(args.pairs_out))
        _write_rejects(linker, out)
        _write_audit(args, out, sources, linker, args.threshold)
        if args.save_model:
            linker.save_model(args.save_model)
        log.info("wrote %d records in %d clusters to %s", len(clusters),
                 clusters["cluster_id"].nunique(), out)
    return 0


def _read_pairs(path: Path) -> pd.DataFrame:
    """Pairs of record ids from a CSV/Parquet file (first two columns, or *_l/*_r names)."""
    if not path.is_file():
        raise InputDataError("file not found", file=str(path))
    try:
        frame = (pd.read_parquet(path) if path.suffix.lower() == ".parquet"
                 else pd.read_csv(path, dtype=str, keep_default_na=False))
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputDataError(f"cannot read ({type(exc).__name__})", file=str(path)) from None
    return frame


def _pairs_from(frame: pd.DataFrame, file: str, threshold: float | None) -> list[tuple[str, str]]:
    from .evaluation import cluster_pairs

    cols = list(frame.columns)
    if "cluster_id" in cols and "record_id" in cols:
        key = "record_id"
        if "source" in cols and frame["record_id"].duplicated().any():
            frame = frame.assign(key=frame["source"].astype(str) + ":" + frame["record_id"])
            key = "key"
        return sorted(cluster_pairs(frame, key=key))
    if "record_id_l" in cols and "record_id_r" in cols:
        if threshold is not None and "match_probability" in cols:
            frame = frame[pd.to_numeric(frame["match_probability"]) >= threshold]
        return list(zip(frame["record_id_l"].astype(str), frame["record_id_r"].astype(str),
                        strict=True))
    if len(cols) < 2:
        raise InputDataError("needs two id columns (record_id_l, record_id_r)", file=file)
    return list(zip(frame.iloc[:, 0].astype(str), frame.iloc[:, 1].astype(str), strict=True))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluation import pair_metrics

    links = _pairs_from(_read_pairs(Path(args.links)), args.links, args.threshold)
    truth = _pairs_from(_read_pairs(Path(args.truth)), args.truth, None)
    candidates = None
    if args.candidates:
        candidates = _pairs_from(_read_pairs(Path(args.candidates)), args.candidates, None)
    metrics = pair_metrics(links, truth, candidates=candidates)
    if args.json:
        sys.stdout.write(json.dumps(metrics.to_dict(), indent=2) + "\n")
    else:
        for key, value in metrics.to_dict().items():
            text = "-" if value is None else (f"{value:.4f}" if isinstance(value, float) else value)
            sys.stdout.write(f"{key:>20}: {text}\n")
    return 0


def cmd_synth(args: argparse.Namespace) -> int:
    from .synthetic import SynthConfig, generate

    config = SynthConfig.preset(args.difficulty, people=args.people, seed=args.seed,
                                contacts=args.contacts)
    with _progress(args).shown() as progress:
        progress.step(f"Generating {args.people:,} people and their agency records")
        result = generate(config, Path(args.out))
        progress.note(f"{result.total_records:,} records, {result.referrals:,} referrals")
    sys.stdout.write(f"wrote synthetic data for {args.people} people to {args.out}\n")
    log.info("%s", result)
    return 0


def _check_options(args: argparse.Namespace) -> object:
    from .check import (
        DEFAULT_KNOWN_THRESHOLD,
        DEFAULT_POSSIBLE_THRESHOLD,
        CheckOptions,
        load_la_lookup,
    )
    from .config import Settings

    known = DEFAULT_KNOWN_THRESHOLD if args.known_threshold is None else args.known_threshold
    possible = (DEFAULT_POSSIBLE_THRESHOLD if args.possible_threshold is None
                else args.possible_threshold)
    return CheckOptions(
        known_threshold=known,
        possible_threshold=possible,
        panel_date=args.panel_date,
        settings=Settings.from_toml(args.settings) if args.settings else None,
        model=args.model,
        database=getattr(args, "db", None),
        la_lookup=load_la_lookup(args.la_lookup) if args.la_lookup else None,
        progress=not args.quiet,
        memory_limit=args.memory_limit,
    )


def _print_summary(lines: Sequence[str], quiet: bool) -> None:
    if not quiet:
        sys.stdout.write("\n".join(lines) + "\n")


def cmd_check(args: argparse.Namespace) -> int:
    from .check import check, summary_lines
    from .ingest import source_from_spec

    if not args.source:
        raise UsageError("give at least one --source NAME=PATH[:MAPPING.toml]")
    sources = [source_from_spec(s) for s in args.source]
    referrals = source_from_spec(args.referrals)  # PATH[:MAPPING.toml]
    options = _check_options(args)
    result, paths = check(referrals, sources, args.out, options=options,  # type: ignore[arg-type]
                          contacts=args.contacts)
    _write_check_audit(args, Path(args.out), [referrals, *sources], result, options)
    _print_summary(summary_lines(result, paths), args.quiet)
    return 0


def _write_check_audit(args: argparse.Namespace, out_dir: Path, sources: Sequence[object],
                       result: object, options: object) -> None:
    """``DIR/audit.json``: what the check read (names, sizes, hashes), counts and timings."""
    from .audit import audit_inputs, build_audit, contacts_audit, contacts_audit_inputs, write_audit
    from .resources import default_memory_limit

    audit = build_audit(
        command=args.command, argv=args.argv,
        inputs=audit_inputs(sources,  # type: ignore[arg-type]
                            getattr(args, "settings", None), getattr(args, "model", None),
                            *contacts_audit_inputs(getattr(args, "contacts", None))),
        ingest=None, model=None,
        thresholds={"known": options.known_threshold,  # type: ignore[attr-defined]
                    "possible": options.possible_threshold},  # type: ignore[attr-defined]
        timings=result.timings,  # type: ignore[attr-defined]
        started=args.started,
        records=result.records, blocking=result.blocking,  # type: ignore[attr-defined]
        memory_limit=options.memory_limit or default_memory_limit(),  # type: ignore[attr-defined]
    )
    audit["rejected_rows"] = dict(result.rejected_rows)  # type: ignore[attr-defined]
    if result.contacts is not None:  # type: ignore[attr-defined]
        audit["contacts"] = contacts_audit(result.contacts)  # type: ignore[attr-defined]
    write_audit(out_dir / "audit.json", audit)


def cmd_demo(args: argparse.Namespace) -> int:
    from .check import demo, summary_lines

    start = time.perf_counter()
    created = not Path(args.out).exists()
    try:
        result, paths, figures = demo(args.out, options=_check_options(args))  # type: ignore[arg-type]
    except BaseException:
        if created:  # leave nothing behind of a folder this run made
            shutil.rmtree(args.out, ignore_errors=True)
        raise
    lines = summary_lines(result, paths)
    if figures is not None:
        lines.append(
            f"Against the synthetic truth: {figures['known_recall']:.1%} of the agencies "
            f"holding a referred young person report known, {figures['missed']:.1%} not found "
            f"({figures['missed_other_name']:.1%} when referred under another name); "
            f"{figures['false_known']:.1%} of the others report known.")
    lines.append(f"Took {time.perf_counter() - start:.1f} s.")
    _print_summary(lines, args.quiet)
    return 0


def cmd_mapping_suggest(args: argparse.Namespace) -> int:
    from .io import write_text_atomic
    from .suggest import suggest_mapping

    text = suggest_mapping(args.file, sheet=args.sheet)
    if args.out:
        _check_out(Path(args.out))
        write_text_atomic(args.out, text)
    else:
        sys.stdout.write(text)
    return 0


def _iso_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date (YYYY-MM-DD): {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    parser = argparse.ArgumentParser(
        prog="cselink",
        description="Link young people's records across agencies by name, aliases, former "
                    "surnames, nicknames, date of birth, sex and address.",
    )
    parser.add_argument("--version", action="version", version=f"cselink {__version__}")
    common = argparse.ArgumentParser(add_help=False)
    # The global flags, accepted before or after the subcommand: SUPPRESS keeps a flag
    # given before it from being reset by the subcommand's default (main fills them in).
    for p in (parser, common):
        p.add_argument("-v", "--verbose", action="count", default=argparse.SUPPRESS,
                       help="also print what each stage did (info lines)")
        p.add_argument("-q", "--quiet", action="store_true", default=argparse.SUPPRESS,
                       help="only print errors: no progress, summary or warnings")
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def memory_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--memory-limit", metavar="SIZE", default=None,
                       help="DuckDB memory limit, e.g. 2GB; above it work spills to a "
                            "private temporary folder (default: 2.5GiB, or half the "
                            "machine's memory if less)")

    def model_options(p: argparse.ArgumentParser) -> None:
        p.add_argument("--threshold", type=_probability, default=None,
                       help="match probability to accept a link (default 0.5; 0 writes "
                            "every candidate pair)")
        p.add_argument("--settings", metavar="TOML", help="settings file (blocking, "
                       "comparisons, EM); see README")
        p.add_argument("--model", metavar="JSON", help="score with this trained model "
                       "instead of training")
        p.add_argument("--save-model", metavar="JSON", help="save the trained model here")
        p.add_argument("--no-twins-guard", action="store_true",
                       help="do not hold back pairs that look like twins (for data known to "
                            "have no twins, such as FEBRL)")
        memory_option(p)

    p = sub.add_parser("link", parents=[common], help="link two files",
                       description="Link two canonical files (CSV or Parquet, or "
                                   "NAME=PATH[:MAPPING.toml]); write every scored pair at or "
                                   "above the threshold with its probability and reasons.")
    p.add_argument("left")
    p.add_argument("right")
    p.add_argument("--out", required=True, help="output file (.csv, .parquet or .json)")
    p.add_argument("--truth", metavar="FILE",
                   help="train supervised from these true pairs (record_id_l, record_id_r)")
    model_options(p)
    p.set_defaults(func=cmd_link)

    p = sub.add_parser("dedupe", parents=[common], help="link and deduplicate files",
                       description="Link and deduplicate one or more files; write every "
                                   "input record once with its cluster id.")
    p.add_argument("files", nargs="+")
    p.add_argument("--out", required=True, help="output file: source, record_id, cluster_id")
    p.add_argument("--pairs-out", metavar="FILE", help="also write the scored pairs")
    model_options(p)
    p.set_defaults(func=cmd_dedupe)

    p = sub.add_parser("evaluate", parents=[common], help="precision, recall, F1",
                       description="Compare links (pairs, or a dedupe cluster file) with true "
                                   "pairs: precision, recall, F1 and pairs completeness.")
    p.add_argument("--links", required=True, help="cselink link or dedupe output")
    p.add_argument("--truth", required=True, help="true pairs: record_id_l, record_id_r")
    p.add_argument("--candidates", help="all candidate pairs, for pairs completeness "
                   "(e.g. link --threshold 0 output)")
    p.add_argument("--threshold", type=_probability, default=None,
                   help="only count links at or above this probability")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser("synth", parents=[common], help="make synthetic multi-agency data",
                       description="Generate a seeded synthetic multi-agency population: "
                                   "native agency exports with mappings, canonical files, "
                                   "truth and referrals.")
    p.add_argument("--people", type=_positive_int, default=2000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--difficulty", choices=("easy", "standard", "hard"), default="standard")
    p.add_argument("--contacts", action="store_true",
                   help="also name known contacts on the referrals (contacts.csv, with truth)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_synth)

    p = sub.add_parser("mapping", help="source mapping tools",
                       description="Tools for source mappings (TOML).")
    actions = p.add_subparsers(dest="action", metavar="ACTION", required=True)
    q = actions.add_parser("suggest", parents=[common], help="propose a mapping for an export",
                           description="Propose a commented mapping (TOML) for an agency "
                                       "export from its headers and values. Review every "
                                       "line marked 'check:'. No value from the file is "
                                       "copied into it.")
    q.add_argument("file", metavar="FILE", help="the export (CSV, Parquet or .xlsx)")
    q.add_argument("--sheet", help="the .xlsx sheet to read (default: the first)")
    q.add_argument("--out", metavar="TOML", help="write the mapping here (default: print it)")
    q.set_defaults(func=cmd_mapping_suggest)

    def check_options(p: argparse.ArgumentParser) -> None:
        from .check import DEFAULT_KNOWN_THRESHOLD, DEFAULT_POSSIBLE_THRESHOLD

        p.add_argument("--known-threshold", type=_probability, default=None, metavar="P",
                       help=f"probability for 'known' (default {DEFAULT_KNOWN_THRESHOLD})")
        p.add_argument("--possible-threshold", type=_probability, default=None, metavar="P",
                       help=f"probability for 'possible' (default "
                            f"{DEFAULT_POSSIBLE_THRESHOLD}); below it, 'not_found'")
        p.add_argument("--panel-date", type=_iso_date, default=None, metavar="YYYY-MM-DD",
                       help="the panel's date, for the turning-18 list (default today)")
        p.add_argument("--la-lookup", metavar="CSV",
                       help="postcode district -> local authority (columns district, "
                            "local_authority) for the cross-border list")
        p.add_argument("--settings", metavar="TOML", help="linkage settings file")
        p.add_argument("--model", metavar="JSON", help="score with this trained model "
                       "instead of training")
        memory_option(p)

    p = sub.add_parser("check", parents=[common], help="the pre-panel check",
                       description="For each referral and agency: is this young person known "
                                   "to the agency, perhaps under another name? Writes "
                                   "results.csv, results.json and report.html in --out.")
    p.add_argument("--referrals", required=True, metavar="FILE",
                   help="referral forms (canonical CSV/Parquet, or FILE:MAPPING.toml)")
    p.add_argument("--source", action="append", default=[], metavar="NAME=PATH[:MAPPING.toml]",
                   help="an agency extract; repeat for each agency")
    p.add_argument("--out", required=True, metavar="DIR", help="output folder")
    p.add_argument("--contacts", metavar="FILE[:MAPPING.toml]",
                   help="people named on the referrals (referral_id, contact_id, names, "
                        "dob or age, ...): looked up in every source, linked across referrals")
    p.add_argument("--db", metavar="FILE.duckdb",
                   help="build or reuse a persisted index of the agency sources (refused "
                        "when the source files changed)")
    check_options(p)
    p.set_defaults(func=cmd_check)

    p = sub.add_parser("demo", parents=[common], help="the pre-panel check on synthetic data",
                       description="Run the whole pre-panel check on the shipped synthetic "
                                   "sample (generated when not shipped) and print a summary.")
    p.add_argument("--out", default="cselink-demo", metavar="DIR",
                   help="output folder (default ./cselink-demo)")
    check_options(p)
    p.set_defaults(func=cmd_demo)
    return parser


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to the current ``sys.stderr``, so lines land above a live progress display."""

    _cselink = True

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:  # StreamHandler.__init__ sets it
        pass


def _configure_logging(args: argparse.Namespace) -> None:
    level = (logging.DEBUG if args.debug else logging.ERROR if args.quiet
             else logging.INFO if args.verbose else logging.WARNING)
    root = logging.getLogger("cselink")
    root.setLevel(level)
    if not any(getattr(h, "_cselink", False) for h in root.handlers):
        handler = _StderrHandler()
        handler.setFormatter(logging.Formatter("cselink: %(levelname)s: %(message)s"))
        root.addHandler(handler)


@contextmanager
def _clean_warnings(args: argparse.Namespace) -> Iterator[None]:
    """Python warnings as one ``cselink: warning:`` line each, every message once, and
    never with a path into cselink's source (none under ``-q``)."""
    seen: set[str] = set()

    def show(message: Warning | str, category: type[Warning], *_: object,
             **__: object) -> None:
        text = " ".join(str(message).split())
        if not args.quiet and text not in seen:
            seen.add(text)
            sys.stderr.write(f"cselink: warning: {text}\n")

    with warnings.catch_warnings():
        warnings.showwarning = show
        yield


def _crash_line(exc: BaseException) -> str:
    """The one line of an unexpected failure: the exception's class and, for a missing
    module, its name (a module name carries no personal data; messages may)."""
    what = type(exc).__name__
    if isinstance(exc, ImportError) and exc.name:
        what += f" (module {exc.name!r} is not installed; reinstall cselink with pip)"
    return f"cselink: unexpected {what}; run again with --debug for details\n"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    for flag, default in (("verbose", 0), ("quiet", False), ("debug", False)):
        if not hasattr(args, flag):
            setattr(args, flag, default)
    _configure_logging(args)
    args.argv = list(sys.argv[1:] if argv is None else argv)
    args.started = dt.datetime.now(dt.UTC)
    func: Callable[[argparse.Namespace], int] = args.func
    try:
        with _clean_warnings(args):
            return func(args)
    except CselinkError as exc:
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(f"cselink: error: {exc.one_line()}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("cselink: interrupted\n")
        return 130
    except duckdb.OutOfMemoryException:
        if args.debug:
            traceback.print_exc()
        limit = getattr(args, "memory_limit", None)
        sys.stderr.write(
            "cselink: error: DuckDB ran out of memory"
            + (f" under --memory-limit {limit}; raise it" if limit else "; free some memory")
            + " or give it a faster temporary disk\n"
        )
        return 2
    except Exception as exc:  # noqa: BLE001 - the last line of defence: no traceback by default
        if args.debug:
            traceback.print_exc()
        sys.stderr.write(_crash_line(exc))
        return 1
