"""The figures every contender is scored by, from its candidate pairs and the truth.

Common layer of ``benchmarks/``: imports no contender and no benchmark. From one
contender's scored candidate pairs, the same code computes, for every contender:

* pairwise precision, recall and F1 at the threshold (0.5), and pairs completeness
  (share of true pairs among the candidates);
* for dedupe tasks, the same figures over clusters: the contender's own clusters when it
  returns them (cselink: ``Linker.cluster``), else connected components of the pairs
  at the threshold (scipy), every within-cluster pair counting as a link;
* on synthetic data, recall by corruption (each tag of :data:`cselink.synthetic.TAGS`
  and the groups in :data:`TAG_GROUPS`), recall by community (the bias check UK
  guidance asks for), and false links between twins, siblings and namesakes;
* precision and recall at a few other thresholds; curves are plotted, not stored.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import pandas as pd

from benchmarks.tasks import Task

#: Match probability at or above which a pair is a link.
THRESHOLD = 0.5


#: Other thresholds at which precision and recall are stored.
OTHER_THRESHOLDS: tuple[float, ...] = (0.01, 0.1, 0.9, 0.99)


#: Corruption tags grouped by the field they make differ. A pair is in a group when
#: either of its records carries one of the group's tags. ``surname_changed`` is left
#: out on purpose: it marks every record of a person whose surname changed, including
#: the up-to-date ones, so it does not say that the pair's surnames differ
#: (``stale_surname`` does); it is reported with the other tags one by one.
TAG_GROUPS: dict[str, tuple[str, ...]] = {
    "surname differs": (
        "stale_surname",
        "surname_half",
        "title_surname",
        "alias_as_main",
        "variant_surname",
        "typo_surname",
    ),
    "forename differs": (
        "nickname",
        "variant_forename",
        "middle_as_forename",
        "typo_forename",
        "name_swap",
    ),
    "DOB differs": (
        "dob_swap",
        "dob_digit",
        "dob_year",
        "dob_placeholder",
        "dob_year_only",
        "dob_missing",
    ),
    "address differs": (
        "moved",
        "moved_across_la",
        "address_nfa",
        "address_variant",
        "postcode_missing",
        "postcode_typo",
        "postcode_format",
    ),
}


def check_tag_groups() -> None:
    """Fail loudly if the generator's tags and :data:`TAG_GROUPS` drift apart."""
    from cselink.synthetic import TAGS

    unknown = sorted({t for tags in TAG_GROUPS.values() for t in tags} - set(TAGS))
    if unknown:
        raise RuntimeError(f"TAG_GROUPS names tags the generator no longer has: {unknown}")


class Truth:
    """The records of a task as integer indexes, with every true pair.

    A pair is coded ``a * n + b`` with ``a < b`` (record indexes), so pair sets are
    numpy arrays and set operations are ``np.isin``.
    """

    def __init__(self, records: pd.DataFrame, kind: Literal["link", "dedupe"] = "dedupe"):
        if records["key"].duplicated().any():
            raise ValueError("record keys are not unique")
        self.records = records.reset_index(drop=True)
        self.n = len(self.records)
        self.index = pd.Index(self.records["key"])
        self.entity, self.entities = pd.factorize(self.records["entity"])
        idx = pd.DataFrame({"i": np.arange(self.n), "e": self.entity})
        both = idx.merge(idx, on="e", suffixes=("_a", "_b"))
        both = both[both["i_a"] < both["i_b"]]
        if kind == "link":
            source = self.records["key"].str.partition(":")[0] if ":" in str(
                self.records["key"].iloc[0]) else None
            if source is not None:
                both = both[source.to_numpy()[both["i_a"]] != source.to_numpy()[both["i_b"]]]
        self.true_a = both["i_a"].to_numpy(dtype=np.int64)
        self.true_b = both["i_b"].to_numpy(dtype=np.int64)
        self.true_codes = np.sort(self.true_a * self.n + self.true_b)

    @property
    def n_true(self) -> int:
        return len(self.true_codes)

    def code(self, keys_l: pd.Series, keys_r: pd.Series) -> tuple[np.ndarray, np.ndarray]:
        """Record indexes (a < b) of pairs given by keys; unknown keys raise."""
        a = self.index.get_indexer(keys_l)
        b = self.index.get_indexer(keys_r)
        missing = int((a < 0).sum() + (b < 0).sum())
        if missing:
            raise ValueError(f"{missing} pair keys are not records of the task")
        return np.minimum(a, b), np.maximum(a, b)


