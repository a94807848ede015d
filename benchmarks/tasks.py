"""The benchmark tasks: data sets, their truth and the runs each contender makes.

Common layer of ``benchmarks/`` (with :mod:`benchmarks.metrics`,
:mod:`benchmarks.render`, :mod:`benchmarks.measure` and :mod:`benchmarks.febrl`): it
imports no contender. A :class:`Run` names its contender by function path
(``"benchmarks.peers:splink_dedupe"``), which :func:`benchmarks.measure.run_measured`
imports in a fresh process, so the peers, cselink's runner, and the quality and speed
benchmarks above them all import this module and never the other way round.

Tasks:

``synthetic-standard`` and ``synthetic-hard``
    :mod:`cselink.synthetic` populations (seeded) at two difficulties: deduplicate the
    five agency files together (within and across agencies). The peers read the
    canonical CSVs (they cannot read the native exports); cselink is run on both the
    canonical CSVs (``cselink``) and the native exports with their mappings
    (``cselink-native``). Record keys are ``source:record_id``.
``febrl4``
    link file A to file B (5,000 + 5,000 records, 5,000 true links).
``febrl1``, ``febrl2``, ``febrl3``
    deduplicate one file (1,000 / 5,000 / 5,000 records; 500 / 1,934 / 6,538 true pairs).

cselink runs with ``Settings()`` as shipped on every task: no profile, no setting a
data set needs.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pandas as pd

#: Where results are written by default.
RESULTS_DIR = Path(__file__).resolve().parent / "results"

#: Where generated synthetic data is cached (outside the repository).
CACHE_DIR = Path("/tmp/cselink-bench")

#: Columns of every contender's pair frame, in order (cselink adds ``match_weight``).
PEER_OUTPUT_COLUMNS: tuple[str, ...] = (
    "source_l",
    "record_id_l",
    "source_r",
    "record_id_r",
    "match_probability",
)

#: Peers run beside cselink, in table order: label -> (link function, dedupe function).
PEER_RUNS: dict[str, tuple[str, str]] = {
    "exact": ("benchmarks.peers:exact_link", "benchmarks.peers:exact_dedupe"),
    "recordlinkage": (
        "benchmarks.peers:recordlinkage_link",
        "benchmarks.peers:recordlinkage_dedupe",
    ),
    "splink": ("benchmarks.peers:splink_link", "benchmarks.peers:splink_dedupe"),
}

#: cselink's runner functions: link two frames, dedupe named sources.
CSELINK_LINK = "benchmarks.cselink_runner:cselink_link"
CSELINK_DEDUPE = "benchmarks.cselink_runner:cselink_dedupe"

#: Every FEBRL task by name, in table order.
FEBRL_TASKS: tuple[str, ...] = ("febrl4", "febrl3", "febrl2", "febrl1")


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
    runs.append(Run("cselink", CSELINK_DEDUPE, (canonical,)))
    if native:
        specs = [
            f"{a}={folder / 'native' / f'{a}.csv'}:{folder / 'mappings' / f'{a}.toml'}"
            for a in agencies
        ]
        runs.append(Run("cselink-native", CSELINK_DEDUPE, (specs,)))
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


def febrl_entity(ids: pd.Series) -> pd.Series:
    """The entity number of each FEBRL record id (``rec-123-dup-0`` -> ``123``)."""
    return ids.str.extract(r"^rec-(\d+)-", expand=False)


#: What the results say about cselink's configuration on FEBRL.
_CSELINK_ON_FEBRL = "Settings() as shipped (no profile, no override)"


def febrl4_task(peers: Sequence[str] = tuple(PEER_RUNS), *, limit: int | None = None) -> Task:
    """FEBRL4: link A to B. ``limit`` keeps the entities numbered below it (smoke tests)."""
    from benchmarks.febrl import load_febrl4

    left, right, _ = load_febrl4()
    if limit is not None:
        left = left[febrl_entity(left["record_id"]).astype(int) < limit].reset_index(drop=True)
        right = right[febrl_entity(right["record_id"]).astype(int) < limit].reset_index(
            drop=True)
    ids = pd.concat([left["record_id"], right["record_id"]], ignore_index=True)
    records = pd.DataFrame({"key": ids, "entity": febrl_entity(ids)})
    runs = [Run(p, PEER_RUNS[p][0], (left, right)) for p in peers]
    runs.append(Run("cselink", CSELINK_LINK, (left, right)))
    info = {"data": "FEBRL4 (recordlinkage.datasets)", "records_by_file": {
        "A": len(left), "B": len(right)}, "cselink_settings": _CSELINK_ON_FEBRL}
    return Task("febrl4", "link", records, runs, False, info=info)


def febrl_dedupe_task(
    name: str, peers: Sequence[str] = tuple(PEER_RUNS), *, limit: int | None = None
) -> Task:
    """FEBRL1, FEBRL2 or FEBRL3 (``name``): deduplicate one file. ``limit`` keeps the
    entities numbered below it (smoke tests)."""
    from benchmarks.febrl import load_febrl_dedupe

    frame, _ = load_febrl_dedupe(name)
    if limit is not None:
        frame = frame[febrl_entity(frame["record_id"]).astype(int) < limit].reset_index(
            drop=True)
    records = pd.DataFrame({"key": frame["record_id"], "entity": febrl_entity(
        frame["record_id"])})
    runs = [Run(p, PEER_RUNS[p][1], (frame,)) for p in peers]
    runs.append(Run("cselink", CSELINK_DEDUPE, ({name: frame},)))
    info = {"data": f"{name.upper()} (recordlinkage.datasets)", "records": len(frame),
            "cselink_settings": _CSELINK_ON_FEBRL}
    return Task(name, "dedupe", records, runs, False, info=info)


def febrl_task(name: str, peers: Sequence[str] = tuple(PEER_RUNS), *,
               limit: int | None = None) -> Task:
    """The FEBRL task ``name`` (one of :data:`FEBRL_TASKS`).

    Raises:
        ValueError: an unknown name.
    """
    if name == "febrl4":
        return febrl4_task(peers, limit=limit)
    if name in FEBRL_TASKS:
        return febrl_dedupe_task(name, peers, limit=limit)
    raise ValueError(f"unknown FEBRL task {name!r}; choose from {list(FEBRL_TASKS)}")
