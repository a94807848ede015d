"""The pipeline: ingest -> standardise -> block -> compare -> score -> cluster, on one connection.

:class:`Linker` holds one DuckDB connection (in memory, or a single file) and runs each
stage once, when first needed; every stage reads and writes named tables (see
:mod:`cselink.schema`), so any of them can be inspected with :attr:`Linker.con`.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ._sql import quote_ident
from ._version import __version__
from .blocking import (
    RuleStats,
    block_index_sql,
    block_keys_sql,
    generate_pairs,
    query_hashes_sql,
    register_name_alts,
)
from .comparisons import COMPARISONS
from .comparisons.vectors import comparison_sqls
from .config import Settings
from .errors import UsageError
from .explain import evidence_sql, reasons_sql
from .ingest import IngestReport, Source, load_sources
from .scoring import Model
from .scoring.fellegi_sunter import scores_sql, tf_tables_sql
from .scoring.training import train_supervised, train_unsupervised
from .standardise import standardise

log = logging.getLogger(__name__)

#: The source name queries are given inside :meth:`Linker.search`.
QUERY_SOURCE = "__query__"

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
        self._persistent = str(database) != ":memory:"
        self.con = duckdb.connect(str(database))
        self.con.execute("SET enable_progress_bar = false")
        self.timings: dict[str, float] = {}
        self.sources = as_sources(sources)
        self._model = Model.load(model) if isinstance(model, str | Path) else model
        self._stage = 0
        self.blocking_stats: list[RuleStats] = []
        if self.settings.link_type == "link" and len(self.sources) < 2:
            raise UsageError("link needs at least two sources; use dedupe for one")
        with self._timed("ingest"):
            self.ingest_report: IngestReport = load_sources(self.con, self.sources)
        with self._timed("standardise"):
            standardise(self.con)
            register_name_alts(self.con)
            self.con.execute(block_keys_sql())
            for stmt in tf_tables_sql():
                self.con.execute(stmt)
        self._save_meta()

    @classmethod
    def open(cls, database: str | Path, *, read_only: bool = False) -> Linker:
        """Reopen an index built with ``Linker(sources, database=...)``: no ingest again.

        Raises:
            UsageError: the file is missing or is not a cselink index.
        """
        path = Path(database)
        if not path.is_file():
            raise UsageError("index file not found", file=str(path))
        self = cls.__new__(cls)
        try:
            self.con = duckdb.connect(str(path), read_only=read_only)
            self.con.execute("SET enable_progress_bar = false")
            meta = dict(self.con.execute("SELECT key, value FROM cselink_meta").fetchall())
        except duckdb.Error:
            raise UsageError("not a cselink index (no cselink_meta table)",
                             file=str(path)) from None
        self.settings = Settings.from_dict(json.loads(meta["settings"]), file=str(path))
        self._model = (Model.from_dict(json.loads(meta["model"]), file=str(path))
                       if meta.get("model") else None)
        self.sources = [Source(n, str(path)) for n in json.loads(meta["sources"])]
        self.timings = {}
        self.blocking_stats = []
        self.ingest_report = IngestReport()
        self._stage = 0
        self._persistent = True
        return self

    def _ensure_block_index(self) -> None:
        """Build ``block_index`` (kept in the database file) for fast look-ups, once."""
        exists = self.con.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = 'block_index'"
        ).fetchall()[0][0]
        if exists:
            return
        with self._timed("block_index"):
            self.con.execute(block_index_sql(self.settings.blocking))
            self.con.execute("CREATE INDEX block_index_key ON block_index (key_hash)")

    def _save_meta(self) -> None:
        """Keep settings, model and source names beside the tables (for :meth:`open`)."""
        if not self._persistent:
            return
        meta = {
            "settings": json.dumps(self.settings.to_dict()),
            "model": json.dumps(self._model.to_dict()) if self._model else "",
            "sources": json.dumps([s.name for s in self.sources]),
            "cselink_version": __version__,
        }
        self.con.execute("CREATE OR REPLACE TABLE cselink_meta (key VARCHAR, value VARCHAR)")
        self.con.executemany("INSERT INTO cselink_meta VALUES (?, ?)", list(meta.items()))

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
        self._stage = 1

    def fit(self, truth: Iterable[tuple[str, str]] | pd.DataFrame | None = None) -> Model:
        """Train the model.

        Without ``truth``: u from seeded random pairs, m by EM sessions, and the prior
        (see :mod:`cselink.scoring.training`). With ``truth``, pairs of record ids (or of
        ``source:record_id`` keys when ids repeat across sources): m from the labelled
        matches among the candidate pairs (supervised).
        """
        with self._timed("train"):
            if truth is None:
                self._model = train_unsupervised(self.con, self.settings, self.comparisons)
            else:
                self._ensure_gammas()
                self._register_truth(truth)
                self._model = train_supervised(
                    self.con, self.settings, self.comparisons, "_truth"
                )
        self._stage = min(self._stage, 1)
        self._save_meta()
        return self._model

    def _register_truth(self, truth: Iterable[tuple[str, str]] | pd.DataFrame) -> None:
        pairs = truth if isinstance(truth, pd.DataFrame) else pd.DataFrame(
            list(truth), columns=["a", "b"])
        frame = pd.DataFrame({"a": pairs.iloc[:, 0].astype(str),
                              "b": pairs.iloc[:, 1].astype(str)})
        qualified = bool(frame["a"].str.contains(":", regex=False).all()) and bool(
            self.con.execute(
                "SELECT count(*) FROM records WHERE contains(record_id, ':')").fetchall()[0][0] == 0
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
        with self._timed("explain"):
            return self._explained("scores", threshold)

    def _explained(self, scores_table: str, threshold: float, *, query: bool = False) -> pd.DataFrame:
        """Scored pairs with both records' ids and sources and the reasons, as a DataFrame."""
        gam = ", ".join(f"s.{COMPARISONS[c].gamma_column}" for c in self.comparisons)
        mws = ", ".join(f"s.mw_{c}" for c in self.comparisons)
        if query:
            head = ("r.record_id AS query_id, l.source AS source, l.record_id AS record_id, ")
            order = "r.record_id, s.match_weight DESC, l.source, l.record_id"
        else:
            head = ("l.source AS source_l, l.record_id AS record_id_l, "
                    "r.source AS source_r, r.record_id AS record_id_r, ")
            order = "s.uid_l, s.uid_r"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _out AS SELECT * FROM {quote_ident(scores_table)} "
            "WHERE match_probability >= ?",
            [threshold],
        )
        self.con.execute(evidence_sql())
        frame = self.con.execute(
            f"""
            SELECT {head} s.match_probability, s.match_weight,
                   {reasons_sql(self.comparisons)} AS reasons,
                   {gam}, {mws}, s.match_key, s.possible_twins
            FROM (SELECT s.*, l.source AS source_l, r.source AS source_r, e.fn_ev, e.sn_ev
                  FROM _out s
                  JOIN records l ON l.uid = s.uid_l JOIN records r ON r.uid = s.uid_r
                  LEFT JOIN _evidence e ON e.uid_l = s.uid_l AND e.uid_r = s.uid_r) s
            JOIN records l ON l.uid = s.uid_l JOIN records r ON r.uid = s.uid_r
            ORDER BY {order}
            """
        ).df()
        self.con.execute("DROP TABLE _out")
        self.con.execute("DROP TABLE _evidence")
        return frame

    def search(
        self, queries: pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *, threshold: float = 0.0,
    ) -> pd.DataFrame:
        """Look up one or more referrals against the indexed records, without changing them.

        Args:
            queries: a record (a mapping of canonical columns), a list of them, or a
                DataFrame. ``record_id`` names each query (q1, q2, ... when absent).
            threshold: the lowest match probability to return.

        Returns:
            One row per candidate: query_id, source, record_id, match_probability,
            match_weight, reasons, gamma_*/mw_* per comparison; best first per query.

        Examples:
            >>> linker.search({"forename": "Jade", "surname": "Smith",
            ...                "dob": "2010-03-04"})  # doctest: +SKIP
        """
        frame = (queries.copy() if isinstance(queries, pd.DataFrame) else
                 pd.DataFrame([queries] if isinstance(queries, Mapping) else list(queries)))
        if "record_id" not in frame.columns:
            frame.insert(0, "record_id", [f"q{i + 1}" for i in range(len(frame))])
        if self._model is None:
            self.fit()
        assert self._model is not None
        con = self.con
        self._ensure_block_index()
        with self._timed("search"):
            con.execute("BEGIN TRANSACTION")
            try:
                load_sources(con, [Source(QUERY_SOURCE, frame)], table="_q_input",
                             rejects_table="_q_rejects")
                con.execute("CREATE OR REPLACE TEMP TABLE _q_in AS SELECT * REPLACE "
                            "(uid + (SELECT coalesce(max(uid) + 1, 0) FROM records) AS uid) "
                            "FROM _q_input")
                standardise(con, source_table="_q_in", records_table="_q_records",
                            variants_table="_q_variants", tokens_table="_q_tokens",
                            temporary=True)
                con.execute("INSERT INTO records BY NAME SELECT * FROM _q_records")
                con.execute("INSERT INTO name_variants BY NAME SELECT * FROM _q_variants")
                con.execute("INSERT INTO name_tokens BY NAME SELECT * FROM _q_tokens "
                            "WHERE name NOT IN (SELECT name FROM name_tokens)")
                con.execute("INSERT INTO name_alts SELECT DISTINCT fn, fn FROM _q_variants "
                            "WHERE fn IS NOT NULL")
                con.execute(block_keys_sql(records="_q_records", variants="_q_variants",
                                           out="_q_keys", temporary=True))
                rules = self.settings.blocking
                con.execute("CREATE OR REPLACE TEMP TABLE _q_hashes AS "
                            + query_hashes_sql(rules, keys_table="_q_keys"))
                wanted = [int(h) for (h,) in con.execute(
                    "SELECT DISTINCT key_hash FROM _q_hashes").fetchall()]
                # Literal values let DuckDB answer from the ART index on key_hash.
                in_list = ", ".join(map(str, wanted)) or "NULL"
                names = "[" + ", ".join(
                    "'" + r.name.replace("'", "''") + "'" for r in rules) + "]"
                con.execute(
                    f"CREATE OR REPLACE TEMP TABLE _q_pairs AS "
                    f"SELECT x.uid AS uid_l, q.uid AS uid_r, {names}[min(x.rule) + 1] AS match_key "
                    f"FROM (SELECT rule, key_hash, uid FROM block_index "
                    f"WHERE key_hash IN ({in_list})) x "
                    f"JOIN _q_hashes q ON q.key_hash = x.key_hash AND q.rule = x.rule "
                    f"WHERE x.uid < q.uid GROUP BY x.uid, q.uid"
                )
                comps = [COMPARISONS[c] for c in self.comparisons]
                for stmt in comparison_sqls(comps, pairs_table="_q_pairs",
                                            out_table="_q_gammas", temporary=True):
                    con.execute(stmt)
                # A referral is one person: among N indexed records, about one is theirs.
                n_index = int(con.execute(
                    "SELECT count(*) FROM records WHERE source <> ?", [QUERY_SOURCE]
                ).fetchall()[0][0])
                model = replace(self._model, prior=min(0.5, 1.0 / max(n_index, 1)))
                con.execute(scores_sql(
                    model, gammas_table="_q_gammas", out_table="_q_scores",
                    tf_adjust=self.settings.tf_adjust, tf_cap=self.settings.tf_weight_cap,
                    twins_probability=self.settings.twins_probability, temporary=True,
                ))
                return self._explained("_q_scores", threshold, query=True)
            finally:
                con.execute("ROLLBACK")

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