def pair_keys(pairs: pd.DataFrame, keyed_by_source: bool) -> tuple[pd.Series, pd.Series]:
    """The record keys of each side of a pair frame."""
    if keyed_by_source:
        return (
            pairs["source_l"].astype(str) + ":" + pairs["record_id_l"].astype(str),
            pairs["source_r"].astype(str) + ":" + pairs["record_id_r"].astype(str),
        )
    return pairs["record_id_l"].astype(str), pairs["record_id_r"].astype(str)


def score_pairs(pairs: pd.DataFrame, truth: Truth, keyed_by_source: bool) -> dict[str, np.ndarray]:
    """Candidate pairs as sorted unique codes with the best probability of each pair.

    Returns:
        ``a``, ``b`` (record indexes, a < b), ``code``, ``prob``, ``weight`` (NaN when
        the contender gives none) and ``is_true``, one entry per distinct pair.
    """
    kl, kr = pair_keys(pairs, keyed_by_source)
    a, b = truth.code(kl, kr)
    keep = a != b
    prob = pairs["match_probability"].to_numpy(dtype=float)[keep]
    weight = (pairs["match_weight"].to_numpy(dtype=float)[keep] if "match_weight" in pairs
              else np.full(int(keep.sum()), np.nan))
    a, b = a[keep].astype(np.int64), b[keep].astype(np.int64)
    code = a * truth.n + b
    order = np.lexsort((-prob, code))
    code, a, b, prob, weight = code[order], a[order], b[order], prob[order], weight[order]
    first = np.ones(len(code), dtype=bool)
    first[1:] = code[1:] != code[:-1]
    out = {"a": a[first], "b": b[first], "code": code[first], "prob": prob[first],
           "weight": weight[first]}
    out["is_true"] = truth.entity[out["a"]] == truth.entity[out["b"]]
    return out


def _ratio(num: float, den: float) -> float:
    return float(num / den) if den else 0.0


def _prf(tp: int, fp: int, fn: int) -> dict[str, float | int]:
    precision = _ratio(tp, tp + fp)
    recall = _ratio(tp, tp + fn)
    f1 = _ratio(2 * precision * recall, precision + recall)
    return {"true_positives": int(tp), "false_positives": int(fp), "false_negatives": int(fn),
            "precision": round(precision, 5), "recall": round(recall, 5), "f1": round(f1, 5)}


