"""Known contacts and perpetrators: who is around each referred young person, and who knows them.

Referral forms name people around the young person: other young people, and adults
suspected of exploiting them. They are often known by a street name or a first name
only, with an approximate age ("about 19", "18-21") and an area rather than a date of
birth and an address. Police and youth justice hold most of them, and the same adult
appears on several referrals, in several local authorities, under other spellings or
street names. The check (:func:`cselink.check.run_check` with ``contacts=``) looks every
contact up in every agency source with the same engine as the referrals
(:meth:`cselink.pipeline.Linker.search`), and links the contacts of all referrals with
each other.

Contacts file (canonical columns :data:`CONTACT_COLUMNS`; a mapping may name others, with
``referral_id`` and ``contact_id`` in ``[columns]`` instead of ``record_id``):
``age`` is in years at the panel date, a number ("19") or a range ("18-21"); any name,
date or place column may be empty.

What the engine adds for contacts:

* **Candidates without a date of birth.** The blocking rules key on the date of birth
  or on whole names; a contact known as "Ghost", aged 18-21, reaches nobody through
  them. :func:`contact_pairs_sql` adds the records that hold the contact's whole name,
  or (for a single name) hold it as a street name, live in the same postcode district or
  are of about the age given.
* **Age against a date of birth** (:data:`AGE`): the record's age at the panel date in
  the range given, within two years of it, or further. A single age stands for a year
  either side (people guess an adult's age). Its u is read from the data (the share of
  agency records of that age at the panel date, per distinct range); its m is
  :data:`AGE_M`, a statement of how good such guesses are, not a fitted number.
* **A name alone is weak evidence.** A candidate is ``known`` only when the match
  probability reaches the known threshold *and* something beyond the name agrees: the
  date of birth (:func:`cselink.check.identity_evidence_sql`), the age range, or the
  address or postcode (:data:`CORROBORATING_LOCATION`). Otherwise it is at most
  ``possible``.

Contacts across referrals (``shared_contacts.csv``): two mentions on different referrals
are one person when they are ``known`` to the same agency record (or to records the
check linked into one person), or when their names agree (a whole name, or a single
name that is rare as a forename: a street name) and nothing conflicts: ages that
overlap (a year's slack), dates of birth that agree up to a typing slip, the same sex,
and for a first name alone the same postcode district. Relatives share a surname and
an address, not a forename and an age, so a surname never links two mentions on its
own. Mentions on one referral are never merged (the form names different people).

Tables written to the check's connection: ``contact_input`` / ``contact_records`` /
``contact_variants`` (the contacts ingested and standardised), ``contact_info``,
``contact_scored`` (every candidate with its age level and final probability) and
``contact_links``. Nothing personal is logged: counts only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field, replace
from itertools import combinations
from pathlib import Path
from typing import Any, Final

import duckdb
import pandas as pd
from rapidfuzz.distance import JaroWinkler

from ._sql import quote_ident
from .comparisons import COMPARISONS, Comparison, ComparisonLevel
from .errors import InputDataError, UsageError
from .ingest import Source, _read, input_rows_sql, load_sources, source_from_spec
from .io import drop_temp, write_csv_atomic
from .mapping import CONTACT_ONLY_COLUMNS
from .mapping import Mapping as SourceMapping
from .standardise import standardise

log = logging.getLogger(__name__)

__all__ = [
    "AGE",
    "AGE_M",
    "CONTACT_COLUMNS",
    "CONTACT_RESULT_COLUMNS",
    "CORROBORATING_LOCATION",
    "RARE_NAME_SHARE",
    "SHARED_CONTACT_COLUMNS",
    "ContactSearch",
    "ContactsInput",
    "ContactsResult",
    "age_gamma_sql",
    "contact_pairs_sql",
    "contacts_source",
    "find_contacts",
    "load_contacts",
    "search_contacts",
    "write_contacts_outputs",
]

#: Columns of a canonical contacts file (DESIGN.md).
CONTACT_COLUMNS: Final[tuple[str, ...]] = (
    "referral_id", "contact_id", "forename", "surname", "aliases", "dob", "age", "sex",
    "address", "postcode", "relationship",
)

#: Columns of contacts.csv, in this order (the command-line contract).
CONTACT_RESULT_COLUMNS: Final[tuple[str, ...]] = (
    "referral_id", "contact_id", "source", "status", "record_id", "match_probability",
    "reasons",
)

#: Columns of shared_contacts.csv, in this order (the command-line contract).
SHARED_CONTACT_COLUMNS: Final[tuple[str, ...]] = (
    "shared_id", "referral_id", "contact_id", "name_on_referral", "local_authority",
)

#: Columns of contacts_rejects.csv.
CONTACT_REJECT_COLUMNS: Final[tuple[str, ...]] = (
    "row_number", "referral_id", "contact_id", "column", "reason",
)

#: The source name contacts are ingested under.
CONTACT_SOURCE: Final[str] = "contact"

#: An age given for a contact against a recorded date of birth, at the panel date.
#: Reads ``l.dob`` (the record), ``r.age_lo`` / ``r.age_hi`` (the contact's range) and
#: ``age_l`` (the record's age in whole years at the panel date).
AGE: Final[Comparison] = Comparison(
    name="age",
    description="the age given for a contact against the record's date of birth, at the "
                "panel date",
    levels=(
        ComparisonLevel(label="missing", condition="l.dob IS NULL OR r.age_lo IS NULL",
                        is_null=True, description="no age given or no date of birth"),
        ComparisonLevel(label="in_range", condition="age_l BETWEEN r.age_lo AND r.age_hi",
                        description="age at the panel date as given"),
        ComparisonLevel(label="within_two_years",
                        condition="age_l BETWEEN r.age_lo - 2 AND r.age_hi + 2",
                        description="age at the panel date within two years of the age given"),
        ComparisonLevel(label="different", condition="TRUE",
                        description="age at the panel date far from the age given"),
    ),
)

#: m of each non-null level of :data:`AGE`: how often the age someone gives for a person
#: falls in, near or far from the truth. An age given on a referral is a guess by a
#: young person or a worker; guesses of a young adult's age are mostly right to a
#: couple of years, and now and then far out (a false age given to the worker).
AGE_M: Final[Mapping[str, float]] = {"in_range": 0.80, "within_two_years": 0.15,
                                     "different": 0.05}

#: Location levels that corroborate a contact's name: the address or postcode, not just
#: the district (an area is what a referral usually gives, and thousands live in one).
CORROBORATING_LOCATION: Final[tuple[str, ...]] = (
    "same_address", "same_postcode", "similar_address", "same_sector",
)

#: A single name is a street name or a rare forename (distinctive enough to link two
#: mentions with an age) when fewer than this share of agency records carry it as their
#: forename. Common first names ("Jay": about one record in a few hundred) need the
#: same district as well.
RARE_NAME_SHARE: Final[float] = 0.0005

_ROW = "__contact_row"
#: Surnames this similar (Jaro-Winkler) make a candidate with the forename or a nickname
#: of it: a name heard and written down by someone else is often misspelt.
_CANDIDATE_SURNAME_JW = 0.85
#: Whole names this far apart (Jaro-Winkler below it) are two people.
_CONFLICT_NAME_JW = 0.8
_AGE_TOKENS = re.compile(r"\b(?:age_l|l\.dob|r\.age_lo|r\.age_hi)\b")
_SINGLE_AGE = r"^\s*(\d{1,3})\s*$"
_AGE_RANGE = r"^\s*(\d{1,3})\s*(?:-|–|to)\s*(\d{1,3})\s*$"
_MAX_AGE = 120
_AGE_PROBLEM = "not a number of years or a range such as 18-21"
_STATUS_RANK: Final[dict[str, int]] = {"known": 2, "possible": 1, "not_found": 0}


# =========================================================================== input


@dataclass(slots=True)
class ContactsInput:
    """The contacts read for a check.

    Attributes:
        queries: the usable contacts in canonical columns, ``record_id`` the contact's key
            (for :meth:`~cselink.pipeline.Linker.search`).
        info: per usable contact, in file order: key, row_number, referral_id,
            contact_id, age (as given), age_lo, age_hi, relationship.
        rejects: rejected rows (:data:`CONTACT_REJECT_COLUMNS`); never silently dropped.
        warnings: (column, reason, count) for values kept as missing.
        file: the file read, for messages.
        forenames: the standardised forenames the contacts are known by (for how common
            each is among the agency records: :data:`RARE_NAME_SHARE`).
    """

    queries: pd.DataFrame
    info: pd.DataFrame
    rejects: pd.DataFrame
    warnings: list[tuple[str, str, int]] = field(default_factory=list)
    file: str = "contacts"
    forenames: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.info)


def contacts_source(contacts: str | Path | Source | pd.DataFrame) -> Source:
    """A :class:`~cselink.ingest.Source` for a contacts file (``PATH[:MAPPING.toml]``),
    DataFrame or Source."""
    if isinstance(contacts, Source):
        return Source(CONTACT_SOURCE, contacts.data, contacts.mapping)
    if isinstance(contacts, pd.DataFrame):
        return Source(CONTACT_SOURCE, contacts)
    if isinstance(contacts, str | Path):
        return source_from_spec(f"{CONTACT_SOURCE}={contacts}")
    raise UsageError(f"contacts: expected a file path, a DataFrame or a Source, "
                     f"not {type(contacts).__name__}")


def _contacts_mapping(src: Source, headers: Sequence[str], file: str) -> SourceMapping:
    """The mapping in force: the given one, or the canonical contacts columns by name."""
    if src.mapping is not None:
        mapping = src.mapping
    else:
        lowered = {h.lower(): h for h in reversed(headers)}
        cols = {c: (c if c in headers else lowered[c.lower()])
                for c in (*CONTACT_COLUMNS, "middle_names", "former_surnames", "nhs_number")
                if c in headers or c.lower() in lowered}
        mapping = SourceMapping(columns=cols)
    for required in ("referral_id", "contact_id"):
        if required not in mapping.columns:
            raise InputDataError(f"missing required column {required!r}", file=file,
                                 column=required)
    missing = mapping.missing_columns(headers)
    if missing:
        header = next(h for h in mapping.columns.values() if h not in set(headers))
        raise InputDataError("the contacts mapping names columns the file does not have: "
                             + "; ".join(missing), file=file, column=header)
    return mapping


def load_contacts(con: duckdb.DuckDBPyConnection, contacts: str | Path | Source | pd.DataFrame,
                  referral_ids: Collection[str]) -> ContactsInput:
    """Read, map and validate a contacts file into ``contact_input`` / ``contact_records``.

    The canonical columns go through the ordinary ingest (:func:`cselink.ingest.load_sources`,
    so a mapping's date formats, sex codes, name order and separators apply) and are
    standardised as agency records are. A row is rejected, with its reason, when it has
    no referral_id or contact_id, names a referral that is not being checked, repeats an
    earlier referral_id and contact_id, or has nothing to look up (no name, alias, date of
    birth, address or postcode). An age that is not a number or a range is kept as
    missing and counted.

    Raises:
        InputDataError: the file cannot be read, or lacks referral_id or contact_id.
        ConfigError: the mapping names columns the file does not have.
    """
    src = contacts_source(contacts)
    file = str(src.data) if isinstance(src.data, str | Path) else "contacts"
    raw = _read(con, src)
    try:
        mapping = _contacts_mapping(src, raw.headers, file)
        cols = ", ".join(f"CAST(r.{raw.column(h)} AS VARCHAR) AS {quote_ident(h)}"
                         for h in raw.headers)
        frame = con.execute(f"SELECT {raw.row_sql('r')} AS {_ROW}, {cols} FROM "
                            f"{quote_ident(raw.table)} r ORDER BY 1").df()
        malformed = (con.execute(f"SELECT row_number, reason FROM {quote_ident(raw.malformed)}")
                     .fetchall() if raw.malformed else [])
    finally:
        drop_temp(con, raw.table, raw.malformed)
    frame[_ROW] = frame[_ROW].astype("int64").astype(str)
    return _validate(con, frame, mapping, malformed, set(map(str, referral_ids)), file)


def _validate(con: duckdb.DuckDBPyConnection, frame: pd.DataFrame, mapping: SourceMapping,
              malformed: Sequence[tuple[Any, Any]], referral_ids: set[str],
              file: str) -> ContactsInput:
    """The contact-only checks in SQL, then the ordinary ingest of the canonical columns."""
    cols = mapping.columns

    def col(name: str) -> str:
        header = cols.get(name)
        return f"NULLIF(trim(f.{quote_ident(header)}), '')" if header else "NULL::VARCHAR"

    con.register("_contacts_raw", frame)
    con.register("_contact_referrals", pd.DataFrame({"referral_id": sorted(referral_ids)},
                                                    dtype=object))
    try:
        checked = con.execute(
            f"""
            WITH f AS (
                SELECT CAST(f.{_ROW} AS BIGINT) AS row_number, {col('referral_id')} AS referral_id,
                       {col('contact_id')} AS contact_id, {col('age')} AS age,
                       {col('relationship')} AS relationship
                FROM _contacts_raw f
            ), parsed AS (
                SELECT *,
                       TRY_CAST(coalesce(NULLIF(regexp_extract(age, $single, 1), ''),
                                         NULLIF(regexp_extract(age, $range, 1), '')) AS INTEGER)
                           AS a1,
                       TRY_CAST(coalesce(NULLIF(regexp_extract(age, $single, 1), ''),
                                         NULLIF(regexp_extract(age, $range, 2), '')) AS INTEGER)
                           AS a2,
                       regexp_matches(coalesce(age, ''), $single) AS single
                FROM f
            )
            SELECT row_number, referral_id, contact_id, age, relationship,
                   CASE WHEN a1 IS NULL OR a2 IS NULL OR a1 > a2 OR a2 > $max THEN NULL
                        WHEN single THEN greatest(a1 - 1, 0) ELSE a1 END AS age_lo,
                   CASE WHEN a1 IS NULL OR a2 IS NULL OR a1 > a2 OR a2 > $max THEN NULL
                        WHEN single THEN a2 + 1 ELSE a2 END AS age_hi,
                   CASE WHEN referral_id IS NULL THEN 'referral_id'
                        WHEN contact_id IS NULL THEN 'contact_id'
                        WHEN referral_id NOT IN (SELECT referral_id FROM _contact_referrals)
                            THEN 'referral_id'
                        WHEN row_number() OVER (PARTITION BY referral_id, contact_id
                                                ORDER BY row_number) > 1 THEN 'contact_id'
                   END AS reject_column,
                   CASE WHEN referral_id IS NULL THEN 'no referral_id'
                        WHEN contact_id IS NULL THEN 'no contact_id'
                        WHEN referral_id NOT IN (SELECT referral_id FROM _contact_referrals)
                            THEN 'names a referral that is not being checked'
                        WHEN row_number() OVER (PARTITION BY referral_id, contact_id
                                                ORDER BY row_number) > 1
                            THEN 'repeats an earlier referral_id and contact_id'
                   END AS reason
            FROM parsed ORDER BY row_number
            """,
            {"single": _SINGLE_AGE, "range": _AGE_RANGE, "max": _MAX_AGE},
        ).df()
    finally:
        con.unregister("_contacts_raw")
        con.unregister("_contact_referrals")
    ok = checked["reason"].isna()
    canonical_cols = {k: v for k, v in cols.items() if k not in CONTACT_ONLY_COLUMNS}
    canon_mapping = replace(mapping, columns={**canonical_cols, "record_id": _ROW},
                            format=None, encoding=None, delimiter=None, sheet=None, name=None)
    keep = frame[frame[_ROW].isin(checked.loc[ok, "row_number"].astype(str))]
    rejects = [
        (int(r.row_number), r.referral_id, r.contact_id, r.reject_column, r.reason)
        for r in checked[~ok].itertuples(index=False)
    ]
    rejects += [(int(row), None, None, None, str(reason)) for row, reason in malformed]
    if len(keep):
        load_sources(con, [Source(CONTACT_SOURCE, keep.reset_index(drop=True), canon_mapping)],
                     table="contact_input", rejects_table="contact_ingest_rejects",
                     summarise=False)
        by_row = checked.set_index("row_number")
        for row_id, column, reason in con.execute(
                'SELECT record_id, "column", reason FROM contact_ingest_rejects '
                "ORDER BY row_number").fetchall():
            r = by_row.loc[int(row_id)]
            rejects.append((int(row_id), r["referral_id"], r["contact_id"], column, reason))
        standardise(con, source_table="contact_input", records_table="contact_records",
                    variants_table="contact_variants", tokens_table="contact_tokens",
                    temporary=True)
        used = {str(x) for (x,) in con.execute(
            "SELECT record_id FROM contact_input").fetchall()}
        forenames = [str(x) for (x,) in con.execute(
            "SELECT DISTINCT fn FROM contact_variants WHERE fn IS NOT NULL ORDER BY fn"
        ).fetchall()]
    else:
        used, forenames = set(), []
    info = checked[checked["row_number"].astype(str).isin(used)].copy()
    info.insert(0, "key", info["row_number"].astype(str))
    info = info.drop(columns=["reject_column", "reason"]).reset_index(drop=True)
    warnings = []
    bad_age = int((info["age"].notna() & info["age_lo"].isna()).sum())
    if bad_age:
        warnings.append(("age", _AGE_PROBLEM, bad_age))
        log.warning("contacts: %d ages were %s and are treated as missing", bad_age,
                    _AGE_PROBLEM)
    reject_frame = pd.DataFrame(sorted(rejects, key=lambda r: r[0]),
                                columns=list(CONTACT_REJECT_COLUMNS))
    if used:

        queries = con.execute(input_rows_sql("contact_input")).df()
        queries = queries.astype(object).where(queries.notna(), None)
    else:
        queries = pd.DataFrame(columns=["record_id"])
    log.info("contacts: %d read, %d usable, %d rejected", len(frame) + len(malformed),
             len(info), len(reject_frame))
    return ContactsInput(queries=queries, info=info, rejects=reject_frame, warnings=warnings,
                         file=file, forenames=forenames)


# =========================================================================== search


def contact_pairs_sql(ages_table: str) -> str:
    """SELECT (uid_l, uid_r, match_key): agency records a contact without a DOB may be.

    Runs inside a search (:meth:`~cselink.pipeline.Linker.search` ``extra_pairs_sql``) over
    the queries' ``_q_records`` / ``_q_variants`` and the index's ``lookup_records`` /
    ``lookup_variants``. ``ages_table`` holds ``record_id, age_lo, age_hi, panel_date`` per
    contact. A record is a candidate when one of its names is the contact's whole name
    (any date of birth), or, for a contact known by one name only (a street name or a first
    name), when it holds that name as a one-word alias (a street name), lives in the
    contact's postcode district or is within two years of the age given. Forenames are
    matched with their nicknames (``_q_alts``), surnames up to a misspelling; a contact
    with a date of birth or a postcode also reaches every record born that day or
    living there.
    """
    ages = quote_ident(ages_table)
    return f"""
        WITH q AS (
            SELECT v.uid, n.alt AS fn, v.sn, r.pc_outward, a.age_lo, a.age_hi, a.panel_date
            FROM _q_variants v JOIN _q_records r ON r.uid = v.uid
            JOIN _q_alts n ON n.name = v.fn
            LEFT JOIN {ages} a ON a.record_id = r.record_id
        )
        SELECT x.uid AS uid_l, q.uid AS uid_r,
               CASE WHEN bool_and(q.sn IS NULL) THEN 'contact_single_name'
                    ELSE 'contact_full_name' END AS match_key
        FROM q JOIN lookup_variants x ON x.fn = q.fn
        JOIN lookup_records l ON l.uid = x.uid
        WHERE (q.sn IS NOT NULL AND x.sn IS NOT NULL
               AND jaro_winkler_similarity(x.sn, q.sn) >= {_CANDIDATE_SURNAME_JW})
           OR (q.sn IS NULL AND (
                   (x.kind = 'alias' AND x.detail IS NOT NULL AND NOT contains(trim(x.detail), ' '))
                   OR l.pc_outward = q.pc_outward
                   OR date_sub('year', l.dob, q.panel_date)
                          BETWEEN q.age_lo - 2 AND q.age_hi + 2))
        GROUP BY x.uid, q.uid
        UNION ALL
        -- a contact with a date of birth or a postcode: every record born that day or
        -- living at that postcode (the name may be nothing the agency holds: a street
        -- name it never recorded)
        SELECT l.uid, r.uid, 'contact_dob_or_postcode' FROM _q_records r
        JOIN lookup_records l ON l.dob = r.dob OR l.pc = r.pc
        WHERE (r.dob IS NOT NULL OR r.pc IS NOT NULL) AND NOT EXISTS (
            SELECT 1 FROM q JOIN lookup_variants x ON x.fn = q.fn
            WHERE q.uid = r.uid AND x.uid = l.uid AND q.sn IS NOT NULL AND x.sn IS NOT NULL
              AND jaro_winkler_similarity(x.sn, q.sn) >= {_CANDIDATE_SURNAME_JW})
    """


@dataclass(slots=True)
class ContactSearch:
    """What the search of the agency index gives the contacts step.

    Attributes:
        found: :meth:`~cselink.pipeline.Linker.search` rows (query_id is the contact key).
        forename_counts: name -> agency records with it as their forename (the contacts'
            forenames only), and the number of agency records (key ``""``).
    """

    found: pd.DataFrame
    forename_counts: dict[str, int]


def search_contacts(linker: Any, contacts: ContactsInput, panel_date: Any) -> ContactSearch:
    """Look every contact up in the agency index with :meth:`Linker.search`.

    Args:
        linker: the check's :class:`~cselink.pipeline.Linker` over the agency records.
        contacts: from :func:`load_contacts`.
        panel_date: the panel's date (ages are at this date).
    """
    if not len(contacts):
        return ContactSearch(found=pd.DataFrame(), forename_counts={"": 0})
    ages = contacts.info[["key", "age_lo", "age_hi"]].rename(columns={"key": "record_id"})
    ages = ages.assign(panel_date=pd.Timestamp(panel_date).date(),
                       age_lo=ages["age_lo"].astype("Int64"),
                       age_hi=ages["age_hi"].astype("Int64"))
    con = linker.con
    con.register("_contact_ages", ages)
    try:
        found = linker.search(contacts.queries, threshold=0.0,
                              extra_pairs_sql=contact_pairs_sql("_contact_ages"))
        con.register("_contact_forenames", pd.DataFrame({"fn": contacts.forenames},
                                                         dtype=object))
        counts = dict(con.execute(
            "SELECT s.fn, count(r.uid) FROM _contact_forenames s "
            "LEFT JOIN records r ON r.fn = s.fn GROUP BY s.fn").fetchall())
        counts[""] = int(con.execute("SELECT count(*) FROM records").fetchall()[0][0])
        con.unregister("_contact_forenames")
    finally:
        con.unregister("_contact_ages")
    return ContactSearch(found=found, forename_counts={str(k): int(v) for k, v in counts.items()})


# =========================================================================== findings


@dataclass(slots=True)
class ContactsResult:
    """Everything the contacts step found (written by :func:`write_contacts_outputs`).

    Attributes:
        rows: contacts.csv (:data:`CONTACT_RESULT_COLUMNS`).
        shared: shared_contacts.csv (:data:`SHARED_CONTACT_COLUMNS`).
        contacts: per contact, in file order: referral_id, contact_id, name, age,
            relationship, statuses per source, candidates, cross-border records, shared_id.
        rejects: rejected rows of the contacts file.
        warnings: (column, reason, count) for values kept as missing.
        file: the contacts file read.
    """

    rows: pd.DataFrame
    shared: pd.DataFrame
    contacts: list[dict[str, Any]]
    rejects: pd.DataFrame
    warnings: list[tuple[str, str, int]] = field(default_factory=list)
    file: str = "contacts"

    def counts(self) -> dict[str, int]:
        """Contacts read, rejected, known to an agency, possible, shared across referrals."""
        best = [max((_STATUS_RANK[s] for s in c["statuses"].values()), default=0)
                for c in self.contacts]
        return {
            "contacts": len(self.contacts),
            "rejected": len(self.rejects),
            "known": best.count(2),
            "possible": best.count(1),
            "not_found": best.count(0),
            "shared_people": int(self.shared["shared_id"].nunique()) if len(self.shared) else 0,
            "shared_mentions": len(self.shared),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the counts, contacts.csv rows and shared_contacts.csv rows."""
        rows = self.rows.astype(object).where(self.rows.notna(), None)
        return {"counts": self.counts(), "rows": rows.to_dict(orient="records"),
                "shared": self.shared.to_dict(orient="records")}


def age_gamma_sql(*, dob: str, age_lo: str, age_hi: str, panel_date: str) -> str:
    """SQL for the :data:`AGE` level of a record's date of birth against an age range.

    Args:
        dob: SQL for the record's date of birth (DATE).
        age_lo, age_hi: SQL for the contact's age range in whole years (a single age
            widened by a year either side by :func:`load_contacts`).
        panel_date: SQL for the panel date (ages are in whole years at that date).
    """
    exprs = {"age_l": f"date_sub('year', {dob}, {panel_date})", "l.dob": dob,
             "r.age_lo": age_lo, "r.age_hi": age_hi}
    return _AGE_TOKENS.sub(lambda m: f"({exprs[m.group(0)]})", AGE.gamma_sql())


def _age_weights_sql() -> str:
    """contact_age_u(age_lo, age_hi, u_in_range, u_within_two_years, u_different): per
    distinct range, the share of agency records of each level at the panel date."""
    return """
        CREATE OR REPLACE TEMP TABLE contact_age_u AS
        WITH ages AS (
            SELECT date_sub('year', dob, $panel) AS age, count(*) AS n FROM records
            WHERE source <> $ref AND dob IS NOT NULL GROUP BY ALL
        ), bands AS (SELECT DISTINCT age_lo, age_hi FROM contact_info WHERE age_lo IS NOT NULL)
        SELECT b.age_lo, b.age_hi,
               sum(n) FILTER (WHERE age BETWEEN b.age_lo AND b.age_hi) / sum(n) AS u_in,
               sum(n) FILTER (WHERE age BETWEEN b.age_lo - 2 AND b.age_hi + 2
                              AND age NOT BETWEEN b.age_lo AND b.age_hi) / sum(n) AS u_near,
               sum(n) FILTER (WHERE age NOT BETWEEN b.age_lo - 2 AND b.age_hi + 2)
                   / sum(n) AS u_far
        FROM bands b, ages GROUP BY b.age_lo, b.age_hi
    """


def _score_sql(comparisons: Sequence[str], identity_sql: str) -> str:
    """contact_scored: every candidate with its age level, weights, probability, status."""
    gam = age_gamma_sql(dob="f.dob", age_lo="f.age_lo", age_hi="f.age_hi", panel_date="$panel")
    g_in, g_near = AGE.gamma_of("in_range"), AGE.gamma_of("within_two_years")
    loc = COMPARISONS["location"] if "location" in comparisons else None
    loc_ok = ("FALSE" if loc is None else
              " OR ".join(f"gamma_location = {loc.gamma_of(lab)}"
                          for lab in CORROBORATING_LOCATION))

    def w(level: str, u_col: str) -> str:
        return f"log2({AGE_M[level]} / greatest(coalesce(u.{u_col}, 0), 0.0001))"

    return f"""
        CREATE OR REPLACE TABLE contact_scored AS
        WITH f AS (
            SELECT f.*, c.referral_id, c.contact_id, c.row_number, c.age_lo, c.age_hi,
                   l.uid AS rec_uid, l.dob, l.pc_outward
            FROM _contact_found f JOIN contact_info c ON c.key = f.query_id
            JOIN records l ON l.source = f.source AND l.record_id = f.record_id
        ), g AS (
            SELECT f.*, CASE WHEN f.dob_given THEN -1 ELSE ({gam}) END AS gamma_age
            FROM (SELECT f.*, q.dob IS NOT NULL AS dob_given FROM f
                  JOIN contact_input q ON q.record_id = f.query_id) f
        ), w AS (
            SELECT g.*,
                   CASE g.gamma_age WHEN {g_in} THEN {w('in_range', 'u_in')}
                                    WHEN {g_near} THEN {w('within_two_years', 'u_near')}
                                    WHEN 0 THEN {w('different', 'u_far')} ELSE 0 END AS mw_age
            FROM g LEFT JOIN contact_age_u u ON u.age_lo = g.age_lo AND u.age_hi = g.age_hi
        ), p AS (
            SELECT w.*, w.match_weight + w.mw_age AS contact_weight,
                   1 / (1 + pow(2, -(w.match_weight + w.mw_age))) AS contact_probability,
                   coalesce(({identity_sql}) AND gamma_dob >= 0, FALSE)
                       OR gamma_age = {g_in} OR coalesce({loc_ok}, FALSE) AS corroborated
            FROM w
        )
        SELECT *, CASE WHEN contact_probability >= $kt AND corroborated
                            AND NOT coalesce(possible_twins, FALSE) THEN 'known'
                       WHEN contact_probability >= $pt THEN 'possible' END AS status
        FROM p
        WHERE contact_probability >= $pt
        ORDER BY row_number, source, contact_probability DESC, record_id
    """


def find_contacts(
    con: duckdb.DuckDBPyConnection,
    search: ContactSearch,
    contacts: ContactsInput,
    sources: Sequence[str],
    comparisons: Sequence[str],
    referrals: Sequence[Mapping[str, Any]],
    *,
    known_threshold: float,
    possible_threshold: float,
    panel_date: Any,
    la_lookup: Mapping[str, str] | None,
) -> ContactsResult:
    """Statuses, candidates, cross-border records and shared contacts.

    Reads the check's ``records`` (agency records and referrals) and ``clusters`` (agency
    records linked into one person) and the contacts' tables (:func:`load_contacts`).

    Args:
        con: the check's connection.
        search: from :func:`search_contacts`.
        contacts: from :func:`load_contacts`.
        sources: the agency sources, in order.
        comparisons: the comparisons the model scores.
        referrals: the check's per-referral findings (for each referral's place).
        known_threshold, possible_threshold: as for referrals.
        panel_date: the panel's date.
        la_lookup: postcode district -> local authority (cross-border and shared lists).
    """
    from .check_fields import REFERRAL_SOURCE, identity_evidence_sql

    params = {"panel": pd.Timestamp(panel_date).date(), "ref": REFERRAL_SOURCE,
              "kt": known_threshold, "pt": possible_threshold}
    info = contacts.info.assign(age_lo=contacts.info["age_lo"].astype("Int64"),
                                age_hi=contacts.info["age_hi"].astype("Int64"))
    con.register("_contact_info_df", info)
    con.execute("CREATE OR REPLACE TEMP TABLE contact_info AS SELECT * FROM _contact_info_df")
    con.unregister("_contact_info_df")
    if len(contacts):
        con.execute(_age_weights_sql(), {k: params[k] for k in ("panel", "ref")})
        found = search.found
        con.register("_contact_found", found)
        try:
            con.execute(_score_sql(comparisons, identity_evidence_sql(comparisons)),
                        {k: params[k] for k in ("panel", "kt", "pt")})
        finally:
            con.unregister("_contact_found")
        scored = con.execute("SELECT * FROM contact_scored").df()
        con.execute(_LINKED_SQL)
        linked = con.execute("SELECT * FROM contact_linked ORDER BY query_id, rec_uid").df()
    else:
        scored = pd.DataFrame(columns=["query_id", "rec_uid"])
        linked = pd.DataFrame(columns=["query_id", "rec_uid", "via_uid"])
    places = {r["referral_id"]: (r["cross_border"]["referral_district"],
                                 r["cross_border"]["referral_place"]) for r in referrals}
    records = _candidate_records(
        con, {int(u) for u in (*scored["rec_uid"], *linked["rec_uid"], *linked["via_uid"])})
    people = _contact_people(con, contacts, la_lookup)
    found_by_key: dict[str, list[dict[str, Any]]] = {}
    for row in scored.to_dict(orient="records"):
        found_by_key.setdefault(str(row["query_id"]), []).append(_candidate(row, records,
                                                                           la_lookup))
    for row in linked.to_dict(orient="records"):
        found_by_key.setdefault(str(row["query_id"]), []).append(
            _linked_candidate(row, records, la_lookup))
    entries = []
    for person in people:
        cands = found_by_key.get(person["key"], [])
        entries.append(_contact_entry(person, cands, sources, places, la_lookup))
    shared = _shared_contacts(con, entries, search.forename_counts, params["panel"], places)
    by_key = {r["key"]: r["shared_id"] for r in shared}
    for entry in entries:
        entry["shared_id"] = by_key.get(entry["key"])
    shared_frame = pd.DataFrame(
        [{c: r[c] for c in SHARED_CONTACT_COLUMNS} for r in shared],
        columns=list(SHARED_CONTACT_COLUMNS))
    log.info("contacts: %d looked up in %d sources; %d mentions of %d people named on more "
             "than one referral", len(entries), len(sources), len(shared_frame),
             shared_frame["shared_id"].nunique() if len(shared_frame) else 0)
    return ContactsResult(rows=_rows(entries, sources), shared=shared_frame, contacts=entries,
                          rejects=contacts.rejects, warnings=list(contacts.warnings),
                          file=contacts.file)


#: contact_linked: records the check linked (``clusters``) with a contact's candidate, not
#: candidates themselves: the same person recorded under a name the contact was not
#: given by (a street name police hold, a real name youth justice hold). Each takes the
#: status and probability of the candidate it is linked with.
_LINKED_SQL: Final[str] = """
    CREATE OR REPLACE TEMP TABLE contact_linked AS
    SELECT s.query_id, m.uid AS rec_uid, s.rec_uid AS via_uid, s.status,
           s.contact_probability
    FROM contact_scored s JOIN clusters c ON c.uid = s.rec_uid
    JOIN clusters m ON m.cluster_id = c.cluster_id AND m.uid <> s.rec_uid
    WHERE NOT EXISTS (SELECT 1 FROM contact_scored x
                      WHERE x.query_id = s.query_id AND x.rec_uid = m.uid)
    QUALIFY row_number() OVER (
        PARTITION BY s.query_id, m.uid
        ORDER BY (s.status = 'known') DESC, s.contact_probability DESC, s.rec_uid) = 1
"""


def _candidate_records(con: duckdb.DuckDBPyConnection,
                       uids: set[int]) -> dict[int, dict[str, Any]]:
    """The candidate agency records as recorded, with their district and linked person."""
    from .check_fields import _fields, _text

    if not uids:
        return {}
    con.register("_contact_cand_uids", pd.DataFrame({"uid": sorted(uids)}, dtype="int64"))
    try:
        frame = con.execute(
            """
            SELECT i.uid, i.source, i.record_id, i.forename, i.middle_names, i.surname,
                   i.aliases, i.former_surnames, strftime(i.dob, '%Y-%m-%d') AS dob, i.sex,
                   i.address, i.postcode, i.nhs_number, i.pc_outward, c.cluster_id
            FROM _contact_cand_uids n JOIN records i ON i.uid = n.uid
            LEFT JOIN clusters c ON c.uid = n.uid ORDER BY i.uid
            """).df()
    finally:
        con.unregister("_contact_cand_uids")
    return {
        int(row["uid"]): {
            "source": row["source"], "record_id": row["record_id"], "fields": _fields(row),
            "district": _text(row["pc_outward"]),
            "cluster_id": None if pd.isna(row["cluster_id"]) else int(row["cluster_id"]),
        }
        for row in frame.to_dict(orient="records")
    }


def _contact_people(con: duckdb.DuckDBPyConnection, contacts: ContactsInput,
                    la_lookup: Mapping[str, str] | None) -> list[dict[str, Any]]:
    """Per contact, in file order: ids, name on the referral, age, relationship, place."""
    from .check_fields import _place, _text

    if not len(contacts):
        return []
    frame = con.execute(
        """
        SELECT c.key, c.row_number, c.referral_id, c.contact_id, c.age, c.relationship,
               i.forename, i.surname, array_to_string(i.aliases, '; ') AS aliases,
               strftime(i.dob, '%Y-%m-%d') AS dob, i.sex, i.address, i.postcode,
               r.pc_outward
        FROM contact_info c JOIN contact_input i ON i.record_id = c.key
        JOIN contact_records r ON r.uid = i.uid ORDER BY c.row_number
        """).df()
    out = []
    for row in frame.to_dict(orient="records"):
        names = [n for n in (_text(row["forename"]), _text(row["surname"])) if n]
        aliases = _text(row["aliases"])
        name = " ".join(names)
        if aliases:
            name = f"{name} (aka {aliases})" if name else aliases
        out.append({
            "key": str(row["key"]), "referral_id": row["referral_id"],
            "contact_id": row["contact_id"], "name": name or None, "age": _text(row["age"]),
            "dob": _text(row["dob"]), "sex": _text(row["sex"]),
            "relationship": _text(row["relationship"]), "address": _text(row["address"]),
            "postcode": _text(row["postcode"]), "district": _text(row["pc_outward"]),
            "place": _place(_text(row["pc_outward"]), la_lookup),
        })
    return out


def _candidate(row: Mapping[str, Any], records: Mapping[int, Mapping[str, Any]],
               la_lookup: Mapping[str, str] | None) -> dict[str, Any]:
    from .check_fields import _place, _split_reasons

    rec = records[int(row["rec_uid"])]
    reasons = _split_reasons(row["reasons"])
    gamma = int(row["gamma_age"]) if not pd.isna(row["gamma_age"]) else -1
    if gamma >= 0:
        reasons.append(AGE.level_of(gamma).description)
    if row["status"] != "known" and row["contact_probability"] >= 0 and \
            not bool(row["corroborated"]):
        reasons.append("nothing but the name agrees: a name alone is weak evidence")
    return {
        "source": rec["source"], "record_id": rec["record_id"], "status": row["status"],
        "match_probability": float(row["contact_probability"]),
        "match_weight": float(row["contact_weight"]),
        "age_weight": float(row["mw_age"]), "reasons": reasons, "fields": rec["fields"],
        "district": rec["district"], "place": _place(rec["district"], la_lookup),
        "cluster_id": rec["cluster_id"], "uid": int(row["rec_uid"]),
    }


def _linked_candidate(row: Mapping[str, Any], records: Mapping[int, Mapping[str, Any]],
                      la_lookup: Mapping[str, str] | None) -> dict[str, Any]:
    from .check_fields import _place

    rec, via = records[int(row["rec_uid"])], records[int(row["via_uid"])]
    return {
        "source": rec["source"], "record_id": rec["record_id"], "status": row["status"],
        "match_probability": float(row["contact_probability"]), "match_weight": None,
        "age_weight": None, "fields": rec["fields"],
        "reasons": [f"linked through {via['source']} record {via['record_id']} (the check "
                    "links the two records as one person)"],
        "district": rec["district"], "place": _place(rec["district"], la_lookup),
        "cluster_id": rec["cluster_id"], "uid": int(row["rec_uid"]),
    }


def _contact_entry(person: dict[str, Any], cands: list[dict[str, Any]], sources: Sequence[str],
                   places: Mapping[str, tuple[str | None, str | None]],
                   la_lookup: Mapping[str, str] | None) -> dict[str, Any]:
    """One contact's statuses per source, candidates and cross-border records."""
    statuses = {s: "not_found" for s in sources}
    for c in cands:
        if _STATUS_RANK[c["status"]] > _STATUS_RANK[statuses[c["source"]]]:
            statuses[c["source"]] = c["status"]
    _, ref_place = places.get(person["referral_id"], (None, None))
    cross = [
        {"source": c["source"], "record_id": c["record_id"], "status": c["status"],
         "district": c["district"], "place": c["place"], "referral_place": ref_place}
        for c in cands
        if c["status"] == "known" and ref_place and c["place"] and c["place"] != ref_place
    ]
    if ref_place and person["place"] and person["place"] != ref_place:
        cross.insert(0, {"source": "referral", "record_id": person["contact_id"],
                         "status": "given on the referral", "district": person["district"],
                         "place": person["place"], "referral_place": ref_place})
    return {**person, "statuses": statuses, "candidates": cands, "cross_border": cross,
            "basis": "local authority lookup" if la_lookup else "postcode area"}


def _rows(entries: Sequence[Mapping[str, Any]], sources: Sequence[str]) -> pd.DataFrame:
    """contacts.csv: every candidate, or one not_found row per contact and source."""
    rows = []
    for e in entries:
        for source in sources:
            cands = sorted((c for c in e["candidates"] if c["source"] == source),
                           key=lambda c: (-_STATUS_RANK[c["status"]], -c["match_probability"],
                                          c["record_id"]))
            if not cands:
                rows.append((e["referral_id"], e["contact_id"], source, "not_found", "", None,
                             ""))
            for c in cands:
                rows.append((e["referral_id"], e["contact_id"], source, c["status"],
                             c["record_id"], round(c["match_probability"], 6),
                             "; ".join(c["reasons"])))
    frame = pd.DataFrame(rows, columns=list(CONTACT_RESULT_COLUMNS))
    frame["match_probability"] = frame["match_probability"].astype("Float64")
    return frame


# =========================================================================== across referrals


def _links_sql() -> str:
    """contact_links(key_l, key_r, basis): two mentions of one person on two referrals.

    Reads ``contact_info`` / ``contact_input`` / ``contact_records`` / ``contact_variants``
    and ``_contact_name_counts(fn, n)``; ``$panel`` is the panel date, ``$rare`` the number
    of agency records below which a single name is distinctive.
    """
    return """
        CREATE OR REPLACE TEMP TABLE contact_links AS
        WITH c AS (
            -- an age range on both sides: a date of birth is a range of one year
            SELECT ci.key, ci.referral_id, r.uid, r.dob, r.sex, r.pc, r.pc_outward,
                   coalesce(ci.age_lo, date_sub('year', r.dob, $panel)) AS lo,
                   coalesce(ci.age_hi, date_sub('year', r.dob, $panel)) AS hi
            FROM contact_info ci JOIN contact_input i ON i.record_id = ci.key
            JOIN contact_records r ON r.uid = i.uid
        ), v AS (
            SELECT DISTINCT c.key, v.fn, v.sn FROM contact_variants v JOIN c ON c.uid = v.uid
            WHERE v.fn IS NOT NULL
        ), names AS (
            -- whole names agree (the forename or the surname up to a typing slip), or a
            -- single name is the other's forename or street name
            SELECT a.key AS key_l, b.key AS key_r,
                   bool_or(a.sn IS NOT NULL AND b.sn IS NOT NULL) AS whole,
                   min(CASE WHEN a.sn IS NULL OR b.sn IS NULL THEN coalesce(s.n, 0) END)
                       AS single_count
            FROM v a JOIN v b ON a.key < b.key AND a.fn[1] = b.fn[1]
            LEFT JOIN _contact_name_counts s ON s.fn = a.fn
            WHERE (a.sn IS NOT NULL AND b.sn IS NOT NULL
                   AND ((a.fn = b.fn AND jaro_winkler_similarity(a.sn, b.sn) >= 0.92)
                        OR (a.sn = b.sn AND jaro_winkler_similarity(a.fn, b.fn) >= 0.92)))
               OR ((a.sn IS NULL OR b.sn IS NULL) AND a.fn = b.fn)
            GROUP BY a.key, b.key
        )
        SELECT n.key_l, n.key_r, CASE WHEN n.whole THEN 'name' ELSE 'single name' END AS basis
        FROM names n JOIN c l ON l.key = n.key_l JOIN c r ON r.key = n.key_r
        WHERE l.referral_id <> r.referral_id
          -- nothing conflicts: sex, date of birth (up to a slip), age (a year's slack)
          AND (l.sex IS NULL OR r.sex IS NULL OR l.sex = 'U' OR r.sex = 'U' OR l.sex = r.sex)
          AND (l.dob IS NULL OR r.dob IS NULL OR abs(date_diff('day', l.dob, r.dob)) <= 366
               OR (year(l.dob) = year(r.dob) AND day(l.dob) = month(r.dob)
                   AND month(l.dob) = day(r.dob)))
          AND (l.lo IS NULL OR r.lo IS NULL OR (l.lo <= r.hi + 1 AND r.lo <= l.hi + 1))
          -- a whole name is enough among the few hundred people named to one panel; a
          -- street name or rare forename needs an age or date of birth on both sides or
          -- the same postcode district; a common first name the district and either the
          -- ages or the postcode
          AND CASE WHEN n.whole THEN TRUE
                   WHEN n.single_count < $rare THEN (l.lo IS NOT NULL AND r.lo IS NOT NULL)
                                                   OR l.pc_outward = r.pc_outward
                   ELSE l.pc_outward = r.pc_outward
                        AND ((l.lo IS NOT NULL AND r.lo IS NOT NULL) OR l.pc = r.pc)
              END
    """


#: A mention's most probable candidate in an agency identifies it with that agency's
#: person (for linking mentions across referrals) from this probability. Low, because a
#: contact named by a street name and an age rarely reaches more; the conflict checks
#: (:func:`_conflict`) keep a weak identification from joining two people. Measured
#: (benchmarks.contacts_quality, 5,000 people, seeds 1-2): 0.5 -> 0.05 raised shared
#: recall 0.74 -> 0.80-0.85 at the same precision (0.86-0.89).
BRIDGE_PROBABILITY: Final[float] = 0.05

#: A candidate this probable (or known) identifies a mention with an agency person for
#: :func:`_conflict`: two mentions identified with two people of one agency are two
#: people. Measured (5,000 people, seeds 1-2): shared precision 0.90/0.91 -> 0.91/0.91
#: against known candidates only, recall unchanged.
IDENTIFIED_PROBABILITY: Final[float] = 0.5

#: Per mention, what may rule out two mentions being one person.
_MENTION_FACTS_SQL: Final[str] = """
    SELECT ci.key, ci.referral_id, r.fn, r.sn, r.dob, r.sex,
           coalesce(ci.age_lo, date_sub('year', r.dob, $panel)) AS lo,
           coalesce(ci.age_hi, date_sub('year', r.dob, $panel)) AS hi
    FROM contact_info ci JOIN contact_input i ON i.record_id = ci.key
    JOIN contact_records r ON r.uid = i.uid
"""


def _given(value: Any) -> bool:
    return value is not None and not (isinstance(value, float) and value != value) \
        and value is not pd.NA and value is not pd.NaT


def _conflict(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """True when two mentions cannot be one person.

    Mentions on one referral are different people; so are mentions identified with two
    different people of one agency (:data:`IDENTIFIED_PROBABILITY`), mentions of another
    sex, of ages more than a year apart, with dates of birth more than a typing slip
    apart, or with forenames or surnames far apart (both given: relatives share a
    surname, not a forename; a street name is an alias and not compared).
    """
    if a["referral_id"] == b["referral_id"]:
        return True
    sources_a = {src for src, _ in a.get("known_to", ())}
    shared_sources = sources_a & {src for src, _ in b.get("known_to", ())}
    if any(not {p for p in a["known_to"] if p[0] == src} & b["known_to"]
           for src in shared_sources):
        return True
    if _given(a["sex"]) and _given(b["sex"]) and "U" not in (a["sex"], b["sex"]) \
            and a["sex"] != b["sex"]:
        return True
    if _given(a["lo"]) and _given(b["lo"]) and (a["lo"] > b["hi"] + 1 or b["lo"] > a["hi"] + 1):
        return True
    if _given(a["dob"]) and _given(b["dob"]):
        da, db = pd.Timestamp(a["dob"]), pd.Timestamp(b["dob"])
        # one typing slip: day and month swapped, or one of year, month, day differs
        # (the year by one)
        slip = (da.year == db.year and da.day == db.month and da.month == db.day) or sum(
            (da.year != db.year, da.month != db.month, da.day != db.day)) <= 1 and abs(
            da.year - db.year) <= 1
        if not slip:
            return True
    for part in ("fn", "sn"):
        # a forename (or surname) on both: two names far apart are two people; a street
        # name is an alias, not a forename, and is not compared here
        if _given(a[part]) and _given(b[part]) and \
                JaroWinkler.similarity(a[part], b[part]) < _CONFLICT_NAME_JW:
            return True
    return False


def _shared_contacts(con: duckdb.DuckDBPyConnection, entries: Sequence[dict[str, Any]],
                     forename_counts: Mapping[str, int], panel: Any,
                     places: Mapping[str, tuple[str | None, str | None]]
                     ) -> list[dict[str, Any]]:
    """The mentions of people named on more than one referral, with their shared_id.

    Edges: the name links of :func:`_links_sql`, and two mentions ``known`` to the same
    agency record or to records the check linked into one person. Connected components
    over them (union-find over the few hundred mentions, not over pairs of records);
    a component with two mentions on one referral keeps only the name-free edges.
    """
    if not entries:
        return []
    total = max(forename_counts.get("", 0), 1)
    counts = pd.DataFrame({"fn": [k for k in forename_counts if k],
                           "n": [forename_counts[k] for k in forename_counts if k]})
    con.register("_contact_name_counts", counts.astype({"fn": object, "n": "int64"}))
    try:
        con.execute(_links_sql(), {"panel": panel, "rare": RARE_NAME_SHARE * total})
        edges = con.execute("SELECT key_l, key_r, basis FROM contact_links ORDER BY ALL"
                            ).fetchall()
        facts = {str(r["key"]): r for r in con.execute(_MENTION_FACTS_SQL, {"panel": panel})
                 .df().to_dict(orient="records")}
    finally:
        con.unregister("_contact_name_counts")
    # Mentions that the check identifies with one agency person: a known candidate, or the
    # most probable candidate of an agency (from BRIDGE_PROBABILITY).
    by_person: dict[tuple[str, Any], list[str]] = {}
    for e in entries:
        best: dict[str, dict[str, Any]] = {}
        for c in e["candidates"]:
            if c["match_probability"] > best.get(c["source"], {}).get("match_probability", -1):
                best[c["source"]] = c
        ident = [c for c in e["candidates"] if c["status"] == "known"]
        ident += [c for c in best.values() if c["match_probability"] >= BRIDGE_PROBABILITY]
        for c in ident:
            person = ("cluster", c["cluster_id"]) if c["cluster_id"] is not None \
                else ("record", c["uid"])
            keys = by_person.setdefault(person, [])
            if e["key"] not in keys:
                keys.append(e["key"])
    bridges = [(1, a, b) for keys in by_person.values() for a, b in combinations(keys, 2)]
    # Identified with two different people of one agency (known, or more likely than
    # not): two people, such as namesakes of one age or two users of one street name.
    for e in entries:
        facts[e["key"]]["known_to"] = {
            (c["source"], c["cluster_id"] if c["cluster_id"] is not None else c["uid"])
            for c in e["candidates"]
            if c["status"] == "known" or c["match_probability"] >= IDENTIFIED_PROBABILITY}
    ordered = sorted([(0 if basis == "name" else 2, a, b) for a, b, basis in edges] + bridges,
                     key=lambda t: (t[0], int(t[1]), int(t[2])))
    members = {e["key"]: [e["key"]] for e in entries}
    parent = {e["key"]: e["key"] for e in entries}

    def root(k: str) -> str:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    # Strongest evidence first; a merge that would put two mentions that cannot be one
    # person (another referral's same-referral mention, another sex, age or whole name)
    # into one group is skipped, so one weak link cannot chain two people together.
    for _, a, b in ordered:
        ra, rb = root(a), root(b)
        if ra == rb or any(_conflict(facts[x], facts[y])
                           for x in members[ra] for y in members[rb]):
            continue
        keep, gone = min(ra, rb, key=int), max(ra, rb, key=int)
        parent[gone] = keep
        members[keep] += members.pop(gone)
    groups: dict[str, list[dict[str, Any]]] = {}
    for e in entries:
        groups.setdefault(root(e["key"]), []).append(e)
    shared = [g for g in groups.values() if len({e["referral_id"] for e in g}) > 1]
    shared.sort(key=lambda g: min(int(e["key"]) for e in g))
    out = []
    for n, group in enumerate(shared, start=1):
        for e in group:
            district, place = places.get(e["referral_id"], (None, None))
            out.append({"key": e["key"], "shared_id": f"S{n:04d}",
                        "referral_id": e["referral_id"], "contact_id": e["contact_id"],
                        "name_on_referral": e["name"] or "",
                        "local_authority": place or e["place"] or ""})
    return out


# =========================================================================== network picture

#: At most this many people are drawn in the network picture (the table lists them all).
NETWORK_MAX_PEOPLE: Final[int] = 40


def contact_network(shared: pd.DataFrame) -> dict[str, Any]:
    """Positions for the network picture of contacts named on several referrals.

    Referrals in a column on the left, people (one node per ``shared_id``) in a column on
    the right, a line for each mention, so a group exploiting several young people shows
    as one node fanning out to their referrals. Referrals are ordered by the first person
    naming them, so lines cross little; the picture grows downwards, not off the page.
    Pure layout: the template draws it as inline SVG.

    Returns:
        ``width``, ``height``, ``people`` and ``referrals`` (x, y, label; referrals also
        their local authority), ``edges`` (x1, y1, x2, y2) and ``left_out`` (people not
        drawn, beyond :data:`NETWORK_MAX_PEOPLE`).
    """
    if shared.empty:
        return {"width": 0, "height": 0, "people": [], "referrals": [], "edges": [],
                "left_out": 0}
    ids = list(dict.fromkeys(shared["shared_id"]))
    drawn = ids[:NETWORK_MAX_PEOPLE]
    rows = shared[shared["shared_id"].isin(set(drawn))]
    refs = list(dict.fromkeys(rows.sort_values("shared_id", kind="stable")["referral_id"]))
    row_h, top, left_x, right_x = 24, 20, 170, 430
    height = top * 2 + row_h * max(len(refs), len(drawn))

    def ys(n: int) -> list[float]:
        step = (height - 2 * top) / max(n, 1)
        return [round(top + step * (i + 0.5), 1) for i in range(n)]

    la = dict(zip(rows["referral_id"], rows["local_authority"], strict=True))
    referrals = [{"id": r, "x": left_x, "y": y, "label": r, "local_authority": la.get(r, "")}
                 for r, y in zip(refs, ys(len(refs)), strict=True)]
    people = [{"id": sid, "x": right_x, "y": y, "label": sid}
              for sid, y in zip(drawn, ys(len(drawn)), strict=True)]
    py = {p["id"]: p["y"] for p in people}
    ry = {r["id"]: r["y"] for r in referrals}
    edges = [{"x1": left_x, "y1": ry[ref], "x2": right_x, "y2": py[sid]}
             for sid, ref in dict.fromkeys(zip(rows["shared_id"], rows["referral_id"],
                                               strict=True))]
    return {"width": right_x + 80, "height": height, "people": people,
            "referrals": referrals, "edges": edges, "left_out": len(ids) - len(drawn)}


# =========================================================================== outputs


def write_contacts_outputs(result: ContactsResult, folder: str | Path) -> dict[str, Path]:
    """contacts.csv and shared_contacts.csv (and contacts_rejects.csv), atomic and 0600."""
    out = Path(folder)
    paths = {
        "contacts_csv": write_csv_atomic(result.rows, out / "contacts.csv"),
        "shared_contacts_csv": write_csv_atomic(result.shared, out / "shared_contacts.csv"),
    }
    if len(result.rejects):
        paths["contacts_rejects"] = write_csv_atomic(result.rejects,
                                                     out / "contacts_rejects.csv")
    return paths
