"""Clustering: connected components of the links, kept apart by strong non-matches.

Reads ``scores`` and ``records``; writes ``clusters(uid, cluster_id)``. Every record gets
a cluster, a record with no link its own. The cluster id is the smallest uid in the
cluster, so ids are deterministic for the same inputs.

Plain connected components chain: A links to B and B to C puts A and C together even
when A and C were compared and found to be two people (siblings, namesakes), and on
family data such chains cost far more precision than any single false link. So a
component holding a *cannot-link* pair (a scored pair below ``cannot_link_below``, not
held back as possible twins) is rebuilt from its links, strongest first, joining two
groups only when no cannot-link pair lies between them. Components without one (nearly
all) are left as they are.
"""

from __future__ import annotations

import duckdb
import numpy as np
import pandas as pd

from .schema import CLUSTERS_TABLE, SCORES_TABLE


def _components(n: int, left: np.ndarray, right: np.ndarray) -> np.ndarray:
    # Imported here: scipy is slow to import, and a link without
    # clustering (or a single search) never needs it.
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(left), dtype=np.int8), (left, right)), shape=(n, n))
    labels: np.ndarray = connected_components(graph, directed=False)[1]
    return labels


def _split(labels: np.ndarray, links: dict[str, np.ndarray],
           cannot: dict[str, np.ndarray]) -> np.ndarray:
    """Labels with each component that holds a cannot-link pair rebuilt (module docstring).

    ``links`` are in the order to join them (strongest first); the rebuilt groups take
    new labels above the existing ones.
    """
    inside = labels[cannot["uid_l"]] == labels[cannot["uid_r"]]
    cl, cr = cannot["uid_l"][inside], cannot["uid_r"][inside]
    if not len(cl):
        return labels
    bad = np.unique(labels[cl])
    apart: dict[int, set[int]] = {}
    for a, b in zip(cl.tolist(), cr.tolist(), strict=True):
        apart.setdefault(a, set()).add(b)
        apart.setdefault(b, set()).add(a)
    parent: dict[int, int] = {}
    members: dict[int, list[int]] = {}

    def find(x: int) -> int:
        root = x
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(x, x) != root:
            parent[x], x = root, parent[x]
        return root

    keep = np.isin(labels[links["uid_l"]], bad)
    for a, b in zip(links["uid_l"][keep].tolist(), links["uid_r"][keep].tolist(), strict=True):
        ra, rb = find(a), find(b)
        if ra == rb:
            continue
        ma, mb = members.get(ra, [ra]), members.get(rb, [rb])
        if len(ma) < len(mb):
            ra, rb, ma, mb = rb, ra, mb, ma
        na = apart.get(ra, set())
        if any(x in na for x in mb):
            continue
        parent[rb] = ra
        members[ra] = ma + mb
        apart[ra] = na | apart.pop(rb, set())
        members.pop(rb, None)
    out = labels.copy()
    rows = np.flatnonzero(np.isin(labels, bad))
    out[rows] = labels.max() + 1 + np.array([find(int(i)) for i in rows], dtype=np.int64)
    return out


def cluster_pairs(
    con: duckdb.DuckDBPyConnection, threshold: float, *, scores_table: str = SCORES_TABLE,
    cannot_link_below: float | None = None,
) -> None:
    """Write ``clusters`` from the pairs of ``scores_table`` with probability >= threshold.

    With ``cannot_link_below``, scored pairs below it keep their records apart (see the
    module docstring); None or 0 gives plain connected components.
    """
    n = int(con.execute("SELECT coalesce(max(uid) + 1, 0) FROM records").fetchall()[0][0])
    # Strongest first, ties in uid order: the order in which a split component is rebuilt.
    links = con.execute(
        f"SELECT uid_l, uid_r FROM {scores_table} WHERE match_probability >= ? "
        "ORDER BY match_probability DESC, uid_l, uid_r", [threshold]
    ).fetchnumpy()
    links = {k: np.asarray(links[k], dtype=np.int64) for k in ("uid_l", "uid_r")}
    labels = _components(n, links["uid_l"], links["uid_r"])
    if cannot_link_below:
        cannot = con.execute(
            f"SELECT uid_l, uid_r FROM {scores_table} WHERE match_probability < ? "
            "AND NOT coalesce(possible_twins, FALSE)", [min(cannot_link_below, threshold)]
        ).fetchnumpy()
        labels = _split(labels, links,
                        {k: np.asarray(cannot[k], dtype=np.int64) for k in ("uid_l", "uid_r")})
    # Name each cluster by its smallest uid (stable under any change of numbering).
    first = pd.Series(np.arange(n)).groupby(labels).transform("min").to_numpy()
    frame = pd.DataFrame({"uid": np.arange(n, dtype=np.int64), "cluster_id": first})
    con.register("_clusters_df", frame)
    con.execute(
        f"CREATE OR REPLACE TABLE {CLUSTERS_TABLE} AS SELECT c.uid, c.cluster_id "
        "FROM _clusters_df c JOIN records r USING (uid) ORDER BY c.uid"
    )
    con.unregister("_clusters_df")
