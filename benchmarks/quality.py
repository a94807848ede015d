"""Linkage quality of cselink beside its peers, on synthetic agency data and on FEBRL.

Run ``python -m benchmarks.quality`` (about 5,000 people per synthetic set) or
``python -m benchmarks.quality --full`` (larger sets). It writes
``benchmarks/results/quality.json`` (``quality_full.json`` with ``--full``), one PNG
precision-recall curve and one match-weight histogram per data set, and rebuilds
``benchmarks/results/SUMMARY.md``.

Tasks:

``synthetic-standard`` and ``synthetic-hard``
    :mod:`cselink.synthetic` populations (seeded) at two difficulties: deduplicate the
    five agency files together (within and across agencies). The peers read the
    canonical CSVs (they cannot read the native exports); cselink is run on both the
    canonical CSVs (``cselink``) and the native exports with their mappings
    (``cselink-native``). Record keys are ``source:record_id``.
``febrl4``
    link file A to file B (5,000 + 5,000 records, 5,000 true links).
``febrl3``
    deduplicate 5,000 records (6,538 true pairs).

Every contender runs through :func:`benchmarks.measure.run_measured` in a fresh process
(so wall time and peak memory are comparable) and returns every candidate pair it
scored with a match probability. From those pairs, the same code computes, for every
contender:

* pairwise precision, recall and F1 at the threshold (0.5), and pairs completeness
  (share of true pairs among the candidates);
* for dedupe tasks, the same figures over clusters: the contender's own clusters when it
  returns them (cselink: ``Linker.cluster``), else connected components of the pairs
  at the threshold (scipy), every within-cluster pair counting as a link;
* on synthetic data, recall by corruption (each tag of :data:`cselink.synthetic.TAGS`
  and the groups in :data:`TAG_GROUPS`), recall by community (the bias check UK
  guidance asks for), and false links between twins, siblings and namesakes;
* precision and recall at a few other thresholds; curves are plotted, not stored.

The referral-check figures (known-to-service recall, false-known rate) come from
:func:`cselink.check.run_check` and :func:`cselink.check.evaluate_against_truth` and
are reported only when that module exposes them, beside the same figures for today's
practice: an exact forename + surname + DOB look-up at each agency
(:func:`benchmarks.peers.exact_check`).
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import importlib
import json
import logging
import os
import shlex
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from benchmarks.measure import MeasuredRunError, machine_info, run_measured
from benchmarks.peers import exact_check

logger = logging.getLogger(__name__)

#: Where results are written by default.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Where generated synthetic data is cached (outside the repository).
CACHE_DIR = Path("/tmp/cselink-bench")

#: Match probability at or above which a pair is a link.
THRESHOLD = 0.5

#: Other thresholds at which precision and recall are stored.
OTHER_THRESHOLDS: tuple[float, ...] = (0.01, 0.1, 0.9, 0.99)

#: People per synthetic data set: default and ``--full``.
DEFAULT_PEOPLE = 5_000
FULL_PEOPLE = 20_000

#: Seed of the synthetic populations.
DEFAULT_SEED = 20260

#: Seconds before one contender's run is abandoned.
RUN_TIMEOUT = 3_600.0

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

#: Peers run beside cselink, in table order: label -> (link function, dedupe function).
PEER_RUNS: dict[str, tuple[str, str]] = {
    "exact": ("benchmarks.peers:exact_link", "benchmarks.peers:exact_dedupe"),
    "recordlinkage": (
        "benchmarks.peers:recordlinkage_link",
        "benchmarks.peers:recordlinkage_dedupe",
    ),
    "splink": ("benchmarks.peers:splink_link", "benchmarks.peers:splink_dedupe"),
}

#: Contenders whose precision-recall curves are plotted.
CURVE_CONTENDERS: tuple[str, ...] = ("cselink", "cselink-native", "splink")


def _check_tag_groups() -> None:
    """Fail loudly if the generator's tags and :data:`TAG_GROUPS` drift apart."""
    from cselink.synthetic import TAGS

    unknown = sorted({t for tags in TAG_GROUPS.values() for t in tags} - set(TAGS))
    if unknown:
        raise RuntimeError(f"TAG_GROUPS names tags the generator no longer has: {unknown}")


# ======================================================================= tasks and data


