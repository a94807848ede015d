"""The pre-panel check: is each referred young person known to each agency, under any name?

Before a child-exploitation panel, every agency is asked whether it knows each referred
young person. Searching by the name on the referral misses a child recorded under a
stepfather's surname, an alias or a mistyped date of birth. This module uses the engine
twice over the agency records: :meth:`~cselink.pipeline.Linker.predict` links the agency
records with each other (``link_type="dedupe"``) and :meth:`~cselink.pipeline.Linker.search`
looks every referral up among them. The agency records can be read afresh or from a
persisted index (``database``: the engine's index file plus a manifest of the source files
and their SHA-256, refused with :class:`~cselink.errors.IndexStaleError` when they
changed); the same model scores the referrals either way. For every referral and agency
the check reports the candidates and a status:

``known``
    a candidate with match probability >= the known threshold;
``possible``
    a candidate with probability >= the possible threshold: someone must look;
``not_found``
    no candidate (one row with an empty ``record_id``).

A candidate is found directly (the referral against the record) or through another
agency's record of the same young person (the referral matches an education record that
lists a former surname; that record matches a police record under the former surname):
the probability of such a chain is the product of its two links, and both links must
carry identity evidence (:func:`identity_evidence_sql`), so a chain never runs through a
brother's or sister's record. That is how a young person known to an agency under another
name is caught.

Tables of the check's own DuckDB connection:

``records``
    agency records, then the referrals (source ``referral``): fields as recorded and the
    standardised keys the lists use (sn, addr, addr_head, pc_outward)
``check_pairs``
    every scored pair (uid_l, uid_r, pair_no, the predict/search columns,
    ``prior_weight``, ``identity_ok``)
``check_paths``
    referral uid, record uid, probability, identity_ok, via_uid, first/second pair_no
``check_candidates``
    the best path per referral and record, with its rank (2 known, 1 possible)
``clusters``
    agency records grouped by links at or above the known threshold with identity
    evidence (the referrals are left out, so one referral cannot merge two people)

Outputs (see :func:`write_outputs`): ``results.csv`` (the contract columns
:data:`RESULT_COLUMNS`), ``results.json`` (the same rows plus the per-referral lists:
aliases to circulate, agencies to inform, cross-border, turning 18, household),
``report.html`` (:mod:`cselink.report`) and ``rejects.csv`` when agency rows were
rejected. Nothing personal is logged: counts, source names and timings only.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import duckdb
import pandas as pd

from .check_fields import (
    REFERRAL_SOURCE,
    _fields,
    _is_missing,
    _place,
    _split_reasons,
    _text,
    identity_evidence_sql,
)
from .check_result import (
    DEFAULT_KNOWN_THRESHOLD,
    DEFAULT_POSSIBLE_THRESHOLD,
    STATUSES,
    CheckOptions,
    CheckResult,
)
from .clustering import cluster_pairs
from .comparisons import COMPARISONS
from .config import Settings
from .contacts import find_contacts, load_contacts, search_contacts
from .errors import IndexStaleError, InputDataError, UsageError
from .ingest import Source, input_rows_sql, load_sources, source_from_spec
from .io import ensure_private_dir, sha256_file, write_csv_atomic, write_json_atomic
from .pipeline import Linker
from .scoring import Model
from .standardise import standardise

log = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_KNOWN_THRESHOLD",
    "DEFAULT_POSSIBLE_THRESHOLD",
    "REFERRAL_SOURCE",
    "RESULT_COLUMNS",
    "STATUSES",
    "CheckOptions",
    "CheckResult",
    "check",
    "demo",
    "evaluate_against_truth",
    "find_demo_data",
    "identity_evidence_sql",
    "load_la_lookup",
    "run_check",
    "summary_lines",
    "write_outputs",
]

#: Columns of results.csv, in this order (the command-line contract).
RESULT_COLUMNS: Final[tuple[str, ...]] = (
    "referral_id",
    "source",
    "status",
    "record_id",
    "match_probability",
    "reasons",
)

#: Months before the 18th birthday in which a young person is flagged as turning 18.
TURNING_18_MONTHS: Final[int] = 6

_STATUS_RANK: Final[dict[int, str]] = {2: "known", 1: "possible"}
_MANIFEST_TABLE: Final[str] = "check_manifest"


# =========================================================================== progress


class _Steps:
    """Named steps shown with a rich spinner on a terminal; silent otherwise."""

    def __init__(self, enabled: bool) -> None:
        self.timings: dict[str, float] = {}
        self._progress: Any = None
        if enabled and sys.stderr.isatty():
            from rich.console import Console
            from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

            console = Console(stderr=True)
            if console.is_terminal:
                self._progress = Progress(
                    SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(),
                    console=console,
                )

    def __enter__(self) -> _Steps:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    @contextmanager
    def step(self, key: str, text: str) -> Iterator[list[str]]:
        """Time and show one step; what the block appends to the list it is given (counts,
        never personal data) is shown after the step's words when it ends."""
        task = self._progress.add_task(text, total=1) if self._progress is not None else None
        start = time.perf_counter()
        counts: list[str] = []
        try:
            yield counts
        finally:
            self.timings[key] = self.timings.get(key, 0.0) + time.perf_counter() - start
            if task is not None:
                done = f"{text}: {', '.join(counts)}" if counts else text
                self._progress.update(task, completed=1, description=done)
            log.info("check: %s took %.2fs", key, self.timings[key])


# =========================================================================== sources


def _referral_source(referrals: str | Path | Source | pd.DataFrame) -> Source:
    if isinstance(referrals, Source):
        return Source(REFERRAL_SOURCE, referrals.data, referrals.mapping)
    if isinstance(referrals, pd.DataFrame | duckdb.DuckDBPyRelation):
        return Source(REFERRAL_SOURCE, referrals)
    if isinstance(referrals, str | Path):
        return source_from_spec(f"{REFERRAL_SOURCE}={referrals}")
    raise UsageError(f"referrals: expected a file path, a DataFrame or a Source, "
                     f"not {type(referrals).__name__}")


def _agency_sources(sources: Sequence[Source] | Mapping[str, Any]) -> list[Source]:
    from .pipeline import as_sources

    out = as_sources(sources)
    for s in out:
        if s.name == REFERRAL_SOURCE:
            raise UsageError(f"an agency source may not be called {REFERRAL_SOURCE!r}: "
                             "that name is kept for the referrals")
    return out


def _file_of(src: Source) -> str | None:
    return str(src.data) if isinstance(src.data, str | Path) else None


# =========================================================================== index (--db)


