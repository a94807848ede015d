"""The default model shipped in the package, for data too small to train on.

EM learns m from the pairs a training rule finds; a handful of records (a few referrals,
one small school) holds too few matches for that, and a model trained on them says
nothing. cselink then scores with ``cselink/data/default_model.json``: a model trained
without labels (the same EM as any run) on the seeded synthetic multi-agency population
of :mod:`cselink.synthetic`, with its provenance (generator seed and size, cselink
version, date, settings hash) in the file. The data's own size sets the prior.

The file must fit the comparisons in force: each comparison's levels, by gamma, must
carry the labels the model was trained with. When the comparisons change, the loader
says so and training goes on as before; regenerate the file with one command::

    python -m cselink.scoring.build_default_model

and commit it (``tests/test_default_model.py`` fails while it does not fit).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import warnings
from collections.abc import Mapping, Sequence
from importlib import resources
from pathlib import Path
from typing import Any, Final

import duckdb

from ..comparisons import COMPARISONS
from ..config import Settings
from .model import Model
from .training import train_unsupervised

log = logging.getLogger(__name__)

#: The file's name under ``cselink/data``.
DEFAULT_MODEL_FILE: Final[str] = "default_model.json"
#: The synthetic population it is trained on.
GENERATOR_SEED: Final[int] = 42
GENERATOR_PEOPLE: Final[int] = 5000
GENERATOR_DIFFICULTY: Final[str] = "standard"


def default_model_path() -> Path:
    """Where the shipped default model lives (inside the installed package)."""
    return Path(str(resources.files("cselink") / "data" / DEFAULT_MODEL_FILE))


def misfit(data: Mapping[str, Any], comparisons: Sequence[str]) -> str | None:
    """Why a model file does not fit ``comparisons`` as defined now, or None when it does.

    Each comparison must be in the file with the same level labels at the same gammas.
    """
    stored = data.get("comparisons", {})
    for name in comparisons:
        if name not in stored:
            return f"it has no comparison {name!r}"
        labels = {int(lv["gamma"]): lv.get("label") for lv in stored[name]}
        comp = COMPARISONS[name]
        now = {g: comp.level_of(g).label for g in range(comp.n_levels)}
        if labels != now:
            return f"the levels of comparison {name!r} have changed"
    return None


def load_default_model(comparisons: Sequence[str]) -> tuple[Model | None, dict[str, Any]]:
    """The shipped model restricted to ``comparisons``, and its provenance.

    Returns:
        ``(None, {})`` with a warning logged when the file is missing or does not fit
        the comparisons in force (say which, and how to regenerate it).
    """
    path = default_model_path()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        log.warning("the default model (%s) cannot be read; regenerate it with "
                    "python -m cselink.scoring.default_model", DEFAULT_MODEL_FILE)
        return None, {}
    problem = misfit(data, comparisons)
    if problem is not None:
        log.warning("the default model does not fit the comparisons in force (%s); "
                    "regenerate it with python -m cselink.scoring.default_model", problem)
        return None, {}
    data = {**data, "comparisons": {c: data["comparisons"][c] for c in comparisons}}
    return Model.from_dict(data, file=str(path)), dict(data.get("provenance", {}))


def _uncovered(model: Model) -> list[str]:
    """Comparisons no training session estimated m for (they hold a placeholder m)."""
    sessions = model.training.get("sessions", [])
    return [c for c in model.comparisons
            if not any(c not in s.get("excluded", ()) for s in sessions)]


def _pairs(con: duckdb.DuckDBPyConnection, link_only: bool) -> float:
    sizes = [float(n) for (n,) in con.execute(
        "SELECT count(*) FROM records GROUP BY source").fetchall()]
    total = sum(sizes)
    if link_only:
        return (total * total - sum(s * s for s in sizes)) / 2
    return total * (total - 1) / 2


def train_or_default(
    con: duckdb.DuckDBPyConnection, settings: Settings, comparisons: Sequence[str], *,
    found_by: Mapping[tuple[str, ...], int] | None = None, guard: bool = True,
) -> Model:
    """Train without labels; when no training session could estimate m for some
    comparison (too few matches), score with the shipped default model instead.

    The default model keeps its m and u; its prior is set for this data's size from the
    matches per record of the population it was trained on. One warning says so.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model = train_unsupervised(con, settings, comparisons, found_by=found_by, guard=guard)
    missing = _uncovered(model)
    fallback, provenance = (load_default_model(comparisons) if missing else (None, {}))
    if fallback is None:
        for w in caught:  # training's own warnings, as they would have been
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
        return model
    records = int(con.execute("SELECT count(*) FROM records").fetchall()[0][0])
    pairs = _pairs(con, settings.link_type == "link")
    rate = float(provenance.get("matches_per_record", 0.5))
    prior = min(0.5, max(1e-12, rate * records / max(pairs, 1.0)))
    log.warning("too few matches among %d records to train on (no training session "
                "estimated %s); scoring with the default model trained on synthetic data",
                records, ", ".join(missing))
    return dataclasses.replace(
        fallback, prior=prior, method="default", settings_hash=settings.hash(),
        training={"default_model": provenance, "untrained": missing,
                  "attempted_sessions": model.training.get("sessions", [])},
    )