@dataclass(frozen=True, slots=True)
class Run:
    """One contender on one task: a function path for run_measured and its arguments."""

    label: str
    func_path: str
    args: tuple[Any, ...]
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass(slots=True)
class Task:
    """A data set, its truth and the runs to make on it.

    Attributes:
        records: one row per record: ``key`` (unique), ``entity`` (the true person),
            and on synthetic data ``community`` and ``tags`` (a list of tag names).
        keyed_by_source: pair keys are ``source:record_id`` (else ``record_id``).
        relations: ``person_id_a, person_id_b, relation`` (synthetic data only).
        info: what to say about the data set in the results.
        folder: the synthetic data folder (for the referral check).
    """

    name: str
    kind: Literal["link", "dedupe"]
    records: pd.DataFrame
    runs: list[Run]
    keyed_by_source: bool
    relations: pd.DataFrame | None = None
    info: dict[str, Any] = field(default_factory=dict)
    folder: Path | None = None


def _source_digest() -> str:
    """A short hash of the generator's source, so a cached data set is remade when it changes."""
    import cselink.synthetic as synthetic

    return hashlib.sha256(Path(synthetic.__file__).read_bytes()).hexdigest()[:12]


def ensure_synthetic(
    difficulty: str, people: int, seed: int, cache_dir: Path | str = CACHE_DIR
) -> Path:
    """Generate a synthetic data set once into the cache and return its folder.

    The folder name carries the settings and a hash of the generator's source; a
    ``config.json`` written last marks the folder complete.
    """
    from cselink.synthetic import SynthConfig, generate

    config = SynthConfig.preset(difficulty, people=people, seed=seed)
    folder = Path(cache_dir) / f"synth-{difficulty}-{people}-s{seed}-{_source_digest()}"
    marker = folder / "config.json"
    if marker.is_file():
        return folder
    result = generate(config, folder)
    settings = {k: str(v) for k, v in dataclasses.asdict(config).items()}
    marker.write_text(
        json.dumps({"config": settings, "records": dict(result.records)}, indent=1),
        encoding="utf-8",
    )
    return folder


def read_canonical(path: Path | str) -> pd.DataFrame:
    """A canonical CSV as all-text columns with empty strings for missing values."""
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")


def synthetic_agencies(folder: Path) -> list[str]:
    """The agencies of a synthetic folder, in the generator's order."""
    from cselink.synthetic import AGENCIES

    return [a for a in AGENCIES if (folder / "canonical" / f"{a}.csv").is_file()]


def synthetic_task(
    folder: Path,
    name: str,
    *,
    peers: Sequence[str] = tuple(PEER_RUNS),
    native: bool = True,
) -> Task:
    """The dedupe task of a synthetic folder, with every contender's run."""
    agencies = synthetic_agencies(folder)
    canonical = {a: str(folder / "canonical" / f"{a}.csv") for a in agencies}
    frame = pd.concat([read_canonical(p) for p in canonical.values()], ignore_index=True)
    truth = read_canonical(folder / "truth.csv")
    people = read_canonical(folder / "people.csv")
    records = pd.DataFrame(
        {
            "key": truth["source"] + ":" + truth["record_id"],
            "entity": truth["person_id"],
            "tags": [t.split(";") if t else [] for t in truth["corruptions"]],
        }
    )
    community = people.set_index("person_id")["community"]
    records["community"] = community.reindex(records["entity"]).to_numpy()
    runs = [Run(p, PEER_RUNS[p][1], (frame,)) for p in peers]
    runs.append(
        Run("cselink", "benchmarks.cselink_runner:cselink_dedupe", (canonical,),
            {"profile": "default"})
    )
    if native:
        specs = [
            f"{a}={folder / 'native' / f'{a}.csv'}:{folder / 'mappings' / f'{a}.toml'}"
            for a in agencies
        ]
        runs.append(
            Run("cselink-native", "benchmarks.cselink_runner:cselink_dedupe", (specs,),
                {"profile": "default"})
        )
    config = json.loads((folder / "config.json").read_text()) if (
        folder / "config.json").is_file() else {}
    info = {
        "data": "cselink.synthetic",
        "folder": str(folder),
        "people": int(people["person_id"].nunique()),
        "records_by_agency": {a: int((truth["source"] == a).sum()) for a in agencies},
        "difficulty": config.get("config", {}).get("difficulty"),
        "seed": config.get("config", {}).get("seed"),
        "peers_read": "canonical CSVs",
        "cselink_reads": "canonical CSVs (cselink) and native exports + mappings "
        "(cselink-native)",
    }
    return Task(name, "dedupe", records, runs, True,
                relations=read_canonical(folder / "relations.csv"), info=info, folder=folder)


