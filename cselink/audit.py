"""The audit record of a run: what was run on which files, and what came of it, without data.

An audit is a small JSON document written beside a run's outputs, so that a data
protection officer (or the next analyst) can tell which extracts a result came from,
with which settings and model, and how many rows were used or rejected, without
seeing any record. It holds:

``format``, ``cselink_version``, ``software``
    the audit format, cselink's version and the versions of Python and the libraries.
``command``, ``argv``
    the subcommand and its arguments, every path reduced to its file name (a folder
    can name a case or a person; file contents are never read into it).
``inputs``
    each input file's name, size in bytes and SHA-256.
``rows``
    rows read, used and rejected per source (with reasons), warnings as counts, and
    which header each canonical column came from.
``model``, ``thresholds``
    the scoring model's method, prior, settings hash and training summary; the
    thresholds used.
``pairs``
    the records blocked, the candidate pairs and pairs per record, overall and per
    blocking rule (estimated, found, found first, skipped as too broad): how the work
    grows with the data.
``run``
    the UTC start time, the timings of the stages, the memory limit DuckDB ran under
    and the process's peak resident memory (at the end, and after each stage: the
    stage where it rises set it): the only part that differs between two runs of the
    same command on the same files (see :func:`stable_part`).

Nothing in it is a value from a record: no names, dates of birth, addresses,
postcodes, NHS numbers or record ids.
"""

from __future__ import annotations

import datetime as dt
import platform
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Final

from cselink._version import __version__
from cselink.blocking import RuleStats
from cselink.errors import UsageError
from cselink.ingest import IngestReport, Source
from cselink.io import sha256_file, write_json_atomic
from cselink.resources import peak_rss_bytes
from cselink.scoring import Model

__all__ = [
    "AUDIT_FORMAT",
    "RUN_KEY",
    "audit_inputs",
    "build_audit",
    "redact_argv",
    "stable_part",
    "write_audit",
]

#: Format tag of an audit document.
AUDIT_FORMAT: Final[str] = "cselink-audit/1"

#: The key holding the parts that change from run to run (start time, timings).
RUN_KEY: Final[str] = "run"

_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")


def build_audit(
    *,
    command: str,
    argv: Sequence[str],
    inputs: Sequence[Path],
    ingest: IngestReport | None,
    model: Model | None,
    thresholds: Mapping[str, float],
    timings: Mapping[str, float],
    started: dt.datetime | None = None,
    records: int | None = None,
    blocking: Sequence[RuleStats] = (),
    memory_limit: str | None = None,
    peak_rss: Mapping[str, int] | None = None,
) -> dict[str, Any]:
    """Build the audit record of one run (see the module docstring for its keys).

    Args:
        command: the subcommand run (``link``, ``dedupe``, ``check``, ...).
        argv: the command-line arguments (paths are reduced to file names).
        inputs: the files read: data files and mapping, settings and model files.
        ingest: the ingest report of the run, if it ingested anything.
        model: the model that scored the pairs, if any.
        thresholds: the thresholds in force, by name.
        timings: seconds per stage.
        started: when the run started (default: now), kept under :data:`RUN_KEY`.
        records: the records blocked (for pairs per record).
        blocking: what each blocking rule contributed (``Linker.blocking_stats``); none
            when the run did not block.
        memory_limit: DuckDB's memory limit in force (``Linker.limits.memory_limit``).
        peak_rss: the process's peak memory in bytes after each stage
            (``Linker.peak_rss``).

    Returns:
        A JSON-ready dict. Everything but ``audit[RUN_KEY]`` is the same for the
        same command, files and settings.

    Raises:
        InputDataError: an input file cannot be read.
        UsageError: a threshold or timing is not a number.
    """
    start = started or dt.datetime.now(dt.UTC)
    if start.tzinfo is None:
        raise UsageError("the start time of an audit must be timezone-aware")
    audit: dict[str, Any] = {
        "format": AUDIT_FORMAT,
        "cselink_version": __version__,
        "software": _software(),
        "command": command,
        "argv": redact_argv(argv),
        "inputs": [_input(p) for p in dict.fromkeys(Path(p) for p in inputs)],
        "rows": _rows(ingest) if ingest is not None else None,
        "model": _model(model) if model is not None else None,
        "thresholds": {str(k): _number(k, v) for k, v in thresholds.items()},
        "pairs": _pairs(blocking, records) if blocking and records is not None else None,
        RUN_KEY: {
            "started_utc": start.astimezone(dt.UTC).isoformat(timespec="seconds"),
            "timings_seconds": {str(k): round(_number(k, v), 3) for k, v in timings.items()},
            "memory_limit": memory_limit,
            # Measured when the audit is built, at the end of the run: the run's peak.
            "peak_rss_bytes": peak_rss_bytes(),
            "peak_rss_after_stage_bytes": {str(k): int(v) for k, v in (peak_rss or {}).items()},
        },
    }
    return audit


