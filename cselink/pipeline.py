"""The pipeline: ingest -> standardise -> block -> compare -> score -> cluster, on one connection.

:class:`Linker` holds one DuckDB connection (in memory, or a single file) and runs each
stage once, when first needed; every stage reads and writes named tables (see
:mod:`cselink.schema`), so any of them can be inspected with :attr:`Linker.con`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd

from .blocking import RuleStats, generate_pairs, register_name_alts
from .comparisons import COMPARISONS
from .comparisons.vectors import comparison_sqls
from .config import Settings
from .errors import UsageError
from .explain import reasons_sql
from .ingest import IngestReport, Source, load_sources
from .scoring import Model
from .scoring.fellegi_sunter import scores_sql, tf_tables_sql
from .scoring.training import train_supervised, train_unsupervised
from .standardise import standardise

log = logging.getLogger(__name__)

SourceLike = Source | pd.DataFrame | duckdb.DuckDBPyRelation | str | Path
SourcesArg = Mapping[str, Any] | Sequence[SourceLike]


def as_sources(sources: SourcesArg) -> list[Source]:
    """Turn the forms the API accepts into :class:`Source` objects with distinct names."""
    out: list[Source] = []
    items: Iterable[tuple[str | None, Any]]
    if isinstance(sources, Mapping):
        items = list(sources.items())
    else:
        items = [(None, s) for s in sources]
    for i, (name, data) in enumerate(items):
        if isinstance(data, Source):
            out.append(data if name is None else Source(name, data.data, data.mapping))
        elif isinstance(data, str | Path):
            out.append(Source(name or Path(data).stem, data))
        elif isinstance(data, pd.DataFrame | duckdb.DuckDBPyRelation):
            out.append(Source(name or f"source_{i + 1}", data))
        else:
            raise UsageError(
                f"source {i + 1}: expected a DataFrame, a DuckDB relation or a file path, "
                f"not {type(data).__name__}"
            )
    names = [s.name for s in out]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise UsageError(f"source names must be distinct; repeated: {', '.join(dupes)}")
    if not out:
        raise UsageError("no sources given")
    return out


class Linker:
    """Links and deduplicates records across sources.

    Args:
        sources: DataFrames, DuckDB relations, file paths or :class:`Source` objects, as a
            sequence (names from file stems) or a mapping of source name to data.
        settings: run settings; ``Settings()`` by default.
        model: a trained model (or the path of a model JSON) to score with; without one,
            :meth:`fit` trains by EM when first needed.
        database: ``":memory:"`` (default) or a DuckDB file to keep the tables in.

    Examples:
        >>> import pandas as pd, cselink
        >>> a = pd.DataFrame({"record_id": ["1"], "forename": ["Jade"], "surname": ["Smith"]})
        >>> b = pd.DataFrame({"record_id": ["9"], "forename": ["Jade"], "surname": ["Smith"]})
        >>> linker = cselink.Linker({"police": a, "health": b},
        ...                         settings=cselink.Settings(link_type="link"))
        >>> linker.predict(threshold=0.0).shape[0]
        1
    """

    def __init__(
        self,
        sources: SourcesArg,
        *,
        settings: Settings | None = None,
        model: Model | str | Path | None = None,
        database: str | Path = ":memory:",
    ) -> None:
        self.settings = settings or Settings()
        self.con = duckdb.connect(str(database))
        self.timings: dict[str, float] = {}
        self.sources = as_sources(sources)
        self._model = Model.load(model) if isinstance(model, str | Path) else model
        self._stage = 0
        self.blocking_stats: list[RuleStats] = []
        with self._timed("ingest"):
            self.ingest_report: IngestReport = load_sources(self.con, self.sources)
        with self._timed("standardise"):
            standardise(self.con)
            register_name_alts(self.con)
        if self.settings.link_type == "link" and len(self.sources) < 2:
            raise UsageError("link needs at least two sources; use dedupe for one")

    @contextmanager
    def _timed(self, stage: str) -> Any:
        start = time.perf_counter()
        yield
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
        log.info("%s took %.2fs", stage, self.timings[stage])

    @property
    def comparisons(self) -> tuple[str, ...]:
        return self.settings.comparisons

    @property
    def model(self) -> Model | None:
        """The model in use (None until trained or given)."""
        return self._model

    def _ensure_gammas(self) -> None:
        if self._stage >= 1:
            return
        with self._timed("blocking"):
            self.blocking_stats = generate_pairs(self.con, self.settings)
        with self._timed("compare"):
            comps = [COMPARISONS[c] for c in self.comparisons]
            for stmt in comparison_sqls(comps, pairs_table="pairs", out_table="gammas"):
                self.con.execute(stmt)
            for stmt in tf_tables_sql():
                self.con.execute(stmt)
        self._stage = 1

    def fit(self, truth: Iterable[tuple[str, str]] | pd.DataFrame | None = None) -> Model:
        """Train the model.

        Without ``truth``: u from seeded random pairs, m by EM sessions, and the prior
        (see :mod:`cselink.scoring.training`). With ``truth``, pairs of record ids (or of
        ``source:record_id`` keys when ids repeat across sources): m from the labelled
        matches among the candidate pairs (supervised).
        """
        self._ensure_gammas()
        with self._timed("train"):
            if truth is None:
                self._model = train_unsupervised(self.con, self.settings, self.comparisons)
            else:
                self._register_truth(truth)
                self._model = train_supervised(
                    self.con, self.settings, self.comparisons, "_truth"
                )
        self._stage = 1
        return self._model

    def _register_truth(self, truth: Iterable[tuple[str, str]] | pd.DataFrame) -> None:
        pairs = truth if isinstance(truth, pd.DataFrame) else pd.DataFrame(
            list(truth), columns=["a", "b"])
        frame = pd.DataFrame({"a": pairs.iloc[:, 0].astype(str),
                              "b": pairs.iloc[:, 1].astype(str)})
        qualified = bool(frame["a"].str.contains(":", regex=False).all()) and bool(
            self.con.execute(
                "SELECT count(*) FROM records WHERE contains(record_id, ':')").fetchone()[0] == 0
        )
        key = "source || ':' || record_id" if qualified else "record_id"
        self.con.register("_truth_df", frame)
        self.con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _truth AS
            SELECT DISTINCT least(x.uid, y.uid) AS uid_l, greatest(x.uid, y.uid) AS uid_r
            FROM _truth_df t
            JOIN (SELECT uid, {key} AS k FROM records) x ON x.k = t.a
            JOIN (SELECT uid, {key} AS k FROM records) y ON y.k = t.b
            WHERE x.uid <> y.uid"""
        )
        self.con.unregister("_truth_df")

    def _ensure_scores(self) -> None:
        if self._stage >= 2:
            return
        self._ensure_gammas()
        if self._model is None:
            self.fit()
        assert self._model is not None
        missing = [c for c in self.comparisons if c not in self._model.comparisons]
        if missing:
            raise UsageError(f"the model has no parameters for comparison(s) {missing}")
        with self._timed("score"):
            self.con.execute(
                scores_sql(
                    self._model, tf_adjust=self.settings.tf_adjust,
                    tf_cap=self.settings.tf_weight_cap,
                    twins_probability=self.settings.twins_probability,
                )
            )
        self._stage = 2

    def predict(self, threshold: float | None = None) -> pd.DataFrame:
        """Scored pairs at or above ``threshold`` (default: the settings' threshold).

        Returns:
            One row per pair: source_l, record_id_l, source_r, record_id_r,
            match_probability, match_weight, reasons, then gamma_* and mw_* per comparison
            and match_key (the blocking rule that found the pair).
        """
        threshold = self.settings.threshold if threshold is None else threshold
        if not 0 <= threshold <= 1:
            raise UsageError("threshold must be between 0 and 1")
        self._ensure_scores()
        gam = ", ".join(f"s.{COMPARISONS[c].gamma_column}" for c in self.comparisons)
        mws = ", ".join(f"s.mw_{c}" for c in self.comparisons)
        with self._timed("explain"):
            frame = self.con.execute(
                f"""
                SELECT l.source AS source_l, l.record_id AS record_id_l,
                       r.source AS source_r, r.record_id AS record_id_r,
                       s.match_probability, s.match_weight,
                       {reasons_sql(self.comparisons)} AS reasons,
                       {gam}, {mws}, s.match_key, s.possible_twins
                FROM (SELECT s.*, l.source AS source_l, r.source AS source_r FROM scores s
                      JOIN records l ON l.uid = s.uid_l JOIN records r ON r.uid = s.uid_r
                      WHERE s.match_probability >= ?) s
                JOIN records l ON l.uid = s.uid_l JOIN records r ON r.uid = s.uid_r
                ORDER BY s.uid_l, s.uid_r
                """,
                [threshold],
            ).df()
        return frame

    def cluster(self, threshold: float | None = None) -> pd.DataFrame:
        """Every record once, with the cluster it belongs to at ``threshold``."""
        from .clustering import cluster_pairs

        threshold = self.settings.threshold if threshold is None else threshold
        self._ensure_scores()
        with self._timed("cluster"):
            cluster_pairs(self.con, threshold)
        return self.con.execute(
            "SELECT r.source, r.record_id, c.cluster_id FROM clusters c JOIN records r "
            "USING (uid) ORDER BY c.uid"
        ).df()

    def save_model(self, path: str | Path) -> None:
        """Save the trained model as JSON (training first if needed)."""
        if self._model is None:
            self.fit()
        assert self._model is not None
        self._model.save(path)

    def close(self) -> None:
        """Close the DuckDB connection."""
        self.con.close()

    def __enter__(self) -> Linker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def link(
    left: SourceLike,
    right: SourceLike,
    *,
    threshold: float | None = None,
    settings: Settings | None = None,
    model: Model | str | Path | None = None,
) -> pd.DataFrame:
    """Link two sources: the scored pairs between them at or above ``threshold``.

    Examples:
        >>> import pandas as pd, cselink
        >>> a = pd.DataFrame({"record_id": ["a1"], "forename": ["Rob"], "surname": ["Ng"],
        ...                   "dob": ["2010-03-04"]})
        >>> b = pd.DataFrame({"record_id": ["b1"], "forename": ["Robert"], "surname": ["Ng"],
        ...                   "dob": ["2010-04-03"]})
        >>> cselink.link(a, b, threshold=0.0)[["record_id_l", "record_id_r"]].values.tolist()
        [['a1', 'b1']]
    """
    settings = (settings or Settings()).with_(link_type="link")
    with Linker([left, right], settings=settings, model=model) as linker:
        return linker.predict(threshold)


def dedupe(
    *sources: SourceLike,
    threshold: float | None = None,
    settings: Settings | None = None,
    model: Model | str | Path | None = None,
) -> pd.DataFrame:
    """Link and deduplicate one or more sources: every record with its cluster id."""
    settings = (settings or Settings()).with_(link_type="dedupe")
    with Linker(list(sources), settings=settings, model=model) as linker:
        return linker.cluster(threshold)
