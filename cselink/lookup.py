"""The look-up index: what :meth:`~cselink.pipeline.Linker.search` reads, and its SQL.

A search compares a handful of referrals with a few hundred candidate records out of
millions, so it must never scan the full tables. The first search on an index builds,
once (kept in the database file):

``lookup_blocks(key_hash, rule, uids)``
    every blocking key of every record, one row per rule and key
    (:func:`~cselink.blocking.block_index_sql`), with an ART index on ``key_hash``
``lookup_records``
    the columns of ``records`` the comparisons and the output read
    (:data:`~cselink.comparisons.vectors.COMPARED_COLUMNS`, ``source``, ``record_id``) plus
    the phonetic codes of the main forename and surname and their term frequencies
    (``tf_fn``, ``tf_sn``), with an ART index on ``uid``
``lookup_variants``
    ``name_variants`` (for the reasons), with an ART index on ``uid``

Each search then gathers its candidates into small tables (:func:`candidate_sqls`):
``<prefix>recs`` (candidates and queries, the columns of ``lookup_records``),
``<prefix>tok`` (their main names' phonetic codes) and ``<prefix>alts`` (the nickname
pairs that concern the queries, :func:`query_alts_sql`), on which the ordinary comparison
and scoring SQL runs unchanged; after scoring, ``<prefix>vars`` holds the name variants of
the candidates whose names agree through another recorded name, for the reasons
(:func:`candidate_variants_sqls`).

The look-up tables are stored uncompressed (the caller sets ``force_compression``): DuckDB
fetches a row through an ART index from an uncompressed column in microseconds, but from
a dictionary/FSST- or RLE-compressed one in about a millisecond per row and column, which
was most of a search's time at a million records.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Final

from ._sql import quote_ident
from .blocking import block_index_sql
from .comparisons.vectors import COMPARED_COLUMNS
from .config import BlockingRule

#: The look-up tables, in the order they are built.
LOOKUP_TABLES: Final[tuple[str, ...]] = ("lookup_blocks", "lookup_records", "lookup_variants")

#: Columns of ``lookup_records`` (and of a search's ``<prefix>recs``).
LOOKUP_RECORD_COLUMNS: Final[tuple[str, ...]] = (
    "source", "record_id", *COMPARED_COLUMNS,
    "fn_metaphone", "fn_nysiis", "sn_metaphone", "sn_nysiis",
)

_VARIANT_COLUMNS = "uid, kind, fn, sn, detail"

#: What the look-up tables hold, as recorded in ``cselink_meta``: tables of another layout
#: (an index searched by an earlier version) are built again.
LOOKUP_LAYOUT: Final[str] = ("5;" + ",".join(LOOKUP_RECORD_COLUMNS) + ",tf_fn,tf_sn;"
                               + _VARIANT_COLUMNS)


def _records_with_codes_sql(records: str, tokens: str) -> str:
    """SELECT the look-up record columns from a records table and its name tokens."""
    plain = ", ".join(f"r.{c}" for c in LOOKUP_RECORD_COLUMNS[:-4])
    rec, tok = quote_ident(records), quote_ident(tokens)
    return (
        f"SELECT {plain}, tf.metaphone AS fn_metaphone, tf.nysiis AS fn_nysiis, "
        f"ts.metaphone AS sn_metaphone, ts.nysiis AS sn_nysiis FROM {rec} r "
        f"LEFT JOIN {tok} tf ON tf.name = r.fn LEFT JOIN {tok} ts ON ts.name = r.sn"
    )


def lookup_tables_sqls(rules: Sequence[BlockingRule], *,
                       skip: Collection[int] = ()) -> list[str]:
    """Every statement, in order, that builds the look-up tables from the pipeline's tables.

    Reads ``block_keys``, ``name_alts``, ``records``, ``name_tokens`` and ``name_variants``.
    ``skip``: the numbers of the rules too broad for these records
    (:func:`~cselink.blocking.estimate_rules`), which a dedupe of them would not run either.
    """
    return [
        block_index_sql(rules, out="lookup_blocks", skip=skip),
        "CREATE INDEX lookup_blocks_key ON lookup_blocks (key_hash)",
        # The term frequencies of the main names ride along for the quick search
        # (cselink.quicksearch), which would otherwise scan tf_fn / tf_sn per referral.
        "CREATE OR REPLACE TABLE lookup_records AS SELECT x.*, f.tf AS tf_fn, s.tf AS tf_sn "
        "FROM (" + _records_with_codes_sql("records", "name_tokens") + ") x "
        "LEFT JOIN tf_fn f ON f.value = x.fn LEFT JOIN tf_sn s ON s.value = x.sn "
        "ORDER BY x.uid",
        "CREATE INDEX lookup_records_uid ON lookup_records (uid)",
        f"CREATE OR REPLACE TABLE lookup_variants AS SELECT {_VARIANT_COLUMNS} "
        "FROM name_variants ORDER BY uid, kind, fn, sn",
        "CREATE INDEX lookup_variants_uid ON lookup_variants (uid)",
    ]


def _in_list(values: Sequence[int]) -> str:
    """Integers as a literal SQL list: literal values let DuckDB answer from an ART index.

    Each look-up is a statement of its own (``SELECT ... WHERE key IN (...)`` and
    nothing else): inside a larger query DuckDB may push join filters into the scan and
    read the whole table instead of using the index.
    """
    return ", ".join(str(int(v)) for v in values) or "NULL"


def query_alts_sql(*, keys: str, variants: str, out: str) -> str:
    """``out(name, alt)``: the nickname pairs of the queries' forenames, both ways round.

    Holds every ``name_alts`` row with a query forename on either side, and each query
    forename paired with itself, which is all the blocking (``fn_alt``) and the name
    comparison (``fn_alt`` feature) read of ``name_alts`` for query pairs.
    """
    k, v, o = quote_ident(keys), quote_ident(variants), quote_ident(out)
    return f"""
    CREATE OR REPLACE TABLE {o} AS
    SELECT name, alt FROM name_alts
    WHERE name IN (SELECT fn FROM {k}) OR alt IN (SELECT fn FROM {k})
    UNION
    SELECT DISTINCT fn, fn FROM {v} WHERE fn IS NOT NULL
    """


def query_pairs_sqls(rules: Sequence[BlockingRule], key_hashes: Sequence[int], *,
                     hashes: str, out: str) -> list[str]:
    """``out(uid_l, uid_r, match_key)``: indexed records (l) sharing a key with a query (r).

    ``hashes`` is the queries' ``(uid, rule, key_hash)`` table
    (:func:`~cselink.blocking.query_hashes_sql`) and ``key_hashes`` its distinct hashes.
    ``match_key`` is the first rule that found the pair, as in
    :func:`~cselink.blocking.generate_pairs`. Writes ``<out>_blocks`` on the way.
    """
    names = "[" + ", ".join("'" + r.name.replace("'", "''") + "'" for r in rules) + "]"
    found = quote_ident(out + "_blocks")
    return [
        f"CREATE OR REPLACE TABLE {found} AS SELECT key_hash, rule, uids FROM lookup_blocks "
        f"WHERE key_hash IN ({_in_list(key_hashes)})",
        f"CREATE OR REPLACE TABLE {quote_ident(out)} AS "
        f"SELECT x.uid AS uid_l, q.uid AS uid_r, {names}[min(x.rule) + 1] AS match_key "
        f"FROM (SELECT rule, key_hash, unnest(uids) AS uid FROM {found}) x "
        f"JOIN {quote_ident(hashes)} q ON q.key_hash = x.key_hash AND q.rule = x.rule "
        f"WHERE x.uid < q.uid GROUP BY x.uid, q.uid",
    ]


def candidate_sqls(candidates: Sequence[int], *, query_records: str, query_tokens: str,
                   prefix: str) -> list[str]:
    """Statements gathering candidates and queries into ``<prefix>recs`` and ``<prefix>tok``.

    Args:
        candidates: uids of the indexed records paired with a query.
        query_records, query_tokens: the standardised queries
            (:func:`~cselink.standardise.standardise`).
        prefix: the name prefix of the tables written.

    The phonetic codes of a name come from the index when it holds the name (as before
    the queries were added to it), else from the query's own ``query_tokens``.
    """
    cols = ", ".join(LOOKUP_RECORD_COLUMNS)
    recs, tok = quote_ident(prefix + "recs"), quote_ident(prefix + "tok")
    return [
        f"CREATE OR REPLACE TABLE {recs} AS SELECT {cols} FROM lookup_records "
        f"WHERE uid IN ({_in_list(candidates)})",
        f"INSERT INTO {recs} " + _records_with_codes_sql(query_records, query_tokens),
        f"""CREATE OR REPLACE TABLE {tok} AS
        SELECT name, arg_min(metaphone, uid) AS metaphone, arg_min(nysiis, uid) AS nysiis
        FROM (SELECT uid, fn AS name, fn_metaphone AS metaphone, fn_nysiis AS nysiis
              FROM {recs} UNION ALL
              SELECT uid, sn, sn_metaphone, sn_nysiis FROM {recs})
        WHERE name IS NOT NULL GROUP BY name""",
    ]


def candidate_variants_sqls(candidates: Sequence[int], *, query_variants: str,
                            out: str) -> list[str]:
    """``out``: the name variants of some indexed records (``candidates``) and of the queries.

    The reasons read variants only for pairs that agree through another recorded name, so
    a search fetches those records' variants alone.
    """
    o = quote_ident(out)
    return [
        f"CREATE OR REPLACE TABLE {o} AS SELECT {_VARIANT_COLUMNS} FROM lookup_variants "
        f"WHERE uid IN ({_in_list(candidates)})",
        f"INSERT INTO {o} SELECT {_VARIANT_COLUMNS} FROM {quote_ident(query_variants)}",
    ]