def write_audit(path: str | Path, audit: Mapping[str, Any]) -> Path:
    """Write an audit as JSON, atomically, readable only by its owner (0600).

    Raises:
        UsageError: the folder does not exist or cannot be written, or ``audit`` is
            not an audit built by :func:`build_audit`.
    """
    if audit.get("format") != AUDIT_FORMAT:
        raise UsageError("not an audit record (build it with build_audit)")
    return write_json_atomic(path, dict(audit))


def stable_part(audit: Mapping[str, Any]) -> dict[str, Any]:
    """The audit without :data:`RUN_KEY`: identical for identical runs."""
    return {k: v for k, v in audit.items() if k != RUN_KEY}


def audit_inputs(sources: Sequence[Source], *extra: str | Path | None) -> list[Path]:
    """The files a run reads: each source's file and mapping, then ``extra`` (settings, model).

    DataFrame and relation sources have no file and are left out; ``None`` extras are
    skipped, so optional CLI options can be passed as they are.
    """
    paths: list[Path] = []
    for src in sources:
        if isinstance(src.data, str | Path):
            paths.append(Path(src.data).expanduser())
        if src.mapping is not None and src.mapping.origin:
            paths.append(Path(src.mapping.origin).expanduser())
    paths += [Path(p).expanduser() for p in extra if p is not None]
    return list(dict.fromkeys(paths))


def redact_argv(argv: Sequence[str]) -> list[str]:
    """Command-line arguments with every path reduced to its file name.

    ``/cases/2024/police.csv`` becomes ``police.csv``;
    ``police=/x/police.csv:/x/police.toml`` becomes ``police=police.csv:police.toml``;
    ``--out=/x/links.csv`` becomes ``--out=links.csv``. Options and numbers stay.

    Examples:
        >>> redact_argv(["link", "/data/a.csv", "b.csv", "--out", "/tmp/x/l.csv",
        ...              "--threshold", "0.9"])
        ['link', 'a.csv', 'b.csv', '--out', 'l.csv', '--threshold', '0.9']
    """
    out = []
    for arg in argv:
        text = str(arg)
        if text.startswith("-") and not _NUMBER.match(text):
            flag, eq, value = text.partition("=")
            out.append(f"{flag}={_reduce(value)}" if eq else text)
        else:
            out.append(_reduce(text))
    return out


def _reduce(value: str) -> str:
    """A value with its path parts reduced to file names (``NAME=PATH[:MAPPING]`` kept)."""
    if _NUMBER.match(value):
        return value
    head, eq, rest = value.partition("=")
    if eq and _SOURCE_NAME.match(head):
        return f"{head}={_reduce(rest)}"
    path, colon, mapping = value.rpartition(":")
    if colon and path and mapping.lower().endswith(".toml"):
        return f"{_file_name(path)}:{_file_name(mapping)}"
    return _file_name(value)


def _file_name(path: str) -> str:
    name = re.split(r"[\\/]", path.rstrip("/\\"))[-1]
    return name or path


