"""Exceptions raised on purpose by cselink.

Every error cselink raises deliberately derives from :class:`CselinkError`, so
callers can catch one class, and the CLI can turn any of them into exit status 2
with a one-line message. Messages name files, rows, columns, record ids and
counts, never personal values (names, dates of birth, addresses).

Hierarchy::

    CselinkError
    ├── UsageError            bad arguments to the API or the CLI
    ├── ConfigError           a config or mapping that does not validate (.problems)
    ├── InputDataError        unreadable input, missing/ill-typed columns, duplicate ids
    ├── PairExplosionError    a blocking rule would produce more than max_pairs pairs
    ├── ModelNotFittedError   scoring asked of a model that has no parameters yet
    ├── IndexStaleError       a persisted index built from other source files
    └── ResourceLimitError    a stage ran out of memory under the memory limit (.stage)

    ConvergenceWarning(UserWarning)   EM stopped before it converged
    DataQualityWarning(UserWarning)   a value was unusable and treated as missing

Unknown names in messages get a hint from :func:`did_you_mean`.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable, Sequence


class CselinkError(Exception):
    """Base class of every error cselink raises on purpose.

    Args:
        message: what went wrong, without personal values.
        file: the input file concerned, if any.
        row: the 1-based data row number (header excluded), if any.
        column: the column concerned, if any.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.message = message
        self.file = file
        self.row = row
        self.column = column
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """The message prefixed with ``file, row N, column 'c':`` where known."""
        where = []
        if self.file is not None:
            where.append(str(self.file))
        if self.row is not None:
            where.append(f"row {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class UsageError(CselinkError):
    """Bad arguments to the API or the command line."""


class ConfigError(CselinkError):
    """A configuration or mapping that does not validate.

    Args:
        message: summary line.
        problems: every problem found, one string each.
    """

    def __init__(
        self,
        message: str,
        problems: Sequence[str] = (),
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.problems = tuple(problems)
        super().__init__(message, file=file, row=row, column=column)


class InputDataError(CselinkError):
    """Input that cannot be read or mapped to the canonical schema."""


class PairExplosionError(CselinkError):
    """A blocking rule would generate more candidate pairs than allowed."""


class ModelNotFittedError(CselinkError):
    """The model has no trained parameters yet."""


class IndexStaleError(CselinkError):
    """A persisted index was built from different source files."""


class ResourceLimitError(CselinkError):
    """A stage of the run did not fit in the memory limit.

    Args:
        message: what ran out, and the setting to change.
        stage: the pipeline stage that stopped (``ingest``, ``standardise``, ``profile``,
            ``blocking``, ``compare``, ``train``, ``score``, ``cluster``, ``explain``, ...).
    """

    def __init__(self, message: str, *, stage: str) -> None:
        self.stage = stage
        super().__init__(message)


class ConvergenceWarning(UserWarning):
    """EM stopped at its iteration limit before the parameters converged."""


class DataQualityWarning(UserWarning):
    """A value was unusable (e.g. an unparseable date) and treated as missing."""


def did_you_mean(name: str, options: Iterable[str], *, cutoff: float = 0.6) -> str:
    """A ``" (did you mean 'x'?)"`` hint for a misspelt name, or ``""`` if nothing is close.

    Case, spaces, hyphens and underscores are ignored when comparing, so
    ``record_id`` suggests ``RecordID`` and ``Record ID``. Suggestions from a file's
    headers use a higher ``cutoff``: they may be values of a header-less file. Of options
    that compare equal, the first is suggested.

    Examples:
        >>> did_you_mean("dificulty", ["difficulty", "people"])
        " (did you mean 'difficulty'?)"
        >>> did_you_mean("zzz", ["difficulty"])
        ''
    """

    def norm(s: str) -> str:
        return re.sub(r"[\s_\-]+", "", s.lower())

    by_norm: dict[str, str] = {}
    for opt in options:
        by_norm.setdefault(norm(opt), opt)
    close = difflib.get_close_matches(norm(name), list(by_norm), n=1, cutoff=cutoff)
    return f" (did you mean {by_norm[close[0]]!r}?)" if close else ""
