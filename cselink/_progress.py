"""Stage notifications for whoever shows progress (the CLI); a no-op for library users.

The pipeline calls :func:`notify` as each stage starts. The CLI listens (:func:`listening`)
and draws the stage names on the terminal; without a listener nothing happens, so the
library stays silent. Notifications carry stage names and counts only, never a value.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

Listener = Callable[[str], None]

_LISTENER: ContextVar[Listener | None] = ContextVar("cselink_progress", default=None)


def notify(stage: str) -> None:
    """Tell the listener, if any, that ``stage`` has started."""
    listener = _LISTENER.get()
    if listener is not None:
        listener(stage)


@contextmanager
def listening(listener: Listener) -> Iterator[None]:
    """Send the stages started inside the block to ``listener``."""
    token = _LISTENER.set(listener)
    try:
        yield
    finally:
        _LISTENER.reset(token)