def _febrl_entity(ids: pd.Series) -> pd.Series:
    return ids.str.extract(r"^rec-(\d+)-", expand=False)


def febrl4_task(peers: Sequence[str] = tuple(PEER_RUNS), *, limit: int | None = None) -> Task:
    """FEBRL4: link A to B. ``limit`` keeps the entities numbered below it (smoke tests)."""
    from benchmarks.febrl import load_febrl4

    left, right, _ = load_febrl4()
    if limit is not None:
        left = left[_febrl_entity(left["record_id"]).astype(int) < limit].reset_index(drop=True)
        right = right[_febrl_entity(right["record_id"]).astype(int) < limit].reset_index(
            drop=True)
    ids = pd.concat([left["record_id"], right["record_id"]], ignore_index=True)
    records = pd.DataFrame({"key": ids, "entity": _febrl_entity(ids)})
    runs = [Run(p, PEER_RUNS[p][0], (left, right)) for p in peers]
    runs.append(Run("cselink", "benchmarks.cselink_runner:cselink_link", (left, right),
                    {"profile": "febrl"}))
    info = {"data": "FEBRL4 (recordlinkage.datasets)", "records_by_file": {
        "A": len(left), "B": len(right)}, "cselink_settings": "febrl profile: "
        "twins_probability=None, comparisons=INDEPENDENT_FIELD_COMPARISONS"}
    return Task("febrl4", "link", records, runs, False, info=info)


def febrl3_task(peers: Sequence[str] = tuple(PEER_RUNS), *, limit: int | None = None) -> Task:
    """FEBRL3: deduplicate one file. ``limit`` keeps the entities numbered below it."""
    from benchmarks.febrl import load_febrl3

    frame, _ = load_febrl3()
    if limit is not None:
        frame = frame[_febrl_entity(frame["record_id"]).astype(int) < limit].reset_index(
            drop=True)
    records = pd.DataFrame({"key": frame["record_id"], "entity": _febrl_entity(
        frame["record_id"])})
    runs = [Run(p, PEER_RUNS[p][1], (frame,)) for p in peers]
    runs.append(Run("cselink", "benchmarks.cselink_runner:cselink_dedupe",
                    ({"febrl3": frame},), {"profile": "febrl"}))
    info = {"data": "FEBRL3 (recordlinkage.datasets)", "records": len(frame),
            "cselink_settings": "febrl profile: twins_probability=None, "
            "comparisons=INDEPENDENT_FIELD_COMPARISONS"}
    return Task("febrl3", "dedupe", records, runs, False, info=info)


# ======================================================================= evaluation


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


# ======================================================================= plots


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


#: Line styles of the plotted contenders (same colour for one contender in every plot).
_STYLES: dict[str, dict[str, Any]] = {
    "cselink": {"color": "C0", "linewidth": 2.2},
    "cselink-native": {"color": "C2", "linewidth": 1.2, "linestyle": "--"},
    "splink": {"color": "C1", "linewidth": 1.6},
    "recordlinkage": {"color": "C4"},
    "exact": {"color": "C3"},
}


def plot_pr(task: str, curves: dict[str, tuple[np.ndarray, np.ndarray, float, float]],
            path: Path, points: dict[str, tuple[float, float]] | None = None) -> Path:
    """Precision-recall curves (one line per contender; a dot at the threshold), and the
    other contenders' precision and recall at the threshold as crosses."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4.5), dpi=100)
    lows = []
    for label, (precision, recall, p_at, r_at) in curves.items():
        style = _STYLES.get(label, {})
        ax.plot(recall, precision, label=label, **style)
        ax.plot([r_at], [p_at], "o", color=style.get("color"))
        lows.append(min(float(np.min(precision)) if len(precision) else 1.0, p_at))
    for label, (p_at, r_at) in (points or {}).items():
        ax.plot([r_at], [p_at], "x", markersize=9, mew=2,
                color=_STYLES.get(label, {}).get("color"), label=f"{label} (at {THRESHOLD})")
        lows.append(p_at)
    ax.set_xlabel("recall (share of true pairs)")
    ax.set_ylabel("precision")
    ax.set_title(f"{task}: precision-recall (dot: threshold {THRESHOLD})")
    ax.set_ylim(max(0.0, min(lows, default=0.0) - 0.02), 1.005)
    ax.set_xlim(0.0, 1.005)
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


def plot_weights(task: str, weight: np.ndarray, is_true: np.ndarray, path: Path) -> Path:
    """Histogram of cselink's match weights for true and false candidate pairs."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4), dpi=100)
    ok = np.isfinite(weight)
    if ok.any():
        bins = np.linspace(float(np.min(weight[ok])), float(np.max(weight[ok])), 80)
        ax.hist(weight[ok & ~is_true], bins=bins, alpha=0.6, label="false pairs", color="C3")
        ax.hist(weight[ok & is_true], bins=bins, alpha=0.6, label="true pairs", color="C0")
        ax.axvline(0.0, color="k", linestyle="--", linewidth=1, label="probability 0.5")
    ax.set_yscale("log")
    ax.set_xlabel("match weight (bits)")
    ax.set_ylabel("candidate pairs (log scale)")
    ax.set_title(f"{task}: cselink match weights")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ======================================================================= referral check


