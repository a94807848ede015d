"""The machine resources a run may use: DuckDB's memory limit, its spill folder, peak memory.

A run is bounded by default, so that one job fits on a local authority's laptop
whatever else it holds: DuckDB gets at most :data:`DEFAULT_MEMORY_LIMIT_BYTES`, or
half the memory the process may use on a smaller machine, and spills joins and
aggregations above it to a private folder. The rest of the process (Python, pandas,
the result frames, DuckDB's own allocations outside its buffer pool) lives beside
DuckDB's limit, not inside it: the budget is for the whole process (see
``benchmarks/results/scale_pairs.md`` for what it comes to).

Spilled pages hold personal data, so the default spill folder is created for the run
alone (mode 0700) and removed when the run's connection closes, or when the Linker
is garbage-collected or the interpreter exits without a close.
"""

from __future__ import annotations

import os
import resource
import shutil
import sys
import tempfile
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import duckdb

from .errors import UsageError

#: DuckDB's memory limit when the caller gives none, in bytes: the rest of the process
#: (Python, pandas, the result frames) comes on top of it, and the whole process of a
#: 1M-record job is to stay under 4 GB (issue 15), with room for denser names.
DEFAULT_MEMORY_LIMIT_BYTES: Final[int] = 5 * 2**29  # 2.5 GiB

#: On a machine (or container) with less memory, DuckDB gets at most this share of it:
#: the other half is for the rest of the process and for what else the machine runs.
DEFAULT_MEMORY_SHARE: Final[float] = 0.5

#: How the default spill folder's name starts (in the system temporary folder).
SPILL_PREFIX: Final[str] = "cselink-spill-"

#: The files that say how much memory a container may use (cgroup v2, then v1).
_CGROUP_LIMITS: Final[tuple[str, ...]] = (
    "/sys/fs/cgroup/memory.max",
    "/sys/fs/cgroup/memory/memory.limit_in_bytes",
)


def machine_memory_bytes() -> int | None:
    """The memory this process may use: physical RAM, or a container's smaller limit.

    Returns:
        Bytes, or None where the platform does not say.
    """
    sizes: list[int] = []
    try:
        sizes.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (AttributeError, ValueError, OSError):
        pass
    for path in _CGROUP_LIMITS:
        try:
            text = Path(path).read_text().strip()
        except OSError:
            continue
        if text.isdigit() and 0 < int(text) < 2**60:  # "max" or a huge number: no limit
            sizes.append(int(text))
    positive = [s for s in sizes if s > 0]
    return min(positive) if positive else None


def default_memory_limit(machine_bytes: int | None = None) -> str:
    """DuckDB's memory limit when none is given: 2.5 GiB, or half the machine's memory if less.

    Args:
        machine_bytes: the memory available (default: :func:`machine_memory_bytes`).

    Returns:
        A DuckDB size, e.g. ``"2560MiB"``.
    """
    machine = machine_memory_bytes() if machine_bytes is None else machine_bytes
    limit = DEFAULT_MEMORY_LIMIT_BYTES
    if machine:
        limit = min(limit, int(machine * DEFAULT_MEMORY_SHARE))
    return f"{max(limit // 2**20, 1)}MiB"


def peak_rss_bytes() -> int:
    """The largest resident set this process has had so far, in bytes."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports KiB, macOS bytes.
    return int(peak if sys.platform == "darwin" else peak * 1024)


@dataclass
class Limits:
    """The memory limit and spill folder in force on one connection.

    Attributes:
        memory_limit: the limit as given, or the default chosen (a DuckDB size).
        temp_directory: where DuckDB spills.
        private: whether the spill folder was made for this run (and is removed by
            :meth:`release`).
    """

    memory_limit: str
    temp_directory: Path
    private: bool
    _cleanup: weakref.finalize[Any, Any] | None = field(default=None, repr=False)

    def release(self) -> None:
        """Remove the private spill folder (after the connection is closed)."""
        if self._cleanup is not None:
            self._cleanup()


def limit_connection(con: duckdb.DuckDBPyConnection, owner: object, *,
                     memory_limit: str | None = None,
                     temp_directory: str | Path | None = None) -> Limits:
    """Set DuckDB's memory limit and spill folder on ``con``.

    Without ``memory_limit`` the default of :func:`default_memory_limit` applies;
    without ``temp_directory`` a private folder (0700) is made in the system temporary
    folder (``TMPDIR``), removed by :meth:`Limits.release` or when ``owner`` is
    garbage-collected.

    Raises:
        UsageError: DuckDB refuses the memory limit or the folder.
    """
    limit = default_memory_limit() if memory_limit is None else str(memory_limit)
    try:
        con.execute("SET memory_limit = ?", [limit])
    except duckdb.Error as exc:
        raise UsageError(f"bad memory_limit: {exc}") from None
    if temp_directory is not None:
        try:
            con.execute("SET temp_directory = ?", [str(temp_directory)])
        except duckdb.Error as exc:
            raise UsageError(f"bad temp_directory: {exc}") from None
        return Limits(limit, Path(temp_directory), False)
    folder = Path(tempfile.mkdtemp(prefix=SPILL_PREFIX))  # mode 0700
    cleanup = weakref.finalize(owner, shutil.rmtree, folder, True)
    try:
        con.execute("SET temp_directory = ?", [str(folder)])
    except duckdb.Error:
        # A second connection to a database file this process has open shares its
        # database, which has spilled to the first connection's folder already: keep it.
        cleanup()
        shared = con.execute("SELECT current_setting('temp_directory')").fetchall()[0][0]
        return Limits(limit, Path(str(shared)), False)
    return Limits(limit, folder, True, cleanup)
