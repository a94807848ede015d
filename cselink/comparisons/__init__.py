"""Comparisons: level tables and the SQL that turns candidate pairs into gamma vectors."""

from .levels import Comparison, ComparisonLevel
from .library import COMPARISONS, NAME_COMPARISONS

__all__ = ["COMPARISONS", "NAME_COMPARISONS", "Comparison", "ComparisonLevel"]
