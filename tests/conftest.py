"""Shared fixtures: a fresh DuckDB connection, FEBRL in canonical form, level look-ups."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

from cselink.comparisons import COMPARISONS
from cselink.comparisons.vectors import comparison_sqls
from cselink.config import Settings
from cselink.pipeline import Linker


@pytest.fixture
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    yield c
    c.close()


def canonical_febrl(df: pd.DataFrame) -> pd.DataFrame:
    """A FEBRL frame in cselink's canonical schema (no soc_sec_id)."""
    df = df.reset_index()
    parts = df[["street_number", "address_1", "address_2", "suburb", "state"]]
    address = parts.fillna("").astype(str).agg(" ".join, axis=1).str.split().str.join(" ")
    dob = pd.to_datetime(df["date_of_birth"], format="%Y%m%d", errors="coerce")
    return pd.DataFrame({
        "record_id": df["rec_id"],
        "forename": df["given_name"],
        "surname": df["surname"],
        "dob": dob.dt.strftime("%Y-%m-%d"),
        "address": address.replace("", None),
        "postcode": df["postcode"].astype("string"),
    })


def levels_of(left: Mapping[str, Any], right: Mapping[str, Any]) -> dict[str, str]:
    """The level label of every comparison for one pair of records, through real DuckDB."""
    frames = {}
    for name, rec in (("l", left), ("r", right)):
        row = {"record_id": name, **rec}
        for col in ("aliases", "former_surnames"):
            if isinstance(row.get(col), list):
                row[col] = ";".join(row[col])
        frames[name] = pd.DataFrame([row])
    with Linker(frames, settings=Settings(link_type="link")) as linker:
        linker.con.execute(
            "CREATE TABLE pairs AS SELECT 0::BIGINT AS uid_l, 1::BIGINT AS uid_r, "
            "NULL::VARCHAR AS match_key"
        )
        comps = list(COMPARISONS.values())
        for stmt in comparison_sqls(comps):
            linker.con.execute(stmt)
        row = linker.con.execute("SELECT * FROM gammas").df().iloc[0]
    return {c.name: c.level_of(int(row[c.gamma_column])).label for c in comps}


#: A referral searched once to make an index build its look-up tables.
WARM_UP = {"forename": "Warm", "surname": "Up", "dob": "2010-01-01"}


def build_index(sources: Mapping[str, Any], db: Path, *, settings: Settings | None = None,
                searched: bool = True) -> Path:
    """A trained index file of ``sources``; with ``searched``, searched once (look-up
    tables built), as a coordinator's index is after its first search."""
    with Linker(sources, settings=settings, database=db) as linker:
        linker.fit()
    if searched:
        with Linker.open(db) as linker:
            linker.search(WARM_UP)
    return db