def _mapping_digest(src: Source) -> str:
    if src.mapping is None:
        return ""
    text = json.dumps(src.mapping.to_dict(), sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _manifest(sources: Sequence[Source]) -> pd.DataFrame:
    """Which files (and SHA-256) and mappings the agency sources are read from."""
    rows = []
    for src in sources:
        path = _file_of(src)
        if path is None:
            raise UsageError(f"source {src.name!r}: a persisted index needs file sources "
                             "(their SHA-256 ties the index to them)")
        resolved = Path(path).expanduser().resolve()
        rows.append({
            "source": src.name,
            "file": str(resolved),
            "sha256": sha256_file(resolved),
            "mapping_sha256": _mapping_digest(src),
        })
    return pd.DataFrame(rows, columns=["source", "file", "sha256", "mapping_sha256"])


def _check_manifest(db: Path, stored: pd.DataFrame, wanted: pd.DataFrame) -> None:
    """Raise IndexStaleError naming the first source whose files differ from the index."""
    have = {r.source: r for r in stored.itertuples(index=False)}
    want = {r.source: r for r in wanted.itertuples(index=False)}
    for name in sorted(set(have) | set(want)):
        if name not in want:
            raise IndexStaleError(
                f"the index also holds source {name!r}, which was not given; rebuild it "
                "or pass the same sources", file=str(db))
        if name not in have:
            raise IndexStaleError(
                f"source {name!r} ({want[name].file}) is not in the index; rebuild it "
                "or pass the same sources", file=str(db))
        h, w = have[name], want[name]
        if h.file != w.file:
            raise IndexStaleError(
                f"source {name!r} was indexed from {h.file}, not {w.file}; rebuild the "
                "index", file=str(db))
        if h.sha256 != w.sha256:
            raise IndexStaleError(
                f"source {name!r}: {w.file} changed since the index was built (SHA-256 "
                "differs); rebuild the index", file=str(db))
        if h.mapping_sha256 != w.mapping_sha256:
            raise IndexStaleError(
                f"source {name!r}: its mapping changed since the index was built; rebuild "
                "the index", file=str(db))


def _build_index(db: Path, sources: Sequence[Source], settings: Settings,
                 model: Model | None, manifest: pd.DataFrame,
                 memory_limit: str | None = None) -> None:
    """Ingest, standardise and train on the agency sources into a DuckDB file.

    The engine's persisted index (``Linker(database=...)``) plus ``check_manifest``.
    It is written beside ``db`` and moved into place when complete, so an interrupted
    build never leaves a half index behind.
    """
    tmp = db.with_name(f".{db.name}.building")
    tmp.unlink(missing_ok=True)
    try:
        with Linker(list(sources), settings=settings, model=model, database=tmp,
                    memory_limit=memory_limit) as linker:
            if linker.model is None:
                linker.fit()
            linker.con.register("_check_manifest_df", manifest)
            linker.con.execute(
                f"CREATE TABLE {_MANIFEST_TABLE} AS SELECT * FROM _check_manifest_df")
            linker.con.unregister("_check_manifest_df")
            linker.con.execute("CHECKPOINT")
        tmp.chmod(0o600)
        tmp.replace(db)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".wal").unlink(missing_ok=True)
    log.info("built an index of %d agency sources", len(sources))


def _stored_manifest(db: Path) -> pd.DataFrame:
    try:
        con = duckdb.connect(str(db), read_only=True)
    except duckdb.Error as exc:
        raise InputDataError(f"not a DuckDB file ({type(exc).__name__})", file=str(db)) from None
    try:
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        if "cselink_meta" not in tables:
            raise InputDataError("not a cselink index", file=str(db))
        if _MANIFEST_TABLE not in tables:
            raise IndexStaleError("the index does not record which files it was built from; "
                                  "rebuild it with cselink check --db", file=str(db))
        return con.execute(f"SELECT * FROM {_MANIFEST_TABLE}").df()
    finally:
        con.close()


def _agency_linker(sources: Sequence[Source], settings: Settings, model: Model | None,
                   database: str | Path | None, memory_limit: str | None = None) -> Linker:
    """A linker over the agency records: in memory, or a persisted index (built or reused).

    Raises:
        IndexStaleError: the index was built from other files, mappings or settings.
    """
    if database is None:
        return Linker(list(sources), settings=settings, model=model,
                      memory_limit=memory_limit)
    db = Path(database)
    wanted = _manifest(sources)
    built = False
    if not db.exists():
        _build_index(db, sources, settings, model, wanted, memory_limit)
        built = True
    _check_manifest(db, _stored_manifest(db), wanted)
    linker = Linker.open(db, memory_limit=memory_limit)
    if linker.settings.hash() != settings.hash():
        linker.close()
        raise IndexStaleError("the index was built with other linkage settings; rebuild it",
                              file=str(db))
    if model is not None and not built:
        linker.close()
        raise UsageError("the index holds the model it was built with; rebuild the index "
                         "to score with another model", file=str(db))
    return linker


# =========================================================================== matching SQL


def _score_tables(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame,
                  comparisons: Sequence[str], options: CheckOptions) -> None:
    """check_pairs, check_paths and check_candidates (see the module docstring)."""
    con.register("_check_pairs_df", pairs)
    con.execute(
        f"""
        CREATE OR REPLACE TABLE check_pairs AS
        SELECT a.uid AS uid_l, b.uid AS uid_r, (row_number() OVER () - 1)::BIGINT AS pair_no,
               p.*, {identity_evidence_sql(comparisons)} AS identity_ok
        FROM _check_pairs_df p
        JOIN records a ON a.source = p.source_l AND a.record_id = p.record_id_l
        JOIN records b ON b.source = p.source_r AND b.record_id = p.record_id_r
        ORDER BY a.uid, b.uid
        """
    )
    con.unregister("_check_pairs_df")
    params = {"ref": REFERRAL_SOURCE, "kt": options.known_threshold,
              "pt": options.possible_threshold}
    # A chain goes through links that carry identity evidence only: through a sibling's
    # record it would list the sibling's other records (measured: a third fewer possible
    # candidates, no more agencies missed).
    con.execute(
        """
        CREATE OR REPLACE TABLE check_paths AS
        WITH directed AS (
            SELECT uid_l AS a, uid_r AS b, source_l AS src_a, source_r AS src_b,
                   match_probability AS p, identity_ok AS ok, pair_no FROM check_pairs
            UNION ALL
            SELECT uid_r, uid_l, source_r, source_l, match_probability, identity_ok, pair_no
            FROM check_pairs
        ), direct AS (
            SELECT a AS ref_uid, b AS rec_uid, p, ok, NULL::BIGINT AS via_uid,
                   pair_no AS first_pair, NULL::BIGINT AS second_pair
            FROM directed
            WHERE src_a = $ref AND src_b <> $ref AND p >= $pt
        ), chained AS (
            SELECT d.ref_uid, e.b AS rec_uid, d.p * e.p AS p, d.ok AND e.ok AS ok,
                   d.rec_uid AS via_uid, d.first_pair, e.pair_no AS second_pair
            FROM direct d JOIN directed e ON e.a = d.rec_uid
            WHERE e.src_b <> $ref AND e.p >= $pt AND d.p * e.p >= $pt
              AND d.ok AND e.ok
        )
        SELECT *, CASE WHEN p >= $kt THEN 2 ELSE 1 END AS rank
        FROM (SELECT * FROM direct UNION ALL SELECT * FROM chained)
        """,
        params,
    )
    con.execute(
        """
        CREATE OR REPLACE TABLE check_candidates AS
        SELECT c.*, r.source, r.record_id, q.record_id AS referral_id,
               d.pair_no AS direct_pair
        FROM (
            SELECT * FROM check_paths
            QUALIFY row_number() OVER (
                PARTITION BY ref_uid, rec_uid
                ORDER BY rank DESC, p DESC, (via_uid IS NULL) DESC, via_uid) = 1
        ) c
        JOIN records r ON r.uid = c.rec_uid
        JOIN records q ON q.uid = c.ref_uid
        LEFT JOIN check_pairs d ON d.uid_l = least(c.ref_uid, c.rec_uid)
                               AND d.uid_r = greatest(c.ref_uid, c.rec_uid)
        ORDER BY c.ref_uid, c.rank DESC, c.p DESC, c.rec_uid
        """,
    )


