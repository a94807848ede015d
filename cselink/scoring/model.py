"""A trained Fellegi-Sunter model: m and u per comparison level, and the prior.

Saved as JSON with the cselink version and the settings hash, so a model trained once
(say on a year of agency extracts) can score new data without training again.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..comparisons import COMPARISONS, Comparison
from ..errors import ConfigError

MODEL_FORMAT = 1


@dataclass(frozen=True, slots=True, kw_only=True)
class Model:
    """Trained parameters.

    Attributes:
        comparisons: comparison names, in gamma-column order.
        m, u: per comparison, P(level | match) and P(level | non-match) indexed by gamma.
        prior: P(match) among candidate pairs (lambda).
        method: "em" or "supervised".
        settings_hash: hash of the settings it was trained under.
        training: facts about the training run (iterations, convergence, pair counts).
        twins: the twins-and-siblings guard's probability that a twin-like pair (the same
            date of birth) is one person, learned from the data
            (:func:`cselink.profile.estimate_twins_probability`); None when the guard is
            off (the data holds no households).
        siblings: the guard's probability for a sibling-like pair (born apart), the
            settings' floor.
        profile: what the data profile counted and decided (:mod:`cselink.profile`).
    """

    comparisons: tuple[str, ...]
    m: dict[str, tuple[float, ...]]
    u: dict[str, tuple[float, ...]]
    prior: float
    method: str = "em"
    settings_hash: str = ""
    training: dict[str, Any] = field(default_factory=dict)
    twins: float | None = None
    siblings: float | None = None
    profile: dict[str, Any] = field(default_factory=dict)

    def comparison(self, name: str) -> Comparison:
        """The comparison definition of a name."""
        return COMPARISONS[name]

    def weight(self, name: str, gamma: int) -> float:
        """Match weight (log2 Bayes factor) of one level; 0 for missing."""
        if gamma < 0:
            return 0.0
        return math.log2(self.m[name][gamma] / self.u[name][gamma])

    @property
    def prior_weight(self) -> float:
        """log2 of the prior odds of a match among candidate pairs."""
        return math.log2(self.prior / (1.0 - self.prior))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict with level labels, m, u and weights (for people reading it)."""
        from .._version import __version__

        comps = {}
        for name in self.comparisons:
            c = COMPARISONS[name]
            comps[name] = [
                {
                    "gamma": g,
                    "label": c.level_of(g).label,
                    "m": self.m[name][g],
                    "u": self.u[name][g],
                    "match_weight": self.weight(name, g),
                }
                for g in range(c.n_levels - 1, -1, -1)
            ]
        return {
            "format": MODEL_FORMAT,
            "cselink_version": __version__,
            "settings_hash": self.settings_hash,
            "method": self.method,
            "prior": self.prior,
            "comparisons": comps,
            "training": self.training,
            "twins_guard": None if self.twins is None else {
                "probability": self.twins,
                "match_weight": math.log2(self.twins / (1.0 - self.twins)),
                "siblings_probability": self.siblings,
            },
            "profile": self.profile,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, file: str | None = None) -> Model:
        """A model from :meth:`to_dict` output."""
        try:
            if data.get("format") != MODEL_FORMAT:
                raise ConfigError(f"unsupported model format {data.get('format')!r}", file=file)
            m: dict[str, tuple[float, ...]] = {}
            u: dict[str, tuple[float, ...]] = {}
            for name, levels in data["comparisons"].items():
                if name not in COMPARISONS:
                    raise ConfigError(f"model names an unknown comparison {name!r}", file=file)
                n = COMPARISONS[name].n_levels
                if len(levels) != n:
                    raise ConfigError(
                        f"model comparison {name!r} has {len(levels)} levels, expected {n}",
                        file=file,
                    )
                by_gamma = {int(lv["gamma"]): lv for lv in levels}
                m[name] = tuple(float(by_gamma[g]["m"]) for g in range(n))
                u[name] = tuple(float(by_gamma[g]["u"]) for g in range(n))
            prior = float(data["prior"])
            if not 0 < prior < 1:
                raise ConfigError("model prior must be between 0 and 1", file=file)
            return cls(
                comparisons=tuple(data["comparisons"]),
                m=m, u=u, prior=prior,
                method=str(data.get("method", "em")),
                settings_hash=str(data.get("settings_hash", "")),
                training=dict(data.get("training", {})),
                # A model from before the guard learned its probability held 0.001.
                twins=_twins(data["twins_guard"], "probability", file)
                if "twins_guard" in data else 0.001,
                siblings=_twins(data["twins_guard"], "siblings_probability", file)
                if "twins_guard" in data else 0.001,
                profile=dict(data.get("profile") or {}),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"model file is not a cselink model ({exc!r})", file=file) from None

    def save(self, path: str | Path) -> None:
        """Write the model as JSON (atomically)."""
        from ..io import write_json_atomic

        write_json_atomic(Path(path), self.to_dict())

    @classmethod
    def load(cls, path: str | Path) -> Model:
        """Read a model written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError("model file not found", file=str(path)) from None
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise ConfigError(f"model file is not JSON ({exc})", file=str(path)) from None
        return cls.from_dict(data, file=str(path))


def _twins(guard: Any, key: str, file: str | None) -> float | None:
    """One of the guard's probabilities from a model file's ``twins_guard`` entry (None:
    the guard is off)."""
    if guard is None:
        return None
    p = float(guard.get(key, 0.001))
    if not 0 < p < 1:
        raise ConfigError("model twins_guard probability must be between 0 and 1", file=file)
    return p
