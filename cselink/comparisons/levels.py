"""Comparison levels: a SQL condition and a label, evaluated strongest first.

A :class:`Comparison` turns a pair into one discrete level (its gamma). Levels are
listed strongest first; the first whose condition holds wins. The null level (missing
data on either side) has gamma -1 and carries no weight; the others are numbered from
``len(levels) - 1`` (strongest) down to 0 (the catch-all "different").
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, kw_only=True)
class ComparisonLevel:
    """One level of a comparison.

    Attributes:
        label: a short machine name, e.g. ``"exact"``.
        condition: a SQL boolean over the comparison's input columns.
        description: the words a panel coordinator reads, e.g. "surname the same".
        is_null: the "missing on either side" level (gamma -1, no weight).
        tf: exact-value agreement that term frequencies adjust.
    """

    label: str
    condition: str
    description: str
    is_null: bool = False
    tf: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Comparison:
    """A named comparison with its levels, strongest first, null level first of all.

    Record comparisons read the two records as ``l.<column>`` and ``r.<column>``.
    """

    name: str
    levels: tuple[ComparisonLevel, ...]
    description: str = ""
    #: (name, SQL) values computed once per pair before the levels are tested, so a
    #: costly similarity used by several levels runs once; conditions refer to the name.
    features: tuple[tuple[str, str], ...] = ()

    def __post_init__(self) -> None:
        nulls = [lv for lv in self.levels if lv.is_null]
        if len(nulls) != 1 or not self.levels[0].is_null:
            raise ValueError(f"comparison {self.name!r} needs exactly one null level, first")
        if self.levels[-1].condition.strip().upper() != "TRUE":
            raise ValueError(f"comparison {self.name!r} must end with a catch-all TRUE level")

    @property
    def non_null_levels(self) -> tuple[ComparisonLevel, ...]:
        """The levels that carry weight, strongest first."""
        return self.levels[1:]

    @property
    def gamma_column(self) -> str:
        return f"gamma_{self.name}"

    @property
    def n_levels(self) -> int:
        """Number of non-null levels (gammas 0 .. n_levels - 1)."""
        return len(self.levels) - 1

    def gamma_of(self, label: str) -> int:
        """The gamma value of a level label (-1 for the null level)."""
        for i, lv in enumerate(self.levels):
            if lv.label == label:
                return -1 if lv.is_null else self.n_levels - i
        raise KeyError(f"comparison {self.name!r} has no level {label!r}")

    def level_of(self, gamma: int) -> ComparisonLevel:
        """The level of a gamma value."""
        return self.levels[0] if gamma < 0 else self.levels[self.n_levels - gamma]

    def gamma_sql(self) -> str:
        """A CASE expression giving this comparison's gamma."""
        whens = [f"WHEN {self.levels[0].condition} THEN -1"]
        for lv in self.non_null_levels[:-1]:
            whens.append(f"WHEN {lv.condition} THEN {self.gamma_of(lv.label)}")
        return "CASE " + " ".join(whens) + " ELSE 0 END"