def _cluster_agency_records(con: duckdb.DuckDBPyConnection, threshold: float) -> None:
    """``clusters`` over agency-agency links >= threshold that carry identity evidence."""
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE check_cluster_edges AS
        SELECT uid_l, uid_r, match_probability FROM check_pairs
        WHERE identity_ok AND source_l <> $ref AND source_r <> $ref
        """,
        {"ref": REFERRAL_SOURCE},
    )
    cluster_pairs(con, threshold, scores_table="check_cluster_edges")


# =========================================================================== per referral


@dataclass(slots=True)
class _Lookups:
    """What the per-referral step needs, fetched once in SQL (no scan per referral).

    records: uid -> source, record_id, fields as recorded, postcode district, cluster.
    pairs: pair_no -> the check_pairs row (reasons, gammas, weights).
    linked: referral uid -> agency records in the clusters of its known candidates that
        are not candidates themselves.
    household: referral uid -> records sharing a surname and an address with it.
    """

    records: dict[int, dict[str, Any]]
    pairs: dict[int, dict[str, Any]]
    linked: dict[int, list[int]]
    household: dict[int, list[int]]


def _lookups(con: duckdb.DuckDBPyConnection) -> _Lookups:
    params = {"ref": REFERRAL_SOURCE}
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE check_linked AS
        SELECT DISTINCT k.ref_uid, m.uid
        FROM check_candidates k
        JOIN clusters c ON c.uid = k.rec_uid
        JOIN clusters m ON m.cluster_id = c.cluster_id
        JOIN records r ON r.uid = m.uid
        WHERE k.rank = 2 AND r.source <> $ref
          AND NOT EXISTS (SELECT 1 FROM check_candidates x
                          WHERE x.ref_uid = k.ref_uid AND x.rec_uid = m.uid)
        """,
        params,
    )
    # The young person's own records: the referral, its known candidates and their group.
    # Household: other records with the same standardised surname at one of their
    # addresses (the same address, or the same house number and street in the same
    # postcode district).
    con.execute(
        """
        CREATE OR REPLACE TEMP TABLE check_household AS
        WITH person AS (
            SELECT uid AS ref_uid, uid FROM records WHERE source = $ref
            UNION SELECT ref_uid, rec_uid FROM check_candidates WHERE rank = 2
            UNION SELECT ref_uid, uid FROM check_linked
        ), keys AS (
            SELECT DISTINCT p.ref_uid, r.sn, r.addr, r.addr_head, r.pc_outward
            FROM person p JOIN records r ON r.uid = p.uid
            WHERE r.sn IS NOT NULL AND r.addr IS NOT NULL
        )
        SELECT DISTINCT k.ref_uid, r.uid
        FROM keys k JOIN records r ON r.sn = k.sn
         AND (r.addr = k.addr OR (r.addr_head = k.addr_head AND r.pc_outward = k.pc_outward))
        WHERE NOT EXISTS (SELECT 1 FROM person p WHERE p.ref_uid = k.ref_uid AND p.uid = r.uid)
        """,
        params,
    )
    frame = con.execute(
        """
        WITH needed AS (
            SELECT uid FROM records WHERE source = $ref
            UNION SELECT rec_uid FROM check_candidates
            UNION SELECT via_uid FROM check_candidates WHERE via_uid IS NOT NULL
            UNION SELECT uid FROM check_linked
            UNION SELECT uid FROM check_household
        )
        SELECT i.uid, i.source, i.record_id, i.forename, i.middle_names, i.surname,
               i.aliases, i.former_surnames, strftime(i.dob, '%Y-%m-%d') AS dob, i.sex,
               i.address, i.postcode, i.nhs_number, i.pc_outward, c.cluster_id
        FROM needed n JOIN records i ON i.uid = n.uid
        LEFT JOIN clusters c ON c.uid = n.uid
        ORDER BY i.uid
        """,
        params,
    ).df()
    records = {}
    for row in frame.to_dict(orient="records"):
        records[int(row["uid"])] = {
            "source": row["source"],
            "record_id": row["record_id"],
            "fields": _fields(row),
            "district": _text(row["pc_outward"]),
            "cluster_id": None if pd.isna(row["cluster_id"]) else int(row["cluster_id"]),
        }
    pair_rows = con.execute(
        """
        SELECT * FROM check_pairs WHERE pair_no IN (
            SELECT direct_pair FROM check_candidates UNION SELECT first_pair FROM check_candidates
            UNION SELECT second_pair FROM check_candidates)
        """
    ).df()
    pairs = {int(r["pair_no"]): r for r in pair_rows.to_dict(orient="records")}

    def grouped(table: str) -> dict[int, list[int]]:
        out: dict[int, list[int]] = {}
        for ref_uid, uid in con.execute(
                f"SELECT ref_uid, uid FROM {table} ORDER BY ref_uid, uid").fetchall():
            out.setdefault(int(ref_uid), []).append(int(uid))
        return out

    return _Lookups(records=records, pairs=pairs, linked=grouped("check_linked"),
                    household=grouped("check_household"))


def _norm_name(text: str) -> str:
    return " ".join(text.casefold().replace("-", " ").replace("'", "").split())


def _full_name(forename: str | None, surname: str | None) -> str | None:
    parts = [p for p in (forename, surname) if p]
    return " ".join(parts) if parts else None