def components(n: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Connected-component label of each of ``n`` records linked by the edges (a, b)."""
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), dtype=np.int8), (a, b)), shape=(n, n))
    return np.asarray(connected_components(graph, directed=False)[1])


def _pairs_within(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def cluster_metrics(labels: np.ndarray, truth: Truth) -> dict[str, Any]:
    """Pairwise precision/recall/F1 over clusters, with cluster and entity counts."""
    frame = pd.DataFrame({"c": labels, "e": truth.entity})
    predicted = _pairs_within(np.bincount(labels))
    tp = _pairs_within(frame.groupby(["c", "e"]).size().to_numpy())
    out = _prf(tp, predicted - tp, truth.n_true - tp)
    size_c = np.bincount(labels)
    size_e = np.bincount(truth.entity)
    per_e = frame.groupby("e")["c"].agg(["nunique", "first"])
    exact = (per_e["nunique"] == 1) & (size_c[per_e["first"].to_numpy()] == size_e[per_e.index])
    out.update({"clusters": int(len(size_c)), "entities": int(len(size_e)),
                "entities_exactly_recovered": round(float(exact.mean()), 5)})
    return out


def _recall_table(found: np.ndarray, masks: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    return {
        name: {"true_pairs": int(mask.sum()),
               "recall": round(float(found[mask].mean()), 5) if mask.any() else None}
        for name, mask in masks.items()
    }


def tag_masks(truth: Truth) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """For every true pair: which tags and which tag groups it falls in.

    Returns:
        ``(by_group, by_tag)``: name -> boolean mask over ``truth.true_a``. The groups
        are :data:`TAG_GROUPS`, plus ``two or more fields differ`` and ``no field differs``.
    """
    from cselink.synthetic import TAGS

    tags = list(TAGS)
    position = {t: i for i, t in enumerate(tags)}
    matrix = np.zeros((truth.n, len(tags)), dtype=bool)
    for row, record_tags in enumerate(truth.records["tags"]):
        for tag in record_tags:
            if tag in position:
                matrix[row, position[tag]] = True
    either = matrix[truth.true_a] | matrix[truth.true_b]
    by_tag = {t: either[:, position[t]] for t in tags}
    by_group = {g: either[:, [position[t] for t in members]].any(axis=1)
                for g, members in TAG_GROUPS.items()}
    hits = np.sum(np.stack(list(by_group.values())), axis=0)
    by_group["two or more fields differ"] = hits >= 2
    by_group["no field differs"] = hits == 0
    return by_group, by_tag


def relation_counts(
    truth: Truth, relations: pd.DataFrame
) -> pd.DataFrame:
    """Related people as entity codes with how many record pairs lie between them."""
    codes = pd.Series(np.arange(len(truth.entities)), index=truth.entities)
    rel = relations.assign(
        ea=codes.reindex(relations["person_id_a"]).to_numpy(),
        eb=codes.reindex(relations["person_id_b"]).to_numpy(),
    ).dropna(subset=["ea", "eb"])
    rel = rel.astype({"ea": np.int64, "eb": np.int64})
    size = np.bincount(truth.entity)
    lo = np.minimum(rel["ea"].to_numpy(), rel["eb"].to_numpy())
    hi = np.maximum(rel["ea"].to_numpy(), rel["eb"].to_numpy())
    out = pd.DataFrame({"lo": lo, "hi": hi, "relation": rel["relation"].to_numpy(),
                        "record_pairs": size[lo] * size[hi]})
    return out.drop_duplicates(subset=["lo", "hi"])


def related_false_links(
    scored: dict[str, np.ndarray], linked: np.ndarray, truth: Truth, rel: pd.DataFrame,
    labels: np.ndarray | None,
) -> dict[str, dict[str, Any]]:
    """False links by the relation of the two people (twin, sibling, namesake, unrelated).

    Pairwise: the linked pairs between the two people. Clusters (dedupe only): the record
    pairs between them that share a cluster.
    """
    false = linked & ~scored["is_true"]
    ea, eb = truth.entity[scored["a"][false]], truth.entity[scored["b"][false]]
    fp = pd.DataFrame({"lo": np.minimum(ea, eb), "hi": np.maximum(ea, eb)})
    fp = fp.merge(rel[["lo", "hi", "relation"]], on=["lo", "hi"], how="left")
    fp["relation"] = fp["relation"].fillna("unrelated")
    counts = fp["relation"].value_counts()
    totals = rel.groupby("relation")["record_pairs"].sum()
    people = rel.groupby("relation").size()
    out: dict[str, dict[str, Any]] = {}
    for relation in ("twin", "sibling", "namesake", "unrelated"):
        row: dict[str, Any] = {"false_links": int(counts.get(relation, 0))}
        if relation != "unrelated":
            row["people_pairs"] = int(people.get(relation, 0))
            row["record_pairs"] = int(totals.get(relation, 0))
            row["false_link_rate"] = round(_ratio(row["false_links"], row["record_pairs"]), 5)
        out[relation] = row
    if labels is not None:
        per = pd.DataFrame({"e": truth.entity, "c": labels}).groupby(["e", "c"]).size()
        per = per.rename("n").reset_index()
        joined = rel.merge(per.rename(columns={"e": "lo", "n": "n_lo"}), on="lo").merge(
            per.rename(columns={"e": "hi", "n": "n_hi"}), on=["hi", "c"])
        merged = (joined["n_lo"] * joined["n_hi"]).groupby(joined["relation"]).sum()
        people_merged = joined.drop_duplicates(["lo", "hi"]).groupby("relation").size()
        for relation in ("twin", "sibling", "namesake"):
            out[relation]["cluster_merged_record_pairs"] = int(merged.get(relation, 0))
            out[relation]["cluster_merged_people_pairs"] = int(people_merged.get(relation, 0))
    return out


def evaluate(
    pairs: pd.DataFrame, task: Task, truth: Truth, *, threshold: float = THRESHOLD,
    extras: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Every figure for one contender's candidate pairs.

    Args:
        pairs: ``source_l, record_id_l, source_r, record_id_r, match_probability``
            (and optionally ``match_weight``), one row per candidate pair.
        task: the task (for keys, relations and tags).
        truth: the task's :class:`Truth`.
        threshold: the link threshold.
        extras: cached masks (``tag_masks``, ``relations``) to reuse across contenders.

    Returns:
        ``(figures, scored)``: JSON-ready figures and the scored pair arrays.
    """
    extras = extras if extras is not None else {}
    scored = score_pairs(pairs, truth, task.keyed_by_source)
    is_true, prob = scored["is_true"], scored["prob"]
    linked = prob >= threshold
    tp = int((linked & is_true).sum())
    figures: dict[str, Any] = {
        "candidate_pairs": int(len(prob)),
        "links": int(linked.sum()),
        **_prf(tp, int(linked.sum()) - tp, truth.n_true - tp),
        "pairs_completeness": round(_ratio(int(is_true.sum()), truth.n_true), 5),
    }
    figures["at_thresholds"] = {}
    for t in OTHER_THRESHOLDS:
        at = prob >= t
        tp_t = int((at & is_true).sum())
        row = _prf(tp_t, int(at.sum()) - tp_t, truth.n_true - tp_t)
        figures["at_thresholds"][str(t)] = {k: row[k] for k in ("precision", "recall", "f1")}
    labels = None
    if task.kind == "dedupe":
        own = pairs.attrs.get("clusters")
        if own is not None and pairs.attrs.get("cluster_threshold") == threshold:
            # The contender's own clustering (cselink keeps strong non-matches apart).
            keys = (own["source"].astype(str) + ":" + own["record_id"].astype(str)
                    if task.keyed_by_source else own["record_id"].astype(str))
            at = truth.index.get_indexer(keys)
            if (at < 0).any() or len(np.unique(at)) != truth.n:
                raise ValueError("the contender's clusters do not cover the task's records")
            labels = np.empty(truth.n, dtype=np.int64)
            labels[at] = pd.factorize(own["cluster_id"].astype(str))[0]
            figures["clustering"] = "own"
        else:
            labels = components(truth.n, scored["a"][linked], scored["b"][linked])
            figures["clustering"] = "connected components"
        figures["clusters"] = cluster_metrics(labels, truth)
    if "tags" in truth.records.columns:
        if "tag_masks" not in extras:
            extras["tag_masks"] = tag_masks(truth)
        by_group, by_tag = extras["tag_masks"]
        found = np.isin(truth.true_a * truth.n + truth.true_b, scored["code"][linked])
        figures["recall_by_group"] = _recall_table(found, by_group)
        figures["recall_by_tag"] = _recall_table(found, by_tag)
        community = truth.records["community"].to_numpy()[truth.true_a]
        by_community = {c: community == c for c in sorted(pd.unique(community))}
        figures["recall_by_community"] = _recall_table(found, by_community)
        if labels is not None:
            same = labels[truth.true_a] == labels[truth.true_b]
            figures["cluster_recall_by_group"] = _recall_table(same, by_group)
            figures["cluster_recall_by_community"] = _recall_table(same, by_community)
    if task.relations is not None:
        if "relations" not in extras:
            extras["relations"] = relation_counts(truth, task.relations)
        figures["related_false_links"] = related_false_links(
            scored, linked, truth, extras["relations"], labels)
    return figures, scored


def pr_curve(scored: dict[str, np.ndarray], n_true: int, points: int = 1500
             ) -> tuple[np.ndarray, np.ndarray]:
    """Precision and recall at every distinct probability, thinned to about ``points``."""
    order = np.argsort(-scored["prob"], kind="stable")
    prob = scored["prob"][order]
    cum_tp = np.cumsum(scored["is_true"][order])
    last = np.ones(len(prob), dtype=bool)
    last[:-1] = prob[:-1] != prob[1:]
    k = np.nonzero(last)[0]
    if len(k) > points:
        k = k[np.unique(np.linspace(0, len(k) - 1, points).astype(int))]
    precision = cum_tp[k] / (k + 1)
    recall = cum_tp[k] / max(n_true, 1)
    return precision, recall