def referral_check(folder: Path, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Known-to-service figures of ``cselink.check`` on a synthetic folder's referrals.

    Reported only when :mod:`cselink.check` exposes ``run_check`` and
    ``evaluate_against_truth``; otherwise says why not.
    """
    try:
        check_module = importlib.import_module("cselink.check")  # cselink.check is the function
    except ImportError as exc:
        return {"available": False, "reason": f"cselink.check does not import: {exc}"}
    needed = ("run_check", "evaluate_against_truth")
    if not all(hasattr(check_module, name) for name in needed):
        return {"available": False, "reason": "cselink.check exposes no run_check/"
                "evaluate_against_truth"}
    agencies = synthetic_agencies(folder)
    sources = {a: str(folder / "canonical" / f"{a}.csv") for a in agencies}
    try:
        measured = run_measured("benchmarks.cselink_runner:cselink_check",
                                str(folder / "referrals.csv"), sources, timeout=timeout)
        figures = check_module.evaluate_against_truth(
            measured.result, read_canonical(folder / "referrals_truth.csv"),
            read_canonical(folder / "truth.csv"), agencies)
    except Exception as exc:  # noqa: BLE001 - reported, not hidden: the check is not ours
        return {"available": True, "error": f"{type(exc).__name__}: {str(exc)[:500]}"}
    exact = check_module.evaluate_against_truth(
        exact_check(read_canonical(folder / "referrals.csv"),
                    {a: read_canonical(folder / "canonical" / f"{a}.csv") for a in agencies}),
        read_canonical(folder / "referrals_truth.csv"), read_canonical(folder / "truth.csv"),
        agencies)
    return {"available": True, "figures": figures, "exact_figures": exact, **measured.costs()}


# ======================================================================= running


def _git_state() -> dict[str, Any]:
    """The commit of the working tree and whether cselink/ has uncommitted changes."""
    root = Path(__file__).resolve().parent.parent

    def git(*args: str) -> str:
        try:
            return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True,
                                  timeout=30, check=False).stdout.strip()
        except OSError:
            return ""

    return {"commit": git("rev-parse", "HEAD") or None,
            "cselink_dirty": bool(git("status", "--porcelain", "--", "cselink"))}


def run_task(
    task: Task, out_dir: Path | None, *, threshold: float = THRESHOLD,
    timeout: float = RUN_TIMEOUT, check_referrals: bool = True,
    progress: Callable[[str], None] | None = None, plot_prefix: str = "",
) -> dict[str, Any]:
    """Run every contender of a task, evaluate it and (with ``out_dir``) draw its plots
    (``<plot_prefix>pr_<task>.png`` and ``<plot_prefix>weights_<task>.png``)."""
    say = progress or (lambda _msg: None)
    truth = Truth(task.records, task.kind)
    result: dict[str, Any] = {
        "task": task.name, "kind": task.kind, "records": truth.n,
        "entities": len(truth.entities), "true_pairs": truth.n_true, "info": task.info,
        "contenders": {},
    }
    extras: dict[str, Any] = {}
    curves: dict[str, tuple[np.ndarray, np.ndarray, float, float]] = {}
    points: dict[str, tuple[float, float]] = {}
    for run in task.runs:
        say(f"{task.name}: {run.label} ...")
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
        try:
            measured = run_measured(run.func_path, *run.args, timeout=timeout, **run.kwargs)
        except MeasuredRunError as exc:
            result["contenders"][run.label] = {"error": str(exc)[-2000:]}
            say(f"{task.name}: {run.label} FAILED")
            continue
        figures, scored = evaluate(measured.result, task, truth, threshold=threshold,
                                   extras=extras)
        figures["costs"] = measured.costs()
        if load is not None:
            figures["costs"]["load_average_before"] = round(load, 2)
        if "timings" in measured.result.attrs:
            figures["stage_seconds"] = measured.result.attrs["timings"]
        result["contenders"][run.label] = figures
        say(f"{task.name}: {run.label} F1 {figures['f1']:.4f} "
            f"wall {figures['costs']['wall_seconds']:.1f}s")
        if run.label in CURVE_CONTENDERS:
            precision, recall = pr_curve(scored, truth.n_true)
            curves[run.label] = (precision, recall, figures["precision"], figures["recall"])
        else:
            points[run.label] = (figures["precision"], figures["recall"])
        if run.label == "cselink" and out_dir is not None:
            path = plot_weights(task.name, scored["weight"], scored["is_true"],
                                out_dir / f"{plot_prefix}weights_{task.name}.png")
            result.setdefault("plots", []).append(path.name)
        del measured, scored
    if out_dir is not None and curves:
        path = plot_pr(task.name, curves, out_dir / f"{plot_prefix}pr_{task.name}.png", points)
        result.setdefault("plots", []).append(path.name)
    if check_referrals and task.folder is not None:
        say(f"{task.name}: referral check ...")
        result["referral_check"] = referral_check(task.folder, timeout)
    return result


def run_quality(
    *,
    people: int = DEFAULT_PEOPLE,
    seed: int = DEFAULT_SEED,
    difficulties: Sequence[str] = ("standard", "hard"),
    febrl: Sequence[str] = ("febrl4", "febrl3"),
    peers: Sequence[str] = tuple(PEER_RUNS),
    native: bool = True,
    check_referrals: bool = True,
    out_dir: Path | None = RESULTS_DIR,
    name: str = "quality",
    cache_dir: Path = CACHE_DIR,
    febrl_limit: int | None = None,
    threshold: float = THRESHOLD,
    timeout: float = RUN_TIMEOUT,
    command: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Run the quality benchmark and (with ``out_dir``) write ``<name>.json`` and the plots.

    Args:
        people: people per synthetic data set.
        seed: seed of the synthetic data sets.
        difficulties: synthetic difficulties to run.
        febrl: FEBRL tasks to run: ``febrl4`` (link) and/or ``febrl3`` (dedupe).
        peers: peers to run beside cselink (names of :data:`PEER_RUNS`).
        native: also run cselink on the native agency exports.
        check_referrals: add the referral-check figures where ``cselink.check`` has them.
        out_dir: results folder; None writes nothing.
        name: results file stem.
        cache_dir: synthetic data cache.
        febrl_limit: keep only FEBRL entities numbered below this (smoke tests).
        threshold: link threshold.
        timeout: seconds per contender run.
        command: the command line to record.
        progress: called with a short line as each run starts and ends.

    Returns:
        The results (as written to JSON).
    """
    _check_tag_groups()
    unknown = [p for p in peers if p not in PEER_RUNS]
    if unknown:
        raise ValueError(f"unknown peers {unknown}; choose from {list(PEER_RUNS)}")
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
    tasks: list[Callable[[], Task]] = []
    for difficulty in difficulties:
        def make(d: str = difficulty) -> Task:
            folder = ensure_synthetic(d, people, seed, cache_dir)
            return synthetic_task(folder, f"synthetic-{d}", peers=peers, native=native)
        tasks.append(make)
    if "febrl4" in febrl:
        tasks.append(lambda: febrl4_task(peers, limit=febrl_limit))
    if "febrl3" in febrl:
        tasks.append(lambda: febrl3_task(peers, limit=febrl_limit))
    started = dt.datetime.now(dt.UTC)
    prefix = "" if name == "quality" else f"{name}_"
    results = [run_task(make(), out_dir, threshold=threshold, timeout=timeout,
                        check_referrals=check_referrals, progress=progress, plot_prefix=prefix)
               for make in tasks]
    output = {
        "benchmark": "quality",
        "command": command,
        "started": started.isoformat(timespec="seconds"),
        "finished": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "threshold": threshold,
        "settings": {"people": people, "seed": seed, "difficulties": list(difficulties),
                     "peers": list(peers), "febrl": list(febrl), "febrl_limit": febrl_limit},
        "git": _git_state(),
        "machine": machine_info(),
        "tasks": results,
    }
    if out_dir is not None:
        (out_dir / f"{name}.json").write_text(json.dumps(output, indent=1) + "\n",
                                             encoding="utf-8")
        if out_dir.resolve() == RESULTS_DIR.resolve():
            write_summary(out_dir)
    return output


# ======================================================================= summary


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[Any]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_fmt(v) for v in row) + " |" for row in rows]
    return lines


