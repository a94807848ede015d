"""cselink: alias-aware record linkage across agency datasets, on DuckDB.

Link young people's records across agencies (education, health, police, social care,
youth justice) by name, aliases, former surnames, nicknames, date of birth, sex and
address, and explain every match in words.

Examples:
    >>> import pandas as pd, cselink
    >>> police = pd.DataFrame({"record_id": ["P1"], "forename": ["Jade"],
    ...                        "surname": ["Brown"], "former_surnames": ["Smith"],
    ...                        "dob": ["2010-03-04"]})
    >>> school = pd.DataFrame({"record_id": ["E7"], "forename": ["Jade"],
    ...                        "surname": ["Smith"], "dob": ["2010-04-03"]})
    >>> pairs = cselink.link(police, school, threshold=0.0)
    >>> pairs.loc[0, "reasons"].split("; ")[:2]  # doctest: +SKIP
"""

from __future__ import annotations

from ._version import __version__ as __version__
from .check import CheckOptions, CheckResult, check
from .config import BlockingRule, EMConfig, Settings
from .errors import (
    ConfigError,
    ConvergenceWarning,
    CselinkError,
    DataQualityWarning,
    IndexStaleError,
    InputDataError,
    ModelNotFittedError,
    PairExplosionError,
    ResourceLimitError,
    UsageError,
)
from .evaluation import PairMetrics, pair_metrics
from .ingest import IngestReport, Source, load_sources
from .mapping import Mapping
from .pipeline import Linker, dedupe, link
from .scoring import Model

__all__ = [
    "BlockingRule",
    "CheckOptions",
    "CheckResult",
    "ConfigError",
    "ConvergenceWarning",
    "CselinkError",
    "DataQualityWarning",
    "EMConfig",
    "IndexStaleError",
    "IngestReport",
    "InputDataError",
    "Linker",
    "Mapping",
    "Model",
    "ModelNotFittedError",
    "PairExplosionError",
    "PairMetrics",
    "ResourceLimitError",
    "Settings",
    "Source",
    "UsageError",
    "check",
    "dedupe",
    "link",
    "load_sources",
    "pair_metrics",
]
