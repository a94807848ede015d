"""The pipeline: ingest -> standardise -> block -> compare -> score -> cluster, on one connection.

:class:`Linker` holds one DuckDB connection (in memory, or a single file) and runs each
stage once, when first needed; every stage reads and writes named tables (see
:mod:`cselink.schema`), so any of them can be inspected with :attr:`Linker.con`.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd

from ._progress import notify
from ._sql import quote_ident, quote_literal
from ._version import __version__
from .blocking import (
    RuleStats,
    block_keys_sql,
    estimate_rules,
    generate_pairs,
    query_hashes_sql,
    register_name_alts,
)
from .comparisons import COMPARISONS
from .comparisons.vectors import comparison_sqls
from .config import Settings
from .errors import ResourceLimitError, UsageError
from .explain import REASON_NAME_COLUMNS, evidence_sql, reasons_sql, reasons_text
from .ingest import IngestReport, Source, load_sources
from .lookup import (
    LOOKUP_LAYOUT,
    candidate_sqls,
    candidate_variants_sqls,
    lookup_tables_sqls,
    query_alts_sql,
    query_pairs_sqls,
)
from .profile import DataProfile, estimate_twins_probability, profile_data
from .quicksearch import search_index, standardise_rows, term_frequency_constants
from .resources import Limits, limit_connection, peak_rss_bytes
from .schema import GAMMAS_TABLE, PAIRS_TABLE, RECORDS_TABLE, SCORES_TABLE, VARIANTS_TABLE
from .scoring import Model
from .scoring.fellegi_sunter import scores_sql, tf_tables_sql
from .scoring.training import train_supervised
from .standardise import standardise

log = logging.getLogger(__name__)

#: The source name queries are given inside :meth:`Linker.search`.
QUERY_SOURCE = "__query__"
#: How reasons name the query's side of a search pair ("... recorded by the referral").
QUERY_LABEL = "the referral"
#: The in-memory database a search writes its working tables to (never the index).
_QUERY_DB = "cselink_query"
#: Up to this many queries, a search runs in Python after the ingest (cselink.quicksearch):
#: a few referrals' work is milliseconds, and planning the batch SQL would cost far more.
_FEW_QUERIES = 16

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
        memory_limit: DuckDB's memory limit, e.g. ``"2GB"`` (default: 2.5 GiB, or half
            the machine's memory if less; see :mod:`cselink.resources`). Above it, joins and
            aggregations spill to ``temp_directory``; a stage that still does not fit
            raises :class:`~cselink.errors.ResourceLimitError` naming the stage.
        temp_directory: where DuckDB spills (default: a private folder, mode 0700, in the
            system temporary folder, removed by :meth:`close`). Spilled pages hold
            personal data: keep it on an encrypted disk the data may live on.

    Examples:
        >>> import pandas as pd, cselink
        >>> a = pd.DataFrame({"record_id": ["1"], "forename": ["Jade"], "surname": ["Smith"]})
        >>> b = pd.DataFrame({"record_id": ["9"], "forename": ["Jade"], "surname": ["Smith"]})
        >>> linker = cselink.Linker({"police": a, "health": b},
        ...                         settings=cselink.Settings(link_type="link"))
        >>> linker.predict(threshold=0.0).shape[0]
        1
    """

    #: Whether :meth:`open` opened the index read-only.
    _read_only: bool = False
    #: Once the look-up tables are known to be current: (records in the index, first free
    #: uid for queries, numbers of the blocking rules left out as too broad).
    _lookup: tuple[int, int, frozenset[int]] | None = None
    #: The term-frequency constants a quick search reads (see cselink.quicksearch).
    _tf_constants: dict[str, tuple[float, float]] | None = None
    #: Forename pairs learned from the data, as a quick search reads them.
    _learned: dict[str, dict[str, int]] | None = None

    def __init__(
        self,
        sources: SourcesArg,
        *,
        settings: Settings | None = None,
        model: Model | str | Path | None = None,
        database: str | Path = ":memory:",
        memory_limit: str | None = None,
        temp_directory: str | Path | None = None,
    ) -> None:
        self.settings = settings or Settings()
        self._persistent = str(database) != ":memory:"
        self.con = duckdb.connect(str(database))
        self.con.execute("SET enable_progress_bar = false")
        self.limits: Limits = limit_connection(self.con, self, memory_limit=memory_limit,
                                               temp_directory=temp_directory)
        try:
            self.timings: dict[str, float] = {}
            self.peak_rss: dict[str, int] = {}
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
            with self._timed("profile"):
                self.profile: DataProfile = profile_data(
                    self.con, twins_guard=self.settings.twins_probability is not None,
                    seed=self.settings.seed)
            self._save_meta()
        except BaseException:
            self.close()  # no connection or spill folder left behind a failed start
            raise

    @classmethod
    def open(cls, database: str | Path, *, read_only: bool = False,
             memory_limit: str | None = None,
             temp_directory: str | Path | None = None) -> Linker:
        """Reopen an index built with ``Linker(sources, database=...)``: no ingest again.

        :meth:`search` works on a read-only index once a writable search has built its
        look-up tables (``benchmarks.cselink_runner.build_index`` does so).
        ``memory_limit`` and ``temp_directory`` are as for :class:`Linker`.

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
            self.limits = limit_connection(self.con, self, memory_limit=memory_limit,
                                           temp_directory=temp_directory)
            meta = dict(self.con.execute("SELECT key, value FROM cselink_meta").fetchall())
        except duckdb.Error:
            if hasattr(self, "limits"):
                self.close()
            raise UsageError("not a cselink index (no cselink_meta table)",
                             file=str(path)) from None
        self.settings = Settings.from_dict(json.loads(meta["settings"]), file=str(path))
        self._model = (Model.from_dict(json.loads(meta["model"]), file=str(path))
                       if meta.get("model") else None)
        self.sources = [Source(n, str(path)) for n in json.loads(meta["sources"])]
        if meta.get("profile"):
            self.profile = DataProfile.from_dict(json.loads(meta["profile"]))
        else:
            # An index from before the data profile: profile its records now (which marks
            # known twins and stores learned names, so it needs to write).
            if read_only:
                raise UsageError("the index was built by an earlier cselink: open it once "
                                 "without read_only to bring it up to date", file=str(path))
            self.con.execute("ALTER TABLE records ADD COLUMN IF NOT EXISTS known_twin "
                             "BOOLEAN DEFAULT FALSE")
            self.profile = profile_data(
                self.con, twins_guard=self.settings.twins_probability is not None,
                seed=self.settings.seed)
        self.timings = {}
        self.peak_rss = {}
        self.blocking_stats = []
        self.ingest_report = IngestReport()
        self._stage = 0
        self._persistent = True
        self._read_only = read_only
        return self

    def _ensure_lookup(self) -> tuple[int, int, frozenset[int]]:
        """Build the look-up tables of :mod:`cselink.lookup` once (kept in the database file).

        They are current when ``cselink_meta`` records their layout (:data:`LOOKUP_LAYOUT`):
        ``_save_meta`` rewrites that table whenever the records are ingested again (or a
        model trained), which drops the record, and tables of another layout are rebuilt.
        The blocking rules a dedupe of these records would skip as too broad
        (:func:`~cselink.blocking.estimate_rules`) are left out, and recorded beside.

        Returns:
            The number of indexed records, the first uid free for queries and the numbers
            of the rules left out.

        Raises:
            UsageError: a read-only index without current look-up tables.
        """
        if self._lookup is not None:
            return self._lookup
        con = self.con
        try:
            stored = json.loads(self._meta_value("lookup") or "{}") if self._persistent else {}
        except ValueError:  # an earlier version's mark
            stored = {}
        skipped = frozenset(int(i) for i in stored.get("skipped_rules", ()))
        if stored.get("layout") != LOOKUP_LAYOUT:
            if self._read_only:
                raise UsageError("the index has no look-up tables of this version: search "
                                 "it once without read_only to build them")
            with self._timed("lookup_index"):
                # Uncompressed: DuckDB fetches a row through an ART index from an
                # uncompressed column in microseconds, from a compressed one in about a
                # millisecond (see cselink.lookup). The checkpoint before keeps the other
                # tables compressed.
                if self._persistent:
                    con.execute("CHECKPOINT")
                skipped = frozenset(estimate_rules(con, self.settings)[1])
                was = con.execute("SELECT current_setting('force_compression')").fetchall()[0][0]
                con.execute("SET force_compression = 'uncompressed'")
                try:
                    for stmt in lookup_tables_sqls(self.settings.blocking, skip=skipped):
                        con.execute(stmt)
                    con.execute("DROP TABLE IF EXISTS block_index")  # the earlier layout
                    if self._persistent:
                        con.execute("CHECKPOINT")
                finally:
                    con.execute(f"SET force_compression = {quote_literal(str(was))}")
                self._put_meta("lookup", json.dumps(
                    {"layout": LOOKUP_LAYOUT, "skipped_rules": sorted(skipped)}))
        n, free = con.execute(
            "SELECT count(*), coalesce(max(uid) + 1, 0) FROM lookup_records").fetchall()[0]
        self._lookup = (int(n), int(free), skipped)
        return self._lookup

    def _meta_value(self, key: str) -> str | None:
        """A value of ``cselink_meta`` (None when absent)."""
        rows = self.con.execute("SELECT value FROM cselink_meta WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else None

    def _put_meta(self, key: str, value: str) -> None:
        """Set one value of ``cselink_meta`` (persisted indexes only)."""
        if not self._persistent or self._read_only:
            return
        self.con.execute("DELETE FROM cselink_meta WHERE key = ?", [key])
        self.con.execute("INSERT INTO cselink_meta VALUES (?, ?)", [key, value])

    def _save_meta(self) -> None:
        """Keep settings, model and source names beside the tables (for :meth:`open`)."""
        if not self._persistent:
            return
        meta = {
            "settings": json.dumps(self.settings.to_dict()),
            "model": json.dumps(self._model.to_dict()) if self._model else "",
            "sources": json.dumps([s.name for s in self.sources]),
            "profile": json.dumps(self.profile.to_dict()),
            "cselink_version": __version__,
        }
        self.con.execute("CREATE OR REPLACE TABLE cselink_meta (key VARCHAR, value VARCHAR)")
        self.con.executemany("INSERT INTO cselink_meta VALUES (?, ?)", list(meta.items()))

    @contextmanager
    def _timed(self, stage: str) -> Any:
        """Time the block as ``stage`` and note the process's peak memory after it (in
        :attr:`peak_rss`: where it rises is the stage that set it); a block that runs out
        of memory names its stage."""
        notify(stage)
        start = time.perf_counter()
        try:
            yield
        except (duckdb.OutOfMemoryException, MemoryError):
            log.debug("%s ran out of memory", stage, exc_info=True)
            raise ResourceLimitError(
                f"the {stage} stage ran out of memory under a memory limit of "
                f"{self.limits.memory_limit}: raise it with --memory-limit (memory_limit= "
                "in the API), or link fewer records at once", stage=stage) from None
        self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - start
        self.peak_rss[stage] = peak_rss_bytes()
        log.info("%s took %.2fs", stage, self.timings[stage])

    @property
    def comparisons(self) -> tuple[str, ...]:
        """The comparisons in use: the settings' own, a given model's, or the data's choice."""
        if self.settings.comparisons:
            return self.settings.comparisons
        if self._model is not None:
            return self._model.comparisons
        return self.profile.comparisons

    @property
    def twins_probability(self) -> float | None:
        """The twins-and-siblings guard's probability for twin-like pairs (None: off)."""
        if self.settings.twins_probability is None or self._model is None:
            return None
        return self._model.twins

    @property
    def siblings_probability(self) -> float | None:
        """The guard's probability for sibling-like pairs, born apart (None: off)."""
        if self.twins_probability is None or self._model is None:
            return None
        return self._model.siblings or self.settings.twins_probability

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
            for stmt in comparison_sqls(comps, pairs_table=PAIRS_TABLE, out_table=GAMMAS_TABLE):
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
                # Too few matches to train on: the shipped default model (one warning).
                from .scoring.default_model import train_or_default

                self._model = train_or_default(self.con, self.settings, self.comparisons,
                                               found_by=self._rules_run(),
                                               guard=self.profile.twins_guard)
            else:
                self._ensure_gammas()
                self._register_truth(truth)
                self._model = train_supervised(
                    self.con, self.settings, self.comparisons, "_truth"
                )
            self._model = replace(self._model, profile=self.profile.to_dict(), twins=(
                estimate_twins_probability(self.profile, self.settings.twins_probability)
                if self.profile.twins_guard and self.settings.twins_probability is not None
                else None), siblings=self.settings.twins_probability)
        self._stage = min(self._stage, 1)
        self._save_meta()
        return self._model

    def _rules_run(self) -> dict[tuple[str, ...], int] | None:
        """The keys of each blocking rule this linker ran, with its bit in ``pairs.rules``
        (None until the pairs are compared here)."""
        if self._stage < 1 or len(self.blocking_stats) != len(self.settings.blocking):
            return None
        out: dict[tuple[str, ...], int] = {}
        for i, (rule, stats) in enumerate(zip(self.settings.blocking, self.blocking_stats,
                                              strict=True)):
            if not stats.skipped:
                out.setdefault(tuple(rule.keys), i)
        return out

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
                    twins_probability=self.twins_probability,
                    siblings_probability=self.siblings_probability,
                )
            )
        self._stage = 2

    def _scores_key(self) -> str:
        """What the scores depend on besides the records: the settings and the model."""
        assert self._model is not None
        model = json.dumps(self._model.to_dict(), sort_keys=True)
        return json.dumps({"settings": self.settings.hash(),
                           "model": hashlib.sha256(model.encode()).hexdigest()[:16]})

    def _ensure_scored(self) -> None:
        """:meth:`_ensure_scores`, reusing the ``scores`` a database file already holds.

        A file's scores are reused when ``cselink_meta`` records that they were made with
        the same settings and model; ``_save_meta`` rewrites that table whenever the
        records are ingested again or a model is trained, which drops the record. So
        ``Linker.open(index).predict()`` does not block, compare and score again.

        Raises:
            UsageError: a read-only index that holds no scores for its model.
        """
        if self._stage < 2 and self._persistent and self._model is not None:
            if self._meta_value("scored") == self._scores_key():
                self._stage = 2
                return
        if self._stage < 2 and self._read_only:
            raise UsageError("the index holds no scores for its model: open it without "
                             "read_only to score its pairs")
        self._ensure_scores()
        self._put_meta("scored", self._scores_key())

    def predict(self, threshold: float | None = None) -> pd.DataFrame:
        """Scored pairs at or above ``threshold`` (default: the settings' threshold).

        On a reopened index (:meth:`open`) the pairs scored before with the same model
        are reused.

        Returns:
            One row per pair: source_l, record_id_l, source_r, record_id_r,
            match_probability, match_weight, reasons, then gamma_* and mw_* per comparison
            and match_key (the blocking rule that found the pair).
        """
        threshold = self.settings.threshold if threshold is None else threshold
        if not 0 <= threshold <= 1:
            raise UsageError("threshold must be between 0 and 1")
        self._ensure_scored()
        with self._timed("explain"):
            return self._explained(SCORES_TABLE, threshold)

    def _explained(self, scores_table: str, threshold: float, *, query: bool = False,
                   records_table: str = RECORDS_TABLE,
                   variants_table: str = VARIANTS_TABLE) -> pd.DataFrame:
        """Scored pairs with both records' ids and sources and the reasons, as a DataFrame.

        With ``query`` the right-hand records are search queries: their id is the
        ``query_id`` and the reasons call their side :data:`QUERY_LABEL`.
        ``records_table`` / ``variants_table`` need hold only the records of the pairs.
        """
        gam = ", ".join(f"s.{COMPARISONS[c].gamma_column}" for c in self.comparisons)
        mws = ", ".join(f"s.mw_{c}" for c in self.comparisons)
        rec = quote_ident(records_table)
        if query:
            head = ("r.record_id AS query_id, l.source AS source, l.record_id AS record_id, ")
            order = "r.record_id, s.match_weight DESC, l.source, l.record_id"
            source_r = quote_literal(QUERY_LABEL)
        else:
            head = ("l.source AS source_l, l.record_id AS record_id_l, "
                    "r.source AS source_r, r.record_id AS record_id_r, ")
            order = "s.uid_l, s.uid_r"
            source_r = "r.source"
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE _out AS SELECT * FROM {quote_ident(scores_table)} "
            "WHERE match_probability >= ?",
            [threshold],
        )
        self.con.execute(evidence_sql(variants_table))
        names, learned_join = self._reason_names_sql()
        frame = self.con.execute(
            f"""
            SELECT {head} s.match_probability, s.match_weight,
                   {reasons_sql(self.comparisons)} AS reasons,
                   {gam}, {mws}, s.match_key, s.possible_twins
            FROM (SELECT s.*, l.source AS source_l, {source_r} AS source_r, e.fn_ev, e.sn_ev,
                         {names}
                  FROM _out s
                  JOIN {rec} l ON l.uid = s.uid_l JOIN {rec} r ON r.uid = s.uid_r
                  LEFT JOIN _evidence e ON e.uid_l = s.uid_l AND e.uid_r = s.uid_r
                  {learned_join}) s
            JOIN {rec} l ON l.uid = s.uid_l JOIN {rec} r ON r.uid = s.uid_r
            ORDER BY {order}
            """
        ).df()
        self.con.execute("DROP TABLE _out")
        self.con.execute("DROP TABLE _evidence")
        return frame

    def search(
        self, queries: pd.DataFrame | Mapping[str, Any] | Sequence[Mapping[str, Any]],
        *, threshold: float = 0.0, prior: float | None = None,
        extra_pairs_sql: str | None = None,
    ) -> pd.DataFrame:
        """Look up one or more referrals against the indexed records, without changing them.

        The queries are read in a separate in-memory database; the index is only read (it
        may be opened read-only once its look-up tables exist: the first search builds
        them, see :mod:`cselink.lookup`). Only the records that share a blocking key with a
        query are fetched, so a search costs about the same against a thousand records or a
        million. Up to 16 queries are standardised, compared and scored in Python
        (:mod:`cselink.quicksearch`, about 50 ms a referral at a million records); more go
        through the batch SQL. Both give the same frame.

        Args:
            queries: a record (a mapping of canonical columns), a list of them, or a
                DataFrame. ``record_id`` names each query (q1, q2, ... when absent).
            threshold: the lowest match probability to return.
            prior: the probability, before any evidence, that a given indexed record is
                the referred person. By default one in the number of indexed records (a
                referral is one person, who has about one record among them), at most
                0.5. Raise it when the referred person is known to be held, e.g. one in
                the number of records per person they could match.
            extra_pairs_sql: a SELECT of more ``(uid_l, uid_r, match_key)`` candidate
                pairs, over the queries' ``_q_records`` / ``_q_variants`` and the index's
                look-up tables, for queries the blocking rules cannot reach (a contact
                known by a street name and an age, :mod:`cselink.contacts`). Always
                searched by the batch SQL.

        Returns:
            One row per candidate: query_id, source, record_id, match_probability,
            match_weight, reasons, gamma_*/mw_* per comparison, match_key and
            possible_twins; best first per query. The reasons call the query's side
            "the referral" ("surname matches alias 'Brown' recorded by the referral").

        Raises:
            UsageError: a threshold or prior out of range, or a read-only index without
                look-up tables.

        Examples:
            >>> linker.search({"forename": "Jade", "surname": "Smith",
            ...                "dob": "2010-03-04"})  # doctest: +SKIP
        """
        if not 0 <= threshold <= 1:
            raise UsageError("threshold must be between 0 and 1")
        if prior is not None and not 0 < prior < 1:
            raise UsageError("prior must be above 0 and below 1")
        frame = (queries.copy() if isinstance(queries, pd.DataFrame) else
                 pd.DataFrame([queries] if isinstance(queries, Mapping) else list(queries)))
        if "record_id" not in frame.columns:
            frame.insert(0, "record_id", [f"q{i + 1}" for i in range(len(frame))])
        if self._model is None:
            self.fit()
        assert self._model is not None
        n_index = self._ensure_lookup()[0]
        if prior is None:
            prior = min(0.5, 1.0 / max(n_index, 1))
        model = replace(self._model, prior=prior)
        with self._timed("search"):
            if len(frame) <= _FEW_QUERIES and extra_pairs_sql is None:
                return self._search_quick(frame, model, threshold)
            return self._search_sql(frame, model, threshold, extra_pairs_sql)

    def _load_queries(self, frame: pd.DataFrame) -> None:
        """Ingest search queries into ``_q_input`` / ``_q_rejects`` (inside
        :meth:`_query_database`). Query uids follow the indexed ones, so pairs are
        (indexed uid_l, query uid_r)."""
        load_sources(self.con, [Source(QUERY_SOURCE, frame)], table="_q_input",
                     rejects_table="_q_rejects", first_uid=self._ensure_lookup()[1],
                     summarise=False)

    def _search_quick(self, frame: pd.DataFrame, model: Model,
                      threshold: float) -> pd.DataFrame:
        """:meth:`search` for a few queries: ingest in DuckDB, the rest in Python.

        See :mod:`cselink.quicksearch`: the same results as :meth:`_search_sql`, without
        planning some 65 statements per referral.
        """
        con = self.con
        skipped = self._ensure_lookup()[2]
        with self._query_database(single_thread=True):
            self._load_queries(frame)
            cur = con.execute("SELECT * FROM _q_input ORDER BY uid")
            names = [d[0] for d in cur.description]
            rows = [dict(zip(names, row, strict=True)) for row in cur.fetchall()]
        queries, variants = standardise_rows(rows)
        if self._tf_constants is None and self.settings.tf_adjust:
            self._tf_constants = term_frequency_constants(con)
        return search_index(
            con, queries, variants, rules=self.settings.blocking, skip=skipped, model=model,
            tf_constants=self._tf_constants or {}, tf_adjust=self.settings.tf_adjust,
            tf_cap=self.settings.tf_weight_cap,
            twins_probability=self.twins_probability,
            siblings_probability=self.siblings_probability, threshold=threshold,
            query_label=QUERY_LABEL, learned=self._learned_names())

    def _learned_names(self) -> dict[str, dict[str, int]]:
        """``learned_names`` as name -> {name it may stand for: households showing it}
        (read once; an index from before names were learned has none)."""
        if self._learned is None:
            present = self.con.execute("SELECT count(*) FROM duckdb_tables() "
                                       "WHERE table_name = 'learned_names'").fetchall()[0][0]
            rows = self.con.execute(
                "SELECT name, map(list(alt ORDER BY alt), list(households ORDER BY alt)) "
                "FROM learned_names GROUP BY name").fetchall() if present else []
            self._learned = {str(name): dict(alts) for name, alts in rows}
        return self._learned

    def _search_sql(self, frame: pd.DataFrame, model: Model, threshold: float,
                    extra_pairs_sql: str | None = None) -> pd.DataFrame:
        """:meth:`search` in DuckDB: the batch SQL over the queries' candidates."""
        skipped = self._ensure_lookup()[2]
        rules = self.settings.blocking
        con = self.con
        few = len(frame) <= _FEW_QUERIES
        with self._query_database(single_thread=few):
            self._load_queries(frame)
            standardise(con, source_table="_q_input", records_table="_q_records",
                        variants_table="_q_variants", tokens_table="_q_tokens")
            con.execute(block_keys_sql(records="_q_records", variants="_q_variants",
                                       tokens="_q_tokens", out="_q_keys"))
            con.execute(query_alts_sql(keys="_q_keys", variants="_q_variants", out="_q_alts"))
            con.execute("CREATE OR REPLACE TABLE _q_hashes AS "
                        + query_hashes_sql(rules, keys_table="_q_keys", alts_table="_q_alts",
                                           skip=skipped))
            wanted = [int(h) for (h,) in con.execute(
                "SELECT DISTINCT key_hash FROM _q_hashes ORDER BY key_hash").fetchall()]
            for stmt in query_pairs_sqls(rules, wanted, hashes="_q_hashes", out="_q_pairs"):
                con.execute(stmt)
            if extra_pairs_sql is not None:
                con.execute(f"INSERT INTO _q_pairs SELECT x.uid_l, x.uid_r, x.match_key FROM "
                            f"({extra_pairs_sql}) x ANTI JOIN _q_pairs p "
                            "ON p.uid_l = x.uid_l AND p.uid_r = x.uid_r")
            candidates = [int(u) for (u,) in con.execute(
                "SELECT DISTINCT uid_l FROM _q_pairs ORDER BY uid_l").fetchall()]
            for stmt in candidate_sqls(candidates, query_records="_q_records",
                                       query_tokens="_q_tokens", prefix="_q_"):
                con.execute(stmt)
            comps = [COMPARISONS[c] for c in self.comparisons]
            for stmt in comparison_sqls(comps, pairs_table="_q_pairs", out_table="_q_gammas",
                                        records_table="_q_recs", tokens_table="_q_tok",
                                        alts_table="_q_alts"):
                con.execute(stmt)
            con.execute(scores_sql(
                model, gammas_table="_q_gammas", out_table="_q_scores",
                tf_adjust=self.settings.tf_adjust, tf_cap=self.settings.tf_weight_cap,
                twins_probability=self.twins_probability,
                siblings_probability=self.siblings_probability,
            ))
            return self._explain_search("_q_scores", threshold, records_table="_q_recs",
                                        query_variants="_q_variants")

    def _explain_search(self, scores_table: str, threshold: float, *, records_table: str,
                        query_variants: str) -> pd.DataFrame:
        """:meth:`_explained` for a search: the same frame, reasons worked out in Python.

        A search returns a few rows, and planning the reasons expression
        (:func:`~cselink.explain.reasons_sql`) cost more than everything else in it:
        :func:`~cselink.explain.reasons_text` gives the same text per row. The reasons
        name the recorded name that matched (:func:`~cselink.explain.evidence_sql`) only
        for names agreeing through another name, so the evidence, and the variants of
        those records, are fetched only when some pair does.
        """
        con = self.con
        scores, rec = quote_ident(scores_table), quote_ident(records_table)
        other = [f"{quote_ident(COMPARISONS[c].gamma_column)} = "
                 f"{COMPARISONS[c].gamma_of('exact_other_name')}"
                 for c in ("forename", "surname") if c in self.comparisons]
        named = [int(u) for (u,) in con.execute(
            f"SELECT DISTINCT uid_l FROM {scores} WHERE match_probability >= ? "
            f"AND ({' OR '.join(other) or 'FALSE'}) ORDER BY uid_l", [threshold]).fetchall()]
        evidence = ""
        if named:
            for stmt in candidate_variants_sqls(named, query_variants=query_variants,
                                                out="_q_vars"):
                con.execute(stmt)
            con.execute(f"CREATE OR REPLACE TEMP TABLE _out AS SELECT * FROM {scores} "
                        "WHERE match_probability >= ?", [threshold])
            con.execute(evidence_sql("_q_vars"))
            evidence = ("LEFT JOIN _evidence e ON e.uid_l = s.uid_l AND e.uid_r = s.uid_r")
        gam = ", ".join(f"s.{COMPARISONS[c].gamma_column}" for c in self.comparisons)
        mws = ", ".join(f"s.mw_{c}" for c in self.comparisons)
        ev = "e.fn_ev, e.sn_ev" if named else "NULL AS fn_ev, NULL AS sn_ev"
        names, learned_join = self._reason_names_sql()
        frame = con.execute(
            f"""
            SELECT r.record_id AS query_id, l.source AS source, l.record_id AS record_id,
                   s.match_probability, s.match_weight, {gam}, {mws}, s.match_key,
                   s.possible_twins, s.swapped, {ev}, {names}
            FROM {scores} s JOIN {rec} l ON l.uid = s.uid_l JOIN {rec} r ON r.uid = s.uid_r
            {evidence} {learned_join}
            WHERE s.match_probability >= ?
            ORDER BY r.record_id, s.match_weight DESC, l.source, l.record_id
            """, [threshold]).df()
        if named:
            con.execute("DROP TABLE _out")
            con.execute("DROP TABLE _evidence")
        reasons = [reasons_text(row, self.comparisons, source_l=row["source"],
                                source_r=QUERY_LABEL)
                   for row in frame.to_dict(orient="records")]
        frame.insert(5, "reasons", pd.Series(reasons, index=frame.index, dtype=object))
        return frame.drop(columns=["swapped", "fn_ev", "sn_ev", *REASON_NAME_COLUMNS])

    def _reason_names_sql(self) -> tuple[str, str]:
        """(select list, join) giving the columns the reasons read besides the scores: both
        records' main names (aliased ``l`` / ``r``) and a learned forename pair's count."""
        names = ("l.fn AS fn_name_l, r.fn AS fn_name_r, l.sn AS sn_name_l, r.sn AS sn_name_r")
        if not self._learned_names():
            return f"{names}, NULL::INTEGER AS fn_learned", ""
        return (f"{names}, ln.households AS fn_learned",
                "LEFT JOIN learned_names ln ON ln.name = l.fn AND ln.alt = r.fn")

    @contextmanager
    def _query_database(self, *, single_thread: bool = False) -> Iterator[None]:
        """Run the block with a fresh in-memory database as the default one.

        Tables created without a schema (the queries' working tables) go there, while
        the index's tables are still found by name (search path); the database is
        detached afterwards, so nothing of the queries stays behind and the index file is
        never written to. With ``single_thread`` DuckDB runs on one thread meanwhile: a
        few queries make tables of a few hundred rows, and handing such work between
        threads costs more than it saves (measured: median search 15% faster at 1M).
        """
        con = self.con
        home, path, threads = con.execute(
            "SELECT current_database(), current_setting('search_path'), "
            "current_setting('threads')").fetchall()[0]
        con.execute(f"ATTACH ':memory:' AS {_QUERY_DB} (READ_WRITE)")
        try:
            if single_thread:
                con.execute("SET threads = 1")
            con.execute(f"USE {_QUERY_DB}")
            search_path = f"{_QUERY_DB}.main,{quote_ident(str(home))}.main"
            con.execute(f"SET search_path = {quote_literal(search_path)}")
            yield
        finally:
            con.execute(f"USE {quote_ident(str(home))}")
            if path:
                con.execute(f"SET search_path = {quote_literal(str(path))}")
            else:
                con.execute("RESET search_path")
            if single_thread:
                con.execute(f"SET threads = {int(threads)}")
            con.execute(f"DETACH {_QUERY_DB}")

    def cluster(self, threshold: float | None = None) -> pd.DataFrame:
        """Every record once, with the cluster it belongs to at ``threshold``."""
        from .clustering import cluster_pairs

        threshold = self.settings.threshold if threshold is None else threshold
        if self._read_only:
            raise UsageError("cluster writes a clusters table: open the index without read_only")
        self._ensure_scored()
        with self._timed("cluster"):
            cluster_pairs(self.con, threshold,
                          cannot_link_below=self.settings.cannot_link_below)
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
        """Close the DuckDB connection and remove its private spill folder."""
        self.con.close()
        self.limits.release()

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