def _names_of(fields: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(name, kind) for every name a record holds: main name, aliases, former surnames."""
    names: list[tuple[str, str]] = []
    main = _full_name(fields["forename"], fields["surname"])
    if main:
        names.append((main, "main name"))
    for alias in fields["aliases"]:
        names.append((alias, "alias"))
    for former in fields["former_surnames"]:
        names.append((_full_name(fields["forename"], former) or former, "former surname"))
    return names




def _add_months(day: dt.date, months: int) -> dt.date:
    """``day`` plus whole months, on the last day of the month when the day is missing."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    for d in range(day.day, 27, -1):
        try:
            return dt.date(year, month, d)
        except ValueError:
            continue
    return dt.date(year, month, min(day.day, 28))


def _eighteenth(dob: dt.date) -> dt.date:
    try:
        return dob.replace(year=dob.year + 18)
    except ValueError:  # 29 February: the birthday is taken as 1 March
        return dt.date(dob.year + 18, 3, 1)


def _turning_18(dobs: Mapping[str, list[str]], panel: dt.date) -> dict[str, Any] | None:
    """Whether the young person is 18 or turns 18 within six months of the panel.

    Every distinct date of birth (the referral's and the known records') is judged, so
    a record that gives an earlier date is not missed.
    """
    horizon = _add_months(panel, TURNING_18_MONTHS)
    found: list[dict[str, Any]] = []
    for text, recorded_by in dobs.items():
        try:
            dob = dt.date.fromisoformat(text)
        except ValueError:
            continue
        birthday = _eighteenth(dob)
        if birthday <= panel:
            state = "already 18"
        elif birthday <= horizon:
            state = "turns 18 within six months"
        else:
            continue
        found.append({"dob": text, "eighteenth_birthday": birthday.isoformat(),
                      "state": state, "recorded_by": sorted(set(recorded_by))})
    if not found:
        return None
    found.sort(key=lambda x: x["eighteenth_birthday"])
    return {"state": found[0]["state"], "eighteenth_birthday": found[0]["eighteenth_birthday"],
            "dates": found}


def _weights(pair: Mapping[str, Any] | None, comparisons: Sequence[str]) -> list[dict[str, Any]]:
    """Per comparison: the level reached (in words) and the weight it added."""
    if pair is None:
        return []
    out = []
    for name in comparisons:
        comp = COMPARISONS[name]
        gamma: Any = pair.get(comp.gamma_column)
        if _is_missing(gamma):
            continue
        level = comp.level_of(int(gamma))
        weight: Any = pair.get(f"mw_{name}")
        out.append({"comparison": name, "level": level.description,
                    "weight": 0.0 if _is_missing(weight) else float(weight)})
    return out




def _candidate(c: Mapping[str, Any], look: _Lookups,
               comparisons: Sequence[str]) -> dict[str, Any]:
    rec = look.records[int(c["rec_uid"])]
    direct = None if _is_missing(c["direct_pair"]) else look.pairs[int(c["direct_pair"])]
    via = None
    if not _is_missing(c["via_uid"]):
        first = look.pairs[int(c["first_pair"])]
        second = look.pairs[int(c["second_pair"])]
        v = look.records[int(c["via_uid"])]
        via = {
            "source": v["source"], "record_id": v["record_id"],
            "probability_to_referral": float(first["match_probability"]),
            "probability": float(second["match_probability"]),
            "match_weight": float(second["match_weight"]),
            "prior_weight": float(second["prior_weight"]),
            "reasons": _split_reasons(second["reasons"]),
            "weights": _weights(second, comparisons),
        }
    reasons: list[str] = []
    if via is not None:
        reasons.append(
            f"linked through {via['source']} record {via['record_id']} (probability "
            f"{via['probability_to_referral']:.3f} to the referral, {via['probability']:.3f} "
            "to this record)")
        reasons.extend(via["reasons"])
    elif direct is not None:
        reasons.extend(_split_reasons(direct["reasons"]))
    return {
        "source": rec["source"],
        "record_id": rec["record_id"],
        "status": _STATUS_RANK[int(c["rank"])],
        "match_probability": float(c["p"]),
        "likely_relative": via is None and direct is not None
        and bool(direct.get("possible_twins") or False),
        "reasons": reasons,
        "via": via,
        "direct": None if direct is None else {
            "probability": float(direct["match_probability"]),
            "match_weight": float(direct["match_weight"]),
            "prior_weight": float(direct["prior_weight"]),
            "reasons": _split_reasons(direct["reasons"]),
            "weights": _weights(direct, comparisons),
            "possible_twins": bool(direct.get("possible_twins") or False),
        },
        "fields": rec["fields"],
        "cluster_id": rec["cluster_id"],
        "district": rec["district"],
    }


def _referral_findings(
    ref_uid: int,
    cand_rows: Sequence[Mapping[str, Any]],
    look: _Lookups,
    sources: Sequence[str],
    comparisons: Sequence[str],
    options: CheckOptions,
) -> dict[str, Any]:
    """Candidates, statuses and the audit's lists for one referral."""
    ref = look.records[ref_uid]
    ref_fields = ref["fields"]
    candidates = [_candidate(c, look, comparisons) for c in cand_rows]
    statuses = {s: "not_found" for s in sources}
    for cand in candidates:
        if STATUSES.index(cand["status"]) < STATUSES.index(statuses[cand["source"]]):
            statuses[cand["source"]] = cand["status"]
    known = [c for c in candidates if c["status"] == "known"]
    linked_group = [
        {"source": m["source"], "record_id": m["record_id"], "fields": m["fields"],
         "district": m["district"]}
        for m in (look.records[u] for u in look.linked.get(ref_uid, []))
    ]
    return {
        "uid": ref_uid,
        "referral_id": ref["record_id"],
        "fields": ref_fields,
        "statuses": statuses,
        "candidates": candidates,
        "linked_group": linked_group,
        "aliases": _aliases(ref_fields, candidates, linked_group),
        "agencies": _agencies(candidates, linked_group, statuses, sources),
        "cross_border": _cross_border(ref, candidates, linked_group, options.la_lookup),
        "turning_18": _turning_18(_dobs(ref_fields, known, linked_group), options.date),
        "household": _household(look, look.household.get(ref_uid, [])),
    }


def _aliases(ref_fields: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
             linked_group: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Every name the young person is recorded under: known records first, then possible.

    Held-back candidates (household evidence only, likely a brother or sister) are left
    out: their names belong to the household list, not to the young person's aliases.
    """
    ref_names = {_norm_name(n) for n, _ in _names_of(ref_fields)}
    aliases: dict[str, dict[str, Any]] = {}

    def add(fields: Mapping[str, Any], source: str, tier: str) -> None:
        for name, kind in _names_of(fields):
            key = _norm_name(name)
            entry = aliases.setdefault(key, {"name": name, "kinds": [], "recorded_by": [],
                                             "tier": tier, "on_referral": key in ref_names})
            if kind not in entry["kinds"]:
                entry["kinds"].append(kind)
            if source not in entry["recorded_by"]:
                entry["recorded_by"].append(source)
            if tier == "known":
                entry["tier"] = "known"

    for cand in candidates:
        if not cand["likely_relative"]:
            add(cand["fields"], cand["source"], cand["status"])
    for m in linked_group:
        add(m["fields"], m["source"], "known")
    return sorted(aliases.values(),
                  key=lambda e: (e["on_referral"], e["tier"] != "known", _norm_name(e["name"])))


def _agencies(candidates: Sequence[Mapping[str, Any]], linked_group: Sequence[Mapping[str, Any]],
              statuses: Mapping[str, str], sources: Sequence[str]) -> list[dict[str, Any]]:
    """Every agency holding the young person (known), or possibly holding them (to confirm)."""
    out = []
    for source in sources:
        held = [c["record_id"] for c in candidates if c["source"] == source]
        extra = [m["record_id"] for m in linked_group if m["source"] == source]
        state = statuses[source]
        if extra and state != "known":
            state = "known (through linked records)"
        if state == "not_found":
            continue
        out.append({"source": source, "status": state, "record_ids": held + extra})
    return out


def _cross_border(ref: Mapping[str, Any], candidates: Sequence[Mapping[str, Any]],
                  linked_group: Sequence[Mapping[str, Any]],
                  lookup: Mapping[str, str] | None) -> dict[str, Any]:
    """Records placed in another local authority (or postcode area) than the referral."""
    ref_district = ref["district"]
    ref_place = _place(ref_district, lookup)
    records = []
    districts = {ref_district} if ref_district else set()
    others = [*candidates, *({**m, "status": "known"} for m in linked_group)]
    for cand in others:
        district = cand["district"]
        if not district:
            continue
        districts.add(district)
        place = _place(district, lookup)
        if ref_place and place and place != ref_place:
            records.append({"source": cand["source"], "record_id": cand["record_id"],
                            "status": cand["status"], "district": district, "place": place,
                            "referral_district": ref_district, "referral_place": ref_place})
    return {"referral_district": ref_district, "referral_place": ref_place,
            "records": records, "districts": sorted(districts),
            "basis": "local authority lookup" if lookup else "postcode area"}


def _dobs(ref_fields: Mapping[str, Any], known: Sequence[Mapping[str, Any]],
          linked_group: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    dobs: dict[str, list[str]] = {}
    if ref_fields["dob"]:
        dobs.setdefault(ref_fields["dob"], []).append(REFERRAL_SOURCE)
    for rec in [*known, *linked_group]:
        if rec["fields"]["dob"]:
            dobs.setdefault(rec["fields"]["dob"], []).append(rec["source"])
    return dobs


def _household(look: _Lookups, uids: Sequence[int]) -> list[dict[str, Any]]:
    """Other young people at the address, one entry per person (linked records together)."""
    people: dict[tuple[str, int], dict[str, Any]] = {}
    for uid in uids:
        rec = look.records[uid]
        is_referral = rec["source"] == REFERRAL_SOURCE
        key = ("referral", uid) if is_referral or rec["cluster_id"] is None \
            else ("cluster", rec["cluster_id"])
        person = people.setdefault(key, {"names": [], "dobs": [], "records": [],
                                         "other_referral": False})
        f = rec["fields"]
        name = _full_name(f["forename"], f["surname"])
        if name and _norm_name(name) not in {_norm_name(n) for n in person["names"]}:
            person["names"].append(name)
        if f["dob"] and f["dob"] not in person["dobs"]:
            person["dobs"].append(f["dob"])
        person["records"].append({"source": rec["source"], "record_id": rec["record_id"]})
        person["other_referral"] = person["other_referral"] or is_referral
    return list(people.values())


def _results_rows(referrals: Sequence[Mapping[str, Any]], sources: Sequence[str]) -> pd.DataFrame:
    """results.csv: every candidate, or one not_found row per referral and source."""
    rows = []
    for ref in referrals:
        for source in sources:
            cands = [c for c in ref["candidates"] if c["source"] == source]
            if not cands:
                rows.append((ref["referral_id"], source, "not_found", "", None, ""))
                continue
            for c in cands:
                rows.append((ref["referral_id"], source, c["status"], c["record_id"],
                             round(c["match_probability"], 6), "; ".join(c["reasons"])))
    frame = pd.DataFrame(rows, columns=list(RESULT_COLUMNS))
    frame["match_probability"] = frame["match_probability"].astype("Float64")
    return frame


# =========================================================================== the check


def _load_referrals(con: duckdb.DuckDBPyConnection, src: Source) -> pd.DataFrame:
    """Ingest and standardise the referrals into ``ref_input``/``ref_records``.

    Returns:
        The referrals in canonical columns, for :meth:`Linker.search`.

    Raises:
        InputDataError: a referral row that cannot be used (file, row and column named).
    """
    file = _file_of(src) or "referrals"
    load_sources(con, [src], table="ref_input", rejects_table="ref_rejects")
    bad = con.execute(
        'SELECT row_number, "column", reason, count(*) OVER () AS n FROM ref_rejects '
        "ORDER BY row_number LIMIT 1"
    ).fetchone()
    if bad is not None:
        row, column, reason, n = bad
        more = f" ({n} referral rows rejected)" if n > 1 else ""
        raise InputDataError(f"referral rejected: {reason}{more}", file=file,
                             row=int(row) if row is not None else None,
                             column=str(column) if column else None)
    standardise(con, source_table="ref_input", records_table="ref_records",
                variants_table="ref_variants", tokens_table="ref_tokens", temporary=True)
    frame = con.execute(input_rows_sql("ref_input")).df()
    if frame.empty:
        raise InputDataError("no referrals", file=file)
    return frame.astype(object).where(frame.notna(), None)


_RECORD_COLUMNS = (
    "uid, source, record_id, forename, middle_names, surname, aliases, former_surnames, dob, "
    "sex, address, postcode, nhs_number"
)


def _unify_records(linker: Linker, con: duckdb.DuckDBPyConnection) -> None:
    """``records`` in the check's connection: agency records then referrals (uids after).

    Fields as recorded (for display) with the standardised keys the lists use.
    """
    keys = "r.sn, r.addr, r.addr_head, r.pc_outward"
    agency = linker.con.sql(
        f"SELECT i.*, {keys} FROM (SELECT {_RECORD_COLUMNS} FROM input_records) i "
        "JOIN records r USING (uid) ORDER BY i.uid"
    ).to_arrow_table()
    con.register("_agency_records", agency)
    try:
        con.execute(
            f"""
            CREATE OR REPLACE TABLE records AS
            SELECT * FROM _agency_records
            UNION ALL
            SELECT i.* REPLACE (i.uid + (SELECT coalesce(max(uid) + 1, 0)
                                         FROM _agency_records) AS uid), {keys}
            FROM (SELECT {_RECORD_COLUMNS} FROM ref_input) i JOIN ref_records r USING (uid)
            """
        )
    finally:
        con.unregister("_agency_records")


def _prior_weight(frame: pd.DataFrame, comparisons: Sequence[str], fallback: float) -> float:
    """The prior match weight the pairs were scored with: weight minus the field weights.

    Read from an unguarded pair, so that the waterfall starts where the engine did
    (:meth:`Linker.search` scores with its own prior, one in the number of records).
    """
    plain = frame[~frame["possible_twins"].fillna(False).astype(bool)] \
        if "possible_twins" in frame.columns else frame
    if plain.empty:
        return fallback
    row = plain.iloc[0]
    return float(row["match_weight"] - sum(float(row[f"mw_{c}"]) for c in comparisons))


def _pairs_frame(agency_pairs: pd.DataFrame, found: pd.DataFrame,
                 comparisons: Sequence[str], model_prior: float) -> pd.DataFrame:
    """Agency-agency pairs and referral-agency pairs in one frame with ``prior_weight``.

    The search's reasons already call the referral's side "the referral".
    """
    refs = found.rename(columns={"source": "source_l", "record_id": "record_id_l",
                                 "query_id": "record_id_r"})
    refs.insert(2, "source_r", REFERRAL_SOURCE)
    refs["prior_weight"] = _prior_weight(found, comparisons, model_prior)
    agency = agency_pairs.assign(
        prior_weight=_prior_weight(agency_pairs, comparisons, model_prior))
    frames = [f for f in (agency, refs) if len(f)]
    if not frames:
        return agency
    return pd.concat(frames, ignore_index=True)[[*agency.columns]]


def run_check(
    referrals: str | Path | Source | pd.DataFrame,
    sources: Sequence[Source] | Mapping[str, Any],
    *,
    options: CheckOptions | None = None,
    contacts: str | Path | Source | pd.DataFrame | None = None,
) -> CheckResult:
    """Check every referral against every agency source.

    The agency records are linked with each other (``Linker.predict``) and each referral
    is looked up among them (``Linker.search``), so the same model scores the referrals
    whether the agency records are read afresh or from a persisted index.

    Args:
        referrals: the referral forms: a canonical file (``PATH[:MAPPING.toml]``), a
            DataFrame or a :class:`Source` (its name is replaced by ``referral``).
        sources: the agency sources (:class:`Source` objects, or name -> data).
        options: thresholds, panel date, index and the rest (:class:`CheckOptions`).
        contacts: people named on the referrals (``PATH[:MAPPING.toml]``, a DataFrame or
            a Source; columns in :data:`cselink.contacts.CONTACT_COLUMNS`), each looked
            up in every source and linked across referrals (``result.contacts``).

    Returns:
        The statuses, candidates and lists (write them with :func:`write_outputs`).

    Raises:
        UsageError: bad sources or options.
        InputDataError: a referral row that cannot be used (file, row and column named).
        IndexStaleError: ``options.database`` was built from other source files.
    """
    options = options or CheckOptions()
    agency = _agency_sources(sources)
    ref_src = _referral_source(referrals)
    settings = (options.settings or Settings()).with_(link_type="dedupe")
    model = Model.load(options.model) if isinstance(options.model, str | Path) else options.model
    con = duckdb.connect()
    try:
        with _Steps(options.progress) as steps:
            with steps.step("referrals", "Reading the referrals") as counts:
                queries = _load_referrals(con, ref_src)
                counts.append(f"{len(queries):,} referrals")
                contact_input = None if contacts is None else load_contacts(
                    con, contacts, queries["record_id"].astype(str).tolist())
            text = ("Opening the index of agency records" if options.database is not None
                    else "Reading and standardising the agency records")
            with steps.step("agencies", text) as counts:
                linker = _agency_linker(agency, settings, model, options.database,
                                        options.memory_limit)
                counts.append(f"{len(agency)} agencies")
            try:
                if linker.model is None:
                    with steps.step("train", "Training the model"):
                        linker.fit()
                with steps.step("link", "Linking the agency records with each other") as counts:
                    agency_pairs = linker.predict(threshold=options.possible_threshold)
                    counts.append(f"{len(agency_pairs):,} pairs kept")
                with steps.step("search",
                                "Searching the agency records for each referral") as counts:
                    found = linker.search(queries, threshold=0.0)
                    counts.append(f"{len(found):,} candidates")
                if contact_input is not None:
                    with steps.step("contacts", "Searching the agency records for each contact"):
                        contact_search = search_contacts(linker, contact_input, options.date)
                _unify_records(linker, con)
                rejects = linker.con.execute("SELECT * FROM rejects ORDER BY ALL").df()
                comparisons = tuple(linker.comparisons)
                records = int(linker.con.execute("SELECT count(*) FROM records").fetchall()[0][0])
                blocking = list(linker.blocking_stats)
                if linker.model is None:  # pragma: no cover - fitted above
                    raise RuntimeError("no model after training")
                model_prior = float(linker.model.prior_weight)
            finally:
                engine_timings = dict(linker.timings)
                linker.close()
            with steps.step("candidates", "Finding every agency record of each referral"):
                pairs = _pairs_frame(agency_pairs, found, comparisons, model_prior)
                result = _collect(con, pairs, [s.name for s in agency], comparisons,
                                  rejects, options)
            if contact_input is not None:
                with steps.step("contacts_found", "Finding the contacts' records"):
                    result.contacts = find_contacts(
                        con, contact_search, contact_input, result.sources, comparisons,
                        result.referrals, known_threshold=options.known_threshold,
                        possible_threshold=options.possible_threshold,
                        panel_date=options.date, la_lookup=options.la_lookup)
        result.timings = {**engine_timings, **steps.timings}
        result.records, result.blocking = records, blocking
    finally:
        con.close()
    log.info("checked %d referrals against %d sources: %s", len(result.referrals),
             len(result.sources), result.counts())
    return result


def _collect(con: duckdb.DuckDBPyConnection, pairs: pd.DataFrame, sources: list[str],
             comparisons: tuple[str, ...], rejects: pd.DataFrame,
             options: CheckOptions) -> CheckResult:
    """Statuses, candidates and lists from the scored pairs (over ``records`` in ``con``)."""
    _score_tables(con, pairs, comparisons, options)
    _cluster_agency_records(con, options.known_threshold)
    look = _lookups(con)
    cands = con.execute("SELECT * FROM check_candidates").df()
    by_ref: dict[int, list[dict[str, Any]]] = {}
    for row in cands.to_dict(orient="records"):
        by_ref.setdefault(int(row["ref_uid"]), []).append(row)
    ref_uids = [int(u) for (u,) in con.execute(
        "SELECT uid FROM records WHERE source = ? ORDER BY uid", [REFERRAL_SOURCE]).fetchall()]
    referrals = [
        _referral_findings(uid, by_ref.get(uid, []), look, sources, comparisons, options)
        for uid in ref_uids
    ]
    return CheckResult(
        results=_results_rows(referrals, sources),
        referrals=referrals,
        sources=sources,
        options=options,
        rejected_rows={str(k): int(v) for k, v in rejects.groupby("source").size().items()},
        rejects=rejects,
        comparisons=comparisons,
        la_lookup_used=bool(options.la_lookup),
    )


# =========================================================================== outputs


def write_outputs(result: CheckResult, out_dir: str | Path) -> dict[str, Path]:
    """Write results.csv, results.json, report.html (and rejects.csv) into ``out_dir``.

    The folder is created private (0700) when missing; every file is written atomically
    and private (0600).

    Returns:
        ``{"results_csv": ..., "results_json": ..., "report": ..., ["rejects": ...]}``.
    """
    from .report import write_report

    folder = ensure_private_dir(out_dir)
    paths = {
        "results_csv": write_csv_atomic(result.results, folder / "results.csv"),
        "results_json": write_json_atomic(folder / "results.json", result.to_dict()),
        "report": write_report(result, folder / "report.html"),
    }
    if len(result.rejects):
        paths["rejects"] = write_csv_atomic(result.rejects, folder / "rejects.csv")
    if result.contacts is not None:
        from .contacts import write_contacts_outputs

        paths.update(write_contacts_outputs(result.contacts, folder))
    return paths


def check(
    referrals: str | Path | Source | pd.DataFrame,
    sources: Sequence[Source] | Mapping[str, Any],
    out_dir: str | Path,
    *,
    options: CheckOptions | None = None,
    contacts: str | Path | Source | pd.DataFrame | None = None,
) -> tuple[CheckResult, dict[str, Path]]:
    """:func:`run_check` then :func:`write_outputs`: the whole pre-panel check."""
    ensure_private_dir(out_dir)  # fail before the work, not after it
    result = run_check(referrals, sources, options=options, contacts=contacts)
    with _Steps(result.options.progress) as steps, \
            steps.step("write", "Writing results.csv, results.json and report.html"):
        paths = write_outputs(result, out_dir)
    result.timings.update(steps.timings)
    return result, paths


def summary_lines(result: CheckResult, paths: Mapping[str, Path] | None = None) -> list[str]:
    """A one-screen summary (counts only: no names, no dates of birth)."""
    counts = result.counts()
    table = result.status_table()
    lines = [
        f"Checked {len(result.referrals)} referrals against {len(result.sources)} agencies "
        f"({', '.join(result.sources)}) for the panel of {result.options.date.isoformat()}.",
        f"  known: {counts['known']}   possible: {counts['possible']}   "
        f"not found: {counts['not_found']}   (referral x agency)",
    ]
    width = max([len("agency")] + [len(s) for s in result.sources])
    lines.append(f"  {'agency':<{width}}  known  possible  not found")
    for s in result.sources:
        col = table[s].tolist()
        lines.append(f"  {s:<{width}}  {col.count('known'):>5}  {col.count('possible'):>8}  "
                     f"{col.count('not_found'):>9}")
    other_names = sum(1 for r in result.referrals
                      if any(not a["on_referral"] and a["tier"] == "known" for a in r["aliases"]))
    turning = sum(1 for r in result.referrals if r["turning_18"])
    cross = sum(1 for r in result.referrals if r["cross_border"]["records"])
    household = sum(1 for r in result.referrals if r["household"])
    lines.append(f"  referrals known under names not on the referral: {other_names}; "
                 f"cross-border: {cross}; 18 or turning 18 within six months: {turning}; "
                 f"with other young people in the household: {household}")
    if result.contacts is not None:
        c = result.contacts.counts()
        lines.append(f"  contacts: {c['contacts']} named ({c['rejected']} rejected); known to an "
                     f"agency {c['known']}, possible {c['possible']}, not found "
                     f"{c['not_found']}; named on more than one referral: "
                     f"{c['shared_people']} people ({c['shared_mentions']} mentions)")
    if result.rejected_rows:
        rej = ", ".join(f"{k} {v}" for k, v in sorted(result.rejected_rows.items()))
        lines.append(f"  agency rows rejected at ingest (see rejects.csv): {rej}")
    if paths:
        lines.append(f"Report: {paths['report']}")
        lines.append(f"Results: {paths['results_csv']} and {paths['results_json']}")
        if "contacts_csv" in paths:
            lines.append(f"Contacts: {paths['contacts_csv']} and {paths['shared_contacts_csv']}")
    return lines


# =========================================================================== LA lookup


def load_la_lookup(path: str | Path) -> dict[str, str]:
    """Postcode district -> local authority from a CSV with ``district`` and
    ``local_authority`` (or ``la_name``) columns.

    Raises:
        InputDataError: the file cannot be read or lacks the columns.
    """
    file = str(path)
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False)
    except FileNotFoundError:
        raise InputDataError("file not found", file=file) from None
    except Exception as exc:  # noqa: BLE001 - any reader failure is bad input
        raise InputDataError(f"cannot read ({type(exc).__name__})", file=file) from None
    cols = {c.strip().lower(): c for c in frame.columns}
    district = cols.get("district") or cols.get("postcode_district")
    la = cols.get("local_authority") or cols.get("la_name") or cols.get("la")
    if district is None:
        raise InputDataError("needs a 'district' column", file=file, column="district")
    if la is None:
        raise InputDataError("needs a 'local_authority' column", file=file,
                             column="local_authority")
    out = {}
    for i, (d, a) in enumerate(zip(frame[district], frame[la], strict=True), start=1):
        key = d.strip().upper().replace(" ", "")
        if not key or not a.strip():
            raise InputDataError("empty value", file=file, row=i,
                                 column=district if not key else la)
        out[key] = a.strip()
    return out


def _synthetic_la_lookup() -> dict[str, str]:
    """The district -> local authority table of the synthetic generator's world."""
    from importlib import resources

    base = resources.files("cselink") / "data"
    with resources.as_file(base / "postcode_districts.csv") as p1, \
            resources.as_file(base / "local_authorities.csv") as p2:
        districts = pd.read_csv(p1, dtype=str)
        las = pd.read_csv(p2, dtype=str)
    merged = districts.merge(las, on="la_number")
    return {d.upper(): n for d, n in zip(merged["district"], merged["la_name"], strict=True)}


# =========================================================================== demo


_AGENCY_ORDER: Final[tuple[str, ...]] = (
    "education", "health", "police", "social_care", "youth_justice")


def _is_sample(folder: Path) -> bool:
    return ((folder / "referrals.csv").is_file() and (folder / "native").is_dir()
            and (folder / "mappings").is_dir())


def find_demo_data() -> Path | None:
    """The shipped synthetic sample (``data/synthetic`` of the repository), if present."""
    folder = Path(__file__).resolve().parents[1] / "data" / "synthetic"
    return folder if _is_sample(folder) else None


def _sample_sources(folder: Path) -> list[Source]:
    from .mapping import Mapping as SourceMapping

    natives = {p.stem: p for p in sorted((folder / "native").iterdir()) if p.is_file()}
    order = [a for a in _AGENCY_ORDER if a in natives] + sorted(
        a for a in natives if a not in _AGENCY_ORDER)
    out = []
    for name in order:
        mapping_file = folder / "mappings" / f"{name}.toml"
        mapping = SourceMapping.from_toml(mapping_file) if mapping_file.is_file() else None
        out.append(Source(name, natives[name], mapping))
    if not out:
        raise InputDataError("no agency files in native/", file=str(folder))
    return out


def demo(
    out_dir: str | Path = "cselink-demo",
    *,
    options: CheckOptions | None = None,
    data: str | Path | None = None,
) -> tuple[CheckResult, dict[str, Path], dict[str, Any] | None]:
    """Run the whole check on the shipped synthetic sample and write its outputs.

    The sample is ``data/synthetic`` next to the installed package (a repository
    checkout); failing that (a plain ``pip install``) it is generated into
    ``out_dir/synthetic`` with :func:`cselink.synthetic.generate` (seed 42).

    Returns:
        The result, the paths written, and the figures against the sample's truth
        (:func:`evaluate_against_truth`) when the truth files are there.
    """
    from .synthetic import SynthConfig, generate

    folder = ensure_private_dir(out_dir)
    sample = Path(data) if data is not None else find_demo_data()
    if sample is None or not _is_sample(sample):
        if data is not None:
            raise UsageError("not a synthetic sample (referrals.csv, native/, mappings/)",
                             file=str(data))
        sample = folder / "synthetic"
        log.info("no shipped sample found; generating one (seed 42)")
        generate(SynthConfig(seed=42), sample)
    options = options or CheckOptions()
    if options.la_lookup is None:
        from dataclasses import replace

        options = replace(options, la_lookup=_synthetic_la_lookup())
    contacts = sample / "contacts.csv"
    result, paths = check(sample / "referrals.csv", _sample_sources(sample), folder,
                          options=options, contacts=contacts if contacts.is_file() else None)
    figures = None
    if (sample / "referrals_truth.csv").is_file() and (sample / "truth.csv").is_file():
        figures = evaluate_against_truth(
            result.results,
            pd.read_csv(sample / "referrals_truth.csv", dtype=str, keep_default_na=False),
            pd.read_csv(sample / "truth.csv", dtype=str, keep_default_na=False),
            result.sources,
        )
    return result, paths, figures


# =========================================================================== evaluation


def evaluate_against_truth(
    results: pd.DataFrame,
    referrals_truth: pd.DataFrame,
    truth: pd.DataFrame,
    sources: Sequence[str],
) -> dict[str, Any]:
    """Score check results against synthetic truth.

    Args:
        results: results.csv rows.
        referrals_truth: ``referral_id, person_id, scenario`` (empty person_id: nobody).
        truth: ``record_id, source, person_id`` for every agency record.
        sources: the agency sources checked.

    Returns:
        ``held`` (referral x agency cells where the agency holds the person),
        ``known_recall`` (held cells with a true record ``known``), ``missed`` (held
        cells reported ``not_found``), ``true_not_listed`` (held cells where no true
        record is listed), the same for the ``other_name``/``new_surname`` scenarios
        (``*_other_name``), ``false_known`` (share of cells where the agency does not
        hold the person but reports ``known``), ``false_possible`` (share of such cells
        whose best candidate is ``possible``: a coordinator checks it for nothing),
        ``known_precision`` (known rows that are a true record) and ``mean_possible``
        (possible rows per referral and agency).
    """
    if not {"referral_id", "person_id"} <= set(referrals_truth.columns):
        raise InputDataError("referrals truth needs referral_id and person_id columns")
    rt = referrals_truth.assign(person_id=referrals_truth["person_id"].fillna("").astype(str))
    if "scenario" not in rt.columns:
        rt = rt.assign(scenario="")
    t = truth[["source", "record_id", "person_id"]].astype(str)
    rows = results.merge(rt[["referral_id", "person_id", "scenario"]], on="referral_id",
                         how="left", suffixes=("", "_ref"))
    rows = rows.merge(t.rename(columns={"person_id": "record_person"}),
                      on=["source", "record_id"], how="left")
    rows["is_true"] = (rows["person_id"] != "") & (rows["record_person"] == rows["person_id"])
    grid = rt.merge(pd.DataFrame({"source": list(sources)}), how="cross")
    held = t[["source", "person_id"]].drop_duplicates().assign(held=True)
    grid = grid.merge(held, on=["source", "person_id"], how="left")
    grid["held"] = grid["held"].eq(True) & (grid["person_id"] != "")
    rank = {"known": 2, "possible": 1, "not_found": 0}
    rows["rank"] = rows["status"].map(rank)
    keys = ["referral_id", "source"]
    best = rows.groupby(keys)["rank"].max().rename("best")
    true_best = rows[rows["is_true"]].groupby(keys)["rank"].max().rename("true_best")
    grid = grid.merge(best, on=keys, how="left").merge(true_best, on=keys, how="left")
    grid[["best", "true_best"]] = grid[["best", "true_best"]].fillna(0)
    h = grid[grid["held"]]
    other = h[h["scenario"].isin(["other_name", "new_surname"])]
    known_rows = rows[rows["status"] == "known"]

    def share(mask: pd.Series) -> float | None:
        return float(mask.mean()) if len(mask) else None

    return {
        "referrals": int(rt["referral_id"].nunique()),
        "cells": len(grid),
        "held": len(h),
        "known_recall": share(h["true_best"] == 2),
        "missed": share(h["best"] == 0),
        "true_not_listed": share(h["true_best"] == 0),
        "held_other_name": len(other),
        "known_recall_other_name": share(other["true_best"] == 2),
        "missed_other_name": share(other["best"] == 0),
        "true_not_listed_other_name": share(other["true_best"] == 0),
        "false_known": share(grid.loc[~grid["held"], "best"] == 2),
        "false_possible": share(grid.loc[~grid["held"], "best"] == 1),
        "known_precision": share(known_rows["is_true"]) if len(known_rows) else None,
        "mean_possible": float((rows["status"] == "possible").sum() / max(1, len(grid))),
    }
