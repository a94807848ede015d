"""Run a linker in a fresh process and measure it: wall time, peak memory, quality.

Every contender (cselink and each peer) runs the same way: a new Python process
imports the callable named ``"package.module:function"``, unpickles its arguments,
calls it once and pickles the result back. The parent times the whole process
(start-up and imports included, as a user would wait for them) and the child reports
the time of the call alone and its peak resident memory (``VmHWM`` of its own address
space, or ``ru_maxrss`` of any process it waited for if larger), so no contender pays
for another's caches or heap.

Common layer of ``benchmarks/``: it imports no contender and no benchmark (the child
imports the contender by name). A run that fails raises :class:`MeasuredRunError`.
"""

from __future__ import annotations

import os
import pickle
import platform
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from cselink.errors import CselinkError

#: The project root (parent of ``benchmarks/``), put on the child's import path.
_ROOT = Path(__file__).resolve().parent.parent

#: Libraries whose versions go with every measurement.
_LIBRARIES: tuple[str, ...] = (
    "cselink",
    "duckdb",
    "pandas",
    "numpy",
    "pyarrow",
    "splink",
    "recordlinkage",
    "rapidfuzz",
    "jellyfish",
    "scipy",
)

# The child: read (function path, args, kwargs) from a pickle, call, write the result
# and its own measurements to another pickle. Kept as source text so the child starts
# from a bare interpreter rather than a fork of the parent.
_CHILD = r"""
import importlib, pickle, resource, sys, time
t_start = time.perf_counter()
in_path, out_path = sys.argv[1], sys.argv[2]
with open(in_path, "rb") as fh:
    func_path, args, kwargs = pickle.load(fh)
module_name, _, func_name = func_path.partition(":")
func = getattr(importlib.import_module(module_name), func_name)
def status_kib(field):
    # /proc/self/status VmHWM is the high-water mark of this address space only;
    # ru_maxrss is not usable alone: Linux carries the parent's peak across fork+exec.
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
def rss_kib():
    kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(status_kib("VmHWM"), kids)
baseline = status_kib("VmRSS")
t_call = time.perf_counter()
result = func(*args, **kwargs)
call_seconds = time.perf_counter() - t_call
peak = rss_kib()
with open(out_path, "wb") as fh:
    pickle.dump(
        {
            "result": result,
            "call_seconds": call_seconds,
            "child_seconds": time.perf_counter() - t_start,
            "baseline_rss_kib": baseline,
            "peak_rss_kib": peak,
        },
        fh,
        protocol=pickle.HIGHEST_PROTOCOL,
    )
"""


class MeasuredRunError(CselinkError):
    """The measured child process failed or ran out of time."""


class MeasuredRunTimeout(MeasuredRunError):
    """The measured child process ran out of time (it was killed)."""


@dataclass(frozen=True, slots=True)
class Measured:
    """A result with the cost of computing it."""

    #: what the callable returned
    result: Any
    #: the whole child process, from spawn to exit (interpreter start and imports in)
    wall_seconds: float
    #: the call alone, timed inside the child
    call_seconds: float
    #: peak resident set size of the child (and anything it spawned), MiB
    peak_rss_mib: float
    #: resident set size just before the call (interpreter, imports, arguments), MiB
    baseline_rss_mib: float

    def costs(self) -> dict[str, float]:
        """The measurements without the result (for JSON)."""
        out = asdict(self)
        del out["result"]
        return {key: round(float(value), 3) for key, value in out.items()}


def run_measured(
    func_path: str,
    *args: Any,
    timeout: float | None = None,
    env: Mapping[str, str] | None = None,
    **kwargs: Any,
) -> Measured:
    """Call ``func_path`` in a fresh Python process and measure it.

    Args:
        func_path: ``"package.module:function"``, importable from the project root.
        *args: positional arguments (pickled to the child).
        timeout: seconds before the child is killed and an error raised.
        env: extra environment variables for the child.
        **kwargs: keyword arguments (pickled to the child).

    Returns:
        The result with whole-process wall time, call time and peak memory.

    Raises:
        MeasuredRunError: the child exited non-zero (the message carries the tail of its
            stderr, which never holds input values from this module).
        MeasuredRunTimeout: the child ran longer than ``timeout``.
    """
    if ":" not in func_path:
        raise MeasuredRunError(f"function path must be 'module:function', got {func_path!r}")
    child_env = dict(os.environ)
    child_env["PYTHONPATH"] = os.pathsep.join(
        [str(_ROOT), *filter(None, [child_env.get("PYTHONPATH")])]
    )
    child_env.update(env or {})
    with tempfile.TemporaryDirectory(prefix="cselink-measure-") as tmp:
        in_path, out_path = Path(tmp, "in.pkl"), Path(tmp, "out.pkl")
        with in_path.open("wb") as fh:
            pickle.dump((func_path, args, kwargs), fh, protocol=pickle.HIGHEST_PROTOCOL)
        start = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, "-c", _CHILD, str(in_path), str(out_path)],
                cwd=_ROOT,
                env=child_env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                timeout=timeout,
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise MeasuredRunTimeout(f"{func_path} timed out after {timeout} s") from exc
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            tail = proc.stderr.decode(errors="replace").strip().splitlines()[-15:]
            raise MeasuredRunError(
                f"{func_path} exited with status {proc.returncode}:\n" + "\n".join(tail)
            )
        with out_path.open("rb") as fh:
            report = pickle.load(fh)
    return Measured(
        result=report["result"],
        wall_seconds=wall,
        call_seconds=report["call_seconds"],
        peak_rss_mib=report["peak_rss_kib"] / 1024.0,
        baseline_rss_mib=report["baseline_rss_kib"] / 1024.0,
    )


def _memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except ImportError:  # pragma: no cover - psutil is a test dependency
        return None


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_info() -> dict[str, Any]:
    """The machine and software a measurement ran on.

    Returns:
        CPU model, logical cores (and those this process may use), memory in GiB,
        OS, Python version and the versions of the libraries being compared.
    """
    versions: dict[str, str | None] = {}
    for name in _LIBRARIES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    memory = _memory_bytes()
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "libraries": versions,
        "openblas_coretype": os.environ.get("OPENBLAS_CORETYPE"),
    }


def git_state() -> dict[str, Any]:
    """The commit of the working tree and whether cselink/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=30, check=False).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "cselink_dirty": bool(git("status", "--porcelain", "--", "cselink"))}