def quality_markdown(result: dict[str, Any], file_name: str) -> list[str]:
    """The Markdown section of one quality results file."""
    lines = [f"## Quality (`{file_name}`)", ""]
    lines += [f"Command: `{result.get('command') or 'python -m benchmarks.quality'}`  ",
              f"Run: {result['started']} to {result['finished']}; commit "
              f"`{(result['git'].get('commit') or '?')[:10]}`"
              + (" (cselink/ had uncommitted changes)" if result["git"].get("cselink_dirty")
                 else "") + f"; threshold {result['threshold']}.", ""]
    for task in result["tasks"]:
        info = "; ".join(
            f"{k.replace('_', ' ')}: " + (", ".join(f"{a} {n:,}" for a, n in v.items())
                                          if isinstance(v, dict) else str(v))
            for k, v in task["info"].items() if k != "folder")
        lines += [f"### {task['task']} ({task['kind']})", "",
                  f"{task['records']:,} records, {task['entities']:,} people/entities, "
                  f"{task['true_pairs']:,} true pairs. {info}.", ""]
        cont = task["contenders"]
        rows = []
        for label, c in cont.items():
            if "error" in c:
                rows.append([label, "failed: " + c["error"].splitlines()[-1][:120]]
                            + [""] * 10)
                continue
            cl = c.get("clusters", {})
            rows.append([label, c["precision"], c["recall"], c["f1"], c["pairs_completeness"],
                         cl.get("precision"), cl.get("recall"), cl.get("f1"),
                         c["candidate_pairs"], f"{c['costs']['wall_seconds']:.1f}",
                         round(c["costs"]["peak_rss_mib"]),
                         _fmt(c["costs"].get("load_average_before"), 1)])
        lines += _table(["contender", "precision", "recall", "F1", "pairs compl.",
                         "cluster P", "cluster R", "cluster F1", "candidates", "wall s",
                         "peak MiB", "load avg"], rows)
        lines.append("")
        ok = {k: v for k, v in cont.items() if "error" not in v}
        if ok and "recall_by_group" in next(iter(ok.values())):
            groups = list(next(iter(ok.values()))["recall_by_group"])
            lines += ["Recall at the threshold by what differs between the pair's records "
                      "(pairwise; cluster recall in the JSON):", ""]
            rows = [[g, next(iter(ok.values()))["recall_by_group"][g]["true_pairs"]]
                    + [v["recall_by_group"][g]["recall"] for v in ok.values()] for g in groups]
            lines += _table(["pairs where", "true pairs", *ok], rows)
            lines.append("")
            comms = list(next(iter(ok.values()))["recall_by_community"])
            lines += ["Recall by community (bias check, pairwise):", ""]
            rows = [[g, next(iter(ok.values()))["recall_by_community"][g]["true_pairs"]]
                    + [v["recall_by_community"][g]["recall"] for v in ok.values()]
                    for g in comms]
            lines += _table(["community", "true pairs", *ok], rows)
            lines.append("")
            rel = next(iter(ok.values())).get("related_false_links")
            if rel:
                lines += ["False links between different people, by relation (pairwise links "
                          "at the threshold; in brackets: record pairs merged into one "
                          "cluster):", ""]
                rows = []
                for r in ("twin", "sibling", "namesake", "unrelated"):
                    row: list[Any] = [r, rel[r].get("record_pairs")]
                    for v in ok.values():
                        x = v["related_false_links"][r]
                        merged = x.get("cluster_merged_record_pairs")
                        row.append(f"{x['false_links']:,}" + (
                            f" ({merged:,})" if merged is not None else ""))
                    rows.append(row)
                lines += _table(["relation", "record pairs", *ok], rows)
                lines.append("")
            tag_rows = [[t, next(iter(ok.values()))["recall_by_tag"][t]["true_pairs"]]
                        + [v["recall_by_tag"][t]["recall"] for v in ok.values()]
                        for t in next(iter(ok.values()))["recall_by_tag"]]
            lines += ["<details><summary>Recall by corruption tag</summary>", ""]
            lines += _table(["tag (either record)", "true pairs", *ok], tag_rows)
            lines += ["", "</details>", ""]
        check = task.get("referral_check")
        if check is not None:
            lines += ["Referral check (from `cselink.check`, not built here):", ""]
            if not check.get("available"):
                lines += [f"not reported: {check.get('reason')}", ""]
            elif "error" in check:
                lines += [f"the check failed: `{check['error'][:300]}`", ""]
            else:
                keys = ["referrals", "held", "known_recall", "missed", "false_known",
                        "known_precision", "known_recall_other_name", "mean_possible"]
                rows = [["cselink check", *(check["figures"].get(k) for k in keys),
                         f"{check['wall_seconds']:.1f}"]]
                if "exact_figures" in check:  # results from before the baseline lack it
                    rows.append(["exact forename+surname+DOB look-up",
                                 *(check["exact_figures"].get(k) for k in keys), ""])
                lines += _table(["", *keys, "wall s"], rows)
                lines.append("")
        for plot in task.get("plots", []):
            lines.append(f"![{plot}]({plot})")
        lines.append("")
    return lines


