"""Clustering: connected components of the links at or above a threshold.

Reads ``scores`` and ``records``; writes ``clusters(uid, cluster_id)``. Every record gets
a cluster, a record with no link its own. The cluster id is the smallest uid in the
component, so ids are deterministic for the same inputs.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components


def cluster_pairs(
    con: duckdb.DuckDBPyConnection, threshold: float, *, scores_table: str = "scores"
) -> None:
    """Write ``clusters`` from the pairs of ``scores_table`` with probability >= threshold."""
    n = int(con.execute("SELECT coalesce(max(uid) + 1, 0) FROM records").fetchall()[0][0])
    edges = con.execute(
        f"SELECT uid_l, uid_r FROM {scores_table} WHERE match_probability >= ?", [threshold]
    ).fetchnumpy()
    left = np.asarray(edges["uid_l"], dtype=np.int64)
    right = np.asarray(edges["uid_r"], dtype=np.int64)
    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    _, labels = connected_components(graph, directed=False)
    # Name each component by its smallest uid (labels are numbered in uid order already,
    # but the smallest member is stable under any change of numbering).
    first = pd.Series(np.arange(n)).groupby(labels).transform("min").to_numpy()
    frame = pd.DataFrame({"uid": np.arange(n, dtype=np.int64), "cluster_id": first})
    con.register("_clusters_df", frame)
    con.execute(
        "CREATE OR REPLACE TABLE clusters AS SELECT c.uid, c.cluster_id FROM _clusters_df c "
        "JOIN records r USING (uid) ORDER BY c.uid"
    )
    con.unregister("_clusters_df")