def _input(path: Path) -> dict[str, Any]:
    digest = sha256_file(path)  # raises InputDataError for a missing or unreadable file
    return {"file": path.name, "bytes": path.stat().st_size, "sha256": digest}


def _rows(report: IngestReport) -> dict[str, Any]:
    return {
        "read": report.rows_read,
        "used": report.rows_used,
        "rejected": report.rows_rejected,
        "sources": [
            {
                "source": s.name,
                "file": Path(s.file).name if s.file else None,
                "format": s.format,
                "encoding": s.encoding,
                "delimiter": s.delimiter,
                "read": s.rows_read,
                "used": s.rows_used,
                "rejected": s.rows_rejected,
                "rejected_by_reason": dict(sorted(s.rejected_by_reason.items())),
                "columns": dict(s.columns),
                "ignored_columns": list(s.ignored_columns),
            }
            for s in report.sources
        ],
        "warnings": [
            {
                "source": w.source,
                "column": w.column,
                "header": w.header,
                "reason": w.reason,
                "count": w.count,
            }
            for w in report.warnings
        ],
        "date_orders": [
            {
                "source": d.source,
                "header": d.header,
                "conclusion": d.conclusion,
                "day_first_only": d.day_first_only,
                "month_first_only": d.month_first_only,
                "either": d.either,
                "formats_used": list(d.formats_used),
            }
            for d in report.date_orders
        ],
    }


def _pairs(blocking: Sequence[RuleStats], records: int) -> dict[str, Any]:
    """Candidate pairs overall and per rule, as counts and per record."""
    def per_record(n: int) -> float:
        return round(n / records, 4) if records else 0.0

    # Each pair is counted once, under the first rule that found it.
    total = sum(s.new_pairs for s in blocking)
    return {
        "records": records,
        "candidate_pairs": total,
        "pairs_per_record": per_record(total),
        "rules": [
            {
                "rule": s.rule,
                "estimated_pairs": s.estimated_pairs,
                "pairs": s.pairs,
                "new_pairs": s.new_pairs,
                "pairs_per_record": per_record(s.pairs),
                "skipped": s.skipped,
            }
            for s in blocking
        ],
    }


def _model(model: Model) -> dict[str, Any]:
    return {
        "method": model.method,
        "prior": model.prior,
        "settings_hash": model.settings_hash,
        "comparisons": list(model.comparisons),
        "training": model.training,
        "twins_guard_probability": model.twins,
        # What the data profile decided and the counts behind it (cselink.profile); the
        # learned forename pairs themselves are in the model file, their number here.
        "profile": {k: (len(v) if k == "learned_names" else v)
                    for k, v in model.profile.items()},
    }


def _software() -> dict[str, str]:
    import duckdb
    import numpy
    import pandas

    return {
        "cselink": __version__,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "pandas": pandas.__version__,
        "numpy": numpy.__version__,
    }


def _number(name: object, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise UsageError(f"audit value {name!r} must be a number")
    return float(value)


def contacts_audit_inputs(spec: str | Path | None) -> list[Path]:
    """The files a ``--contacts FILE[:MAPPING.toml]`` option reads (none without one)."""
    if spec is None:
        return []
    path, colon, mapping = str(spec).rpartition(":")
    if colon and path and mapping.lower().endswith(".toml"):
        return [Path(path).expanduser(), Path(mapping).expanduser()]
    return [Path(spec).expanduser()]


def contacts_audit(result: Any) -> dict[str, Any]:
    """The audit's ``contacts`` entry: counts only (read, rejected, statuses, shared).

    Args:
        result: a :class:`cselink.contacts.ContactsResult`.
    """
    counts: dict[str, Any] = {str(k): int(v) for k, v in result.counts().items()}
    counts["rejected_by_reason"] = (
        {str(k): int(v) for k, v in result.rejects.groupby("reason").size().items()}
        if len(result.rejects) else {})
    counts["warnings"] = [{"column": c, "reason": r, "count": int(n)}
                          for c, r, n in result.warnings]
    return counts