def write_summary(results_dir: Path = RESULTS_DIR) -> Path:
    """Rebuild ``SUMMARY.md`` from every results JSON in the folder."""
    from benchmarks.speed import speed_markdown

    lines = ["# cselink benchmark results", "",
             "Written by `python -m benchmarks.quality` and `python -m benchmarks.speed` from "
             "the JSON files beside this one (see `benchmarks/README.md` for what each figure "
             "means and how the peers are configured). Every contender ran in a fresh "
             "process on the same machine; wall time is the whole process (interpreter start, "
             "imports, reading, training, scoring).", ""]
    machine = None
    for path in sorted(results_dir.glob("*.json")):
        data = json.loads(path.read_text(encoding="utf-8"))
        machine = machine or data.get("machine")
        if data.get("benchmark") == "quality":
            lines += quality_markdown(data, path.name)
        elif data.get("benchmark") == "speed":
            lines += speed_markdown(data, path.name)
    if machine:
        lines += ["## Machine", "", "```", json.dumps(machine, indent=1), "```", ""]
    out = results_dir / "SUMMARY.md"
    out.write_text("\n".join(lines), encoding="utf-8")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m benchmarks.quality [--full] [options]``."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--full", action="store_true",
                        help=f"{FULL_PEOPLE:,} people per synthetic set (default "
                        f"{DEFAULT_PEOPLE:,})")
    parser.add_argument("--people", type=int, default=None, help="override people per set")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--difficulties", default="standard,hard")
    parser.add_argument("--peers", default=",".join(PEER_RUNS),
                        help="comma-separated peers to run (empty for none)")
    parser.add_argument("--no-febrl", action="store_true")
    parser.add_argument("--no-native", action="store_true")
    parser.add_argument("--no-check", action="store_true", help="skip the referral check")
    parser.add_argument("--out", type=Path, default=RESULTS_DIR)
    parser.add_argument("--name", default=None, help="results file stem")
    parser.add_argument("--cache", type=Path, default=CACHE_DIR)
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--summary-only", action="store_true",
                        help="only rebuild SUMMARY.md from the JSON files in --out")
    opts = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if opts.summary_only:
        print(f"wrote {write_summary(opts.out)}", file=sys.stderr)
        return 0
    people = opts.people or (FULL_PEOPLE if opts.full else DEFAULT_PEOPLE)
    name = opts.name or ("quality_full" if opts.full else "quality")
    command = "python -m benchmarks.quality " + " ".join(
        shlex.quote(a) for a in (sys.argv[1:] if argv is None else argv))
    run_quality(
        people=people, seed=opts.seed,
        difficulties=[d for d in opts.difficulties.split(",") if d],
        febrl=() if opts.no_febrl else ("febrl4", "febrl3"),
        peers=[p for p in opts.peers.split(",") if p],
        native=not opts.no_native, check_referrals=not opts.no_check, out_dir=opts.out,
        name=name, cache_dir=opts.cache, threshold=opts.threshold, command=command.strip(),
        progress=lambda msg: print(msg, file=sys.stderr, flush=True),
    )
    print(f"wrote {opts.out / (name + '.json')}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
